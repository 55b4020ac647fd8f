//! An app's own Active Objects rows, staged for the app data phase: batches stream out of
//! it in table order, and a plugin's `app-data.get` / `exists` joins are answered from its
//! index, so memory stays bounded by one batch whatever the size of the app's tables.
//!
//! It is a SQLite file in the work directory whose rows are sealed one by one by the
//! vault, each table a record set (`app-rows/<table>`, one key per table and staging, the
//! row number as the record index): the file holds table and column names, row numbers,
//! `ID`s and the sets' headers, never a value in clear.
//!
//! What is in clear is bound to the seal: each row is sealed with associated data naming
//! its table, its table's column names (in order) and its clear `ID` (`TableBinding`);
//! the row number is its record index, the table its set. So a row whose clear `ID` was
//! changed or swapped with another row's (which would redirect an `app-data` join to the
//! other row), a row moved to another number or table, or renamed or reordered columns, all
//! fail to open with [`RowTampered`], and a lookup by `ID` only ever answers with the row
//! sealed under that `ID`. Not detected: a row deleted from the file (a lookup then finds
//! nothing, as for an id the backup does not hold).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use airlock_backup::AoBatch;
use airlock_model::Value;
use airlock_vault::{RecordSet, Sealer, VaultError};
use rusqlite::{Connection, OptionalExtension, params};
use rustc_hash::FxHashMap;

use crate::state::StateError;

/// The format of the file, in `meta` under `format`. Format 1 (no `format` row) sealed rows
/// without binding their clear companions; such a file is staged again rather than read.
pub const APP_ROWS_FORMAT: &str = "2";

/// A staged row that did not open: it, its clear `ID`, its number or its table's column
/// names were altered, or swapped with another row's. Names the table and the row number,
/// never a value.
#[derive(Debug, thiserror::Error)]
#[error(
    "staged row {seq} of app table {table} failed its integrity check: the row, its clear ID, its number or the table's column names were altered or swapped with another row's; it is not used (stage the app's tables again from the backup)"
)]
pub struct RowTampered {
    pub table: String,
    pub seq: i64,
    #[source]
    source: VaultError,
}

/// A batch of a table whose columns differ from those its earlier batches were staged
/// with: the rows could not be read back under one list of columns.
#[derive(Debug, thiserror::Error)]
#[error("app table {table} arrived with other columns than its earlier rows")]
struct ColumnsChanged {
    table: String,
}

/// A row with its table's column names, as `app-data.get` answers.
pub type ColumnsAndRow = (Arc<[String]>, Vec<Value>);

/// Rows with their table's column names, as `app-data.find` answers.
pub type ColumnsAndRows = (Arc<[String]>, Vec<Vec<Value>>);

pub struct AppRows {
    conn: Mutex<Connection>,
    path: PathBuf,
    columns: Mutex<FxHashMap<String, Arc<[String]>>>,
    sealer: Arc<Sealer>,
    /// Each table's record set, made when its first batch is staged.
    sets: Mutex<FxHashMap<String, Arc<RecordSet>>>,
    /// Column indexes for `app-data.find`, by (table, column), built on first use.
    indexes: Mutex<FxHashMap<(String, String), Arc<ColumnIndex>>>,
}

/// Where each value of one column sits: (keyed hash of the value, row number), sorted.
/// 16 bytes a row, in memory only; the hash key is random per index, so no backup can
/// make values collide on purpose. A hit is confirmed against the opened row.
struct ColumnIndex {
    hasher: std::hash::RandomState,
    column: usize,
    entries: Vec<(u64, u32)>,
}

impl ColumnIndex {
    /// The value's keyed hash, over its encoding in `buf` (reused across calls).
    fn hash(&self, value: &Value, buf: &mut Vec<u8>) -> u64 {
        buf.clear();
        encode_row(std::slice::from_ref(value), buf);
        std::hash::BuildHasher::hash_one(&self.hasher, &buf[..])
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS app_tables (
    name TEXT PRIMARY KEY,
    columns TEXT NOT NULL,
    id_column INTEGER,
    seal_header BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS app_rows (
    tbl TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id INTEGER,
    row BLOB NOT NULL,
    PRIMARY KEY (tbl, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS app_rows_by_id ON app_rows (tbl, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
";

impl AppRows {
    /// Creates an empty store at `path` (replacing one left by an earlier run).
    pub fn create(path: &Path, sealer: Arc<Sealer>) -> Result<AppRows, StateError> {
        let _ = std::fs::remove_file(path);
        let err = |source| StateError::new(path, source);
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -16384;",
        )
        .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('format', ?1)",
            [APP_ROWS_FORMAT],
        )
        .map_err(err)?;
        Ok(AppRows {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            columns: Mutex::new(FxHashMap::default()),
            sealer,
            sets: Mutex::new(FxHashMap::default()),
            indexes: Mutex::new(FxHashMap::default()),
        })
    }

    /// Opens a store an earlier run finished staging from the backup `fingerprint` names;
    /// `None` if there is none, or it is incomplete, of another backup or of another format.
    pub fn open_complete(path: &Path, fingerprint: &str, sealer: Arc<Sealer>) -> Option<AppRows> {
        if !path.exists() {
            return None;
        }
        let conn = Connection::open(path).ok()?;
        let meta = |key: &str| -> Option<String> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .ok()
                .flatten()
        };
        let usable = meta("format").as_deref() == Some(APP_ROWS_FORMAT)
            && meta("complete").as_deref() == Some(fingerprint);
        usable.then(|| AppRows {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            columns: Mutex::new(FxHashMap::default()),
            sealer,
            sets: Mutex::new(FxHashMap::default()),
            indexes: Mutex::new(FxHashMap::default()),
        })
    }

    /// Records that every row of the backup `fingerprint` names is staged.
    pub fn mark_complete(&self, fingerprint: &str) -> Result<(), StateError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('complete', ?1)",
            [fingerprint],
        )
        .map(|_| ())
        .map_err(|e| self.err(e))
    }

    fn err(&self, source: rusqlite::Error) -> StateError {
        StateError::new(&self.path, source)
    }

    /// Adds a batch read from activeobjects.xml (batches of a table arrive in file order,
    /// all with the same columns).
    pub fn insert(&self, batch: &AoBatch) -> Result<(), StateError> {
        let id_column = batch.column_index("ID");
        if self
            .columns_of(&batch.table)?
            .is_some_and(|known| known != batch.columns)
        {
            return Err(StateError::new(
                &self.path,
                ColumnsChanged {
                    table: batch.table.clone(),
                },
            ));
        }
        let set = self.record_set(&batch.table)?;
        let binding = TableBinding::new(&batch.table, &batch.columns);
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            tx.execute(
                "INSERT OR IGNORE INTO app_tables (name, columns, id_column, seal_header) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    batch.table,
                    batch.columns.join("\u{1f}"),
                    id_column.map(|i| i as i64),
                    set.header()
                ],
            )
            .map_err(|e| self.err(e))?;
            let mut put = tx
                .prepare_cached("INSERT INTO app_rows (tbl, seq, id, row) VALUES (?1, ?2, ?3, ?4)")
                .map_err(|e| self.err(e))?;
            let (mut buf, mut bound) = (Vec::new(), Vec::new());
            for (i, row) in batch.rows.iter().enumerate() {
                let id = id_column.and_then(|c| match row.get(c) {
                    Some(Value::Integer(id)) => Some(*id),
                    _ => None,
                });
                let seq = batch.offset + i as u64;
                buf.clear();
                encode_row(row, &mut buf);
                binding.row(id, &mut bound);
                let index = record_index(seq).map_err(|e| self.err(e))?;
                let sealed = set.seal_bound(index, &bound, &buf);
                put.execute(params![batch.table, seq as i64, id, sealed])
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        self.columns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(batch.table.clone())
            .or_insert_with(|| batch.columns.clone());
        Ok(())
    }

    /// The staged tables, in name order.
    pub fn tables(&self) -> Result<Vec<String>, StateError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn
            .prepare("SELECT name FROM app_tables ORDER BY name")
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<String>, _>>()
            .map_err(|e| self.err(e))
    }

    /// Rows `offset..offset + max` of a table, as a batch; `None` past its end.
    pub fn batch(
        &self,
        table: &str,
        offset: u64,
        max: usize,
    ) -> Result<Option<AoBatch>, StateError> {
        let Some(columns) = self.columns_of(table)? else {
            return Ok(None);
        };
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, id, row FROM app_rows WHERE tbl = ?1 AND seq >= ?2 ORDER BY seq \
                 LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let sealed = stmt
            .query_map(params![table, offset as i64, max as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        drop(stmt);
        drop(conn);
        let binding = TableBinding::new(table, &columns);
        let mut bound = Vec::new();
        let rows = sealed
            .iter()
            .map(|(seq, id, blob)| {
                binding.row(*id, &mut bound);
                self.open_row(table, *seq, &bound, blob)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(AoBatch {
            table: table.to_owned(),
            columns,
            offset,
            rows,
        }))
    }

    fn columns_of(&self, table: &str) -> Result<Option<Arc<[String]>>, StateError> {
        if let Some(c) = self
            .columns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(table)
        {
            return Ok(Some(c.clone()));
        }
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let text: Option<String> = conn
            .query_row(
                "SELECT columns FROM app_tables WHERE name = ?1",
                [table],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(text.map(|t| {
            t.split('\u{1f}')
                .map(str::to_owned)
                .collect::<Vec<_>>()
                .into()
        }))
    }

    /// The row of `table` whose `ID` is `id`, or `None`: also when it cannot be read or
    /// fails its integrity check (logged, without values; see [`AppRows::try_get`]).
    pub fn get(&self, table: &str, id: i64) -> Option<ColumnsAndRow> {
        self.try_get(table, id).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot use a staged app row");
            None
        })
    }

    /// The row of `table` whose `ID` is `id`: `Ok(None)` when there is none, an error
    /// ([`RowTampered`] as its source) when the row found under that `ID` was not sealed
    /// with it.
    pub fn try_get(&self, table: &str, id: i64) -> Result<Option<ColumnsAndRow>, StateError> {
        let Some(columns) = self.columns_of(table)? else {
            return Ok(None);
        };
        let Some((seq, blob)) = self.find(table, id)? else {
            return Ok(None);
        };
        let mut bound = Vec::new();
        TableBinding::new(table, &columns).row(Some(id), &mut bound);
        let row = self.open_row(table, seq, &bound, &blob)?;
        Ok(Some((columns, row)))
    }

    /// Whether `table` has a row whose `ID` is `id`; `false` also when it cannot be read or
    /// fails its integrity check (logged; see [`AppRows::try_exists`]).
    pub fn exists(&self, table: &str, id: i64) -> bool {
        self.try_exists(table, id).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot use a staged app row");
            false
        })
    }

    /// Whether `table` has a row whose `ID` is `id`. The row is opened, so a clear `ID`
    /// changed in the file is an error rather than a yes.
    pub fn try_exists(&self, table: &str, id: i64) -> Result<bool, StateError> {
        Ok(self.try_get(table, id)?.is_some())
    }

    /// Indexes `table.column` for [`AppRows::try_find`] (the app phase does it before the
    /// first batch for every lookup a manifest declares, so no batch's deadline pays for
    /// it). Opens every row of the table once. `false` if the table or column is absent.
    pub fn index(&self, table: &str, column: &str) -> Result<bool, StateError> {
        Ok(self.column_index(table, column)?.is_some())
    }

    fn column_index(
        &self,
        table: &str,
        column: &str,
    ) -> Result<Option<Arc<ColumnIndex>>, StateError> {
        let key = (table.to_owned(), column.to_owned());
        if let Some(index) = self
            .indexes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(Some(index.clone()));
        }
        let Some(columns) = self.columns_of(table)? else {
            return Ok(None);
        };
        let Some(at) = columns.iter().position(|c| c == column) else {
            return Ok(None);
        };
        let mut index = ColumnIndex {
            hasher: std::hash::RandomState::new(),
            column: at,
            entries: Vec::new(),
        };
        let (mut offset, mut buf) = (0u64, Vec::new());
        while let Some(batch) = self.batch(table, offset, 4096)? {
            for (i, row) in batch.rows.iter().enumerate() {
                let seq = record_index(offset + i as u64).map_err(|e| self.err(e))?;
                index.entries.push((index.hash(&row[at], &mut buf), seq));
            }
            offset += batch.rows.len() as u64;
        }
        index.entries.sort_unstable();
        let index = Arc::new(index);
        self.indexes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, index.clone());
        Ok(Some(index))
    }

    /// The rows of `table` whose `column` equals one of `values`, ordered by `ID`, at most
    /// `max_rows`; `None` for a table that is not staged. Every row is opened (and so
    /// checked) before it is answered.
    pub fn try_find(
        &self,
        table: &str,
        column: &str,
        values: &[Value],
        max_rows: usize,
    ) -> Result<Option<ColumnsAndRows>, StateError> {
        let Some(columns) = self.columns_of(table)? else {
            return Ok(None);
        };
        let Some(index) = self.column_index(table, column)? else {
            return Ok(Some((columns, vec![])));
        };
        let (mut seqs, mut buf) = (Vec::<u32>::new(), Vec::new());
        for value in values {
            let hash = index.hash(value, &mut buf);
            let start = index.entries.partition_point(|(h, _)| *h < hash);
            seqs.extend(
                index.entries[start..]
                    .iter()
                    .take_while(|(h, _)| *h == hash)
                    .map(|(_, seq)| *seq),
            );
        }
        seqs.sort_unstable();
        seqs.dedup();
        let binding = TableBinding::new(table, &columns);
        let mut bound = Vec::new();
        let mut rows: Vec<(Option<i64>, Vec<Value>)> = Vec::new();
        for seq in seqs {
            let (id, sealed) = {
                let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
                conn.prepare_cached("SELECT id, row FROM app_rows WHERE tbl = ?1 AND seq = ?2")
                    .and_then(|mut s| {
                        s.query_row(params![table, seq as i64], |r| {
                            Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Vec<u8>>(1)?))
                        })
                    })
                    .map_err(|e| self.err(e))?
            };
            binding.row(id, &mut bound);
            let row = self.open_row(table, seq as i64, &bound, &sealed)?;
            // The hash matched: the value must too (a collision is not a match).
            if values.contains(&row[index.column]) {
                rows.push((id, row));
                if rows.len() >= max_rows {
                    break;
                }
            }
        }
        rows.sort_by_key(|(id, _)| (id.is_none(), *id));
        Ok(Some((
            columns,
            rows.into_iter().map(|(_, row)| row).collect(),
        )))
    }

    /// The first row (number and sealed bytes) filed under `ID` `id`.
    fn find(&self, table: &str, id: i64) -> Result<Option<(i64, Vec<u8>)>, StateError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.prepare_cached("SELECT seq, row FROM app_rows WHERE tbl = ?1 AND id = ?2 LIMIT 1")
            .and_then(|mut s| {
                s.query_row(params![table, id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))
    }
}

impl AppRows {
    /// Opens row `seq` of `table`, sealed with associated data `bound` (its
    /// [`TableBinding::row`]).
    fn open_row(
        &self,
        table: &str,
        seq: i64,
        bound: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<Value>, StateError> {
        let index = record_index(seq as u64).map_err(|e| self.err(e))?;
        let bytes = self
            .record_set(table)?
            .open_bound(index, bound, sealed)
            .map_err(|source| {
                StateError::new(
                    &self.path,
                    RowTampered {
                        table: table.to_owned(),
                        seq,
                        source,
                    },
                )
            })?;
        Ok(decode_row(&bytes))
    }

    /// The table's record set: the one made in this run, the one its header in the file
    /// names, or (for a table staged for the first time) a new one.
    fn record_set(&self, table: &str) -> Result<Arc<RecordSet>, StateError> {
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(set) = sets.get(table) {
            return Ok(set.clone());
        }
        let name = format!("app-rows/{table}");
        let header: Option<Vec<u8>> = {
            let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            conn.query_row(
                "SELECT seal_header FROM app_tables WHERE name = ?1",
                [table],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?
        };
        let set = Arc::new(match header {
            Some(header) => self
                .sealer
                .record_set(&name, &header)
                .map_err(|e| StateError::new(&self.path, e))?,
            None => self.sealer.new_record_set(&name),
        });
        sets.insert(table.to_owned(), set.clone());
        Ok(set)
    }
}

/// What a table's rows bind besides their own bytes: the table's name and columns, the
/// same for every row of the table (built once), to which [`TableBinding::row`] adds the
/// row's clear `ID`. The row's number is bound too, as its record index.
struct TableBinding {
    prefix: Vec<u8>,
}

impl TableBinding {
    /// `"airlock app row v2"`, the table name, the number of columns and each column name,
    /// every string prefixed by its byte length (u32, big-endian): unambiguous, so no other
    /// table and column list gives the same bytes.
    fn new(table: &str, columns: &[String]) -> TableBinding {
        fn put(out: &mut Vec<u8>, s: &[u8]) {
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s);
        }
        let mut prefix = Vec::with_capacity(
            32 + table.len() + columns.iter().map(|c| c.len() + 4).sum::<usize>(),
        );
        put(&mut prefix, b"airlock app row v2");
        put(&mut prefix, table.as_bytes());
        prefix.extend_from_slice(&(columns.len() as u32).to_be_bytes());
        for column in columns {
            put(&mut prefix, column.as_bytes());
        }
        TableBinding { prefix }
    }

    /// The associated data of a row whose clear `ID` is `id` (`None`: no integer `ID`) into
    /// `out`: the table's part, then 0, or 1 and the `ID` (i64, big-endian).
    fn row(&self, id: Option<i64>, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.prefix);
        match id {
            None => out.push(0),
            Some(id) => {
                out.push(1);
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

/// A row's number as its record index in the table's set.
fn record_index(seq: u64) -> Result<u32, rusqlite::Error> {
    u32::try_from(seq).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, seq as i64))
}

/// A row as bytes, before it is sealed: per value a tag, then the payload (little-endian
/// numbers, strings as a u32 length and UTF-8).
pub fn encode_row(row: &[Value], out: &mut Vec<u8>) {
    for value in row {
        match value {
            Value::Null => out.push(0),
            Value::String(s) => {
                out.push(1);
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Integer(i) => {
                out.push(2);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Value::Double(d) => {
                out.push(3);
                out.extend_from_slice(&d.to_bits().to_le_bytes());
            }
            Value::Boolean(b) => out.push(if *b { 5 } else { 4 }),
            Value::Timestamp(t) => {
                out.push(6);
                out.extend_from_slice(&t.to_le_bytes());
            }
        }
    }
}

fn decode_row(mut bytes: &[u8]) -> Vec<Value> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> &'a [u8] {
        let (head, tail) = bytes.split_at(n.min(bytes.len()));
        *bytes = tail;
        head
    }
    fn eight(bytes: &mut &[u8]) -> [u8; 8] {
        let mut b = [0u8; 8];
        let head = take(bytes, 8);
        b[..head.len()].copy_from_slice(head);
        b
    }
    let mut row = Vec::new();
    while let Some((&tag, rest)) = bytes.split_first() {
        bytes = rest;
        row.push(match tag {
            1 => {
                let mut len = [0u8; 4];
                let head = take(&mut bytes, 4);
                len[..head.len()].copy_from_slice(head);
                let s = take(&mut bytes, u32::from_le_bytes(len) as usize);
                Value::String(String::from_utf8_lossy(s).into_owned())
            }
            2 => Value::Integer(i64::from_le_bytes(eight(&mut bytes))),
            3 => Value::Double(f64::from_bits(u64::from_le_bytes(eight(&mut bytes)))),
            4 => Value::Boolean(false),
            5 => Value::Boolean(true),
            6 => Value::Timestamp(i64::from_le_bytes(eight(&mut bytes))),
            _ => Value::Null,
        });
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_are_found_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Arc::new(Sealer::new(
            airlock_model::TenantId::new("t"),
            airlock_model::MigrationId::new("m"),
            airlock_vault::DataKey::generate().unwrap(),
        ));
        let store = AppRows::create(&dir.path().join("apps.db"), sealer).unwrap();
        let columns: Arc<[String]> =
            vec!["ID".to_owned(), "NAME".to_owned(), "AT".to_owned()].into();
        let rows: Vec<Vec<Value>> = (0..2500)
            .map(|i| {
                vec![
                    Value::Integer(i + 1),
                    Value::String(format!("team {i} ✓")),
                    if i % 2 == 0 {
                        Value::Timestamp(i)
                    } else {
                        Value::Null
                    },
                ]
            })
            .collect();
        for (n, chunk) in rows.chunks(1000).enumerate() {
            store
                .insert(&AoBatch {
                    table: "AO_X_T".into(),
                    columns: columns.clone(),
                    offset: n as u64 * 1000,
                    rows: chunk.to_vec(),
                })
                .unwrap();
        }
        assert_eq!(store.tables().unwrap(), vec!["AO_X_T".to_owned()]);
        let b = store.batch("AO_X_T", 2000, 1000).unwrap().unwrap();
        assert_eq!(b.rows, rows[2000..]);
        assert!(store.batch("AO_X_T", 2500, 1000).unwrap().is_none());
        assert_eq!(store.get("AO_X_T", 7).unwrap().1, rows[6]);
        assert!(store.exists("AO_X_T", 2500));
        assert!(!store.exists("AO_X_T", 2501));
        assert!(store.get("AO_Y_T", 1).is_none());

        // By a column's value: every match, ordered by ID, capped, nothing for a miss.
        let at = |i: i64| Value::Timestamp(i);
        let (cols, found) = store
            .try_find("AO_X_T", "AT", &[at(10), at(4), at(3), at(10)], 100)
            .unwrap()
            .unwrap();
        assert_eq!(cols, columns);
        assert_eq!(found, vec![rows[4].clone(), rows[10].clone()]);
        let (_, nulls) = store
            .try_find("AO_X_T", "AT", &[Value::Null], 10)
            .unwrap()
            .unwrap();
        assert_eq!(nulls.len(), 10, "capped at max_rows");
        let (_, none) = store
            .try_find("AO_X_T", "NOPE", &[at(4)], 10)
            .unwrap()
            .unwrap();
        assert!(none.is_empty());
        assert!(
            store
                .try_find("AO_Y_T", "AT", &[at(4)], 10)
                .unwrap()
                .is_none()
        );
    }
}
