//! A migration's own state: id mappings (server id → cloud id per namespace), load
//! checkpoints and per-record failures, in a SQLite file beside the staging.
//!
//! A load records each batch's mappings and its checkpoint in one transaction, after the
//! target accepted the batch; a crash between the two is repaired on the next run by
//! asking the target what it already holds (see `load`).
//!
//! Customer values never reach the file in clear. Mappings are kept in *buckets*: the
//! mappings of neighbouring decimal server ids (64 to a bucket), or of one other id (a user
//! key, a group name), sealed together as one cell and keyed by a token of the bucket (see
//! [`BucketKeys`]). A failure is keyed by a token of its source key and holds that key and
//! the target's message sealed. Both through a [`FieldProtection`] (the migration's
//! `airlock_vault::FieldCipher`); each sealed cell is bound to its row's key (namespace or
//! kind, token, and a failure's code), so a cell moved to another row does not open. What
//! stays in clear: namespaces, kinds, failure codes, counts (per bucket too), checkpoint
//! names, attachment ids (digits) in `files_done`, and in `meta` the backup's fingerprint
//! (sizes and CRC-32s) and which apps' tables were checked.
//!
//! Why buckets: a load writes ids in about the order of the backup, a batch of a thousand
//! neighbouring ids at a time. A row per mapping under a random token would scatter every
//! batch over the whole table (each commit rewriting most of its pages) and cost a seal
//! and a token per mapping; a bucket costs one of each per 64 mappings, and a batch lands
//! in a few rows. When ids arrive out of order a bucket is opened and sealed again as it
//! fills, which stays cheap because a bucket is small.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_model::Namespace;
use airlock_model::jira::Kind;
use rusqlite::{Connection, OptionalExtension, ToSql, TransactionBehavior, params};

/// The format of the state file, kept in `PRAGMA user_version`. Files of the first format
/// (ids, source keys and messages in clear) never set it: they read 0; format 1 sealed a
/// row per mapping, format 2 a bucket of mappings per row.
pub const STATE_FORMAT: i64 = 2;

/// Why a sealed cell could not be opened (its text names no value and no key).
pub type FieldError = Box<dyn std::error::Error + Send + Sync>;

/// How the state file keeps customer values: lookup tokens in place of values searched by
/// equality, and sealed cells for the values themselves. The migration's is its
/// `airlock_vault::FieldCipher`.
///
/// Both writing methods append to a buffer the caller reuses: the load seals a cell per
/// mapping, and an allocation each would cost as much as the cipher.
pub trait FieldProtection: Send + Sync {
    /// Appends to `out` a key standing in for `value` within `context`: equal for equal
    /// inputs.
    fn token(&self, context: &[u8], value: &[u8], out: &mut Vec<u8>);

    /// Appends `plaintext`, sealed under associated data `ad`, to `out`.
    fn seal(&self, ad: &[u8], plaintext: &[u8], out: &mut Vec<u8>);

    /// What [`seal`](FieldProtection::seal) sealed, if `sealed` is intact and `ad` the same.
    fn open(&self, ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, FieldError>;
}

impl FieldProtection for airlock_vault::FieldCipher {
    fn token(&self, context: &[u8], value: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&airlock_vault::FieldCipher::token(self, context, value));
    }

    fn seal(&self, ad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        airlock_vault::FieldCipher::seal_into(self, ad, plaintext, out);
    }

    fn open(&self, ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, FieldError> {
        airlock_vault::FieldCipher::open(self, ad, sealed).map_err(Into::into)
    }
}

/// Field protection under a random data key that lives only in this process, as
/// `SealedStaging::ephemeral`: a state file it protects cannot be read once the process
/// ends. For tests and one-shot runs; a migration's state uses its stored, wrapped key.
pub fn ephemeral_protection() -> Result<Arc<dyn FieldProtection>, airlock_vault::VaultError> {
    let sealer = airlock_vault::Sealer::new(
        airlock_model::TenantId::new("ephemeral"),
        airlock_model::MigrationId::new("ephemeral"),
        airlock_vault::DataKey::generate()?,
    );
    Ok(Arc::new(sealer.field_cipher("state")))
}

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

/// The file was written in another format than this build's: refused rather than misread.
#[derive(Debug, thiserror::Error)]
#[error("{}", other_format_message(*found))]
struct OtherFormat {
    found: i64,
}

fn other_format_message(found: i64) -> String {
    if found < STATE_FORMAT {
        format!(
            "this work directory was made by an older Airlock (state format {found}; this one reads format {STATE_FORMAT}); start a new one with another --work"
        )
    } else {
        format!(
            "this work directory was made by a newer Airlock (state format {found}; this one reads format {STATE_FORMAT}); use that version, or start a new one with another --work"
        )
    }
}

/// A row whose sealed cell does not open, or opens to something that is not what this
/// build seals. Names the table and the row's namespace or kind, never a value.
#[derive(Debug, thiserror::Error)]
enum RowError {
    #[error("a row of {table} ({group}) does not open: {source}")]
    Sealed {
        table: &'static str,
        group: String,
        #[source]
        source: FieldError,
    },
    #[error("a row of {table} ({group}) opened but is malformed")]
    Malformed { table: &'static str, group: String },
}

pub struct State {
    conn: Connection,
    path: PathBuf,
    protect: Arc<dyn FieldProtection>,
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
CREATE TABLE mappings (
    namespace TEXT NOT NULL,
    bucket BLOB NOT NULL,
    entries INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (namespace, bucket)
);
CREATE TABLE checkpoints (
    step TEXT PRIMARY KEY,
    done INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE files_done (
    attachment TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE failures (
    kind TEXT NOT NULL,
    source_token BLOB NOT NULL,
    code TEXT NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (kind, source_token)
) WITHOUT ROWID;
";

/// Added within format 2 (so a migration begun before it resumes): rows the override file
/// skipped, a token each (counted by the verification, never opened).
const SKIPPED_ROWS: &str = "
CREATE TABLE IF NOT EXISTS skipped_rows (
    kind TEXT NOT NULL,
    source_token BLOB NOT NULL,
    PRIMARY KEY (kind, source_token)
) WITHOUT ROWID;
";

/// Added within format 2: rows written, but not as the source has them in a way the
/// operator must see row by row (an issue Jira Cloud gave another key), sealed as
/// failures are.
const NOTICES: &str = "
CREATE TABLE IF NOT EXISTS notices (
    kind TEXT NOT NULL,
    source_token BLOB NOT NULL,
    code TEXT NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (kind, source_token)
) WITHOUT ROWID;
";

/// What one batch of the load changes in the state, in one transaction.
#[derive(Default)]
pub struct BatchCommit<'a> {
    /// The step's checkpoint and the records it has consumed; `None` for a retry of
    /// failed rows, which moves no checkpoint.
    pub checkpoint: Option<(&'a str, u64)>,
    pub mappings: &'a [(Namespace, String, String)],
    /// Failures recorded (or recorded again, with the new code and message).
    pub failures: &'a [Failure],
    /// Rows whose failure is over (written, found on the target, or skipped); cleared
    /// before `failures` are recorded, so a row in both stays failed.
    pub cleared: &'a [(Kind, String)],
    /// Rows the override file skipped.
    pub skipped: &'a [(Kind, String)],
    /// Rows written differently from the source ([`State::notices`]).
    pub notices: &'a [Failure],
}

impl State {
    /// Opens the state file at `path`, creating it if it is new; its customer values are
    /// sealed and found through `protect`. A file of another format is refused.
    pub fn open(path: &Path, protect: Arc<dyn FieldProtection>) -> Result<State, StateError> {
        let err = |source: rusqlite::Error| StateError::new(path, source);
        let mut conn = Connection::open(path).map_err(err)?;
        // WAL + NORMAL: a committed transaction survives a kill -9 of this process.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384;",
        )
        .map_err(err)?;
        // Immediate: two processes opening a new file cannot both create the schema.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let found = format_of(&tx).map_err(err)?;
        if found != STATE_FORMAT {
            let tables: i64 = tx
                .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
                .map_err(err)?;
            if found != 0 || tables > 0 {
                return Err(StateError::new(path, OtherFormat { found }));
            }
            tx.execute_batch(SCHEMA).map_err(err)?;
            tx.pragma_update(None, "user_version", STATE_FORMAT)
                .map_err(err)?;
        }
        tx.execute_batch(SKIPPED_ROWS).map_err(err)?;
        tx.execute_batch(NOTICES).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(State {
            conn,
            path: path.to_path_buf(),
            protect,
        })
    }

    /// The protection the file's values are sealed with, for a [`MappingReader`] on it.
    pub fn protection(&self) -> Arc<dyn FieldProtection> {
        self.protect.clone()
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
        mapped_cloud_id(&self.conn, self.protect.as_ref(), ns, server)
            .map_err(|e| StateError::new(&self.path, e))
    }

    /// Every mapping of a namespace (for the small ones: users, projects, constants), by
    /// server id.
    pub fn all(&self, ns: Namespace) -> Result<Vec<(String, String)>, StateError> {
        let err = |e: rusqlite::Error| self.err(e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bucket, sealed FROM mappings WHERE namespace = ?1")
            .map_err(err)?;
        let mut rows = stmt.query([ns.as_str()]).map_err(err)?;
        let mut all = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let (key, sealed) = (blob(row, 0).map_err(err)?, blob(row, 1).map_err(err)?);
            let bucket = open_bucket(self.protect.as_ref(), ns, key, sealed)
                .map_err(|e| StateError::new(&self.path, e))?;
            all.extend(bucket);
        }
        all.sort_unstable();
        Ok(all)
    }

    pub fn count(&self, ns: Namespace) -> Result<u64, StateError> {
        self.conn
            .query_row(
                "SELECT coalesce(sum(entries), 0) FROM mappings WHERE namespace = ?1",
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
        self.commit(&BatchCommit {
            checkpoint: Some((step, done)),
            mappings,
            failures,
            ..BatchCommit::default()
        })
    }

    /// Records everything a batch changed, atomically.
    pub fn commit(&mut self, batch: &BatchCommit<'_>) -> Result<(), StateError> {
        let path = self.path.clone();
        let err = |source: rusqlite::Error| StateError {
            path: path.clone(),
            source: source.into(),
        };
        let protect = self.protect.as_ref();
        let tx = self.conn.transaction().map_err(err)?;
        {
            write_buckets(&tx, protect, batch.mappings).map_err(|e| StateError::new(&path, e))?;
            let mut clear = tx
                .prepare_cached("DELETE FROM failures WHERE kind = ?1 AND source_token = ?2")
                .map_err(err)?;
            for (kind, key) in batch.cleared.iter().chain(batch.skipped) {
                let token = failure_token(protect, kind.name(), key);
                clear.execute(params![kind.name(), token]).map_err(err)?;
            }
            let mut skip = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO skipped_rows (kind, source_token) VALUES (?1, ?2)",
                )
                .map_err(err)?;
            for (kind, key) in batch.skipped {
                let token = failure_token(protect, kind.name(), key);
                skip.execute(params![kind.name(), token]).map_err(err)?;
            }
            for (table, rows) in [("failures", batch.failures), ("notices", batch.notices)] {
                let mut insert = tx
                    .prepare_cached(&format!(
                        "INSERT OR REPLACE INTO {table} (kind, source_token, code, sealed) VALUES (?1, ?2, ?3, ?4)"
                    ))
                    .map_err(err)?;
                for f in rows {
                    let (token, sealed) = seal_row(protect, table, f);
                    insert
                        .execute(params![f.kind.name(), token, f.code, sealed])
                        .map_err(err)?;
                }
            }
            if let Some((step, done)) = batch.checkpoint {
                tx.execute(
                    "INSERT OR REPLACE INTO checkpoints (step, done) VALUES (?1, ?2)",
                    params![step, done as i64],
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// How many rows of `kind` the override file skipped.
    pub fn skipped_count(&self, kind: Kind) -> Result<u64, StateError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM skipped_rows WHERE kind = ?1",
                [kind.name()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Every failure, by kind then source key.
    pub fn failures(&self) -> Result<Vec<Failure>, StateError> {
        self.rows("failures")
    }

    /// Every row written differently from the source in a way the operator must see
    /// (code `key-changed`: an issue given another key), by kind then source key.
    pub fn notices(&self) -> Result<Vec<Failure>, StateError> {
        self.rows("notices")
    }

    fn rows(&self, table: &'static str) -> Result<Vec<Failure>, StateError> {
        let err = |e: rusqlite::Error| self.err(e);
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT kind, source_token, code, sealed FROM {table}"
            ))
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut failures = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let kind: String = row.get(0).map_err(err)?;
            let token = blob(row, 1).map_err(err)?;
            let code: String = row.get(2).map_err(err)?;
            let sealed = blob(row, 3).map_err(err)?;
            let failure = open_row(self.protect.as_ref(), table, &kind, token, code, sealed)
                .map_err(|e| StateError::new(&self.path, e))?;
            failures.push((kind, failure));
        }
        // Sorted here: the key column is a token, in no useful order.
        failures.sort_unstable_by(|(a_kind, a), (b_kind, b)| {
            (a_kind, &a.source_key).cmp(&(b_kind, &b.source_key))
        });
        Ok(failures.into_iter().map(|(_, f)| f).collect())
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
    conn: std::sync::Mutex<Reading>,
    path: PathBuf,
    protect: Arc<dyn FieldProtection>,
}

/// The reader's connection, and the buckets it opened last for single lookups (a load
/// looks up what its memory no longer holds, mostly ids near the last one).
struct Reading {
    conn: Connection,
    /// `PRAGMA data_version` when `opened` was read: it changes when another connection
    /// (the load's `State`) commits, and the buckets are read again.
    version: i64,
    /// Decimal buckets by namespace and bucket number, the latest first.
    opened: std::collections::VecDeque<((Namespace, u64), Arc<Bucket>)>,
}

/// A bucket's (server id, cloud id) pairs, by server id.
type Bucket = Vec<(String, String)>;

/// Buckets a reader keeps opened for single lookups.
const OPENED_BUCKETS: usize = 32;

impl MappingReader {
    /// Opens the state file at `path` (made by [`State::open`]) to read; `protect` must be
    /// the protection its values were sealed with ([`State::protection`]).
    pub fn open(
        path: &Path,
        protect: Arc<dyn FieldProtection>,
    ) -> Result<MappingReader, StateError> {
        let err = |source: rusqlite::Error| StateError::new(path, source);
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(err)?;
        let found = format_of(&conn).map_err(err)?;
        if found != STATE_FORMAT {
            return Err(StateError::new(path, OtherFormat { found }));
        }
        Ok(MappingReader {
            conn: std::sync::Mutex::new(Reading {
                conn,
                version: -1,
                opened: Default::default(),
            }),
            path: path.to_path_buf(),
            protect,
        })
    }

    /// Forgets the buckets read before another connection (the load's `State`) last
    /// committed. [`MappingReader::cloud_id`] does not ask itself: asking takes the file's
    /// read lock, which cost more than the lookups of a batch (a load refreshes once per
    /// batch, after every mapping the batch can name was committed).
    pub fn refresh(&self) -> Result<(), StateError> {
        let mut reading = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let version: i64 = reading
            .conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
            .map_err(|e| StateError::new(&self.path, e))?;
        if version != reading.version {
            reading.opened.clear();
            reading.version = version;
        }
        Ok(())
    }

    /// The cloud id of one server id, as of the last [`MappingReader::refresh`] for ids in
    /// buckets read before it.
    pub fn cloud_id(&self, ns: Namespace, server: &str) -> Result<Option<String>, StateError> {
        let mut reading = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        self.cached_cloud_id(&mut reading, ns, server)
            .map_err(|e| StateError::new(&self.path, e))
    }

    fn cached_cloud_id(
        &self,
        reading: &mut Reading,
        ns: Namespace,
        server: &str,
    ) -> Result<Option<String>, FieldError> {
        let Some(number) = decimal_bucket(server) else {
            return mapped_cloud_id(&reading.conn, self.protect.as_ref(), ns, server);
        };
        let at = reading.opened.iter().position(|(k, _)| *k == (ns, number));
        let bucket = match at {
            Some(at) => reading.opened[at].1.clone(),
            None => {
                let key = BucketKeys::new(self.protect.as_ref()).key(ns, server);
                let bucket = match read_bucket(&reading.conn, ns, &key)? {
                    Some(sealed) => open_bucket(self.protect.as_ref(), ns, &key, &sealed)?,
                    None => Vec::new(),
                };
                let bucket = Arc::new(bucket);
                reading.opened.push_front(((ns, number), bucket.clone()));
                reading.opened.truncate(OPENED_BUCKETS);
                bucket
            }
        };
        Ok(find_in_bucket(&bucket, server))
    }

    /// One answer per id, in order; `None` for ids not migrated (or on a read error, or a
    /// bucket that does not open, which are logged without any id: a plugin sees an
    /// unmapped id, never the error's text).
    pub fn resolve(&self, ns: Namespace, ids: &[&str]) -> Vec<Option<Arc<str>>> {
        let reading = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let conn = &reading.conn;
        let protect = self.protect.as_ref();
        // Each bucket the ids fall in, once (ids of a batch are mostly neighbours).
        let mut keys = BucketKeys::new(protect);
        let mut buckets: Vec<Vec<u8>> = ids.iter().map(|id| keys.key(ns, id)).collect();
        buckets.sort_unstable();
        buckets.dedup();
        let mut found: rustc_hash::FxHashMap<String, Arc<str>> = rustc_hash::FxHashMap::default();
        let namespace = ns.as_str();
        // One statement per chunk of buckets: a query per bucket costs more than the lookup.
        for chunk in buckets.chunks(LOOKUP_CHUNK) {
            let sql = lookup_sql(chunk.len());
            let result = conn.prepare_cached(&sql).and_then(|mut stmt| {
                let params: Vec<&dyn ToSql> = std::iter::once(&namespace as &dyn ToSql)
                    .chain(chunk.iter().map(|k| k as &dyn ToSql))
                    .collect();
                let mut rows = stmt.query(params.as_slice())?;
                while let Some(row) = rows.next()? {
                    let (key, sealed) = (blob(row, 0)?, blob(row, 1)?);
                    match open_bucket(protect, ns, key, sealed) {
                        Ok(bucket) => {
                            found.extend(bucket.into_iter().map(|(s, c)| (s, c.into())));
                        }
                        Err(e) => tracing::error!(
                            path = %self.path.display(),
                            error = %e,
                            "a bucket of mappings does not open; its ids resolve to nothing"
                        ),
                    }
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
    let mut sql =
        String::from("SELECT bucket, sealed FROM mappings WHERE namespace = ?1 AND bucket IN (");
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!("?{}", i + 2));
    }
    sql.push(')');
    sql
}

fn blob<'row>(row: &'row rusqlite::Row<'_>, column: usize) -> rusqlite::Result<&'row [u8]> {
    Ok(row.get_ref(column)?.as_blob()?)
}

fn format_of(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// The cloud id mapped to `server`, if any.
fn mapped_cloud_id(
    conn: &Connection,
    protect: &dyn FieldProtection,
    ns: Namespace,
    server: &str,
) -> Result<Option<String>, FieldError> {
    let key = BucketKeys::new(protect).key(ns, server);
    let Some(sealed) = read_bucket(conn, ns, &key)? else {
        return Ok(None);
    };
    let bucket = open_bucket(protect, ns, &key, &sealed)?;
    Ok(find_in_bucket(&bucket, server))
}

fn find_in_bucket(bucket: &[(String, String)], server: &str) -> Option<String> {
    bucket
        .binary_search_by(|(s, _)| s.as_str().cmp(server))
        .ok()
        .map(|at| bucket[at].1.clone())
}

/// The bucket number of a decimal server id; `None` for any other id (its own bucket).
fn decimal_bucket(server: &str) -> Option<u64> {
    if server.bytes().all(|b| b.is_ascii_digit()) {
        server.parse::<u64>().ok().map(|id| id >> BUCKET_SHIFT)
    } else {
        None
    }
}

fn read_bucket(conn: &Connection, ns: Namespace, key: &[u8]) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT sealed FROM mappings WHERE namespace = ?1 AND bucket = ?2")?
        .query_row(params![ns.as_str(), key], |r| r.get::<_, Vec<u8>>(0))
        .optional()
}

/// Adds `mappings` to their buckets (a later mapping of a server id replaces an earlier
/// one): each bucket touched is read, opened, merged, sealed again and written, once.
fn write_buckets(
    tx: &rusqlite::Transaction<'_>,
    protect: &dyn FieldProtection,
    mappings: &[(Namespace, String, String)],
) -> Result<(), FieldError> {
    /// A bucket the batch adds to, with its mappings in arrival order.
    struct Touched<'m> {
        ns: Namespace,
        key: Vec<u8>,
        added: Vec<(&'m str, &'m str)>,
    }
    let mut keys = BucketKeys::new(protect);
    let mut touched: Vec<Touched> = Vec::new();
    let mut index: rustc_hash::FxHashMap<(Namespace, Vec<u8>), usize> = Default::default();
    for (ns, server, cloud) in mappings {
        let key = keys.key(*ns, server);
        let at = *index.entry((*ns, key.clone())).or_insert_with(|| {
            touched.push(Touched {
                ns: *ns,
                key,
                added: Vec::new(),
            });
            touched.len() - 1
        });
        touched[at].added.push((server, cloud));
    }
    let mut put = tx.prepare_cached(
        "INSERT INTO mappings (namespace, bucket, entries, sealed) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (namespace, bucket) DO UPDATE SET entries = excluded.entries, sealed = excluded.sealed",
    )?;
    let (mut plain, mut sealed) = (Vec::new(), Vec::new());
    for Touched { ns, key, added } in touched {
        let mut bucket = match read_bucket(tx, ns, &key)? {
            Some(old) => open_bucket(protect, ns, &key, &old)?,
            None => Vec::new(),
        };
        for (server, cloud) in added {
            match bucket.binary_search_by(|(s, _)| s.as_str().cmp(server)) {
                Ok(at) => bucket[at].1 = cloud.to_owned(),
                Err(at) => bucket.insert(at, (server.to_owned(), cloud.to_owned())),
            }
        }
        plain.clear();
        for (server, cloud) in &bucket {
            pack_into(&mut plain, &[server.as_bytes(), cloud.as_bytes()]);
        }
        sealed.clear();
        protect.seal(&bucket_ad(ns, &key), &plain, &mut sealed);
        put.execute(params![ns.as_str(), key, bucket.len() as i64, sealed])?;
    }
    Ok(())
}

/// Tokens of mappings and of failures are kept apart, so equal tokens never link a
/// failure's source key to a mapping's server id.
fn mapping_context(ns: Namespace) -> Vec<u8> {
    [b"mappings:", ns.as_str().as_bytes()].concat()
}

/// Decimal server ids this many apart (as a power of two) share a bucket.
const BUCKET_SHIFT: u32 = 6;

/// The keys of buckets: a token of the bucket within its namespace. A decimal id's bucket
/// is the id divided by 64; any other id (a user key, a group name) is a bucket of its own.
/// What the keys reveal to someone holding the file without the data key: how many
/// mappings each bucket holds, and so which rows' ids lie within the same 64 — never an
/// id, a value or an order between buckets.
///
/// The last decimal bucket's key and the namespace's context are kept: neighbouring ids
/// cost one token between them.
struct BucketKeys<'a> {
    protect: &'a dyn FieldProtection,
    /// The namespace whose context `context` is.
    ns: Option<Namespace>,
    context: Vec<u8>,
    last: Option<(u64, Vec<u8>)>,
}

impl<'a> BucketKeys<'a> {
    fn new(protect: &'a dyn FieldProtection) -> BucketKeys<'a> {
        BucketKeys {
            protect,
            ns: None,
            context: Vec::new(),
            last: None,
        }
    }

    /// The key of the bucket `server` belongs to in `ns`.
    fn key(&mut self, ns: Namespace, server: &str) -> Vec<u8> {
        if self.ns != Some(ns) {
            self.ns = Some(ns);
            self.context = mapping_context(ns);
            self.last = None;
        }
        let Some(bucket) = decimal_bucket(server) else {
            return self.token(b"t", server.as_bytes());
        };
        match &self.last {
            Some((last, key)) if *last == bucket => key.clone(),
            _ => {
                let key = self.token(b"n", &bucket.to_be_bytes());
                self.last = Some((bucket, key.clone()));
                key
            }
        }
    }

    fn token(&self, form: &[u8], value: &[u8]) -> Vec<u8> {
        let context = [&self.context[..], b":bucket:", form].concat();
        let mut token = Vec::new();
        self.protect.token(&context, value, &mut token);
        token
    }
}

fn failure_token(protect: &dyn FieldProtection, kind: &str, source_key: &str) -> Vec<u8> {
    let context = [b"failures:", kind.as_bytes()].concat();
    let mut token = Vec::new();
    protect.token(&context, source_key.as_bytes(), &mut token);
    token
}

/// A bucket's cell is bound to its row: namespace and bucket key.
fn bucket_ad(ns: Namespace, key: &[u8]) -> Vec<u8> {
    pack(&[ns.as_str().as_bytes(), key])
}

/// A failure's (or notice's) cell is bound to its row and to its code (kept in clear
/// for statistics); a notice's to its table too, so a failure's cell cannot pass for one.
fn row_ad(table: &str, kind: &str, token: &[u8], code: &str) -> Vec<u8> {
    if table == "failures" {
        pack(&[kind.as_bytes(), token, code.as_bytes()])
    } else {
        pack(&[table.as_bytes(), kind.as_bytes(), token, code.as_bytes()])
    }
}

/// A failure's or notice's token and sealed cell.
fn seal_row(protect: &dyn FieldProtection, table: &str, f: &Failure) -> (Vec<u8>, Vec<u8>) {
    let token = failure_token(protect, f.kind.name(), &f.source_key);
    let mut sealed = Vec::new();
    protect.seal(
        &row_ad(table, f.kind.name(), &token, &f.code),
        &pack(&[f.source_key.as_bytes(), f.message.as_bytes()]),
        &mut sealed,
    );
    (token, sealed)
}

/// The (server id, cloud id) pairs of a bucket, by server id.
fn open_bucket(
    protect: &dyn FieldProtection,
    ns: Namespace,
    key: &[u8],
    sealed: &[u8],
) -> Result<Bucket, RowError> {
    let group = || ns.as_str().to_owned();
    let plain = protect
        .open(&bucket_ad(ns, key), sealed)
        .map_err(|source| RowError::Sealed {
            table: "mappings",
            group: group(),
            source,
        })?;
    let malformed = || RowError::Malformed {
        table: "mappings",
        group: group(),
    };
    let mut bucket = Vec::new();
    let mut rest = &plain[..];
    while !rest.is_empty() {
        let (pair, after) = unpack_prefix::<2>(rest).ok_or_else(malformed)?;
        let [server, cloud] = pair;
        bucket.push((server, cloud));
        rest = after;
    }
    if !bucket.is_sorted_by(|a, b| a.0 < b.0) {
        return Err(malformed());
    }
    Ok(bucket)
}

fn open_row(
    protect: &dyn FieldProtection,
    table: &'static str,
    kind: &str,
    token: &[u8],
    code: String,
    sealed: &[u8],
) -> Result<Failure, RowError> {
    let plain = protect
        .open(&row_ad(table, kind, token, &code), sealed)
        .map_err(|source| RowError::Sealed {
            table,
            group: kind.to_owned(),
            source,
        })?;
    let [source_key, message] = unpack(&plain).ok_or_else(|| RowError::Malformed {
        table,
        group: kind.to_owned(),
    })?;
    Ok(Failure {
        kind: Kind::from_name(kind).unwrap_or(Kind::Issue),
        source_key,
        code,
        message,
    })
}

/// Each part prefixed by its length (u32, big-endian): no two lists of parts pack alike.
fn pack(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| 4 + p.len()).sum());
    pack_into(&mut out, parts);
    out
}

/// [`pack`], appended to `out`.
fn pack_into(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for part in parts {
        let len = u32::try_from(part.len()).expect("a state value below 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(part);
    }
}

/// Exactly `N` text parts packed by [`pack`], or `None`.
fn unpack<const N: usize>(bytes: &[u8]) -> Option<[String; N]> {
    match unpack_prefix::<N>(bytes)? {
        (parts, []) => Some(parts),
        _ => None,
    }
}

/// The first `N` text parts packed by [`pack`], and the bytes after them.
fn unpack_prefix<const N: usize>(mut bytes: &[u8]) -> Option<([String; N], &[u8])> {
    let mut parts: [String; N] = std::array::from_fn(|_| String::new());
    for part in &mut parts {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        let text = rest.get(..len)?;
        *part = String::from_utf8(text.to_vec()).ok()?;
        bytes = &rest[len..];
    }
    Some((parts, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_ids_share_a_bucket_and_nothing_else() {
        let protect = ephemeral_protection().unwrap();
        let mut keys = BucketKeys::new(protect.as_ref());
        let issue = |k: &mut BucketKeys, id: &str| k.key(Namespace::ISSUE, id);
        let (a, b) = (issue(&mut keys, "10240"), issue(&mut keys, "10303"));
        assert_eq!(a.len(), airlock_vault::TOKEN_LEN);
        assert_eq!(a, b, "one bucket of 64 ids");
        assert_ne!(issue(&mut keys, "10304"), a, "the next bucket");
        // The same id, asked again (with and without the kept bucket), gives the same key.
        assert_eq!(issue(&mut keys, "10240"), a);
        assert_eq!(issue(&mut BucketKeys::new(protect.as_ref()), "10240"), a);
        // Another namespace makes other keys; a text id is a bucket of its own.
        assert_ne!(keys.key(Namespace::PROJECT, "10240"), a);
        assert_ne!(
            keys.key(Namespace::USER, "admin"),
            keys.key(Namespace::USER, "admin2")
        );
        // Nothing of the id itself is in the key.
        assert!(!a.windows(3).any(|w| w == b"102"));
    }

    #[test]
    fn packed_parts_unpack_and_do_not_run_together() {
        let packed = pack(&[b"a", b"bc"]);
        assert_eq!(
            unpack::<2>(&packed),
            Some(["a".to_owned(), "bc".to_owned()])
        );
        assert_ne!(packed, pack(&[b"ab", b"c"]));
        assert_eq!(unpack::<2>(&packed[..packed.len() - 1]), None);
        assert_eq!(unpack::<1>(&packed), None);
        assert_eq!(unpack::<2>(&[packed.clone(), vec![0]].concat()), None);
        assert_eq!(
            unpack::<2>(&pack(&[b"", b""])),
            Some([String::new(), String::new()])
        );
    }
}
