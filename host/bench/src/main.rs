//! `cargo xtask bench`: the speed and memory goals, each measured in one run against its
//! baseline (native code, a plain in-process lookup, or parsing the backup alone) on the
//! same machine.
//!
//! - instantiation per batch (fresh store + instance from the pre-instantiated component);
//! - Timesheet Builder per-row cost in Wasm, as a ratio to the same crate compiled natively
//!   and run in this process through the SDK's native harness;
//! - host-call cost per resolved id, in batches of 1,000 ids;
//! - fuel and time per row of the Python and JavaScript example plugins beside Rust (Timesheet Builder)
//!   on the same user-label batches (`languages`);
//! - `airlock migrate` end to end: throughput against parse-only, peak RSS at 100,000 and
//!   1,000,000 issues (see [`migrate`]);
//! - the load into Jira Cloud at Jira's rate limits, against the cloud double: requests per
//!   second as a share of what the limits allow for the same requests (`cloud`, see
//!   [`cloud`]; `--issues N`, 10,000 by default).

mod cloud;
mod encryption;
mod migrate;
mod seal;

use airlock_backup::{AoBatch, Backup};
use airlock_model::{AppOutput, MigrationId, Namespace, TenantId, Value};
use airlock_runtime::{
    Batch, Grant, Mappings, MemoryAppData, MemoryMappings, Plugin, RunContext, Runtime,
    RuntimeConfig, Session,
};
use airlock_sdk::testing::TestHost;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use timesheet_builder::TimesheetBuilder;

/// mimalloc, as the `airlock` binary: the migration child runs the pipeline as it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--migrate-child") {
        return migrate::child(&args[1..]);
    }
    println!("Airlock benchmarks (release build)\n");
    // `cargo xtask bench [instantiation|per-row|host-calls|languages|migrate|seal|encryption|cloud]…`
    // runs only those; `--issues N` sets the cloud benchmark's size.
    let mut only: Vec<String> = Vec::new();
    let mut cloud_issues = cloud::DEFAULT_ISSUES;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--issues" {
            cloud_issues = rest
                .next()
                .and_then(|n| n.replace('_', "").parse().ok())
                .filter(|n| *n > 0)
                .context("--issues takes a number of issues")?;
        } else {
            only.push(arg.clone());
        }
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    // Only the plugin benchmarks need the WebAssembly engine (and its memory pool).
    if ["instantiation", "per-row", "host-calls", "languages"]
        .iter()
        .any(|b| wanted(b))
    {
        let runtime = Runtime::new(RuntimeConfig::default())?;
        if wanted("instantiation") {
            instantiation(&runtime)?;
        }
        if wanted("per-row") {
            per_row_cost(&runtime)?;
        }
        if wanted("host-calls") {
            host_call_cost(&runtime)?;
        }
        if wanted("languages") {
            language_cost(&runtime)?;
        }
    }
    if wanted("migrate") {
        migrate::run()?;
    }
    if wanted("seal") {
        seal::seal_throughput()?;
    }
    if wanted("encryption") {
        encryption::run()?;
    }
    if wanted("cloud") {
        cloud::run(cloud_issues)?;
    }
    Ok(())
}

fn load(runtime: &Runtime, path: &str) -> Result<Plugin> {
    Ok(runtime.load_file(std::path::Path::new(path))?)
}

fn session(plugin: &Plugin, mappings: MemoryMappings, app_data: MemoryAppData) -> Result<Session> {
    Ok(plugin.session(RunContext {
        tenant: TenantId::new("bench"),
        migration: MigrationId::new("bench"),
        grant: Grant::as_asked(plugin),
        mappings: Arc::new(mappings),
        app_data: Arc::new(app_data),
    })?)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(mut samples: Vec<Duration>, p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p) as usize]
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "meets the goal"
    } else {
        "MISSES the goal"
    }
}

/// A fresh store and instance per batch, as every batch of every tenant gets.
fn instantiation(runtime: &Runtime) -> Result<()> {
    let plugin = load(runtime, airlock_plugin_artifacts::TIMESHEET_BUILDER)?;
    let session = session(&plugin, MemoryMappings::new(), MemoryAppData::new())?;
    let columns: Vec<String> = timesheet_builder::Entity::Team
        .columns()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let batch = Batch {
        table: timesheet_builder::Entity::Team.table(),
        index: 0,
        columns: &columns,
        rows: &[],
    };
    let mut samples = Vec::new();
    for i in 0..5_200 {
        let ran = session.migrate(batch).context("empty batch runs")?;
        if i >= 200 {
            samples.push(ran.usage.instantiate);
        }
    }
    let med = median(samples.clone());
    let p90 = percentile(samples, 0.9);
    println!("instantiation per batch (store + WASI context + instance, 5,000 batches)");
    println!(
        "  median {:.1} µs, p90 {:.1} µs; goal ≤ 50 µs: {}\n",
        micros(med),
        micros(p90),
        verdict(med <= Duration::from_micros(50))
    );
    Ok(())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The Timesheet Builder tables of a generated backup, as batches of the runtime's size.
fn timesheet_batches(
    dir: &std::path::Path,
) -> Result<(Vec<AoBatch>, MemoryMappings, airlock_fixtures::Generated)> {
    let spec = airlock_fixtures::Spec {
        users: 2_000,
        issues: 5_000,
        teams: 400,
        ..airlock_fixtures::Spec::default()
    };
    let path = dir.join("backup.zip");
    let generated = airlock_fixtures::write_backup(&path, &spec)?;
    let mut mappings = MemoryMappings::new();
    for (ns, ids) in airlock_fixtures::cloud_mappings(&generated, spec.seed) {
        let ns = Namespace::parse(&ns)?;
        for (server, cloud) in ids {
            mappings.insert(ns, server, cloud);
        }
    }
    let mut backup = Backup::open(&path)?;
    let mut reader = backup.active_objects()?;
    let batches = reader
        .batches(1000, |t| t.starts_with(timesheet_builder::TABLE_PREFIX))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((batches, mappings, generated))
}

/// An SDK output as the host takes it in (what the runtime lifts from a component).
fn app_output(o: airlock_sdk::Output) -> AppOutput {
    use airlock_model::EntityKind as Host;
    use airlock_sdk::EntityKind as Sdk;
    match o {
        airlock_sdk::Output::EntityProperty {
            entity,
            entity_id,
            key,
            value,
        } => AppOutput::EntityProperty {
            entity: match entity {
                Sdk::Issue => Host::Issue,
                Sdk::Project => Host::Project,
                Sdk::User => Host::User,
                Sdk::Comment => Host::Comment,
                Sdk::Worklog => Host::Worklog,
            },
            entity_id,
            key,
            value,
        },
        airlock_sdk::Output::AppProperty { key, value } => AppOutput::AppProperty { key, value },
        airlock_sdk::Output::AppDocument {
            collection,
            id,
            body,
        } => AppOutput::AppDocument {
            collection,
            id,
            body,
        },
    }
}

/// The batch as the SDK holds rows (the same value type: a copy, as lowering makes one).
fn sdk_rows(batch: &AoBatch) -> airlock_sdk::Rows {
    airlock_sdk::Rows::from_parts(batch.columns.to_vec(), batch.rows.clone())
}

fn per_row_cost(runtime: &Runtime) -> Result<()> {
    const ROUNDS: usize = 30;
    let dir = tempfile::tempdir()?;
    let (batches, mappings, generated) = timesheet_batches(dir.path())?;
    let rows: usize = batches.iter().map(|b| b.rows.len()).sum();

    // Wasm: through the runtime, a fresh instance per batch, outputs validated.
    let mut app_data = MemoryAppData::new();
    for b in &batches {
        app_data.extend(&b.table, &b.columns, b.rows.iter().cloned());
    }
    let plugin = load(runtime, airlock_plugin_artifacts::TIMESHEET_BUILDER)?;
    let session = session(&plugin, mappings, app_data)?;

    // Native: the same crate, through the SDK's harness, with the same data.
    let mut host = TestHost::new();
    for (ns, ids) in
        airlock_fixtures::cloud_mappings(&generated, airlock_fixtures::Spec::default().seed)
    {
        for (server, cloud) in ids {
            host.insert_mapping(&ns, &server, &cloud);
        }
    }
    // Placed in their tables up front, as the guest's batches arrive (no copy per round).
    let prepared: Vec<(String, airlock_sdk::Rows)> = batches
        .iter()
        .map(|b| {
            let rows = sdk_rows(b).in_table::<TimesheetBuilder>(&b.table);
            (b.table.clone(), rows)
        })
        .collect();
    let mut whole: std::collections::BTreeMap<String, airlock_sdk::Rows> = Default::default();
    for b in &batches {
        let rows = whole
            .entry(b.table.clone())
            .or_insert_with(|| airlock_sdk::Rows::new(b.columns.iter().cloned()));
        for r in &b.rows {
            rows.push(r.clone());
        }
    }
    for (table, rows) in &whole {
        host.insert_table(table, rows);
    }

    let run_wasm = || -> Result<(Duration, usize)> {
        let started = Instant::now();
        let (outputs, _) = migrate_all(&session, &batches)?;
        Ok((started.elapsed(), outputs))
    };
    // End to end, as the runtime is measured: from the host's batch to outputs the host
    // has checked (the quota and Jira Cloud's limits apply however a plugin runs).
    let quota = plugin.limits().output_bytes;
    let run_native = || -> Result<(Duration, usize)> {
        let started = Instant::now();
        let mut outputs = 0;
        for b in &batches {
            let produced: Vec<AppOutput> = host
                .migrate::<TimesheetBuilder>(
                    &b.table,
                    &sdk_rows(b).in_table::<TimesheetBuilder>(&b.table),
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .into_iter()
                .map(app_output)
                .collect();
            airlock_runtime::check_outputs(&plugin.manifest().app_key, &produced, quota)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            outputs += produced.len();
        }
        Ok((started.elapsed(), outputs))
    };
    // The plugin code alone, on rows already in the SDK's form.
    let run_native_plugin_only = || -> Result<Duration> {
        let started = Instant::now();
        for (table, rows) in &prepared {
            host.migrate::<TimesheetBuilder>(table, rows)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(started.elapsed())
    };

    // Alternate the two so both see the same machine state; keep each one's best round.
    let (mut wasm_best, mut native_best, mut plugin_only_best) =
        (Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut wasm_out, mut native_out) = (0, 0);
    for _ in 0..ROUNDS {
        let (t, n) = run_wasm()?;
        wasm_best = wasm_best.min(t);
        wasm_out = n;
        let (t, n) = run_native()?;
        native_best = native_best.min(t);
        native_out = n;
        plugin_only_best = plugin_only_best.min(run_native_plugin_only()?);
    }
    anyhow::ensure!(
        wasm_out == native_out,
        "wasm and native disagree: {wasm_out} vs {native_out} outputs"
    );
    let ratio = wasm_best.as_secs_f64() / native_best.as_secs_f64();
    let per_row = |d: Duration| micros(d) / rows as f64;
    println!(
        "Timesheet Builder per row ({rows} rows of 9 tables in {} batches, {wasm_out} outputs, best of {ROUNDS})",
        batches.len()
    );
    println!(
        "  wasm   {:.2} µs/row: host batch → sandbox (fresh instance, fuel) → checked outputs",
        per_row(wasm_best)
    );
    println!(
        "  native {:.2} µs/row: host batch → the same crate in-process → checked outputs ({:.2} µs/row of it in the plugin code)",
        per_row(native_best),
        per_row(plugin_only_best)
    );
    println!(
        "  ratio wasm / native = {ratio:.2}× (plugin code alone: {:.2}×); goal ≤ 2×: {}\n",
        wasm_best.as_secs_f64() / plugin_only_best.as_secs_f64(),
        verdict(ratio <= 2.0)
    );
    Ok(())
}

fn host_call_cost(runtime: &Runtime) -> Result<()> {
    const IDS: usize = 1000;
    const EXTRA_ROUNDS: i64 = 10;
    let plugin = load(runtime, airlock_plugin_artifacts::BENCH_RESOLVE)?;
    let table = plugin.manifest().tables[0].clone();
    let mut mappings = MemoryMappings::new();
    let keys: Vec<String> = (0..IDS)
        .map(|i| format!("JIRAUSER{}", 10_000 + i))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        mappings.insert(
            Namespace::USER,
            key.clone(),
            format!("5b10a2844c20165700e{i:05x}"),
        );
    }
    let baseline_mappings = mappings.clone();
    let session = session(&plugin, mappings, MemoryAppData::new())?;
    let columns = vec!["ID".to_owned(), "USER_KEY".to_owned(), "ROUNDS".to_owned()];
    let rows_for = |rounds: i64| -> Vec<Vec<Value>> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                vec![
                    Value::Integer(i as i64 + 1),
                    Value::String(k.clone()),
                    if i == 0 {
                        Value::Integer(rounds)
                    } else {
                        Value::Null
                    },
                ]
            })
            .collect()
    };
    let (one, many) = (rows_for(1), rows_for(1 + EXTRA_ROUNDS));
    let time = |rows: &[Vec<Value>]| -> Result<Duration> {
        let ran = session
            .migrate(Batch {
                table: &table,
                index: 0,
                columns: &columns,
                rows,
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(ran.usage.host_calls.ids_resolved >= IDS as u64);
        Ok(ran.usage.elapsed)
    };
    let (mut t_one, mut t_many) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        t_one.push(time(&one)?);
        t_many.push(time(&many)?);
    }
    let per_id = (median(t_many).saturating_sub(median(t_one))).as_secs_f64()
        / (EXTRA_ROUNDS as f64 * IDS as f64);

    // Baseline: the same lookups made directly in the host, no Wasm boundary.
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut samples = Vec::new();
    for _ in 0..300 {
        let started = Instant::now();
        let answers = baseline_mappings.resolve(Namespace::USER, std::hint::black_box(&key_refs));
        std::hint::black_box(answers);
        samples.push(started.elapsed());
    }
    let direct = median(samples).as_secs_f64() / IDS as f64;
    println!(
        "host-call cost per resolved id (mappings.resolve with {IDS} ids per call; {EXTRA_ROUNDS} extra calls per batch, median of 300)"
    );
    println!(
        "  {:.0} ns per id through the component boundary, {:.0} ns per id for the same lookup in-process ({:.1}×)",
        per_id * 1e9,
        direct * 1e9,
        per_id / direct
    );
    println!("  goal ≤ 1 µs per id: {}\n", verdict(per_id <= 1e-6));
    Ok(())
}

/// Migrates every batch in order through `session`: the outputs made and the fuel used.
fn migrate_all<'a>(
    session: &Session,
    batches: impl IntoIterator<Item = &'a AoBatch>,
) -> Result<(usize, u64)> {
    let (mut outputs, mut fuel) = (0, 0);
    for (i, b) in batches.into_iter().enumerate() {
        let ran = session
            .migrate(Batch {
                table: &b.table,
                index: i as u64,
                columns: &b.columns,
                rows: &b.rows,
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        outputs += ran.value.len();
        fuel += ran.usage.fuel;
    }
    Ok((outputs, fuel))
}

/// Fuel and time per row of the non-Rust example plugins beside Rust's, on the same
/// Timesheet Builder user-label batches (each resolves the batch's users and writes one
/// output per row), measured in this run.
fn language_cost(runtime: &Runtime) -> Result<()> {
    const ROUNDS: usize = 5;
    let dir = tempfile::tempdir()?;
    let (batches, mappings, _) = timesheet_batches(dir.path())?;
    let labels: Vec<&AoBatch> = batches
        .iter()
        .filter(|b| b.table.ends_with("_USER_LABEL"))
        .collect();
    let rows: usize = labels.iter().map(|b| b.rows.len()).sum();
    anyhow::ensure!(rows > 0, "the generated backup has no user labels");
    let mappings = Arc::new(mappings);
    let measure = |path: &str| -> Result<(f64, Duration)> {
        let plugin = load(runtime, path)?;
        let session = plugin.session(RunContext {
            tenant: TenantId::new("bench"),
            migration: MigrationId::new("bench"),
            grant: Grant::as_asked(&plugin),
            mappings: mappings.clone(),
            app_data: Arc::new(MemoryAppData::new()),
        })?;
        let (mut fuel, mut best) = (0, Duration::MAX);
        for _ in 0..ROUNDS {
            let started = Instant::now();
            fuel = migrate_all(&session, labels.iter().copied())
                .map_err(|e| anyhow::anyhow!("{}: {e}", plugin.name()))?
                .1;
            best = best.min(started.elapsed());
        }
        Ok((fuel as f64 / rows as f64, best / rows as u32))
    };
    let (rust_fuel, rust_time) = measure(airlock_plugin_artifacts::TIMESHEET_BUILDER)?;
    println!(
        "Fuel and time per row by language ({rows} user-label rows in {} batches, best of {ROUNDS})",
        labels.len()
    );
    println!(
        "  Rust   {:>12.0} fuel/row  {:>8.2} µs/row",
        rust_fuel,
        micros(rust_time)
    );
    for (language, wasm) in [
        ("Python", airlock_plugin_artifacts::python_example()),
        ("JS", airlock_plugin_artifacts::js_example()),
    ] {
        let (fuel, time) = measure(wasm)?;
        println!(
            "  {language:<6} {:>12.0} fuel/row  {:>8.2} µs/row  ({:.1}× Rust's fuel, {:.1}× its time)",
            fuel,
            micros(time),
            fuel / rust_fuel,
            time.as_secs_f64() / rust_time.as_secs_f64()
        );
    }
    let limits = runtime.limits();
    println!(
        "  a 1,000-row batch gets {} fuel ({} + {} per row, at most {}); the {:?} deadline is the bound\n",
        limits.batch_fuel(1000),
        limits.fuel,
        limits.fuel_per_row,
        limits.batch_fuel_cap,
        limits.deadline
    );
    Ok(())
}
