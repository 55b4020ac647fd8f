//! Hostile test plugin: `describe` sleeps for ever, before the host knows anything of the
//! plugin. The load must fail by the **deadline**, not hang.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};
use std::time::Duration;

pub const APP_KEY: &str = "com.airlock.hostile.sleeper-in-describe";

pub struct SleeperInDescribe;

impl Migrator for SleeperInDescribe {
    fn manifest() -> Manifest {
        std::thread::sleep(Duration::from_secs(u64::MAX));
        loop {
            std::thread::sleep(Duration::from_secs(5));
        }
    }

    fn migrate(_ctx: &Ctx, _table: &str, _rows: &Rows) -> Result<Vec<Output>, PluginError> {
        Ok(vec![])
    }
}

/// The manifest it would have, for the record.
pub fn intended() -> Manifest {
    Manifest::new(
        APP_KEY,
        "Hostile: sleeper in describe",
        env!("CARGO_PKG_VERSION"),
    )
    .table("DATA")
    .namespace(Namespace::USER)
    .scope(DataScope::AppDataOther)
    .output(OutputKind::AppDocument)
}

airlock_sdk::export_migrator!(SleeperInDescribe);
