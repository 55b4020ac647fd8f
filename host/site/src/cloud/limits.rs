//! Jira Cloud's rate limits, and the client's pacing under them.
//!
//! Jira Cloud limits API-token traffic per tenant and endpoint (GET and POST 100 requests a
//! second, PUT and DELETE 50), and writes per issue (20 in any 2 seconds, 100 in any 30):
//! past a limit it answers 429 with `Retry-After`. [`JiraLimits`] holds those numbers
//! ([`CloudConfig::limits`](super::CloudConfig::limits)); the client's [`Pacer`] keeps a log
//! of what it sent per endpoint (the path template, by method) and per issue, and lets a
//! request go only when every window it falls in has room, so in normal operation Jira
//! never has to refuse. A request whose issue is at its limit waits alone: the others go
//! (`Api::each_spread` also hands the items of a batch out in turns across issues).
//!
//! The windows are sliding: at most `requests` in any interval of length `within`. The
//! pacer counts each of its windows a little longer than Jira's ([`padded`]): what it logs
//! is when a request left, what Jira counts is when it arrived, and two requests do not
//! take the same time on the way.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use tokio::time::Instant;

/// At most `requests` in any interval of length `within`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateWindow {
    pub requests: u32,
    pub within: Duration,
}

impl RateWindow {
    pub const fn new(requests: u32, within: Duration) -> RateWindow {
        RateWindow { requests, within }
    }

    /// Requests per second over a long run.
    pub fn per_second(&self) -> f64 {
        f64::from(self.requests) / self.within.as_secs_f64()
    }
}

/// Jira Cloud's rate limits for API-token traffic. [`JiraLimits::default`] is Jira's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JiraLimits {
    /// GET and POST requests per tenant (the credentials) and endpoint (method and path
    /// template, see [`endpoint_template`]): 100 a second.
    pub get_post: RateWindow,
    /// PUT, PATCH and DELETE requests per tenant and endpoint: 50 a second.
    pub put_delete: RateWindow,
    /// Writes (anything but GET) whose path names an issue ([`written_issue`]), per issue,
    /// every window at once: 20 in 2 seconds and 100 in 30.
    pub issue_writes: Vec<RateWindow>,
}

impl Default for JiraLimits {
    fn default() -> Self {
        JiraLimits {
            get_post: RateWindow::new(100, Duration::from_secs(1)),
            put_delete: RateWindow::new(50, Duration::from_secs(1)),
            issue_writes: vec![
                RateWindow::new(20, Duration::from_secs(2)),
                RateWindow::new(100, Duration::from_secs(30)),
            ],
        }
    }
}

impl JiraLimits {
    /// The endpoint window of a method: PUT, PATCH and DELETE have theirs, the rest
    /// (GET, POST) the other.
    pub fn endpoint_window(&self, method: &str) -> RateWindow {
        if is_put_delete(method) {
            self.put_delete
        } else {
            self.get_post
        }
    }

    /// The longest window, issues' included: how long a log must remember a request.
    pub fn longest(&self) -> Duration {
        self.issue_writes
            .iter()
            .map(|w| w.within)
            .chain([self.get_post.within, self.put_delete.within])
            .max()
            .unwrap_or_default()
    }
}

/// Whether a method falls under [`JiraLimits::put_delete`].
pub fn is_put_delete(method: &str) -> bool {
    matches!(method, "PUT" | "PATCH" | "DELETE")
}

/// The endpoint a request counts against: the method and the path (query left out) with
/// its ids replaced, `POST /rest/api/3/issue/{id}/comment`. A segment after `properties`
/// is `{key}`, after `addons` `{app}`, and below `/rest/<api>/<version>/` any segment
/// holding a digit is `{id}`.
pub fn endpoint_template(method: &str, path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut out = String::with_capacity(method.len() + 1 + path.len());
    out.push_str(method);
    out.push(' ');
    let mut previous = "";
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let param = if previous == "properties" {
            Some("{key}")
        } else if previous == "addons" {
            Some("{app}")
        } else if i > 3 && seg.chars().any(|c| c.is_ascii_digit()) {
            Some("{id}")
        } else {
            None
        };
        out.push_str(param.unwrap_or(seg));
        previous = seg;
    }
    out
}

/// The issue a request writes to, as far as Jira's per-issue limit goes: any method but
/// GET (and HEAD) on `/rest/api/3/issue/{id}` or below it (`…/comment`, `…/worklog`,
/// `…/watchers`, `…/properties/{key}`, `…/attachments`…). The id is the path's segment
/// as sent (an id or a key: it holds a digit); `bulk` and other fixed names are no issue.
pub fn written_issue<'p>(method: &str, path: &'p str) -> Option<&'p str> {
    if matches!(method, "GET" | "HEAD") {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let rest = path.strip_prefix("/rest/api/3/issue/")?;
    let issue = rest.split('/').next().unwrap_or("");
    (!issue.is_empty() && issue.chars().any(|c| c.is_ascii_digit())).then_some(issue)
}

/// A window as the pacer counts it: a little longer than Jira's, by more than a request's
/// time on the way can vary (what Jira counts is arrivals).
pub(crate) fn padded(w: Duration) -> Duration {
    w + w / 100 + Duration::from_millis(15)
}

/// When the next request may go under `windows`, given the times of the requests already
/// sent (oldest first): now if every window has room; else when the oldest request that
/// fills one leaves it.
fn free_at(log: &VecDeque<Instant>, windows: &[RateWindow], now: Instant) -> Instant {
    let mut at = now;
    for w in windows {
        let n = w.requests.max(1) as usize;
        if log.len() >= n {
            at = at.max(log[log.len() - n] + padded(w.within));
        }
    }
    at
}

/// Remembers a request sent at `now`, forgetting those older than `keep`.
fn push(log: &mut VecDeque<Instant>, now: Instant, keep: Duration) {
    while log
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) > keep)
    {
        log.pop_front();
    }
    log.push_back(now);
}

/// The client's side of [`JiraLimits`]: every request takes its turn here (after any
/// `Retry-After`), shared by all the client's workers.
pub(crate) struct Pacer {
    limits: JiraLimits,
    keep: Duration,
    state: Mutex<Logs>,
}

#[derive(Default)]
struct Logs {
    endpoints: HashMap<String, VecDeque<Instant>>,
    issues: HashMap<String, VecDeque<Instant>>,
    /// Turns taken since the issues' logs were last swept of issues gone quiet.
    since_sweep: usize,
}

impl Pacer {
    pub fn new(limits: JiraLimits) -> Pacer {
        let keep = padded(limits.longest());
        Pacer {
            limits,
            keep,
            state: Mutex::new(Logs::default()),
        }
    }

    fn logs(&self) -> std::sync::MutexGuard<'_, Logs> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the turn of a request to `path` now and answers `Ok`, or answers when it may
    /// ask again (nothing taken).
    pub fn try_take(&self, method: &Method, path: &str, now: Instant) -> Result<(), Instant> {
        let method = method.as_str();
        let endpoint = endpoint_template(method, path);
        let window = self.limits.endpoint_window(method);
        let issue = written_issue(method, path);
        let mut logs = self.logs();
        let mut at = logs
            .endpoints
            .get(&endpoint)
            .map_or(now, |log| free_at(log, &[window], now));
        if let Some(issue) = issue
            && let Some(log) = logs.issues.get(issue)
        {
            at = at.max(free_at(log, &self.limits.issue_writes, now));
        }
        if at > now {
            return Err(at);
        }
        let keep = self.keep;
        push(logs.endpoints.entry(endpoint).or_default(), now, keep);
        if let Some(issue) = issue {
            push(logs.issues.entry(issue.to_owned()).or_default(), now, keep);
            logs.since_sweep += 1;
            if logs.since_sweep >= 4096 {
                logs.since_sweep = 0;
                logs.issues.retain(|_, log| {
                    log.back()
                        .is_some_and(|t| now.saturating_duration_since(*t) <= keep)
                });
            }
        }
        Ok(())
    }

    /// The issues' windows as they stand, to ask about many issues under one lock (held
    /// until the view is dropped: never across an await).
    pub fn issues(&self) -> IssueWindows<'_> {
        IssueWindows {
            logs: self.logs(),
            windows: &self.limits.issue_writes,
        }
    }
}

/// See [`Pacer::issues`].
pub(crate) struct IssueWindows<'p> {
    logs: std::sync::MutexGuard<'p, Logs>,
    windows: &'p [RateWindow],
}

impl IssueWindows<'_> {
    /// When a write to `issue` may go, as far as the issue's own windows go.
    pub fn free_at(&self, issue: &str, now: Instant) -> Instant {
        self.logs
            .issues
            .get(issue)
            .map_or(now, |log| free_at(log, self.windows, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_hide_ids_and_keys() {
        assert_eq!(
            endpoint_template("POST", "/rest/api/3/issue/10001/comment?expand=x"),
            "POST /rest/api/3/issue/{id}/comment"
        );
        assert_eq!(
            endpoint_template("PUT", "/rest/api/3/issue/10001/properties/airlock.votes"),
            "PUT /rest/api/3/issue/{id}/properties/{key}"
        );
        assert_eq!(
            endpoint_template("POST", "/rest/api/3/issue/bulk"),
            "POST /rest/api/3/issue/bulk"
        );
    }

    #[test]
    fn issue_writes_are_named_by_their_path() {
        assert_eq!(
            written_issue("POST", "/rest/api/3/issue/10001/comment"),
            Some("10001")
        );
        assert_eq!(
            written_issue("PUT", "/rest/api/3/issue/10001?notifyUsers=false"),
            Some("10001")
        );
        assert_eq!(
            written_issue("PUT", "/rest/api/3/issue/ABC-12/properties/k"),
            Some("ABC-12")
        );
        assert_eq!(written_issue("GET", "/rest/api/3/issue/10001"), None);
        assert_eq!(written_issue("POST", "/rest/api/3/issue/bulk"), None);
        assert_eq!(written_issue("POST", "/rest/api/3/issueLink"), None);
        assert_eq!(written_issue("PUT", "/rest/agile/1.0/issue/rank"), None);
    }

    #[test]
    fn a_full_window_says_when_it_frees() {
        let limits = JiraLimits {
            get_post: RateWindow::new(2, Duration::from_secs(1)),
            put_delete: RateWindow::new(1, Duration::from_secs(1)),
            issue_writes: vec![RateWindow::new(3, Duration::from_secs(10))],
        };
        let pacer = Pacer::new(limits);
        let t0 = Instant::now();
        let get = |id: &str| format!("/rest/api/3/issue/{id}");
        assert!(pacer.try_take(&Method::GET, &get("1"), t0).is_ok());
        assert!(pacer.try_take(&Method::GET, &get("2"), t0).is_ok());
        let next = pacer.try_take(&Method::GET, &get("3"), t0).unwrap_err();
        assert_eq!(next, t0 + padded(Duration::from_secs(1)));
        // Another endpoint has its own window.
        assert!(pacer.try_take(&Method::PUT, &get("1"), t0).is_ok());
        assert!(pacer.try_take(&Method::PUT, &get("1"), t0).is_err());
        // The issue's window: three writes to issue 1 in ten seconds, on any endpoint.
        let later = t0 + Duration::from_secs(2);
        let comment = "/rest/api/3/issue/1/comment";
        assert!(pacer.try_take(&Method::POST, comment, later).is_ok());
        assert!(
            pacer
                .try_take(&Method::POST, comment, later + Duration::from_secs(2))
                .is_ok()
        );
        let wait = pacer
            .try_take(&Method::POST, comment, later + Duration::from_secs(4))
            .unwrap_err();
        assert_eq!(wait, t0 + padded(Duration::from_secs(10)));
        assert_eq!(pacer.issues().free_at("1", later), wait);
        assert_eq!(pacer.issues().free_at("2", later), later);
    }
}
