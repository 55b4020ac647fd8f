//! Between WIT types and the host's model types; the one place that knows both.

use crate::bindings::{v2, wit};
use crate::manifest::{Contract, Manifest, RequestedLimits};
use airlock_model::{
    AppFinding, AppKey, AppOutput, DataScope, EntityKind, Namespace, Severity, Value,
};

pub(crate) fn value_from_wit(v: wit::Value) -> Value {
    match v {
        wit::Value::Null => Value::Null,
        wit::Value::String(s) => Value::String(s),
        wit::Value::Integer(i) => Value::Integer(i),
        wit::Value::Double(d) => Value::Double(d),
        wit::Value::Boolean(b) => Value::Boolean(b),
        wit::Value::Timestamp(t) => Value::Timestamp(t),
    }
}

pub(crate) fn value_to_wit(v: &Value) -> wit::Value {
    match v {
        Value::Null => wit::Value::Null,
        Value::String(s) => wit::Value::String(s.clone()),
        Value::Integer(i) => wit::Value::Integer(*i),
        Value::Double(d) => wit::Value::Double(*d),
        Value::Boolean(b) => wit::Value::Boolean(*b),
        Value::Timestamp(t) => wit::Value::Timestamp(*t),
    }
}

/// A batch as the plugin's `row-set` record, lowered straight from the host's values: no
/// string is copied before it reaches the plugin's memory.
#[derive(wasmtime::component::ComponentType, wasmtime::component::Lower)]
#[component(record)]
pub(crate) struct RowSetRef<'a> {
    columns: &'a [String],
    values: Vec<&'a Value>,
}

pub(crate) fn row_set<'a>(columns: &'a [String], rows: &'a [Vec<Value>]) -> RowSetRef<'a> {
    RowSetRef {
        columns,
        values: rows.iter().flatten().collect(),
    }
}

pub(crate) fn finding(table: &str, f: wit::Finding) -> AppFinding {
    AppFinding {
        severity: match f.severity {
            wit::Severity::Info => Severity::Info,
            wit::Severity::Warning => Severity::Warning,
            wit::Severity::Fatal => Severity::Fatal,
        },
        code: printable(f.code, MAX_CODE_CHARS),
        message: printable(f.message, MAX_MESSAGE_CHARS),
        table: table.to_owned(),
        row_id: f.row_id,
    }
}

pub(crate) fn output(o: wit::Output) -> AppOutput {
    match o {
        wit::Output::EntityProperty(p) => AppOutput::EntityProperty {
            entity: match p.entity {
                wit::EntityKind::Issue => EntityKind::Issue,
                wit::EntityKind::Project => EntityKind::Project,
                wit::EntityKind::User => EntityKind::User,
                wit::EntityKind::Comment => EntityKind::Comment,
                wit::EntityKind::Worklog => EntityKind::Worklog,
            },
            entity_id: p.entity_id,
            key: p.key,
            value: p.value,
        },
        wit::Output::AppProperty(p) => AppOutput::AppProperty {
            key: p.key,
            value: p.value,
        },
        wit::Output::AppDocument(d) => AppOutput::AppDocument {
            collection: d.collection,
            id: d.id,
            body: d.body,
        },
    }
}

fn scope(s: wit::DataScope) -> DataScope {
    match s {
        wit::DataScope::AppDataUgc => DataScope::AppDataUgc,
        wit::DataScope::AppDataPii => DataScope::AppDataPii,
        wit::DataScope::AppDataSecurity => DataScope::AppDataSecurity,
        wit::DataScope::AppDataOther => DataScope::AppDataOther,
        wit::DataScope::ProductDataUgc => DataScope::ProductDataUgc,
        wit::DataScope::ProductDataPii => DataScope::ProductDataPii,
        wit::DataScope::ProductDataSecurity => DataScope::ProductDataSecurity,
        wit::DataScope::ProductDataOther => DataScope::ProductDataOther,
        wit::DataScope::MigrationTracingIdentity => DataScope::MigrationTracingIdentity,
        wit::DataScope::MigrationTracingProduct => DataScope::MigrationTracingProduct,
    }
}

fn output_kind(k: wit::OutputKind) -> &'static str {
    match k {
        wit::OutputKind::EntityProperty => "entity-property",
        wit::OutputKind::AppProperty => "app-property",
        wit::OutputKind::AppDocument => "app-document",
    }
}

/// Validates a plugin's self-description: known namespaces, tables under the app's prefix.
pub(crate) fn manifest(m: wit::Manifest) -> Result<Manifest, String> {
    let app_key = AppKey::new(m.app_key);
    airlock_model::app_storage::check_app_key(&app_key)
        .map_err(|rule| format!("the app key {rule}"))?;
    let prefix = app_key.ao_prefix();
    if let Some(t) = m.tables.iter().find(|t| !prefix.owns(t)) {
        return Err(format!(
            "table `{t}` does not carry the app's Active Objects prefix {prefix}_ (derived from app key `{app_key}`)"
        ));
    }
    let namespaces = Namespace::parse_declared(&m.namespaces).map_err(|e| e.to_string())?;
    Ok(Manifest {
        app_key,
        name: printable(m.name, MAX_CODE_CHARS),
        version: printable(m.version, MAX_CODE_CHARS),
        tables: m.tables,
        namespaces,
        optional_namespaces: vec![],
        publishes: vec![],
        lookups: vec![],
        scopes: m.scopes.into_iter().map(scope).collect(),
        outputs: m.outputs.into_iter().map(output_kind).collect(),
        requested: RequestedLimits {
            fuel_per_batch: m.limits.fuel_per_batch,
            memory_bytes: m.limits.memory_bytes,
            batch_rows: m.limits.batch_rows,
        },
        contract: Contract::V1,
    })
}

/// The most entities a 2.0 manifest may publish and columns it may look rows up by.
pub(crate) const MAX_PUBLISHED_ENTITIES: usize = 32;
pub(crate) const MAX_LOOKUPS: usize = 64;

/// A 2.0 self-description: 1.0's rules, and what 2.0 adds (optional namespaces, the
/// entities it publishes under its own key, the columns it finds rows by).
pub(crate) fn manifest_v2(m: v2::wit::Manifest) -> Result<Manifest, String> {
    use v2::wit::{DataScope as S, OutputKind as O};
    let v1 = wit::Manifest {
        app_key: m.app_key,
        name: m.name,
        version: m.version,
        tables: m.tables,
        namespaces: m.namespaces,
        scopes: (m.scopes.into_iter())
            .map(|s| match s {
                S::AppDataUgc => wit::DataScope::AppDataUgc,
                S::AppDataPii => wit::DataScope::AppDataPii,
                S::AppDataSecurity => wit::DataScope::AppDataSecurity,
                S::AppDataOther => wit::DataScope::AppDataOther,
                S::ProductDataUgc => wit::DataScope::ProductDataUgc,
                S::ProductDataPii => wit::DataScope::ProductDataPii,
                S::ProductDataSecurity => wit::DataScope::ProductDataSecurity,
                S::ProductDataOther => wit::DataScope::ProductDataOther,
                S::MigrationTracingIdentity => wit::DataScope::MigrationTracingIdentity,
                S::MigrationTracingProduct => wit::DataScope::MigrationTracingProduct,
            })
            .collect(),
        outputs: (m.outputs.into_iter())
            .map(|o| match o {
                O::EntityProperty => wit::OutputKind::EntityProperty,
                O::AppProperty => wit::OutputKind::AppProperty,
                O::AppDocument => wit::OutputKind::AppDocument,
            })
            .collect(),
        limits: wit::RequestedLimits {
            fuel_per_batch: m.limits.fuel_per_batch,
            memory_bytes: m.limits.memory_bytes,
            batch_rows: m.limits.batch_rows,
        },
    };
    let mut manifest = manifest(v1)?;
    manifest.contract = Contract::V2;
    manifest.optional_namespaces =
        Namespace::parse_declared(&m.optional_namespaces).map_err(|e| e.to_string())?;
    if let Some(both) =
        (manifest.optional_namespaces.iter()).find(|n| manifest.namespaces.contains(n))
    {
        return Err(format!(
            "namespace `{both}` is both required and optional; name it once"
        ));
    }
    if m.publishes.len() > MAX_PUBLISHED_ENTITIES || m.lookups.len() > MAX_LOOKUPS {
        return Err(format!(
            "a manifest may publish at most {MAX_PUBLISHED_ENTITIES} entities and declare at most {MAX_LOOKUPS} lookups"
        ));
    }
    let key = manifest.app_key.as_str();
    manifest.publishes = (m.publishes.iter())
        .map(|entity| Namespace::app(key, entity).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    for lookup in &m.lookups {
        if !manifest.tables.contains(&lookup.table) {
            return Err(format!(
                "lookup `{}.{}` is on a table the manifest's `tables` does not list",
                lookup.table, lookup.column
            ));
        }
    }
    manifest.lookups = (m.lookups.into_iter())
        .map(|l| (l.table, l.column))
        .collect();
    Ok(manifest)
}

/// Bounds of the text a plugin hands the host (codes and names; messages and log lines).
pub(crate) const MAX_CODE_CHARS: usize = 200;
pub(crate) const MAX_MESSAGE_CHARS: usize = 2000;

/// Plugin text as the host keeps it: control characters (terminal escapes, carriage
/// returns, NULs) escaped as `\u{1b}`, so no plugin can drive an operator's terminal or
/// forge report lines, and at most `max` characters.
pub(crate) fn printable(text: String, max: usize) -> String {
    if text.len() <= max && !text.chars().any(char::is_control) {
        return text;
    }
    let mut out = String::with_capacity(text.len().min(max * 2));
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn plugin_text_is_printable_and_bounded() {
        assert_eq!(printable("plain".into(), 10), "plain");
        assert_eq!(
            printable("\u{1b}[2Jwiped\r\n".into(), 100),
            "\\u{1b}[2Jwiped\\u{d}\\u{a}"
        );
        assert_eq!(printable("abcdef".into(), 3), "abc…");
    }
}
