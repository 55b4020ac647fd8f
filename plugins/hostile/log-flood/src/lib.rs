//! Hostile test plugin: `migrate-batch` writes 1 KiB `info` log lines in an endless loop.
//!
//! The host's **log quota** per batch must stop it (by failing the batch once the quota
//! is spent); if the host merely dropped the excess lines, the fuel limit would be the
//! backstop, but the quota should trip first.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};

/// The app key; its one table is `AO_F49F80_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.log-flood";

/// Bytes per log line.
pub const LINE_BYTES: usize = 1_024;

pub struct LogFlood;

impl Migrator for LogFlood {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Hostile: log flood", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .namespace(Namespace::USER)
            .scope(DataScope::AppDataOther)
            .output(OutputKind::AppDocument)
    }

    fn migrate(ctx: &Ctx, _table: &str, _rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let line = "flood ".repeat(LINE_BYTES / 6 + 1);
        let line = &line[..LINE_BYTES];
        loop {
            ctx.info(line);
        }
    }
}

airlock_sdk::export_migrator!(LogFlood);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_its_own_table_and_users_only() {
        let m = LogFlood::manifest();
        assert_eq!(m.tables, ["AO_F49F80_DATA"]);
        assert_eq!(m.namespaces, ["identity:user"]);
    }
}
