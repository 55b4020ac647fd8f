//! Jira Cloud's rules for one record's own values (required fields, lengths, labels
//! without spaces, time spent not negative, property values that are JSON…), in one
//! place: both sites check every record with [`check`] before writing it, and the
//! engine's analysis checks every staged record with it, so a row a site will refuse for
//! its values is listed in the plan before anything is loaded.
//!
//! References (an issue's project, a comment's author…) are not checked here: they need
//! the site's ids, and each site checks them as it writes. Every message names the field
//! and the limit, never the value (messages reach logs and reports).
//!
//! A rule names the field it refuses ([`Violation::field`]); [`set_field`] replaces that
//! field's value, which is how the operator's override file fixes a row.

use airlock_model::jira::{FieldValue, PermissionHolder, Record};

use crate::ItemError;

/// Jira Cloud's limit on a summary, a name, an entity property's key, a label.
pub const MAX_NAME: usize = 255;
/// Jira Cloud's limit on a rich text field (description, comment, text custom field).
pub const MAX_TEXT: usize = 32_767;
/// Jira Cloud's limit on an entity property's JSON value.
pub const MAX_PROPERTY: usize = 32_768;
/// Jira Cloud's limit on a project key.
pub const MAX_PROJECT_KEY: usize = 10;
/// A dashboard's columns, at most (Jira's widest layout, `AAA`).
pub const MAX_DASHBOARD_COLUMNS: u32 = 3;

/// Why a record's own values cannot be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Violation {
    /// Stable: `invalid-value` or `too-large` (the codes the sites answer).
    pub code: &'static str,
    /// The field the rule refuses, as [`set_field`] names it (`label`, `time_spent`…).
    pub field: &'static str,
    /// What is wrong, without the value.
    pub message: String,
}

impl From<Violation> for ItemError {
    fn from(v: Violation) -> ItemError {
        ItemError {
            code: v.code,
            message: v.message,
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> Violation {
    Violation {
        code: "invalid-value",
        field,
        message: message.into(),
    }
}

/// More than `max` characters? Counting scans the text: only done when the bytes could be.
fn too_long(s: &str, max: usize) -> bool {
    s.len() > max && s.chars().count() > max
}

fn len(field: &'static str, s: &str, max: usize) -> Result<(), Violation> {
    if too_long(s, max) {
        return Err(Violation {
            code: "too-large",
            field,
            message: format!("{} exceeds {max} characters", words(field)),
        });
    }
    Ok(())
}

fn name(field: &'static str, s: &str) -> Result<(), Violation> {
    if s.trim().is_empty() {
        return Err(invalid(field, format!("{} is required", words(field))));
    }
    len(field, s, MAX_NAME)
}

/// A field's name as a message says it (`time_spent` → `time spent`).
fn words(field: &str) -> String {
    field.replace('_', " ")
}

/// Cloud's project keys: an upper-case letter, then upper-case letters, digits or `_`.
fn project_key(key: &str) -> Result<(), Violation> {
    let mut chars = key.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && key.len() >= 2
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(invalid(
            "key",
            "key must be an upper-case letter followed by upper-case letters or digits",
        ));
    }
    if key.len() > MAX_PROJECT_KEY {
        return Err(Violation {
            code: "too-large",
            field: "key",
            message: format!("key exceeds {MAX_PROJECT_KEY} characters"),
        });
    }
    Ok(())
}

/// The longest transition name and workflow or transition description Jira Cloud takes.
const MAX_TRANSITION_NAME: usize = 60;
const MAX_WORKFLOW_TEXT: usize = 1000;

/// A workflow as Jira Cloud takes one: a name, statuses each on one step, one initial
/// transition, every transition named and between the workflow's steps, a global
/// transition's name and target its own, and no two transitions of one name from a step.
fn workflow(r: &airlock_model::jira::Workflow) -> Result<(), Violation> {
    use airlock_model::jira::TransitionKind;
    use std::collections::HashSet;
    name("name", &r.name)?;
    len("description", &r.description, MAX_WORKFLOW_TEXT)?;
    if r.steps.is_empty() {
        return Err(invalid("statuses", "a workflow has at least one status"));
    }
    let mut statuses = HashSet::new();
    if !r.steps.iter().all(|s| statuses.insert(s.status.as_str())) {
        return Err(invalid(
            "statuses",
            "a status is on one step of a workflow only",
        ));
    }
    let initial = r
        .transitions
        .iter()
        .filter(|t| t.kind == TransitionKind::Initial)
        .count();
    if initial != 1 {
        return Err(invalid(
            "transitions",
            format!("a workflow has one initial transition, not {initial}"),
        ));
    }
    let step = |id: &str| r.steps.iter().any(|s| s.id == id);
    let global_names: HashSet<&str> = r
        .transitions
        .iter()
        .filter(|t| t.kind == TransitionKind::Global)
        .map(|t| t.name.as_str())
        .collect();
    let mut globals = HashSet::new();
    let mut targets = HashSet::new();
    let mut from_step = HashSet::new();
    for t in &r.transitions {
        name("transitions.name", &t.name)?;
        len("transitions.name", &t.name, MAX_TRANSITION_NAME)?;
        len("transitions.description", &t.description, MAX_WORKFLOW_TEXT)?;
        let from_ok = match t.kind {
            TransitionKind::Directed => !t.from.is_empty(),
            TransitionKind::Initial | TransitionKind::Global => t.from.is_empty(),
        };
        if !from_ok || !step(&t.to) || !t.from.iter().all(|f| step(f)) {
            return Err(invalid(
                "transitions",
                "a transition goes between the workflow's statuses",
            ));
        }
        let clash = match t.kind {
            TransitionKind::Global => {
                !globals.insert(t.name.as_str()) || !targets.insert(t.to.as_str())
            }
            TransitionKind::Directed => {
                global_names.contains(t.name.as_str())
                    || !t
                        .from
                        .iter()
                        .all(|f| from_step.insert((f.as_str(), t.name.as_str())))
            }
            TransitionKind::Initial => false,
        };
        if clash {
            return Err(invalid(
                "transitions",
                format!(
                    "transition \"{}\": a global transition has a name and a target status of its own, and transitions from one status have distinct names",
                    t.name
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a record's own values as Jira Cloud does; the first rule it breaks.
pub fn check(record: &Record) -> Result<(), Violation> {
    match record {
        Record::User(_) | Record::Membership(_) | Record::IssueVersion(_) => Ok(()),
        Record::IssueLink(_)
        | Record::Watcher(_)
        | Record::Vote(_)
        | Record::FilterShare(_)
        | Record::DashboardShare(_)
        | Record::ChangeGroup(_)
        | Record::ChangeItem(_)
        | Record::ProjectScheme(_)
        | Record::SchemePermission(_)
        | Record::Notification(_)
        | Record::ProjectRoleActor(_) => Ok(()),
        Record::SecurityScheme(r)
        | Record::PermissionScheme(r)
        | Record::NotificationScheme(r)
        | Record::Screen(r)
        | Record::FieldConfiguration(r)
        | Record::ProjectCategory(r) => {
            name("name", &r.name)?;
            len("description", &r.description, MAX_TEXT)
        }
        Record::ScreenTab(t) => name("name", &t.name),
        Record::ScreenField(_) => Ok(()),
        Record::ScreenScheme(r) => {
            name("name", &r.name)?;
            len("description", &r.description, MAX_TEXT)
        }
        Record::IssueTypeScreenScheme(r) => {
            name("name", &r.name)?;
            len("description", &r.description, MAX_TEXT)
        }
        Record::FieldConfigurationScheme(r) => {
            name("name", &r.name)?;
            len("description", &r.description, MAX_TEXT)
        }
        Record::FieldConfigurationItem(i) => len("description", &i.description, MAX_TEXT),
        Record::IssueTypeScheme(r) => {
            name("name", &r.name)?;
            len("description", &r.description, MAX_TEXT)?;
            if r.issue_types.is_empty() && !r.global {
                return Err(invalid(
                    "issueTypeIds",
                    "an issue type scheme lists at least one issue type",
                ));
            }
            match &r.default_issue_type {
                Some(t) if !r.issue_types.contains(t) => Err(invalid(
                    "defaultIssueTypeId",
                    "the default issue type is one of the scheme's issue types",
                )),
                _ => Ok(()),
            }
        }
        Record::Workflow(r) => workflow(r),
        Record::CardField(_) => Ok(()),
        // Jira Software's colours are `#rrggbb`.
        Record::CardColor(c) => {
            let hex = c.color.strip_prefix('#').unwrap_or_default();
            if hex.len() == 6 && hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
                Ok(())
            } else {
                Err(invalid("color", "a card colour is #rrggbb"))
            }
        }
        Record::WorkflowScheme(r) => {
            name("name", &r.name)?;
            len("description", &r.description, MAX_TEXT)
        }
        Record::ProjectKey(k) => project_key(&k.key),
        // A level open to all would hide nothing: Cloud has no such member.
        Record::SecurityLevelMember(m) if m.holder == PermissionHolder::Anyone => Err(invalid(
            "type",
            "a security level has no member \"anyone\" on Jira Cloud",
        )),
        Record::SecurityLevelMember(_) => Ok(()),
        Record::SecurityLevel(r) => {
            name("name", &r.name)?;
            len("description", &r.description, MAX_TEXT)
        }
        Record::ProjectRole(r) => {
            name("name", &r.name)?;
            len("description", &r.description, MAX_TEXT)
        }
        Record::Filter(f) => {
            name("name", &f.name)?;
            len("description", &f.description, MAX_TEXT)?;
            len("jql", &f.jql, MAX_TEXT)
        }
        Record::Dashboard(d) => {
            name("name", &d.name)?;
            len("description", &d.description, MAX_TEXT)
        }
        Record::Gadget(g) if g.column >= MAX_DASHBOARD_COLUMNS => Err(invalid(
            "column",
            format!("column is past a dashboard's last (at most {MAX_DASHBOARD_COLUMNS} columns)"),
        )),
        Record::Gadget(_) => Ok(()),
        Record::GadgetPreference(p) => {
            name("key", &p.key)?;
            len("value", &p.value.text(), MAX_TEXT)
        }
        Record::Board(b) => name("name", &b.name),
        Record::Sprint(r) => {
            name("name", &r.name)?;
            len("goal", &r.goal, MAX_TEXT)
        }
        Record::BoardColumn(c) => name("name", &c.name),
        Record::Swimlane(q) | Record::QuickFilter(q) => {
            name("name", &q.name)?;
            len("description", &q.description, MAX_TEXT)?;
            len("jql", &q.jql, MAX_TEXT)
        }
        Record::ColumnStatus(_) | Record::IssueSprint(_) => Ok(()),
        Record::IssueRank(r) => name("rank", &r.rank),
        Record::Group(g) => name("name", &g.name),
        Record::IssueType(c) | Record::Status(c) | Record::Priority(c) | Record::Resolution(c) => {
            name("name", &c.name)?;
            len("description", &c.description, MAX_TEXT)
        }
        // Cloud takes a link only with the linked object's address and title.
        Record::RemoteLink(l) => {
            name("title", &l.title)?;
            if l.url.trim().is_empty() {
                return Err(invalid("url", "url is required"));
            }
            len("url", &l.url, MAX_TEXT)?;
            len("summary", l.summary.as_deref().unwrap_or(""), MAX_TEXT)
        }
        Record::IssueLinkType(l) => {
            name("name", &l.name)?;
            name("inward", &l.inward)?;
            name("outward", &l.outward)
        }
        Record::Project(p) => {
            project_key(&p.key)?;
            name("name", &p.name)?;
            len("description", &p.description, MAX_TEXT)
        }
        Record::Component(c) => {
            name("name", &c.name)?;
            len("description", &c.description, MAX_TEXT)
        }
        Record::Version(v) => {
            name("name", &v.name)?;
            len("description", &v.description, MAX_TEXT)
        }
        Record::CustomField(f) => {
            name("name", &f.name)?;
            name("type_key", &f.type_key)?;
            len("description", &f.description, MAX_TEXT)
        }
        Record::CustomFieldOption(o) => name("value", &o.value),
        Record::FieldContext(c) => {
            name("name", &c.name)?;
            len("description", &c.description, MAX_TEXT)
        }
        Record::Issue(i) => {
            if i.number == 0 || i64::try_from(i.number).is_err() {
                return Err(invalid("number", "number must be a positive integer"));
            }
            name("summary", &i.summary)?;
            len("description", &i.description, MAX_TEXT)
        }
        Record::CustomFieldValue(v) => match &v.value {
            FieldValue::Text(t) => len("value", t, MAX_TEXT),
            FieldValue::Number(n) if !n.is_finite() => {
                Err(invalid("value", "value is not a finite number"))
            }
            FieldValue::Number(_) | FieldValue::Date(_) | FieldValue::Option(_) => Ok(()),
        },
        Record::Label(l) => {
            name("label", &l.label)?;
            // Cloud refuses labels with spaces.
            if l.label.chars().any(char::is_whitespace) {
                return Err(invalid("label", "label must not contain spaces"));
            }
            Ok(())
        }
        Record::Comment(c) => {
            if c.body.trim().is_empty() {
                return Err(invalid("body", "body is required"));
            }
            len("body", &c.body, MAX_TEXT)
        }
        Record::Worklog(w) => {
            if w.seconds < 0 {
                return Err(invalid("time_spent", "time spent must not be negative"));
            }
            len("comment", &w.body, MAX_TEXT)
        }
        Record::Attachment(a) => {
            name("file_name", &a.file_name)?;
            if i64::try_from(a.size).is_err() {
                return Err(Violation {
                    code: "too-large",
                    field: "size",
                    message: "size exceeds what the site can store".into(),
                });
            }
            Ok(())
        }
        Record::EntityProperty(p) => {
            if !matches!(
                p.entity_name.as_str(),
                "IssueProperty" | "ProjectProperty" | "UserProperty"
            ) {
                return Err(invalid(
                    "entity_name",
                    "entity name must be IssueProperty, ProjectProperty or UserProperty",
                ));
            }
            name("key", &p.key)?;
            len("value", &p.value, MAX_PROPERTY)?;
            if serde_json::from_str::<serde::de::IgnoredAny>(&p.value).is_err() {
                return Err(invalid("value", "value is not valid JSON"));
            }
            Ok(())
        }
    }
}

/// Why [`set_field`] could not apply a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    #[error("a {kind} row has no field {field} that can be set")]
    Unknown { kind: &'static str, field: String },
    #[error("the field {field} takes {expected}")]
    Type {
        field: String,
        expected: &'static str,
    },
}

/// Replaces one of a record's own values (a field a rule of [`check`] names): what an
/// override fixes a refused row with. Text fields take a string, `time_spent`, `number`
/// and `size` an integer, a number field's `value` a number.
pub fn set_field(
    record: &mut Record,
    field: &str,
    value: &serde_json::Value,
) -> Result<(), FieldError> {
    let kind = record.kind().name();
    let text = |expected| -> Result<String, FieldError> {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| FieldError::Type {
                field: field.to_owned(),
                expected,
            })
    };
    let integer = || -> Result<i64, FieldError> {
        value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| FieldError::Type {
                field: field.to_owned(),
                expected: "an integer",
            })
    };
    let unsigned = || -> Result<u64, FieldError> {
        u64::try_from(integer()?).map_err(|_| FieldError::Type {
            field: field.to_owned(),
            expected: "a positive integer",
        })
    };
    let unknown = || FieldError::Unknown {
        kind,
        field: field.to_owned(),
    };
    let s = "a string";
    match (record, field) {
        (Record::Group(g), "name") => g.name = text(s)?,
        (
            Record::IssueType(c) | Record::Status(c) | Record::Priority(c) | Record::Resolution(c),
            f,
        ) => match f {
            "name" => c.name = text(s)?,
            "description" => c.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::IssueLinkType(l), f) => match f {
            "name" => l.name = text(s)?,
            "inward" => l.inward = text(s)?,
            "outward" => l.outward = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::Project(p), f) => match f {
            "key" => p.key = text(s)?,
            "name" => p.name = text(s)?,
            "description" => p.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::Component(c), f) => match f {
            "name" => c.name = text(s)?,
            "description" => c.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::Version(v), f) => match f {
            "name" => v.name = text(s)?,
            "description" => v.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::CustomField(c), f) => match f {
            "name" => c.name = text(s)?,
            "type_key" => c.type_key = text(s)?,
            "description" => c.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::CustomFieldOption(o), "value") => o.value = text(s)?,
        (Record::Dashboard(d), f) => match f {
            "name" => d.name = text(s)?,
            "description" => d.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::Gadget(g), "column") => {
            g.column = u32::try_from(unsigned()?).map_err(|_| FieldError::Type {
                field: field.to_owned(),
                expected: "a column number",
            })?
        }
        (Record::GadgetPreference(p), "value") => {
            p.value = airlock_model::jira::PreferenceValue::parse(&p.key, &text(s)?)
        }
        (Record::FieldContext(c), f) => match f {
            "name" => c.name = text(s)?,
            "description" => c.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::FieldConfiguration(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::FieldConfigurationScheme(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::FieldConfigurationItem(r), "description") => r.description = text(s)?,
        (Record::IssueTypeScheme(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::Workflow(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::WorkflowScheme(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::Screen(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::ScreenTab(r), "name") => r.name = text(s)?,
        (Record::ScreenScheme(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::IssueTypeScreenScheme(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::SecurityScheme(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::SecurityLevel(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::ProjectRole(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            _ => return Err(unknown()),
        },
        // A query is given as the source names things: its ids are rewritten after.
        (Record::Filter(r), f) => match f {
            "name" => r.name = text(s)?,
            "description" => r.description = text(s)?,
            "jql" => r.jql = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::Board(b), "name") => b.name = text(s)?,
        (Record::Sprint(r), f) => match f {
            "name" => r.name = text(s)?,
            "goal" => r.goal = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::BoardColumn(c), "name") => c.name = text(s)?,
        (Record::Swimlane(q) | Record::QuickFilter(q), f) => match f {
            "name" => q.name = text(s)?,
            "description" => q.description = text(s)?,
            "jql" => q.jql = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::CardColor(c), "jql") => match &mut c.value {
            airlock_model::jira::CardColorValue::Query(q) => *q = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::CardColor(c), "color") => c.color = text(s)?,
        (Record::Issue(i), f) => match f {
            "number" => i.number = unsigned()?,
            "summary" => i.summary = text(s)?,
            "description" => i.description = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::CustomFieldValue(v), "value") => match &mut v.value {
            FieldValue::Text(t) => *t = text(s)?,
            FieldValue::Number(n) => {
                *n = value.as_f64().ok_or_else(|| FieldError::Type {
                    field: field.to_owned(),
                    expected: "a number",
                })?
            }
            _ => return Err(unknown()),
        },
        (Record::Label(l), "label") => l.label = text(s)?,
        (Record::RemoteLink(l), f) => match f {
            "title" => l.title = text(s)?,
            "url" => l.url = text(s)?,
            "summary" => l.summary = Some(text(s)?),
            _ => return Err(unknown()),
        },
        (Record::Comment(c), "body") => c.body = text(s)?,
        (Record::Worklog(w), f) => match f {
            "time_spent" => w.seconds = integer()?,
            "comment" => w.body = text(s)?,
            _ => return Err(unknown()),
        },
        (Record::Attachment(a), f) => match f {
            "file_name" => a.file_name = text(s)?,
            "size" => a.size = unsigned()?,
            _ => return Err(unknown()),
        },
        (Record::EntityProperty(p), f) => match f {
            "entity_name" => p.entity_name = text(s)?,
            "key" => p.key = text(s)?,
            "value" => p.value = text(s)?,
            _ => return Err(unknown()),
        },
        _ => return Err(unknown()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use airlock_model::jira::{Label, Worklog};

    use super::*;

    fn label(text: &str) -> Record {
        Record::Label(Label {
            id: "1".into(),
            issue: "2".into(),
            label: text.into(),
        })
    }

    #[test]
    fn a_rule_names_its_field_and_setting_that_field_fixes_the_record() {
        let mut r = label("needs review");
        let v = check(&r).unwrap_err();
        assert_eq!((v.code, v.field), ("invalid-value", "label"));
        assert!(!v.message.contains("needs"), "no value in messages");
        set_field(&mut r, v.field, &serde_json::json!("needs-review")).unwrap();
        assert_eq!(check(&r), Ok(()));

        let mut w = Record::Worklog(Worklog {
            id: "3".into(),
            issue: "2".into(),
            author: None,
            body: String::new(),
            created: 0,
            started: 0,
            seconds: -600,
        });
        let v = check(&w).unwrap_err();
        assert_eq!(v.field, "time_spent");
        set_field(&mut w, "time_spent", &serde_json::json!(600)).unwrap();
        assert_eq!(check(&w), Ok(()));
        assert!(matches!(
            set_field(&mut w, "author", &serde_json::json!("x")),
            Err(FieldError::Unknown { .. })
        ));
        assert!(matches!(
            set_field(&mut w, "time_spent", &serde_json::json!("soon")),
            Err(FieldError::Type { .. })
        ));
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert_eq!(check(&label(&"é".repeat(MAX_NAME))), Ok(()));
        assert_eq!(
            check(&label(&"e".repeat(MAX_NAME + 1))).unwrap_err().code,
            "too-large"
        );
    }
}
