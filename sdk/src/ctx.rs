use crate::Manifest;
use crate::fast::{FastMap, FastSet};
use crate::output::PluginError;
use crate::rows::{Origin, Row};

pub use airlock_contract::Namespace;

/// Log levels. Logs count against the batch's log quota; never log customer data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// The host's capabilities, as a plugin sees them. In the WebAssembly build they are the
/// component's imports; natively, [`crate::testing::TestHost`] provides them.
pub trait Host {
    /// One cloud id (or none) per server id, in order.
    fn resolve(&self, namespace: &str, ids: &[&str]) -> Vec<Option<String>>;
    /// One row of an app table by `ID`, with the table's columns.
    fn get(&self, table: &str, id: i64) -> Option<(Vec<String>, Vec<crate::Value>)>;
    /// Whether each id exists in an app table, in order.
    fn exists(&self, table: &str, ids: &[i64]) -> Vec<bool>;
    fn log(&self, level: Level, message: &str);
}

/// What a plugin can ask of the host while it works on a batch.
pub struct Ctx<'h> {
    host: &'h dyn Host,
    /// The plugin's manifest, for the optional columns of rows read with `get_row`.
    manifest: Option<fn() -> Manifest>,
}

impl<'h> Ctx<'h> {
    /// A context over any [`Host`]. Rows it reads know no manifest, so an absent column
    /// is always an error; the host's batches and `TestHost` use the plugin's.
    pub fn new(host: &'h dyn Host) -> Ctx<'h> {
        Ctx {
            host,
            manifest: None,
        }
    }

    /// A context for one plugin: rows read with [`Ctx::get_row`] know its optional columns.
    pub fn for_migrator<M: crate::Migrator>(host: &'h dyn Host) -> Ctx<'h> {
        Ctx {
            host,
            manifest: Some(M::manifest),
        }
    }

    /// Resolves many server ids in one host call. Duplicates are sent once. Look the
    /// answers up with [`Resolved::get`].
    pub fn resolve<'a>(
        &self,
        namespace: Namespace,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Resolved<'a> {
        // Deduplicate with a fast hash: in Wasm, comparison-based sets (many `memcmp`s on
        // ids with long common prefixes) cost more than the host call itself.
        let ids = ids.into_iter();
        let mut seen = FastSet::with_capacity_and_hasher(ids.size_hint().0, Default::default());
        let ids: Vec<&'a str> = ids.filter(|id| seen.insert(*id)).collect();
        if ids.is_empty() {
            return Resolved {
                namespace,
                map: FastMap::default(),
            };
        }
        let mut answers = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(airlock_contract::MAX_IDS_PER_CALL) {
            answers.extend(self.host.resolve(namespace.as_str(), chunk));
        }
        let mut map = FastMap::with_capacity_and_hasher(ids.len(), Default::default());
        map.extend(
            ids.into_iter()
                .zip(answers)
                .filter_map(|(id, cloud)| cloud.map(|c| (id, c))),
        );
        Resolved { namespace, map }
    }

    /// Resolves exactly the ids given, in one host call: no deduplication, no filtering,
    /// and an empty list is still sent (more than [`airlock_contract::MAX_IDS_PER_CALL`]
    /// ids are refused by the host). The answer has one entry per id, in order. Prefer
    /// [`Ctx::resolve`]; this is for callers that manage ids themselves (and for measuring
    /// the host call itself).
    pub fn resolve_raw(&self, namespace: Namespace, ids: &[&str]) -> Vec<Option<String>> {
        self.host.resolve(namespace.as_str(), ids)
    }

    /// One row of one of the app's own tables, by `ID`. The closure reads it, since the
    /// row's storage lives only for the call.
    pub fn get_row<T>(&self, table: &str, id: i64, read: impl FnOnce(Row<'_>) -> T) -> Option<T> {
        let (columns, values) = self.host.get(table, id)?;
        let row = Row::new(&columns, &values);
        Some(match self.manifest {
            Some(manifest) => read(row.with_origin(&Origin::new(table, manifest))),
            None => read(row),
        })
    }

    /// Which of these ids exist in one of the app's own tables, in one host call.
    /// Duplicates are sent once. For referential checks over a whole batch.
    pub fn existing(&self, table: &str, ids: impl IntoIterator<Item = i64>) -> FastSet<i64> {
        let mut seen = FastSet::default();
        let ids: Vec<i64> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
        if ids.is_empty() {
            return FastSet::default();
        }
        let mut answers = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(airlock_contract::MAX_IDS_PER_CALL) {
            answers.extend(self.host.exists(table, chunk));
        }
        ids.into_iter()
            .zip(answers)
            .filter_map(|(id, found)| found.then_some(id))
            .collect()
    }

    /// Asks whether exactly these ids exist, in one host call (no deduplication, no
    /// splitting: more than [`airlock_contract::MAX_IDS_PER_CALL`] ids are refused by the
    /// host). Prefer [`Ctx::existing`].
    pub fn exists_raw(&self, table: &str, ids: &[i64]) -> Vec<bool> {
        self.host.exists(table, ids)
    }

    pub fn log(&self, level: Level, message: &str) {
        self.host.log(level, message);
    }

    pub fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }

    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message);
    }
}

/// The answers of one bulk resolve.
#[derive(Clone, Debug)]
pub struct Resolved<'a> {
    namespace: Namespace,
    /// Server ids borrowed from the batch → cloud ids.
    map: FastMap<&'a str, String>,
}

impl Resolved<'_> {
    /// The cloud id of a server id, if it was migrated.
    pub fn get(&self, server_id: &str) -> Option<&str> {
        self.map.get(server_id).map(String::as_str)
    }

    /// The cloud id, or a `unresolved-reference` error naming the namespace and row.
    pub fn require(&self, server_id: &str, row_id: i64) -> Result<&str, PluginError> {
        self.get(server_id).ok_or_else(|| {
            PluginError::new(
                "unresolved-reference",
                format!("no {} mapping for a referenced id", self.namespace.as_str()),
            )
            .row(row_id)
        })
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
