//! Hostile test plugin: `migrate-batch` loops forever.
//!
//! Each turn of the loop goes through [`std::hint::black_box`], so the optimiser can
//! neither remove the loop nor prove it does nothing. The host's **fuel limit** (or, as a
//! backstop, its wall-clock deadline via epoch interruption) must stop the batch.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};
use std::hint::black_box;

/// The app key; its one table is `AO_FC2EEB_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.infinite-loop";

pub struct InfiniteLoop;

impl Migrator for InfiniteLoop {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Hostile: infinite loop", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .namespace(Namespace::USER)
            .scope(DataScope::AppDataOther)
            .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let mut spins = black_box(rows.len() as u64);
        loop {
            spins = black_box(spins.wrapping_add(1));
        }
    }
}

airlock_sdk::export_migrator!(InfiniteLoop);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_its_own_table_and_users_only() {
        let m = InfiniteLoop::manifest();
        assert_eq!(m.tables, ["AO_FC2EEB_DATA"]);
        assert_eq!(m.namespaces, ["identity:user"]);
    }
}
