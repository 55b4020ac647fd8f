//! Benchmark plugin: measures the cost of one `mappings.resolve` host call per id.
//!
//! One table, `DATA` (`ID` integer, `USER_KEY` string, optional `ROUNDS` integer).
//! `migrate-batch` sends every `USER_KEY` of the batch to the host in **one** `resolve`
//! call in `identity:user`, exactly as given (no deduplication, via
//! [`airlock_sdk::Ctx::resolve_raw`]), and returns one app property `resolved` =
//! `{"count": <ids that resolved>}`. If the first row has `ROUNDS` = n, it makes the same
//! call n times: the benchmark subtracts a one-round batch from an n-round batch, which
//! leaves the cost of the calls alone.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows, json,
};

/// The app key; its one table is `AO_C63F78_DATA`.
pub const APP_KEY: &str = "com.airlock.bench.resolve";

/// The full name of the plugin's one table.
pub const TABLE: &str = "AO_C63F78_DATA";

pub struct BenchResolve;

impl Migrator for BenchResolve {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Bench: resolve", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .namespace(Namespace::USER)
            .scope(DataScope::MigrationTracingIdentity)
            .output(OutputKind::AppProperty)
    }

    fn migrate(ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let ids = rows
            .iter()
            .map(|row| row.str("USER_KEY"))
            .collect::<Result<Vec<&str>, _>>()?;
        let rounds = match rows.get(0) {
            Some(first) if first.value("ROUNDS").is_some() => first.opt_i64("ROUNDS")?.unwrap_or(1),
            _ => 1,
        };
        let mut count = 0;
        for _ in 0..rounds.max(1) {
            count = ctx
                .resolve_raw(Namespace::USER, &ids)
                .iter()
                .filter(|cloud| cloud.is_some())
                .count();
        }
        Ok(vec![Output::app_property(
            "resolved",
            json!({ "count": count }),
        )])
    }
}

airlock_sdk::export_migrator!(BenchResolve);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_sdk::testing::TestHost;

    #[test]
    fn table_name_matches_the_derived_prefix() {
        assert_eq!(airlock_sdk::ao_table(APP_KEY, "DATA"), TABLE);
        assert_eq!(BenchResolve::manifest().tables, [TABLE]);
    }

    #[test]
    fn resolves_every_id_in_one_call_without_dedup() {
        let host = TestHost::new()
            .map(Namespace::USER, "admin", "acc-admin")
            .map(Namespace::USER, "JIRAUSER10000", "acc-10000");
        let rows = Rows::new(["ID", "USER_KEY"])
            .row([1.into(), "admin".into()])
            .row([2.into(), "admin".into()])
            .row([3.into(), "nobody".into()])
            .row([4.into(), "JIRAUSER10000".into()]);
        let outputs = host.migrate::<BenchResolve>(TABLE, &rows).unwrap();
        assert_eq!(
            outputs,
            [Output::AppProperty {
                key: "resolved".into(),
                value: r#"{"count":3}"#.into(),
            }]
        );
        assert_eq!(host.host_calls(), 1);
        assert_eq!(
            host.resolve_calls(),
            [(
                "identity:user".to_owned(),
                ["admin", "admin", "nobody", "JIRAUSER10000"]
                    .map(String::from)
                    .to_vec()
            )]
        );
    }

    #[test]
    fn rounds_repeat_the_call() {
        let host = TestHost::new().map(Namespace::USER, "admin", "acc-admin");
        let rows = Rows::new(["ID", "USER_KEY", "ROUNDS"])
            .row([1.into(), "admin".into(), 3.into()])
            .row([2.into(), "admin".into(), airlock_sdk::Value::Null]);
        let outputs = host.migrate::<BenchResolve>(TABLE, &rows).unwrap();
        assert_eq!(
            outputs,
            [Output::AppProperty {
                key: "resolved".into(),
                value: r#"{"count":2}"#.into(),
            }]
        );
        assert_eq!(host.resolve_calls().len(), 3);
    }

    #[test]
    fn an_empty_batch_still_makes_the_call() {
        let host = TestHost::new();
        let outputs = host
            .migrate::<BenchResolve>(TABLE, &Rows::new(["ID", "USER_KEY"]))
            .unwrap();
        assert_eq!(outputs.len(), 1);
        assert_eq!(host.resolve_calls().len(), 1);
    }
}
