//! Hostile test plugin: host calls as big as memory allows.
//!
//! - on `DATA`: one `app-data.exists` call with 16,777,216 ids (the 16 M);
//! - on `IDS`: one `mappings.resolve` call with 2,500,000 ids;
//! - on `OVER`: one `app-data.exists` call with one id more than allowed;
//! - on `SLOW`: `app-data.exists` calls of the most ids allowed, for ever (against a
//!   slow store, each call takes long: the host must check the deadline inside its loop).
//!
//! The host refuses a call of more than `MAX_IDS_PER_CALL` ids by its length, before it
//! reads one, and checks the deadline every 1,024 ids.

use airlock_sdk::{
    Ctx, DataScope, Limits, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};

pub const APP_KEY: &str = "com.airlock.hostile.id-flood";

/// Ids of the one `exists` call on `DATA`.
pub const EXISTS_IDS: usize = 16 << 20;
/// Ids of the one `resolve` call on `IDS`.
pub const RESOLVE_IDS: usize = 2_500_000;

pub struct IdFlood;

impl Migrator for IdFlood {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Hostile: id flood", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .table("IDS")
            .table("SLOW")
            .table("OVER")
            .namespace(Namespace::USER)
            .scope(DataScope::AppDataOther)
            .output(OutputKind::AppDocument)
            .limits(Limits {
                memory_bytes: Some(200 << 20),
                ..Limits::default()
            })
    }

    fn migrate(ctx: &Ctx, table: &str, _rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let found = if table.ends_with("_DATA") {
            let ids: Vec<i64> = (0..EXISTS_IDS as i64).collect();
            ctx.exists_raw(table, &ids).len()
        } else if table.ends_with("_OVER") {
            let ids: Vec<i64> = (0..=airlock_sdk::MAX_IDS_PER_CALL as i64).collect();
            ctx.exists_raw(table, &ids).len()
        } else if table.ends_with("_IDS") {
            let ids = vec!["1"; RESOLVE_IDS];
            ctx.resolve_raw(Namespace::USER, &ids).len()
        } else {
            let ids: Vec<i64> = (0..airlock_sdk::MAX_IDS_PER_CALL as i64).collect();
            let mut found = 0;
            loop {
                found += ctx.exists_raw(table, &ids).len();
                if found == usize::MAX {
                    break found;
                }
            }
        };
        Ok(vec![Output::app_document("found", 1, found)])
    }
}

airlock_sdk::export_migrator!(IdFlood);
