//! `cargo xtask bench cloud [--issues N]`: the load into Jira Cloud at Jira's rate limits.
//!
//! The backup `airlock gen-backup --issues N` writes (10,000 issues by default; kept under
//! `target/bench-data/` as the migrate benchmark keeps its own) is migrated with the
//! pipeline, as `airlock migrate BACKUP --target https://…` runs it, into the cloud double
//! started in this process with Jira's limits ([`JiraLimits::default`]) and no faults. The
//! client keeps Jira's limits too ([`CloudConfig`]'s default). From the double's record of
//! every request, the load's requests per second are set against the most the limits allow
//! for those requests (the *ceiling*, see [`ceiling`]); the goal is ≥ 0.85 of it, with no
//! request sent before a `Retry-After` ended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlock_cloud_double::{CloudDouble, DoubleConfig, JiraLimits, RateWindow, RequestRecord};
use airlock_model::jira::Kind;
use airlock_pipeline::{Event, Phase, TargetConfig, Until};
use airlock_site::CloudConfig;
use anyhow::{Result, ensure};

use crate::migrate::{Dirs, cached_backup, spec, thousands, with_progress};
use crate::verdict;

pub const DEFAULT_ISSUES: usize = 10_000;
const GOAL: f64 = 0.85;

/// What the pipeline said, when (this process's clock).
#[derive(Default)]
struct Marks {
    load_started: Option<Instant>,
    load_finished: Option<Instant>,
    /// Each kind's first `Loading` event: the engine starts a kind once every batch of
    /// the kinds before it is committed.
    kinds: Vec<(Kind, Instant)>,
    /// For the progress line.
    status: String,
}

pub fn run(issues: usize) -> Result<()> {
    let dirs = Dirs::locate()?;
    let limits = JiraLimits::default();
    println!(
        "Jira Cloud load at Jira's rate limits (the cloud double in this process, {}; the pipeline as `airlock migrate --target https://…` runs it)",
        describe(&limits)
    );
    let backup = cached_backup(&dirs, issues)?;
    let root = tempfile::Builder::new()
        .prefix("work-")
        .tempdir_in(&dirs.data)?;
    let double = CloudDouble::start(DoubleConfig {
        limits: Some(limits.clone()),
        site_path: Some(root.path().join("cloud.db")),
        ..DoubleConfig::default()
    })?;
    let mut cloud = CloudConfig::new(double.url(), "bench@example.com", "bench-token");
    cloud.extra_root_pem = Some(double.ca_pem().to_owned());
    // Cloud takes each attachment with its file: the files go with the load, as measured.
    let home = root.path().join("home");
    airlock_fixtures::write_attachments(&home, &spec(issues))?;
    let config = airlock_pipeline::Config {
        target: TargetConfig::Cloud(Box::new(cloud)),
        attachments: Some(home),
        ..airlock_pipeline::Config::new(&backup.path, root.path().join("work"))
    };
    let marks = Arc::new(Mutex::new(Marks::default()));
    let lock = |m: &Arc<Mutex<Marks>>| {
        m.lock()
            .map(|g| g.status.clone())
            .unwrap_or_else(|p| p.into_inner().status.clone())
    };
    let started = Instant::now();
    let outcome = {
        let shown = marks.clone();
        let marks = marks.clone();
        with_progress(
            |elapsed| {
                format!(
                    "migration of {} issues to the double: {} s, {}",
                    thousands(issues as u64),
                    elapsed.as_secs(),
                    lock(&shown)
                )
            },
            move || {
                let mut observer = |event: &Event<'_>| {
                    let now = Instant::now();
                    let mut m = marks.lock().unwrap_or_else(|p| p.into_inner());
                    match event {
                        Event::PhaseStarted { phase } => {
                            if *phase == Phase::Load {
                                m.load_started = Some(now);
                            }
                            m.status = format!("{phase:?}").to_lowercase();
                        }
                        Event::PhaseFinished {
                            phase: Phase::Load, ..
                        } => m.load_finished = Some(now),
                        Event::Loading { kind, done, total } => {
                            if m.kinds.last().is_none_or(|(k, _)| k != kind) {
                                m.kinds.push((*kind, now));
                            }
                            m.status = format!("load, {kind} {done}/{total}");
                        }
                        _ => {}
                    }
                };
                Ok(airlock_pipeline::run(
                    config,
                    Vec::new(),
                    &mut observer,
                    Until::Migrate,
                )?)
            },
        )?
    };
    let total = started.elapsed();
    ensure!(
        outcome.succeeded(),
        "the migration to the double did not succeed: {outcome:?}"
    );
    let marks = std::mem::take(&mut *marks.lock().unwrap_or_else(|p| p.into_inner()));
    let (Some(load_started), Some(load_finished)) = (marks.load_started, marks.load_finished)
    else {
        anyhow::bail!("the pipeline did not say when the load started and ended");
    };
    let zero = double.started();
    let since = |t: Instant| t.saturating_duration_since(zero);
    let mut boundaries = vec![("start of the load".to_owned(), since(load_started))];
    boundaries.extend(marks.kinds.iter().map(|(k, t)| (k.to_string(), since(*t))));
    let log = double.requests();
    let stats = double.stats();
    let end = since(load_finished);
    let load = load_finished - load_started;
    let phases = ceiling(&limits, &log, &boundaries, end);

    let answered: u64 = phases.iter().map(|p| p.requests).sum();
    let refused = log
        .iter()
        .filter(|r| r.at >= boundaries[0].1 && r.at <= end && !answered_request(r))
        .count();
    let ceiling_time: Duration = phases.iter().map(|p| p.ceiling).sum();
    let achieved = answered as f64 / load.as_secs_f64();
    let allowed = answered as f64 / ceiling_time.as_secs_f64().max(f64::MIN_POSITIVE);
    let ratio = achieved / allowed;
    println!(
        "  backup: {} issues, {} entities.xml rows; whole run {:.0} s (check, analyze, load, verify)",
        thousands(issues as u64),
        thousands(backup.entity_rows),
        total.as_secs_f64()
    );
    println!(
        "  load {:.1} s: {} requests answered ({} refused 429), {:.1} requests/s",
        load.as_secs_f64(),
        thousands(answered),
        refused,
        achieved
    );
    println!(
        "  ceiling {:.1} s for those requests under the limits: {:.1} requests/s (kind after kind, each as long as its busiest endpoint or issue)",
        ceiling_time.as_secs_f64(),
        allowed
    );
    let mut busiest: Vec<&PhaseCeiling> = phases.iter().filter(|p| p.requests > 0).collect();
    busiest.sort_by_key(|p| std::cmp::Reverse(p.wall));
    for p in busiest.iter().take(8) {
        println!(
            "    {:<16} {:>7.1} s, ceiling {:>7.1} s ({:.2}): {:>7} requests, bound by {}",
            p.name,
            p.wall.as_secs_f64(),
            p.ceiling.as_secs_f64(),
            p.ceiling.as_secs_f64() / p.wall.as_secs_f64().max(f64::MIN_POSITIVE),
            thousands(p.requests),
            p.bound_by
        );
    }
    println!(
        "  429s from the limits: {}; early requests: {} (must be 0: {})",
        stats.throttled_by_limits,
        stats.early_requests,
        verdict(stats.early_requests == 0)
    );
    println!(
        "  ratio achieved / ceiling requests per second = {ratio:.2}; goal ≥ {GOAL}: {}\n",
        verdict(ratio >= GOAL && stats.early_requests == 0)
    );
    drop(double);
    Ok(())
}

fn describe(limits: &JiraLimits) -> String {
    format!(
        "per endpoint {} GET/POST and {} PUT/DELETE a second, per issue {}",
        limits.get_post.per_second(),
        limits.put_delete.per_second(),
        limits
            .issue_writes
            .iter()
            .map(|w| format!("{} writes in {} s", w.requests, w.within.as_secs()))
            .collect::<Vec<_>>()
            .join(" and ")
    )
}

/// Answered rather than refused (429 from the limits, or to a client inside its
/// `Retry-After`).
fn answered_request(r: &RequestRecord) -> bool {
    !r.by_limits && !r.throttled && r.status != 429 && r.status != 503
}

/// One phase of the load: a kind (or what came before the first).
struct PhaseCeiling {
    name: String,
    requests: u64,
    /// From its start to the next phase's (or the end of the load).
    wall: Duration,
    ceiling: Duration,
    /// The bucket that sets its ceiling.
    bound_by: String,
}

/// The ceiling: the shortest time Jira's limits allow for exactly the requests the load
/// made (those answered; a refused request is not one the limits let through), phase by
/// phase. The model:
///
/// - The load runs kind after kind (the engine starts a kind once every batch of the kinds
///   before it is committed: its references need their ids), so phases add up: the
///   ceiling is the sum of the phases' ceilings. A phase starts at its kind's first
///   progress event and ends at the next one's (the first phase is what comes before
///   the first kind); requests belong to the phase they arrived in.
/// - Within a phase nothing else constrains the requests: no latency, no dependency
///   between them, any order, any number at once. So a phase takes as long as its
///   slowest *bucket*: an endpoint (method and path template; GET/POST under one window,
///   PUT/DELETE under the other), or an issue (its writes, under all its windows at once).
/// - A bucket's time is that of the earliest schedule its windows allow: the limits are
///   sliding windows (at most `requests` in any `within`), so `n` requests to an endpoint
///   of 100 a second take ⌊(n − 1) / 100⌋ seconds (100 at once, 100 more a second later…),
///   not n / 100; an issue's writes are placed greedily, each as early as every window
///   lets it. Bursts count for the ceiling, against us.
/// - Windows carried over from one phase into the next are ignored, and so is everything
///   that is not a limit (the double's time per request, the client's, the engine's
///   between batches): each only shortens the ceiling. The ratio is then a floor on how
///   close to Jira's limits the load runs.
fn ceiling(
    limits: &JiraLimits,
    log: &[RequestRecord],
    boundaries: &[(String, Duration)],
    end: Duration,
) -> Vec<PhaseCeiling> {
    let mut requests: Vec<Vec<&RequestRecord>> = vec![Vec::new(); boundaries.len()];
    for r in log {
        if r.at < boundaries[0].1 || r.at > end || !answered_request(r) {
            continue;
        }
        let phase = boundaries.partition_point(|(_, start)| *start <= r.at) - 1;
        requests[phase].push(r);
    }
    boundaries
        .iter()
        .enumerate()
        .map(|(i, (name, start))| {
            let next = boundaries.get(i + 1).map_or(end, |(_, t)| *t);
            let mut endpoints: HashMap<&str, Vec<Duration>> = HashMap::new();
            let mut issues: HashMap<&str, Vec<Duration>> = HashMap::new();
            for r in &requests[i] {
                endpoints.entry(&r.endpoint).or_default().push(r.at);
                if let Some(issue) = &r.issue {
                    issues.entry(issue).or_default().push(r.at);
                }
            }
            let mut worst = (Duration::ZERO, String::from("nothing"));
            for (endpoint, times) in &endpoints {
                let method = endpoint.split(' ').next().unwrap_or("");
                let window = limits.endpoint_window(method);
                let t = earliest_span(times.len(), &[window]);
                if t > worst.0 || worst.1 == "nothing" {
                    worst = (t, format!("{endpoint} ({} requests)", times.len()));
                }
            }
            for (issue, times) in &issues {
                let t = earliest_span(times.len(), &limits.issue_writes);
                if t > worst.0 {
                    worst = (t, format!("issue {issue} ({} writes)", times.len()));
                }
            }
            PhaseCeiling {
                name: name.clone(),
                requests: requests[i].len() as u64,
                wall: next.saturating_sub(*start),
                ceiling: worst.0,
                bound_by: worst.1,
            }
        })
        .collect()
}

/// From the first to the last of `n` requests placed as early as the sliding `windows`
/// allow (each at the latest of: the request `requests` before it, plus `within`).
fn earliest_span(n: usize, windows: &[RateWindow]) -> Duration {
    let mut at: Vec<Duration> = Vec::with_capacity(n);
    for k in 0..n {
        let t = windows
            .iter()
            .filter(|w| k >= w.requests.max(1) as usize)
            .map(|w| at[k - w.requests.max(1) as usize] + w.within)
            .max()
            .unwrap_or(Duration::ZERO);
        at.push(t);
    }
    at.last().copied().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_sliding_windows() {
        let s = Duration::from_secs;
        let endpoint = [RateWindow::new(100, s(1))];
        assert_eq!(earliest_span(0, &endpoint), s(0));
        assert_eq!(earliest_span(100, &endpoint), s(0));
        assert_eq!(earliest_span(101, &endpoint), s(1));
        assert_eq!(earliest_span(1_000, &endpoint), s(9));
        let issue = JiraLimits::default().issue_writes;
        assert_eq!(earliest_span(20, &issue), s(0));
        assert_eq!(earliest_span(21, &issue), s(2));
        assert_eq!(earliest_span(100, &issue), s(8));
        // The 101st waits for the first to leave the 30-second window.
        assert_eq!(earliest_span(101, &issue), s(30));
    }
}
