//! The migration's phases, in the order an operator runs them:
//!
//! 1. [`check`]: extract entities.xml into staging, then the integrity check (row problems,
//!    dangling references, users' emails, app foreign keys). Fatal findings block the run.
//! 2. [`analyze`]: what will change on the target, and the rows it will refuse.
//! 3. [`load`] in dependency order into a [`airlock_site::Site`], resumable through the
//!    [`State`] (mappings, checkpoints, failures); [`upload`] for attachment files;
//!    [`AppRows`] stages an app's tables for its plugin.
//!
//! Phases read the backup as a stream and keep only indexes in memory (ids in compressed
//! bitmaps), so memory stays bounded whatever the backup's size.

mod analysis;
mod app_rows;
mod contexts;
mod coverage;
mod extract;
mod files;
mod findings;
mod fixes;
mod history;
mod integrity;
mod issue_type_schemes;
mod load;
mod order;
mod queries;
mod records;
mod screens;
mod software;
mod state;
mod workflows;

// The front door: what the pipeline, the tools and the tests use. The modules stay
// private, so what is here is the engine's whole contract.
pub use analysis::{
    Action, FieldOverride, Overrides, Plan, PlanItem, PlannedCaveat, PlannedIds, ProjectOverride,
    RowOutcome, RowPlan, analyze, plan_caveats, plan_rows,
};
pub use app_rows::{APP_ROWS_FORMAT, AppRows, RowTampered, encode_row};
pub use coverage::{Coverage, CoverageEntry, MAX_ELEMENT_NAMES, Status as CoverageStatus};
pub use files::{
    FilesSummary, FolderFiles, SKIPPED_NOT_A_FILE, SKIPPED_OUTSIDE, SKIPPED_SYMLINK, upload,
};
pub use integrity::{AppStage, CheckPolicy, MAX_ORPHANS_LISTED, OrphanPolicy, OrphanRow};
pub use load::{LoadDecisions, LoadProgress, LoadSummary, load};
pub use records::RecordReader;
pub use state::{
    BatchCommit, Failure, FieldError, FieldProtection, MappingReader, STATE_FORMAT, State,
    StateError, ephemeral_protection,
};

use std::collections::BTreeMap;
use std::path::Path;

use airlock_backup::{Backup, BackupError};
use airlock_model::jira::Kind;
use airlock_model::{AoPrefix, AppKey, Severity};
use airlock_staging::{Staging, StagingError};
use serde::{Deserialize, Serialize};

pub use findings::{CheckSummary, Finding, Findings};

/// Why a phase stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Staging(#[from] StagingError),
    #[error(
        "staged object {name} is damaged: {problem}; rerun the check to stage the backup again"
    )]
    Staged { name: String, problem: String },
    #[error("writing to staging failed: {0}")]
    StagingIo(#[source] std::io::Error),
    #[error("encoding a record failed: {0}")]
    Encode(#[source] postcard::Error),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error("the target failed: {0}")]
    Target(#[source] airlock_site::TargetError),
    /// The load's writer stopped; its own error says why.
    #[error("the load's writer stopped")]
    WriterStopped,
    #[error("cannot read the attachments folder at {path}: {source}")]
    Files {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl EngineError {
    pub(crate) fn staging_io(e: std::io::Error) -> EngineError {
        EngineError::StagingIo(e)
    }

    pub(crate) fn encode(e: postcard::Error) -> EngineError {
        EngineError::Encode(e)
    }
}

/// What the integrity check found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntegrityReport {
    /// Rows per kind in the backup.
    pub counts: BTreeMap<Kind, u64>,
    pub findings: Findings,
    /// Orphans per kind the load skips (empty when orphans block, see
    /// [`integrity::OrphanPolicy`]): the verification counts source = target + mapped +
    /// skipped.
    #[serde(default)]
    pub skipped: BTreeMap<Kind, u64>,
    /// Orphan rows per element left out of a record as they were read (a custom field
    /// context's row of a deleted project…): no record, so not in `skipped`, but skipped.
    #[serde(default)]
    pub left_out: BTreeMap<String, u64>,
    /// Every orphan row, up to [`integrity::MAX_ORPHANS_LISTED`].
    #[serde(default)]
    pub orphans: Vec<integrity::OrphanRow>,
    /// Orphans past that list.
    #[serde(default)]
    pub orphans_unlisted: u64,
    /// Every element type of entities.xml and table of activeobjects.xml, and what
    /// becomes of its rows.
    #[serde(default)]
    pub coverage: coverage::Coverage,
}

impl IntegrityReport {
    pub fn fatal(&self) -> u64 {
        self.findings.count(Severity::Fatal)
    }

    pub fn blocks_migration(&self) -> bool {
        self.findings.is_blocking()
    }
}

/// Progress of a long phase, for a progress bar.
#[derive(Clone, Copy, Debug)]
pub enum Progress {
    /// Rows of entities.xml read so far.
    Extracting { rows: u64 },
    /// Checking references of one kind.
    Checking,
}

/// The outcome of [`check`]: the report, plus the index the later phases need.
pub struct Checked {
    pub report: IntegrityReport,
    pub index: extract::SourceIndex,
}

/// Phase 1: stages the backup's core records and checks the source's integrity.
/// `enabled` are the AO prefixes of the apps enabled for this migration (their foreign key
/// problems are fatal); `apps` receive their own tables while activeobjects.xml is read.
/// The two files are read at once, on two threads. Errors are for input that cannot be
/// read at all (not a zip, a truncated stream); everything else becomes a finding.
pub fn check(
    backup_path: &Path,
    staging: &dyn Staging,
    enabled: &[AppKey],
    apps: &[integrity::AppStage],
    progress: impl FnMut(Progress),
) -> Result<Checked, EngineError> {
    let policy = integrity::CheckPolicy::default();
    check_with(backup_path, staging, enabled, apps, &policy, progress)
}

/// [`check`] under the operator's policy: orphans skipped or fatal, users the override
/// file maps needing no usable email.
pub fn check_with(
    backup_path: &Path,
    staging: &dyn Staging,
    enabled: &[AppKey],
    apps: &[integrity::AppStage],
    policy: &integrity::CheckPolicy,
    mut progress: impl FnMut(Progress),
) -> Result<Checked, EngineError> {
    let prefixes: Vec<AoPrefix> = enabled.iter().map(AppKey::ao_prefix).collect();
    let enabled_prefixes = &prefixes[..];
    let mut backup = Backup::open(backup_path)?;
    let (extracted, ao_findings) = std::thread::scope(|scope| {
        let ao = scope.spawn(
            || -> Result<(Findings, coverage::TableCounter, software::SoftwareExtractor<'_>), EngineError> {
                let mut backup = Backup::open(backup_path)?;
                let mut findings = Findings::default();
                let mut tables = coverage::TableCounter::default();
                let mut software = software::SoftwareExtractor::new(staging)?;
                match backup.active_objects() {
                    Ok(reader) => match integrity::check_active_objects(
                        reader,
                        enabled_prefixes,
                        apps,
                        &mut software,
                        &mut tables,
                    ) {
                        Ok(f) => findings.extend(f),
                        Err(EngineError::Backup(e)) => match integrity::ao_error_finding(&e) {
                            Some(f) => findings.push(f),
                            None => return Err(e.into()),
                        },
                        Err(e) => return Err(e),
                    },
                    Err(e) => match integrity::ao_error_finding(&e) {
                        Some(f) => findings.push(f),
                        None => return Err(e.into()),
                    },
                }
                Ok((findings, tables, software))
            },
        );
        let extracted = backup
            .entities()
            .map_err(EngineError::from)
            .and_then(|reader| {
                extract::extract_with(reader, staging, &policy.mapped_users, |rows| {
                    progress(Progress::Extracting { rows })
                })
            });
        let ao = ao.join().unwrap_or_else(|_| {
            Err(EngineError::Staged {
                name: "activeobjects.xml".into(),
                problem: "its check stopped unexpectedly".into(),
            })
        });
        (extracted, ao)
    });
    let mut extracted = extracted?;
    // Jira Software's objects are finished (kept) only once both files were read.
    let (ao_findings, tables, software) = ao_findings?;
    let software = software.finish()?;
    // Jira Software's records join entities.xml's before references are checked.
    extracted.source_counts.extend(software.counts);
    extracted.index.ids.extend(software.ids);
    progress(Progress::Checking);
    let mut findings = extracted.findings;
    findings.extend(software.findings);
    let mut references = integrity::check_references(staging, &extracted.index, policy.orphans)?;
    // Orphans left out of a record as they were read: no record for the load to skip.
    let mut left_out: BTreeMap<String, u64> = BTreeMap::new();
    if policy.orphans == integrity::OrphanPolicy::Skip {
        for row in &extracted.orphans {
            *left_out.entry(row.entity.clone()).or_default() += 1;
        }
    }
    references.extend(integrity::ReferenceCheck::left_out(
        std::mem::take(&mut extracted.orphans),
        policy.orphans,
    ));
    findings.extend(references.findings);
    for finding in
        issue_type_schemes::issues_outside_their_schemes(staging, &references.issue_types)?
    {
        findings.push(finding);
    }
    for finding in workflows::issues_outside_their_workflows(staging, &references.issue_statuses)? {
        findings.push(finding);
    }
    // The load skips what is staged here; when orphans block, nothing is skipped.
    let orphans = match policy.orphans {
        integrity::OrphanPolicy::Skip => references.orphans,
        integrity::OrphanPolicy::Block => integrity::OrphanSet::default(),
    };
    orphans.write(staging)?;
    let mut queries = records::RecordWriter::create(staging, records::REFUSED_QUERIES_OBJECT)?;
    for (position, record) in &references.refused_queries {
        queries.push(*position, record)?;
    }
    queries.finish()?;
    let skipped = orphans.counts();
    findings.extend(integrity::check_app_identities(
        &extracted.installed_apps,
        enabled,
    ));
    findings.extend(ao_findings);
    let mut coverage = extracted.elements.ledger(&skipped, &extracted.skipped_rows);
    let app_tables: Vec<String> = apps.iter().flat_map(|a| a.tables.iter().cloned()).collect();
    let ao = tables.ledger(enabled_prefixes, &app_tables, &software.taken, &skipped);
    coverage.entries.extend(ao.entries);
    coverage.unnamed_rows += ao.unnamed_rows;
    Ok(Checked {
        report: IntegrityReport {
            counts: extracted.source_counts,
            findings,
            skipped,
            left_out,
            orphans: references.listed,
            orphans_unlisted: references.unlisted,
            coverage,
        },
        index: extracted.index,
    })
}
