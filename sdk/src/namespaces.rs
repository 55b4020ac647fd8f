#![doc = include_str!("../NAMESPACES.md")]

use crate::Namespace;

/// Users, by user key.
pub const USER: Namespace = Namespace::USER;
/// Groups, by name.
pub const GROUP: Namespace = Namespace::GROUP;
/// Issues, by issue id (not key).
pub const ISSUE: Namespace = Namespace::ISSUE;
/// Comments, by id.
pub const COMMENT: Namespace = Namespace::COMMENT;
/// Worklogs, by id.
pub const WORKLOG: Namespace = Namespace::WORKLOG;
/// Attachments, by id.
pub const ATTACHMENT: Namespace = Namespace::ATTACHMENT;
/// Issue links, by id.
pub const ISSUE_LINK: Namespace = Namespace::ISSUE_LINK;
/// Issue link types, by id.
pub const ISSUE_LINK_TYPE: Namespace = Namespace::ISSUE_LINK_TYPE;
/// Priorities, by id.
pub const PRIORITY: Namespace = Namespace::PRIORITY;
/// Resolutions, by id.
pub const RESOLUTION: Namespace = Namespace::RESOLUTION;
/// Project components, by id.
pub const COMPONENT: Namespace = Namespace::COMPONENT;
/// Project versions, by id.
pub const VERSION: Namespace = Namespace::VERSION;
/// Project roles, by id.
pub const PROJECT_ROLE: Namespace = Namespace::PROJECT_ROLE;
/// Project categories, by id.
pub const PROJECT_CATEGORY: Namespace = Namespace::PROJECT_CATEGORY;
/// Saved filters, by id.
pub const FILTER: Namespace = Namespace::FILTER;
/// Issue history: change groups (one change of an issue), by id.
pub const CHANGE_GROUP: Namespace = Namespace::CHANGE_GROUP;
/// Projects, by project id (not key).
pub const PROJECT: Namespace = Namespace::PROJECT;
/// Custom fields, by numeric id; the cloud id is `customfield_<n>`.
pub const CUSTOM_FIELD: Namespace = Namespace::CUSTOM_FIELD;
/// Custom field options, by id.
pub const CUSTOM_FIELD_OPTION: Namespace = Namespace::CUSTOM_FIELD_OPTION;
/// Custom fields' contexts (their `FieldConfigScheme`s), by id.
pub const FIELD_CONTEXT: Namespace = Namespace::FIELD_CONTEXT;
/// Issue types, by id.
pub const ISSUE_TYPE: Namespace = Namespace::ISSUE_TYPE;
/// Issue statuses, by id.
pub const STATUS: Namespace = Namespace::STATUS;
/// Issue security schemes, by id.
pub const SECURITY_SCHEME: Namespace = Namespace::SECURITY_SCHEME;
/// Issue security levels, by id.
pub const SECURITY_LEVEL: Namespace = Namespace::SECURITY_LEVEL;
/// Permission schemes, by id (Jira's default scheme is `0`).
pub const PERMISSION_SCHEME: Namespace = Namespace::PERMISSION_SCHEME;
/// Notification schemes, by id (Jira's default scheme is `10000`).
pub const NOTIFICATION_SCHEME: Namespace = Namespace::NOTIFICATION_SCHEME;
/// Jira Software sprints, by id.
pub const SPRINT: Namespace = Namespace::SPRINT;
/// Jira Software boards (rapid views), by id.
pub const BOARD: Namespace = Namespace::BOARD;
/// Jira Software board columns, by id.
pub const BOARD_COLUMN: Namespace = Namespace::BOARD_COLUMN;
/// Dashboards, by id.
pub const DASHBOARD: Namespace = Namespace::DASHBOARD;
/// Dashboard gadgets (`PortletConfiguration`), by id.
pub const DASHBOARD_GADGET: Namespace = Namespace::DASHBOARD_GADGET;
/// Screens, by id.
pub const SCREEN: Namespace = Namespace::SCREEN;
/// Screens' tabs, by id.
pub const SCREEN_TAB: Namespace = Namespace::SCREEN_TAB;
/// Screen schemes, by id.
pub const SCREEN_SCHEME: Namespace = Namespace::SCREEN_SCHEME;
/// Issue type screen schemes, by id.
pub const ISSUE_TYPE_SCREEN_SCHEME: Namespace = Namespace::ISSUE_TYPE_SCREEN_SCHEME;
/// Field configurations, by id.
pub const FIELD_CONFIGURATION: Namespace = Namespace::FIELD_CONFIGURATION;
/// Field configuration schemes, by id.
pub const FIELD_CONFIGURATION_SCHEME: Namespace = Namespace::FIELD_CONFIGURATION_SCHEME;
/// Issue type schemes, by id.
pub const ISSUE_TYPE_SCHEME: Namespace = Namespace::ISSUE_TYPE_SCHEME;
/// Workflows, by id.
pub const WORKFLOW: Namespace = Namespace::WORKFLOW;
/// Workflow schemes, by id.
pub const WORKFLOW_SCHEME: Namespace = Namespace::WORKFLOW_SCHEME;

/// Every namespace the host knows, as in the table above.
pub const ALL: &[Namespace] = Namespace::ALL;

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's rows: (constant, namespace, core load kind or `—`).
    fn documented() -> Vec<(String, String, String)> {
        include_str!("../NAMESPACES.md")
            .lines()
            .filter(|line| line.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let bare = |cell: &str| cell.trim_matches('`').to_owned();
                (bare(cells[1]), bare(cells[2]), bare(cells[3]))
            })
            .collect()
    }

    #[test]
    fn the_table_lists_every_namespace_once_under_its_constant() {
        let constants = [
            ("USER", USER),
            ("GROUP", GROUP),
            ("ISSUE", ISSUE),
            ("COMMENT", COMMENT),
            ("WORKLOG", WORKLOG),
            ("ATTACHMENT", ATTACHMENT),
            ("ISSUE_LINK", ISSUE_LINK),
            ("ISSUE_LINK_TYPE", ISSUE_LINK_TYPE),
            ("PRIORITY", PRIORITY),
            ("RESOLUTION", RESOLUTION),
            ("COMPONENT", COMPONENT),
            ("VERSION", VERSION),
            ("PROJECT_ROLE", PROJECT_ROLE),
            ("PROJECT_CATEGORY", PROJECT_CATEGORY),
            ("FILTER", FILTER),
            ("CHANGE_GROUP", CHANGE_GROUP),
            ("PROJECT", PROJECT),
            ("CUSTOM_FIELD", CUSTOM_FIELD),
            ("CUSTOM_FIELD_OPTION", CUSTOM_FIELD_OPTION),
            ("FIELD_CONTEXT", FIELD_CONTEXT),
            ("ISSUE_TYPE", ISSUE_TYPE),
            ("STATUS", STATUS),
            ("SECURITY_SCHEME", SECURITY_SCHEME),
            ("SECURITY_LEVEL", SECURITY_LEVEL),
            ("PERMISSION_SCHEME", PERMISSION_SCHEME),
            ("NOTIFICATION_SCHEME", NOTIFICATION_SCHEME),
            ("SPRINT", SPRINT),
            ("BOARD", BOARD),
            ("BOARD_COLUMN", BOARD_COLUMN),
            ("DASHBOARD", DASHBOARD),
            ("DASHBOARD_GADGET", DASHBOARD_GADGET),
            ("SCREEN", SCREEN),
            ("SCREEN_TAB", SCREEN_TAB),
            ("SCREEN_SCHEME", SCREEN_SCHEME),
            ("ISSUE_TYPE_SCREEN_SCHEME", ISSUE_TYPE_SCREEN_SCHEME),
            ("FIELD_CONFIGURATION", FIELD_CONFIGURATION),
            ("FIELD_CONFIGURATION_SCHEME", FIELD_CONFIGURATION_SCHEME),
            ("ISSUE_TYPE_SCHEME", ISSUE_TYPE_SCHEME),
            ("WORKFLOW", WORKFLOW),
            ("WORKFLOW_SCHEME", WORKFLOW_SCHEME),
        ];
        let documented: Vec<(String, String)> = documented()
            .into_iter()
            .map(|(constant, namespace, _)| (constant, namespace))
            .collect();
        let expected: Vec<(String, String)> = constants
            .iter()
            .map(|(name, ns)| (name.to_string(), ns.as_str().to_owned()))
            .collect();
        assert_eq!(
            documented, expected,
            "NAMESPACES.md and the constants differ"
        );
        let ours: Vec<Namespace> = constants.iter().map(|(_, ns)| *ns).collect();
        assert_eq!(ours, ALL, "a constant for every known namespace, in order");
    }
}
