//! Where the host gets what plugins ask for: id mappings and the app's own rows.
//! The core migration supplies these from its store; tests and the local runner use the
//! in-memory versions.

use airlock_model::{Namespace, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Server id → cloud id mappings of one migration (one tenant).
pub trait Mappings: Send + Sync {
    /// One answer per id, in order; `None` if the id was not migrated. Answers are shared
    /// strings: the host lowers them into the plugin's memory without another copy.
    fn resolve(&self, namespace: Namespace, ids: &[&str]) -> Vec<Option<Arc<str>>>;

    /// The same answers, for a lookup the host makes itself (what a published id was
    /// mapped to before), so a caller that records the plugin's lookups can leave it out.
    fn resolve_for_host(&self, namespace: Namespace, ids: &[&str]) -> Vec<Option<Arc<str>>> {
        self.resolve(namespace, ids)
    }
}

/// A row with its table's columns.
pub type AppRow = (Arc<[String]>, Vec<Value>);

/// The rows of one migration's Active Objects tables, by primary key.
pub trait AppData: Send + Sync {
    fn get(&self, table: &str, id: i64) -> Result<Option<AppRow>, AppDataError>;
    /// Whether a row with this primary key exists.
    fn exists(&self, table: &str, id: i64) -> Result<bool, AppDataError>;
    /// The rows whose `column` equals one of `values`, ordered by `ID`: at most `max_rows`
    /// (the caller asks one more than it accepts, to tell "exactly" from "more"); `None` for
    /// a table with no rows.
    ///
    /// Stores that cannot (test doubles) keep the default: an error naming the table, so a
    /// plugin's batch fails rather than sees no rows.
    fn find(
        &self,
        table: &str,
        column: &str,
        values: &[Value],
        max_rows: usize,
    ) -> Result<Option<FoundRows>, AppDataError> {
        let _ = (column, values, max_rows);
        Err(AppDataError {
            table: table.to_owned(),
            reason: "this store cannot find rows by a column".into(),
        })
    }
}

/// Rows `find` answers, with their table's columns.
pub type FoundRows = (Arc<[String]>, Vec<Vec<Value>>);

/// A staged row the host cannot vouch for (unreadable, or failing its integrity check):
/// the batch fails rather than have the plugin work on it or on a "not found". Names the
/// table and the problem, never a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("app table {table}: {reason}")]
pub struct AppDataError {
    pub table: String,
    pub reason: String,
}

/// Mappings held in memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryMappings {
    map: HashMap<Namespace, HashMap<String, Arc<str>>>,
}

impl MemoryMappings {
    pub fn new() -> MemoryMappings {
        MemoryMappings::default()
    }

    pub fn insert(
        &mut self,
        namespace: Namespace,
        server_id: impl Into<String>,
        cloud_id: impl Into<String>,
    ) {
        self.map
            .entry(namespace)
            .or_default()
            .insert(server_id.into(), Arc::from(cloud_id.into()));
    }

    pub fn len(&self) -> usize {
        self.map.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Mappings for MemoryMappings {
    fn resolve(&self, namespace: Namespace, ids: &[&str]) -> Vec<Option<Arc<str>>> {
        let Some(map) = self.map.get(&namespace) else {
            return vec![None; ids.len()];
        };
        ids.iter().map(|id| map.get(*id).cloned()).collect()
    }
}

/// Mappings in memory that grow as plugins publish theirs (contract 2.0): what the local
/// runner, the sandbox and an analysis resolve against.
#[derive(Debug, Default)]
pub struct GrowingMappings(RwLock<MemoryMappings>);

impl GrowingMappings {
    pub fn new(mappings: MemoryMappings) -> GrowingMappings {
        GrowingMappings(RwLock::new(mappings))
    }

    /// Records what a batch published ([`crate::Ran::published`]).
    pub fn record(&self, published: &[(Namespace, String, String)]) {
        if published.is_empty() {
            return;
        }
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        for (ns, server, cloud) in published {
            map.insert(*ns, server.as_str(), cloud.as_str());
        }
    }
}

impl Mappings for GrowingMappings {
    fn resolve(&self, namespace: Namespace, ids: &[&str]) -> Vec<Option<Arc<str>>> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .resolve(namespace, ids)
    }
}

/// App tables held in memory, indexed by their `ID` column.
#[derive(Clone, Debug, Default)]
pub struct MemoryAppData {
    tables: HashMap<String, MemoryTable>,
}

#[derive(Clone, Debug)]
struct MemoryTable {
    columns: Arc<[String]>,
    id_column: Option<usize>,
    rows: HashMap<i64, Vec<Value>>,
}

impl MemoryAppData {
    pub fn new() -> MemoryAppData {
        MemoryAppData::default()
    }

    /// Adds rows of a table; rows without an integer `ID` cannot be looked up and are
    /// skipped.
    pub fn extend(
        &mut self,
        table: &str,
        columns: &[String],
        rows: impl IntoIterator<Item = Vec<Value>>,
    ) {
        let entry = self
            .tables
            .entry(table.to_owned())
            .or_insert_with(|| MemoryTable {
                columns: columns.into(),
                id_column: columns.iter().position(|c| c == "ID"),
                rows: HashMap::new(),
            });
        let Some(id_column) = entry.id_column else {
            return;
        };
        for row in rows {
            if let Some(Value::Integer(id)) = row.get(id_column) {
                entry.rows.insert(*id, row);
            }
        }
    }

    pub fn rows(&self) -> usize {
        self.tables.values().map(|t| t.rows.len()).sum()
    }
}

impl AppData for MemoryAppData {
    fn get(&self, table: &str, id: i64) -> Result<Option<AppRow>, AppDataError> {
        Ok(self
            .tables
            .get(table)
            .and_then(|t| t.rows.get(&id).map(|row| (t.columns.clone(), row.clone()))))
    }

    fn exists(&self, table: &str, id: i64) -> Result<bool, AppDataError> {
        Ok(self
            .tables
            .get(table)
            .is_some_and(|t| t.rows.contains_key(&id)))
    }

    fn find(
        &self,
        table: &str,
        column: &str,
        values: &[Value],
        max_rows: usize,
    ) -> Result<Option<FoundRows>, AppDataError> {
        let Some(t) = self.tables.get(table) else {
            return Ok(None);
        };
        let Some(at) = t.columns.iter().position(|c| c == column) else {
            return Ok(Some((t.columns.clone(), vec![])));
        };
        let mut ids: Vec<i64> = (t.rows.iter())
            .filter(|(_, row)| row.get(at).is_some_and(|v| values.contains(v)))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.truncate(max_rows);
        let rows = ids.iter().map(|id| t.rows[id].clone()).collect();
        Ok(Some((t.columns.clone(), rows)))
    }
}
