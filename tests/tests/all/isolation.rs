//! Tenants never see each other's data, and grants are enforced on every import call.

use airlock_model::{AppOutput, Namespace, Value};
use airlock_plugin_artifacts as artifacts;
use airlock_runtime::{Cause, Denied, Grant, MemoryAppData, MemoryMappings};
use airlock_tests::{batch, load, named_rows, session, session_with};

fn output_text(outputs: &[AppOutput]) -> String {
    serde_json::to_string(outputs).unwrap()
}

#[test]
fn two_tenants_running_a_stateful_plugin_never_see_each_other() {
    let plugin = load(artifacts::HOSTILE_STATIC_STATE);
    let table = plugin.manifest().tables[0].clone();
    let tenant_a = session(
        &plugin,
        "tenant-a",
        MemoryMappings::new(),
        MemoryAppData::new(),
    );
    let tenant_b = session(
        &plugin,
        "tenant-b",
        MemoryMappings::new(),
        MemoryAppData::new(),
    );

    // Interleave the tenants' batches on the same runtime and plugin.
    let (cols, a1) = named_rows(&["a-secret-team", "a-payroll"]);
    let (_, b1) = named_rows(&["b-own-team"]);
    let (_, a2) = named_rows(&["a-second-batch"]);
    let out_a1 = tenant_a.migrate(batch(&table, &cols, &a1)).unwrap().value;
    let out_b1 = tenant_b.migrate(batch(&table, &cols, &b1)).unwrap().value;
    let out_a2 = tenant_a.migrate(batch(&table, &cols, &a2)).unwrap().value;

    let (a1, b1, a2) = (
        output_text(&out_a1),
        output_text(&out_b1),
        output_text(&out_a2),
    );
    assert!(a1.contains("a-secret-team") && a1.contains("a-payroll"));
    assert!(b1.contains("b-own-team"));
    assert!(
        !b1.contains("a-secret-team") && !b1.contains("a-payroll"),
        "B saw A: {b1}"
    );
    assert!(!a2.contains("b-own-team"), "A saw B: {a2}");
    assert!(
        !a2.contains("a-secret-team"),
        "state survived a batch: {a2}"
    );
}

#[test]
fn a_plugin_cannot_be_fed_another_apps_table() {
    let plugin = load(artifacts::TIMESHEET_BUILDER);
    let session = session(
        &plugin,
        "tenant-a",
        MemoryMappings::new(),
        MemoryAppData::new(),
    );
    let (columns, rows) = named_rows(&["board"]);
    let e = session
        .migrate(batch("AO_60DB71_RAPIDVIEW", &columns, &rows))
        .unwrap_err();
    assert!(
        matches!(e.cause, Cause::AccessDenied(Denied::ForeignTable { .. })),
        "{e}"
    );
    assert_eq!(e.usage.fuel, 0, "the plugin never ran");
}

#[test]
fn a_ragged_batch_is_refused_before_the_plugin_runs() {
    let plugin = load(artifacts::HOSTILE_STATIC_STATE);
    let table = plugin.manifest().tables[0].clone();
    let session = session(
        &plugin,
        "tenant-a",
        MemoryMappings::new(),
        MemoryAppData::new(),
    );
    let (columns, mut rows) = named_rows(&["one", "two"]);
    rows[1].pop();
    let e = session.migrate(batch(&table, &columns, &rows)).unwrap_err();
    assert!(matches!(e.cause, Cause::MalformedBatch { row: 1 }), "{e}");
    assert_eq!(e.usage.fuel, 0, "the plugin never ran");
}

#[test]
fn a_declared_but_ungranted_namespace_is_denied() {
    // Timesheet Builder declares jira:worklog; this operator did not grant it.
    let plugin = load(artifacts::TIMESHEET_BUILDER);
    let grant = Grant::as_asked(&plugin);
    let grant = Grant {
        namespaces: grant
            .namespaces
            .into_iter()
            .filter(|ns| *ns != Namespace::WORKLOG)
            .collect(),
        ..grant
    };
    let session = session_with(
        &plugin,
        "tenant-a",
        grant,
        MemoryMappings::new(),
        MemoryAppData::new(),
    );
    let columns: Vec<String> = [
        "ID",
        "WORKLOG_ID",
        "ISSUE_ID",
        "APPROVER_KEY",
        "STATUS",
        "DECIDED_AT",
        "PERIOD_ID",
    ]
    .map(String::from)
    .to_vec();
    let rows = vec![vec![
        Value::Integer(1),
        Value::Integer(10100),
        Value::Integer(10000),
        Value::String("JIRAUSER10000".into()),
        Value::String("APPROVED".into()),
        Value::Null,
        Value::Null,
    ]];
    let e = session
        .analyze(batch("AO_09EAEF_WORKLOG_APPROVAL", &columns, &rows))
        .unwrap_err();
    assert!(
        matches!(&e.cause, Cause::AccessDenied(Denied::UngrantedNamespace(ns)) if ns == "jira:worklog"),
        "{e}"
    );
}

#[test]
fn a_plugin_needs_consent_to_its_scopes() {
    let plugin = load(artifacts::TIMESHEET_BUILDER);
    let context = airlock_runtime::RunContext {
        tenant: airlock_model::TenantId::new("t"),
        migration: airlock_model::MigrationId::new("m"),
        grant: Grant::new(
            plugin.manifest().app_key.clone(),
            plugin.info().sha256.clone(),
        ),
        mappings: std::sync::Arc::new(MemoryMappings::new()),
        app_data: std::sync::Arc::new(MemoryAppData::new()),
    };
    let e = plugin
        .session(context)
        .err()
        .expect("no consent, no session");
    assert!(e.to_string().contains("app-data-pii"), "{e}");
}
