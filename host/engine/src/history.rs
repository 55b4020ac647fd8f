//! Issue history's values: a change item's old and new values are ids of the field's kind
//! (a status id, a user key, version ids, option ids…). The load rewrites them to cloud
//! ids; a value naming something without one (a workflow run: not migrated; a deleted
//! version or sprint) is cleared, its display string kept, and counted.

use airlock_model::jira::{ChangeItem, Kind};
use rustc_hash::FxHashSet;

/// What a change item's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Values {
    /// Text, dates, numbers, keys: kept as they are.
    Kept,
    /// Ids of this kind.
    Ids(Kind),
    /// Ids of something Airlock does not migrate (yet): cleared.
    NotMigrated,
}

/// The kind of `item`'s values. `option_fields`: lower-case names of the custom fields
/// whose values are option ids (a custom field's change names the field by name).
pub(crate) fn values(item: &ChangeItem, option_fields: &FxHashSet<String>) -> Values {
    // Every history item passes here: names are compared without allocating, except a
    // custom field's, looked up by its lower-case name.
    let named = |names: &[&str]| names.iter().any(|n| item.field.eq_ignore_ascii_case(n));
    if item.custom {
        return if named(&["epic link", "parent link"]) {
            Values::Ids(Kind::Issue)
        } else if named(&["sprint"]) {
            Values::Ids(Kind::Sprint)
        } else if option_fields.contains(&item.field.to_lowercase()) {
            Values::Ids(Kind::CustomFieldOption)
        } else {
            Values::Kept
        };
    }
    const JIRA_FIELDS: &[(&[&str], Values)] = &[
        (&["status"], Values::Ids(Kind::Status)),
        (
            &["assignee", "reporter", "creator"],
            Values::Ids(Kind::User),
        ),
        (&["resolution"], Values::Ids(Kind::Resolution)),
        (&["priority"], Values::Ids(Kind::Priority)),
        (&["issuetype"], Values::Ids(Kind::IssueType)),
        (&["fix version", "version"], Values::Ids(Kind::Version)),
        (&["component"], Values::Ids(Kind::Component)),
        (&["project"], Values::Ids(Kind::Project)),
        (&["attachment"], Values::Ids(Kind::Attachment)),
        (
            &["parent", "issueparentassociation"],
            Values::Ids(Kind::Issue),
        ),
        (&["workflow", "security"], Values::NotMigrated),
    ];
    JIRA_FIELDS
        .iter()
        .find(|(names, _)| named(names))
        .map_or(Values::Kept, |(_, values)| *values)
}

/// Rewrites one value (a single id, or a list like `[10000, 10001]` or `10000, 10001`)
/// with `resolve`; `None` if any id has no cloud id (the value is then cleared).
pub(crate) fn rewrite_value(
    value: &str,
    resolve: &mut dyn FnMut(&str) -> Option<String>,
) -> Option<String> {
    let trimmed = value.trim();
    let (inner, bracketed) = match trimmed.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        Some(inner) => (inner, true),
        None => (trimmed, false),
    };
    let mut ids = Vec::new();
    for id in inner.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        ids.push(resolve(id)?);
    }
    let joined = ids.join(", ");
    Some(if bracketed {
        format!("[{joined}]")
    } else {
        joined
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(custom: bool, field: &str) -> ChangeItem {
        ChangeItem {
            id: "1".into(),
            group: "2".into(),
            custom,
            field: field.into(),
            old_value: None,
            old_string: None,
            new_value: None,
            new_string: None,
        }
    }

    #[test]
    fn a_values_kind_follows_its_field_and_lists_are_rewritten_whole() {
        let options = FxHashSet::from_iter(["region".to_owned()]);
        assert_eq!(
            values(&item(false, "status"), &options),
            Values::Ids(Kind::Status)
        );
        assert_eq!(
            values(&item(false, "Fix Version"), &options),
            Values::Ids(Kind::Version)
        );
        assert_eq!(
            values(&item(false, "Workflow"), &options),
            Values::NotMigrated
        );
        assert_eq!(values(&item(false, "summary"), &options), Values::Kept);
        assert_eq!(
            values(&item(true, "Region"), &options),
            Values::Ids(Kind::CustomFieldOption)
        );
        assert_eq!(
            values(&item(true, "Sprint"), &options),
            Values::Ids(Kind::Sprint)
        );
        assert_eq!(values(&item(true, "Story Points"), &options), Values::Kept);

        let mut map = |id: &str| (id != "9").then(|| format!("c{id}"));
        assert_eq!(rewrite_value("10", &mut map).as_deref(), Some("c10"));
        assert_eq!(
            rewrite_value("[1, 2]", &mut map).as_deref(),
            Some("[c1, c2]")
        );
        assert_eq!(rewrite_value("1,2", &mut map).as_deref(), Some("c1, c2"));
        assert_eq!(rewrite_value("1, 9", &mut map), None);
    }
}
