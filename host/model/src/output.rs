use crate::Severity;
use serde::Serialize;

/// The Jira Cloud entity an entity property is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Issue,
    Project,
    User,
    Comment,
    Worklog,
}

/// What an app's row becomes in the cloud: the target's app storage takes these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AppOutput {
    EntityProperty {
        entity: EntityKind,
        entity_id: String,
        key: String,
        /// JSON.
        value: String,
    },
    AppProperty {
        key: String,
        /// JSON.
        value: String,
    },
    AppDocument {
        collection: String,
        id: String,
        /// JSON.
        body: String,
    },
}

impl AppOutput {
    /// Bytes counted against a batch's output quota.
    pub fn size(&self) -> usize {
        match self {
            AppOutput::EntityProperty {
                entity_id,
                key,
                value,
                ..
            } => entity_id.len() + key.len() + value.len(),
            AppOutput::AppProperty { key, value } => key.len() + value.len(),
            AppOutput::AppDocument {
                collection,
                id,
                body,
            } => collection.len() + id.len() + body.len(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            AppOutput::EntityProperty { .. } => "entity-property",
            AppOutput::AppProperty { .. } => "app-property",
            AppOutput::AppDocument { .. } => "app-document",
        }
    }
}

/// A problem (or fact) an app's migrator found in its data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppFinding {
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub table: String,
    pub row_id: Option<i64>,
}
