use std::fmt;

/// A mapping namespace: the kind of object whose server ids map to cloud ids. The names
/// are the ones app vendors already know from Atlassian's migration platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(&'static str);

/// A namespace name that is not one of [`Namespace::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownNamespace(pub String);

impl fmt::Display for UnknownNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown mapping namespace `{}`", self.0)
    }
}

impl std::error::Error for UnknownNamespace {}

impl Namespace {
    pub const USER: Namespace = Namespace("identity:user");
    pub const GROUP: Namespace = Namespace("identity:group");
    pub const ISSUE: Namespace = Namespace("jira:issue");
    pub const COMMENT: Namespace = Namespace("jira:comment");
    pub const WORKLOG: Namespace = Namespace("jira:worklog");
    pub const PROJECT: Namespace = Namespace("jira/classic:project");

    /// Every namespace the host can resolve.
    pub const ALL: &'static [Namespace] = &[
        Namespace::USER,
        Namespace::GROUP,
        Namespace::ISSUE,
        Namespace::COMMENT,
        Namespace::WORKLOG,
        Namespace("jira:fileAttachment"),
        Namespace("jira:issueLink"),
        Namespace("jira:issueLinkType"),
        Namespace("jira:priority"),
        Namespace("jira:resolution"),
        Namespace("jira:projectComponent"),
        Namespace("jira:projectVersion"),
        Namespace("jira:projectRole"),
        Namespace("jira:projectCategory"),
        Namespace("jira:filter"),
        Namespace::PROJECT,
        Namespace("jira/classic:customField"),
        Namespace("jira/classic:customFieldOption"),
        Namespace("jira/classic:issueType"),
        Namespace("jira/classic:issueStatus"),
        Namespace("jira/classic:issueSecurityLevel"),
        Namespace("jira/classic/software:sprint"),
        Namespace("jira/classic/software:rapidView"),
    ];

    /// Any namespace by name, for plugins (e.g. `jira/classic/software:sprint`); the host
    /// accepts only those in [`Namespace::ALL`].
    pub const fn named(name: &'static str) -> Namespace {
        Namespace(name)
    }

    pub fn parse(name: &str) -> Result<Namespace, UnknownNamespace> {
        Namespace::ALL
            .iter()
            .copied()
            .find(|ns| ns.0 == name)
            .ok_or_else(|| UnknownNamespace(name.to_owned()))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
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
}
