//! A native stand-in for the Airlock host, so vendors unit-test their migrator with plain
//! `cargo test`. It enforces what the real host enforces about the manifest (declared
//! tables and namespaces) and panics with the reason the host would give, so a test fails
//! where production would stop the plugin.

use crate::ctx::{Ctx, Host, Level, Namespace};
use crate::output::{Finding, Output, PluginError};
use crate::rows::{Rows, Value};
use crate::{Manifest, Migrator, ao_prefix};
use std::cell::RefCell;
use std::collections::HashMap;

/// One app table: its columns and its rows by `ID`.
type Table = (Vec<String>, HashMap<i64, Vec<Value>>);

/// Mappings and app tables for a test, plus the log lines a plugin wrote.
#[derive(Default)]
pub struct TestHost {
    mappings: HashMap<String, HashMap<String, String>>,
    tables: HashMap<String, Table>,
    logs: RefCell<Vec<(Level, String)>>,
    host_calls: RefCell<u64>,
    resolve_calls: RefCell<Vec<(String, Vec<String>)>>,
    get_calls: RefCell<Vec<(String, i64)>>,
}

impl TestHost {
    pub fn new() -> TestHost {
        TestHost::default()
    }

    /// Records one server id → cloud id mapping.
    pub fn map(mut self, namespace: Namespace, server_id: &str, cloud_id: &str) -> TestHost {
        self.insert_mapping(namespace.as_str(), server_id, cloud_id);
        self
    }

    pub fn insert_mapping(&mut self, namespace: &str, server_id: &str, cloud_id: &str) {
        self.mappings
            .entry(namespace.to_owned())
            .or_default()
            .insert(server_id.to_owned(), cloud_id.to_owned());
    }

    /// Makes a table's rows readable through `Ctx::get_row` (they need an `ID` column).
    pub fn table(mut self, table: &str, rows: &Rows) -> TestHost {
        self.insert_table(table, rows);
        self
    }

    pub fn insert_table(&mut self, table: &str, rows: &Rows) {
        let by_id = rows
            .iter()
            .map(|row| {
                let id = row.id().expect("app table rows need an integer ID");
                (id, row.values().to_vec())
            })
            .collect();
        self.tables
            .insert(table.to_owned(), (rows.columns().to_vec(), by_id));
    }

    pub fn analyze<M: Migrator>(&self, table: &str, rows: &Rows) -> Vec<Finding> {
        let guard = self.enter::<M>(table);
        M::analyze(&Ctx::new(&guard), table, rows)
    }

    pub fn migrate<M: Migrator>(
        &self,
        table: &str,
        rows: &Rows,
    ) -> Result<Vec<Output>, PluginError> {
        let guard = self.enter::<M>(table);
        M::migrate(&Ctx::new(&guard), table, rows)
    }

    /// The log lines written so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.logs.borrow().clone()
    }

    /// Host calls (resolve, get, log) made so far.
    pub fn host_calls(&self) -> u64 {
        *self.host_calls.borrow()
    }

    /// Every `mappings.resolve` call made so far: the namespace and the ids exactly as
    /// sent, so a test can check that a batch resolves in bulk.
    pub fn resolve_calls(&self) -> Vec<(String, Vec<String>)> {
        self.resolve_calls.borrow().clone()
    }

    /// Every `app-data.get` call made so far: the table and the `ID`.
    pub fn get_calls(&self) -> Vec<(String, i64)> {
        self.get_calls.borrow().clone()
    }

    /// Forgets the calls counted so far (host calls, resolves, gets and logs), e.g.
    /// between two batches of one test.
    pub fn reset_calls(&self) {
        *self.host_calls.borrow_mut() = 0;
        self.resolve_calls.borrow_mut().clear();
        self.get_calls.borrow_mut().clear();
        self.logs.borrow_mut().clear();
    }

    fn enter<M: Migrator>(&self, table: &str) -> Enforcing<'_> {
        let manifest = M::manifest();
        let prefix = format!("{}_", ao_prefix(&manifest.app_key));
        for declared in &manifest.tables {
            assert!(
                declared.starts_with(&prefix),
                "the host would refuse the plugin: its manifest declares table {declared}, outside its prefix {prefix}"
            );
        }
        assert!(
            manifest.tables.iter().any(|t| t == table),
            "the host would not call the plugin with table {table}: its manifest does not list it"
        );
        Enforcing {
            host: self,
            manifest,
        }
    }
}

/// The test host seen through one plugin's manifest.
struct Enforcing<'h> {
    host: &'h TestHost,
    manifest: Manifest,
}

impl Host for Enforcing<'_> {
    fn resolve(&self, namespace: &str, ids: &[String]) -> Vec<Option<String>> {
        *self.host.host_calls.borrow_mut() += 1;
        self.host
            .resolve_calls
            .borrow_mut()
            .push((namespace.to_owned(), ids.to_vec()));
        assert!(
            self.manifest.namespaces.iter().any(|n| n == namespace),
            "access denied: the plugin resolved namespace {namespace}, which its manifest does not declare"
        );
        let map = self.host.mappings.get(namespace);
        ids.iter()
            .map(|id| map.and_then(|m| m.get(id)).cloned())
            .collect()
    }

    fn get(&self, table: &str, id: i64) -> Option<(Vec<String>, Vec<Value>)> {
        *self.host.host_calls.borrow_mut() += 1;
        self.host
            .get_calls
            .borrow_mut()
            .push((table.to_owned(), id));
        assert!(
            self.manifest.tables.iter().any(|t| t == table),
            "access denied: the plugin read table {table}, which its manifest does not declare"
        );
        let (columns, rows) = self.host.tables.get(table)?;
        rows.get(&id)
            .map(|values| (columns.clone(), values.clone()))
    }

    fn log(&self, level: Level, message: &str) {
        *self.host.host_calls.borrow_mut() += 1;
        self.host
            .logs
            .borrow_mut()
            .push((level, message.to_owned()));
    }
}
