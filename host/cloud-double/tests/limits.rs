//! Jira Cloud's rate limits: the double refuses past each one (per endpoint by method,
//! per issue) with 429 and `Retry-After` and counts it, and the client paces itself under
//! them: a migration finishes without a request sent early and hardly a 429, and an issue
//! at its limit does not hold back writes to other issues. Small limits keep it short.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use airlock_cloud_double::{CloudDouble, DoubleConfig, JiraLimits, RateWindow, RequestRecord};
use airlock_engine::{Overrides, analyze, check, ephemeral_protection, load};
use airlock_model::jira::{Comment, Issue, Kind, Record};
use airlock_site::{CloudConfig, JiraCloud, RetryPolicy, Site};
use airlock_staging::SealedStaging;

fn config(double: &CloudDouble, limits: &JiraLimits) -> CloudConfig {
    let mut c = CloudConfig::new(double.url(), "migration@example.com", "api-token");
    c.extra_root_pem = Some(double.ca_pem().to_owned());
    c.retry = RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    c.limits = Some(limits.clone());
    c
}

fn limited(limits: &JiraLimits) -> CloudDouble {
    CloudDouble::start(DoubleConfig {
        limits: Some(limits.clone()),
        ..DoubleConfig::default()
    })
    .unwrap()
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

/// Each limit in turn, each with a client (credentials) of its own: a client refused is
/// throttled as a whole until its `Retry-After` ends.
#[test]
fn the_double_refuses_past_each_limit_with_retry_after_and_counts_it() {
    let limits = JiraLimits {
        get_post: RateWindow::new(4, Duration::from_secs(1)),
        put_delete: RateWindow::new(2, Duration::from_secs(1)),
        issue_writes: vec![
            RateWindow::new(3, Duration::from_secs(2)),
            RateWindow::new(5, Duration::from_secs(30)),
        ],
    };
    let double = limited(&limits);
    let raw = raw_client(&double);
    let rt = tokio_rt();
    let call = |method: &str, who: &str, path: &str| {
        let req = raw
            .request(method.parse().unwrap(), format!("{}{path}", double.url()))
            .basic_auth(who, Some("t"))
            .json(&serde_json::json!({ "value": 1 }))
            .send();
        rt.block_on(req).unwrap()
    };
    let retry_after = |resp: &reqwest::Response| -> u64 {
        assert_eq!(resp.status().as_u16(), 429);
        assert!(resp.headers().contains_key("X-RateLimit-Reset"));
        resp.headers()["Retry-After"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };

    // GET (and POST): four a second per endpoint and client.
    for _ in 0..4 {
        assert_eq!(call("GET", "a@x", "/rest/api/3/issuetype").status(), 200);
    }
    assert_eq!(retry_after(&call("GET", "a@x", "/rest/api/3/issuetype")), 1);
    // Another client has its own window.
    assert_eq!(call("GET", "b@x", "/rest/api/3/issuetype").status(), 200);
    assert_eq!(double.stats().throttled_by_limits, 1);

    // PUT (and DELETE): two a second, however many properties they write.
    for key in ["one", "two"] {
        let path = format!("/rest/atlassian-connect/1/addons/airlock/properties/{key}");
        assert!(call("PUT", "c@x", &path).status().is_success());
    }
    let third = "/rest/atlassian-connect/1/addons/airlock/properties/three";
    assert_eq!(retry_after(&call("PUT", "c@x", third)), 1);
    // Past the in-flight grace, within the Retry-After: early, and refused.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(call("GET", "c@x", "/rest/api/3/issuetype").status(), 429);
    assert_eq!(double.stats().early_requests, 1);
    std::thread::sleep(Duration::from_millis(800));
    assert!(call("PUT", "c@x", third).status().is_success());

    // Per issue: three writes in two seconds, five in thirty, across endpoints and
    // clients; reads are not writes, and other issues have their own windows.
    // (There is no issue 777: the limits count a write before Jira looks at it.)
    let comment = "/rest/api/3/issue/777/comment";
    let property = "/rest/api/3/issue/777/properties/k";
    let refused = |resp: reqwest::Response| {
        let status = resp.status().as_u16();
        assert!((400..429).contains(&status), "{status}");
    };
    refused(call("POST", "d@x", comment));
    refused(call("PUT", "d@x", property));
    refused(call("POST", "e@x", comment));
    refused(call("GET", "e@x", "/rest/api/3/issue/777"));
    let wait = retry_after(&call("POST", "f@x", comment));
    assert!((1..=2).contains(&wait), "{wait}");
    refused(call("POST", "g@x", "/rest/api/3/issue/778/comment"));
    std::thread::sleep(Duration::from_millis(2100));
    refused(call("POST", "h@x", comment));
    refused(call("PUT", "h@x", property));
    let wait = retry_after(&call("PUT", "i@x", property));
    assert!((26..=28).contains(&wait), "{wait}");

    let stats = double.stats();
    assert_eq!(stats.throttled_by_limits, 4, "{stats:?}");
    assert_eq!(stats.early_requests, 1, "{stats:?}");
    let log = double.requests();
    let refused: Vec<&RequestRecord> = log.iter().filter(|r| r.by_limits).collect();
    assert_eq!(refused.len(), 4);
    assert!(refused.iter().all(|r| r.status == 429 && !r.throttled));
    let writes_to_777 = log
        .iter()
        .filter(|r| r.issue.as_deref() == Some("777"))
        .count();
    assert_eq!(writes_to_777, 7, "reads name no issue: {log:#?}");
    assert!(
        log.iter()
            .any(|r| r.endpoint == "POST /rest/api/3/issue/{id}/comment" && r.method() == "POST")
    );
}

/// A generated backup checked, analysed against the double and loaded through a client
/// that keeps the same limits as the double.
#[test]
fn a_migration_under_the_limits_sends_nothing_early_and_is_hardly_ever_refused() {
    // Endpoints' windows short, to be quick; issues' small enough that the issues' writes
    // (fields, comments, worklogs, watchers, votes, history, ranks…) run into them.
    let limits = JiraLimits {
        get_post: RateWindow::new(60, Duration::from_millis(200)),
        put_delete: RateWindow::new(30, Duration::from_millis(200)),
        issue_writes: vec![
            RateWindow::new(3, Duration::from_secs(1)),
            RateWindow::new(6, Duration::from_secs(3)),
        ],
    };
    let double = limited(&limits);
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.zip");
    let spec = airlock_fixtures::Spec {
        users: 8,
        projects: 2,
        issues: 200,
        worklogs_per_issue: 1,
        teams: 0,
        ..airlock_fixtures::Spec::default()
    };
    airlock_fixtures::write_backup(&backup, &spec).unwrap();
    let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
    let checked = check(&backup, &staging, &[], &[], |_| {}).unwrap();
    assert_eq!(checked.report.fatal(), 0);
    let staged = checked.report.counts.clone();
    let mut target = JiraCloud::new(config(&double, &limits)).unwrap();
    let snapshot = target.snapshot().unwrap();
    let plan = analyze(
        &staging,
        &staged,
        &snapshot,
        &target.describe(),
        &Overrides::default(),
    )
    .unwrap();
    let mut state = airlock_engine::State::open(
        &dir.path().join("state.db"),
        ephemeral_protection().unwrap(),
    )
    .unwrap();
    let summary = load(
        &staging,
        &mut state,
        &mut target,
        &plan.decisions,
        &staged,
        |_| {},
    )
    .unwrap();
    assert!(
        summary.failed.is_empty(),
        "{:#?}",
        state.failures().unwrap()
    );
    for (kind, n) in &staged {
        let done = summary.written.get(kind).copied().unwrap_or(0)
            + summary.matched.get(kind).copied().unwrap_or(0)
            + summary.skipped.get(kind).copied().unwrap_or(0);
        assert_eq!(done, *n, "{kind}");
    }
    let stats = double.stats();
    assert_eq!(stats.early_requests, 0, "{stats:?}");
    assert!(
        stats.throttled_by_limits * 100 <= stats.requests,
        "more than 1% refused: {stats:?}"
    );
    // The issues' windows were busy: some issue had as many writes in a second as it may.
    let log = double.requests();
    let mut per_issue: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for r in log.iter().filter(|r| !r.by_limits) {
        if let Some(issue) = &r.issue {
            per_issue.entry(issue).or_default().push(r.at);
        }
    }
    let busiest = per_issue
        .values()
        .map(|times| {
            times
                .iter()
                .map(|t| {
                    times
                        .iter()
                        .filter(|u| **u >= *t && **u - *t < Duration::from_secs(1))
                        .count()
                })
                .max()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    assert_eq!(busiest, 3, "no issue reached its window: {per_issue:?}");
    let mut site = double.site();
    for kind in Kind::ALL {
        assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
    }
}

fn issue(n: usize, project: &str) -> Issue {
    Issue {
        id: format!("src-{n}"),
        project: project.to_owned(),
        number: n as u64 + 1,
        issue_type: "10000".into(),
        summary: format!("Issue {n}"),
        description: String::new(),
        priority: None,
        status: "10000".into(),
        resolution: None,
        reporter: None,
        assignee: None,
        created: 1_409_679_768_053,
        updated: 1_409_679_768_053,
        due: None,
        resolved: None,
        original_estimate: None,
        estimate: None,
        time_spent: None,
        security: None,
    }
}

/// One issue's comments come first in the batch, more than its window takes at once: the
/// other issues' comments go while it waits, and nothing is refused.
#[test]
fn an_issue_at_its_limit_does_not_hold_back_writes_to_other_issues() {
    let limits = JiraLimits {
        issue_writes: vec![RateWindow::new(3, Duration::from_secs(1))],
        ..JiraLimits::default()
    };
    let double = limited(&limits);
    let project = double.site().add_project("HOT", "Hot").unwrap();
    let mut target = JiraCloud::new(config(&double, &limits)).unwrap();
    let issues: Vec<String> = target
        .write(
            Kind::Issue,
            &(0..25)
                .map(|n| Record::Issue(issue(n, &project)))
                .collect::<Vec<_>>(),
        )
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let (hot, others) = issues.split_first().unwrap();
    let comment = |n: usize, issue: &str| {
        Record::Comment(Comment {
            id: format!("c-{n}"),
            issue: issue.to_owned(),
            author: None,
            body: format!("Comment {n}"),
            created: 1_409_679_768_053,
            updated: 1_409_679_768_053,
        })
    };
    let mut records: Vec<Record> = (0..8).map(|n| comment(n, hot)).collect();
    records.extend(others.iter().enumerate().map(|(n, i)| comment(100 + n, i)));
    let answers = target.write(Kind::Comment, &records).unwrap();
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");

    let log = double.requests();
    let comments: Vec<&RequestRecord> = log
        .iter()
        .filter(|r| r.endpoint == "POST /rest/api/3/issue/{id}/comment")
        .collect();
    assert_eq!(comments.len(), 8 + others.len(), "{comments:#?}");
    assert!(comments.iter().all(|r| r.status == 201), "{comments:#?}");
    let hot_times: Vec<Duration> = comments
        .iter()
        .filter(|r| r.issue.as_deref() == Some(hot.as_str()))
        .map(|r| r.at)
        .collect();
    let last_other = comments
        .iter()
        .filter(|r| r.issue.as_deref() != Some(hot.as_str()))
        .map(|r| r.at)
        .max()
        .unwrap();
    // The hot issue's fourth comment waited for its window; the others did not wait for it.
    assert!(
        hot_times[3] >= hot_times[0] + Duration::from_secs(1),
        "{hot_times:?}"
    );
    assert!(
        last_other < hot_times[3],
        "the other issues waited behind the hot one: last other at {last_other:?}, hot {hot_times:?}"
    );
    let stats = double.stats();
    assert_eq!(
        (stats.throttled_by_limits, stats.early_requests),
        (0, 0),
        "{stats:?}"
    );
}
