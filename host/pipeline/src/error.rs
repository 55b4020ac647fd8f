//! Why a migration could not go on. Each variant says what to do; the binary maps any of
//! them to exit code 2 (the run could not proceed), as opposed to an [`crate::Outcome`]
//! that blocks or lists failures.

use std::path::PathBuf;

/// A migration's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The operator's input cannot be used as given (a missing backup, a bad override
    /// file, a consent the plugin did not ask for…); the message says what to fix.
    #[error("{0}")]
    Input(String),
    /// This work directory or storage refuses the run (another tenant's or another
    /// backup's migration, a destroyed key, a changed store…); the message says what to do.
    #[error("{0}")]
    Refused(String),
    /// The backup cannot be read; nothing of this run was kept.
    #[error("cannot read the backup {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: Box<airlock_engine::EngineError>,
    },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Engine(Box<airlock_engine::EngineError>),
    #[error(transparent)]
    State(#[from] airlock_engine::StateError),
    #[error(transparent)]
    Backup(#[from] airlock_backup::BackupError),
    #[error(transparent)]
    Store(#[from] airlock_store::StoreError),
    #[error(transparent)]
    Vault(#[from] airlock_vault::VaultError),
    #[error(transparent)]
    Blobs(#[from] airlock_blobs::BlobError),
    #[error(transparent)]
    Staging(#[from] airlock_staging::StagingError),
    #[error(transparent)]
    Site(#[from] airlock_site::TargetError),
    #[error(transparent)]
    Plugin(#[from] airlock_runtime::ConsentError),
    #[error(transparent)]
    Grant(#[from] crate::apps::GrantError),
    /// A caller ran the phases out of order (a bug in the caller, not in the data).
    #[error("{0}")]
    Order(&'static str),
    /// The app data phase's storing thread stopped; its own error, if any, came first.
    #[error("storing the app's outputs stopped unexpectedly")]
    StorerStopped,
    /// The thread reading an app's staged rows ahead of its plugin stopped.
    #[error("reading the app's staged rows stopped unexpectedly")]
    RowReaderStopped,
}

// Boxed: the engine's error is the largest, and every `Result` here carries the enum.
impl From<airlock_engine::EngineError> for PipelineError {
    fn from(e: airlock_engine::EngineError) -> Self {
        PipelineError::Engine(Box::new(e))
    }
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

impl PipelineError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PipelineError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
