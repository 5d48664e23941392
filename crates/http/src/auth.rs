//! Who is calling: the client's address (trusting `X-Forwarded-For` only from configured proxies)
//! and, for protected routes, the authenticated user behind the bearer token.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use flashforge_domain::Services;
use flashforge_domain::accounts::{ClientInfo, Principal};
use flashforge_domain::limits::RouteClass;
use ipnet::IpNet;

use crate::problem::ApiError;

/// The client's address as resolved for this request, in the request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn resolve_client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let Some(chain) = forwarded_for else {
        return Some(peer);
    };
    for hop in chain.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return Some(ip),
            // A malformed hop: stop trusting the chain at this point.
            Err(_) => return Some(peer),
        }
    }
    Some(peer)
}

/// The client's address and user agent, for sessions and rate limits.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    let ip = req.extensions().get::<ClientIp>().and_then(|c| c.0);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    ClientInfo::new(ip, user_agent)
}

/// Reads and writes have separate budgets.
pub fn route_class(method: &Method) -> RouteClass {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        RouteClass::Read
    } else {
        RouteClass::Write
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The authenticated caller. Extracting it answers 401 (with `WWW-Authenticate: Bearer`) when
/// the token is missing, invalid, expired, or its session has ended, and 429 when the user's
/// request budget is spent.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated(pub Principal);

/// The claims of the request's access token, verified by the rate-limit layer.
#[derive(Debug, Clone)]
pub struct VerifiedClaims(pub flashforge_domain::accounts::AccessClaims);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let services = req.app_data::<web::Data<Services>>().cloned();
        let verified = req.extensions().get::<VerifiedClaims>().cloned();
        let token = verified.is_none().then(|| bearer_token(req)).flatten();
        let class = route_class(req.method());
        Box::pin(async move {
            let services = services.ok_or_else(ApiError::internal)?;
            let principal = match verified {
                Some(VerifiedClaims(claims)) => {
                    services.accounts.authenticate_claims(claims).await?
                }
                None => services.accounts.authenticate(token.as_deref()).await?,
            };
            services
                .limits
                .request(&format!("user:{}", principal.user_id), class)
                .await?;
            Ok(Authenticated(principal))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            resolve_client_ip(Some(peer), Some("1.2.3.4"), &nets(&["10.0.0.0/8"])),
            Some(peer)
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve_client_ip(
                Some(proxy),
                Some("6.6.6.6, 198.51.100.7, 10.0.0.2"),
                &trusted
            ),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(
            resolve_client_ip(Some(proxy), Some("garbage"), &trusted),
            Some(proxy)
        );
        assert_eq!(resolve_client_ip(Some(proxy), None, &trusted), Some(proxy));
    }
}
