//! A native stand-in for the Airlock host, so vendors unit-test their migrator with plain
//! `cargo test`. It enforces what the real host enforces about the manifest (declared
//! tables; namespaces that are known and declared, by the very rules the host applies,
//! from `airlock-contract`) and panics with the reason the host would give, so a test
//! fails where production would stop the plugin.

use crate::ctx::{Ctx, Host, Level, Namespace};
use crate::output::{Finding, Output, PluginError};
use crate::rows::{Rows, Value};
use crate::{Manifest, Migrator, ao_prefix};
use std::borrow::Cow;
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
    exists_calls: RefCell<Vec<(String, Vec<i64>)>>,
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

    /// Runs `analyze` on a batch of `table`, as the host would: the rows know their table
    /// and the manifest's optional columns (see [`Rows::in_table`]).
    pub fn analyze<M: Migrator>(&self, table: &str, rows: &Rows) -> Vec<Finding> {
        let guard = self.enter::<M>(table);
        M::analyze(
            &Ctx::for_migrator::<M>(&guard),
            table,
            &in_table::<M>(rows, table),
        )
    }

    /// Runs `migrate` on a batch of `table`, as the host would.
    pub fn migrate<M: Migrator>(
        &self,
        table: &str,
        rows: &Rows,
    ) -> Result<Vec<Output>, PluginError> {
        let guard = self.enter::<M>(table);
        M::migrate(
            &Ctx::for_migrator::<M>(&guard),
            table,
            &in_table::<M>(rows, table),
        )
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

    /// The `exists` calls made so far: (table, ids).
    pub fn exists_calls(&self) -> Vec<(String, Vec<i64>)> {
        self.exists_calls.borrow().clone()
    }

    /// Forgets the calls counted so far (host calls, resolves, gets and logs), e.g.
    /// between two batches of one test.
    pub fn reset_calls(&self) {
        *self.host_calls.borrow_mut() = 0;
        self.resolve_calls.borrow_mut().clear();
        self.get_calls.borrow_mut().clear();
        self.exists_calls.borrow_mut().clear();
        self.logs.borrow_mut().clear();
    }

    fn enter<M: Migrator>(&self, table: &str) -> Enforcing<'_> {
        let manifest = M::manifest();
        // The host parses the manifest's namespaces when it loads the plugin.
        let namespaces = Namespace::parse_declared(&manifest.namespaces)
            .unwrap_or_else(|e| panic!("the host would refuse the plugin: invalid manifest: {e}"));
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
            namespaces,
        }
    }
}

/// The batch as the host hands it over: placed in its table (rows already placed there
/// are used as they are, so a benchmark can prepare them once).
fn in_table<'r, M: Migrator>(rows: &'r Rows, table: &str) -> Cow<'r, Rows> {
    if rows.table() == Some(table) {
        Cow::Borrowed(rows)
    } else {
        Cow::Owned(rows.clone().in_table::<M>(table))
    }
}

/// The host refuses a call of more ids than this; so does the harness.
fn check_id_count(call: &str, ids: usize) {
    assert!(
        ids <= airlock_contract::MAX_IDS_PER_CALL,
        "host-call-limit: `{call}` was sent {ids} ids in one call; the most is {} (use `Ctx::resolve` / `Ctx::existing`, which split)",
        airlock_contract::MAX_IDS_PER_CALL
    );
}

/// The test host seen through one plugin's manifest.
struct Enforcing<'h> {
    host: &'h TestHost,
    manifest: Manifest,
    /// The manifest's namespaces, as the host parsed them at load.
    namespaces: Vec<Namespace>,
}

impl Host for Enforcing<'_> {
    fn resolve(&self, namespace: &str, ids: &[&str]) -> Vec<Option<String>> {
        *self.host.host_calls.borrow_mut() += 1;
        check_id_count("mappings.resolve", ids.len());
        self.host.resolve_calls.borrow_mut().push((
            namespace.to_owned(),
            ids.iter().map(|id| id.to_string()).collect(),
        ));
        // The host's rule and words (`Cause::AccessDenied`).
        if let Err(e) = Namespace::find_declared(&self.namespaces, namespace) {
            panic!("access denied: {e}");
        }
        let map = self.host.mappings.get(namespace);
        ids.iter()
            .map(|id| map.and_then(|m| m.get(*id)).cloned())
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

    fn exists(&self, table: &str, ids: &[i64]) -> Vec<bool> {
        *self.host.host_calls.borrow_mut() += 1;
        check_id_count("app-data.exists", ids.len());
        self.host
            .exists_calls
            .borrow_mut()
            .push((table.to_owned(), ids.to_vec()));
        assert!(
            self.manifest.tables.iter().any(|t| t == table),
            "access denied: the plugin read table {table}, which its manifest does not declare"
        );
        let rows = self.host.tables.get(table).map(|(_, rows)| rows);
        ids.iter()
            .map(|id| rows.is_some_and(|r| r.contains_key(id)))
            .collect()
    }

    fn log(&self, level: Level, message: &str) {
        *self.host.host_calls.borrow_mut() += 1;
        self.host
            .logs
            .borrow_mut()
            .push((level, message.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataScope, OutputKind, ao_table};

    const KEY: &str = "com.example.sdk-tests";

    /// Resolves the `USER_KEY`s of a batch twice: deduplicated, then raw.
    struct Resolver;

    impl Migrator for Resolver {
        fn manifest() -> Manifest {
            Manifest::new(KEY, "t", "1")
                .table("DATA")
                .namespace(Namespace::USER)
                .scope(DataScope::AppDataOther)
                .output(OutputKind::AppProperty)
        }

        fn migrate(ctx: &Ctx, _: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
            let keys: Vec<&str> = rows
                .iter()
                .map(|r| r.str("USER_KEY"))
                .collect::<Result<_, _>>()?;
            let unique = ctx.resolve(Namespace::USER, keys.iter().copied());
            let raw = ctx.resolve_raw(Namespace::USER, &keys);
            let via_unique: Vec<Option<&str>> = keys.iter().map(|k| unique.get(k)).collect();
            let via_raw: Vec<Option<&str>> = raw.iter().map(Option::as_deref).collect();
            assert_eq!(via_unique, via_raw);
            Ok(vec![Output::app_property(
                "n",
                serde_json::json!({ "resolved": unique.len() }),
            )])
        }
    }

    fn batch(keys: &[&str]) -> Rows {
        let mut rows = Rows::new(["ID", "USER_KEY"]);
        for (id, key) in keys.iter().enumerate() {
            rows.push(vec![Value::Integer(id as i64), (*key).into()]);
        }
        rows
    }

    #[test]
    fn resolve_dedups_and_resolve_raw_forwards_exactly() {
        let host = TestHost::new().map(Namespace::USER, "a", "cloud-a").map(
            Namespace::USER,
            "b",
            "cloud-b",
        );
        let rows = batch(&["b", "a", "b", "zzz"]);
        let outputs = host
            .migrate::<Resolver>(&ao_table(KEY, "DATA"), &rows)
            .unwrap();
        assert_eq!(
            outputs,
            [Output::AppProperty {
                key: "n".into(),
                value: r#"{"resolved":2}"#.into()
            }]
        );
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            host.resolve_calls(),
            [
                // Deduplicated, in first-seen order.
                ("identity:user".into(), strings(&["b", "a", "zzz"])),
                ("identity:user".into(), strings(&["b", "a", "b", "zzz"])),
            ]
        );
        assert_eq!(host.host_calls(), 2);
        host.reset_calls();
        assert_eq!(host.host_calls(), 0);
        assert!(host.resolve_calls().is_empty());
    }

    #[test]
    fn an_empty_resolve_makes_no_call_but_a_raw_one_does() {
        let host = TestHost::new();
        host.migrate::<Resolver>(&ao_table(KEY, "DATA"), &batch(&[]))
            .unwrap();
        assert_eq!(
            host.resolve_calls(),
            [("identity:user".to_owned(), Vec::<String>::new())]
        );
    }

    #[test]
    #[should_panic(expected = "its manifest does not list it")]
    fn undeclared_tables_are_not_called() {
        let _ = TestHost::new().migrate::<Resolver>("AO_000000_DATA", &batch(&[]));
    }

    /// Declares a table outside its prefix.
    struct Squatter;

    impl Migrator for Squatter {
        fn manifest() -> Manifest {
            Manifest::new(KEY, "t", "1").raw_table("AO_60DB71_RAPIDVIEW")
        }

        fn migrate(_: &Ctx, _: &str, _: &Rows) -> Result<Vec<Output>, PluginError> {
            Ok(Vec::new())
        }
    }

    #[test]
    #[should_panic(expected = "outside its prefix")]
    fn foreign_tables_in_the_manifest_are_refused() {
        let _ = TestHost::new().migrate::<Squatter>("AO_60DB71_RAPIDVIEW", &batch(&[]));
    }

    /// Reads a table row and logs.
    struct Reader;

    impl Migrator for Reader {
        fn manifest() -> Manifest {
            Manifest::new(KEY, "t", "1").table("DATA").table("TEAM")
        }

        fn migrate(ctx: &Ctx, _: &str, _: &Rows) -> Result<Vec<Output>, PluginError> {
            let team = ao_table(KEY, "TEAM");
            let name = ctx.get_row(&team, 7, |row| {
                assert_eq!(row.columns(), ["ID", "NAME"]);
                row.str("NAME").map(str::to_owned)
            });
            assert_eq!(ctx.get_row(&team, 8, |_| ()), None);
            ctx.info("read");
            Ok(vec![Output::app_property(
                "name",
                serde_json::json!(name.transpose()?),
            )])
        }
    }

    #[test]
    fn get_row_reads_declared_tables_and_logs_are_kept() {
        let team = ao_table(KEY, "TEAM");
        let host = TestHost::new().table(
            &team,
            &Rows::new(["ID", "NAME"]).row([7.into(), "Platform".into()]),
        );
        let outputs = host.migrate::<Reader>(&ao_table(KEY, "DATA"), &batch(&[]));
        assert_eq!(
            outputs.unwrap(),
            [Output::AppProperty {
                key: "name".into(),
                value: r#""Platform""#.into()
            }]
        );
        assert_eq!(host.get_calls(), [(team.clone(), 7), (team, 8)]);
        assert_eq!(host.logs(), [(Level::Info, "read".to_owned())]);
        assert_eq!(host.host_calls(), 3);
    }

    /// Declares a namespace with a typo.
    struct MisspelledInManifest;

    impl Migrator for MisspelledInManifest {
        fn manifest() -> Manifest {
            Manifest::new(KEY, "t", "1")
                .table("DATA")
                .namespace(Namespace::named("jira:isue"))
        }

        fn migrate(_: &Ctx, _: &str, _: &Rows) -> Result<Vec<Output>, PluginError> {
            Ok(Vec::new())
        }
    }

    /// The host refuses this plugin at load (`invalid manifest`); so does `cargo test`.
    #[test]
    #[should_panic(
        expected = "the host would refuse the plugin: invalid manifest: unknown mapping namespace `jira:isue` (did you mean `jira:issue`?"
    )]
    fn a_misspelled_namespace_in_the_manifest_fails_the_test() {
        let _ =
            TestHost::new().migrate::<MisspelledInManifest>(&ao_table(KEY, "DATA"), &batch(&[]));
    }

    /// Declares `identity:user` but resolves a misspelling of it.
    struct MisspelledInResolve;

    impl Migrator for MisspelledInResolve {
        fn manifest() -> Manifest {
            Manifest::new(KEY, "t", "1")
                .table("DATA")
                .namespace(crate::namespaces::USER)
        }

        fn migrate(ctx: &Ctx, _: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
            let keys: Vec<&str> = rows
                .iter()
                .map(|r| r.str("USER_KEY"))
                .collect::<Result<_, _>>()?;
            ctx.resolve(Namespace::named("identity:users"), keys);
            Ok(Vec::new())
        }
    }

    /// The host stops the batch (`Cause::AccessDenied`, worded by the contract's rule).
    #[test]
    #[should_panic(
        expected = "access denied: namespace `identity:users` is not declared in the plugin's manifest"
    )]
    fn a_misspelled_namespace_in_a_resolve_fails_the_test() {
        let _ = TestHost::new()
            .map(Namespace::USER, "a", "cloud-a")
            .migrate::<MisspelledInResolve>(&ao_table(KEY, "DATA"), &batch(&["a"]));
    }

    /// Reads `COLOR`, optional in its manifest, from its batch and through `get_row`.
    struct Colors;

    impl Migrator for Colors {
        fn manifest() -> Manifest {
            Manifest::new(KEY, "t", "1")
                .table("DATA")
                .table("TEAM")
                .optional_column("DATA", "COLOR")
                .optional_column("TEAM", "COLOR")
        }

        fn migrate(ctx: &Ctx, _: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
            let team = ao_table(KEY, "TEAM");
            rows.iter()
                .map(|row| {
                    let id = row.id()?;
                    let team_color = ctx
                        .get_row(&team, id, |team| {
                            team.opt_str("COLOR").map(|c| c.map(str::to_owned))
                        })
                        .transpose()?
                        .flatten();
                    Ok(Output::app_property(
                        format!("color-{id}"),
                        serde_json::json!({ "own": row.opt_str("COLOR")?, "team": team_color }),
                    ))
                })
                .collect()
        }
    }

    #[test]
    fn the_harness_reads_absent_optional_columns_as_the_host_does() {
        let host = TestHost::new().table(
            &ao_table(KEY, "TEAM"),
            &Rows::new(["ID", "NAME"]).row([1.into(), "Platform".into()]),
        );
        let rows = Rows::new(["ID"]).row([1.into()]);
        let outputs = host
            .migrate::<Colors>(&ao_table(KEY, "DATA"), &rows)
            .unwrap();
        assert_eq!(
            outputs,
            [Output::AppProperty {
                key: "color-1".into(),
                value: r#"{"own":null,"team":null}"#.into()
            }]
        );
        // A manifest that does not mark COLOR optional makes the same batch a bad row.
        let e = TestHost::new()
            .migrate::<StrictColors>(&ao_table(KEY, "DATA"), &rows)
            .unwrap_err();
        assert_eq!(e.code, "bad-row");
        assert_eq!(
            e.message,
            format!(
                "column COLOR: no such column in table {}; if some versions of the app lack it, \
                 mark it optional in the manifest (`.optional_column(\"DATA\", \"COLOR\")`) \
                 and read it with an `opt_` accessor (row ID 1)",
                ao_table(KEY, "DATA")
            )
        );
    }

    /// Reads `COLOR` without marking it optional.
    struct StrictColors;

    impl Migrator for StrictColors {
        fn manifest() -> Manifest {
            Manifest::new(KEY, "t", "1").table("DATA")
        }

        fn migrate(_: &Ctx, _: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
            for row in rows.iter() {
                row.opt_str("COLOR")?;
            }
            Ok(Vec::new())
        }
    }
}
