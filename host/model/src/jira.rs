//! Jira's core data, as Airlock moves it: one typed record per entities.xml row (users are
//! the join of `User` and `ApplicationUser`).
//!
//! Every id and reference is kept as text, exactly as the backup writes it and as the id
//! mappings key it (server id → cloud id). A record's references are listed by
//! [`Record::refs`] with the namespace they point into: the integrity check walks them to
//! find dangling ones, and the load rewrites them to cloud ids with [`Record::refs_mut`].

use serde::{Deserialize, Serialize};

use crate::Namespace;

/// The kinds of core record, in the order a load writes them (each one's references point
/// only to kinds before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    User,
    Group,
    Membership,
    IssueType,
    Status,
    Priority,
    Resolution,
    ProjectRole,
    SecurityScheme,
    SecurityLevel,
    ProjectCategory,
    Project,
    ProjectKey,
    ProjectRoleActor,
    Component,
    Version,
    CustomField,
    FieldContext,
    CustomFieldOption,
    IssueLinkType,
    PermissionScheme,
    SchemePermission,
    SecurityLevelMember,
    NotificationScheme,
    Notification,
    Screen,
    ScreenTab,
    ScreenField,
    ScreenScheme,
    IssueTypeScreenScheme,
    FieldConfiguration,
    FieldConfigurationItem,
    FieldConfigurationScheme,
    IssueTypeScheme,
    Workflow,
    WorkflowScheme,
    ProjectScheme,
    Issue,
    CustomFieldValue,
    Label,
    IssueVersion,
    Comment,
    Worklog,
    IssueLink,
    RemoteLink,
    Watcher,
    Vote,
    Attachment,
    Filter,
    FilterShare,
    Board,
    Sprint,
    BoardColumn,
    ColumnStatus,
    Swimlane,
    QuickFilter,
    CardField,
    CardColor,
    Dashboard,
    DashboardShare,
    Gadget,
    GadgetPreference,
    IssueSprint,
    IssueRank,
    ChangeGroup,
    ChangeItem,
    EntityProperty,
}

impl Kind {
    /// Every kind, in load order.
    pub const ALL: [Kind; 67] = [
        Kind::User,
        Kind::Group,
        Kind::Membership,
        Kind::IssueType,
        Kind::Status,
        Kind::Priority,
        Kind::Resolution,
        Kind::ProjectRole,
        Kind::SecurityScheme,
        Kind::SecurityLevel,
        Kind::ProjectCategory,
        Kind::Project,
        Kind::ProjectKey,
        Kind::ProjectRoleActor,
        Kind::Component,
        Kind::Version,
        Kind::CustomField,
        Kind::FieldContext,
        Kind::CustomFieldOption,
        Kind::IssueLinkType,
        Kind::PermissionScheme,
        Kind::SchemePermission,
        Kind::SecurityLevelMember,
        Kind::NotificationScheme,
        Kind::Notification,
        Kind::Screen,
        Kind::ScreenTab,
        Kind::ScreenField,
        Kind::ScreenScheme,
        Kind::IssueTypeScreenScheme,
        Kind::FieldConfiguration,
        Kind::FieldConfigurationItem,
        Kind::FieldConfigurationScheme,
        Kind::IssueTypeScheme,
        Kind::Workflow,
        Kind::WorkflowScheme,
        Kind::ProjectScheme,
        Kind::Issue,
        Kind::CustomFieldValue,
        Kind::Label,
        Kind::IssueVersion,
        Kind::Comment,
        Kind::Worklog,
        Kind::IssueLink,
        Kind::RemoteLink,
        Kind::Watcher,
        Kind::Vote,
        Kind::Attachment,
        Kind::Filter,
        Kind::FilterShare,
        Kind::Board,
        Kind::Sprint,
        Kind::BoardColumn,
        Kind::ColumnStatus,
        Kind::Swimlane,
        Kind::QuickFilter,
        Kind::CardField,
        Kind::CardColor,
        Kind::Dashboard,
        Kind::DashboardShare,
        Kind::Gadget,
        Kind::GadgetPreference,
        Kind::IssueSprint,
        Kind::IssueRank,
        Kind::ChangeGroup,
        Kind::ChangeItem,
        Kind::EntityProperty,
    ];

    /// A stable lower-case name (file names, reports, JSON).
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
            Kind::Membership => "membership",
            Kind::IssueType => "issue-type",
            Kind::Status => "status",
            Kind::Priority => "priority",
            Kind::Resolution => "resolution",
            Kind::ProjectRole => "project-role",
            Kind::SecurityScheme => "security-scheme",
            Kind::SecurityLevel => "security-level",
            Kind::ProjectCategory => "project-category",
            Kind::Project => "project",
            Kind::ProjectKey => "project-key",
            Kind::PermissionScheme => "permission-scheme",
            Kind::SchemePermission => "scheme-permission",
            Kind::SecurityLevelMember => "security-level-member",
            Kind::NotificationScheme => "notification-scheme",
            Kind::Notification => "notification",
            Kind::Screen => "screen",
            Kind::ScreenTab => "screen-tab",
            Kind::ScreenField => "screen-field",
            Kind::ScreenScheme => "screen-scheme",
            Kind::IssueTypeScreenScheme => "issue-type-screen-scheme",
            Kind::FieldConfiguration => "field-configuration",
            Kind::FieldConfigurationItem => "field-configuration-item",
            Kind::FieldConfigurationScheme => "field-configuration-scheme",
            Kind::IssueTypeScheme => "issue-type-scheme",
            Kind::Workflow => "workflow",
            Kind::WorkflowScheme => "workflow-scheme",
            Kind::ProjectRoleActor => "project-role-actor",
            Kind::Component => "component",
            Kind::Version => "version",
            Kind::CustomField => "custom-field",
            Kind::FieldContext => "field-context",
            Kind::CustomFieldOption => "custom-field-option",
            Kind::IssueLinkType => "issue-link-type",
            Kind::ProjectScheme => "project-scheme",
            Kind::Issue => "issue",
            Kind::CustomFieldValue => "custom-field-value",
            Kind::Label => "label",
            Kind::IssueVersion => "issue-version",
            Kind::Comment => "comment",
            Kind::Worklog => "worklog",
            Kind::IssueLink => "issue-link",
            Kind::RemoteLink => "remote-link",
            Kind::Watcher => "watcher",
            Kind::Vote => "vote",
            Kind::Attachment => "attachment",
            Kind::ChangeGroup => "change-group",
            Kind::ChangeItem => "change-item",
            Kind::EntityProperty => "entity-property",
            Kind::Filter => "filter",
            Kind::FilterShare => "filter-share",
            Kind::Board => "board",
            Kind::Sprint => "sprint",
            Kind::BoardColumn => "board-column",
            Kind::ColumnStatus => "column-status",
            Kind::Swimlane => "swimlane",
            Kind::QuickFilter => "quick-filter",
            Kind::CardField => "card-field",
            Kind::CardColor => "card-color",
            Kind::Dashboard => "dashboard",
            Kind::DashboardShare => "dashboard-share",
            Kind::Gadget => "gadget",
            Kind::GadgetPreference => "gadget-preference",
            Kind::IssueSprint => "issue-sprint",
            Kind::IssueRank => "issue-rank",
        }
    }

    /// The kind a stable name names.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The entities.xml element (or, for [`Kind::is_active_objects`], the table) a record
    /// of this kind comes from.
    pub fn entity(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
            Kind::Membership => "Membership",
            Kind::IssueType => "IssueType",
            Kind::Status => "Status",
            Kind::Priority => "Priority",
            Kind::Resolution => "Resolution",
            Kind::ProjectRole => "ProjectRole",
            Kind::SecurityScheme => "IssueSecurityScheme",
            Kind::SecurityLevel => "SchemeIssueSecurityLevels",
            Kind::ProjectCategory => "ProjectCategory",
            Kind::Project => "Project",
            Kind::ProjectKey => "ProjectKey",
            Kind::PermissionScheme => "PermissionScheme",
            Kind::SchemePermission => "SchemePermissions",
            Kind::SecurityLevelMember => "SchemeIssueSecurities",
            Kind::NotificationScheme => "NotificationScheme",
            Kind::Notification => "Notification",
            Kind::Screen => "FieldScreen",
            Kind::ScreenTab => "FieldScreenTab",
            Kind::ScreenField => "FieldScreenLayoutItem",
            Kind::ScreenScheme => "FieldScreenScheme",
            Kind::IssueTypeScreenScheme => "IssueTypeScreenScheme",
            Kind::FieldConfiguration => "FieldLayout",
            Kind::FieldConfigurationItem => "FieldLayoutItem",
            Kind::FieldConfigurationScheme => "FieldLayoutScheme",
            Kind::IssueTypeScheme => "FieldConfigScheme",
            Kind::Workflow => "Workflow",
            Kind::WorkflowScheme => "WorkflowScheme",
            Kind::ProjectRoleActor => "ProjectRoleActor",
            Kind::Component => "Component",
            Kind::Version => "Version",
            Kind::CustomField => "CustomField",
            Kind::FieldContext => "FieldConfigScheme",
            Kind::CustomFieldOption => "CustomFieldOption",
            Kind::IssueLinkType => "IssueLinkType",
            Kind::Issue => "Issue",
            Kind::CustomFieldValue | Kind::IssueSprint => "CustomFieldValue",
            Kind::Label => "Label",
            Kind::IssueVersion | Kind::ProjectScheme => "NodeAssociation",
            Kind::Comment => "Action",
            Kind::Worklog => "Worklog",
            Kind::IssueLink => "IssueLink",
            Kind::RemoteLink => "RemoteIssueLink",
            Kind::Watcher | Kind::Vote => "UserAssociation",
            Kind::Attachment => "FileAttachment",
            Kind::ChangeGroup => "ChangeGroup",
            Kind::ChangeItem => "ChangeItem",
            Kind::EntityProperty => "EntityProperty",
            Kind::Filter => "SearchRequest",
            Kind::FilterShare | Kind::DashboardShare => "SharePermissions",
            Kind::Dashboard => "PortalPage",
            Kind::Gadget => "PortletConfiguration",
            Kind::GadgetPreference => "GadgetUserPreference",
            Kind::Board => "AO_60DB71_RAPIDVIEW",
            Kind::Sprint => "AO_60DB71_SPRINT",
            Kind::BoardColumn => "AO_60DB71_COLUMN",
            Kind::ColumnStatus => "AO_60DB71_COLUMNSTATUS",
            Kind::Swimlane => "AO_60DB71_SWIMLANE",
            Kind::QuickFilter => "AO_60DB71_QUICKFILTER",
            Kind::CardField => "AO_60DB71_CARDLAYOUT",
            Kind::CardColor => "AO_60DB71_CARDCOLOR",
            Kind::IssueRank => "AO_60DB71_LEXORANK",
        }
    }

    /// Whether records of this kind come from activeobjects.xml (Jira Software's
    /// tables, `AO_60DB71_*`, which [`Kind::entity`] names) rather than entities.xml.
    pub fn is_active_objects(self) -> bool {
        matches!(
            self,
            Kind::Board
                | Kind::Sprint
                | Kind::BoardColumn
                | Kind::ColumnStatus
                | Kind::Swimlane
                | Kind::QuickFilter
                | Kind::CardField
                | Kind::CardColor
                | Kind::IssueRank
        )
    }

    /// The backup file its records come from.
    pub fn file(self) -> &'static str {
        if self.is_active_objects() {
            "activeobjects.xml"
        } else {
            "entities.xml"
        }
    }

    /// The mapping namespace a record's id is recorded under, for kinds that have one.
    /// The SDK's `NAMESPACES.md` documents this table for vendors (a test keeps it true).
    pub fn namespace(self) -> Option<Namespace> {
        Some(match self {
            Kind::User => Namespace::USER,
            Kind::Group => Namespace::GROUP,
            Kind::IssueType => Namespace::ISSUE_TYPE,
            Kind::Status => Namespace::STATUS,
            Kind::Priority => Namespace::PRIORITY,
            Kind::Resolution => Namespace::RESOLUTION,
            Kind::ProjectRole => Namespace::PROJECT_ROLE,
            Kind::SecurityScheme => Namespace::SECURITY_SCHEME,
            Kind::SecurityLevel => Namespace::SECURITY_LEVEL,
            Kind::ProjectCategory => Namespace::PROJECT_CATEGORY,
            Kind::Project => Namespace::PROJECT,
            Kind::PermissionScheme => Namespace::PERMISSION_SCHEME,
            Kind::NotificationScheme => Namespace::NOTIFICATION_SCHEME,
            Kind::Screen => Namespace::SCREEN,
            Kind::ScreenTab => Namespace::SCREEN_TAB,
            Kind::ScreenScheme => Namespace::SCREEN_SCHEME,
            Kind::IssueTypeScreenScheme => Namespace::ISSUE_TYPE_SCREEN_SCHEME,
            Kind::FieldConfiguration => Namespace::FIELD_CONFIGURATION,
            Kind::FieldConfigurationScheme => Namespace::FIELD_CONFIGURATION_SCHEME,
            Kind::IssueTypeScheme => Namespace::ISSUE_TYPE_SCHEME,
            Kind::Workflow => Namespace::WORKFLOW,
            Kind::WorkflowScheme => Namespace::WORKFLOW_SCHEME,
            Kind::Component => Namespace::COMPONENT,
            Kind::Version => Namespace::VERSION,
            Kind::CustomField => Namespace::CUSTOM_FIELD,
            Kind::FieldContext => Namespace::FIELD_CONTEXT,
            Kind::CustomFieldOption => Namespace::CUSTOM_FIELD_OPTION,
            Kind::IssueLinkType => Namespace::ISSUE_LINK_TYPE,
            Kind::Issue => Namespace::ISSUE,
            Kind::Comment => Namespace::COMMENT,
            Kind::Worklog => Namespace::WORKLOG,
            Kind::IssueLink => Namespace::ISSUE_LINK,
            Kind::Attachment => Namespace::ATTACHMENT,
            Kind::Filter => Namespace::FILTER,
            Kind::ChangeGroup => Namespace::CHANGE_GROUP,
            Kind::Board => Namespace::BOARD,
            Kind::Sprint => Namespace::SPRINT,
            Kind::BoardColumn => Namespace::BOARD_COLUMN,
            Kind::Dashboard => Namespace::DASHBOARD,
            Kind::Gadget => Namespace::DASHBOARD_GADGET,
            Kind::Membership
            | Kind::ProjectRoleActor
            | Kind::ProjectKey
            | Kind::SchemePermission
            | Kind::SecurityLevelMember
            | Kind::Notification
            | Kind::ScreenField
            | Kind::FieldConfigurationItem
            | Kind::RemoteLink
            | Kind::CustomFieldValue
            | Kind::Label
            | Kind::IssueVersion
            | Kind::Watcher
            | Kind::Vote
            | Kind::EntityProperty
            | Kind::ChangeItem
            | Kind::ProjectScheme
            | Kind::FilterShare
            | Kind::DashboardShare
            | Kind::GadgetPreference
            | Kind::ColumnStatus
            | Kind::Swimlane
            | Kind::QuickFilter
            | Kind::CardField
            | Kind::CardColor
            | Kind::IssueSprint
            | Kind::IssueRank => return None,
        })
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A date as entities.xml writes it, in wall-clock millis of the server's zone (see
/// `airlock_backup::parse_entity_date`).
pub type WallMillis = i64;

/// A user: `cwd_user` joined with `ApplicationUser` by lower-case user name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user key (`admin`, `JIRAUSER10100`): what every other row references.
    pub key: String,
    pub user_name: String,
    pub display_name: String,
    /// As written; may be empty or invalid (the integrity check says so).
    pub email: String,
    pub active: bool,
    pub directory: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The group name: groups are referenced by name.
    pub name: String,
    pub active: bool,
}

/// A user's membership of a group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub id: String,
    pub group: String,
    /// The member's user name (lower case), as cwd_membership holds it.
    pub user_name: String,
}

/// An issue type, status, priority or resolution: a named constant of the site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Constant {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Issue types: a sub-task type. Statuses: the category id.
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub key: String,
    pub name: String,
    /// A user key.
    pub lead: String,
    pub description: String,
    pub project_type: String,
    /// The last issue number handed out.
    pub counter: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Component {
    pub id: String,
    pub project: String,
    pub name: String,
    pub description: String,
    /// A user key, or empty.
    pub lead: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub id: String,
    pub project: String,
    pub name: String,
    pub description: String,
    pub released: bool,
    pub archived: bool,
    pub release_date: Option<WallMillis>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomField {
    pub id: String,
    pub name: String,
    /// `com.atlassian.jira.plugin.system.customfieldtypes:textfield`, …
    pub type_key: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldOption {
    pub id: String,
    pub field: String,
    /// The context offering it (a [`FieldContext`] id), read from the row's
    /// `customfieldconfig`; none for a row naming no configuration (the field's global
    /// context offers it).
    pub context: Option<String>,
    pub value: String,
    pub parent: Option<String>,
    pub disabled: bool,
}

/// A custom field's context (a `FieldConfigScheme` of a custom field, with the
/// `ConfigurationContext` and `FieldConfigSchemeIssueType` rows naming it): the projects
/// and issue types where the field applies, and (its options naming it) what it offers
/// there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldContext {
    pub id: String,
    /// The custom field's numeric id (`10001` of `customfield_10001`).
    pub field: String,
    pub name: String,
    pub description: String,
    /// Project ids, ascending; none: every project (the field's global context).
    pub projects: Vec<String>,
    /// Issue type ids, ascending; none: every issue type.
    pub issue_types: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueLinkType {
    pub id: String,
    pub name: String,
    pub inward: String,
    pub outward: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: String,
    pub project: String,
    /// The issue number within its project (7.x+ rows, or taken from an older row's key).
    pub number: u64,
    pub issue_type: String,
    pub summary: String,
    pub description: String,
    pub priority: Option<String>,
    pub status: String,
    pub resolution: Option<String>,
    pub reporter: Option<String>,
    pub assignee: Option<String>,
    pub created: WallMillis,
    pub updated: WallMillis,
    pub due: Option<WallMillis>,
    pub resolved: Option<WallMillis>,
    pub original_estimate: Option<i64>,
    pub estimate: Option<i64>,
    pub time_spent: Option<i64>,
    /// The security level the issue is restricted to, if any.
    #[serde(default)]
    pub security: Option<String>,
}

/// One value of a custom field on an issue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldValue {
    pub id: String,
    pub issue: String,
    pub field: String,
    pub value: FieldValue,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FieldValue {
    Text(String),
    Number(f64),
    Date(WallMillis),
    /// A select field's value: a custom field option id.
    Option(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub id: String,
    pub issue: String,
    pub label: String,
}

/// An issue's affected or fix version, or its component (`NodeAssociation`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueVersion {
    /// Its own stable id, `issue:association:target` in server ids (a NodeAssociation row
    /// has none): kept when the references are rewritten, so a target finds it again.
    pub id: String,
    pub issue: String,
    pub target: String,
    pub association: Association,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Association {
    AffectsVersion,
    FixVersion,
    Component,
}

/// A comment (`Action` of type `comment`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    pub issue: String,
    pub author: Option<String>,
    pub body: String,
    pub created: WallMillis,
    pub updated: WallMillis,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Worklog {
    pub id: String,
    pub issue: String,
    pub author: Option<String>,
    pub body: String,
    pub created: WallMillis,
    pub started: WallMillis,
    pub seconds: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueLink {
    pub id: String,
    pub link_type: String,
    pub source: String,
    pub destination: String,
}

/// A link from an issue to something outside Jira (`RemoteIssueLink`): a Confluence page,
/// a web page. Its global id, when it has one, names the linked object: an issue has at
/// most one link per global id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteLink {
    pub id: String,
    pub issue: String,
    pub global_id: Option<String>,
    pub title: String,
    pub url: String,
    pub summary: Option<String>,
    pub icon_url: Option<String>,
    pub icon_title: Option<String>,
    /// How the issue relates to it (`Wiki Page`, `links to`…).
    pub relationship: Option<String>,
    /// The linked application's type (`com.atlassian.confluence`) and name.
    pub application_type: Option<String>,
    pub application_name: Option<String>,
}

/// Attachment metadata; the file itself comes from the attachments folder, if supplied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub issue: String,
    pub file_name: String,
    pub mime_type: String,
    pub size: u64,
    pub author: Option<String>,
    pub created: WallMillis,
}

/// An entity property (issue, project or user), where apps keep data too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityProperty {
    pub id: String,
    /// `IssueProperty`, `ProjectProperty`, `UserProperty`.
    pub entity_name: String,
    pub entity_id: String,
    pub key: String,
    /// JSON text.
    pub value: String,
}

/// One change of an issue (`ChangeGroup`): who made it and when; its items say what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeGroup {
    pub id: String,
    pub issue: String,
    /// A user key, or none (a change made by the system or a deleted user).
    pub author: Option<String>,
    pub created: WallMillis,
}

/// One field's change within a change group (`ChangeItem`). The strings are what Jira
/// showed; the values, for fields whose values are ids (status, assignee, versions,
/// options…), are those ids: the load rewrites them to cloud ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeItem {
    pub id: String,
    pub group: String,
    /// A custom field's change (`fieldtype` `custom`; `field` is then the field's name).
    pub custom: bool,
    pub field: String,
    pub old_value: Option<String>,
    pub old_string: Option<String>,
    pub new_value: Option<String>,
    pub new_string: Option<String>,
}

/// Something a site names and describes, and nothing more: a scheme's own row, or a
/// project category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Named {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// An issue security scheme (`IssueSecurityScheme`): the levels a project's issues may be
/// restricted to.
pub type SecurityScheme = Named;

/// A permission scheme (`PermissionScheme`): who may do what in the projects that use it
/// (its grants are [`SchemePermission`]s). Jira's default scheme has the id `0`.
pub type PermissionScheme = Named;

/// A notification scheme (`NotificationScheme`): who is told of which issue events in the
/// projects that use it (its entries are [`Notification`]s). Jira's default has the id
/// `10000`.
pub type NotificationScheme = Named;

/// One entry of a notification scheme (`Notification`): an event type, and whom to tell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub scheme: String,
    /// The event type's id (`eventTypeId`): Jira's system events are 1–17 on Data Center
    /// and Cloud alike.
    pub event: String,
    pub recipient: Recipient,
}

/// The highest id of Jira's system event types (1 Issue Created … 17 Issue Comment
/// Deleted), which Jira Cloud has with the same ids. Higher ids are a site's own.
pub const MAX_SYSTEM_EVENT: u32 = 17;

/// Whom a notification tells (`type` and `parameter` of `Notification`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Recipient {
    CurrentAssignee,
    Reporter,
    CurrentUser,
    ProjectLead,
    ComponentLead,
    AllWatchers,
    /// `Single_User`: the user's key.
    User(String),
    /// `Group_Dropdown`: the group's name.
    Group(String),
    /// `Project_Role`: the role's id.
    ProjectRole(String),
    /// `Single_Email_Address`.
    Email(String),
    /// `User_Custom_Field_Value` and `Group_Custom_Field_Value`: the field's id.
    UserCustomField(String),
    GroupCustomField(String),
}

impl Recipient {
    /// The recipient of a `type` and `parameter` as Jira Data Center writes them, or
    /// `None` for a type Jira Cloud does not know.
    pub fn from_server(recipient_type: &str, parameter: Option<String>) -> Option<Recipient> {
        let required = |p: Option<String>| p.filter(|p| !p.is_empty());
        Some(match recipient_type {
            "Current_Assignee" => Recipient::CurrentAssignee,
            "Current_Reporter" => Recipient::Reporter,
            "Current_User" => Recipient::CurrentUser,
            "Project_Lead" => Recipient::ProjectLead,
            "Component_Lead" => Recipient::ComponentLead,
            "All_Watchers" => Recipient::AllWatchers,
            "Single_User" => Recipient::User(required(parameter)?),
            "Group_Dropdown" => Recipient::Group(required(parameter)?),
            "Project_Role" => Recipient::ProjectRole(required(parameter)?),
            "Single_Email_Address" => Recipient::Email(required(parameter)?),
            "User_Custom_Field_Value" => Recipient::UserCustomField(required(parameter)?),
            "Group_Custom_Field_Value" => Recipient::GroupCustomField(required(parameter)?),
            _ => return None,
        })
    }

    /// The `notificationType` of Jira Cloud's REST API.
    pub fn cloud_type(&self) -> &'static str {
        match self {
            Recipient::CurrentAssignee => "CurrentAssignee",
            Recipient::Reporter => "Reporter",
            Recipient::CurrentUser => "CurrentUser",
            Recipient::ProjectLead => "ProjectLead",
            Recipient::ComponentLead => "ComponentLead",
            Recipient::AllWatchers => "AllWatchers",
            Recipient::User(_) => "User",
            Recipient::Group(_) => "Group",
            Recipient::ProjectRole(_) => "ProjectRole",
            Recipient::Email(_) => "EmailAddress",
            Recipient::UserCustomField(_) => "UserCustomField",
            Recipient::GroupCustomField(_) => "GroupCustomField",
        }
    }

    /// The recipient's `parameter`, if it has one.
    pub fn parameter(&self) -> Option<&str> {
        match self {
            Recipient::User(v)
            | Recipient::Group(v)
            | Recipient::ProjectRole(v)
            | Recipient::Email(v)
            | Recipient::UserCustomField(v)
            | Recipient::GroupCustomField(v) => Some(v),
            Recipient::CurrentAssignee
            | Recipient::Reporter
            | Recipient::CurrentUser
            | Recipient::ProjectLead
            | Recipient::ComponentLead
            | Recipient::AllWatchers => None,
        }
    }
}

/// A project category (`ProjectCategory`), which a project may belong to
/// ([`ProjectScheme`] of type [`SchemeType::Category`]).
pub type ProjectCategory = Named;

/// One key a project has had (`ProjectKey`): Jira keeps every key, the current one
/// included, so that issue keys of before a rename still find their issues.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectKey {
    pub id: String,
    pub project: String,
    pub key: String,
}

/// One grant of a permission scheme (`SchemePermissions`): a project permission, to whom.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchemePermission {
    pub id: String,
    pub scheme: String,
    /// The permission's key (`BROWSE_PROJECTS`); Jira 6's numeric permission ids are read
    /// as the keys Jira 7 gave them.
    pub permission: String,
    pub holder: PermissionHolder,
}

/// Who may see the issues at an issue security level (`SchemeIssueSecurities`): a holder
/// as a permission grant has one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelMember {
    pub id: String,
    pub scheme: String,
    /// The level (`security`).
    pub level: String,
    pub holder: PermissionHolder,
}

/// Jira 6's numeric project permissions (`SchemePermissions.permission`) and the keys
/// Jira 7 gave them (`permissionKey`), which Jira Cloud uses too. The numbers missing here
/// are global permissions, which no scheme holds.
pub const JIRA6_PERMISSIONS: [(u32, &str); 31] = [
    (10, "BROWSE_PROJECTS"),
    (11, "CREATE_ISSUES"),
    (12, "EDIT_ISSUES"),
    (13, "ASSIGN_ISSUES"),
    (14, "RESOLVE_ISSUES"),
    (15, "ADD_COMMENTS"),
    (16, "DELETE_ISSUES"),
    (17, "ASSIGNABLE_USER"),
    (18, "CLOSE_ISSUES"),
    (19, "CREATE_ATTACHMENTS"),
    (20, "WORK_ON_ISSUES"),
    (21, "LINK_ISSUES"),
    (23, "ADMINISTER_PROJECTS"),
    (25, "MOVE_ISSUES"),
    (26, "SET_ISSUE_SECURITY"),
    (28, "SCHEDULE_ISSUES"),
    (29, "VIEW_DEV_TOOLS"),
    (30, "MODIFY_REPORTER"),
    (31, "VIEW_VOTERS_AND_WATCHERS"),
    (32, "MANAGE_WATCHERS"),
    (34, "EDIT_ALL_COMMENTS"),
    (35, "EDIT_OWN_COMMENTS"),
    (36, "DELETE_ALL_COMMENTS"),
    (37, "DELETE_OWN_COMMENTS"),
    (38, "DELETE_ALL_ATTACHMENTS"),
    (39, "DELETE_OWN_ATTACHMENTS"),
    (40, "EDIT_OWN_WORKLOGS"),
    (41, "EDIT_ALL_WORKLOGS"),
    (42, "DELETE_OWN_WORKLOGS"),
    (43, "DELETE_ALL_WORKLOGS"),
    (45, "VIEW_READONLY_WORKFLOW"),
];

/// The key of a Jira 6 numeric project permission.
pub fn jira6_permission_key(number: &str) -> Option<&'static str> {
    let number: u32 = number.trim().parse().ok()?;
    JIRA6_PERMISSIONS
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, key)| *key)
}

/// To whom a permission is granted (`type` and `parameter` of `SchemePermissions`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PermissionHolder {
    /// `group` without a parameter: anyone, logged in or not.
    Anyone,
    /// `group`: the group's name.
    Group(String),
    /// `user`: the user's key.
    User(String),
    /// `projectrole`: the role's id.
    ProjectRole(String),
    /// `applicationRole`: users of one application (`jira-software`), or with no parameter
    /// any logged-in user.
    ApplicationRole(Option<String>),
    /// `reporter`, `lead` and `assignee`: the issue's reporter, the project's lead and the
    /// issue's assignee.
    Reporter,
    ProjectLead,
    Assignee,
    /// `userCF` and `groupCF`: the users or groups a custom field of the issue names (the
    /// field's id).
    UserCustomField(String),
    GroupCustomField(String),
}

impl PermissionHolder {
    /// The `type` Jira Data Center writes for this holder.
    pub fn server_type(&self) -> &'static str {
        match self {
            PermissionHolder::Anyone | PermissionHolder::Group(_) => "group",
            PermissionHolder::User(_) => "user",
            PermissionHolder::ProjectRole(_) => "projectrole",
            PermissionHolder::ApplicationRole(_) => "applicationRole",
            PermissionHolder::Reporter => "reporter",
            PermissionHolder::ProjectLead => "lead",
            PermissionHolder::Assignee => "assignee",
            PermissionHolder::UserCustomField(_) => "userCF",
            PermissionHolder::GroupCustomField(_) => "groupCF",
        }
    }

    /// The holder's `type` in Jira Cloud's REST API.
    pub fn cloud_type(&self) -> &'static str {
        match self {
            PermissionHolder::Anyone => "anyone",
            PermissionHolder::Group(_) => "group",
            PermissionHolder::User(_) => "user",
            PermissionHolder::ProjectRole(_) => "projectRole",
            PermissionHolder::ApplicationRole(_) => "applicationRole",
            PermissionHolder::Reporter => "reporter",
            PermissionHolder::ProjectLead => "projectLead",
            PermissionHolder::Assignee => "assignee",
            PermissionHolder::UserCustomField(_) => "userCustomField",
            PermissionHolder::GroupCustomField(_) => "groupCustomField",
        }
    }

    /// The holder's `parameter`, if it has one.
    pub fn parameter(&self) -> Option<&str> {
        match self {
            PermissionHolder::Group(v)
            | PermissionHolder::User(v)
            | PermissionHolder::ProjectRole(v)
            | PermissionHolder::UserCustomField(v)
            | PermissionHolder::GroupCustomField(v)
            | PermissionHolder::ApplicationRole(Some(v)) => Some(v),
            PermissionHolder::Anyone
            | PermissionHolder::ApplicationRole(None)
            | PermissionHolder::Reporter
            | PermissionHolder::ProjectLead
            | PermissionHolder::Assignee => None,
        }
    }

    /// The holder of a `type` and `parameter` as Jira Data Center writes them, or `None`
    /// for a type Jira Cloud does not know.
    pub fn from_server(holder_type: &str, parameter: Option<String>) -> Option<PermissionHolder> {
        let required = |p: Option<String>| p.filter(|p| !p.is_empty());
        Some(match holder_type {
            "group" => match required(parameter) {
                Some(group) => PermissionHolder::Group(group),
                None => PermissionHolder::Anyone,
            },
            "user" => PermissionHolder::User(required(parameter)?),
            "projectrole" => PermissionHolder::ProjectRole(required(parameter)?),
            "applicationRole" => PermissionHolder::ApplicationRole(required(parameter)),
            "reporter" => PermissionHolder::Reporter,
            "lead" => PermissionHolder::ProjectLead,
            "assignee" => PermissionHolder::Assignee,
            "userCF" => PermissionHolder::UserCustomField(required(parameter)?),
            "groupCF" => PermissionHolder::GroupCustomField(required(parameter)?),
            _ => return None,
        })
    }
}

/// A security level of a scheme (`SchemeIssueSecurityLevels`); an issue at a level is
/// visible only to the level's members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityLevel {
    pub id: String,
    pub scheme: String,
    pub name: String,
    pub description: String,
}

/// The scheme of one type a project uses (`NodeAssociation` of type `ProjectScheme`), or
/// its category (of type `ProjectCategory`). Its id is `project:type:scheme` in server ids
/// (the row has none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectScheme {
    pub id: String,
    pub project: String,
    pub scheme_type: SchemeType,
    pub scheme: String,
}

/// The types of scheme a project's association names that Airlock migrates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchemeType {
    IssueSecurity,
    Permission,
    Notification,
    /// Not a scheme: the project's category, associated the same way.
    Category,
    IssueTypeScreen,
    FieldConfiguration,
    /// Not a `NodeAssociation`: a `ConfigurationContext` of the `issuetype` field names
    /// the project and its issue type scheme.
    IssueType,
    Workflow,
}

impl SchemeType {
    /// The scheme's entity, as `sinkNodeEntity` names it.
    pub fn entity(self) -> &'static str {
        match self {
            SchemeType::IssueSecurity => "IssueSecurityScheme",
            SchemeType::Permission => "PermissionScheme",
            SchemeType::Notification => "NotificationScheme",
            SchemeType::Category => "ProjectCategory",
            SchemeType::IssueTypeScreen => "IssueTypeScreenScheme",
            SchemeType::FieldConfiguration => "FieldLayoutScheme",
            SchemeType::IssueType => "FieldConfigScheme",
            SchemeType::Workflow => "WorkflowScheme",
        }
    }

    /// The kind of record the association points to.
    pub fn kind(self) -> Kind {
        match self {
            SchemeType::IssueSecurity => Kind::SecurityScheme,
            SchemeType::Permission => Kind::PermissionScheme,
            SchemeType::Notification => Kind::NotificationScheme,
            SchemeType::Category => Kind::ProjectCategory,
            SchemeType::IssueTypeScreen => Kind::IssueTypeScreenScheme,
            SchemeType::FieldConfiguration => Kind::FieldConfigurationScheme,
            SchemeType::IssueType => Kind::IssueTypeScheme,
            SchemeType::Workflow => Kind::WorkflowScheme,
        }
    }
}

/// A screen (`FieldScreen`): the fields an issue operation or a workflow transition shows.
pub type Screen = Named;

/// A tab of a screen (`FieldScreenTab`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScreenTab {
    pub id: String,
    pub screen: String,
    pub name: String,
    /// Its place among the screen's tabs (`sequence`).
    pub position: i64,
}

/// A field on a screen's tab (`FieldScreenLayoutItem`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScreenField {
    pub id: String,
    pub tab: String,
    pub field: FieldId,
    /// Its place on the tab (`sequence`).
    pub position: i64,
}

/// A field as screens and field configurations name it (`fieldidentifier`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FieldId {
    /// One of Jira's own fields, the same on every site: `summary`, `assignee`…
    System(String),
    /// A custom field by its id: the server's `10001` until the load rewrites it to the
    /// target's `customfield_10050`.
    Custom(String),
}

impl FieldId {
    /// Reads `summary` or `customfield_10001`.
    pub fn parse(identifier: &str) -> FieldId {
        match identifier.strip_prefix("customfield_") {
            Some(id) if !id.is_empty() => FieldId::Custom(id.to_owned()),
            _ => FieldId::System(identifier.to_owned()),
        }
    }

    /// The field's id as Jira's REST API names it (`summary`, `customfield_10050`).
    pub fn key(&self) -> String {
        match self {
            FieldId::System(id) => id.clone(),
            FieldId::Custom(id) if id.starts_with("customfield_") => id.clone(),
            FieldId::Custom(id) => format!("customfield_{id}"),
        }
    }
}

/// The issue operations a screen scheme gives a screen to (`FieldScreenSchemeItem`'s
/// `operation`: 0, 1, 2; none is the scheme's default screen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScreenOperation {
    Default,
    Create,
    Edit,
    View,
}

impl ScreenOperation {
    /// From the row's `operation` (empty for the default).
    pub fn parse(operation: Option<&str>) -> Option<ScreenOperation> {
        match operation.map(str::trim) {
            None | Some("") => Some(ScreenOperation::Default),
            Some("0") => Some(ScreenOperation::Create),
            Some("1") => Some(ScreenOperation::Edit),
            Some("2") => Some(ScreenOperation::View),
            Some(_) => None,
        }
    }

    /// As Jira Cloud's REST API names it (`screens.default`, `screens.create`…).
    pub fn as_str(self) -> &'static str {
        match self {
            ScreenOperation::Default => "default",
            ScreenOperation::Create => "create",
            ScreenOperation::Edit => "edit",
            ScreenOperation::View => "view",
        }
    }
}

/// A screen scheme (`FieldScreenScheme`) with the screen of each operation (its
/// `FieldScreenSchemeItem` rows, folded in: Jira Cloud creates a scheme with its screens).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScreenScheme {
    pub id: String,
    pub name: String,
    pub description: String,
    /// One screen per operation, the default first; a scheme has a default.
    pub screens: Vec<(ScreenOperation, String)>,
}

/// An issue type screen scheme (`IssueTypeScreenScheme`) with the screen scheme of each
/// issue type (its `IssueTypeScreenSchemeEntity` rows, folded in).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueTypeScreenScheme {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The default (no issue type) first, then each issue type's.
    pub mappings: Vec<IssueTypeMapping>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueTypeMapping {
    /// None: every issue type not mapped otherwise.
    pub issue_type: Option<String>,
    pub screen_scheme: String,
}

/// A field configuration (`FieldLayout`): how each field behaves (hidden, required, its
/// renderer) where it applies. The source's default one (`type` `default`) is one too.
pub type FieldConfiguration = Named;

/// How one field behaves in a field configuration (`FieldLayoutItem`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldConfigurationItem {
    pub id: String,
    pub configuration: String,
    pub field: FieldId,
    pub description: String,
    pub hidden: bool,
    pub required: bool,
    /// `jira-text-renderer`, `atlassian-wiki-renderer`…; empty for a field without one.
    pub renderer: String,
}

/// A field configuration scheme (`FieldLayoutScheme`) with the field configuration of each
/// issue type (its `FieldLayoutSchemeEntity` rows, folded in).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldConfigurationScheme {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The default (no issue type) first, then each issue type's.
    pub mappings: Vec<FieldConfigurationMapping>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldConfigurationMapping {
    /// None: every issue type not mapped otherwise.
    pub issue_type: Option<String>,
    /// None: the site's own default field configuration (a row naming none).
    pub configuration: Option<String>,
}

/// An issue type scheme: the `FieldConfigScheme` of the `issuetype` field, with the issue
/// types its configuration lists (`OptionConfiguration` rows) and the one new issues
/// default to (its `GenericConfiguration`), folded in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueTypeScheme {
    pub id: String,
    pub name: String,
    pub description: String,
    /// In the scheme's order (`sequence`).
    pub issue_types: Vec<String>,
    /// The issue type new issues default to, if the scheme sets one.
    pub default_issue_type: Option<String>,
    /// The site's default scheme (its context is global): every project without a scheme
    /// of its own uses it. The target's own default takes its place, as Jira gives that
    /// one every issue type.
    pub global: bool,
}

/// A workflow (`Workflow`), read from its OSWorkflow descriptor: its steps, each one
/// status, and the transitions between them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub id: String,
    pub name: String,
    /// The descriptor's `jira.description`.
    pub description: String,
    /// In the descriptor's order.
    pub steps: Vec<WorkflowStep>,
    /// The initial action first, then the global ones, then the steps' in step order (a
    /// common action once, from every step that offers it).
    pub transitions: Vec<WorkflowTransition>,
}

/// A step of a workflow: the place an issue in one status is at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStep {
    /// The step's id in the descriptor (`1`, `2`…): transitions name it.
    pub id: String,
    pub name: String,
    /// Its status (`jira.status.id`).
    pub status: String,
}

/// How a transition is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransitionKind {
    /// Creates the issue (an initial action).
    Initial,
    /// From any step (a global action).
    Global,
    /// From the steps it lists.
    Directed,
}

impl TransitionKind {
    /// As Jira Cloud's workflow API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Initial => "INITIAL",
            TransitionKind::Global => "GLOBAL",
            TransitionKind::Directed => "DIRECTED",
        }
    }
}

/// A transition of a workflow (an OSWorkflow action).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowTransition {
    /// The action's id in the descriptor.
    pub id: String,
    pub name: String,
    pub description: String,
    pub kind: TransitionKind,
    /// The steps it leaves from (ids of [`Workflow::steps`]); empty unless directed.
    pub from: Vec<String>,
    /// The step it leads to.
    pub to: String,
    /// The screen it shows (`jira.fieldscreen.id`), if any.
    pub screen: Option<String>,
}

/// A workflow scheme (`WorkflowScheme`) with the workflow of each issue type (its
/// `WorkflowSchemeEntity` rows, folded in; they name workflows by name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowScheme {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The default (no issue type) first, if the scheme has one (without, Jira uses its
    /// built-in workflow), then each issue type's.
    pub mappings: Vec<WorkflowMapping>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowMapping {
    /// None: every issue type not mapped otherwise.
    pub issue_type: Option<String>,
    /// A [`Workflow`]'s id; None: Jira's built-in workflow (`jira`), which every site has.
    pub workflow: Option<String>,
}

/// A project role (`ProjectRole`): a named role projects give to users and groups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectRole {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// Who plays a project role (`ProjectRoleActor`): a user or a group, in one project, or
/// for every new project (a role's *default* actors, which Jira gives each project created
/// after them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectRoleActor {
    pub id: String,
    /// The project (`pid`); `None` for a default actor of the role.
    pub project: Option<String>,
    /// The project role (`projectroleid`).
    pub role: String,
    /// Who (`roletype` and `roletypeparameter`).
    pub actor: RoleActor,
}

/// A project role's actor: a user (by key) or a group (by name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleActor {
    /// `atlassian-user-role-actor`: the user's key.
    User(String),
    /// `atlassian-group-role-actor`: the group's name.
    Group(String),
}

impl RoleActor {
    /// The `roletype` Jira writes for this kind of actor.
    pub fn role_type(&self) -> &'static str {
        match self {
            RoleActor::User(_) => USER_ROLE_ACTOR,
            RoleActor::Group(_) => GROUP_ROLE_ACTOR,
        }
    }

    /// The user's key or account id, or the group's name.
    pub fn name(&self) -> &str {
        match self {
            RoleActor::User(v) | RoleActor::Group(v) => v,
        }
    }
}

/// The `roletype` of a user actor.
pub const USER_ROLE_ACTOR: &str = "atlassian-user-role-actor";
/// The `roletype` of a group actor.
pub const GROUP_ROLE_ACTOR: &str = "atlassian-group-role-actor";

/// A user watching or voting for an issue (`UserAssociation`). The row has no id of its
/// own: the record's is `issue:user` in server ids, kept when the references are
/// rewritten so a target finds it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueUser {
    pub id: String,
    pub issue: String,
    /// A user key.
    pub user: String,
    pub created: Option<WallMillis>,
}

/// A saved filter (`SearchRequest`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The owner's user key.
    pub owner: String,
    /// The query. Its ids (`project = 10000`, `cf[10100]`…) are server ids until the load
    /// rewrites them ([`crate::Namespace`] by field; see `airlock-jql`).
    pub jql: String,
    pub favourites: u64,
}

/// Who a filter is shared with (`SharePermissions` of a `SearchRequest`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FilterShare {
    pub id: String,
    pub filter: String,
    pub share: Share,
    /// Those shared with may edit the filter too (`rights` 3), not only view it (1).
    pub edit: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Share {
    /// Everyone, anonymous users included (`global`).
    Global,
    /// Every logged-in user (`loggedin`, `authenticated`).
    LoggedIn,
    /// Members of a group, by name.
    Group(String),
    /// Members of a project, or of one role in it (`project`, param1 = project id,
    /// param2 = role id or empty).
    Project {
        project: String,
        role: Option<String>,
    },
    /// One user, by key.
    User(String),
}

impl Share {
    /// The name Jira Cloud's REST API gives this kind of share.
    pub fn type_name(&self) -> &'static str {
        match self {
            Share::Global => "global",
            Share::LoggedIn => "authenticated",
            Share::Group(_) => "group",
            Share::Project { role: None, .. } => "project",
            Share::Project { role: Some(_), .. } => "projectRole",
            Share::User(_) => "user",
        }
    }
}

/// A dashboard (`PortalPage`). The site's system dashboard (no owner: what every user
/// sees until they pick one) is one too, flagged: Jira Cloud keeps its own, so it
/// arrives as a dashboard of its own beside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The owner's user key; empty for the system dashboard (or once a deleted owner is
    /// cleared).
    pub owner: String,
    /// The source's system dashboard (`username` empty).
    pub system: bool,
    /// Its columns: `A` (one), `AA`, `AB` (narrow, wide), `BA`, `AAA`.
    pub layout: String,
    pub favourites: u64,
}

/// Who a dashboard is shared with (`SharePermissions` of a `PortalPage`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardShare {
    pub id: String,
    pub dashboard: String,
    pub share: Share,
    /// Those shared with may edit the dashboard too (`rights` 3), not only view it.
    pub edit: bool,
}

/// A gadget on a dashboard (`PortletConfiguration`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gadget {
    pub id: String,
    pub dashboard: String,
    /// Its column, from 0, and its place in the column, from 0.
    pub column: u32,
    pub row: u32,
    /// An OpenSocial gadget's spec (`gadgetXml`):
    /// `rest/gadgets/1.0/g/com.atlassian.jira.gadgets:filter-results-gadget/gadgets/filter-results-gadget.xml`.
    pub uri: Option<String>,
    /// A dashboard item's module (`dashboardModuleCompleteKey`, Jira 7+):
    /// `com.atlassian.jira.gadgets:filter-results-dashboard-item`.
    pub module_key: Option<String>,
    /// `color1` … `color8`.
    pub color: String,
}

/// One setting of a gadget (`GadgetUserPreference`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GadgetPreference {
    pub id: String,
    pub gadget: String,
    pub key: String,
    pub value: PreferenceValue,
}

/// A gadget setting's value: text, or the id of what the gadget shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PreferenceValue {
    Text(String),
    /// A record of `kind` (a filter, project, board or sprint) by id, written
    /// `<prefix><id>`: `filter-10100`, `project-10000`, or `10100` (no prefix).
    Id {
        kind: Kind,
        prefix: String,
        id: String,
    },
}

impl PreferenceValue {
    /// Reads a setting as Jira's gadgets write it: `filterId`, `projectOrFilterId`,
    /// `projectId`, `rapidViewId` and `sprintId` name records (`filter-10100`,
    /// `project-10000` or bare digits); every other setting, or a value naming nothing
    /// (`jql-…`, empty), is text.
    pub fn parse(key: &str, value: &str) -> PreferenceValue {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let bare = match key {
            "filterId" => Some(Kind::Filter),
            "projectId" => Some(Kind::Project),
            "rapidViewId" => Some(Kind::Board),
            "sprintId" => Some(Kind::Sprint),
            "projectOrFilterId" => None,
            _ => return PreferenceValue::Text(value.to_owned()),
        };
        for (prefix, kind) in [("filter-", Kind::Filter), ("project-", Kind::Project)] {
            if let Some(id) = value.strip_prefix(prefix)
                && digits(id)
            {
                return PreferenceValue::Id {
                    kind,
                    prefix: prefix.to_owned(),
                    id: id.to_owned(),
                };
            }
        }
        match bare {
            Some(kind) if digits(value) => PreferenceValue::Id {
                kind,
                prefix: String::new(),
                id: value.to_owned(),
            },
            _ => PreferenceValue::Text(value.to_owned()),
        }
    }

    /// The value as the gadget reads it.
    pub fn text(&self) -> String {
        match self {
            PreferenceValue::Text(t) => t.clone(),
            PreferenceValue::Id { prefix, id, .. } => format!("{prefix}{id}"),
        }
    }
}

/// Epoch milliseconds (UTC), as Jira Software keeps its dates (`BIGINT` columns), unlike
/// entities.xml's wall-clock dates.
pub type EpochMillis = i64;

/// A Jira Software board (`AO_60DB71_RAPIDVIEW`): the issues of its saved filter, in
/// columns. Scrum boards plan sprints; Kanban boards do not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Board {
    pub id: String,
    pub name: String,
    /// The owner's user key (`OWNER_USER_NAME` holds a key despite its name), if any.
    pub owner: Option<String>,
    /// The saved filter that selects the board's issues.
    pub filter: String,
    /// Scrum (sprints) rather than Kanban.
    pub sprints_enabled: bool,
    /// A Kanban board with a backlog.
    pub kanban_backlog: bool,
    /// `none`, `custom` (the board's swimlane queries), `assignee`, `epic`, `project`…
    pub swimlane_strategy: String,
}

/// A sprint of a board (`AO_60DB71_SPRINT`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sprint {
    pub id: String,
    /// The board it was created on.
    pub board: String,
    pub name: String,
    pub goal: String,
    pub state: SprintState,
    pub start: Option<EpochMillis>,
    pub end: Option<EpochMillis>,
    pub completed: Option<EpochMillis>,
    /// Its place among the board's sprints.
    pub sequence: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SprintState {
    Future,
    Active,
    Closed,
}

impl SprintState {
    /// From the row's `STARTED` and `CLOSED` flags.
    pub fn of(started: bool, closed: bool) -> SprintState {
        match (started, closed) {
            (_, true) => SprintState::Closed,
            (true, false) => SprintState::Active,
            (false, false) => SprintState::Future,
        }
    }

    /// As Jira Software's REST API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            SprintState::Future => "future",
            SprintState::Active => "active",
            SprintState::Closed => "closed",
        }
    }
}

/// A column of a board (`AO_60DB71_COLUMN`), with its issue count limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoardColumn {
    pub id: String,
    pub board: String,
    pub name: String,
    pub position: i64,
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// A status shown in a board's column (`AO_60DB71_COLUMNSTATUS`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnStatus {
    pub id: String,
    pub column: String,
    pub status: String,
    pub position: i64,
}

/// A board's swimlane (`AO_60DB71_SWIMLANE`) or quick filter (`AO_60DB71_QUICKFILTER`):
/// a named JQL query. Its ids are server ids until the load rewrites them, as a filter's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoardQuery {
    pub id: String,
    pub board: String,
    pub name: String,
    pub description: String,
    pub jql: String,
    pub position: i64,
}

/// A field a board's cards show (`AO_60DB71_CARDLAYOUT`), in its backlog or on the board.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardField {
    pub id: String,
    pub board: String,
    pub field: FieldId,
    pub mode: CardMode,
    /// Its place among the mode's fields (`POS`).
    pub position: i64,
}

/// Where a card shows a field: the backlog (`PLAN`) or the board (`WORK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CardMode {
    Plan,
    Work,
}

impl CardMode {
    pub fn parse(mode: &str) -> Option<CardMode> {
        match mode.trim() {
            "PLAN" => Some(CardMode::Plan),
            "WORK" => Some(CardMode::Work),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CardMode::Plan => "PLAN",
            CardMode::Work => "WORK",
        }
    }
}

/// A colour a board's cards take (`AO_60DB71_CARDCOLOR`), by the board's strategy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardColor {
    pub id: String,
    pub board: String,
    /// `#rrggbb`.
    pub color: String,
    pub position: i64,
    pub value: CardColorValue,
}

/// What a card colour applies to (`STRATEGY` and `VAL`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CardColorValue {
    IssueType(String),
    Priority(String),
    /// A user key.
    Assignee(String),
    /// A JQL query, its ids rewritten as a filter's.
    Query(String),
}

impl CardColorValue {
    /// From the row's strategy and value; None for a strategy Jira Software lacks.
    pub fn parse(strategy: &str, value: String) -> Option<CardColorValue> {
        Some(match strategy.trim() {
            "issuetype" => CardColorValue::IssueType(value),
            "priority" => CardColorValue::Priority(value),
            "assignee" => CardColorValue::Assignee(value),
            "custom" => CardColorValue::Query(value),
            _ => return None,
        })
    }

    /// The strategy and value as Jira Software writes them.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            CardColorValue::IssueType(v) => ("issuetype", v),
            CardColorValue::Priority(v) => ("priority", v),
            CardColorValue::Assignee(v) => ("assignee", v),
            CardColorValue::Query(v) => ("custom", v),
        }
    }
}

/// An issue in a sprint: one value of the Sprint custom field
/// (`com.pyxis.greenhopper.jira:gh-sprint`); its id is the `CustomFieldValue` row's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueSprint {
    pub id: String,
    pub issue: String,
    pub sprint: String,
}

/// An issue's rank (`AO_60DB71_LEXORANK`): LexoRank text whose order is the boards'
/// and backlogs' order of issues.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueRank {
    pub id: String,
    pub issue: String,
    /// The Rank custom field.
    pub field: String,
    /// `0|i0000f:` — bucket, then the rank; compared as text.
    pub rank: String,
}

/// One core record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record {
    User(User),
    Group(Group),
    Membership(Membership),
    IssueType(Constant),
    Status(Constant),
    Priority(Constant),
    Resolution(Constant),
    ProjectRole(ProjectRole),
    SecurityScheme(SecurityScheme),
    SecurityLevel(SecurityLevel),
    ProjectCategory(ProjectCategory),
    Project(Project),
    ProjectKey(ProjectKey),
    ProjectRoleActor(ProjectRoleActor),
    Component(Component),
    Version(Version),
    CustomField(CustomField),
    FieldContext(FieldContext),
    CustomFieldOption(CustomFieldOption),
    IssueLinkType(IssueLinkType),
    PermissionScheme(PermissionScheme),
    SchemePermission(SchemePermission),
    SecurityLevelMember(LevelMember),
    NotificationScheme(NotificationScheme),
    Notification(Notification),
    ProjectScheme(ProjectScheme),
    Issue(Issue),
    CustomFieldValue(CustomFieldValue),
    Label(Label),
    IssueVersion(IssueVersion),
    Comment(Comment),
    Worklog(Worklog),
    IssueLink(IssueLink),
    RemoteLink(RemoteLink),
    Watcher(IssueUser),
    Vote(IssueUser),
    Attachment(Attachment),
    ChangeGroup(ChangeGroup),
    ChangeItem(ChangeItem),
    EntityProperty(EntityProperty),
    Filter(Filter),
    FilterShare(FilterShare),
    Board(Board),
    Sprint(Sprint),
    BoardColumn(BoardColumn),
    ColumnStatus(ColumnStatus),
    Swimlane(BoardQuery),
    QuickFilter(BoardQuery),
    IssueSprint(IssueSprint),
    IssueRank(IssueRank),
    // Appended, not in load order: a variant's place is its staged tag.
    Dashboard(Dashboard),
    DashboardShare(DashboardShare),
    Gadget(Gadget),
    GadgetPreference(GadgetPreference),
    Screen(Screen),
    ScreenTab(ScreenTab),
    ScreenField(ScreenField),
    ScreenScheme(ScreenScheme),
    IssueTypeScreenScheme(IssueTypeScreenScheme),
    FieldConfiguration(FieldConfiguration),
    FieldConfigurationItem(FieldConfigurationItem),
    FieldConfigurationScheme(FieldConfigurationScheme),
    IssueTypeScheme(IssueTypeScheme),
    Workflow(Workflow),
    WorkflowScheme(WorkflowScheme),
    CardField(CardField),
    CardColor(CardColor),
}

/// What a reference points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A record of this kind, by id (users by key, groups by name).
    Kind(Kind),
    /// A user by lower-case user name (memberships).
    UserName,
}

/// A permission holder's reference (its parameter), for [`each_ref`]. An application is
/// the target's (Atlassian administration's), not data.
macro_rules! holder_refs {
    ($holder:expr, $g:ident) => {
        match $holder {
            PermissionHolder::Group(v) => $g("parameter", Target::Kind(Kind::Group), v),
            PermissionHolder::User(v) => $g("parameter", Target::Kind(Kind::User), v),
            PermissionHolder::ProjectRole(v) => $g("parameter", Target::Kind(Kind::ProjectRole), v),
            PermissionHolder::UserCustomField(v) | PermissionHolder::GroupCustomField(v) => {
                $g("parameter", Target::Kind(Kind::CustomField), v)
            }
            PermissionHolder::ApplicationRole(_)
            | PermissionHolder::Anyone
            | PermissionHolder::Reporter
            | PermissionHolder::ProjectLead
            | PermissionHolder::Assignee => {}
        }
    };
}

/// A share's references (group, project and role, or user), for [`each_ref`].
macro_rules! share_refs {
    ($share:expr, $g:ident) => {
        match $share {
            Share::Group(group) => $g("param1", Target::Kind(Kind::Group), group),
            Share::Project { project, role } => {
                $g("param1", Target::Kind(Kind::Project), project);
                if let Some(role) = role {
                    $g("param2", Target::Kind(Kind::ProjectRole), role);
                }
            }
            Share::User(user) => $g("param1", Target::Kind(Kind::User), user),
            Share::Global | Share::LoggedIn => {}
        }
    };
}

/// The one list of every record's references, walked by shared or mutable borrow.
macro_rules! each_ref {
    ($record:expr, $g:ident, $($m:tt)?) => {{
        use Kind as K;
        use Target::Kind as T;
        match $record {
            Record::Membership(r) => {
                $g("group", T(K::Group), &$($m)? r.group);
                $g("user", Target::UserName, &$($m)? r.user_name);
            }
            Record::Project(r) => $g("lead", T(K::User), &$($m)? r.lead),
            Record::ProjectKey(r) => $g("projectId", T(K::Project), &$($m)? r.project),
            Record::Notification(r) => {
                $g("scheme", T(K::NotificationScheme), &$($m)? r.scheme);
                match &$($m)? r.recipient {
                    Recipient::User(v) => $g("parameter", T(K::User), v),
                    Recipient::Group(v) => $g("parameter", T(K::Group), v),
                    Recipient::ProjectRole(v) => $g("parameter", T(K::ProjectRole), v),
                    Recipient::UserCustomField(v) | Recipient::GroupCustomField(v) => {
                        $g("parameter", T(K::CustomField), v)
                    }
                    Recipient::Email(_)
                    | Recipient::CurrentAssignee
                    | Recipient::Reporter
                    | Recipient::CurrentUser
                    | Recipient::ProjectLead
                    | Recipient::ComponentLead
                    | Recipient::AllWatchers => {}
                }
            }
            Record::SecurityLevelMember(r) => {
                $g("scheme", T(K::SecurityScheme), &$($m)? r.scheme);
                $g("security", T(K::SecurityLevel), &$($m)? r.level);
                holder_refs!(&$($m)? r.holder, $g);
            }
            Record::SchemePermission(r) => {
                $g("scheme", T(K::PermissionScheme), &$($m)? r.scheme);
                holder_refs!(&$($m)? r.holder, $g);
            }
            Record::ProjectRoleActor(r) => {
                if let Some(v) = &$($m)? r.project {
                    $g("pid", T(K::Project), v);
                }
                $g("projectroleid", T(K::ProjectRole), &$($m)? r.role);
                match &$($m)? r.actor {
                    RoleActor::User(user) => $g("roletypeparameter", T(K::User), user),
                    RoleActor::Group(group) => $g("roletypeparameter", T(K::Group), group),
                }
            }
            Record::Component(r) => {
                $g("project", T(K::Project), &$($m)? r.project);
                $g("lead", T(K::User), &$($m)? r.lead);
            }
            Record::Version(r) => $g("project", T(K::Project), &$($m)? r.project),
            Record::CustomFieldOption(r) => {
                $g("customfield", T(K::CustomField), &$($m)? r.field);
                if let Some(v) = &$($m)? r.context {
                    $g("customfieldconfig", T(K::FieldContext), v);
                }
                if let Some(v) = &$($m)? r.parent {
                    $g("parentoptionid", T(K::CustomFieldOption), v);
                }
            }
            Record::Issue(r) => {
                $g("project", T(K::Project), &$($m)? r.project);
                $g("type", T(K::IssueType), &$($m)? r.issue_type);
                $g("status", T(K::Status), &$($m)? r.status);
                if let Some(v) = &$($m)? r.priority {
                    $g("priority", T(K::Priority), v);
                }
                if let Some(v) = &$($m)? r.resolution {
                    $g("resolution", T(K::Resolution), v);
                }
                if let Some(v) = &$($m)? r.reporter {
                    $g("reporter", T(K::User), v);
                }
                if let Some(v) = &$($m)? r.assignee {
                    $g("assignee", T(K::User), v);
                }
                if let Some(v) = &$($m)? r.security {
                    $g("security", T(K::SecurityLevel), v);
                }
            }
            Record::SecurityLevel(r) => $g("scheme", T(K::SecurityScheme), &$($m)? r.scheme),
            // Its projects and issue types are checked when it is read: a deleted one
            // leaves the context (and the row naming it is skipped), not the field.
            Record::FieldContext(r) => {
                $g("fieldid", T(K::CustomField), &$($m)? r.field);
                for v in &$($m)? r.projects {
                    $g("project", T(K::Project), v);
                }
                for v in &$($m)? r.issue_types {
                    $g("issuetype", T(K::IssueType), v);
                }
            }
            Record::ProjectScheme(r) => {
                $g("sourceNodeId", T(K::Project), &$($m)? r.project);
                $g("sinkNodeId", T(r.scheme_type.kind()), &$($m)? r.scheme);
            }
            Record::CustomFieldValue(r) => {
                $g("issue", T(K::Issue), &$($m)? r.issue);
                $g("customfield", T(K::CustomField), &$($m)? r.field);
                if let FieldValue::Option(option) = &$($m)? r.value {
                    $g("value", T(K::CustomFieldOption), option);
                }
            }
            Record::Label(r) => $g("issue", T(K::Issue), &$($m)? r.issue),
            Record::IssueVersion(r) => {
                $g("sourceNodeId", T(K::Issue), &$($m)? r.issue);
                let target = match r.association {
                    Association::Component => K::Component,
                    Association::AffectsVersion | Association::FixVersion => K::Version,
                };
                $g("sinkNodeId", T(target), &$($m)? r.target);
            }
            Record::Comment(r) => {
                $g("issue", T(K::Issue), &$($m)? r.issue);
                if let Some(v) = &$($m)? r.author {
                    $g("author", T(K::User), v);
                }
            }
            Record::Worklog(r) => {
                $g("issue", T(K::Issue), &$($m)? r.issue);
                if let Some(v) = &$($m)? r.author {
                    $g("author", T(K::User), v);
                }
            }
            Record::IssueLink(r) => {
                $g("linktype", T(K::IssueLinkType), &$($m)? r.link_type);
                $g("source", T(K::Issue), &$($m)? r.source);
                $g("destination", T(K::Issue), &$($m)? r.destination);
            }
            Record::RemoteLink(r) => $g("issueid", T(K::Issue), &$($m)? r.issue),
            Record::Attachment(r) => {
                $g("issue", T(K::Issue), &$($m)? r.issue);
                if let Some(v) = &$($m)? r.author {
                    $g("author", T(K::User), v);
                }
            }
            Record::Watcher(r) | Record::Vote(r) => {
                $g("sinkNodeId", T(K::Issue), &$($m)? r.issue);
                $g("sourceName", T(K::User), &$($m)? r.user);
            }
            Record::Filter(r) => $g("user", T(K::User), &$($m)? r.owner),
            Record::ChangeGroup(r) => {
                $g("issue", T(K::Issue), &$($m)? r.issue);
                if let Some(v) = &$($m)? r.author {
                    $g("author", T(K::User), v);
                }
            }
            // Its values are ids of the field's kind, rewritten apart (they may be gone).
            Record::ChangeItem(r) => $g("group", T(K::ChangeGroup), &$($m)? r.group),
            Record::FilterShare(r) => {
                $g("entityId", T(K::Filter), &$($m)? r.filter);
                share_refs!(&$($m)? r.share, $g);
            }
            Record::Dashboard(r) => $g("username", T(K::User), &$($m)? r.owner),
            Record::DashboardShare(r) => {
                $g("entityId", T(K::Dashboard), &$($m)? r.dashboard);
                share_refs!(&$($m)? r.share, $g);
            }
            Record::Gadget(r) => $g("portalpage", T(K::Dashboard), &$($m)? r.dashboard),
            Record::ScreenTab(r) => $g("fieldscreen", T(K::Screen), &$($m)? r.screen),
            Record::ScreenField(r) => {
                $g("fieldscreentab", T(K::ScreenTab), &$($m)? r.tab);
                if let FieldId::Custom(id) = &$($m)? r.field {
                    $g("fieldidentifier", T(K::CustomField), id);
                }
            }
            // Rows naming a deleted screen, issue type or screen scheme are left out as
            // they are folded in, so the scheme keeps the rest.
            Record::ScreenScheme(r) => {
                for (_, screen) in &$($m)? r.screens {
                    $g("fieldscreen", T(K::Screen), screen);
                }
            }
            Record::FieldConfigurationItem(r) => {
                $g("fieldlayout", T(K::FieldConfiguration), &$($m)? r.configuration);
                if let FieldId::Custom(id) = &$($m)? r.field {
                    $g("fieldidentifier", T(K::CustomField), id);
                }
            }
            Record::FieldConfigurationScheme(r) => {
                for m in &$($m)? r.mappings {
                    if let Some(v) = &$($m)? m.issue_type {
                        $g("issuetype", T(K::IssueType), v);
                    }
                    if let Some(v) = &$($m)? m.configuration {
                        $g("fieldlayout", T(K::FieldConfiguration), v);
                    }
                }
            }
            Record::IssueTypeScreenScheme(r) => {
                for m in &$($m)? r.mappings {
                    if let Some(v) = &$($m)? m.issue_type {
                        $g("issuetype", T(K::IssueType), v);
                    }
                    $g("fieldscreenscheme", T(K::ScreenScheme), &$($m)? m.screen_scheme);
                }
            }
            Record::IssueTypeScheme(r) => {
                for v in &$($m)? r.issue_types {
                    $g("optionid", T(K::IssueType), v);
                }
                if let Some(v) = &$($m)? r.default_issue_type {
                    $g("xmlvalue", T(K::IssueType), v);
                }
            }
            Record::Workflow(r) => {
                for step in &$($m)? r.steps {
                    $g("jira.status.id", T(K::Status), &$($m)? step.status);
                }
                for t in &$($m)? r.transitions {
                    if let Some(v) = &$($m)? t.screen {
                        $g("jira.fieldscreen.id", T(K::Screen), v);
                    }
                }
            }
            Record::WorkflowScheme(r) => {
                for m in &$($m)? r.mappings {
                    if let Some(v) = &$($m)? m.issue_type {
                        $g("issuetype", T(K::IssueType), v);
                    }
                    if let Some(v) = &$($m)? m.workflow {
                        $g("workflow", T(K::Workflow), v);
                    }
                }
            }
            Record::GadgetPreference(r) => {
                $g("portletconfiguration", T(K::Gadget), &$($m)? r.gadget);
                if let PreferenceValue::Id { kind, id, .. } = &$($m)? r.value {
                    $g("userprefvalue", T(*kind), id);
                }
            }
            Record::Board(r) => {
                if let Some(v) = &$($m)? r.owner {
                    $g("OWNER_USER_NAME", T(K::User), v);
                }
                $g("SAVED_FILTER_ID", T(K::Filter), &$($m)? r.filter);
            }
            Record::Sprint(r) => $g("RAPID_VIEW_ID", T(K::Board), &$($m)? r.board),
            Record::BoardColumn(r) => $g("RAPID_VIEW_ID", T(K::Board), &$($m)? r.board),
            Record::ColumnStatus(r) => {
                $g("COLUMN_ID", T(K::BoardColumn), &$($m)? r.column);
                $g("STATUS_ID", T(K::Status), &$($m)? r.status);
            }
            // Their queries' ids are rewritten apart, as filters' are.
            Record::Swimlane(r) | Record::QuickFilter(r) => {
                $g("RAPID_VIEW_ID", T(K::Board), &$($m)? r.board)
            }
            Record::CardField(r) => {
                $g("RAPID_VIEW_ID", T(K::Board), &$($m)? r.board);
                if let FieldId::Custom(id) = &$($m)? r.field {
                    $g("FIELD_ID", T(K::CustomField), id);
                }
            }
            // A query's ids are rewritten apart, as filters' are.
            Record::CardColor(r) => {
                $g("RAPID_VIEW_ID", T(K::Board), &$($m)? r.board);
                match &$($m)? r.value {
                    CardColorValue::IssueType(v) => $g("VAL", T(K::IssueType), v),
                    CardColorValue::Priority(v) => $g("VAL", T(K::Priority), v),
                    CardColorValue::Assignee(v) => $g("VAL", T(K::User), v),
                    CardColorValue::Query(_) => {}
                }
            }
            Record::IssueSprint(r) => {
                $g("issue", T(K::Issue), &$($m)? r.issue);
                $g("stringvalue", T(K::Sprint), &$($m)? r.sprint);
            }
            Record::IssueRank(r) => {
                $g("ISSUE_ID", T(K::Issue), &$($m)? r.issue);
                $g("FIELD_ID", T(K::CustomField), &$($m)? r.field);
            }
            Record::EntityProperty(r) => {
                let target = match r.entity_name.as_str() {
                    "IssueProperty" => Some(K::Issue),
                    "ProjectProperty" => Some(K::Project),
                    "UserProperty" => Some(K::User),
                    _ => None,
                };
                if let Some(target) = target {
                    $g("entityId", T(target), &$($m)? r.entity_id);
                }
            }
            Record::User(_)
            | Record::Group(_)
            | Record::IssueType(_)
            | Record::Status(_)
            | Record::Priority(_)
            | Record::Resolution(_)
            | Record::ProjectRole(_)
            | Record::SecurityScheme(_)
            | Record::ProjectCategory(_)
            | Record::PermissionScheme(_)
            | Record::NotificationScheme(_)
            | Record::Screen(_)
            | Record::FieldConfiguration(_)
            | Record::CustomField(_)
            | Record::IssueLinkType(_) => {}
        }
    }};
}

impl Record {
    pub fn kind(&self) -> Kind {
        match self {
            Record::User(_) => Kind::User,
            Record::Group(_) => Kind::Group,
            Record::Membership(_) => Kind::Membership,
            Record::IssueType(_) => Kind::IssueType,
            Record::Status(_) => Kind::Status,
            Record::Priority(_) => Kind::Priority,
            Record::Resolution(_) => Kind::Resolution,
            Record::ProjectRole(_) => Kind::ProjectRole,
            Record::SecurityScheme(_) => Kind::SecurityScheme,
            Record::SecurityLevel(_) => Kind::SecurityLevel,
            Record::ProjectCategory(_) => Kind::ProjectCategory,
            Record::Project(_) => Kind::Project,
            Record::ProjectKey(_) => Kind::ProjectKey,
            Record::PermissionScheme(_) => Kind::PermissionScheme,
            Record::SchemePermission(_) => Kind::SchemePermission,
            Record::SecurityLevelMember(_) => Kind::SecurityLevelMember,
            Record::NotificationScheme(_) => Kind::NotificationScheme,
            Record::Notification(_) => Kind::Notification,
            Record::ProjectRoleActor(_) => Kind::ProjectRoleActor,
            Record::Component(_) => Kind::Component,
            Record::Version(_) => Kind::Version,
            Record::CustomField(_) => Kind::CustomField,
            Record::FieldContext(_) => Kind::FieldContext,
            Record::CustomFieldOption(_) => Kind::CustomFieldOption,
            Record::IssueLinkType(_) => Kind::IssueLinkType,
            Record::ProjectScheme(_) => Kind::ProjectScheme,
            Record::Issue(_) => Kind::Issue,
            Record::CustomFieldValue(_) => Kind::CustomFieldValue,
            Record::Label(_) => Kind::Label,
            Record::IssueVersion(_) => Kind::IssueVersion,
            Record::Comment(_) => Kind::Comment,
            Record::Worklog(_) => Kind::Worklog,
            Record::IssueLink(_) => Kind::IssueLink,
            Record::RemoteLink(_) => Kind::RemoteLink,
            Record::Watcher(_) => Kind::Watcher,
            Record::Vote(_) => Kind::Vote,
            Record::Attachment(_) => Kind::Attachment,
            Record::ChangeGroup(_) => Kind::ChangeGroup,
            Record::ChangeItem(_) => Kind::ChangeItem,
            Record::EntityProperty(_) => Kind::EntityProperty,
            Record::Filter(_) => Kind::Filter,
            Record::FilterShare(_) => Kind::FilterShare,
            Record::Board(_) => Kind::Board,
            Record::Sprint(_) => Kind::Sprint,
            Record::BoardColumn(_) => Kind::BoardColumn,
            Record::ColumnStatus(_) => Kind::ColumnStatus,
            Record::Swimlane(_) => Kind::Swimlane,
            Record::QuickFilter(_) => Kind::QuickFilter,
            Record::IssueSprint(_) => Kind::IssueSprint,
            Record::IssueRank(_) => Kind::IssueRank,
            Record::Dashboard(_) => Kind::Dashboard,
            Record::DashboardShare(_) => Kind::DashboardShare,
            Record::Gadget(_) => Kind::Gadget,
            Record::GadgetPreference(_) => Kind::GadgetPreference,
            Record::Screen(_) => Kind::Screen,
            Record::ScreenTab(_) => Kind::ScreenTab,
            Record::ScreenField(_) => Kind::ScreenField,
            Record::ScreenScheme(_) => Kind::ScreenScheme,
            Record::IssueTypeScreenScheme(_) => Kind::IssueTypeScreenScheme,
            Record::FieldConfiguration(_) => Kind::FieldConfiguration,
            Record::FieldConfigurationItem(_) => Kind::FieldConfigurationItem,
            Record::FieldConfigurationScheme(_) => Kind::FieldConfigurationScheme,
            Record::IssueTypeScheme(_) => Kind::IssueTypeScheme,
            Record::Workflow(_) => Kind::Workflow,
            Record::WorkflowScheme(_) => Kind::WorkflowScheme,
            Record::CardField(_) => Kind::CardField,
            Record::CardColor(_) => Kind::CardColor,
        }
    }

    /// The record's own id: what references to it hold (users: the key; groups: the name;
    /// issue versions: the server triple).
    pub fn id(&self) -> &str {
        match self {
            Record::User(r) => &r.key,
            Record::Group(r) => &r.name,
            Record::Membership(r) => &r.id,
            Record::IssueType(r)
            | Record::Status(r)
            | Record::Priority(r)
            | Record::Resolution(r) => &r.id,
            Record::ProjectRole(r) => &r.id,
            Record::SecurityScheme(r)
            | Record::ProjectCategory(r)
            | Record::PermissionScheme(r)
            | Record::NotificationScheme(r) => &r.id,
            Record::SecurityLevel(r) => &r.id,
            Record::Project(r) => &r.id,
            Record::ProjectKey(r) => &r.id,
            Record::SchemePermission(r) => &r.id,
            Record::SecurityLevelMember(r) => &r.id,
            Record::Notification(r) => &r.id,
            Record::ProjectRoleActor(r) => &r.id,
            Record::Component(r) => &r.id,
            Record::Version(r) => &r.id,
            Record::CustomField(r) => &r.id,
            Record::FieldContext(r) => &r.id,
            Record::CustomFieldOption(r) => &r.id,
            Record::IssueLinkType(r) => &r.id,
            Record::ProjectScheme(r) => &r.id,
            Record::Issue(r) => &r.id,
            Record::CustomFieldValue(r) => &r.id,
            Record::Label(r) => &r.id,
            Record::IssueVersion(r) => &r.id,
            Record::Comment(r) => &r.id,
            Record::Worklog(r) => &r.id,
            Record::IssueLink(r) => &r.id,
            Record::RemoteLink(r) => &r.id,
            Record::Watcher(r) | Record::Vote(r) => &r.id,
            Record::Attachment(r) => &r.id,
            Record::ChangeGroup(r) => &r.id,
            Record::ChangeItem(r) => &r.id,
            Record::EntityProperty(r) => &r.id,
            Record::Filter(r) => &r.id,
            Record::FilterShare(r) => &r.id,
            Record::Board(r) => &r.id,
            Record::Sprint(r) => &r.id,
            Record::BoardColumn(r) => &r.id,
            Record::ColumnStatus(r) => &r.id,
            Record::Swimlane(r) | Record::QuickFilter(r) => &r.id,
            Record::IssueSprint(r) => &r.id,
            Record::IssueRank(r) => &r.id,
            Record::Dashboard(r) => &r.id,
            Record::DashboardShare(r) => &r.id,
            Record::Gadget(r) => &r.id,
            Record::GadgetPreference(r) => &r.id,
            Record::Screen(r) => &r.id,
            Record::ScreenTab(r) => &r.id,
            Record::ScreenField(r) => &r.id,
            Record::ScreenScheme(r) => &r.id,
            Record::IssueTypeScreenScheme(r) => &r.id,
            Record::FieldConfiguration(r) => &r.id,
            Record::FieldConfigurationItem(r) => &r.id,
            Record::FieldConfigurationScheme(r) => &r.id,
            Record::IssueTypeScheme(r) => &r.id,
            Record::Workflow(r) => &r.id,
            Record::WorkflowScheme(r) => &r.id,
            Record::CardField(r) => &r.id,
            Record::CardColor(r) => &r.id,
        }
    }

    /// Every reference the record holds: the field's name, what it points to and its
    /// value. Empty optional references are left out.
    pub fn refs(&self) -> Vec<(&'static str, Target, &str)> {
        // Names the borrow's lifetime, which a bare closure cannot.
        fn with_lifetime<'a, F: FnMut(&'static str, Target, &'a String)>(f: F) -> F {
            f
        }
        let mut out = Vec::new();
        let mut g = with_lifetime(|field, target, value| {
            if !value.is_empty() {
                out.push((field, target, value.as_str()))
            }
        });
        each_ref!(self, g,);
        out
    }

    /// Calls `f` on every non-empty reference (no allocation: the integrity check walks
    /// every record of the backup this way).
    pub fn for_each_ref<'a>(&'a self, mut f: impl FnMut(&'static str, Target, &'a str)) {
        let mut g = |field, target, value: &'a String| {
            if !value.is_empty() {
                f(field, target, value.as_str())
            }
        };
        each_ref!(self, g,);
    }

    /// Calls `f` on every non-empty reference, mutably: the load rewrites them to cloud ids.
    pub fn refs_mut(&mut self, mut f: impl FnMut(&'static str, Target, &mut String)) {
        let mut g = |field, target, value: &mut String| {
            if !value.is_empty() {
                f(field, target, value)
            }
        };
        each_ref!(self, g, mut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gadget's setting names a record only where Jira's gadgets write one, with or
    /// without its prefix, and reads back as written.
    #[test]
    fn gadget_settings_name_records_only_where_gadgets_write_them() {
        let id = |kind, prefix: &str, id: &str| PreferenceValue::Id {
            kind,
            prefix: prefix.into(),
            id: id.into(),
        };
        let cases = [
            (
                "filterId",
                "filter-10100",
                id(Kind::Filter, "filter-", "10100"),
            ),
            ("filterId", "10100", id(Kind::Filter, "", "10100")),
            (
                "projectOrFilterId",
                "project-10000",
                id(Kind::Project, "project-", "10000"),
            ),
            (
                "projectOrFilterId",
                "filter-7",
                id(Kind::Filter, "filter-", "7"),
            ),
            ("projectId", "10000", id(Kind::Project, "", "10000")),
            ("rapidViewId", "3", id(Kind::Board, "", "3")),
            ("sprintId", "12", id(Kind::Sprint, "", "12")),
            // A bare number where the gadget could mean either is not guessed.
            (
                "projectOrFilterId",
                "10100",
                PreferenceValue::Text("10100".into()),
            ),
            (
                "filterId",
                "jql-project = X",
                PreferenceValue::Text("jql-project = X".into()),
            ),
            (
                "filterId",
                "filter-",
                PreferenceValue::Text("filter-".into()),
            ),
            ("num", "10", PreferenceValue::Text("10".into())),
            ("refresh", "", PreferenceValue::Text(String::new())),
        ];
        for (key, value, expected) in cases {
            let parsed = PreferenceValue::parse(key, value);
            assert_eq!(parsed, expected, "{key}={value}");
            assert_eq!(parsed.text(), value, "{key}={value}");
        }
    }

    /// The vendor's table of namespaces (the SDK's NAMESPACES.md) names, for each, the kind
    /// whose mappings the core load records under it, or `—`: it must say what the load
    /// does.
    #[test]
    fn the_sdk_documents_the_kind_each_namespace_is_recorded_for() {
        let table = include_str!("../../../sdk/NAMESPACES.md");
        let rows: Vec<(String, String)> = table
            .lines()
            .filter(|line| line.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                (
                    cells[2].trim_matches('`').to_owned(),
                    cells[3].trim_matches('`').to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = Namespace::ALL
            .iter()
            .map(|ns| {
                let kind = Kind::ALL
                    .into_iter()
                    .find(|kind| kind.namespace() == Some(*ns))
                    .map_or("—", Kind::name);
                (ns.as_str().to_owned(), kind.to_owned())
            })
            .collect();
        assert_eq!(rows, expected);
        // And every kind with a namespace records under a known one.
        for kind in Kind::ALL {
            if let Some(ns) = kind.namespace() {
                assert_eq!(Namespace::parse(ns.as_str()), Ok(ns), "{kind}");
            }
        }
    }
}
