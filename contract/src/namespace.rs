use std::fmt;

/// A mapping namespace: the kind of object whose server ids map to cloud ids. The core's
/// names are the ones app vendors already know from Atlassian's migration platform; every
/// one the host knows is a constant here and listed in [`Namespace::ALL`] (the SDK's
/// `NAMESPACES.md` documents each, with the server ids it is keyed by). Besides them, an
/// app publishes its own objects' mappings in `app:<app-key>:<entity>` ([`Namespace::app`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(&'static str);

/// The prefix of an app's own namespaces: `app:<app-key>:<entity>`.
pub const APP_NAMESPACE_PREFIX: &str = "app:";

/// The longest entity name of an app namespace.
pub const MAX_APP_ENTITY: usize = 64;

/// The longest app key an app namespace may carry (as the host's app key rule).
const MAX_APP_KEY: usize = 255;

/// The most distinct app namespaces one process interns: each manifest may name a few,
/// and a process meets a bounded number of plugins. Past it, new ones are refused.
pub const MAX_APP_NAMESPACES: usize = 4096;

/// App namespaces met so far, each interned once: namespaces stay `Copy` and compare by
/// value, like the core's constants.
static APP_NAMESPACES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// An `app:` namespace that does not follow `app:<app-key>:<entity>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAppNamespace {
    pub name: String,
    pub reason: &'static str,
}

impl fmt::Display for InvalidAppNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid app namespace `{}`: {} (an app namespace is app:<app-key>:<entity>, the \
             entity of lower-case letters, digits and `-`, at most {MAX_APP_ENTITY})",
            self.name, self.reason
        )
    }
}

impl std::error::Error for InvalidAppNamespace {}

/// A namespace name that is not one of [`Namespace::ALL`]. The host refuses a plugin whose
/// manifest declares one (`invalid manifest`), before any batch runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownNamespace(pub String);

impl fmt::Display for UnknownNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.starts_with(APP_NAMESPACE_PREFIX)
            && let Err(invalid) = Namespace::parse_app(&self.0)
        {
            return invalid.fmt(f);
        }
        write!(f, "unknown mapping namespace `{}` (", self.0)?;
        if let Some(near) = Namespace::closest(&self.0) {
            write!(f, "did you mean `{near}`? ")?;
        }
        f.write_str("the known namespaces are listed in the SDK's NAMESPACES.md)")
    }
}

impl std::error::Error for UnknownNamespace {}

/// A namespace a plugin resolved without declaring it in its manifest. The host stops the
/// batch with this (an access error), whether or not the name is a known namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndeclaredNamespace(pub String);

impl fmt::Display for UndeclaredNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "namespace `{}` is not declared in the plugin's manifest",
            self.0
        )
    }
}

impl std::error::Error for UndeclaredNamespace {}

impl Namespace {
    pub const USER: Namespace = Namespace("identity:user");
    pub const GROUP: Namespace = Namespace("identity:group");
    pub const ISSUE: Namespace = Namespace("jira:issue");
    pub const COMMENT: Namespace = Namespace("jira:comment");
    pub const WORKLOG: Namespace = Namespace("jira:worklog");
    pub const ATTACHMENT: Namespace = Namespace("jira:fileAttachment");
    pub const ISSUE_LINK: Namespace = Namespace("jira:issueLink");
    pub const ISSUE_LINK_TYPE: Namespace = Namespace("jira:issueLinkType");
    pub const PRIORITY: Namespace = Namespace("jira:priority");
    pub const RESOLUTION: Namespace = Namespace("jira:resolution");
    pub const COMPONENT: Namespace = Namespace("jira:projectComponent");
    pub const VERSION: Namespace = Namespace("jira:projectVersion");
    pub const PROJECT_ROLE: Namespace = Namespace("jira:projectRole");
    pub const PROJECT_CATEGORY: Namespace = Namespace("jira:projectCategory");
    pub const FILTER: Namespace = Namespace("jira:filter");
    pub const CHANGE_GROUP: Namespace = Namespace("jira:changeGroup");
    pub const PROJECT: Namespace = Namespace("jira/classic:project");
    pub const CUSTOM_FIELD: Namespace = Namespace("jira/classic:customField");
    pub const CUSTOM_FIELD_OPTION: Namespace = Namespace("jira/classic:customFieldOption");
    pub const FIELD_CONTEXT: Namespace = Namespace("jira/classic:customFieldContext");
    pub const ISSUE_TYPE: Namespace = Namespace("jira/classic:issueType");
    pub const STATUS: Namespace = Namespace("jira/classic:issueStatus");
    pub const SECURITY_SCHEME: Namespace = Namespace("jira/classic:issueSecurityScheme");
    pub const SECURITY_LEVEL: Namespace = Namespace("jira/classic:issueSecurityLevel");
    pub const PERMISSION_SCHEME: Namespace = Namespace("jira/classic:permissionScheme");
    pub const NOTIFICATION_SCHEME: Namespace = Namespace("jira/classic:notificationScheme");
    pub const SPRINT: Namespace = Namespace("jira/classic/software:sprint");
    pub const BOARD: Namespace = Namespace("jira/classic/software:rapidView");
    pub const BOARD_COLUMN: Namespace = Namespace("jira/classic/software:column");
    pub const DASHBOARD: Namespace = Namespace("jira:dashboard");
    pub const DASHBOARD_GADGET: Namespace = Namespace("jira:dashboardGadget");
    pub const SCREEN: Namespace = Namespace("jira/classic:screen");
    pub const SCREEN_TAB: Namespace = Namespace("jira/classic:screenTab");
    pub const SCREEN_SCHEME: Namespace = Namespace("jira/classic:screenScheme");
    pub const ISSUE_TYPE_SCREEN_SCHEME: Namespace = Namespace("jira/classic:issueTypeScreenScheme");
    pub const FIELD_CONFIGURATION: Namespace = Namespace("jira/classic:fieldConfiguration");
    pub const FIELD_CONFIGURATION_SCHEME: Namespace =
        Namespace("jira/classic:fieldConfigurationScheme");
    pub const ISSUE_TYPE_SCHEME: Namespace = Namespace("jira/classic:issueTypeScheme");
    pub const WORKFLOW: Namespace = Namespace("jira/classic:workflow");
    pub const WORKFLOW_SCHEME: Namespace = Namespace("jira/classic:workflowScheme");

    /// Every namespace the host can resolve.
    pub const ALL: &'static [Namespace] = &[
        Namespace::USER,
        Namespace::GROUP,
        Namespace::ISSUE,
        Namespace::COMMENT,
        Namespace::WORKLOG,
        Namespace::ATTACHMENT,
        Namespace::ISSUE_LINK,
        Namespace::ISSUE_LINK_TYPE,
        Namespace::PRIORITY,
        Namespace::RESOLUTION,
        Namespace::COMPONENT,
        Namespace::VERSION,
        Namespace::PROJECT_ROLE,
        Namespace::PROJECT_CATEGORY,
        Namespace::FILTER,
        Namespace::CHANGE_GROUP,
        Namespace::PROJECT,
        Namespace::CUSTOM_FIELD,
        Namespace::CUSTOM_FIELD_OPTION,
        Namespace::FIELD_CONTEXT,
        Namespace::ISSUE_TYPE,
        Namespace::STATUS,
        Namespace::SECURITY_SCHEME,
        Namespace::SECURITY_LEVEL,
        Namespace::PERMISSION_SCHEME,
        Namespace::NOTIFICATION_SCHEME,
        Namespace::SPRINT,
        Namespace::BOARD,
        Namespace::BOARD_COLUMN,
        Namespace::DASHBOARD,
        Namespace::DASHBOARD_GADGET,
        Namespace::SCREEN,
        Namespace::SCREEN_TAB,
        Namespace::SCREEN_SCHEME,
        Namespace::ISSUE_TYPE_SCREEN_SCHEME,
        Namespace::FIELD_CONFIGURATION,
        Namespace::FIELD_CONFIGURATION_SCHEME,
        Namespace::ISSUE_TYPE_SCHEME,
        Namespace::WORKFLOW,
        Namespace::WORKFLOW_SCHEME,
    ];

    /// Any name as a namespace, unchecked. The host accepts only those in
    /// [`Namespace::ALL`]: prefer the constants.
    pub const fn named(name: &'static str) -> Namespace {
        Namespace(name)
    }

    /// A known core namespace, or a well-formed app namespace (`app:<app-key>:<entity>`).
    pub fn parse(name: &str) -> Result<Namespace, UnknownNamespace> {
        if name.starts_with(APP_NAMESPACE_PREFIX) {
            return Namespace::parse_app(name).map_err(|_| UnknownNamespace(name.to_owned()));
        }
        Namespace::ALL
            .iter()
            .copied()
            .find(|ns| ns.0 == name)
            .ok_or_else(|| UnknownNamespace(name.to_owned()))
    }

    /// The namespace `app:<app_key>:<entity>`, in which the app `app_key` publishes the
    /// mappings of its own objects.
    pub fn app(app_key: &str, entity: &str) -> Result<Namespace, InvalidAppNamespace> {
        Namespace::parse_app(&format!("{APP_NAMESPACE_PREFIX}{app_key}:{entity}"))
    }

    /// An app namespace from its full name, checked and interned.
    pub fn parse_app(name: &str) -> Result<Namespace, InvalidAppNamespace> {
        let invalid = |reason| InvalidAppNamespace {
            name: name
                .chars()
                .take(MAX_APP_KEY + MAX_APP_ENTITY + 8)
                .collect(),
            reason,
        };
        let rest = name
            .strip_prefix(APP_NAMESPACE_PREFIX)
            .ok_or_else(|| invalid("it does not start with `app:`"))?;
        let (app_key, entity) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid("it names no entity"))?;
        let key_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if app_key.is_empty() || app_key.len() > MAX_APP_KEY || !app_key.chars().all(key_ok) {
            return Err(invalid(
                "the app key is empty, too long or has characters other than letters, digits, `.`, `_` and `-`",
            ));
        }
        let entity_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if entity.is_empty() || entity.len() > MAX_APP_ENTITY || !entity.chars().all(entity_ok) {
            return Err(invalid("the entity is empty, too long or not lower-case"));
        }
        let mut interned = APP_NAMESPACES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = interned.get(name) {
            return Ok(Namespace(known));
        }
        if interned.len() >= MAX_APP_NAMESPACES {
            return Err(invalid("this process has met too many app namespaces"));
        }
        // Interned for the life of the process: bounded by MAX_APP_NAMESPACES.
        let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
        interned.insert(name);
        Ok(Namespace(name))
    }

    /// For an app namespace, the app key that publishes it and the entity.
    pub fn app_parts(self) -> Option<(&'static str, &'static str)> {
        self.0
            .strip_prefix(APP_NAMESPACE_PREFIX)
            .and_then(|rest| rest.rsplit_once(':'))
    }

    /// Whether this is an app's namespace (`app:<app-key>:<entity>`) rather than the core's.
    pub fn is_app(self) -> bool {
        self.0.starts_with(APP_NAMESPACE_PREFIX)
    }

    /// The host's rule for a plugin's manifest: every namespace it declares is a known
    /// one, else the plugin is refused at load with the first unknown name.
    pub fn parse_declared<S: AsRef<str>>(names: &[S]) -> Result<Vec<Namespace>, UnknownNamespace> {
        names.iter().map(|n| Namespace::parse(n.as_ref())).collect()
    }

    /// The host's rule for every `mappings.resolve`: the namespace must be one the
    /// manifest declares (`declared`, as [`Namespace::parse_declared`] returned them).
    pub fn find_declared(
        declared: &[Namespace],
        name: &str,
    ) -> Result<Namespace, UndeclaredNamespace> {
        declared
            .iter()
            .copied()
            .find(|ns| ns.0 == name)
            .ok_or_else(|| UndeclaredNamespace(name.to_owned()))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The known namespace a misspelled name most likely meant: the nearest by edit
    /// distance (case-insensitive), if within a few letters.
    fn closest(name: &str) -> Option<Namespace> {
        let name = name.to_ascii_lowercase();
        Namespace::ALL
            .iter()
            .map(|ns| (edit_distance(&name, &ns.0.to_ascii_lowercase()), *ns))
            .filter(|(distance, _)| *distance <= 3)
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, ns)| ns)
    }
}

/// Levenshtein distance over bytes (names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(x != y);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::str::FromStr for Namespace {
    type Err = UnknownNamespace;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Namespace::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_known_namespace_and_rejects_others() {
        for ns in Namespace::ALL {
            assert_eq!(Namespace::parse(ns.as_str()), Ok(*ns));
        }
        assert!(Namespace::parse("jira:secrets").is_err());
        assert!(Namespace::parse("IDENTITY:USER").is_err());
    }

    #[test]
    fn known_namespaces_are_distinct() {
        let mut names: Vec<&str> = Namespace::ALL.iter().map(|ns| ns.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Namespace::ALL.len());
    }

    #[test]
    fn an_unknown_name_suggests_the_nearest_known_one() {
        assert_eq!(
            UnknownNamespace("jira:isue".into()).to_string(),
            "unknown mapping namespace `jira:isue` (did you mean `jira:issue`? the known \
             namespaces are listed in the SDK's NAMESPACES.md)"
        );
        assert_eq!(
            UnknownNamespace("IDENTITY:USER".into()).to_string(),
            "unknown mapping namespace `IDENTITY:USER` (did you mean `identity:user`? the \
             known namespaces are listed in the SDK's NAMESPACES.md)"
        );
        assert_eq!(
            UnknownNamespace("tempo:account".into()).to_string(),
            "unknown mapping namespace `tempo:account` (the known namespaces are listed in the \
             SDK's NAMESPACES.md)"
        );
    }

    #[test]
    fn app_namespaces_are_checked_interned_and_split() {
        let team = Namespace::app("com.acme.teams", "team").unwrap();
        assert_eq!(team.as_str(), "app:com.acme.teams:team");
        assert_eq!(Namespace::parse("app:com.acme.teams:team"), Ok(team));
        assert!(std::ptr::eq(
            team.as_str(),
            Namespace::parse("app:com.acme.teams:team")
                .unwrap()
                .as_str()
        ));
        assert_eq!(team.app_parts(), Some(("com.acme.teams", "team")));
        assert!(team.is_app() && !Namespace::USER.is_app());
        assert_eq!(Namespace::USER.app_parts(), None);
        for bad in [
            "app:com.acme.teams",
            "app::team",
            "app:com.acme.teams:Team",
            "app:com acme:team",
            "app:com.acme.teams:",
        ] {
            assert!(Namespace::parse(bad).is_err(), "{bad}");
        }
        assert!(
            UnknownNamespace("app:com.acme.teams:Team".into())
                .to_string()
                .starts_with("invalid app namespace `app:com.acme.teams:Team`: the entity"),
        );
    }

    #[test]
    fn the_manifest_and_resolve_rules() {
        assert_eq!(
            Namespace::parse_declared(&["identity:user", "jira:issue"]),
            Ok(vec![Namespace::USER, Namespace::ISSUE])
        );
        assert_eq!(
            Namespace::parse_declared(&["identity:user", "jira:sprint"]),
            Err(UnknownNamespace("jira:sprint".into()))
        );
        let declared = [Namespace::USER];
        assert_eq!(
            Namespace::find_declared(&declared, "identity:user"),
            Ok(Namespace::USER)
        );
        assert_eq!(
            Namespace::find_declared(&declared, "jira:issue")
                .unwrap_err()
                .to_string(),
            "namespace `jira:issue` is not declared in the plugin's manifest"
        );
    }
}
