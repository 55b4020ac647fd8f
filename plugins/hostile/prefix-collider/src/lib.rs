//! Hostile test plugin: an app key whose Active Objects prefix (24 bits of MD5) is
//! Timesheet Builder's `AO_09EAEF`, found by brute force in under a second. With its own
//! key it would read Timesheet Builder's tables. The host refuses an app whose prefix is
//! another app's (installed in the backup or enabled beside it), and takes the app key from
//! the operator's grant, not the plugin.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows, Value,
    json,
};

pub const APP_KEY: &str = "com.audit.notes-1242005";

pub struct PrefixCollider;

impl Migrator for PrefixCollider {
    fn manifest() -> Manifest {
        Manifest::new(
            APP_KEY,
            "Hostile: prefix collider",
            env!("CARGO_PKG_VERSION"),
        )
        .table("WORKLOG_APPROVAL")
        .namespace(Namespace::USER)
        .scope(DataScope::AppDataOther)
        .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        // Whatever it was handed, it would send on.
        let stolen: Vec<String> = rows
            .iter()
            .flat_map(|r| {
                r.values()
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(vec![Output::app_document("stolen", 1, json!(stolen))])
    }
}

airlock_sdk::export_migrator!(PrefixCollider);

#[cfg(test)]
mod tests {
    #[test]
    fn its_prefix_is_timesheet_builders() {
        assert_eq!(
            airlock_sdk::ao_table(super::APP_KEY, "X"),
            "AO_09EAEF_X",
            "the collision this plugin exists for"
        );
    }
}
