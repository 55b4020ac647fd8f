//! Shared helpers for the end-to-end tests: a runtime with a cache, sample rows, and a
//! known-good Timesheet Builder batch.

use airlock_model::{MigrationId, Namespace, TenantId, Value};
use airlock_runtime::{
    Batch, Grant, MemoryAppData, MemoryMappings, Plugin, RunContext, Runtime, RuntimeConfig,
    Session,
};
use std::sync::{Arc, OnceLock};

/// One runtime for the whole test binary, with a precompile cache, as production has.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<(Runtime, tempfile::TempDir)> = OnceLock::new();
    &RUNTIME
        .get_or_init(|| {
            let cache = tempfile::tempdir().expect("temp dir");
            let runtime = Runtime::new(RuntimeConfig {
                cache_dir: Some(cache.path().to_owned()),
                ..RuntimeConfig::default()
            })
            .expect("runtime starts");
            (runtime, cache)
        })
        .0
}

pub fn load(path: &str) -> Plugin {
    runtime()
        .load_file(std::path::Path::new(path))
        .unwrap_or_else(|e| panic!("{path} loads: {e}"))
}

/// A session for one tenant with everything the manifest asks for granted.
pub fn session(
    plugin: &Plugin,
    tenant: &str,
    mappings: MemoryMappings,
    app_data: MemoryAppData,
) -> Session {
    let grant = Grant::as_asked(plugin);
    session_with(plugin, tenant, grant, mappings, app_data)
}

pub fn session_with(
    plugin: &Plugin,
    tenant: &str,
    grant: Grant,
    mappings: MemoryMappings,
    app_data: MemoryAppData,
) -> Session {
    plugin
        .session(RunContext {
            tenant: TenantId::new(tenant),
            migration: MigrationId::new(format!("{tenant}-migration")),
            grant,
            mappings: Arc::new(mappings),
            app_data: Arc::new(app_data),
        })
        .expect("scopes consented")
}

/// Rows `ID, NAME` for the hostile plugins' `DATA` tables.
pub fn named_rows(names: &[&str]) -> (Vec<String>, Vec<Vec<Value>>) {
    let columns = vec!["ID".to_owned(), "NAME".to_owned()];
    let rows = names
        .iter()
        .enumerate()
        .map(|(i, n)| vec![Value::Integer(i as i64 + 1), Value::String((*n).to_owned())])
        .collect();
    (columns, rows)
}

pub fn batch<'a>(table: &'a str, columns: &'a [String], rows: &'a [Vec<Value>]) -> Batch<'a> {
    Batch {
        table,
        index: 0,
        columns,
        rows,
    }
}

pub const TIMESHEET_TEAM_TABLE: &str = "AO_09EAEF_TEAM";

/// Runs a small, valid Timesheet Builder batch (teams with leads) and checks every row
/// became a document: the proof that a runtime is still healthy.
pub fn timesheet_still_works(runtime: &Runtime) {
    let plugin = runtime
        .load_file(std::path::Path::new(
            airlock_plugin_artifacts::TIMESHEET_BUILDER,
        ))
        .expect("timesheet plugin loads");
    let mut mappings = MemoryMappings::new();
    mappings.insert(Namespace::USER, "JIRAUSER10000", "5b10a2844c20165700ede21g");
    let session = session(&plugin, "tenant-health", mappings, MemoryAppData::new());
    let columns: Vec<String> = ["ID", "NAME", "DESCRIPTION", "LEAD_USER_KEY", "CREATED"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<Value>> = (1..=3)
        .map(|i| {
            vec![
                Value::Integer(i),
                Value::String(format!("Team {i}")),
                Value::Null,
                Value::String("JIRAUSER10000".into()),
                Value::Timestamp(1_700_000_000_000),
            ]
        })
        .collect();
    let ran = session
        .migrate(batch(TIMESHEET_TEAM_TABLE, &columns, &rows))
        .expect("timesheet batch migrates");
    assert_eq!(ran.value.len(), 3, "one document per team");
}
