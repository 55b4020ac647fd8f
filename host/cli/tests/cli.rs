//! The `airlock` binary as a user runs it: exit codes and what it prints.

use std::path::Path;
use std::process::{Command, Output};

fn airlock(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .current_dir(cwd)
        .env("AIRLOCK_CACHE_DIR", cwd.join("cache"))
        .output()
        .expect("airlock runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn demo_migrates_the_timesheet_builder_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = airlock(&["demo", "--dir", "demo"], dir.path());
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("Timesheet Builder data migrated"), "{text}");
    // The app's phase is rendered from the pipeline's events, with the operator's consent.
    assert!(
        text.contains("app com.actonic.jira.timesheet-builder: ")
            && text.contains("tables; the operator consented to"),
        "{text}"
    );
    assert!(
        !text.contains("batch(es) failed") && !text.contains('✗'),
        "{text}"
    );
    // The demo checks its own work directory for the values it planted in the source.
    assert!(
        text.contains("none in clear; the target holds them"),
        "{text}"
    );
    // Nothing went wrong that only a log line tells (an audit event lost, say).
    assert!(!stderr(&out).contains("ERROR"), "{}", stderr(&out));

    // The README's command twice in a row: the second run starts over, it does not find
    // the first run's projects in the rehearsal site and refuse.
    let again = airlock(&["demo", "--dir", "demo"], dir.path());
    let text = stdout(&again);
    assert!(again.status.success(), "{text}\n{}", stderr(&again));
    assert!(text.contains("Timesheet Builder data migrated"), "{text}");
    assert!(!stderr(&again).contains("ERROR"), "{}", stderr(&again));
}

#[test]
fn demo_with_broken_rows_is_blocked_by_fatal_findings() {
    let dir = tempfile::tempdir().unwrap();
    let out = airlock(&["demo", "--dir", "demo", "--broken"], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // The member of a missing team breaks a declared foreign key of the enabled app's
    // tables: the integrity check blocks the whole migration before anything is loaded.
    assert!(text.contains("ao-dangling-foreign-key"), "{text}");
    assert!(text.contains("AO_09EAEF_TEAM_MEMBER"), "{text}");
    assert!(text.contains("blocked: fix the"), "{text}");
    assert!(!text.contains("data migrated in"), "{text}");
}

#[test]
fn plugin_run_prints_per_batch_usage_and_exits_by_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = airlock_plugin_artifacts::TIMESHEET_BUILDER;
    assert!(
        airlock(&["plugin", "fixture", "good"], dir.path())
            .status
            .success()
    );
    let out = airlock(&["plugin", "run", wasm, "--fixture", "good"], dir.path());
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    for expected in [
        "── AO_09EAEF_TEAM · batch 0",
        "fuel ",
        "peak memory ",
        "time ",
        "app-document teams/1",
        ", 0 failed, 0 fatal findings, 0 nondeterministic",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }

    assert!(
        airlock(&["plugin", "fixture", "bad", "--broken"], dir.path())
            .status
            .success()
    );
    let out = airlock(
        &["plugin", "run", wasm, "--fixture", "bad", "--json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let batches: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let failed: Vec<&serde_json::Value> = batches
        .iter()
        .filter(|b| b["migrate"]["error"]["code"] == "plugin-error")
        .collect();
    assert_eq!(failed.len(), 2, "the member and period batches are refused");
}

#[test]
fn plugin_inspect_shows_manifest_and_imports() {
    let dir = tempfile::tempdir().unwrap();
    let out = airlock(
        &[
            "plugin",
            "inspect",
            airlock_plugin_artifacts::TIMESHEET_BUILDER,
            "--json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["manifest"]["app_key"],
        "com.actonic.jira.timesheet-builder"
    );
    assert_eq!(v["artifact"]["sha256"].as_str().unwrap().len(), 64);
    assert!(
        v["artifact"]["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "airlock:plugin/mappings@1.0.0")
    );
    assert_eq!(v["table_prefix"], "AO_09EAEF_");
    assert!(
        v["manifest"]["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "app-data-ugc"),
        "scopes as the WIT spells them: {}",
        v["manifest"]["scopes"]
    );

    let out = airlock(
        &[
            "plugin",
            "inspect",
            airlock_plugin_artifacts::TIMESHEET_BUILDER,
        ],
        dir.path(),
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("table prefix AO_09EAEF_ "), "{text}");
    assert!(
        text.contains("data scopes  app-data-ugc, ") && !text.contains("APP_DATA"),
        "{text}"
    );
}

/// A fixture directory holding one `ID, NAME` table (the hostile plugins' `DATA`) with a
/// row per name.
fn data_fixture(dir: &Path, table: &str, names: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <backup xmlns=\"http://www.atlassian.com/ao\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n\
         <table name=\"{table}\">\n\
         <column name=\"ID\" primaryKey=\"true\" autoIncrement=\"true\" sqlType=\"-5\" precision=\"19\"/>\n\
         <column name=\"NAME\" primaryKey=\"false\" autoIncrement=\"false\" sqlType=\"12\" precision=\"255\"/>\n\
         </table>\n<data tableName=\"{table}\">\n<column name=\"ID\"/>\n<column name=\"NAME\"/>\n"
    );
    for (i, name) in names.iter().enumerate() {
        xml.push_str(&format!(
            "<row><integer>{}</integer><string>{name}</string></row>\n",
            i + 1
        ));
    }
    xml.push_str("</data>\n</backup>\n");
    std::fs::write(dir.join("activeobjects.xml"), xml).unwrap();
}

#[test]
fn plugin_run_caps_log_lines_and_keeps_bodies_whole_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let log_lines = |text: &str| text.lines().filter(|l| l.starts_with("    log ")).count();

    // A batch that logs until its quota stops it: 50 lines shown, the rest counted.
    data_fixture(&dir.path().join("flood"), "AO_F49F80_DATA", &["a"]);
    let flood = airlock_plugin_artifacts::HOSTILE_LOG_FLOOD;
    let out = airlock(&["plugin", "run", flood, "--fixture", "flood"], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(text.contains("FAILED [log-quota]"), "{text}");
    assert_eq!(log_lines(&text), 50, "{text}");
    assert!(text.contains("more log lines (--full shows all)"), "{text}");
    assert!(
        text.contains("more characters; --full shows all"),
        "a 1 KiB line is cut and says so: {text}"
    );
    let out = airlock(
        &["plugin", "run", flood, "--fixture", "flood", "--full"],
        dir.path(),
    );
    let text = stdout(&out);
    // The 64 KiB quota holds 63 of its 1 KiB lines.
    assert!(log_lines(&text) > 50, "{}", log_lines(&text));
    assert!(!text.contains("--full shows all"), "nothing cut");

    // An output body longer than a line: cut, saying by how much, or whole with --full.
    let long = format!("dns:{}.example", "x".repeat(300));
    data_fixture(&dir.path().join("escape"), "AO_91ADB2_DATA", &[&long]);
    let escape = airlock_plugin_artifacts::HOSTILE_SANDBOX_ESCAPE;
    let out = airlock(
        &["plugin", "run", escape, "--fixture", "escape"],
        dir.path(),
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("more characters; --full shows all") && !text.contains(&long),
        "{text}"
    );
    let out = airlock(
        &["plugin", "run", escape, "--fixture", "escape", "--full"],
        dir.path(),
    );
    let text = stdout(&out);
    let body = text
        .lines()
        .find(|l| l.starts_with("    app-document probe/1 "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        body.contains(&long) && body.contains("\"denied\""),
        "{body}"
    );
}

#[test]
fn plugin_run_shows_a_traps_panic_message() {
    let dir = tempfile::tempdir().unwrap();
    data_fixture(&dir.path().join("trap"), "AO_8A8014_DATA", &["a", "b", "c"]);
    let out = airlock(
        &[
            "plugin",
            "run",
            airlock_plugin_artifacts::HOSTILE_TRAP_MID_BATCH,
            "--fixture",
            "trap",
        ],
        dir.path(),
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("FAILED [trap]")
            && text.contains("the plugin's stderr ended with:")
            && text.contains("hostile plugin: trapping on the batch's third row"),
        "{text}"
    );
}

#[test]
fn bad_inputs_get_clear_errors_and_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    // Not a component.
    std::fs::write(dir.path().join("garbage.wasm"), b"definitely not wasm").unwrap();
    let out = airlock(&["plugin", "inspect", "garbage.wasm"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a valid WebAssembly component"),
        "{}",
        stderr(&out)
    );

    // Forbidden imports are refused, every one named at once.
    let out = airlock(
        &[
            "plugin",
            "inspect",
            airlock_plugin_artifacts::HOSTILE_FORBIDDEN_IMPORT,
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("`wasi:keyvalue/store@0.2.0-draft`")
            && err.contains("`acme:telemetry/beacon@1.0.0`")
            && !err.contains("wasi:filesystem"),
        "{err}"
    );

    // A fixture whose activeobjects.xml is cut off mid-row: the error names file and line.
    assert!(
        airlock(&["plugin", "fixture", "cut"], dir.path())
            .status
            .success()
    );
    let ao = dir.path().join("cut/activeobjects.xml");
    let text = std::fs::read_to_string(&ao).unwrap();
    let cut = text.find("<data tableName=\"AO_09EAEF_TEAM\"").unwrap() + 200;
    std::fs::write(&ao, &text[..cut]).unwrap();
    let out = airlock(
        &[
            "plugin",
            "run",
            airlock_plugin_artifacts::TIMESHEET_BUILDER,
            "--fixture",
            "cut",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("activeobjects.xml") && err.contains("line"),
        "{err}"
    );

    // A missing fixture directory says what a fixture is.
    let out = airlock(
        &[
            "plugin",
            "run",
            airlock_plugin_artifacts::TIMESHEET_BUILDER,
            "--fixture",
            "nowhere",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("mappings.json"), "{}", stderr(&out));
}

/// Issue 13, item 8: a 2 MB zip whose entities.xml holds one 2 GiB attribute made `airlock
/// check` take 10.5 GB. Now the reader refuses the element once it passes
/// `MAX_ELEMENT_BYTES`, naming file and line, and the check stays small.
#[test]
fn check_refuses_a_2_gib_attribute_in_bounded_memory() {
    const ATTRIBUTE: u64 = 2 << 30;
    const PEAK_LIMIT_KIB: i64 = 200 * 1000 * 1000 / 1024;
    // Past this the check is stopped, so a regression cannot take the machine down.
    const WATCHDOG_KIB: u64 = 2 << 20;

    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("hostile.zip");
    {
        use std::io::Write as _;
        let file = std::fs::File::create(&zip_path).unwrap();
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        // Level 1: the attribute is one repeated byte, and 2 GiB of it deflate in seconds.
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1));
        zip.start_file("entities.xml", options).unwrap();
        zip.write_all(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<entity-engine-xml>\n    \
              <ApplicationUser id=\"10000\" userKey=\"JIRAUSER10000\" lowerUserName=\"jsmith\"/>\n    \
              <Issue id=\"10000\" project=\"10000\" summary=\"",
        )
        .unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..ATTRIBUTE / chunk.len() as u64 {
            zip.write_all(&chunk).unwrap();
        }
        zip.write_all(b"\"/>\n</entity-engine-xml>\n").unwrap();
        zip.start_file("activeobjects.xml", options).unwrap();
        zip.write_all(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
              <backup xmlns=\"http://www.atlassian.com/ao\">\n</backup>\n",
        )
        .unwrap();
        zip.finish().unwrap().flush().unwrap();
    }
    assert!(std::fs::metadata(&zip_path).unwrap().len() < 20 << 20);

    let out = std::fs::File::create(dir.path().join("stdout")).unwrap();
    let err = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["check", "hostile.zip", "--work", "w"])
        .current_dir(dir.path())
        .env("AIRLOCK_CACHE_DIR", dir.path().join("cache"))
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("airlock runs");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data; zeroes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut stopped = false;
    loop {
        // SAFETY: `pid` is this test's own child, reaped only here; the pointers are to
        // live locals. wait4 (not `Child::wait`) reports the child's own peak RSS.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            break;
        }
        let os = std::io::Error::last_os_error();
        assert!(
            reaped == 0 || os.kind() == std::io::ErrorKind::Interrupted,
            "wait4: {os}"
        );
        let rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .unwrap_or(0);
        if rss_kib > WATCHDOG_KIB && !stopped {
            // SAFETY: signals this test's own, not yet reaped, child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            stopped = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop(child);
    let text = format!(
        "{}{}",
        std::fs::read_to_string(dir.path().join("stdout")).unwrap(),
        std::fs::read_to_string(dir.path().join("stderr")).unwrap()
    );
    let peak_kib = usage.ru_maxrss;
    eprintln!("airlock check: peak RSS {} MiB", peak_kib / 1024);
    assert!(
        !stopped,
        "the check passed {} MiB and was stopped",
        WATCHDOG_KIB >> 10
    );
    assert!(peak_kib < PEAK_LIMIT_KIB, "peak RSS {peak_kib} KiB: {text}");
    assert!(libc::WIFEXITED(status), "{text}");
    assert_ne!(libc::WEXITSTATUS(status), 0, "{text}");
    // The file, the line the element starts on, what is wrong and what to do.
    assert!(text.contains("entities.xml, line 4"), "{text}");
    let limit = format!(
        "larger than {} MiB",
        airlock_backup::MAX_ELEMENT_BYTES >> 20
    );
    assert!(text.contains(&limit), "{text}");
    assert!(text.contains("Make a fresh backup"), "{text}");
}

#[test]
fn plugins_are_compiled_once_into_the_users_cache_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = airlock_plugin_artifacts::TIMESHEET_BUILDER;
    let inspect = || {
        Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(["plugin", "inspect", wasm])
            .current_dir(dir.path())
            .env_remove("AIRLOCK_CACHE_DIR")
            .env_remove("XDG_CACHE_HOME")
            .env("HOME", dir.path())
            .output()
            .expect("airlock runs")
    };
    let first = inspect();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(!stdout(&first).contains("from cache"), "{}", stdout(&first));
    let cache = dir.path().join(".cache/airlock/plugins");
    assert!(
        cache.is_dir(),
        "the default cache is ~/.cache/airlock/plugins"
    );
    let again = inspect();
    assert!(
        stdout(&again).contains("(from cache)"),
        "a second run does not compile again: {}",
        stdout(&again)
    );
}

/// A fixture of `rows` Timesheet Builder user labels, every user mapped.
fn user_label_fixture(dir: &Path, rows: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let table = "AO_09EAEF_USER_LABEL";
    let column = |name: &str, pk: bool, sql: i32| {
        format!(
            "<column name=\"{name}\" primaryKey=\"{pk}\" autoIncrement=\"{pk}\" sqlType=\"{sql}\" precision=\"255\"/>\n"
        )
    };
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <backup xmlns=\"http://www.atlassian.com/ao\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n\
         <table name=\"{table}\">\n{}{}{}{}</table>\n<data tableName=\"{table}\">\n\
         <column name=\"ID\"/>\n<column name=\"USER_KEY\"/>\n<column name=\"LABEL\"/>\n<column name=\"COLOR\"/>\n",
        column("ID", true, -5),
        column("USER_KEY", false, 12),
        column("LABEL", false, 12),
        column("COLOR", false, 12),
    );
    let mut users = serde_json::Map::new();
    for i in 1..=rows {
        let user = format!("JIRAUSER{}", 10_000 + i % 250);
        let color = if i % 3 == 0 {
            "<string xsi:nil=\"true\"/>".to_owned()
        } else {
            format!("<string>#{:06x}</string>", i * 997)
        };
        xml.push_str(&format!(
            "<row><integer>{i}</integer><string>{user}</string><string>label {i}</string>{color}</row>\n"
        ));
        users.insert(user.clone(), format!("acc-{user}").into());
    }
    xml.push_str("</data>\n</backup>\n");
    std::fs::write(dir.join("activeobjects.xml"), xml).unwrap();
    let mappings = serde_json::json!({ "identity:user": users });
    std::fs::write(dir.join("mappings.json"), mappings.to_string()).unwrap();
}

/// `plugin run` of an example plugin in another language on 2,000 user labels: two full
/// 1,000-row batches within the default limits, each output as the Rust plugin would write
/// it, and the determinism check green; then a passing review in the sandbox.
fn example_runs_1000_row_batches_within_its_limits(wasm: &str, property: &str) {
    let dir = tempfile::tempdir().unwrap();
    user_label_fixture(&dir.path().join("labels"), 2000);
    let out = airlock(&["plugin", "run", wasm, "--fixture", "labels"], dir.path());
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    for expected in [
        "── AO_09EAEF_USER_LABEL · batch 0 · 1000 rows",
        "── AO_09EAEF_USER_LABEL · batch 1 · 1000 rows",
        &format!("acc-JIRAUSER10001 {property}.1 = "),
        "2 batches, 0 failed, 0 fatal findings, 0 nondeterministic",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    // And the reviewer's sandbox passes it.
    let out = airlock(&["sandbox", wasm, "--out", "review"], dir.path());
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("verdict: PASS"), "{text}");
}

#[test]
fn sandbox_writes_a_review_and_exits_by_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let out = airlock(
        &[
            "sandbox",
            airlock_plugin_artifacts::TIMESHEET_BUILDER,
            "--out",
            "tb",
            "--rows",
            "200",
        ],
        dir.path(),
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    for expected in [
        "verdict: PASS",
        "per row",
        "deterministic",
        "tb/review.html",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    let page = std::fs::read_to_string(dir.path().join("tb/review.html")).unwrap();
    assert!(page.contains("<b>PASS</b>") && page.contains("Transcript"));

    let out = airlock(
        &[
            "sandbox",
            airlock_plugin_artifacts::HOSTILE_TRAP_MID_BATCH,
            "--out",
            "trap",
        ],
        dir.path(),
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("verdict: FAIL") && text.contains("✗ trap:"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("trap/review.json")).unwrap())
            .unwrap();
    assert_eq!(json["passed"], false);
    assert_eq!(json["failures"][0]["code"], "trap");
}

#[test]
fn python_example_runs_1000_row_batches_within_its_limits() {
    example_runs_1000_row_batches_within_its_limits(
        airlock_plugin_artifacts::python_example(),
        "python-example.labels",
    );
}

#[test]
fn javascript_example_runs_1000_row_batches_within_its_limits() {
    example_runs_1000_row_batches_within_its_limits(
        airlock_plugin_artifacts::js_example(),
        "js-example.labels",
    );
}

/// Issue 15: a fixture from a real backup. Timesheet Builder's tables as the backup holds
/// them, a mapping for every user, issue and worklog they reference (users by user key),
/// and with `--scrub` no free text left (the canary team name): `plugin run` and the
/// sandbox both run clean on it.
#[test]
fn plugin_fixture_from_a_backup_takes_the_apps_tables_and_maps_every_reference() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(
        &["gen-backup", "b.zip", "--issues", "300", "--canaries"],
        cwd,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let app = "com.actonic.jira.timesheet-builder";
    let canary = airlock_fixtures::CANARIES[2];
    for (name, scrub) in [("plain", false), ("scrubbed", true)] {
        let mut args = vec!["plugin", "fixture", name, "--from", "b.zip", "--app", app];
        if scrub {
            args.push("--scrub");
        }
        let out = airlock(&args, cwd);
        let text = stdout(&out);
        assert!(out.status.success(), "{text}\n{}", stderr(&out));
        assert!(text.contains("AO_09EAEF_TEAM: "), "{text}");
        assert!(text.contains("identity:user: "), "{text}");
        let ao = std::fs::read_to_string(cwd.join(name).join("activeobjects.xml")).unwrap();
        let mappings: serde_json::Value =
            serde_json::from_slice(&std::fs::read(cwd.join(name).join("mappings.json")).unwrap())
                .unwrap();
        // Users keyed by user key, as the core load keys them (the admin's key is its
        // name, as on sites older than Jira 6: scrubbed to a token); issues by id.
        let users = mappings["identity:user"].as_object().unwrap();
        assert!(users.keys().any(|k| k.starts_with("JIRAUSER")), "{users:?}");
        assert_eq!(users.contains_key("admin"), !scrub, "{users:?}");
        if scrub {
            assert!(
                users
                    .keys()
                    .all(|k| k.starts_with("JIRAUSER") || k.starts_with("user-")),
                "{users:?}"
            );
        }
        assert!(!mappings["jira:issue"].as_object().unwrap().is_empty());
        // Only the app's own tables.
        assert!(!ao.contains("AO_60DB71_"), "another app's table was copied");
        assert_eq!(ao.contains(canary), !scrub, "{name}: the canary team name");

        let run = airlock(
            &[
                "plugin",
                "run",
                airlock_plugin_artifacts::TIMESHEET_BUILDER,
                "--fixture",
                name,
            ],
            cwd,
        );
        let text = stdout(&run);
        assert!(run.status.success(), "{name}: {text}\n{}", stderr(&run));
        assert!(
            text.contains(" 0 failed, 0 fatal findings"),
            "{name}: {text}"
        );
    }
    let review = airlock(
        &[
            "sandbox",
            airlock_plugin_artifacts::TIMESHEET_BUILDER,
            "--fixture",
            "scrubbed",
            "--rows",
            "200",
        ],
        cwd,
    );
    assert!(review.status.success(), "{}", stdout(&review));

    // A key with no table in the backup is refused, saying what to check.
    let out = airlock(
        &[
            "plugin",
            "fixture",
            "x",
            "--from",
            "b.zip",
            "--app",
            "com.acme.none",
        ],
        cwd,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("holds no table of the app"),
        "{}",
        stderr(&out)
    );
}

/// A reviewer can approve only a build the sandbox passed: a failing review, or a passing
/// review of another build, is refused.
#[test]
fn plugin_approve_needs_a_passing_sandbox_review_of_this_build() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let ok = |args: &[&str]| {
        let out = airlock(args, cwd);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    };
    std::fs::copy(
        airlock_plugin_artifacts::HOSTILE_TRAP_MID_BATCH,
        cwd.join("trap.wasm"),
    )
    .unwrap();
    std::fs::copy(
        airlock_plugin_artifacts::TIMESHEET_BUILDER,
        cwd.join("tb.wasm"),
    )
    .unwrap();
    ok(&["plugin", "keygen", "--out", "vendor.key"]);
    ok(&["plugin", "keygen", "--out", "reviewer.key"]);
    ok(&["plugin", "sign", "trap.wasm", "--key", "vendor.key"]);
    ok(&["plugin", "sign", "tb.wasm", "--key", "vendor.key"]);
    let review = airlock(&["sandbox", "trap.wasm", "--out", "trap-review"], cwd);
    assert_eq!(review.status.code(), Some(1), "{}", stdout(&review));
    ok(&["sandbox", "tb.wasm", "--out", "tb-review", "--rows", "100"]);

    let approve = |wasm: &str, review: &str| {
        airlock(
            &[
                "plugin",
                "approve",
                wasm,
                "--key",
                "reviewer.key",
                "--review",
                review,
            ],
            cwd,
        )
    };
    let out = approve("trap.wasm", "trap-review/review.json");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the sandbox failed this build (trap)"),
        "{}",
        stderr(&out)
    );
    let out = approve("trap.wasm", "tb-review/review.json");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is a review of another build"),
        "{}",
        stderr(&out)
    );
    assert!(!cwd.join("trap.wasm.approval").exists());
    let out = approve("tb.wasm", "tb-review/review.json");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(cwd.join("tb.wasm.approval").exists());
}

/// A vendor's loop with a contract 2.0 plugin: a fixture from a generated backup, then
/// `plugin run`, which feeds what it publishes to its later batches and runs `finish`
/// after each phase; `plugin inspect` shows what 2.0 declares.
#[test]
fn plugin_run_and_inspect_show_a_2_0_plugins_finish_publishing_and_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = airlock(&["gen-backup", "b.zip", "--issues", "100"], cwd);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = airlock(
        &[
            "plugin",
            "fixture",
            "f",
            "--from",
            "b.zip",
            "--app",
            "com.acme.teams",
        ],
        cwd,
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let wasm = airlock_plugin_artifacts::TEAM_DIRECTORY;
    let out = airlock(&["plugin", "run", wasm, "--fixture", "f"], cwd);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("contract     airlock:plugin@2.0.0"), "{text}");
    assert!(
        text.contains("publishes    app:com.acme.teams:team"),
        "{text}"
    );
    assert!(text.contains("finds by     AO_"), "{text}");
    assert!(text.contains("── finish after analyze"), "{text}");
    assert!(text.contains("── finish after migrate"), "{text}");
    assert!(text.contains("teams-published"), "{text}");
    assert!(
        text.contains("0 failed, 0 fatal findings, 0 nondeterministic"),
        "{text}"
    );
}
