//! Hostile test plugin: `analyze-batch` returns 100,000 distinct findings for any batch.
//! Across a migration that would pile up in the host's memory, the report and the blobs;
//! the host keeps the first 1,000 of a batch and adds one `findings-capped` finding.

use airlock_sdk::{
    Ctx, DataScope, Finding, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};

pub const APP_KEY: &str = "com.airlock.hostile.findings-flood";

/// Findings per batch.
pub const FINDINGS: usize = 100_000;

pub struct FindingsFlood;

impl Migrator for FindingsFlood {
    fn manifest() -> Manifest {
        Manifest::new(
            APP_KEY,
            "Hostile: findings flood",
            env!("CARGO_PKG_VERSION"),
        )
        .table("DATA")
        .namespace(Namespace::USER)
        .scope(DataScope::AppDataOther)
        .output(OutputKind::AppDocument)
    }

    fn analyze(_ctx: &Ctx, _table: &str, _rows: &Rows) -> Vec<Finding> {
        (0..FINDINGS)
            .map(|i| {
                Finding::warning(format!("flood-{i}"), format!("finding number {i}")).row(i as i64)
            })
            .collect()
    }

    fn migrate(_ctx: &Ctx, _table: &str, _rows: &Rows) -> Result<Vec<Output>, PluginError> {
        Ok(vec![])
    }
}

airlock_sdk::export_migrator!(FindingsFlood);
