//! Hostile test plugin, base of two components the artifacts build script derives from it
//! by adding memories to its core module (a Rust plugin cannot declare them itself):
//!
//! - `HOSTILE_MANY_MEMORIES`: 10 more memories of 60 MiB each. The host caps memories per
//!   component (the pool would otherwise give one component many slots, each up to the
//!   memory cap) and refuses it at load.
//! - `HOSTILE_SPLIT_MEMORY`: 3 more memories of 22 MiB each: within the count, but 66 MiB
//!   in all, over the 64 MiB cap the host applies to all of an instance's memories
//!   together (a cap per memory would let it through).
//!
//! As built here, it is harmless.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};

pub const APP_KEY: &str = "com.airlock.hostile.many-memories";

pub struct ManyMemories;

impl Migrator for ManyMemories {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Hostile: many memories", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .namespace(Namespace::USER)
            .scope(DataScope::AppDataOther)
            .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        Ok(vec![Output::app_document("rows", 1, rows.len())])
    }
}

airlock_sdk::export_migrator!(ManyMemories);
