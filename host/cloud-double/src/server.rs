//! TLS, HTTP/1.1, and what happens before and after a request reaches its handler:
//! authentication, throttling, injected faults, statistics.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tokio::time::Instant;
use tower_service::Service;

use crate::api::{Decision, How, Seen, Shared};

/// The connection is dropped without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dropped on purpose after applying the request")
    }
}

impl std::error::Error for Dropped {}

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let router = crate::api::router(shared.clone());
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((tcp, _)) = accepted else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let router = router.clone();
                let shared = shared.clone();
                async move { handle(shared, router, req).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    mut router: axum::Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let arrived = Instant::now();
    let method = req.method().as_str().to_owned();
    let endpoint = template(&method, req.uri().path());
    let issue = airlock_site::written_issue(&method, req.uri().path()).map(str::to_owned);
    let seen = Seen {
        endpoint: &endpoint,
        method: &method,
        issue: issue.as_deref(),
    };
    let client = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("Basic ") && v.len() > 6)
        .map(str::to_owned);
    let Some(client) = client else {
        let resp = crate::api::error(
            StatusCode::UNAUTHORIZED,
            "Client must be authenticated to access this resource.",
        );
        let how = How {
            unauthenticated: true,
            ..How::default()
        };
        shared.record(&seen, arrived, 401, how);
        return Ok(resp);
    };
    let decision = shared.decide(&client, &seen, arrived);
    let how = How::default();
    let after = match decision {
        Decision::Throttled { until, early } => {
            let resp = throttle_response(StatusCode::TOO_MANY_REQUESTS, until);
            let how = How {
                throttled: true,
                early,
                ..how
            };
            shared.record(&seen, arrived, 429, how);
            return Ok(resp);
        }
        Decision::Limit { status, until } => {
            let resp = throttle_response(status, until);
            shared.record(&seen, arrived, status.as_u16(), how);
            return Ok(resp);
        }
        Decision::Limited { until } => {
            let resp = throttle_response(StatusCode::TOO_MANY_REQUESTS, until);
            let how = How {
                by_limits: true,
                ..how
            };
            shared.record(&seen, arrived, 429, how);
            return Ok(resp);
        }
        Decision::Error => {
            shared.record(&seen, arrived, 500, how);
            return Ok(crate::api::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            ));
        }
        Decision::Apply(after) => after,
    };
    let resp = match router.call(req.map(Body::new)).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    let status = resp.status();
    if status.is_success() {
        match after {
            crate::api::After::Nothing => {}
            crate::api::After::Fail => {
                shared.applied_then(false);
                shared.record(&seen, arrived, 500, how);
                return Ok(crate::api::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                ));
            }
            crate::api::After::Drop => {
                shared.applied_then(true);
                shared.record(&seen, arrived, 0, how);
                return Err(Dropped);
            }
        }
    }
    shared.record(&seen, arrived, status.as_u16(), how);
    Ok(resp)
}

/// 429 or 503 with `Retry-After` (whole seconds, rounded up) and `X-RateLimit-Reset`.
fn throttle_response(status: StatusCode, until: Instant) -> Response<Body> {
    let left = until.saturating_duration_since(Instant::now());
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    let reset = time::OffsetDateTime::now_utc() + Duration::from_secs(secs);
    let reset = reset
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut resp = crate::api::error(
        status,
        if status == StatusCode::TOO_MANY_REQUESTS {
            "Rate limit exceeded."
        } else {
            "Service unavailable, try again later."
        },
    );
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, secs.max(1).into());
    if let Ok(v) = reset.parse() {
        h.insert("X-RateLimit-Reset", v);
    }
    resp
}

/// The path with its ids replaced: `POST /rest/api/3/issue/{id}/comment`. The endpoint
/// Jira's limits count a request against, as the client counts it too.
pub(crate) fn template(method: &str, path: &str) -> String {
    airlock_site::endpoint_template(method, path)
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn templates_hide_ids() {
        assert_eq!(
            template("POST", "/rest/api/3/issue/10001/comment"),
            "POST /rest/api/3/issue/{id}/comment"
        );
        assert_eq!(
            template(
                "PUT",
                "/rest/atlassian-connect/1/addons/airlock/properties/a.b.0"
            ),
            "PUT /rest/atlassian-connect/1/addons/{app}/properties/{key}"
        );
        assert_eq!(
            template("GET", "/rest/api/3/field/customfield_10000/context"),
            "GET /rest/api/3/field/{id}/context"
        );
        assert_eq!(
            template("POST", "/rest/api/3/issue/bulk"),
            "POST /rest/api/3/issue/bulk"
        );
    }
}
