//! One migration's configuration, resolved once by the caller (the `airlock` binary reads
//! its configuration file, the environment and the command line); the pipeline reads no
//! environment variable.

use std::path::PathBuf;

use airlock_site::CloudConfig;

pub use crate::storage::StorageOptions;

/// Where a migration reads from and writes to.
#[derive(Clone)]
pub struct Config {
    /// The Jira Data Center XML backup (zip).
    pub backup: PathBuf,
    /// Staging, the migration's state (for resuming) and its sealed reports.
    pub work: PathBuf,
    pub target: TargetConfig,
    /// The operator's answers to the target analysis (JSON).
    pub overrides: Option<PathBuf>,
    /// Jira home's attachments folder (or the home itself), whose files go with the data.
    pub attachments: Option<PathBuf>,
    /// Orphan rows (whose parent is not in the backup) are fatal instead of skipped
    /// (`--strict`; also `"orphans": "block"` in the override file).
    pub strict: bool,
    /// Where the migration's sealed data, keys and metadata live.
    pub storage: StorageOptions,
}

impl Config {
    /// A migration of `backup` in `work`, into the local site beside it, everything
    /// kept in the work directory.
    pub fn new(backup: impl Into<PathBuf>, work: impl Into<PathBuf>) -> Config {
        Config {
            backup: backup.into(),
            work: work.into(),
            target: TargetConfig::LocalBesideWork,
            overrides: None,
            attachments: None,
            strict: false,
            storage: StorageOptions::default(),
        }
    }
}

/// The site the data goes to. (No `Debug`: a Cloud target holds an API token.)
#[derive(Clone)]
pub enum TargetConfig {
    /// The embedded local site in a private directory beside the work directory
    /// (`WORK-site/site.db`): it holds the migrated data in clear.
    LocalBesideWork,
    /// The embedded local site at this path.
    Local(PathBuf),
    /// Jira Cloud over HTTPS.
    Cloud(Box<CloudConfig>),
}
