//! `airlock admin`: what the platform runs, across tenants, through the store's one
//! maintenance path — the retention sweep, and the anonymized statistics (counts,
//! durations, bytes, fuel, error codes; never a name, key, id, email or URL).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use airlock_vault::{KeyProvider, LocalKeyFile};
use anyhow::{Context, Result};

use airlock_pipeline::storage::{StorageOptions, open_blobs, open_store};

/// The retention sweep: expired data keys destroyed first, then the blobs; abandoned
/// migrations like failed ones; unfinished uploads; statistics after 12 months; a tenant's
/// metadata and key 30 days after its licence ends. Once, or `every` so often until the
/// process is stopped (a sweep is idempotent, and one that fails is reported and tried
/// again at the next interval). Only what lives in this command's blob store and key
/// provider is deleted; the rest is listed with the reason.
///
/// `adopt_unrecorded`: first record this command's stores on the migrations created before
/// Airlock recorded where their data lives (the operator says they are the ones).
pub fn sweep(
    work: &Path,
    options: &StorageOptions,
    every: Option<Duration>,
    adopt_unrecorded: bool,
) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(open_store(work, options))?;
    let blobs: Arc<dyn airlock_blobs::RegionalBlobs> = open_blobs(work, options)?.into();
    let keys: Arc<dyn KeyProvider> = Arc::new(LocalKeyFile::open(
        options.keys.clone().unwrap_or_else(|| work.join("keys")),
    )?);
    if adopt_unrecorded {
        let placement = airlock_store::Placement::new(blobs.location(), keys.location())?;
        let n = rt.block_on(store.maintenance().adopt_unrecorded(&placement))?;
        println!(
            "{n} migrations created before their stores were recorded now record {} and {}",
            placement.blob_store(),
            placement.key_provider()
        );
    }
    let Some(every) = every else {
        let report = rt.block_on(airlock_retention::sweep_now(&store, blobs.clone(), keys))?;
        println!("{}", describe(&report));
        // The S3 client owns a runtime: let it go outside ours.
        drop(blobs);
        return Ok(());
    };
    println!(
        "retention sweeper: a sweep every {}, until stopped",
        show_interval(every)
    );
    loop {
        let at = time::OffsetDateTime::now_utc();
        match rt.block_on(airlock_retention::sweep_now(
            &store,
            blobs.clone(),
            keys.clone(),
        )) {
            Ok(report) => println!("{}: {}", show_time(at), describe(&report)),
            Err(e) => {
                tracing::error!(error = %e, "a retention sweep failed; the next one retries");
                println!(
                    "{}: the sweep failed ({e:#}); the next one retries",
                    show_time(at)
                );
            }
        }
        std::thread::sleep(every);
    }
}

/// One line of counts, then one line per migration or tenant left, with the reason.
fn describe(report: &airlock_store::SweepReport) -> String {
    let mut out = format!(
        "retention sweep: {} data keys destroyed, {} migrations' data deleted ({} blobs), {} unfinished uploads aborted, {} statistics expired, {} tenants expired{}",
        report.keys_destroyed,
        report.migrations_purged,
        report.blobs_deleted,
        report.uploads_aborted,
        report.stats_deleted,
        report.tenants_expired,
        if report.blob_failures + report.kek_failures + report.upload_failures > 0 {
            format!(
                "; {} blob, {} key and {} upload deletions failed and are retried on the next sweep",
                report.blob_failures, report.kek_failures, report.upload_failures
            )
        } else {
            String::new()
        }
    );
    if !report.left.is_empty() {
        out.push_str(&format!(
            "\n{} left, their data not deleted:",
            report.left.len()
        ));
        for left in &report.left {
            out.push_str(&format!("\n  {left}"));
        }
        if report
            .left
            .iter()
            .any(|l| matches!(l.why, airlock_store::LeftReason::Unrecorded { .. }))
        {
            out.push_str(
                "\n  (if this sweep's --blobs and --keys are the ones those migrations used, \
                 `airlock admin sweep --adopt-unrecorded` records them)",
            );
        }
    }
    out
}

/// `30s`, `15m`, `1h`, `1d`: a whole number and its unit.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: use a whole number and a unit, e.g. 15m, 1h, 1d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: the unit is s, m, h or d (e.g. 15m, 1h, 1d)"
            ));
        }
    };
    if n == 0 {
        return Err(format!(
            "{text:?}: the interval must be longer than nothing"
        ));
    }
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

fn show_time(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

fn show_interval(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Records when the licence of the tenant (`--tenant`) ends (`YYYY-MM-DD`, the end of that
/// day in UTC) or that it does not (`never`).
pub fn licence(work: &Path, options: &StorageOptions, ends: &str) -> Result<()> {
    let Some(tenant) = options.tenant.as_deref() else {
        anyhow::bail!("name the tenant whose licence this is: --tenant ID");
    };
    let at = if ends == "never" {
        None
    } else {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let day = time::Date::parse(ends, format)
            .with_context(|| format!("{ends:?} is not a date: use YYYY-MM-DD, or never"))?;
        Some(day.next_day().unwrap_or(day).midnight().assume_utc())
    };
    let rt = runtime()?;
    let store = rt.block_on(open_store(work, options))?;
    let scope = store.tenant(&airlock_model::TenantId::new(tenant));
    rt.block_on(scope.set_licence_end(at))
        .with_context(|| format!("cannot record the licence of tenant {tenant}"))?;
    match at {
        Some(at) => println!(
            "tenant {tenant}: the licence ends {}; its migrations' metadata, data and key go 30 days after, at {}",
            show_time(at),
            show_time(at + airlock_retention::LICENCE_GRACE)
        ),
        None => println!("tenant {tenant}: the licence does not end"),
    }
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
