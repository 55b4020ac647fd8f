//! Hostile test plugin: keys that would change a REST path.
//!
//! On Jira Cloud an entity property is `PUT /rest/api/3/issue/{id}/properties/{key}`: a
//! key of `..` turns it into `PUT /rest/api/3/issue/{id}/` (Edit issue) with the plugin's
//! body. The row's `NAME` picks the key: `dotdot` → `..`, `dot` → `.`, `slash` → `a/b`,
//! `source` → Airlock's own `airlock.source` (allowed, but stored under the app's own
//! namespace so it never reaches Airlock's). It also logs terminal escape sequences,
//! which the host must store escaped.

use airlock_sdk::{
    Ctx, DataScope, EntityKind, Manifest, Migrator, Namespace, Output, OutputKind, PluginError,
    Rows, json,
};

pub const APP_KEY: &str = "com.airlock.hostile.dot-key";

/// What it logs: clear the screen, move home, and a fake "all good" line.
pub const ESCAPES: &str = "\u{1b}[2J\u{1b}[H\rmigration complete: 0 failures\u{7}";

pub struct DotKey;

impl Migrator for DotKey {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Hostile: dot key", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .namespace(Namespace::USER)
            .scope(DataScope::AppDataOther)
            .output(OutputKind::EntityProperty)
    }

    fn migrate(ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        ctx.warn(ESCAPES);
        let name = rows
            .iter()
            .next()
            .and_then(|r| r.str("NAME").ok().map(str::to_owned))
            .unwrap_or_default();
        let key = match name.as_str() {
            "dotdot" => "..",
            "dot" => ".",
            "slash" => "a/b",
            "source" => "airlock.source",
            _ => "fine",
        };
        Ok(vec![Output::entity_property(
            EntityKind::Issue,
            "10000",
            key,
            json!({ "fields": { "summary": "rewritten by a plugin" } }),
        )])
    }
}

airlock_sdk::export_migrator!(DotKey);
