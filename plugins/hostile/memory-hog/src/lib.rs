//! Hostile test plugin: `migrate-batch` allocates 1 MiB buffers forever.
//!
//! Every buffer is filled (so every page is written and the linear memory really grows)
//! and kept alive, so nothing is ever freed. The host's **memory cap** (a
//! `ResourceLimiter` refusing `memory.grow`) must stop it: the allocation fails and the
//! guest aborts, which the host sees as a trap.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};
use std::hint::black_box;

/// The app key; its one table is `AO_0201B7_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.memory-hog";

/// One buffer.
const MIB: usize = 1 << 20;

pub struct MemoryHog;

impl Migrator for MemoryHog {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Hostile: memory hog", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .namespace(Namespace::USER)
            .scope(DataScope::AppDataOther)
            .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, _rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // A non-zero fill writes every byte, hence every page.
            let buffer = vec![0xA5_u8; MIB];
            hoard.push(black_box(buffer));
            black_box(&mut hoard);
        }
    }
}

airlock_sdk::export_migrator!(MemoryHog);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_its_own_table_and_users_only() {
        let m = MemoryHog::manifest();
        assert_eq!(m.tables, ["AO_0201B7_DATA"]);
        assert_eq!(m.namespaces, ["identity:user"]);
    }
}
