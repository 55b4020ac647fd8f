//! What a migration tells its caller as it runs. The pipeline prints nothing: the CLI
//! renders these (bars on a terminal, lines otherwise), the benchmark times its phases by
//! them and tests assert on them.

use std::time::Duration;

use airlock_engine::FilesSummary;
use airlock_engine::IntegrityReport;
use airlock_engine::Plan;
use airlock_model::Region;
use airlock_model::jira::Kind;
use serde::Serialize;

use crate::report::{AppBatchResult, AppReport, VerifyRow};

/// A phase of the migration, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Stage the backup and check the source's integrity.
    Check,
    /// What will change on the target, and each enabled app's analysis of its data.
    Analyze,
    /// The core data (and attachment files) into the target.
    Load,
    /// Each enabled app's data through its plugin.
    Apps,
    /// Source counts against the target.
    Verify,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Check => "check",
            Phase::Analyze => "analyze",
            Phase::Load => "load",
            Phase::Apps => "apps",
            Phase::Verify => "verify",
        }
    }
}

/// Why a migration stopped before loading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Blocked {
    /// Fatal findings in the source: fix them in Jira, make a new backup, run again.
    Source { fatal: u64 },
    /// Problems on the target (resolved in the override file) or fatal findings of an
    /// enabled app's analysis of its data.
    Plan { problems: u64, app_fatal: u64 },
}

/// One thing that happened. Borrowed: an observer that keeps one clones what it needs.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event<'a> {
    /// The migration's storage is open (created on first use).
    Opened {
        tenant: &'a str,
        migration: &'a str,
        region: Region,
        /// Where its sealed data lives (a directory or a bucket; no credential).
        blobs: &'a str,
        created: bool,
    },
    PhaseStarted {
        phase: Phase,
    },
    PhaseFinished {
        phase: Phase,
        #[serde(serialize_with = "millis")]
        elapsed: Duration,
    },
    /// Rows of entities.xml read so far.
    Extracting {
        rows: u64,
    },
    /// Extraction is done; references and app foreign keys are being checked.
    CheckingReferences,
    /// The backup is unchanged since a check that passed: its staged records are reused.
    CheckReused,
    Checked {
        report: &'a IntegrityReport,
    },
    /// Loading had begun in an earlier run: its plan is kept (a fresh analysis would take
    /// this migration's own writes for clashes).
    PlanKept,
    Planned {
        plan: &'a Plan,
    },
    Loading {
        kind: Kind,
        done: u64,
        total: u64,
    },
    /// Attachment files uploaded so far.
    Uploading {
        files: u64,
    },
    FilesDone {
        summary: &'a FilesSummary,
    },
    /// An app's data phase begins, with what the operator consented to.
    AppStarted {
        app: &'a str,
        scopes: Vec<String>,
        namespaces: Vec<String>,
        tables: usize,
        /// It runs without a trusted reviewer's approval (`--unreviewed`).
        unreviewed: bool,
    },
    AppBatch {
        app: &'a str,
        batch: &'a AppBatchResult,
    },
    AppFinished {
        report: &'a AppReport,
    },
    Verified {
        rows: &'a [VerifyRow],
    },
    /// The migration stopped before loading anything.
    Blocked {
        blocked: &'a Blocked,
    },
    /// The report page was rendered and sealed beside the JSON reports.
    ReportSealed,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// Receives a migration's events, in order, on the thread that runs it.
pub trait Observer {
    fn event(&mut self, event: &Event<'_>);
}

impl<F: FnMut(&Event<'_>)> Observer for F {
    fn event(&mut self, event: &Event<'_>) {
        self(event)
    }
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {
    fn event(&mut self, _: &Event<'_>) {}
}
