//! The app data phase, one path for every caller: an enabled app's own Active Objects
//! tables, staged (sealed, one batch in memory), through its plugin's sandboxed
//! `analyze-batch` (phase 2, against the mappings the load will make) and `migrate-batch`
//! (after the load, against the mappings it made); outputs into the target's app storage;
//! the operator's consent recorded and audited; results in the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{PipelineError, Result};
use airlock_backup::Backup;
use airlock_engine::AppRows;
use airlock_engine::AppStage;
use airlock_engine::{BatchCommit, MappingReader, State};
use airlock_engine::{Finding, Findings};
use airlock_engine::{Plan, PlannedIds};
use airlock_model::Value;
use airlock_model::{DataScope, Namespace, Severity};
use airlock_runtime::{
    AppData, AppDataError, AppRow, FoundRows, Grant, GrowingMappings, Mappings, Plugin, RunContext,
    RunPhase, RunSummary,
};
use airlock_site::Site;
use airlock_staging::SealedStaging;

use crate::events::{Event, Observer};
use crate::report::{AppBatchResult, AppReport, FinishFinding};
use crate::storage::Storage;

/// A plugin the operator enabled for this migration, with what they consented to.
pub struct EnabledApp {
    pub plugin: Plugin,
    pub grant: Grant,
    /// Who approved this build; audited before the plugin runs.
    pub review: Review,
}

/// How the plugin's build was reviewed (see `airlock_runtime::approval`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Review {
    /// A reviewer the operator trusts approved this build (hex public key).
    Approved { reviewer_key: String },
    /// The operator runs it without a trusted approval (`--unreviewed`), or the caller
    /// checked none: the audit log and the report say so.
    Unreviewed,
}

impl EnabledApp {
    /// Consent to every scope and namespace the plugin's manifest asks for.
    pub fn as_asked(plugin: Plugin) -> EnabledApp {
        let grant = Grant::as_asked(&plugin);
        EnabledApp {
            plugin,
            grant,
            review: Review::Unreviewed,
        }
    }

    /// This app, its build approved by the trusted reviewer `reviewer_key`.
    pub fn approved_by(self, reviewer_key: impl Into<String>) -> EnabledApp {
        EnabledApp {
            review: Review::Approved {
                reviewer_key: reviewer_key.into(),
            },
            ..self
        }
    }

    /// Consent to `items` only: scopes (as the WIT spells them, `app-data-ugc`, or as
    /// Atlassian does, `APP_DATA_UGC`) and namespaces (`identity:user`), each one the manifest asks for.
    /// What the plugin asks and is not given, it cannot use: a resolve in an ungranted
    /// namespace fails its batch, naming it.
    pub fn with_consent(plugin: Plugin, items: &[&str]) -> Result<EnabledApp, GrantError> {
        let asked = Grant::as_asked(&plugin);
        let mut grant = Grant::new(asked.app_key.clone(), asked.plugin_sha256.clone());
        for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
            let scope = (item.parse::<DataScope>().ok()).filter(|s| asked.scopes.contains(s));
            let namespace = (Namespace::parse(item).ok()).filter(|n| asked.namespaces.contains(n));
            match (scope, namespace) {
                (Some(scope), _) => grant.scopes.insert(scope),
                (None, Some(namespace)) => grant.namespaces.insert(namespace),
                (None, None) => {
                    return Err(GrantError::NotAsked {
                        app: asked.app_key.to_string(),
                        item: item.to_owned(),
                        asked: asked
                            .scopes
                            .iter()
                            .map(|s| s.as_str().to_owned())
                            .chain(asked.namespaces.iter().map(|n| n.as_str().to_owned()))
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
            };
        }
        Ok(EnabledApp {
            plugin,
            grant,
            review: Review::Unreviewed,
        })
    }

    pub fn key(&self) -> &airlock_model::AppKey {
        &self.plugin.manifest().app_key
    }
}

/// A consent the operator gave that the plugin did not ask for.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("{app} does not ask for {item:?}, so it cannot be granted; it asks for: {asked}")]
    NotAsked {
        app: String,
        item: String,
        asked: String,
    },
}

/// The order apps run in, as indexes into `apps`: an app that publishes a namespace before
/// every app that resolves it, otherwise as enabled. Apps that resolve each other's
/// namespaces in a cycle cannot run: refused, naming them.
pub fn run_order(apps: &[EnabledApp]) -> Result<Vec<usize>> {
    // needs[c] = the apps whose namespaces app c resolves.
    let needs: Vec<Vec<usize>> = (0..apps.len())
        .map(|c| {
            let wanted: Vec<Namespace> = apps[c].plugin.manifest().all_namespaces().collect();
            (0..apps.len())
                .filter(|&p| {
                    p != c
                        && (apps[p].plugin.manifest().publishes.iter())
                            .any(|ns| wanted.contains(ns))
                })
                .collect()
        })
        .collect();
    let mut order = Vec::with_capacity(apps.len());
    let mut placed = vec![false; apps.len()];
    while order.len() < apps.len() {
        let next = (0..apps.len()).find(|&c| !placed[c] && needs[c].iter().all(|&p| placed[p]));
        match next {
            Some(c) => {
                placed[c] = true;
                order.push(c);
            }
            None => {
                let stuck: Vec<String> = (0..apps.len())
                    .filter(|&c| !placed[c])
                    .map(|c| apps[c].key().to_string())
                    .collect();
                return Err(PipelineError::Input(format!(
                    "apps {} resolve each other's published namespaces in a cycle, so none can run first; disable one, or ask the vendors which should publish",
                    stuck.join(", ")
                )));
            }
        }
    }
    Ok(order)
}

/// App namespaces an app resolves that no enabled app publishes: every id in them will
/// resolve to nothing. A warning for the plan, per app.
fn unpublished_namespaces(app: &EnabledApp, apps: &[EnabledApp]) -> Vec<Namespace> {
    app.plugin
        .manifest()
        .all_namespaces()
        .filter(|ns| ns.is_app())
        .filter(|ns| {
            !apps
                .iter()
                .any(|a| a.plugin.manifest().publishes.contains(ns))
        })
        .collect()
}

/// Two enabled apps sharing an Active Objects prefix would read each other's tables.
/// (Apps installed on the source are checked against the backup in the check phase.)
pub fn check_identities(apps: &[EnabledApp]) -> Result<()> {
    let keys: Vec<_> = apps.iter().map(|a| a.key().clone()).collect();
    for key in &keys {
        airlock_runtime::check_identity(key, &keys)?;
    }
    Ok(())
}

pub(crate) fn app_store_path(work: &Path, plugin: &Plugin) -> PathBuf {
    let prefix = plugin.manifest().ao_prefix();
    work.join(format!("app-{}.db", prefix.as_str().trim_end_matches('_')))
}

/// The stores the integrity check fills with each enabled app's own tables.
pub(crate) fn app_stages(
    work: &Path,
    storage: &Storage,
    apps: &[EnabledApp],
) -> Result<Vec<AppStage>> {
    apps.iter()
        .map(|app| {
            let manifest = app.plugin.manifest();
            let prefix = manifest.ao_prefix();
            Ok(AppStage {
                tables: manifest
                    .tables
                    .iter()
                    .filter(|t| prefix.owns(t))
                    .cloned()
                    .collect(),
                store: Arc::new(AppRows::create(
                    &app_store_path(work, &app.plugin),
                    storage.sealer().clone(),
                )?),
            })
        })
        .collect()
}

/// A plugin's own tables from activeobjects.xml (other apps' rows are streamed past), so
/// batches and joins are served from disk with one batch in memory.
fn stage_app(
    backup: &Path,
    work: &Path,
    storage: &Storage,
    plugin: &Plugin,
) -> Result<Arc<AppRows>> {
    let path = app_store_path(work, plugin);
    let mut backup = Backup::open(backup)?;
    let fingerprint = backup.fingerprint().to_owned();
    // Usually the integrity check staged them already, in its pass over the file.
    if let Some(store) = AppRows::open_complete(&path, &fingerprint, storage.sealer().clone()) {
        let store = Arc::new(store);
        index_lookups(&store, plugin)?;
        return Ok(store);
    }
    let manifest = plugin.manifest();
    let prefix = manifest.ao_prefix();
    let store = Arc::new(AppRows::create(&path, storage.sealer().clone())?);
    let mut reader = backup.active_objects()?;
    let wanted = |table: &str| prefix.owns(table) && manifest.tables.iter().any(|t| t == table);
    for batch in reader.batches(plugin.limits().batch_rows as usize, wanted) {
        store.insert(&batch?)?;
    }
    store.mark_complete(&fingerprint)?;
    index_lookups(&store, plugin)?;
    Ok(store)
}

/// Indexes the columns the plugin finds rows by, before its first batch runs (so no
/// batch's deadline pays for it).
fn index_lookups(store: &AppRows, plugin: &Plugin) -> Result<()> {
    for (table, column) in &plugin.manifest().lookups {
        store.index(table, column)?;
    }
    Ok(())
}

/// Calls `f` on every staged batch, table by table. The next batch is read (and its rows
/// opened) on another thread while `f` runs the plugin on this one.
fn each_batch(
    store: &AppRows,
    batch_rows: usize,
    f: &mut dyn FnMut(airlock_runtime::Batch<'_>) -> Result<()>,
) -> Result<()> {
    let (ahead, batches) = std::sync::mpsc::sync_channel(1);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> Result<()> {
            for table in store.tables()? {
                let (mut offset, mut index) = (0u64, 0u64);
                while let Some(batch) = store.batch(&table, offset, batch_rows)? {
                    offset += batch.rows.len() as u64;
                    if ahead.send((index, batch)).is_err() {
                        // The plugin's side stopped: its error is the one to report.
                        return Ok(());
                    }
                    index += 1;
                }
            }
            Ok(())
        });
        let ran = (|| -> Result<()> {
            for (index, batch) in &batches {
                f(airlock_runtime::Batch {
                    table: &batch.table,
                    index,
                    columns: &batch.columns,
                    rows: &batch.rows,
                })?;
            }
            Ok(())
        })();
        drop(batches);
        let read = reader
            .join()
            .unwrap_or(Err(PipelineError::RowReaderStopped));
        ran.and(read)
    })
}

/// Where an app's phases read and write.
pub(crate) struct AppInputs<'a> {
    pub backup: &'a Path,
    pub work: &'a Path,
    pub storage: &'a Storage,
}

/// Phase 2 for an app: its analysis of its own data, resolving ids against what the load
/// will map (nothing is written yet). A batch the plugin fails on is a fatal finding.
pub(crate) fn analyze_app(
    inputs: &AppInputs<'_>,
    (app, apps): (&EnabledApp, &[EnabledApp]),
    published: &Arc<GrowingMappings>,
    staging: &SealedStaging,
    plan: &Plan,
) -> Result<Findings> {
    let _span = tracing::info_span!("plugin", app = %app.key()).entered();
    let plugin = &app.plugin;
    let namespaces: Vec<Namespace> = app.grant.namespaces.iter().copied().collect();
    let planned = PlannedIds::read(staging, &namespaces, plan)?;
    let store = stage_app(inputs.backup, inputs.work, inputs.storage, plugin)?;
    let session = plugin.session(RunContext {
        tenant: inputs.storage.tenant().clone(),
        migration: inputs.storage.migration().clone(),
        grant: app.grant.clone(),
        mappings: Arc::new(PlannedMappings(planned, published.clone())),
        app_data: Arc::new(StagedAppData(store.clone())),
    })?;
    let mut findings = Findings::default();
    for ns in unpublished_namespaces(app, apps) {
        findings.push(Finding {
            check: "namespace-not-published".into(),
            severity: Severity::Warning,
            file: "activeobjects.xml".into(),
            entity: ns.to_string(),
            id: String::new(),
            line: None,
            message: format!(
                "the app resolves `{ns}`, which no enabled app publishes: every id in it will resolve to nothing (enable the app that publishes it)"
            ),
        });
    }
    let mut cap = FindingCap::new(MAX_APP_FINDINGS_PER_TABLE);
    let mut summary = RunSummary::default();
    let mut keep = |f: airlock_model::AppFinding, findings: &mut Findings| {
        if cap.admit(&f.table) {
            findings.push(Finding {
                check: f.code,
                severity: f.severity,
                file: "activeobjects.xml".into(),
                entity: f.table,
                id: f.row_id.map(|r| r.to_string()).unwrap_or_default(),
                line: None,
                message: f.message,
            });
        }
    };
    let stopped = |table: String, e: &airlock_runtime::BatchError| Finding {
        check: format!("plugin-{}", e.cause.code()),
        severity: Severity::Fatal,
        file: "activeobjects.xml".into(),
        entity: table,
        id: String::new(),
        line: None,
        message: e.to_string(),
    };
    each_batch(&store, plugin.limits().batch_rows as usize, &mut |batch| {
        let _span =
            tracing::info_span!("batch", table = batch.table, index = batch.index).entered();
        let table = batch.table.to_owned();
        let rows = batch.rows.len();
        let ran = session.analyze(batch);
        summary.batch(&table, rows, &ran);
        match ran {
            Ok(ran) => {
                published.record(&ran.published);
                for f in ran.value {
                    keep(f, &mut findings);
                }
            }
            Err(e) => findings.push(stopped(table, &e)),
        }
        Ok(())
    })?;
    match session.finish(RunPhase::Analyze, &summary) {
        None => {}
        Some(Ok(ran)) => {
            published.record(&ran.published);
            for f in ran.value {
                keep(f, &mut findings);
            }
        }
        Some(Err(e)) => findings.push(stopped(airlock_runtime::FINISH_TABLE.into(), &e)),
    }
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
    fn capped(self) -> impl Iterator<Item = Finding> {
        let limit = self.limit;
        self.per_table
            .into_iter()
            .filter(|(_, (_, dropped))| *dropped > 0)
            .map(move |(table, (_, dropped))| Finding {
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

/// The app data phase for one app: its staged tables and its granted mappings (looked up
/// in the state on demand) go through `migrate-batch`; outputs go to the target's app
/// storage while the plugin runs the next batch. Outputs are keyed, so a rerun rewrites
/// the same ones. The operator's consent is recorded (audited) before the plugin runs.
pub(crate) fn migrate_app(
    inputs: &AppInputs<'_>,
    app: &EnabledApp,
    state: &mut State,
    target: &mut dyn Site,
    observer: &mut dyn Observer,
) -> Result<AppReport> {
    let _span = tracing::info_span!("plugin", app = %app.key()).entered();
    let plugin = &app.plugin;
    let manifest = plugin.manifest();
    let started = Instant::now();
    let store = stage_app(inputs.backup, inputs.work, inputs.storage, plugin)?;
    inputs.storage.record_grant(manifest, &app.grant)?;
    let reviewer = match &app.review {
        Review::Approved { reviewer_key } => Some(reviewer_key.as_str()),
        Review::Unreviewed => None,
    };
    (inputs.storage).record_review(manifest, &plugin.info().sha256, reviewer)?;
    let app_key = manifest.app_key.to_string();
    let mut report = AppReport {
        app: app_key.clone(),
        scopes: app.grant.scopes.iter().map(|s| s.to_string()).collect(),
        namespaces: app.grant.namespaces.iter().map(|n| n.to_string()).collect(),
        tables: store.tables()?.len() as u64,
        unreviewed: reviewer.is_none(),
        ..AppReport::default()
    };
    observer.event(&Event::AppStarted {
        app: &app_key,
        scopes: report.scopes.clone(),
        namespaces: report.namespaces.clone(),
        tables: report.tables as usize,
        unreviewed: report.unreviewed,
    });
    let session = plugin.session(RunContext {
        tenant: inputs.storage.tenant().clone(),
        migration: inputs.storage.migration().clone(),
        grant: app.grant.clone(),
        mappings: Arc::new(StateMappings(MappingReader::open(
            state.path(),
            state.protection(),
        )?)),
        app_data: Arc::new(StagedAppData(store.clone())),
    })?;
    let (to_store, stored_rx) = std::sync::mpsc::sync_channel::<Vec<airlock_model::AppOutput>>(2);
    let storing = &mut *target;
    let key = &manifest.app_key;
    let mut summary = RunSummary::default();
    let (ran, stored) = std::thread::scope(|scope| {
        let storer = scope.spawn(move || -> Result<()> {
            for batch in stored_rx {
                storing.put_app_outputs(key, &batch)?;
            }
            Ok(())
        });
        let ran = each_batch(&store, plugin.limits().batch_rows as usize, &mut |batch| {
            let _span =
                tracing::info_span!("batch", table = batch.table, index = batch.index).entered();
            let mut result = AppBatchResult {
                table: batch.table.to_owned(),
                index: batch.index,
                rows: batch.rows.len() as u64,
                outputs: 0,
                fuel: 0,
                millis: 0,
                error: None,
            };
            let ran = session.migrate(batch);
            summary.batch(&result.table, result.rows as usize, &ran);
            match ran {
                Ok(ran) => {
                    // Recorded before the next batch runs, which may resolve them.
                    record_published(state, &ran.published, &mut report)?;
                    result.fuel = ran.usage.fuel;
                    result.millis = ran.usage.elapsed.as_millis() as u64;
                    result.outputs = ran.value.len() as u64;
                    for out in &ran.value {
                        *report
                            .outputs_by_kind
                            .entry(out.kind().to_owned())
                            .or_default() += 1;
                        report.output_bytes += out.size() as u64;
                    }
                    if to_store.send(ran.value).is_err() {
                        return Err(PipelineError::StorerStopped);
                    }
                }
                Err(e) => {
                    result.fuel = e.usage.fuel;
                    result.millis = e.usage.elapsed.as_millis() as u64;
                    result.error = Some(e.to_string());
                }
            }
            report.rows += result.rows;
            report.batches += 1;
            report.outputs += result.outputs;
            report.fuel += result.fuel;
            observer.event(&Event::AppBatch {
                app: &app_key,
                batch: &result,
            });
            if result.error.is_some() {
                report.failed.push(result);
            }
            Ok(())
        });
        drop(to_store);
        let stored = storer.join().unwrap_or(Err(PipelineError::StorerStopped));
        (ran, stored)
    });
    // The storer's error explains a stop the plugin side only saw as a closed channel.
    stored?;
    ran?;
    match session.finish(RunPhase::Migrate, &summary) {
        None => {}
        Some(Ok(ran)) => {
            record_published(state, &ran.published, &mut report)?;
            report.finish_findings = (ran.value.into_iter())
                .map(|f| FinishFinding {
                    severity: f.severity,
                    code: f.code,
                    message: f.message,
                    row_id: f.row_id,
                })
                .collect();
        }
        Some(Err(e)) => report.failed.push(AppBatchResult {
            table: airlock_runtime::FINISH_TABLE.into(),
            index: 0,
            rows: 0,
            outputs: 0,
            fuel: e.usage.fuel,
            millis: e.usage.elapsed.as_millis() as u64,
            error: Some(e.to_string()),
        }),
    }
    report.stored = target.app_output_count(&manifest.app_key)?;
    report.millis = started.elapsed().as_millis() as u64;
    observer.event(&Event::AppFinished { report: &report });
    Ok(report)
}

/// Records what a batch published with the migration's mappings (one transaction), where
/// later batches and apps resolve them.
fn record_published(
    state: &mut State,
    published: &[(Namespace, String, String)],
    report: &mut AppReport,
) -> Result<()> {
    if published.is_empty() {
        return Ok(());
    }
    state.commit(&BatchCommit {
        mappings: published,
        ..BatchCommit::default()
    })?;
    for (ns, _, _) in published {
        *report.published.entry(ns.to_string()).or_default() += 1;
    }
    Ok(())
}

/// Before the load, a plugin resolves ids against what the load will map, and apps'
/// namespaces against what they published while being analyzed.
struct PlannedMappings(PlannedIds, Arc<GrowingMappings>);

impl Mappings for PlannedMappings {
    fn resolve(&self, namespace: Namespace, ids: &[&str]) -> Vec<Option<Arc<str>>> {
        if namespace.is_app() {
            return self.1.resolve(namespace, ids);
        }
        ids.iter()
            .map(|id| self.0.resolve(namespace, id).map(Into::into))
            .collect()
    }
}

/// A plugin's `app-data` joins, answered from its staged tables.
struct StagedAppData(Arc<AppRows>);

impl AppData for StagedAppData {
    fn get(&self, table: &str, id: i64) -> Result<Option<AppRow>, AppDataError> {
        self.0.try_get(table, id).map_err(|e| untrusted(table, e))
    }

    fn exists(&self, table: &str, id: i64) -> Result<bool, AppDataError> {
        self.0
            .try_exists(table, id)
            .map_err(|e| untrusted(table, e))
    }

    fn find(
        &self,
        table: &str,
        column: &str,
        values: &[Value],
        max_rows: usize,
    ) -> Result<Option<FoundRows>, AppDataError> {
        self.0
            .try_find(table, column, values, max_rows)
            .map_err(|e| untrusted(table, e))
    }
}

/// A staged row that cannot be read or fails its seal fails the plugin's batch.
fn untrusted(table: &str, error: airlock_engine::StateError) -> AppDataError {
    AppDataError {
        table: table.to_owned(),
        reason: error.to_string(),
    }
}

/// A plugin resolves ids through the migration's state, looked up on demand.
struct StateMappings(MappingReader);

impl Mappings for StateMappings {
    fn resolve(&self, namespace: Namespace, ids: &[&str]) -> Vec<Option<Arc<str>>> {
        self.0.resolve(namespace, ids)
    }
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
