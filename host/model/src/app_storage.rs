//! What an app's output becomes in a target's app storage, in one place that the sandbox
//! and both targets use: the checks every app key, entity id, key and document id passes
//! before it reaches a REST path or a table ([`check_all`]), and the key it is stored
//! under ([`stored_key`]).
//!
//! # Namespaces
//!
//! Jira Cloud keeps one set of property keys per entity, shared by everyone who writes
//! with the operator's credentials: Airlock's own `airlock.source` (what `find_written`
//! finds issues, comments and worklogs by) among them. So an app never chooses the key
//! that is stored; it gets a namespace of its own:
//!
//! | output | stored key |
//! | --- | --- |
//! | entity property `key` | `<app-key>:<key>` on the entity |
//! | app property `key` | `<app-key>:<key>` in the app's properties |
//! | app document `collection`, `id` | `<app-key>:<collection>:<id>` (Jira Cloud: an app property; the local site keeps `collection` and `id` in their own columns) |
//!
//! App keys, keys, collections and document ids cannot hold `:`, so the first `:` ends the
//! namespace, a property never takes a document's key, and two apps never share a key.
//! Airlock's own keys (`airlock.source`, the journal's `airlock.journal.<kind>.<n>`) hold
//! no `:` at all: no app output can reach them, whatever the app's key (even the ledger
//! app's). `:` is an ordinary character of Jira property keys, and it needs no escaping in
//! a URL path, unlike the `/` documents were joined with before.
//!
//! Jira Cloud's limit of 255 characters applies to the stored key, namespace included.

use crate::{AppKey, AppOutput, EntityKind};

/// Ends an app's namespace in a stored key.
pub const NAMESPACE_SEPARATOR: char = ':';
/// Jira Cloud's limit on a property key (the stored one, namespace included).
pub const MAX_STORED_KEY: usize = 255;
/// Jira Cloud's limit on a property's JSON value.
pub const MAX_VALUE: usize = 32_768;
/// An app key: at most 80 characters of `[A-Za-z0-9._-]`, as a Connect descriptor allows.
pub const MAX_APP_KEY: usize = 80;
/// Cloud's numeric ids are 64-bit.
const MAX_NUMERIC_ID: usize = 18;
/// Account ids (`5b10a2844c20165700ede21g`, `557058:f58131cb-b67d-43c7-b30d-6b58d40bd077`).
const MAX_ACCOUNT_ID: usize = 128;

pub const APP_KEY_CHARS: &str = "[A-Za-z0-9._-]";
pub const KEY_CHARS: &str = "[A-Za-z0-9._~-]";
pub const ACCOUNT_ID_CHARS: &str = "[A-Za-z0-9:_-]";

/// Which part of an app output is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputField {
    EntityId,
    Key,
    Collection,
    DocumentId,
    Value,
}

impl std::fmt::Display for OutputField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OutputField::EntityId => "entity id",
            OutputField::Key => "key",
            OutputField::Collection => "collection",
            OutputField::DocumentId => "document id",
            OutputField::Value => "value",
        })
    }
}

/// What is wrong with it. Never quotes the value (logs carry no customer data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum OutputRule {
    #[error("is empty")]
    Empty,
    /// `.` or `..`: in a URL path they change the endpoint.
    #[error("is a dot segment (`.` or `..`)")]
    DotSegment,
    #[error("holds a control character")]
    ControlCharacter,
    #[error("holds a character outside {allowed}")]
    Character { allowed: &'static str },
    #[error("is not a numeric id")]
    NotNumeric,
    #[error("is longer than {max} characters")]
    TooLong { max: usize },
    #[error("makes the stored key (`<app-key>:…`) longer than {max} characters")]
    StoredKeyTooLong { max: usize },
    #[error("is not valid JSON")]
    NotJson,
}

/// Why an app output cannot be stored; nothing of its call was.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("app output {index} ({kind}): its {field} {rule}")]
pub struct InvalidOutput {
    /// Its position in the call's outputs.
    pub index: usize,
    /// `entity-property`, `app-property` or `app-document`.
    pub kind: &'static str,
    pub field: OutputField,
    pub rule: OutputRule,
}

/// Checks an app key: 1 to 80 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn check_app_key(app: &AppKey) -> Result<(), OutputRule> {
    let app = app.as_str();
    token(app, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
    })
    .map_err(|rule| match rule {
        OutputRule::Character { .. } => OutputRule::Character {
            allowed: APP_KEY_CHARS,
        },
        other => other,
    })?;
    if app.len() > MAX_APP_KEY {
        return Err(OutputRule::TooLong { max: MAX_APP_KEY });
    }
    Ok(())
}

/// Checks one output of `app` (whose key is valid): every id and key, the stored key's
/// length, the value's size and JSON.
pub fn check_output(app: &AppKey, output: &AppOutput) -> Result<(), (OutputField, OutputRule)> {
    let (json, value_field) = match output {
        AppOutput::EntityProperty {
            entity,
            entity_id,
            key,
            value,
        } => {
            check_entity_id(*entity, entity_id).map_err(|r| (OutputField::EntityId, r))?;
            check_key(key).map_err(|r| (OutputField::Key, r))?;
            (value, OutputField::Value)
        }
        AppOutput::AppProperty { key, value } => {
            check_key(key).map_err(|r| (OutputField::Key, r))?;
            (value, OutputField::Value)
        }
        AppOutput::AppDocument {
            collection,
            id,
            body,
        } => {
            check_key(collection).map_err(|r| (OutputField::Collection, r))?;
            check_key(id).map_err(|r| (OutputField::DocumentId, r))?;
            (body, OutputField::Value)
        }
    };
    // Every part is ASCII: bytes are characters.
    if stored_key_len(app, output) > MAX_STORED_KEY {
        let field = match output {
            AppOutput::AppDocument { .. } => OutputField::DocumentId,
            _ => OutputField::Key,
        };
        return Err((
            field,
            OutputRule::StoredKeyTooLong {
                max: MAX_STORED_KEY,
            },
        ));
    }
    if json.len() > MAX_VALUE && json.chars().count() > MAX_VALUE {
        return Err((value_field, OutputRule::TooLong { max: MAX_VALUE }));
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(json).is_err() {
        return Err((value_field, OutputRule::NotJson));
    }
    Ok(())
}

/// Why a call's outputs are refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the app key {0}")]
    AppKey(OutputRule),
    #[error(transparent)]
    Output(InvalidOutput),
}

/// Checks an app key and every output of a call, before anything is stored or sent: the
/// first invalid one refuses the whole call. The sandbox runs it as a batch returns, and
/// each target again before it writes.
pub fn check_all(app: &AppKey, outputs: &[AppOutput]) -> Result<(), Refused> {
    check_app_key(app).map_err(Refused::AppKey)?;
    for (index, output) in outputs.iter().enumerate() {
        if let Err((field, rule)) = check_output(app, output) {
            return Err(Refused::Output(InvalidOutput {
                index,
                kind: output.kind(),
                field,
                rule,
            }));
        }
    }
    Ok(())
}

/// The key an output of `app` is stored under (see the module's doc): `<app>:<key>` for
/// entity and app properties, `<app>:<collection>:<id>` for documents. For outputs that
/// passed [`check_all`].
pub fn stored_key(app: &AppKey, output: &AppOutput) -> String {
    let mut out = String::with_capacity(stored_key_len(app, output));
    out.push_str(app.as_str());
    out.push(NAMESPACE_SEPARATOR);
    match output {
        AppOutput::EntityProperty { key, .. } | AppOutput::AppProperty { key, .. } => {
            out.push_str(key);
        }
        AppOutput::AppDocument { collection, id, .. } => {
            out.push_str(collection);
            out.push(NAMESPACE_SEPARATOR);
            out.push_str(id);
        }
    }
    out
}

/// `<app>:`: what every stored key of `app` starts with.
pub fn namespace(app: &AppKey) -> String {
    format!("{}{NAMESPACE_SEPARATOR}", app.as_str())
}

fn stored_key_len(app: &AppKey, output: &AppOutput) -> usize {
    app.as_str().len()
        + 1
        + match output {
            AppOutput::EntityProperty { key, .. } | AppOutput::AppProperty { key, .. } => key.len(),
            AppOutput::AppDocument { collection, id, .. } => collection.len() + 1 + id.len(),
        }
}

/// A key, collection or document id: `[A-Za-z0-9._~-]`, not `.` or `..` (length: the
/// stored key's).
fn check_key(key: &str) -> Result<(), OutputRule> {
    token(key, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-')
    })
    .map_err(|rule| match rule {
        OutputRule::Character { .. } => OutputRule::Character { allowed: KEY_CHARS },
        other => other,
    })
}

/// What Cloud's ids look like: numeric for issues, projects, comments and worklogs; an
/// account id for users.
fn check_entity_id(entity: EntityKind, id: &str) -> Result<(), OutputRule> {
    match entity {
        EntityKind::Issue | EntityKind::Project | EntityKind::Comment | EntityKind::Worklog => {
            if id.is_empty() {
                return Err(OutputRule::Empty);
            }
            if id.chars().any(char::is_control) {
                return Err(OutputRule::ControlCharacter);
            }
            if !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(OutputRule::NotNumeric);
            }
            if id.len() > MAX_NUMERIC_ID {
                return Err(OutputRule::TooLong {
                    max: MAX_NUMERIC_ID,
                });
            }
            Ok(())
        }
        EntityKind::User => {
            token(id, |c| {
                c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')
            })
            .map_err(|rule| match rule {
                OutputRule::Character { .. } => OutputRule::Character {
                    allowed: ACCOUNT_ID_CHARS,
                },
                other => other,
            })?;
            if id.len() > MAX_ACCOUNT_ID {
                return Err(OutputRule::TooLong {
                    max: MAX_ACCOUNT_ID,
                });
            }
            Ok(())
        }
    }
}

/// Not empty, not a dot segment, no control character, every character allowed.
fn token(s: &str, allowed: impl Fn(char) -> bool) -> Result<(), OutputRule> {
    if s.is_empty() {
        return Err(OutputRule::Empty);
    }
    if s == "." || s == ".." {
        return Err(OutputRule::DotSegment);
    }
    if s.chars().any(char::is_control) {
        return Err(OutputRule::ControlCharacter);
    }
    if !s.chars().all(allowed) {
        return Err(OutputRule::Character { allowed: "" });
    }
    Ok(())
}
