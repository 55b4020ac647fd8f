//! Test plugin: draws randomness the ways Rust's std does (a `RandomState` hash, seeded
//! from `wasi:random`) and outputs it. Plugin-made UUIDs must never repeat across batches,
//! tenants or migrations, yet a rerun of the same batch must draw the same (the
//! determinism check): the host seeds each batch from its tenant, migration, call, table
//! and number.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};
use std::hash::{BuildHasher, Hasher};

pub const APP_KEY: &str = "com.airlock.hostile.random-draw";

pub struct RandomDraw;

impl Migrator for RandomDraw {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Test: random draw", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .namespace(Namespace::USER)
            .scope(DataScope::AppDataOther)
            .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, _rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(1);
        Ok(vec![Output::app_document(
            "draw",
            1,
            h.finish().to_string(),
        )])
    }
}

airlock_sdk::export_migrator!(RandomDraw);
