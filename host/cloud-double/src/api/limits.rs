//! Jira Cloud's rate limits as the double keeps them ([`JiraLimits`]): per client (the
//! credentials: one tenant's API-token traffic) and endpoint (the method and path
//! template), GET and POST in one window, PUT and DELETE in another; and per issue, every
//! write whose path names it (`written_issue`), in each of the issue windows at once.
//! Windows slide: at most `requests` in any `within`. A request refused is not counted.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use airlock_site::JiraLimits;
use tokio::time::Instant;

pub(crate) struct Limiter {
    limits: JiraLimits,
    /// (client, endpoint) → arrivals admitted within the endpoint's window.
    endpoints: HashMap<(String, String), VecDeque<Instant>>,
    /// Issue → writes admitted within its longest window.
    issues: HashMap<String, VecDeque<Instant>>,
    longest_issue_window: Duration,
    since_sweep: u64,
}

impl Limiter {
    pub fn new(limits: JiraLimits) -> Limiter {
        let longest_issue_window = limits
            .issue_writes
            .iter()
            .map(|w| w.within)
            .max()
            .unwrap_or_default();
        Limiter {
            limits,
            endpoints: HashMap::new(),
            issues: HashMap::new(),
            longest_issue_window,
            since_sweep: 0,
        }
    }

    /// Admits (and counts) a request arriving `now`, or answers when the window it
    /// overflows has room again (the latest of them, if it overflows several).
    pub fn admit(
        &mut self,
        client: &str,
        endpoint: &str,
        method: &str,
        issue: Option<&str>,
        now: Instant,
    ) -> Result<(), Instant> {
        let window = self.limits.endpoint_window(method);
        let key = (client.to_owned(), endpoint.to_owned());
        let mut until: Option<Instant> = None;
        if let Some(log) = self.endpoints.get_mut(&key) {
            forget(log, now, window.within);
            let n = window.requests.max(1) as usize;
            if log.len() >= n {
                until = Some(log[log.len() - n] + window.within);
            }
        }
        if let Some(issue) = issue
            && let Some(log) = self.issues.get_mut(issue)
        {
            forget(log, now, self.longest_issue_window);
            for w in &self.limits.issue_writes {
                let n = w.requests.max(1) as usize;
                let inside = log.len() - log.partition_point(|t| *t + w.within <= now);
                if inside >= n {
                    let frees = log[log.len() - n] + w.within;
                    until = Some(until.map_or(frees, |u| u.max(frees)));
                }
            }
        }
        if let Some(until) = until {
            return Err(until);
        }
        self.endpoints.entry(key).or_default().push_back(now);
        if let Some(issue) = issue {
            self.issues
                .entry(issue.to_owned())
                .or_default()
                .push_back(now);
        }
        self.since_sweep += 1;
        if self.since_sweep >= 4096 {
            self.since_sweep = 0;
            let (long, endpoint_window) = (
                self.longest_issue_window,
                self.limits
                    .get_post
                    .within
                    .max(self.limits.put_delete.within),
            );
            self.issues
                .retain(|_, log| log.back().is_some_and(|t| *t + long > now));
            self.endpoints
                .retain(|_, log| log.back().is_some_and(|t| *t + endpoint_window > now));
        }
        Ok(())
    }
}

/// Drops the arrivals that have left a window of `within` ending `now`.
fn forget(log: &mut VecDeque<Instant>, now: Instant, within: Duration) {
    while log.front().is_some_and(|t| *t + within <= now) {
        log.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_site::RateWindow;

    #[test]
    fn endpoints_and_issues_fill_their_windows() {
        let mut limiter = Limiter::new(JiraLimits {
            get_post: RateWindow::new(3, Duration::from_secs(1)),
            put_delete: RateWindow::new(1, Duration::from_secs(1)),
            issue_writes: vec![
                RateWindow::new(2, Duration::from_secs(2)),
                RateWindow::new(3, Duration::from_secs(30)),
            ],
        });
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let get = "GET /rest/api/3/issue/{id}";
        for _ in 0..3 {
            assert!(limiter.admit("a", get, "GET", None, t0).is_ok());
        }
        assert_eq!(limiter.admit("a", get, "GET", None, t0), Err(t0 + s(1)));
        // Another client, another endpoint: their own windows.
        assert!(limiter.admit("b", get, "GET", None, t0).is_ok());
        let put = "PUT /rest/api/3/issue/{id}";
        assert!(limiter.admit("a", put, "PUT", Some("1"), t0).is_ok());
        assert_eq!(
            limiter.admit("a", put, "PUT", Some("2"), t0),
            Err(t0 + s(1))
        );
        assert!(limiter.admit("a", get, "GET", None, t0 + s(1)).is_ok());
        // Issue 1: two writes in two seconds, three in thirty, whatever the endpoint.
        let comment = "POST /rest/api/3/issue/{id}/comment";
        assert!(limiter.admit("a", comment, "POST", Some("1"), t0).is_ok());
        assert_eq!(
            limiter.admit("a", comment, "POST", Some("1"), t0),
            Err(t0 + s(2))
        );
        assert!(limiter.admit("a", comment, "POST", Some("2"), t0).is_ok());
        assert!(
            limiter
                .admit("a", comment, "POST", Some("1"), t0 + s(2))
                .is_ok()
        );
        assert_eq!(
            limiter.admit("a", comment, "POST", Some("1"), t0 + s(5)),
            Err(t0 + s(30))
        );
    }
}
