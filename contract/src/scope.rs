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

impl std::str::FromStr for DataScope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataScope::ALL
            .into_iter()
            .find(|scope| scope.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}
