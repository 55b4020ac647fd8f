//! Contract `airlock:plugin@2.0.0` beside `@1.0.0`, through the real runtime: two plugins
//! written against `wit/v2` alone (plugins/v2), one publishing its teams' ids and one
//! resolving them; `app-data.find`, `finish` and optional namespaces; what the host refuses.

use airlock_model::{AppOutput, Namespace, Severity, Value};
use airlock_plugin_artifacts as artifacts;
use airlock_runtime::{
    Cause, Contract, Denied, Grant, GrowingMappings, MemoryAppData, MemoryMappings, RunContext,
    RunPhase, RunSummary,
};
use airlock_tests::{batch, load, runtime, session, session_with};
use std::sync::Arc;

const DIRECTORY: &str = "com.acme.teams";
const BADGES: &str = "com.acme.badges";

fn table(app: &str, entity: &str) -> String {
    airlock_model::AppKey::new(app).ao_prefix().table(entity)
}

fn team_namespace() -> Namespace {
    Namespace::app(DIRECTORY, "team").unwrap()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// A table's columns and rows.
type Table = (Vec<String>, Vec<Vec<Value>>);

/// Three teams; members of teams 1 and 2 (three in team 1), and one of a missing team 9.
fn directory_rows() -> (Table, Table) {
    let team_columns = strings(&["ID", "LEAD_KEY", "NAME"]);
    let teams = (1..=3)
        .map(|i| {
            vec![
                Value::Integer(i),
                Value::String("JIRAUSER10000".into()),
                Value::String(format!("Squad {i}")),
            ]
        })
        .collect();
    let member_columns = strings(&["ID", "TEAM_ID", "USER_KEY"]);
    let members = [(1, 1), (2, 1), (3, 1), (4, 2), (5, 9)]
        .into_iter()
        .map(|(id, team)| {
            vec![
                Value::Integer(id),
                Value::Integer(team),
                Value::String(format!("JIRAUSER1000{}", id % 2)),
            ]
        })
        .collect();
    ((team_columns, teams), (member_columns, members))
}

fn users() -> MemoryMappings {
    let mut m = MemoryMappings::new();
    m.insert(Namespace::USER, "JIRAUSER10000", "acc-0");
    m.insert(Namespace::USER, "JIRAUSER10001", "acc-1");
    m
}

#[test]
fn both_contract_versions_load_side_by_side_with_what_each_declares() {
    let v1 = load(artifacts::TIMESHEET_BUILDER);
    assert_eq!(v1.manifest().contract, Contract::V1);
    assert!(v1.manifest().publishes.is_empty());

    let directory = load(artifacts::TEAM_DIRECTORY);
    let m = directory.manifest();
    assert_eq!(m.contract, Contract::V2);
    assert_eq!(m.publishes, vec![team_namespace()]);
    assert_eq!(m.namespaces, vec![Namespace::USER]);
    assert_eq!(m.optional_namespaces, vec![Namespace::PROJECT]);
    assert_eq!(
        m.lookups,
        vec![(table(DIRECTORY, "MEMBER"), "TEAM_ID".to_owned())]
    );
    assert!(
        (directory.info().imports.iter()).any(|i| i == "airlock:plugin/mappings@2.0.0"),
        "{:?}",
        directory.info().imports
    );

    let badges = load(artifacts::TEAM_BADGES);
    assert_eq!(badges.manifest().namespaces, vec![team_namespace()]);
    assert_eq!(
        badges.manifest().optional_namespaces,
        vec![Namespace::ISSUE]
    );
}

#[test]
fn a_published_team_is_resolved_by_another_plugin_in_the_next_batch() {
    let ((team_columns, teams), (member_columns, members)) = directory_rows();
    let mut app_data = MemoryAppData::new();
    app_data.extend(&table(DIRECTORY, "TEAM"), &team_columns, teams.clone());
    app_data.extend(&table(DIRECTORY, "MEMBER"), &member_columns, members);
    let mappings = Arc::new(GrowingMappings::new(users()));

    let directory = load(artifacts::TEAM_DIRECTORY);
    let session = directory
        .session(RunContext {
            tenant: airlock_model::TenantId::new("t"),
            migration: airlock_model::MigrationId::new("m"),
            grant: Grant::as_asked(&directory),
            mappings: mappings.clone(),
            app_data: Arc::new(app_data),
        })
        .unwrap();
    let team_table = table(DIRECTORY, "TEAM");
    let ran = session
        .migrate(batch(&team_table, &team_columns, &teams))
        .expect("the teams migrate");
    // Every team published, its members found by their team id in one call.
    assert_eq!(
        ran.published,
        (1..=3)
            .map(|i| (team_namespace(), i.to_string(), format!("team-{i}")))
            .collect::<Vec<_>>()
    );
    assert_eq!(ran.usage.host_calls.find_calls, 1);
    assert_eq!(ran.usage.host_calls.rows_found, 4);
    let AppOutput::AppDocument { id, body, .. } = &ran.value[0] else {
        panic!("{:?}", ran.value[0]);
    };
    assert_eq!(id, "team-1");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body["members"],
        serde_json::json!(["acc-1", "acc-0", "acc-1"])
    );
    assert_eq!(body["lead"], "acc-0");
    mappings.record(&ran.published);

    // `finish` sees the phase: 3 teams read, 3 published.
    let mut summary = RunSummary::default();
    summary.batch(&team_table, teams.len(), &Ok(ran));
    let finish = session
        .finish(RunPhase::Migrate, &summary)
        .expect("a 2.0 plugin has finish")
        .expect("finish runs");
    assert_eq!(finish.value.len(), 1);
    assert_eq!(
        (finish.value[0].code.as_str(), finish.value[0].severity),
        ("teams-published", Severity::Info)
    );
    // Had fewer been published than read, its cross-batch check says so.
    summary.published.clear();
    let finish = session
        .finish(RunPhase::Migrate, &summary)
        .unwrap()
        .unwrap();
    assert_eq!(
        (finish.value[0].code.as_str(), finish.value[0].severity),
        ("teams-not-published", Severity::Fatal)
    );

    // Another plugin resolves them (its grant names the namespace); the optional
    // `jira:issue` is granted here, so the issue is resolved too.
    let badges = load(artifacts::TEAM_BADGES);
    mappings.record(&[(Namespace::ISSUE, "10100".into(), "20100".into())]);
    let session = badges
        .session(RunContext {
            tenant: airlock_model::TenantId::new("t"),
            migration: airlock_model::MigrationId::new("m"),
            grant: Grant::as_asked(&badges),
            mappings: mappings.clone(),
            app_data: Arc::new(MemoryAppData::new()),
        })
        .unwrap();
    let badge_columns = strings(&["ID", "ISSUE_ID", "LABEL", "TEAM_ID"]);
    let badge_rows = vec![
        vec![
            Value::Integer(1),
            Value::Integer(10100),
            Value::String("On \"fire\"".into()),
            Value::Integer(2),
        ],
        vec![
            Value::Integer(2),
            Value::Null,
            Value::String("Mentor".into()),
            Value::Integer(3),
        ],
    ];
    let badge_table = table(BADGES, "BADGE");
    let ran = session
        .migrate(batch(&badge_table, &badge_columns, &badge_rows))
        .expect("the badges migrate");
    let bodies: Vec<serde_json::Value> = (ran.value.iter())
        .map(|o| match o {
            AppOutput::AppDocument { body, .. } => serde_json::from_str(body).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(bodies[0]["team"], "team-2");
    assert_eq!(bodies[0]["issue"], "20100");
    assert_eq!(bodies[0]["label"], "On \"fire\"");
    assert_eq!(bodies[1]["team"], "team-3");
    assert!(bodies[1]["issue"].is_null());
    let analyzed = session
        .analyze(batch(&badge_table, &badge_columns, &badge_rows))
        .unwrap();
    assert!(analyzed.value.is_empty(), "{:?}", analyzed.value);
}

#[test]
fn an_optional_namespace_withheld_resolves_to_nothing_a_required_one_stops_the_batch() {
    let badges = load(artifacts::TEAM_BADGES);
    let mut mappings = MemoryMappings::new();
    mappings.insert(team_namespace(), "1", "team-1");
    mappings.insert(Namespace::ISSUE, "10100", "20100");
    let columns = strings(&["ID", "ISSUE_ID", "LABEL", "TEAM_ID"]);
    let rows = vec![vec![
        Value::Integer(1),
        Value::Integer(10100),
        Value::String("Mentor".into()),
        Value::Integer(1),
    ]];
    let badge_table = table(BADGES, "BADGE");
    let asked = Grant::as_asked(&badges);

    // The operator grants the team namespace and withholds the optional jira:issue.
    let grant = Grant {
        namespaces: [team_namespace()].into(),
        ..asked.clone()
    };
    let session = session_with(&badges, "t", grant, mappings.clone(), MemoryAppData::new());
    let ran = session
        .migrate(batch(&badge_table, &columns, &rows))
        .expect("runs without the optional namespace");
    let AppOutput::AppDocument { body, .. } = &ran.value[0] else {
        panic!()
    };
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["team"], "team-1");
    assert!(body["issue"].is_null(), "withheld: {body}");

    // Without the required team namespace the batch stops, naming it.
    let grant = Grant {
        namespaces: [Namespace::ISSUE].into(),
        ..asked
    };
    let session = session_with(&badges, "t", grant, mappings, MemoryAppData::new());
    let e = session
        .migrate(batch(&badge_table, &columns, &rows))
        .unwrap_err();
    assert_eq!(
        e.cause,
        Cause::AccessDenied(Denied::UngrantedNamespace("app:com.acme.teams:team".into()))
    );
}

#[test]
fn a_mapping_published_again_with_another_cloud_id_fails_the_batch() {
    let ((team_columns, teams), (member_columns, members)) = directory_rows();
    let mut app_data = MemoryAppData::new();
    app_data.extend(&table(DIRECTORY, "MEMBER"), &member_columns, members);
    let mut mappings = users();
    // An earlier run recorded team 2 under another id: the first mapping stands.
    mappings.insert(team_namespace(), "2", "team-two");
    let directory = load(artifacts::TEAM_DIRECTORY);
    let session = session(&directory, "t", mappings, app_data);
    let e = session
        .migrate(batch(&table(DIRECTORY, "TEAM"), &team_columns, &teams))
        .unwrap_err();
    assert_eq!(e.cause.code(), "publish-refused", "{e}");
    assert!(
        e.to_string()
            .contains("server id `2` of `app:com.acme.teams:team`"),
        "{e}"
    );
}

#[test]
fn a_1_0_plugin_has_no_finish_and_runs_unchanged_on_the_same_runtime() {
    let tb = load(artifacts::TIMESHEET_BUILDER);
    let session = session(&tb, "t", MemoryMappings::new(), MemoryAppData::new());
    assert!(
        session
            .finish(RunPhase::Migrate, &RunSummary::default())
            .is_none()
    );
    airlock_tests::timesheet_still_works(runtime());
}

#[test]
fn a_stored_jql_query_has_its_ids_rewritten_in_the_namespaces_the_plugin_was_granted() {
    let queries = load(artifacts::SAVED_QUERIES);
    let mut mappings = MemoryMappings::new();
    for (ns, server, cloud) in [
        (Namespace::PROJECT, "10000", "90000"),
        (Namespace::STATUS, "10001", "100001"),
        (Namespace::USER, "JIRAUSER10100", "5b10ac8d82e05b22cc7d4ef5"),
        (Namespace::CUSTOM_FIELD, "10100", "customfield_10042"),
        (Namespace::VERSION, "10200", "100200"),
        (Namespace::COMPONENT, "10300", "100300"),
        (Namespace::SPRINT, "7", "42"),
    ] {
        mappings.insert(ns, server, cloud);
    }
    let columns = strings(&["ID", "JQL", "NAME", "OWNER_KEY"]);
    let jql = "project = 10000 AND status = 10001 AND assignee = JIRAUSER10100 AND \
               cf[10100] ~ \"x\" AND fixVersion = 10200 AND component = 10300 AND sprint = 7 \
               AND filter = 10400 ORDER BY cf[10100]";
    let rows = vec![vec![
        Value::Integer(1),
        Value::String(jql.into()),
        Value::String("My open work".into()),
        Value::String("JIRAUSER10100".into()),
    ]];
    let table = table("com.acme.queries", "QUERY");
    // Granted all but the sprint namespace (optional).
    let asked = Grant::as_asked(&queries);
    let grant = Grant {
        namespaces: (asked.namespaces.iter().copied())
            .filter(|ns| *ns != Namespace::SPRINT)
            .collect(),
        ..asked
    };
    let session = session_with(&queries, "t", grant, mappings, MemoryAppData::new());
    let ran = session.migrate(batch(&table, &columns, &rows)).unwrap();
    assert_eq!(ran.usage.host_calls.jql_rewrites, 1);
    let AppOutput::AppDocument { body, .. } = &ran.value[0] else {
        panic!()
    };
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body["jql"],
        "project = 90000 AND status = 100001 AND assignee = 5b10ac8d82e05b22cc7d4ef5 AND \
         cf[10042] ~ \"x\" AND fixVersion = 100200 AND component = 100300 AND sprint = 7 \
         AND filter = 10400 ORDER BY cf[10042]"
    );
    assert_eq!(
        body["unresolved"],
        serde_json::json!(["jira/classic/software:sprint:7", "jira:filter:10400"])
    );
    // The analysis says why each stayed: not granted, or not migrated.
    let findings = session
        .analyze(batch(&table, &columns, &rows))
        .unwrap()
        .value;
    let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["jql-namespace-not-granted", "jql-id-not-migrated"]);

    // A query the host cannot read is the plugin's finding, naming why.
    let broken = vec![vec![
        Value::Integer(2),
        Value::String("summary ~ \"never closed".into()),
        Value::String("Broken".into()),
        Value::Null,
    ]];
    let findings = session
        .analyze(batch(&table, &columns, &broken))
        .unwrap()
        .value;
    assert_eq!(findings[0].code, "unreadable-jql");
    assert!(
        findings[0].message.contains("never closed"),
        "{}",
        findings[0].message
    );
}
