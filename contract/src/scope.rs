use std::fmt;

/// A data scope an operator consents to per app: Atlassian's scopes, spelled as the WIT
/// spells them (`app-data-ugc`) wherever an operator or a vendor reads them. Atlassian's
/// own spelling (`APP_DATA_UGC`) is accepted when parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataScope {
    AppDataUgc,
    AppDataPii,
    AppDataSecurity,
    AppDataOther,
    ProductDataUgc,
    ProductDataPii,
    ProductDataSecurity,
    ProductDataOther,
    MigrationTracingIdentity,
    MigrationTracingProduct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScope(pub String);

impl fmt::Display for UnknownScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown data scope `{}` (expected one of app-data-ugc, app-data-pii, app-data-security, \
             app-data-other, product-data-ugc, product-data-pii, product-data-security, \
             product-data-other, migration-tracing-identity, migration-tracing-product)",
            self.0
        )
    }
}

impl std::error::Error for UnknownScope {}

impl DataScope {
    pub const ALL: [DataScope; 10] = [
        DataScope::AppDataUgc,
        DataScope::AppDataPii,
        DataScope::AppDataSecurity,
        DataScope::AppDataOther,
        DataScope::ProductDataUgc,
        DataScope::ProductDataPii,
        DataScope::ProductDataSecurity,
        DataScope::ProductDataOther,
        DataScope::MigrationTracingIdentity,
        DataScope::MigrationTracingProduct,
    ];

    /// The WIT's spelling: `app-data-ugc`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataScope::AppDataUgc => "app-data-ugc",
            DataScope::AppDataPii => "app-data-pii",
            DataScope::AppDataSecurity => "app-data-security",
            DataScope::AppDataOther => "app-data-other",
            DataScope::ProductDataUgc => "product-data-ugc",
            DataScope::ProductDataPii => "product-data-pii",
            DataScope::ProductDataSecurity => "product-data-security",
            DataScope::ProductDataOther => "product-data-other",
            DataScope::MigrationTracingIdentity => "migration-tracing-identity",
            DataScope::MigrationTracingProduct => "migration-tracing-product",
        }
    }
}

impl fmt::Display for DataScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `app-data-ugc` as the WIT spells it, or `APP_DATA_UGC` as Atlassian does (any case,
/// `-` or `_`).
impl std::str::FromStr for DataScope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let same = |name: &str| {
            name.len() == s.len()
                && name
                    .bytes()
                    .zip(s.bytes())
                    .all(|(a, b)| a == b.to_ascii_lowercase() || (a == b'-' && b == b'_'))
        };
        DataScope::ALL
            .into_iter()
            .find(|scope| same(scope.as_str()))
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::DataScope;

    #[test]
    fn a_scope_reads_as_the_wit_spells_it_and_parses_either_way() {
        assert_eq!(DataScope::AppDataUgc.to_string(), "app-data-ugc");
        assert_eq!(
            DataScope::MigrationTracingIdentity.as_str(),
            "migration-tracing-identity"
        );
        for scope in DataScope::ALL {
            assert_eq!(scope.as_str().parse(), Ok(scope));
            let atlassian = scope.as_str().to_ascii_uppercase().replace('-', "_");
            assert_eq!(atlassian.parse(), Ok(scope), "{atlassian}");
        }
        assert!("APP-DATA_UGCX".parse::<DataScope>().is_err());
        assert!("app data ugc".parse::<DataScope>().is_err());
    }
}
