//! A contract 2.0 migrator written against `wit/v2` alone: badges given to a team
//! directory's teams. The team ids are another app's, so it resolves them in the
//! namespace that app publishes (`app:com.acme.teams:team`); the host runs the publisher
//! first. The issue a badge was won on is resolved if the operator grants `jira:issue`
//! (optional): without it the badge migrates without its issue.

// A component only: the exports' symbol names (`airlock:plugin/migrator@2.0.0#…`) cannot
// be linked natively, and the host tests it as a component.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    world: "plugin",
    path: "../../../wit/v2",
    ownership: Borrowing {
        duplicate_if_necessary: false
    },
});

use airlock::plugin::mappings;
use airlock::plugin::types::{
    AppDocument, DataScope, Finding, Manifest, Output, OutputKind, PluginError, RequestedLimits,
    RowSet, RunSummary, Severity, Value,
};

pub const APP_KEY: &str = "com.acme.badges";
pub const TEAM_NAMESPACE: &str = "app:com.acme.teams:team";

fn badge_table() -> String {
    airlock_contract::ao_table(APP_KEY, "BADGE")
}

struct Badges;

/// One badge row's columns.
struct Badge<'a> {
    id: Option<i64>,
    team: Option<i64>,
    label: &'a str,
    issue: Option<i64>,
}

fn badges(rows: &RowSet) -> Vec<Badge<'_>> {
    let at = |name: &str| rows.columns.iter().position(|c| c == name);
    let (id, team, label, issue) = (at("ID"), at("TEAM_ID"), at("LABEL"), at("ISSUE_ID"));
    let int = |row: &[Value], i: Option<usize>| match i.and_then(|i| row.get(i)) {
        Some(Value::Integer(v)) => Some(*v),
        _ => None,
    };
    rows.values
        .chunks(rows.columns.len().max(1))
        .map(|row| Badge {
            id: int(row, id),
            team: int(row, team),
            label: match label.and_then(|i| row.get(i)) {
                Some(Value::String(s)) => s.as_str(),
                _ => "",
            },
            issue: int(row, issue),
        })
        .collect()
}

/// Each badge's team, resolved in the directory's namespace (one call per batch).
fn teams(badges: &[Badge<'_>]) -> Vec<Option<String>> {
    let ids: Vec<String> = badges
        .iter()
        .map(|b| b.team.map(|t| t.to_string()).unwrap_or_default())
        .collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    mappings::resolve(TEAM_NAMESPACE, &ids)
}

impl exports::airlock::plugin::migrator::Guest for Badges {
    fn describe() -> Manifest {
        Manifest {
            app_key: APP_KEY.into(),
            name: "Team badges".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            tables: vec![badge_table()],
            namespaces: vec![TEAM_NAMESPACE.into()],
            optional_namespaces: vec!["jira:issue".into()],
            publishes: vec![],
            lookups: vec![],
            scopes: vec![DataScope::AppDataOther],
            outputs: vec![OutputKind::AppDocument],
            limits: RequestedLimits {
                fuel_per_batch: None,
                memory_bytes: None,
                batch_rows: None,
            },
        }
    }

    fn analyze_batch(_table: String, rows: RowSet) -> Vec<Finding> {
        let badges = badges(&rows);
        let teams = teams(&badges);
        badges
            .iter()
            .zip(teams)
            .filter(|(_, team)| team.is_none())
            .map(|(badge, _)| Finding {
                severity: Severity::Fatal,
                code: "badge-of-unknown-team".into(),
                message: "the badge's team is not in the team directory (enable the Team directory app, or delete the badge)".into(),
                row_id: badge.id,
            })
            .collect()
    }

    fn migrate_batch(_table: String, rows: RowSet) -> Result<Vec<Output>, PluginError> {
        let badges = badges(&rows);
        let teams = teams(&badges);
        let issue_ids: Vec<String> = badges
            .iter()
            .map(|b| b.issue.map(|i| i.to_string()).unwrap_or_default())
            .collect();
        let issue_ids: Vec<&str> = issue_ids.iter().map(String::as_str).collect();
        // Optional: all `none` if the operator withheld it.
        let issues = mappings::resolve("jira:issue", &issue_ids);
        badges
            .iter()
            .zip(teams)
            .zip(issues)
            .map(|((badge, team), issue)| {
                let id = badge.id.ok_or_else(|| PluginError {
                    code: "bad-row".into(),
                    message: "a badge without an integer ID".into(),
                    row_id: None,
                })?;
                let team = team.ok_or_else(|| PluginError {
                    code: "unknown-team".into(),
                    message: "the badge's team was not migrated by the Team directory app".into(),
                    row_id: Some(id),
                })?;
                Ok(Output::AppDocument(AppDocument {
                    collection: "badges".into(),
                    id: format!("badge-{id}"),
                    body: serde_json::json!({
                        "team": team,
                        "label": badge.label,
                        "issue": issue,
                    })
                    .to_string(),
                }))
            })
            .collect()
    }

    fn finish(summary: RunSummary) -> Vec<Finding> {
        let rows: u64 = summary.tables.iter().map(|t| t.rows).sum();
        vec![Finding {
            severity: Severity::Info,
            code: "badges-seen".into(),
            message: format!("{rows} badges in {} tables", summary.tables.len()),
            row_id: None,
        }]
    }
}

export!(Badges);
