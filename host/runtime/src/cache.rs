//! Precompiled components on disk, keyed by the component's content hash and the engine's
//! compatibility hash, so a plugin compiles once per engine build, not once per run.
//!
//! An artifact is native code the host will run, so the cache is treated as hostile: every
//! artifact carries an HMAC-SHA256 tag under a host key kept *beside* the cache directory
//! (`<dir>.key`, 0600), over the plugin's content hash, the engine's hash and the bytes. A
//! file that fails the tag (rewritten, swapped for another plugin's artifact, truncated) is
//! discarded and the plugin recompiled. The directory must be the user's own and writable
//! by no one else; it is created 0700 and files 0600, written to exclusive temporary names.

use ring::hmac;
use std::fs::{DirBuilder, OpenOptions};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Bytes of the cache's host key.
const KEY_LEN: usize = 32;
/// Bytes of the tag in front of every artifact.
const TAG_LEN: usize = 32;

/// Why a cache directory or its key cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is a symbolic link; the plugin cache must be a real directory (remove the link or choose another --cache-dir)"
    )]
    Link { path: PathBuf },
    #[error(
        "{path} belongs to another user (uid {owner}); the plugin cache must be your own (choose another cache directory)"
    )]
    NotOwned { path: PathBuf, owner: u32 },
    #[error(
        "{path} can be written by other users (mode {mode:o}); anyone who can write there could run code in Airlock. Run `chmod 700 {path}` or choose another cache directory"
    )]
    Writable { path: PathBuf, mode: u32 },
    #[error(
        "{path} is not a valid cache key (a regular 0600 file of {KEY_LEN} bytes owned by you); delete it and the cache directory beside it, and Airlock will create both again"
    )]
    BadKey { path: PathBuf },
}

pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_hash: String,
    key: hmac::Key,
}

impl ArtifactCache {
    pub(crate) fn new(dir: &Path, engine: &Engine) -> Result<ArtifactCache, CacheError> {
        private_dir(dir)?;
        let key = host_key(&key_path(dir))?;
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(ArtifactCache {
            dir: dir.to_owned(),
            engine_hash: format!("{:016x}", h.finish()),
            key,
        })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256}-{}.cwasm", self.engine_hash))
    }

    /// The tag binds the bytes to this plugin and this engine: an artifact of another
    /// plugin copied under this name fails it.
    fn tag(&self, sha256: &str, bytes: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"airlock-artifact-v1\0");
        ctx.update(sha256.as_bytes());
        ctx.update(b"\0");
        ctx.update(self.engine_hash.as_bytes());
        ctx.update(b"\0");
        ctx.update(bytes);
        ctx.sign()
    }

    /// The cached artifact, if one exists, is authentic and loads.
    pub(crate) fn get(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        // Read, not mmap: a file truncated or rewritten under a mapping would crash the
        // process (SIGBUS) instead of failing this load. Never follow a link.
        let bytes = read_private(&path)?;
        let authentic = bytes.len() > TAG_LEN && {
            let (tag, body) = bytes.split_at(TAG_LEN);
            constant_time_eq(self.tag(sha256, body).as_ref(), tag)
        };
        if !authentic {
            tracing::warn!(sha256, "discarding a cached artifact that fails its tag");
            let _ = std::fs::remove_file(&path);
            return None;
        }
        // SAFETY: the bytes carry a valid HMAC under the host's private key over this
        // plugin's hash and this engine's compatibility hash, so they are what `put` wrote
        // from `Component::serialize` of this engine configuration; wasmtime checks the
        // header again.
        match unsafe { Component::deserialize(engine, &bytes[TAG_LEN..]) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "discarding an unusable cached artifact");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores an artifact; a failure only costs a recompile next time.
    pub(crate) fn put(&self, sha256: &str, component: &Component) {
        let path = self.path(sha256);
        let result = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|bytes| {
                let tag = self.tag(sha256, &bytes);
                let tmp = path.with_extension(format!("tmp-{}", random_suffix()?));
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&tmp)?;
                let written = file
                    .write_all(tag.as_ref())
                    .and_then(|()| file.write_all(&bytes))
                    .and_then(|()| std::fs::rename(&tmp, &path));
                if written.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                written
            });
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not cache a compiled plugin");
        }
    }
}

/// Compares without an early exit, so timing tells nothing about the tag.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The host key sits beside the directory, not in it: whoever may only write the cache
/// cannot read or replace the key.
fn key_path(dir: &Path) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "airlock-cache".into());
    name.push(".key");
    dir.with_file_name(name)
}

/// Creates the directory 0700, or checks an existing one is the user's own, a real
/// directory, and writable by no one else (then drops group and other access).
fn private_dir(dir: &Path) -> Result<(), CacheError> {
    let io = |source| CacheError::Io {
        path: dir.to_owned(),
        source,
    };
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| CacheError::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io)?;
    if meta.file_type().is_symlink() {
        return Err(CacheError::Link {
            path: dir.to_owned(),
        });
    }
    if !meta.is_dir() {
        return Err(io(std::io::Error::other("not a directory")));
    }
    check_owner(dir, &meta)?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(CacheError::Writable {
            path: dir.to_owned(),
            mode,
        });
    }
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(())
}

fn check_owner(path: &Path, meta: &std::fs::Metadata) -> Result<(), CacheError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(CacheError::NotOwned {
            path: path.to_owned(),
            owner: meta.uid(),
        });
    }
    Ok(())
}

/// Reads the host key, or creates it (0600, exclusive) with fresh random bytes.
fn host_key(path: &Path) -> Result<hmac::Key, CacheError> {
    let bad = || CacheError::BadKey {
        path: path.to_owned(),
    };
    let io = |source| CacheError::Io {
        path: path.to_owned(),
        source,
    };
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    let mut file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; KEY_LEN];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
                .map_err(|_| io(std::io::Error::other("no system randomness")))?;
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
            {
                Ok(mut file) => {
                    file.write_all(&key).map_err(io)?;
                    return Ok(hmac::Key::new(hmac::HMAC_SHA256, &key));
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return host_key(path);
                }
                Err(e) => return Err(io(e)),
            }
        }
        // O_NOFOLLOW on a link fails with ELOOP.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(bad()),
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    check_owner(path, &meta)?;
    if !meta.is_file() || meta.mode() & 0o077 != 0 || meta.len() != KEY_LEN as u64 {
        return Err(bad());
    }
    let mut key = [0u8; KEY_LEN];
    file.read_exact(&mut key).map_err(io)?;
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &key))
}

/// An artifact's bytes, if it is a regular file (never through a link).
fn read_private(path: &Path) -> Option<Vec<u8>> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

fn random_suffix() -> std::io::Result<String> {
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| std::io::Error::other("no system randomness"))?;
    Ok(hex::encode(b))
}
