//! Hostile test plugin: resolves a mapping namespace it never declared.
//!
//! Its manifest declares only `identity:user`, but `migrate-batch` resolves the batch's
//! `ID`s in `jira:issue` and would output the cloud ids as app documents `issues/<ID>`.
//! The host's **namespace access check** (declared in the manifest and granted by the
//! operator) must deny the call, failing the batch with an access error naming the
//! namespace.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows, json,
};

/// The app key; its one table is `AO_C796CE_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.ungranted-namespace";

pub struct UngrantedNamespace;

impl Migrator for UngrantedNamespace {
    fn manifest() -> Manifest {
        Manifest::new(
            APP_KEY,
            "Hostile: ungranted namespace",
            env!("CARGO_PKG_VERSION"),
        )
        .table("DATA")
        .namespace(Namespace::USER)
        .scope(DataScope::AppDataOther)
        .output(OutputKind::AppDocument)
    }

    fn migrate(ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let ids = rows
            .iter()
            .map(|row| row.id().map(|id| id.to_string()))
            .collect::<Result<Vec<String>, _>>()?;
        let issues = ctx.resolve(Namespace::ISSUE, ids.iter().map(String::as_str));
        Ok(ids
            .iter()
            .map(|id| Output::app_document("issues", id, json!({ "cloudId": issues.get(id) })))
            .collect())
    }
}

airlock_sdk::export_migrator!(UngrantedNamespace);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_sdk::testing::TestHost;

    #[test]
    #[should_panic(
        expected = "access denied: namespace `jira:issue` is not declared in the plugin's manifest"
    )]
    fn the_resolve_is_denied() {
        let table = airlock_sdk::ao_table(APP_KEY, "DATA");
        let rows = Rows::new(["ID", "NAME"]).row([10001.into(), "a".into()]);
        let _ = TestHost::new().migrate::<UngrantedNamespace>(&table, &rows);
    }
}
