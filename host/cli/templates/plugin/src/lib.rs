//! {{name}}: migrates the data of the app `{{app_key}}` from Jira Data Center to Jira Cloud,
//! as an Airlock plugin (a sandboxed WebAssembly component).
//!
//! Written by `airlock plugin new` as a working example to change into your own migrator:
//! the app's table `NOTE` (`{{ao_prefix}}_NOTE` in a backup) holds notes users wrote on
//! issues; each note becomes an entity property on its issue in the cloud. The SDK's
//! documentation is `cargo doc --open -p airlock-sdk`; `vendor/airlock-sdk/NAMESPACES.md`
//! lists the id mappings a plugin can resolve.

use airlock_sdk::{
    Ctx, DataScope, EntityKind, Finding, Manifest, Migrator, Output, OutputKind, PluginError, Row,
    RowError, Rows, json, namespaces,
};

/// The app whose data this plugin migrates. Airlock derives the app's table prefix
/// ({{ao_prefix}}) from it.
pub const APP_KEY: &str = "{{app_key}}";

/// Each note becomes the issue property `{{name}}.note-<ID>`.
pub const PROPERTY_PREFIX: &str = "{{name}}.note-";

pub struct {{type_name}};

impl Migrator for {{type_name}} {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .table("NOTE")
            // Added in version 2 of the app: older backups have no such column.
            .optional_column("NOTE", "PINNED")
            .namespace(namespaces::USER)
            .namespace(namespaces::ISSUE)
            .scope(DataScope::AppDataUgc)
            .scope(DataScope::AppDataPii)
            .output(OutputKind::EntityProperty)
    }

    /// Before anything is written: every note must belong to a migrated issue; a note
    /// whose author was not migrated is kept without one.
    fn analyze(ctx: &Ctx, _table: &str, rows: &Rows) -> Vec<Finding> {
        // Every id of the batch in one host call per namespace, not one call per row.
        let issue_ids = issue_ids(rows);
        let issues = ctx.resolve(namespaces::ISSUE, issue_ids.iter().map(String::as_str));
        let users = ctx.resolve(namespaces::USER, author_keys(rows));
        let mut findings = Vec::new();
        for row in rows.iter() {
            let note = match Note::read(&row) {
                Ok(note) => note,
                Err(e) => {
                    findings.push(Finding::fatal("bad-row", e.to_string()).row(e.row_id));
                    continue;
                }
            };
            if issues.get(&note.issue_id).is_none() {
                findings.push(
                    Finding::fatal(
                        "unknown-issue",
                        "the note's issue was not migrated: migrate the issue, or delete the note",
                    )
                    .row(note.id),
                );
            }
            if users.get(note.author_key).is_none() {
                findings.push(
                    Finding::warning(
                        "unknown-user",
                        "the note's author was not migrated: the note is kept without an author",
                    )
                    .row(note.id),
                );
            }
        }
        findings
    }

    fn migrate(ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let issue_ids = issue_ids(rows);
        let issues = ctx.resolve(namespaces::ISSUE, issue_ids.iter().map(String::as_str));
        let users = ctx.resolve(namespaces::USER, author_keys(rows));
        rows.iter()
            .map(|row| {
                let note = Note::read(&row)?;
                let issue = issues.require(&note.issue_id, note.id)?;
                Ok(Output::entity_property(
                    EntityKind::Issue,
                    issue,
                    format!("{PROPERTY_PREFIX}{}", note.id),
                    json!({
                        "body": note.body,
                        "authorAccountId": users.get(note.author_key),
                        "created": note.created,
                        "pinned": note.pinned,
                    }),
                ))
            })
            .collect()
    }
}

airlock_sdk::export_migrator!({{type_name}});

/// One row of `NOTE`.
struct Note<'a> {
    id: i64,
    /// The issue's server id, as the `jira:issue` namespace keys it.
    issue_id: String,
    /// A user key (`JIRAUSER10100`), as the `identity:user` namespace keys it.
    author_key: &'a str,
    body: &'a str,
    /// Milliseconds since 1970, UTC, whichever way the backup stores the date.
    created: i64,
    pinned: bool,
}

impl<'a> Note<'a> {
    fn read(row: &Row<'a>) -> Result<Note<'a>, RowError> {
        Ok(Note {
            id: row.id()?,
            issue_id: row.i64("ISSUE_ID")?.to_string(),
            author_key: row.str("AUTHOR_KEY")?,
            body: row.str("BODY")?,
            created: row.timestamp("CREATED")?,
            pinned: row.opt_bool("PINNED")?.unwrap_or(false),
        })
    }
}

/// The batch's issue ids, as text: mappings are keyed by server ids as the backup writes
/// them (`10000`).
fn issue_ids(rows: &Rows) -> Vec<String> {
    rows.iter()
        .filter_map(|row| row.i64("ISSUE_ID").ok())
        .map(|id| id.to_string())
        .collect()
}

fn author_keys(rows: &Rows) -> impl Iterator<Item = &str> {
    rows.iter().filter_map(|row| row.str("AUTHOR_KEY").ok())
}

#[cfg(test)]
mod tests;
