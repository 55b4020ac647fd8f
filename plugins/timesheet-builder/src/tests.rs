use super::*;
use airlock_sdk::testing::TestHost;
use airlock_sdk::{EntityKind, Host, Level, Severity, Value, ao_table};

/// 2024-03-01T00:00:00.000Z
const T0: i64 = 1_709_251_200_000;
const DAY: i64 = 86_400_000;

fn empty(entity: Entity) -> Rows {
    Rows::new(entity.columns().iter().copied())
}

fn ts(millis: i64) -> Value {
    Value::timestamp(millis)
}

/// Mappings for two users, one issue and one worklog; teams 1 and 2; calendar 1.
fn host() -> TestHost {
    let teams = empty(Entity::Team)
        .row([
            1.into(),
            "Platform".into(),
            Value::Null,
            Value::Null,
            ts(T0),
        ])
        .row([2.into(), "Apps".into(), Value::Null, Value::Null, ts(T0)]);
    let calendars = empty(Entity::GlobalCalendar).row([
        1.into(),
        "Berlin".into(),
        "Europe/Berlin".into(),
        Value::Null,
    ]);
    TestHost::new()
        .map(Namespace::USER, "admin", "acc-admin")
        .map(Namespace::USER, "JIRAUSER10000", "acc-10000")
        .map(Namespace::ISSUE, "10001", "cloud-issue-10001")
        .map(Namespace::WORKLOG, "20001", "cloud-worklog-20001")
        .map(Namespace::WORKLOG, "20002", "cloud-worklog-20002")
        .table(Entity::Team.table(), &teams)
        .table(Entity::GlobalCalendar.table(), &calendars)
}

fn migrate(host: &TestHost, entity: Entity, rows: &Rows) -> Vec<Output> {
    host.migrate::<TimesheetBuilder>(entity.table(), rows)
        .unwrap_or_else(|e| panic!("migrate failed: {e}"))
}

fn analyze(host: &TestHost, entity: Entity, rows: &Rows) -> Vec<Finding> {
    host.analyze::<TimesheetBuilder>(entity.table(), rows)
}

fn document(collection: &str, id: i64, body: &str) -> Output {
    Output::AppDocument {
        collection: collection.to_owned(),
        id: id.to_string(),
        body: body.to_owned(),
    }
}

/// The findings as (severity, code, row) triples.
fn codes(findings: &[Finding]) -> Vec<(Severity, &str, Option<i64>)> {
    findings
        .iter()
        .map(|f| (f.severity, f.code.as_str(), f.row_id))
        .collect()
}

/// Checks that analysis reports exactly `expected` and that migration refuses the batch
/// with the first fatal finding's code and row.
fn assert_fatal(entity: Entity, rows: &Rows, expected: &[(Severity, &str, Option<i64>)]) {
    let host = host();
    let findings = analyze(&host, entity, rows);
    assert_eq!(codes(&findings), expected);
    let first = findings
        .iter()
        .find(|f| f.severity == Severity::Fatal)
        .expect("a fatal finding");
    let err = host
        .migrate::<TimesheetBuilder>(entity.table(), rows)
        .expect_err("migrate must refuse a batch with a fatal row");
    assert_eq!(err.code, first.code);
    assert_eq!(err.row_id, first.row_id);
    assert_eq!(err.message, first.message);
}

// --- Manifest -------------------------------------------------------------------------

#[test]
fn manifest_matches_the_schema() {
    let m = TimesheetBuilder::manifest();
    assert_eq!(m.app_key, APP_KEY);
    assert_eq!(m.name, "Timesheet Builder");
    let expected: Vec<String> = [
        "TEAM",
        "TEAM_PERIOD",
        "TEAM_ROLE",
        "TEAM_MEMBER",
        "GLOBAL_CALENDAR",
        "WORKLOAD_SCHEME",
        "NON_WORKING_DAY",
        "USER_LABEL",
        "WORKLOG_APPROVAL",
    ]
    .iter()
    .map(|e| ao_table(APP_KEY, e))
    .collect();
    assert_eq!(m.tables, expected);
    assert_eq!(
        m.namespaces,
        ["identity:user", "jira:issue", "jira:worklog"]
    );
    assert_eq!(
        m.scopes,
        [
            DataScope::AppDataUgc,
            DataScope::AppDataPii,
            DataScope::ProductDataOther,
            DataScope::MigrationTracingIdentity,
        ]
    );
    assert_eq!(
        m.outputs,
        [
            OutputKind::AppDocument,
            OutputKind::AppProperty,
            OutputKind::EntityProperty,
        ]
    );
}

#[test]
fn table_names_carry_the_derived_prefix() {
    assert_eq!(airlock_sdk::ao_prefix(APP_KEY) + "_", TABLE_PREFIX);
    for entity in Entity::ALL {
        assert_eq!(entity.table(), ao_table(APP_KEY, entity.name()));
        assert_eq!(entity.table(), format!("{TABLE_PREFIX}{}", entity.name()));
        assert_eq!(Entity::of_table(entity.table()), Some(entity));
        assert_eq!(entity.columns()[0], "ID");
    }
    assert_eq!(Entity::of_table("AO_60DB71_RAPIDVIEW"), None);
    assert_eq!(Entity::of_table("TEAM"), None);
}

// --- Outputs, table by table --------------------------------------------------------------

#[test]
fn team_becomes_a_document_with_its_lead() {
    let rows = empty(Entity::Team)
        .row([
            1.into(),
            "Platform".into(),
            "Core \"platform\" team".into(),
            "admin".into(),
            ts(T0),
        ])
        .row([
            2.into(),
            "Apps".into(),
            Value::Null,
            Value::Null,
            ts(T0 + 1),
        ]);
    let host = host();
    assert!(analyze(&host, Entity::Team, &rows).is_empty());
    assert_eq!(
        migrate(&host, Entity::Team, &rows),
        [
            document(
                "teams",
                1,
                r#"{"created":"2024-03-01T00:00:00.000Z","description":"Core \"platform\" team","id":1,"leadAccountId":"acc-admin","name":"Platform"}"#
            ),
            document(
                "teams",
                2,
                r#"{"created":"2024-03-01T00:00:00.001Z","description":null,"id":2,"leadAccountId":null,"name":"Apps"}"#
            ),
        ]
    );
}

#[test]
fn unknown_team_lead_warns_and_the_lead_is_dropped() {
    let rows = empty(Entity::Team).row([
        5.into(),
        "Ghosts".into(),
        Value::Null,
        "JIRAUSER99999".into(),
        ts(T0),
    ]);
    let host = host();
    assert_eq!(
        codes(&analyze(&host, Entity::Team, &rows)),
        [(Severity::Warning, "unknown-team-lead", Some(5))]
    );
    assert_eq!(
        migrate(&host, Entity::Team, &rows),
        [document(
            "teams",
            5,
            r#"{"created":"2024-03-01T00:00:00.000Z","description":null,"id":5,"leadAccountId":null,"name":"Ghosts"}"#
        )]
    );
}

#[test]
fn team_period_becomes_a_document() {
    let rows = empty(Entity::TeamPeriod)
        .row([
            10.into(),
            1.into(),
            ts(T0),
            ts(T0 + 14 * DAY),
            40.5.into(),
            "OPEN".into(),
        ])
        .row([
            11.into(),
            2.into(),
            ts(T0),
            ts(T0),
            Value::Integer(0),
            "CLOSED".into(),
        ]);
    let host = host();
    assert!(analyze(&host, Entity::TeamPeriod, &rows).is_empty());
    assert_eq!(
        migrate(&host, Entity::TeamPeriod, &rows),
        [
            document(
                "team-periods",
                10,
                r#"{"capacityHours":40.5,"end":"2024-03-15T00:00:00.000Z","id":10,"start":"2024-03-01T00:00:00.000Z","status":"open","teamId":1}"#
            ),
            document(
                "team-periods",
                11,
                r#"{"capacityHours":0.0,"end":"2024-03-01T00:00:00.000Z","id":11,"start":"2024-03-01T00:00:00.000Z","status":"closed","teamId":2}"#
            ),
        ]
    );
}

#[test]
fn team_role_becomes_a_document() {
    let rows = empty(Entity::TeamRole)
        .row([3.into(), "Developer".into(), Value::Null, true.into()])
        .row([
            4.into(),
            "Tester".into(),
            "Tests things".into(),
            false.into(),
        ]);
    let host = host();
    assert!(analyze(&host, Entity::TeamRole, &rows).is_empty());
    assert_eq!(
        migrate(&host, Entity::TeamRole, &rows),
        [
            document(
                "team-roles",
                3,
                r#"{"default":true,"description":null,"id":3,"name":"Developer"}"#
            ),
            document(
                "team-roles",
                4,
                r#"{"default":false,"description":"Tests things","id":4,"name":"Tester"}"#
            ),
        ]
    );
}

#[test]
fn team_member_becomes_a_document() {
    let rows = empty(Entity::TeamMember)
        .row([
            20.into(),
            1.into(),
            "JIRAUSER10000".into(),
            3.into(),
            ts(T0),
            ts(T0 + DAY + 1_234),
            "jira-developers, jira-users,,".into(),
            1.into(),
            7.into(),
        ])
        .row([
            21.into(),
            2.into(),
            "admin".into(),
            Value::Null,
            ts(T0),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ]);
    let host = host();
    assert!(analyze(&host, Entity::TeamMember, &rows).is_empty());
    assert_eq!(
        migrate(&host, Entity::TeamMember, &rows),
        [
            document(
                "team-members",
                20,
                r#"{"accountId":"acc-10000","globalCalendarId":1,"groups":["jira-developers","jira-users"],"id":20,"joined":"2024-03-01T00:00:00.000Z","left":"2024-03-02T00:00:01.234Z","roleId":3,"teamId":1,"workloadSchemeId":7}"#
            ),
            document(
                "team-members",
                21,
                r#"{"accountId":"acc-admin","globalCalendarId":null,"groups":[],"id":21,"joined":"2024-03-01T00:00:00.000Z","left":null,"roleId":null,"teamId":2,"workloadSchemeId":null}"#
            ),
        ]
    );
}

#[test]
fn calendar_becomes_a_document() {
    let rows = empty(Entity::GlobalCalendar).row([
        1.into(),
        "Berlin".into(),
        "Europe/Berlin".into(),
        "German holidays".into(),
    ]);
    let host = host();
    assert!(analyze(&host, Entity::GlobalCalendar, &rows).is_empty());
    assert_eq!(
        migrate(&host, Entity::GlobalCalendar, &rows),
        [document(
            "calendars",
            1,
            r#"{"description":"German holidays","id":1,"name":"Berlin","timeZone":"Europe/Berlin"}"#
        )]
    );
}

#[test]
fn workload_scheme_becomes_a_document_and_the_default_an_app_property() {
    let week = |id: i64, name: &str, default: bool| -> Vec<Value> {
        let mut values: Vec<Value> = vec![id.into(), name.into()];
        values.extend([8.0, 8.0, 8.0, 8.0, 6.5].map(Value::from));
        values.extend([Value::Integer(0), Value::Double(0.0)]);
        values.push(default.into());
        values
    };
    let rows = empty(Entity::WorkloadScheme)
        .row(week(7, "Standard", true))
        .row(week(8, "Part time", false));
    let host = host();
    assert!(analyze(&host, Entity::WorkloadScheme, &rows).is_empty());
    let hours = r#""hours":{"friday":6.5,"monday":8.0,"saturday":0.0,"sunday":0.0,"thursday":8.0,"tuesday":8.0,"wednesday":8.0}"#;
    assert_eq!(
        migrate(&host, Entity::WorkloadScheme, &rows),
        [
            document(
                "workload-schemes",
                7,
                &format!(r#"{{"default":true,{hours},"id":7,"name":"Standard"}}"#)
            ),
            Output::AppProperty {
                key: "default-workload-scheme".into(),
                value: r#"{"id":7}"#.into(),
            },
            document(
                "workload-schemes",
                8,
                &format!(r#"{{"default":false,{hours},"id":8,"name":"Part time"}}"#)
            ),
        ]
    );
}

#[test]
fn non_working_day_becomes_a_document() {
    let rows = empty(Entity::NonWorkingDay).row([
        30.into(),
        1.into(),
        ts(T0 + 30 * DAY),
        "Holiday".into(),
        "#ff0000".into(),
    ]);
    let host = host();
    assert!(analyze(&host, Entity::NonWorkingDay, &rows).is_empty());
    assert_eq!(
        migrate(&host, Entity::NonWorkingDay, &rows),
        [document(
            "non-working-days",
            30,
            r##"{"calendarId":1,"color":"#ff0000","day":"2024-03-31T00:00:00.000Z","id":30,"legend":"Holiday"}"##
        )]
    );
}

#[test]
fn user_label_becomes_a_document() {
    let rows = empty(Entity::UserLabel)
        .row([40.into(), "admin".into(), "Contractor".into(), Value::Null])
        .row([
            41.into(),
            "JIRAUSER10000".into(),
            "Part time".into(),
            "blue".into(),
        ]);
    let host = host();
    assert!(analyze(&host, Entity::UserLabel, &rows).is_empty());
    assert_eq!(
        migrate(&host, Entity::UserLabel, &rows),
        [
            document(
                "user-labels",
                40,
                r#"{"accountId":"acc-admin","color":null,"id":40,"label":"Contractor"}"#
            ),
            document(
                "user-labels",
                41,
                r#"{"accountId":"acc-10000","color":"blue","id":41,"label":"Part time"}"#
            ),
        ]
    );
}

#[test]
fn worklog_approval_becomes_a_worklog_entity_property() {
    let rows = empty(Entity::WorklogApproval)
        .row([
            50.into(),
            20001.into(),
            10001.into(),
            "admin".into(),
            "APPROVED".into(),
            ts(T0 + 5 * DAY),
            10.into(),
        ])
        .row([
            51.into(),
            20002.into(),
            10001.into(),
            "JIRAUSER10000".into(),
            "PENDING".into(),
            Value::Null,
            Value::Null,
        ]);
    let host = host();
    assert!(analyze(&host, Entity::WorklogApproval, &rows).is_empty());
    assert_eq!(
        migrate(&host, Entity::WorklogApproval, &rows),
        [
            Output::EntityProperty {
                entity: EntityKind::Worklog,
                entity_id: "cloud-worklog-20001".into(),
                key: "timesheet-builder.approval".into(),
                value: r#"{"approverAccountId":"acc-admin","decidedAt":"2024-03-06T00:00:00.000Z","issueId":"cloud-issue-10001","periodId":10,"status":"APPROVED"}"#.into(),
            },
            Output::EntityProperty {
                entity: EntityKind::Worklog,
                entity_id: "cloud-worklog-20002".into(),
                key: "timesheet-builder.approval".into(),
                value: r#"{"approverAccountId":"acc-10000","decidedAt":null,"issueId":"cloud-issue-10001","periodId":null,"status":"PENDING"}"#.into(),
            },
        ]
    );
}

// --- Findings -------------------------------------------------------------------------

const FATAL: Severity = Severity::Fatal;
const WARNING: Severity = Severity::Warning;

fn member(id: i64, team: i64, user: &str, joined: i64, left: Option<i64>) -> Vec<Value> {
    vec![
        id.into(),
        team.into(),
        user.into(),
        Value::Null,
        ts(joined),
        left.map(ts).unwrap_or(Value::Null),
        Value::Null,
        Value::Null,
        Value::Null,
    ]
}

fn period(id: i64, team: i64, start: i64, end: i64, capacity: f64) -> Vec<Value> {
    vec![
        id.into(),
        team.into(),
        ts(start),
        ts(end),
        capacity.into(),
        "OPEN".into(),
    ]
}

fn approval(id: i64, worklog: i64, issue: i64, approver: &str) -> Vec<Value> {
    vec![
        id.into(),
        worklog.into(),
        issue.into(),
        approver.into(),
        "REJECTED".into(),
        ts(T0),
        Value::Null,
    ]
}

#[test]
fn member_of_missing_team_is_fatal() {
    let rows = empty(Entity::TeamMember)
        .row(member(1, 1, "admin", T0, None))
        .row(member(2, 99, "admin", T0, None));
    assert_fatal(
        Entity::TeamMember,
        &rows,
        &[(FATAL, "member-of-missing-team", Some(2))],
    );
}

#[test]
fn unknown_member_is_fatal() {
    let rows = empty(Entity::TeamMember).row(member(3, 1, "JIRAUSER404", T0, None));
    assert_fatal(
        Entity::TeamMember,
        &rows,
        &[(FATAL, "unknown-user", Some(3))],
    );
}

#[test]
fn member_leaving_before_joining_is_fatal() {
    let rows = empty(Entity::TeamMember)
        .row(member(4, 1, "admin", T0, Some(T0)))
        .row(member(5, 1, "admin", T0, Some(T0 - 1)));
    assert_fatal(
        Entity::TeamMember,
        &rows,
        &[(FATAL, "member-leaves-before-joining", Some(5))],
    );
}

#[test]
fn a_row_reports_every_problem_in_order() {
    let rows = empty(Entity::TeamMember).row(member(6, 98, "nobody", T0, Some(T0 - DAY)));
    assert_fatal(
        Entity::TeamMember,
        &rows,
        &[
            (FATAL, "member-of-missing-team", Some(6)),
            (FATAL, "unknown-user", Some(6)),
            (FATAL, "member-leaves-before-joining", Some(6)),
        ],
    );
}

#[test]
fn period_of_missing_team_is_fatal() {
    let rows = empty(Entity::TeamPeriod).row(period(1, 42, T0, T0 + DAY, 10.0));
    assert_fatal(
        Entity::TeamPeriod,
        &rows,
        &[(FATAL, "period-of-missing-team", Some(1))],
    );
}

#[test]
fn period_ending_before_it_starts_is_fatal() {
    let rows = empty(Entity::TeamPeriod).row(period(2, 1, T0, T0 - 1, 10.0));
    assert_fatal(
        Entity::TeamPeriod,
        &rows,
        &[(FATAL, "period-ends-before-start", Some(2))],
    );
}

#[test]
fn negative_capacity_warns_and_migrates() {
    let rows = empty(Entity::TeamPeriod).row(period(3, 1, T0, T0 + DAY, -1.5));
    let host = host();
    assert_eq!(
        codes(&analyze(&host, Entity::TeamPeriod, &rows)),
        [(WARNING, "negative-capacity", Some(3))]
    );
    let outputs = migrate(&host, Entity::TeamPeriod, &rows);
    assert_eq!(outputs.len(), 1);
    let Output::AppDocument { body, .. } = &outputs[0] else {
        panic!("a document")
    };
    assert!(body.contains(r#""capacityHours":-1.5"#), "{body}");
}

#[test]
fn day_of_missing_calendar_is_fatal() {
    let rows = empty(Entity::NonWorkingDay)
        .row([1.into(), 1.into(), ts(T0), "ok".into(), Value::Null])
        .row([2.into(), 2.into(), ts(T0), "lost".into(), Value::Null]);
    assert_fatal(
        Entity::NonWorkingDay,
        &rows,
        &[(FATAL, "day-of-missing-calendar", Some(2))],
    );
}

#[test]
fn label_of_unknown_user_is_fatal() {
    let rows =
        empty(Entity::UserLabel).row([7.into(), "JIRAUSER404".into(), "x".into(), Value::Null]);
    assert_fatal(
        Entity::UserLabel,
        &rows,
        &[(FATAL, "unknown-user", Some(7))],
    );
}

#[test]
fn approval_of_unknown_worklog_is_fatal() {
    let rows = empty(Entity::WorklogApproval).row(approval(8, 29999, 10001, "admin"));
    assert_fatal(
        Entity::WorklogApproval,
        &rows,
        &[(FATAL, "unknown-worklog", Some(8))],
    );
}

#[test]
fn approval_of_unknown_issue_is_fatal() {
    let rows = empty(Entity::WorklogApproval).row(approval(9, 20001, 19999, "admin"));
    assert_fatal(
        Entity::WorklogApproval,
        &rows,
        &[(FATAL, "unknown-issue", Some(9))],
    );
}

#[test]
fn approval_by_unknown_user_is_fatal() {
    let rows = empty(Entity::WorklogApproval).row(approval(10, 20001, 10001, "JIRAUSER404"));
    assert_fatal(
        Entity::WorklogApproval,
        &rows,
        &[(FATAL, "unknown-user", Some(10))],
    );
}

#[test]
fn approval_with_nothing_migrated_reports_all_three() {
    let rows = empty(Entity::WorklogApproval).row(approval(11, 1, 2, "nobody"));
    assert_fatal(
        Entity::WorklogApproval,
        &rows,
        &[
            (FATAL, "unknown-worklog", Some(11)),
            (FATAL, "unknown-issue", Some(11)),
            (FATAL, "unknown-user", Some(11)),
        ],
    );
}

#[test]
fn a_mistyped_or_missing_column_is_a_bad_row() {
    // CREATED is a string, not a timestamp.
    let rows = empty(Entity::Team)
        .row([1.into(), "ok".into(), Value::Null, Value::Null, ts(T0)])
        .row([
            2.into(),
            "bad".into(),
            Value::Null,
            Value::Null,
            "yesterday".into(),
        ]);
    assert_fatal(Entity::Team, &rows, &[(FATAL, "bad-row", Some(2))]);
    let findings = analyze(&host(), Entity::Team, &rows);
    assert_eq!(
        findings[0].message,
        "column CREATED: expected timestamp, found string that is not an ISO 8601 date-time \
         (like 2014-09-04T06:36:33.057Z) (row ID 2)"
    );

    // A table without a declared column.
    let rows = Rows::new(["ID", "NAME"]).row([3.into(), "x".into()]);
    assert_fatal(Entity::TeamRole, &rows, &[(FATAL, "bad-row", Some(3))]);
}

#[test]
fn an_unknown_status_is_a_bad_row() {
    let mut values = period(12, 1, T0, T0 + DAY, 1.0);
    values[5] = "ARCHIVED".into();
    let rows = empty(Entity::TeamPeriod).row(values);
    assert_fatal(Entity::TeamPeriod, &rows, &[(FATAL, "bad-row", Some(12))]);

    let mut values = approval(13, 20001, 10001, "admin");
    values[4] = "MAYBE".into();
    let rows = empty(Entity::WorklogApproval).row(values);
    assert_fatal(
        Entity::WorklogApproval,
        &rows,
        &[(FATAL, "bad-row", Some(13))],
    );
}

#[test]
fn migrate_refuses_the_whole_batch_for_one_fatal_row() {
    let rows = empty(Entity::UserLabel)
        .row([1.into(), "admin".into(), "a".into(), Value::Null])
        .row([2.into(), "JIRAUSER404".into(), "b".into(), Value::Null])
        .row([3.into(), "admin".into(), "c".into(), Value::Null]);
    let err = host()
        .migrate::<TimesheetBuilder>(Entity::UserLabel.table(), &rows)
        .unwrap_err();
    assert_eq!(err.code, "unknown-user");
    assert_eq!(err.row_id, Some(2));
}

#[test]
fn findings_carry_no_user_keys() {
    let rows = empty(Entity::TeamMember).row(member(6, 1, "secret.user", T0, None));
    for finding in analyze(&host(), Entity::TeamMember, &rows) {
        assert!(!finding.message.contains("secret.user"), "{finding:?}");
    }
}

// --- Host calls -----------------------------------------------------------------------

#[test]
fn a_batch_resolves_each_namespace_in_one_call() {
    let rows = empty(Entity::WorklogApproval)
        .row(approval(1, 20001, 10001, "admin"))
        .row(approval(2, 20002, 10001, "JIRAUSER10000"))
        .row(approval(3, 20001, 10001, "admin"))
        .row(approval(4, 20002, 10001, "admin"));
    let host = host();
    for run in 0..2 {
        host.reset_calls();
        if run == 0 {
            assert!(analyze(&host, Entity::WorklogApproval, &rows).is_empty());
        } else {
            assert_eq!(migrate(&host, Entity::WorklogApproval, &rows).len(), 4);
        }
        let mut calls = host.resolve_calls();
        calls.sort();
        assert_eq!(
            calls,
            [
                // Each id once, in the order the batch first names it.
                (
                    "identity:user".to_owned(),
                    vec!["admin".to_owned(), "JIRAUSER10000".to_owned()]
                ),
                ("jira:issue".to_owned(), vec!["10001".to_owned()]),
                (
                    "jira:worklog".to_owned(),
                    vec!["20001".to_owned(), "20002".to_owned()]
                ),
            ]
        );
        assert_eq!(host.host_calls(), 3);
    }
}

#[test]
fn a_user_batch_makes_one_resolve_call() {
    let mut rows = empty(Entity::UserLabel);
    for id in 0..500 {
        let user = if id % 2 == 0 {
            "admin"
        } else {
            "JIRAUSER10000"
        };
        rows.push(vec![id.into(), user.into(), "l".into(), Value::Null]);
    }
    let host = host();
    assert_eq!(migrate(&host, Entity::UserLabel, &rows).len(), 500);
    assert_eq!(host.host_calls(), 1);
    assert_eq!(host.resolve_calls()[0].1.len(), 2);
}

#[test]
fn referenced_rows_are_checked_in_one_call_per_batch() {
    let mut rows = empty(Entity::TeamMember);
    for (id, team) in [(1, 1), (2, 2), (3, 1), (4, 2), (5, 1), (6, 99), (7, 99)] {
        rows.push(member(id, team, "admin", T0, None));
    }
    let host = host();
    let findings = analyze(&host, Entity::TeamMember, &rows);
    assert_eq!(
        codes(&findings),
        [
            (FATAL, "member-of-missing-team", Some(6)),
            (FATAL, "member-of-missing-team", Some(7)),
        ]
    );
    // Each distinct team id once, in first-seen order, in one call; no row reads.
    let team = Entity::Team.table().to_owned();
    assert_eq!(host.exists_calls(), [(team, vec![1, 2, 99])]);
    assert!(host.get_calls().is_empty());
    assert_eq!(host.resolve_calls().len(), 1);
    assert_eq!(host.host_calls(), 2);

    // Each batch starts afresh.
    host.reset_calls();
    let _ = analyze(&host, Entity::TeamMember, &rows);
    assert_eq!(host.exists_calls().len(), 1);
}

#[test]
fn an_empty_batch_calls_nothing() {
    let host = host();
    for entity in Entity::ALL {
        let rows = empty(entity);
        assert!(analyze(&host, entity, &rows).is_empty());
        assert!(migrate(&host, entity, &rows).is_empty());
    }
    assert_eq!(host.host_calls(), 0);
}

#[test]
fn tables_without_references_call_nothing() {
    let host = host();
    let rows = empty(Entity::TeamRole).row([1.into(), "r".into(), Value::Null, false.into()]);
    migrate(&host, Entity::TeamRole, &rows);
    assert_eq!(host.host_calls(), 0);
}

#[test]
fn migration_is_deterministic() {
    let mut rows = empty(Entity::TeamMember);
    for id in 0..50 {
        let user = if id % 3 == 0 {
            "admin"
        } else {
            "JIRAUSER10000"
        };
        rows.push(member(id, 1 + id % 2, user, T0 + id * DAY, None));
    }
    let host = host();
    let first = migrate(&host, Entity::TeamMember, &rows);
    let second = migrate(&host, Entity::TeamMember, &rows);
    assert_eq!(first, second);
    assert_eq!(first.len(), 50);
}

// --- Tables that are not ours -----------------------------------------------------------

/// A host that answers nothing, for calling the migrator directly.
struct Nothing;

impl Host for Nothing {
    fn resolve(&self, _: &str, ids: &[&str]) -> Vec<Option<String>> {
        vec![None; ids.len()]
    }
    fn get(&self, _: &str, _: i64) -> Option<(Vec<String>, Vec<Value>)> {
        None
    }
    fn exists(&self, _: &str, ids: &[i64]) -> Vec<bool> {
        vec![false; ids.len()]
    }
    fn log(&self, _: Level, _: &str) {}
}

#[test]
fn an_unknown_table_is_refused() {
    let ctx = Ctx::new(&Nothing);
    let rows = Rows::new(["ID"]).row([1.into()]);
    let findings = TimesheetBuilder::analyze(&ctx, "AO_60DB71_RAPIDVIEW", &rows);
    assert_eq!(codes(&findings), [(FATAL, "unknown-table", None)]);
    let err = TimesheetBuilder::migrate(&ctx, "AO_60DB71_RAPIDVIEW", &rows).unwrap_err();
    assert_eq!(err.code, "unknown-table");
}
