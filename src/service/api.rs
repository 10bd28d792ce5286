//! The HTTP API (axum, JSON).
//!
//! Reads are open; every endpoint that changes something (`POST`) needs
//! `Authorization: Bearer <token>`, compared in constant time. Without a configured token those
//! endpoints are disabled (403), never open. Errors are mapped to status codes in one place,
//! [`ApiError`], and never carry internal details beyond what the caller needs to act.

use crate::history::Trigger;
use crate::service::{RunParams, Service, TriggerError};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Everything an endpoint can answer besides success.
#[derive(Debug)]
pub enum ApiError {
    /// 401: no or wrong bearer token.
    Unauthorized,
    /// 403: mutating endpoints are disabled (no token configured).
    Disabled,
    /// 404: no such pipeline or run.
    NotFound(String),
    /// 409: the pipeline is already running, or the run is not running.
    Conflict(String),
    /// 422: the request body or parameters are wrong.
    Unprocessable(String),
    /// 500: something on our side; details are logged, not sent.
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "missing or invalid bearer token".to_string()),
            ApiError::Disabled => (
                StatusCode::FORBIDDEN,
                "mutating endpoints are disabled: start the service with HARVESTER_API_TOKEN or HARVESTER_API_TOKEN_FILE set".to_string(),
            ),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the service log".to_string()),
        };
        let mut resp = (status, Json(json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<crate::history::HistoryError> for ApiError {
    fn from(e: crate::history::HistoryError) -> Self {
        tracing::error!(error = %e, "history");
        ApiError::Internal
    }
}

/// Builds the router; tests call it without a socket, `serve` binds it.
pub fn app(service: Arc<Service>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/pipelines", get(pipelines))
        .route("/pipelines/{name}/runs", post(trigger))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/metrics", get(metrics))
        .with_state(service)
}

/// The token of an `Authorization` value: the scheme is case-insensitive (RFC 7235), so
/// `bearer abc` is as good as `Bearer abc`.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

fn authorise(service: &Service, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = service.token.as_deref() else {
        return Err(ApiError::Disabled);
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .ok_or(ApiError::Unauthorized)?;
    // Hash both sides so the comparison takes the same time whatever the lengths.
    let a = Sha256::digest(given.trim().as_bytes());
    let b = Sha256::digest(token.as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

async fn health(State(s): State<Arc<Service>>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "pipelines": s.pipelines.len(), "running": s.running_pipelines() }))
}

async fn pipelines(State(s): State<Arc<Service>>) -> Json<serde_json::Value> {
    let list: Vec<serde_json::Value> = s
        .pipelines
        .values()
        .map(|p| {
            json!({
                "name": p.name,
                "description": p.description,
                "schedule": p.schedule.as_ref().map(ToString::to_string),
                "timezone": p.timezone.name(),
                "catch_up": p.catch_up,
                "next_run_at": s.next_run_at(&p.name).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                "running_run_id": s.running_run(&p.name),
                "sources": p.sources.iter().map(|x| x.name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!(list))
}

#[derive(Debug, serde::Deserialize)]
struct RunsQuery {
    pipeline: Option<String>,
    limit: Option<usize>,
}

async fn runs(
    State(s): State<Arc<Service>>,
    Query(q): Query<RunsQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = s.history.list(q.pipeline.as_deref(), limit)?;
    Ok(Json(shown(json!(rows), authorise(&s, &headers).is_ok())))
}

async fn run(
    State(s): State<Arc<Service>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    match s.history.get(&id)? {
        Some(r) => {
            let mut row = json!(r);
            // A run in flight says which stage it is in and how far through it.
            if let (Some(p), Some(obj)) = (s.progress(&id), row.as_object_mut()) {
                obj.insert("progress".into(), json!(p));
            }
            Ok(Json(shown(row, authorise(&s, &headers).is_ok())))
        }
        None => Err(ApiError::NotFound(format!("no run `{id}`"))),
    }
}

/// The run history as a caller may see it: whole for an authenticated caller; without the
/// folders of local paths (`/srv/data/idp.csv` → `idp.csv`, in inputs, parameters and error
/// texts alike) for anyone else, so the server's layout does not leak. URLs are kept (their
/// secrets were redacted before they were stored).
fn shown(value: serde_json::Value, authorised: bool) -> serde_json::Value {
    if authorised {
        return value;
    }
    static LOCAL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let local = LOCAL.get_or_init(|| {
        regex::Regex::new(r#"(^|[\s"'`(=,;])(?:file://)?/(?:[^\s"'`/\\]+/)+([^\s"'`/\\]*)"#)
            .expect("valid regular expression")
    });
    let text = value.to_string();
    let scrubbed = local.replace_all(&text, "$1$2");
    serde_json::from_str(&scrubbed).unwrap_or(value)
}

async fn trigger(
    State(s): State<Arc<Service>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    authorise(&s, &headers)?;
    let params: RunParams = if body.iter().all(u8::is_ascii_whitespace) {
        RunParams::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::Unprocessable(format!("the body is not valid run parameters: {e}")))?
    };
    match s.trigger(&name, Trigger::Api, params) {
        Ok(run_id) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "run_id": run_id, "status": "running" })),
        )
            .into_response()),
        Err(e @ TriggerError::UnknownPipeline(_)) => Err(ApiError::NotFound(e.to_string())),
        Err(e @ TriggerError::Busy { .. }) => Err(ApiError::Conflict(e.to_string())),
        Err(e @ TriggerError::BadParameters(_)) => Err(ApiError::Unprocessable(e.to_string())),
        Err(TriggerError::History(e)) => Err(e.into()),
    }
}

async fn cancel(
    State(s): State<Arc<Service>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorise(&s, &headers)?;
    if s.cancel(&id) {
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "run_id": id, "status": "cancelling" })),
        )
            .into_response());
    }
    match s.history.get(&id)? {
        Some(r) => Err(ApiError::Conflict(format!(
            "run `{id}` is not running (status {})",
            r.status
        ))),
        None => Err(ApiError::NotFound(format!("no run `{id}`"))),
    }
}

/// `/metrics`: OpenMetrics when the scraper asks for it (`Accept: application/openmetrics-text`),
/// else the Prometheus text format.
async fn metrics(State(s): State<Arc<Service>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    if openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            s.telemetry.openmetrics(),
        )
            .into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            s.telemetry.prometheus_text(),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unauthenticated_callers_see_file_names_not_local_folders() {
        let row = serde_json::json!({
            "inputs": [{"location": "/srv/harvester/data/idp_2025.csv"}, {"location": "https://example.org/data/idp.csv"}],
            "parameters": {"sources": ["idp=file:///home/treasury/drop/idp.csv"]},
            "error": "source `idp`: cannot read /srv/harvester/data/idp_2025.csv: no such file",
        });
        let public = super::shown(row.clone(), false).to_string();
        assert!(!public.contains("/srv/") && !public.contains("/home/"), "{public}");
        assert!(
            public.contains("idp_2025.csv") && public.contains("https://example.org/data/idp.csv"),
            "{public}"
        );
        assert!(public.contains("idp=idp.csv"), "{public}");
        assert_eq!(super::shown(row.clone(), true), row);
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(super::bearer_token("bearer abc"), Some("abc"));
        assert_eq!(super::bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(super::bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(super::bearer_token("Basic abc"), None);
        assert_eq!(super::bearer_token("Bearerabc"), None);
    }
}
