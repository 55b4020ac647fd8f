//! A migration's own state: id mappings (server id → cloud id per namespace), load
//! checkpoints and per-record failures, in a SQLite file beside the staging.
//!
//! A load records each batch's mappings and its checkpoint in one transaction, after the
//! target accepted the batch; a crash between the two is repaired on the next run by
//! asking the target what it already holds (see `load`).

use std::path::{Path, PathBuf};

use airlock_model::Namespace;
use airlock_model::jira::Kind;
use rusqlite::{Connection, OptionalExtension, params};

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("the migration state {path} cannot be used: {source}")]
pub struct StateError {
    path: PathBuf,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl StateError {
    pub(crate) fn new(
        path: &Path,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StateError {
        StateError {
            path: path.to_path_buf(),
            source: source.into(),
        }
    }
}

pub struct State {
    conn: Connection,
    path: PathBuf,
}

/// A record the target refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    pub source_key: String,
    pub code: String,
    pub message: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mappings (
    namespace TEXT NOT NULL,
    server_id TEXT NOT NULL,
    cloud_id TEXT NOT NULL,
    PRIMARY KEY (namespace, server_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    step TEXT PRIMARY KEY,
    done INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files_done (
    attachment TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS failures (
    kind TEXT NOT NULL,
    source_key TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (kind, source_key)
) WITHOUT ROWID;
";

impl State {
    pub fn open(path: &Path) -> Result<State, StateError> {
        let err = |source: rusqlite::Error| StateError::new(path, source);
        let conn = Connection::open(path).map_err(err)?;
        // WAL + NORMAL: a committed transaction survives a kill -9 of this process.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384;",
        )
        .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(State {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> StateError {
        StateError::new(&self.path, source)
    }

    /// A value the migration remembers (the backup's fingerprint, which phases are done).
    pub fn meta(&self, key: &str) -> Result<Option<String>, StateError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Whether an attachment's file was uploaded by an earlier run.
    pub fn file_done(&self, attachment: &str) -> Result<bool, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM files_done WHERE attachment = ?1")
            .map_err(|e| self.err(e))?;
        stmt.exists([attachment]).map_err(|e| self.err(e))
    }

    pub fn mark_file_done(&self, attachment: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO files_done (attachment) VALUES (?1)")
            .and_then(|mut s| s.execute([attachment]))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Whether any load step has made progress (the staged data is then in use).
    pub fn load_started(&self) -> Result<bool, StateError> {
        self.conn
            .query_row("SELECT count(*) FROM checkpoints WHERE done > 0", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// How many records of a step are done.
    pub fn checkpoint(&self, step: &str) -> Result<u64, StateError> {
        self.conn
            .query_row(
                "SELECT done FROM checkpoints WHERE step = ?1",
                [step],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|d| d.unwrap_or(0) as u64)
            .map_err(|e| self.err(e))
    }

    /// The cloud id of one server id.
    pub fn cloud_id(&self, ns: Namespace, server: &str) -> Result<Option<String>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT cloud_id FROM mappings WHERE namespace = ?1 AND server_id = ?2")
            .map_err(|e| self.err(e))?;
        stmt.query_row(params![ns.as_str(), server], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every mapping of a namespace (for the small ones: users, projects, constants).
    pub fn all(&self, ns: Namespace) -> Result<Vec<(String, String)>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT server_id, cloud_id FROM mappings WHERE namespace = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([ns.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn count(&self, ns: Namespace) -> Result<u64, StateError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM mappings WHERE namespace = ?1",
                [ns.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Records a batch's outcome and moves its checkpoint, atomically.
    pub fn commit_batch(
        &mut self,
        step: &str,
        done: u64,
        mappings: &[(Namespace, String, String)],
        failures: &[Failure],
    ) -> Result<(), StateError> {
        let path = self.path.clone();
        let err = |source: rusqlite::Error| StateError {
            path: path.clone(),
            source: source.into(),
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO mappings (namespace, server_id, cloud_id) VALUES (?1, ?2, ?3)",
                )
                .map_err(err)?;
            for (ns, server, cloud) in mappings {
                put.execute(params![ns.as_str(), server, cloud])
                    .map_err(err)?;
            }
            let mut fail = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO failures (kind, source_key, code, message) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for f in failures {
                fail.execute(params![f.kind.name(), f.source_key, f.code, f.message])
                    .map_err(err)?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO checkpoints (step, done) VALUES (?1, ?2)",
                params![step, done as i64],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    pub fn failures(&self) -> Result<Vec<Failure>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT kind, source_key, code, message FROM failures ORDER BY kind, source_key",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let kind: String = r.get(0)?;
                Ok(Failure {
                    kind: Kind::from_name(&kind).unwrap_or(Kind::Issue),
                    source_key: r.get(1)?,
                    code: r.get(2)?,
                    message: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn failure_count(&self, kind: Kind) -> Result<u64, StateError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM failures WHERE kind = ?1",
                [kind.name()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }
}

/// Read-only lookups of a migration's mappings from any thread: what a plugin resolves
/// through during the app data phase, without holding every mapping in memory.
pub struct MappingReader {
    conn: std::sync::Mutex<Connection>,
    path: PathBuf,
}

impl MappingReader {
    pub fn open(path: &Path) -> Result<MappingReader, StateError> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| StateError::new(path, source))?;
        Ok(MappingReader {
            conn: std::sync::Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// The cloud id of one server id.
    pub fn cloud_id(&self, ns: Namespace, server: &str) -> Result<Option<String>, StateError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn
            .prepare_cached("SELECT cloud_id FROM mappings WHERE namespace = ?1 AND server_id = ?2")
            .map_err(|e| StateError::new(&self.path, e))?;
        stmt.query_row(params![ns.as_str(), server], |r| r.get(0))
            .optional()
            .map_err(|e| StateError::new(&self.path, e))
    }

    /// One answer per id, in order; `None` for ids not migrated (or on a read error,
    /// which is logged: a plugin sees an unmapped id, never the error's text).
    pub fn resolve(&self, ns: Namespace, ids: &[&str]) -> Vec<Option<std::sync::Arc<str>>> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut found: rustc_hash::FxHashMap<String, std::sync::Arc<str>> =
            rustc_hash::FxHashMap::default();
        // One statement per chunk of ids: a query per id costs more than the lookup.
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let sql = lookup_sql(chunk.len());
            let result = conn.prepare_cached(&sql).and_then(|mut stmt| {
                let params = std::iter::once(ns.as_str()).chain(chunk.iter().copied());
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                while let Some(row) = rows.next()? {
                    found.insert(row.get(0)?, row.get_ref(1)?.as_str()?.into());
                }
                Ok(())
            });
            if let Err(e) = result {
                tracing::error!(path = %self.path.display(), error = %e, "cannot read the mappings");
            }
        }
        ids.iter().map(|id| found.get(*id).cloned()).collect()
    }
}

const LOOKUP_CHUNK: usize = 256;

fn lookup_sql(n: usize) -> String {
    let mut sql = String::from(
        "SELECT server_id, cloud_id FROM mappings WHERE namespace = ?1 AND server_id IN (",
    );
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!("?{}", i + 2));
    }
    sql.push(')');
    sql
}
