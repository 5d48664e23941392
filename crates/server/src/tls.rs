//! HTTPS with rustls from PEM files, and the optional plain-HTTP listener that redirects to it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::settings::ServerSettings;

/// Why the TLS configuration cannot be built from the configured files.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("both server.tls_cert_file and server.tls_key_file are needed")]
    MissingFiles,
    /// A PEM file cannot be read, or holds no valid PEM.
    #[error("{}: {source}", path.display())]
    Pem {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{} holds no certificate", path.display())]
    NoCertificate { path: PathBuf },
    /// The crypto provider offers none of the protocol versions asked for.
    #[error("{0}")]
    Protocols(#[source] rustls::Error),
    #[error("certificate and key do not fit together: {0}")]
    Mismatch(#[source] rustls::Error),
}

/// A rustls server configuration (TLS 1.2 and 1.3, ring) from the configured files.
pub fn server_config(server: &ServerSettings) -> Result<rustls::ServerConfig, TlsError> {
    let (Some(cert_file), Some(key_file)) = (&server.tls_cert_file, &server.tls_key_file) else {
        return Err(TlsError::MissingFiles);
    };
    let pem = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Pem { path, source }
    };
    let certs = CertificateDer::pem_file_iter(cert_file)
        .map_err(pem(cert_file))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem(cert_file))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert_file.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(pem(key_file))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Protocols)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(TlsError::Mismatch)
}

/// The host part of a `Host` header, if it is a plain name, an IPv4 address or a bracketed IPv6
/// address (its port dropped); anything else (a user part, a path, odd characters) is `None`.
fn redirect_host(header: &str) -> Option<String> {
    let host = if let Some(rest) = header.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        inside.parse::<std::net::Ipv6Addr>().ok()?;
        return Some(format!("[{inside}]"));
    } else {
        header.split(':').next()?
    };
    let plain = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    plain.then(|| host.to_ascii_lowercase())
}

/// A plain-HTTP server on `port` answering every request with a 308 to the same path over HTTPS
/// on `https_port`. Returns it and the port it bound.
pub fn redirect_server(host: &str, port: u16, https_port: u16) -> std::io::Result<(Server, u16)> {
    let listener = TcpListener::bind((host, port))?;
    let bound = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new().default_service(web::to(move |req: HttpRequest| async move {
            // The request's own `Host`, never `X-Forwarded-Host` or `Forwarded` (which anyone can
            // send: an open redirect), and only when it is a plain host name or address.
            let host = req
                .headers()
                .get(actix_web::http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .and_then(redirect_host)
                .unwrap_or_else(|| "localhost".to_string());
            let target = format!(
                "https://{host}:{https_port}{}",
                req.uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/")
            );
            HttpResponse::PermanentRedirect()
                .insert_header(("Location", target))
                .finish()
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok((server, bound))
}

#[cfg(test)]
mod tests {
    use super::redirect_host;

    #[test]
    fn only_plain_hosts_make_a_redirect_target() {
        assert_eq!(
            redirect_host("Study.Example.com:8080").as_deref(),
            Some("study.example.com")
        );
        assert_eq!(redirect_host("203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(
            redirect_host("[2001:db8::1]:80").as_deref(),
            Some("[2001:db8::1]")
        );
        for bad in [
            "evil.com/path",
            "user@evil.com",
            "",
            "a b",
            "[nonsense]",
            "ex%61mple.com",
        ] {
            assert_eq!(redirect_host(bad), None, "{bad}");
        }
    }
}
