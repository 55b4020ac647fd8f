//! One HTTPS call to Jira Cloud, with the retry policy: a pause shared by every worker
//! while a `Retry-After` is in force, then a turn under Jira's rate limits (the
//! [`Pacer`], `limits.rs`), exponential backoff with full jitter on 5xx and network errors,
//! and a check before retrying a create that may have been applied.
//!
//! Logs name the call (its path template), the status, the attempt and the wait: never
//! a body, an id from the customer's data or the credentials.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::time::Instant;

use super::RetryPolicy;
use super::limits::{JiraLimits, Pacer};
use crate::TargetError;

/// What to send. `name` is the path template (`POST /rest/api/3/issue/{id}/comment`),
/// used in logs and errors instead of the real path.
pub(crate) struct Req {
    pub name: &'static str,
    pub method: Method,
    /// Path and query, already encoded, below the base URL.
    pub path: String,
    pub body: ReqBody,
    /// Repeating it cannot create a second record (GET, PUT, set-like updates).
    pub idempotent: bool,
    /// The app an app output is written for (see `read::APP_HEADER`).
    pub app: Option<String>,
}

pub(crate) enum ReqBody {
    Empty,
    Json(Value),
    /// One multipart `file` part: `len` bytes of `file`, streamed from its start on each
    /// attempt (read at offsets, so attempts share no cursor).
    File {
        name: String,
        mime: String,
        file: Arc<std::fs::File>,
        len: u64,
    },
}

/// How much of a file one frame of an upload carries.
const FILE_CHUNK: u64 = 64 * 1024;

/// A file's first `len` bytes as a request body, a chunk at a time: an attachment never
/// sits in memory whole. A file that became shorter than it was ends the body with an
/// error (the upload fails; nothing short is sent as complete).
struct FileBody {
    file: Arc<std::fs::File>,
    at: u64,
    len: u64,
}

impl http_body::Body for FileBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::os::unix::fs::FileExt as _;
        let left = self.len - self.at;
        if left == 0 {
            return std::task::Poll::Ready(None);
        }
        // A local file: a 64 KiB read does not hold the worker long enough to matter.
        let mut chunk = vec![0u8; left.min(FILE_CHUNK) as usize];
        let read = match self.file.read_at(&mut chunk, self.at) {
            Ok(0) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was sent",
            )),
            Ok(n) => Ok(n),
            Err(e) => Err(e),
        };
        std::task::Poll::Ready(Some(read.map(|n| {
            chunk.truncate(n);
            self.at += n as u64;
            http_body::Frame::data(bytes::Bytes::from(chunk))
        })))
    }

    fn is_end_stream(&self) -> bool {
        self.at == self.len
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len - self.at)
    }
}

impl Req {
    pub fn get(name: &'static str, path: String) -> Req {
        Req {
            name,
            method: Method::GET,
            path,
            body: ReqBody::Empty,
            idempotent: true,
            app: None,
        }
    }

    pub fn post(name: &'static str, path: String, body: Value) -> Req {
        Req {
            name,
            method: Method::POST,
            path,
            body: ReqBody::Json(body),
            idempotent: false,
            app: None,
        }
    }

    pub fn put(name: &'static str, path: String, body: Value) -> Req {
        Req {
            name,
            method: Method::PUT,
            path,
            body: ReqBody::Json(body),
            idempotent: true,
            app: None,
        }
    }

    pub fn delete(name: &'static str, path: String) -> Req {
        Req {
            name,
            method: Method::DELETE,
            path,
            body: ReqBody::Empty,
            idempotent: true,
            app: None,
        }
    }

    /// A POST that Jira applies at most once whatever the repeats (searches, set-like adds).
    pub fn idempotent(mut self) -> Req {
        self.idempotent = true;
        self
    }
}

/// An answer: its status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Jira's error body (`errorMessages` + `errors`) in a few words, for an `ItemError`.
    /// Jira's messages name fields and rules, not the values sent.
    pub fn summary(&self) -> String {
        error_summary(self.status, &self.body)
    }

    /// The failure of a whole call (`call` names it) that answered this.
    pub fn error(&self, call: &str) -> TargetError {
        TargetError::Http {
            call: call.to_owned(),
            status: self.status,
            message: self.summary(),
        }
    }
}

pub(crate) fn error_summary(status: u16, body: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(list) = body.get("errorMessages").and_then(Value::as_array) {
        parts.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    if let Some(map) = body.get("errors").and_then(Value::as_object) {
        for (field, message) in map {
            parts.push(format!(
                "{field}: {}",
                message.as_str().unwrap_or("invalid")
            ));
        }
    }
    let mut text = if parts.is_empty() {
        format!("Jira answered {status}")
    } else {
        format!("Jira answered {status}: {}", parts.join("; "))
    };
    if text.len() > 300 {
        let mut end = 300;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// How a create ended.
pub(crate) enum Created {
    /// Jira answered 2xx.
    Done(Reply),
    /// An earlier attempt may have been applied, and the check found its record.
    Found(String),
    /// Jira refused it (4xx other than 429): the record's fault.
    Refused(Reply),
}

pub(crate) struct Http {
    client: reqwest::Client,
    base: String,
    auth: HeaderValue,
    policy: RetryPolicy,
    /// No request leaves before this instant: the latest `Retry-After` heard, shared by
    /// every worker (Jira's limit is per account, not per request).
    not_before: Mutex<Option<Instant>>,
    /// Jira's rate limits, kept by the client (none: requests go as fast as they can).
    pacer: Option<Pacer>,
    rng: AtomicU64,
}

impl Http {
    pub fn new(
        client: reqwest::Client,
        base: String,
        auth: HeaderValue,
        policy: RetryPolicy,
        limits: Option<JiraLimits>,
        seed: u64,
    ) -> Http {
        Http {
            client,
            base,
            auth,
            policy,
            not_before: Mutex::new(None),
            pacer: limits.map(Pacer::new),
            rng: AtomicU64::new(seed | 1),
        }
    }

    /// The pacer under Jira's rate limits, if the client keeps them.
    pub fn pacer(&self) -> Option<&Pacer> {
        self.pacer.as_ref()
    }

    /// Sends a request whose repetition is harmless (or a create with no way to check
    /// it): 2xx and 4xx are answers, the rest is retried by the policy.
    pub async fn call(&self, req: &Req) -> Result<Reply, TargetError> {
        match self.run(req, async || Ok(None)).await? {
            Created::Done(r) | Created::Refused(r) => Ok(r),
            Created::Found(_) => unreachable!("no check given"),
        }
    }

    /// Sends a create. Before repeating one that may have been applied (5xx, a dropped
    /// connection), `check` looks for its record: a found one ends the call.
    pub async fn create(
        &self,
        req: &Req,
        check: impl AsyncFn() -> Result<Option<String>, TargetError>,
    ) -> Result<Created, TargetError> {
        self.run(req, check).await
    }

    async fn run(
        &self,
        req: &Req,
        check: impl AsyncFn() -> Result<Option<String>, TargetError>,
    ) -> Result<Created, TargetError> {
        let mut failures = 0u32;
        let mut throttled = 0u32;
        let mut maybe_applied = false;
        let mut attempt = 0u32;
        loop {
            if maybe_applied && let Some(id) = check().await? {
                tracing::info!(call = req.name, attempt, "an earlier attempt was applied");
                return Ok(Created::Found(id));
            }
            self.take_turn(req).await;
            attempt += 1;
            let sent = self.send_once(req).await;
            let (status, headers, body) = match sent {
                Ok(r) => r,
                Err(e) => {
                    failures += 1;
                    // A refused connection never carried the request.
                    let unsent = e.is_connect() || e.is_builder();
                    tracing::warn!(
                        call = req.name,
                        attempt,
                        kind = error_kind(&e),
                        "network error"
                    );
                    if failures >= self.policy.max_attempts {
                        return Err(TargetError::Network {
                            call: req.name.to_owned(),
                            message: format!("{} after {failures} attempts", error_kind(&e)),
                        });
                    }
                    maybe_applied = !req.idempotent && !unsent;
                    self.backoff(req.name, failures).await;
                    continue;
                }
            };
            let code = status.as_u16();
            let retry_after = retry_after(&headers);
            if status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_some())
            {
                throttled += 1;
                let wait = match retry_after {
                    Some(w) => w,
                    None => self.jitter(throttled),
                };
                if throttled > self.policy.max_throttled || wait > self.policy.max_retry_after {
                    return Err(TargetError::Http {
                        call: req.name.to_owned(),
                        status: code,
                        message: format!(
                            "still throttled after {throttled} waits (last Retry-After {} s)",
                            wait.as_secs()
                        ),
                    });
                }
                self.hold(wait);
                tracing::info!(
                    call = req.name,
                    status = code,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "throttled: every worker waits"
                );
                // A 503 may come after the work was done; a 429 never does.
                maybe_applied = code == 503 && !req.idempotent;
                continue;
            }
            if status.is_server_error() {
                failures += 1;
                tracing::warn!(call = req.name, status = code, attempt, "server error");
                if failures >= self.policy.max_attempts {
                    return Err(TargetError::Http {
                        call: req.name.to_owned(),
                        status: code,
                        message: format!("server error after {failures} attempts"),
                    });
                }
                maybe_applied = !req.idempotent;
                self.backoff(req.name, failures).await;
                continue;
            }
            tracing::debug!(call = req.name, status = code, attempt, "answered");
            let body = parse_body(&body);
            let reply = Reply { status: code, body };
            // Refused credentials fail everything: not one record's fault.
            if code == 401 || (code == 403 && req.method == Method::GET) {
                return Err(TargetError::Http {
                    call: req.name.to_owned(),
                    status: code,
                    message: "the credentials were refused".into(),
                });
            }
            return Ok(if status.is_success() {
                Created::Done(reply)
            } else {
                Created::Refused(reply)
            });
        }
    }

    async fn send_once(
        &self,
        req: &Req,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error> {
        let url = format!("{}{}", self.base, req.path);
        let mut b = self
            .client
            .request(req.method.clone(), url)
            .header(reqwest::header::AUTHORIZATION, self.auth.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(app) = &req.app {
            b = b.header(super::read::APP_HEADER, app);
        }
        b = match &req.body {
            ReqBody::Empty => b,
            ReqBody::Json(v) => b.json(v),
            ReqBody::File {
                name,
                mime,
                file,
                len,
            } => {
                let body = || {
                    reqwest::Body::wrap(FileBody {
                        file: file.clone(),
                        at: 0,
                        len: *len,
                    })
                };
                let part = reqwest::multipart::Part::stream_with_length(body(), *len)
                    .file_name(name.clone())
                    .mime_str(mime)
                    .or_else(|_| {
                        reqwest::multipart::Part::stream_with_length(body(), *len)
                            .file_name(name.clone())
                            .mime_str("application/octet-stream")
                    })?;
                // Jira refuses multipart uploads without it (XSRF check).
                b.header("X-Atlassian-Token", "no-check")
                    .multipart(reqwest::multipart::Form::new().part("file", part))
            }
        };
        let resp = b.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        Ok((status, headers, body))
    }

    /// Waits until no `Retry-After` is in force (re-read after each sleep: another
    /// worker may have pushed it further).
    async fn wait_turn(&self) {
        loop {
            let until = *self.not_before.lock().expect("gate lock");
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }

    /// Waits for the request's turn: no `Retry-After` in force, and room in every window of
    /// Jira's limits it falls in (its endpoint's; its issue's for a write to an issue). The
    /// turn is taken with nothing awaited before the request leaves.
    async fn take_turn(&self, req: &Req) {
        loop {
            self.wait_turn().await;
            let Some(pacer) = &self.pacer else {
                return;
            };
            match pacer.try_take(&req.method, &req.path, Instant::now()) {
                Ok(()) => return,
                Err(at) => tokio::time::sleep_until(at).await,
            }
        }
    }

    /// Nobody sends before `now + wait`.
    fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut gate = self.not_before.lock().expect("gate lock");
        if gate.is_none_or(|t| t < until) {
            *gate = Some(until);
        }
    }

    async fn backoff(&self, name: &'static str, failures: u32) {
        let wait = self.jitter(failures);
        tracing::debug!(
            call = name,
            wait_ms = wait.as_millis() as u64,
            "backing off"
        );
        tokio::time::sleep(wait).await;
    }

    /// Full jitter: uniform in [0, min(max, base · 2^(n-1))].
    fn jitter(&self, n: u32) -> Duration {
        let cap = self
            .policy
            .base_delay
            .saturating_mul(1u32 << n.saturating_sub(1).min(16))
            .min(self.policy.max_delay);
        let r = self.next_random();
        let nanos = cap.as_nanos() as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(r % (nanos + 1))
    }

    fn next_random(&self) -> u64 {
        // splitmix64 over an atomic counter: good enough for jitter, no extra crate.
        let mut z = self
            .rng
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// `Retry-After` in whole seconds (what Jira sends); else `X-RateLimit-Reset`, an ISO
/// timestamp.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(v) = headers.get(reqwest::header::RETRY_AFTER)
        && let Ok(s) = v.to_str()
        && let Ok(secs) = s.trim().parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let reset = headers.get("X-RateLimit-Reset")?.to_str().ok()?;
    let at =
        time::OffsetDateTime::parse(reset, &time::format_description::well_known::Rfc3339).ok()?;
    let left = at - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
}

/// What went wrong on the wire, in words that carry no data.
fn error_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection refused or failed"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else if e.is_request() {
        "the connection failed while sending"
    } else {
        "transport error"
    }
}
