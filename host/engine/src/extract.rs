//! Phase 0, extract: one pass over entities.xml turns every row Airlock moves into a typed
//! [`Record`], staged per kind, and builds the [`SourceIndex`] the integrity check needs.
//! Problems a single row shows (a missing field, an invalid date, a duplicate id or key, a
//! user without a valid email) become findings here; references are checked afterwards,
//! because a backup is not written in dependency order.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;

use airlock_backup::{BackupError, Entity, EntityReader, parse_entity_date};
use airlock_model::Severity;
use airlock_model::jira::*;
use airlock_staging::Staging;
use roaring::RoaringTreemap;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::EngineError;
use crate::contexts::{Assembled, ContextRows, custom_field_id};
use crate::coverage::ElementCounter;
use crate::findings::{Finding, Findings};
use crate::integrity::OrphanRow;
use crate::records::{RecordWriter, object_name};

/// Ids seen per kind: numeric ids in a compressed bitmap (a million issue ids take a few
/// hundred KiB), anything else in a hash set.
#[derive(Default)]
pub struct IdSet {
    numeric: RoaringTreemap,
    other: FxHashSet<String>,
}

impl IdSet {
    /// False if the id was there already.
    pub fn insert(&mut self, id: &str) -> bool {
        match numeric_id(id) {
            Some(n) => self.numeric.insert(n),
            None => self.other.insert(id.to_owned()),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        match numeric_id(id) {
            Some(n) => self.numeric.contains(n),
            None => self.other.contains(id),
        }
    }

    pub fn len(&self) -> u64 {
        self.numeric.len() + self.other.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub(crate) fn numeric_id(id: &str) -> Option<u64> {
    // Only canonical digits: "010" and "10" must stay different ids.
    if id.is_empty() || id.len() > 19 || (id.len() > 1 && id.starts_with('0')) {
        return None;
    }
    id.parse().ok()
}

/// What the integrity check and the load look references up in.
#[derive(Default)]
pub struct SourceIndex {
    pub ids: BTreeMap<Kind, IdSet>,
    /// Lower-case user names (memberships reference users by name).
    pub user_names: FxHashSet<String>,
    /// Custom field id → type key (select-like fields hold option ids as values).
    pub field_types: FxHashMap<String, String>,
}

impl SourceIndex {
    pub fn contains(&self, target: Target, id: &str) -> bool {
        match target {
            Target::Kind(kind) => self.ids.get(&kind).is_some_and(|s| s.contains(id)),
            Target::UserName => self.user_names.contains(&id.to_lowercase()),
        }
    }

    /// Whether this custom field is Jira Software's Sprint field (its values are sprints).
    pub fn is_sprint_field(&self, field: &str) -> bool {
        self.field_types
            .get(field)
            .is_some_and(|t| t == SPRINT_FIELD_TYPE)
    }

    /// Whether values of this custom field are option ids.
    pub fn is_option_field(&self, field: &str) -> bool {
        self.field_types
            .get(field)
            .is_some_and(|t| is_option_type(t))
    }
}

/// The type of Jira Software's Sprint custom field.
pub const SPRINT_FIELD_TYPE: &str = "com.pyxis.greenhopper.jira:gh-sprint";

/// Field types whose stored value is a `CustomFieldOption` id.
pub fn is_option_type(type_key: &str) -> bool {
    let name = type_key.rsplit(':').next().unwrap_or(type_key);
    matches!(
        name,
        "select" | "multiselect" | "radiobuttons" | "multicheckboxes" | "cascadingselect"
    )
}

/// What extraction found and staged.
pub struct Extracted {
    pub index: SourceIndex,
    /// Rows per kind as found in the backup (what verify compares the target with).
    pub source_counts: BTreeMap<Kind, u64>,
    pub findings: Findings,
    /// Keys of the apps installed on the source (its `PluginVersion` rows): whose Active
    /// Objects tables the backup may hold.
    pub installed_apps: BTreeSet<String>,
    /// Rows per element type, and how many were taken into a record.
    pub elements: ElementCounter,
    /// Rows left out of a record as they were read, because what they name is not in
    /// the backup (a custom field context's deleted project): orphans, as the reference
    /// check's are, but of rows that are not records of their own.
    pub orphans: Vec<OrphanRow>,
    /// Rows taken but not migrated, per element, that are no record of their own: those
    /// orphans, and an unused custom field context's rows (each with a finding).
    pub skipped_rows: BTreeMap<String, u64>,
}

/// A cwd_user row, until it is joined with its ApplicationUser.
struct DirectoryUser {
    /// The cwd_user row's id, for findings about the row.
    id: String,
    user_name: String,
    display_name: String,
    email: String,
    active: bool,
    directory: String,
    line: u64,
}

struct Extractor<'s> {
    staging: &'s dyn Staging,
    writers: BTreeMap<Kind, RecordWriter>,
    index: SourceIndex,
    findings: Findings,
    source_counts: BTreeMap<Kind, u64>,
    project_keys: FxHashMap<String, String>,
    /// `ProjectKey` rows, staged at the end: a project's own key among them is its
    /// record's, not a former key (the projects may come after them in the file).
    pending_keys: Vec<(Entity, ProjectKey)>,
    /// Custom fields' contexts and their options, assembled at the end.
    contexts: ContextRows,
    /// Screen schemes and issue type screen schemes, assembled at the end.
    screens: crate::screens::ScreenRows,
    /// Workflows and workflow schemes, assembled at the end.
    workflows: crate::workflows::WorkflowRows,
    /// Issue type schemes and the projects that use them, assembled at the end.
    issue_type_schemes: crate::issue_type_schemes::IssueTypeSchemeRows,
    /// Rows left out of a record because what they name is not in the backup.
    orphans: Vec<OrphanRow>,
    /// Rows taken but left out, per element (see [`Extracted::skipped_rows`]).
    skipped_rows: BTreeMap<String, u64>,
    /// (project id << 32 | number): a million issue keys in a compressed bitmap.
    issue_numbers: RoaringTreemap,
    directory_users: FxHashMap<String, DirectoryUser>,
    /// (user key, lower user name, line) in file order.
    app_users: Vec<(String, String, u64)>,
    installed_apps: BTreeSet<String>,
    /// Rows per element name, for the coverage ledger.
    elements: ElementCounter,
    /// User keys the override file maps to an existing account.
    mapped_users: &'s BTreeSet<String>,
    /// Records the target's rules refuse ([`airlock_site::rules`]), each with its
    /// position in its kind: the analysis lists them in the plan.
    refused: RecordWriter,
}

const FILE: &str = "entities.xml";

/// Entities parsed, on their way from the parser to the extractor.
enum Parsed {
    Rows(Vec<Entity>),
    /// A malformed element: where, and what the parser said.
    Broken {
        entity: String,
        id: String,
        line: Option<u64>,
        message: String,
    },
}

/// Entities per message: large enough that the channel costs nothing per row, small
/// enough that the rows in flight stay a few MiB.
const PARSED_BATCH: usize = 512;

/// Reads entities.xml and stages its records. A malformed document is reported as a fatal
/// finding (with its line) rather than an error, after everything before it is staged.
/// An I/O failure (a truncated zip, a disk error) is an error: nothing is trusted. The
/// users in `mapped_users` (keys the override file maps to an existing account) need no
/// usable email.
///
/// Two threads: this one parses the XML, the other turns rows into records and stages
/// them, a few batches of rows apart (each half takes about as long as the other).
pub fn extract_with<R: BufRead>(
    mut reader: EntityReader<R>,
    staging: &dyn Staging,
    mapped_users: &BTreeSet<String>,
    mut progress: impl FnMut(u64),
) -> Result<Extracted, EngineError> {
    let mut x = Extractor {
        staging,
        writers: BTreeMap::new(),
        index: SourceIndex::default(),
        findings: Findings::default(),
        source_counts: BTreeMap::new(),
        project_keys: FxHashMap::default(),
        pending_keys: Vec::new(),
        contexts: ContextRows::default(),
        screens: Default::default(),
        workflows: Default::default(),
        issue_type_schemes: Default::default(),
        orphans: Vec::new(),
        skipped_rows: BTreeMap::new(),
        issue_numbers: RoaringTreemap::new(),
        directory_users: FxHashMap::default(),
        app_users: Vec::new(),
        installed_apps: BTreeSet::new(),
        elements: ElementCounter::default(),
        mapped_users,
        refused: RecordWriter::create(staging, crate::records::REFUSED_OBJECT)?,
    };
    // Rows seen per element name, counted as the parser streams past them.
    let mut seen = ElementCounter::default();
    let (to_extractor, parsed) = std::sync::mpsc::sync_channel::<Parsed>(8);
    // The rows go back to the parser once extracted, to be freed on the thread that made
    // them: freed on another thread, each allocation takes the allocator's slow path on
    // both threads, and the parser (the check's bottleneck) gets no memory back warm.
    let (extracted_rows, to_free) = std::sync::mpsc::channel::<Vec<Entity>>();
    let (parsing, extracted) = std::thread::scope(|scope| {
        let extractor = scope.spawn(move || -> Result<Extractor<'_>, EngineError> {
            for message in parsed {
                match message {
                    Parsed::Rows(rows) => {
                        for entity in &rows {
                            x.entity(entity)?;
                        }
                        // The parser may be done already: then these are freed here.
                        let _ = extracted_rows.send(rows);
                    }
                    Parsed::Broken {
                        entity,
                        id,
                        line,
                        message,
                    } => {
                        // The row exists, though unreadable: rows referencing it are not
                        // reported again as dangling (fixing this one fixes them).
                        if let Some(kind) = Kind::ALL.into_iter().find(|k| k.entity() == entity)
                            && !id.is_empty()
                        {
                            x.index.ids.entry(kind).or_default().insert(&id);
                        }
                        x.findings.push(Finding {
                            check: "malformed-xml".into(),
                            severity: Severity::Fatal,
                            file: FILE.into(),
                            entity,
                            id,
                            line,
                            message,
                        });
                    }
                }
            }
            Ok(x)
        });
        let parsing = (|| -> Result<u64, EngineError> {
            let mut rows = 0u64;
            let mut batch = Vec::with_capacity(PARSED_BATCH);
            // False once the extractor stopped: its error is the one to report.
            let send = |message: Parsed| to_extractor.send(message).is_ok();
            loop {
                let next = reader.next_entity_where(|name| {
                    seen.seen(name);
                    is_wanted(name)
                });
                match next {
                    Ok(Some(entity)) => {
                        batch.push(entity);
                        rows += 1;
                        if batch.len() == PARSED_BATCH {
                            // An extracted batch, emptied here, holds the next rows.
                            let next = match to_free.try_recv() {
                                Ok(mut done) => {
                                    done.clear();
                                    done
                                }
                                Err(_) => Vec::with_capacity(PARSED_BATCH),
                            };
                            if !send(Parsed::Rows(std::mem::replace(&mut batch, next))) {
                                return Ok(rows);
                            }
                        }
                        if rows.is_multiple_of(65_536) {
                            progress(rows);
                        }
                    }
                    Ok(None) => break,
                    Err(e @ BackupError::Xml { .. }) | Err(e @ BackupError::Invalid { .. }) => {
                        let broken = reader.broken_row().cloned();
                        let (entity, id, line) = match broken {
                            Some(b) => (b.entity, b.id.unwrap_or_default(), Some(b.line)),
                            None => (String::new(), String::new(), e.line()),
                        };
                        let rows_before = Parsed::Rows(std::mem::take(&mut batch));
                        let broken = Parsed::Broken {
                            entity,
                            id,
                            line,
                            message: e.to_string(),
                        };
                        if !send(rows_before) || !send(broken) {
                            return Ok(rows);
                        }
                        // Go on after the broken element, so one run reports everything.
                        match reader.resume_after_error() {
                            Ok(true) => continue,
                            Ok(false) => break,
                            Err(e) => return Err(e.into()),
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            send(Parsed::Rows(batch));
            Ok(rows)
        })();
        drop(to_extractor);
        let extracted = extractor.join().unwrap_or_else(|_| {
            Err(EngineError::Staged {
                name: FILE.into(),
                problem: "its extraction stopped unexpectedly".into(),
            })
        });
        (parsing, extracted)
    });
    // A failure to read comes first: the extractor only saw the rows stop.
    let rows = parsing?;
    let mut x = extracted?;
    x.elements = seen.with_taken(&x.elements);
    progress(rows);
    x.finish_users()?;
    x.finish_project_keys()?;
    x.finish_contexts()?;
    x.finish_screens()?;
    x.finish_workflows()?;
    x.finish_issue_type_schemes()?;
    x.refused.finish()?;
    let written: Vec<Kind> = x.writers.keys().copied().collect();
    for (_, writer) in std::mem::take(&mut x.writers) {
        writer.finish()?;
    }
    // Every kind gets an object, so a later phase never confuses "none" with "missing"
    // (Jira Software's kinds get theirs from activeobjects.xml's reader).
    for kind in Kind::ALL
        .into_iter()
        .filter(|k| !written.contains(k) && !k.is_active_objects())
    {
        RecordWriter::create(staging, &object_name(kind))?.finish()?;
    }
    Ok(Extracted {
        index: x.index,
        source_counts: x.source_counts,
        findings: x.findings,
        installed_apps: x.installed_apps,
        elements: x.elements,
        orphans: x.orphans,
        skipped_rows: x.skipped_rows,
    })
}

fn is_wanted(name: &str) -> bool {
    matches!(
        name,
        "User"
            | "ApplicationUser"
            | "Group"
            | "Membership"
            | "IssueType"
            | "Status"
            | "Priority"
            | "Resolution"
            | "Project"
            | "Component"
            | "Version"
            | "CustomField"
            | "CustomFieldOption"
            | "IssueLinkType"
            | "Issue"
            | "CustomFieldValue"
            | "Label"
            | "NodeAssociation"
            | "Action"
            | "Worklog"
            | "IssueLink"
            | "RemoteIssueLink"
            | "FileAttachment"
            | "EntityProperty"
            | "PluginVersion"
            | "ProjectRole"
            | "ProjectRoleActor"
            | "UserAssociation"
            | "SearchRequest"
            | "SharePermissions"
            | "PortalPage"
            | "PortletConfiguration"
            | "GadgetUserPreference"
            | "FieldScreen"
            | "FieldScreenTab"
            | "FieldScreenLayoutItem"
            | "FieldScreenScheme"
            | "FieldScreenSchemeItem"
            | "IssueTypeScreenScheme"
            | "IssueTypeScreenSchemeEntity"
            | "FieldLayout"
            | "FieldLayoutItem"
            | "FieldLayoutScheme"
            | "FieldLayoutSchemeEntity"
            | "ChangeGroup"
            | "ChangeItem"
            | "IssueSecurityScheme"
            | "SchemeIssueSecurityLevels"
            | "ProjectCategory"
            | "ProjectKey"
            | "PermissionScheme"
            | "SchemePermissions"
            | "SchemeIssueSecurities"
            | "NotificationScheme"
            | "Notification"
            | "FieldConfigScheme"
            | "ConfigurationContext"
            | "FieldConfigSchemeIssueType"
            | "FieldConfiguration"
            | "OptionConfiguration"
            | "GenericConfiguration"
            | "EventType"
            | "Workflow"
            | "WorkflowScheme"
            | "WorkflowSchemeEntity"
    )
}

/// The `type` of Jira's own event types.
const SYSTEM_EVENT_TYPE: &str = "jira.system.event.type";

/// Reads one row's fields, turning missing or invalid ones into findings.
struct Row<'a> {
    entity: &'a Entity,
    id: String,
    problems: Vec<(&'static str, Severity, String)>,
}

impl<'a> Row<'a> {
    fn new(entity: &'a Entity) -> Row<'a> {
        Row {
            entity,
            id: entity.get("id").unwrap_or("").to_owned(),
            problems: Vec::new(),
        }
    }

    fn text(&self, field: &str) -> String {
        self.entity.get(field).unwrap_or("").to_owned()
    }

    fn opt(&self, field: &str) -> Option<String> {
        self.entity
            .get(field)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    fn required(&mut self, field: &str) -> String {
        match self.opt(field) {
            Some(v) => v,
            None => {
                self.problems.push((
                    "missing-field",
                    Severity::Fatal,
                    format!("the required field {field} is missing or empty; fill it in Jira and make a new backup"),
                ));
                String::new()
            }
        }
    }

    fn flag(&self, field: &str) -> bool {
        matches!(
            self.entity.get(field).map(str::trim),
            Some("1" | "true" | "TRUE" | "True" | "Y" | "y" | "yes")
        )
    }

    fn date(&mut self, field: &str) -> WallMillis {
        match self.opt(field) {
            None => {
                self.problems.push((
                    "invalid-date",
                    Severity::Fatal,
                    format!("the required date {field} is missing"),
                ));
                0
            }
            Some(text) => match parse_entity_date(&text) {
                Some(millis) => millis,
                None => {
                    self.problems.push((
                        "invalid-date",
                        Severity::Fatal,
                        format!("{field} is not a valid date (expected 2014-09-02 17:42:48.053); correct it in Jira"),
                    ));
                    0
                }
            },
        }
    }

    fn opt_date(&mut self, field: &str) -> Option<WallMillis> {
        let text = self.opt(field)?;
        let parsed = parse_entity_date(&text);
        if parsed.is_none() {
            self.problems.push((
                "invalid-date",
                Severity::Warning,
                format!("{field} is not a valid date; it will be left empty on the target"),
            ));
        }
        parsed
    }

    fn number(&mut self, field: &str) -> Option<i64> {
        let text = self.opt(field)?;
        // Some databases write whole numbers as 3600.0.
        let parsed = text.parse::<i64>().ok().or_else(|| {
            text.parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                .map(|f| f as i64)
        });
        if parsed.is_none() {
            self.problems.push((
                "invalid-number",
                Severity::Warning,
                format!("{field} is not a whole number; it will be left empty on the target"),
            ));
        }
        parsed
    }
}

impl Extractor<'_> {
    fn finding(
        &mut self,
        entity: &Entity,
        id: &str,
        check: &str,
        severity: Severity,
        message: String,
    ) {
        self.findings.push(Finding {
            check: check.into(),
            severity,
            file: FILE.into(),
            entity: entity.name.clone(),
            id: id.to_owned(),
            line: Some(entity.line),
            message,
        });
    }

    /// A permission scheme's grant, or `None` (with a warning: it is left behind) for a
    /// permission or a holder Jira Cloud does not know.
    fn scheme_permission(
        &mut self,
        entity: &Entity,
        row: &mut Row<'_>,
    ) -> Option<SchemePermission> {
        // Jira 7 and later write the key; Jira 6 the number, which Jira 7 renamed.
        let permission = match (entity.get("permissionKey"), entity.get("permission")) {
            (Some(key), _) if !key.is_empty() => key.to_owned(),
            (_, Some(number)) if !number.is_empty() => match jira6_permission_key(number) {
                Some(key) => key.to_owned(),
                None => {
                    let message = format!(
                        "permission {number} is not a project permission Jira Cloud knows; the grant is not migrated: grant it again on the target if it is still needed"
                    );
                    self.finding(
                        entity,
                        &row.id,
                        "unknown-permission",
                        Severity::Warning,
                        message,
                    );
                    return None;
                }
            },
            _ => row.required("permissionKey"),
        };
        let holder_type = entity.get("type").unwrap_or("");
        let Some(holder) = PermissionHolder::from_server(holder_type, row.opt("parameter")) else {
            let message = format!(
                "a grant to \"{holder_type}\" is not one Jira Cloud knows (group, user, projectrole, applicationRole, reporter, lead, assignee, userCF, groupCF, each with its parameter); it is not migrated: grant {permission} again on the target to whoever it named"
            );
            self.finding(
                entity,
                &row.id,
                "unknown-permission-holder",
                Severity::Warning,
                message,
            );
            return None;
        };
        Some(SchemePermission {
            id: row.required("id"),
            scheme: row.required("scheme"),
            permission,
            holder,
        })
    }

    /// A notification scheme's entry, or `None` (with a warning: it is left behind) for a
    /// site's own event type (Airlock does not migrate event types yet) or a recipient
    /// Jira Cloud does not know.
    fn notification(&mut self, entity: &Entity, row: &mut Row<'_>) -> Option<Notification> {
        let event = row.required("eventTypeId");
        if event.parse::<u32>().is_ok_and(|n| n > MAX_SYSTEM_EVENT) {
            let message = format!(
                "a notification of the site's own event type {event}, which is not migrated; it is not migrated either: add the event type and its notifications on the target"
            );
            self.finding(
                entity,
                &row.id,
                "custom-event-notification",
                Severity::Warning,
                message,
            );
            return None;
        }
        let recipient_type = entity.get("type").unwrap_or("");
        let Some(recipient) = Recipient::from_server(recipient_type, row.opt("parameter")) else {
            let message = format!(
                "a notification to \"{recipient_type}\" is not one Jira Cloud knows; it is not migrated: add it again on the target"
            );
            self.finding(
                entity,
                &row.id,
                "unknown-notification-recipient",
                Severity::Warning,
                message,
            );
            return None;
        };
        Some(Notification {
            id: row.required("id"),
            scheme: row.required("scheme"),
            event,
            recipient,
        })
    }

    fn entity(&mut self, entity: &Entity) -> Result<(), EngineError> {
        let mut row = Row::new(entity);
        let record = match entity.name.as_str() {
            "User" => {
                let user_name = row.required("userName");
                let lower = entity
                    .get("lowerUserName")
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .unwrap_or_else(|| user_name.to_lowercase());
                let user = DirectoryUser {
                    id: row.id.clone(),
                    display_name: row.text("displayName"),
                    email: row.text("emailAddress").trim().to_owned(),
                    active: row.flag("active"),
                    directory: row.text("directoryId"),
                    line: entity.line,
                    user_name,
                };
                self.report(entity, &row);
                self.elements.taken("User");
                match self.directory_users.entry(lower) {
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(user);
                    }
                    // The same name in a second directory: the first directory wins in Jira.
                    std::collections::hash_map::Entry::Occupied(_) => self.finding(entity, &row.id, "shadowed-user", Severity::Info, "a user of this name exists in an earlier directory; Jira uses that one, and so does the migration".into()),
                }
                return Ok(());
            }
            "PluginVersion" => {
                if let Some(key) = entity.get("key").filter(|k| !k.is_empty()) {
                    self.installed_apps.insert(key.to_owned());
                }
                return Ok(());
            }
            "ApplicationUser" => {
                let key = row.required("userKey");
                let lower = row.required("lowerUserName");
                self.report(entity, &row);
                self.elements.taken("ApplicationUser");
                self.app_users.push((key, lower, entity.line));
                return Ok(());
            }
            "Group" => Record::Group(Group {
                name: row.required("groupName"),
                active: entity.get("active").is_none() || row.flag("active"),
            }),
            "Membership" => {
                if entity.get("membershipType") != Some("GROUP_USER") {
                    return Ok(());
                }
                Record::Membership(Membership {
                    id: row.required("id"),
                    group: row.required("parentName"),
                    user_name: entity
                        .get("lowerChildName")
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                        .unwrap_or_else(|| row.text("childName").to_lowercase()),
                })
            }
            "IssueType" => Record::IssueType(Constant {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
                detail: row.text("style"),
            }),
            "Status" => Record::Status(Constant {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
                detail: row.text("statuscategory"),
            }),
            "Priority" => Record::Priority(Constant {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
                detail: String::new(),
            }),
            "Resolution" => Record::Resolution(Constant {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
                detail: String::new(),
            }),
            "Project" => Record::Project(Project {
                id: row.required("id"),
                key: row.required("key"),
                name: row.required("name"),
                lead: row.text("lead"),
                description: row.text("description"),
                project_type: row.opt("projecttype").unwrap_or_else(|| "software".into()),
                counter: row.number("counter").unwrap_or(0).max(0) as u64,
            }),
            "Component" => Record::Component(Component {
                id: row.required("id"),
                project: row.required("project"),
                name: row.required("name"),
                description: row.text("description"),
                lead: row.text("lead"),
            }),
            "Version" => Record::Version(Version {
                id: row.required("id"),
                project: row.required("project"),
                name: row.required("name"),
                description: row.text("description"),
                released: row.flag("released"),
                archived: row.flag("archived"),
                release_date: row.opt_date("releasedate"),
            }),
            "CustomField" => {
                let field = CustomField {
                    id: row.required("id"),
                    name: row.required("name"),
                    type_key: row.required("customfieldtypekey"),
                    description: row.text("description"),
                };
                self.index
                    .field_types
                    .insert(field.id.clone(), field.type_key.clone());
                Record::CustomField(field)
            }
            "CustomFieldOption" => {
                let option = CustomFieldOption {
                    id: row.required("id"),
                    field: row.required("customfield"),
                    context: None,
                    value: row.text("value"),
                    parent: row.opt("parentoptionid"),
                    disabled: row.flag("disabled"),
                };
                self.report(entity, &row);
                // Staged once its configuration's context is known.
                let config = row.opt("customfieldconfig");
                self.contexts.hold_option(entity, option, config);
                return Ok(());
            }
            "FieldConfigScheme"
            | "ConfigurationContext"
            | "FieldConfigSchemeIssueType"
            | "OptionConfiguration"
            | "GenericConfiguration" => {
                // An issue type scheme's rows, or a custom field's (a link may be either's:
                // both hold it).
                if !self.issue_type_schemes.hold(entity) {
                    self.contexts.hold(entity);
                }
                return Ok(());
            }
            // Jira's own event types are Jira Cloud's too, with the same ids; a site's own
            // cannot be made through Cloud's API: said, and left to the ledger.
            "EventType" => {
                let system = entity.get("type") == Some(SYSTEM_EVENT_TYPE)
                    || row.id.parse::<u32>().is_ok_and(|n| n <= MAX_SYSTEM_EVENT);
                if system {
                    self.elements.taken(&entity.name);
                } else {
                    let name = entity.get("name").unwrap_or_default();
                    let message = format!(
                        "the site's own event type \"{name}\" is not migrated: Jira Cloud's API cannot create event types; add it on the target (Settings > System > Events), then the notifications of it and the transitions that fire it"
                    );
                    let id = row.id.clone();
                    self.finding(entity, &id, "custom-event-type", Severity::Warning, message);
                }
                return Ok(());
            }
            name if crate::workflows::is_held(name) => {
                self.workflows.hold(entity);
                return Ok(());
            }
            name if crate::screens::is_held(name) => {
                self.screens.hold(entity);
                return Ok(());
            }
            "FieldScreen" => Record::Screen(Named {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
            }),
            "FieldScreenTab" => Record::ScreenTab(ScreenTab {
                id: row.required("id"),
                screen: row.required("fieldscreen"),
                name: row.required("name"),
                position: row.number("sequence").unwrap_or(0),
            }),
            "FieldLayout" => Record::FieldConfiguration(Named {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
            }),
            "FieldLayoutItem" => Record::FieldConfigurationItem(FieldConfigurationItem {
                id: row.required("id"),
                configuration: row.required("fieldlayout"),
                field: FieldId::parse(&row.required("fieldidentifier")),
                description: row.text("description"),
                hidden: row.flag("ishidden"),
                required: row.flag("isrequired"),
                renderer: row.text("renderertype"),
            }),
            "FieldScreenLayoutItem" => Record::ScreenField(ScreenField {
                id: row.required("id"),
                tab: row.required("fieldscreentab"),
                field: FieldId::parse(&row.required("fieldidentifier")),
                position: row.number("sequence").unwrap_or(0),
            }),
            // A custom field's configuration is its context's (the context migrates it), an
            // issue type scheme's its scheme's.
            "FieldConfiguration" => {
                if self.issue_type_schemes.hold(entity) {
                    return Ok(());
                }
                if entity
                    .get("fieldid")
                    .is_some_and(|f| custom_field_id(f).is_some())
                {
                    self.elements.taken(&entity.name);
                }
                return Ok(());
            }
            "ProjectRole" => Record::ProjectRole(ProjectRole {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
            }),
            "ProjectRoleActor" => {
                let actor = match entity.get("roletype").unwrap_or("") {
                    USER_ROLE_ACTOR => RoleActor::User(row.required("roletypeparameter")),
                    GROUP_ROLE_ACTOR => RoleActor::Group(row.required("roletypeparameter")),
                    other => {
                        let message = format!(
                            "a project role actor of type \"{other}\" is not one Jira Cloud knows ({USER_ROLE_ACTOR}, {GROUP_ROLE_ACTOR}); it is not migrated: give the role to whoever it named on the target"
                        );
                        self.finding(
                            entity,
                            &row.id,
                            "unknown-role-actor-type",
                            Severity::Warning,
                            message,
                        );
                        return Ok(());
                    }
                };
                Record::ProjectRoleActor(ProjectRoleActor {
                    id: row.required("id"),
                    // Empty or absent for a role's default actors.
                    project: row.opt("pid"),
                    role: row.required("projectroleid"),
                    actor,
                })
            }
            "ProjectCategory" => Record::ProjectCategory(Named {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
            }),
            "PermissionScheme" => Record::PermissionScheme(Named {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
            }),
            "NotificationScheme" => Record::NotificationScheme(Named {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
            }),
            "Notification" => match self.notification(entity, &mut row) {
                Some(n) => Record::Notification(n),
                None => return Ok(()),
            },
            "SchemePermissions" => match self.scheme_permission(entity, &mut row) {
                Some(grant) => Record::SchemePermission(grant),
                None => return Ok(()),
            },
            "SchemeIssueSecurities" => {
                let holder_type = entity.get("type").unwrap_or("");
                let Some(holder) = PermissionHolder::from_server(holder_type, row.opt("parameter"))
                else {
                    let message = format!(
                        "a security level member of type \"{holder_type}\" is not one Jira Cloud knows (group, user, projectrole, applicationRole, reporter, lead, assignee, userCF, groupCF, each with its parameter); it is not migrated: add whoever it named to the level on the target"
                    );
                    self.finding(
                        entity,
                        &row.id,
                        "unknown-level-member",
                        Severity::Warning,
                        message,
                    );
                    return Ok(());
                };
                Record::SecurityLevelMember(LevelMember {
                    id: row.required("id"),
                    scheme: row.required("scheme"),
                    level: row.required("security"),
                    holder,
                })
            }
            "ProjectKey" => {
                let key = ProjectKey {
                    id: row.required("id"),
                    project: row.required("projectId"),
                    key: row.required("projectKey"),
                };
                self.report(entity, &row);
                self.pending_keys.push((entity.clone(), key));
                return Ok(());
            }
            "IssueLinkType" => Record::IssueLinkType(IssueLinkType {
                id: row.required("id"),
                name: row.required("linkname"),
                inward: row.text("inward"),
                outward: row.text("outward"),
            }),
            "Issue" => self.issue(&mut row),
            "CustomFieldValue" => {
                let value = if let Some(text) = row.opt("stringvalue") {
                    FieldValue::Text(text)
                } else if let Some(text) = row.opt("numbervalue") {
                    match text.parse::<f64>() {
                        Ok(n) if n.is_finite() => FieldValue::Number(n),
                        _ => {
                            row.problems.push((
                                "invalid-number",
                                Severity::Warning,
                                "numbervalue is not a number; the value will be left empty".into(),
                            ));
                            FieldValue::Text(String::new())
                        }
                    }
                } else if row.opt("datevalue").is_some() {
                    match row.opt_date("datevalue") {
                        Some(d) => FieldValue::Date(d),
                        None => FieldValue::Text(String::new()),
                    }
                } else {
                    FieldValue::Text(row.text("textvalue"))
                };
                let field = row.required("customfield");
                // The Sprint field's values are sprints: each an issue's place in one.
                if self.index.is_sprint_field(&field) {
                    let issue = row.required("issue");
                    let sprint = match value {
                        FieldValue::Text(text) => text,
                        FieldValue::Number(n) => format!("{n:.0}"),
                        _ => String::new(),
                    };
                    Record::IssueSprint(IssueSprint {
                        id: row.required("id"),
                        issue,
                        sprint,
                    })
                } else {
                    Record::CustomFieldValue(CustomFieldValue {
                        id: row.required("id"),
                        issue: row.required("issue"),
                        field,
                        value,
                    })
                }
            }
            "Label" => {
                // Labels of a custom labels field carry a fieldid; those are field values.
                if row.opt("fieldid").is_some() {
                    return Ok(());
                }
                Record::Label(Label {
                    id: row.required("id"),
                    issue: row.required("issue"),
                    label: row.required("label"),
                })
            }
            "NodeAssociation"
                if matches!(
                    entity.get("associationType"),
                    Some("ProjectScheme" | "ProjectCategory")
                ) && entity.get("sourceNodeEntity") == Some("Project") =>
            {
                let scheme_type = match entity.get("sinkNodeEntity") {
                    Some("IssueSecurityScheme") => SchemeType::IssueSecurity,
                    Some("PermissionScheme") => SchemeType::Permission,
                    Some("NotificationScheme") => SchemeType::Notification,
                    Some("ProjectCategory") => SchemeType::Category,
                    Some("IssueTypeScreenScheme") => SchemeType::IssueTypeScreen,
                    Some("FieldLayoutScheme") => SchemeType::FieldConfiguration,
                    Some("WorkflowScheme") => SchemeType::Workflow,
                    // Workflow, field configuration… schemes: not migrated yet.
                    _ => return Ok(()),
                };
                let project = row.required("sourceNodeId");
                let scheme = row.required("sinkNodeId");
                row.id = format!("{project}:{}:{scheme}", scheme_type.entity());
                Record::ProjectScheme(ProjectScheme {
                    id: row.id.clone(),
                    project,
                    scheme_type,
                    scheme,
                })
            }
            "NodeAssociation" => {
                let association = match entity.get("associationType") {
                    Some("IssueVersion") => Association::AffectsVersion,
                    Some("IssueFixVersion") => Association::FixVersion,
                    Some("IssueComponent") => Association::Component,
                    _ => return Ok(()),
                };
                row.id = format!(
                    "{}:{}",
                    entity.get("sourceNodeId").unwrap_or(""),
                    entity.get("sinkNodeId").unwrap_or("")
                );
                let issue = row.required("sourceNodeId");
                let target = row.required("sinkNodeId");
                Record::IssueVersion(IssueVersion {
                    id: format!("{issue}:{association:?}:{target}"),
                    issue,
                    target,
                    association,
                })
            }
            "Action" => {
                if entity.get("type") != Some("comment") {
                    return Ok(());
                }
                Record::Comment(Comment {
                    id: row.required("id"),
                    issue: row.required("issue"),
                    author: row.opt("author"),
                    body: row.text("body"),
                    created: row.date("created"),
                    updated: row.opt_date("updated").unwrap_or(0),
                })
            }
            "Worklog" => Record::Worklog(Worklog {
                id: row.required("id"),
                issue: row.required("issue"),
                author: row.opt("author"),
                body: row.text("body"),
                created: row.date("created"),
                started: row.date("startdate"),
                seconds: row.number("timeworked").unwrap_or(0),
            }),
            "IssueLink" => Record::IssueLink(IssueLink {
                id: row.required("id"),
                link_type: row.required("linktype"),
                source: row.required("source"),
                destination: row.required("destination"),
            }),
            "RemoteIssueLink" => Record::RemoteLink(RemoteLink {
                id: row.required("id"),
                issue: row.required("issueid"),
                global_id: row.opt("globalid"),
                title: row.text("title"),
                url: row.text("url"),
                summary: row.opt("summary"),
                icon_url: row.opt("iconurl"),
                icon_title: row.opt("icontitle"),
                relationship: row.opt("relationship"),
                application_type: row.opt("applicationtype"),
                application_name: row.opt("applicationname"),
            }),
            "FileAttachment" => Record::Attachment(Attachment {
                id: row.required("id"),
                issue: row.required("issue"),
                file_name: row.required("filename"),
                mime_type: row.text("mimetype"),
                size: row.number("filesize").unwrap_or(0).max(0) as u64,
                author: row.opt("author"),
                created: row.date("created"),
            }),
            "UserAssociation" => {
                if entity.get("sinkNodeEntity") != Some("Issue") {
                    return Ok(());
                }
                let vote = match entity.get("associationType") {
                    Some("WatchIssue") => false,
                    Some("VoteIssue") => true,
                    _ => return Ok(()),
                };
                let issue = row.required("sinkNodeId");
                let user = row.required("sourceName");
                row.id = format!("{issue}:{user}");
                let watch = IssueUser {
                    id: row.id.clone(),
                    issue,
                    user,
                    created: row.opt_date("created"),
                };
                if vote {
                    Record::Vote(watch)
                } else {
                    Record::Watcher(watch)
                }
            }
            "IssueSecurityScheme" => Record::SecurityScheme(SecurityScheme {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
            }),
            "SchemeIssueSecurityLevels" => Record::SecurityLevel(SecurityLevel {
                id: row.required("id"),
                scheme: row.required("scheme"),
                name: row.required("name"),
                description: row.text("description"),
            }),
            "ChangeGroup" => Record::ChangeGroup(ChangeGroup {
                id: row.required("id"),
                issue: row.required("issue"),
                author: row.opt("author"),
                created: row.date("created"),
            }),
            "ChangeItem" => Record::ChangeItem(ChangeItem {
                id: row.required("id"),
                group: row.required("group"),
                custom: entity.get("fieldtype") == Some("custom"),
                field: row.required("field"),
                old_value: row.opt("oldvalue"),
                old_string: row.opt("oldstring"),
                new_value: row.opt("newvalue"),
                new_string: row.opt("newstring"),
            }),
            "SearchRequest" => Record::Filter(Filter {
                id: row.required("id"),
                name: row.required("name"),
                description: row.text("description"),
                // Jira 4+ writes the owner as `user`; `author` is who created it.
                owner: row.opt("user").unwrap_or_else(|| row.text("author")),
                jql: row.text("request"),
                favourites: row.number("favCount").unwrap_or(0).max(0) as u64,
            }),
            "PortalPage" => {
                // The system dashboard is the one no one owns.
                let owner = row.text("username");
                Record::Dashboard(Dashboard {
                    id: row.required("id"),
                    name: row.required("pagename"),
                    description: row.text("description"),
                    system: owner.is_empty(),
                    owner,
                    layout: row.opt("layout").unwrap_or_else(|| "AA".into()),
                    favourites: row.number("favCount").unwrap_or(0).max(0) as u64,
                })
            }
            "PortletConfiguration" => {
                // A place Jira never writes (negative, or past u32) is the first one, said.
                let mut place = |field: &'static str| {
                    let n = row.number(field)?;
                    let place = u32::try_from(n).ok();
                    if place.is_none() {
                        row.problems.push((
                            "invalid-number",
                            Severity::Warning,
                            format!("{field} is {n}, a place no dashboard has; it is read as 0 (the first)"),
                        ));
                    }
                    place
                };
                let (column, position) = (place("columnNumber"), place("position"));
                let (column, position) = (column.unwrap_or(0), position.unwrap_or(0));
                let uri = row.opt("gadgetXml");
                let module_key = row.opt("dashboardModuleCompleteKey");
                if uri.is_none() && module_key.is_none() {
                    let message = "the gadget names neither a gadget spec (gadgetXml) nor a dashboard item (dashboardModuleCompleteKey), so Jira cannot show it; it is left behind: add it again on the target".to_owned();
                    self.finding(
                        entity,
                        &row.id,
                        "unknown-gadget",
                        Severity::Warning,
                        message,
                    );
                    return Ok(());
                }
                Record::Gadget(Gadget {
                    id: row.required("id"),
                    dashboard: row.required("portalpage"),
                    column,
                    row: position,
                    uri,
                    module_key,
                    color: row.opt("color").unwrap_or_else(|| "color1".into()),
                })
            }
            "GadgetUserPreference" => {
                let key = row.required("userprefkey");
                let value = PreferenceValue::parse(&key, &row.text("userprefvalue"));
                Record::GadgetPreference(GadgetPreference {
                    id: row.required("id"),
                    gadget: row.required("portletconfiguration"),
                    key,
                    value,
                })
            }
            "SharePermissions"
                if !matches!(
                    entity.get("entityType"),
                    Some("SearchRequest" | "PortalPage")
                ) =>
            {
                return Ok(());
            }
            "SharePermissions" => {
                let share = match entity.get("type").unwrap_or("") {
                    "global" => Share::Global,
                    "loggedin" | "authenticated" => Share::LoggedIn,
                    "group" => Share::Group(row.required("param1")),
                    "project" => Share::Project {
                        project: row.required("param1"),
                        role: row.opt("param2"),
                    },
                    "user" => Share::User(row.required("param1")),
                    other => {
                        let message = format!(
                            "a share of type \"{other}\" is not one Jira Cloud knows (global, loggedin, group, project, user); the {} is migrated without it: share it again on the target",
                            if entity.get("entityType") == Some("PortalPage") {
                                "dashboard"
                            } else {
                                "filter"
                            }
                        );
                        self.finding(
                            entity,
                            &row.id,
                            "unknown-share-type",
                            Severity::Warning,
                            message,
                        );
                        return Ok(());
                    }
                };
                let edit = entity.get("rights").map(str::trim) == Some("3");
                if entity.get("entityType") == Some("PortalPage") {
                    Record::DashboardShare(DashboardShare {
                        id: row.required("id"),
                        dashboard: row.required("entityId"),
                        share,
                        edit,
                    })
                } else {
                    Record::FilterShare(FilterShare {
                        id: row.required("id"),
                        filter: row.required("entityId"),
                        share,
                        edit,
                    })
                }
            }
            // Properties of other entities (comments, dashboard items…) have no home on
            // the target yet: the coverage ledger counts them as not yet supported.
            "EntityProperty"
                if !matches!(
                    entity.get("entityName"),
                    Some("IssueProperty" | "ProjectProperty" | "UserProperty")
                ) =>
            {
                return Ok(());
            }
            "EntityProperty" => Record::EntityProperty(EntityProperty {
                id: row.required("id"),
                entity_name: row.required("entityName"),
                entity_id: row.required("entityId"),
                key: row.required("propertyKey"),
                value: row.text("value"),
            }),
            _ => return Ok(()),
        };
        self.report(entity, &row);
        self.elements.taken(&entity.name);
        self.stage(entity, record)
    }

    fn issue(&mut self, row: &mut Row<'_>) -> Record {
        // 7.x+ rows carry project + number; older ones a key like DEMO-12 (and a project).
        let number = match row.number("number") {
            Some(n) if n > 0 => n as u64,
            _ => match row
                .opt("key")
                .and_then(|k| k.rsplit_once('-').and_then(|(_, n)| n.parse().ok()))
            {
                Some(n) => n,
                None => {
                    row.problems.push(("missing-field", Severity::Fatal, "the issue has neither a number nor a key; it cannot be given a key on the target".into()));
                    0
                }
            },
        };
        Record::Issue(Issue {
            id: row.required("id"),
            project: row.required("project"),
            number,
            issue_type: row.required("type"),
            summary: row.text("summary"),
            description: row.text("description"),
            priority: row.opt("priority"),
            status: row.required("status"),
            resolution: row.opt("resolution"),
            reporter: row.opt("reporter"),
            assignee: row.opt("assignee"),
            created: row.date("created"),
            updated: row.opt_date("updated").unwrap_or(0),
            due: row.opt_date("duedate"),
            resolved: row.opt_date("resolutiondate"),
            original_estimate: row.number("timeoriginalestimate"),
            estimate: row.number("timeestimate"),
            time_spent: row.number("timespent"),
            security: row.opt("security"),
        })
    }

    fn report(&mut self, entity: &Entity, row: &Row<'_>) {
        for (check, severity, message) in &row.problems {
            self.finding(entity, &row.id, check, *severity, message.clone());
        }
    }

    fn stage(&mut self, entity: &Entity, record: Record) -> Result<(), EngineError> {
        let kind = record.kind();
        *self.source_counts.entry(kind).or_default() += 1;
        // Ids made of server ids (issue:user…) name no row: nothing references them.
        if !matches!(
            kind,
            Kind::IssueVersion | Kind::Watcher | Kind::Vote | Kind::ProjectScheme
        ) {
            let id = record.id().to_owned();
            if !id.is_empty() && !self.index.ids.entry(kind).or_default().insert(&id) {
                self.finding(entity, &id, "duplicate-id", Severity::Fatal, format!("another {} row has the same id; remove the duplicate in the database and make a new backup", entity.name));
                return Ok(());
            }
        }
        match &record {
            Record::Project(p) if !p.key.is_empty() => {
                if let Some(first) = self.project_keys.get(&p.key) {
                    let message = format!(
                        "project key {} is also used by project {first}; rename one of them in Jira (or set a new key in the override file)",
                        p.key
                    );
                    self.finding(entity, &p.id, "duplicate-key", Severity::Fatal, message);
                } else {
                    self.project_keys.insert(p.key.clone(), p.id.clone());
                }
            }
            Record::Issue(i) => {
                if let (Some(project), true) = (numeric_id(&i.project), i.number > 0)
                    && project < (1 << 31)
                    && i.number < (1 << 32)
                    && !self.issue_numbers.insert(project << 32 | i.number)
                {
                    let message = format!(
                        "another issue of project {} has number {}; issue keys must be unique",
                        i.project, i.number
                    );
                    self.finding(entity, &i.id, "duplicate-key", Severity::Fatal, message);
                }
            }
            _ => {}
        }
        let writer = match self.writers.entry(kind) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(RecordWriter::create(self.staging, &object_name(kind))?)
            }
        };
        // Checked here, where every record passes once anyway, not in a second read.
        if airlock_site::rules::check(&record).is_err() {
            self.refused.push(writer.count(), &record)?;
        }
        writer.push(entity.line, &record)
    }

    /// Joins ApplicationUser rows with their directory users, and checks emails.
    /// Stages the former keys of projects; a project's own key goes with its record (and
    /// with the key the override file gives it), so it is counted as taken, not staged.
    fn finish_project_keys(&mut self) -> Result<(), EngineError> {
        for (entity, key) in std::mem::take(&mut self.pending_keys) {
            self.elements.taken(&entity.name);
            if self.project_keys.get(&key.key) == Some(&key.project) {
                continue;
            }
            self.stage(&entity, Record::ProjectKey(key))?;
        }
        Ok(())
    }

    /// Stages custom fields' contexts and their options (see [`crate::contexts`]).
    fn finish_contexts(&mut self) -> Result<(), EngineError> {
        let assembled = std::mem::take(&mut self.contexts).assemble(&self.index);
        self.stage_assembled(assembled)
    }

    /// Stages screen schemes, field configuration schemes, then issue type screen schemes
    /// (see [`crate::screens`]).
    fn finish_screens(&mut self) -> Result<(), EngineError> {
        let mut rows = std::mem::take(&mut self.screens);
        let schemes = rows.assemble_screen_schemes(&self.index);
        self.stage_assembled(schemes)?;
        let field_schemes = rows.assemble_field_configuration_schemes(&self.index);
        self.stage_assembled(field_schemes)?;
        let type_schemes = rows.assemble_type_schemes(&self.index);
        self.stage_assembled(type_schemes)
    }

    /// Stages workflows, then workflow schemes (see [`crate::workflows`]).
    fn finish_workflows(&mut self) -> Result<(), EngineError> {
        let mut rows = std::mem::take(&mut self.workflows);
        let workflows = rows.assemble_workflows(&self.index);
        self.stage_assembled(workflows)?;
        let schemes = rows.assemble_schemes(&self.index);
        self.stage_assembled(schemes)
    }

    /// Stages issue type schemes and projects' (see [`crate::issue_type_schemes`]).
    fn finish_issue_type_schemes(&mut self) -> Result<(), EngineError> {
        let assembled = std::mem::take(&mut self.issue_type_schemes).assemble(&self.index);
        self.stage_assembled(assembled)
    }

    /// Stages what held rows became: their records, findings, orphans and ledger counts.
    fn stage_assembled(&mut self, assembled: Assembled) -> Result<(), EngineError> {
        for element in assembled.taken {
            self.elements.taken(element);
        }
        for finding in assembled.findings {
            self.findings.push(finding);
        }
        self.orphans.extend(assembled.orphans);
        for element in assembled.skipped {
            *self.skipped_rows.entry(element.to_owned()).or_default() += 1;
        }
        for (name, line, record) in assembled.records {
            let row = Entity {
                name: name.to_owned(),
                line,
                fields: Vec::new(),
            };
            self.stage(&row, record)?;
        }
        Ok(())
    }

    fn finish_users(&mut self) -> Result<(), EngineError> {
        let mut keyed: FxHashSet<String> = FxHashSet::default();
        let mut users = Vec::new();
        for (key, lower, line) in std::mem::take(&mut self.app_users) {
            match self.directory_users.get(&lower) {
                Some(_) => {
                    keyed.insert(lower.clone());
                    users.push((key, lower, line));
                }
                None => self.findings.push(Finding {
                    check: "user-not-in-directory".into(),
                    severity: Severity::Warning,
                    file: FILE.into(),
                    entity: "ApplicationUser".into(),
                    id: key,
                    line: Some(line),
                    message: "this user key has no user in any directory (a deleted user); what references it will be attributed to no one on the target".into(),
                }),
            }
        }
        // Sites older than Jira 6 have no ApplicationUser: the key is the user name.
        let mut unkeyed: Vec<_> = self
            .directory_users
            .iter()
            .filter(|(lower, _)| !keyed.contains(*lower))
            .map(|(lower, u)| (lower.clone(), lower.clone(), u.line))
            .collect();
        unkeyed.sort_by_key(|u| u.2);
        users.extend(unkeyed);
        users.sort_by_key(|u| u.2);

        let mut emails: FxHashMap<String, String> = FxHashMap::default();
        for (key, lower, line) in users {
            let Some(d) = self.directory_users.get(&lower) else {
                continue;
            };
            let user = User {
                key: key.clone(),
                user_name: d.user_name.clone(),
                display_name: d.display_name.clone(),
                email: d.email.clone(),
                active: d.active,
                directory: d.directory.clone(),
            };
            let entity = "User";
            let problem = |check: &str, severity, message: String| Finding {
                check: check.into(),
                severity,
                file: FILE.into(),
                entity: entity.into(),
                id: d.id.clone(),
                line: Some(d.line),
                message: format!("user key {key}: {message}"),
            };
            let usable = !user.email.is_empty() && is_valid_email(&user.email);
            if !usable && self.mapped_users.contains(&key) {
                let f = problem(
                    "email-overridden",
                    Severity::Info,
                    "the user's email is missing or not usable on Jira Cloud; the override file maps the user to an existing account".into(),
                );
                self.findings.push(f);
            } else if user.email.is_empty() {
                let f = problem("user-without-email", Severity::Fatal, "the user has no email address; Jira Cloud accounts are matched and created by email: add one in the user directory".into());
                self.findings.push(f);
            } else if !is_valid_email(&user.email) {
                let f = problem(
                    "invalid-email",
                    Severity::Fatal,
                    "the user's email address is not valid; correct it in the user directory"
                        .into(),
                );
                self.findings.push(f);
            } else if let Some(first) = emails.get(&user.email.to_lowercase()) {
                let f = problem(
                    "shared-email",
                    Severity::Warning,
                    format!(
                        "user {first} has the same email address; both will become one Jira Cloud account unless the override file maps them apart"
                    ),
                );
                self.findings.push(f);
            } else {
                emails.insert(user.email.to_lowercase(), key.clone());
            }
            self.index.user_names.insert(lower);
            *self.source_counts.entry(Kind::User).or_default() += 1;
            if !self.index.ids.entry(Kind::User).or_default().insert(&key) {
                self.findings.push(Finding {
                    check: "duplicate-key".into(),
                    severity: Severity::Fatal,
                    file: FILE.into(),
                    entity: "ApplicationUser".into(),
                    id: key,
                    line: Some(line),
                    message:
                        "two users share this user key; remove the duplicate ApplicationUser row"
                            .into(),
                });
                continue;
            }
            let writer = match self.writers.entry(Kind::User) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => e.insert(RecordWriter::create(
                    self.staging,
                    &object_name(Kind::User),
                )?),
            };
            writer.push(d.line, &Record::User(user))?;
        }
        Ok(())
    }
}

/// What Jira Cloud accepts: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extracts an entities.xml given as text into a staging of its own.
    fn extract_xml(xml: &str) -> (tempfile::TempDir, airlock_staging::SealedStaging, Extracted) {
        let dir = tempfile::tempdir().unwrap();
        let staging =
            airlock_staging::SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
        let reader = EntityReader::new(std::io::Cursor::new(xml.as_bytes()), FILE).unwrap();
        let extracted = extract_with(reader, &staging, &BTreeSet::new(), |_| {}).unwrap();
        (dir, staging, extracted)
    }

    /// The records staged of a kind.
    fn staged(staging: &airlock_staging::SealedStaging, kind: Kind) -> Vec<Record> {
        crate::records::RecordReader::open_kind(staging, kind)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Role actors of users and groups, in a project or by default (`pid` absent or
    /// empty), become records; one of a type Jira Cloud does not know is a warning, left
    /// out of the records and counted as not migrated in the coverage ledger.
    #[test]
    fn role_actors_are_extracted_and_an_unknown_type_is_a_warning_left_behind() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<entity-engine-xml>
    <ProjectRoleActor id="10000" projectroleid="10002" roletype="atlassian-group-role-actor" roletypeparameter="jira-administrators"/>
    <ProjectRoleActor id="10001" pid="" projectroleid="10001" roletype="atlassian-group-role-actor" roletypeparameter="developers"/>
    <ProjectRoleActor id="10002" pid="10100" projectroleid="10002" roletype="atlassian-user-role-actor" roletypeparameter="JIRAUSER10100"/>
    <ProjectRoleActor id="10003" pid="10100" projectroleid="10001" roletype="com.example:team-role-actor" roletypeparameter="42"/>
</entity-engine-xml>
"#;
        let (_dir, staging, extracted) = extract_xml(xml);

        let records = staged(&staging, Kind::ProjectRoleActor);
        let actor = |id: &str, project: Option<&str>, role: &str, actor: RoleActor| {
            Record::ProjectRoleActor(ProjectRoleActor {
                id: id.into(),
                project: project.map(Into::into),
                role: role.into(),
                actor,
            })
        };
        assert_eq!(
            records,
            [
                actor(
                    "10000",
                    None,
                    "10002",
                    RoleActor::Group("jira-administrators".into())
                ),
                actor(
                    "10001",
                    None,
                    "10001",
                    RoleActor::Group("developers".into())
                ),
                actor(
                    "10002",
                    Some("10100"),
                    "10002",
                    RoleActor::User("JIRAUSER10100".into())
                ),
            ]
        );
        assert_eq!(extracted.source_counts[&Kind::ProjectRoleActor], 3);
        assert_eq!(extracted.findings.count_of("unknown-role-actor-type"), 1);
        let unknown = extracted
            .findings
            .summaries()
            .into_iter()
            .find(|s| s.check == "unknown-role-actor-type")
            .unwrap();
        assert_eq!(unknown.severity, Severity::Warning);
        assert_eq!(unknown.examples[0].id, "10003");
        assert_eq!(unknown.examples[0].line, Some(6));

        let ledger = extracted
            .elements
            .ledger(&BTreeMap::new(), &BTreeMap::new());
        let entry = ledger.entry("ProjectRoleActor").unwrap();
        assert_eq!(
            (entry.rows, entry.migrated, entry.not_migrated),
            (4, 3, 1),
            "{entry:?}"
        );
        assert_eq!(entry.status, crate::coverage::Status::Unknown);
        assert!(
            entry.reason.contains("unknown-role-actor-type"),
            "{entry:?}"
        );
    }

    /// An issue security level's members become records with their holders; one of a
    /// type Jira Cloud does not know is a warning, left behind.
    #[test]
    fn security_level_members_are_extracted_and_an_unknown_type_is_a_warning() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<entity-engine-xml>
    <SchemeIssueSecurities id="10000" scheme="10000" security="10001" type="group" parameter="jira-administrators"/>
    <SchemeIssueSecurities id="10001" scheme="10000" security="10001" type="reporter"/>
    <SchemeIssueSecurities id="10002" scheme="10000" security="10002" type="projectrole" parameter="10001"/>
    <SchemeIssueSecurities id="10003" scheme="10000" security="10002" type="com.example:team" parameter="7"/>
</entity-engine-xml>
"#;
        let (_dir, staging, extracted) = extract_xml(xml);
        let records = staged(&staging, Kind::SecurityLevelMember);
        let member = |id: &str, level: &str, holder| {
            Record::SecurityLevelMember(LevelMember {
                id: id.into(),
                scheme: "10000".into(),
                level: level.into(),
                holder,
            })
        };
        assert_eq!(
            records,
            [
                member(
                    "10000",
                    "10001",
                    PermissionHolder::Group("jira-administrators".into())
                ),
                member("10001", "10001", PermissionHolder::Reporter),
                member(
                    "10002",
                    "10002",
                    PermissionHolder::ProjectRole("10001".into())
                ),
            ]
        );
        assert_eq!(extracted.findings.count_of("unknown-level-member"), 1);
        let ledger = extracted
            .elements
            .ledger(&BTreeMap::new(), &BTreeMap::new());
        let entry = ledger.entry("SchemeIssueSecurities").unwrap();
        assert_eq!((entry.rows, entry.migrated, entry.not_migrated), (4, 3, 1));
        assert!(entry.reason.contains("unknown-level-member"), "{entry:?}");
    }

    /// Custom fields' contexts are assembled from their four tables whatever the order
    /// (options and contexts before the rows saying where they apply, as Jira writes them
    /// alphabetically); an option goes to the context of its configuration; a row naming
    /// a deleted project, and an option of a configuration no context has, are orphans
    /// left out and listed; a context left applying nowhere is a warning; an issue type
    /// scheme's rows in the same tables are its own (see the next test).
    #[test]
    fn custom_field_contexts_are_assembled_and_their_orphans_listed() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<entity-engine-xml>
    <ConfigurationContext id="10000" key="customfield_10001" fieldconfigscheme="10100"/>
    <ConfigurationContext id="10001" key="customfield_10001" fieldconfigscheme="10101" project="10200"/>
    <ConfigurationContext id="10002" key="customfield_10001" fieldconfigscheme="10101" project="99999"/>
    <ConfigurationContext id="10003" key="customfield_10001" fieldconfigscheme="10102" project="99998"/>
    <ConfigurationContext id="10004" key="issuetype" fieldconfigscheme="10103"/>
    <CustomField id="10001" customfieldtypekey="com.atlassian.jira.plugin.system.customfieldtypes:select" name="Environment"/>
    <CustomFieldOption id="10000" customfield="10001" customfieldconfig="10100" sequence="0" value="Production"/>
    <CustomFieldOption id="10001" customfield="10001" customfieldconfig="10101" sequence="0" value="EU West"/>
    <CustomFieldOption id="10002" customfield="10001" customfieldconfig="10999" sequence="1" value="Gone"/>
    <CustomFieldOption id="10003" customfield="10001" customfieldconfig="10102" sequence="0" value="Unused"/>
    <CustomFieldOption id="10004" customfield="10001" sequence="2" value="Old"/>
    <FieldConfigScheme id="10100" name="Default Configuration Scheme for Environment" fieldid="customfield_10001"/>
    <FieldConfigScheme id="10101" name="Platform" description="For the platform" fieldid="customfield_10001"/>
    <FieldConfigScheme id="10102" name="Retired" fieldid="customfield_10001"/>
    <FieldConfigScheme id="10103" name="Default Issue Type Scheme" fieldid="issuetype"/>
    <FieldConfigSchemeIssueType id="10100" fieldconfigscheme="10100" fieldconfiguration="10100"/>
    <FieldConfigSchemeIssueType id="10101" fieldconfigscheme="10101" issuetype="3" fieldconfiguration="10101"/>
    <FieldConfigSchemeIssueType id="10102" fieldconfigscheme="10101" issuetype="1" fieldconfiguration="10101"/>
    <FieldConfigSchemeIssueType id="10103" fieldconfigscheme="10102" fieldconfiguration="10102"/>
    <FieldConfigSchemeIssueType id="10104" fieldconfigscheme="10103" fieldconfiguration="10103"/>
    <FieldConfiguration id="10100" name="Default Configuration for Environment" fieldid="customfield_10001"/>
    <FieldConfiguration id="10101" name="Platform" fieldid="customfield_10001"/>
    <FieldConfiguration id="10102" name="Retired" fieldid="customfield_10001"/>
    <FieldConfiguration id="10103" name="Default Configuration for Issue Type" fieldid="issuetype"/>
    <IssueType id="1" name="Bug"/>
    <IssueType id="3" name="Task"/>
    <Project id="10200" key="PLAT" name="Platform" lead="admin"/>
</entity-engine-xml>
"#;
        let (_dir, staging, extracted) = extract_xml(xml);
        let staged = |kind| staged(&staging, kind);
        let context =
            |id: &str, name: &str, description: &str, projects: &[&str], types: &[&str]| {
                Record::FieldContext(FieldContext {
                    id: id.into(),
                    field: "10001".into(),
                    name: name.into(),
                    description: description.into(),
                    projects: projects.iter().map(|p| p.to_string()).collect(),
                    issue_types: types.iter().map(|t| t.to_string()).collect(),
                })
            };
        assert_eq!(
            staged(Kind::FieldContext),
            [
                context(
                    "10100",
                    "Default Configuration Scheme for Environment",
                    "",
                    &[],
                    &[]
                ),
                context(
                    "10101",
                    "Platform",
                    "For the platform",
                    &["10200"],
                    &["1", "3"]
                ),
            ]
        );
        let options: Vec<(String, Option<String>)> = staged(Kind::CustomFieldOption)
            .into_iter()
            .map(|r| match r {
                Record::CustomFieldOption(o) => (o.id, o.context),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            options,
            [
                ("10000".to_owned(), Some("10100".to_owned())),
                ("10001".to_owned(), Some("10101".to_owned())),
                ("10004".to_owned(), None),
            ]
        );
        let orphans: Vec<(String, String, String)> = extracted
            .orphans
            .iter()
            .map(|o| (o.entity.clone(), o.id.clone(), o.missing.clone()))
            .collect();
        assert_eq!(
            orphans,
            [
                (
                    "ConfigurationContext".to_owned(),
                    "10002".to_owned(),
                    "Project 99999".to_owned()
                ),
                (
                    "ConfigurationContext".to_owned(),
                    "10003".to_owned(),
                    "Project 99998".to_owned()
                ),
                (
                    "CustomFieldOption".to_owned(),
                    "10002".to_owned(),
                    "FieldConfiguration 10999".to_owned()
                ),
                (
                    "CustomFieldOption".to_owned(),
                    "10003".to_owned(),
                    "FieldConfiguration 10102".to_owned()
                ),
            ]
        );
        assert_eq!(extracted.orphans[0].line, Some(5));
        assert_eq!(extracted.findings.count_of("unused-field-context"), 1);

        let ledger = extracted
            .elements
            .ledger(&BTreeMap::new(), &extracted.skipped_rows);
        let counts = |element: &str| {
            let e = ledger.entry(element).unwrap();
            (e.rows, e.migrated, e.skipped, e.not_migrated)
        };
        // The issue type scheme's rows are its own; the retired context's are skipped.
        assert_eq!(counts("FieldConfigScheme"), (4, 3, 1, 0));
        assert_eq!(counts("ConfigurationContext"), (5, 3, 2, 0));
        assert_eq!(counts("FieldConfigSchemeIssueType"), (5, 4, 1, 0));
        assert_eq!(counts("FieldConfiguration"), (4, 4, 0, 0));
        assert_eq!(staged(Kind::IssueTypeScheme).len(), 1);
        assert_eq!(counts("CustomFieldOption"), (5, 3, 2, 0));
    }

    /// Issue type schemes come from the custom fields' tables (fieldid `issuetype`): the
    /// global one, and a project's with its issue types in order and its default; an
    /// option naming a deleted issue type and a context naming a deleted project are
    /// orphans. Workflows are read from their descriptors (the rules Cloud cannot take a
    /// warning, one naming a deleted status an orphan, an unreadable one a warning);
    /// workflow schemes name workflows by name (`jira` the built-in one), a row naming a
    /// deleted workflow or issue type an orphan; projects' schemes are associations; a
    /// draft scheme is not migrated, by design.
    #[test]
    fn issue_type_schemes_workflows_and_workflow_schemes_are_assembled() {
        let descriptor = |status: &str, extra: &str| {
            format!(
                r#"&lt;workflow&gt;&lt;meta name="jira.description"&gt;Ship it &amp;amp; done&lt;/meta&gt;&lt;initial-actions&gt;&lt;action id="1" name="Create"&gt;&lt;results&gt;&lt;unconditional-result step="1"/&gt;&lt;/results&gt;&lt;/action&gt;&lt;/initial-actions&gt;&lt;steps&gt;&lt;step id="1" name="Open"&gt;&lt;meta name="jira.status.id"&gt;1&lt;/meta&gt;&lt;actions&gt;&lt;action id="11" name="Finish" view="fieldscreen"&gt;&lt;meta name="jira.fieldscreen.id"&gt;1&lt;/meta&gt;{extra}&lt;results&gt;&lt;unconditional-result step="2"/&gt;&lt;/results&gt;&lt;/action&gt;&lt;/actions&gt;&lt;/step&gt;&lt;step id="2" name="Done"&gt;&lt;meta name="jira.status.id"&gt;{status}&lt;/meta&gt;&lt;/step&gt;&lt;/steps&gt;&lt;/workflow&gt;"#
            )
        };
        let condition = "&lt;restrict-to&gt;&lt;conditions&gt;&lt;condition type=\"class\"&gt;&lt;arg name=\"class.name\"&gt;com.atlassian.jira.workflow.condition.PermissionCondition&lt;/arg&gt;&lt;/condition&gt;&lt;/conditions&gt;&lt;/restrict-to&gt;";
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<entity-engine-xml>
    <ConfigurationContext id="10000" key="issuetype" fieldconfigscheme="10000"/>
    <ConfigurationContext id="10001" key="issuetype" fieldconfigscheme="10001" project="10200"/>
    <ConfigurationContext id="10002" key="issuetype" fieldconfigscheme="10001" project="99999"/>
    <DraftWorkflowScheme id="10000" name="Draft" workflowSchemeId="10100"/>
    <FieldConfigScheme id="10000" name="Default Issue Type Scheme" fieldid="issuetype"/>
    <FieldConfigScheme id="10001" name="PLAT: Scrum Issue Type Scheme" description="Scrum" fieldid="issuetype"/>
    <FieldConfigSchemeIssueType id="10000" fieldconfigscheme="10000" fieldconfiguration="10000"/>
    <FieldConfigSchemeIssueType id="10001" fieldconfigscheme="10001" fieldconfiguration="10001"/>
    <FieldConfiguration id="10000" name="Default Configuration for Issue Type" fieldid="issuetype"/>
    <FieldConfiguration id="10001" name="PLAT" fieldid="issuetype"/>
    <FieldScreen id="1" name="Default Screen"/>
    <GenericConfiguration id="10000" datatype="DefaultValue" datakey="10001" xmlvalue="&lt;string&gt;3&lt;/string&gt;"/>
    <IssueType id="1" name="Bug"/>
    <IssueType id="3" name="Task"/>
    <NodeAssociation sourceNodeId="10200" sourceNodeEntity="Project" sinkNodeId="10100" sinkNodeEntity="WorkflowScheme" associationType="ProjectScheme"/>
    <OptionConfiguration id="10000" fieldid="issuetype" optionid="1" fieldconfig="10000" sequence="0"/>
    <OptionConfiguration id="10001" fieldid="issuetype" optionid="3" fieldconfig="10000" sequence="1"/>
    <OptionConfiguration id="10002" fieldid="issuetype" optionid="3" fieldconfig="10001" sequence="0"/>
    <OptionConfiguration id="10003" fieldid="issuetype" optionid="1" fieldconfig="10001" sequence="1"/>
    <OptionConfiguration id="10004" fieldid="issuetype" optionid="77" fieldconfig="10001" sequence="2"/>
    <Project id="10200" key="PLAT" name="Platform" lead="admin"/>
    <Status id="1" name="Open"/>
    <Status id="10001" name="Done"/>
    <Workflow id="10000" name="PLAT: Workflow"><descriptor>{good}</descriptor></Workflow>
    <Workflow id="10001" name="Lost status"><descriptor>{lost}</descriptor></Workflow>
    <Workflow id="10002" name="Broken"><descriptor>&lt;workflow&gt;&lt;steps&gt;</descriptor></Workflow>
    <WorkflowScheme id="10100" name="PLAT: Scheme" description="For PLAT"/>
    <WorkflowSchemeEntity id="10000" scheme="10100" workflow="jira" issuetype="0"/>
    <WorkflowSchemeEntity id="10001" scheme="10100" workflow="PLAT: Workflow" issuetype="1"/>
    <WorkflowSchemeEntity id="10002" scheme="10100" workflow="Lost status" issuetype="3"/>
    <WorkflowSchemeEntity id="10003" scheme="10100" workflow="PLAT: Workflow" issuetype="78"/>
</entity-engine-xml>
"#,
            good = descriptor("10001", condition),
            lost = descriptor("55", ""),
        );
        let (_dir, staging, extracted) = extract_xml(&xml);
        let staged = |kind| staged(&staging, kind);
        let schemes: Vec<(String, Vec<String>, Option<String>, bool)> =
            staged(Kind::IssueTypeScheme)
                .into_iter()
                .map(|r| match r {
                    Record::IssueTypeScheme(s) => {
                        (s.id, s.issue_types, s.default_issue_type, s.global)
                    }
                    other => panic!("{other:?}"),
                })
                .collect();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            schemes,
            [
                ("10000".into(), ids(&["1", "3"]), None, true),
                ("10001".into(), ids(&["3", "1"]), Some("3".into()), false),
            ]
        );
        let workflows = staged(Kind::Workflow);
        assert_eq!(workflows.len(), 1);
        let Record::Workflow(w) = &workflows[0] else {
            panic!()
        };
        assert_eq!(
            (w.name.as_str(), w.description.as_str()),
            ("PLAT: Workflow", "Ship it & done")
        );
        let steps: Vec<(&str, &str)> = w
            .steps
            .iter()
            .map(|s| (s.id.as_str(), s.status.as_str()))
            .collect();
        assert_eq!(steps, [("1", "1"), ("2", "10001")]);
        assert_eq!(w.transitions.len(), 2);
        assert_eq!(w.transitions[1].screen.as_deref(), Some("1"));
        let Record::WorkflowScheme(scheme) = &staged(Kind::WorkflowScheme)[0] else {
            panic!()
        };
        let mappings: Vec<(Option<&str>, Option<&str>)> = scheme
            .mappings
            .iter()
            .map(|m| (m.issue_type.as_deref(), m.workflow.as_deref()))
            .collect();
        assert_eq!(mappings, [(None, None), (Some("1"), Some("10000"))]);
        let associations: Vec<(String, SchemeType, String)> = staged(Kind::ProjectScheme)
            .into_iter()
            .map(|r| match r {
                Record::ProjectScheme(p) => (p.project, p.scheme_type, p.scheme),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            associations,
            [
                ("10200".into(), SchemeType::Workflow, "10100".into()),
                ("10200".into(), SchemeType::IssueType, "10001".into()),
            ]
        );
        let orphans: Vec<(&str, &str, &str, &str)> = extracted
            .orphans
            .iter()
            .map(|o| {
                (
                    o.entity.as_str(),
                    o.id.as_str(),
                    o.field.as_str(),
                    o.missing.as_str(),
                )
            })
            .collect();
        assert_eq!(
            orphans,
            [
                ("Workflow", "10001", "jira.status.id", "Status 55"),
                (
                    "WorkflowSchemeEntity",
                    "10002",
                    "workflow",
                    "Workflow named \"Lost status\""
                ),
                ("WorkflowSchemeEntity", "10003", "issuetype", "IssueType 78"),
                ("OptionConfiguration", "10004", "optionid", "IssueType 77"),
                ("ConfigurationContext", "10002", "project", "Project 99999"),
            ]
        );
        assert_eq!(
            extracted.findings.count_of("workflow-rules-not-migrated"),
            1
        );
        assert_eq!(extracted.findings.count_of("unreadable-workflow"), 1);
        let ledger = extracted
            .elements
            .ledger(&BTreeMap::new(), &extracted.skipped_rows);
        let counts = |element: &str| {
            let e = ledger.entry(element).unwrap();
            (e.rows, e.migrated, e.skipped, e.not_migrated, e.status)
        };
        use crate::coverage::Status;
        assert_eq!(counts("Workflow"), (3, 1, 2, 0, Status::Migrated));
        assert_eq!(
            counts("WorkflowSchemeEntity"),
            (4, 2, 2, 0, Status::Migrated)
        );
        assert_eq!(
            counts("OptionConfiguration"),
            (5, 4, 1, 0, Status::Migrated)
        );
        assert_eq!(
            counts("GenericConfiguration"),
            (1, 1, 0, 0, Status::Migrated)
        );
        assert_eq!(
            counts("ConfigurationContext"),
            (3, 2, 1, 0, Status::Migrated)
        );
        assert_eq!(counts("DraftWorkflowScheme").4, Status::ByDesign);
    }

    /// A gadget at a place no dashboard has (a negative column or row) is put first, and
    /// said; a place that is not a number is said too.
    #[test]
    fn gadgets_at_impossible_places_are_read_as_the_first_and_said() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<entity-engine-xml>
    <PortalPage id="10000" username="admin" pagename="Team" sequence="0"/>
    <PortletConfiguration id="10100" portalpage="10000" columnNumber="-1" position="2" dashboardModuleCompleteKey="com.atlassian.jira.gadgets:filter-results"/>
    <PortletConfiguration id="10101" portalpage="10000" columnNumber="1" position="x" dashboardModuleCompleteKey="com.atlassian.jira.gadgets:filter-results"/>
</entity-engine-xml>
"#;
        let (_dir, staging, extracted) = extract_xml(xml);
        let places: Vec<(u32, u32)> = staged(&staging, Kind::Gadget)
            .into_iter()
            .map(|r| match r {
                Record::Gadget(g) => (g.column, g.row),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(places, [(0, 2), (1, 0)]);
        assert_eq!(extracted.findings.count_of("invalid-number"), 2);
    }

    /// Permission schemes and their grants (Jira 7's `permissionKey`, Jira 6's number read
    /// as its key), project categories, project keys and a project's permission scheme and
    /// category become records; a grant of a number no project permission has, or to a
    /// holder Jira Cloud does not know, is a warning left behind.
    #[test]
    fn permission_schemes_categories_and_keys_are_extracted() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<entity-engine-xml>
    <PermissionScheme id="0" name="Default Permission Scheme" description="The default"/>
    <SchemePermissions id="10000" scheme="0" permissionKey="BROWSE_PROJECTS" type="applicationRole"/>
    <SchemePermissions id="10001" scheme="0" permission="12" type="projectrole" parameter="10001"/>
    <SchemePermissions id="10002" scheme="0" permission="23" type="group" parameter="jira-administrators"/>
    <SchemePermissions id="10003" scheme="0" permissionKey="ADD_COMMENTS" type="group" parameter=""/>
    <SchemePermissions id="10004" scheme="0" permissionKey="EDIT_ISSUES" type="reporter"/>
    <SchemePermissions id="10005" scheme="0" permissionKey="ASSIGNABLE_USER" type="userCF" parameter="customfield_10100"/>
    <SchemePermissions id="10006" scheme="0" permission="0" type="group" parameter="jira-administrators"/>
    <SchemePermissions id="10007" scheme="0" permissionKey="EDIT_ISSUES" type="reporterWithCreatePermission"/>
    <NotificationScheme id="10000" name="Default Notification Scheme" description=""/>
    <Notification id="10000" scheme="10000" event="" eventTypeId="1" templateId="" type="Current_Assignee"/>
    <Notification id="10001" scheme="10000" event="" eventTypeId="3" templateId="" type="Single_Email_Address" parameter="alerts@example.com"/>
    <Notification id="10002" scheme="10000" event="" eventTypeId="10100" templateId="" type="Current_Reporter"/>
    <Notification id="10003" scheme="10000" event="" eventTypeId="2" templateId="" type="Some_App_Recipient"/>
    <NodeAssociation sourceNodeId="10100" sourceNodeEntity="Project" sinkNodeId="10000" sinkNodeEntity="NotificationScheme" associationType="ProjectScheme"/>
    <ProjectCategory id="10000" name="Engineering" description=""/>
    <ProjectKey id="10000" projectId="10100" projectKey="NEW"/>
    <Project id="10100" key="NEW" name="New" lead="admin"/>
    <ProjectKey id="10001" projectId="10100" projectKey="OLD"/>
    <NodeAssociation sourceNodeId="10100" sourceNodeEntity="Project" sinkNodeId="0" sinkNodeEntity="PermissionScheme" associationType="ProjectScheme"/>
    <NodeAssociation sourceNodeId="10100" sourceNodeEntity="Project" sinkNodeId="10000" sinkNodeEntity="ProjectCategory" associationType="ProjectCategory"/>
</entity-engine-xml>
"#;
        let (_dir, staging, extracted) = extract_xml(xml);
        let read = |kind| staged(&staging, kind);

        assert_eq!(
            read(Kind::PermissionScheme),
            [Record::PermissionScheme(Named {
                id: "0".into(),
                name: "Default Permission Scheme".into(),
                description: "The default".into(),
            })]
        );
        let grant = |id: &str, permission: &str, holder| {
            Record::SchemePermission(SchemePermission {
                id: id.into(),
                scheme: "0".into(),
                permission: permission.into(),
                holder,
            })
        };
        assert_eq!(
            read(Kind::SchemePermission),
            [
                grant(
                    "10000",
                    "BROWSE_PROJECTS",
                    PermissionHolder::ApplicationRole(None)
                ),
                grant(
                    "10001",
                    "EDIT_ISSUES",
                    PermissionHolder::ProjectRole("10001".into())
                ),
                grant(
                    "10002",
                    "ADMINISTER_PROJECTS",
                    PermissionHolder::Group("jira-administrators".into())
                ),
                grant("10003", "ADD_COMMENTS", PermissionHolder::Anyone),
                grant("10004", "EDIT_ISSUES", PermissionHolder::Reporter),
                grant(
                    "10005",
                    "ASSIGNABLE_USER",
                    PermissionHolder::UserCustomField("customfield_10100".into())
                ),
            ]
        );
        assert_eq!(extracted.findings.count_of("unknown-permission"), 1);
        assert_eq!(extracted.findings.count_of("unknown-permission-holder"), 1);
        // The project's own key is its record's: only the former one is staged.
        assert_eq!(
            read(Kind::ProjectKey),
            [Record::ProjectKey(ProjectKey {
                id: "10001".into(),
                project: "10100".into(),
                key: "OLD".into(),
            })]
        );
        assert_eq!(read(Kind::ProjectCategory).len(), 1);
        let entry = |id: &str, event: &str, recipient| {
            Record::Notification(Notification {
                id: id.into(),
                scheme: "10000".into(),
                event: event.into(),
                recipient,
            })
        };
        assert_eq!(
            read(Kind::Notification),
            [
                entry("10000", "1", Recipient::CurrentAssignee),
                entry("10001", "3", Recipient::Email("alerts@example.com".into())),
            ]
        );
        assert_eq!(extracted.findings.count_of("custom-event-notification"), 1);
        assert_eq!(
            extracted
                .findings
                .count_of("unknown-notification-recipient"),
            1
        );
        let associations: Vec<(SchemeType, String)> = read(Kind::ProjectScheme)
            .into_iter()
            .map(|r| match r {
                Record::ProjectScheme(p) => (p.scheme_type, p.scheme),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            associations,
            [
                (SchemeType::Notification, "10000".into()),
                (SchemeType::Permission, "0".into()),
                (SchemeType::Category, "10000".into()),
            ]
        );

        let ledger = extracted
            .elements
            .ledger(&BTreeMap::new(), &BTreeMap::new());
        let grants = ledger.entry("SchemePermissions").unwrap();
        assert_eq!(
            (grants.rows, grants.migrated, grants.not_migrated),
            (8, 6, 2)
        );
        for element in ["PermissionScheme", "ProjectCategory", "ProjectKey"] {
            let entry = ledger.entry(element).unwrap();
            assert_eq!(entry.status, crate::coverage::Status::Migrated, "{entry:?}");
        }
    }
}
