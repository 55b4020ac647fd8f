//! The Jira Cloud target against the double, over real HTTPS: every kind round-trips,
//! bulk partial failures map to their records, rate limits are honoured, writes applied
//! and then failed are not duplicated, a load cut short resumes, a dead server gives
//! a clear error, and apps' outputs can neither change an endpoint nor reach Airlock's own
//! properties.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_cloud_double::{CloudDouble, DoubleConfig, Faults};
use airlock_engine::RecordReader;
use airlock_engine::check;
use airlock_engine::{FieldProtection, State, ephemeral_protection};
use airlock_engine::{LoadDecisions, LoadSummary, load};
use airlock_engine::{Overrides, analyze};
use airlock_fixtures::Spec;
use airlock_model::jira::{Group, Issue, Kind, Record};
use airlock_model::{AppKey, AppOutput, EntityKind};
use airlock_site::{
    CloudConfig, InvalidOutput, JiraCloud, LocalSite, OutputField, OutputRule, RetryPolicy,
    SOURCE_PROPERTY, Site, TargetError, source_key, stored_key,
};
use airlock_staging::SealedStaging;

fn config(double: &CloudDouble) -> CloudConfig {
    let mut c = CloudConfig::new(double.url(), "migration@example.com", "api-token");
    c.extra_root_pem = Some(double.ca_pem().to_owned());
    c.retry = RetryPolicy {
        max_attempts: 8,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    c
}

fn client(double: &CloudDouble) -> JiraCloud {
    JiraCloud::new(config(double)).unwrap()
}

fn small_spec(issues: usize) -> Spec {
    Spec {
        users: 8,
        projects: 2,
        issues,
        worklogs_per_issue: 1,
        teams: 0,
        ..Spec::default()
    }
}

/// A generated backup, checked and staged.
struct Source {
    dir: tempfile::TempDir,
    staging: SealedStaging,
    staged: BTreeMap<Kind, u64>,
    /// The state's values are sealed under it: the same on every reopening.
    fields: Arc<dyn FieldProtection>,
}

impl Source {
    fn new(spec: &Spec) -> Source {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.zip");
        airlock_fixtures::write_backup(&path, spec).unwrap();
        let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
        let checked = check(&path, &staging, &[], &[], |_| {}).unwrap();
        assert_eq!(checked.report.fatal(), 0);
        Source {
            staged: checked.report.counts.clone(),
            dir,
            staging,
            fields: ephemeral_protection().unwrap(),
        }
    }

    fn records(&self, kind: Kind) -> Vec<Record> {
        RecordReader::open_kind(&self.staging, kind)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn state(&self) -> State {
        State::open(&self.dir.path().join("state.db"), self.fields.clone()).unwrap()
    }

    /// The target analysis against the target's snapshot.
    fn plan(&self, target: &mut dyn Site) -> Result<LoadDecisions, String> {
        let snapshot = target.snapshot().map_err(|e| e.to_string())?;
        let plan = analyze(
            &self.staging,
            &self.staged,
            &snapshot,
            &target.describe(),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(plan.problems().count(), 0);
        Ok(plan.decisions)
    }

    fn run(
        &self,
        target: &mut dyn Site,
        decisions: &LoadDecisions,
    ) -> Result<(LoadSummary, State), String> {
        let mut state = self.state();
        let summary = load(
            &self.staging,
            &mut state,
            target,
            decisions,
            &self.staged,
            |_| {},
        )
        .map_err(|e| e.to_string())?;
        Ok((summary, state))
    }

    /// Analysis, then the load.
    fn load(&self, target: &mut dyn Site) -> Result<(LoadSummary, State), String> {
        let decisions = self.plan(target)?;
        self.run(target, &decisions)
    }
}

/// Every staged record is on the site once: counts per kind match the source (minus
/// what was matched to existing records), and no source key was written twice.
fn assert_complete(source: &Source, double: &CloudDouble, matched: &BTreeMap<Kind, u64>) {
    let mut site = double.site();
    let counts = site.counts().unwrap();
    for (kind, n) in &source.staged {
        let matched = matched.get(kind).copied().unwrap_or(0);
        assert_eq!(
            counts.get(kind).copied().unwrap_or(0) + matched,
            *n,
            "{kind}: site {counts:?}"
        );
    }
    for kind in Kind::ALL {
        assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
    }
    // Kinds that carry `airlock.source`: exactly the source's ids.
    for kind in [Kind::Issue, Kind::Comment, Kind::Worklog] {
        let mut written = site.source_keys(kind).unwrap();
        let mut expected: Vec<String> = source.records(kind).iter().map(source_key).collect();
        written.sort();
        expected.sort();
        assert_eq!(written, expected, "{kind}");
    }
}

#[test]
fn every_kind_round_trips_over_https() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let source = Source::new(&small_spec(30));
    let mut target = client(&double);
    let (summary, state) = source.load(&mut target).unwrap();
    assert!(
        summary.failed.is_empty(),
        "{:#?}",
        state.failures().unwrap()
    );
    for kind in Kind::ALL {
        let staged = source.staged.get(&kind).copied().unwrap_or(0);
        let matched = summary.matched.get(&kind).copied().unwrap_or(0);
        let written = summary.written.get(&kind).copied().unwrap_or(0);
        assert_eq!(written + matched, staged, "{kind}");
    }
    assert_complete(&source, &double, &summary.matched);

    // The fixture's priorities and resolutions all match the site's defaults: write two.
    let constant = |id: &str, name: &str| airlock_model::jira::Constant {
        id: id.into(),
        name: name.into(),
        description: "from the source".into(),
        detail: String::new(),
    };
    let priority = Record::Priority(constant("p-9", "Blocker"));
    let resolution = Record::Resolution(constant("r-9", "Obsolete"));
    for record in [priority, resolution] {
        let kind = record.kind();
        let id = target.write(kind, std::slice::from_ref(&record)).unwrap()[0]
            .clone()
            .unwrap();
        let again = client(&double)
            .find_written(kind, &[source_key(&record)])
            .unwrap();
        assert_eq!(again, vec![Some(id)], "{kind}");
    }

    // The client's own counts agree with the site's.
    let site_counts = double.site().counts().unwrap();
    assert_eq!(target.counts().unwrap(), site_counts);

    // A fresh client (a new process after a crash) finds every record again, with the
    // cloud id the engine mapped it to.
    let mut fresh = client(&double);
    for kind in Kind::ALL {
        let keys: Vec<String> = source.records(kind).iter().map(source_key).collect();
        if keys.is_empty() {
            continue;
        }
        let found = fresh.find_written(kind, &keys).unwrap();
        for (key, found) in keys.iter().zip(&found) {
            match kind.namespace() {
                Some(ns) => {
                    if summary.matched.contains_key(&kind) && found.is_none() {
                        continue; // matched to a default of the site, never written
                    }
                    assert_eq!(
                        found.as_deref(),
                        state.cloud_id(ns, key).unwrap().as_deref(),
                        "{kind} {key}"
                    );
                }
                // An issue version's source key is made of its references, which the
                // engine keys before translating them and the target sees after: the two
                // never meet. Rewriting one is harmless (an add is idempotent).
                None if kind == Kind::IssueVersion => {}
                None => assert_eq!(found.as_deref(), Some(""), "{kind} {key}"),
            }
        }
    }
    assert_eq!(fresh.counts().unwrap(), site_counts);

    // Content survives the trip: text through ADF, dates, authors, links' direction.
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    for record in source.records(Kind::Comment) {
        let Record::Comment(c) = record else { continue };
        let (body, issue): (String, i64) = db
            .query_row(
                "SELECT body, issue_id FROM comments WHERE source_key = ?1",
                [&c.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(body, c.body.replace('\r', ""));
        let mapped = state
            .cloud_id(Kind::Issue.namespace().unwrap(), &c.issue)
            .unwrap();
        assert_eq!(Some(issue.to_string()), mapped);
    }
    for record in source.records(Kind::Worklog) {
        let Record::Worklog(w) = record else { continue };
        let (started, seconds): (i64, i64) = db
            .query_row(
                "SELECT started, time_spent_seconds FROM worklogs WHERE source_key = ?1",
                [&w.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((started, seconds), (w.started, w.seconds));
    }
    for record in source.records(Kind::Issue) {
        let Record::Issue(i) = record else { continue };
        let (summary_text, description): (String, String) = db
            .query_row(
                "SELECT summary, description FROM issues WHERE source_key = ?1",
                [&i.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(summary_text, i.summary);
        assert_eq!(description, i.description.replace('\r', ""));
    }
    let ns = Kind::Issue.namespace().unwrap();
    for record in source.records(Kind::IssueLink) {
        let Record::IssueLink(l) = record else {
            continue;
        };
        let id = state
            .cloud_id(Kind::IssueLink.namespace().unwrap(), &l.id)
            .unwrap()
            .unwrap();
        let (from, to): (i64, i64) = db
            .query_row(
                "SELECT source_issue_id, destination_issue_id FROM issue_links WHERE id = ?1",
                [id.parse::<i64>().unwrap()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            Some(from.to_string()),
            state.cloud_id(ns, &l.source).unwrap()
        );
        assert_eq!(
            Some(to.to_string()),
            state.cloud_id(ns, &l.destination).unwrap()
        );
    }
    let stats = double.stats();
    assert_eq!(stats.early_requests, 0);
    assert!(stats.per_endpoint["POST /rest/api/3/issue/bulk"] >= 1);
}

fn issue(n: usize, project: &str) -> Issue {
    Issue {
        id: format!("src-{n}"),
        project: project.to_owned(),
        number: n as u64 + 1,
        issue_type: "10000".into(),
        summary: format!("Issue {n}"),
        description: format!("Line one of {n}\nLine two"),
        priority: Some("3".into()),
        status: "10000".into(),
        resolution: None,
        reporter: None,
        assignee: None,
        created: 1_409_679_768_053,
        updated: 1_409_679_768_053,
        due: None,
        resolved: None,
        original_estimate: Some(3600),
        estimate: None,
        time_spent: None,
    }
}

#[test]
fn bulk_create_maps_partial_failures_to_their_records() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let project = double.site().add_project("BULK", "Bulk").unwrap();
    let mut records: Vec<Record> = (0..60).map(|n| Record::Issue(issue(n, &project))).collect();
    // Refused by the double's validation, by the site's, and one of each in the second call.
    if let Record::Issue(i) = &mut records[3] {
        i.summary = " ".into();
    }
    if let Record::Issue(i) = &mut records[49] {
        i.issue_type = "999".into();
    }
    if let Record::Issue(i) = &mut records[55] {
        i.project = "424242".into();
    }
    let mut target = client(&double);
    let answers = target.write(Kind::Issue, &records).unwrap();
    assert_eq!(answers.len(), 60);
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    for (n, answer) in answers.iter().enumerate() {
        match n {
            3 => assert_eq!(
                answer.as_ref().unwrap_err().code,
                "invalid-value",
                "{answer:?}"
            ),
            49 | 55 => assert_eq!(
                answer.as_ref().unwrap_err().code,
                "invalid-reference",
                "{answer:?}"
            ),
            _ => {
                let id: i64 = answer.as_ref().unwrap().parse().unwrap();
                let key: String = db
                    .query_row("SELECT source_key FROM issues WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .unwrap();
                assert_eq!(key, format!("src-{n}"), "answer {n} names another issue");
            }
        }
    }
    assert_eq!(
        double.stats().per_endpoint["POST /rest/api/3/issue/bulk"],
        2
    );
    assert_eq!(double.site().counts().unwrap()[&Kind::Issue], 57);

    // More than 50 in one call is refused whole, as Cloud does.
    let raw = raw_client(&double);
    let updates: Vec<serde_json::Value> = (0..51)
        .map(|n| {
            serde_json::json!({ "fields": {
                "project": { "id": project }, "issuetype": { "id": "10000" },
                "summary": format!("x{n}"),
            }})
        })
        .collect();
    let resp = raw
        .post(format!("{}/rest/api/3/issue/bulk", double.url()))
        .basic_auth("raw@example.com", Some("t"))
        .json(&serde_json::json!({ "issueUpdates": updates }))
        .send();
    let rt = tokio_rt();
    let resp = rt.block_on(resp).unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(double.site().counts().unwrap()[&Kind::Issue], 57);
}

#[test]
fn a_rate_limited_load_never_sends_before_retry_after() {
    let faults = Faults {
        seed: 11,
        rate_limited: 0.30,
        unavailable: 0.05,
        retry_after_secs: 1,
        max_throttles: Some(10),
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let source = Source::new(&small_spec(100));
    let started = Instant::now();
    let mut target = client(&double);
    let (summary, state) = source.load(&mut target).unwrap();
    let took = started.elapsed();
    assert!(
        summary.failed.is_empty(),
        "{:#?}",
        state.failures().unwrap()
    );
    assert_complete(&source, &double, &summary.matched);
    let stats = double.stats();
    eprintln!("rate-limited load: {took:?}, {stats:?}");
    assert_eq!(stats.early_requests, 0, "requests sent before Retry-After");
    // Ten windows opened by the dice (429s, some 503s), plus the 429s answered to
    // requests already in flight when a window opened.
    assert!(stats.rate_limited + stats.unavailable >= 10, "{stats:?}");
    // Each window held every worker back for its whole second.
    assert!(took >= Duration::from_secs(9), "{took:?}");
    let early: Vec<_> = double.requests().into_iter().filter(|r| r.early).collect();
    assert!(early.is_empty(), "{early:?}");
}

#[test]
fn a_503_with_retry_after_pauses_every_worker_too() {
    let faults = Faults {
        unavailable: 1.0,
        max_throttles: Some(1),
        retry_after_secs: 1,
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let mut target = client(&double);
    let started = Instant::now();
    let snapshot = target.snapshot().unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(snapshot.priorities.len(), 5);
    let stats = double.stats();
    assert_eq!(
        (stats.unavailable, stats.early_requests),
        (1, 0),
        "{stats:?}"
    );
    let first = &double.requests()[0];
    assert_eq!(first.status, 503);
}

#[test]
fn writes_applied_then_failed_are_not_duplicated() {
    let faults = Faults {
        seed: 5,
        server_errors: 0.04,
        fail_after_apply: 0.08,
        drop_after_apply: 0.04,
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let source = Source::new(&small_spec(60));
    let mut target = client(&double);
    let (summary, state) = source.load(&mut target).unwrap();
    assert!(
        summary.failed.is_empty(),
        "{:#?}",
        state.failures().unwrap()
    );
    let stats = double.stats();
    eprintln!("faulty load: {stats:?}");
    assert!(stats.failed_after_apply > 5, "{stats:?}");
    assert!(stats.dropped_after_apply > 2, "{stats:?}");
    assert_complete(&source, &double, &summary.matched);
}

#[test]
fn a_load_cut_short_resumes_without_duplicates() {
    // Some writes applied and then failed, and a client that gives up at once: the engine
    // stops with a record on the site but not mapped, as after a crash; each rerun
    // reconciles its first batch with `find_written` (a fresh client: nothing in memory).
    let faults = Faults {
        seed: 3,
        fail_after_apply: 0.02,
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let source = Source::new(&small_spec(40));
    let decisions = source.plan(&mut client(&double)).unwrap();
    let mut runs = 0;
    let mut recovered = 0;
    loop {
        runs += 1;
        assert!(runs < 60, "the load never finished");
        let mut c = config(&double);
        c.retry.max_attempts = 1;
        let mut target = JiraCloud::new(c).unwrap();
        match source.run(&mut target, &decisions) {
            Ok((summary, state)) => {
                assert!(
                    summary.failed.is_empty(),
                    "{:#?}",
                    state.failures().unwrap()
                );
                recovered += summary.recovered.values().sum::<u64>();
                break;
            }
            Err(e) => assert!(e.contains("500"), "{e}"),
        }
    }
    assert!(runs > 2, "no run was cut short");
    let state = source.state();
    for kind in Kind::ALL {
        if let Some(ns) = kind.namespace() {
            let staged = source.staged.get(&kind).copied().unwrap_or(0);
            assert_eq!(
                state.count(ns).unwrap(),
                staged,
                "{kind}: every record mapped"
            );
        }
    }
    let matched: BTreeMap<Kind, u64> = decisions
        .existing
        .iter()
        .map(|(k, m)| (*k, m.len() as u64))
        .collect();
    assert_complete(&source, &double, &matched);
    eprintln!(
        "resumed after {} cut runs ({recovered} recovered in the last), {:?}",
        runs - 1,
        double.stats()
    );
}

#[test]
fn backoff_gives_up_with_a_clear_error_when_the_double_is_down() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let c = config(&double);
    drop(double);
    let mut c = c;
    c.retry.max_attempts = 3;
    let mut target = JiraCloud::new(c).unwrap();
    let started = Instant::now();
    match target.snapshot() {
        Err(TargetError::Network { call, message }) => {
            assert_eq!(call, "GET /rest/api/3/project/search");
            assert!(message.contains("3 attempts"), "{message}");
        }
        other => panic!("expected a network error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // A server that answers 500 to everything: an HTTP error naming the call.
    let faults = Faults {
        server_errors: 1.0,
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let mut c = config(&double);
    c.retry.max_attempts = 4;
    let mut target = JiraCloud::new(c).unwrap();
    match target.write(
        Kind::Group,
        &[Record::Group(airlock_model::jira::Group {
            name: "team".into(),
            active: true,
        })],
    ) {
        Err(TargetError::Http {
            call,
            status,
            message,
        }) => {
            assert_eq!(status, 500);
            assert!(call.contains(" /rest/"), "{call}");
            assert!(
                message.contains("4 attempts") && !message.contains("team"),
                "{message}"
            );
        }
        other => panic!("expected an HTTP error, got {other:?}"),
    }
    assert_eq!(double.stats().server_errors, 4);
}

#[test]
fn app_outputs_are_stored_with_cloud_limits() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let project = double.site().add_project("APP", "Apps").unwrap();
    let mut target = client(&double);
    let issue_id = target
        .write(Kind::Issue, &[Record::Issue(issue(1, &project))])
        .unwrap()[0]
        .clone()
        .unwrap();
    let app = AppKey::new("com.example.timesheets");
    let outputs = vec![
        AppOutput::AppProperty {
            key: "settings".into(),
            value: r#"{"weekStart":"monday"}"#.into(),
        },
        AppOutput::AppDocument {
            collection: "teams".into(),
            id: "7".into(),
            body: r#"{"name":"Blue"}"#.into(),
        },
        AppOutput::EntityProperty {
            entity: EntityKind::Issue,
            entity_id: issue_id.clone(),
            key: "timesheet".into(),
            value: r#"{"hours":3}"#.into(),
        },
    ];
    target.put_app_outputs(&app, &outputs).unwrap();
    target.put_app_outputs(&app, &outputs).unwrap();
    assert_eq!(target.app_output_count(&app).unwrap(), 3);
    assert_eq!(double.site().app_output_count(&app).unwrap(), 3);

    // Too large: refused before anything is sent.
    let before = double.stats().requests;
    let big = AppOutput::AppProperty {
        key: "big".into(),
        value: format!("\"{}\"", "x".repeat(32_767)),
    };
    assert!(matches!(
        target.put_app_outputs(&app, &[big]),
        Err(TargetError::InvalidOutput(InvalidOutput {
            field: OutputField::Value,
            rule: OutputRule::TooLong { max: 32_768 },
            ..
        }))
    ));
    assert_eq!(double.stats().requests, before);

    // The double enforces the limits itself.
    let raw = raw_client(&double);
    let rt = tokio_rt();
    let put = |path: String, body: String| {
        let req = raw
            .put(format!("{}{path}", double.url()))
            .basic_auth("raw@example.com", Some("t"))
            .header("Content-Type", "application/json")
            .body(body)
            .send();
        rt.block_on(req).unwrap().status().as_u16()
    };
    let too_big = format!("\"{}\"", "x".repeat(32_767));
    assert_eq!(
        put(
            format!("/rest/api/3/issue/{issue_id}/properties/k"),
            too_big
        ),
        400
    );
    let long_key = "k".repeat(256);
    assert_eq!(
        put(
            format!("/rest/api/3/issue/{issue_id}/properties/{long_key}"),
            "1".into()
        ),
        400
    );
    assert_eq!(
        put("/rest/api/3/issue/99999/properties/k".into(), "1".into()),
        404
    );
    assert_eq!(
        put(
            format!("/rest/api/3/issue/{issue_id}/properties/k"),
            "1".into()
        ),
        201
    );
    assert_eq!(
        put(
            format!("/rest/api/3/issue/{issue_id}/properties/k"),
            "2".into()
        ),
        200
    );
}

/// A raw GET of the double: status and JSON body.
fn raw_get(double: &CloudDouble, path: &str) -> (u16, serde_json::Value) {
    let raw = raw_client(double);
    let rt = tokio_rt();
    rt.block_on(async {
        let reply = raw
            .get(format!("{}{path}", double.url()))
            .basic_auth("raw@example.com", Some("t"))
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        (
            status,
            reply.json().await.unwrap_or(serde_json::Value::Null),
        )
    })
}

/// Issue 13: an output key of `..` turned `PUT /issue/{id}/properties/..` into
/// `PUT /issue/{id}/` (Edit issue) with the plugin's body. Ids and keys that could change
/// the endpoint are refused before any request, with the output named.
#[test]
fn app_outputs_that_could_change_the_endpoint_are_refused_before_any_request() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let project = double.site().add_project("APP", "Apps").unwrap();
    let mut target = client(&double);
    let issue_id = target
        .write(Kind::Issue, &[Record::Issue(issue(1, &project))])
        .unwrap()[0]
        .clone()
        .unwrap();
    let issue_path = format!("/rest/api/3/issue/{issue_id}");
    let (status, before_issue) = raw_get(&double, &issue_path);
    assert_eq!(status, 200);
    let app = AppKey::new("com.example.timesheets");
    let fine = AppOutput::AppProperty {
        key: "settings".into(),
        value: "{}".into(),
    };
    let edit = r#"{"fields":{"summary":"edited by a plugin"},"update":{"labels":[{"add":"x"}]}}"#;
    let on = |entity: EntityKind, entity_id: &str, key: &str| AppOutput::EntityProperty {
        entity,
        entity_id: entity_id.into(),
        key: key.into(),
        value: edit.into(),
    };
    let key_chars = OutputRule::Character {
        allowed: "[A-Za-z0-9._~-]",
    };
    let cases = [
        (
            on(EntityKind::Issue, &issue_id, ".."),
            OutputField::Key,
            OutputRule::DotSegment,
        ),
        (
            on(EntityKind::Issue, &issue_id, "."),
            OutputField::Key,
            OutputRule::DotSegment,
        ),
        (
            on(EntityKind::Issue, &issue_id, "a/b"),
            OutputField::Key,
            key_chars,
        ),
        (
            on(EntityKind::Issue, &issue_id, "%2e%2e"),
            OutputField::Key,
            key_chars,
        ),
        (
            on(EntityKind::Issue, &issue_id, "?x"),
            OutputField::Key,
            key_chars,
        ),
        (
            on(EntityKind::Issue, &issue_id, "#"),
            OutputField::Key,
            key_chars,
        ),
        (
            on(EntityKind::Issue, &issue_id, "a\u{7}"),
            OutputField::Key,
            OutputRule::ControlCharacter,
        ),
        (
            on(EntityKind::Issue, &issue_id, ""),
            OutputField::Key,
            OutputRule::Empty,
        ),
        (
            on(EntityKind::Issue, "1/..", "k"),
            OutputField::EntityId,
            OutputRule::NotNumeric,
        ),
        (
            on(EntityKind::Issue, &format!("{issue_id}?x"), "k"),
            OutputField::EntityId,
            OutputRule::NotNumeric,
        ),
        (
            on(EntityKind::Worklog, "..", "k"),
            OutputField::EntityId,
            OutputRule::NotNumeric,
        ),
        (
            on(EntityKind::User, "x&accountId=y", "k"),
            OutputField::EntityId,
            OutputRule::Character {
                allowed: "[A-Za-z0-9:_-]",
            },
        ),
        (
            on(EntityKind::Project, "..", "k"),
            OutputField::EntityId,
            OutputRule::NotNumeric,
        ),
        (
            AppOutput::AppDocument {
                collection: "teams".into(),
                id: "..".into(),
                body: "{}".into(),
            },
            OutputField::DocumentId,
            OutputRule::DotSegment,
        ),
        (
            AppOutput::AppProperty {
                key: "..".into(),
                value: "{}".into(),
            },
            OutputField::Key,
            OutputRule::DotSegment,
        ),
    ];
    let before = double.stats().requests;
    for (output, field, rule) in cases {
        let kind = output.kind();
        match target.put_app_outputs(&app, &[fine.clone(), output.clone()]) {
            Err(TargetError::InvalidOutput(e)) => {
                assert_eq!(
                    e,
                    InvalidOutput {
                        index: 1,
                        kind,
                        field,
                        rule
                    },
                    "{output:?}"
                );
                // The error names the output, not its content.
                assert!(e.to_string().starts_with("app output 1 ("), "{e}");
                assert!(!e.to_string().contains("edited by a plugin"));
            }
            other => panic!("{output:?}: expected an invalid output, got {other:?}"),
        }
        assert_eq!(
            double.stats().requests,
            before,
            "{output:?} reached the double"
        );
    }
    // A bad app key refuses the call too, before any request.
    for bad in ["..", "a/b", "a:b", ""] {
        assert!(matches!(
            target.put_app_outputs(&AppKey::new(bad), std::slice::from_ref(&fine)),
            Err(TargetError::InvalidAppKey { .. })
        ));
    }
    assert_eq!(double.stats().requests, before);
    // The issue is as it was; the valid output of those calls was not stored either.
    assert_eq!(raw_get(&double, &issue_path), (200, before_issue));
    assert_eq!(double.site().app_output_count(&app).unwrap(), 0);
}

/// Issue 13: property keys were not namespaced per app, so a plugin could overwrite
/// `airlock.source` (issues are found by it) or, keyed like the ledger app, the journal
/// (every other kind is found through it). Its keys now land in its own namespace, and
/// resume still finds what was written.
#[test]
fn an_apps_outputs_cannot_overwrite_what_resume_finds_records_by() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let project = double.site().add_project("APP", "Apps").unwrap();
    let mut target = client(&double);
    let record = Record::Issue(issue(1, &project));
    let issue_id = target
        .write(Kind::Issue, std::slice::from_ref(&record))
        .unwrap()[0]
        .clone()
        .unwrap();
    let group = Record::Group(Group {
        name: "timesheet-approvers".into(),
        active: true,
    });
    let group_id = target
        .write(Kind::Group, std::slice::from_ref(&group))
        .unwrap()[0]
        .clone()
        .unwrap();
    let (issue_key, group_key) = (source_key(&record), source_key(&group));

    // A plugin keyed like Airlock's ledger app, writing Airlock's own keys.
    let app = AppKey::new(config(&double).ledger_app);
    let outputs = vec![
        AppOutput::EntityProperty {
            entity: EntityKind::Issue,
            entity_id: issue_id.clone(),
            key: SOURCE_PROPERTY.into(),
            value: r#"{"key":"not-the-source"}"#.into(),
        },
        AppOutput::AppProperty {
            key: "airlock.journal.group.0".into(),
            value: r#"{"entries":[]}"#.into(),
        },
    ];
    target.put_app_outputs(&app, &outputs).unwrap();

    // A fresh client (as after a crash) still finds both records.
    let mut resumed = client(&double);
    assert_eq!(
        resumed
            .find_written(Kind::Issue, std::slice::from_ref(&issue_key))
            .unwrap(),
        [Some(issue_id.clone())]
    );
    assert_eq!(
        resumed
            .find_written(Kind::Group, std::slice::from_ref(&group_key))
            .unwrap(),
        [Some(group_id)]
    );
    assert_eq!(resumed.counts().unwrap()[&Kind::Issue], 1);
    // The plugin's values are stored, under its namespace.
    let (status, own) = raw_get(
        &double,
        &format!("/rest/api/3/issue/{issue_id}/properties/airlock:airlock.source"),
    );
    assert_eq!(
        (status, &own["value"]["key"]),
        (200, &serde_json::json!("not-the-source"))
    );
    assert_eq!(
        stored_key(&app, &outputs[0]),
        format!("{}:{SOURCE_PROPERTY}", app.as_str())
    );
    assert_eq!(resumed.app_output_count(&app).unwrap(), 1);
    let (_, host) = raw_get(
        &double,
        &format!("/rest/api/3/issue/{issue_id}/properties/{SOURCE_PROPERTY}"),
    );
    assert_eq!(host["value"]["key"], serde_json::json!(issue_key));

    // The double is faithful: a raw PUT of `airlock.source` (one key set per entity in
    // Cloud) does move the record out of resume's sight. That is what namespacing prevents.
    let raw = raw_client(&double);
    let rt = tokio_rt();
    let status = rt
        .block_on(
            raw.put(format!(
                "{}/rest/api/3/issue/{issue_id}/properties/{SOURCE_PROPERTY}",
                double.url()
            ))
            .basic_auth("raw@example.com", Some("t"))
            .header("Content-Type", "application/json")
            .body(r#"{"key":"elsewhere"}"#)
            .send(),
        )
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 200);
    assert_eq!(
        client(&double)
            .find_written(Kind::Issue, std::slice::from_ref(&issue_key))
            .unwrap(),
        [None]
    );
}

/// Both targets store the same namespaced key for the same output (documents: the local
/// site keeps collection and id in their columns, Cloud an app property).
#[test]
fn the_local_site_and_jira_cloud_store_the_same_namespaced_keys() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let project = double.site().add_project("APP", "Apps").unwrap();
    let mut cloud = client(&double);
    let issue_id = cloud
        .write(Kind::Issue, &[Record::Issue(issue(1, &project))])
        .unwrap()[0]
        .clone()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local_path = dir.path().join("local.db");
    let mut local = LocalSite::open(&local_path).unwrap();
    let app = AppKey::new("com.example.timesheets");
    let outputs = vec![
        AppOutput::EntityProperty {
            entity: EntityKind::Issue,
            entity_id: issue_id.clone(),
            key: "timesheet".into(),
            value: r#"{"hours":3}"#.into(),
        },
        AppOutput::AppProperty {
            key: "settings".into(),
            value: "{}".into(),
        },
        AppOutput::AppDocument {
            collection: "teams".into(),
            id: "7".into(),
            body: r#"{"name":"Blue"}"#.into(),
        },
    ];
    cloud.put_app_outputs(&app, &outputs).unwrap();
    local.put_app_outputs(&app, &outputs).unwrap();

    let keys = |path: &std::path::Path, sql: &str| -> Vec<String> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([app.as_str()], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let entity_sql = "SELECT entity_kind || '/' || entity_id || '/' || key
                      FROM app_entity_properties WHERE app_key = ?1 ORDER BY 1";
    let property_sql = "SELECT key FROM app_properties WHERE app_key = ?1 ORDER BY 1";
    let expected_entity = [format!("issue/{issue_id}/com.example.timesheets:timesheet")];
    assert_eq!(keys(&local_path, entity_sql), expected_entity);
    assert_eq!(keys(double.site_path(), entity_sql), expected_entity);
    assert_eq!(
        keys(&local_path, property_sql),
        ["com.example.timesheets:settings"]
    );
    // Cloud keeps the document as an app property under its stored key.
    assert_eq!(
        keys(double.site_path(), property_sql),
        [
            "com.example.timesheets:settings",
            "com.example.timesheets:teams:7"
        ]
    );
    for (output, stored) in outputs.iter().zip([
        "com.example.timesheets:timesheet",
        "com.example.timesheets:settings",
        "com.example.timesheets:teams:7",
    ]) {
        assert_eq!(stored_key(&app, output), stored);
    }
    assert_eq!(cloud.app_output_count(&app).unwrap(), 3);
    assert_eq!(local.app_output_count(&app).unwrap(), 3);
}

#[test]
fn the_double_flags_a_client_that_ignores_retry_after() {
    let faults = Faults {
        rate_limited: 1.0,
        max_throttles: Some(1),
        retry_after_secs: 2,
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let raw = raw_client(&double);
    let rt = tokio_rt();
    let get = || {
        let req = raw
            .get(format!("{}/rest/api/3/issuetype", double.url()))
            .basic_auth("raw@example.com", Some("t"))
            .send();
        rt.block_on(req).unwrap()
    };
    let first = get();
    assert_eq!(first.status().as_u16(), 429);
    assert_eq!(first.headers()["Retry-After"], "2");
    assert!(first.headers().contains_key("X-RateLimit-Reset"));
    // Past the in-flight grace: this one was sent knowing the limit.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(get().status().as_u16(), 429);
    let stats = double.stats();
    assert_eq!(stats.early_requests, 1, "{stats:?}");
    std::thread::sleep(Duration::from_millis(1800));
    assert_eq!(get().status().as_u16(), 200);
    assert_eq!(double.stats().early_requests, 1);
    // Unauthenticated calls are refused.
    let anonymous = rt
        .block_on(
            raw.get(format!("{}/rest/api/3/issuetype", double.url()))
                .send(),
        )
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A plain reqwest client trusting the double's CA only.
fn raw_client(double: &CloudDouble) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(double.ca_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

/// Jira Cloud and the local site refuse a record's own values by the same rules, with the
/// same answer, and Jira Cloud does so before sending anything.
#[test]
fn both_sites_apply_the_shared_rules_and_cloud_sends_nothing_they_refuse() {
    use airlock_model::jira::{Label, Worklog};
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let mut cloud = client(&double);
    let dir = tempfile::tempdir().unwrap();
    let mut local = LocalSite::open(&dir.path().join("site.db")).unwrap();
    let before = double.requests().len();
    let label = Record::Label(Label {
        id: "1".into(),
        issue: "10000".into(),
        label: "needs review".into(),
    });
    let worklog = Record::Worklog(Worklog {
        id: "2".into(),
        issue: "10000".into(),
        author: None,
        body: "entry".into(),
        created: 0,
        started: 0,
        seconds: -600,
    });
    for (kind, record) in [(Kind::Label, label), (Kind::Worklog, worklog)] {
        let rule = airlock_site::rules::check(&record).unwrap_err();
        let answers = cloud.write(kind, std::slice::from_ref(&record)).unwrap();
        assert_eq!(answers, vec![Err(rule.clone().into())]);
        let answers = local.write(kind, std::slice::from_ref(&record)).unwrap();
        assert_eq!(answers, vec![Err(rule.into())]);
    }
    assert_eq!(double.requests().len(), before, "nothing was sent");
}
