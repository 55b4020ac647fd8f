//! Hostile test plugin: migrates rows normally, then panics on the batch's third row.
//!
//! Rows become app documents `data/<ID>` = `{id, name}`; the panic on the third row (a
//! Wasm trap, as panics abort on `wasm32-wasip2`) comes after two outputs were built. The
//! host must report a **trap**, fail only this batch, keep none of its partial outputs and
//! go on with the next batch in a fresh instance. Batches of fewer than three rows migrate.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows, json,
};

/// The app key; its one table is `AO_8A8014_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.trap-mid-batch";

pub struct TrapMidBatch;

impl Migrator for TrapMidBatch {
    fn manifest() -> Manifest {
        Manifest::new(
            APP_KEY,
            "Hostile: trap mid-batch",
            env!("CARGO_PKG_VERSION"),
        )
        .table("DATA")
        .namespace(Namespace::USER)
        .scope(DataScope::AppDataOther)
        .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let mut outputs = Vec::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            if index == 2 {
                panic!("hostile plugin: trapping on the batch's third row");
            }
            let id = row.id()?;
            let name = row.str("NAME")?;
            outputs.push(Output::app_document(
                "data",
                id,
                json!({ "id": id, "name": name }),
            ));
        }
        Ok(outputs)
    }
}

airlock_sdk::export_migrator!(TrapMidBatch);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_sdk::testing::TestHost;

    fn rows(n: i64) -> Rows {
        let mut rows = Rows::new(["ID", "NAME"]);
        for id in 1..=n {
            rows.push(vec![id.into(), format!("row {id}").into()]);
        }
        rows
    }

    fn table() -> String {
        airlock_sdk::ao_table(APP_KEY, "DATA")
    }

    #[test]
    fn two_rows_migrate() {
        let outputs = TestHost::new()
            .migrate::<TrapMidBatch>(&table(), &rows(2))
            .unwrap();
        assert_eq!(outputs.len(), 2);
    }

    #[test]
    #[should_panic(expected = "third row")]
    fn the_third_row_traps() {
        let _ = TestHost::new().migrate::<TrapMidBatch>(&table(), &rows(5));
    }
}
