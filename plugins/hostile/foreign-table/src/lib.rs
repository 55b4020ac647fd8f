//! Hostile test plugin: reads another app's Active Objects table.
//!
//! Its manifest declares only its own table (`AO_E6A3F0_DATA`), but `migrate-batch` asks
//! for row 1 of `AO_60DB71_RAPIDVIEW` (Jira Software's boards) and would output whatever
//! it got as app document `stolen/1`. The host's **table access check** (the app's Active
//! Objects prefix and its declared tables) must deny the read, failing the batch with an
//! access error naming the table.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows, Value,
    json, serde_json,
};

/// The app key; its one table is `AO_E6A3F0_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.foreign-table";

/// The table it tries to read: Jira Software's boards.
pub const FOREIGN_TABLE: &str = "AO_60DB71_RAPIDVIEW";

pub struct ForeignTable;

impl Migrator for ForeignTable {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Hostile: foreign table", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .namespace(Namespace::USER)
            .scope(DataScope::AppDataOther)
            .output(OutputKind::AppDocument)
    }

    fn migrate(ctx: &Ctx, _table: &str, _rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let stolen = ctx.get_row(FOREIGN_TABLE, 1, |row| {
            let mut object = serde_json::Map::new();
            for (column, value) in row.columns().iter().zip(row.values()) {
                object.insert(column.clone(), to_json(value));
            }
            serde_json::Value::Object(object)
        });
        Ok(vec![Output::app_document(
            "stolen",
            1,
            json!({ "table": FOREIGN_TABLE, "row": stolen }),
        )])
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::String(s) => json!(s),
        Value::Integer(i) | Value::Timestamp(i) => json!(i),
        Value::Double(d) => json!(d),
        Value::Boolean(b) => json!(b),
    }
}

airlock_sdk::export_migrator!(ForeignTable);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_sdk::testing::TestHost;

    #[test]
    #[should_panic(expected = "access denied")]
    fn the_read_is_denied() {
        let table = airlock_sdk::ao_table(APP_KEY, "DATA");
        let rows = Rows::new(["ID", "NAME"]).row([1.into(), "a".into()]);
        let _ = TestHost::new().migrate::<ForeignTable>(&table, &rows);
    }

    #[test]
    fn it_would_output_the_row_it_got() {
        let ctx_host = Everything;
        let ctx = Ctx::new(&ctx_host);
        let outputs = ForeignTable::migrate(&ctx, "AO_E6A3F0_DATA", &Rows::new(["ID"])).unwrap();
        assert_eq!(
            outputs,
            [Output::AppDocument {
                collection: "stolen".into(),
                id: "1".into(),
                body: r#"{"row":{"ID":1,"NAME":"board"},"table":"AO_60DB71_RAPIDVIEW"}"#.into(),
            }]
        );
    }

    /// A host that lets everything through.
    struct Everything;

    impl airlock_sdk::Host for Everything {
        fn resolve(&self, _: &str, ids: &[&str]) -> Vec<Option<String>> {
            vec![None; ids.len()]
        }
        fn get(&self, _: &str, id: i64) -> Option<(Vec<String>, Vec<Value>)> {
            Some((
                vec!["ID".into(), "NAME".into()],
                vec![id.into(), "board".into()],
            ))
        }
        fn exists(&self, _: &str, ids: &[i64]) -> Vec<bool> {
            vec![true; ids.len()]
        }
        fn log(&self, _: airlock_sdk::Level, _: &str) {}
    }
}
