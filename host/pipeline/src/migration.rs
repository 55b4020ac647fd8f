//! The migration, phase by phase: [`Migration::open`] → [`check`](Migration::check) →
//! [`analyze`](Migration::analyze) → [`load`](Migration::load) → [`apps`](Migration::apps)
//! → [`verify`](Migration::verify) → [`finish`](Migration::finish). Each phase emits
//! [`Event`]s and seals its report into the migration's storage. Every phase can be rerun:
//! a migration resumes where it stopped.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::error::{PipelineError, Result};
use airlock_backup::Backup;
use airlock_engine::CheckPolicy;
use airlock_engine::State;
use airlock_engine::{IntegrityReport, Progress, check_with};
use airlock_engine::{LoadProgress, load};
use airlock_engine::{Overrides, Plan, analyze};
use airlock_model::Severity;
use airlock_model::jira::Kind;
use airlock_site::{JiraCloud, LocalSite, Site};
use airlock_staging::SealedStaging;
use airlock_store::{ErrorCode, Stat};
use serde::Serialize;

use crate::apps::{self, AppInputs, EnabledApp};
use crate::config::{Config, TargetConfig};
use crate::events::{Blocked, Event, Observer, Phase};
use crate::report::{self, AppReport, VerifyRow};
use crate::storage::Storage;

/// How far [`run`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// Phase 1: stage and check the source.
    Check,
    /// Phases 1 and 2: what will change on the target.
    Analyze,
    /// Every phase.
    Migrate,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// Why it stopped before loading, if it did.
    pub blocked: Option<Blocked>,
    /// Whether the load ran (a check or analysis alone does not).
    pub loaded: bool,
    /// Every kind's source count is matched on the target.
    pub verified: bool,
    /// Core rows the target refused (listed in the state).
    pub failed_rows: u64,
    /// Core rows written differently from the source, row by row (issues Jira Cloud gave
    /// other keys; listed in the state and the report).
    pub changed_rows: u64,
    /// App batches that failed (listed in apps.json).
    pub failed_batches: u64,
    /// Sealed objects this run opened, each audited.
    pub decryptions: u64,
}

impl Outcome {
    /// Nothing blocked, and what ran lost nothing.
    pub fn succeeded(&self) -> bool {
        self.blocked.is_none()
            && (!self.loaded
                || (self.verified && self.failed_rows == 0 && self.failed_batches == 0))
    }
}

/// Opens the migration in `config.work`, then runs its phases up to `until`, stopping at
/// the first that blocks. The one way the CLI, the demo, the benchmark and the tests run
/// a migration.
pub fn run(
    config: Config,
    apps: Vec<EnabledApp>,
    observer: &mut dyn Observer,
    until: Until,
) -> Result<Outcome> {
    let mut migration = Migration::open(config, apps, observer)?;
    migration.check()?;
    // An analysis alone goes on past a blocked check (it writes nothing, and the operator
    // sees every problem at once); a migration stops there.
    let analyze = match until {
        Until::Check => false,
        Until::Analyze => true,
        Until::Migrate => migration.blocked.is_none(),
    };
    if analyze {
        migration.analyze()?;
        if migration.blocked.is_none() && until == Until::Migrate {
            migration.load()?;
            migration.apps()?;
            migration.verify()?;
        }
    }
    migration.finish()
}

/// One migration, open: its storage, its state and what its phases found so far.
pub struct Migration<'o> {
    config: Config,
    apps: Vec<EnabledApp>,
    observer: &'o mut dyn Observer,
    fingerprint: String,
    /// Whether this run made the work directory.
    made_work: bool,
    storage: Storage,
    staging: SealedStaging,
    state: State,
    report: Option<IntegrityReport>,
    plan: Option<Plan>,
    target: Option<Box<dyn Site>>,
    app_reports: Vec<AppReport>,
    verified: Option<Vec<VerifyRow>>,
    /// Rows written differently from the source, as the verification counted them.
    changed_rows: u64,
    blocked: Option<Blocked>,
    loaded: bool,
    stat: Stat,
    span: tracing::Span,
}

impl<'o> Migration<'o> {
    /// Opens (or creates) the migration whose work directory `config.work` is. Nothing is
    /// written before the backup opens as a zip holding both files.
    pub fn open(
        config: Config,
        apps: Vec<EnabledApp>,
        observer: &'o mut dyn Observer,
    ) -> Result<Migration<'o>> {
        apps::check_identities(&apps)?;
        // Every phase runs the apps in this order: publishers before who resolves them.
        let mut apps = apps;
        let order = apps::run_order(&apps)?;
        let mut slots: Vec<Option<EnabledApp>> = apps.drain(..).map(Some).collect();
        let apps: Vec<EnabledApp> = (order.into_iter())
            .filter_map(|i| slots[i].take())
            .collect();
        if !config.backup.exists() {
            return Err(PipelineError::Input(format!(
                "the backup {} does not exist",
                config.backup.display()
            )));
        }
        let fingerprint = Backup::open(&config.backup)?.fingerprint().to_owned();
        let made_work = !config.work.exists();
        crate::private::private_dir(&config.work)?;
        let storage = Storage::open(&config.work, &config.storage)?;
        // The state's mappings and failures are sealed under the migration's data key too.
        let state = report::open_state(&config.work, &storage)?;
        let span = tracing::info_span!("migration", id = %storage.migration());
        let location = storage.blobs().location();
        observer.event(&Event::Opened {
            tenant: storage.tenant().as_str(),
            migration: storage.migration().as_str(),
            region: storage.region(),
            blobs: &location,
            created: storage.created_by_this_run(),
        });
        let staging = storage.staging();
        Ok(Migration {
            config,
            apps,
            observer,
            fingerprint,
            made_work,
            storage,
            staging,
            state,
            report: None,
            plan: None,
            target: None,
            app_reports: Vec::new(),
            verified: None,
            changed_rows: 0,
            blocked: None,
            loaded: false,
            stat: Stat::default(),
            span,
        })
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Why the migration cannot go on, once a phase has found it.
    pub fn blocked(&self) -> Option<&Blocked> {
        self.blocked.as_ref()
    }

    fn phase<T>(&mut self, phase: Phase, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let span = tracing::info_span!(parent: &self.span, "phase", name = phase.name());
        let _entered = span.enter();
        self.observer.event(&Event::PhaseStarted { phase });
        let started = Instant::now();
        let out = match f(self) {
            Ok(out) => out,
            Err(e) => {
                // The failure is audited if the store can take it; the error says why.
                let _ = self.storage.record_phase(phase.name(), "failed");
                return Err(e);
            }
        };
        self.storage.record_phase(phase.name(), "done")?;
        let elapsed = started.elapsed();
        let ms = elapsed.as_millis() as u64;
        match phase {
            Phase::Check => self.stat.phase_stage_ms += ms,
            Phase::Analyze => self.stat.phase_analyse_ms += ms,
            Phase::Load | Phase::Apps => self.stat.phase_load_ms += ms,
            Phase::Verify => self.stat.phase_verify_ms += ms,
        }
        self.observer
            .event(&Event::PhaseFinished { phase, elapsed });
        Ok(out)
    }

    /// Phase 1: stages the backup and checks the source's integrity. A rerun on the same
    /// backup whose check passed reuses the staged records (a resumed migration does not
    /// read the backup again); a work directory that has started loading another backup
    /// is refused. Fatal findings block the migration.
    pub fn check(&mut self) -> Result<&IntegrityReport> {
        self.phase(Phase::Check, Self::run_check)?;
        let report = self
            .report
            .as_ref()
            .expect("the check phase sets its report");
        for (kind, n) in &report.counts {
            match kind {
                Kind::Issue => self.stat.records_issues += n,
                Kind::Comment => self.stat.records_comments += n,
                Kind::Worklog => self.stat.records_worklogs += n,
                Kind::Attachment => self.stat.records_attachments += n,
                _ => self.stat.records_other += n,
            }
        }
        if report.blocks_migration() {
            self.block(Blocked::Source {
                fatal: report.fatal(),
            });
        }
        Ok(self.report.as_ref().expect("set above"))
    }

    fn run_check(&mut self) -> Result<()> {
        // The apps enabled decide which foreign key problems are fatal: part of what was checked.
        let keys: Vec<_> = self.apps.iter().map(|a| a.key().clone()).collect();
        let prefixes: Vec<String> = keys
            .iter()
            .map(|k| k.ao_prefix().as_str().to_owned())
            .collect();
        // So is the operator's policy: orphans skipped or fatal, users mapped by the overrides.
        let policy = CheckPolicy::new(
            &read_overrides(self.config.overrides.as_deref())?,
            self.config.strict,
        );
        let checked_as = format!("clean {} {}", prefixes.join(","), policy.fingerprint());
        match self.state.meta("backup")? {
            Some(known)
                if known == self.fingerprint
                    && self.state.meta("checked")?.as_deref() == Some(checked_as.as_str()) =>
            {
                if let Some(report) =
                    report::read::<IntegrityReport>(&self.storage, "integrity.json")
                {
                    self.observer.event(&Event::CheckReused);
                    self.observer.event(&Event::Checked { report: &report });
                    self.report = Some(report);
                    return Ok(());
                }
            }
            Some(known) if known != self.fingerprint && self.state.load_started()? => {
                return Err(PipelineError::Refused(format!(
                    "the work directory {} holds a migration of another backup; use a new --work directory for {}",
                    self.config.work.display(),
                    self.config.backup.display()
                )));
            }
            _ => {}
        }
        let stages = apps::app_stages(&self.config.work, &self.storage, &self.apps)?;
        let observer = &mut *self.observer;
        let checked = check_with(
            &self.config.backup,
            &self.staging,
            &keys,
            &stages,
            &policy,
            |p| {
                observer.event(&match p {
                    Progress::Extracting { rows } => Event::Extracting { rows },
                    Progress::Checking => Event::CheckingReferences,
                })
            },
        );
        let checked = match checked {
            Ok(c) => c,
            Err(e) => {
                self.forget_unreadable()?;
                return Err(PipelineError::Unreadable {
                    path: self.config.backup.clone(),
                    source: Box::new(e),
                });
            }
        };
        let report = checked.report;
        for stage in &stages {
            stage.store.mark_complete(&self.fingerprint)?;
        }
        report::write(&self.storage, "integrity.json", &report)?;
        self.state.set_meta("backup", &self.fingerprint)?;
        self.state.set_meta(
            "checked",
            if report.blocks_migration() {
                "blocked"
            } else {
                &checked_as
            },
        )?;
        self.observer.event(&Event::Checked { report: &report });
        self.report = Some(report);
        Ok(())
    }

    /// An unreadable backup leaves nothing behind: no staged object, and a work directory
    /// made by this run is removed. A migration this run created is recorded as failed
    /// (the store keeps that it was tried, with the error code, and retention ends it like
    /// any failure).
    fn forget_unreadable(&mut self) -> Result<()> {
        let _ = self.storage.blobs().delete_prefix(&format!(
            "{}/{}/staging/",
            self.storage.tenant(),
            self.storage.migration()
        ));
        if self.storage.created_by_this_run() {
            let stat = Stat {
                error_code: Some(ErrorCode::new("unreadable-backup")?),
                ..Stat::default()
            };
            self.storage.abandon(&stat)?;
        }
        if self.made_work {
            // Nothing of this run may hold the directory open while it goes.
            let _ = std::fs::remove_dir_all(&self.config.work);
        }
        Ok(())
    }

    /// Records why the migration cannot go on; the first reason is the outcome's.
    fn block(&mut self, blocked: Blocked) {
        self.observer.event(&Event::Blocked { blocked: &blocked });
        self.blocked.get_or_insert(blocked);
    }

    fn target(&mut self) -> Result<&mut dyn Site> {
        if self.target.is_none() {
            self.target = Some(open_target(&self.config)?);
        }
        Ok(self.target.as_mut().expect("opened above").as_mut())
    }

    /// Phase 2: the target analysis, then each enabled app's analysis of its data. Once
    /// loading has begun the plan is frozen: the target now holds this migration's own
    /// writes, which a fresh analysis would take for clashes. Problems on the target, or
    /// an app's fatal findings, block the migration.
    /// The analysis runs even when the check blocked (it writes nothing to the target).
    pub fn analyze(&mut self) -> Result<&Plan> {
        self.phase(Phase::Analyze, Self::run_analyze)?;
        let plan = self.plan.as_ref().expect("the analysis sets its plan");
        if plan.blocks_migration() {
            let problems = plan.problems().count() as u64;
            let app_fatal = plan.apps.values().map(|f| f.count(Severity::Fatal)).sum();
            self.block(Blocked::Plan {
                problems,
                app_fatal,
            });
        }
        Ok(self.plan.as_ref().expect("set above"))
    }

    fn run_analyze(&mut self) -> Result<()> {
        let frozen = if self.state.load_started()? {
            report::read::<Plan>(&self.storage, "plan.json")
        } else {
            None
        };
        let plan = match frozen {
            Some(mut plan) => {
                self.observer.event(&Event::PlanKept);
                // The override file's row answers are read as they are now: a rerun after
                // the operator fixed or skipped a refused row applies them.
                let overrides = read_overrides(self.config.overrides.as_deref())?;
                airlock_engine::plan_rows(&self.staging, &overrides, &mut plan)?;
                report::write(&self.storage, "plan.json", &plan)?;
                plan
            }
            None => {
                let overrides = read_overrides(self.config.overrides.as_deref())?;
                let report = self
                    .report
                    .as_ref()
                    .ok_or(PipelineError::Order("analyze runs after check"))?;
                let counts = report.counts.clone();
                let target = self.target()?;
                let (snapshot, describe) = (target.snapshot()?, target.describe());
                let caveats = target.caveats();
                let mut plan = analyze(&self.staging, &counts, &snapshot, &describe, &overrides)?;
                plan.caveats = airlock_engine::plan_caveats(caveats, &counts, &self.staging)?;
                let inputs = AppInputs {
                    backup: &self.config.backup,
                    work: &self.config.work,
                    storage: &self.storage,
                };
                // Publishers first: the apps after them resolve what they published.
                let published = Arc::new(airlock_runtime::GrowingMappings::default());
                for app in &self.apps {
                    let findings = apps::analyze_app(
                        &inputs,
                        (app, &self.apps),
                        &published,
                        &self.staging,
                        &plan,
                    )?;
                    plan.apps.insert(app.key().to_string(), findings);
                }
                report::write(&self.storage, "plan.json", &plan)?;
                plan
            }
        };
        self.observer.event(&Event::Planned { plan: &plan });
        self.plan = Some(plan);
        Ok(())
    }

    /// `refusal`: what the caller tried, e.g. "load cannot run: the migration is blocked".
    fn require_unblocked(&self, refusal: &'static str) -> Result<()> {
        match &self.blocked {
            Some(_) => Err(PipelineError::Order(refusal)),
            None => Ok(()),
        }
    }

    /// Phase 3: the core data into the target in dependency order (resumable: each batch's
    /// mappings and checkpoint are one transaction), then the attachment files.
    pub fn load(&mut self) -> Result<()> {
        self.require_unblocked("load cannot run: the migration is blocked")?;
        if self.plan.is_none() {
            return Err(PipelineError::Order("load runs after analyze"));
        }
        self.storage.start()?;
        self.phase(Phase::Load, Self::run_load)?;
        self.loaded = true;
        Ok(())
    }

    fn run_load(&mut self) -> Result<()> {
        self.target()?;
        let Migration {
            config,
            observer,
            storage,
            staging,
            state,
            report,
            plan,
            target,
            ..
        } = self;
        let target = target.as_mut().expect("opened above").as_mut();
        let (report, plan) = (
            report
                .as_ref()
                .ok_or(PipelineError::Order("load runs after check"))?,
            plan.as_ref()
                .ok_or(PipelineError::Order("load runs after analyze"))?,
        );
        // A target that takes a file only with its attachment gets the folder's index; the
        // others are not walked twice for it.
        let with_records = match &config.attachments {
            Some(folder) if target.wants_attachment_files() => {
                let files = airlock_engine::FolderFiles::index(folder)?;
                target.take_attachment_files(Arc::new(files));
                true
            }
            _ => false,
        };
        let summary = load(
            staging,
            state,
            target,
            &plan.decisions,
            &report.counts,
            |p: LoadProgress| {
                observer.event(&Event::Loading {
                    kind: p.kind,
                    done: p.done,
                    total: p.total,
                })
            },
        )?;
        report::write(storage, "load.json", &summary)?;
        if let Some(folder) = &config.attachments {
            let files = airlock_engine::upload(folder, state, target, with_records, |files| {
                observer.event(&Event::Uploading { files })
            })?;
            observer.event(&Event::FilesDone { summary: &files });
            report::write(storage, "files.json", &files)?;
        }
        Ok(())
    }

    /// Phase 4: each enabled app's data through its plugin, with the mappings the load
    /// recorded. A failed batch is reported and the others go on.
    pub fn apps(&mut self) -> Result<&[AppReport]> {
        if !self.loaded {
            return Err(PipelineError::Order(
                "the app data phase runs after the load",
            ));
        }
        self.phase(Phase::Apps, Self::run_apps)?;
        Ok(&self.app_reports)
    }

    fn run_apps(&mut self) -> Result<()> {
        let Migration {
            config,
            apps,
            observer,
            storage,
            state,
            target,
            app_reports,
            stat,
            ..
        } = self;
        let target = target.as_mut().ok_or(PipelineError::Order(
            "the app data phase runs after the load",
        ))?;
        let inputs = AppInputs {
            backup: &config.backup,
            work: &config.work,
            storage,
        };
        app_reports.clear();
        for app in apps.iter() {
            let report = apps::migrate_app(&inputs, app, state, target.as_mut(), &mut **observer)?;
            stat.batches += report.batches;
            stat.plugin_fuel += report.fuel;
            app_reports.push(report);
        }
        report::write(storage, "apps.json", app_reports)?;
        Ok(())
    }

    /// Phase 5: counts per kind, the source against what the target holds (written by
    /// Airlock, plus mapped to what it had already), and what failed.
    pub fn verify(&mut self) -> Result<&[VerifyRow]> {
        if !self.loaded {
            return Err(PipelineError::Order("verify runs after the load"));
        }
        self.phase(Phase::Verify, Self::run_verify)?;
        Ok(self.verified.as_deref().expect("set by the verify phase"))
    }

    fn run_verify(&mut self) -> Result<()> {
        let report =
            (self.report.as_ref()).ok_or(PipelineError::Order("verify runs after check"))?;
        let plan = (self.plan.as_ref()).ok_or(PipelineError::Order("verify runs after analyze"))?;
        let target =
            (self.target.as_mut()).ok_or(PipelineError::Order("verify runs after the load"))?;
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
            let failed = self.state.failure_count(kind)?;
            // Orphans, and rows the override file skips.
            let skipped =
                report.skipped.get(&kind).copied().unwrap_or(0) + self.state.skipped_count(kind)?;
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
        report::write(&self.storage, "verify.json", &rows)?;
        let mut failed = report::failed_rows(&self.state)?;
        failed.truncate(report::MAX_FAILED_ROWS_IN_REPORT);
        report::write(&self.storage, "failures.json", &failed)?;
        let mut changed = report::changed_rows(&self.state)?;
        self.changed_rows = changed.len() as u64;
        changed.truncate(report::MAX_FAILED_ROWS_IN_REPORT);
        report::write(&self.storage, "changed.json", &changed)?;
        self.observer.event(&Event::Verified { rows: &rows });
        self.verified = Some(rows);
        Ok(())
    }

    /// Ends the run: renders and seals the report page from every report so far, and, if
    /// the load ran, marks the migration finished (a success starts the end of its sealed
    /// data, a failure the 30-day clock) with its anonymized statistics.
    pub fn finish(self) -> Result<Outcome> {
        let failed_rows = match &self.verified {
            Some(rows) => rows.iter().map(|r| r.failed).sum(),
            None => 0,
        };
        let failed_batches = self.app_reports.iter().map(|r| r.failed.len() as u64).sum();
        // The page first: rendering it opens the sealed reports, decryptions counted too.
        crate::html::store(&self.storage)?;
        self.observer.event(&Event::ReportSealed);
        let outcome = Outcome {
            blocked: self.blocked.clone(),
            loaded: self.loaded,
            verified: self
                .verified
                .as_ref()
                .is_some_and(|rows| rows.iter().all(|r| r.ok))
                && self.app_reports.iter().all(AppReport::ok),
            failed_rows,
            changed_rows: self.changed_rows,
            failed_batches,
            decryptions: self.storage.decryptions(),
        };
        if self.loaded {
            let mut stat = self.stat.clone();
            stat.bytes_staged = self.staging.bytes_written();
            stat.error_code = match (outcome.verified, failed_batches) {
                (true, 0) => None,
                (_, n) if n > 0 => Some(ErrorCode::new("app-batches-failed")?),
                _ => Some(ErrorCode::new("verify-mismatch")?),
            };
            self.storage.finish(outcome.succeeded(), &stat)?;
        }
        Ok(outcome)
    }
}

fn open_target(config: &Config) -> Result<Box<dyn Site>> {
    Ok(match &config.target {
        // The local site holds the migrated data in clear (it stands in for Jira Cloud):
        // beside the work directory, which holds only sealed data, and as private.
        TargetConfig::LocalBesideWork => Box::new(LocalSite::open(&crate::private::default_site(
            &config.work,
        )?)?),
        TargetConfig::Local(path) => Box::new(LocalSite::open(path)?),
        TargetConfig::Cloud(cloud) => Box::new(JiraCloud::new((**cloud).clone())?),
    })
}

fn read_overrides(path: Option<&Path>) -> Result<Overrides> {
    match path {
        None => Ok(Overrides::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| PipelineError::io("cannot read the override file", path, e))?;
            serde_json::from_str(&text).map_err(|source| PipelineError::Json {
                what: format!("the override file {} is not valid", path.display()),
                source,
            })
        }
    }
}
