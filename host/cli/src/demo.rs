//! `airlock demo`: generate a Data Center backup with Timesheet Builder data, migrate its
//! core data into the embedded local site (check, analyze, load, verify), then run the
//! app data through the sandbox with the mappings the load recorded: analysis, migration,
//! outputs into the local site's app storage, and a summary.

use crate::app_stage::{self, BatchOutcome};
use crate::{migrate, render};
use airlock_backup::Backup;
use airlock_engine::state::MappingReader;
use airlock_model::Severity;
use airlock_runtime::{Grant, RunContext, Runtime};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub fn run(
    runtime: &Runtime,
    dir: &Path,
    plugin_path: Option<&Path>,
    broken: bool,
    issues: usize,
) -> Result<bool> {
    let started = Instant::now();
    crate::private::private_dir(dir)?;
    println!(
        "Airlock demo: a Jira Data Center backup with Timesheet Builder data, migrated through the plugin sandbox\n"
    );

    // 1. The source: a generated backup zip, as Jira's XML backup writes it.
    // With canaries (an issue summary, a user email, a team name) to look for at the end.
    let spec = airlock_fixtures::Spec {
        issues,
        broken_timesheet_rows: broken,
        canaries: true,
        ..airlock_fixtures::Spec::default()
    };
    let backup_path = dir.join("backup.zip");
    let generated = airlock_fixtures::write_backup(&backup_path, &spec)?;
    // Jira home's attachments folder, which an operator supplies beside the backup.
    let home = dir.join("jira-home");
    if home.exists() {
        std::fs::remove_dir_all(&home)
            .with_context(|| format!("cannot clear {}", home.display()))?;
    }
    let files = airlock_fixtures::write_attachments(&home, &spec)?;
    println!(
        "[1/5] source     {}: {} users, {} projects, {} issues, {} worklogs, {} app rows, {files} attachment files",
        backup_path.display(),
        generated.user_keys.len(),
        generated.project_ids.len(),
        generated.issue_ids.len(),
        generated.worklog_ids.len(),
        generated.ao_rows.values().sum::<u64>(),
    );

    // 2. The plugin, compiled once (cached) and checked against the allow-list.
    let plugin = match plugin_path {
        Some(path) => runtime.load_file(path)?,
        None => runtime.load(
            "timesheet_builder",
            airlock_plugin_artifacts::timesheet_builder(),
        )?,
    };
    let manifest = plugin.manifest();
    println!(
        "[2/5] plugin     {} {} ({}, sha256 {}…), {} {}",
        manifest.name,
        manifest.version,
        render::bytes(plugin.info().size as u64),
        &plugin.info().sha256[..12],
        if plugin.info().from_cache {
            "from cache in"
        } else {
            "compiled in"
        },
        render::duration(plugin.info().compile_time),
    );
    let grant = Grant::as_asked(&plugin);
    println!(
        "                 operator consents to {} and grants {}",
        render::list(&grant.scopes),
        render::list(&grant.namespaces),
    );

    // 3. The core migration: check, analyze, load into the local site, verify. Its
    //    mappings (server id → cloud id) are what the plugin resolves through.
    // A rerun starts over: the previous run's work directory and rehearsal site go.
    let work = dir.join("work");
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("cannot clear {}", work.display()))?;
    }
    for file in ["site.db", "site.db-wal", "site.db-shm", "site.db-journal"] {
        let path = dir.join(file);
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot clear {}", path.display()))?;
        }
    }
    let options = migrate::Options {
        backup: backup_path.clone(),
        work: work.clone(),
        // The local site stands in for Jira Cloud: the customer's destination, beside the
        // work directory that holds Airlock's own (sealed) data.
        target: Some(format!("local:{}", dir.join("site.db").display())),
        overrides: None,
        plugins: Vec::new(),
        attachments: Some(home.clone()),
        strict: false,
        bundled_plugin: false,
        storage: Default::default(),
    };
    println!(
        "[3/5] core       check, analyze and load into the local site {}",
        dir.join("site.db").display()
    );
    let Some(mut core) = migrate::core_migration(&options, std::slice::from_ref(&plugin))? else {
        return Ok(false);
    };
    let mut per_namespace = BTreeMap::new();
    for ns in &grant.namespaces {
        per_namespace.insert(ns.as_str(), core.state.count(*ns)?);
    }
    let mappings = migrate::StateMappings(MappingReader::open(
        core.state.path(),
        core.state.protection(),
    )?);
    println!(
        "                 mappings the plugin may resolve: {}",
        per_namespace
            .iter()
            .map(|(ns, n)| format!("{n} {ns}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // 4. The app's own tables, streamed from the backup; other apps' tables stay behind.
    let mut backup = Backup::open(&backup_path)?;
    let mut reader = backup.active_objects()?;
    let tables = app_stage::read_app_tables(&mut reader, &plugin)?;
    println!(
        "[4/5] app data   {} rows in {} tables of {}_*; not shared with it: {}",
        tables.rows.values().sum::<u64>(),
        tables.rows.len(),
        manifest.ao_prefix(),
        render::list(&tables.foreign_tables),
    );

    let session = plugin.session(RunContext {
        tenant: core.storage.tenant().clone(),
        migration: core.storage.migration().clone(),
        grant,
        mappings: Arc::new(mappings),
        app_data: Arc::new(tables.app_data),
    })?;

    // 5. Analysis: fatal findings block the migration until the source is fixed.
    let mut outcomes = app_stage::analyze_all(&session, &tables.batches);
    let fatal: usize = outcomes.iter().map(BatchOutcome::fatal_findings).sum();
    let failed = outcomes.iter().filter(|o| o.failed()).count();
    print_findings(&outcomes);
    if fatal > 0 || failed > 0 {
        println!(
            "\nMigration blocked: {fatal} fatal findings, {failed} failed batches. Fix the source data \
             (in Jira, through the app) and run the analysis again."
        );
        return Ok(false);
    }

    app_stage::migrate_all(&session, &tables.batches, &mut outcomes);
    print_summary(&outcomes);
    for outcome in &outcomes {
        if let Some(Ok(ran)) = &outcome.migrate {
            core.target.put_app_outputs(&manifest.app_key, &ran.value)?;
        }
    }
    println!(
        "      {} outputs in the local site's app storage",
        core.target.app_output_count(&manifest.app_key)?
    );
    let failed = outcomes.iter().filter(|o| o.failed()).count();
    core.stat.batches = outcomes.len() as u64;
    core.stat.plugin_fuel = outcomes
        .iter()
        .filter_map(|o| match &o.migrate {
            Some(Ok(ran)) => Some(ran.usage.fuel),
            Some(Err(e)) => Some(e.usage.fuel),
            None => None,
        })
        .sum();
    if failed > 0 {
        core.stat.error_code = Some(airlock_store::ErrorCode::new("app-batches-failed")?);
    }
    core.storage
        .finish(failed == 0 && core.verified, &core.stat)?;
    let at_rest = check_at_rest(&work, &dir.join("site.db"))?;
    println!(
        "\n{} in {}.",
        if failed == 0 {
            "Timesheet Builder data migrated".to_owned()
        } else {
            format!("{failed} batches failed")
        },
        render::duration(started.elapsed())
    );
    Ok(failed == 0 && core.verified && at_rest)
}

/// The promise that nothing Airlock keeps holds customer data in clear, checked on this
/// run: the canaries planted in the source reached the target, and no file of the work
/// directory (metadata store, keys, state, staged app rows, sealed objects) holds one.
fn check_at_rest(work: &Path, site: &Path) -> Result<bool> {
    let contains =
        |bytes: &[u8], needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    let site = std::fs::read(site).with_context(|| format!("cannot read {}", site.display()))?;
    let reached = airlock_fixtures::CANARIES
        .iter()
        .all(|c| contains(&site, c));
    let (mut files, mut bytes, mut found) = (0u64, 0u64, Vec::new());
    let mut dirs = vec![work.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let content = std::fs::read(&path)?;
            files += 1;
            bytes += content.len() as u64;
            if airlock_fixtures::CANARIES
                .iter()
                .any(|c| contains(&content, c))
            {
                found.push(path);
            }
        }
    }
    println!(
        "      at rest: {} files ({}) in {} scanned for the 3 values planted in the source (an issue summary, \
         a user email, a team name): {}; the target {} them",
        files,
        render::bytes(bytes),
        work.display(),
        if found.is_empty() {
            "none in clear".to_owned()
        } else {
            format!(
                "IN CLEAR in {}",
                render::list(found.iter().map(|p| p.display()))
            )
        },
        if reached { "holds" } else { "DOES NOT hold" },
    );
    Ok(found.is_empty() && reached)
}

fn print_findings(outcomes: &[BatchOutcome]) {
    // code → (severity, count, example rows)
    let mut by_code: BTreeMap<(Severity, &str), (u64, Vec<String>)> = BTreeMap::new();
    for o in outcomes {
        match &o.analyze {
            Ok(ran) => {
                for f in &ran.value {
                    let entry = by_code.entry((f.severity, f.code.as_str())).or_default();
                    entry.0 += 1;
                    if entry.1.len() < 3 {
                        entry.1.push(format!(
                            "{} row {}",
                            f.table,
                            f.row_id.map_or("-".into(), |r| r.to_string())
                        ));
                    }
                }
            }
            Err(e) => println!("      analysis failed: {e}"),
        }
    }
    let total: u64 = by_code.values().map(|(n, _)| n).sum();
    println!(
        "[5/5] analysis   {} batches, {} findings",
        outcomes.len(),
        total
    );
    for ((severity, code), (count, examples)) in by_code.iter().rev() {
        println!(
            "      {severity:7} {code:30} {count:>5}  e.g. {}",
            examples.join("; ")
        );
    }
}

fn print_summary(outcomes: &[BatchOutcome]) {
    let totals = app_stage::totals(outcomes);
    println!("      migration");
    println!(
        "      {:30} {:>6} {:>8} {:>8} {:>10} {:>9} {:>9}",
        "table", "rows", "batches", "outputs", "bytes", "fuel", "time"
    );
    let (mut rows, mut outputs, mut bytes, mut fuel, mut micros) = (0, 0, 0, 0, 0);
    for (table, t) in &totals {
        let n: u64 = t.outputs.values().sum();
        println!(
            "      {:30} {:>6} {:>8} {:>8} {:>10} {:>9} {:>9}",
            table,
            t.rows,
            t.batches,
            n,
            render::bytes(t.output_bytes),
            render::count(t.fuel),
            render::duration(std::time::Duration::from_micros(t.micros)),
        );
        rows += t.rows;
        outputs += n;
        bytes += t.output_bytes;
        fuel += t.fuel;
        micros += t.micros;
    }
    println!(
        "      {:30} {:>6} {:>8} {:>8} {:>10} {:>9} {:>9}",
        "total",
        rows,
        totals.values().map(|t| t.batches).sum::<u64>(),
        outputs,
        render::bytes(bytes),
        render::count(fuel),
        render::duration(std::time::Duration::from_micros(micros)),
    );
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for t in totals.values() {
        for (k, n) in &t.outputs {
            *kinds.entry(k).or_default() += n;
        }
    }
    println!(
        "      outputs by kind: {}",
        kinds
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for o in outcomes {
        if let Some(Err(e)) = &o.migrate {
            println!("      FAILED {e}");
        }
    }
}
