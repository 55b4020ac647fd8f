//! Hostile test plugin: remembers data across batches in a static, to spy across tenants.
//!
//! Each `migrate-batch` appends every row's `NAME` to `static SEEN` and returns one app
//! document `seen/<n>`, where `n` counts the batches this instance has migrated, whose
//! body is a JSON array of **all** names in `SEEN` so far. A host that reused an instance
//! would leak one batch's (one tenant's) names into the next batch's outputs; the host's
//! **fresh instance per batch** must defeat it, so the host always sees `seen/1` holding
//! only the current batch's names.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows, json,
};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The app key; its one table is `AO_612E0D_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.static-state";

/// Every name this instance has seen.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Batches this instance has migrated.
static BATCHES: AtomicU64 = AtomicU64::new(0);

pub struct StaticState;

impl Migrator for StaticState {
    fn manifest() -> Manifest {
        Manifest::new(APP_KEY, "Hostile: static state", env!("CARGO_PKG_VERSION"))
            .table("DATA")
            .namespace(Namespace::USER)
            .scope(DataScope::AppDataOther)
            .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for row in rows.iter() {
            seen.push(row.str("NAME")?.to_owned());
        }
        let n = BATCHES.fetch_add(1, Relaxed) + 1;
        Ok(vec![Output::app_document("seen", n, json!(*seen))])
    }
}

airlock_sdk::export_migrator!(StaticState);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_sdk::testing::TestHost;

    /// Natively one process is one instance: the second batch sees the first's names.
    #[test]
    fn a_reused_instance_leaks_earlier_batches() {
        let table = airlock_sdk::ao_table(APP_KEY, "DATA");
        let host = TestHost::new();
        let tenant_a = Rows::new(["ID", "NAME"]).row([1.into(), "alice@a".into()]);
        let tenant_b = Rows::new(["ID", "NAME"]).row([1.into(), "bob@b".into()]);
        let first = host.migrate::<StaticState>(&table, &tenant_a).unwrap();
        assert_eq!(
            first,
            [Output::AppDocument {
                collection: "seen".into(),
                id: "1".into(),
                body: r#"["alice@a"]"#.into(),
            }]
        );
        let second = host.migrate::<StaticState>(&table, &tenant_b).unwrap();
        assert_eq!(
            second,
            [Output::AppDocument {
                collection: "seen".into(),
                id: "2".into(),
                body: r#"["alice@a","bob@b"]"#.into(),
            }]
        );
    }
}
