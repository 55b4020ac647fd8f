use std::fmt;

/// A data scope an operator consents to per app; Atlassian's names.
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
            "unknown data scope `{}` (expected one of APP_DATA_UGC, APP_DATA_PII, APP_DATA_SECURITY, \
             APP_DATA_OTHER, PRODUCT_DATA_*, MIGRATION_TRACING_IDENTITY, MIGRATION_TRACING_PRODUCT)",
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

    pub fn as_str(self) -> &'static str {
        match self {
            DataScope::AppDataUgc => "APP_DATA_UGC",
            DataScope::AppDataPii => "APP_DATA_PII",
            DataScope::AppDataSecurity => "APP_DATA_SECURITY",
            DataScope::AppDataOther => "APP_DATA_OTHER",
            DataScope::ProductDataUgc => "PRODUCT_DATA_UGC",
            DataScope::ProductDataPii => "PRODUCT_DATA_PII",
            DataScope::ProductDataSecurity => "PRODUCT_DATA_SECURITY",
            DataScope::ProductDataOther => "PRODUCT_DATA_OTHER",
            DataScope::MigrationTracingIdentity => "MIGRATION_TRACING_IDENTITY",
            DataScope::MigrationTracingProduct => "MIGRATION_TRACING_PRODUCT",
        }
    }
}

impl fmt::Display for DataScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `APP_DATA_UGC` as the host spells it, or `app-data-ugc` as the WIT does.
impl std::str::FromStr for DataScope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let same = |name: &str| {
            name.len() == s.len()
                && name
                    .bytes()
                    .zip(s.bytes())
                    .all(|(a, b)| a == b.to_ascii_uppercase() || (a == b'_' && b == b'-'))
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
    fn a_scope_parses_as_the_host_or_the_wit_spells_it() {
        for scope in DataScope::ALL {
            assert_eq!(scope.as_str().parse(), Ok(scope));
            let wit = scope.as_str().to_ascii_lowercase().replace('_', "-");
            assert_eq!(wit.parse(), Ok(scope), "{wit}");
        }
        assert!("APP-DATA_UGCX".parse::<DataScope>().is_err());
        assert!("app data ugc".parse::<DataScope>().is_err());
    }
}
