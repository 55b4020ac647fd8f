//! The operator's configuration file, `airlock.toml`: where every command finds its
//! storage (tenant, region, metadata store, blob store, keys) so none runs against half the
//! backends. Read from `--config FILE` (or `AIRLOCK_CONFIG`), else `./airlock.toml` if it
//! exists. A flag on the command line wins over the environment, which wins over the file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

/// The file's settings; every one optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub tenant: Option<String>,
    pub region: Option<String>,
    /// `postgres://airlock_app@HOST/DB`.
    pub store: Option<String>,
    /// The schema owner's URL (better kept in `AIRLOCK_STORE_OWNER_URL` if it holds a
    /// password).
    pub store_owner: Option<String>,
    /// `s3:https://ENDPOINT` or `s3:aws`.
    pub blobs: Option<String>,
    pub keys: Option<PathBuf>,
    pub s3_bucket_prefix: Option<String>,
    pub s3_ca: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    /// Reviewers whose plugin approvals `migrate` accepts (hex public keys).
    pub trusted_reviewers: Option<Vec<String>>,
}

/// The configuration in use: the file's path (if any) and its settings, with relative
/// paths resolved against the file's folder.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub file: Option<PathBuf>,
    pub values: FileConfig,
}

/// The name read from the current directory when no file is named.
pub const DEFAULT_FILE: &str = "airlock.toml";

pub fn load(explicit: Option<&Path>) -> Result<Settings> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
        None => return Ok(Settings::default()),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let mut values: FileConfig = toml::from_str(&text).with_context(|| {
        format!(
            "the configuration file {} is not valid (keys: tenant, region, store, store_owner, blobs, keys, s3_bucket_prefix, s3_ca, cache_dir, trusted_reviewers)",
            path.display()
        )
    })?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    for p in [&mut values.keys, &mut values.s3_ca, &mut values.cache_dir]
        .into_iter()
        .flatten()
    {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    }
    Ok(Settings {
        file: Some(path),
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_with_paths_beside_it_and_unknown_keys_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airlock.toml");
        std::fs::write(
            &path,
            "tenant = \"acme\"\nregion = \"eu-west-1\"\nblobs = \"s3:https://s3.example\"\nkeys = \"keys\"\n",
        )
        .unwrap();
        let settings = load(Some(&path)).unwrap();
        assert_eq!(settings.values.tenant.as_deref(), Some("acme"));
        assert_eq!(settings.values.keys, Some(dir.path().join("keys")));
        std::fs::write(&path, "tennant = \"acme\"\n").unwrap();
        let e = format!("{:#}", load(Some(&path)).unwrap_err());
        assert!(e.contains("tennant") && e.contains("not valid"), "{e}");
    }
}
