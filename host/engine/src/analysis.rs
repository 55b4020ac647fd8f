//! Phase 2, target analysis: compares the staged source with what the target holds and
//! says, object by object, what the load will do (add, map to an existing object, or a
//! problem to resolve first). Problems block the load; the operator's override file
//! (a new project key, a new field name, a user mapped to a chosen account) resolves them
//! when the analysis is run again.
//!
//! It also lists every row the target's own rules will refuse ([`airlock_site::rules`],
//! the same the sites apply): those do not block, the rest migrates and the run ends with
//! failures (exit 3), unless the override file fixes or skips them first (`"rows"`).

use std::collections::{BTreeMap, BTreeSet};

use airlock_model::jira::{Kind, Record};
use airlock_site::{CaveatRows, Snapshot, rules};
use airlock_staging::Staging;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::EngineError;
use crate::fixes::{self, Applied, RowFix, RowFixes};
use crate::load::LoadDecisions;
use crate::records::RecordReader;

/// The operator's answers to the analysis' problems.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Source project key → the key (and optionally name) to use on the target.
    #[serde(default)]
    pub projects: BTreeMap<String, ProjectOverride>,
    /// Source custom field name → the name to use on the target.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldOverride>,
    /// Source user key → the account id to map the user to, or `"create"` for a new account.
    /// A user mapped to an account needs no usable email of its own.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
    /// Orphan rows (their parent is not in the backup): `"skip"` (the default) or
    /// `"block"` (fatal, as `--strict`).
    #[serde(default)]
    pub orphans: crate::integrity::OrphanPolicy,
    /// Answers for single rows the target refuses (kind → source id → `"skip"` or new
    /// values for the fields a rule names): see [`crate::fixes`].
    #[serde(default)]
    pub rows: RowFixes,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectOverride {
    pub key: Option<String>,
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOverride {
    pub name: String,
}

/// What the load will do with one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Created on the target.
    Add,
    /// Mapped to an object the target has already (nothing written).
    Map,
    /// Created with a changed key or name (from the override file).
    Modify,
    /// Blocks the load until resolved.
    Problem,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanItem {
    pub kind: Kind,
    /// The source object's id (key for users).
    pub source: String,
    /// Its name as an operator knows it (project key, field name, user name…).
    pub label: String,
    pub action: Action,
    /// For `Map`, the target object; for `Problem`, a stable code.
    pub detail: String,
    /// What to do about a problem, or what will happen.
    pub message: String,
}

/// What becomes of a row the target's rules refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowOutcome {
    /// The target will refuse it unless the override file answers it: the migration
    /// goes on without it, lists it as failed and exits 3.
    Refused,
    /// The override file gives it values the rules accept.
    Fixed,
    /// The override file skips it.
    Skipped,
    /// Nothing to say (not listed).
    Written,
}

/// A row the target's rules refuse (or the override file answers), before the load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowPlan {
    pub kind: Kind,
    /// The row's id in the source.
    pub source: String,
    /// The rule's stable code (`invalid-value`, `too-large`), or `override`.
    pub code: String,
    /// The field the rule names, which the override file can set.
    pub field: String,
    /// What is wrong and what to write in the override file.
    pub reason: String,
    pub outcome: RowOutcome,
}

/// The plan: per object what changes on the target, and the decisions the load applies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub target: String,
    /// Objects added, mapped, modified or in conflict. Issues, comments and the other
    /// bulk kinds are summarised in `bulk` instead of listed.
    pub items: Vec<PlanItem>,
    /// Bulk kinds: how many will be added.
    pub bulk: BTreeMap<Kind, u64>,
    pub decisions: LoadDecisions,
    /// Rows the target's rules refuse, predicted before the load (they do not block: the
    /// rest migrates), and rows the override file answers.
    #[serde(default)]
    pub rows: Vec<RowPlan>,
    /// Each enabled app's analysis of its own data (app key → findings). Fatal ones block.
    #[serde(default)]
    pub apps: BTreeMap<String, crate::Findings>,
    /// What the target cannot write as the source has it, for the kinds the backup has.
    #[serde(default)]
    pub caveats: Vec<PlannedCaveat>,
}

/// A target's caveat ([`airlock_site::Caveat`]) with the number of rows it concerns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedCaveat {
    pub kind: Kind,
    pub rows: u64,
    pub treatment: airlock_site::Treatment,
    pub how: String,
}

/// The target's caveats for the kinds staged (`staged`: rows per kind), in load order,
/// each with the rows it concerns: every row of its kind, or the one it names (the
/// source's system dashboard, its default issue type scheme), counted in `staging`.
pub fn plan_caveats(
    caveats: Vec<airlock_site::Caveat>,
    staged: &BTreeMap<Kind, u64>,
    staging: &dyn Staging,
) -> Result<Vec<PlannedCaveat>, EngineError> {
    let mut planned = Vec::new();
    for c in caveats {
        let Some(all) = staged.get(&c.kind).copied().filter(|n| *n > 0) else {
            continue;
        };
        let rows = match c.rows {
            CaveatRows::All => all,
            CaveatRows::SystemDashboard => count(
                staging,
                Kind::Dashboard,
                |r| matches!(r, Record::Dashboard(d) if d.system),
            )?,
            CaveatRows::DefaultIssueTypeScheme => count(
                staging,
                Kind::IssueTypeScheme,
                |r| matches!(r, Record::IssueTypeScheme(s) if s.global),
            )?,
        };
        if rows > 0 {
            planned.push(PlannedCaveat {
                kind: c.kind,
                rows,
                treatment: c.treatment,
                how: c.how,
            });
        }
    }
    planned.sort_by_key(|c| Kind::ALL.iter().position(|k| *k == c.kind));
    Ok(planned)
}

/// The staged records of `kind` that `which` picks.
fn count(
    staging: &dyn Staging,
    kind: Kind,
    which: impl Fn(&Record) -> bool,
) -> Result<u64, EngineError> {
    Ok(read_all(staging, kind)?.iter().filter(|r| which(r)).count() as u64)
}

impl Plan {
    pub fn problems(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.action == Action::Problem)
    }

    /// Whether the migration must wait: a problem on the target, or an enabled app's
    /// fatal finding in its data.
    pub fn blocks_migration(&self) -> bool {
        self.problems().next().is_some() || self.apps.values().any(|f| f.is_blocking())
    }

    /// Rows the target will refuse unless the override file answers them.
    pub fn refused(&self) -> impl Iterator<Item = &RowPlan> {
        self.rows
            .iter()
            .filter(|r| r.outcome == RowOutcome::Refused)
    }

    pub fn count(&self, kind: Kind, action: Action) -> u64 {
        self.items
            .iter()
            .filter(|i| i.kind == kind && i.action == action)
            .count() as u64
    }
}

/// Compares the staged source with the target's snapshot.
pub fn analyze(
    staging: &dyn Staging,
    staged: &BTreeMap<Kind, u64>,
    snapshot: &Snapshot,
    target: &str,
    overrides: &Overrides,
) -> Result<Plan, EngineError> {
    let mut plan = Plan {
        target: target.to_owned(),
        ..Plan::default()
    };
    plan_users(staging, snapshot, overrides, &mut plan)?;
    plan_projects(staging, snapshot, overrides, &mut plan)?;
    plan_fields(staging, snapshot, overrides, &mut plan)?;
    plan_constants(staging, snapshot, &mut plan)?;
    plan_bulk(staged, &mut plan);
    plan_rows(staging, overrides, &mut plan)?;
    Ok(plan)
}

fn item(
    kind: Kind,
    source: &str,
    label: &str,
    action: Action,
    detail: &str,
    message: String,
) -> PlanItem {
    PlanItem {
        kind,
        source: source.to_owned(),
        label: label.to_owned(),
        action,
        detail: detail.to_owned(),
        message,
    }
}

/// Users: by email. A source email shared by several source users, or by several
/// target accounts, needs the operator to say which account is whose.
fn plan_users(
    staging: &dyn Staging,
    snapshot: &Snapshot,
    overrides: &Overrides,
    plan: &mut Plan,
) -> Result<(), EngineError> {
    let mut target_by_email: FxHashMap<String, Vec<&str>> = FxHashMap::default();
    for u in &snapshot.users {
        if let Some(email) = &u.email {
            target_by_email
                .entry(email.to_lowercase())
                .or_default()
                .push(&u.account_id);
        }
    }
    let users: Vec<_> = read_all(staging, Kind::User)?
        .into_iter()
        .filter_map(|r| match r {
            Record::User(u) => Some(u),
            _ => None,
        })
        .collect();
    let mut source_by_email: FxHashMap<String, u32> = FxHashMap::default();
    for u in &users {
        *source_by_email.entry(u.email.to_lowercase()).or_default() += 1;
    }
    for u in &users {
        let email = u.email.to_lowercase();
        if let Some(choice) = overrides.users.get(&u.key) {
            if choice == "create" {
                plan.items.push(item(
                    Kind::User,
                    &u.key,
                    &u.user_name,
                    Action::Add,
                    "",
                    "a new account (override file)".into(),
                ));
            } else {
                plan.decisions
                    .existing
                    .entry(Kind::User)
                    .or_default()
                    .insert(u.key.clone(), choice.clone());
                plan.items.push(item(
                    Kind::User,
                    &u.key,
                    &u.user_name,
                    Action::Map,
                    choice,
                    "mapped to the account the override file names".into(),
                ));
            }
            continue;
        }
        let accounts = target_by_email
            .get(&email)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let shared_in_source = source_by_email.get(&email).copied().unwrap_or(0) > 1;
        if accounts.len() > 1 || shared_in_source {
            plan.items.push(item(
                Kind::User,
                &u.key,
                &u.user_name,
                Action::Problem,
                "shared-email",
                format!(
                    "{} source user(s) and {} target account(s) share this user's email; name the account for this user key in the override file (\"users\": {{\"{}\": \"<account id>\" or \"create\"}})",
                    source_by_email.get(&email).copied().unwrap_or(0),
                    accounts.len(),
                    u.key
                ),
            ));
        } else if let [account] = accounts {
            plan.decisions
                .existing
                .entry(Kind::User)
                .or_default()
                .insert(u.key.clone(), (*account).to_owned());
            plan.items.push(item(
                Kind::User,
                &u.key,
                &u.user_name,
                Action::Map,
                account,
                "an account with this email exists: the user is mapped to it".into(),
            ));
        } else {
            plan.items.push(item(
                Kind::User,
                &u.key,
                &u.user_name,
                Action::Add,
                "",
                "a new account".into(),
            ));
        }
    }
    Ok(())
}

/// Projects: keys and names are unique on the target.
fn plan_projects(
    staging: &dyn Staging,
    snapshot: &Snapshot,
    overrides: &Overrides,
    plan: &mut Plan,
) -> Result<(), EngineError> {
    let target_keys: FxHashMap<String, &str> = snapshot
        .projects
        .iter()
        .map(|p| (p.key.to_uppercase(), p.id.as_str()))
        .collect();
    let target_names: FxHashMap<String, &str> = snapshot
        .projects
        .iter()
        .map(|p| (p.name.to_lowercase(), p.id.as_str()))
        .collect();
    for record in read_all(staging, Kind::Project)? {
        let Record::Project(p) = record else { continue };
        let o = overrides.projects.get(&p.key);
        let key = o
            .and_then(|o| o.key.clone())
            .unwrap_or_else(|| p.key.clone());
        let name = o
            .and_then(|o| o.name.clone())
            .unwrap_or_else(|| p.name.clone());
        if key != p.key {
            plan.decisions
                .project_keys
                .insert(p.id.clone(), key.clone());
        }
        if name != p.name {
            plan.decisions
                .project_names
                .insert(p.id.clone(), name.clone());
        }
        let changed = key != p.key || name != p.name;
        if target_keys.contains_key(&key.to_uppercase()) {
            plan.items.push(item(Kind::Project, &p.id, &p.key, Action::Problem, "project-key-clash",
                format!("the target has a project with key {key}; give this project a new key in the override file (\"projects\": {{\"{}\": {{\"key\": \"NEWKEY\"}}}})", p.key)));
        } else if target_names.contains_key(&name.to_lowercase()) {
            plan.items.push(item(Kind::Project, &p.id, &p.key, Action::Problem, "project-name-clash",
                format!("the target has a project with this name; give this project a new name in the override file (\"projects\": {{\"{}\": {{\"name\": \"…\"}}}})", p.key)));
        } else if changed {
            plan.items.push(item(
                Kind::Project,
                &p.id,
                &p.key,
                Action::Modify,
                &key,
                format!("created as {key} (override file)"),
            ));
        } else {
            plan.items.push(item(
                Kind::Project,
                &p.id,
                &p.key,
                Action::Add,
                &key,
                "a new project".into(),
            ));
        }
    }
    Ok(())
}

/// Custom fields: same name and type maps; same name and another type clashes.
fn plan_fields(
    staging: &dyn Staging,
    snapshot: &Snapshot,
    overrides: &Overrides,
    plan: &mut Plan,
) -> Result<(), EngineError> {
    let mut target_fields: FxHashMap<String, Vec<(&str, &str)>> = FxHashMap::default();
    for f in &snapshot.fields {
        target_fields
            .entry(f.name.to_lowercase())
            .or_default()
            .push((&f.id, &f.type_key));
    }
    for record in read_all(staging, Kind::CustomField)? {
        let Record::CustomField(f) = record else {
            continue;
        };
        let name = overrides
            .fields
            .get(&f.name)
            .map(|o| o.name.clone())
            .unwrap_or_else(|| f.name.clone());
        if name != f.name {
            plan.decisions
                .field_names
                .insert(f.id.clone(), name.clone());
        }
        let same_name = target_fields
            .get(&name.to_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if let Some((id, _)) = same_name.iter().find(|(_, t)| *t == f.type_key) {
            plan.decisions
                .existing
                .entry(Kind::CustomField)
                .or_default()
                .insert(f.id.clone(), (*id).to_owned());
            plan.items.push(item(
                Kind::CustomField,
                &f.id,
                &f.name,
                Action::Map,
                id,
                "the target has this field with the same type: values go into it".into(),
            ));
        } else if !same_name.is_empty() {
            plan.items.push(item(Kind::CustomField, &f.id, &f.name, Action::Problem, "field-type-clash",
                format!("the target has a field of this name with another type; give it a new name in the override file (\"fields\": {{\"{}\": {{\"name\": \"…\"}}}})", f.name)));
        } else if name != f.name {
            plan.items.push(item(
                Kind::CustomField,
                &f.id,
                &f.name,
                Action::Modify,
                &name,
                "created under the name the override file gives".into(),
            ));
        } else {
            plan.items.push(item(
                Kind::CustomField,
                &f.id,
                &f.name,
                Action::Add,
                "",
                "a new field".into(),
            ));
        }
    }
    Ok(())
}

/// Named constants and groups: mapped by name, added when missing.
fn plan_constants(
    staging: &dyn Staging,
    snapshot: &Snapshot,
    plan: &mut Plan,
) -> Result<(), EngineError> {
    let by_name = |list: &[airlock_site::TargetConstant]| -> FxHashMap<String, String> {
        list.iter()
            .map(|c| (c.name.to_lowercase(), c.id.clone()))
            .collect()
    };
    let constants = [
        (Kind::IssueType, by_name(&snapshot.issue_types)),
        (Kind::Status, by_name(&snapshot.statuses)),
        (Kind::Priority, by_name(&snapshot.priorities)),
        (Kind::Resolution, by_name(&snapshot.resolutions)),
        (Kind::IssueLinkType, by_name(&snapshot.link_types)),
        (Kind::ProjectRole, by_name(&snapshot.roles)),
        (
            Kind::Group,
            snapshot
                .groups
                .iter()
                .map(|g| (g.to_lowercase(), g.clone()))
                .collect(),
        ),
    ];
    for (kind, existing) in constants {
        for record in read_all(staging, kind)? {
            let (id, name) = match &record {
                Record::IssueType(c)
                | Record::Status(c)
                | Record::Priority(c)
                | Record::Resolution(c) => (c.id.clone(), c.name.clone()),
                Record::IssueLinkType(l) => (l.id.clone(), l.name.clone()),
                Record::ProjectRole(r) => (r.id.clone(), r.name.clone()),
                Record::Group(g) => (g.name.clone(), g.name.clone()),
                _ => continue,
            };
            match existing.get(&name.to_lowercase()) {
                Some(cloud) => {
                    plan.decisions
                        .existing
                        .entry(kind)
                        .or_default()
                        .insert(id.clone(), cloud.clone());
                    plan.items.push(item(
                        kind,
                        &id,
                        &name,
                        Action::Map,
                        cloud,
                        "the target has one of this name".into(),
                    ));
                }
                None => plan.items.push(item(
                    kind,
                    &id,
                    &name,
                    Action::Add,
                    "",
                    "missing on the target: created".into(),
                )),
            }
        }
    }
    Ok(())
}

/// The bulk kinds (issues, comments…): counted, not listed.
fn plan_bulk(staged: &BTreeMap<Kind, u64>, plan: &mut Plan) {
    for kind in Kind::ALL {
        if matches!(
            kind,
            Kind::User
                | Kind::Project
                | Kind::CustomField
                | Kind::IssueType
                | Kind::Status
                | Kind::Priority
                | Kind::Resolution
                | Kind::IssueLinkType
                | Kind::ProjectRole
                | Kind::Group
        ) {
            continue;
        }
        let n = staged.get(&kind).copied().unwrap_or(0);
        if n > 0 {
            plan.bulk.insert(kind, n);
        }
    }
}

/// Rows the target's own rules will refuse ([`airlock_site::rules`], staged by the
/// check), each as the override file leaves it: refused, fixed or skipped; and the
/// override file's row answers, handed to the load. Orphans are left out: the load never
/// sends them. Cheap (only the refused rows are read): also run on a kept plan, so a
/// rerun sees the override file as it is now.
pub fn plan_rows(
    staging: &dyn Staging,
    overrides: &Overrides,
    plan: &mut Plan,
) -> Result<(), EngineError> {
    plan.rows.clear();
    plan.decisions.rows = overrides.rows.clone();
    let orphans = crate::integrity::OrphanSet::read(staging)?;
    let mut predicted = BTreeSet::new();
    for object in [
        crate::records::REFUSED_OBJECT,
        crate::software::REFUSED_SOFTWARE_OBJECT,
    ] {
        let mut reader = match RecordReader::open(staging, object) {
            Ok(reader) => Some(reader),
            // Staged by a check of an earlier version: nothing was predicted.
            Err(airlock_staging::StagingError::Missing { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        while let Some((position, record)) = match reader.as_mut() {
            Some(r) => r.next_located()?,
            None => None,
        } {
            let kind = record.kind();
            if orphans.contains(kind, position) {
                continue;
            }
            predicted.insert((kind, record.id().to_owned()));
            plan.rows.push(row_plan(&plan.decisions, record));
        }
    }
    // Filters, swimlanes and quick filters whose query names ids without a cloud id: refused at load unless answered.
    let mut reader = match RecordReader::open(staging, crate::records::REFUSED_QUERIES_OBJECT) {
        Ok(reader) => Some(reader),
        Err(airlock_staging::StagingError::Missing { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    while let Some((_, record)) = match reader.as_mut() {
        Some(r) => r.next_located()?,
        None => None,
    } {
        let (kind, source) = (record.kind(), record.id().to_owned());
        if !predicted.insert((kind, source.clone())) {
            continue;
        }
        let (outcome, reason) = match fixes::find(&plan.decisions.rows, kind, &source) {
            Some(RowFix::Skip(_)) => (
                RowOutcome::Skipped,
                "skipped by the override file".to_owned(),
            ),
            // The new query is checked as the load rewrites it.
            Some(RowFix::Set(values)) if values.contains_key("jql") => (
                RowOutcome::Fixed,
                "the override file gives its query".to_owned(),
            ),
            _ => (
                RowOutcome::Refused,
                format!(
                    "its query names ids that will have no cloud id (the check's filter-query findings name them); {}",
                    crate::queries::fix_hint(kind, &source)
                ),
            ),
        };
        plan.rows.push(RowPlan {
            kind,
            source,
            code: "missing-reference".into(),
            field: "jql".into(),
            reason,
            outcome,
        });
    }
    // Projects and fields the override file renames: the new key or name must pass too.
    for kind in [Kind::Project, Kind::CustomField] {
        for record in read_all(staging, kind)? {
            let renamed = match &record {
                Record::Project(p) => {
                    plan.decisions.project_keys.contains_key(&p.id)
                        || plan.decisions.project_names.contains_key(&p.id)
                }
                Record::CustomField(f) => plan.decisions.field_names.contains_key(&f.id),
                _ => false,
            };
            if renamed && !predicted.contains(&(kind, record.id().to_owned())) {
                let row = row_plan(&plan.decisions, record);
                if row.outcome != RowOutcome::Written {
                    plan.rows.push(row);
                }
            }
        }
    }
    // Answers for rows not predicted (a row refused at load for another reason).
    for (kind, rows) in &overrides.rows {
        for (source, fix) in rows {
            if predicted.contains(&(*kind, source.clone())) {
                continue;
            }
            let skip = matches!(fix, RowFix::Skip(_));
            plan.rows.push(RowPlan {
                kind: *kind,
                source: source.clone(),
                code: "override".into(),
                field: String::new(),
                reason: "the override file answers this row".into(),
                outcome: if skip {
                    RowOutcome::Skipped
                } else {
                    RowOutcome::Fixed
                },
            });
        }
    }
    Ok(())
}

/// What becomes of one row the rules refused: the decisions and its fix applied, checked
/// again.
fn row_plan(decisions: &LoadDecisions, mut record: Record) -> RowPlan {
    let kind = record.kind();
    let source = record.id().to_owned();
    let before = rules::check(&record).err();
    crate::load::apply_renames(decisions, &mut record);
    let fix = fixes::find(&decisions.rows, kind, &source);
    let applied = fix.map(|f| fixes::apply(f, &mut record));
    let after = rules::check(&record).err();
    let (outcome, violation, bad_fix) = match applied {
        Some(Ok(Applied::Skip)) => (RowOutcome::Skipped, before, None),
        Some(Err(e)) => (RowOutcome::Refused, after.or(before), Some(e)),
        _ => match after {
            Some(v) => (RowOutcome::Refused, Some(v), None),
            None if before.is_some() || fix.is_some() => (RowOutcome::Fixed, before, None),
            None => (RowOutcome::Written, None, None),
        },
    };
    let (code, field, message) = match &violation {
        Some(v) => (v.code, v.field, v.message.as_str()),
        None => ("invalid-value", "", ""),
    };
    let reason = match (outcome, bad_fix) {
        (RowOutcome::Refused, Some(e)) => format!(
            "{message}; the override file's answer cannot be applied ({e}): {}",
            fixes::hint(kind, &source, Some(field).filter(|f| !f.is_empty()))
        ),
        (RowOutcome::Refused, None) => format!(
            "{message}: the target will refuse this row unless you {}",
            fixes::hint(kind, &source, Some(field))
        ),
        (RowOutcome::Fixed, _) if message.is_empty() => "fixed by the override file".into(),
        (RowOutcome::Fixed, _) => format!("{message}: fixed by the override file"),
        (RowOutcome::Skipped, _) if message.is_empty() => "skipped (override file)".into(),
        (RowOutcome::Skipped, _) => format!("{message}: skipped (override file)"),
        (RowOutcome::Written, _) => String::new(),
    };
    RowPlan {
        kind,
        source,
        code: code.to_owned(),
        field: field.to_owned(),
        reason,
        outcome,
    }
}

/// Reads every record of a small kind (users, projects, fields, constants).
fn read_all(staging: &dyn Staging, kind: Kind) -> Result<Vec<Record>, EngineError> {
    RecordReader::open_kind(staging, kind)?.collect()
}

/// Which server ids the load will map, per namespace: what an app's analysis resolves
/// against before anything is written (the cloud ids do not exist yet).
pub struct PlannedIds {
    sets: rustc_hash::FxHashMap<airlock_model::Namespace, crate::extract::IdSet>,
    /// Users the plan maps to accounts the target has (server key → account id).
    pub existing_users: BTreeMap<String, String>,
}

impl PlannedIds {
    /// Reads the staged records of the kinds behind `namespaces`.
    pub fn read(
        staging: &dyn Staging,
        namespaces: &[airlock_model::Namespace],
        plan: &Plan,
    ) -> Result<PlannedIds, EngineError> {
        let mut sets = rustc_hash::FxHashMap::default();
        for kind in Kind::ALL {
            let Some(ns) = kind.namespace().filter(|ns| namespaces.contains(ns)) else {
                continue;
            };
            let set: &mut crate::extract::IdSet = sets.entry(ns).or_default();
            for record in RecordReader::open_kind(staging, kind)? {
                set.insert(record?.id());
            }
        }
        Ok(PlannedIds {
            sets,
            existing_users: plan
                .decisions
                .existing
                .get(&Kind::User)
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// The id the load will give this server id: the existing account for a mapped
    /// user, a placeholder for one to be created, `None` for one not in the source.
    pub fn resolve(&self, ns: airlock_model::Namespace, id: &str) -> Option<String> {
        if ns == airlock_model::Namespace::USER
            && let Some(account) = self.existing_users.get(id)
        {
            return Some(account.clone());
        }
        self.sets
            .get(&ns)
            .filter(|s| s.contains(id))
            .map(|_| format!("planned:{id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_site::{Caveat, Treatment};

    #[test]
    fn caveats_are_planned_for_the_kinds_the_backup_has_in_load_order_with_their_rows() {
        let dir = tempfile::tempdir().unwrap();
        let staging = airlock_staging::SealedStaging::ephemeral(dir.path()).unwrap();
        let caveat = |kind| Caveat {
            kind,
            treatment: Treatment::CarriedAsProperty,
            how: "why".into(),
            rows: CaveatRows::All,
        };
        let staged = BTreeMap::from([(Kind::Vote, 7), (Kind::Issue, 60), (Kind::Attachment, 0)]);
        let planned = plan_caveats(
            vec![
                caveat(Kind::Vote),
                caveat(Kind::Attachment),
                caveat(Kind::ChangeItem),
                caveat(Kind::Issue),
            ],
            &staged,
            &staging,
        )
        .unwrap();
        let got: Vec<(Kind, u64)> = planned.iter().map(|c| (c.kind, c.rows)).collect();
        // None for kinds without rows; issues load before votes.
        assert_eq!(got, [(Kind::Issue, 60), (Kind::Vote, 7)]);
    }

    /// A caveat about the source's system dashboard or default issue type scheme counts
    /// that one row, not every row of its kind; none when the source has none.
    #[test]
    fn caveats_about_one_row_count_that_row() {
        use airlock_model::jira::{Dashboard, IssueTypeScheme};
        let dir = tempfile::tempdir().unwrap();
        let staging = airlock_staging::SealedStaging::ephemeral(dir.path()).unwrap();
        let dashboard = |id: &str, system| {
            Record::Dashboard(Dashboard {
                id: id.into(),
                name: format!("Dashboard {id}"),
                description: String::new(),
                owner: if system {
                    String::new()
                } else {
                    "alice".into()
                },
                system,
                layout: "AA".into(),
                favourites: 0,
            })
        };
        let scheme = |id: &str, global| {
            Record::IssueTypeScheme(IssueTypeScheme {
                id: id.into(),
                name: format!("Scheme {id}"),
                description: String::new(),
                issue_types: vec!["1".into()],
                default_issue_type: None,
                global,
            })
        };
        let stage = |kind, records: &[Record]| crate::records::stage(&staging, kind, records);
        stage(
            Kind::Dashboard,
            &[
                dashboard("10000", true),
                dashboard("10100", false),
                dashboard("10101", false),
            ],
        );
        stage(Kind::IssueTypeScheme, &[scheme("10000", false)]);
        let caveat = |kind, rows| Caveat {
            kind,
            treatment: Treatment::Changed,
            how: "why".into(),
            rows,
        };
        let staged = BTreeMap::from([(Kind::Dashboard, 3), (Kind::IssueTypeScheme, 1)]);
        let planned = plan_caveats(
            vec![
                caveat(Kind::Dashboard, CaveatRows::SystemDashboard),
                caveat(Kind::Dashboard, CaveatRows::All),
                caveat(Kind::IssueTypeScheme, CaveatRows::DefaultIssueTypeScheme),
            ],
            &staged,
            &staging,
        )
        .unwrap();
        let got: Vec<(Kind, u64)> = planned.iter().map(|c| (c.kind, c.rows)).collect();
        // The backup's one scheme is a project's own: no row for the default's caveat.
        assert_eq!(got, [(Kind::Dashboard, 1), (Kind::Dashboard, 3)]);
    }
}
