//! The operator's answers for single rows (`"rows"` in the override file): a row a site
//! refuses for its own values (a label with a space, a negative time spent…) is given a
//! new value for the field the rule names, or skipped. The analysis applies them to the
//! rows it predicts will be refused; the load applies them to every row it writes or
//! retries.
//!
//! ```json
//! "rows": {
//!   "label":   { "10400": { "label": "needs-review" } },
//!   "worklog": { "10501": "skip" }
//! }
//! ```

use std::collections::BTreeMap;

use airlock_model::jira::{Kind, Record};
use airlock_site::rules::{self, FieldError};
use serde::{Deserialize, Serialize};

/// Kind → source id → what to do with that row.
pub type RowFixes = BTreeMap<Kind, BTreeMap<String, RowFix>>;

/// One row's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RowFix {
    /// `"skip"`: the row is not written (the verification counts it as skipped).
    Skip(Skip),
    /// Field → new value: the fields a rule names (see [`airlock_site::rules::set_field`]).
    Set(BTreeMap<String, serde_json::Value>),
}

/// The word `"skip"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Skip {
    Skip,
}

/// What a fix made of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Write,
    Skip,
}

/// Applies `fix` to `record`: its new values set, or the word that it is skipped.
pub fn apply(fix: &RowFix, record: &mut Record) -> Result<Applied, FieldError> {
    match fix {
        RowFix::Skip(Skip::Skip) => Ok(Applied::Skip),
        RowFix::Set(values) => {
            for (field, value) in values {
                rules::set_field(record, field, value)?;
            }
            Ok(Applied::Write)
        }
    }
}

/// The fix for a row, if the operator gave one.
pub fn find<'f>(fixes: &'f RowFixes, kind: Kind, source: &str) -> Option<&'f RowFix> {
    fixes.get(&kind).and_then(|rows| rows.get(source))
}

/// What to write in the override file to answer a refused row (ids only, no values).
pub fn hint(kind: Kind, source: &str, field: Option<&str>) -> String {
    let kind = kind.name();
    match field {
        Some(field) => format!(
            "give it a valid {} in the override file (\"rows\": {{\"{kind}\": {{\"{source}\": {{\"{field}\": …}}}}}}) or skip it ({{\"{source}\": \"skip\"}}), then run the migration again",
            field.replace('_', " ")
        ),
        None => format!(
            "answer it in the override file (\"rows\": {{\"{kind}\": {{\"{source}\": {{\"<field>\": …}}}}}} or {{\"{source}\": \"skip\"}}), then run the migration again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_file_says_skip_or_names_fields() {
        let fixes: RowFixes =
            serde_json::from_str(r#"{"label": {"1": {"label": "a-b"}}, "worklog": {"2": "skip"}}"#)
                .unwrap();
        assert_eq!(
            find(&fixes, Kind::Worklog, "2"),
            Some(&RowFix::Skip(Skip::Skip))
        );
        assert!(matches!(
            find(&fixes, Kind::Label, "1"),
            Some(RowFix::Set(_))
        ));
        assert!(find(&fixes, Kind::Label, "2").is_none());
        assert!(serde_json::from_str::<RowFixes>(r#"{"label": {"1": "drop"}}"#).is_err());
        let hint = hint(Kind::Worklog, "2", Some("time_spent"));
        assert!(
            hint.contains(r#""worklog": {"2": {"time_spent": …}}"#),
            "{hint}"
        );
    }
}
