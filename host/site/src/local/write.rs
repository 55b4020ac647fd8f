//! `write`: validation as Jira Cloud does it (each record's own values by the shared
//! [`crate::rules`], its references here), then one insert per record, all in the
//! caller's transaction.
//!
//! References are checked against in-memory sets of the ids the site holds (loaded once,
//! kept up to date as rows are inserted): a lookup per reference in SQLite would cost more
//! than the insert itself.

use std::collections::{HashMap, HashSet};

use airlock_model::jira::{
    Association, Attachment, Board, BoardColumn, BoardQuery, CardColor, CardColorValue, CardField,
    ChangeGroup, ChangeItem, ColumnStatus, Comment, Component, Constant, CustomField,
    CustomFieldOption, CustomFieldValue, Dashboard, EntityProperty, FieldConfigurationItem,
    FieldConfigurationScheme, FieldContext, FieldId, FieldValue, Filter, Gadget, GadgetPreference,
    Group, Issue, IssueLink, IssueLinkType, IssueRank, IssueSprint, IssueTypeScheme,
    IssueTypeScreenScheme, IssueUser, IssueVersion, Kind, Label, LevelMember, MAX_SYSTEM_EVENT,
    Membership, Named, Notification, PermissionHolder, Project, ProjectCategory, ProjectKey,
    ProjectRole, ProjectRoleActor, ProjectScheme, Recipient, Record, RemoteLink, RoleActor,
    SchemePermission, SchemeType, ScreenField, ScreenOperation, ScreenScheme, ScreenTab,
    SecurityLevel, SecurityScheme, Share, Sprint, User, Version, Workflow, WorkflowScheme, Worklog,
};
use rusqlite::{Connection, OptionalExtension, params};

use super::schema::FIRST_ID;
use crate::{ItemError, source_key};

/// The ids the site holds, per table, loaded on first use. Dropped whole whenever it may
/// be stale: after a failed call, or when another connection changed the file.
#[derive(Default)]
pub(super) struct Cache {
    /// `PRAGMA data_version` when the sets were last known good.
    pub data_version: Option<i64>,
    users: Option<HashSet<String>>,
    /// Lower-cased name → id: group names are case-insensitive.
    groups: Option<HashMap<String, i64>>,
    issue_types: Option<HashSet<i64>>,
    statuses: Option<HashSet<i64>>,
    priorities: Option<HashSet<i64>>,
    resolutions: Option<HashSet<i64>>,
    link_types: Option<HashSet<i64>>,
    /// Id → key, for issue keys.
    projects: Option<HashMap<i64, String>>,
    /// Component / version id → its project.
    components: Option<HashMap<i64, i64>>,
    versions: Option<HashMap<i64, i64>>,
    fields: Option<HashSet<i64>>,
    /// Option id → its field.
    options: Option<HashMap<i64, i64>>,
    /// Issue id → its project.
    issues: Option<IssueProjects>,
}

/// Issue id → project id, compactly: the site numbers issues densely from 10000, so a
/// vector indexed by id holds a million issues in 4 MiB (a hash map took 34). Ids outside
/// the dense run go to a map.
#[derive(Default)]
pub(crate) struct IssueProjects {
    base: i64,
    dense: Vec<u32>,
    sparse: HashMap<i64, i64>,
}

impl IssueProjects {
    const BASE: i64 = 10_000;
    /// Gaps this long or longer go to the map instead of growing the vector.
    const MAX_GAP: i64 = 1 << 16;

    pub(crate) fn get(&self, id: &i64) -> Option<i64> {
        let slot = id.checked_sub(self.base)?;
        if let Some(&p) = usize::try_from(slot).ok().and_then(|i| self.dense.get(i))
            && p != 0
        {
            return Some(i64::from(p));
        }
        self.sparse.get(id).copied()
    }

    pub(crate) fn insert(&mut self, id: i64, project: i64) {
        if self.dense.is_empty() {
            self.base = Self::BASE;
        }
        let slot = id - self.base;
        match (usize::try_from(slot), u32::try_from(project)) {
            (Ok(i), Ok(p)) if p != 0 && slot < self.dense.len() as i64 + Self::MAX_GAP => {
                if i >= self.dense.len() {
                    self.dense.resize(i + 1, 0);
                }
                self.dense[i] = p;
            }
            _ => {
                self.sparse.insert(id, project);
            }
        }
    }
}

/// Loads `slot` if it is not loaded yet.
fn load<T>(
    slot: &mut Option<T>,
    f: impl FnOnce() -> rusqlite::Result<T>,
) -> rusqlite::Result<&mut T> {
    if slot.is_none() {
        *slot = Some(f()?);
    }
    Ok(slot.as_mut().expect("loaded just above"))
}

fn id_set(conn: &Connection, table: &str) -> rusqlite::Result<HashSet<i64>> {
    let mut stmt = conn.prepare(&format!("SELECT id FROM {table}"))?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

fn id_map(conn: &Connection, sql: &str) -> rusqlite::Result<HashMap<i64, i64>> {
    let mut stmt = conn.prepare(sql)?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// Why a record was not written: the record's fault, or the database's (fails the call).
enum Fail {
    Item(ItemError),
    Db(rusqlite::Error),
}

impl From<ItemError> for Fail {
    fn from(e: ItemError) -> Fail {
        Fail::Item(e)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Fail {
        Fail::Db(e)
    }
}

fn item(code: &'static str, message: impl Into<String>) -> ItemError {
    ItemError {
        code,
        message: message.into(),
    }
}

fn missing(field: &str, what: &str) -> ItemError {
    item(
        "invalid-reference",
        format!("{field}: the site has no {what} with this id"),
    )
}

/// A numeric cloud id; anything else cannot name a row.
fn number(field: &str, what: &str, value: &str) -> Result<i64, ItemError> {
    value.parse().map_err(|_| missing(field, what))
}

fn unique_violation(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi;
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Runs an insert; a uniqueness clash is the record's fault (`what` says which key).
fn insert(result: rusqlite::Result<usize>, what: &str) -> Result<(), Fail> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if unique_violation(&e) => Err(Fail::Item(item(
            "duplicate-key",
            format!("the site already has {what}"),
        ))),
        Err(e) => Err(Fail::Db(e)),
    }
}

/// Whether an `INSERT … ON CONFLICT (…) DO NOTHING` added its row (else the caller updates
/// the row already there). Cheaper per row than an upsert with `RETURNING`, for which
/// SQLite buffers the returned rows: watchers, votes, ranks and sprints are millions.
fn inserted(changes: usize) -> bool {
    changes == 1
}

/// The next id of `table`: Cloud numbers from 10000.
fn next_id(conn: &Connection, table: &str, column: &str, first: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        &format!("SELECT COALESCE(MAX({column}) + 1, ?1) FROM {table}"),
        [first],
        |r| r.get(0),
    )
}

/// A deterministic, opaque account id: 24 lower-case hex digits, unique per counter value.
pub(super) fn account_id(salt: u64, seq: i64) -> String {
    // splitmix64's finaliser is a bijection, so distinct counters give distinct ids.
    let mut z = (seq as u64).wrapping_add(salt);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    format!("{:08x}{z:016x}", (salt >> 32) as u32)
}

/// Writes one batch of `kind` in `conn`'s open transaction.
pub(super) struct Writer<'a> {
    pub conn: &'a Connection,
    pub cache: &'a mut Cache,
    pub salt: u64,
}

type Answers = Vec<Result<String, ItemError>>;

/// Runs `f` on each record of the expected variant; a record's failure is its answer,
/// a database failure ends the call.
fn each<'r, T>(
    records: &'r [Record],
    kind: Kind,
    pick: impl Fn(&'r Record) -> Option<T>,
    mut f: impl FnMut(T, String) -> Result<String, Fail>,
) -> rusqlite::Result<Answers> {
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        let answer = match pick(record) {
            // Cloud's rules for the record's own values, shared with the analysis.
            Some(r) => match crate::rules::check(record) {
                Ok(()) => f(r, source_key(record)),
                Err(v) => Err(Fail::Item(v.into())),
            },
            None => Err(Fail::Item(item(
                "rejected",
                format!("a {} record in a batch of {kind}", record.kind()),
            ))),
        };
        match answer {
            Ok(id) => out.push(Ok(id)),
            Err(Fail::Item(e)) => out.push(Err(e)),
            Err(Fail::Db(e)) => return Err(e),
        }
    }
    Ok(out)
}

macro_rules! pick {
    ($variant:ident) => {
        |r: &Record| match r {
            Record::$variant(x) => Some(x),
            _ => None,
        }
    };
}

impl Writer<'_> {
    pub fn write(&mut self, kind: Kind, records: &[Record]) -> rusqlite::Result<Answers> {
        match kind {
            Kind::User => self.users(records),
            Kind::Group => self.groups(records),
            Kind::Membership => self.memberships(records),
            Kind::IssueType => self.issue_types(records),
            Kind::Status => self.constants(records, kind, "statuses", pick!(Status)),
            Kind::Priority => self.constants(records, kind, "priorities", pick!(Priority)),
            Kind::Resolution => self.constants(records, kind, "resolutions", pick!(Resolution)),
            Kind::Project => self.projects(records),
            Kind::Component => self.components(records),
            Kind::Version => self.versions(records),
            Kind::CustomField => self.fields(records),
            Kind::FieldContext => self.field_contexts(records),
            Kind::CustomFieldOption => self.options(records),
            Kind::IssueLinkType => self.link_types(records),
            Kind::Issue => self.issues(records),
            Kind::CustomFieldValue => self.field_values(records),
            Kind::Label => self.labels(records),
            Kind::IssueVersion => self.issue_versions(records),
            Kind::Comment => self.comments(records),
            Kind::Worklog => self.worklogs(records),
            Kind::IssueLink => self.issue_links(records),
            Kind::RemoteLink => self.remote_links(records),
            Kind::Attachment => self.attachments(records),
            Kind::EntityProperty => self.entity_properties(records),
            Kind::ProjectRole => self.roles(records),
            Kind::ProjectRoleActor => self.role_actors(records),
            Kind::SecurityScheme => self.security_schemes(records),
            Kind::SecurityLevel => self.security_levels(records),
            Kind::ProjectScheme => self.project_schemes(records),
            Kind::ProjectCategory => self.categories(records),
            Kind::ProjectKey => self.project_keys(records),
            Kind::PermissionScheme => {
                self.schemes(records, kind, "permission_schemes", pick!(PermissionScheme))
            }
            Kind::NotificationScheme => self.schemes(
                records,
                kind,
                "notification_schemes",
                pick!(NotificationScheme),
            ),
            Kind::Notification => self.notifications(records),
            Kind::SchemePermission => self.scheme_permissions(records),
            Kind::SecurityLevelMember => self.level_members(records),
            Kind::Watcher => self.issue_users(records, kind, "watchers", pick!(Watcher)),
            Kind::Vote => self.issue_users(records, kind, "votes", pick!(Vote)),
            Kind::Filter => self.filters(records),
            Kind::FilterShare | Kind::DashboardShare => self.shares(records, kind),
            Kind::Dashboard => self.dashboards(records),
            Kind::Screen => self.schemes(records, kind, "screens", pick!(Screen)),
            Kind::ScreenTab => self.screen_tabs(records),
            Kind::ScreenField => self.screen_fields(records),
            Kind::ScreenScheme => self.screen_schemes(records),
            Kind::IssueTypeScreenScheme => self.issue_type_screen_schemes(records),
            Kind::FieldConfiguration => self.schemes(
                records,
                kind,
                "field_configurations",
                pick!(FieldConfiguration),
            ),
            Kind::FieldConfigurationItem => self.field_configuration_items(records),
            Kind::FieldConfigurationScheme => self.field_configuration_schemes(records),
            Kind::IssueTypeScheme => self.issue_type_schemes(records),
            Kind::Workflow => self.workflows(records),
            Kind::WorkflowScheme => self.workflow_schemes(records),
            Kind::Gadget => self.gadgets(records),
            Kind::GadgetPreference => self.gadget_preferences(records),
            Kind::ChangeGroup => self.change_groups(records),
            Kind::ChangeItem => self.change_items(records),
            Kind::Board => self.boards(records),
            Kind::Sprint => self.sprints(records),
            Kind::BoardColumn => self.board_columns(records),
            Kind::ColumnStatus => self.column_statuses(records),
            Kind::Swimlane => self.board_queries(records, kind, "board_swimlanes"),
            Kind::QuickFilter => self.board_queries(records, kind, "board_quick_filters"),
            Kind::CardField => self.card_fields(records),
            Kind::CardColor => self.card_colors(records),
            Kind::IssueSprint => self.issue_sprints(records),
            Kind::IssueRank => self.issue_ranks(records),
        }
    }

    fn change_groups(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let issues = load(&mut c.issues, || load_issues(conn))?;
        let users = load(&mut c.users, || load_users(conn))?;
        let mut id = next_id(conn, "change_groups", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO change_groups (id, issue_id, author_account_id, created, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        each(
            records,
            Kind::ChangeGroup,
            pick!(ChangeGroup),
            |r: &ChangeGroup, sk| {
                let issue = issue_ref(issues, "issue", &r.issue)?.0;
                let author = user_ref(users, "author", r.author.as_deref().unwrap_or(""))?;
                stmt.execute(params![id, issue, author, r.created, sk])?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn change_items(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let mut id = next_id(conn, "change_items", "id", FIRST_ID)?;
        // Change groups are numbered from FIRST_ID up and never deleted, so the ids below
        // the next one are exactly those that exist: no lookup per item (there are millions).
        let groups = FIRST_ID..next_id(conn, "change_groups", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO change_items (id, group_id, field_type, field, old_value, old_string,
                                       new_value, new_string, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        each(
            records,
            Kind::ChangeItem,
            pick!(ChangeItem),
            |r: &ChangeItem, sk| {
                let group = number("group", "change group", &r.group)?;
                if !groups.contains(&group) {
                    return Err(missing("group", "change group").into());
                }
                let field_type = if r.custom { "custom" } else { "jira" };
                stmt.execute(params![
                    id,
                    group,
                    field_type,
                    r.field,
                    r.old_value,
                    r.old_string,
                    r.new_value,
                    r.new_string,
                    sk
                ])?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn security_schemes(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let mut id = next_id(conn, "security_schemes", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO security_schemes (id, name, description, source_key)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        each(
            records,
            Kind::SecurityScheme,
            pick!(SecurityScheme),
            |r: &SecurityScheme, sk| {
                insert(
                    stmt.execute(params![id, r.name, r.description, sk]),
                    "an issue security scheme of this name",
                )?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn security_levels(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let schemes = id_set(conn, "security_schemes")?;
        let mut id = next_id(conn, "security_levels", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO security_levels (id, scheme_id, name, description, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        each(
            records,
            Kind::SecurityLevel,
            pick!(SecurityLevel),
            |r: &SecurityLevel, sk| {
                let scheme = constant_ref(&schemes, "scheme", &r.scheme)?;
                insert(
                    stmt.execute(params![id, scheme, r.name, r.description, sk]),
                    "a level of this name in the scheme",
                )?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn project_schemes(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let projects = load(&mut self.cache.projects, || load_projects(conn))?;
        let schemes = id_set(conn, "security_schemes")?;
        let permission_schemes = id_set(conn, "permission_schemes")?;
        let notification_schemes = id_set(conn, "notification_schemes")?;
        let categories = id_set(conn, "project_categories")?;
        let screen_schemes = id_set(conn, "issue_type_screen_schemes")?;
        let field_schemes = id_set(conn, "field_configuration_schemes")?;
        let issue_type_schemes = id_set(conn, "issue_type_schemes")?;
        let workflow_schemes = id_set(conn, "workflow_schemes")?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO project_schemes (project_id, scheme_type, scheme_id, source_key)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (project_id, scheme_type)
             DO UPDATE SET scheme_id = excluded.scheme_id, source_key = excluded.source_key",
        )?;
        each(
            records,
            Kind::ProjectScheme,
            pick!(ProjectScheme),
            |r: &ProjectScheme, sk| {
                let project = project_ref(projects, &r.project)?;
                let (scheme_type, scheme) = match r.scheme_type {
                    SchemeType::IssueSecurity => (
                        "issue-security",
                        constant_ref(&schemes, "scheme", &r.scheme)?,
                    ),
                    SchemeType::Permission => (
                        "permission",
                        constant_ref(&permission_schemes, "scheme", &r.scheme)?,
                    ),
                    SchemeType::Notification => (
                        "notification",
                        constant_ref(&notification_schemes, "scheme", &r.scheme)?,
                    ),
                    SchemeType::Category => (
                        "category",
                        constant_ref(&categories, "category", &r.scheme)?,
                    ),
                    SchemeType::IssueTypeScreen => (
                        "issue-type-screen",
                        constant_ref(&screen_schemes, "scheme", &r.scheme)?,
                    ),
                    SchemeType::FieldConfiguration => (
                        "field-configuration",
                        constant_ref(&field_schemes, "scheme", &r.scheme)?,
                    ),
                    SchemeType::IssueType => (
                        "issue-type",
                        constant_ref(&issue_type_schemes, "scheme", &r.scheme)?,
                    ),
                    SchemeType::Workflow => (
                        "workflow",
                        constant_ref(&workflow_schemes, "scheme", &r.scheme)?,
                    ),
                };
                stmt.execute(params![project, scheme_type, scheme, sk])?;
                Ok(String::new())
            },
        )
    }

    fn categories(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let mut id = next_id(conn, "project_categories", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO project_categories (id, name, description, source_key)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        each(
            records,
            Kind::ProjectCategory,
            pick!(ProjectCategory),
            |r: &ProjectCategory, sk| {
                insert(
                    stmt.execute(params![id, r.name, r.description, sk]),
                    "a project category of this name",
                )?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// A key a project has had. The project's own key is among them (Jira keeps every
    /// key): written again it only takes the new source key; a key another project has
    /// (as its key or a former one) is refused.
    fn project_keys(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let projects = load(&mut self.cache.projects, || load_projects(conn))?;
        let mut owner = conn.prepare_cached(
            "SELECT project_id FROM project_keys WHERE key = ?1
             UNION ALL SELECT id FROM projects WHERE key = ?1",
        )?;
        let mut id = next_id(conn, "project_keys", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO project_keys (id, project_id, key, source_key) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET source_key = excluded.source_key",
        )?;
        each(
            records,
            Kind::ProjectKey,
            pick!(ProjectKey),
            |r: &ProjectKey, sk| {
                let project = project_ref(projects, &r.project)?;
                let owners: Vec<i64> = owner
                    .query_map([&r.key], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                if owners.iter().any(|&o| o != project) {
                    return Err(item(
                        "duplicate-key",
                        format!("the key {} is another project's on the site", r.key),
                    )
                    .into());
                }
                stmt.execute(params![id, project, r.key, sk])?;
                id += 1;
                Ok(String::new())
            },
        )
    }

    /// A permission or notification scheme, under its own name if the site has no scheme
    /// of that name, else as `<name> (migrated)` (`(migrated 2)`…), as Atlassian's
    /// migration assistant names it: the target's scheme of that name governs its own
    /// projects and is left as it is.
    fn schemes<'r>(
        &mut self,
        records: &'r [Record],
        kind: Kind,
        table: &str,
        pick: impl Fn(&'r Record) -> Option<&'r Named>,
    ) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let mut id = next_id(conn, table, "id", FIRST_ID)?;
        let mut taken = conn.prepare_cached(&format!("SELECT 1 FROM {table} WHERE name = ?1"))?;
        let mut stmt = conn.prepare_cached(&format!(
            "INSERT INTO {table} (id, name, description, source_key) VALUES (?1, ?2, ?3, ?4)"
        ))?;
        each(records, kind, pick, |r: &Named, sk| {
            let name = free_name(&mut taken, &r.name)?;
            stmt.execute(params![id, name, r.description, sk])?;
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    /// A grant of a permission scheme. The same grant twice in a scheme is one (Jira keeps
    /// it once): the second only takes the new source key.
    fn scheme_permissions(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let mut parameters = Parameters::load(conn, self.cache)?;
        let schemes = id_set(conn, "permission_schemes")?;
        let mut id = next_id(conn, "scheme_permissions", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO scheme_permissions (id, scheme_id, permission, holder_type, parameter,
                                             source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (scheme_id, permission, holder_type, IFNULL(parameter, ''))
             DO UPDATE SET source_key = excluded.source_key
             RETURNING id",
        )?;
        each(
            records,
            Kind::SchemePermission,
            pick!(SchemePermission),
            |r: &SchemePermission, sk| {
                let scheme = constant_ref(&schemes, "scheme", &r.scheme)?;
                let holder_type = r.holder.cloud_type();
                let parameter = parameters.holder(&r.holder)?;
                let written: i64 = stmt.query_row(
                    params![id, scheme, r.permission, holder_type, parameter, sk],
                    |row| row.get(0),
                )?;
                if written == id {
                    id += 1;
                }
                Ok(written.to_string())
            },
        )
    }

    /// A member of an issue security level, of the scheme the record names. The same
    /// member twice on a level is one: the second only takes the new source key (an
    /// "anyone" member is refused by the shared rules).
    fn level_members(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let mut parameters = Parameters::load(conn, self.cache)?;
        let levels = id_map(conn, "SELECT id, scheme_id FROM security_levels")?;
        let mut id = next_id(conn, "security_level_members", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO security_level_members (id, level_id, holder_type, parameter,
                                                 source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (level_id, holder_type, IFNULL(parameter, ''))
             DO UPDATE SET source_key = excluded.source_key
             RETURNING id",
        )?;
        each(
            records,
            Kind::SecurityLevelMember,
            pick!(SecurityLevelMember),
            |r: &LevelMember, sk| {
                let level = number("security", "security level", &r.level)?;
                let scheme = number("scheme", "security scheme", &r.scheme)?;
                if levels.get(&level) != Some(&scheme) {
                    return Err(missing("security", "level of this scheme").into());
                }
                let parameter = parameters.holder(&r.holder)?;
                let written: i64 = stmt.query_row(
                    params![id, level, r.holder.cloud_type(), parameter, sk],
                    |row| row.get(0),
                )?;
                if written == id {
                    id += 1;
                }
                Ok(written.to_string())
            },
        )
    }

    /// An entry of a notification scheme. The same entry twice in a scheme is one (Jira
    /// keeps it once): the second only takes the new source key.
    fn notifications(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let mut parameters = Parameters::load(conn, self.cache)?;
        let schemes = id_set(conn, "notification_schemes")?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO notifications (scheme_id, event_id, recipient_type, parameter,
                                        source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (scheme_id, event_id, recipient_type, IFNULL(parameter, ''))
             DO UPDATE SET source_key = excluded.source_key",
        )?;
        each(
            records,
            Kind::Notification,
            pick!(Notification),
            |r: &Notification, sk| {
                let scheme = constant_ref(&schemes, "scheme", &r.scheme)?;
                let event = number("eventTypeId", "event type", &r.event)?;
                if !(1..=i64::from(MAX_SYSTEM_EVENT)).contains(&event) {
                    return Err(missing("eventTypeId", "event type").into());
                }
                let p = &mut parameters;
                let parameter: Option<String> = match &r.recipient {
                    Recipient::Group(name) => Some(p.group(name)?),
                    Recipient::User(u) => p.user(u)?,
                    Recipient::ProjectRole(role) => Some(p.role(role)?),
                    Recipient::UserCustomField(f) | Recipient::GroupCustomField(f) => {
                        Some(p.field(f)?)
                    }
                    Recipient::Email(address) => Some(address.clone()),
                    Recipient::CurrentAssignee
                    | Recipient::Reporter
                    | Recipient::CurrentUser
                    | Recipient::ProjectLead
                    | Recipient::ComponentLead
                    | Recipient::AllWatchers => None,
                };
                stmt.execute(params![
                    scheme,
                    event,
                    r.recipient.cloud_type(),
                    parameter,
                    sk
                ])?;
                Ok(String::new())
            },
        )
    }

    fn roles(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let mut id = next_id(conn, "project_roles", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO project_roles (id, name, description, source_key)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        each(
            records,
            Kind::ProjectRole,
            pick!(ProjectRole),
            |r: &ProjectRole, sk| {
                insert(
                    stmt.execute(params![id, r.name, r.description, sk]),
                    "a project role of this name",
                )?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// Who plays a role in a project (or by default). An actor is kept once per project
    /// and role: a second write of it only takes the new source key. A group is stored by
    /// the site's spelling of its name (Jira's group names ignore case).
    fn role_actors(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let users = &*load(&mut c.users, || load_users(conn))?;
        let projects = &*load(&mut c.projects, || load_projects(conn))?;
        let roles = id_set(conn, "project_roles")?;
        let mut group_name = conn.prepare_cached("SELECT name FROM groups WHERE name = ?1")?;
        let mut id = next_id(conn, "project_role_actors", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO project_role_actors (id, project_id, role_id, actor_type, account_id,
                                              group_name, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (IFNULL(project_id, 0), role_id, actor_type,
                          IFNULL(account_id, group_name))
             DO UPDATE SET source_key = excluded.source_key
             RETURNING id",
        )?;
        each(
            records,
            Kind::ProjectRoleActor,
            pick!(ProjectRoleActor),
            |r: &ProjectRoleActor, sk| {
                let project = match r.project.as_deref().filter(|p| !p.is_empty()) {
                    Some(p) => Some(project_ref(projects, p)?),
                    None => None,
                };
                let role = constant_ref(&roles, "role", &r.role)?;
                let (actor_type, account, group) = match &r.actor {
                    RoleActor::User(user) => match user_ref(users, "user", user)? {
                        Some(account) => ("user", Some(account), None),
                        None => return Err(item("invalid-value", "user is required").into()),
                    },
                    RoleActor::Group(name) => {
                        let found: Option<String> =
                            group_name.query_row([name], |row| row.get(0)).optional()?;
                        match found {
                            Some(name) => ("group", None, Some(name)),
                            None => return Err(missing("group", "group").into()),
                        }
                    }
                };
                let written: i64 = stmt.query_row(
                    params![id, project, role, actor_type, account, group, sk],
                    |row| row.get(0),
                )?;
                if written == id {
                    id += 1;
                }
                Ok(String::new())
            },
        )
    }

    /// Watchers or votes. Cloud answers adding a watcher twice as success (an issue's
    /// reporter watches it from the start): the row stays, and gets the source key.
    fn issue_users<'r>(
        &mut self,
        records: &'r [Record],
        kind: Kind,
        table: &str,
        pick: impl Fn(&'r Record) -> Option<&'r IssueUser>,
    ) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let issues = load(&mut c.issues, || load_issues(conn))?;
        let users = load(&mut c.users, || load_users(conn))?;
        let mut id = next_id(conn, table, "id", 1)?;
        let mut insert = conn.prepare_cached(&format!(
            "INSERT INTO {table} (id, issue_id, account_id, source_key) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (issue_id, account_id) DO NOTHING"
        ))?;
        let mut update = conn.prepare_cached(&format!(
            "UPDATE {table} SET source_key = ?3 WHERE issue_id = ?1 AND account_id = ?2"
        ))?;
        each(records, kind, pick, |r: &IssueUser, sk| {
            let issue = issue_ref(issues, "issue", &r.issue)?.0;
            let Some(user) = user_ref(users, "user", &r.user)? else {
                return Err(item("invalid-value", "user is required").into());
            };
            if inserted(insert.execute(params![id, issue, user, sk])?) {
                id += 1;
            } else {
                update.execute(params![issue, user, sk])?;
            }
            Ok(String::new())
        })
    }

    fn filters(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let users = &*load(&mut self.cache.users, || load_users(conn))?;
        let mut id = next_id(conn, "filters", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO filters (id, name, description, owner_account_id, jql, favourites,
                                  source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut owned = conn
            .prepare_cached("SELECT 1 FROM filters WHERE owner_account_id IS ?1 AND name = ?2")?;
        each(records, Kind::Filter, pick!(Filter), |r: &Filter, sk| {
            let owner = user_ref(users, "owner", &r.owner)?;
            // Cloud: a user's filters have distinct names.
            if owned.exists(params![owner, r.name])? {
                return Err(item(
                    "duplicate-key",
                    "the owner already has a filter of this name",
                )
                .into());
            }
            // Cloud validates a query: every id it names must exist.
            if let Some(field) = unknown_in_query(conn, users, &r.jql)? {
                return Err(item(
                    "invalid-value",
                    format!("jql: the query names a {field} the site does not have"),
                )
                .into());
            }
            let favourites = i64::try_from(r.favourites).unwrap_or(i64::MAX);
            stmt.execute(params![
                id,
                r.name,
                r.description,
                owner,
                r.jql,
                favourites,
                sk
            ])?;
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    /// Filters' and dashboards' shares: the same columns, each beside its own parent.
    fn shares(&mut self, records: &[Record], kind: Kind) -> rusqlite::Result<Answers> {
        let (table, parents, parent_column, what) = match kind {
            Kind::FilterShare => ("filter_shares", "filters", "filter_id", "filter"),
            _ => (
                "dashboard_shares",
                "dashboards",
                "dashboard_id",
                "dashboard",
            ),
        };
        let conn = self.conn;
        let c = &mut *self.cache;
        let users = load(&mut c.users, || load_users(conn))?;
        let groups = load(&mut c.groups, || load_groups(conn))?;
        let projects = load(&mut c.projects, || load_projects(conn))?;
        let roles = id_set(conn, "project_roles")?;
        let parents = id_set(conn, parents)?;
        let mut id = next_id(conn, table, "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(&format!(
            "INSERT INTO {table} (id, {parent_column}, type, group_name, project_id, role_id,
                                  account_id, edit, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ))?;
        let pick = |r| share_parts(kind, r);
        each(records, kind, pick, |(parent, share, edit), sk| {
            let parent = constant_ref(&parents, what, parent)?;
            let (mut group, mut project, mut role, mut user) = (None, None, None, None);
            match share {
                Share::Global | Share::LoggedIn => {}
                Share::Group(name) => {
                    if !groups.contains_key(&name.to_lowercase()) {
                        return Err(missing("group", "group").into());
                    }
                    group = Some(name.as_str());
                }
                Share::Project {
                    project: p,
                    role: r,
                } => {
                    project = Some(project_ref(projects, p)?);
                    role = opt_constant_ref(&roles, "role", r.as_deref())?;
                }
                Share::User(u) => user = user_ref(users, "user", u)?,
            }
            stmt.execute(params![
                id,
                parent,
                share.type_name(),
                group,
                project,
                role,
                user,
                edit,
                sk
            ])?;
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    fn screen_tabs(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let screens = id_set(conn, "screens")?;
        let mut id = next_id(conn, "screen_tabs", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO screen_tabs (id, screen_id, name, position, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        each(
            records,
            Kind::ScreenTab,
            pick!(ScreenTab),
            |r: &ScreenTab, sk| {
                let screen = constant_ref(&screens, "screen", &r.screen)?;
                insert(
                    stmt.execute(params![id, screen, r.name, r.position, sk]),
                    "a tab of this name on the screen",
                )?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// A field on a tab: Cloud takes a system field or a custom field the site has, once
    /// per screen.
    fn screen_fields(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let tabs = id_map(conn, "SELECT id, screen_id FROM screen_tabs")?;
        let fields = load(&mut self.cache.fields, || id_set(conn, "fields"))?;
        let mut id = next_id(conn, "screen_fields", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO screen_fields (id, tab_id, screen_id, field_id, position, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        each(
            records,
            Kind::ScreenField,
            pick!(ScreenField),
            |r: &ScreenField, sk| {
                let tab = number("tab", "screen tab", &r.tab)?;
                let Some(&screen) = tabs.get(&tab) else {
                    return Err(missing("tab", "screen tab").into());
                };
                custom_field_ref(fields, &r.field)?;
                insert(
                    stmt.execute(params![id, tab, screen, r.field.key(), r.position, sk]),
                    "this field on the screen",
                )?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// A screen scheme with its screens (a default one at least), renamed as permission
    /// schemes are where the site has its name.
    fn screen_schemes(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let screens = id_set(conn, "screens")?;
        let mut id = next_id(conn, "screen_schemes", "id", FIRST_ID)?;
        let mut taken = conn.prepare_cached("SELECT 1 FROM screen_schemes WHERE name = ?1")?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO screen_schemes (id, name, description, source_key)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut screen_of = conn.prepare_cached(
            "INSERT INTO screen_scheme_screens (scheme_id, operation, screen_id)
             VALUES (?1, ?2, ?3)",
        )?;
        each(
            records,
            Kind::ScreenScheme,
            pick!(ScreenScheme),
            |r: &ScreenScheme, sk| {
                if !r
                    .screens
                    .iter()
                    .any(|(o, _)| *o == ScreenOperation::Default)
                {
                    return Err(
                        item("invalid-value", "screens: a default screen is required").into(),
                    );
                }
                let mut resolved = Vec::with_capacity(r.screens.len());
                for (operation, screen) in &r.screens {
                    resolved.push((
                        operation.as_str(),
                        constant_ref(&screens, "screen", screen)?,
                    ));
                }
                let name = free_name(&mut taken, &r.name)?;
                stmt.execute(params![id, name, r.description, sk])?;
                for (operation, screen) in resolved {
                    insert(
                        screen_of.execute(params![id, operation, screen]),
                        "a screen for this operation in the scheme",
                    )?;
                }
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// An issue type screen scheme with its mappings (a default one at least).
    fn issue_type_screen_schemes(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let issue_types = load(&mut self.cache.issue_types, || id_set(conn, "issue_types"))?;
        let screen_schemes = id_set(conn, "screen_schemes")?;
        let mut id = next_id(conn, "issue_type_screen_schemes", "id", FIRST_ID)?;
        let mut taken =
            conn.prepare_cached("SELECT 1 FROM issue_type_screen_schemes WHERE name = ?1")?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO issue_type_screen_schemes (id, name, description, source_key)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut mapping = conn.prepare_cached(
            "INSERT INTO issue_type_screen_mappings (scheme_id, issue_type_id, screen_scheme_id)
             VALUES (?1, ?2, ?3)",
        )?;
        each(
            records,
            Kind::IssueTypeScreenScheme,
            pick!(IssueTypeScreenScheme),
            |r: &IssueTypeScreenScheme, sk| {
                if !r.mappings.iter().any(|m| m.issue_type.is_none()) {
                    return Err(item(
                        "invalid-value",
                        "issueTypeMappings: a default mapping is required",
                    )
                    .into());
                }
                let mut resolved = Vec::with_capacity(r.mappings.len());
                for m in &r.mappings {
                    let issue_type = match &m.issue_type {
                        None => 0,
                        Some(t) => constant_ref(issue_types, "issue type", t)?,
                    };
                    let scheme = constant_ref(&screen_schemes, "screen scheme", &m.screen_scheme)?;
                    resolved.push((issue_type, scheme));
                }
                let name = free_name(&mut taken, &r.name)?;
                stmt.execute(params![id, name, r.description, sk])?;
                for (issue_type, scheme) in resolved {
                    insert(
                        mapping.execute(params![id, issue_type, scheme]),
                        "a mapping of this issue type in the scheme",
                    )?;
                }
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// A field's settings in a field configuration: Cloud takes a system field or a custom
    /// field the site has, once per configuration.
    fn field_configuration_items(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let configurations = id_set(conn, "field_configurations")?;
        let fields = load(&mut self.cache.fields, || id_set(conn, "fields"))?;
        let mut id = next_id(conn, "field_configuration_items", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO field_configuration_items (id, configuration_id, field_id, description,
                                                    hidden, required, renderer, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        each(
            records,
            Kind::FieldConfigurationItem,
            pick!(FieldConfigurationItem),
            |r: &FieldConfigurationItem, sk| {
                let configuration =
                    constant_ref(&configurations, "configuration", &r.configuration)?;
                custom_field_ref(fields, &r.field)?;
                insert(
                    stmt.execute(params![
                        id,
                        configuration,
                        r.field.key(),
                        r.description,
                        r.hidden,
                        r.required,
                        r.renderer,
                        sk
                    ]),
                    "this field's settings in the configuration",
                )?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// A field configuration scheme with its mappings; a mapping to no configuration is to
    /// the site's default one.
    fn field_configuration_schemes(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let issue_types = load(&mut self.cache.issue_types, || id_set(conn, "issue_types"))?;
        let configurations = id_set(conn, "field_configurations")?;
        let site_default: i64 = conn.query_row(
            "SELECT id FROM field_configurations WHERE is_default = 1",
            [],
            |r| r.get(0),
        )?;
        let mut id = next_id(conn, "field_configuration_schemes", "id", FIRST_ID)?;
        let mut taken =
            conn.prepare_cached("SELECT 1 FROM field_configuration_schemes WHERE name = ?1")?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO field_configuration_schemes (id, name, description, source_key)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut mapping = conn.prepare_cached(
            "INSERT INTO field_configuration_mappings (scheme_id, issue_type_id, configuration_id)
             VALUES (?1, ?2, ?3)",
        )?;
        each(
            records,
            Kind::FieldConfigurationScheme,
            pick!(FieldConfigurationScheme),
            |r: &FieldConfigurationScheme, sk| {
                let mut resolved = Vec::with_capacity(r.mappings.len());
                for m in &r.mappings {
                    let issue_type = match &m.issue_type {
                        None => 0,
                        Some(t) => constant_ref(issue_types, "issue type", t)?,
                    };
                    let configuration = match &m.configuration {
                        None => site_default,
                        Some(c) => constant_ref(&configurations, "field configuration", c)?,
                    };
                    resolved.push((issue_type, configuration));
                }
                let name = free_name(&mut taken, &r.name)?;
                stmt.execute(params![id, name, r.description, sk])?;
                for (issue_type, configuration) in resolved {
                    insert(
                        mapping.execute(params![id, issue_type, configuration]),
                        "a mapping of this issue type in the scheme",
                    )?;
                }
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// An issue type scheme with its issue types in order and its default. The source's
    /// default scheme is the site's own default, which Cloud gives every issue type: it
    /// is taken over (marked with the source key) and given any it lacks.
    fn issue_type_schemes(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let issue_types = load(&mut self.cache.issue_types, || id_set(conn, "issue_types"))?;
        let site_default: i64 = conn.query_row(
            "SELECT id FROM issue_type_schemes WHERE is_default = 1",
            [],
            |r| r.get(0),
        )?;
        let mut id = next_id(conn, "issue_type_schemes", "id", FIRST_ID)?;
        let mut taken = conn.prepare_cached("SELECT 1 FROM issue_type_schemes WHERE name = ?1")?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO issue_type_schemes (id, name, description, default_issue_type_id,
                                             source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut listed = conn.prepare_cached(
            "INSERT INTO issue_type_scheme_types (scheme_id, issue_type_id, position)
             VALUES (?1, ?2, ?3)",
        )?;
        let mut add_to_default = conn.prepare_cached(
            "INSERT OR IGNORE INTO issue_type_scheme_types (scheme_id, issue_type_id, position)
             VALUES (?1, ?2, (SELECT COALESCE(MAX(position) + 1, 0)
                              FROM issue_type_scheme_types WHERE scheme_id = ?1))",
        )?;
        let mut take_default = conn.prepare_cached(
            "UPDATE issue_type_schemes SET source_key = ?2
             WHERE id = ?1 AND source_key IS NULL",
        )?;
        each(
            records,
            Kind::IssueTypeScheme,
            pick!(IssueTypeScheme),
            |r: &IssueTypeScheme, sk| {
                let types = r
                    .issue_types
                    .iter()
                    .map(|t| constant_ref(issue_types, "issueTypeIds", t))
                    .collect::<Result<Vec<i64>, _>>()?;
                let default = r
                    .default_issue_type
                    .as_ref()
                    .map(|t| constant_ref(issue_types, "defaultIssueTypeId", t))
                    .transpose()?;
                if r.global {
                    if take_default.execute(params![site_default, sk])? == 0 {
                        return Err(item(
                            "duplicate-key",
                            "the default issue type scheme was taken over by another scheme",
                        )
                        .into());
                    }
                    for t in types {
                        add_to_default.execute(params![site_default, t])?;
                    }
                    return Ok(site_default.to_string());
                }
                let name = free_name(&mut taken, &r.name)?;
                stmt.execute(params![id, name, r.description, default, sk])?;
                for (position, t) in types.iter().enumerate() {
                    insert(
                        listed.execute(params![id, t, position as i64]),
                        "an issue type listed twice in the scheme",
                    )?;
                }
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// A workflow with its steps (each status once) and transitions, a transition's
    /// screen a screen the site has.
    fn workflows(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let statuses = load(&mut self.cache.statuses, || id_set(conn, "statuses"))?;
        let screens = id_set(conn, "screens")?;
        let mut id = next_id(conn, "workflows", "id", FIRST_ID)?;
        let mut taken = conn.prepare_cached("SELECT 1 FROM workflows WHERE name = ?1")?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO workflows (id, name, description, source_key) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut step = conn.prepare_cached(
            "INSERT INTO workflow_steps (workflow_id, step_id, name, status_id, position)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut transition = conn.prepare_cached(
            "INSERT INTO workflow_transitions (workflow_id, transition_id, name, description,
                                               kind, from_steps, to_step, screen_id, position)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        each(
            records,
            Kind::Workflow,
            pick!(Workflow),
            |r: &Workflow, sk| {
                let mut steps = Vec::with_capacity(r.steps.len());
                for s in &r.steps {
                    steps.push(constant_ref(statuses, "statuses", &s.status)?);
                }
                let mut transition_screens = Vec::with_capacity(r.transitions.len());
                for t in &r.transitions {
                    transition_screens.push(
                        t.screen
                            .as_ref()
                            .map(|s| constant_ref(&screens, "transitionScreen", s))
                            .transpose()?,
                    );
                }
                let name = free_name(&mut taken, &r.name)?;
                stmt.execute(params![id, name, r.description, sk])?;
                for (position, (s, status)) in r.steps.iter().zip(steps).enumerate() {
                    insert(
                        step.execute(params![id, s.id, s.name, status, position as i64]),
                        "a status on two steps of the workflow",
                    )?;
                }
                for (position, (t, screen)) in
                    r.transitions.iter().zip(transition_screens).enumerate()
                {
                    insert(
                        transition.execute(params![
                            id,
                            t.id,
                            t.name,
                            t.description,
                            t.kind.as_str(),
                            t.from.join(","),
                            t.to,
                            screen,
                            position as i64
                        ]),
                        "two transitions of one id in the workflow",
                    )?;
                }
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// A workflow scheme with its mappings; a mapping to no workflow is to the site's
    /// built-in `jira`.
    fn workflow_schemes(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let issue_types = load(&mut self.cache.issue_types, || id_set(conn, "issue_types"))?;
        let workflows = id_set(conn, "workflows")?;
        let built_in: i64 = conn.query_row(
            "SELECT id FROM workflows WHERE name = 'jira' AND source_key IS NULL",
            [],
            |r| r.get(0),
        )?;
        let mut id = next_id(conn, "workflow_schemes", "id", FIRST_ID)?;
        let mut taken = conn.prepare_cached("SELECT 1 FROM workflow_schemes WHERE name = ?1")?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO workflow_schemes (id, name, description, source_key)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut mapping = conn.prepare_cached(
            "INSERT INTO workflow_scheme_mappings (scheme_id, issue_type_id, workflow_id)
             VALUES (?1, ?2, ?3)",
        )?;
        each(
            records,
            Kind::WorkflowScheme,
            pick!(WorkflowScheme),
            |r: &WorkflowScheme, sk| {
                let mut resolved = Vec::with_capacity(r.mappings.len());
                for m in &r.mappings {
                    let issue_type = match &m.issue_type {
                        None => 0,
                        Some(t) => constant_ref(issue_types, "issue type", t)?,
                    };
                    let workflow = match &m.workflow {
                        None => built_in,
                        Some(w) => constant_ref(&workflows, "workflow", w)?,
                    };
                    resolved.push((issue_type, workflow));
                }
                let name = free_name(&mut taken, &r.name)?;
                stmt.execute(params![id, name, r.description, sk])?;
                for (issue_type, workflow) in resolved {
                    insert(
                        mapping.execute(params![id, issue_type, workflow]),
                        "a mapping of this issue type in the scheme",
                    )?;
                }
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn dashboards(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let users = &*load(&mut self.cache.users, || load_users(conn))?;
        let mut id = next_id(conn, "dashboards", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO dashboards (id, name, description, owner_account_id, layout,
                                     favourites, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut owned = conn.prepare_cached(
            "SELECT 1 FROM dashboards WHERE owner_account_id IS ?1 AND name = ?2 COLLATE NOCASE",
        )?;
        let mut everyone = conn.prepare_cached(
            "INSERT INTO dashboard_shares (id, dashboard_id, type)
             VALUES ((SELECT COALESCE(MAX(id) + 1, 10000) FROM dashboard_shares), ?1,
                     'authenticated')",
        )?;
        each(
            records,
            Kind::Dashboard,
            pick!(Dashboard),
            |r: &Dashboard, sk| {
                let owner = user_ref(users, "owner", &r.owner)?;
                // Cloud: an owner's dashboards have distinct names.
                if owned.exists(params![owner, r.name])? {
                    return Err(item(
                        "duplicate-key",
                        "the owner already has a dashboard of this name",
                    )
                    .into());
                }
                let favourites = i64::try_from(r.favourites).unwrap_or(i64::MAX);
                stmt.execute(params![
                    id,
                    r.name,
                    r.description,
                    owner,
                    r.layout,
                    favourites,
                    sk
                ])?;
                // The system dashboard is everyone's: its copy is shared with every
                // logged-in user (a share of the site's, with no source row).
                if r.system {
                    everyone.execute([id])?;
                }
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn gadgets(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let dashboards = id_set(conn, "dashboards")?;
        let mut id = next_id(conn, "gadgets", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO gadgets (id, dashboard_id, column_number, row_number, uri, module_key,
                                  color, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        each(records, Kind::Gadget, pick!(Gadget), |r: &Gadget, sk| {
            let dashboard = constant_ref(&dashboards, "dashboard", &r.dashboard)?;
            insert(
                stmt.execute(params![
                    id,
                    dashboard,
                    r.column,
                    r.row,
                    r.uri,
                    r.module_key,
                    r.color,
                    sk
                ]),
                "a gadget in this place on the dashboard",
            )?;
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    fn gadget_preferences(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let gadgets = id_set(conn, "gadgets")?;
        let mut id = next_id(conn, "gadget_preferences", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO gadget_preferences (id, gadget_id, key, value, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        each(
            records,
            Kind::GadgetPreference,
            pick!(GadgetPreference),
            |r: &GadgetPreference, sk| {
                let gadget = constant_ref(&gadgets, "gadget", &r.gadget)?;
                insert(
                    stmt.execute(params![id, gadget, r.key, r.value.text(), sk]),
                    "this setting of the gadget",
                )?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn users(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let salt = self.salt;
        let users = load(&mut self.cache.users, || load_users(conn))?;
        let mut seq = next_id(conn, "users", "seq", 1)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO users (seq, account_id, email, display_name, active, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        each(records, Kind::User, pick!(User), |r: &User, sk| {
            let account = account_id(salt, seq);
            insert(
                stmt.execute(params![seq, account, r.email, r.display_name, r.active, sk]),
                "this account id",
            )?;
            seq += 1;
            users.insert(account.clone());
            Ok(account)
        })
    }

    fn groups(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let groups = load(&mut self.cache.groups, || load_groups(conn))?;
        let mut id = next_id(conn, "groups", "id", 1)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO groups (id, name, active, source_key) VALUES (?1, ?2, ?3, ?4)",
        )?;
        each(records, Kind::Group, pick!(Group), |r: &Group, sk| {
            insert(
                stmt.execute(params![id, r.name, r.active, sk]),
                "a group of this name",
            )?;
            groups.insert(r.name.to_lowercase(), id);
            id += 1;
            Ok(r.name.clone())
        })
    }

    fn memberships(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let groups = load(&mut self.cache.groups, || load_groups(conn))?;
        let users = load(&mut self.cache.users, || load_users(conn))?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO group_members (group_id, account_id, source_key) VALUES (?1, ?2, ?3)",
        )?;
        each(
            records,
            Kind::Membership,
            pick!(Membership),
            |r: &Membership, sk| {
                let group = *groups
                    .get(&r.group.to_lowercase())
                    .ok_or_else(|| missing("group", "group"))?;
                // The engine has rewritten the member's user name to an account id.
                if !users.contains(&r.user_name) {
                    return Err(missing("user", "user").into());
                }
                insert(
                    stmt.execute(params![group, r.user_name, sk]),
                    "this user in this group",
                )?;
                Ok(String::new())
            },
        )
    }

    fn issue_types(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let set = load(&mut self.cache.issue_types, || id_set(conn, "issue_types"))?;
        let mut id = next_id(conn, "issue_types", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO issue_types (id, name, description, subtask, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        // Cloud gives its default issue type scheme every new issue type.
        let mut in_default = conn.prepare_cached(
            "INSERT INTO issue_type_scheme_types (scheme_id, issue_type_id, position)
             SELECT s.id, ?1, (SELECT COALESCE(MAX(position) + 1, 0)
                               FROM issue_type_scheme_types WHERE scheme_id = s.id)
             FROM issue_type_schemes s WHERE s.is_default = 1",
        )?;
        each(
            records,
            Kind::IssueType,
            pick!(IssueType),
            |r: &Constant, sk| {
                let subtask = r.detail == "jira_subtask";
                insert(
                    stmt.execute(params![id, r.name, r.description, subtask, sk]),
                    "an issue type of this name",
                )?;
                in_default.execute([id])?;
                set.insert(id);
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// Statuses, priorities, resolutions: a name, a description (statuses: a category).
    fn constants(
        &mut self,
        records: &[Record],
        kind: Kind,
        table: &'static str,
        pick: impl Fn(&Record) -> Option<&Constant>,
    ) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let slot = match kind {
            Kind::Status => &mut self.cache.statuses,
            Kind::Priority => &mut self.cache.priorities,
            _ => &mut self.cache.resolutions,
        };
        let set = load(slot, || id_set(conn, table))?;
        let first = if kind == Kind::Priority { 1 } else { FIRST_ID };
        let mut id = next_id(conn, table, "id", first)?;
        let sql = if kind == Kind::Status {
            "INSERT INTO statuses (id, name, description, category, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)"
                .to_owned()
        } else {
            format!(
                "INSERT INTO {table} (id, name, description, source_key)
                 VALUES (?1, ?2, ?3, ?5)"
            )
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        let what = format!("a {kind} of this name");
        each(records, kind, pick, |r: &Constant, sk| {
            insert(
                stmt.execute(params![id, r.name, r.description, r.detail, sk]),
                &what,
            )?;
            set.insert(id);
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    fn link_types(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let set = load(&mut self.cache.link_types, || {
            id_set(conn, "issue_link_types")
        })?;
        let mut id = next_id(conn, "issue_link_types", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO issue_link_types (id, name, inward, outward, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        each(
            records,
            Kind::IssueLinkType,
            pick!(IssueLinkType),
            |r: &IssueLinkType, sk| {
                insert(
                    stmt.execute(params![id, r.name, r.inward, r.outward, sk]),
                    "an issue link type of this name",
                )?;
                set.insert(id);
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn projects(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let users = load(&mut self.cache.users, || load_users(conn))?;
        let projects = load(&mut self.cache.projects, || load_projects(conn))?;
        let mut id = next_id(conn, "projects", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO projects (id, key, name, lead_account_id, description, project_type,
                                   source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        each(records, Kind::Project, pick!(Project), |r: &Project, sk| {
            let lead = user_ref(users, "lead", &r.lead)?;
            let project_type = if r.project_type.is_empty() {
                "software"
            } else {
                &r.project_type
            };
            insert(
                stmt.execute(params![
                    id,
                    r.key,
                    r.name,
                    lead,
                    r.description,
                    project_type,
                    sk
                ]),
                "a project with this key",
            )?;
            projects.insert(id, r.key.clone());
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    fn components(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let users = load(&mut self.cache.users, || load_users(conn))?;
        let projects = load(&mut self.cache.projects, || load_projects(conn))?;
        let components = load(&mut self.cache.components, || {
            id_map(conn, "SELECT id, project_id FROM components")
        })?;
        let mut id = next_id(conn, "components", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO components (id, project_id, name, description, lead_account_id,
                                     source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        each(
            records,
            Kind::Component,
            pick!(Component),
            |r: &Component, sk| {
                let project = project_ref(projects, &r.project)?;
                let lead = user_ref(users, "lead", &r.lead)?;
                insert(
                    stmt.execute(params![id, project, r.name, r.description, lead, sk]),
                    "a component of this name in this project",
                )?;
                components.insert(id, project);
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn versions(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let projects = load(&mut self.cache.projects, || load_projects(conn))?;
        let versions = load(&mut self.cache.versions, || {
            id_map(conn, "SELECT id, project_id FROM versions")
        })?;
        let mut id = next_id(conn, "versions", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO versions (id, project_id, name, description, released, archived,
                                   release_date, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        each(records, Kind::Version, pick!(Version), |r: &Version, sk| {
            let project = project_ref(projects, &r.project)?;
            insert(
                stmt.execute(params![
                    id,
                    project,
                    r.name,
                    r.description,
                    r.released,
                    r.archived,
                    r.release_date,
                    sk
                ]),
                "a version of this name in this project",
            )?;
            versions.insert(id, project);
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    fn fields(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let fields = load(&mut self.cache.fields, || id_set(conn, "fields"))?;
        let mut id = next_id(conn, "fields", "id", FIRST_ID)?;
        let mut context = next_id(conn, "field_contexts", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO fields (id, name, type_key, description, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        // Cloud gives every field it creates a global context for every issue type.
        let mut global = conn.prepare_cached(
            "INSERT INTO field_contexts (id, field_id, name, description, is_global)
             VALUES (?1, ?2, 'Default Configuration Scheme for ' || ?3,
                     'Default configuration scheme generated by Jira', 1)",
        )?;
        each(
            records,
            Kind::CustomField,
            pick!(CustomField),
            |r: &CustomField, sk| {
                insert(
                    stmt.execute(params![id, r.name, r.type_key, r.description, sk]),
                    "a custom field with this id",
                )?;
                global.execute(params![context, id, r.name])?;
                context += 1;
                fields.insert(id);
                id += 1;
                Ok(format!("customfield_{}", id - 1))
            },
        )
    }

    /// A field's global context is the one the site gave the field, taken over (named
    /// and narrowed to issue types as the record says); any other is created, in the
    /// projects it names (a project is in one context of a field at most).
    fn field_contexts(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let fields = load(&mut c.fields, || id_set(conn, "fields"))?;
        let projects = load(&mut c.projects, || load_projects(conn))?;
        let types = load(&mut c.issue_types, || id_set(conn, "issue_types"))?;
        let mut id = next_id(conn, "field_contexts", "id", FIRST_ID)?;
        // (its id, who took it over, whether the field is the migration's own)
        let mut global = conn.prepare_cached(
            "SELECT c.id, c.source_key, f.source_key IS NOT NULL
             FROM field_contexts c JOIN fields f ON f.id = c.field_id
             WHERE c.field_id = ?1 AND c.is_global = 1",
        )?;
        let mut take_global = conn.prepare_cached(
            "UPDATE field_contexts SET name = ?2, description = ?3, source_key = ?4
             WHERE id = ?1",
        )?;
        let mut mark_global =
            conn.prepare_cached("UPDATE field_contexts SET source_key = ?2 WHERE id = ?1")?;
        let mut create = conn.prepare_cached(
            "INSERT INTO field_contexts (id, field_id, name, description, is_global, source_key)
             VALUES (?1, ?2, ?3, ?4, 0, ?5)",
        )?;
        let mut project_taken = conn.prepare_cached(
            "SELECT 1 FROM field_context_projects WHERE field_id = ?1 AND project_id = ?2",
        )?;
        let mut add_project = conn.prepare_cached(
            "INSERT INTO field_context_projects (field_id, project_id, context_id)
             VALUES (?1, ?2, ?3)",
        )?;
        let mut add_type = conn.prepare_cached(
            "INSERT OR IGNORE INTO field_context_issue_types (context_id, issue_type_id)
             VALUES (?1, ?2)",
        )?;
        each(
            records,
            Kind::FieldContext,
            pick!(FieldContext),
            |r: &FieldContext, sk| {
                let field = field_ref(fields, &r.field)?;
                // Everything is checked before anything is written.
                let in_projects = r
                    .projects
                    .iter()
                    .map(|p| project_ref(projects, p))
                    .collect::<Result<Vec<i64>, _>>()?;
                let issue_types = r
                    .issue_types
                    .iter()
                    .map(|t| constant_ref(types, "issueTypeIds", t))
                    .collect::<Result<Vec<i64>, _>>()?;
                for p in &in_projects {
                    if project_taken.exists(params![field, p])? {
                        return Err(item(
                            "duplicate-key",
                            "projectIds: a project is already in another context of this field",
                        )
                        .into());
                    }
                }
                let context = if in_projects.is_empty() {
                    let found = global
                        .query_row([field], |row| {
                            Ok((
                                row.get::<_, i64>(0)?,
                                row.get::<_, Option<String>>(1)?,
                                row.get::<_, bool>(2)?,
                            ))
                        })
                        .optional()?;
                    let Some((context, None, ours)) = found else {
                        return Err(item(
                            "duplicate-key",
                            "the field already has a global context",
                        )
                        .into());
                    };
                    if ours {
                        take_global.execute(params![context, r.name, r.description, sk])?;
                    } else {
                        // The site's own field keeps its context as it is (the source's
                        // options join it): only marked as the record's.
                        mark_global.execute(params![context, sk])?;
                        return Ok(context.to_string());
                    }
                    context
                } else {
                    create.execute(params![id, field, r.name, r.description, sk])?;
                    for p in &in_projects {
                        add_project.execute(params![field, p, id])?;
                    }
                    id += 1;
                    id - 1
                };
                for t in &issue_types {
                    add_type.execute(params![context, t])?;
                }
                Ok(context.to_string())
            },
        )
    }

    fn options(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let fields = load(&mut self.cache.fields, || id_set(conn, "fields"))?;
        let options = load(&mut self.cache.options, || {
            id_map(conn, "SELECT id, field_id FROM field_options")
        })?;
        // Few: read per batch. Context → its field; field → its global context.
        let contexts = id_map(conn, "SELECT id, field_id FROM field_contexts")?;
        let globals = id_map(
            conn,
            "SELECT field_id, id FROM field_contexts WHERE is_global = 1",
        )?;
        let mut id = next_id(conn, "field_options", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO field_options (id, field_id, value, parent_id, disabled, source_key,
                                        context_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        each(
            records,
            Kind::CustomFieldOption,
            pick!(CustomFieldOption),
            |r: &CustomFieldOption, sk| {
                let field = field_ref(fields, &r.field)?;
                // An option naming no context is the field's global context's.
                let context = match r.context.as_deref() {
                    Some(c) => {
                        let c = number("context", "field context", c)?;
                        if contexts.get(&c) != Some(&field) {
                            return Err(missing("context", "context of this field").into());
                        }
                        c
                    }
                    None => *globals
                        .get(&field)
                        .ok_or_else(|| missing("context", "global context of this field"))?,
                };
                let parent = match r.parent.as_deref().filter(|p| !p.is_empty()) {
                    None => None,
                    Some(p) => {
                        let parent = number("parent", "option", p)?;
                        // Cascading options: the parent belongs to the same field.
                        if options.get(&parent) != Some(&field) {
                            return Err(missing("parent", "option of this field").into());
                        }
                        Some(parent)
                    }
                };
                insert(
                    stmt.execute(params![id, field, r.value, parent, r.disabled, sk, context]),
                    "an option with this id",
                )?;
                options.insert(id, field);
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn issues(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let users = load(&mut c.users, || load_users(conn))?;
        let projects = load(&mut c.projects, || load_projects(conn))?;
        let types = load(&mut c.issue_types, || id_set(conn, "issue_types"))?;
        let statuses = load(&mut c.statuses, || id_set(conn, "statuses"))?;
        let priorities = load(&mut c.priorities, || id_set(conn, "priorities"))?;
        let resolutions = load(&mut c.resolutions, || id_set(conn, "resolutions"))?;
        let issues = load(&mut c.issues, || load_issues(conn))?;
        // Few: read per batch. Level → its scheme; project → its security scheme.
        let levels = id_map(conn, "SELECT id, scheme_id FROM security_levels")?;
        let project_levels = id_map(
            conn,
            "SELECT project_id, scheme_id FROM project_schemes WHERE scheme_type = 'issue-security'",
        )?;
        let mut id = next_id(conn, "issues", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO issues (id, key, project_id, number, issue_type_id, status_id,
                 priority_id, resolution_id, reporter_account_id, assignee_account_id, summary,
                 description, created, updated, due, resolved, original_estimate, estimate,
                 time_spent, security_level_id, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17, ?18, ?19, ?20, ?21)",
        )?;
        each(records, Kind::Issue, pick!(Issue), |r: &Issue, sk| {
            let project = number("project", "project", &r.project)?;
            let project_key = projects
                .get(&project)
                .ok_or_else(|| missing("project", "project"))?;
            let number_in_project = i64::try_from(r.number)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| item("invalid-value", "number must be a positive integer"))?;
            let issue_type = constant_ref(types, "issue type", &r.issue_type)?;
            let status = constant_ref(statuses, "status", &r.status)?;
            let priority = opt_constant_ref(priorities, "priority", r.priority.as_deref())?;
            let resolution = opt_constant_ref(resolutions, "resolution", r.resolution.as_deref())?;
            let reporter = user_ref(users, "reporter", r.reporter.as_deref().unwrap_or(""))?;
            let assignee = user_ref(users, "assignee", r.assignee.as_deref().unwrap_or(""))?;
            // Cloud: a level of the scheme the issue's project uses, or none.
            let security = match r.security.as_deref().filter(|l| !l.is_empty()) {
                None => None,
                Some(level) => {
                    let id = number("security level", "security level", level)?;
                    let scheme = levels
                        .get(&id)
                        .ok_or_else(|| missing("security level", "security level"))?;
                    if project_levels.get(&project) != Some(scheme) {
                        return Err(item(
                            "invalid-value",
                            "security level: the level is not one of the issue's project's security scheme",
                        )
                        .into());
                    }
                    Some(id)
                }
            };
            let key = format!("{project_key}-{number_in_project}");
            insert(
                stmt.execute(params![
                    id,
                    key,
                    project,
                    number_in_project,
                    issue_type,
                    status,
                    priority,
                    resolution,
                    reporter,
                    assignee,
                    r.summary,
                    r.description,
                    r.created,
                    r.updated,
                    r.due,
                    r.resolved,
                    r.original_estimate,
                    r.estimate,
                    r.time_spent,
                    security,
                    sk
                ]),
                "an issue with this key",
            )?;
            issues.insert(id, project);
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    fn field_values(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let issues = load(&mut c.issues, || load_issues(conn))?;
        let fields = load(&mut c.fields, || id_set(conn, "fields"))?;
        let options = load(&mut c.options, || {
            id_map(conn, "SELECT id, field_id FROM field_options")
        })?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO field_values (issue_id, field_id, text_value, number_value, date_value,
                                       option_id, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        each(
            records,
            Kind::CustomFieldValue,
            pick!(CustomFieldValue),
            |r: &CustomFieldValue, sk| {
                let issue = issue_ref(issues, "issue", &r.issue)?.0;
                let field = field_ref(fields, &r.field)?;
                let (mut text, mut num, mut date, mut option) = (None, None, None, None);
                match &r.value {
                    FieldValue::Text(t) => {
                        text = Some(t.as_str());
                    }
                    FieldValue::Number(n) if n.is_finite() => num = Some(*n),
                    FieldValue::Number(_) => {
                        return Err(item("invalid-value", "value is not a finite number").into());
                    }
                    FieldValue::Date(d) => date = Some(*d),
                    FieldValue::Option(o) => {
                        let id = number("value", "option", o)?;
                        if options.get(&id) != Some(&field) {
                            return Err(missing("value", "option of this field").into());
                        }
                        option = Some(id);
                    }
                }
                stmt.execute(params![issue, field, text, num, date, option, sk])?;
                Ok(String::new())
            },
        )
    }

    fn labels(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let issues = load(&mut self.cache.issues, || load_issues(conn))?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO labels (issue_id, label, source_key) VALUES (?1, ?2, ?3)",
        )?;
        each(records, Kind::Label, pick!(Label), |r: &Label, sk| {
            let issue = issue_ref(issues, "issue", &r.issue)?.0;
            stmt.execute(params![issue, r.label, sk])?;
            Ok(String::new())
        })
    }

    fn issue_versions(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let issues = load(&mut c.issues, || load_issues(conn))?;
        let versions = load(&mut c.versions, || {
            id_map(conn, "SELECT id, project_id FROM versions")
        })?;
        let components = load(&mut c.components, || {
            id_map(conn, "SELECT id, project_id FROM components")
        })?;
        let mut to_version = conn.prepare_cached(
            "INSERT INTO issue_versions (issue_id, version_id, relation, source_key)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut to_component = conn.prepare_cached(
            "INSERT INTO issue_components (issue_id, component_id, source_key)
             VALUES (?1, ?2, ?3)",
        )?;
        each(
            records,
            Kind::IssueVersion,
            pick!(IssueVersion),
            |r: &IssueVersion, sk| {
                let (issue, project) = issue_ref(issues, "issue", &r.issue)?;
                let (targets, what) = match r.association {
                    Association::Component => (&*components, "component in the issue's project"),
                    _ => (&*versions, "version in the issue's project"),
                };
                let target = number("target", what, &r.target)?;
                // Cloud only accepts versions and components of the issue's own project.
                if targets.get(&target) != Some(&project) {
                    return Err(missing("target", what).into());
                }
                match r.association {
                    Association::Component => to_component.execute(params![issue, target, sk])?,
                    Association::AffectsVersion => {
                        to_version.execute(params![issue, target, "affects", sk])?
                    }
                    Association::FixVersion => {
                        to_version.execute(params![issue, target, "fix", sk])?
                    }
                };
                Ok(String::new())
            },
        )
    }

    fn comments(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let issues = load(&mut c.issues, || load_issues(conn))?;
        let users = load(&mut c.users, || load_users(conn))?;
        let mut id = next_id(conn, "comments", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO comments (id, issue_id, author_account_id, body, created, updated,
                                   source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        each(records, Kind::Comment, pick!(Comment), |r: &Comment, sk| {
            let issue = issue_ref(issues, "issue", &r.issue)?.0;
            let author = user_ref(users, "author", r.author.as_deref().unwrap_or(""))?;
            stmt.execute(params![id, issue, author, r.body, r.created, r.updated, sk])?;
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    fn worklogs(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let issues = load(&mut c.issues, || load_issues(conn))?;
        let users = load(&mut c.users, || load_users(conn))?;
        let mut id = next_id(conn, "worklogs", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO worklogs (id, issue_id, author_account_id, comment, created, started,
                                   time_spent_seconds, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        each(records, Kind::Worklog, pick!(Worklog), |r: &Worklog, sk| {
            let issue = issue_ref(issues, "issue", &r.issue)?.0;
            let author = user_ref(users, "author", r.author.as_deref().unwrap_or(""))?;
            stmt.execute(params![
                id, issue, author, r.body, r.created, r.started, r.seconds, sk
            ])?;
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    fn issue_links(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let issues = load(&mut c.issues, || load_issues(conn))?;
        let link_types = load(&mut c.link_types, || id_set(conn, "issue_link_types"))?;
        let mut id = next_id(conn, "issue_links", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO issue_links (id, link_type_id, source_issue_id, destination_issue_id,
                                      source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        each(
            records,
            Kind::IssueLink,
            pick!(IssueLink),
            |r: &IssueLink, sk| {
                let link_type = number("link type", "issue link type", &r.link_type)?;
                if !link_types.contains(&link_type) {
                    return Err(missing("link type", "issue link type").into());
                }
                let source = issue_ref(issues, "source", &r.source)?.0;
                let destination = issue_ref(issues, "destination", &r.destination)?.0;
                stmt.execute(params![id, link_type, source, destination, sk])?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// A link of the same global id on the same issue is one, as Cloud keeps it: the
    /// second updates it.
    fn remote_links(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let issues = load(&mut self.cache.issues, || load_issues(conn))?;
        let mut id = next_id(conn, "remote_links", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO remote_links (id, issue_id, global_id, title, url, summary, icon_url,
                 icon_title, relationship, application_type, application_name, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (issue_id, global_id) WHERE global_id IS NOT NULL
             DO UPDATE SET title = excluded.title, url = excluded.url,
                 summary = excluded.summary, icon_url = excluded.icon_url,
                 icon_title = excluded.icon_title, relationship = excluded.relationship,
                 application_type = excluded.application_type,
                 application_name = excluded.application_name,
                 source_key = excluded.source_key
             RETURNING id",
        )?;
        each(
            records,
            Kind::RemoteLink,
            pick!(RemoteLink),
            |r: &RemoteLink, sk| {
                let issue = issue_ref(issues, "issueid", &r.issue)?.0;
                let written: i64 = stmt.query_row(
                    params![
                        id,
                        issue,
                        r.global_id,
                        r.title,
                        r.url,
                        r.summary,
                        r.icon_url,
                        r.icon_title,
                        r.relationship,
                        r.application_type,
                        r.application_name,
                        sk
                    ],
                    |row| row.get(0),
                )?;
                if written == id {
                    id += 1;
                }
                Ok(written.to_string())
            },
        )
    }

    fn attachments(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let issues = load(&mut c.issues, || load_issues(conn))?;
        let users = load(&mut c.users, || load_users(conn))?;
        let mut id = next_id(conn, "attachments", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO attachments (id, issue_id, file_name, mime_type, size,
                                      author_account_id, created, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        each(
            records,
            Kind::Attachment,
            pick!(Attachment),
            |r: &Attachment, sk| {
                let issue = issue_ref(issues, "issue", &r.issue)?.0;
                let author = user_ref(users, "author", r.author.as_deref().unwrap_or(""))?;
                let size = i64::try_from(r.size)
                    .map_err(|_| item("too-large", "size exceeds what the site can store"))?;
                stmt.execute(params![
                    id,
                    issue,
                    r.file_name,
                    r.mime_type,
                    size,
                    author,
                    r.created,
                    sk
                ])?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn entity_properties(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let issues = load(&mut c.issues, || load_issues(conn))?;
        let projects = load(&mut c.projects, || load_projects(conn))?;
        let users = load(&mut c.users, || load_users(conn))?;
        let mut id = next_id(conn, "entity_properties", "id", 1)?;
        // Cloud's PUT replaces the value of an existing key: the row (and its id) stays.
        let mut stmt = conn.prepare_cached(
            "INSERT INTO entity_properties (id, entity_kind, entity_id, key, value, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (entity_kind, entity_id, key)
             DO UPDATE SET value = excluded.value, source_key = excluded.source_key
             RETURNING id",
        )?;
        each(
            records,
            Kind::EntityProperty,
            pick!(EntityProperty),
            |r: &EntityProperty, sk| {
                let entity = match r.entity_name.as_str() {
                    "IssueProperty" => {
                        issue_ref(issues, "entity", &r.entity_id)?;
                        "issue"
                    }
                    "ProjectProperty" => {
                        project_ref(projects, &r.entity_id)?;
                        "project"
                    }
                    "UserProperty" => {
                        if !users.contains(&r.entity_id) {
                            return Err(missing("entity", "user").into());
                        }
                        "user"
                    }
                    _ => {
                        return Err(item(
                            "invalid-value",
                            "entity name must be IssueProperty, ProjectProperty or UserProperty",
                        )
                        .into());
                    }
                };
                let written: i64 = stmt.query_row(
                    params![id, entity, r.entity_id, r.key, r.value, sk],
                    |row| row.get(0),
                )?;
                if written == id {
                    id += 1;
                }
                Ok(written.to_string())
            },
        )
    }
}

/// The first kind of thing a query names by an id the site does not have, if any.
fn unknown_in_query(
    conn: &Connection,
    users: &HashSet<String>,
    jql: &str,
) -> rusqlite::Result<Option<&'static str>> {
    use airlock_model::Namespace as N;
    let mut named: Vec<(N, String)> = Vec::new();
    if airlock_jql::rewrite(jql, &mut |ns, id| {
        named.push((ns, id.to_owned()));
        None
    })
    .is_err()
    {
        return Ok(Some("query that cannot be read"));
    }
    for (ns, id) in named {
        let table = match ns {
            N::PROJECT => "projects",
            N::STATUS => "statuses",
            N::ISSUE_TYPE => "issue_types",
            N::PRIORITY => "priorities",
            N::RESOLUTION => "resolutions",
            N::VERSION => "versions",
            N::COMPONENT => "components",
            N::CUSTOM_FIELD => "fields",
            N::FILTER => "filters",
            N::ISSUE => "issues",
            N::SPRINT => "sprints",
            N::USER if users.contains(&id) => continue,
            _ => return Ok(Some(ns.as_str().rsplit(':').next().unwrap_or("value"))),
        };
        let exists = id.parse::<i64>().is_ok_and(|n| {
            conn.query_row(&format!("SELECT 1 FROM {table} WHERE id = ?1"), [n], |_| {
                Ok(())
            })
            .is_ok()
        });
        if !exists {
            return Ok(Some(ns.as_str().rsplit(':').next().unwrap_or("value")));
        }
    }
    Ok(None)
}

/// Jira Software: boards, their sprints, columns, column statuses, swimlanes and quick
/// filters; each issue's sprints and rank.
impl Writer<'_> {
    fn boards(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let users = &*load(&mut self.cache.users, || load_users(conn))?;
        let filters = id_set(conn, "filters")?;
        // Cloud numbers boards and sprints from 1.
        let mut id = next_id(conn, "boards", "id", 1)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO boards (id, name, type, filter_id, owner_account_id, kanban_backlog,
                                 swimlane_strategy, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        each(records, Kind::Board, pick!(Board), |r: &Board, sk| {
            let filter = constant_ref(&filters, "filter", &r.filter)?;
            let owner = user_ref(users, "owner", r.owner.as_deref().unwrap_or(""))?;
            let board_type = if r.sprints_enabled { "scrum" } else { "kanban" };
            stmt.execute(params![
                id,
                r.name,
                board_type,
                filter,
                owner,
                r.kanban_backlog,
                r.swimlane_strategy,
                sk
            ])?;
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    fn sprints(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let boards = id_set(conn, "boards")?;
        let mut id = next_id(conn, "sprints", "id", 1)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO sprints (id, board_id, name, goal, state, start_date, end_date,
                                  complete_date, sequence, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        each(records, Kind::Sprint, pick!(Sprint), |r: &Sprint, sk| {
            let board = constant_ref(&boards, "board", &r.board)?;
            // Cloud: a sprint that started has its dates.
            if r.state != airlock_model::jira::SprintState::Future
                && (r.start.is_none() || r.end.is_none())
            {
                return Err(item(
                    "invalid-value",
                    "start and end: a started sprint needs both dates",
                )
                .into());
            }
            stmt.execute(params![
                id,
                board,
                r.name,
                r.goal,
                r.state.as_str(),
                r.start,
                r.end,
                r.completed,
                r.sequence,
                sk
            ])?;
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    fn board_columns(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let boards = id_set(conn, "boards")?;
        let mut id = next_id(conn, "board_columns", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO board_columns (id, board_id, name, position, min, max, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        each(
            records,
            Kind::BoardColumn,
            pick!(BoardColumn),
            |r: &BoardColumn, sk| {
                let board = constant_ref(&boards, "board", &r.board)?;
                if let (Some(min), Some(max)) = (r.min, r.max)
                    && min > max
                {
                    return Err(item(
                        "invalid-value",
                        "min: a column's minimum exceeds its maximum",
                    )
                    .into());
                }
                stmt.execute(params![id, board, r.name, r.position, r.min, r.max, sk])?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn column_statuses(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let statuses = &*load(&mut self.cache.statuses, || id_set(conn, "statuses"))?;
        let columns = id_set(conn, "board_columns")?;
        let mut id = next_id(conn, "column_statuses", "id", FIRST_ID)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO column_statuses (id, column_id, status_id, position, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        each(
            records,
            Kind::ColumnStatus,
            pick!(ColumnStatus),
            |r: &ColumnStatus, sk| {
                let column = constant_ref(&columns, "column", &r.column)?;
                let status = constant_ref(statuses, "status", &r.status)?;
                insert(
                    stmt.execute(params![id, column, status, r.position, sk]),
                    "this status in this column",
                )?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn board_queries(
        &mut self,
        records: &'_ [Record],
        kind: Kind,
        table: &str,
    ) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let users = &*load(&mut self.cache.users, || load_users(conn))?;
        let boards = id_set(conn, "boards")?;
        let mut id = next_id(conn, table, "id", 1)?;
        let mut stmt = conn.prepare_cached(&format!(
            "INSERT INTO {table} (id, board_id, name, description, jql, position, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))?;
        fn pick(kind: Kind) -> impl Fn(&Record) -> Option<&BoardQuery> {
            move |r| match r {
                Record::Swimlane(q) | Record::QuickFilter(q) if r.kind() == kind => Some(q),
                _ => None,
            }
        }
        each(records, kind, pick(kind), |r: &BoardQuery, sk| {
            let board = constant_ref(&boards, "board", &r.board)?;
            // Cloud validates a query: every id it names must exist.
            if let Some(field) = unknown_in_query(conn, users, &r.jql)? {
                return Err(item(
                    "invalid-value",
                    format!("jql: the query names a {field} the site does not have"),
                )
                .into());
            }
            stmt.execute(params![
                id,
                board,
                r.name,
                r.description,
                r.jql,
                r.position,
                sk
            ])?;
            id += 1;
            Ok((id - 1).to_string())
        })
    }

    /// A field a board's cards show: a system field or a custom field the site has, once
    /// per mode.
    fn card_fields(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let fields = load(&mut self.cache.fields, || id_set(conn, "fields"))?;
        let boards = id_set(conn, "boards")?;
        let mut id = next_id(conn, "board_card_fields", "id", 1)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO board_card_fields (id, board_id, field_id, mode, position, source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        each(
            records,
            Kind::CardField,
            pick!(CardField),
            |r: &CardField, sk| {
                let board = constant_ref(&boards, "board", &r.board)?;
                custom_field_ref(fields, &r.field)?;
                insert(
                    stmt.execute(params![
                        id,
                        board,
                        r.field.key(),
                        r.mode.as_str(),
                        r.position,
                        sk
                    ]),
                    "this field on the board's cards in this mode",
                )?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    /// A colour a board's cards take: by an issue type, priority or user the site has, or
    /// by a query naming only ids the site has.
    fn card_colors(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let users = &*load(&mut self.cache.users, || load_users(conn))?;
        let boards = id_set(conn, "boards")?;
        let issue_types = id_set(conn, "issue_types")?;
        let priorities = id_set(conn, "priorities")?;
        let mut id = next_id(conn, "board_card_colors", "id", 1)?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO board_card_colors (id, board_id, strategy, value, color, position,
                                            source_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        each(
            records,
            Kind::CardColor,
            pick!(CardColor),
            |r: &CardColor, sk| {
                let board = constant_ref(&boards, "board", &r.board)?;
                match &r.value {
                    CardColorValue::IssueType(v) => {
                        constant_ref(&issue_types, "issue type", v)?;
                    }
                    CardColorValue::Priority(v) => {
                        constant_ref(&priorities, "priority", v)?;
                    }
                    CardColorValue::Assignee(v) => {
                        user_ref(users, "value", v)?;
                    }
                    CardColorValue::Query(jql) => {
                        if let Some(field) = unknown_in_query(conn, users, jql)? {
                            return Err(item(
                                "invalid-value",
                                format!("jql: the query names a {field} the site does not have"),
                            )
                            .into());
                        }
                    }
                }
                let (strategy, value) = r.value.parts();
                stmt.execute(params![id, board, strategy, value, r.color, r.position, sk])?;
                id += 1;
                Ok((id - 1).to_string())
            },
        )
    }

    fn issue_sprints(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let issues = &*load(&mut self.cache.issues, || load_issues(conn))?;
        let sprints = id_set(conn, "sprints")?;
        let mut id = next_id(conn, "issue_sprints", "id", 1)?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO issue_sprints (id, issue_id, sprint_id, source_key) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (issue_id, sprint_id) DO NOTHING",
        )?;
        let mut update = conn.prepare_cached(
            "UPDATE issue_sprints SET source_key = ?3 WHERE issue_id = ?1 AND sprint_id = ?2",
        )?;
        each(
            records,
            Kind::IssueSprint,
            pick!(IssueSprint),
            |r: &IssueSprint, sk| {
                let issue = issue_ref(issues, "issue", &r.issue)?.0;
                let sprint = constant_ref(&sprints, "sprint", &r.sprint)?;
                if inserted(insert.execute(params![id, issue, sprint, sk])?) {
                    id += 1;
                } else {
                    update.execute(params![issue, sprint, sk])?;
                }
                Ok(String::new())
            },
        )
    }

    fn issue_ranks(&mut self, records: &[Record]) -> rusqlite::Result<Answers> {
        let conn = self.conn;
        let c = &mut *self.cache;
        let issues = &*load(&mut c.issues, || load_issues(conn))?;
        let fields = &*load(&mut c.fields, || id_set(conn, "fields"))?;
        let mut id = next_id(conn, "issue_ranks", "id", 1)?;
        // An issue has one rank: a second one replaces it, as Cloud's rank field does.
        let mut insert = conn.prepare_cached(
            "INSERT INTO issue_ranks (id, issue_id, rank, source_key) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (issue_id) DO NOTHING",
        )?;
        let mut update = conn.prepare_cached(
            "UPDATE issue_ranks SET rank = ?2, source_key = ?3 WHERE issue_id = ?1",
        )?;
        each(
            records,
            Kind::IssueRank,
            pick!(IssueRank),
            |r: &IssueRank, sk| {
                let issue = issue_ref(issues, "issue", &r.issue)?.0;
                let field = r.field.strip_prefix("customfield_").unwrap_or(&r.field);
                constant_ref(fields, "field", field)?;
                if inserted(insert.execute(params![id, issue, r.rank, sk])?) {
                    id += 1;
                } else {
                    update.execute(params![issue, r.rank, sk])?;
                }
                Ok(String::new())
            },
        )
    }
}

/// An optional account id (empty: none).
/// The parameter of a permission grant or a notification (`parameter`) in the site's
/// terms: a group by the site's spelling of its name, a user, role or custom field the
/// site has.
struct Parameters<'c> {
    users: &'c HashSet<String>,
    groups: &'c HashMap<String, i64>,
    roles: HashSet<i64>,
    fields: HashSet<i64>,
    group_name: rusqlite::CachedStatement<'c>,
}

impl<'c> Parameters<'c> {
    fn load(conn: &'c Connection, cache: &'c mut Cache) -> rusqlite::Result<Parameters<'c>> {
        let Cache { users, groups, .. } = cache;
        Ok(Parameters {
            users: load(users, || load_users(conn))?,
            groups: load(groups, || load_groups(conn))?,
            roles: id_set(conn, "project_roles")?,
            fields: id_set(conn, "fields")?,
            group_name: conn.prepare_cached("SELECT name FROM groups WHERE name = ?1")?,
        })
    }

    fn group(&mut self, name: &str) -> Result<String, Fail> {
        if !self.groups.contains_key(&name.to_lowercase()) {
            return Err(missing("parameter", "group").into());
        }
        Ok(self.group_name.query_row([name], |row| row.get(0))?)
    }

    fn user(&self, user: &str) -> Result<Option<String>, Fail> {
        Ok(user_ref(self.users, "parameter", user)?.map(str::to_owned))
    }

    fn role(&self, role: &str) -> Result<String, Fail> {
        Ok(constant_ref(&self.roles, "parameter", role)?.to_string())
    }

    fn field(&self, field: &str) -> Result<String, Fail> {
        Ok(format!("customfield_{}", field_ref(&self.fields, field)?))
    }

    /// A grant's or level member's parameter in the site's terms.
    fn holder(&mut self, holder: &PermissionHolder) -> Result<Option<String>, Fail> {
        Ok(match holder {
            PermissionHolder::Group(name) => Some(self.group(name)?),
            PermissionHolder::User(u) => self.user(u)?,
            PermissionHolder::ProjectRole(role) => Some(self.role(role)?),
            PermissionHolder::UserCustomField(f) | PermissionHolder::GroupCustomField(f) => {
                Some(self.field(f)?)
            }
            PermissionHolder::ApplicationRole(app) => app.clone(),
            PermissionHolder::Anyone
            | PermissionHolder::Reporter
            | PermissionHolder::ProjectLead
            | PermissionHolder::Assignee => None,
        })
    }
}

/// A custom field must be one the site has (a system field is every site's).
fn custom_field_ref(fields: &HashSet<i64>, field: &FieldId) -> Result<(), ItemError> {
    if let FieldId::Custom(id) = field {
        let known = id
            .strip_prefix("customfield_")
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|n| fields.contains(&n));
        if !known {
            return Err(missing("field", "custom field"));
        }
    }
    Ok(())
}

/// `name`, or the first `name (migrated)`, `name (migrated 2)`… `taken` (a query by name)
/// does not find: a scheme named like one the site has is written apart, as Cloud does.
fn free_name(taken: &mut rusqlite::CachedStatement<'_>, name: &str) -> rusqlite::Result<String> {
    let mut free = name.to_owned();
    let mut n = 1;
    while taken.exists([&free])? {
        free = crate::migrated_name(name, n);
        n += 1;
    }
    Ok(free)
}

/// A filter's or dashboard share's parent, share and edit right, if it is of `kind`.
fn share_parts(kind: Kind, record: &Record) -> Option<(&str, &Share, bool)> {
    match record {
        Record::FilterShare(s) if kind == Kind::FilterShare => {
            Some((s.filter.as_str(), &s.share, s.edit))
        }
        Record::DashboardShare(s) if kind == Kind::DashboardShare => {
            Some((s.dashboard.as_str(), &s.share, s.edit))
        }
        _ => None,
    }
}

fn user_ref<'v>(
    users: &HashSet<String>,
    field: &str,
    value: &'v str,
) -> Result<Option<&'v str>, ItemError> {
    if value.is_empty() {
        return Ok(None);
    }
    if users.contains(value) {
        Ok(Some(value))
    } else {
        Err(missing(field, "user"))
    }
}

fn project_ref(projects: &HashMap<i64, String>, value: &str) -> Result<i64, ItemError> {
    let id = number("project", "project", value)?;
    if projects.contains_key(&id) {
        Ok(id)
    } else {
        Err(missing("project", "project"))
    }
}

/// An issue and its project.
fn issue_ref(issues: &IssueProjects, field: &str, value: &str) -> Result<(i64, i64), ItemError> {
    let id = number(field, "issue", value)?;
    match issues.get(&id) {
        Some(project) => Ok((id, project)),
        None => Err(missing(field, "issue")),
    }
}

/// `customfield_10000`, or the bare number.
fn field_ref(fields: &HashSet<i64>, value: &str) -> Result<i64, ItemError> {
    let digits = value.strip_prefix("customfield_").unwrap_or(value);
    let id = number("field", "custom field", digits)?;
    if fields.contains(&id) {
        Ok(id)
    } else {
        Err(missing("field", "custom field"))
    }
}

fn constant_ref(set: &HashSet<i64>, field: &str, value: &str) -> Result<i64, ItemError> {
    let id = number(field, field, value)?;
    if set.contains(&id) {
        Ok(id)
    } else {
        Err(missing(field, field))
    }
}

fn opt_constant_ref(
    set: &HashSet<i64>,
    field: &str,
    value: Option<&str>,
) -> Result<Option<i64>, ItemError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => constant_ref(set, field, v).map(Some),
    }
}

fn load_users(conn: &Connection) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = conn.prepare("SELECT account_id FROM users")?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

fn load_groups(conn: &Connection) -> rusqlite::Result<HashMap<String, i64>> {
    let mut stmt = conn.prepare("SELECT name, id FROM groups")?;
    stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?.to_lowercase(), r.get(1)?))
    })?
    .collect()
}

fn load_projects(conn: &Connection) -> rusqlite::Result<HashMap<i64, String>> {
    let mut stmt = conn.prepare("SELECT id, key FROM projects")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

fn load_issues(conn: &Connection) -> rusqlite::Result<IssueProjects> {
    let mut map = IssueProjects::default();
    let mut stmt = conn.prepare("SELECT id, project_id FROM issues ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        map.insert(row.get(0)?, row.get(1)?);
    }
    Ok(map)
}
