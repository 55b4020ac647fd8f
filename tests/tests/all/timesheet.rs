//! Timesheet Builder through the real runtime: outputs, findings, determinism.

use airlock_model::{AppOutput, Namespace, Severity, Value};
use airlock_plugin_artifacts as artifacts;
use airlock_runtime::{Cause, MemoryAppData, MemoryMappings};
use airlock_tests::{batch, load, session};

fn member_rows() -> (Vec<String>, Vec<Vec<Value>>) {
    let columns = [
        "ID",
        "TEAM_ID",
        "USER_KEY",
        "ROLE_ID",
        "JOIN_DATE",
        "LEAVE_DATE",
        "GROUPS",
        "GLOBAL_CALENDAR_ID",
        "WORKLOAD_SCHEME_ID",
    ]
    .map(String::from)
    .to_vec();
    let row = |id: i64, team: i64, user: &str| {
        vec![
            Value::Integer(id),
            Value::Integer(team),
            Value::String(user.into()),
            Value::Null,
            Value::Timestamp(1_600_000_000_000),
            Value::Null,
            Value::String("jira-software-users,developers".into()),
            Value::Null,
            Value::Null,
        ]
    };
    (
        columns,
        vec![
            row(1, 10, "JIRAUSER10000"),
            row(2, 99, "JIRAUSER10000"),
            row(3, 10, "ghost"),
        ],
    )
}

fn context() -> (MemoryMappings, MemoryAppData) {
    let mut mappings = MemoryMappings::new();
    mappings.insert(Namespace::USER, "JIRAUSER10000", "5b10a2844c20165700ede21g");
    let mut app_data = MemoryAppData::new();
    let team_columns = ["ID", "NAME", "DESCRIPTION", "LEAD_USER_KEY", "CREATED"].map(String::from);
    app_data.extend(
        "AO_09EAEF_TEAM",
        &team_columns,
        [vec![
            Value::Integer(10),
            Value::String("Platform".into()),
            Value::Null,
            Value::Null,
            Value::Timestamp(0),
        ]],
    );
    (mappings, app_data)
}

#[test]
fn analysis_reports_broken_members_as_fatal() {
    let plugin = load(artifacts::TIMESHEET_BUILDER);
    let (mappings, app_data) = context();
    let session = session(&plugin, "tenant-a", mappings, app_data);
    let (columns, rows) = member_rows();
    let ran = session
        .analyze(batch("AO_09EAEF_TEAM_MEMBER", &columns, &rows))
        .unwrap();
    let fatal: Vec<(&str, Option<i64>)> = ran
        .value
        .iter()
        .filter(|f| f.severity == Severity::Fatal)
        .map(|f| (f.code.as_str(), f.row_id))
        .collect();
    assert!(
        fatal.contains(&("member-of-missing-team", Some(2))),
        "{fatal:?}"
    );
    assert!(fatal.contains(&("unknown-user", Some(3))), "{fatal:?}");
    assert_eq!(fatal.len(), 2, "{fatal:?}");
    assert!(ran.usage.fuel > 0);
}

#[test]
fn migrate_refuses_a_batch_with_a_fatal_row_and_succeeds_without_it() {
    let plugin = load(artifacts::TIMESHEET_BUILDER);
    let (mappings, app_data) = context();
    let session = session(&plugin, "tenant-a", mappings, app_data);
    let (columns, rows) = member_rows();
    let e = session
        .migrate(batch("AO_09EAEF_TEAM_MEMBER", &columns, &rows))
        .unwrap_err();
    assert!(
        matches!(
            e.cause,
            Cause::Plugin {
                row_id: Some(_),
                ..
            }
        ),
        "{e}"
    );

    let good = &rows[..1];
    let ran = session
        .migrate(batch("AO_09EAEF_TEAM_MEMBER", &columns, good))
        .unwrap();
    match &ran.value[..] {
        [
            AppOutput::AppDocument {
                collection,
                id,
                body,
            },
        ] => {
            assert_eq!(collection, "team-members");
            assert_eq!(id, "1");
            assert!(body.contains("5b10a2844c20165700ede21g"), "{body}");
            assert!(
                !body.contains("JIRAUSER10000"),
                "server keys do not leak into the cloud: {body}"
            );
        }
        other => panic!("expected one member document, got {other:?}"),
    }
}

#[test]
fn outputs_are_deterministic() {
    let plugin = load(artifacts::TIMESHEET_BUILDER);
    let (columns, rows) = member_rows();
    let good = &rows[..1];
    let run = || {
        let (mappings, app_data) = context();
        session(&plugin, "tenant-a", mappings, app_data)
            .migrate(batch("AO_09EAEF_TEAM_MEMBER", &columns, good))
            .unwrap()
            .value
    };
    assert_eq!(run(), run());
}
