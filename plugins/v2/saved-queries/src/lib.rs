//! A contract 2.0 migrator written against `wit/v2` alone: an app that stores saved JQL
//! queries (as reporting and timesheet apps do) migrates them with their ids rewritten
//! by the host (`core-data.rewrite-jql`), resolving only the namespaces it was granted.
//! Every namespace a query may name is optional: what the operator withholds stays a
//! server id, and the analysis says which.

// A component only (see team-directory).
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    world: "plugin",
    path: "../../../wit/v2",
    ownership: Borrowing {
        duplicate_if_necessary: false
    },
});

use airlock::plugin::core_data;
use airlock::plugin::mappings;
use airlock::plugin::types::{
    AppDocument, DataScope, Finding, Manifest, Output, OutputKind, PluginError, RequestedLimits,
    RowSet, RunSummary, Severity, Value,
};

pub const APP_KEY: &str = "com.acme.queries";

struct Queries;

struct Query<'a> {
    id: Option<i64>,
    name: &'a str,
    jql: &'a str,
    owner: Option<&'a str>,
}

fn queries(rows: &RowSet) -> Vec<Query<'_>> {
    let at = |name: &str| rows.columns.iter().position(|c| c == name);
    let (id, name, jql, owner) = (at("ID"), at("NAME"), at("JQL"), at("OWNER_KEY"));
    fn text(row: &[Value], i: Option<usize>) -> Option<&str> {
        match i.and_then(|i| row.get(i)) {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        }
    }
    rows.values
        .chunks(rows.columns.len().max(1))
        .map(|row| Query {
            id: match id.and_then(|i| row.get(i)) {
                Some(Value::Integer(v)) => Some(*v),
                _ => None,
            },
            name: text(row, name).unwrap_or(""),
            jql: text(row, jql).unwrap_or(""),
            owner: text(row, owner),
        })
        .collect()
}

impl exports::airlock::plugin::migrator::Guest for Queries {
    fn describe() -> Manifest {
        Manifest {
            app_key: APP_KEY.into(),
            name: "Saved queries".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            tables: vec![airlock_contract::ao_table(APP_KEY, "QUERY")],
            namespaces: vec!["identity:user".into()],
            optional_namespaces: [
                "jira/classic:project",
                "jira/classic:issueStatus",
                "jira/classic:customField",
                "jira:projectVersion",
                "jira:projectComponent",
                "jira/classic/software:sprint",
                "jira:filter",
            ]
            .map(String::from)
            .to_vec(),
            publishes: vec![],
            lookups: vec![],
            scopes: vec![DataScope::AppDataUgc],
            outputs: vec![OutputKind::AppDocument],
            limits: RequestedLimits {
                fuel_per_batch: None,
                memory_bytes: None,
                batch_rows: None,
            },
        }
    }

    fn analyze_batch(_table: String, rows: RowSet) -> Vec<Finding> {
        let mut findings = Vec::new();
        for query in queries(&rows) {
            match core_data::rewrite_jql(query.jql) {
                Err(why) => findings.push(Finding {
                    severity: Severity::Fatal,
                    code: "unreadable-jql".into(),
                    message: format!("the saved query cannot be read: {why}; fix it in Jira"),
                    row_id: query.id,
                }),
                Ok(r) => {
                    for u in r.unresolved {
                        findings.push(Finding {
                            severity: Severity::Warning,
                            code: if u.granted {
                                "jql-id-not-migrated".into()
                            } else {
                                "jql-namespace-not-granted".into()
                            },
                            message: format!(
                                "the query's {} names {} `{}`, which keeps its server id",
                                u.field, u.namespace, u.id
                            ),
                            row_id: query.id,
                        })
                    }
                }
            }
        }
        findings
    }

    fn migrate_batch(_table: String, rows: RowSet) -> Result<Vec<Output>, PluginError> {
        let queries = queries(&rows);
        let owners: Vec<&str> = queries.iter().map(|q| q.owner.unwrap_or("")).collect();
        let accounts = mappings::resolve("identity:user", &owners);
        queries
            .iter()
            .zip(accounts)
            .map(|(query, owner)| {
                let id = query.id.ok_or_else(|| PluginError {
                    code: "bad-row".into(),
                    message: "a saved query without an integer ID".into(),
                    row_id: None,
                })?;
                let rewritten = core_data::rewrite_jql(query.jql).map_err(|why| PluginError {
                    code: "unreadable-jql".into(),
                    message: why,
                    row_id: Some(id),
                })?;
                let unresolved: Vec<String> = rewritten
                    .unresolved
                    .iter()
                    .map(|u| format!("{}:{}", u.namespace, u.id))
                    .collect();
                Ok(Output::AppDocument(AppDocument {
                    collection: "queries".into(),
                    id: format!("query-{id}"),
                    body: serde_json::json!({
                        "name": query.name,
                        "jql": rewritten.query,
                        "owner": owner,
                        "unresolved": unresolved,
                    })
                    .to_string(),
                }))
            })
            .collect()
    }

    fn finish(_summary: RunSummary) -> Vec<Finding> {
        Vec::new()
    }
}

export!(Queries);
