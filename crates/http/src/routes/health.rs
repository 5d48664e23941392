//! Liveness, readiness, and the prototype's `/health`.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use flashforge_domain::Services;
use serde::Serialize;
use utoipa::ToSchema;

/// The process is up.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    #[schema(value_type = crate::schemas::LivenessStatus, example = "alive")]
    pub status: &'static str,
}

/// Whether every required dependency answers.
#[derive(Serialize, ToSchema)]
pub struct ReadinessBody {
    #[schema(value_type = crate::schemas::ReadinessStatus, example = "ready")]
    pub status: &'static str,
    pub checks: Vec<DependencyCheck>,
}

/// One dependency's state.
#[derive(Serialize, ToSchema)]
pub struct DependencyCheck {
    #[schema(example = "database")]
    pub name: String,
    #[schema(value_type = crate::schemas::DependencyStatus, example = "up")]
    pub status: &'static str,
    /// Whether the process is unready while this dependency is down.
    pub required: bool,
    /// How long the check took, in milliseconds.
    pub latency_ms: f64,
}

/// The prototype's health answer, kept for today's web client.
#[derive(Serialize, ToSchema)]
pub struct LegacyHealth {
    #[schema(value_type = crate::schemas::LegacyHealthStatus, example = "healthy")]
    pub status: &'static str,
    pub timestamp: DateTime<Utc>,
}

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(tag = "health", responses((status = 200, body = Liveness)))]
#[get("/health/live")]
pub async fn live() -> web::Json<Liveness> {
    web::Json(Liveness { status: "alive" })
}

/// Readiness: every dependency with its status and latency; 503 when a required one is down.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Every required dependency is up", body = ReadinessBody),
        (status = 503, description = "A required dependency is down, or the process is stopping", body = ReadinessBody)
    )
)]
#[get("/health/ready")]
pub async fn ready(services: web::Data<Services>) -> HttpResponse {
    let report = services.readiness.check().await;
    let body = ReadinessBody {
        status: if report.stopping {
            "stopping"
        } else if report.ready {
            "ready"
        } else {
            "unready"
        },
        checks: report
            .dependencies
            .into_iter()
            .map(|d| DependencyCheck {
                name: d.name,
                status: if d.up { "up" } else { "down" },
                required: d.required,
                latency_ms: d.latency_ms,
            })
            .collect(),
    };
    if report.ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// The prototype's health check. Use `/health/live` and `/health/ready` instead.
#[utoipa::path(tag = "health", responses((status = 200, body = LegacyHealth)))]
#[deprecated = "use /health/live and /health/ready"]
#[get("/health")]
pub async fn legacy() -> web::Json<LegacyHealth> {
    web::Json(LegacyHealth {
        status: "healthy",
        timestamp: Utc::now(),
    })
}
