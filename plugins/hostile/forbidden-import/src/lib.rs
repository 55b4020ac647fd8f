//! Hostile test plugin: reads `/etc/passwd` with `std::fs`.
//!
//! That makes the component import `wasi:filesystem` (`types` and `preopens`), which no
//! Airlock plugin may import. The host must **refuse it at load**, by checking the
//! component's imports against its allow-list, before any batch runs; at run time the
//! read would fail anyway, as the host preopens no directory.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows, json,
};

/// The app key; its one table is `AO_BADD28_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.forbidden-import";

pub struct ForbiddenImport;

impl Migrator for ForbiddenImport {
    fn manifest() -> Manifest {
        Manifest::new(
            APP_KEY,
            "Hostile: forbidden import",
            env!("CARGO_PKG_VERSION"),
        )
        .table("DATA")
        .namespace(Namespace::USER)
        .scope(DataScope::AppDataOther)
        .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, _rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let passwd = std::fs::read_to_string("/etc/passwd")
            .map_err(|e| PluginError::new("no-file", e.to_string()))?;
        Ok(vec![Output::app_document(
            "passwd",
            1,
            json!({ "passwd": passwd }),
        )])
    }
}

airlock_sdk::export_migrator!(ForbiddenImport);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_its_own_table_and_users_only() {
        let m = ForbiddenImport::manifest();
        assert_eq!(m.tables, ["AO_BADD28_DATA"]);
        assert_eq!(m.namespaces, ["identity:user"]);
    }
}
