//! `airlock admin`: what the platform runs, across tenants, through the store's one
//! maintenance path — the retention sweep, and the anonymized statistics (counts,
//! durations, bytes, fuel, error codes; never a name, key, id, email or URL).

use std::path::Path;
use std::sync::Arc;

use airlock_vault::{KeyProvider, LocalKeyFile};
use anyhow::{Context, Result};

use crate::storage::{StorageOptions, open_blobs, open_store};

/// One retention sweep: expired data keys destroyed first, then the blobs; statistics
/// after 12 months; a tenant's metadata and key 30 days after its licence ends.
pub fn sweep(work: &Path, options: &StorageOptions) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(open_store(work, options))?;
    let blobs: Arc<dyn airlock_blobs::RegionalBlobs> = open_blobs(work, options)?.into();
    let keys: Arc<dyn KeyProvider> = Arc::new(LocalKeyFile::open(
        options.keys.clone().unwrap_or_else(|| work.join("keys")),
    )?);
    let report = rt.block_on(airlock_retention::sweep_now(&store, blobs.clone(), keys))?;
    // The S3 client owns a runtime: let it go outside ours.
    drop(blobs);
    println!(
        "retention sweep: {} data keys destroyed, {} migrations' data deleted ({} blobs), {} statistics expired, {} tenants expired{}",
        report.keys_destroyed,
        report.migrations_purged,
        report.blobs_deleted,
        report.stats_deleted,
        report.tenants_expired,
        if report.blob_failures + report.kek_failures > 0 {
            format!(
                "; {} blob and {} key deletions failed and are retried on the next sweep",
                report.blob_failures, report.kek_failures
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

/// Every tenant's statistics of the last `days` days, as JSON lines: printed, or POSTed to
/// an HTTPS endpoint (`AIRLOCK_STATS_CA` adds a trusted root).
pub fn stats(work: &Path, options: &StorageOptions, days: i64, export: Option<&str>) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(open_store(work, options))?;
    let since = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    let jsonl = rt.block_on(store.maintenance().export_stats_jsonl(since))?;
    match export {
        None => print!("{}", String::from_utf8_lossy(&jsonl)),
        Some(url) => {
            let ca = match std::env::var("AIRLOCK_STATS_CA") {
                Ok(path) => Some(std::fs::read_to_string(&path).with_context(|| {
                    format!("cannot read the CA certificate {path} (AIRLOCK_STATS_CA)")
                })?),
                Err(_) => None,
            };
            let lines = jsonl.iter().filter(|&&b| b == b'\n').count();
            let exporter = airlock_store::StatsExporter::new(url, ca.as_deref())?;
            rt.block_on(exporter.send(jsonl))?;
            println!("statistics: {lines} records sent to {url}");
        }
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the runtime")
}
