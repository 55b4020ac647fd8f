//! `airlock demo`: generate a Data Center backup with Timesheet Builder data and migrate
//! it, core and app data, into the embedded local site exactly as `airlock migrate` does
//! (the same pipeline, the same console), then check that nothing Airlock keeps holds the
//! values planted in the source in clear.

use crate::migrate::{Console, Status};
use crate::render;
use airlock_pipeline::{Config, EnabledApp, StorageOptions, TargetConfig, Until, private};
use airlock_runtime::Runtime;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What the demo generates and runs.
pub struct Options {
    /// A plugin instead of the embedded Timesheet Builder.
    pub plugin: Option<PathBuf>,
    /// Plant Timesheet Builder rows its analysis must call fatal.
    pub broken: bool,
    pub issues: usize,
    /// Where the migration keeps its data (the work directory's by default).
    pub storage: StorageOptions,
}

pub fn run(runtime: &Runtime, dir: &Path, options: &Options) -> Result<Status> {
    let (plugin_path, broken, issues) = (options.plugin.as_deref(), options.broken, options.issues);
    let started = Instant::now();
    private::private_dir(dir)?;
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
        "[1/4] source     {}: {} users, {} projects, {} issues, {} worklogs, {} app rows, {files} attachment files",
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
        "[2/4] plugin     {} {} ({}, sha256 {}…), {} {}",
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
    // The demo's plugin has no reviewer's approval: it runs as `migrate --unreviewed`
    // would, audited, and says so; `migrate` itself refuses such a plugin.
    println!(
        "                 unreviewed: the demo runs it without a reviewer's approval (audited); `airlock migrate` runs only signed plugins a trusted reviewer approved"
    );

    // 3. The migration, as `airlock migrate` runs it: check, analyze (the app's analysis
    //    included), load into the local site, the app's data through the sandbox with the
    //    mappings the load recorded, verify.
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
    let site = dir.join("site.db");
    // The local site stands in for Jira Cloud: the customer's destination, beside the
    // work directory that holds Airlock's own (sealed) data.
    let config = Config {
        target: TargetConfig::Local(site.clone()),
        attachments: Some(home.clone()),
        storage: options.storage.clone(),
        ..Config::new(backup_path.clone(), work.clone())
    };
    println!("[3/4] migrate    into the local site {}", site.display());
    let mut console = Console::new(format!("airlock report --work {}", work.display()));
    let apps = vec![EnabledApp::as_asked(plugin)];
    let outcome = airlock_pipeline::run(config, apps, &mut console, Until::Migrate)?;
    console.finish();
    let status = Status::of(&outcome);
    if status == Status::Blocked {
        println!(
            "\nMigration blocked: fix the source data (in Jira, through the app) and run again."
        );
        return Ok(status);
    }
    let at_rest = check_at_rest(&work, &site)?;
    println!(
        "\n{} in {}.",
        if status == Status::Done {
            "Timesheet Builder data migrated"
        } else {
            "Migrated with failures (see the report)"
        },
        render::duration(started.elapsed())
    );
    Ok(match (status, at_rest) {
        (Status::Done, false) => Status::Failures,
        (status, _) => status,
    })
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
        "[4/4] at rest: {} files ({}) in {} scanned for the 3 values planted in the source (an issue summary, \
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
