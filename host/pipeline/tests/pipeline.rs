//! The migration end to end, driven as the CLI, the demo and the benchmark drive it:
//! through `airlock_pipeline`, asserting on its events and its sealed JSON reports.

use std::collections::BTreeMap;
use std::path::Path;

use airlock_blobs::testing::TestS3;
use airlock_fixtures::Spec;
use airlock_model::Region;
use airlock_model::jira::{Kind, PreferenceValue};
use airlock_pipeline::{
    AppReport, Blocked, Config, EnabledApp, Event, Outcome, Phase, Storage, StorageOptions,
    TargetConfig, Until, VerifyRow, report,
};
use airlock_runtime::{Runtime, RuntimeConfig};
use airlock_site::{LocalSite, Site};
use airlock_store::testing::TestPostgres;

/// What a test keeps of the events (they are borrowed while the run goes on).
#[derive(Default)]
struct Seen {
    started: Vec<Phase>,
    finished: Vec<Phase>,
    blocked: Vec<Blocked>,
    apps: Vec<AppReport>,
    app_batches: u64,
    verified: Vec<VerifyRow>,
    sealed_after_apps: bool,
}

impl Seen {
    fn observe(&mut self, event: &Event<'_>) {
        match event {
            Event::PhaseStarted { phase } => self.started.push(*phase),
            Event::PhaseFinished { phase, .. } => self.finished.push(*phase),
            Event::Blocked { blocked } => self.blocked.push((*blocked).clone()),
            Event::AppBatch { .. } => self.app_batches += 1,
            Event::AppFinished { report } => self.apps.push((*report).clone()),
            Event::Verified { rows } => self.verified = rows.to_vec(),
            Event::ReportSealed => self.sealed_after_apps = !self.apps.is_empty(),
            _ => {}
        }
    }
}

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig::default()).expect("the runtime starts")
}

fn timesheet_builder(runtime: &Runtime) -> EnabledApp {
    EnabledApp::as_asked(
        runtime
            .load(
                "timesheet_builder",
                airlock_plugin_artifacts::timesheet_builder(),
            )
            .expect("the bundled plugin loads"),
    )
}

fn small(spec: Spec) -> Spec {
    Spec {
        issues: 300,
        users: 40,
        projects: 3,
        teams: 4,
        ..spec
    }
}

/// Where the migration keeps its data: the defaults (SQLite and a directory in the work
/// directory), or production's PostgreSQL and an S3 server over HTTPS.
struct Backend {
    options: StorageOptions,
    _servers: Option<(TestPostgres, TestS3)>,
}

impl Backend {
    fn local() -> Backend {
        Backend {
            options: StorageOptions::default(),
            _servers: None,
        }
    }

    /// `None` when PostgreSQL is down and not required (under CI or
    /// `AIRLOCK_REQUIRE_POSTGRES=1` a missing PostgreSQL fails instead).
    fn production(test: &str) -> Option<Backend> {
        let pg = TestPostgres::start_blocking(test)?;
        let s3 = TestS3::start("airlock-pipeline", &Region::ALL).expect("the S3 server starts");
        let options = StorageOptions {
            store: Some(pg.app_url().to_owned()),
            store_owner: Some(pg.owner_url().to_owned()),
            blobs: Some(format!("s3:{}", s3.endpoint())),
            s3_bucket_prefix: Some("airlock-pipeline".into()),
            s3_ca_pem: Some(s3.ca_pem().to_owned()),
            s3_credentials: Some(s3.credentials().clone()),
            ..StorageOptions::default()
        };
        Some(Backend {
            options,
            _servers: Some((pg, s3)),
        })
    }
}

fn config(dir: &Path, backup: &Path, backend: &Backend) -> Config {
    Config {
        target: TargetConfig::Local(dir.join("site.db")),
        storage: backend.options.clone(),
        ..Config::new(backup, dir.join("work"))
    }
}

fn run(dir: &Path, spec: Spec, until: Until) -> (Outcome, Seen) {
    run_on(&Backend::local(), dir, spec, until)
}

fn run_on(backend: &Backend, dir: &Path, spec: Spec, until: Until) -> (Outcome, Seen) {
    let backup = dir.join("backup.zip");
    airlock_fixtures::write_backup(&backup, &small(spec)).expect("the backup is written");
    let runtime = runtime();
    let mut seen = Seen::default();
    let mut observe = |e: &Event<'_>| seen.observe(e);
    let outcome = airlock_pipeline::run(
        config(dir, &backup, backend),
        vec![timesheet_builder(&runtime)],
        &mut observe,
        until,
    )
    .expect("the migration runs");
    (outcome, seen)
}

fn storage(dir: &Path) -> Storage {
    storage_on(&Backend::local(), dir)
}

fn storage_on(backend: &Backend, dir: &Path) -> Storage {
    Storage::open(&dir.join("work"), &backend.options).expect("the storage opens")
}

#[test]
fn a_clean_backup_migrates_core_and_app_data_with_every_phase_reported() {
    clean_migration(&Backend::local());
}

#[test]
fn a_clean_backup_migrates_core_and_app_data_on_postgres_and_s3() {
    if let Some(backend) = Backend::production("pipeline_clean_migration") {
        clean_migration(&backend);
    }
}

fn clean_migration(backend: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (outcome, seen) = run_on(backend, dir.path(), Spec::default(), Until::Migrate);
    assert!(outcome.succeeded(), "{outcome:?}");
    assert!(outcome.loaded && outcome.verified, "{outcome:?}");
    let all = [
        Phase::Check,
        Phase::Analyze,
        Phase::Load,
        Phase::Apps,
        Phase::Verify,
    ];
    assert_eq!(seen.started, all);
    assert_eq!(seen.finished, all);
    assert!(seen.blocked.is_empty());

    // The app data phase: one per enabled app, every batch reported, outputs stored.
    assert_eq!(seen.apps.len(), 1);
    let app = &seen.apps[0];
    assert_eq!(app.app, "com.actonic.jira.timesheet-builder");
    assert!(app.rows > 0 && app.outputs > 0, "{app:?}");
    assert_eq!(app.batches, seen.app_batches);
    assert!(app.failed.is_empty(), "{:?}", app.failed);
    assert_eq!(app.stored, app.outputs, "the target holds every output");
    assert!(
        !app.scopes.is_empty() && !app.namespaces.is_empty(),
        "the consent is reported: {app:?}"
    );

    // The verification: every kind's source count is on the target.
    assert!(seen.verified.iter().all(|r| r.ok), "{:?}", seen.verified);
    let issues = seen
        .verified
        .iter()
        .find(|r| r.kind == Kind::Issue)
        .unwrap();
    assert_eq!((issues.source, issues.target), (300, 300));
    let mut site = LocalSite::open(&dir.path().join("site.db")).unwrap();
    assert_eq!(site.counts().unwrap().get(&Kind::Issue), Some(&300));

    // The audit log lost nothing: one event per decryption and per phase this run made.
    let storage = storage_on(backend, dir.path());
    let log = storage.audit_log().unwrap();
    let count = |event: &str| log.iter().filter(|e| e.event == event).count() as u64;
    assert!(outcome.decryptions > 0);
    assert_eq!(
        count("batch-decrypted"),
        outcome.decryptions,
        "every decryption audited"
    );
    assert_eq!(count("phase-run"), 5, "every phase audited");
    assert_eq!(count("plugin-enabled"), 1, "the operator's consent audited");

    // The sealed reports hold what the events said, and the page was rendered after the
    // app data ran, so it shows it.
    assert!(seen.sealed_after_apps);
    let apps: Vec<AppReport> = report::read(&storage, "apps.json").expect("apps.json");
    assert_eq!(apps, seen.apps);
    let verified: Vec<VerifyRow> = report::read(&storage, "verify.json").expect("verify.json");
    assert_eq!(verified, seen.verified);
    let bundle = report::bundle(&storage);
    for name in ["integrity", "plan", "load", "apps", "verify"] {
        assert!(!bundle[name].is_null(), "{name} is in the JSON report");
    }
    let page = String::from_utf8(storage.get_report("report.html").unwrap().unwrap()).unwrap();
    assert!(
        page.contains("4. App data"),
        "the page shows the app data phase"
    );
    assert!(page.contains("every count matches"));
}

#[test]
fn fatal_findings_in_the_source_block_before_anything_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec {
        core_faults: true,
        ..Spec::default()
    };
    let (outcome, seen) = run(dir.path(), spec, Until::Migrate);
    assert!(matches!(outcome.blocked, Some(Blocked::Source { fatal }) if fatal > 0));
    assert!(!outcome.succeeded() && !outcome.loaded);
    assert_eq!(
        seen.started,
        [Phase::Check],
        "no phase runs after a blocked check"
    );
    assert_eq!(seen.blocked.len(), 1);
    assert!(
        !dir.path().join("site.db").exists(),
        "the target is not even opened"
    );
    let bundle = report::bundle(&storage(dir.path()));
    let fatal: Vec<&str> = bundle["integrity"]["findings"]
        .as_array()
        .expect("the findings, one summary per check")
        .iter()
        .filter(|s| s["severity"] == "fatal")
        .filter_map(|s| s["check"].as_str())
        .collect();
    assert!(fatal.contains(&"duplicate-key"), "{fatal:?}");
    assert!(bundle["plan"].is_null() && bundle["verify"].is_null());
}

#[test]
fn an_apps_broken_rows_block_and_an_analysis_shows_its_findings_with_the_sources() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec {
        broken_timesheet_rows: true,
        ..Spec::default()
    };
    // A member of a missing team breaks the enabled app's declared foreign key: the check
    // blocks, and the analysis (which writes nothing) still runs, so the operator sees the
    // app's own findings at the same time.
    let (outcome, seen) = run(dir.path(), spec, Until::Analyze);
    assert!(
        matches!(outcome.blocked, Some(Blocked::Source { .. })),
        "{outcome:?}"
    );
    assert_eq!(seen.started, [Phase::Check, Phase::Analyze]);
    assert!(
        seen.blocked
            .iter()
            .any(|b| matches!(b, Blocked::Plan { app_fatal, .. } if *app_fatal >= 3)),
        "{:?}",
        seen.blocked
    );
    let bundle = report::bundle(&storage(dir.path()));
    let app = &bundle["plan"]["apps"]["com.actonic.jira.timesheet-builder"];
    let fatal: Vec<&str> = app
        .as_array()
        .expect("the app's findings are in the plan")
        .iter()
        .filter(|s| s["severity"] == "fatal")
        .filter_map(|s| s["check"].as_str())
        .collect();
    for code in [
        "period-ends-before-start",
        "unknown-user",
        "member-of-missing-team",
    ] {
        assert!(fatal.contains(&code), "{code} missing: {fatal:?}");
    }
}

#[test]
fn a_check_alone_stops_after_the_check_and_a_rerun_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let (outcome, seen) = run(dir.path(), Spec::default(), Until::Check);
    assert!(outcome.succeeded() && !outcome.loaded, "{outcome:?}");
    assert_eq!(seen.started, [Phase::Check]);
    // The same backup again: its staged records are reused, not read again.
    let runtime = runtime();
    let mut reused = false;
    let mut observe = |e: &Event<'_>| reused |= matches!(e, Event::CheckReused);
    let backup = dir.path().join("backup.zip");
    let outcome = airlock_pipeline::run(
        config(dir.path(), &backup, &Backend::local()),
        vec![timesheet_builder(&runtime)],
        &mut observe,
        Until::Analyze,
    )
    .unwrap();
    assert!(outcome.succeeded(), "{outcome:?}");
    assert!(reused, "the check's staged records are reused");
}

#[test]
fn the_operator_consents_to_a_subset_and_nothing_it_was_not_asked() {
    let runtime = runtime();
    let load = || {
        runtime
            .load(
                "timesheet_builder",
                airlock_plugin_artifacts::timesheet_builder(),
            )
            .unwrap()
    };
    let app = EnabledApp::with_consent(load(), &["app-data-ugc", "identity:user"]).unwrap();
    assert_eq!(
        app.grant
            .scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        ["app-data-ugc"]
    );
    assert_eq!(
        app.grant
            .namespaces
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>(),
        ["identity:user"]
    );
    // Atlassian's spelling is read too; the answer is in the WIT's.
    let Err(refused) = EnabledApp::with_consent(load(), &["APP_DATA_SECURITY"]) else {
        panic!("a scope the plugin does not ask for is granted");
    };
    let message = refused.to_string();
    assert!(
        message.contains("does not ask for \"APP_DATA_SECURITY\"")
            && message.contains("app-data-ugc"),
        "{message}"
    );

    // A scope the manifest declares but the operator withholds: the plugin does not run,
    // and the error names what is missing.
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.zip");
    airlock_fixtures::write_backup(&backup, &small(Spec::default())).unwrap();
    let error = airlock_pipeline::run(
        config(dir.path(), &backup, &Backend::local()),
        vec![app],
        &mut airlock_pipeline::Quiet,
        Until::Analyze,
    )
    .expect_err("a plugin without its scopes does not run");
    assert!(
        format!("{error:#}").contains("not consented to data scopes app-data-pii"),
        "{error:#}"
    );

    // Every scope, but jira:issue and jira:worklog withheld: the batches that resolve
    // them fail, named, instead of reading ids they were not given.
    let scopes = [
        "app-data-ugc",
        "app-data-pii",
        "product-data-other",
        "MIGRATION_TRACING_IDENTITY",
        "identity:user",
    ];
    let app = EnabledApp::with_consent(load(), &scopes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.zip");
    airlock_fixtures::write_backup(&backup, &small(Spec::default())).unwrap();
    let outcome = airlock_pipeline::run(
        config(dir.path(), &backup, &Backend::local()),
        vec![app],
        &mut airlock_pipeline::Quiet,
        Until::Analyze,
    )
    .unwrap();
    let plan = report::bundle(&storage(dir.path()));
    let findings = plan["plan"]["apps"]["com.actonic.jira.timesheet-builder"].to_string();
    assert!(
        findings.contains("plugin-") && findings.contains("jira:"),
        "an ungranted namespace fails its batches, named: {findings}"
    );
    assert!(outcome.blocked.is_some(), "{outcome:?}");
}

/// Generates the small default backup in `dir` and migrates it (no app) to the end.
fn migrate_small(dir: &Path) -> (Spec, airlock_fixtures::Generated) {
    let spec = small(Spec::default());
    let backup = dir.join("backup.zip");
    let generated = airlock_fixtures::write_backup(&backup, &spec).unwrap();
    let outcome = migrate_with(dir, &backup, &serde_json::json!({}));
    assert!(outcome.succeeded(), "{outcome:?}");
    (spec, generated)
}

/// Runs the migration of `backup` (no app) with an override file, to the end.
fn migrate_with(dir: &Path, backup: &Path, overrides: &serde_json::Value) -> Outcome {
    let path = dir.join("overrides.json");
    std::fs::write(&path, overrides.to_string()).unwrap();
    let config = Config {
        overrides: Some(path),
        ..config(dir, backup, &Backend::local())
    };
    airlock_pipeline::run(
        config,
        Vec::new(),
        &mut airlock_pipeline::Quiet,
        Until::Migrate,
    )
    .expect("the migration runs")
}

/// Rows the target refuses for their own values (`Spec::unwritable`) on the realistic
/// backup: the plan predicts every one before the load (no surprise: each failure in the
/// state has its predicted row in plan.json), they do not block, the report and the state
/// name them with a code and the override that fixes them; after the operator answers
/// them (a new value for one, skip for the other), a rerun writes the fixed one exactly
/// once, counts the skipped one, and succeeds; a third run retries nothing.
#[test]
fn unwritable_rows_are_predicted_listed_and_retried_once_after_the_override_fixes_them() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let spec = small(Spec {
        realistic: true,
        unwritable: true,
        ..Spec::default()
    });
    let backup = dir.join("backup.zip");
    let generated = airlock_fixtures::write_backup(&backup, &spec).unwrap();
    let planted: Vec<(Kind, String)> = generated
        .planted_unwritable
        .iter()
        .map(|p| {
            let kind = Kind::ALL
                .into_iter()
                .find(|k| k.entity() == p.entity)
                .unwrap();
            (kind, p.id.clone())
        })
        .collect();
    assert_eq!(planted.len(), 3);
    // sysadmin@localhost needs an account on the target (as the realistic test does).
    let account = LocalSite::open(&dir.join("site.db"))
        .unwrap()
        .add_user(Some("ops@example.com"), "Ops")
        .unwrap();
    let users = serde_json::json!({ airlock_fixtures::sysadmin_key(spec.flavour): account });

    let outcome = migrate_with(dir, &backup, &serde_json::json!({ "users": users }));
    assert!(outcome.blocked.is_none(), "predicted refusals do not block");
    assert!(outcome.loaded);
    assert_eq!(outcome.failed_rows, 3, "{outcome:?}");
    assert!(!outcome.succeeded());

    let opened = storage(dir);
    let plan: airlock_engine::Plan = report::read(&opened, "plan.json").unwrap();
    let predicted: Vec<(Kind, String)> =
        plan.refused().map(|r| (r.kind, r.source.clone())).collect();
    let state = report::open_state(&dir.join("work"), &opened).unwrap();
    let failures = state.failures().unwrap();
    assert_eq!(failures.len(), 3);
    // No surprise at load: every refused row was predicted, with the same code.
    for f in &failures {
        let row = plan
            .refused()
            .find(|r| r.kind == f.kind && r.source == f.source_key)
            .unwrap_or_else(|| panic!("{f:?} was not predicted: {:?}", plan.rows));
        assert_eq!(row.code, f.code);
        assert!(row.reason.contains("\"rows\""), "{}", row.reason);
    }
    let mut failed: Vec<(Kind, String)> = failures
        .iter()
        .map(|f| (f.kind, f.source_key.clone()))
        .collect();
    failed.sort();
    let mut expected = planted.clone();
    expected.sort();
    assert_eq!(failed, expected);
    assert_eq!(predicted.len(), 3, "{:?}", plan.rows);

    // The report names them: kind, id, code and the override that fixes them.
    let bundle = report::bundle(&opened);
    let listed = bundle["failures"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    for (kind, id) in &planted {
        let row = listed
            .iter()
            .find(|r| r["kind"] == kind.name() && r["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{kind:?} {id} not in {listed:?}"));
        let code = if *kind == Kind::Filter {
            "missing-reference"
        } else {
            "invalid-value"
        };
        assert_eq!(row["code"], code);
        let reason = row["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("\"{}\": {{\"{id}\"", kind.name())),
            "{reason}"
        );
    }
    drop(state);
    drop(opened);

    let label_id = &planted.iter().find(|(k, _)| *k == Kind::Label).unwrap().1;
    let worklog_id = &planted.iter().find(|(k, _)| *k == Kind::Worklog).unwrap().1;
    let filter_id = &planted.iter().find(|(k, _)| *k == Kind::Filter).unwrap().1;
    let site_counts = |dir: &Path| {
        LocalSite::open(&dir.join("site.db"))
            .unwrap()
            .counts()
            .unwrap()
    };
    let before = site_counts(dir);

    // The operator answers them: a label without a space, the worklog skipped, and the
    // filter's query given again as the source would name things.
    let overrides = serde_json::json!({
        "users": users,
        "rows": {
            "label": { label_id.as_str(): { "label": airlock_fixtures::UNWRITABLE_LABEL_FIX } },
            "worklog": { worklog_id.as_str(): "skip" },
            "filter": { filter_id.as_str(): { "jql": airlock_fixtures::unwritable_query_fix() } },
        }
    });
    let outcome = migrate_with(dir, &backup, &overrides);
    assert_eq!(outcome.failed_rows, 0, "{outcome:?}");
    assert!(outcome.succeeded(), "{outcome:?}");
    let after = site_counts(dir);
    assert_eq!(
        after[&Kind::Label],
        before[&Kind::Label] + 1,
        "written once"
    );
    assert_eq!(after[&Kind::Worklog], before[&Kind::Worklog], "skipped");
    assert_eq!(
        after[&Kind::Filter],
        before[&Kind::Filter] + 1,
        "written once"
    );
    let mut site = LocalSite::open(&dir.join("site.db")).unwrap();
    let fixed = site.read_filters().unwrap();
    let fixed = fixed
        .iter()
        .find(|f| f.source_key.as_deref() == Some(filter_id.as_str()));
    let project = site.find_written(Kind::Project, &["10000".into()]).unwrap()[0].clone();
    let open = site.find_written(Kind::Status, &["1".into()]).unwrap()[0].clone();
    assert_eq!(
        fixed.map(|f| f.jql.as_str()),
        Some(
            format!(
                "project = {} AND status = {}",
                project.unwrap(),
                open.unwrap()
            )
            .as_str()
        ),
        "the answered query, rewritten like any other"
    );
    assert!(
        site.find_written(Kind::Label, std::slice::from_ref(label_id))
            .unwrap()[0]
            .is_some()
    );
    drop(site);
    let opened = storage(dir);
    let load: airlock_engine::LoadSummary = report::read(&opened, "load.json").unwrap();
    assert_eq!(load.retried.values().sum::<u64>(), 3, "{load:?}");
    assert_eq!(load.skipped_by_override.get(&Kind::Worklog), Some(&1));
    let plan: airlock_engine::Plan = report::read(&opened, "plan.json").unwrap();
    assert_eq!(plan.refused().count(), 0, "{:?}", plan.rows);
    let verify: Vec<VerifyRow> = report::read(&opened, "verify.json").unwrap();
    let worklogs = verify.iter().find(|r| r.kind == Kind::Worklog).unwrap();
    assert!(worklogs.ok && worklogs.skipped >= 2, "{worklogs:?}");
    drop(opened);

    // Nothing left to retry: a third run writes nothing more.
    let outcome = migrate_with(dir, &backup, &overrides);
    assert!(outcome.succeeded(), "{outcome:?}");
    assert_eq!(site_counts(dir), after);
    let load: airlock_engine::LoadSummary = report::read(&storage(dir), "load.json").unwrap();
    assert!(load.retried.is_empty(), "{load:?}");
}

/// The two contract 2.0 test plugins (plugins/v2), as given, loaded from their builds.
fn v2_app(runtime: &Runtime, path: &str) -> EnabledApp {
    EnabledApp::as_asked(
        runtime
            .load_file(Path::new(path))
            .expect("the 2.0 test plugin loads"),
    )
}

fn run_apps(dir: &Path, apps: Vec<EnabledApp>, until: Until) -> (Outcome, Seen) {
    let backup = dir.join("backup.zip");
    if !backup.exists() {
        airlock_fixtures::write_backup(&backup, &small(Spec::default())).unwrap();
    }
    let mut seen = Seen::default();
    let mut observe = |e: &Event<'_>| seen.observe(e);
    let outcome = airlock_pipeline::run(
        config(dir, &backup, &Backend::local()),
        apps,
        &mut observe,
        until,
    )
    .expect("the migration runs");
    (outcome, seen)
}

#[test]
fn a_1_0_and_two_2_0_plugins_migrate_together_and_one_resolves_the_teams_another_published() {
    use airlock_plugin_artifacts::{TEAM_BADGES, TEAM_DIRECTORY};
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    // Enabled with the consumer before its publisher: the host runs the publisher first.
    let apps = vec![
        timesheet_builder(&runtime),
        v2_app(&runtime, TEAM_BADGES),
        v2_app(&runtime, TEAM_DIRECTORY),
    ];
    let (outcome, seen) = run_apps(dir.path(), apps, Until::Migrate);
    // Nothing blocked: the badges' analysis resolved every team the directory's analysis
    // published (an unresolved team is a fatal `badge-of-unknown-team`).
    assert!(outcome.succeeded(), "{outcome:?}");
    assert!(seen.blocked.is_empty(), "{:?}", seen.blocked);
    let order: Vec<&str> = seen.apps.iter().map(|a| a.app.as_str()).collect();
    assert_eq!(
        order,
        [
            "com.actonic.jira.timesheet-builder",
            "com.acme.teams",
            "com.acme.badges"
        ]
    );
    let teams = small(Spec::default()).teams;
    let (tb, directory, badges) = (&seen.apps[0], &seen.apps[1], &seen.apps[2]);
    assert!(tb.ok() && tb.outputs > 0, "{tb:?}");
    assert!(tb.finish_findings.is_empty(), "1.0 has no finish");
    assert!(directory.ok(), "{directory:?}");
    assert_eq!(
        directory.published.get("app:com.acme.teams:team"),
        Some(&(teams as u64))
    );
    assert_eq!(directory.outputs, teams as u64);
    let codes: Vec<&str> = (directory.finish_findings.iter())
        .map(|f| f.code.as_str())
        .collect();
    assert_eq!(codes, ["teams-published"]);
    assert!(badges.ok(), "{badges:?}");
    let badge_count = (teams * airlock_fixtures::BADGES_PER_TEAM) as u64;
    assert_eq!(
        (badges.rows, badges.outputs, badges.stored),
        (badge_count, badge_count, badge_count)
    );
    assert_eq!(badges.finish_findings[0].code, "badges-seen");

    // On the site: each badge names its team by the id the directory published, and the
    // issue it was won on by its cloud id (the optional jira:issue was granted).
    let mut site = LocalSite::open(&dir.path().join("site.db")).unwrap();
    let docs = site
        .app_documents(&airlock_model::AppKey::new("com.acme.badges"), "badges")
        .unwrap();
    assert_eq!(docs.len() as u64, badge_count);
    let issue_ids: Vec<String> = site.source_keys(Kind::Issue).unwrap();
    assert!(!issue_ids.is_empty());
    for (id, body) in &docs {
        let badge: u64 = id.rsplit('-').next().unwrap().parse().unwrap();
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        let team = badge.div_ceil(airlock_fixtures::BADGES_PER_TEAM as u64);
        assert_eq!(body["team"], format!("team-{team}"), "{id}: {body}");
        assert!(body["issue"].is_string(), "{id}: {body}");
    }
    let team_docs = site
        .app_documents(&airlock_model::AppKey::new("com.acme.teams"), "teams")
        .unwrap();
    assert_eq!(team_docs.len(), teams);
    for (id, body) in &team_docs {
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            body["members"].as_array().map(Vec::len),
            Some(airlock_fixtures::DIRECTORY_MEMBERS_PER_TEAM),
            "members found by app-data.find: {id}: {body}"
        );
    }
    // The published mappings are the migration's, sealed in its state like the core's.
    let apps_report = report::bundle(&storage(dir.path()));
    assert_eq!(
        apps_report["apps"][1]["published"]["app:com.acme.teams:team"],
        teams as u64
    );
}

/// Issue 16: permission schemes with every grant, notification schemes with every entry,
/// project categories and projects' former keys arrive on the local site, verified kind by kind and read back field by field:
/// Jira's default scheme as "Default Permission Scheme (migrated)" beside the site's own,
/// each grant's holder in Cloud's terms and the site's ids (roles by name, users by key),
/// each scheme and category with the site's ids of its projects.
#[test]
fn permission_schemes_categories_and_former_keys_arrive_as_the_source_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _) = migrate_small(dir.path());

    assert_verified(
        dir.path(),
        &[
            Kind::PermissionScheme,
            Kind::SchemePermission,
            Kind::NotificationScheme,
            Kind::Notification,
            Kind::ProjectCategory,
            Kind::ProjectKey,
            Kind::ProjectScheme,
        ],
    );
    let site_db = dir.path().join("site.db");
    let project = |id: i64| written_id(&site_db, Kind::Project, &id.to_string());
    let mut site = LocalSite::open(&site_db).unwrap();
    let snapshot = site.snapshot().unwrap();
    let role_name = |id: &str| {
        (snapshot.roles.iter())
            .find(|r| r.id == id)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| panic!("role {id} is the site's"))
    };

    let schemes = site.read_permission_schemes().unwrap();
    let sources = airlock_fixtures::source_permission_schemes(&spec);
    assert_eq!(
        schemes.len(),
        sources.len() + 1,
        "the site's own default beside them"
    );
    let (mut holders, mut grants) = (std::collections::BTreeSet::new(), 0);
    for source in &sources {
        let scheme = (schemes.iter())
            .find(|s| s.source_key.as_deref() == Some(source.id.to_string().as_str()))
            .unwrap_or_else(|| panic!("scheme {} is on the site", source.id));
        let name = if source.id == 0 {
            format!("{} (migrated)", source.name)
        } else {
            source.name.clone()
        };
        assert_eq!(
            (&scheme.name, &scheme.description),
            (&name, &source.description)
        );
        let projects: Vec<String> = source.projects.iter().map(|&p| project(p)).collect();
        let mut site_projects = scheme.projects.clone();
        site_projects.sort();
        let mut expected_projects = projects.clone();
        expected_projects.sort();
        assert_eq!(site_projects, expected_projects, "{name}");
        // Each grant in Cloud's terms: the holder type Cloud names, the parameter in the
        // site's ids (a role by its name here, a user by its key).
        let mut expected: Vec<(String, String, Option<String>)> = source
            .grants
            .iter()
            .map(|g| {
                let (holder, parameter) = cloud_holder(&g.holder_type, g.parameter.clone());
                (g.permission.clone(), holder.to_owned(), parameter)
            })
            .collect();
        expected.sort();
        let mut read: Vec<(String, String, Option<String>)> = scheme
            .grants
            .iter()
            .map(|g| {
                let parameter = match g.holder_type.as_str() {
                    "projectRole" => g.parameter.as_deref().map(role_name),
                    "group" => g.parameter.as_ref().map(|p| p.to_lowercase()),
                    _ => g.parameter.clone(),
                };
                (g.permission.clone(), g.holder_type.clone(), parameter)
            })
            .collect();
        read.sort();
        assert_eq!(read, expected, "{name}");
        holders.extend(read.iter().map(|g| g.1.clone()));
        grants += read.len();
    }
    assert!(grants > 30 && holders.len() >= 7, "{holders:?}");

    // Notification schemes: Jira's default beside the site's own, each entry in Cloud's
    // terms.
    let schemes = site.read_notification_schemes().unwrap();
    let sources = airlock_fixtures::source_notification_schemes(&spec);
    assert_eq!(
        schemes.len(),
        sources.len() + 1,
        "the site's own default beside them"
    );
    let mut recipients = std::collections::BTreeSet::new();
    for source in &sources {
        let scheme = (schemes.iter())
            .find(|s| s.source_key.as_deref() == Some(source.id.to_string().as_str()))
            .unwrap_or_else(|| panic!("notification scheme {} is on the site", source.id));
        let name = if source.id == 10000 {
            format!("{} (migrated)", source.name)
        } else {
            source.name.clone()
        };
        assert_eq!(
            (&scheme.name, &scheme.description),
            (&name, &source.description)
        );
        let mut expected_projects: Vec<String> =
            source.projects.iter().map(|&p| project(p)).collect();
        expected_projects.sort();
        let mut site_projects = scheme.projects.clone();
        site_projects.sort();
        assert_eq!(site_projects, expected_projects, "{name}");
        let mut expected: Vec<(i64, String, Option<String>)> = source
            .notifications
            .iter()
            .map(|n| {
                let p = n.parameter.clone();
                let (recipient, parameter) = match (n.recipient_type.as_str(), p) {
                    ("Current_Assignee", None) => ("CurrentAssignee", None),
                    ("Current_Reporter", None) => ("Reporter", None),
                    ("Current_User", None) => ("CurrentUser", None),
                    ("Project_Lead", None) => ("ProjectLead", None),
                    ("Component_Lead", None) => ("ComponentLead", None),
                    ("All_Watchers", None) => ("AllWatchers", None),
                    ("Single_User", Some(u)) => ("User", Some(format!("user:{u}"))),
                    ("Group_Dropdown", Some(g)) => ("Group", Some(g.to_lowercase())),
                    ("Project_Role", Some(r)) => (
                        "ProjectRole",
                        Some(airlock_fixtures::source_role_name(&r).unwrap().to_owned()),
                    ),
                    ("Single_Email_Address", Some(e)) => ("EmailAddress", Some(e)),
                    other => panic!("an entry the fixtures do not write: {other:?}"),
                };
                (n.event, recipient.to_owned(), parameter)
            })
            .collect();
        expected.sort();
        let mut read: Vec<(i64, String, Option<String>)> = scheme
            .notifications
            .iter()
            .map(|n| {
                let parameter = match n.recipient_type.as_str() {
                    "ProjectRole" => n.parameter.as_deref().map(role_name),
                    "Group" => n.parameter.as_ref().map(|p| p.to_lowercase()),
                    _ => n.parameter.clone(),
                };
                (n.event, n.recipient_type.clone(), parameter)
            })
            .collect();
        read.sort();
        assert_eq!(read, expected, "{name}");
        recipients.extend(read.iter().map(|n| n.1.clone()));
    }
    assert!(recipients.len() >= 8, "{recipients:?}");

    let categories = site.read_project_categories().unwrap();
    let sources = airlock_fixtures::source_project_categories(&spec);
    assert_eq!(categories.len(), sources.len());
    for source in &sources {
        let category = (categories.iter())
            .find(|c| c.source_key.as_deref() == Some(source.id.to_string().as_str()))
            .unwrap_or_else(|| panic!("category {} is on the site", source.id));
        assert_eq!(
            (&category.name, &category.description),
            (&source.name, &source.description)
        );
        let mut expected: Vec<String> = source.projects.iter().map(|&p| project(p)).collect();
        expected.sort();
        let mut read = category.projects.clone();
        read.sort();
        assert_eq!(read, expected, "{}", source.name);
    }

    // Former keys, each the site's project's; a project's own key is its record's.
    let mut expected: Vec<(String, String)> = airlock_fixtures::source_project_keys(&spec)
        .into_iter()
        .filter(|k| !k.current)
        .map(|k| (project(k.project), k.key))
        .collect();
    expected.sort();
    let mut read: Vec<(String, String)> = site
        .read_project_keys()
        .unwrap()
        .into_iter()
        .map(|k| (k.project, k.key))
        .collect();
    read.sort();
    assert!(!expected.is_empty());
    assert_eq!(read, expected);
}

/// A grant's or level member's holder as the source writes it (`type`, `parameter`), in
/// Cloud's terms as the site reads it back: groups in lower case, users by key, roles by
/// name.
fn cloud_holder(holder_type: &str, parameter: Option<String>) -> (&'static str, Option<String>) {
    match (holder_type, parameter.filter(|p| !p.is_empty())) {
        ("group", None) => ("anyone", None),
        ("group", Some(p)) => ("group", Some(p.to_lowercase())),
        ("user", Some(p)) => ("user", Some(format!("user:{p}"))),
        ("projectrole", Some(p)) => (
            "projectRole",
            Some(airlock_fixtures::source_role_name(&p).unwrap().to_owned()),
        ),
        ("applicationRole", p) => ("applicationRole", p),
        ("reporter", None) => ("reporter", None),
        ("lead", None) => ("projectLead", None),
        ("assignee", None) => ("assignee", None),
        other => panic!("a holder the fixtures do not write: {other:?}"),
    }
}

/// Each kind verified: on the target as in the source (none failed), and some of it.
fn assert_verified(dir: &Path, kinds: &[Kind]) {
    let verified: Vec<VerifyRow> = report::read(&storage(dir), "verify.json").unwrap();
    for kind in kinds {
        let row = verified.iter().find(|r| r.kind == *kind);
        assert!(
            row.is_some_and(|r| r.ok && r.source > 0 && r.failed == 0),
            "{kind}: {row:?}"
        );
    }
}

/// The site's id of the source's issue type `id`: the site had Bug, Story… already, so
/// they are found by name, not written.
fn site_issue_type(snapshot: &airlock_site::Snapshot, id: &str) -> String {
    let name = airlock_fixtures::source_issue_type_name(id).unwrap();
    (snapshot.issue_types.iter())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name}"))
        .id
        .clone()
}

/// Asserts that `scheme` is the source's: its name and description; each issue type it
/// maps (`default`, or the site's id of the source's) with what `target` makes of what it
/// is mapped to, the default first then by issue type id; and the site's ids of the
/// projects using it, in order.
fn assert_scheme<T>(
    site_db: &Path,
    snapshot: &airlock_site::Snapshot,
    scheme: &airlock_site::SchemeMapReadBack,
    (name, description): (&str, &str),
    mappings: &[(Option<String>, T)],
    projects: &[String],
    target: impl Fn(&T) -> String,
) {
    let mut expected: Vec<(String, String)> = (mappings.iter())
        .map(|(t, m)| {
            let t = t
                .as_deref()
                .map_or("default".to_owned(), |t| site_issue_type(snapshot, t));
            (t, target(m))
        })
        .collect();
    expected.sort_by_key(|(t, _)| t.parse::<u64>().ok());
    let mut projects: Vec<String> = (projects.iter())
        .map(|p| written_id(site_db, Kind::Project, p))
        .collect();
    projects.sort_by_key(|p| p.parse::<u64>().ok());
    assert_eq!(
        (
            scheme.name.as_str(),
            scheme.description.as_str(),
            &scheme.entries,
            &scheme.projects
        ),
        (name, description, &expected, &projects)
    );
}

/// The site's id of the record written from `id`, looked up by source key.
fn written_id(site_db: &Path, kind: Kind, id: &str) -> String {
    LocalSite::open(site_db)
        .unwrap()
        .find_written(kind, &[id.to_owned()])
        .unwrap()
        .pop()
        .flatten()
        .unwrap_or_else(|| panic!("{kind} {id} is on the site"))
}

/// Issue 16, custom fields' contexts: each field's global context takes over the one the
/// site gave the field (named, described and narrowed to issue types as the source's), a
/// project context arrives apart with the site's ids of its projects, and each option in
/// the context that offers it — verified kind by kind, read back field by field.
#[test]
fn custom_field_contexts_arrive_with_their_projects_issue_types_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _) = migrate_small(dir.path());

    assert_verified(dir.path(), &[Kind::FieldContext, Kind::CustomFieldOption]);
    let site_db = dir.path().join("site.db");
    let written = |kind: Kind, id: i64| written_id(&site_db, kind, &id.to_string());
    let mut site = LocalSite::open(&site_db).unwrap();
    let snapshot = site.snapshot().unwrap();
    let contexts = site.read_field_contexts().unwrap();
    let sources = airlock_fixtures::source_field_contexts(&spec);
    assert!(
        sources.iter().any(|c| !c.projects.is_empty()),
        "a project context"
    );
    assert!(
        sources.iter().any(|c| !c.issue_types.is_empty()),
        "issue types"
    );
    for source in &sources {
        let context = (contexts.iter())
            .find(|c| c.source_key.as_deref() == Some(source.id.to_string().as_str()))
            .unwrap_or_else(|| panic!("context {} is on the site", source.id));
        assert_eq!(context.field, written(Kind::CustomField, source.field));
        assert_eq!(
            (&context.name, &context.description, context.global),
            (
                &source.name,
                &source.description,
                source.projects.is_empty()
            ),
            "{}",
            source.name
        );
        let mut projects: Vec<String> = (source.projects.iter())
            .map(|&p| written(Kind::Project, p))
            .collect();
        projects.sort();
        assert_eq!(context.projects, projects, "{}", source.name);
        // Bug and Story are the site's own: found by name.
        let mut types: Vec<String> = (source.issue_types.iter())
            .map(|t| site_issue_type(&snapshot, t))
            .collect();
        types.sort();
        assert_eq!(context.issue_types, types, "{}", source.name);
        let options: Vec<(String, Option<String>, bool)> = (context.options.iter())
            .map(|o| (o.value.clone(), o.parent.clone(), o.disabled))
            .collect();
        let expected: Vec<(String, Option<String>, bool)> = (source.options.iter())
            .map(|o| {
                let parent = o.parent.map(|p| written(Kind::CustomFieldOption, p));
                (o.value.clone(), parent, o.disabled)
            })
            .collect();
        assert_eq!(options, expected, "{}", source.name);
        for (option, source) in context.options.iter().zip(&source.options) {
            assert_eq!(
                option.source_key.as_deref(),
                Some(source.id.to_string().as_str())
            );
        }
    }
    // The site's own context of each field was taken over, not kept beside the source's.
    assert!(
        contexts.iter().all(|c| c.source_key.is_some()),
        "{contexts:#?}"
    );
}

/// Issue 16, who sees issues at each security level: every level's members arrive on the
/// local site, verified kind by kind and read back in Cloud's terms (a group by its name,
/// a user by key, a role by name, reporter, assignee, project lead, application access).
#[test]
fn security_level_members_arrive_in_clouds_terms() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _) = migrate_small(dir.path());
    assert_verified(dir.path(), &[Kind::SecurityLevelMember]);
    let site_db = dir.path().join("site.db");
    let mut site = LocalSite::open(&site_db).unwrap();
    let snapshot = site.snapshot().unwrap();
    let role_name = |id: &str| {
        (snapshot.roles.iter())
            .find(|r| r.id == id)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| panic!("role {id} is the site's"))
    };
    let mut members: Vec<(String, String, Option<String>)> = site
        .read_level_members()
        .unwrap()
        .into_iter()
        .map(|m| {
            let parameter = match m.holder_type.as_str() {
                "projectRole" => m.parameter.as_deref().map(role_name),
                _ => m.parameter,
            };
            (m.level, m.holder_type, parameter)
        })
        .collect();
    members.sort();
    let mut expected: Vec<(String, String, Option<String>)> =
        airlock_fixtures::source_level_members(&spec)
            .into_iter()
            .map(|m| {
                let level = written_id(&site_db, Kind::SecurityLevel, &m.level.to_string());
                let (holder, parameter) = cloud_holder(&m.holder_type, m.parameter);
                (level, holder.to_owned(), parameter)
            })
            .collect();
    expected.sort();
    // Group names as the site spells them: compared without case.
    let lower =
        |v: Vec<(String, String, Option<String>)>| -> Vec<(String, String, Option<String>)> {
            v.into_iter()
                .map(|(l, t, p)| {
                    let p = if t == "group" {
                        p.map(|p| p.to_lowercase())
                    } else {
                        p
                    };
                    (l, t, p)
                })
                .collect()
        };
    assert_eq!(lower(members), lower(expected));
}

/// Issue 16, remote issue links (Confluence pages, web pages): every issue's links arrive
/// on its migrated issue, verified and read back field by field.
#[test]
fn remote_links_arrive_on_their_issues() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, generated) = migrate_small(dir.path());
    assert_verified(dir.path(), &[Kind::RemoteLink]);
    let site_db = dir.path().join("site.db");
    let mut site = LocalSite::open(&site_db).unwrap();
    let links = site.read_remote_links().unwrap();
    let mut expected = Vec::new();
    for index in 0..generated.issue_keys.len() {
        let source = airlock_fixtures::source_remote_links(&spec, index);
        if source.is_empty() {
            continue;
        }
        let issue = written_id(&site_db, Kind::Issue, &(10_000 + index).to_string());
        for l in source {
            expected.push((
                issue.clone(),
                Some(l.id.to_string()),
                l.global_id,
                l.title,
                l.url,
                l.summary,
                (l.icon_url, l.icon_title),
                l.relationship,
                (l.application_type, l.application_name),
            ));
        }
    }
    let mut read: Vec<_> = links
        .into_iter()
        .map(|l| {
            (
                l.issue,
                l.source_key,
                l.global_id,
                l.title,
                l.url,
                l.summary,
                (l.icon_url, l.icon_title),
                l.relationship,
                (l.application_type, l.application_name),
            )
        })
        .collect();
    read.sort();
    expected.sort();
    assert!(expected.len() > 1, "{expected:?}");
    assert_eq!(read, expected);
}

/// Issue 16, screens: every screen with its tabs and their fields in order (custom fields
/// as the site's), each screen scheme with its screen per operation, each issue type
/// screen scheme with its screen scheme per issue type and the projects using it — on
/// the local site, verified kind by kind, read back field by field. The site's own
/// default screens and schemes stay as they are; the source's of the same name arrive
/// beside them as `<name> (migrated)`.
#[test]
fn screens_and_screen_schemes_arrive_as_the_source_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _) = migrate_small(dir.path());
    assert_verified(
        dir.path(),
        &[
            Kind::Screen,
            Kind::ScreenTab,
            Kind::ScreenField,
            Kind::ScreenScheme,
            Kind::IssueTypeScreenScheme,
        ],
    );
    let site_db = dir.path().join("site.db");
    let written = |kind: Kind, id: &str| written_id(&site_db, kind, id);
    let mut site = LocalSite::open(&site_db).unwrap();
    let snapshot = site.snapshot().unwrap();
    let site_defaults = [
        "Default Screen",
        "Resolve Issue Screen",
        "Workflow Screen",
        "Default Screen Scheme",
        "Default Issue Type Screen Scheme",
    ];
    let name = |n: &str| {
        if site_defaults.contains(&n) {
            format!("{n} (migrated)")
        } else {
            n.to_owned()
        }
    };
    let key = |id: &String| Some(id.clone());

    let screens = site.read_screens().unwrap();
    let sources = airlock_fixtures::source_screens(&spec);
    assert!(sources.len() > 3 && sources.iter().any(|s| s.tabs.len() > 1));
    let mut customs = 0;
    for source in &sources {
        let screen = (screens.iter())
            .find(|s| s.source_key == key(&source.id))
            .unwrap_or_else(|| panic!("screen {} is on the site", source.id));
        assert_eq!(
            (&screen.name, &screen.description),
            (&name(&source.name), &source.description)
        );
        let tabs: Vec<_> = (screen.tabs.iter())
            .map(|t| (t.source_key.clone(), t.name.clone(), t.fields.clone()))
            .collect();
        let expected: Vec<_> = (source.tabs.iter())
            .map(|t| {
                let fields = (t.fields.iter())
                    .map(|f| match f.strip_prefix("customfield_") {
                        Some(id) => {
                            customs += 1;
                            written(Kind::CustomField, id)
                        }
                        None => f.clone(),
                    })
                    .collect();
                (key(&t.id), t.name.clone(), fields)
            })
            .collect();
        assert_eq!(tabs, expected, "{}", source.name);
    }
    assert!(customs > 0, "custom fields on screens");
    // The site's own defaults are still there, untouched.
    for default in &site_defaults[..3] {
        assert!(
            screens
                .iter()
                .any(|s| s.name == *default && s.source_key.is_none()),
            "{default}"
        );
    }

    let schemes = site.read_screen_schemes().unwrap();
    let sources = airlock_fixtures::source_screen_schemes(&spec);
    assert!(sources.iter().any(|s| s.screens.len() > 1));
    for source in &sources {
        let scheme = (schemes.iter())
            .find(|s| s.source_key == key(&source.id))
            .unwrap_or_else(|| panic!("screen scheme {} is on the site", source.id));
        let expected: Vec<(String, String)> = (source.screens.iter())
            .map(|(operation, screen)| (operation.clone(), written(Kind::Screen, screen)))
            .collect();
        assert_eq!(
            (&scheme.name, &scheme.description, &scheme.entries),
            (&name(&source.name), &source.description, &expected)
        );
    }

    let type_schemes = site.read_issue_type_screen_schemes().unwrap();
    let sources = airlock_fixtures::source_issue_type_screen_schemes(&spec);
    assert!(sources.iter().any(|s| s.mappings.len() > 1));
    assert!(sources.iter().any(|s| !s.projects.is_empty()));
    for source in &sources {
        let scheme = (type_schemes.iter())
            .find(|s| s.source_key == key(&source.id))
            .unwrap_or_else(|| panic!("issue type screen scheme {} is on the site", source.id));
        assert_scheme(
            &site_db,
            &snapshot,
            scheme,
            (&name(&source.name), &source.description),
            &source.mappings,
            &source.projects,
            |s| written(Kind::ScreenScheme, s),
        );
    }
}

/// Issue 16, field configurations: every field configuration with each field's settings
/// (hidden, required, renderer, description; custom fields as the site's), each field
/// configuration scheme with its configuration per issue type (one naming none: the
/// site's default) and the projects using it — on the local site, verified kind by kind,
/// read back field by field. The site's own default configuration stays as it is; the
/// source's of its name arrives beside it as `<name> (migrated)`.
#[test]
fn field_configurations_and_their_schemes_arrive_as_the_source_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _) = migrate_small(dir.path());
    assert_verified(
        dir.path(),
        &[
            Kind::FieldConfiguration,
            Kind::FieldConfigurationItem,
            Kind::FieldConfigurationScheme,
        ],
    );
    let site_db = dir.path().join("site.db");
    let written = |kind: Kind, id: &str| written_id(&site_db, kind, id);
    let mut site = LocalSite::open(&site_db).unwrap();
    let snapshot = site.snapshot().unwrap();
    let field = |f: &str| match f.strip_prefix("customfield_") {
        Some(id) => written(Kind::CustomField, id),
        None => f.to_owned(),
    };
    let configurations = site.read_field_configurations().unwrap();
    let site_default = (configurations.iter())
        .find(|c| c.source_key.is_none())
        .expect("the site's own default configuration is kept");
    assert_eq!(site_default.name, "Default Field Configuration");
    let sources = airlock_fixtures::source_field_configurations(&spec);
    assert!(sources.len() > 1);
    let (mut hidden, mut customs) = (0, 0);
    for source in &sources {
        let configuration = (configurations.iter())
            .find(|c| c.source_key.as_deref() == Some(source.id.as_str()))
            .unwrap_or_else(|| panic!("field configuration {} is on the site", source.id));
        let name = if source.name == site_default.name {
            format!("{} (migrated)", source.name)
        } else {
            source.name.clone()
        };
        assert_eq!(
            (&configuration.name, &configuration.description),
            (&name, &source.description)
        );
        let mut expected: Vec<(String, String, bool, bool, String)> = (source.items.iter())
            .map(|i| {
                hidden += usize::from(i.hidden);
                customs += usize::from(i.field.starts_with("customfield_"));
                (
                    field(&i.field),
                    i.description.clone(),
                    i.hidden,
                    i.required,
                    i.renderer.clone(),
                )
            })
            .collect();
        expected.sort();
        assert_eq!(configuration.items, expected, "{}", source.name);
    }
    assert!(hidden > 0 && customs > 0, "hidden fields and custom fields");

    let schemes = site.read_field_configuration_schemes().unwrap();
    let sources = airlock_fixtures::source_field_configuration_schemes(&spec);
    assert!(sources.iter().any(|s| s.mappings.len() > 1));
    assert!(sources.iter().any(|s| !s.projects.is_empty()));
    for source in &sources {
        let scheme = (schemes.iter())
            .find(|s| s.source_key.as_deref() == Some(source.id.as_str()))
            .unwrap_or_else(|| panic!("field configuration scheme {} is on the site", source.id));
        assert_scheme(
            &site_db,
            &snapshot,
            scheme,
            (&source.name, &source.description),
            &source.mappings,
            &source.projects,
            |c| {
                c.as_deref().map_or(site_default.id.clone(), |c| {
                    written(Kind::FieldConfiguration, c)
                })
            },
        );
    }
}

/// The site's id of a source status, by name (the site's own or one the load made).
fn site_status(snapshot: &airlock_site::Snapshot, id: &str) -> String {
    let name = airlock_fixtures::source_status_name(id).unwrap();
    (snapshot.statuses.iter())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name}"))
        .id
        .clone()
}

/// Issue 16, workflows and schemes: every workflow arrives with its steps (each status as
/// the site's), its transitions (kind, from and to steps, screen as the site's) and its
/// description; every workflow scheme with its default and per-issue-type workflows (the
/// built-in `jira` as the site's own) and its projects; every issue type scheme with its
/// issue types in order, its default and its projects, the source's default scheme being
/// the site's own default — verified kind by kind, read back field by field.
#[test]
fn workflows_and_issue_type_schemes_arrive_as_the_source_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _) = migrate_small(dir.path());
    assert_verified(
        dir.path(),
        &[Kind::Workflow, Kind::WorkflowScheme, Kind::IssueTypeScheme],
    );
    let site_db = dir.path().join("site.db");
    let written = |kind: Kind, id: &str| written_id(&site_db, kind, id);
    let mut site = LocalSite::open(&site_db).unwrap();
    let snapshot = site.snapshot().unwrap();

    let workflows = site.read_workflows().unwrap();
    let built_in = (workflows.iter())
        .find(|w| w.source_key.is_none() && w.name == "jira")
        .expect("the site's built-in workflow is kept");
    let source_workflows = airlock_fixtures::source_workflows(&spec);
    assert!(
        (source_workflows.iter()).all(|w| (5..=15).contains(&w.steps.len())),
        "5 to 15 statuses"
    );
    assert!(
        source_workflows
            .iter()
            .any(|w| w.transitions.iter().any(|t| t.screen.is_some()))
    );
    for source in &source_workflows {
        let workflow = (workflows.iter())
            .find(|w| w.source_key.as_deref() == Some(source.id.as_str()))
            .unwrap_or_else(|| panic!("workflow {} is on the site", source.id));
        assert_eq!(
            (&workflow.name, &workflow.description),
            (&source.name, &source.description)
        );
        let steps: Vec<(String, String, String)> = (source.steps.iter())
            .map(|s| {
                (
                    s.id.clone(),
                    s.name.clone(),
                    site_status(&snapshot, &s.status),
                )
            })
            .collect();
        assert_eq!(workflow.steps, steps, "{}", source.name);
        let transitions: Vec<airlock_site::TransitionReadBack> = (source.transitions.iter())
            .map(|t| airlock_site::TransitionReadBack {
                id: t.id.clone(),
                name: t.name.clone(),
                description: t.description.clone(),
                kind: match t.kind {
                    airlock_fixtures::SourceTransitionKind::Initial => "INITIAL",
                    airlock_fixtures::SourceTransitionKind::Global => "GLOBAL",
                    airlock_fixtures::SourceTransitionKind::Directed => "DIRECTED",
                }
                .to_owned(),
                from: t.from.clone(),
                to: t.to.clone(),
                screen: t.screen.as_deref().map(|s| written(Kind::Screen, s)),
            })
            .collect();
        assert_eq!(workflow.transitions, transitions, "{}", source.name);
    }

    let schemes = site.read_workflow_schemes().unwrap();
    let sources = airlock_fixtures::source_workflow_schemes(&spec);
    assert!(sources.iter().any(|s| s.default_workflow == "jira"));
    // The site's id of each workflow a scheme names: by its name in the source.
    let mut workflow_ids: BTreeMap<String, String> = (source_workflows.iter())
        .map(|w| (w.name.clone(), written(Kind::Workflow, &w.id)))
        .collect();
    workflow_ids.insert("jira".into(), built_in.id.clone());
    let workflow_id = |name: &str| {
        (workflow_ids.get(name))
            .unwrap_or_else(|| panic!("workflow {name}"))
            .clone()
    };
    for source in &sources {
        let scheme = (schemes.iter())
            .find(|s| s.source_key.as_deref() == Some(source.id.as_str()))
            .unwrap_or_else(|| panic!("workflow scheme {} is on the site", source.id));
        let mut mappings: Vec<(Option<String>, String)> =
            vec![(None, source.default_workflow.clone())];
        mappings.extend((source.mappings.iter()).map(|(t, w)| (Some(t.clone()), w.clone())));
        assert_scheme(
            &site_db,
            &snapshot,
            scheme,
            (&source.name, &source.description),
            &mappings,
            &source.projects,
            |w: &String| workflow_id(w),
        );
    }

    let schemes = site.read_issue_type_schemes().unwrap();
    let sources = airlock_fixtures::source_issue_type_schemes(&spec);
    assert_eq!(sources.iter().filter(|s| s.global).count(), 1);
    assert!(sources.iter().any(|s| s.default_issue_type.is_some()));
    for source in &sources {
        let scheme = (schemes.iter())
            .find(|s| s.source_key.as_deref() == Some(source.id.as_str()))
            .unwrap_or_else(|| panic!("issue type scheme {} is on the site", source.id));
        let types: Vec<String> = (source.issue_types.iter())
            .map(|t| site_issue_type(&snapshot, t))
            .collect();
        if source.global {
            // The site's own default, which lists every issue type.
            assert!(scheme.is_default);
            assert!(
                types.iter().all(|t| scheme.issue_types.contains(t)),
                "{scheme:?}"
            );
            continue;
        }
        let mut projects: Vec<String> = (source.projects.iter())
            .map(|p| written(Kind::Project, p))
            .collect();
        projects.sort_by_key(|p| p.parse::<u64>().ok());
        assert_eq!(
            (
                &scheme.name,
                &scheme.description,
                &scheme.issue_types,
                &scheme.default_issue_type,
                &scheme.projects
            ),
            (
                &source.name,
                &source.description,
                &types,
                &source
                    .default_issue_type
                    .as_deref()
                    .map(|t| site_issue_type(&snapshot, t)),
                &projects
            )
        );
    }
}

/// Issue 16, dashboards: every dashboard (the system dashboard as one of its own, shared
/// with every logged-in user), its shares, its gadgets in their places and each gadget's
/// settings arrive on the local site, verified kind by kind and read back field by field:
/// owners by user key, shares and the filters, projects, boards and sprints the settings
/// name as the site's ids.
#[test]
fn dashboards_gadgets_and_their_settings_arrive_as_the_source_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _) = migrate_small(dir.path());
    assert_verified(
        dir.path(),
        &[
            Kind::Dashboard,
            Kind::DashboardShare,
            Kind::Gadget,
            Kind::GadgetPreference,
        ],
    );
    let site_db = dir.path().join("site.db");
    let written = |kind: Kind, id: &str| written_id(&site_db, kind, id);
    let mut site = LocalSite::open(&site_db).unwrap();
    let read = site.read_dashboards().unwrap();
    let sources = airlock_fixtures::source_dashboards(&spec);
    assert!(
        sources.iter().filter(|d| d.system).count() == 1,
        "{sources:?}"
    );
    assert!(sources.iter().any(|d| !d.shares.is_empty()));
    let expected: Vec<_> = sources
        .iter()
        .map(|d| {
            let mut shares: Vec<String> = d
                .shares
                .iter()
                .map(|s| {
                    let param = |n: &Option<String>| n.clone().unwrap();
                    let share = match s.share_type.as_str() {
                        "global" => "global".to_owned(),
                        "loggedin" => "authenticated".to_owned(),
                        "group" => format!("group:{}", param(&s.param1)),
                        "user" => format!("user:{}", written(Kind::User, &param(&s.param1))),
                        "project" => {
                            let project = written(Kind::Project, &param(&s.param1));
                            match &s.param2 {
                                Some(role) => format!(
                                    "projectRole:{project}/{}",
                                    written(Kind::ProjectRole, role)
                                ),
                                None => format!("project:{project}"),
                            }
                        }
                        other => panic!("a share of type {other}"),
                    };
                    if s.edit {
                        format!("{share} (edit)")
                    } else {
                        share
                    }
                })
                .collect();
            if d.system {
                shares.push("authenticated".into());
            }
            let mut gadgets: Vec<_> = d
                .gadgets
                .iter()
                .map(|g| {
                    let mut preferences: Vec<(String, String)> = g
                        .preferences
                        .iter()
                        .map(|(key, value)| {
                            let value = match PreferenceValue::parse(key, value) {
                                PreferenceValue::Id { kind, prefix, id } => {
                                    format!("{prefix}{}", written(kind, &id))
                                }
                                PreferenceValue::Text(text) => text,
                            };
                            (key.clone(), value)
                        })
                        .collect();
                    preferences.sort();
                    (
                        (g.column, g.row),
                        Some(g.id.clone()),
                        (g.uri.clone(), g.module_key.clone()),
                        g.color.clone(),
                        preferences,
                    )
                })
                .collect();
            gadgets.sort();
            (
                Some(d.id.clone()),
                (d.name.clone(), d.description.clone()),
                d.owner.clone(),
                d.layout.clone(),
                shares,
                gadgets,
            )
        })
        .collect();
    let got: Vec<_> = read
        .into_iter()
        .map(|d| {
            let gadgets = d
                .gadgets
                .into_iter()
                .map(|g| {
                    (
                        (g.column, g.row),
                        g.source_key,
                        (g.uri, g.module_key),
                        g.color,
                        g.preferences,
                    )
                })
                .collect::<Vec<_>>();
            (
                d.source_key,
                (d.name, d.description),
                d.owner,
                d.layout,
                d.shares,
                gadgets,
            )
        })
        .collect();
    let by_source = |v: &mut Vec<_>| {
        v.sort_by_key(|d: &(Option<String>, _, _, _, _, _)| {
            d.0.as_deref().and_then(|id| id.parse::<u64>().ok())
        })
    };
    let (mut got, mut expected) = (got, expected);
    by_source(&mut got);
    by_source(&mut expected);
    assert_eq!(got, expected);
    // Settings naming a filter, a board and a sprint are among them, rewritten.
    let named: Vec<&str> = sources
        .iter()
        .flat_map(|d| &d.gadgets)
        .flat_map(|g| &g.preferences)
        .map(|(key, _)| key.as_str())
        .collect();
    for key in ["filterId", "projectOrFilterId", "rapidViewId", "sprintId"] {
        assert!(named.contains(&key), "no gadget sets {key}");
    }
}

/// Issue 16, boards' card settings: the fields each board's cards show in the backlog and
/// on the board (custom fields as the site's) and its card colours (by issue type,
/// priority, assignee or query, in the site's ids) arrive in their order, verified.
#[test]
fn boards_card_settings_arrive_as_the_source_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _) = migrate_small(dir.path());
    assert_verified(dir.path(), &[Kind::CardField, Kind::CardColor]);
    let site_db = dir.path().join("site.db");
    let written = |kind: Kind, id: &str| written_id(&site_db, kind, id);
    let mut site = LocalSite::open(&site_db).unwrap();
    let snapshot = site.snapshot().unwrap();
    let settings = site.read_card_settings().unwrap();
    let fields = airlock_fixtures::source_card_fields(&spec);
    let colors = airlock_fixtures::source_card_colors(&spec);
    let strategies: std::collections::BTreeSet<&str> =
        colors.iter().map(|c| c.strategy.as_str()).collect();
    assert!(strategies.len() >= 3, "{strategies:?}");
    assert!(fields.iter().any(|f| f.field.starts_with("customfield_")));
    for board in airlock_fixtures::source_boards(&spec) {
        let on_site = (settings.iter())
            .find(|s| s.board == written(Kind::Board, &board.id))
            .unwrap_or_else(|| panic!("board {}", board.id));
        let mut expected: Vec<(String, String)> = (fields.iter())
            .filter(|f| f.board == board.id)
            .map(|f| {
                let field = match f.field.strip_prefix("customfield_") {
                    Some(id) => written(Kind::CustomField, id),
                    None => f.field.clone(),
                };
                (f.mode.clone(), field)
            })
            .collect();
        expected.sort_by_key(|(mode, _)| mode.clone());
        assert_eq!(on_site.fields, expected, "{}", board.id);
        let expected: Vec<(String, String, String)> = (colors.iter())
            .filter(|c| c.board == board.id)
            .map(|c| {
                let value = match c.strategy.as_str() {
                    "issuetype" => site_issue_type(&snapshot, &c.value),
                    "priority" => {
                        let name = airlock_fixtures::source_priority_name(&c.value).unwrap();
                        (snapshot.priorities.iter())
                            .find(|p| p.name == name)
                            .unwrap()
                            .id
                            .clone()
                    }
                    "assignee" => written(Kind::User, &c.value),
                    _ => site_query(&site_db, &snapshot, &c.value),
                };
                (c.strategy.clone(), value, c.color.clone())
            })
            .collect();
        assert_eq!(on_site.colors, expected, "{}", board.id);
    }
}

/// Issue 16, Jira Software as core data: boards with their columns (and each column's
/// statuses), swimlanes, quick filters and sprints, and each issue's sprints and rank,
/// arrive on the local site from activeobjects.xml and entities.xml, verified kind by
/// kind, and read back field by field: owners by user key, filters, statuses and sprints
/// as the site's ids, queries naming the site's ids.
#[test]
fn boards_sprints_and_ranks_arrive_as_the_source_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, generated) = migrate_small(dir.path());

    assert_verified(
        dir.path(),
        &[
            Kind::Board,
            Kind::Sprint,
            Kind::BoardColumn,
            Kind::ColumnStatus,
            Kind::Swimlane,
            Kind::QuickFilter,
            Kind::IssueSprint,
            Kind::IssueRank,
        ],
    );

    let site_db = dir.path().join("site.db");
    let mut site = LocalSite::open(&site_db).unwrap();
    let snapshot = site.snapshot().unwrap();
    let status_name = |id: &str| {
        (snapshot.statuses.iter())
            .find(|c| c.id == id)
            .map(|c| c.name.clone())
    };
    let boards = site.read_boards().unwrap();
    let sources = airlock_fixtures::source_boards(&spec);
    assert_eq!(boards.len(), sources.len());
    let (mut lanes, mut quick, mut sprints) = (0, 0, 0);
    for source in &sources {
        let board = (boards.iter())
            .find(|b| b.source_key.as_deref() == Some(source.id.as_str()))
            .unwrap_or_else(|| panic!("board {} is on the site", source.id));
        assert_eq!(
            (&board.name, board.scrum, board.owner.as_deref()),
            (&source.name, source.scrum, Some(source.owner.as_str()))
        );
        assert_eq!(
            board.filter,
            written_id(&site_db, Kind::Filter, &source.filter)
        );
        assert_eq!(board.columns.len(), source.columns.len(), "{}", source.id);
        for (column, expected) in board.columns.iter().zip(&source.columns) {
            assert_eq!(
                (&column.name, column.min, column.max),
                (&expected.name, expected.min, expected.max)
            );
            let names: Vec<Option<String>> =
                column.statuses.iter().map(|s| status_name(s)).collect();
            let expected: Vec<Option<String>> = (expected.statuses.iter())
                .map(|s| airlock_fixtures::source_status_name(s).map(str::to_owned))
                .collect();
            assert_eq!(names, expected, "{}: {}", source.id, column.name);
        }
        // Queries name the site's ids: each one the source names, rewritten.
        for (on_site, expected) in [
            (&board.swimlanes, &source.swimlanes),
            (&board.quick_filters, &source.quick_filters),
        ] {
            assert_eq!(on_site.len(), expected.len(), "{}", source.id);
            for ((name, jql), (source_name, source_jql)) in on_site.iter().zip(expected) {
                assert_eq!(name, source_name);
                assert_eq!(jql, &site_query(&site_db, &snapshot, source_jql), "{name}");
            }
        }
        lanes += board.swimlanes.len();
        quick += board.quick_filters.len();
        assert_eq!(board.sprints.len(), source.sprints.len(), "{}", source.id);
        for (sprint, expected) in board.sprints.iter().zip(&source.sprints) {
            assert_eq!(sprint.source_key.as_deref(), Some(expected.id.as_str()));
            assert_eq!(
                (
                    &sprint.name,
                    sprint.state.as_str(),
                    sprint.start,
                    sprint.end,
                    sprint.completed,
                    &sprint.goal
                ),
                (
                    &expected.name,
                    expected.state,
                    expected.start,
                    expected.end,
                    expected.completed,
                    &expected.goal
                )
            );
            sprints += 1;
        }
    }
    assert!(
        lanes > 0 && quick > 0 && sprints > 0,
        "{lanes} {quick} {sprints}"
    );

    // A sample of issues: their sprints (the site's ids) and rank as the source has them.
    let (mut in_sprints, mut ranked) = (0, 0);
    for key in site.issue_keys().unwrap().iter().step_by(5) {
        let issue = site.read_issue(key).unwrap().unwrap();
        let index = generated
            .issue_keys
            .iter()
            .position(|k| k == key)
            .unwrap_or_else(|| panic!("{key} is a source key"));
        let mut expected: Vec<String> = airlock_fixtures::source_sprints(&spec, index)
            .iter()
            .map(|s| written_id(&site_db, Kind::Sprint, s))
            .collect();
        expected.sort();
        let mut got = issue.sprints.clone();
        got.sort();
        assert_eq!(got, expected, "{key}");
        in_sprints += usize::from(!expected.is_empty());
        let rank = airlock_fixtures::source_rank(&spec, index);
        assert_eq!(issue.rank, rank, "{key}");
        ranked += usize::from(rank.is_some());
    }
    assert!(in_sprints > 0 && ranked > 0, "{in_sprints} {ranked}");
}

/// A board query as the site should hold it: every id the source's names, the site's
/// (records Airlock wrote by their source key, constants the site had by name).
fn site_query(site_db: &Path, snapshot: &airlock_site::Snapshot, source: &str) -> String {
    use airlock_model::Namespace;
    let by_name = |list: &[airlock_site::TargetConstant], name: Option<&str>| {
        let name = name.expect("a constant of the backup");
        (list.iter())
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map(|c| c.id.clone())
    };
    let rewritten = airlock_jql::rewrite(source, &mut |ns, id| {
        if ns == Namespace::STATUS {
            return by_name(&snapshot.statuses, airlock_fixtures::source_status_name(id));
        }
        if ns == Namespace::PRIORITY {
            return by_name(
                &snapshot.priorities,
                airlock_fixtures::source_priority_name(id),
            );
        }
        if ns == Namespace::ISSUE_TYPE {
            return by_name(
                &snapshot.issue_types,
                airlock_fixtures::source_issue_type_name(id),
            );
        }
        let kind = Kind::ALL.into_iter().find(|k| k.namespace() == Some(ns))?;
        Some(written_id(site_db, kind, id))
    })
    .unwrap();
    assert!(rewritten.unresolved.is_empty(), "{source}");
    rewritten.query
}

#[test]
fn a_namespace_no_enabled_app_publishes_is_named_and_its_ids_block_the_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let apps = vec![v2_app(&runtime, airlock_plugin_artifacts::TEAM_BADGES)];
    let (outcome, _) = run_apps(dir.path(), apps, Until::Analyze);
    assert!(
        matches!(outcome.blocked, Some(Blocked::Plan { .. })),
        "{outcome:?}"
    );
    let bundle = report::bundle(&storage(dir.path()));
    let findings = bundle["plan"]["apps"]["com.acme.badges"]
        .as_array()
        .expect("the app's findings are in the plan")
        .clone();
    // Findings are grouped by check, with a count.
    let with = |check: &str| {
        (findings.iter())
            .find(|f| f["check"] == check)
            .and_then(|f| f["count"].as_u64())
            .unwrap_or(0) as usize
    };
    assert_eq!(with("namespace-not-published"), 1, "{findings:#?}");
    let teams = small(Spec::default()).teams;
    assert_eq!(
        with("badge-of-unknown-team"),
        teams * airlock_fixtures::BADGES_PER_TEAM
    );
}

/// Issue 16: project roles and who plays them, watchers, votes, history, saved filters and
/// their shares arrive on the local site, verified kind by kind. Every role actor is in the
/// site's project and role, named by its user's key or its group's name. A sample of issues read back has the source's
/// watchers, voters and history, field by field, history values in the site's ids; every
/// filter has its name, owner and shares, its query naming the site's project, user,
/// version, component, filter and custom field ids in place of the server's (looked up one
/// by one on the site, by source key).
#[test]
fn history_watchers_votes_roles_filters_and_shares_arrive_with_their_ids_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, generated) = migrate_small(dir.path());

    assert_verified(
        dir.path(),
        &[
            Kind::ProjectRole,
            Kind::ProjectRoleActor,
            Kind::SecurityScheme,
            Kind::SecurityLevel,
            Kind::Watcher,
            Kind::Vote,
            Kind::ChangeGroup,
            Kind::ChangeItem,
            Kind::Filter,
            Kind::FilterShare,
        ],
    );

    let mut site = LocalSite::open(&dir.path().join("site.db")).unwrap();
    let cloud = |kind: Kind, id: &str| -> String {
        LocalSite::open(&dir.path().join("site.db"))
            .unwrap()
            .find_written(kind, &[id.to_owned()])
            .unwrap()
            .pop()
            .flatten()
            .unwrap_or_else(|| panic!("{kind} {id} is on the site"))
    };

    // Filters: the release-work filter names a project, a user, a version and a component;
    // the by-field one narrows the project's first filter and names a custom field.
    let sources = airlock_fixtures::source_filters(&spec);
    let release = sources
        .iter()
        .find(|f| f.name.contains("release work"))
        .unwrap();
    let expected: Vec<String> = release
        .jql
        .split(" AND ")
        .map(|clause| {
            let (field, value) = clause.split_once(" = ").unwrap();
            let kind = match field {
                "project" => Kind::Project,
                "assignee" => Kind::User,
                "fixVersion" => Kind::Version,
                "component" => Kind::Component,
                "sprint" => Kind::Sprint,
                other => panic!("{other} is not in the release-work filter"),
            };
            format!("{field} = {}", cloud(kind, value))
        })
        .collect();
    let expected_release = expected.join(" AND ");
    let by_field = sources
        .iter()
        .find(|f| f.name.contains("by field"))
        .unwrap();
    let first = by_field
        .jql
        .strip_prefix("filter = ")
        .and_then(|rest| rest.split_once(' '))
        .unwrap()
        .0;
    let field = by_field
        .jql
        .split("cf[")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap();
    let site_field = cloud(Kind::CustomField, field);
    let site_field = site_field.strip_prefix("customfield_").unwrap();
    let expected_by_field = by_field
        .jql
        .replace(
            &format!("filter = {first} "),
            &format!("filter = {} ", cloud(Kind::Filter, first)),
        )
        .replace(&format!("cf[{field}]"), &format!("cf[{site_field}]"));

    let filters = site.read_filters().unwrap();
    assert_eq!(filters.len(), sources.len());
    for source in &sources {
        let on_site = filters
            .iter()
            .find(|f| f.source_key.as_deref() == Some(source.id.as_str()))
            .unwrap_or_else(|| panic!("filter {} is on the site", source.id));
        assert_eq!(on_site.name, source.name);
        assert_eq!(on_site.owner.as_deref(), Some(source.owner.as_str()));
        assert_eq!(on_site.shares.len(), 1, "{on_site:?}");
        if source.id == release.id {
            assert_eq!(on_site.jql, expected_release);
        } else if source.id == by_field.id {
            assert_eq!(on_site.jql, expected_by_field);
        } else if let Some(rest) = source.jql.strip_prefix("project = ") {
            let project = rest.split(' ').next().unwrap();
            let site_project = format!("project = {} ", cloud(Kind::Project, project));
            assert!(on_site.jql.starts_with(&site_project), "{on_site:?}");
        }
    }
    let share_types: std::collections::BTreeSet<&str> = filters
        .iter()
        .flat_map(|f| &f.shares)
        .map(|s| s.split([':', ' ']).next().unwrap())
        .collect();
    assert_eq!(
        share_types,
        ["authenticated", "global", "group", "project", "projectRole"].into(),
        "every kind of share the backup holds"
    );

    // A sample of issues read back: watchers, voters and history as the source has them,
    // field by field, every id in a history value the site's own.
    let snapshot = site.snapshot().unwrap();
    let name_of = |list: &[airlock_site::TargetConstant], id: &str| {
        list.iter().find(|c| c.id == id).map(|c| c.name.clone())
    };

    // Who plays each project role: every source actor, and only those, in the site's
    // project (none for a role's default actors), in the site's role of its name (the
    // site's own Administrators, or the role written from the source's), the user written
    // from its key or the group of its name.
    let mut expected: Vec<(Option<String>, String, String)> =
        airlock_fixtures::source_role_actors(&spec)
            .into_iter()
            .map(|a| {
                let role = airlock_fixtures::source_role_name(&a.role).unwrap();
                (
                    a.project.map(|p| cloud(Kind::Project, &p)),
                    role.to_owned(),
                    a.actor,
                )
            })
            .collect();
    expected.sort();
    let mut actors: Vec<(Option<String>, String, String)> = site
        .read_role_actors()
        .unwrap()
        .into_iter()
        .map(|a| {
            let role = name_of(&snapshot.roles, &a.role)
                .unwrap_or_else(|| panic!("role {} is the site's", a.role));
            (a.project, role, a.actor)
        })
        .collect();
    actors.sort();
    assert!(expected.iter().any(|a| a.0.is_none()), "default actors");
    assert!(
        expected.iter().any(|a| a.2.starts_with("group:"))
            && expected.iter().any(|a| a.2.starts_with("user:"))
    );
    assert_eq!(actors, expected);
    let keys = site.issue_keys().unwrap();
    let (mut voted, mut changes, mut secret) = (0, 0, 0);
    for key in keys.iter().step_by(7) {
        let issue = site.read_issue(key).unwrap().unwrap();
        let index = issue
            .source_key
            .as_deref()
            .unwrap()
            .parse::<usize>()
            .unwrap()
            - 10_000;
        let (watchers, voters) = airlock_fixtures::source_watchers_and_voters(&spec, index);
        assert_eq!(issue.watchers, watchers, "{key}");
        assert_eq!(issue.voters, voters, "{key}");
        voted += usize::from(!voters.is_empty());
        let level = airlock_fixtures::source_security_level(&spec, index);
        assert_eq!(
            issue.security_level,
            level.as_deref().map(|l| cloud(Kind::SecurityLevel, l)),
            "{key}"
        );
        secret += usize::from(level.is_some());
        assert_eq!(*key, generated.issue_keys[index], "the source's key, kept");

        let history = airlock_fixtures::source_history(&spec, index);
        assert_eq!(issue.history.len(), history.len(), "{key}");
        for (site_change, source) in issue.history.iter().zip(&history) {
            assert_eq!(site_change.author.as_deref(), Some(source.author.as_str()));
            assert_eq!(site_change.created, source.created, "{key}");
            assert_eq!(site_change.items.len(), source.items.len(), "{key}");
            for (on_site, item) in site_change.items.iter().zip(&source.items) {
                changes += 1;
                assert_eq!(
                    (
                        &on_site.field,
                        on_site.custom,
                        &on_site.old_string,
                        &on_site.new_string
                    ),
                    (&item.field, item.custom, &item.old_string, &item.new_string),
                    "{key}"
                );
                for (site_value, value, string) in [
                    (&on_site.old_value, &item.old_value, &item.old_string),
                    (&on_site.new_value, &item.new_value, &item.new_string),
                ] {
                    let Some(value) = value else {
                        assert_eq!(site_value, &None, "{key} {}", item.field);
                        continue;
                    };
                    let site_value = site_value.as_deref().unwrap_or_else(|| {
                        panic!("{key} {}: the value {value} was cleared", item.field)
                    });
                    // Constants the site had already are matched by name; the rest are
                    // the site's records written from the source's.
                    let expected = match item.field.as_str() {
                        "status" => {
                            assert_eq!(
                                name_of(&snapshot.statuses, site_value).as_ref(),
                                string.as_ref()
                            );
                            continue;
                        }
                        "priority" => {
                            assert_eq!(
                                name_of(&snapshot.priorities, site_value).as_ref(),
                                string.as_ref()
                            );
                            continue;
                        }
                        "assignee" => cloud(Kind::User, value),
                        "Fix Version" => cloud(Kind::Version, value),
                        "Component" => cloud(Kind::Component, value),
                        // A list of sprints, as Jira writes it: `3, 4`.
                        "Sprint" => value
                            .split(", ")
                            .map(|sprint| cloud(Kind::Sprint, sprint))
                            .collect::<Vec<_>>()
                            .join(", "),
                        _ if item.custom => cloud(Kind::CustomFieldOption, value),
                        other => panic!("{other} has no ids in the generated history"),
                    };
                    assert_eq!(site_value, expected, "{key} {}", item.field);
                }
            }
        }
    }
    assert!(voted > 0, "the sample holds voted issues");
    assert!(secret > 0, "the sample holds issues with a security level");
    assert!(changes > 100, "the sample holds history: {changes} items");
}
