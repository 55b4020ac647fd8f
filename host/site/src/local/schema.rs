//! The local site's tables: Jira Cloud's shape, plus `source_key` on every table Airlock
//! writes (indexed, not unique: a duplicate write must stay visible to tests).

use airlock_model::jira::Kind;
use rusqlite::Connection;

/// Bumped whenever the tables change; `PRAGMA user_version` holds it. A site of an older
/// version is brought up to this one when opened ([`upgrade`]).
pub(super) const VERSION: i64 = 11;

/// `PRAGMA application_id`: tells our files from other SQLite files ("ARLK").
pub(super) const APPLICATION_ID: i64 = 0x4152_4c4b;

/// The first id Jira Cloud hands out for most entities.
pub(super) const FIRST_ID: i64 = 10_000;

const TABLES: &str = r#"
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE users (
    seq INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL UNIQUE,
    email TEXT,
    display_name TEXT NOT NULL,
    active INTEGER NOT NULL,
    source_key TEXT
);
CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    active INTEGER NOT NULL DEFAULT 1,
    source_key TEXT
);
CREATE TABLE group_members (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX group_members_member ON group_members (group_id, account_id);

CREATE TABLE issue_types (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    subtask INTEGER NOT NULL DEFAULT 0,
    source_key TEXT
);
CREATE TABLE statuses (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
CREATE TABLE priorities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
CREATE TABLE resolutions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
CREATE TABLE issue_link_types (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    inward TEXT NOT NULL,
    outward TEXT NOT NULL,
    source_key TEXT
);

CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    lead_account_id TEXT,
    description TEXT NOT NULL DEFAULT '',
    project_type TEXT NOT NULL DEFAULT 'software',
    source_key TEXT
);
CREATE TABLE components (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    description TEXT NOT NULL,
    lead_account_id TEXT,
    source_key TEXT
);
CREATE UNIQUE INDEX components_name ON components (project_id, name);
CREATE TABLE versions (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    description TEXT NOT NULL,
    released INTEGER NOT NULL,
    archived INTEGER NOT NULL,
    release_date INTEGER,
    source_key TEXT
);
CREATE UNIQUE INDEX versions_name ON versions (project_id, name);

-- Custom fields; the cloud id is 'customfield_' || id.
CREATE TABLE fields (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    type_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
CREATE TABLE field_options (
    id INTEGER PRIMARY KEY,
    field_id INTEGER NOT NULL,
    value TEXT NOT NULL,
    parent_id INTEGER,
    disabled INTEGER NOT NULL,
    source_key TEXT
);

CREATE TABLE issues (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    project_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    issue_type_id INTEGER NOT NULL,
    status_id INTEGER NOT NULL,
    priority_id INTEGER,
    resolution_id INTEGER,
    reporter_account_id TEXT,
    assignee_account_id TEXT,
    summary TEXT NOT NULL,
    description TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    due INTEGER,
    resolved INTEGER,
    original_estimate INTEGER,
    estimate INTEGER,
    time_spent INTEGER,
    source_key TEXT
);
-- The issue key's uniqueness, kept on integers: cheaper than an index on the text key.
CREATE UNIQUE INDEX issues_number ON issues (project_id, number);

CREATE TABLE field_values (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    field_id INTEGER NOT NULL,
    text_value TEXT,
    number_value REAL,
    date_value INTEGER,
    option_id INTEGER,
    source_key TEXT
);
CREATE TABLE labels (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    source_key TEXT
);
CREATE TABLE issue_versions (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    version_id INTEGER NOT NULL,
    relation TEXT NOT NULL CHECK (relation IN ('affects', 'fix')),
    source_key TEXT
);
CREATE TABLE issue_components (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    component_id INTEGER NOT NULL,
    source_key TEXT
);
CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    author_account_id TEXT,
    body TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    source_key TEXT
);
CREATE TABLE worklogs (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    author_account_id TEXT,
    comment TEXT NOT NULL,
    created INTEGER NOT NULL,
    started INTEGER NOT NULL,
    time_spent_seconds INTEGER NOT NULL,
    source_key TEXT
);
CREATE TABLE issue_links (
    id INTEGER PRIMARY KEY,
    link_type_id INTEGER NOT NULL,
    source_issue_id INTEGER NOT NULL,
    destination_issue_id INTEGER NOT NULL,
    source_key TEXT
);
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    author_account_id TEXT,
    created INTEGER NOT NULL,
    -- Relative to the attachments folder; NULL until the file is stored.
    file_path TEXT,
    stored_bytes INTEGER,
    source_key TEXT
);
-- Cloud keeps one value per entity and key: a second PUT replaces it.
CREATE TABLE entity_properties (
    id INTEGER PRIMARY KEY,
    entity_kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX entity_properties_key ON entity_properties (entity_kind, entity_id, key);

-- App storage, keyed by the app and the output's natural key so a rerun replaces.
CREATE TABLE app_properties (
    app_key TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (app_key, key)
) WITHOUT ROWID;
CREATE TABLE app_entity_properties (
    app_key TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (app_key, entity_kind, entity_id, key)
) WITHOUT ROWID;
CREATE TABLE app_documents (
    app_key TEXT NOT NULL,
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (app_key, collection, doc_id)
) WITHOUT ROWID;
"#;

/// Version 2: project roles, watchers and votes, filters and their shares, issue history,
/// issue security schemes and levels (and each issue's level).
const TABLES_2: &str = r#"
CREATE TABLE project_roles (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
CREATE TABLE watchers (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX watchers_user ON watchers (issue_id, account_id);
CREATE TABLE votes (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX votes_user ON votes (issue_id, account_id);
-- Saved filters; the query names the site's own ids.
CREATE TABLE filters (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_account_id TEXT,
    jql TEXT NOT NULL,
    favourites INTEGER NOT NULL DEFAULT 0,
    source_key TEXT
);
CREATE TABLE filter_shares (
    id INTEGER PRIMARY KEY,
    filter_id INTEGER NOT NULL,
    type TEXT NOT NULL
        CHECK (type IN ('global', 'authenticated', 'group', 'project', 'projectRole', 'user')),
    group_name TEXT,
    project_id INTEGER,
    role_id INTEGER,
    account_id TEXT,
    edit INTEGER NOT NULL DEFAULT 0,
    source_key TEXT
);
-- Issue history: one row per change, one per field changed in it.
CREATE TABLE change_groups (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    author_account_id TEXT,
    created INTEGER NOT NULL,
    source_key TEXT
);
CREATE INDEX change_groups_issue ON change_groups (issue_id);
CREATE TABLE change_items (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    field_type TEXT NOT NULL CHECK (field_type IN ('jira', 'custom')),
    field TEXT NOT NULL,
    old_value TEXT,
    old_string TEXT,
    new_value TEXT,
    new_string TEXT,
    source_key TEXT
);
CREATE INDEX change_items_group ON change_items (group_id);
CREATE TABLE security_schemes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
CREATE TABLE security_levels (
    id INTEGER PRIMARY KEY,
    scheme_id INTEGER NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
CREATE UNIQUE INDEX security_levels_name ON security_levels (scheme_id, name);
ALTER TABLE issues ADD COLUMN security_level_id INTEGER;
-- A project's scheme of each type: a second association replaces the first, as in Cloud.
CREATE TABLE project_schemes (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    scheme_type TEXT NOT NULL CHECK (scheme_type IN ('issue-security')),
    scheme_id INTEGER NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX project_schemes_type ON project_schemes (project_id, scheme_type);
INSERT INTO project_roles (id, name, description) VALUES
    (10002, 'Administrators', 'Project administrators'),
    (10003, 'atlassian-addons-project-access', 'Apps'),
    (10100, 'Member', 'Project members'),
    (10101, 'Viewer', 'Project viewers');
"#;

/// Version 3: Jira Software's boards (columns and their statuses, swimlanes, quick
/// filters), sprints, and each issue's sprints and rank.
const TABLES_3: &str = r#"
CREATE TABLE boards (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('scrum', 'kanban')),
    filter_id INTEGER NOT NULL,
    owner_account_id TEXT,
    kanban_backlog INTEGER NOT NULL DEFAULT 0,
    swimlane_strategy TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
CREATE TABLE sprints (
    id INTEGER PRIMARY KEY,
    board_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    goal TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('future', 'active', 'closed')),
    start_date INTEGER,
    end_date INTEGER,
    complete_date INTEGER,
    sequence INTEGER,
    source_key TEXT
);
CREATE TABLE board_columns (
    id INTEGER PRIMARY KEY,
    board_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    min INTEGER,
    max INTEGER,
    source_key TEXT
);
CREATE TABLE column_statuses (
    id INTEGER PRIMARY KEY,
    column_id INTEGER NOT NULL,
    status_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX column_statuses_status ON column_statuses (column_id, status_id);
-- A board's swimlanes and quick filters: queries naming the site's own ids.
CREATE TABLE board_swimlanes (
    id INTEGER PRIMARY KEY,
    board_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    jql TEXT NOT NULL,
    position INTEGER NOT NULL,
    source_key TEXT
);
CREATE TABLE board_quick_filters (
    id INTEGER PRIMARY KEY,
    board_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    jql TEXT NOT NULL,
    position INTEGER NOT NULL,
    source_key TEXT
);
CREATE TABLE issue_sprints (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    sprint_id INTEGER NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX issue_sprints_sprint ON issue_sprints (issue_id, sprint_id);
-- LexoRank text: the boards' order of issues is the order of their ranks.
CREATE TABLE issue_ranks (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL UNIQUE,
    rank TEXT NOT NULL,
    source_key TEXT
);
"#;

/// Version 4: who plays each project role, in each project (or by default, for new
/// projects). One row per (project, role, actor): Jira keeps an actor once, so a second
/// add of the same one only takes the new source key. A group is kept by the site's own
/// spelling of its name.
const TABLES_4: &str = r#"
CREATE TABLE project_role_actors (
    id INTEGER PRIMARY KEY,
    -- NULL for a role's default actors.
    project_id INTEGER,
    role_id INTEGER NOT NULL,
    actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'group')),
    account_id TEXT,
    group_name TEXT,
    source_key TEXT,
    CHECK ((actor_type = 'user') = (account_id IS NOT NULL)
       AND (actor_type = 'group') = (group_name IS NOT NULL))
);
CREATE UNIQUE INDEX project_role_actors_actor ON project_role_actors
    (IFNULL(project_id, 0), role_id, actor_type, IFNULL(account_id, group_name));
"#;

/// Version 5: project categories, former project keys, permission schemes and their
/// grants, notification schemes and their entries; a project's permission and
/// notification schemes and category beside its issue security scheme (SQLite cannot widen
/// a CHECK: the table is made again, its rows kept). Cloud's own default permission and
/// notification schemes, which every site has.
const TABLES_5: &str = r#"
CREATE TABLE project_categories (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
-- Every key a project has had: old issue keys still find their issues.
CREATE TABLE project_keys (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    key TEXT NOT NULL UNIQUE,
    source_key TEXT
);
CREATE TABLE permission_schemes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
-- A grant, in Cloud's terms: holder types as Cloud names them, parameters in site ids.
CREATE TABLE scheme_permissions (
    id INTEGER PRIMARY KEY,
    scheme_id INTEGER NOT NULL,
    permission TEXT NOT NULL,
    holder_type TEXT NOT NULL CHECK (holder_type IN ('anyone', 'group', 'user', 'projectRole',
        'applicationRole', 'reporter', 'projectLead', 'assignee', 'userCustomField',
        'groupCustomField')),
    parameter TEXT,
    source_key TEXT
);
CREATE UNIQUE INDEX scheme_permissions_grant ON scheme_permissions
    (scheme_id, permission, holder_type, IFNULL(parameter, ''));
CREATE TABLE notification_schemes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
-- An entry, in Cloud's terms: recipient types as Cloud names them, parameters in site ids.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    scheme_id INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    recipient_type TEXT NOT NULL CHECK (recipient_type IN ('CurrentAssignee', 'Reporter',
        'CurrentUser', 'ProjectLead', 'ComponentLead', 'AllWatchers', 'User', 'Group',
        'ProjectRole', 'EmailAddress', 'UserCustomField', 'GroupCustomField')),
    parameter TEXT,
    source_key TEXT
);
CREATE UNIQUE INDEX notifications_entry ON notifications
    (scheme_id, event_id, recipient_type, IFNULL(parameter, ''));
CREATE TABLE project_schemes_5 (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    scheme_type TEXT NOT NULL CHECK (scheme_type IN ('issue-security', 'permission',
        'notification', 'category')),
    scheme_id INTEGER NOT NULL,
    source_key TEXT
);
INSERT INTO project_schemes_5 SELECT id, project_id, scheme_type, scheme_id, source_key
    FROM project_schemes;
DROP TABLE project_schemes;
ALTER TABLE project_schemes_5 RENAME TO project_schemes;
CREATE UNIQUE INDEX project_schemes_type ON project_schemes (project_id, scheme_type);
INSERT INTO permission_schemes (id, name, description) VALUES (0, 'Default Permission Scheme',
    'This is the default Permission Scheme. Any new projects that are created will be assigned this scheme.');
INSERT INTO notification_schemes (id, name, description) VALUES (10000,
    'Default Notification Scheme', '');
"#;

/// Version 6: custom fields' contexts, issue security levels' members and remote issue
/// links. Every field has a global context, as Jira Cloud
/// gives each field it creates one (the fields already here get theirs); a project is in
/// at most one context of a field; a context with no issue type applies to all. Options
/// belong to a context.
const TABLES_6: &str = r#"
CREATE TABLE field_contexts (
    id INTEGER PRIMARY KEY,
    field_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_global INTEGER NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX field_contexts_global ON field_contexts (field_id) WHERE is_global = 1;
CREATE TABLE field_context_projects (
    field_id INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    context_id INTEGER NOT NULL,
    PRIMARY KEY (field_id, project_id)
) WITHOUT ROWID;
CREATE TABLE field_context_issue_types (
    context_id INTEGER NOT NULL,
    issue_type_id INTEGER NOT NULL,
    PRIMARY KEY (context_id, issue_type_id)
) WITHOUT ROWID;
ALTER TABLE field_options ADD COLUMN context_id INTEGER;
INSERT INTO field_contexts (id, field_id, name, description, is_global)
    SELECT 10000 + ROW_NUMBER() OVER (ORDER BY id) - 1, id,
           'Default Configuration Scheme for ' || name,
           'Default configuration scheme generated by Jira', 1
    FROM fields;
UPDATE field_options SET context_id =
    (SELECT c.id FROM field_contexts c WHERE c.field_id = field_options.field_id);
-- Who sees a level's issues, in Cloud's terms: holder types as Cloud names them,
-- parameters in site ids.
CREATE TABLE security_level_members (
    id INTEGER PRIMARY KEY,
    level_id INTEGER NOT NULL,
    holder_type TEXT NOT NULL CHECK (holder_type IN ('group', 'user', 'projectRole',
        'applicationRole', 'reporter', 'projectLead', 'assignee', 'userCustomField',
        'groupCustomField')),
    parameter TEXT,
    source_key TEXT
);
CREATE UNIQUE INDEX security_level_members_member ON security_level_members
    (level_id, holder_type, IFNULL(parameter, ''));
-- A link to something outside the site; one per issue and global id, as Cloud keeps it.
CREATE TABLE remote_links (
    id INTEGER PRIMARY KEY,
    issue_id INTEGER NOT NULL,
    global_id TEXT,
    title TEXT NOT NULL,
    url TEXT NOT NULL,
    summary TEXT,
    icon_url TEXT,
    icon_title TEXT,
    relationship TEXT,
    application_type TEXT,
    application_name TEXT,
    source_key TEXT
);
CREATE UNIQUE INDEX remote_links_global ON remote_links (issue_id, global_id)
    WHERE global_id IS NOT NULL;
"#;

/// The kinds whose tables came with each version after the first.
const KINDS_2: [Kind; 10] = [
    Kind::ProjectScheme,
    Kind::ProjectRole,
    Kind::SecurityScheme,
    Kind::SecurityLevel,
    Kind::Watcher,
    Kind::Vote,
    Kind::Filter,
    Kind::FilterShare,
    Kind::ChangeGroup,
    Kind::ChangeItem,
];

const KINDS_3: [Kind; 8] = [
    Kind::Board,
    Kind::Sprint,
    Kind::BoardColumn,
    Kind::ColumnStatus,
    Kind::Swimlane,
    Kind::QuickFilter,
    Kind::IssueSprint,
    Kind::IssueRank,
];

const KINDS_4: [Kind; 1] = [Kind::ProjectRoleActor];

/// `project_schemes` is made again in version 5: its source index too.
const KINDS_5: [Kind; 7] = [
    Kind::ProjectCategory,
    Kind::ProjectKey,
    Kind::PermissionScheme,
    Kind::SchemePermission,
    Kind::NotificationScheme,
    Kind::Notification,
    Kind::ProjectScheme,
];

const KINDS_6: [Kind; 3] = [
    Kind::FieldContext,
    Kind::SecurityLevelMember,
    Kind::RemoteLink,
];

/// Version 7: dashboards, their shares, gadgets and the gadgets' settings.
const TABLES_7: &str = r#"
-- A dashboard no one owns is the source's system dashboard (or its owner was deleted).
CREATE TABLE dashboards (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_account_id TEXT,
    layout TEXT NOT NULL,
    favourites INTEGER NOT NULL DEFAULT 0,
    source_key TEXT
);
CREATE TABLE dashboard_shares (
    id INTEGER PRIMARY KEY,
    dashboard_id INTEGER NOT NULL,
    type TEXT NOT NULL
        CHECK (type IN ('global', 'authenticated', 'group', 'project', 'projectRole', 'user')),
    group_name TEXT,
    project_id INTEGER,
    role_id INTEGER,
    account_id TEXT,
    edit INTEGER NOT NULL DEFAULT 0,
    source_key TEXT
);
-- A gadget is an OpenSocial gadget (uri) or a dashboard item (module_key).
CREATE TABLE gadgets (
    id INTEGER PRIMARY KEY,
    dashboard_id INTEGER NOT NULL,
    column_number INTEGER NOT NULL,
    row_number INTEGER NOT NULL,
    uri TEXT,
    module_key TEXT,
    color TEXT NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX gadgets_place ON gadgets (dashboard_id, column_number, row_number);
-- A gadget's settings; a value naming a filter, project, board or sprint names the site's.
CREATE TABLE gadget_preferences (
    id INTEGER PRIMARY KEY,
    gadget_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX gadget_preferences_key ON gadget_preferences (gadget_id, key);
"#;

const KINDS_7: [Kind; 4] = [
    Kind::Dashboard,
    Kind::DashboardShare,
    Kind::Gadget,
    Kind::GadgetPreference,
];

/// Version 8: screens, their tabs and fields, screen schemes, issue type screen schemes
/// (with Cloud's defaults) and a project's issue type screen scheme.
const TABLES_8: &str = r#"
CREATE TABLE screens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
CREATE TABLE screen_tabs (
    id INTEGER PRIMARY KEY,
    screen_id INTEGER NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    position INTEGER NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX screen_tabs_name ON screen_tabs (screen_id, name);
-- A field is on a screen once, whichever tab.
CREATE TABLE screen_fields (
    id INTEGER PRIMARY KEY,
    tab_id INTEGER NOT NULL,
    screen_id INTEGER NOT NULL,
    field_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX screen_fields_field ON screen_fields (screen_id, field_id);
CREATE TABLE screen_schemes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
CREATE TABLE screen_scheme_screens (
    scheme_id INTEGER NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('default', 'create', 'edit', 'view')),
    screen_id INTEGER NOT NULL,
    PRIMARY KEY (scheme_id, operation)
) WITHOUT ROWID;
CREATE TABLE issue_type_screen_schemes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
-- issue_type_id 0: the default mapping.
CREATE TABLE issue_type_screen_mappings (
    scheme_id INTEGER NOT NULL,
    issue_type_id INTEGER NOT NULL,
    screen_scheme_id INTEGER NOT NULL,
    PRIMARY KEY (scheme_id, issue_type_id)
) WITHOUT ROWID;
INSERT INTO screens (id, name, description) VALUES
    (1, 'Default Screen', 'Allows to update all system fields.'),
    (2, 'Resolve Issue Screen', 'Allows to set resolution, change fix versions and assign an issue.'),
    (3, 'Workflow Screen', 'This screen is used in the workflow and enables you to assign issues');
INSERT INTO screen_tabs (id, screen_id, name, position) VALUES
    (1, 1, 'Field Tab', 0), (2, 2, 'Field Tab', 0), (3, 3, 'Field Tab', 0);
INSERT INTO screen_schemes (id, name, description) VALUES
    (1, 'Default Screen Scheme', 'Default Screen Scheme');
INSERT INTO screen_scheme_screens VALUES (1, 'default', 1);
INSERT INTO issue_type_screen_schemes (id, name, description) VALUES
    (1, 'Default Issue Type Screen Scheme', 'The default issue type screen scheme');
INSERT INTO issue_type_screen_mappings VALUES (1, 0, 1);
CREATE TABLE project_schemes_8 (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    scheme_type TEXT NOT NULL CHECK (scheme_type IN ('issue-security', 'permission',
        'notification', 'category', 'issue-type-screen')),
    scheme_id INTEGER NOT NULL,
    source_key TEXT
);
INSERT INTO project_schemes_8 SELECT id, project_id, scheme_type, scheme_id, source_key
    FROM project_schemes;
DROP TABLE project_schemes;
ALTER TABLE project_schemes_8 RENAME TO project_schemes;
CREATE UNIQUE INDEX project_schemes_type ON project_schemes (project_id, scheme_type);
"#;

/// `project_schemes` is made again in version 8: its source index too.
const KINDS_8: [Kind; 6] = [
    Kind::Screen,
    Kind::ScreenTab,
    Kind::ScreenField,
    Kind::ScreenScheme,
    Kind::IssueTypeScreenScheme,
    Kind::ProjectScheme,
];

/// Version 9: field configurations, their fields' settings, field configuration schemes
/// (with Cloud's default configuration) and a project's field configuration scheme.
const TABLES_9: &str = r#"
CREATE TABLE field_configurations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    is_default INTEGER NOT NULL DEFAULT 0,
    source_key TEXT
);
CREATE TABLE field_configuration_items (
    id INTEGER PRIMARY KEY,
    configuration_id INTEGER NOT NULL,
    field_id TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    hidden INTEGER NOT NULL,
    required INTEGER NOT NULL,
    renderer TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
CREATE UNIQUE INDEX field_configuration_items_field
    ON field_configuration_items (configuration_id, field_id);
CREATE TABLE field_configuration_schemes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
-- issue_type_id 0: the default mapping.
CREATE TABLE field_configuration_mappings (
    scheme_id INTEGER NOT NULL,
    issue_type_id INTEGER NOT NULL,
    configuration_id INTEGER NOT NULL,
    PRIMARY KEY (scheme_id, issue_type_id)
) WITHOUT ROWID;
INSERT INTO field_configurations (id, name, description, is_default) VALUES
    (10000, 'Default Field Configuration', 'The default field configuration', 1);
CREATE TABLE project_schemes_9 (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    scheme_type TEXT NOT NULL CHECK (scheme_type IN ('issue-security', 'permission',
        'notification', 'category', 'issue-type-screen', 'field-configuration')),
    scheme_id INTEGER NOT NULL,
    source_key TEXT
);
INSERT INTO project_schemes_9 SELECT id, project_id, scheme_type, scheme_id, source_key
    FROM project_schemes;
DROP TABLE project_schemes;
ALTER TABLE project_schemes_9 RENAME TO project_schemes;
CREATE UNIQUE INDEX project_schemes_type ON project_schemes (project_id, scheme_type);
"#;

/// `project_schemes` is made again in version 9: its source index too.
const KINDS_9: [Kind; 4] = [
    Kind::FieldConfiguration,
    Kind::FieldConfigurationItem,
    Kind::FieldConfigurationScheme,
    Kind::ProjectScheme,
];

/// Version 10: issue type schemes (with Cloud's default, which lists every issue type),
/// workflows with their steps and transitions (with Cloud's built-in `jira`), workflow
/// schemes, boards' card settings, and a project's issue type and workflow schemes.
const TABLES_10: &str = r#"
CREATE TABLE issue_type_schemes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    default_issue_type_id INTEGER,
    is_default INTEGER NOT NULL DEFAULT 0,
    source_key TEXT
);
CREATE TABLE issue_type_scheme_types (
    scheme_id INTEGER NOT NULL,
    issue_type_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (scheme_id, issue_type_id)
) WITHOUT ROWID;
INSERT INTO issue_type_schemes (id, name, description, is_default) VALUES
    (10000, 'Default Issue Type Scheme', 'Default issue type scheme is the list of global issue types. All newly created issue types will automatically be added to this scheme.', 1);
CREATE TABLE workflows (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
-- A status is on one step of a workflow.
CREATE TABLE workflow_steps (
    workflow_id INTEGER NOT NULL,
    step_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, step_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX workflow_steps_status ON workflow_steps (workflow_id, status_id);
-- from_steps: the step ids it leaves from, comma-separated (directed transitions).
CREATE TABLE workflow_transitions (
    workflow_id INTEGER NOT NULL,
    transition_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('INITIAL', 'GLOBAL', 'DIRECTED')),
    from_steps TEXT NOT NULL DEFAULT '',
    to_step TEXT NOT NULL,
    screen_id INTEGER,
    position INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, transition_id)
) WITHOUT ROWID;
INSERT INTO workflows (id, name, description) VALUES
    (1, 'jira', 'The default Jira workflow.');
CREATE TABLE workflow_schemes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    source_key TEXT
);
-- issue_type_id 0: the default mapping.
CREATE TABLE workflow_scheme_mappings (
    scheme_id INTEGER NOT NULL,
    issue_type_id INTEGER NOT NULL,
    workflow_id INTEGER NOT NULL,
    PRIMARY KEY (scheme_id, issue_type_id)
) WITHOUT ROWID;
-- A board's card settings: the fields its cards show (a field once a mode) and colours.
CREATE TABLE board_card_fields (
    id INTEGER PRIMARY KEY,
    board_id INTEGER NOT NULL,
    field_id TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('PLAN', 'WORK')),
    position INTEGER NOT NULL,
    source_key TEXT
);
CREATE UNIQUE INDEX board_card_fields_field ON board_card_fields (board_id, mode, field_id);
CREATE TABLE board_card_colors (
    id INTEGER PRIMARY KEY,
    board_id INTEGER NOT NULL,
    strategy TEXT NOT NULL CHECK (strategy IN ('issuetype', 'priority', 'assignee', 'custom')),
    value TEXT NOT NULL,
    color TEXT NOT NULL,
    position INTEGER NOT NULL,
    source_key TEXT
);
CREATE TABLE project_schemes_10 (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    scheme_type TEXT NOT NULL CHECK (scheme_type IN ('issue-security', 'permission',
        'notification', 'category', 'issue-type-screen', 'field-configuration',
        'issue-type', 'workflow')),
    scheme_id INTEGER NOT NULL,
    source_key TEXT
);
INSERT INTO project_schemes_10 SELECT id, project_id, scheme_type, scheme_id, source_key
    FROM project_schemes;
DROP TABLE project_schemes;
ALTER TABLE project_schemes_10 RENAME TO project_schemes;
CREATE UNIQUE INDEX project_schemes_type ON project_schemes (project_id, scheme_type);
"#;

/// Cloud's default issue type scheme lists every issue type the site has: run after the
/// site's issue types are in (a new site's defaults, or an older site's own).
const DEFAULT_SCHEME_TYPES: &str = "
INSERT OR IGNORE INTO issue_type_scheme_types (scheme_id, issue_type_id, position)
    SELECT 10000, id, ROW_NUMBER() OVER (ORDER BY id) - 1 FROM issue_types;
";

/// `project_schemes` is made again in version 10: its source index too.
const KINDS_10: [Kind; 6] = [
    Kind::IssueTypeScheme,
    Kind::Workflow,
    Kind::WorkflowScheme,
    Kind::CardField,
    Kind::CardColor,
    Kind::ProjectScheme,
];

/// Jira Cloud's defaults on a new site (not written by Airlock: no source key).
const DEFAULTS: &str = r#"
INSERT INTO groups (id, name) VALUES (1, 'jira-administrators'), (2, 'jira-software-users');
INSERT INTO issue_types (id, name, subtask) VALUES
    (10000, 'Task', 0), (10001, 'Bug', 0), (10002, 'Story', 0), (10003, 'Epic', 0),
    (10004, 'Subtask', 1);
INSERT INTO statuses (id, name, category) VALUES
    (10000, 'To Do', 'new'), (10001, 'In Progress', 'indeterminate'), (10002, 'Done', 'done');
INSERT INTO priorities (id, name) VALUES
    (1, 'Highest'), (2, 'High'), (3, 'Medium'), (4, 'Low'), (5, 'Lowest');
INSERT INTO resolutions (id, name) VALUES
    (10000, 'Done'), (10001, 'Won''t Do'), (10002, 'Duplicate'), (10003, 'Cannot Reproduce');
INSERT INTO issue_link_types (id, name, inward, outward) VALUES
    (10000, 'Blocks', 'is blocked by', 'blocks'),
    (10001, 'Cloners', 'is cloned by', 'clones'),
    (10002, 'Duplicate', 'is duplicated by', 'duplicates'),
    (10003, 'Relates', 'relates to', 'relates to');
"#;

/// Where the records of one kind live, and how their cloud id reads from a row.
pub(super) struct Table {
    pub name: &'static str,
    pub id: &'static str,
}

const fn t(name: &'static str, id: &'static str) -> Table {
    Table { name, id }
}

const NUMERIC: &str = "CAST(id AS TEXT)";
const NONE: &str = "''";

/// The tables holding a kind's records (issue versions: versions and components).
pub(super) fn tables(kind: Kind) -> &'static [Table] {
    match kind {
        Kind::User => const { &[t("users", "account_id")] },
        Kind::Group => const { &[t("groups", "name")] },
        Kind::Membership => const { &[t("group_members", NONE)] },
        Kind::IssueType => const { &[t("issue_types", NUMERIC)] },
        Kind::Status => const { &[t("statuses", NUMERIC)] },
        Kind::Priority => const { &[t("priorities", NUMERIC)] },
        Kind::Resolution => const { &[t("resolutions", NUMERIC)] },
        Kind::ProjectRole => const { &[t("project_roles", NUMERIC)] },
        Kind::SecurityScheme => const { &[t("security_schemes", NUMERIC)] },
        Kind::SecurityLevel => const { &[t("security_levels", NUMERIC)] },
        Kind::ProjectScheme => const { &[t("project_schemes", NONE)] },
        Kind::Project => const { &[t("projects", NUMERIC)] },
        Kind::ProjectCategory => const { &[t("project_categories", NUMERIC)] },
        Kind::ProjectKey => const { &[t("project_keys", NONE)] },
        Kind::PermissionScheme => const { &[t("permission_schemes", NUMERIC)] },
        Kind::SchemePermission => const { &[t("scheme_permissions", NUMERIC)] },
        Kind::SecurityLevelMember => const { &[t("security_level_members", NUMERIC)] },
        Kind::NotificationScheme => const { &[t("notification_schemes", NUMERIC)] },
        Kind::Notification => const { &[t("notifications", NONE)] },
        Kind::ProjectRoleActor => const { &[t("project_role_actors", NONE)] },
        Kind::Component => const { &[t("components", NUMERIC)] },
        Kind::Version => const { &[t("versions", NUMERIC)] },
        Kind::CustomField => const { &[t("fields", "'customfield_' || id")] },
        Kind::FieldContext => const { &[t("field_contexts", NUMERIC)] },
        Kind::CustomFieldOption => const { &[t("field_options", NUMERIC)] },
        Kind::IssueLinkType => const { &[t("issue_link_types", NUMERIC)] },
        Kind::Issue => const { &[t("issues", NUMERIC)] },
        Kind::CustomFieldValue => const { &[t("field_values", NONE)] },
        Kind::Label => const { &[t("labels", NONE)] },
        Kind::IssueVersion => const { &[t("issue_versions", NONE), t("issue_components", NONE)] },
        Kind::Comment => const { &[t("comments", NUMERIC)] },
        Kind::Worklog => const { &[t("worklogs", NUMERIC)] },
        Kind::IssueLink => const { &[t("issue_links", NUMERIC)] },
        Kind::RemoteLink => const { &[t("remote_links", NUMERIC)] },
        Kind::Attachment => const { &[t("attachments", NUMERIC)] },
        Kind::EntityProperty => const { &[t("entity_properties", NUMERIC)] },
        Kind::Watcher => const { &[t("watchers", NONE)] },
        Kind::Vote => const { &[t("votes", NONE)] },
        Kind::Filter => const { &[t("filters", NUMERIC)] },
        Kind::FilterShare => const { &[t("filter_shares", NUMERIC)] },
        Kind::ChangeGroup => const { &[t("change_groups", NUMERIC)] },
        Kind::ChangeItem => const { &[t("change_items", NUMERIC)] },
        Kind::Board => const { &[t("boards", NUMERIC)] },
        Kind::Sprint => const { &[t("sprints", NUMERIC)] },
        Kind::BoardColumn => const { &[t("board_columns", NUMERIC)] },
        Kind::ColumnStatus => const { &[t("column_statuses", NUMERIC)] },
        Kind::Swimlane => const { &[t("board_swimlanes", NUMERIC)] },
        Kind::QuickFilter => const { &[t("board_quick_filters", NUMERIC)] },
        Kind::CardField => const { &[t("board_card_fields", NUMERIC)] },
        Kind::CardColor => const { &[t("board_card_colors", NUMERIC)] },
        Kind::Dashboard => const { &[t("dashboards", NUMERIC)] },
        Kind::DashboardShare => const { &[t("dashboard_shares", NUMERIC)] },
        Kind::Gadget => const { &[t("gadgets", NUMERIC)] },
        Kind::GadgetPreference => const { &[t("gadget_preferences", NUMERIC)] },
        Kind::Screen => const { &[t("screens", NUMERIC)] },
        Kind::ScreenTab => const { &[t("screen_tabs", NUMERIC)] },
        Kind::ScreenField => const { &[t("screen_fields", NUMERIC)] },
        Kind::ScreenScheme => const { &[t("screen_schemes", NUMERIC)] },
        Kind::IssueTypeScreenScheme => const { &[t("issue_type_screen_schemes", NUMERIC)] },
        Kind::FieldConfiguration => const { &[t("field_configurations", NUMERIC)] },
        Kind::FieldConfigurationItem => const { &[t("field_configuration_items", NUMERIC)] },
        Kind::FieldConfigurationScheme => const { &[t("field_configuration_schemes", NUMERIC)] },
        Kind::IssueTypeScheme => const { &[t("issue_type_schemes", NUMERIC)] },
        Kind::Workflow => const { &[t("workflows", NUMERIC)] },
        Kind::WorkflowScheme => const { &[t("workflow_schemes", NUMERIC)] },
        Kind::IssueSprint => const { &[t("issue_sprints", NONE)] },
        Kind::IssueRank => const { &[t("issue_ranks", NONE)] },
    }
}

/// Version 11: history has no source index ([`has_source_index`]); a site made before
/// loses it.
const TABLES_11: &str = r#"
DROP INDEX IF EXISTS change_groups_source;
DROP INDEX IF EXISTS change_items_source;
"#;

/// What each version after the first added: its tables (and rows), and the kinds whose
/// tables they are (their source indexes made with them).
const VERSIONS: [(i64, &str, &[Kind]); 10] = [
    (2, TABLES_2, &KINDS_2),
    (3, TABLES_3, &KINDS_3),
    (4, TABLES_4, &KINDS_4),
    (5, TABLES_5, &KINDS_5),
    (6, TABLES_6, &KINDS_6),
    (7, TABLES_7, &KINDS_7),
    (8, TABLES_8, &KINDS_8),
    (9, TABLES_9, &KINDS_9),
    (10, TABLES_10, &KINDS_10),
    (11, TABLES_11, &[]),
];

// The last version's tables are this version's.
const _: () = assert!(VERSIONS[VERSIONS.len() - 1].0 == VERSION);

/// Creates the tables, their source-key indexes and Cloud's defaults, in the caller's
/// transaction.
pub(super) fn create(conn: &Connection, salt: u64) -> rusqlite::Result<()> {
    conn.execute_batch(TABLES)?;
    for (_, tables, _) in VERSIONS {
        conn.execute_batch(tables)?;
    }
    for kind in Kind::ALL {
        source_indexes(conn, kind)?;
    }
    conn.execute_batch(DEFAULTS)?;
    conn.execute_batch(DEFAULT_SCHEME_TYPES)?;
    conn.execute(
        "INSERT INTO meta (name, value) VALUES ('account_salt', ?1)",
        [format!("{salt:016x}")],
    )?;
    conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    conn.pragma_update(None, "user_version", VERSION)?;
    Ok(())
}

/// Whether `kind`'s tables have an index on the source key. History's do not: its rows are
/// most of what a site holds (1.7 million at 100,000 issues), the index cost a quarter of
/// each insert, and all it served is `find_written`, which the load asks once per kind
/// and run: a scan of the table answers that.
pub(super) fn has_source_index(kind: Kind) -> bool {
    !matches!(kind, Kind::ChangeGroup | Kind::ChangeItem)
}

/// Partial indexes on the source key: seeded and default rows have none and need no entry.
fn source_indexes(conn: &Connection, kind: Kind) -> rusqlite::Result<()> {
    if !has_source_index(kind) {
        return Ok(());
    }
    for table in tables(kind) {
        conn.execute_batch(&format!(
            "CREATE INDEX {0}_source ON {0} (source_key) WHERE source_key IS NOT NULL;",
            table.name
        ))?;
    }
    Ok(())
}

/// Brings a site of an older version up to [`VERSION`], in the caller's transaction: the
/// tables later versions added, nothing of what it holds changed.
pub(super) fn upgrade(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    for (version, tables, kinds) in VERSIONS {
        if from < version {
            conn.execute_batch(tables)?;
            for &kind in kinds {
                source_indexes(conn, kind)?;
            }
            if version == 10 {
                conn.execute_batch(DEFAULT_SCHEME_TYPES)?;
            }
        }
    }
    conn.pragma_update(None, "user_version", VERSION)
}
