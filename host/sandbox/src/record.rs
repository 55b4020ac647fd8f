//! The transcript: every id a plugin looked up, recorded where the host answers it (the
//! mappings and app data the sandbox hands the session), never a row's content.

use std::sync::{Arc, Mutex};

use airlock_model::{Namespace, Value};
use airlock_runtime::{AppData, AppDataError, AppRow, FoundRows, Mappings};

/// One import call the plugin made (calls the grant refused never reach here: they stop
/// the batch, and the batch's outcome says so).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Call {
    /// The batch it was made in: its number in the run.
    pub batch: usize,
    /// `mappings.resolve`, `app-data.get`, `app-data.exists` or `app-data.find`.
    pub import: &'static str,
    /// The namespace or table asked (`TABLE.COLUMN` for a find).
    pub of: String,
    /// The ids asked, in order (a find's integer values; any other value as `<value>`,
    /// never its content).
    pub ids: Vec<String>,
    /// How many of them were found.
    pub found: usize,
}

/// Shared by a run's recorders: the calls so far and the batch being run.
#[derive(Clone, Default)]
pub struct Transcript(Arc<Mutex<(usize, Vec<Call>)>>);

impl Transcript {
    pub fn start_batch(&self, batch: usize) {
        self.0.lock().expect("transcript lock").0 = batch;
    }

    fn push(&self, import: &'static str, of: String, ids: Vec<String>, found: usize) {
        let mut t = self.0.lock().expect("transcript lock");
        let batch = t.0;
        t.1.push(Call {
            batch,
            import,
            of,
            ids,
            found,
        });
    }

    pub fn calls(&self) -> Vec<Call> {
        self.0.lock().expect("transcript lock").1.clone()
    }
}

pub struct RecordingMappings<M> {
    pub inner: M,
    pub transcript: Transcript,
}

impl<M: Mappings> Mappings for RecordingMappings<M> {
    fn resolve(&self, namespace: Namespace, ids: &[&str]) -> Vec<Option<Arc<str>>> {
        let answers = self.inner.resolve(namespace, ids);
        let found = answers.iter().filter(|a| a.is_some()).count();
        self.transcript.push(
            "mappings.resolve",
            namespace.to_string(),
            ids.iter().map(|id| (*id).to_owned()).collect(),
            found,
        );
        answers
    }

    /// The host's own lookups are not the plugin's: not in the transcript.
    fn resolve_for_host(&self, namespace: Namespace, ids: &[&str]) -> Vec<Option<Arc<str>>> {
        self.inner.resolve_for_host(namespace, ids)
    }
}

pub struct RecordingAppData<D> {
    pub inner: D,
    pub transcript: Transcript,
}

impl<D: AppData> AppData for RecordingAppData<D> {
    fn get(&self, table: &str, id: i64) -> Result<Option<AppRow>, AppDataError> {
        let row = self.inner.get(table, id)?;
        self.transcript.push(
            "app-data.get",
            table.into(),
            vec![id.to_string()],
            usize::from(row.is_some()),
        );
        Ok(row)
    }

    fn exists(&self, table: &str, id: i64) -> Result<bool, AppDataError> {
        let found = self.inner.exists(table, id)?;
        self.transcript.push(
            "app-data.exists",
            table.into(),
            vec![id.to_string()],
            usize::from(found),
        );
        Ok(found)
    }

    fn find(
        &self,
        table: &str,
        column: &str,
        values: &[Value],
        max_rows: usize,
    ) -> Result<Option<FoundRows>, AppDataError> {
        let found = self.inner.find(table, column, values, max_rows)?;
        self.transcript.push(
            "app-data.find",
            format!("{table}.{column}"),
            (values.iter())
                .map(|v| match v {
                    Value::Integer(i) => i.to_string(),
                    _ => "<value>".to_owned(),
                })
                .collect(),
            found.as_ref().map_or(0, |(_, rows)| rows.len()),
        );
        Ok(found)
    }
}
