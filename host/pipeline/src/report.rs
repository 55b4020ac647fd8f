//! The migration's results as the operator sees them: the JSON reports sealed into the
//! migration's storage (integrity.json, plan.json, load.json, files.json, apps.json,
//! verify.json) and the types they hold that the pipeline adds to the engine's.

use std::collections::BTreeMap;

use airlock_model::jira::Kind;
use serde::{Deserialize, Serialize};

use crate::storage::Storage;

/// One line of the verification: a kind's records in the source against the target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// One batch of an app's data through its plugin's `migrate-batch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppBatchResult {
    pub table: String,
    pub index: u64,
    pub rows: u64,
    pub outputs: u64,
    pub fuel: u64,
    pub millis: u64,
    /// Why the batch failed (the sandbox's cause, printable), `None` when it ran.
    pub error: Option<String>,
}

/// An app's data phase, summed up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppReport {
    pub app: String,
    pub scopes: Vec<String>,
    pub namespaces: Vec<String>,
    pub tables: u64,
    /// It ran without a trusted reviewer's approval of its build (`--unreviewed`).
    #[serde(default)]
    pub unreviewed: bool,
    pub rows: u64,
    pub batches: u64,
    pub outputs: u64,
    /// Outputs per kind (entity properties, app properties, documents…).
    pub outputs_by_kind: BTreeMap<String, u64>,
    pub output_bytes: u64,
    /// The outputs of this app the target holds after the phase.
    pub stored: u64,
    pub fuel: u64,
    pub millis: u64,
    /// Every batch that failed, with why (a failed `finish` too, as table `(finish)`).
    pub failed: Vec<AppBatchResult>,
    /// Mappings the app published for other apps and its own later batches, by namespace
    /// (contract 2.0).
    #[serde(default)]
    pub published: BTreeMap<String, u64>,
    /// What the app's `finish` found after its last batch (contract 2.0).
    #[serde(default)]
    pub finish_findings: Vec<FinishFinding>,
}

/// A finding of an app's `finish`: checks across its batches and tables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishFinding {
    pub severity: airlock_model::Severity,
    pub code: String,
    pub message: String,
    pub row_id: Option<i64>,
}

impl AppReport {
    /// Every batch ran, the target holds every output and `finish` found nothing fatal.
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
            && self.stored >= self.outputs
            && !(self.finish_findings.iter()).any(|f| f.severity == airlock_model::Severity::Fatal)
    }
}

/// A report of an earlier run, opened; `None` if there is none or it no longer parses.
pub fn read<T: serde::de::DeserializeOwned>(storage: &Storage, name: &str) -> Option<T> {
    let bytes = storage.get_report(name).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Seals a report into the migration's storage (it names the customer's projects, users
/// and records: it is customer data like the rest).
pub fn write<T: serde::Serialize>(storage: &Storage, name: &str, value: &T) -> crate::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| crate::PipelineError::Json {
        what: format!("cannot encode the report {name}"),
        source,
    })?;
    storage.put_report(name, &bytes)
}

/// Every JSON report of the migration in one document (`airlock report --format json`):
/// `integrity`, `plan`, `load`, `files`, `apps`, `verify` and `failures` (the rows the
/// target refused, at most [`MAX_FAILED_ROWS_IN_REPORT`]), each `null` until its phase has
/// run.
pub fn bundle(storage: &Storage) -> serde_json::Value {
    let mut all = serde_json::Map::new();
    for name in [
        "integrity",
        "plan",
        "load",
        "files",
        "apps",
        "verify",
        "failures",
    ] {
        let value = read::<serde_json::Value>(storage, &format!("{name}.json"))
            .unwrap_or(serde_json::Value::Null);
        all.insert(name.to_owned(), value);
    }
    serde_json::Value::Object(all)
}

/// A row the target refused at load: what it is, why, and what to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedRow {
    pub kind: Kind,
    /// The row's id (or key) in the source.
    pub id: String,
    /// A stable code, e.g. `missing-reference`.
    pub code: String,
    /// Why, in words an operator can act on.
    pub reason: String,
}

/// The most failed rows the sealed report lists (`airlock failures` lists them all).
pub const MAX_FAILED_ROWS_IN_REPORT: usize = 10_000;

/// Every row the load could not write, from the migration's state.
pub fn failed_rows(state: &airlock_engine::State) -> crate::Result<Vec<FailedRow>> {
    Ok(rows(state.failures()?))
}

fn rows(listed: Vec<airlock_engine::Failure>) -> Vec<FailedRow> {
    listed
        .into_iter()
        .map(|f| FailedRow {
            kind: f.kind,
            id: f.source_key,
            code: f.code,
            reason: f.message,
        })
        .collect()
}

/// Every row the target wrote differently from the source in a way the operator must see
/// row by row (an issue Jira Cloud gave another key), from the migration's state.
pub fn changed_rows(state: &airlock_engine::State) -> crate::Result<Vec<FailedRow>> {
    Ok(rows(state.notices()?))
}

/// The state of the migration in `work`, opened under its storage's data key.
pub fn open_state(
    work: &std::path::Path,
    storage: &Storage,
) -> crate::Result<airlock_engine::State> {
    Ok(airlock_engine::State::open(
        &work.join("state.db"),
        std::sync::Arc::new(storage.sealer().field_cipher("state")),
    )?)
}
