//! `airlock check`, `analyze` and `migrate`: the core migration from a backup to a target,
//! with each enabled plugin's app data. Every command works in a work directory (staging,
//! the migration's state, reports) and can be rerun: a migrate resumes where it stopped.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use airlock_backup::Backup;
use airlock_engine::analysis::{Action, Overrides, Plan, PlannedIds, analyze};
use airlock_engine::app_rows::AppRows;
use airlock_engine::integrity::AppStage;
use airlock_engine::integrity::CheckPolicy;
use airlock_engine::load::{LoadProgress, load};
use airlock_engine::state::{MappingReader, State};
use airlock_engine::{IntegrityReport, Progress, check_with};
use airlock_model::jira::Kind;
use airlock_model::{AoPrefix, AppKey, Namespace, Severity};
use airlock_runtime::{
    AppData, AppDataError, AppRow, Grant, Mappings, Plugin, RunContext, Runtime,
};
use airlock_staging::SealedStaging;
use airlock_target::{CloudConfig, JiraCloud, LocalSite, Target};
use anyhow::{Context, Result, bail};

use crate::render;
use crate::storage::{Storage, StorageOptions};
use airlock_store::{ErrorCode, Stat};

/// Where a command works and writes.
pub struct Options {
    pub backup: PathBuf,
    pub work: PathBuf,
    /// `local:PATH` (the embedded local site).
    pub target: Option<String>,
    pub overrides: Option<PathBuf>,
    pub plugins: Vec<PathBuf>,
    /// Jira home's attachments folder (or the home itself), whose files go with the metadata.
    pub attachments: Option<PathBuf>,
    /// Orphan rows are fatal (`--strict`) instead of skipped.
    pub strict: bool,
    /// The bundled Timesheet Builder plugin, when no path is given.
    pub bundled_plugin: bool,
    /// Where the migration's sealed data, keys and metadata live.
    pub storage: StorageOptions,
}

fn open_target(options: &Options) -> Result<Box<dyn Target>> {
    let Some(spec) = options.target.clone() else {
        // The local site holds the migrated data in clear (it stands in for Jira Cloud):
        // beside the work directory, which holds only sealed data, and as private.
        return Ok(Box::new(LocalSite::open(&crate::private::default_site(
            &options.work,
        )?)?));
    };
    if let Some(path) = spec.strip_prefix("local:") {
        return Ok(Box::new(LocalSite::open(Path::new(path))?));
    }
    if spec.starts_with("https://") {
        // Credentials come from the environment, never from arguments (shell history).
        let var = |name: &str| {
            std::env::var(name).with_context(|| {
                format!("set {name} to reach {spec} (AIRLOCK_JIRA_EMAIL and AIRLOCK_JIRA_TOKEN: an account's email and API token)")
            })
        };
        let mut config = CloudConfig::new(
            spec.trim_end_matches('/'),
            var("AIRLOCK_JIRA_EMAIL")?,
            var("AIRLOCK_JIRA_TOKEN")?,
        );
        if let Ok(path) = std::env::var("AIRLOCK_JIRA_CA") {
            config.extra_root_pem = Some(std::fs::read_to_string(&path).with_context(|| {
                format!("cannot read the CA certificate {path} (AIRLOCK_JIRA_CA)")
            })?);
        }
        return Ok(Box::new(JiraCloud::new(config)?));
    }
    bail!(
        "unknown target {spec:?}: use local:PATH for the embedded local site or https://SITE.atlassian.net for Jira Cloud"
    )
}

fn load_plugins(runtime: &Runtime, options: &Options) -> Result<Vec<Plugin>> {
    let mut plugins = Vec::new();
    for path in &options.plugins {
        plugins.push(runtime.load_file(path)?);
    }
    if options.bundled_plugin && options.plugins.is_empty() {
        plugins.push(runtime.load(
            "timesheet_builder",
            airlock_plugin_artifacts::timesheet_builder(),
        )?);
    }
    // Two enabled apps sharing an Active Objects prefix would read each other's tables.
    // (Apps installed on the source are checked against the backup in phase 1.)
    let keys = app_keys(&plugins);
    for key in &keys {
        airlock_runtime::check_identity(key, &keys)?;
    }
    Ok(plugins)
}

/// One status line on a terminal, redrawn at most ten times a second; nothing when
/// stderr is not a terminal (logs and CI stay clean).
fn progress_line(text: &str) {
    use std::io::IsTerminal;
    use std::sync::Mutex;
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let mut err = std::io::stderr();
    if !err.is_terminal() {
        return;
    }
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if !text.is_empty() && last.is_some_and(|t| t.elapsed().as_millis() < 100) {
        return;
    }
    *last = Some(Instant::now());
    let _ = write!(err, "\r\x1b[2K{text}");
    let _ = err.flush();
}

/// Phase 1's outcome, and the migration's state opened beside it.
struct Checked {
    storage: Storage,
    staging: SealedStaging,
    report: IntegrityReport,
    state: State,
}

/// Phase 1. Prints the report; writes integrity.json into the work directory's reports.
/// A rerun on the same backup whose check passed reuses the staged records (a resumed
/// migration does not read the backup again); a work directory that has started loading
/// another backup is refused.
fn run_check(options: &Options, plugins: &[Plugin]) -> Result<Checked> {
    let keys = app_keys(plugins);
    let prefixes: Vec<AoPrefix> = keys.iter().map(AppKey::ao_prefix).collect();
    if !options.backup.exists() {
        bail!("the backup {} does not exist", options.backup.display());
    }
    // Nothing is written before the backup opens as a zip holding both files.
    let fingerprint = Backup::open(&options.backup)?.fingerprint().to_owned();
    // The apps enabled decide which foreign key problems are fatal: part of what was checked.
    let apps: Vec<&str> = prefixes.iter().map(|p| p.as_str()).collect();
    // So is the operator's policy: orphans skipped or fatal, users mapped by the overrides.
    let policy = CheckPolicy::new(&read_overrides(options)?, options.strict);
    let checked_as = format!("clean {} {}", apps.join(","), policy.fingerprint());
    let created = !options.work.exists();
    crate::private::private_dir(&options.work)?;
    let storage = Storage::open(&options.work, &options.storage)?;
    // The state's mappings and failures are sealed under the migration's data key too.
    let state = State::open(
        &options.work.join("state.db"),
        std::sync::Arc::new(storage.sealer().field_cipher("state")),
    )?;
    println!(
        "migration {} of tenant {}: sealed at rest in {} ({})",
        storage.migration(),
        storage.tenant(),
        storage.region(),
        storage.blobs().location()
    );
    let staging = storage.staging();
    match state.meta("backup")? {
        Some(known)
            if known == fingerprint
                && state.meta("checked")?.as_deref() == Some(checked_as.as_str()) =>
        {
            if let Some(report) = read_report::<IntegrityReport>(&storage, "integrity.json") {
                println!(
                    "integrity check: the backup is unchanged since the last check; its staged records are reused"
                );
                print_integrity(&report, std::time::Duration::ZERO);
                return Ok(Checked {
                    storage,
                    staging,
                    report,
                    state,
                });
            }
        }
        Some(known) if known != fingerprint && state.load_started()? => bail!(
            "the work directory {} holds a migration of another backup; use a new --work directory for {}",
            options.work.display(),
            options.backup.display()
        ),
        _ => {}
    }
    let started = Instant::now();
    let apps = app_stages(&options.work, &storage, plugins)?;
    let checked = check_with(
        &options.backup,
        &staging,
        &keys,
        &apps,
        &policy,
        |p| match p {
            Progress::Extracting { rows } => {
                progress_line(&format!("  extracting entities.xml: {rows} rows"))
            }
            Progress::Checking => progress_line("  checking references and app foreign keys"),
        },
    );
    progress_line("");
    let checked = match checked {
        Ok(c) => c,
        Err(e) => {
            // An unreadable backup leaves nothing behind: no staged object, and a work
            // directory made by this run is removed. A migration this run created is
            // recorded as failed (the operator's store is append-mostly: it keeps that it
            // was tried, with the error code, and retention ends it like any failure).
            drop(state);
            let _ = storage.blobs().delete_prefix(&format!(
                "{}/{}/staging/",
                storage.tenant(),
                storage.migration()
            ));
            if storage.created_by_this_run() {
                let stat = Stat {
                    error_code: Some(ErrorCode::new("unreadable-backup")?),
                    ..Stat::default()
                };
                storage.abandon(&stat)?;
            }
            if created {
                drop(storage);
                let _ = std::fs::remove_dir_all(&options.work);
            }
            return Err(anyhow::Error::from(e).context(format!(
                "cannot read the backup {}",
                options.backup.display()
            )));
        }
    };
    let report = checked.report;
    for app in &apps {
        app.store.mark_complete(&fingerprint)?;
    }
    write_report(&storage, "integrity.json", &report)?;
    state.set_meta("backup", &fingerprint)?;
    state.set_meta(
        "checked",
        if report.blocks_migration() {
            "blocked"
        } else {
            &checked_as
        },
    )?;
    print_integrity(&report, started.elapsed());
    Ok(Checked {
        storage,
        staging,
        report,
        state,
    })
}

/// A report of an earlier run, opened; `None` if there is none or it no longer parses.
fn read_report<T: serde::de::DeserializeOwned>(storage: &Storage, name: &str) -> Option<T> {
    let bytes = storage.get_report(name).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Seals a report into the migration's storage (it names the customer's projects, users
/// and records: it is customer data like the rest).
fn write_report<T: serde::Serialize>(storage: &Storage, name: &str, value: &T) -> Result<()> {
    storage.put_report(name, &serde_json::to_vec_pretty(value)?)
}

/// Renders the report page, seals it beside the JSON reports and says how to read it.
fn publish_report(options: &Options, storage: &Storage) -> Result<()> {
    crate::html::store(storage)?;
    println!(
        "report: airlock report --work {} --out report.html",
        options.work.display()
    );
    Ok(())
}

fn print_integrity(report: &IntegrityReport, elapsed: std::time::Duration) {
    let rows: u64 = report.counts.values().sum();
    println!(
        "integrity check: {rows} rows in {} kinds read in {}; {} fatal, {} warnings, {} info",
        report.counts.len(),
        render::duration(elapsed),
        report.fatal(),
        report.findings.count(Severity::Warning),
        report.findings.count(Severity::Info),
    );
    for summary in report.findings.summaries() {
        println!(
            "  {:<8} {:<24} {:>8}",
            summary.severity.to_string(),
            summary.check,
            summary.count
        );
        for example in summary.examples.iter().take(3) {
            let at = match example.line {
                Some(line) => format!("{} line {line}", example.file),
                None => example.file.clone(),
            };
            let what = if example.id.is_empty() {
                example.entity.clone()
            } else {
                format!("{} {}", example.entity, example.id)
            };
            println!("           {at}, {what}: {}", example.message);
        }
    }
    // Every orphan row is in the report (`airlock report --json integrity`); the count here.
    let skipped: u64 = report.skipped.values().sum();
    if skipped > 0 {
        let kinds: Vec<String> = report
            .skipped
            .iter()
            .map(|(k, n)| format!("{n} {}", k.name()))
            .collect();
        println!(
            "  orphans skipped (their parent is not in the backup; --strict makes them fatal): {}",
            kinds.join(", ")
        );
    }
    let left = report.coverage.not_migrated_by_app();
    if !left.is_empty() || report.coverage.unnamed_rows > 0 {
        println!("coverage: rows not migrated, by element type (the report has every type):");
        for e in &left {
            println!(
                "  {:<17} {:<36} {:>8}  {}: {}",
                e.file,
                e.element,
                e.not_migrated,
                e.status.name(),
                e.reason
            );
        }
        if report.coverage.unnamed_rows > 0 {
            println!(
                "  {} rows of element types past the first {} (not named)",
                report.coverage.unnamed_rows,
                airlock_engine::coverage::MAX_ELEMENT_NAMES
            );
        }
    }
}

fn read_overrides(options: &Options) -> Result<Overrides> {
    match &options.overrides {
        None => Ok(Overrides::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the override file {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("the override file {} is not valid", path.display()))
        }
    }
}

fn print_plan(plan: &Plan) {
    println!("target analysis against {}:", plan.target);
    let mut by_kind: BTreeMap<Kind, BTreeMap<Action, u64>> = BTreeMap::new();
    for item in &plan.items {
        *by_kind
            .entry(item.kind)
            .or_default()
            .entry(item.action)
            .or_default() += 1;
    }
    for (kind, actions) in &by_kind {
        let parts: Vec<String> = actions
            .iter()
            .map(|(a, n)| {
                format!(
                    "{n} {}",
                    serde_json::to_value(a)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                )
            })
            .collect();
        println!("  {:<18} {}", kind.name(), parts.join(", "));
    }
    for (kind, n) in &plan.bulk {
        println!("  {:<18} {n} add", kind.name());
    }
    let problems: Vec<_> = plan.problems().collect();
    if !problems.is_empty() {
        println!(
            "  {} problem(s) to resolve before migrating:",
            problems.len()
        );
        for p in problems {
            println!(
                "    {} {} ({}): {}",
                p.kind.name(),
                p.label,
                p.detail,
                p.message
            );
        }
    }
    for (app, findings) in &plan.apps {
        println!(
            "  app {app}: its analysis found {} fatal, {} warnings, {} info",
            findings.count(Severity::Fatal),
            findings.count(Severity::Warning),
            findings.count(Severity::Info)
        );
        for summary in findings.summaries() {
            let example = summary.examples.first();
            println!(
                "    {:<8} {:<28} {:>6}  e.g. {} row {}",
                summary.severity.to_string(),
                summary.check,
                summary.count,
                example.map_or("", |e| e.entity.as_str()),
                example.map_or("", |e| e.id.as_str()),
            );
        }
    }
}

fn app_keys(plugins: &[Plugin]) -> Vec<AppKey> {
    plugins
        .iter()
        .map(|p| p.manifest().app_key.clone())
        .collect()
}

/// `airlock analyze`: phases 1 and 2. True when nothing blocks a migration.
pub fn analyze_command(runtime: &Runtime, options: &Options) -> Result<bool> {
    let plugins = load_plugins(runtime, options)?;
    let Checked {
        storage,
        staging,
        report,
        ..
    } = run_check(options, &plugins)?;
    let mut target = open_target(options)?;
    let plan = make_plan(
        options,
        &storage,
        &staging,
        &report,
        target.as_mut(),
        &plugins,
    )?;
    write_report(&storage, "plan.json", &plan)?;
    print_plan(&plan);
    publish_report(options, &storage)?;
    Ok(!report.blocks_migration() && !plan.blocks_migration())
}

/// Phase 2: the target analysis, then each enabled app's analysis of its data.
fn make_plan(
    options: &Options,
    storage: &Storage,
    staging: &SealedStaging,
    report: &IntegrityReport,
    target: &mut dyn Target,
    plugins: &[Plugin],
) -> Result<Plan> {
    let mut plan = analyze(
        staging,
        &report.counts,
        &target.snapshot()?,
        &target.describe(),
        &read_overrides(options)?,
    )?;
    for plugin in plugins {
        let findings = analyze_app(options, storage, plugin, staging, &plan)?;
        plan.apps
            .insert(plugin.manifest().app_key.to_string(), findings);
    }
    Ok(plan)
}

/// `airlock migrate`: every phase; refuses while the source has fatal findings or the
/// plan has problems. Resumes after a crash.
pub fn migrate_command(runtime: &Runtime, options: &Options) -> Result<bool> {
    let started = Instant::now();
    let plugins = load_plugins(runtime, options)?;
    let Some(mut core) = core_migration(options, &plugins)? else {
        return Ok(false);
    };
    let mut app_ok = true;
    for plugin in &plugins {
        let app = migrate_app(
            &options.backup,
            &options.work,
            &core.storage,
            plugin,
            &core.state,
            core.target.as_mut(),
        )?;
        app_ok &= app.ok;
        core.stat.batches += app.batches;
        core.stat.plugin_fuel += app.fuel;
    }
    let succeeded = core.verified && app_ok;
    core.stat.error_code = match (core.verified, app_ok) {
        (true, true) => None,
        (false, _) => Some(ErrorCode::new("verify-mismatch")?),
        (true, false) => Some(ErrorCode::new("app-batches-failed")?),
    };
    core.storage.finish(succeeded, &core.stat)?;
    println!(
        "migration finished in {}",
        render::duration(started.elapsed())
    );
    Ok(succeeded)
}

/// The core migration's outcome: its state (the mappings) and the target, for the app
/// data phase.
pub struct CoreMigration {
    pub storage: Storage,
    pub state: State,
    pub target: Box<dyn Target>,
    pub verified: bool,
    /// Durations, counts and bytes for the anonymized statistics.
    pub stat: Stat,
}

/// Phases 1–3 and verify for the core data. `None` when the check or the analysis
/// blocks the migration (what to fix is printed).
pub fn core_migration(options: &Options, plugins: &[Plugin]) -> Result<Option<CoreMigration>> {
    let started = Instant::now();
    let Checked {
        storage,
        staging,
        report,
        mut state,
    } = run_check(options, plugins)?;
    let mut stat = Stat {
        phase_stage_ms: millis(started),
        ..Stat::default()
    };
    for (kind, n) in &report.counts {
        match kind {
            Kind::Issue => stat.records_issues += n,
            Kind::Comment => stat.records_comments += n,
            Kind::Worklog => stat.records_worklogs += n,
            Kind::Attachment => stat.records_attachments += n,
            _ => stat.records_other += n,
        }
    }
    if report.blocks_migration() {
        println!(
            "migrate refused: fix the {} fatal finding(s) in the source, make a new backup and run again",
            report.fatal()
        );
        publish_report(options, &storage)?;
        return Ok(None);
    }
    let started = Instant::now();
    let mut target = open_target(options)?;
    // Once loading has begun the plan is frozen: the target now holds this migration's
    // own writes, which a fresh analysis would take for clashes.
    let frozen = if state.load_started()? {
        read_report::<Plan>(&storage, "plan.json")
    } else {
        None
    };
    let plan = match frozen {
        Some(plan) => {
            println!(
                "resuming: the plan of the run that started loading is kept (reports/plan.json)"
            );
            plan
        }
        None => {
            let plan = make_plan(
                options,
                &storage,
                &staging,
                &report,
                target.as_mut(),
                plugins,
            )?;
            write_report(&storage, "plan.json", &plan)?;
            plan
        }
    };
    print_plan(&plan);
    stat.phase_analyse_ms = millis(started);
    if plan.blocks_migration() {
        println!(
            "migrate refused: resolve the problems above in the override file (--overrides) and run again"
        );
        publish_report(options, &storage)?;
        return Ok(None);
    }
    storage.start()?;
    let started = Instant::now();
    let summary = load(
        &staging,
        &mut state,
        target.as_mut(),
        &plan.decisions,
        &report.counts,
        |p: LoadProgress| {
            progress_line(&format!(
                "  loading {:<18} {:>9} / {}",
                p.kind.name(),
                p.done,
                p.total
            ));
        },
    )?;
    progress_line("");
    if let Some(folder) = &options.attachments {
        let files = airlock_engine::files::upload(folder, &mut state, target.as_mut(), |n| {
            progress_line(&format!("  uploading attachment files: {n}"))
        })?;
        progress_line("");
        println!(
            "attachment files: {} uploaded ({}), {} by an earlier run, {} without a file in the folder, {} files not of a migrated attachment, {} skipped",
            files.uploaded,
            render::bytes(files.bytes),
            files.already,
            files.missing,
            files.unknown,
            files.skipped_count()
        );
        // The operator's screen and the sealed report only: the paths name projects and
        // issues, so no log line carries them.
        for summary in files.skipped.summaries() {
            println!("  skipped  {:<26} {:>8}", summary.check, summary.count);
            for example in summary.examples.iter().take(3) {
                println!("           {:?}: {}", example.file, example.message);
            }
        }
        write_report(&storage, "files.json", &files)?;
    }
    stat.phase_load_ms = millis(started);
    let started = Instant::now();
    let rows = verify(&report, &plan, &state, target.as_mut())?;
    stat.phase_verify_ms = millis(started);
    stat.bytes_staged = staging.bytes_written();
    let verified = rows.iter().all(|r| r.ok);
    write_report(&storage, "load.json", &summary)?;
    write_report(&storage, "verify.json", &rows)?;
    publish_report(options, &storage)?;
    Ok(Some(CoreMigration {
        storage,
        state,
        target,
        verified,
        stat,
    }))
}

/// Stages a plugin's own tables from activeobjects.xml (other apps' rows are streamed
/// past), so batches and joins are served from disk with one batch in memory.
fn stage_app(
    backup: &Path,
    work: &Path,
    storage: &Storage,
    plugin: &Plugin,
) -> Result<std::sync::Arc<AppRows>> {
    let path = app_store_path(work, plugin);
    let mut backup = Backup::open(backup)?;
    let fingerprint = backup.fingerprint().to_owned();
    // Usually the integrity check staged them already, in its pass over the file.
    if let Some(store) = AppRows::open_complete(&path, &fingerprint, storage.sealer().clone()) {
        return Ok(std::sync::Arc::new(store));
    }
    let manifest = plugin.manifest();
    let prefix = manifest.ao_prefix();
    let store = std::sync::Arc::new(AppRows::create(&path, storage.sealer().clone())?);
    let mut reader = backup.active_objects()?;
    let wanted = |table: &str| prefix.owns(table) && manifest.tables.iter().any(|t| t == table);
    for batch in reader.batches(plugin.limits().batch_rows as usize, wanted) {
        store.insert(&batch?)?;
    }
    store.mark_complete(&fingerprint)?;
    Ok(store)
}

fn app_store_path(work: &Path, plugin: &Plugin) -> PathBuf {
    let prefix = plugin.manifest().ao_prefix();
    work.join(format!("app-{}.db", prefix.as_str().trim_end_matches('_')))
}

/// The stores the integrity check fills with each enabled app's own tables.
fn app_stages(work: &Path, storage: &Storage, plugins: &[Plugin]) -> Result<Vec<AppStage>> {
    plugins
        .iter()
        .map(|plugin| {
            let manifest = plugin.manifest();
            let prefix = manifest.ao_prefix();
            Ok(AppStage {
                tables: manifest
                    .tables
                    .iter()
                    .filter(|t| prefix.owns(t))
                    .cloned()
                    .collect(),
                store: std::sync::Arc::new(AppRows::create(
                    &app_store_path(work, plugin),
                    storage.sealer().clone(),
                )?),
            })
        })
        .collect()
}

/// Calls `f` on every staged batch, table by table.
fn each_batch(
    store: &AppRows,
    batch_rows: usize,
    f: &mut dyn FnMut(airlock_runtime::Batch<'_>) -> Result<()>,
) -> Result<()> {
    for table in store.tables()? {
        let (mut offset, mut index) = (0u64, 0u64);
        while let Some(batch) = store.batch(&table, offset, batch_rows)? {
            offset += batch.rows.len() as u64;
            f(airlock_runtime::Batch {
                table: &batch.table,
                index,
                columns: &batch.columns,
                rows: &batch.rows,
            })?;
            index += 1;
        }
    }
    Ok(())
}

/// Phase 2 for an app: its analysis of its own data, resolving ids against what the load
/// will map (nothing is written yet). A batch the plugin fails on is a fatal finding.
fn analyze_app(
    options: &Options,
    storage: &Storage,
    plugin: &Plugin,
    staging: &SealedStaging,
    plan: &Plan,
) -> Result<airlock_engine::Findings> {
    let grant = Grant::as_asked(plugin);
    let namespaces: Vec<Namespace> = grant.namespaces.iter().copied().collect();
    let planned = PlannedIds::read(staging, &namespaces, plan)?;
    let store = stage_app(&options.backup, &options.work, storage, plugin)?;
    let session = plugin.session(RunContext {
        tenant: storage.tenant().clone(),
        migration: storage.migration().clone(),
        grant,
        mappings: std::sync::Arc::new(PlannedMappings(planned)),
        app_data: std::sync::Arc::new(StagedAppData(store.clone())),
    })?;
    let mut findings = airlock_engine::Findings::default();
    let mut cap = FindingCap::new(MAX_APP_FINDINGS_PER_TABLE);
    each_batch(&store, plugin.limits().batch_rows as usize, &mut |batch| {
        let table = batch.table.to_owned();
        match session.analyze(batch) {
            Ok(ran) => {
                for f in ran.value {
                    if !cap.admit(&table) {
                        continue;
                    }
                    findings.push(airlock_engine::Finding {
                        check: f.code,
                        severity: f.severity,
                        file: "activeobjects.xml".into(),
                        entity: f.table,
                        id: f.row_id.map(|r| r.to_string()).unwrap_or_default(),
                        line: None,
                        message: f.message,
                    });
                }
            }
            Err(e) => findings.push(airlock_engine::Finding {
                check: format!("plugin-{}", e.cause.code()),
                severity: Severity::Fatal,
                file: "activeobjects.xml".into(),
                entity: table,
                id: String::new(),
                line: None,
                message: e.to_string(),
            }),
        }
        Ok(())
    })?;
    for finding in cap.capped() {
        findings.push(finding);
    }
    Ok(findings)
}

/// The most findings an app's analysis keeps per table (each batch already keeps at most
/// [`airlock_runtime::MAX_FINDINGS_PER_BATCH`]): enough to act on, bounded for the report.
const MAX_APP_FINDINGS_PER_TABLE: u64 = 10_000;

/// Counts an app's findings per table: the first `limit` are kept, the rest dropped and
/// reported as one `findings-capped` finding per table.
struct FindingCap {
    limit: u64,
    /// (kept, dropped) per table.
    per_table: BTreeMap<String, (u64, u64)>,
}

impl FindingCap {
    fn new(limit: u64) -> FindingCap {
        FindingCap {
            limit,
            per_table: BTreeMap::new(),
        }
    }

    /// Whether one more finding of `table` is kept.
    fn admit(&mut self, table: &str) -> bool {
        let (kept, dropped) = match self.per_table.get_mut(table) {
            Some(counts) => counts,
            None => self.per_table.entry(table.to_owned()).or_default(),
        };
        if *kept < self.limit {
            *kept += 1;
            true
        } else {
            *dropped += 1;
            false
        }
    }

    /// One warning per table that had findings dropped.
    fn capped(self) -> impl Iterator<Item = airlock_engine::Finding> {
        let limit = self.limit;
        self.per_table
            .into_iter()
            .filter(|(_, (_, dropped))| *dropped > 0)
            .map(move |(table, (_, dropped))| airlock_engine::Finding {
                check: "findings-capped".into(),
                severity: Severity::Warning,
                file: "activeobjects.xml".into(),
                entity: table,
                id: String::new(),
                line: None,
                message: format!(
                    "the app reported more than {limit} findings for this table; {dropped} more were not kept"
                ),
            })
    }
}

/// The app data phase for one plugin: its own tables (staged, so memory holds one batch
/// at a time) and its granted mappings (looked up in the state on demand) go through
/// `migrate-batch`; outputs go to the target's app storage. Outputs are keyed, so a rerun
/// rewrites the same ones. Its analysis ran in phase 2.
fn migrate_app(
    backup: &Path,
    work: &Path,
    storage: &Storage,
    plugin: &Plugin,
    state: &State,
    target: &mut dyn Target,
) -> Result<AppRun> {
    let manifest = plugin.manifest();
    let store = stage_app(backup, work, storage, plugin)?;
    // The operator enabled the app and consented to what its manifest asks (audited).
    let grant = Grant::as_asked(plugin);
    storage.record_grant(manifest, &grant)?;
    let session = plugin.session(RunContext {
        tenant: storage.tenant().clone(),
        migration: storage.migration().clone(),
        grant,
        mappings: std::sync::Arc::new(StateMappings(MappingReader::open(
            state.path(),
            state.protection(),
        )?)),
        app_data: std::sync::Arc::new(StagedAppData(store.clone())),
    })?;
    // The plugin runs on this thread while the other stores the previous batch's outputs.
    let (mut rows, mut outputs, mut failed) = (0u64, 0u64, 0u64);
    let (mut batches, mut fuel) = (0u64, 0u64);
    let app_key = &manifest.app_key;
    let (to_store, stored_rx) = std::sync::mpsc::sync_channel::<Vec<airlock_model::AppOutput>>(2);
    let storing = &mut *target;
    let (ran, stored) = std::thread::scope(|scope| {
        let storer = scope.spawn(move || -> Result<()> {
            for batch in stored_rx {
                storing.put_app_outputs(app_key, &batch)?;
            }
            Ok(())
        });
        let ran = each_batch(&store, plugin.limits().batch_rows as usize, &mut |batch| {
            rows += batch.rows.len() as u64;
            batches += 1;
            match session.migrate(batch) {
                Ok(ran) => {
                    fuel += ran.usage.fuel;
                    outputs += ran.value.len() as u64;
                    if to_store.send(ran.value).is_err() {
                        anyhow::bail!("storing the app's outputs stopped");
                    }
                }
                Err(e) => {
                    failed += 1;
                    fuel += e.usage.fuel;
                    println!("  app batch failed: {e}");
                }
            }
            Ok(())
        });
        drop(to_store);
        let stored = storer.join().unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "storing the app's outputs stopped unexpectedly"
            ))
        });
        (ran, stored)
    });
    // The storer's error explains a stop the plugin side only saw as a closed channel.
    stored?;
    ran?;
    println!(
        "app {}: {rows} rows in {} tables → {outputs} outputs in the target's app storage{}",
        manifest.app_key,
        store.tables()?.len(),
        if failed > 0 {
            format!(", {failed} batch(es) failed")
        } else {
            String::new()
        }
    );
    let stored = target.app_output_count(&manifest.app_key)?;
    Ok(AppRun {
        ok: failed == 0 && stored >= outputs,
        batches,
        fuel,
    })
}

/// An app data phase's outcome.
struct AppRun {
    ok: bool,
    batches: u64,
    fuel: u64,
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Before the load, a plugin resolves ids against what the load will map.
struct PlannedMappings(PlannedIds);

impl Mappings for PlannedMappings {
    fn resolve(&self, namespace: Namespace, ids: &[&str]) -> Vec<Option<std::sync::Arc<str>>> {
        ids.iter()
            .map(|id| self.0.resolve(namespace, id).map(Into::into))
            .collect()
    }
}

/// A plugin's `app-data` joins, answered from its staged tables.
struct StagedAppData(std::sync::Arc<AppRows>);

impl AppData for StagedAppData {
    fn get(&self, table: &str, id: i64) -> Result<Option<AppRow>, AppDataError> {
        self.0.try_get(table, id).map_err(|e| untrusted(table, e))
    }

    fn exists(&self, table: &str, id: i64) -> Result<bool, AppDataError> {
        self.0
            .try_exists(table, id)
            .map_err(|e| untrusted(table, e))
    }
}

/// A staged row that cannot be read or fails its seal fails the plugin's batch.
fn untrusted(table: &str, error: airlock_engine::state::StateError) -> AppDataError {
    AppDataError {
        table: table.to_owned(),
        reason: error.to_string(),
    }
}

/// One line of the verification: a kind's records in the source against the target.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct VerifyRow {
    pub kind: Kind,
    pub source: u64,
    /// Written by this migration.
    pub target: u64,
    /// Mapped to what the target had already (users by email, constants by name…).
    pub mapped: u64,
    /// Orphans skipped (their parent is not in the backup).
    #[serde(default)]
    pub skipped: u64,
    pub failed: u64,
    pub ok: bool,
}

/// Counts per kind: the source, against what the target holds (written by Airlock, plus
/// mapped to what it had already), and what failed.
fn verify(
    report: &IntegrityReport,
    plan: &Plan,
    state: &State,
    target: &mut dyn Target,
) -> Result<Vec<VerifyRow>> {
    let counts = target.counts()?;
    let mut rows = Vec::new();
    for kind in Kind::ALL {
        let source = report.counts.get(&kind).copied().unwrap_or(0);
        let written = counts.get(&kind).copied().unwrap_or(0);
        let mapped = plan
            .decisions
            .existing
            .get(&kind)
            .map_or(0, |m| m.len() as u64);
        let failed = state.failure_count(kind)?;
        let skipped = report.skipped.get(&kind).copied().unwrap_or(0);
        if source == 0 && written == 0 {
            continue;
        }
        rows.push(VerifyRow {
            kind,
            source,
            target: written,
            mapped,
            skipped,
            failed,
            ok: written + mapped + skipped == source && failed == 0,
        });
    }
    println!(
        "verify: {:<18} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "kind", "source", "target", "mapped", "skipped", "failed"
    );
    for r in &rows {
        println!(
            "        {:<18} {:>9} {:>9} {:>9} {:>9} {:>7} {}",
            r.kind.name(),
            r.source,
            r.target,
            r.mapped,
            r.skipped,
            r.failed,
            if r.ok { "✓" } else { "✗" }
        );
    }
    Ok(rows)
}

/// A plugin resolves ids through the migration's state, looked up on demand.
pub struct StateMappings(pub MappingReader);

impl Mappings for StateMappings {
    fn resolve(&self, namespace: Namespace, ids: &[&str]) -> Vec<Option<std::sync::Arc<str>>> {
        self.0.resolve(namespace, ids)
    }
}

/// `airlock check`: phase 1 alone.
pub fn check_command(runtime: &Runtime, options: &Options) -> Result<bool> {
    let plugins = load_plugins(runtime, options)?;
    let Checked { report, .. } = run_check(options, &plugins)?;
    Ok(!report.blocks_migration())
}

#[cfg(test)]
mod tests {
    use super::FindingCap;

    #[test]
    fn findings_past_the_cap_are_dropped_and_counted_per_table() {
        let mut cap = FindingCap::new(3);
        let kept = (0..10).filter(|_| cap.admit("AO_09EAEF_TEAM")).count();
        assert_eq!(kept, 3);
        assert!(
            cap.admit("AO_09EAEF_PERIOD"),
            "another table has its own count"
        );
        let capped: Vec<_> = cap.capped().collect();
        assert_eq!(capped.len(), 1);
        assert_eq!(capped[0].check, "findings-capped");
        assert_eq!(capped[0].entity, "AO_09EAEF_TEAM");
        assert!(
            capped[0].message.contains("7 more"),
            "{}",
            capped[0].message
        );
    }
}
