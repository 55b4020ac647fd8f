//! Phase 1, the integrity check: what in the source would be lost or wrong on the target.
//! Row-level problems were found while extracting; this pass walks every staged record's
//! references against the [`SourceIndex`], and every app's Active Objects foreign keys.
//! Fatal findings block the migration until the source is fixed and checked again.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read, Write};

use airlock_backup::{AoReader, BackupError};
use airlock_model::jira::{FieldValue, Kind, Record, Target};
use airlock_model::{AoPrefix, Severity, Value};
use airlock_staging::Staging;
use roaring::RoaringTreemap;
use rustc_hash::FxHashSet;

use serde::{Deserialize, Serialize};

use crate::EngineError;
use crate::extract::{IdSet, SourceIndex};
use crate::findings::{Finding, Findings};
use crate::records::RecordReader;

/// What the operator chose for orphans: rows whose parent is not in the backup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrphanPolicy {
    /// Skipped with a warning each (the default: real backups hold them).
    #[default]
    Skip,
    /// Fatal (`--strict`, or `"orphans": "block"` in the override file).
    Block,
}

/// The operator's choices the integrity check applies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckPolicy {
    pub orphans: OrphanPolicy,
    /// User keys the override file maps to an existing account: their email does not
    /// matter, so a missing or unusable one does not block.
    pub mapped_users: BTreeSet<String>,
}

impl CheckPolicy {
    /// The policy of an override file, with `--strict` on top.
    pub fn new(overrides: &crate::analysis::Overrides, strict: bool) -> CheckPolicy {
        CheckPolicy {
            orphans: if strict {
                OrphanPolicy::Block
            } else {
                overrides.orphans
            },
            mapped_users: overrides
                .users
                .iter()
                .filter(|(_, account)| account.as_str() != "create")
                .map(|(key, _)| key.clone())
                .collect(),
        }
    }

    /// A stable text naming the policy: a check made under another policy is not reused.
    pub fn fingerprint(&self) -> String {
        // A hash, not the keys: the state's metadata is not sealed. (A toolchain whose
        // hasher differs only makes the next run check again.)
        use std::hash::{Hash, Hasher};
        let mut hash = std::hash::DefaultHasher::new();
        self.mapped_users.hash(&mut hash);
        format!("orphans={:?} users={:016x}", self.orphans, hash.finish())
    }
}

/// How many orphan rows the integrity report lists one by one; the rest are counted.
pub const MAX_ORPHANS_LISTED: usize = 10_000;

/// One orphan row: where it is and which parent it lacks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanRow {
    pub kind: Kind,
    /// The entities.xml element (`Label`, `Membership`…), or the activeobjects.xml table.
    pub entity: String,
    pub id: String,
    /// Its line in entities.xml (activeobjects.xml's rows have none).
    pub line: Option<u64>,
    /// The field naming the absent parent (`issue`, `parentName`…).
    pub field: String,
    /// The absent parent: its entity and id (`Issue 99999`).
    pub missing: String,
}

/// The staged object listing the orphans' positions, which the load skips.
const ORPHANS_OBJECT: &str = "core/orphans.set";

/// Orphans' positions per kind (the index of the record in its staged object), in
/// compressed bitmaps: a million orphans take a few hundred KiB.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrphanSet {
    positions: BTreeMap<Kind, RoaringTreemap>,
}

impl OrphanSet {
    pub fn insert(&mut self, kind: Kind, position: u64) {
        self.positions.entry(kind).or_default().insert(position);
    }

    pub fn contains(&self, kind: Kind, position: u64) -> bool {
        self.positions
            .get(&kind)
            .is_some_and(|p| p.contains(position))
    }

    /// Orphans per kind.
    pub fn counts(&self) -> BTreeMap<Kind, u64> {
        self.positions
            .iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(k, p)| (*k, p.len()))
            .collect()
    }

    fn extend(&mut self, other: OrphanSet) {
        for (kind, p) in other.positions {
            *self.positions.entry(kind).or_default() |= p;
        }
    }

    /// Stages the set (replacing an earlier check's): kind name, length, bitmap.
    pub fn write(&self, staging: &dyn Staging) -> Result<(), EngineError> {
        let mut out = staging.create(ORPHANS_OBJECT)?;
        for (kind, p) in &self.positions {
            let mut bytes = Vec::with_capacity(p.serialized_size());
            p.serialize_into(&mut bytes)
                .map_err(EngineError::staging_io)?;
            let name = kind.name().as_bytes();
            out.write_all(&[name.len() as u8])
                .and_then(|()| out.write_all(name))
                .and_then(|()| out.write_all(&(bytes.len() as u64).to_le_bytes()))
                .and_then(|()| out.write_all(&bytes))
                .map_err(EngineError::staging_io)?;
        }
        out.finish()?;
        Ok(())
    }

    /// The staged set; empty if the check staged none (nothing is skipped then).
    pub fn read(staging: &dyn Staging) -> Result<OrphanSet, EngineError> {
        let damaged = |problem: &str| EngineError::Staged {
            name: ORPHANS_OBJECT.into(),
            problem: problem.into(),
        };
        let mut input = match staging.open(ORPHANS_OBJECT) {
            Ok(input) => input,
            Err(airlock_staging::StagingError::Missing { .. }) => return Ok(OrphanSet::default()),
            Err(e) => return Err(e.into()),
        };
        let mut bytes = Vec::new();
        input
            .read_to_end(&mut bytes)
            .map_err(EngineError::staging_io)?;
        let mut set = OrphanSet::default();
        let mut rest = &bytes[..];
        while let Some((&len, tail)) = rest.split_first() {
            let (name, tail) = tail
                .split_at_checked(len as usize)
                .ok_or_else(|| damaged("a kind name is cut short"))?;
            let kind = std::str::from_utf8(name)
                .ok()
                .and_then(Kind::from_name)
                .ok_or_else(|| damaged("it names an unknown kind"))?;
            let (size, tail) = tail
                .split_first_chunk::<8>()
                .ok_or_else(|| damaged("a length is cut short"))?;
            let (bitmap, tail) = tail
                .split_at_checked(u64::from_le_bytes(*size) as usize)
                .ok_or_else(|| damaged("a bitmap is cut short"))?;
            let p = RoaringTreemap::deserialize_from(bitmap)
                .map_err(|_| damaged("a bitmap does not decode"))?;
            set.positions.insert(kind, p);
            rest = tail;
        }
        Ok(set)
    }
}

/// What the reference check found: findings, and the orphans (listed and by position).
#[derive(Default)]
pub struct ReferenceCheck {
    pub findings: Findings,
    pub orphans: OrphanSet,
    /// The first [`MAX_ORPHANS_LISTED`] orphans, kind by kind.
    pub listed: Vec<OrphanRow>,
    /// Orphans past the list.
    pub unlisted: u64,
    /// Filters whose query cannot be rewritten, with their position among the filters.
    pub refused_queries: Vec<(u64, Record)>,
    /// The issue types each project's issues (orphans aside) have, for
    /// [`crate::issue_type_schemes::issues_outside_their_schemes`].
    pub issue_types: IssueTypesUsed,
    /// The statuses each project's issues of each type (orphans aside) are in, for
    /// [`crate::workflows::issues_outside_their_workflows`].
    pub issue_statuses: IssueStatusesUsed,
}

/// (project, issue type) → how many issues have it, and the first one's id and line.
pub type IssueTypesUsed = BTreeMap<(String, String), (u64, String, Option<u64>)>;

/// (project, issue type, status) → how many issues are in it, and the first one's id and
/// line.
pub type IssueStatusesUsed = BTreeMap<(String, String, String), (u64, String, Option<u64>)>;

impl ReferenceCheck {
    pub(crate) fn extend(&mut self, other: ReferenceCheck) {
        self.findings.extend(other.findings);
        self.orphans.extend(other.orphans);
        for row in other.listed {
            if self.listed.len() < MAX_ORPHANS_LISTED {
                self.listed.push(row);
            } else {
                self.unlisted += 1;
            }
        }
        self.unlisted += other.unlisted;
        self.refused_queries.extend(other.refused_queries);
        for (used, (n, id, line)) in other.issue_types {
            self.issue_types.entry(used).or_insert((0, id, line)).0 += n;
        }
        for (used, (n, id, line)) in other.issue_statuses {
            self.issue_statuses.entry(used).or_insert((0, id, line)).0 += n;
        }
    }

    fn orphan(
        &mut self,
        record: &Record,
        line: u64,
        position: u64,
        (field, target, value): (&str, Target, &str),
        policy: OrphanPolicy,
    ) {
        let kind = record.kind();
        self.list(
            OrphanRow {
                kind,
                entity: kind.entity().into(),
                id: record.id().to_owned(),
                line: located(kind, line),
                field: field.into(),
                missing: format!("{} {value}", pointed(target)),
            },
            policy,
        );
        self.orphans.insert(kind, position);
    }

    /// Rows the extraction left out of a record as orphans (they are no record of their
    /// own, so the load has nothing to skip): found and listed as the others are.
    pub fn left_out(rows: Vec<OrphanRow>, policy: OrphanPolicy) -> ReferenceCheck {
        let mut check = ReferenceCheck::default();
        for row in rows {
            check.list(row, policy);
        }
        check
    }

    fn list(&mut self, row: OrphanRow, policy: OrphanPolicy) {
        let (check, severity, consequence) = match policy {
            OrphanPolicy::Skip => (
                "orphan-skipped",
                Severity::Warning,
                "the row is skipped: not migrated, and counted as skipped in the verification",
            ),
            OrphanPolicy::Block => (
                "orphan-blocked",
                Severity::Fatal,
                "--strict (or \"orphans\": \"block\") makes orphans fatal: restore the parent or delete this row and make a new backup, or run without --strict to skip it",
            ),
        };
        self.findings.push(Finding {
            check: check.into(),
            severity,
            file: row.kind.file().into(),
            entity: row.entity.clone(),
            id: row.id.clone(),
            line: row.line,
            message: format!(
                "{} points to {}, which is not in the backup; {consequence}",
                row.field, row.missing
            ),
        });
        if self.listed.len() < MAX_ORPHANS_LISTED {
            self.listed.push(row);
        } else {
            self.unlisted += 1;
        }
    }
}

/// Kinds whose rows may be orphans and are referenced by other rows: checked first, so
/// a row whose parent is an orphan goes with it (a component of a deleted project takes
/// its issues' links to it along).
const PARENT_KINDS: [Kind; 9] = [
    Kind::Component,
    Kind::Version,
    Kind::CustomFieldOption,
    Kind::ChangeGroup,
    Kind::Board,
    Kind::Sprint,
    Kind::BoardColumn,
    Kind::Gadget,
    Kind::ScreenTab,
];

/// Ids of orphans of the [`PARENT_KINDS`]: absent for the rows that reference them.
#[derive(Default)]
struct Gone(BTreeMap<Kind, IdSet>);

impl Gone {
    fn contains(&self, target: Target, id: &str) -> bool {
        match target {
            Target::Kind(kind) => self.0.get(&kind).is_some_and(|s| s.contains(id)),
            Target::UserName => false,
        }
    }
}

/// Whether a reference names the row's parent: without it the row means nothing on the
/// target (a label without its issue, a membership without its group or member), so it
/// is an orphan. An issue's own references are not (an issue without its project or
/// status would break the site), nor a user named as author or lead (the row stays,
/// naming no one).
fn is_parent_ref(kind: Kind, field: &str, target: Target) -> bool {
    match (kind, target) {
        (Kind::Issue, _) => false,
        // A property, watcher, vote, share, project role, permission or card colour of a
        // user is the user's.
        (_, Target::Kind(Kind::User)) => matches!(
            field,
            "entityId" | "sourceName" | "param1" | "roletypeparameter" | "parameter" | "VAL"
        ),
        _ => true,
    }
}

/// Checks every staged record's references: parents first, then the rest on two
/// threads (kinds split between them).
pub fn check_references(
    staging: &dyn Staging,
    index: &SourceIndex,
    policy: OrphanPolicy,
) -> Result<ReferenceCheck, EngineError> {
    let mut gone = Gone::default();
    let mut result = ReferenceCheck::default();
    check_parents(staging, index, policy, &mut gone, &mut result)?;
    let gone = &gone;
    // The bulk kinds are split so both halves hold about as many records.
    let (first, second): (Vec<Kind>, Vec<Kind>) = Kind::ALL
        .into_iter()
        .filter(|k| !PARENT_KINDS.contains(k))
        .partition(|k| {
            !matches!(
                k,
                Kind::Comment
                    | Kind::Worklog
                    | Kind::IssueVersion
                    | Kind::EntityProperty
                    | Kind::Attachment
                    | Kind::Watcher
                    | Kind::Vote
                    | Kind::ChangeItem
                    | Kind::IssueRank
            )
        });
    let (a, b) = std::thread::scope(|scope| {
        let other = scope.spawn(|| check_kinds(staging, index, gone, policy, &second));
        let mine = check_kinds(staging, index, gone, policy, &first);
        let other = other.join().unwrap_or_else(|_| {
            Err(EngineError::Staged {
                name: "core".into(),
                problem: "the reference check stopped unexpectedly".into(),
            })
        });
        (mine, other)
    });
    result.extend(a?);
    result.extend(b?);
    Ok(result)
}

/// Components, versions, change groups, boards, sprints, columns, gadgets, screens' tabs
/// and options, in that order; options until no more become
/// orphans (a child of an orphan option is one too). Options are few: held at once.
fn check_parents(
    staging: &dyn Staging,
    index: &SourceIndex,
    policy: OrphanPolicy,
    gone: &mut Gone,
    out: &mut ReferenceCheck,
) -> Result<(), EngineError> {
    // A board before its sprints and columns: theirs go with an orphan board.
    for kind in [
        Kind::Component,
        Kind::Version,
        Kind::ChangeGroup,
        Kind::Board,
        Kind::Sprint,
        Kind::BoardColumn,
        Kind::Gadget,
        Kind::ScreenTab,
    ] {
        let mut reader = RecordReader::open_kind(staging, kind)?;
        let mut position = 0;
        while let Some((line, record)) = reader.next_located()? {
            if check_record(&record, line, position, index, gone, policy, out) {
                gone.0.entry(kind).or_default().insert(record.id());
            }
            position += 1;
        }
    }
    let kind = Kind::CustomFieldOption;
    let mut options = Vec::new();
    let mut reader = RecordReader::open_kind(staging, kind)?;
    while let Some(located) = reader.next_located()? {
        options.push(located);
    }
    let mut orphan = vec![false; options.len()];
    loop {
        let mut found = false;
        for (position, (line, record)) in options.iter().enumerate() {
            if orphan[position] {
                continue;
            }
            // Findings other than orphans are given once, in the last round.
            let mut probe = ReferenceCheck::default();
            if check_record(
                record,
                *line,
                position as u64,
                index,
                gone,
                policy,
                &mut probe,
            ) {
                orphan[position] = true;
                gone.0.entry(kind).or_default().insert(record.id());
                out.extend(probe);
                found = true;
            }
        }
        if !found {
            break;
        }
    }
    for (position, (line, record)) in options.iter().enumerate() {
        if !orphan[position] {
            check_record(record, *line, position as u64, index, gone, policy, out);
        }
    }
    Ok(())
}

fn check_kinds(
    staging: &dyn Staging,
    index: &SourceIndex,
    gone: &Gone,
    policy: OrphanPolicy,
    kinds: &[Kind],
) -> Result<ReferenceCheck, EngineError> {
    let mut out = ReferenceCheck::default();
    for &kind in kinds {
        let mut reader = RecordReader::open_kind(staging, kind)?;
        let mut position = 0;
        while let Some((line, record)) = reader.next_located()? {
            let orphan = check_record(&record, line, position, index, gone, policy, &mut out);
            if let Record::Issue(issue) = &record
                && !orphan
            {
                let first = || (0, issue.id.clone(), located(kind, line));
                let used = (issue.project.clone(), issue.issue_type.clone());
                out.issue_types.entry(used).or_insert_with(first).0 += 1;
                let used = (
                    issue.project.clone(),
                    issue.issue_type.clone(),
                    issue.status.clone(),
                );
                out.issue_statuses.entry(used).or_insert_with(first).0 += 1;
            }
            position += 1;
        }
    }
    Ok(out)
}

/// Checks one record's references; true if it is an orphan.
fn check_record(
    record: &Record,
    line: u64,
    position: u64,
    index: &SourceIndex,
    gone: &Gone,
    policy: OrphanPolicy,
    out: &mut ReferenceCheck,
) -> bool {
    let kind = record.kind();
    let present = |target: Target, value: &str| {
        index.contains(target, value) && !gone.contains(target, value)
    };
    let mut parent: Option<(&'static str, Target, &str)> = None;
    let mut dangling_refs = Vec::new();
    record.for_each_ref(|field, target, value| {
        if present(target, value) {
            return;
        }
        if is_parent_ref(kind, field, target) {
            parent = parent.or(Some((field, target, value)));
        } else {
            dangling_refs.push((field, target, value));
        }
    });
    // A select-like field's value is an option id: a value of a deleted option is one too.
    if parent.is_none()
        && let Record::CustomFieldValue(v) = record
        && let FieldValue::Text(text) = &v.value
        && !text.is_empty()
        && index.is_option_field(&v.field)
        && !present(Target::Kind(Kind::CustomFieldOption), text)
    {
        parent = Some(("stringvalue", Target::Kind(Kind::CustomFieldOption), text));
    }
    if let Some(missing) = parent {
        out.orphan(record, line, position, missing, policy);
        return true;
    }
    for (field, target, value) in dangling_refs {
        out.findings
            .push(dangling(record, line, field, target, value));
    }
    if let Some(jql) = crate::queries::query_of(record) {
        let problems = crate::queries::problems(jql, index);
        if !problems.is_empty() {
            out.refused_queries.push((position, record.clone()));
        }
        for problem in problems {
            out.findings.push(Finding {
                check: "filter-query".into(),
                severity: Severity::Warning,
                file: kind.file().into(),
                entity: kind.entity().into(),
                id: record.id().to_owned(),
                line: located(kind, line),
                message: format!(
                    "{problem}; the load refuses this {} until you {}",
                    kind.name().replace('-', " "),
                    crate::queries::fix_hint(kind, record.id())
                ),
            });
        }
    }
    false
}

/// A record's line in its file, for findings: Active Objects rows have none.
fn located(kind: Kind, line: u64) -> Option<u64> {
    (!kind.is_active_objects()).then_some(line)
}

fn pointed(target: Target) -> &'static str {
    match target {
        Target::Kind(k) => k.entity(),
        Target::UserName => "User",
    }
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
            "the issue cannot be migrated without it (the site would break): restore the referenced row or delete the issue, then make a new backup",
        ),
    };
    Finding {
        check: check.into(),
        severity,
        file: kind.file().into(),
        entity: kind.entity().into(),
        id: record.id().to_owned(),
        line: located(kind, line),
        message: format!(
            "{field} points to {} {value}, which is not in the backup; {consequence}",
            pointed(target)
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
    software: &mut crate::software::SoftwareExtractor<'_>,
    counts: &mut crate::coverage::TableCounter,
) -> Result<Findings, EngineError> {
    for table in reader.tables() {
        counts.defined(&table.name);
    }
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
    // And Jira Software's tables become core records.
    wanted.extend(
        reader
            .tables()
            .iter()
            .filter(|t| crate::software::kind_of_table(&t.name).is_some())
            .map(|t| t.name.clone()),
    );
    let mut present: BTreeMap<(String, String), ValueSet> = BTreeMap::new();
    let mut referenced: Vec<ValueSet> = keys.iter().map(|_| ValueSet::default()).collect();
    for batch in reader.batches(1000, |t| wanted.contains(t)) {
        let batch = batch?;
        counts.rows(&batch.table, batch.rows.len() as u64);
        for app in apps {
            if app.tables.contains(&batch.table) {
                app.store.insert(&batch)?;
            }
        }
        software.batch(&batch)?;
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
    // The other tables were streamed past, their rows counted for the coverage ledger.
    for (table, rows) in reader.skipped_sections() {
        counts.rows(table, *rows);
    }
    counts.unnamed(reader.skipped_overflow_rows());
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
