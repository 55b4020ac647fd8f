//! Each hostile plugin is stopped by the right limit, with a typed error naming it,
//! within 2 s of wall time, and the same runtime then runs Timesheet Builder fine.

use airlock_model::Namespace;
use airlock_plugin_artifacts as artifacts;
use airlock_runtime::{BatchError, Cause, Denied, LoadError, MemoryAppData, MemoryMappings};
use airlock_tests::{batch, load, named_rows, runtime, session, timesheet_still_works};
use std::time::{Duration, Instant};

const WALL_LIMIT: Duration = Duration::from_secs(2);

/// Loads a hostile plugin, runs one migrate batch, and returns its error and how long
/// the batch took.
fn run_hostile(path: &str) -> (Box<BatchError>, Duration) {
    let plugin = load(path);
    let table = plugin.manifest().tables[0].clone();
    let mut mappings = MemoryMappings::new();
    mappings.insert(Namespace::USER, "alice", "acc-alice");
    let session = session(&plugin, "tenant-hostile", mappings, MemoryAppData::new());
    let (columns, rows) = named_rows(&["one", "two", "three", "four", "five"]);
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
    assert!(matches!(e.cause, Cause::OutOfFuel { .. }), "{e}");
    assert_eq!(
        e.usage.fuel,
        runtime().limits().fuel,
        "all the fuel was used"
    );
    timesheet_still_works(runtime());
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
        Cause::Trap { trap, panic } => {
            assert!(trap.contains("unreachable"), "{trap}");
            assert!(panic.is_some(), "the panic message is captured");
        }
        other => panic!("expected a trap, got {other}"),
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
        matches!(&e.cause, Cause::AccessDenied(Denied::UndeclaredNamespace(ns)) if ns == "jira:issue"),
        "{e}"
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
fn forbidden_import_is_refused_at_load() {
    let started = Instant::now();
    let error = runtime()
        .load_file(std::path::Path::new(artifacts::HOSTILE_FORBIDDEN_IMPORT))
        .err()
        .expect("a component importing the filesystem must not load");
    assert!(started.elapsed() < WALL_LIMIT);
    match &error {
        LoadError::ForbiddenImport { plugin, import } => {
            assert_eq!(plugin, "hostile_forbidden_import");
            assert!(import.starts_with("wasi:filesystem/"), "{import}");
        }
        other => panic!("expected a forbidden import, got {other}"),
    }
    timesheet_still_works(runtime());
}

// The static-state plugin is covered in `isolation.rs`, across batches and tenants.
