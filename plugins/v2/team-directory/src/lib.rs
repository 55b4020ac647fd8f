//! A contract 2.0 migrator written against `wit/v2` alone (no SDK): a team directory's
//! teams become app documents with their members embedded, and the teams' cloud ids are
//! published in `app:com.acme.teams:team` so other apps can resolve them.
//!
//! What it shows of 2.0: `mappings.publish` (in analyze too, so apps analyzed after it
//! resolve the ids), `app-data.find` (a team's members by their `TEAM_ID`, for a whole
//! batch in one call), `finish` (every team was published, checked across batches) and
//! an optional namespace (`jira/classic:project`, never required to run).

// A component only: the exports' symbol names (`airlock:plugin/migrator@2.0.0#…`) cannot
// be linked natively, and the host tests it as a component.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    world: "plugin",
    path: "../../../wit/v2",
    // Imports take borrowed strings (`&[&str]`): no copy of each id before a call.
    ownership: Borrowing {
        duplicate_if_necessary: false
    },
});

use airlock::plugin::types::{
    DataScope, Finding, Lookup, Manifest, Output, OutputKind, PluginError, RequestedLimits, RowSet,
    RunSummary, Severity, Value,
};
use airlock::plugin::{app_data, mappings};

pub const APP_KEY: &str = "com.acme.teams";
pub const TEAM_NAMESPACE: &str = "app:com.acme.teams:team";

fn table(entity: &str) -> String {
    airlock_contract::ao_table(APP_KEY, entity)
}

/// A team's cloud id: the id of its document, known before anything is written.
fn cloud_id(team: i64) -> String {
    format!("team-{team}")
}

struct Directory;

impl exports::airlock::plugin::migrator::Guest for Directory {
    fn describe() -> Manifest {
        Manifest {
            app_key: APP_KEY.into(),
            name: "Team directory".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            tables: vec![table("TEAM"), table("MEMBER")],
            namespaces: vec!["identity:user".into()],
            optional_namespaces: vec!["jira/classic:project".into()],
            publishes: vec!["team".into()],
            lookups: vec![Lookup {
                table: table("MEMBER"),
                column: "TEAM_ID".into(),
            }],
            scopes: vec![DataScope::AppDataOther, DataScope::AppDataPii],
            outputs: vec![OutputKind::AppDocument],
            limits: RequestedLimits {
                fuel_per_batch: None,
                memory_bytes: None,
                batch_rows: None,
            },
        }
    }

    fn analyze_batch(table_name: String, rows: RowSet) -> Vec<Finding> {
        let rows = Rows::new(&rows);
        let mut findings = Vec::new();
        if table_name == table("TEAM") {
            publish(&rows);
            let leads: Vec<&str> = rows.iter().filter_map(|r| r.text("LEAD_KEY")).collect();
            let found = mappings::resolve("identity:user", &leads);
            for (row, lead) in rows
                .iter()
                .filter(|r| r.text("LEAD_KEY").is_some())
                .zip(found)
            {
                if lead.is_none() {
                    findings.push(Finding {
                        severity: Severity::Warning,
                        code: "lead-not-migrated".into(),
                        message: "the team's lead is not a migrated user; the team keeps no lead"
                            .into(),
                        row_id: row.int("ID"),
                    });
                }
            }
        } else if table_name == table("MEMBER") {
            let teams: Vec<i64> = rows.iter().filter_map(|r| r.int("TEAM_ID")).collect();
            let exists = app_data::exists(&table("TEAM"), &teams);
            for (row, found) in rows
                .iter()
                .filter(|r| r.int("TEAM_ID").is_some())
                .zip(exists)
            {
                if !found {
                    findings.push(Finding {
                        severity: Severity::Warning,
                        code: "member-of-missing-team".into(),
                        message: "the member's team does not exist; the member is not migrated"
                            .into(),
                        row_id: row.int("ID"),
                    });
                }
            }
        }
        findings
    }

    fn migrate_batch(table_name: String, rows: RowSet) -> Result<Vec<Output>, PluginError> {
        if table_name != table("TEAM") {
            // Members travel inside their team's document.
            return Ok(Vec::new());
        }
        let rows = Rows::new(&rows);
        publish(&rows);
        let ids: Vec<Value> = rows
            .iter()
            .filter_map(|r| r.int("ID"))
            .map(Value::Integer)
            .collect();
        let ids: Vec<&Value> = ids.iter().collect();
        let members = app_data::find(&table("MEMBER"), "TEAM_ID", &ids);
        let members = Rows::new(&members);
        let keys: Vec<&str> = members.iter().filter_map(|m| m.text("USER_KEY")).collect();
        let accounts = mappings::resolve("identity:user", &keys);
        let account = |key: &str| {
            keys.iter()
                .position(|k| *k == key)
                .and_then(|i| accounts[i].clone())
        };
        let leads: Vec<&str> = rows.iter().filter_map(|r| r.text("LEAD_KEY")).collect();
        let lead_accounts = mappings::resolve("identity:user", &leads);
        let mut outputs = Vec::new();
        for row in rows.iter() {
            let id = row.int("ID").ok_or_else(|| PluginError {
                code: "bad-row".into(),
                message: "a team without an integer ID".into(),
                row_id: None,
            })?;
            let lead = row
                .text("LEAD_KEY")
                .and_then(|k| leads.iter().position(|l| *l == k))
                .and_then(|i| lead_accounts[i].clone());
            let team_members: Vec<String> = members
                .iter()
                .filter(|m| m.int("TEAM_ID") == Some(id))
                .filter_map(|m| m.text("USER_KEY").and_then(account))
                .collect();
            let body = serde_json::json!({
                "name": row.text("NAME").unwrap_or(""),
                "lead": lead,
                "members": team_members,
            })
            .to_string();
            outputs.push(Output::AppDocument(airlock::plugin::types::AppDocument {
                collection: "teams".into(),
                id: cloud_id(id),
                body,
            }));
        }
        Ok(outputs)
    }

    fn finish(summary: RunSummary) -> Vec<Finding> {
        let teams: u64 = (summary.tables.iter())
            .filter(|t| t.table == table("TEAM"))
            .map(|t| t.rows)
            .sum();
        let published: u64 = (summary.published.iter())
            .filter(|(ns, _)| ns == TEAM_NAMESPACE)
            .map(|(_, n)| *n)
            .sum();
        let failed: u64 = summary.tables.iter().map(|t| t.failed_batches).sum();
        if failed == 0 && published != teams {
            vec![Finding {
                severity: Severity::Fatal,
                code: "teams-not-published".into(),
                message: format!(
                    "{teams} teams were read but {published} published: other apps would miss team ids"
                ),
                row_id: None,
            }]
        } else {
            vec![Finding {
                severity: Severity::Info,
                code: "teams-published".into(),
                message: format!("{published} team ids published for other apps"),
                row_id: None,
            }]
        }
    }
}

/// Publishes every team of the batch: server id → its document's id.
fn publish(rows: &Rows<'_>) {
    let pairs: Vec<(String, String)> = rows
        .iter()
        .filter_map(|r| r.int("ID"))
        .map(|id| (id.to_string(), cloud_id(id)))
        .collect();
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(s, c)| (s.as_str(), c.as_str()))
        .collect();
    mappings::publish(TEAM_NAMESPACE, &pairs);
}

/// Rows of a row set, by column name.
struct Rows<'a> {
    set: &'a RowSet,
}

struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl<'a> Rows<'a> {
    fn new(set: &'a RowSet) -> Rows<'a> {
        Rows { set }
    }

    fn iter(&self) -> impl Iterator<Item = Row<'a>> + '_ {
        let width = self.set.columns.len().max(1);
        self.set.values.chunks(width).map(|values| Row {
            columns: &self.set.columns,
            values,
        })
    }
}

impl<'a> Row<'a> {
    fn get(&self, column: &str) -> Option<&'a Value> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
    }

    fn int(&self, column: &str) -> Option<i64> {
        match self.get(column) {
            Some(Value::Integer(i)) => Some(*i),
            _ => None,
        }
    }

    fn text(&self, column: &str) -> Option<&'a str> {
        match self.get(column) {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        }
    }
}

export!(Directory);
