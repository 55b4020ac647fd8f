/// Why a metadata store operation failed. Messages name tables and what to do, never a
/// tenant's data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "cannot open the {backend} metadata store (check the URL, that the server runs, and the role's login): {source}"
    )]
    Open {
        backend: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "cannot apply the {backend} schema migrations (run them as the schema owner): {source}"
    )]
    Migrate {
        backend: &'static str,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("metadata store query on {table} failed: {source}")]
    Query {
        table: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("{what} already exists for this tenant")]
    AlreadyExists { what: &'static str },
    #[error("no such {what} for this tenant")]
    NotFound { what: &'static str },
    #[error("invalid {what}: {why}")]
    Invalid { what: &'static str, why: String },
    #[error("cannot {action} a migration that is {status}")]
    WrongStatus {
        status: &'static str,
        action: &'static str,
    },
    /// A step of [`crate::TenantScope::set_up_migration`] outside the store failed; the
    /// transaction was rolled back.
    #[error("setting up the migration failed, and nothing of it was kept: {source}")]
    SetupFailed {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("statistics export failed: {0}")]
    Export(String),
    #[error("a retention task failed to run: {0}")]
    Retention(String),
    /// Data keys were destroyed (their rows overwritten and deleted, committed), but what
    /// the database keeps beyond the rows could not be scrubbed: the keys' bytes may
    /// survive in `place` until the next sweep completes it.
    #[error(
        "destroyed data keys may survive in {place} until the next successful retention sweep: {why}; run the sweep again"
    )]
    KeyMaySurvive { place: &'static str, why: String },
}

/// Maps a sqlx error on `table`, turning unique violations into [`StoreError::AlreadyExists`].
pub(crate) fn query(table: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| {
        if source
            .as_database_error()
            .is_some_and(|e| e.is_unique_violation())
        {
            return StoreError::AlreadyExists { what: table };
        }
        StoreError::Query { table, source }
    }
}
