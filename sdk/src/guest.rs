//! The WebAssembly side: the generated bindings, the host imports behind [`Host`], and the
//! conversions between WIT types and the SDK's. Only compiled for `wasm32`.

use crate::Migrator;
use crate::ctx::{Ctx, Host, Level};
use crate::manifest::{DataScope, OutputKind};
use crate::output::{EntityKind, Finding, Output, Severity};
use crate::rows::{Rows, Value};

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_airlock_plugin",
        default_bindings_module: "::airlock_sdk::guest::bindings",
    });
}

use bindings::airlock::plugin::{app_data, log, mappings, types as wit};
pub use bindings::exports::airlock::plugin::migrator::Guest;

pub type WitManifest = wit::Manifest;
pub type WitRowSet = wit::RowSet;
pub type WitFinding = wit::Finding;
pub type WitOutput = wit::Output;
pub type WitPluginError = wit::PluginError;

/// The component's imports.
struct Imports;

impl Host for Imports {
    fn resolve(&self, namespace: &str, ids: &[String]) -> Vec<Option<String>> {
        mappings::resolve(namespace, ids)
    }

    fn get(&self, table: &str, id: i64) -> Option<(Vec<String>, Vec<Value>)> {
        app_data::get(table, id).map(|row| {
            (
                row.columns,
                row.values.into_iter().map(value_from_wit).collect(),
            )
        })
    }

    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Trace => log::Level::Trace,
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
            Level::Error => log::Level::Error,
        };
        log::write(level, message);
    }
}

pub fn describe<M: Migrator>() -> WitManifest {
    let m = M::manifest();
    wit::Manifest {
        app_key: m.app_key,
        name: m.name,
        version: m.version,
        tables: m.tables,
        namespaces: m.namespaces,
        scopes: m.scopes.into_iter().map(scope_to_wit).collect(),
        outputs: m.outputs.into_iter().map(output_kind_to_wit).collect(),
        limits: wit::RequestedLimits {
            fuel_per_batch: m.limits.fuel_per_batch,
            memory_bytes: m.limits.memory_bytes,
            batch_rows: m.limits.batch_rows,
        },
    }
}

pub fn analyze_batch<M: Migrator>(table: String, rows: WitRowSet) -> Vec<WitFinding> {
    let rows = rows_from_wit(rows);
    M::analyze(&Ctx::new(&Imports), &table, &rows)
        .into_iter()
        .map(finding_to_wit)
        .collect()
}

pub fn migrate_batch<M: Migrator>(
    table: String,
    rows: WitRowSet,
) -> Result<Vec<WitOutput>, WitPluginError> {
    let rows = rows_from_wit(rows);
    match M::migrate(&Ctx::new(&Imports), &table, &rows) {
        Ok(outputs) => Ok(outputs.into_iter().map(output_to_wit).collect()),
        Err(e) => Err(wit::PluginError {
            code: e.code,
            message: e.message,
            row_id: e.row_id,
        }),
    }
}

fn rows_from_wit(set: WitRowSet) -> Rows {
    let rows = set
        .rows
        .into_iter()
        .map(|row| row.into_iter().map(value_from_wit).collect())
        .collect();
    Rows::from_parts(set.columns, rows)
}

fn value_from_wit(v: wit::Value) -> Value {
    match v {
        wit::Value::Null => Value::Null,
        wit::Value::String(s) => Value::String(s),
        wit::Value::Integer(i) => Value::Integer(i),
        wit::Value::Double(d) => Value::Double(d),
        wit::Value::Boolean(b) => Value::Boolean(b),
        wit::Value::Timestamp(t) => Value::Timestamp(t),
    }
}

fn finding_to_wit(f: Finding) -> WitFinding {
    wit::Finding {
        severity: match f.severity {
            Severity::Info => wit::Severity::Info,
            Severity::Warning => wit::Severity::Warning,
            Severity::Fatal => wit::Severity::Fatal,
        },
        code: f.code,
        message: f.message,
        row_id: f.row_id,
    }
}

fn output_to_wit(o: Output) -> WitOutput {
    match o {
        Output::EntityProperty {
            entity,
            entity_id,
            key,
            value,
        } => wit::Output::EntityProperty(wit::EntityProperty {
            entity: match entity {
                EntityKind::Issue => wit::EntityKind::Issue,
                EntityKind::Project => wit::EntityKind::Project,
                EntityKind::User => wit::EntityKind::User,
                EntityKind::Comment => wit::EntityKind::Comment,
                EntityKind::Worklog => wit::EntityKind::Worklog,
            },
            entity_id,
            key,
            value,
        }),
        Output::AppProperty { key, value } => {
            wit::Output::AppProperty(wit::AppProperty { key, value })
        }
        Output::AppDocument {
            collection,
            id,
            body,
        } => wit::Output::AppDocument(wit::AppDocument {
            collection,
            id,
            body,
        }),
    }
}

fn scope_to_wit(s: DataScope) -> wit::DataScope {
    match s {
        DataScope::AppDataUgc => wit::DataScope::AppDataUgc,
        DataScope::AppDataPii => wit::DataScope::AppDataPii,
        DataScope::AppDataSecurity => wit::DataScope::AppDataSecurity,
        DataScope::AppDataOther => wit::DataScope::AppDataOther,
        DataScope::ProductDataUgc => wit::DataScope::ProductDataUgc,
        DataScope::ProductDataPii => wit::DataScope::ProductDataPii,
        DataScope::ProductDataSecurity => wit::DataScope::ProductDataSecurity,
        DataScope::ProductDataOther => wit::DataScope::ProductDataOther,
        DataScope::MigrationTracingIdentity => wit::DataScope::MigrationTracingIdentity,
        DataScope::MigrationTracingProduct => wit::DataScope::MigrationTracingProduct,
    }
}

fn output_kind_to_wit(k: OutputKind) -> wit::OutputKind {
    match k {
        OutputKind::EntityProperty => wit::OutputKind::EntityProperty,
        OutputKind::AppProperty => wit::OutputKind::AppProperty,
        OutputKind::AppDocument => wit::OutputKind::AppDocument,
    }
}
