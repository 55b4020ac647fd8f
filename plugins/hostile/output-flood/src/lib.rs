//! Hostile test plugin: `migrate-batch` returns about 24 MiB of outputs, whatever the
//! batch holds: 24,576 app documents whose body is a 1 KiB JSON string.
//!
//! The guest itself stays near 26 MiB of linear memory (well under 64 MiB), so it is the
//! host's **output quota** per batch that must refuse the result, not the memory cap.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};

/// The app key; its one table is `AO_8ED89F_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.output-flood";

/// Documents per batch.
pub const DOCUMENTS: usize = 24_576;

/// Bytes of each document's body: a JSON string of 1,022 characters and its quotes.
pub const BODY_BYTES: usize = 1_024;

pub struct OutputFlood;

impl Migrator for OutputFlood {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Hostile: output flood", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .namespace(Namespace::USER)
            .scope(DataScope::AppDataOther)
            .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, _rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let body = format!("\"{}\"", "x".repeat(BODY_BYTES - 2));
        Ok((0..DOCUMENTS)
            .map(|n| Output::AppDocument {
                collection: "flood".to_owned(),
                id: n.to_string(),
                body: body.clone(),
            })
            .collect())
    }
}

airlock_sdk::export_migrator!(OutputFlood);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_sdk::testing::TestHost;

    #[test]
    fn floods_about_24_mib() {
        let table = airlock_sdk::ao_table(APP_KEY, "DATA");
        let rows = Rows::new(["ID", "NAME"]).row([1.into(), "a".into()]);
        let outputs = TestHost::new()
            .migrate::<OutputFlood>(&table, &rows)
            .unwrap();
        assert_eq!(outputs.len(), DOCUMENTS);
        let bytes: usize = outputs.iter().map(Output::size).sum();
        assert!((24 << 20..26 << 20).contains(&bytes), "{bytes}");
        let Output::AppDocument { body, .. } = &outputs[0] else {
            panic!("a document")
        };
        assert_eq!(body.len(), BODY_BYTES);
        assert!(airlock_sdk::serde_json::from_str::<String>(body).is_ok());
    }
}
