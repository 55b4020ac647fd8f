//! `airlock sandbox`, the reviewer's tool: before any operator can enable a submitted
//! plugin, a reviewer runs it here. The sandbox synthesizes data for the tables and
//! namespaces the manifest declares (valid rows, edge cases, malformed rows, orphans, an
//! older version's columns, fuzzed rows), runs analysis and migration over all of it under
//! production limits, twice, and writes a review: a verdict with its reasons, what the
//! plugin read and wrote against what it declares, the limits it used against the caps,
//! and a transcript of every id it looked up.
//!
//! Architecture invariant: a review holds ids, counts, codes and hashes, never a row's
//! content, an output's body, a plugin's message or its logs (those may echo customer
//! data when the seed is a real backup's fixture). `plugin run` shows them to a vendor.

pub mod fixture;
mod html;
mod record;
pub mod seed;
mod synth;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use airlock_model::{AppOutput, MigrationId, Severity, TenantId, Value};
use airlock_runtime::{
    Batch, BatchError, Cause, Grant, GrowingMappings, MemoryAppData, Plugin, Ran, RunContext,
    RunPhase, RunSummary, Runtime, Usage,
};
use sha2::{Digest, Sha256};

pub use html::render as render_html;
pub use record::Call;
pub use seed::Seed;
pub use synth::CaseKind;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    Invalid { path: PathBuf, why: String },
    #[error("the fixture cannot be read: {0}")]
    Fixture(String),
    #[error("cannot bind the plugin to the sandbox's grant: {0}")]
    Consent(#[from] airlock_runtime::ConsentError),
}

/// How a review runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// A fixture directory (activeobjects.xml, mappings.json) to start from.
    pub fixture: Option<PathBuf>,
    /// Valid rows per table (a full 1,000-row batch measures per-row costs).
    pub rows: usize,
    /// Fuzzed batches per table.
    pub fuzz_batches: usize,
    /// The generator's seed: the same seed gives the same data.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            fixture: None,
            rows: 1000,
            fuzz_batches: 4,
            seed: 0x5EED,
        }
    }
}

/// The review: what the reviewer reads (as HTML) and keeps (as JSON).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Review {
    pub plugin: PluginSummary,
    pub passed: bool,
    /// Why it fails: each names the limit or capability hit, and where.
    pub failures: Vec<Reason>,
    /// What a reviewer should look at, but does not fail the review.
    pub warnings: Vec<Reason>,
    /// Where the data came from.
    pub data: String,
    pub access: Access,
    pub limits: LimitsUsed,
    /// Each batch of the first run.
    pub batches: Vec<BatchReport>,
    /// The two runs compared: same outputs, findings and transcript, batch by batch.
    pub deterministic: bool,
    /// Import calls of the first run (ids only), at most [`MAX_TRANSCRIPT_CALLS`].
    pub transcript: Vec<Call>,
    pub transcript_calls: usize,
}

/// Batches a limit, a denial or a trap may stop before a run ends early: the verdict is
/// already a failure, and a plugin that sleeps to its deadline would take minutes.
pub const MAX_STOPPED_BATCHES: usize = 4;

/// Calls kept in a review's transcript; the count says how many there were.
pub const MAX_TRANSCRIPT_CALLS: usize = 5_000;

#[derive(Clone, Debug, serde::Serialize)]
pub struct PluginSummary {
    pub file: String,
    pub sha256: Option<String>,
    pub app_key: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    /// The component's imports (capabilities it could ask the host for).
    pub imports: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reason {
    /// A stable code: `refused-at-load`, `trap`, `out-of-fuel`, `deadline`, `memory-limit`,
    /// `access-denied`, `nondeterministic`, …
    pub code: String,
    pub what: String,
}

/// What the plugin touched, beside what its manifest declares.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Access {
    pub tables_declared: Vec<String>,
    pub tables_read: Vec<String>,
    pub namespaces_declared: Vec<String>,
    pub namespaces_resolved: Vec<String>,
    pub outputs_declared: Vec<String>,
    pub outputs_written: Vec<String>,
    pub scopes: Vec<String>,
    /// Calls into `wasi:sockets`, all refused.
    pub network_calls: u64,
    /// Calls to `wasi:filesystem/preopens` (the sandbox gives no directory).
    pub directory_lookups: u64,
}

/// Per-row costs on the valid rows, and the most of each cap any batch used.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LimitsUsed {
    pub valid_rows: u64,
    pub fuel_per_row: f64,
    pub micros_per_row: f64,
    pub peak_memory: u64,
    /// Fractions of the caps (1.0 = the cap) at the worst batch.
    pub fuel_of_cap: f64,
    pub time_of_deadline: f64,
    pub memory_of_cap: f64,
    pub output_of_cap: f64,
    pub fuel_cap: u64,
    pub deadline_ms: u64,
    pub memory_cap: u64,
    pub output_cap: u64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BatchReport {
    pub case: CaseKind,
    pub table: String,
    /// `analyze-batch` or `migrate-batch`.
    pub call: &'static str,
    pub rows: usize,
    /// `ok`, `refused` (the plugin's own error: fine on bad rows) or `stopped` (a limit,
    /// a denial or a trap).
    pub outcome: &'static str,
    /// The error or finding codes (the plugin's, or the host's cause).
    pub codes: Vec<String>,
    pub outputs: usize,
    pub fatal_findings: usize,
    pub fuel: u64,
    pub peak_memory: u64,
    pub micros: u64,
    pub output_bytes: u64,
    /// Calls into `wasi:sockets` (all refused) and `wasi:filesystem/preopens` (none given).
    pub network_calls: u64,
    pub directory_lookups: u64,
    /// SHA-256 of the outputs and findings: compared between the two runs.
    pub digest: String,
    #[serde(skip)]
    kinds: BTreeSet<&'static str>,
}

/// Reviews the plugin at `wasm`. A plugin the runtime refuses to load gets a failing
/// review (the reason named), not an error; errors are the sandbox's own inputs.
pub fn review(runtime: &Runtime, wasm: &Path, options: &Options) -> Result<Review, SandboxError> {
    review_with_progress(runtime, wasm, options, &mut |_| {})
}

/// Where a review is, for a caller that shows progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The component is being compiled (or read from the cache) and described.
    Loading,
    /// `done` of `total` batch calls ran, over both runs.
    Batches { done: usize, total: usize },
}

/// [`review`], telling `progress` how far it is.
pub fn review_with_progress(
    runtime: &Runtime,
    wasm: &Path,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Review, SandboxError> {
    progress(Progress::Loading);
    let plugin = match runtime.load_file(wasm) {
        Ok(plugin) => plugin,
        Err(e) => return Ok(refused_at_load(wasm, &e)),
    };
    let span = tracing::info_span!("sandbox", plugin = %plugin.name());
    let _enter = span.enter();
    let seed = Seed::for_plugin(plugin.manifest(), options.fixture.as_deref())?;
    let cases = synth::cases(&seed, options.rows, options.fuzz_batches, options.seed);
    let batch_rows = (plugin.limits().batch_rows as usize).max(1);
    // Two calls (analyze, migrate) per batch, two runs.
    let total = 4 * cases
        .iter()
        .map(|c| c.rows.len().div_ceil(batch_rows))
        .sum::<usize>();
    let mut done = 0;
    let mut tick = |calls: usize| {
        done += calls;
        progress(Progress::Batches { done, total });
    };
    let first = run_once(&plugin, &seed, &cases, "sandbox-1", &mut tick)?;
    let second = run_once(&plugin, &seed, &cases, "sandbox-2", &mut tick)?;
    Ok(assess(wasm, &plugin, &seed, first, second))
}

fn refused_at_load(wasm: &Path, e: &airlock_runtime::LoadError) -> Review {
    Review {
        plugin: PluginSummary {
            file: wasm.display().to_string(),
            sha256: std::fs::read(wasm)
                .ok()
                .map(|b| hex::encode(Sha256::digest(b))),
            app_key: None,
            name: None,
            version: None,
            imports: Vec::new(),
        },
        passed: false,
        failures: vec![Reason {
            code: "refused-at-load".into(),
            what: e.to_string(),
        }],
        warnings: Vec::new(),
        data: "none: the plugin did not load".into(),
        access: Access::default(),
        limits: LimitsUsed::default(),
        batches: Vec::new(),
        deterministic: true,
        transcript: Vec::new(),
        transcript_calls: 0,
    }
}

struct RunResult {
    batches: Vec<BatchReport>,
    /// Each batch's stop, where one stopped it (parallel to `batches`).
    stops: Vec<Option<Cause>>,
    calls: Vec<Call>,
    /// [`MAX_STOPPED_BATCHES`] were stopped: the rest of the cases did not run.
    stopped_early: bool,
}

fn run_once(
    plugin: &Plugin,
    seed: &Seed,
    cases: &[synth::Case],
    migration: &str,
    tick: &mut dyn FnMut(usize),
) -> Result<RunResult, SandboxError> {
    let transcript = record::Transcript::default();
    let mut app_data = MemoryAppData::new();
    for case in cases.iter().filter(|c| c.kind == CaseKind::Valid) {
        app_data.extend(&case.table, &case.columns, case.rows.iter().cloned());
    }
    // Grows with what the plugin publishes (contract 2.0), as a migration's would.
    let mappings = Arc::new(record::RecordingMappings {
        inner: GrowingMappings::new(seed.memory_mappings()),
        transcript: transcript.clone(),
    });
    let session = plugin.session(RunContext {
        tenant: TenantId::new("sandbox"),
        migration: MigrationId::new(migration),
        grant: Grant::as_asked(plugin),
        mappings: mappings.clone(),
        app_data: Arc::new(record::RecordingAppData {
            inner: app_data,
            transcript: transcript.clone(),
        }),
    })?;
    let batch_rows = (plugin.limits().batch_rows as usize).max(1);
    let mut result = RunResult {
        batches: Vec::new(),
        stops: Vec::new(),
        calls: Vec::new(),
        stopped_early: false,
    };
    let mut index = 0u64;
    let mut summaries = [RunSummary::default(), RunSummary::default()];
    'cases: for case in cases {
        for rows in case.rows.chunks(batch_rows) {
            let batch = Batch {
                table: &case.table,
                index,
                columns: &case.columns,
                rows,
            };
            for call in ["analyze-batch", "migrate-batch"] {
                transcript.start_batch(result.batches.len());
                let ran = if call == "analyze-batch" {
                    let ran = session.analyze(batch);
                    summaries[0].batch(&case.table, rows.len(), &ran);
                    ran.map(|r| {
                        mappings.inner.record(&r.published);
                        findings_report(case, rows, r)
                    })
                } else {
                    let ran = session.migrate(batch);
                    summaries[1].batch(&case.table, rows.len(), &ran);
                    ran.map(|r| {
                        mappings.inner.record(&r.published);
                        outputs_report(case, rows, r)
                    })
                };
                let (report, stop) = match ran {
                    Ok(report) => (report, None),
                    Err(e) => error_report(case, call, rows.len(), *e),
                };
                result.batches.push(BatchReport { call, ..report });
                result.stops.push(stop);
                tick(1);
                if result.stops.iter().flatten().count() >= MAX_STOPPED_BATCHES {
                    result.stopped_early = true;
                    break 'cases;
                }
            }
            index += 1;
        }
    }
    // Contract 2.0: `finish` after each phase's last batch, as a migration calls it.
    if !result.stopped_early {
        let phases = [RunPhase::Analyze, RunPhase::Migrate];
        for (phase, summary) in phases.into_iter().zip(&summaries) {
            transcript.start_batch(result.batches.len());
            let Some(ran) = session.finish(phase, summary) else {
                break;
            };
            let finish = synth::Case {
                kind: CaseKind::Valid,
                table: airlock_runtime::FINISH_TABLE.into(),
                columns: Vec::new(),
                rows: Vec::new(),
            };
            let (report, stop) = match ran {
                Ok(r) => {
                    mappings.inner.record(&r.published);
                    (findings_report(&finish, &[], r), None)
                }
                Err(e) => error_report(&finish, "finish", 0, *e),
            };
            result.batches.push(BatchReport {
                call: "finish",
                ..report
            });
            result.stops.push(stop);
        }
    }
    result.calls = transcript.calls();
    Ok(result)
}

fn digest(value: &impl std::fmt::Debug) -> String {
    hex::encode(Sha256::digest(format!("{value:?}").as_bytes()))
}

fn base_report(case: &synth::Case, rows: &[Vec<Value>], usage: &Usage) -> BatchReport {
    BatchReport {
        case: case.kind,
        table: case.table.clone(),
        call: "",
        rows: rows.len(),
        outcome: "ok",
        codes: Vec::new(),
        outputs: 0,
        fatal_findings: 0,
        fuel: usage.fuel,
        peak_memory: usage.peak_memory,
        micros: usage.elapsed.as_micros() as u64,
        output_bytes: usage.output_bytes,
        network_calls: usage.host_calls.network_calls,
        directory_lookups: usage.host_calls.directory_lookups,
        digest: String::new(),
        kinds: BTreeSet::new(),
    }
}

fn findings_report(
    case: &synth::Case,
    rows: &[Vec<Value>],
    ran: Ran<Vec<airlock_model::AppFinding>>,
) -> BatchReport {
    let codes: BTreeSet<String> = ran.value.iter().map(|f| f.code.clone()).collect();
    BatchReport {
        codes: codes.into_iter().collect(),
        fatal_findings: ran
            .value
            .iter()
            .filter(|f| f.severity == Severity::Fatal)
            .count(),
        digest: digest(&ran.value),
        ..base_report(case, rows, &ran.usage)
    }
}

fn outputs_report(
    case: &synth::Case,
    rows: &[Vec<Value>],
    ran: Ran<Vec<AppOutput>>,
) -> BatchReport {
    BatchReport {
        outputs: ran.value.len(),
        kinds: ran.value.iter().map(AppOutput::kind).collect(),
        digest: digest(&ran.value),
        ..base_report(case, rows, &ran.usage)
    }
}

fn error_report(
    case: &synth::Case,
    call: &'static str,
    rows: usize,
    e: BatchError,
) -> (BatchReport, Option<Cause>) {
    let mut report = base_report(case, &[], &e.usage);
    report.rows = rows;
    report.call = call;
    match &e.cause {
        Cause::Plugin { code, row_id, .. } => {
            report.outcome = "refused";
            report.codes = vec![code.clone()];
            // The code and row, never the message (it may quote the row).
            report.digest = digest(&(code, row_id));
            (report, None)
        }
        cause => {
            report.outcome = "stopped";
            report.codes = vec![cause.code().into()];
            report.digest = digest(&cause.code());
            (report, Some(e.cause))
        }
    }
}

/// What a stop says in a review: the host's words for limits and denials (they name the
/// cap or capability, never data); for a trap only its kind, not the plugin's stderr.
fn cause_text(cause: &Cause) -> String {
    match cause {
        Cause::Trap { trap, .. } => format!(
            "trapped ({trap}); `airlock plugin run` with the vendor's fixture shows its message"
        ),
        Cause::InvalidOutput { index, .. } => {
            format!("output #{index} is not one the host accepts; `airlock plugin run` shows why")
        }
        other => other.to_string(),
    }
}

fn assess(
    wasm: &Path,
    plugin: &Plugin,
    seed: &Seed,
    first: RunResult,
    second: RunResult,
) -> Review {
    let manifest = plugin.manifest();
    let mut failures = Vec::new();
    let mut warnings = Vec::new();

    // Stops: each distinct (cause, call) once, with where it first happened.
    let mut seen = BTreeSet::new();
    for (report, stop) in first.batches.iter().zip(&first.stops) {
        let Some(cause) = stop else { continue };
        let code = cause.code();
        if seen.insert((code, report.call)) {
            failures.push(Reason {
                code: code.into(),
                what: format!(
                    "{} on {} rows of {} ({} case): {}",
                    report.call,
                    report.rows,
                    report.table,
                    kind_name(report.case),
                    cause_text(cause)
                ),
            });
        }
    }

    if first.stopped_early {
        warnings.push(Reason {
            code: "stopped-early".into(),
            what: format!(
                "the review stopped after {MAX_STOPPED_BATCHES} batches were stopped; the cases after them did not run"
            ),
        });
    }

    // Capabilities the sandbox denies: the network is never any plugin's business.
    let network_calls: u64 = first.batches.iter().map(|b| b.network_calls).sum();
    if let Some(b) = first.batches.iter().find(|b| b.network_calls > 0) {
        failures.push(Reason {
            code: "network".into(),
            what: format!(
                "tried to use the network: {network_calls} wasi:sockets calls (first in {} on {}, {} case), every one refused",
                b.call,
                b.table,
                kind_name(b.case)
            ),
        });
    }
    let directory_lookups: u64 = first.batches.iter().map(|b| b.directory_lookups).sum();
    if let Some(b) = first.batches.iter().find(|b| b.directory_lookups > 0) {
        failures.push(Reason {
            code: "filesystem".into(),
            what: format!(
                "looked for a directory to open files in: {directory_lookups} wasi:filesystem calls (first in {} on {}, {} case); none is given",
                b.call,
                b.table,
                kind_name(b.case)
            ),
        });
    }
    // More findings than the host keeps for one batch: a flood, or a plugin that reports
    // every row (the host caps them and says how many were dropped).
    if let Some(b) = first
        .batches
        .iter()
        .find(|b| b.codes.iter().any(|c| c == "findings-capped"))
    {
        failures.push(Reason {
            code: "findings-flood".into(),
            what: format!(
                "{} on {} rows of {} ({} case) returned more than {} findings: the host kept the first",
                b.call,
                b.rows,
                b.table,
                kind_name(b.case),
                airlock_runtime::MAX_FINDINGS_PER_BATCH
            ),
        });
    }

    // Determinism: the same batches must give the same answers and the same lookups.
    let mut deterministic = true;
    for (a, b) in first.batches.iter().zip(&second.batches) {
        if a.digest != b.digest || a.outcome != b.outcome {
            deterministic = false;
            failures.push(Reason {
                code: "nondeterministic".into(),
                what: format!(
                    "{} on {} ({} case) answered differently when run again on the same rows",
                    a.call,
                    a.table,
                    kind_name(a.case)
                ),
            });
            break;
        }
    }
    if first.calls != second.calls {
        deterministic = false;
        failures.push(Reason {
            code: "nondeterministic".into(),
            what: "the plugin looked up different ids when run again on the same rows".into(),
        });
    }

    // Access against the manifest.
    let tables_read: BTreeSet<String> = first
        .calls
        .iter()
        .filter(|c| c.import.starts_with("app-data"))
        .map(|c| c.of.clone())
        .collect();
    let namespaces_resolved: BTreeSet<String> = first
        .calls
        .iter()
        .filter(|c| c.import == "mappings.resolve")
        .map(|c| c.of.clone())
        .collect();
    let outputs_written: BTreeSet<&'static str> = first
        .batches
        .iter()
        .flat_map(|b| b.kinds.iter().copied())
        .collect();
    for kind in &outputs_written {
        if !manifest.outputs.contains(kind) {
            failures.push(Reason {
                code: "undeclared-output".into(),
                what: format!("wrote `{kind}` outputs, which its manifest does not declare"),
            });
        }
    }
    for ns in &manifest.namespaces {
        if !namespaces_resolved.contains(ns.as_str()) {
            warnings.push(Reason {
                code: "unused-namespace".into(),
                what: format!(
                    "declares `{ns}` but never resolved an id in it: an operator is asked to grant more than it uses"
                ),
            });
        }
    }
    for kind in &manifest.outputs {
        if !outputs_written.contains(kind) {
            warnings.push(Reason {
                code: "unused-output".into(),
                what: format!("declares `{kind}` outputs but wrote none on valid rows"),
            });
        }
    }

    // The valid rows: the plugin should migrate them, within its caps with room to spare.
    let valid_migrations: Vec<&BatchReport> = first
        .batches
        .iter()
        .filter(|b| b.case == CaseKind::Valid && b.call == "migrate-batch")
        .collect();
    let refused_valid: usize = valid_migrations
        .iter()
        .filter(|b| b.outcome == "refused")
        .map(|b| b.rows)
        .sum();
    if refused_valid > 0 {
        warnings.push(Reason {
            code: "refused-valid-rows".into(),
            what: format!(
                "refused {refused_valid} rows synthesized as valid (every reference mapped): \
                 check with the vendor's fixture whether they are"
            ),
        });
    }
    let limits = limits_used(plugin, &first.batches, &valid_migrations);
    for (what, used) in [
        ("fuel", limits.fuel_of_cap),
        ("time", limits.time_of_deadline),
        ("memory", limits.memory_of_cap),
        ("output", limits.output_of_cap),
    ] {
        if used > 0.5 && used <= 1.0 {
            warnings.push(Reason {
                code: "little-headroom".into(),
                what: format!(
                    "a batch used {:.0}% of its {what} cap: larger real batches may hit it",
                    used * 100.0
                ),
            });
        }
    }

    let transcript_calls = first.calls.len();
    let mut transcript = first.calls;
    transcript.truncate(MAX_TRANSCRIPT_CALLS);
    let info = plugin.info();
    Review {
        plugin: PluginSummary {
            file: wasm.display().to_string(),
            sha256: Some(info.sha256.clone()),
            app_key: Some(manifest.app_key.to_string()),
            name: Some(manifest.name.clone()),
            version: Some(manifest.version.clone()),
            imports: info.imports.clone(),
        },
        passed: failures.is_empty(),
        failures,
        warnings,
        data: seed.source.clone(),
        access: Access {
            tables_declared: manifest.tables.clone(),
            tables_read: tables_read.into_iter().collect(),
            namespaces_declared: manifest.all_namespaces().map(|n| n.to_string()).collect(),
            namespaces_resolved: namespaces_resolved.into_iter().collect(),
            outputs_declared: manifest.outputs.iter().map(|o| o.to_string()).collect(),
            outputs_written: outputs_written.iter().map(|o| o.to_string()).collect(),
            scopes: manifest.scopes.iter().map(|s| s.to_string()).collect(),
            network_calls,
            directory_lookups,
        },
        limits,
        batches: first.batches,
        deterministic,
        transcript,
        transcript_calls,
    }
}

fn limits_used(plugin: &Plugin, all: &[BatchReport], valid: &[&BatchReport]) -> LimitsUsed {
    let caps = plugin.limits();
    let rows: u64 = valid.iter().map(|b| b.rows as u64).sum();
    let fuel: u64 = valid.iter().map(|b| b.fuel).sum();
    let micros: u64 = valid.iter().map(|b| b.micros).sum();
    let fraction = |used: u64, cap: u64| used as f64 / cap.max(1) as f64;
    let worst = |f: &dyn Fn(&BatchReport) -> f64| all.iter().map(f).fold(0.0, f64::max);
    let deadline = caps.deadline;
    LimitsUsed {
        valid_rows: rows,
        fuel_per_row: fuel as f64 / rows.max(1) as f64,
        micros_per_row: micros as f64 / rows.max(1) as f64,
        peak_memory: all.iter().map(|b| b.peak_memory).max().unwrap_or(0),
        fuel_of_cap: worst(&|b| fraction(b.fuel, caps.batch_fuel(b.rows))),
        time_of_deadline: worst(&|b| {
            Duration::from_micros(b.micros).as_secs_f64() / deadline.as_secs_f64()
        }),
        memory_of_cap: worst(&|b| fraction(b.peak_memory, caps.memory_bytes)),
        output_of_cap: worst(&|b| fraction(b.output_bytes, caps.output_bytes)),
        fuel_cap: caps.batch_fuel(caps.batch_rows as usize),
        deadline_ms: deadline.as_millis() as u64,
        memory_cap: caps.memory_bytes,
        output_cap: caps.output_bytes,
    }
}

pub fn kind_name(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::Valid => "valid",
        CaseKind::Edge => "edge",
        CaseKind::Malformed => "malformed",
        CaseKind::Orphan => "orphan",
        CaseKind::OlderVersion => "older-version",
        CaseKind::Probe => "probe",
        CaseKind::Fuzz => "fuzz",
    }
}

/// Writes `review.json` and `review.html` into `dir`; returns their paths.
pub fn write(review: &Review, dir: &Path) -> Result<(PathBuf, PathBuf), SandboxError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SandboxError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let json = dir.join("review.json");
    let mut text = serde_json::to_string_pretty(review).expect("a review serializes");
    text.push('\n');
    std::fs::write(&json, text).map_err(io(&json))?;
    let page = dir.join("review.html");
    std::fs::write(&page, render_html(review)).map_err(io(&page))?;
    Ok((json, page))
}

/// The number of batches per case and outcome, for a summary line.
pub fn outcome_counts(review: &Review) -> BTreeMap<(&'static str, &'static str), usize> {
    let mut counts = BTreeMap::new();
    for b in &review.batches {
        *counts.entry((kind_name(b.case), b.outcome)).or_default() += 1;
    }
    counts
}
