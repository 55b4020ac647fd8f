//! `airlock migrate` as an operator runs it: planted faults block it until fixed, bad
//! input leaves nothing behind, a kill -9 mid-load followed by a rerun loses nothing and
//! duplicates nothing, and nothing Airlock keeps holds customer data in clear. Each runs on
//! both storage backends: SQLite + local directory, PostgreSQL + S3.

mod support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use airlock_model::Region;
use airlock_model::jira::Kind;
use airlock_site::{LocalSite, Site};
use support::{Backend, files_under, leaks, signed_and_approved_plugin};

on_each_backend!(
    the_demo_runs_twice_and_prints_no_error,
    planted_faults_block_migrate_until_the_backup_is_fixed,
    a_truncated_corrupt_or_garbage_backup_is_refused_and_nothing_is_written,
    kill_9_mid_load_then_a_rerun_loses_and_duplicates_nothing,
    an_enabled_apps_fatal_findings_are_part_of_the_analysis_and_block_migrate,
    the_backups_header_secrets_are_never_logged_or_kept,
    migrate_to_jira_cloud_over_https_with_rate_limits_loses_and_duplicates_nothing,
    kill_9_mid_load_on_jira_cloud_under_rate_limits_then_a_rerun_loses_and_duplicates_nothing,
    no_canary_is_stored_in_clear,
    the_sweeper_erases_a_tenant_30_days_after_its_licence_ended,
    a_work_directory_opens_only_a_migration_the_store_knows_for_the_operators_tenant,
    a_realistic_backup_migrates_with_each_orphan_skipped_and_strict_refuses_them,
    check_lists_an_unknown_element_type_with_its_count,
    a_sweep_without_the_production_stores_deletes_nothing_it_does_not_hold,
    a_failed_setup_leaves_nothing_and_a_migration_opens_only_with_its_stores,
    a_refused_row_is_listed_then_written_once_after_its_override,
    migrate_runs_only_signed_plugins_a_trusted_reviewer_approved_unless_unreviewed,
    plugins_of_both_contract_versions_migrate_together_each_with_its_consent,
);

fn text(o: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `airlock` with no storage at all (gen-backup).
fn airlock(args: &[&str], cwd: &Path) -> Output {
    Backend::sqlite_and_local_directory().run(args, cwd)
}

fn planted_faults_block_migrate_until_the_backup_is_fixed(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(
        &[
            "gen-backup",
            "b.zip",
            "--issues",
            "600",
            "--faults",
            "--malformed",
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = backend.run(&["migrate", "b.zip", "--work", "w"], cwd);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "blocked by findings: {t}");
    let json = report_json(&backend, cwd, "w", &[]);
    let fatal = checks(&json["integrity"]["findings"], "fatal");
    for check in ["duplicate-key", "user-without-email", "malformed-xml"] {
        assert!(
            fatal.contains(&check.to_owned()),
            "{check} missing: {fatal:?}"
        );
    }
    assert!(
        json["plan"].is_null(),
        "nothing is analysed past a blocked check"
    );
    // The worklog of a deleted issue does not block: it is skipped, with a warning.
    assert!(
        checks(&json["integrity"]["findings"], "warning").contains(&"orphan-skipped".to_owned()),
        "{}",
        json["integrity"]["findings"]
    );
    assert!(
        !cwd.join("w-site/site.db").exists(),
        "nothing may reach the target"
    );
    // The report is sealed with the rest; `airlock report` opens it for the operator.
    let html = report(&backend, cwd, "w", &[]);
    assert!(html.contains("blocked by fatal findings"), "{html}");
    assert!(html.contains("malformed-xml"), "{html}");

    // The operator fixes the source and makes a new backup: the same work dir migrates it.
    let out = airlock(&["gen-backup", "b.zip", "--issues", "600"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    let out = backend.run(&["migrate", "b.zip", "--work", "w"], cwd);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let json = report_json(&backend, cwd, "w", &[]);
    assert!(checks(&json["integrity"]["findings"], "fatal").is_empty());
    assert_all_verified(&json);
    let html = report(&backend, cwd, "w", &[]);
    assert!(html.contains("every count matches"), "{html}");
}

/// Every phase's report in one JSON document, as `airlock report --format json` gives it.
fn report_json(backend: &Backend, cwd: &Path, work: &str, more: &[&str]) -> serde_json::Value {
    let args = [&["report", "--work", work, "--format", "json"][..], more].concat();
    json_of(backend, cwd, &args)
}

/// The checks of a findings list (integrity or an app's) of one severity.
fn checks(findings: &serde_json::Value, severity: &str) -> Vec<String> {
    findings
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|s| s["severity"] == severity)
                .filter_map(|s| s["check"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Every kind's count matched in the verification.
fn assert_all_verified(json: &serde_json::Value) {
    let rows = json["verify"].as_array().expect("the verification ran");
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row["ok"], true, "{row}");
    }
}

/// The work directory's report page, as `airlock report` renders it (`more`: the tenant).
fn report(backend: &Backend, cwd: &Path, work: &str, more: &[&str]) -> String {
    let args = [&["report", "--work", work][..], more].concat();
    let out = backend.run(&args, cwd);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn a_truncated_corrupt_or_garbage_backup_is_refused_and_nothing_is_written(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(&["gen-backup", "good.zip", "--issues", "300"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    let good = std::fs::read(cwd.join("good.zip")).unwrap();

    std::fs::write(cwd.join("truncated.zip"), &good[..good.len() * 6 / 10]).unwrap();
    let mut corrupt = good.clone();
    // Damage the middle of entities.xml's compressed stream; the zip's directory is intact.
    let middle = good.len() / 4;
    for b in &mut corrupt[middle..middle + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(cwd.join("corrupt.zip"), &corrupt).unwrap();
    let garbage: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(cwd.join("garbage.zip"), garbage).unwrap();

    for (file, says) in [
        ("truncated.zip", "truncated"),
        ("corrupt.zip", "corrupt"),
        ("garbage.zip", "not a readable zip"),
    ] {
        let work = format!("work-{file}");
        let out = backend.run(&["migrate", file, "--work", &work], cwd);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{file}: {t}");
        assert!(t.contains(file), "{file}: the error names the file: {t}");
        assert!(t.to_lowercase().contains(says), "{file}: {t}");
        assert!(!cwd.join(&work).exists(), "{file}: nothing may be written");
        assert_eq!(
            backend.live_migrations(&cwd.join(&work)),
            0,
            "{file}: no migration but a failed one"
        );
    }
    for dir in backend.data_dirs() {
        assert_eq!(files_under(&dir), 0, "no object in {}", dir.display());
    }
}

fn issues_loaded(site: &Path) -> u64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(site, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row(
        "SELECT count(*) FROM issues WHERE source_key IS NOT NULL",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .unwrap_or(0)
}

/// SIGKILL once half the issues are in the target, then rerun. 100,000 issues on the
/// embedded backend; 20,000 on PostgreSQL + S3, where the same crash costs minutes more.
fn kill_9_mid_load_then_a_rerun_loses_and_duplicates_nothing(backend: Backend) {
    let issues = match backend {
        Backend::SqliteAndLocalDirectory => 100_000,
        Backend::PostgresAndS3(_) => 20_000,
    };
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let spec = airlock_fixtures::Spec {
        issues,
        users: 2_000,
        projects: 20,
        teams: 50,
        ..airlock_fixtures::Spec::default()
    };
    let generated = airlock_fixtures::write_backup(&cwd.join("b.zip"), &spec).unwrap();

    let mut child = backend
        .command(cwd)
        .args(["migrate", "b.zip", "--work", "w"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let site = cwd.join("w-site/site.db");
    let started = Instant::now();
    let killed_at = loop {
        let loaded = issues_loaded(&site);
        if loaded >= issues as u64 / 2 {
            child.kill().unwrap(); // SIGKILL: no chance to clean up
            child.wait().unwrap();
            break loaded;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "migrate ended before half the issues were loaded"
        );
        assert!(started.elapsed() < Duration::from_secs(600), "too slow");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        killed_at < issues as u64,
        "killed mid-load ({killed_at} issues)"
    );

    let out = backend.run(&["migrate", "b.zip", "--work", "w"], cwd);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_all_verified(&report_json(&backend, cwd, "w", &[]));

    let mut site = LocalSite::open(&site).unwrap();
    assert_every_record_once(&mut site, &generated, issues);
}

fn an_enabled_apps_fatal_findings_are_part_of_the_analysis_and_block_migrate(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(
        &[
            "gen-backup",
            "b.zip",
            "--issues",
            "400",
            "--broken-app-rows",
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out));
    let plugin = airlock_plugin_artifacts::TIMESHEET_BUILDER;
    let out = backend.run(
        &[
            "analyze",
            "b.zip",
            "--work",
            "w",
            "--plugin",
            plugin,
            "--unreviewed",
        ],
        cwd,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let json = report_json(&backend, cwd, "w", &[]);
    let app = &json["plan"]["apps"]["com.actonic.jira.timesheet-builder"];
    let fatal = checks(app, "fatal");
    for code in [
        "period-ends-before-start",
        "unknown-user",
        "member-of-missing-team",
    ] {
        assert!(fatal.contains(&code.to_owned()), "{code} missing: {app}");
    }
    // The same backup without the app enabled has nothing fatal.
    let out = backend.run(&["analyze", "b.zip", "--work", "w2"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    let out = backend.run(
        &[
            "migrate",
            "b.zip",
            "--work",
            "w3",
            "--plugin",
            plugin,
            "--unreviewed",
        ],
        cwd,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!cwd.join("w3-site/site.db").exists());
}

fn the_backups_header_secrets_are_never_logged_or_kept(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(&["gen-backup", "b.zip", "--issues", "200"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    // The generated header comment carries this stand-in for a licence hash.
    let canary = "5f2b1c0d-synthetic-not-a-license";
    let out = backend
        .command(cwd)
        .args(["migrate", "b.zip", "--work", "w"])
        .env("AIRLOCK_LOG", "trace")
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        !t.contains(canary),
        "the header comment leaked into the output"
    );
    let kept = leaks(&backend, &cwd.join("w"), &[canary]);
    assert!(kept.is_empty(), "the header comment is kept: {kept:?}");
}

fn migrate_to_jira_cloud_over_https_with_rate_limits_loses_and_duplicates_nothing(
    backend: Backend,
) {
    use airlock_cloud_double::{CloudDouble, DoubleConfig, Faults};
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let files = backup_with_files(cwd, 60);
    let double = CloudDouble::start(DoubleConfig {
        faults: Faults {
            rate_limited: 0.3,
            retry_after_secs: 1,
            max_throttles: Some(4),
            ..Faults::default()
        },
        site_path: Some(cwd.join("cloud.db")),
        ..DoubleConfig::default()
    })
    .unwrap();
    std::fs::write(cwd.join("ca.pem"), double.ca_pem()).unwrap();
    let out = backend
        .command(cwd)
        .args(["migrate", "b.zip", "--work", "w", "--target", double.url()])
        .args(["--attachments", "home"])
        .env("AIRLOCK_JIRA_EMAIL", "admin@example.com")
        .env("AIRLOCK_JIRA_TOKEN", "test-token")
        .env("AIRLOCK_JIRA_CA", cwd.join("ca.pem"))
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let report = report_json(&backend, cwd, "w", &[]);
    assert_all_verified(&report);
    // Each attachment was created with its file (Cloud takes it only then).
    assert!(
        t.contains(&format!("attachment files: {files} uploaded")),
        "{files} files went with their attachments: {t}"
    );
    assert_files_stored(double.site_path(), files);
    // What Cloud's API cannot write is said in the plan before the load, with its rows.
    let staged = &report["integrity"]["counts"];
    let caveats = report["plan"]["caveats"]
        .as_array()
        .expect("the plan's caveats");
    for (kind, treatment) in [
        ("vote", "carried-as-property"),
        ("change-group", "carried-as-property"),
        ("change-item", "carried-as-property"),
        ("issue", "changed"),
        ("security-level", "changed"),
        ("board", "changed"),
        ("sprint", "changed"),
        ("board-column", "carried-as-property"),
        ("column-status", "carried-as-property"),
        ("quick-filter", "carried-as-property"),
        ("issue-rank", "changed"),
        ("attachment", "changed"),
    ] {
        let c = caveats
            .iter()
            .find(|c| c["kind"] == kind)
            .unwrap_or_else(|| panic!("no caveat for {kind}: {caveats:?}"));
        assert_eq!(c["treatment"], treatment, "{c}");
        assert_eq!(c["rows"], staged[kind], "{kind}: {c}");
        assert!(!c["how"].as_str().unwrap_or("").is_empty(), "{c}");
    }
    // A caveat about one row counts that row, not every row of its kind.
    for (kind, about) in [
        ("dashboard", "source's system dashboard"),
        ("issue-type-scheme", "source's default issue type scheme"),
    ] {
        let c = (caveats.iter())
            .find(|c| c["kind"] == kind && c["how"].as_str().is_some_and(|h| h.contains(about)))
            .unwrap_or_else(|| panic!("no caveat about the {about}: {caveats:?}"));
        assert_eq!(c["rows"], 1, "{c}");
        assert!(staged[kind].as_u64().unwrap() > 1, "{kind}: {staged}");
    }
    assert!(
        t.contains("What the target does not write as the source has it:")
            && t.contains("change-item (")
            && t.contains("carried as a property: Jira Cloud has no call"),
        "the plan printed says how history is kept: {t}"
    );
    assert!(!t.contains("test-token"), "the token must never be printed");
    let stats = double.stats();
    assert!(stats.rate_limited > 0, "the double throttled: {stats:?}");
    assert_eq!(
        stats.early_requests, 0,
        "nothing sent before Retry-After: {stats:?}"
    );
    let mut site = double.site();
    for kind in Kind::ALL {
        assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
    }
}

fn kill_9_mid_load_on_jira_cloud_under_rate_limits_then_a_rerun_loses_and_duplicates_nothing(
    backend: Backend,
) {
    kill_9_on_jira_cloud(&backend, 400);
}

/// The same at full size: 100,000 issues over HTTPS take minutes, so it runs on demand:
/// `cargo test --release -p airlock-cli --test migrate -- --ignored full_size`.
#[test]
#[ignore]
fn full_size_kill_9_mid_load_on_jira_cloud_under_rate_limits() {
    let issues = std::env::var("AIRLOCK_REST_ISSUES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    kill_9_on_jira_cloud(&Backend::sqlite_and_local_directory(), issues);
}

fn kill_9_on_jira_cloud(backend: &Backend, issues: usize) {
    use airlock_cloud_double::{CloudDouble, DoubleConfig, Faults};
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let spec = airlock_fixtures::Spec {
        issues,
        users: (issues / 20).clamp(50, 5_000),
        projects: (issues / 2_000).clamp(3, 50),
        ..airlock_fixtures::Spec::default()
    };
    let generated = airlock_fixtures::write_backup(&cwd.join("b.zip"), &spec).unwrap();
    let files = airlock_fixtures::write_attachments(&cwd.join("home"), &spec).unwrap();
    let double = CloudDouble::start(DoubleConfig {
        faults: Faults {
            rate_limited: 0.3,
            retry_after_secs: 1,
            max_throttles: Some(6),
            ..Faults::default()
        },
        site_path: Some(cwd.join("cloud.db")),
        ..DoubleConfig::default()
    })
    .unwrap();
    std::fs::write(cwd.join("ca.pem"), double.ca_pem()).unwrap();
    let run = || {
        let mut c = backend.command(cwd);
        c.args(["migrate", "b.zip", "--work", "w", "--target", double.url()])
            .args(["--attachments", "home"])
            .env("AIRLOCK_JIRA_EMAIL", "admin@example.com")
            .env("AIRLOCK_JIRA_TOKEN", "test-token")
            .env("AIRLOCK_JIRA_CA", cwd.join("ca.pem"));
        c
    };
    let mut child = run()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let issues = double
            .site()
            .counts()
            .unwrap()
            .get(&Kind::Issue)
            .copied()
            .unwrap_or(0);
        if issues >= issues as u64 / 2 {
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "migrate ended before half the issues were loaded"
        );
        assert!(started.elapsed() < Duration::from_secs(7200), "too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = run().output().unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_all_verified(&report_json(backend, cwd, "w", &[]));
    let stats = double.stats();
    assert!(stats.rate_limited > 0, "{stats:?}");
    assert_eq!(
        stats.early_requests, 0,
        "nothing sent before Retry-After: {stats:?}"
    );
    assert_every_record_once(&mut double.site(), &generated, issues);
    assert_files_stored(double.site_path(), files);
}

/// `gen-backup b.zip --issues N --attachments home` in `cwd`: how many attachment files
/// it said it wrote.
fn backup_with_files(cwd: &Path, issues: usize) -> u64 {
    let issues = issues.to_string();
    let args = [
        "gen-backup",
        "b.zip",
        "--issues",
        &issues,
        "--attachments",
        "home",
    ];
    let out = airlock(&args, cwd);
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
        .split("wrote ")
        .find_map(|s| s.split_once(" attachment files")?.0.parse().ok())
        .expect("gen-backup says how many files it wrote")
}

/// The Cloud site at `site` holds `files` attachments, each with its whole file (the
/// double keeps what each upload carried).
fn assert_files_stored(site: &Path, files: u64) {
    let db = rusqlite::Connection::open(site).unwrap();
    let (count, whole): (u64, u64) = db
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE file_path IS NOT NULL AND stored_bytes = size)
             FROM attachments",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (count, whole),
        (files, files),
        "attachments, with their whole file"
    );
}

/// After a crash and a rerun: no kind has a record twice, every issue id is there once,
/// and the bulk counts equal the source's.
fn assert_every_record_once(
    site: &mut LocalSite,
    generated: &airlock_fixtures::Generated,
    issues: usize,
) {
    for kind in Kind::ALL {
        assert_eq!(
            site.duplicate_source_keys(kind).unwrap(),
            0,
            "{kind} duplicated"
        );
    }
    let counts = site.counts().unwrap();
    assert_eq!(counts.get(&Kind::Issue).copied(), Some(issues as u64));
    assert_eq!(
        counts.get(&Kind::Worklog).copied(),
        generated.entity_counts.get("Worklog").copied()
    );
    let mut loaded: Vec<i64> = site
        .source_keys(Kind::Issue)
        .unwrap()
        .iter()
        .map(|k| k.parse().unwrap())
        .collect();
    loaded.sort_unstable();
    let mut expected = generated.issue_ids.clone();
    expected.sort_unstable();
    assert_eq!(loaded, expected, "every issue exactly once");
    // Each with its source key, gaps between numbers and moved issues included.
    let keys: std::collections::BTreeMap<String, String> =
        site.issue_keys_by_source().unwrap().into_iter().collect();
    for (id, key) in generated.issue_ids.iter().zip(&generated.issue_keys) {
        assert_eq!(keys.get(&id.to_string()), Some(key), "issue {id}'s key");
    }
}

/// The canaries are real: they went all the way to the target (the customer's site).
fn assert_canaries_reached(site: &Path) {
    let site = std::fs::read(site).unwrap();
    for canary in airlock_fixtures::CANARIES {
        assert!(
            site.windows(canary.len()).any(|w| w == canary.as_bytes()),
            "{canary} did not reach the target"
        );
    }
}

/// The source's canaries (an issue summary, a user email, an app team name) reach the
/// target, and nothing Airlock keeps holds one in clear: not the work directory (state,
/// staged app rows, key files, and on the embedded backend the SQLite metadata and the
/// sealed objects), not the S3 buckets, not a row of any PostgreSQL table. The objects are
/// in the region the migration chose, and only there. Then what the platform sees
/// (statistics without ids) and the retention sweep of a succeeded migration (its key
/// destroyed, then its objects).
fn no_canary_is_stored_in_clear(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let work = cwd.join("w");
    let out = airlock(
        &["gen-backup", "b.zip", "--issues", "300", "--canaries"],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out));
    let plugin = airlock_plugin_artifacts::TIMESHEET_BUILDER;
    let out = backend.run(
        &[
            "migrate",
            "b.zip",
            "--work",
            "w",
            "--target",
            "local:site.db",
            "--plugin",
            plugin,
            "--unreviewed",
            "--tenant",
            "acme",
            "--region",
            "eu-west-1",
        ],
        cwd,
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("sealed at rest in eu-west-1"), "{t}");
    assert_canaries_reached(&cwd.join("site.db"));

    assert!(files_under(&backend.region_dir(&work, Region::EuWest1)) > 0);
    for region in Region::ALL {
        if region != Region::EuWest1 {
            let dir = backend.region_dir(&work, region);
            assert_eq!(files_under(&dir), 0, "objects outside the chosen region");
        }
    }
    let found = leaks(&backend, &work, &airlock_fixtures::CANARIES);
    assert!(found.is_empty(), "customer data in clear: {found:?}");
    if let Some(rows) = backend.database_text() {
        assert!(rows.contains("acme"), "the scan reads the tables");
        assert!(
            !work.join("airlock.db").exists(),
            "the metadata lives in PostgreSQL"
        );
    }
    // And the operator still reads the report, which names the customer's data.
    let html = report(&backend, cwd, "w", &["--tenant", "acme"]);
    assert!(html.contains("every count matches"), "{html}");

    // The platform sees the run's statistics: counts and durations, no ids.
    let out = backend.run(&["admin", "stats", "--work", "w"], cwd);
    let stats = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stats.lines().count(), 1, "{stats}");
    assert!(stats.contains("\"records_issues\":300"), "{stats}");
    let migration = std::fs::read_to_string(work.join("migration.json")).unwrap();
    let migration: serde_json::Value = serde_json::from_str(&migration).unwrap();
    for id in [&migration["tenant"], &migration["migration"]] {
        assert!(!stats.contains(id.as_str().unwrap()), "{stats}");
    }

    // The migration succeeded: the next retention sweep shreds its data (key first).
    let out = backend.run(&["admin", "sweep", "--work", "w"], cwd);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("1 data keys destroyed"), "{t}");
    let objects = files_under(&backend.region_dir(&work, Region::EuWest1));
    assert_eq!(objects, 0, "no sealed object is left");
    let out = backend.run(&["report", "--work", "w", "--tenant", "acme"], cwd);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("was destroyed (retention)"),
        "{}",
        text(&out)
    );
}

/// The platform records that a tenant's licence ended long ago; the sweeper, running on
/// its schedule, erases the tenant at its first sweep: its key-encryption key (so no data
/// key it wrapped opens again), every sealed object, and its metadata. A migration that
/// never finished (blocked by the integrity check) goes too: the licence decides.
fn the_sweeper_erases_a_tenant_30_days_after_its_licence_ended(backend: Backend) {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let work = cwd.join("w");
    let out = airlock(&["gen-backup", "b.zip", "--issues", "200", "--faults"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    let out = backend.run(
        &["migrate", "b.zip", "--work", "w", "--tenant", "acme"],
        cwd,
    );
    assert_eq!(out.status.code(), Some(1), "blocked: {}", text(&out));
    let region = backend.region_dir(&work, Region::UsEast1);
    assert!(
        files_under(&region) > 0,
        "the blocked migration keeps its staging"
    );
    assert!(work.join("keys/acme.kek").exists());

    let licence = |ends: &str| {
        backend.run(
            &[
                "admin", "licence", "--tenant", "acme", "--ends", ends, "--work", "w",
            ],
            cwd,
        )
    };
    let out = licence("2020-01-31");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("the licence ends 2020-02-01T00:00:00Z"), "{t}");
    let out = licence("31/01/2020");
    assert!(!out.status.success());
    assert!(text(&out).contains("use YYYY-MM-DD"), "{}", text(&out));

    // The sweeper runs until stopped: two sweeps, the second finding nothing left to do.
    let mut sweeper = backend
        .command(cwd)
        .args(["admin", "sweep", "--every", "1s", "--work", "w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(sweeper.stdout.take().unwrap()).lines();
    let mut sweeps = Vec::new();
    while sweeps.len() < 2 {
        let line = lines.next().expect("the sweeper keeps printing").unwrap();
        if line.contains("retention sweep:") {
            sweeps.push(line);
        }
    }
    sweeper.kill().unwrap();
    sweeper.wait().unwrap();
    assert!(sweeps[0].contains("1 tenants expired"), "{sweeps:?}");
    assert!(sweeps[0].contains("1 data keys destroyed"), "{sweeps:?}");
    assert!(sweeps[1].contains("0 tenants expired"), "{sweeps:?}");

    assert!(!work.join("keys/acme.kek").exists(), "the KEK is destroyed");
    assert_eq!(files_under(&region), 0, "no sealed object is left");
    assert_eq!(backend.tenants(&work, "acme"), 0, "no metadata is left");
    let out = backend.run(&["report", "--work", "w", "--tenant", "acme"], cwd);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("which tenant \"acme\" does not have"),
        "{}",
        text(&out)
    );
}

/// Issue 14: `admin sweep` run without the production blob store (S3) or key directory
/// deletes nothing it does not hold and says so: the succeeded migration's objects stay in
/// their bucket, listed as left with where they are; a tenant whose key file is elsewhere
/// keeps it and is not reported expired. The sweep with the migration's own stores then
/// does it all.
fn a_sweep_without_the_production_stores_deletes_nothing_it_does_not_hold(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let work = cwd.join("w");
    let out = airlock(&["gen-backup", "b.zip", "--issues", "40"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    let out = backend.run(
        &[
            "migrate",
            "b.zip",
            "--work",
            "w",
            "--target",
            "local:site.db",
            "--tenant",
            "acme",
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out));
    let region = backend.region_dir(&work, Region::UsEast1);
    let objects = files_under(&region);
    assert!(objects > 0);

    if matches!(backend, Backend::PostgresAndS3(_)) {
        // The operator forgot the blob store: this sweep has the work directory's.
        let out = backend
            .command(cwd)
            .env_remove("AIRLOCK_BLOBS")
            .args(["admin", "sweep", "--work", "w"])
            .output()
            .unwrap();
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        assert!(t.contains("0 migrations' data deleted (0 blobs)"), "{t}");
        assert!(t.contains("1 left, their data not deleted"), "{t}");
        assert!(t.contains("its data is in s3:https://127.0.0.1:"), "{t}");
        assert!(t.contains("run the sweep with that blob store"), "{t}");
        assert_eq!(
            files_under(&region),
            objects,
            "the objects stay in the bucket"
        );
    }

    // The licence ended long ago; the sweep has another key directory.
    let out = backend.run(
        &[
            "admin",
            "licence",
            "--tenant",
            "acme",
            "--ends",
            "2020-01-31",
            "--work",
            "w",
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = backend
        .command(cwd)
        .env("AIRLOCK_KEYS", cwd.join("other-keys"))
        .args(["admin", "sweep", "--work", "w"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("1 migrations' data deleted"), "{t}");
    assert!(t.contains("0 tenants expired"), "{t}");
    assert!(
        t.contains("tenant acme: its key-encryption key is in file:"),
        "{t}"
    );
    assert!(t.contains("run the sweep with that key provider"), "{t}");
    assert_eq!(files_under(&region), 0, "no sealed object is left");
    assert!(work.join("keys/acme.kek").exists(), "the KEK stays");
    assert!(backend.tenants(&work, "acme") > 0, "the tenant's rows stay");

    // With the migration's own stores: the tenant goes, and its KEK.
    let out = backend.run(&["admin", "sweep", "--work", "w"], cwd);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("1 tenants expired"), "{t}");
    assert!(!t.contains(" left, "), "{t}");
    assert!(!work.join("keys/acme.kek").exists(), "the KEK is destroyed");
    assert_eq!(backend.tenants(&work, "acme"), 0, "no metadata is left");
}

/// Issue 14: creating a migration is all or nothing. When its last step fails (writing
/// the work directory's `migration.json`, here through a link to a folder that does not
/// exist), no row of the tenant is left in the metadata store (tenant, migration, key,
/// audit event), nor the file; the next run sets it up whole. Then the migration opens
/// only with the stores it recorded.
fn a_failed_setup_leaves_nothing_and_a_migration_opens_only_with_its_stores(backend: Backend) {
    use std::os::unix::fs::{DirBuilderExt, symlink};
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let work = cwd.join("w");
    let out = airlock(&["gen-backup", "b.zip", "--issues", "30"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&work)
        .unwrap();
    let file = work.join("migration.json");
    symlink(cwd.join("missing/migration.json"), &file).unwrap();
    let check = || backend.run(&["check", "b.zip", "--work", "w", "--tenant", "acme"], cwd);

    let out = check();
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("nothing of it was kept"), "{t}");
    assert_eq!(backend.tenants(&work, "acme"), 0, "a row was left: {t}");
    assert!(file.symlink_metadata().is_err(), "the file is removed");

    let out = check();
    assert!(out.status.success(), "{}", text(&out));
    assert!(backend.tenants(&work, "acme") > 0);

    let out = backend
        .command(cwd)
        .env("AIRLOCK_KEYS", cwd.join("other-keys"))
        .args(["check", "b.zip", "--work", "w", "--tenant", "acme"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("keeps its data in"), "{t}");
    assert!(
        t.contains("run it with the migration's blob store and keys"),
        "{t}"
    );
}

/// Every entry of the tree at `root` (itself included) that is not private: a folder not
/// 0700, a file not 0600, or anything else (a link, a pipe…); and how many files it holds.
fn not_private(root: &Path) -> (Vec<String>, usize) {
    use std::os::unix::fs::PermissionsExt;
    let (mut wrong, mut files) = (Vec::new(), 0);
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            if mode != 0o700 {
                wrong.push(format!("folder {} is {mode:o}", path.display()));
            }
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if meta.is_file() {
            files += 1;
            if mode != 0o600 {
                wrong.push(format!("file {} is {mode:o}", path.display()));
            }
        } else {
            wrong.push(format!("{} is neither a file nor a folder", path.display()));
        }
    }
    (wrong, files)
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Issue 13, item 9. With every default (work directory `airlock-work`, no `--target`), a
/// `check` and then a `migrate` with attachment files leave the work directory and the
/// local site private: every folder 0700, every file 0600 (metadata store, key, state,
/// staged rows, sealed objects, the site and its attachment files). The local site, which
/// holds the customer's data in clear, is not in the work directory but beside it.
#[test]
fn a_fresh_work_directory_and_the_local_site_beside_it_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(
        &[
            "gen-backup",
            "b.zip",
            "--issues",
            "200",
            "--attachments",
            "home",
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out));
    let backend = Backend::sqlite_and_local_directory();
    let (work, site) = (cwd.join("airlock-work"), cwd.join("airlock-work-site"));

    let out = backend.run(&["check", "b.zip"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    let (wrong, files) = not_private(&work);
    assert!(wrong.is_empty(), "after check: {wrong:#?}");
    assert!(files >= 4, "the walk saw the work: {files} files");
    assert!(!site.exists(), "check does not touch the target");

    let out = backend.run(&["migrate", "b.zip", "--attachments", "home"], cwd);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_all_verified(&report_json(&backend, cwd, "airlock-work", &[]));
    assert!(site.join("site.db").is_file(), "the default site: {t}");
    assert!(
        !work.join("site.db").exists(),
        "the site in clear is not in the work directory"
    );
    let (wrong, files) = not_private(&work);
    assert!(
        wrong.is_empty(),
        "the work directory after migrate: {wrong:#?}"
    );
    assert!(files >= 5, "{files} files in the work directory");
    let (wrong, files) = not_private(&site);
    assert!(wrong.is_empty(), "the local site after migrate: {wrong:#?}");
    assert!(files >= 2, "the site and its attachment files: {files}");
}

/// An existing work directory open to others (0755) is made 0700 before anything is
/// written in it; one that belongs to another user is refused (as root, the test makes
/// one for `nobody`).
#[test]
fn an_open_work_directory_is_tightened_and_another_users_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(&["gen-backup", "b.zip", "--issues", "100"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    let backend = Backend::sqlite_and_local_directory();

    let work = cwd.join("w");
    std::fs::create_dir(&work).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = backend.run(&["check", "b.zip", "--work", "w"], cwd);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(mode_of(&work), 0o700, "{t}");
    assert!(t.contains("it is now 0700"), "the operator is told: {t}");
    let (wrong, _) = not_private(&work);
    assert!(wrong.is_empty(), "{wrong:#?}");

    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let theirs = cwd.join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let out = backend.run(&["check", "b.zip", "--work", "theirs"], cwd);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains("theirs belongs to another user"), "{t}");
        assert!(t.contains("choose a directory of your own"), "{t}");
        assert_eq!(files_under(&theirs), 0, "nothing is written there");
    } else {
        eprintln!("not root: the other user's directory is not tried");
    }
}

/// A work directory, or the default local site's directory, that is a symbolic link is
/// refused with the path and what to do, and nothing is written where it points. A work
/// directory holding a site of an earlier version (site.db inside it) is refused with how
/// to move it, rather than resumed into a new, empty site.
#[test]
fn a_work_directory_or_local_site_that_is_a_symbolic_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(&["gen-backup", "b.zip", "--issues", "100"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    let backend = Backend::sqlite_and_local_directory();

    std::fs::create_dir(cwd.join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(cwd.join("elsewhere"), cwd.join("w")).unwrap();
    let out = backend.run(&["check", "b.zip", "--work", "w"], cwd);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("w is a symbolic link"), "{t}");
    assert!(t.contains("remove the link"), "{t}");
    // A trailing slash, which makes the system follow the link, changes nothing.
    let out = backend.run(&["check", "b.zip", "--work", "w/"], cwd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is a symbolic link"), "{}", text(&out));
    assert_eq!(files_under(&cwd.join("elsewhere")), 0, "nothing written");

    std::fs::create_dir(cwd.join("elsewhere2")).unwrap();
    std::os::unix::fs::symlink(cwd.join("elsewhere2"), cwd.join("w2-site")).unwrap();
    let out = backend.run(&["migrate", "b.zip", "--work", "w2"], cwd);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("w2-site is a symbolic link"), "{t}");
    assert_eq!(files_under(&cwd.join("elsewhere2")), 0, "nothing written");

    let out = backend.run(&["check", "b.zip", "--work", "w3"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(cwd.join("w3/site.db"), b"").unwrap();
    let out = backend.run(&["migrate", "b.zip", "--work", "w3"], cwd);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("from an earlier version"), "{t}");
    assert!(t.contains("--target local:w3/site.db"), "{t}");
    assert!(!cwd.join("w3-site").exists(), "{t}");
}

/// The suspicion "the tenant can come from an unauthenticated migration.json": the
/// tenant is the operator's (--tenant / AIRLOCK_TENANT, `local` by default), and the work
/// directory's migration.json only names a migration the metadata store must know for
/// that tenant. Before, a run without --tenant took the file's tenant, so whoever could
/// write the file chose whose data (store rows, key) the operator's run opened.
fn a_work_directory_opens_only_a_migration_the_store_knows_for_the_operators_tenant(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(&["gen-backup", "b.zip", "--issues", "100"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    let check = |work: &str, tenant: Option<&str>| {
        let mut args = vec!["check", "b.zip", "--work", work];
        if let Some(tenant) = tenant {
            args.extend(["--tenant", tenant]);
        }
        backend.run(&args, cwd)
    };
    let refused = |out: Output, says: &str| {
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains(says), "{says:?} missing: {t}");
    };
    assert!(check("w", Some("acme")).status.success());
    // Another tenant's migration, in the same metadata store on PostgreSQL.
    assert!(check("g", Some("globex")).status.success());
    let read = |work: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(cwd.join(work).join("migration.json")).unwrap())
            .unwrap()
    };
    let (acme, globex) = (read("w"), read("g"));
    let write = |value: &serde_json::Value| {
        std::fs::write(
            cwd.join("w/migration.json"),
            serde_json::to_vec(value).unwrap(),
        )
        .unwrap()
    };

    // No --tenant: the default tenant, not the file's.
    refused(
        check("w", None),
        "holds a migration of tenant \"acme\", not of tenant \"local\"",
    );
    assert!(check("w", Some("acme")).status.success(), "its own tenant");

    // The file edited to name globex's migration: refused whoever runs it.
    write(&globex);
    refused(
        check("w", Some("acme")),
        "holds a migration of tenant \"globex\", not of tenant \"acme\"",
    );
    refused(check("w", None), "holds a migration of tenant \"globex\"");
    let mut forged = acme.clone();
    forged["migration"] = globex["migration"].clone();
    write(&forged);
    refused(
        check("w", Some("acme")),
        &format!(
            "names migration {}, which tenant \"acme\" does not have",
            globex["migration"]
        ),
    );
    forged["migration"] = serde_json::json!("00000000000000000000000000000000");
    write(&forged);
    refused(
        check("w", Some("acme")),
        "which tenant \"acme\" does not have in the metadata store",
    );
    let mut forged = acme.clone();
    forged["region"] = serde_json::json!("eu-west-1");
    write(&forged);
    refused(check("w", Some("acme")), "the file was changed");

    write(&acme);
    assert!(check("w", Some("acme")).status.success(), "restored");
}

/// One phase's sealed report, from `airlock report --format json`.
fn json_report(backend: &Backend, cwd: &Path, work: &str, name: &str) -> serde_json::Value {
    report_json(backend, cwd, work, &[])[name].clone()
}

/// Every real-world shape planted (`Spec::realistic`): the migration exits 0, each orphan
/// is listed as skipped with its row and counted as skipped in the verification; with
/// `--strict` (or `"orphans": "block"`) it exits 1 naming them, and nothing is loaded.
fn a_realistic_backup_migrates_with_each_orphan_skipped_and_strict_refuses_them(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let spec = airlock_fixtures::Spec {
        realistic: true,
        ..airlock_fixtures::Spec::default()
    };
    let generated = airlock_fixtures::write_backup(&cwd.join("b.zip"), &spec).unwrap();
    let planted: std::collections::BTreeSet<(String, String, Option<u64>)> = generated
        .planted_realistic
        .iter()
        .filter(|p| p.check == "orphan-skipped")
        .map(|p| (p.entity.to_owned(), p.id.clone(), p.line))
        .collect();
    assert_eq!(planted.len(), 49);

    // sysadmin@localhost cannot be invited to Jira Cloud: the override file maps it to an
    // account the site has.
    let site = cwd.join("site.db");
    let account = LocalSite::open(&site)
        .unwrap()
        .add_user(Some("ops@example.com"), "Ops")
        .unwrap();
    let overrides = serde_json::json!({
        "users": { airlock_fixtures::sysadmin_key(spec.flavour): account }
    });
    std::fs::write(cwd.join("o.json"), overrides.to_string()).unwrap();
    let target = format!("local:{}", site.display());
    let out = backend.run(
        &[
            "migrate",
            "b.zip",
            "--work",
            "w",
            "--target",
            &target,
            "--overrides",
            "o.json",
        ],
        cwd,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");

    let integrity = json_report(&backend, cwd, "w", "integrity");
    let listed: std::collections::BTreeSet<(String, String, Option<u64>)> = integrity["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert!(!o["missing"].as_str().unwrap().is_empty(), "{o}");
            (
                o["entity"].as_str().unwrap().to_owned(),
                o["id"].as_str().unwrap().to_owned(),
                o["line"].as_u64(),
            )
        })
        .collect();
    assert_eq!(listed, planted);
    // Ten are left out of a record as they are read (a custom field context's row of a
    // deleted project, an option of a deleted configuration, a screen scheme's row of a
    // deleted screen, an issue type screen scheme's of a deleted issue type, a field
    // configuration scheme's of a deleted configuration and of a deleted issue type, a
    // workflow scheme's of a deleted workflow and of a deleted issue type, an issue type
    // scheme's of a deleted issue type and its context of a deleted project): no record
    // to skip.
    let left_out: u64 = integrity["left_out"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(left_out, 10, "{}", integrity["left_out"]);
    assert!(t.contains("2 ConfigurationContext rows"), "{t}");
    let skipped: u64 = integrity["skipped"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(skipped + left_out, planted.len() as u64);

    // The verification counts them: source = target + mapped + skipped, every kind.
    let verify = json_report(&backend, cwd, "w", "verify");
    let mut skipped_in_verify = 0;
    for row in verify.as_array().unwrap() {
        let n = |f: &str| row[f].as_u64().unwrap();
        assert_eq!(
            n("target") + n("mapped") + n("skipped"),
            n("source"),
            "{row}"
        );
        assert_eq!((n("failed"), row["ok"].as_bool()), (0, Some(true)), "{row}");
        skipped_in_verify += n("skipped");
    }
    assert_eq!(skipped_in_verify + left_out, planted.len() as u64);
    // Orphans never reached the target.
    let labels = LocalSite::open(&site).unwrap().counts().unwrap()[&Kind::Label];
    assert_eq!(labels + 1, generated.entity_counts["Label"]);
    let html = report(&backend, cwd, "w", &[]);
    assert!(
        html.contains("Coverage") && html.contains("FooBarUnknownThing"),
        "{html}"
    );

    // --strict: fatal, each named in the report, nothing loaded.
    let site2 = cwd.join("site2.db");
    let target2 = format!("local:{}", site2.display());
    let out = backend.run(
        &[
            "migrate",
            "b.zip",
            "--work",
            "w2",
            "--target",
            &target2,
            "--overrides",
            "o.json",
            "--strict",
        ],
        cwd,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let integrity = json_report(&backend, cwd, "w2", "integrity");
    let blocked = integrity["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["check"] == "orphan-blocked")
        .unwrap();
    assert_eq!(blocked["severity"], "fatal");
    assert_eq!(blocked["count"].as_u64(), Some(planted.len() as u64));
    assert_eq!(
        integrity["orphans"].as_array().unwrap().len(),
        planted.len()
    );
    assert_eq!(issues_loaded(&site2), 0, "nothing may reach the target");

    // The override file says the same.
    let overrides = serde_json::json!({
        "users": { airlock_fixtures::sysadmin_key(spec.flavour): account },
        "orphans": "block"
    });
    std::fs::write(cwd.join("o2.json"), overrides.to_string()).unwrap();
    let out = backend.run(
        &["check", "b.zip", "--work", "w3", "--overrides", "o2.json"],
        cwd,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

/// An element type Airlock has never heard of is listed by `check` with its row count, in
/// the sealed report and on the screen.
fn check_lists_an_unknown_element_type_with_its_count(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(
        &["gen-backup", "b.zip", "--issues", "200", "--realistic"],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = backend.run(&["check", "b.zip", "--work", "w"], cwd);
    let t = text(&out);
    // sysadmin@localhost blocks until the override file maps it.
    assert_eq!(out.status.code(), Some(1), "{t}");
    let integrity = json_report(&backend, cwd, "w", "integrity");
    assert!(
        checks(&integrity["findings"], "fatal").contains(&"invalid-email".to_owned()),
        "{}",
        integrity["findings"]
    );
    let entries = integrity["coverage"]["entries"].as_array().unwrap();
    let unknown = entries
        .iter()
        .find(|e| e["element"] == "FooBarUnknownThing")
        .unwrap();
    assert_eq!(unknown["rows"].as_u64(), Some(3));
    assert_eq!(unknown["not_migrated"].as_u64(), Some(3));
    assert_eq!(unknown["status"], "unknown");
    let line = t
        .lines()
        .find(|l| l.contains("FooBarUnknownThing"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(line.contains(" 3 "), "{line}");
    // Every element type of entities.xml is accounted for.
    for e in entries {
        let n = |f: &str| e[f].as_u64().unwrap();
        assert_eq!(
            n("rows"),
            n("migrated") + n("skipped") + n("not_migrated"),
            "{e}"
        );
    }
}

/// The README's demo, twice in a row, on this backend's storage: both runs succeed, and
/// neither logs an `ERROR` (`Backend::run` checks it).
fn the_demo_runs_twice_and_prints_no_error(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    for run in ["first", "second"] {
        let out = backend.run(&["demo", "--dir", "demo", "--issues", "600"], cwd);
        let t = text(&out);
        assert!(out.status.success(), "{run} run: {t}");
        assert!(
            t.contains("Timesheet Builder data migrated"),
            "{run} run: {t}"
        );
    }
}

/// What a successful `airlock args…` printed, as JSON.
fn json_of(backend: &Backend, cwd: &Path, args: &[&str]) -> serde_json::Value {
    let out = backend.run(args, cwd);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("the JSON parses")
}

/// Rows the target refuses, as an operator meets them (`Spec::unwritable`): `migrate`
/// exits 3 and `airlock failures` and `airlock report` name each one (kind, id, code, and
/// the override that fixes it); once the override file answers them, the next `migrate`
/// retries them, writes each exactly once and exits 0.
fn a_refused_row_is_listed_then_written_once_after_its_override(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let spec = airlock_fixtures::Spec {
        issues: 200,
        unwritable: true,
        ..airlock_fixtures::Spec::default()
    };
    let generated = airlock_fixtures::write_backup(&cwd.join("b.zip"), &spec).unwrap();
    let label = generated
        .planted_unwritable
        .iter()
        .find(|p| p.entity == "Label")
        .unwrap()
        .id
        .clone();
    let worklog = generated
        .planted_unwritable
        .iter()
        .find(|p| p.entity == "Worklog")
        .unwrap()
        .id
        .clone();
    let filter = generated
        .planted_unwritable
        .iter()
        .find(|p| p.entity == "SearchRequest")
        .unwrap()
        .id
        .clone();
    let site = cwd.join("site.db");
    let target = format!("local:{}", site.display());
    let migrate = |overrides: &serde_json::Value| {
        std::fs::write(cwd.join("o.json"), overrides.to_string()).unwrap();
        backend.run(
            &[
                "migrate",
                "b.zip",
                "--work",
                "w",
                "--target",
                &target,
                "--overrides",
                "o.json",
            ],
            cwd,
        )
    };

    let out = migrate(&serde_json::json!({}));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let listed = json_of(
        &backend,
        cwd,
        &["failures", "--work", "w", "--format", "json"],
    );
    let report = json_of(
        &backend,
        cwd,
        &["report", "--work", "w", "--format", "json"],
    );
    for rows in [&listed, &report["failures"]] {
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 3, "{rows:?}");
        for (kind, id, field, code) in [
            ("label", &label, "label", "invalid-value"),
            ("worklog", &worklog, "time_spent", "invalid-value"),
            ("filter", &filter, "jql", "missing-reference"),
        ] {
            let row = rows
                .iter()
                .find(|r| r["kind"] == kind && r["id"] == id.as_str())
                .unwrap_or_else(|| panic!("{kind} {id} not listed: {rows:?}"));
            assert_eq!(row["code"], code, "{row}");
            let reason = row["reason"].as_str().unwrap();
            // Which override fixes it, spelled out.
            assert!(
                reason.contains(&format!(
                    "\"rows\": {{\"{kind}\": {{\"{id}\": {{\"{field}\""
                )),
                "{reason}"
            );
        }
    }
    // Predicted in the plan before the load.
    let predicted = report["plan"]["rows"].as_array().unwrap();
    assert_eq!(
        predicted
            .iter()
            .filter(|r| r["outcome"] == "refused")
            .count(),
        3,
        "{predicted:?}"
    );
    let labels = |site: &Path| LocalSite::open(site).unwrap().counts().unwrap()[&Kind::Label];
    let before = labels(&site);

    let fixed = serde_json::json!({
        "rows": {
            "label": { label.as_str(): { "label": airlock_fixtures::UNWRITABLE_LABEL_FIX } },
            "worklog": { worklog.as_str(): { "time_spent": 600 } },
            "filter": { filter.as_str(): { "jql": airlock_fixtures::unwritable_query_fix() } },
        }
    });
    let out = migrate(&fixed);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(labels(&site), before + 1, "the label is written once");
    let mut local = LocalSite::open(&site).unwrap();
    for (kind, id) in [
        (Kind::Label, &label),
        (Kind::Worklog, &worklog),
        (Kind::Filter, &filter),
    ] {
        assert!(
            local.find_written(kind, std::slice::from_ref(id)).unwrap()[0].is_some(),
            "{kind:?} {id} written"
        );
    }
    drop(local);
    let listed = json_of(
        &backend,
        cwd,
        &["failures", "--work", "w", "--format", "json"],
    );
    assert_eq!(listed, serde_json::json!([]));

    // A rerun has nothing to retry and writes nothing twice.
    let out = migrate(&fixed);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(labels(&site), before + 1);
}

/// Issue 15, signed approvals: an unsigned plugin, one altered after signing (one byte), one
/// signed but not approved, and one approved by a reviewer the operator does not trust are
/// each refused before anything runs (exit 2, naming the file and what to do); the signed
/// and approved one runs, audited with its reviewer; `--unreviewed` runs an unsigned one,
/// audited as such and marked in the report.
fn migrate_runs_only_signed_plugins_a_trusted_reviewer_approved_unless_unreviewed(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(&["gen-backup", "b.zip", "--issues", "200"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    let (signed, reviewer) = signed_and_approved_plugin(&backend, cwd);
    let sig = |p: &str| format!("{p}.sig");
    let copy = |from: &str, to: &str| std::fs::copy(cwd.join(from), cwd.join(to)).unwrap();

    copy(&signed, "unsigned.wasm");
    copy(&signed, "altered.wasm");
    copy(&sig(&signed), &sig("altered.wasm"));
    let mut bytes = std::fs::read(cwd.join("altered.wasm")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(cwd.join("altered.wasm"), bytes).unwrap();
    copy(&signed, "unapproved.wasm");
    copy(&sig(&signed), &sig("unapproved.wasm"));

    let refused: [(&str, &[&str], &str); 4] = [
        ("unsigned.wasm", &[], "is not signed"),
        ("altered.wasm", &[], "is not the build its vendor signed"),
        ("unapproved.wasm", &[], "has no approval"),
        (&signed, &["--trust-reviewer", "00ff"], "does not trust"),
    ];
    for (plugin, more, message) in refused {
        let work = format!("w-{plugin}");
        let trust = ["--trust-reviewer", reviewer.as_str()];
        let more = if more.is_empty() { &trust[..] } else { more };
        let args = [
            &["migrate", "b.zip", "--work", &work, "--plugin", plugin][..],
            more,
        ]
        .concat();
        let out = backend.run(&args, cwd);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{plugin}: {t}");
        assert!(t.contains(message) && t.contains(plugin), "{plugin}: {t}");
        assert!(
            !cwd.join(&work).exists(),
            "{plugin}: refused before anything ran"
        );
    }

    let out = backend.run(
        &[
            "migrate",
            "b.zip",
            "--work",
            "w",
            "--plugin",
            &signed,
            "--trust-reviewer",
            &reviewer,
        ],
        cwd,
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(!t.contains("UNREVIEWED"), "{t}");
    let work = cwd.join("w");
    assert_eq!(backend.audit_events(&work, "plugin-approved", &reviewer), 1);
    assert_eq!(backend.audit_events(&work, "plugin-unreviewed", ""), 0);
    assert_eq!(
        json_report(&backend, cwd, "w", "apps")[0]["unreviewed"],
        false
    );

    let out = backend.run(
        &[
            "migrate",
            "b.zip",
            "--work",
            "w2",
            "--plugin",
            "unsigned.wasm",
            "--unreviewed",
        ],
        cwd,
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("runs UNREVIEWED"), "{t}");
    let work = cwd.join("w2");
    assert_eq!(backend.audit_events(&work, "plugin-unreviewed", ""), 1);
    assert_eq!(
        json_report(&backend, cwd, "w2", "apps")[0]["unreviewed"],
        true
    );
}

/// Contract 1.0 (Timesheet Builder) and 2.0 (a team directory that publishes its teams'
/// ids, badges that resolve them) in one `migrate`, the consumer enabled first and given a
/// narrower consent than it asks (its optional `jira:issue` withheld); a rerun republishes
/// the same ids and changes nothing.
fn plugins_of_both_contract_versions_migrate_together_each_with_its_consent(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(&["gen-backup", "b.zip", "--issues", "200"], cwd);
    assert!(out.status.success(), "{}", text(&out));
    let args = [
        "migrate",
        "b.zip",
        "--work",
        "w",
        "--plugin",
        airlock_plugin_artifacts::TEAM_BADGES,
        "--grant",
        "app:com.acme.teams:team,app-data-other",
        "--plugin",
        airlock_plugin_artifacts::TEAM_DIRECTORY,
        "--plugin",
        airlock_plugin_artifacts::TIMESHEET_BUILDER,
        "--unreviewed",
    ];
    for run in ["first", "rerun"] {
        let out = backend.run(&args, cwd);
        let t = text(&out);
        assert!(out.status.success(), "{run}: {t}");
        let apps = json_report(&backend, cwd, "w", "apps");
        let app = |key: &str| {
            (apps.as_array().unwrap().iter())
                .find(|a| a["app"] == key)
                .unwrap_or_else(|| panic!("{key} in {apps:#}"))
                .clone()
        };
        let (directory, badges) = (app("com.acme.teams"), app("com.acme.badges"));
        let teams = directory["outputs"].as_u64().unwrap();
        assert!(teams > 0, "{directory:#}");
        assert_eq!(directory["published"]["app:com.acme.teams:team"], teams);
        assert_eq!(
            badges["namespaces"],
            serde_json::json!(["app:com.acme.teams:team"])
        );
        assert_eq!(badges["outputs"], badges["rows"], "{run}: {badges:#}");
        assert_eq!(badges["failed"], serde_json::json!([]), "{run}: {badges:#}");
        assert_eq!(
            app("com.actonic.jira.timesheet-builder")["failed"],
            serde_json::json!([])
        );
    }
    let mut site = LocalSite::open(&cwd.join("w-site").join("site.db")).unwrap();
    let docs = site
        .app_documents(&airlock_model::AppKey::new("com.acme.badges"), "badges")
        .unwrap();
    assert!(!docs.is_empty());
    for (id, body) in docs {
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            body["team"]
                .as_str()
                .is_some_and(|t| t.starts_with("team-")),
            "{id}: {body}"
        );
        assert!(
            body["issue"].is_null(),
            "jira:issue was withheld: {id}: {body}"
        );
    }
}

/// The operator's rehearsal: `airlock cloud-double` in one process (with faults), a
/// migration pointed at it from another, as the command itself says to.
#[test]
fn a_cloud_migration_is_rehearsed_against_the_double_the_cli_serves() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let files = backup_with_files(cwd, 60);

    // Anything but loopback is refused: the double checks no password.
    let out = airlock(&["cloud-double", "--listen", "0.0.0.0:0"], cwd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not a loopback address"),
        "{}",
        text(&out)
    );

    let backend = Backend::sqlite_and_local_directory();
    let mut double = backend
        .command(cwd)
        .args([
            "cloud-double",
            "--listen",
            "127.0.0.1:0",
            "--faults",
            "rate-limited=0.2,retry-after=1,max-throttles=3",
            "--site",
            "cloud.db",
            "--ca-out",
            "ca.pem",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the double starts");
    let mut said = String::new();
    let mut lines = std::io::BufReader::new(double.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("it says where it listens").unwrap();
        said.push_str(&line);
        said.push('\n');
        if let Some(at) = line.find("https://127.0.0.1:") {
            let url: String = line[at..].split_whitespace().next().unwrap().to_owned();
            break url;
        }
    };
    for line in lines.by_ref().take(5) {
        said.push_str(&line.unwrap());
        said.push('\n');
    }
    assert!(said.contains("AIRLOCK_JIRA_CA=ca.pem"), "{said}");
    assert!(said.contains(&format!("--target {url}")), "{said}");

    let out = backend
        .command(cwd)
        .args(["migrate", "b.zip", "--work", "w", "--target", &url])
        .args(["--attachments", "home"])
        .env("AIRLOCK_JIRA_EMAIL", "rehearsal@example.com")
        .env("AIRLOCK_JIRA_TOKEN", "rehearsal")
        .env("AIRLOCK_JIRA_CA", cwd.join("ca.pem"))
        .output()
        .unwrap();
    let _ = double.kill();
    let _ = double.wait();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_all_verified(&report_json(&backend, cwd, "w", &[]));
    assert_files_stored(&cwd.join("cloud.db"), files);
    let mut site = LocalSite::open(&cwd.join("cloud.db")).unwrap();
    assert_eq!(site.counts().unwrap().get(&Kind::Issue), Some(&60));
    for kind in Kind::ALL {
        assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
    }
}
