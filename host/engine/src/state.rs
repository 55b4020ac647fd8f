//! A migration's own state: id mappings (server id → cloud id per namespace), load
//! checkpoints and per-record failures, in a SQLite file beside the staging.
//!
//! A load records each batch's mappings and its checkpoint in one transaction, after the
//! target accepted the batch; a crash between the two is repaired on the next run by
//! asking the target what it already holds (see `load`).
//!
//! Customer values never reach the file in clear: a mapping is keyed by a token of its
//! server id and holds both ids sealed, and a failure is keyed by a token of its source key
//! and holds that key and the target's message sealed, through a [`FieldProtection`] (the
//! migration's `airlock_vault::FieldCipher`). Each sealed cell is bound to its row's key
//! (namespace or kind, token, and a failure's code), so a cell moved to another row does
//! not open. What stays in clear: namespaces, kinds, failure codes, counts, checkpoint
//! names, attachment ids (digits) in `files_done`, and in `meta` the backup's fingerprint
//! (sizes and CRC-32s) and which apps' tables were checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_model::Namespace;
use airlock_model::jira::Kind;
use rusqlite::{Connection, OptionalExtension, ToSql, TransactionBehavior, params};

/// The format of the state file, kept in `PRAGMA user_version`. Files of the first format
/// (ids, source keys and messages in clear) never set it: they read 0.
pub const STATE_FORMAT: i64 = 1;

/// Why a sealed cell could not be opened (its text names no value and no key).
pub type FieldError = Box<dyn std::error::Error + Send + Sync>;

/// How the state file keeps customer values: lookup tokens in place of values searched by
/// equality, and sealed cells for the values themselves. The migration's is its
/// `airlock_vault::FieldCipher`.
pub trait FieldProtection: Send + Sync {
    /// A key standing in for `value` within `context`: equal for equal inputs.
    fn token(&self, context: &[u8], value: &[u8]) -> Vec<u8>;

    /// `plaintext`, sealed under associated data `ad`.
    fn seal(&self, ad: &[u8], plaintext: &[u8]) -> Vec<u8>;

    /// What [`seal`](FieldProtection::seal) sealed, if `sealed` is intact and `ad` the same.
    fn open(&self, ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, FieldError>;
}

impl FieldProtection for airlock_vault::FieldCipher {
    fn token(&self, context: &[u8], value: &[u8]) -> Vec<u8> {
        airlock_vault::FieldCipher::token(self, context, value).to_vec()
    }

    fn seal(&self, ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        airlock_vault::FieldCipher::seal(self, ad, plaintext)
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
    server_token BLOB NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (namespace, server_token)
) WITHOUT ROWID;
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
            .prepare_cached("SELECT server_token, sealed FROM mappings WHERE namespace = ?1")
            .map_err(err)?;
        let mut rows = stmt.query([ns.as_str()]).map_err(err)?;
        let mut all = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let token = blob(row, 0).map_err(err)?;
            let sealed = blob(row, 1).map_err(err)?;
            let mapping = open_mapping(self.protect.as_ref(), ns, token, sealed)
                .map_err(|e| StateError::new(&self.path, e))?;
            all.push(mapping);
        }
        all.sort_unstable();
        Ok(all)
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
        let protect = self.protect.as_ref();
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO mappings (namespace, server_token, sealed) VALUES (?1, ?2, ?3)",
                )
                .map_err(err)?;
            for (ns, server, cloud) in mappings {
                let token = mapping_token(protect, *ns, server);
                let sealed = protect.seal(
                    &mapping_ad(*ns, &token),
                    &pack(&[server.as_bytes(), cloud.as_bytes()]),
                );
                put.execute(params![ns.as_str(), token, sealed])
                    .map_err(err)?;
            }
            let mut fail = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO failures (kind, source_token, code, sealed) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for f in failures {
                let token = failure_token(protect, f.kind.name(), &f.source_key);
                let sealed = protect.seal(
                    &failure_ad(f.kind.name(), &token, &f.code),
                    &pack(&[f.source_key.as_bytes(), f.message.as_bytes()]),
                );
                fail.execute(params![f.kind.name(), token, f.code, sealed])
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

    /// Every failure, by kind then source key.
    pub fn failures(&self) -> Result<Vec<Failure>, StateError> {
        let err = |e: rusqlite::Error| self.err(e);
        let mut stmt = self
            .conn
            .prepare("SELECT kind, source_token, code, sealed FROM failures")
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut failures = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let kind: String = row.get(0).map_err(err)?;
            let token = blob(row, 1).map_err(err)?;
            let code: String = row.get(2).map_err(err)?;
            let sealed = blob(row, 3).map_err(err)?;
            let failure = open_failure(self.protect.as_ref(), &kind, token, code, sealed)
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
    conn: std::sync::Mutex<Connection>,
    path: PathBuf,
    protect: Arc<dyn FieldProtection>,
}

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
            conn: std::sync::Mutex::new(conn),
            path: path.to_path_buf(),
            protect,
        })
    }

    /// The cloud id of one server id.
    pub fn cloud_id(&self, ns: Namespace, server: &str) -> Result<Option<String>, StateError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        mapped_cloud_id(&conn, self.protect.as_ref(), ns, server)
            .map_err(|e| StateError::new(&self.path, e))
    }

    /// One answer per id, in order; `None` for ids not migrated (or on a read error, or a
    /// mapping that does not open, which are logged without any id: a plugin sees an
    /// unmapped id, never the error's text).
    pub fn resolve(&self, ns: Namespace, ids: &[&str]) -> Vec<Option<Arc<str>>> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let protect = self.protect.as_ref();
        // Keyed by the server id each mapping opens to, so answers go back in input order.
        let mut found: rustc_hash::FxHashMap<String, Arc<str>> = rustc_hash::FxHashMap::default();
        let namespace = ns.as_str();
        // One statement per chunk of ids: a query per id costs more than the lookup.
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let tokens: Vec<Vec<u8>> = chunk
                .iter()
                .map(|id| mapping_token(protect, ns, id))
                .collect();
            let sql = lookup_sql(chunk.len());
            let result = conn.prepare_cached(&sql).and_then(|mut stmt| {
                let params: Vec<&dyn ToSql> = std::iter::once(&namespace as &dyn ToSql)
                    .chain(tokens.iter().map(|t| t as &dyn ToSql))
                    .collect();
                let mut rows = stmt.query(params.as_slice())?;
                while let Some(row) = rows.next()? {
                    let (token, sealed) = (blob(row, 0)?, blob(row, 1)?);
                    match open_mapping(protect, ns, token, sealed) {
                        Ok((server, cloud)) => {
                            found.insert(server, cloud.into());
                        }
                        Err(e) => tracing::error!(
                            path = %self.path.display(),
                            error = %e,
                            "a mapping does not open; its id resolves to nothing"
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
    let mut sql = String::from(
        "SELECT server_token, sealed FROM mappings WHERE namespace = ?1 AND server_token IN (",
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
    let token = mapping_token(protect, ns, server);
    let mut stmt = conn
        .prepare_cached("SELECT sealed FROM mappings WHERE namespace = ?1 AND server_token = ?2")?;
    let Some(sealed) = stmt
        .query_row(params![ns.as_str(), token], |r| r.get::<_, Vec<u8>>(0))
        .optional()?
    else {
        return Ok(None);
    };
    let (opened, cloud) = open_mapping(protect, ns, &token, &sealed)?;
    // Another server id under this token would be a collision or a forged row: refuse it.
    if opened != server {
        return Err(RowError::Malformed {
            table: "mappings",
            group: ns.as_str().to_owned(),
        }
        .into());
    }
    Ok(Some(cloud))
}

/// Tokens of mappings and of failures are kept apart, so equal tokens never link a
/// failure's source key to a mapping's server id.
fn mapping_token(protect: &dyn FieldProtection, ns: Namespace, server: &str) -> Vec<u8> {
    let context = [b"mappings:", ns.as_str().as_bytes()].concat();
    protect.token(&context, server.as_bytes())
}

fn failure_token(protect: &dyn FieldProtection, kind: &str, source_key: &str) -> Vec<u8> {
    let context = [b"failures:", kind.as_bytes()].concat();
    protect.token(&context, source_key.as_bytes())
}

/// A mapping's cell is bound to its row: namespace and server token.
fn mapping_ad(ns: Namespace, token: &[u8]) -> Vec<u8> {
    pack(&[ns.as_str().as_bytes(), token])
}

/// A failure's cell is bound to its row and to its code (kept in clear for statistics).
fn failure_ad(kind: &str, token: &[u8], code: &str) -> Vec<u8> {
    pack(&[kind.as_bytes(), token, code.as_bytes()])
}

/// (server id, cloud id) of a mapping row.
fn open_mapping(
    protect: &dyn FieldProtection,
    ns: Namespace,
    token: &[u8],
    sealed: &[u8],
) -> Result<(String, String), RowError> {
    let group = || ns.as_str().to_owned();
    let plain = protect
        .open(&mapping_ad(ns, token), sealed)
        .map_err(|source| RowError::Sealed {
            table: "mappings",
            group: group(),
            source,
        })?;
    let [server, cloud] = unpack(&plain).ok_or_else(|| RowError::Malformed {
        table: "mappings",
        group: group(),
    })?;
    Ok((server, cloud))
}

fn open_failure(
    protect: &dyn FieldProtection,
    kind: &str,
    token: &[u8],
    code: String,
    sealed: &[u8],
) -> Result<Failure, RowError> {
    let plain = protect
        .open(&failure_ad(kind, token, &code), sealed)
        .map_err(|source| RowError::Sealed {
            table: "failures",
            group: kind.to_owned(),
            source,
        })?;
    let [source_key, message] = unpack(&plain).ok_or_else(|| RowError::Malformed {
        table: "failures",
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
    for part in parts {
        let len = u32::try_from(part.len()).expect("a state value below 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// Exactly `N` text parts packed by [`pack`], or `None`.
fn unpack<const N: usize>(mut bytes: &[u8]) -> Option<[String; N]> {
    let mut parts: [String; N] = std::array::from_fn(|_| String::new());
    for part in &mut parts {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        let text = rest.get(..len)?;
        *part = String::from_utf8(text.to_vec()).ok()?;
        bytes = &rest[len..];
    }
    bytes.is_empty().then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

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
