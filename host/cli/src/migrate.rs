//! `airlock check`, `analyze` and `migrate`: argument wiring and the console. The
//! migration itself is `airlock_pipeline`; this renders its events — a progress bar on a
//! terminal, plain lines otherwise.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use airlock_engine::IntegrityReport;
use airlock_engine::{Action, Plan};
use airlock_model::Severity;
use airlock_model::jira::Kind;
use airlock_pipeline::{Blocked, Config, EnabledApp, Event, Observer, Outcome, Phase, Until};
use airlock_runtime::{Runtime, approval};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::render;

/// A command's options beyond the pipeline's configuration.
pub struct Options {
    pub config: Config,
    /// The plugins (WebAssembly components) the operator enabled.
    pub plugins: Vec<PathBuf>,
    /// The operator's consent per plugin, by position (`--grant`); none: as asked.
    pub grants: Vec<String>,
    /// Which plugin approvals count, and whether unreviewed plugins may run.
    pub review: ReviewPolicy,
    /// How the operator opens this migration's report.
    pub report_command: String,
}

/// The operator's rule for plugins' reviews.
#[derive(Clone, Debug, Default)]
pub struct ReviewPolicy {
    /// Reviewers (hex public keys) whose approvals count.
    pub trusted_reviewers: Vec<String>,
    /// `--unreviewed`: run plugins without a valid signature and trusted approval (audited).
    pub unreviewed: bool,
}

/// How a command ended, as its exit code says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 0: everything migrated (skipped orphans included), or nothing blocks.
    Done,
    /// 1: blocked by findings (the source's, an app's, or the plan's problems).
    Blocked,
    /// 3: migrated, with failures (listed in the report).
    Failures,
}

impl Status {
    pub fn of(outcome: &Outcome) -> Status {
        if outcome.blocked.is_some() {
            Status::Blocked
        } else if outcome.succeeded() {
            Status::Done
        } else {
            Status::Failures
        }
    }
}

/// Loads the plugins the operator enabled, each with the consent given for it
/// (`--grant`, by position) or to what it asks.
/// Each must be signed by its vendor, unaltered, and approved for its hash by a trusted
/// reviewer — checked for every plugin before any runs — unless `--unreviewed`.
pub fn enable(
    runtime: &Runtime,
    paths: &[PathBuf],
    grants: &[String],
    review: &ReviewPolicy,
) -> Result<Vec<EnabledApp>> {
    if grants.len() > paths.len() {
        anyhow::bail!(
            "{} --grant for {} --plugin: give one --grant per plugin, in the same order",
            grants.len(),
            paths.len()
        );
    }
    let mut reviews = Vec::new();
    for path in paths {
        match approval::verify(path, &review.trusted_reviewers) {
            Ok(reviewed) => reviews.push(Some(reviewed)),
            Err(e) if review.unreviewed => {
                eprintln!(
                    "warning: {} runs unreviewed (--unreviewed; audited): {e}",
                    path.display()
                );
                reviews.push(None);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut apps = Vec::new();
    for (i, (path, reviewed)) in paths.iter().zip(reviews).enumerate() {
        let plugin = runtime.load_file(path)?;
        let app = match grants.get(i) {
            Some(items) => {
                let items: Vec<&str> = items.split(',').collect();
                EnabledApp::with_consent(plugin, &items)
                    .with_context(|| format!("--grant for {}", path.display()))?
            }
            None => EnabledApp::as_asked(plugin),
        };
        apps.push(match reviewed {
            Some(reviewed) => {
                // The bytes loaded must be the ones just verified.
                anyhow::ensure!(
                    reviewed.sha256 == app.plugin.info().sha256,
                    "{} changed while it was being loaded: run again",
                    path.display()
                );
                app.approved_by(reviewed.reviewer_key)
            }
            None => app,
        });
    }
    airlock_pipeline::check_identities(&apps)?;
    Ok(apps)
}

/// Runs `check`, `analyze` or `migrate`.
pub fn command(runtime: &Runtime, options: Options, until: Until) -> Result<Status> {
    let started = Instant::now();
    let apps = enable(runtime, &options.plugins, &options.grants, &options.review)?;
    let mut console = Console::new(options.report_command.clone());
    let outcome = airlock_pipeline::run(options.config, apps, &mut console, until)?;
    console.finish();
    if until == Until::Migrate && outcome.loaded {
        println!(
            "migration finished in {}: {}",
            render::duration(started.elapsed()),
            summary(&outcome)
        );
    }
    Ok(Status::of(&outcome))
}

fn summary(outcome: &Outcome) -> String {
    if outcome.succeeded() {
        return match outcome.changed_rows {
            0 => "every record migrated".into(),
            n => format!("every record migrated, {n} written differently (see the report)"),
        };
    }
    let mut parts = Vec::new();
    if outcome.failed_rows > 0 {
        parts.push(format!("{} rows failed", outcome.failed_rows));
    }
    if outcome.failed_batches > 0 {
        parts.push(format!("{} app batches failed", outcome.failed_batches));
    }
    if parts.is_empty() {
        parts.push("counts differ".into());
    }
    format!("{} (see the report)", parts.join(", "))
}

/// Renders a migration's events on stdout; progress on stderr, on a terminal only (logs
/// and CI stay clean).
pub struct Console {
    /// The command that opens the report.
    report_command: String,
    bar: Option<ProgressBar>,
    tty: bool,
    phase_started: Instant,
    loading: Option<Kind>,
}

impl Console {
    pub fn new(report_command: String) -> Console {
        Console {
            report_command,
            bar: None,
            tty: std::io::stderr().is_terminal(),
            phase_started: Instant::now(),
            loading: None,
        }
    }

    /// A spinner (or bar, with a total) showing `message`; nothing off a terminal.
    fn progress(&mut self, message: String, done: u64, total: Option<u64>) {
        if !self.tty {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = match total {
                Some(total) => ProgressBar::new(total).with_style(
                    ProgressStyle::with_template("  {msg:<28} [{bar:30}] {pos}/{len} {per_sec}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                ),
                None => ProgressBar::new_spinner(),
            };
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        if let Some(total) = total {
            bar.set_length(total);
        }
        bar.set_position(done);
        bar.set_message(message);
    }

    /// Clears the progress bar before a line is printed.
    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    pub fn finish(&mut self) {
        self.clear();
    }
}

impl Observer for Console {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Opened {
                tenant,
                migration,
                region,
                blobs,
                ..
            } => println!(
                "migration {migration} of tenant {tenant}: sealed at rest in {region} ({blobs})"
            ),
            Event::PhaseStarted { .. } => self.phase_started = Instant::now(),
            Event::PhaseFinished { phase, elapsed } => {
                self.clear();
                if matches!(phase, Phase::Load) {
                    println!("load: done in {}", render::duration(*elapsed));
                }
            }
            Event::Extracting { rows } => {
                self.progress(format!("extracting entities.xml: {rows} rows"), *rows, None)
            }
            Event::CheckingReferences => {
                self.progress("checking references and app foreign keys".into(), 0, None)
            }
            Event::CheckReused => {
                self.clear();
                println!(
                    "integrity check: the backup is unchanged since the last check; its staged records are reused"
                );
            }
            Event::Checked { report } => {
                self.clear();
                print_integrity(report, self.phase_started.elapsed());
            }
            Event::PlanKept => println!(
                "resuming: the plan of the run that started loading is kept (reports/plan.json)"
            ),
            Event::Planned { plan } => {
                self.clear();
                print_plan(plan);
            }
            Event::Loading { kind, done, total } => {
                if self.loading != Some(*kind) {
                    self.clear();
                    self.loading = Some(*kind);
                }
                self.progress(format!("loading {}", kind.name()), *done, Some(*total));
            }
            Event::Uploading { files } => {
                self.progress(format!("uploading attachment files: {files}"), *files, None)
            }
            Event::FilesDone { summary } => {
                self.clear();
                println!(
                    "attachment files: {} uploaded ({}), {} by an earlier run, {} without a file in the folder, {} files not of a migrated attachment, {} skipped",
                    summary.uploaded,
                    render::bytes(summary.bytes),
                    summary.already,
                    summary.missing,
                    summary.unknown,
                    summary.skipped_count()
                );
                // The operator's screen and the sealed report only: the paths name
                // projects and issues, so no log line carries them.
                for s in summary.skipped.summaries() {
                    println!("  skipped  {:<26} {:>8}", s.check, s.count);
                    for example in s.examples.iter().take(3) {
                        println!("           {:?}: {}", example.file, example.message);
                    }
                }
            }
            Event::AppStarted {
                app,
                scopes,
                namespaces,
                tables,
                unreviewed,
            } => {
                self.clear();
                println!(
                    "app {app}: {tables} tables; the operator consented to {} and granted {}",
                    render::list(scopes),
                    render::list(namespaces)
                );
                if *unreviewed {
                    println!(
                        "  app {app}: runs UNREVIEWED (no trusted reviewer approved this build; audited)"
                    );
                }
            }
            Event::AppBatch { app, batch } => {
                if let Some(error) = &batch.error {
                    self.clear();
                    println!(
                        "  app {app}: batch {} of {} ({} rows) failed: {error}",
                        batch.index, batch.table, batch.rows
                    );
                } else {
                    self.progress(
                        format!("app {app}: {} batch {}", batch.table, batch.index),
                        batch.index,
                        None,
                    );
                }
            }
            Event::AppFinished { report } => {
                self.clear();
                println!(
                    "app {}: {} rows in {} tables → {} outputs ({}) in the target's app storage, {} fuel{}",
                    report.app,
                    report.rows,
                    report.tables,
                    report.outputs,
                    report
                        .outputs_by_kind
                        .iter()
                        .map(|(k, n)| format!("{n} {k}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    render::count(report.fuel),
                    if report.failed.is_empty() {
                        String::new()
                    } else {
                        format!(", {} batch(es) failed", report.failed.len())
                    }
                );
            }
            Event::Verified { rows } => {
                self.clear();
                println!(
                    "verify: {:<18} {:>9} {:>9} {:>9} {:>9} {:>7}",
                    "kind", "source", "target", "mapped", "skipped", "failed"
                );
                for r in *rows {
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
            }
            Event::Blocked { blocked } => {
                self.clear();
                match blocked {
                    Blocked::Source { fatal } => println!(
                        "blocked: fix the {fatal} fatal finding(s) in the source, make a new backup and run again"
                    ),
                    Blocked::Plan {
                        problems,
                        app_fatal,
                    } => println!(
                        "blocked: {problems} problem(s) on the target to resolve in the override file (--overrides), {app_fatal} fatal finding(s) in apps' data to fix in the source; then run again"
                    ),
                }
            }
            Event::ReportSealed => println!("report: {} --out report.html", self.report_command),
        }
    }
}

fn print_integrity(report: &IntegrityReport, elapsed: Duration) {
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
    // Every orphan row is in the report (`airlock report --format json`); the count here.
    let skipped: u64 = report.skipped.values().sum::<u64>() + report.left_out.values().sum::<u64>();
    if skipped > 0 {
        let kinds: Vec<String> = report
            .skipped
            .iter()
            .map(|(k, n)| format!("{n} {}", k.name()))
            .chain((report.left_out.iter()).map(|(element, n)| {
                let rows = if *n == 1 { "row" } else { "rows" };
                format!("{n} {element} {rows}")
            }))
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
                airlock_engine::MAX_ELEMENT_NAMES
            );
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
    if !plan.caveats.is_empty() {
        println!("  What the target does not write as the source has it:");
    }
    for c in &plan.caveats {
        println!(
            "    {} ({} rows) {}: {}",
            c.kind.name(),
            c.rows,
            c.treatment.as_text(),
            c.how
        );
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
