//! Reads of the site's tables, through a second connection to its file (`LocalSite`
//! answers writes, the snapshot and source keys only). Rows come back as JSON objects
//! keyed by column name. The few changes `LocalSite` has no call for (a filter's owner,
//! the shares a global share replaces) go through the same connection ([`Reader::execute`]),
//! and so do the double's own tables (`double_*`: issue counters, and dashboards with their
//! shares, gadgets and item properties).

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ToSql};
use serde_json::{Map, Value};

pub(crate) type Row = Map<String, Value>;

pub(crate) struct Reader {
    conn: Connection,
}

impl Reader {
    pub fn open(path: &Path) -> rusqlite::Result<Reader> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.set_prepared_statement_cache_capacity(128);
        // The double's own: each project's issue counter, which Jira keeps apart from its
        // issues (deleting the last issue does not give its number again).
        conn.execute(
            "CREATE TABLE IF NOT EXISTS double_issue_counters (
                 project_id INTEGER PRIMARY KEY,
                 last INTEGER NOT NULL
             )",
            [],
        )?;
        // Dashboards, their share permissions, gadgets and gadgets' item properties: the
        // double keeps them as Cloud does (`api/dashboards.rs`), apart from the site's own
        // tables, whose dashboards are the source's shape (layout, owner-less system page).
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS double_dashboards (
                 id INTEGER PRIMARY KEY,
                 name TEXT NOT NULL,
                 description TEXT NOT NULL DEFAULT '',
                 owner_account_id TEXT NOT NULL,
                 columns INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS double_dashboard_shares (
                 id INTEGER PRIMARY KEY,
                 dashboard_id INTEGER NOT NULL,
                 edit INTEGER NOT NULL,
                 type TEXT NOT NULL,
                 group_name TEXT,
                 project_id TEXT,
                 role_id TEXT,
                 account_id TEXT
             );
             CREATE TABLE IF NOT EXISTS double_gadgets (
                 id INTEGER PRIMARY KEY,
                 dashboard_id INTEGER NOT NULL,
                 uri TEXT,
                 module_key TEXT,
                 color TEXT NOT NULL,
                 column_no INTEGER NOT NULL,
                 row_no INTEGER NOT NULL,
                 title TEXT,
                 UNIQUE (dashboard_id, column_no, row_no)
             );
             CREATE TABLE IF NOT EXISTS double_item_properties (
                 dashboard_id INTEGER NOT NULL,
                 item_id INTEGER NOT NULL,
                 key TEXT NOT NULL,
                 value TEXT NOT NULL,
                 PRIMARY KEY (dashboard_id, item_id, key)
             );",
        )?;
        Ok(Reader { conn })
    }

    /// Every row of a query.
    pub fn rows(&self, sql: &str, params: &[&dyn ToSql]) -> Vec<Row> {
        let run = || -> rusqlite::Result<Vec<Row>> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
            let mut rows = stmt.query(params)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let mut map = Map::with_capacity(names.len());
                for (i, name) in names.iter().enumerate() {
                    let v = match row.get_ref(i)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(n) => Value::from(n),
                        ValueRef::Real(f) => serde_json::Number::from_f64(f)
                            .map(Value::Number)
                            .unwrap_or(Value::Null),
                        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(_) => Value::Null,
                    };
                    map.insert(name.clone(), v);
                }
                out.push(map);
            }
            Ok(out)
        };
        // The site's schema is known; a failing read is a bug of the double: say so loudly.
        run().unwrap_or_else(|e| panic!("the double's read failed: {e} in {sql}"))
    }

    /// A change `LocalSite` has no call for. Callers hold the site's lock, so it never
    /// interleaves with a write of the site (whose caches see it by `data_version`).
    pub fn execute(&self, sql: &str, params: &[&dyn ToSql]) -> rusqlite::Result<usize> {
        self.conn.execute(sql, params)
    }

    /// Several changes `LocalSite` has no call for, all or none (callers hold the site's
    /// lock, as for [`Reader::execute`]).
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let tx = self.conn.unchecked_transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn row(&self, sql: &str, params: &[&dyn ToSql]) -> Option<Row> {
        self.rows(sql, params).into_iter().next()
    }

    pub fn exists(&self, sql: &str, params: &[&dyn ToSql]) -> bool {
        self.row(sql, params).is_some()
    }

    pub fn int(&self, sql: &str, params: &[&dyn ToSql]) -> Option<i64> {
        self.row(sql, params)
            .and_then(|r| r.values().next().and_then(Value::as_i64))
    }

    /// An issue's id from its id or key.
    pub fn issue_id(&self, id_or_key: &str) -> Option<i64> {
        match id_or_key.parse::<i64>() {
            Ok(id) => self.int("SELECT id FROM issues WHERE id = ?1", &[&id]),
            Err(_) => self.int("SELECT id FROM issues WHERE key = ?1", &[&id_or_key]),
        }
    }

    /// A project's id from its id or key: its key now or one it had (Cloud finds a
    /// renamed project by its former keys too).
    pub fn project_id(&self, id_or_key: &str) -> Option<i64> {
        match id_or_key.parse::<i64>() {
            Ok(id) => self.int("SELECT id FROM projects WHERE id = ?1", &[&id]),
            Err(_) => self
                .int("SELECT id FROM projects WHERE key = ?1", &[&id_or_key])
                .or_else(|| {
                    self.int(
                        "SELECT p.id FROM project_keys k JOIN projects p ON p.id = k.project_id
                         WHERE k.key = ?1",
                        &[&id_or_key],
                    )
                }),
        }
    }

    pub fn user_exists(&self, account: &str) -> bool {
        self.exists("SELECT 1 FROM users WHERE account_id = ?1", &[&account])
    }

    /// A custom field's numeric id from `customfield_N`.
    pub fn field_id(&self, field: &str) -> Option<i64> {
        let n: i64 = field.strip_prefix("customfield_")?.parse().ok()?;
        self.int("SELECT id FROM fields WHERE id = ?1", &[&n])
    }
}
