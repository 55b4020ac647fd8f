//! Where the sandbox's data starts: the app's tables (their columns and a few real-looking
//! rows) and the id mappings they reference. From a fixture directory when the reviewer
//! has one (the vendor's, or `airlock plugin fixture`'s), from the sample Airlock generates
//! for an app it knows, or else generic columns for each declared table.

use std::collections::BTreeMap;
use std::path::Path;

use airlock_backup::{AoReader, sql_type};
use airlock_model::{Namespace, Value};
use airlock_runtime::{Manifest, MemoryMappings};

use crate::SandboxError;

/// What a cell of a column holds, as the synthesizer varies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    Integer,
    Text,
    Double,
    Boolean,
    Timestamp,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub kind: CellKind,
    pub primary_key: bool,
    /// The declared length of a text column (`None`: long text).
    pub max_chars: Option<usize>,
    /// The mapping namespace its values are server ids of, where the sandbox can tell.
    pub references: Option<Namespace>,
}

#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// Rows to start from (the fixture's, or none for generic columns).
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }
}

/// The data every case is made from.
#[derive(Clone, Debug)]
pub struct Seed {
    /// Where it came from, for the review.
    pub source: String,
    pub tables: Vec<Table>,
    /// `namespace → server id → cloud id`.
    pub mappings: BTreeMap<Namespace, BTreeMap<String, String>>,
}

impl Seed {
    pub fn memory_mappings(&self) -> MemoryMappings {
        memory_mappings(&self.mappings)
    }

    /// The seed for `manifest`: the fixture's when given, the generated sample for an app
    /// Airlock knows, generic columns otherwise.
    pub fn for_plugin(manifest: &Manifest, fixture: Option<&Path>) -> Result<Seed, SandboxError> {
        if let Some(dir) = fixture {
            return read_fixture(dir, manifest, format!("fixture {}", dir.display()));
        }
        if manifest.app_key.as_str() == airlock_fixtures::TIMESHEET_APP_KEY {
            let dir = tempfile::tempdir().map_err(|source| SandboxError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
            let spec = airlock_fixtures::Spec::default();
            airlock_fixtures::write_plugin_fixture(dir.path(), &spec)
                .map_err(|e| SandboxError::Fixture(e.to_string()))?;
            return read_fixture(
                dir.path(),
                manifest,
                "Airlock's generated sample of this app (200 issues)".into(),
            );
        }
        Ok(generic(manifest))
    }
}

/// Mappings as the runtime looks them up.
pub fn memory_mappings(map: &BTreeMap<Namespace, BTreeMap<String, String>>) -> MemoryMappings {
    let mut m = MemoryMappings::new();
    for (ns, ids) in map {
        for (server, cloud) in ids {
            m.insert(*ns, server.clone(), cloud.clone());
        }
    }
    m
}

/// Reads `mappings.json`: `{"identity:user": {"server id": "cloud id"}, …}`.
pub fn read_mappings(
    path: &Path,
) -> Result<BTreeMap<Namespace, BTreeMap<String, String>>, SandboxError> {
    let text = std::fs::read_to_string(path).map_err(|source| SandboxError::Io {
        path: path.into(),
        source,
    })?;
    let raw: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_str(&text).map_err(|e| SandboxError::Invalid {
            path: path.into(),
            why: format!(
                "not a mappings file ({e}): expected {{\"<namespace>\": {{\"<server id>\": \"<cloud id>\"}}}}"
            ),
        })?;
    let mut mappings = BTreeMap::new();
    for (namespace, ids) in raw {
        let ns = Namespace::parse(&namespace).map_err(|e| SandboxError::Invalid {
            path: path.into(),
            why: e.to_string(),
        })?;
        mappings.insert(ns, ids);
    }
    Ok(mappings)
}

fn read_fixture(dir: &Path, manifest: &Manifest, source: String) -> Result<Seed, SandboxError> {
    let ao = dir.join("activeobjects.xml");
    if !ao.exists() {
        return Err(SandboxError::Invalid {
            path: dir.into(),
            why: "no activeobjects.xml: a fixture directory holds activeobjects.xml and \
                  mappings.json (`airlock plugin fixture DIR` writes a sample)"
                .into(),
        });
    }
    let mappings_path = dir.join("mappings.json");
    let mappings = if mappings_path.exists() {
        read_mappings(&mappings_path)?
    } else {
        BTreeMap::new()
    };
    let backup = |e: airlock_backup::BackupError| SandboxError::Fixture(e.to_string());
    let mut reader = AoReader::open_file(&ao).map_err(backup)?;
    let declared = |t: &str| manifest.tables.iter().any(|d| d == t);
    let schemas: Vec<airlock_backup::AoTable> = reader
        .tables()
        .iter()
        .filter(|t| declared(&t.name))
        .cloned()
        .collect();
    let mut rows: BTreeMap<String, (Vec<String>, Vec<Vec<Value>>)> = BTreeMap::new();
    for batch in reader.batches(1000, declared) {
        let batch = batch.map_err(backup)?;
        let entry = rows
            .entry(batch.table.clone())
            .or_insert_with(|| (batch.columns.to_vec(), Vec::new()));
        // A few hundred real rows are plenty to vary.
        let room = 500usize.saturating_sub(entry.1.len());
        entry.1.extend(batch.rows.into_iter().take(room));
    }
    let mut tables = Vec::new();
    for schema in schemas {
        let (data_columns, data) = rows.remove(&schema.name).unwrap_or_default();
        let mut columns: Vec<Column> = schema
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                kind: kind_of(c.sql_type),
                primary_key: c.primary_key,
                max_chars: c
                    .precision
                    .filter(|p| *p > 0 && *p < 1_000_000)
                    .map(|p| p as usize),
                references: None,
            })
            .collect();
        // Rows in the schema's column order (the data section may order them otherwise).
        let order: Vec<Option<usize>> = columns
            .iter()
            .map(|c| data_columns.iter().position(|d| *d == c.name))
            .collect();
        let data: Vec<Vec<Value>> = data
            .into_iter()
            .map(|row| {
                order
                    .iter()
                    .map(|i| i.and_then(|i| row.get(i).cloned()).unwrap_or(Value::Null))
                    .collect()
            })
            .collect();
        for (i, column) in columns.iter_mut().enumerate() {
            column.references = infer_reference(column, &data, i, manifest, &mappings);
        }
        tables.push(Table {
            name: schema.name,
            columns,
            rows: data,
        });
    }
    // Declared tables the fixture lacks get generic columns.
    for declared in &manifest.tables {
        if !tables.iter().any(|t| &t.name == declared) {
            tables.push(generic_table(declared, manifest));
        }
    }
    let mut seed = Seed {
        source,
        tables,
        mappings,
    };
    add_missing_namespaces(&mut seed, manifest);
    Ok(seed)
}

fn kind_of(sql: i32) -> CellKind {
    use sql_type::*;
    match sql {
        TINYINT | SMALLINT | INTEGER | BIGINT => CellKind::Integer,
        NUMERIC | DECIMAL | FLOAT | REAL | DOUBLE => CellKind::Double,
        BIT | BOOLEAN => CellKind::Boolean,
        DATE | TIMESTAMP => CellKind::Timestamp,
        _ => CellKind::Text,
    }
}

/// The namespace a column's values are server ids of: the one most of its values are
/// mapped in, else a guess from its name among the declared namespaces.
fn infer_reference(
    column: &Column,
    rows: &[Vec<Value>],
    index: usize,
    manifest: &Manifest,
    mappings: &BTreeMap<Namespace, BTreeMap<String, String>>,
) -> Option<Namespace> {
    if column.primary_key || !matches!(column.kind, CellKind::Integer | CellKind::Text) {
        return None;
    }
    let mut best: Option<(Namespace, usize)> = None;
    for ns in &manifest.namespaces {
        let Some(ids) = mappings.get(ns) else {
            continue;
        };
        let hits = rows
            .iter()
            .filter_map(|r| id_text(r.get(index)?))
            .filter(|id| ids.contains_key(id))
            .count();
        if hits > 0 && best.is_none_or(|(_, b)| hits > b) {
            best = Some((*ns, hits));
        }
    }
    best.map(|(ns, _)| ns)
        .or_else(|| guess_by_name(&column.name, manifest))
}

fn guess_by_name(name: &str, manifest: &Manifest) -> Option<Namespace> {
    let name = name.to_ascii_uppercase();
    let wanted = if name.contains("USER") || name.ends_with("_KEY") || name.contains("AUTHOR") {
        "identity:user"
    } else if name.contains("ISSUE") {
        "jira:issue"
    } else if name.contains("PROJECT") {
        "jira:project"
    } else {
        return None;
    };
    manifest
        .namespaces
        .iter()
        .copied()
        .find(|ns| ns.as_str() == wanted)
}

/// A cell as a server id (integers and text only).
pub fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::Integer(i) => Some(i.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Generic columns for every declared table: the manifest names tables, not columns.
fn generic(manifest: &Manifest) -> Seed {
    let mut seed = Seed {
        source: "generic columns (no fixture given: pass --fixture DIR for the app's own)".into(),
        tables: manifest
            .tables
            .iter()
            .map(|t| generic_table(t, manifest))
            .collect(),
        mappings: BTreeMap::new(),
    };
    add_missing_namespaces(&mut seed, manifest);
    seed
}

fn generic_table(name: &str, manifest: &Manifest) -> Table {
    let column = |name: &str, kind, max_chars| Column {
        name: name.into(),
        kind,
        primary_key: name == "ID",
        max_chars,
        references: None,
    };
    let mut columns = vec![
        column("ID", CellKind::Integer, None),
        column("NAME", CellKind::Text, Some(255)),
        column("DESCRIPTION", CellKind::Text, None),
        column("CREATED", CellKind::Timestamp, None),
        column("AMOUNT", CellKind::Double, None),
        column("ENABLED", CellKind::Boolean, None),
    ];
    for ns in &manifest.namespaces {
        let (name, kind) = match ns.as_str() {
            "identity:user" => ("USER_KEY".to_owned(), CellKind::Text),
            other => {
                let entity = other.rsplit(':').next().unwrap_or(other);
                let entity: String = entity
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_uppercase()
                        } else {
                            '_'
                        }
                    })
                    .collect();
                (format!("{entity}_ID"), CellKind::Integer)
            }
        };
        columns.push(Column {
            references: Some(*ns),
            ..column(&name, kind, Some(255))
        });
    }
    Table {
        name: name.into(),
        columns,
        rows: Vec::new(),
    }
}

/// Every declared namespace gets mappings to resolve: synthetic ids where the fixture has
/// none, in the shape the core load records them (user keys for users, numbers otherwise).
fn add_missing_namespaces(seed: &mut Seed, manifest: &Manifest) {
    for ns in manifest.all_namespaces() {
        let ids = seed.mappings.entry(ns).or_default();
        if !ids.is_empty() {
            continue;
        }
        for i in 0..200u32 {
            let server = if ns.as_str() == "identity:user" {
                format!("JIRAUSER{}", 10_000 + i)
            } else {
                (10_000 + i).to_string()
            };
            ids.insert(
                server,
                format!("cloud-{}-{i}", ns.as_str().replace(':', "-")),
            );
        }
    }
}
