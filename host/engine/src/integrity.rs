//! Phase 1, the integrity check: what in the source would be lost or wrong on the target.
//! Row-level problems were found while extracting; this pass walks every staged record's
//! references against the [`SourceIndex`], and every app's Active Objects foreign keys.
//! Fatal findings block the migration until the source is fixed and checked again.

use std::collections::BTreeMap;
use std::io::BufRead;

use airlock_backup::{AoReader, BackupError};
use airlock_model::jira::{FieldValue, Kind, Record, Target};
use airlock_model::{AoPrefix, Severity, Value};
use airlock_staging::Staging;
use roaring::RoaringTreemap;
use rustc_hash::FxHashSet;

use crate::EngineError;
use crate::extract::SourceIndex;
use crate::findings::{Finding, Findings};
use crate::records::RecordReader;

/// Checks every staged record's references, on two threads (kinds split between them).
pub fn check_references(
    staging: &dyn Staging,
    index: &SourceIndex,
) -> Result<Findings, EngineError> {
    // The bulk kinds are split so both halves hold about as many records.
    let (first, second): (Vec<Kind>, Vec<Kind>) = Kind::ALL.into_iter().partition(|k| {
        !matches!(
            k,
            Kind::Comment
                | Kind::Worklog
                | Kind::IssueVersion
                | Kind::EntityProperty
                | Kind::Attachment
        )
    });
    let (a, b) = std::thread::scope(|scope| {
        let other = scope.spawn(|| check_kinds(staging, index, &second));
        let mine = check_kinds(staging, index, &first);
        let other = other.join().unwrap_or_else(|_| {
            Err(EngineError::Staged {
                name: "core".into(),
                problem: "the reference check stopped unexpectedly".into(),
            })
        });
        (mine, other)
    });
    let mut findings = a?;
    findings.extend(b?);
    Ok(findings)
}

fn check_kinds(
    staging: &dyn Staging,
    index: &SourceIndex,
    kinds: &[Kind],
) -> Result<Findings, EngineError> {
    let mut findings = Findings::default();
    for &kind in kinds {
        let mut reader = RecordReader::open_kind(staging, kind)?;
        while let Some((line, record)) = reader.next_located()? {
            let mut dangling_refs = Vec::new();
            record.for_each_ref(|field, target, value| {
                if !index.contains(target, value) {
                    dangling_refs.push((field, target, value.to_owned()));
                }
            });
            for (field, target, value) in dangling_refs {
                findings.push(dangling(&record, line, field, target, &value));
            }
            // A select-like field's value is an option id.
            if let Record::CustomFieldValue(v) = &record
                && let FieldValue::Text(text) = &v.value
                && !text.is_empty()
                && index.is_option_field(&v.field)
                && !index.contains(Target::Kind(Kind::CustomFieldOption), text)
            {
                findings.push(dangling(
                    &record,
                    line,
                    "stringvalue",
                    Target::Kind(Kind::CustomFieldOption),
                    text,
                ));
            }
        }
    }
    Ok(findings)
}

fn dangling(record: &Record, line: u64, field: &str, target: Target, value: &str) -> Finding {
    let kind = record.kind();
    let (check, severity, consequence) = match target {
        // A deleted user is common and survivable: the row keeps no author on the target.
        Target::Kind(Kind::User) | Target::UserName => (
            "unknown-user",
            Severity::Warning,
            "no such user exists; on the target the field will name no one",
        ),
        _ => (
            "dangling-reference",
            Severity::Fatal,
            "the row cannot be migrated without it: restore the referenced row or delete this one, then make a new backup",
        ),
    };
    let pointed = match target {
        Target::Kind(k) => k.entity(),
        Target::UserName => "User",
    };
    Finding {
        check: check.into(),
        severity,
        file: "entities.xml".into(),
        entity: kind.entity().into(),
        id: record.id().to_owned(),
        line: Some(line),
        message: format!(
            "{field} points to {pointed} {value}, which is not in the backup; {consequence}"
        ),
    }
}

/// Checks the declared foreign keys of every Active Objects table. A dangling one is fatal
/// in the tables of an enabled app (its migrator would fail or lose rows) and a warning
/// elsewhere (that app's data is not migrated by Airlock).
pub fn check_active_objects<R: BufRead>(
    mut reader: AoReader<R>,
    enabled: &[AoPrefix],
    apps: &[AppStage],
) -> Result<Findings, EngineError> {
    // (to table, to column) → values present; (fk index) → values referenced.
    let keys: Vec<_> = reader
        .tables()
        .iter()
        .flat_map(|t| t.foreign_keys.iter().cloned())
        .collect();
    let mut findings = Findings::default();
    let mut wanted: FxHashSet<String> = keys
        .iter()
        .flat_map(|k| [k.from_table.clone(), k.to_table.clone()])
        .collect();
    // The same pass stages the enabled apps' own tables (one read of the file, not two).
    for app in apps {
        wanted.extend(app.tables.iter().cloned());
    }
    let mut present: BTreeMap<(String, String), ValueSet> = BTreeMap::new();
    let mut referenced: Vec<ValueSet> = keys.iter().map(|_| ValueSet::default()).collect();
    for batch in reader.batches(1000, |t| wanted.contains(t)) {
        let batch = batch?;
        for app in apps {
            if app.tables.contains(&batch.table) {
                app.store.insert(&batch)?;
            }
        }
        for (k, key) in keys.iter().enumerate() {
            if key.from_table == batch.table
                && let Some(col) = batch.column_index(&key.from_column)
            {
                for row in &batch.rows {
                    referenced[k].insert(&row[col]);
                }
            }
            if key.to_table == batch.table
                && let Some(col) = batch.column_index(&key.to_column)
            {
                let set = present
                    .entry((key.to_table.clone(), key.to_column.clone()))
                    .or_default();
                for row in &batch.rows {
                    set.insert(&row[col]);
                }
            }
        }
    }
    let empty = ValueSet::default();
    for (k, key) in keys.iter().enumerate() {
        let have = present
            .get(&(key.to_table.clone(), key.to_column.clone()))
            .unwrap_or(&empty);
        let missing = referenced[k].missing_from(have);
        if missing.is_empty() {
            continue;
        }
        let fatal = enabled.iter().any(|p| p.owns(&key.from_table));
        for value in missing {
            findings.push(Finding {
                check: "ao-dangling-foreign-key".into(),
                severity: if fatal { Severity::Fatal } else { Severity::Warning },
                file: "activeobjects.xml".into(),
                entity: key.from_table.clone(),
                id: String::new(),
                line: None,
                message: format!(
                    "{}.{} holds {value}, but {}.{} has no such row{}",
                    key.from_table,
                    key.from_column,
                    key.to_table,
                    key.to_column,
                    if fatal {
                        "; the app's data cannot be migrated intact: fix it in the app, or disable the app for this migration"
                    } else {
                        " (the app is not enabled for this migration)"
                    }
                ),
            });
        }
    }
    Ok(findings)
}

/// An enabled app's own tables, staged while activeobjects.xml is checked.
pub struct AppStage {
    /// The tables its manifest reads (all under its AO prefix).
    pub tables: Vec<String>,
    pub store: std::sync::Arc<crate::app_rows::AppRows>,
}

/// Values of one column: integers in a bitmap, anything else as text.
#[derive(Default)]
struct ValueSet {
    integers: RoaringTreemap,
    other: FxHashSet<String>,
}

impl ValueSet {
    fn insert(&mut self, value: &Value) {
        match value {
            Value::Null => {}
            Value::Integer(i) if *i >= 0 => {
                self.integers.insert(*i as u64);
            }
            Value::Integer(i) => {
                self.other.insert(i.to_string());
            }
            Value::String(s) => {
                self.other.insert(s.clone());
            }
            other => {
                self.other.insert(format!("{other:?}"));
            }
        }
    }

    /// The values of `self` not in `other` (as text, sorted).
    fn missing_from(&self, other: &ValueSet) -> Vec<String> {
        let mut out: Vec<String> = (&self.integers - &other.integers)
            .iter()
            .map(|i| i.to_string())
            .collect();
        let mut text: Vec<String> = self
            .other
            .iter()
            .filter(|v| {
                !other.other.contains(*v)
                    && !v.parse::<u64>().is_ok_and(|i| other.integers.contains(i))
            })
            .cloned()
            .collect();
        text.sort();
        out.extend(text);
        out
    }
}

/// Maps a read failure of activeobjects.xml: malformed XML there is a fatal finding too.
pub fn ao_error_finding(error: &BackupError) -> Option<Finding> {
    match error {
        BackupError::Xml { .. } | BackupError::Invalid { .. } => Some(Finding {
            check: "malformed-xml".into(),
            severity: Severity::Fatal,
            file: "activeobjects.xml".into(),
            entity: String::new(),
            id: String::new(),
            line: error.line(),
            message: error.to_string(),
        }),
        _ => None,
    }
}

/// An enabled app whose Active Objects prefix is an installed app's (its `PluginVersion`
/// row) would read that app's tables. Fatal: the operator disables the app or asks its
/// vendor. (Two enabled apps sharing a prefix are refused before anything runs.)
pub fn check_app_identities(
    installed: &std::collections::BTreeSet<String>,
    enabled: &[airlock_model::AppKey],
) -> Findings {
    let mut findings = Findings::default();
    for app in enabled {
        for other in installed
            .iter()
            .map(|k| airlock_model::AppKey::new(k.as_str()))
        {
            if !app.collides_with(&other) {
                continue;
            }
            findings.push(Finding {
                check: "app-prefix-collision".into(),
                severity: Severity::Fatal,
                file: "entities.xml".into(),
                entity: "PluginVersion".into(),
                id: other.to_string(),
                line: None,
                message: format!(
                    "the enabled app `{app}` has the Active Objects prefix {}_ of the installed app `{other}`: it would read that app's tables. Disable `{app}`, or ask its vendor which app key is genuine",
                    app.ao_prefix()
                ),
            });
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use airlock_model::AppKey;

    /// `com.audit.notes-1242005` was found by brute force to share Timesheet Builder's
    /// prefix `AO_09EAEF`; the generated backup has Timesheet Builder installed.
    #[test]
    fn an_enabled_app_with_an_installed_apps_prefix_is_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.zip");
        airlock_fixtures::write_backup(&path, &airlock_fixtures::Spec::default()).unwrap();
        let staging =
            airlock_staging::SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
        let collider = AppKey::new("com.audit.notes-1242005");
        let timesheet = AppKey::new("com.actonic.jira.timesheet-builder");
        assert_eq!(collider.ao_prefix(), timesheet.ao_prefix());

        let report = crate::check(&path, &staging, &[collider], &[], |_| {})
            .unwrap()
            .report;
        assert_eq!(report.findings.count_of("app-prefix-collision"), 1);
        let found = report
            .findings
            .summaries()
            .into_iter()
            .find(|s| s.check == "app-prefix-collision")
            .unwrap();
        assert_eq!(found.severity, airlock_model::Severity::Fatal);
        assert_eq!(found.examples[0].id, timesheet.as_str());
        assert!(found.examples[0].message.contains("AO_09EAEF"));
        assert!(report.blocks_migration());

        // The installed app itself, enabled, collides with nothing.
        let staging =
            airlock_staging::SealedStaging::ephemeral(dir.path().join("staging-2")).unwrap();
        let report = crate::check(&path, &staging, &[timesheet], &[], |_| {})
            .unwrap()
            .report;
        assert_eq!(report.findings.count_of("app-prefix-collision"), 0);
    }
}
