//! Each hostile plugin is stopped by the right limit, with a typed error naming it,
//! within 2 s of wall time, and the same runtime then runs Timesheet Builder fine.

use airlock_model::Namespace;
use airlock_plugin_artifacts as artifacts;
use airlock_runtime::{
    AppData, AppDataError, AppRow, BatchError, Cause, ConsentError, Denied, Grant, LoadError,
    MAX_FINDINGS_PER_BATCH, MAX_HOST_CALL_BYTES, MAX_IDS_PER_CALL, MemoryAppData, MemoryMappings,
    RunContext, check_identity,
};
use airlock_tests::{batch, load, named_rows, runtime, session, timesheet_still_works};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WALL_LIMIT: Duration = Duration::from_secs(2);

/// Runs `f` on its own thread and fails the test if it takes longer than `limit`: a host
/// that waits for ever fails here instead of hanging the suite.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still running after {limit:?}: the host is held"))
}

/// Loads a hostile plugin, runs one migrate batch, and returns its error and how long
/// the batch took.
fn run_hostile(path: &str) -> (Box<BatchError>, Duration) {
    run_hostile_on(
        path,
        0,
        MemoryAppData::new(),
        &["one", "two", "three", "four", "five"],
    )
}

/// The same on the plugin's `table`-th table, over `app_data`, with rows named `names`.
fn run_hostile_on(
    path: &str,
    table: usize,
    app_data: impl AppData + 'static,
    names: &[&str],
) -> (Box<BatchError>, Duration) {
    let plugin = load(path);
    let table = plugin.manifest().tables[table].clone();
    let mut mappings = MemoryMappings::new();
    mappings.insert(Namespace::USER, "alice", "acc-alice");
    let session = plugin
        .session(RunContext {
            tenant: airlock_model::TenantId::new("tenant-hostile"),
            migration: airlock_model::MigrationId::new("migration-hostile"),
            grant: Grant::as_asked(&plugin),
            mappings: Arc::new(mappings),
            app_data: Arc::new(app_data),
        })
        .expect("consented");
    let (columns, rows) = named_rows(names);
    let started = Instant::now();
    let error = session
        .migrate(batch(&table, &columns, &rows))
        .expect_err("a hostile plugin must be stopped");
    let took = started.elapsed();
    assert_eq!(error.plugin, plugin.name(), "the error names the plugin");
    assert_eq!(error.table, table, "the error names the table");
    assert_eq!(error.batch, 0, "the error names the batch");
    assert!(
        error.to_string().contains(plugin.name()),
        "the message names the plugin: {error}"
    );
    assert!(
        took < WALL_LIMIT,
        "stopped after {took:?}, more than {WALL_LIMIT:?}"
    );
    (error, took)
}

#[test]
fn infinite_loop_is_stopped_by_fuel() {
    let (e, _) = run_hostile(artifacts::HOSTILE_INFINITE_LOOP);
    // Five rows: the base budget plus five rows' allowance, all of it spent.
    let budget = runtime().limits().batch_fuel(5);
    assert!(
        matches!(e.cause, Cause::OutOfFuel { limit } if limit == budget),
        "{e}"
    );
    assert_eq!(e.usage.fuel, budget, "all the fuel was used");
    timesheet_still_works(runtime());
}

#[test]
fn infinite_loop_on_a_full_batch_is_stopped_by_the_deadline_or_its_rows_fuel() {
    // A full batch's fuel grows with its rows (for slow runtimes): a loop there is still
    // stopped, by the deadline or by all of that batch's fuel, well within the wall limit.
    let names: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (e, took) = run_hostile_on(
        artifacts::HOSTILE_INFINITE_LOOP,
        0,
        MemoryAppData::new(),
        &names,
    );
    let limits = runtime().limits();
    let budget = limits.batch_fuel(names.len());
    assert!(
        budget > limits.fuel,
        "1,000 rows get more than the base fuel"
    );
    match e.cause {
        Cause::Deadline { limit } => assert_eq!(limit, limits.deadline),
        Cause::OutOfFuel { limit } => {
            assert_eq!(limit, budget);
            assert_eq!(e.usage.fuel, budget);
        }
        ref other => panic!("expected the deadline or the batch's fuel, got {other}"),
    }
    assert!(took < limits.deadline + WALL_LIMIT, "{took:?}");
}

#[test]
fn memory_hog_is_stopped_by_the_memory_cap() {
    let (e, _) = run_hostile(artifacts::HOSTILE_MEMORY_HOG);
    match e.cause {
        Cause::Memory { limit, requested } => {
            assert_eq!(limit, runtime().limits().memory_bytes);
            assert!(requested > limit);
        }
        ref other => panic!("expected the memory limit, got {other}"),
    }
    assert!(e.usage.peak_memory <= runtime().limits().memory_bytes);
    timesheet_still_works(runtime());
}

#[test]
fn deep_recursion_is_stopped_by_the_stack_limit() {
    let (e, _) = run_hostile(artifacts::HOSTILE_DEEP_RECURSION);
    assert!(matches!(e.cause, Cause::StackOverflow), "{e}");
    timesheet_still_works(runtime());
}

#[test]
fn output_flood_is_stopped_by_the_output_quota() {
    let (e, _) = run_hostile(artifacts::HOSTILE_OUTPUT_FLOOD);
    match e.cause {
        Cause::OutputQuota { limit, produced } => {
            assert_eq!(limit, runtime().limits().output_bytes);
            assert!(produced > limit);
        }
        ref other => panic!("expected the output quota, got {other}"),
    }
    timesheet_still_works(runtime());
}

#[test]
fn trap_mid_batch_is_reported_as_a_trap_with_the_panic_message() {
    let (e, _) = run_hostile(artifacts::HOSTILE_TRAP_MID_BATCH);
    match &e.cause {
        Cause::Trap { trap, stderr } => {
            assert!(trap.contains("unreachable"), "{trap}");
            let stderr = stderr.as_deref().expect("the plugin's stderr is captured");
            assert!(stderr.contains("panicked at"), "{stderr}");
            assert!(
                stderr.contains("hostile plugin: trapping on the batch's third row"),
                "{stderr}"
            );
        }
        other => panic!("expected a trap, got {other}"),
    }
    // What the operator reads: the trap, then the panic message, indented under it.
    let shown = e.to_string();
    assert!(
        shown.contains("the plugin's stderr ended with:\n    ")
            && shown.contains("trapping on the batch's third row"),
        "{shown}"
    );
    timesheet_still_works(runtime());
}

/// The sandbox keeps its promise to a plugin that links the filesystem and sockets: it
/// loads and runs, and every read, listing, connection, datagram and lookup is denied.
#[test]
fn a_plugin_cannot_read_host_files_or_open_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let canary = "AIRLOCK-CANARY-7f3a9c";
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, canary).unwrap();
    // Real endpoints on loopback, so a connection that got out would be seen arriving.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_nonblocking(true).unwrap();
    let probes = [
        "file:/etc/passwd".to_owned(),
        format!("file:{}", secret.display()),
        "dir:/".to_owned(),
        format!("dir:{}", dir.path().display()),
        format!("tcp:{}", listener.local_addr().unwrap()),
        format!("udp:{}", receiver.local_addr().unwrap()),
        "dns:localhost".to_owned(),
    ];

    let plugin = load(artifacts::HOSTILE_SANDBOX_ESCAPE);
    let imports = &plugin.info().imports;
    for linked in ["wasi:filesystem/preopens", "wasi:sockets/tcp-create-socket"] {
        assert!(
            imports.iter().any(|i| i.starts_with(linked)),
            "std links {linked}: {imports:?}"
        );
    }
    let session = session(&plugin, "t", MemoryMappings::new(), MemoryAppData::new());
    let names: Vec<&str> = probes.iter().map(String::as_str).collect();
    let (columns, rows) = named_rows(&names);
    let ran = within(WALL_LIMIT, move || {
        session
            .migrate(batch(&plugin.manifest().tables[0], &columns, &rows))
            .map_err(|e| e.to_string())
    })
    .expect("the plugin runs: its attempts fail inside it");

    assert_eq!(ran.value.len(), probes.len(), "one report per probe");
    for (output, probe) in ran.value.iter().zip(&probes) {
        let airlock_model::AppOutput::AppDocument { body, .. } = output else {
            panic!("{output:?}");
        };
        let report: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(report["probe"], probe.as_str());
        assert_eq!(report["outcome"], "denied", "{probe} got out: {body}");
        let detail = report["detail"].as_str().unwrap();
        assert!(
            !detail.contains(canary) && !detail.contains("root:") && !detail.contains("secret"),
            "{probe} saw host data: {detail}"
        );
        if probe.starts_with("tcp:") || probe.starts_with("udp:") {
            // wasi:sockets answered `access-denied`: no OS socket was ever made.
            assert!(detail.starts_with("PermissionDenied"), "{probe}: {detail}");
        }
    }
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a connection reached the host's listener: {other:?}"),
    }
    let mut buffer = [0u8; 64];
    match receiver.recv_from(&mut buffer) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a datagram reached the host: {other:?}"),
    }
    timesheet_still_works(runtime());
}

#[test]
fn foreign_table_read_is_denied() {
    let (e, _) = run_hostile(artifacts::HOSTILE_FOREIGN_TABLE);
    assert!(
        matches!(&e.cause, Cause::AccessDenied(Denied::ForeignTable { table, .. }) if table == "AO_60DB71_RAPIDVIEW"),
        "{e}"
    );
    assert_eq!(e.usage.host_calls.row_reads, 0, "nothing was read");
    timesheet_still_works(runtime());
}

#[test]
fn ungranted_namespace_is_denied() {
    let (e, _) = run_hostile(artifacts::HOSTILE_UNGRANTED_NAMESPACE);
    assert!(
        matches!(&e.cause, Cause::AccessDenied(Denied::UndeclaredNamespace(ns)) if ns.0 == "jira:issue"),
        "{e}"
    );
    // Word for word what the SDK's TestHost panics with (the plugin's own native test).
    assert_eq!(
        e.cause.to_string(),
        "access denied: namespace `jira:issue` is not declared in the plugin's manifest"
    );
    assert_eq!(e.usage.host_calls.ids_resolved, 0, "nothing was resolved");
    timesheet_still_works(runtime());
}

#[test]
fn log_flood_is_stopped_by_the_log_quota() {
    let (e, _) = run_hostile(artifacts::HOSTILE_LOG_FLOOD);
    assert!(matches!(e.cause, Cause::LogQuota { .. }), "{e}");
    let logged: usize = e.usage.logs.iter().map(|l| l.message.len()).sum();
    assert!(logged as u64 <= runtime().limits().log_bytes);
    timesheet_still_works(runtime());
}

#[test]
fn forbidden_imports_are_refused_at_load_all_named_at_once() {
    let started = Instant::now();
    let error = runtime()
        .load_file(std::path::Path::new(artifacts::HOSTILE_FORBIDDEN_IMPORT))
        .err()
        .expect("a component importing what no host provides must not load");
    assert!(started.elapsed() < WALL_LIMIT);
    match &error {
        LoadError::ForbiddenImports { plugin, imports } => {
            assert_eq!(plugin, "hostile_forbidden_import");
            let mut refused: Vec<&str> = imports
                .iter()
                .map(|i| i.split_once('@').map_or(i.as_str(), |(name, _)| name))
                .collect();
            refused.sort();
            // Not the filesystem it links too: that is provided, deny-all.
            assert_eq!(refused, ["acme:telemetry/beacon", "wasi:keyvalue/store"]);
        }
        other => panic!("expected forbidden imports, got {other}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("`wasi:keyvalue/store@0.2.0-draft`")
            && message.contains("`acme:telemetry/beacon@1.0.0`")
            && message.contains("build it without the rest"),
        "{message}"
    );
    timesheet_still_works(runtime());
}

#[test]
fn a_sleeping_plugin_is_stopped_by_the_deadline() {
    let (e, took) = within(Duration::from_secs(10), || {
        run_hostile(artifacts::HOSTILE_SLEEPER)
    });
    assert!(matches!(e.cause, Cause::Deadline { .. }), "{e}");
    assert!(took < runtime().limits().deadline + WALL_LIMIT, "{took:?}");
    timesheet_still_works(runtime());
}

#[test]
fn a_plugin_sleeping_in_describe_fails_to_load_by_the_deadline() {
    let (error, took) = within(Duration::from_secs(10), || {
        let started = Instant::now();
        let error = runtime()
            .load_file(std::path::Path::new(artifacts::HOSTILE_SLEEPER_IN_DESCRIBE))
            .err()
            .expect("a plugin that never describes itself must not load");
        (error, started.elapsed())
    });
    match &error {
        LoadError::Describe { cause, .. } => assert!(cause.contains("deadline"), "{cause}"),
        other => panic!("expected describe to fail by the deadline, got {other}"),
    }
    assert!(took < runtime().limits().deadline + WALL_LIMIT, "{took:?}");
    timesheet_still_works(runtime());
}

#[test]
fn sixteen_million_ids_in_one_call_are_refused_by_their_count() {
    let (e, took) = within(Duration::from_secs(20), || {
        run_hostile_on(artifacts::HOSTILE_ID_FLOOD, 0, MemoryAppData::new(), &["a"])
    });
    // 128 MiB of ids: over the bytes one call may carry, so wasmtime stops the copy
    // before the host's count check (which refuses 65,537 ids and more) is reached.
    assert_eq!(
        e.cause,
        Cause::HostCallData {
            limit: MAX_HOST_CALL_BYTES
        },
        "{e}"
    );
    assert_eq!(e.usage.host_calls.rows_checked, 0, "no id was looked up");
    assert!(took < runtime().limits().deadline + WALL_LIMIT, "{took:?}");

    let (e, took) = within(Duration::from_secs(20), || {
        run_hostile_on(artifacts::HOSTILE_ID_FLOOD, 1, MemoryAppData::new(), &["a"])
    });
    assert!(
        matches!(
            e.cause,
            Cause::HostCallLimit {
                call: "mappings.resolve",
                requested: 2_500_000,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.usage.host_calls.ids_resolved, 0);
    assert!(took < runtime().limits().deadline + WALL_LIMIT, "{took:?}");

    // Small enough to copy, one id too many to look up.
    let (e, _) = run_hostile_on(artifacts::HOSTILE_ID_FLOOD, 3, MemoryAppData::new(), &["a"]);
    assert_eq!(
        e.cause,
        Cause::HostCallLimit {
            call: "app-data.exists",
            requested: MAX_IDS_PER_CALL as u64 + 1,
            limit: MAX_IDS_PER_CALL as u64,
        },
        "{e}"
    );
    assert_eq!(e.usage.host_calls.rows_checked, 0, "no id was looked up");
    timesheet_still_works(runtime());
}

/// A store whose lookups are slow (a remote database under load).
struct SlowAppData;

impl AppData for SlowAppData {
    fn get(&self, _: &str, _: i64) -> Result<Option<AppRow>, AppDataError> {
        Ok(None)
    }
    fn exists(&self, _: &str, _: i64) -> Result<bool, AppDataError> {
        std::thread::sleep(Duration::from_micros(50));
        Ok(false)
    }
}

#[test]
fn host_loops_stop_at_the_deadline() {
    // Each call carries the most ids allowed; against this store one call alone would
    // take seconds. The host looks at the clock every 1,024 ids.
    let (e, took) = within(Duration::from_secs(20), || {
        run_hostile_on(artifacts::HOSTILE_ID_FLOOD, 2, SlowAppData, &["a"])
    });
    assert!(matches!(e.cause, Cause::Deadline { .. }), "{e}");
    assert!(
        e.usage.host_calls.rows_checked < MAX_IDS_PER_CALL as u64,
        "stopped inside the first call, after {} ids",
        e.usage.host_calls.rows_checked
    );
    assert!(took < runtime().limits().deadline + WALL_LIMIT, "{took:?}");
    timesheet_still_works(runtime());
}

/// A store whose rows fail their seal (a work directory tampered with).
struct TamperedAppData;

impl AppData for TamperedAppData {
    fn get(&self, table: &str, _: i64) -> Result<Option<AppRow>, AppDataError> {
        Err(AppDataError {
            table: table.to_owned(),
            reason: "row 1 fails its integrity check".into(),
        })
    }
    fn exists(&self, table: &str, id: i64) -> Result<bool, AppDataError> {
        self.get(table, id).map(|row| row.is_some())
    }
}

#[test]
fn an_app_row_that_fails_its_seal_fails_the_batch() {
    let (e, _) = run_hostile_on(artifacts::HOSTILE_ID_FLOOD, 2, TamperedAppData, &["a"]);
    match &e.cause {
        Cause::AppData(error) => {
            assert_eq!(error.table, e.table);
            assert!(e.to_string().contains("cannot be trusted"), "{e}");
        }
        other => panic!("expected the row to fail the batch, got {other}"),
    }
    assert_eq!(e.cause.code(), "app-data-integrity");
    timesheet_still_works(runtime());
}

#[test]
fn an_app_key_chosen_for_another_apps_prefix_is_refused() {
    let collider = load(artifacts::HOSTILE_PREFIX_COLLIDER);
    let timesheet = load(artifacts::TIMESHEET_BUILDER);
    let (ours, theirs) = (&collider.manifest().app_key, &timesheet.manifest().app_key);
    assert_ne!(ours, theirs);
    assert_eq!(
        ours.ao_prefix(),
        theirs.ao_prefix(),
        "the collision it was built for"
    );
    match check_identity(ours, [theirs]) {
        Err(ConsentError::PrefixCollision { prefix, .. }) => assert_eq!(prefix, "AO_09EAEF"),
        other => panic!("expected a prefix collision, got {other:?}"),
    }
    assert!(
        check_identity(theirs, [theirs]).is_ok(),
        "an app does not collide with itself"
    );

    // Nor can it act for Timesheet Builder: the grant names the app and the component.
    let for_timesheet = Grant::as_asked(&timesheet);
    let context = |grant| RunContext {
        tenant: airlock_model::TenantId::new("t"),
        migration: airlock_model::MigrationId::new("m"),
        grant,
        mappings: Arc::new(MemoryMappings::new()),
        app_data: Arc::new(MemoryAppData::new()),
    };
    assert!(matches!(
        collider.session(context(for_timesheet.clone())).err(),
        Some(ConsentError::NotTheGrantedPlugin { .. })
    ));
    let claimed = Grant {
        plugin_sha256: collider.info().sha256.clone(),
        ..for_timesheet
    };
    assert!(matches!(
        collider.session(context(claimed)).err(),
        Some(ConsentError::AppKeyMismatch { .. })
    ));
    timesheet_still_works(runtime());
}

#[test]
fn dot_and_slash_keys_are_refused_before_any_request() {
    for (name, rule) in [
        ("dotdot", "dot segment"),
        ("dot", "dot segment"),
        ("slash", "character outside"),
    ] {
        let (e, _) = run_hostile_on(artifacts::HOSTILE_DOT_KEY, 0, MemoryAppData::new(), &[name]);
        match &e.cause {
            Cause::InvalidOutput { index: 0, reason } => {
                assert!(reason.contains(rule), "{name}: {reason}")
            }
            other => panic!("{name}: expected an invalid output, got {other}"),
        }
        // What it logged is kept, escaped: no terminal control reaches an operator.
        let logged = &e.usage.logs[0].message;
        assert!(!logged.chars().any(char::is_control), "{logged:?}");
        assert!(logged.contains("\\u{1b}[2J"), "{logged}");
    }
    // Airlock's own key is an ordinary key of the app's own namespace.
    let plugin = load(artifacts::HOSTILE_DOT_KEY);
    let session = session(&plugin, "t", MemoryMappings::new(), MemoryAppData::new());
    let (columns, rows) = named_rows(&["source"]);
    let ran = session
        .migrate(batch(&plugin.manifest().tables[0], &columns, &rows))
        .expect("a plain key passes");
    let stored = airlock_model::app_storage::stored_key(&plugin.manifest().app_key, &ran.value[0]);
    assert_eq!(stored, "com.airlock.hostile.dot-key:airlock.source");
    timesheet_still_works(runtime());
}

#[test]
fn many_memories_are_refused_at_load_and_memories_are_capped_together() {
    // 11 memories: more than a component may define.
    match runtime().load_file(std::path::Path::new(artifacts::HOSTILE_MANY_MEMORIES)) {
        Err(LoadError::ExceedsLimits { reason, .. }) => {
            assert!(
                reason.contains("11") && reason.contains("memories"),
                "{reason}"
            )
        }
        Err(other) => panic!("expected the component's shape to be refused, got {other}"),
        Ok(_) => panic!("a component of 11 memories must not load"),
    }
    // 4 memories of 66 MiB in all: each under the cap, together over it.
    match runtime().load_file(std::path::Path::new(artifacts::HOSTILE_SPLIT_MEMORY)) {
        Err(LoadError::Describe { cause, .. }) => {
            assert!(cause.contains("memory limit of 67108864 bytes"), "{cause}")
        }
        Err(other) => panic!("expected the memory cap, got {other}"),
        Ok(_) => panic!("66 MiB of memories must not fit a 64 MiB cap"),
    }
    // The base plugin, one memory, is fine.
    let plugin = load(artifacts::HOSTILE_MANY_MEMORIES_BASE);
    assert_eq!(plugin.manifest().tables.len(), 1);
    timesheet_still_works(runtime());
}

#[test]
fn a_findings_flood_is_capped_and_says_so() {
    let plugin = load(artifacts::HOSTILE_FINDINGS_FLOOD);
    let session = session(&plugin, "t", MemoryMappings::new(), MemoryAppData::new());
    let (columns, rows) = named_rows(&["a", "b", "c"]);
    let ran = session
        .analyze(batch(&plugin.manifest().tables[0], &columns, &rows))
        .expect("analysis runs");
    assert_eq!(ran.value.len(), MAX_FINDINGS_PER_BATCH + 1);
    let last = ran.value.last().unwrap();
    assert_eq!(last.code, "findings-capped");
    assert!(last.message.contains("100000 findings"), "{}", last.message);
    timesheet_still_works(runtime());
}

#[test]
fn randomness_differs_between_batches_and_repeats_on_a_rerun() {
    let plugin = load(artifacts::HOSTILE_RANDOM_DRAW);
    let draw = |tenant: &str, index: u64| -> String {
        let session = session(&plugin, tenant, MemoryMappings::new(), MemoryAppData::new());
        let (columns, rows) = named_rows(&["a"]);
        let mut b = batch(&plugin.manifest().tables[0], &columns, &rows);
        b.index = index;
        match &session.migrate(b).expect("draws").value[0] {
            airlock_model::AppOutput::AppDocument { body, .. } => body.clone(),
            other => panic!("{other:?}"),
        }
    };
    let first = draw("tenant-a", 0);
    assert_eq!(first, draw("tenant-a", 0), "a rerun draws the same");
    assert_ne!(first, draw("tenant-a", 1), "the next batch draws anew");
    assert_ne!(first, draw("tenant-b", 0), "another tenant draws anew");
}

// The static-state plugin is covered in `isolation.rs`, across batches and tenants.
