//! Hostile test plugin: `migrate-batch` sleeps for ever.
//!
//! `std::thread::sleep` becomes a `wasi:clocks/monotonic-clock` subscription and a
//! `wasi:io/poll` wait. If the host's clock really waited, one batch would hold a host
//! thread for ever, out of reach of fuel and the epoch deadline (which stop only Wasm
//! code). The host's clock is frozen with every subscription ready, so each sleep returns
//! at once and the loop runs into the batch's **deadline**.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};
use std::time::Duration;

pub const APP_KEY: &str = "com.airlock.hostile.sleeper";

pub struct Sleeper;

impl Migrator for Sleeper {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Hostile: sleeper", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .namespace(Namespace::USER)
            .scope(DataScope::AppDataOther)
            .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, _rows: &Rows) -> Result<Vec<Output>, PluginError> {
        std::thread::sleep(Duration::from_secs(u64::MAX));
        loop {
            std::thread::sleep(Duration::from_secs(5));
        }
    }
}

airlock_sdk::export_migrator!(Sleeper);
