//! Native tests: the migrator against the SDK's `TestHost`, which enforces the manifest as
//! Airlock does (declared tables, known and declared namespaces) and keeps every host
//! call for the test to check. Run them with `cargo test`.

use super::{{type_name}} as Plugin;
use super::*;
use airlock_sdk::testing::TestHost;
use airlock_sdk::{Severity, Value, ao_table};

/// 2019-03-01T09:30:00.000Z
const CREATED: i64 = 1_551_432_600_000;

fn table() -> String {
    ao_table(APP_KEY, "NOTE")
}

/// The mappings Airlock's core load would have recorded: users by user key, issues by id.
fn host() -> TestHost {
    TestHost::new()
        .map(
            namespaces::USER,
            "JIRAUSER10000",
            "5b10a2844c20165700ede21g",
        )
        .map(namespaces::ISSUE, "10000", "20000")
        .map(namespaces::ISSUE, "10001", "20001")
}

/// `NOTE` as version 2 of the app writes it.
fn notes(rows: &[(i64, i64, &str, Value, bool)]) -> Rows {
    let mut batch = Rows::new(["ID", "ISSUE_ID", "AUTHOR_KEY", "BODY", "CREATED", "PINNED"]);
    for (id, issue, author, created, pinned) in rows {
        batch.push(vec![
            (*id).into(),
            (*issue).into(),
            (*author).into(),
            "Check the staging logs first.".into(),
            created.clone(),
            (*pinned).into(),
        ]);
    }
    batch
}

#[test]
fn a_note_becomes_a_property_of_its_cloud_issue() {
    let host = host();
    let rows = notes(&[(1, 10000, "JIRAUSER10000", Value::timestamp(CREATED), true)]);
    let outputs = host.migrate::<Plugin>(&table(), &rows).unwrap();
    assert_eq!(
        outputs,
        [Output::EntityProperty {
            entity: EntityKind::Issue,
            entity_id: "20000".into(),
            key: format!("{PROPERTY_PREFIX}1"),
            value: r#"{"authorAccountId":"5b10a2844c20165700ede21g","body":"Check the staging logs first.","created":1551432600000,"pinned":true}"#.into(),
        }]
    );
    assert!(host.analyze::<Plugin>(&table(), &rows).is_empty());
}

#[test]
fn a_batch_resolves_its_ids_in_one_call_per_namespace() {
    let host = host();
    let rows = notes(&[
        (1, 10000, "JIRAUSER10000", Value::timestamp(CREATED), false),
        (2, 10001, "JIRAUSER10000", Value::timestamp(CREATED), false),
        (3, 10001, "JIRAUSER10000", Value::timestamp(CREATED), false),
    ]);
    host.migrate::<Plugin>(&table(), &rows).unwrap();
    let calls: Vec<(String, usize)> = host
        .resolve_calls()
        .into_iter()
        .map(|(namespace, ids)| (namespace, ids.len()))
        .collect();
    assert_eq!(
        calls,
        [
            ("jira:issue".to_owned(), 2),
            ("identity:user".to_owned(), 1)
        ]
    );
}

#[test]
fn a_note_on_an_unmigrated_issue_blocks_and_an_unknown_author_warns() {
    let host = host();
    let rows = notes(&[
        (1, 99999, "JIRAUSER10000", Value::timestamp(CREATED), false),
        (2, 10000, "JIRAUSER19999", Value::timestamp(CREATED), false),
    ]);
    let findings: Vec<(Severity, String, Option<i64>)> = host
        .analyze::<Plugin>(&table(), &rows)
        .into_iter()
        .map(|f| (f.severity, f.code, f.row_id))
        .collect();
    assert_eq!(
        findings,
        [
            (Severity::Fatal, "unknown-issue".to_owned(), Some(1)),
            (Severity::Warning, "unknown-user".to_owned(), Some(2)),
        ]
    );
    // Kept without an author.
    let outputs = host
        .migrate::<Plugin>(
            &table(),
            &notes(&[(2, 10000, "JIRAUSER19999", Value::timestamp(CREATED), false)]),
        )
        .unwrap();
    let Output::EntityProperty { value, .. } = &outputs[0] else {
        panic!("an entity property");
    };
    assert!(value.contains(r#""authorAccountId":null"#), "{value}");
}

#[test]
fn older_backups_without_pinned_and_dates_stored_as_milliseconds() {
    // Version 1 of the app: no PINNED column, CREATED a BIGINT of milliseconds.
    let rows = Rows::new(["ID", "ISSUE_ID", "AUTHOR_KEY", "BODY", "CREATED"]).row([
        1.into(),
        10000.into(),
        "JIRAUSER10000".into(),
        "Check the staging logs first.".into(),
        Value::Integer(CREATED),
    ]);
    let outputs = host().migrate::<Plugin>(&table(), &rows).unwrap();
    let Output::EntityProperty { value, .. } = &outputs[0] else {
        panic!("an entity property");
    };
    assert!(
        value.contains(r#""created":1551432600000"#) && value.contains(r#""pinned":false"#),
        "{value}"
    );
}

#[test]
fn a_row_missing_a_value_is_a_bad_row() {
    let mut rows = notes(&[]);
    rows.push(vec![
        4.into(),
        10000.into(),
        "JIRAUSER10000".into(),
        Value::Null,
        Value::timestamp(CREATED),
        false.into(),
    ]);
    let findings = host().analyze::<Plugin>(&table(), &rows);
    assert_eq!(findings.len(), 1);
    assert_eq!(
        (findings[0].code.as_str(), findings[0].row_id),
        ("bad-row", Some(4))
    );
    assert_eq!(findings[0].message, "column BODY: is null (row ID 4)");
}
