use serde::Serialize;
use std::fmt;

/// How bad a finding is. `Fatal` blocks the migration until the source is fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Fatal,
}

/// A problem (or fact) found in the app's data during analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    /// Stable and machine-readable, e.g. `member-of-missing-team`. Never put data in it.
    pub code: String,
    /// Says what is wrong and what to fix.
    pub message: String,
    /// The `ID` of the row concerned.
    pub row_id: Option<i64>,
}

impl Finding {
    pub fn new(severity: Severity, code: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            severity,
            code: code.into(),
            message: message.into(),
            row_id: None,
        }
    }

    pub fn fatal(code: impl Into<String>, message: impl Into<String>) -> Self {
        Finding::new(Severity::Fatal, code, message)
    }

    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Self {
        Finding::new(Severity::Warning, code, message)
    }

    pub fn info(code: impl Into<String>, message: impl Into<String>) -> Self {
        Finding::new(Severity::Info, code, message)
    }

    /// Names the row concerned.
    pub fn row(mut self, row_id: impl Into<Option<i64>>) -> Self {
        self.row_id = row_id.into();
        self
    }
}

/// Why a batch could not be migrated. The host records it, marks the batch failed and
/// goes on with the rest of the migration.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginError {
    pub code: String,
    pub message: String,
    pub row_id: Option<i64>,
}

impl PluginError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        PluginError {
            code: code.into(),
            message: message.into(),
            row_id: None,
        }
    }

    pub fn row(mut self, row_id: impl Into<Option<i64>>) -> Self {
        self.row_id = row_id.into();
        self
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(id) = self.row_id {
            write!(f, " (row ID {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for PluginError {}

/// The Jira Cloud entity an entity property is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Issue,
    Project,
    User,
    Comment,
    Worklog,
}

/// What a migrated row becomes in the cloud. JSON values are serialised compactly, so the
/// same input always gives the same bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A property on a cloud entity (key ≤ 255 characters, value ≤ 32,768 characters).
    EntityProperty {
        entity: EntityKind,
        entity_id: String,
        key: String,
        value: String,
    },
    /// An app-level property (same limits).
    AppProperty { key: String, value: String },
    /// A document in the app's cloud storage.
    AppDocument {
        collection: String,
        id: String,
        body: String,
    },
}

/// Compact JSON of a value. Serialising a `json!` value or a derived struct cannot fail;
/// a hand-written `Serialize` that errors is a bug in the plugin, reported as a trap.
fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|e| panic!("an output value could not be written as JSON: {e}"))
}

/// Output bodies and values are any `Serialize`: a `json!({...})` value, or (faster, with
/// fewer allocations) a `#[derive(Serialize)]` struct.
impl Output {
    pub fn entity_property(
        entity: EntityKind,
        entity_id: impl Into<String>,
        key: impl Into<String>,
        value: impl Serialize,
    ) -> Output {
        Output::EntityProperty {
            entity,
            entity_id: entity_id.into(),
            key: key.into(),
            value: to_json(&value),
        }
    }

    pub fn app_property(key: impl Into<String>, value: impl Serialize) -> Output {
        Output::AppProperty {
            key: key.into(),
            value: to_json(&value),
        }
    }

    pub fn app_document(
        collection: impl Into<String>,
        id: impl ToString,
        body: impl Serialize,
    ) -> Output {
        Output::AppDocument {
            collection: collection.into(),
            id: id.to_string(),
            body: to_json(&body),
        }
    }

    /// Bytes this output counts against the host's output quota.
    pub fn size(&self) -> usize {
        match self {
            Output::EntityProperty {
                entity_id,
                key,
                value,
                ..
            } => entity_id.len() + key.len() + value.len(),
            Output::AppProperty { key, value } => key.len() + value.len(),
            Output::AppDocument {
                collection,
                id,
                body,
            } => collection.len() + id.len() + body.len(),
        }
    }
}
