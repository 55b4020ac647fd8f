use std::fmt;

/// A Data Center app's plugin key (or its Active Objects namespace), e.g.
/// `com.atlassian.example.ao.myplugin`.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct AppKey(String);

impl AppKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Active Objects table prefix Jira gives this app: `AO_` and the last six hex
    /// digits, upper case, of the MD5 of the key.
    pub fn ao_prefix(&self) -> AoPrefix {
        AoPrefix(airlock_contract::ao_prefix(&self.0))
    }

    /// Whether `other` is another app with this app's Active Objects prefix: either would
    /// read the other's tables (24 bits of MD5 are found by brute force in a second).
    pub fn collides_with(&self, other: &AppKey) -> bool {
        self != other && self.ao_prefix() == other.ao_prefix()
    }
}

impl fmt::Display for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `AO_xxxxxx`: the prefix that every Active Objects table of one app carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AoPrefix(String);

impl AoPrefix {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True if `table` is one of this app's tables: `AO_xxxxxx_` followed by a name.
    /// Case matters: Active Objects table names are upper case.
    pub fn owns(&self, table: &str) -> bool {
        table
            .strip_prefix(self.0.as_str())
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|name| !name.is_empty())
    }

    /// The full table name for an entity of this app, e.g. `AO_28BE2D_MY_OBJECT`.
    pub fn table(&self, entity: &str) -> String {
        format!("{}_{}", self.0, entity)
    }
}

impl fmt::Display for AoPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matches_atlassian_documented_vector() {
        let key = AppKey::new("com.atlassian.example.ao.myplugin");
        assert_eq!(key.ao_prefix().as_str(), "AO_28BE2D");
        assert_eq!(key.ao_prefix().table("MY_OBJECT"), "AO_28BE2D_MY_OBJECT");
    }

    #[test]
    fn prefix_owns_only_its_own_tables() {
        let prefix = AppKey::new("com.atlassian.example.ao.myplugin").ao_prefix();
        assert!(prefix.owns("AO_28BE2D_MY_OBJECT"));
        assert!(!prefix.owns("AO_28BE2D_"));
        assert!(!prefix.owns("AO_28BE2D"));
        assert!(!prefix.owns("AO_28BE2DX_MY_OBJECT"));
        assert!(!prefix.owns("AO_60DB71_SPRINT"));
        assert!(!prefix.owns("ao_28be2d_my_object"));
    }
}
