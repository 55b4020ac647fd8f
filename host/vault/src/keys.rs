//! Data keys, their wrapped form, and the key-encryption keys that wrap them.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use airlock_model::{MigrationId, TenantId};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

use crate::error::VaultError;

/// Bytes in a data key and in a key-encryption key (AES-256).
pub const KEY_LEN: usize = 32;

/// A migration's data key: every object of the migration is sealed under a key derived from
/// it. Zeroed when dropped; boxed so moving it does not leave copies on the stack; no
/// `Clone`, and `Debug` prints `DataKey(..)`.
pub struct DataKey(Box<[u8; KEY_LEN]>);

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Result<DataKey, VaultError> {
        let mut key = DataKey(Box::new([0u8; KEY_LEN]));
        SystemRandom::new()
            .fill(&mut key.0[..])
            .map_err(|_| VaultError::Random)?;
        Ok(key)
    }

    /// A key from its bytes, for a [`KeyProvider`] that unwraps elsewhere (a KMS).
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> DataKey {
        let mut key = DataKey(Box::new([0u8; KEY_LEN]));
        key.0.copy_from_slice(bytes);
        key
    }

    /// The raw key, for a [`KeyProvider`] to wrap. Never log or store it unwrapped.
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// A data key sealed under its tenant's key-encryption key: safe to store next to the data.
///
/// Opaque bytes; [`LocalKeyFile`] writes version 1:
/// `version (1) | nonce (12, random) | AES-256-GCM(data key) (32) | tag (16)`, with the
/// associated data binding the tenant and the migration, so it unwraps only for them.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey(Vec<u8>);

impl WrappedKey {
    pub fn from_bytes(bytes: &[u8]) -> WrappedKey {
        WrappedKey(bytes.to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedKey({} bytes)", self.0.len())
    }
}

/// Holds the tenants' key-encryption keys (KEKs): the local key file today, a KMS later.
/// A KEK never leaves its provider; only wrapped data keys do.
pub trait KeyProvider: Send + Sync {
    /// Wraps a migration's data key under the tenant's key-encryption key (creating that KEK on first use).
    fn wrap(
        &self,
        tenant: &TenantId,
        migration: &MigrationId,
        key: &DataKey,
    ) -> Result<WrappedKey, VaultError>;

    fn unwrap(
        &self,
        tenant: &TenantId,
        migration: &MigrationId,
        wrapped: &WrappedKey,
    ) -> Result<DataKey, VaultError>;

    /// Destroys the tenant's KEK (crypto-shredding every data key it wrapped). Idempotent.
    fn destroy_tenant(&self, tenant: &TenantId) -> Result<(), VaultError>;

    /// Whether this provider holds a KEK for the tenant (so that destroying "nothing" is
    /// never reported as destroying a key).
    fn holds_tenant(&self, tenant: &TenantId) -> Result<bool, VaultError>;

    /// Which provider this is, as a location a migration records and the retention sweep
    /// compares, e.g. `file:/abs/keys`. Never a credential.
    fn location(&self) -> String;
}

const WRAP_VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const WRAPPED_LEN: usize = 1 + NONCE_LEN + KEY_LEN + TAG_LEN;
const WRAP_CONTEXT: &[u8] = b"airlock wrapped key v1";

/// The embedded provider: one 32-byte KEK per tenant in `<dir>/<tenant>.kek`.
///
/// The directory is created 0700 and each key file 0600; a directory or key file that group
/// or others can reach is refused rather than used. Key files are never replaced once
/// created (replacing one would orphan every data key it wrapped).
///
/// `destroy_tenant` overwrites the file before removing it. On copy-on-write or
/// wear-levelled storage the old blocks may survive; a KMS is the real answer there.
#[derive(Debug)]
pub struct LocalKeyFile {
    dir: PathBuf,
    rng: SystemRandom,
}

impl LocalKeyFile {
    /// Opens `dir`, creating it (0700) if missing.
    pub fn open(dir: impl Into<PathBuf>) -> Result<LocalKeyFile, VaultError> {
        let dir = dir.into();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(key_file_error(&dir))?;
        let meta = fs::metadata(&dir).map_err(key_file_error(&dir))?;
        check_private(&dir, meta.permissions().mode(), 0o700)?;
        Ok(LocalKeyFile {
            dir,
            rng: SystemRandom::new(),
        })
    }

    /// Where `tenant`'s key lives, once the id is known to be a safe file name.
    fn path(&self, tenant: &TenantId) -> Result<PathBuf, VaultError> {
        let id = tenant.as_str();
        let ok = (1..=128).contains(&id.len())
            && !id.starts_with('.')
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !ok {
            return Err(VaultError::BadTenantId {
                tenant: id.to_owned(),
            });
        }
        Ok(self.dir.join(format!("{id}.kek")))
    }

    /// The tenant's KEK, or `None` if it has none.
    fn load(&self, path: &Path) -> Result<Option<Zeroizing<[u8; KEY_LEN]>>, VaultError> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(key_file_error(path)(e)),
        };
        let meta = file.metadata().map_err(key_file_error(path))?;
        check_private(path, meta.permissions().mode(), 0o600)?;
        if !meta.is_file() || meta.len() != KEY_LEN as u64 {
            return Err(VaultError::BadKeyFile {
                path: path.to_owned(),
                len: meta.len(),
            });
        }
        let mut kek = Zeroizing::new([0u8; KEY_LEN]);
        file.read_exact(&mut kek[..])
            .map_err(key_file_error(path))?;
        Ok(Some(kek))
    }

    /// The tenant's KEK, created on first use. Written to a 0600 temporary file, then
    /// hard-linked into place: unlike a rename, a link never replaces a key another process
    /// created meanwhile; the loser of such a race uses the winner's key.
    fn load_or_create(
        &self,
        tenant: &TenantId,
        path: &Path,
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
        if let Some(kek) = self.load(path)? {
            return Ok(kek);
        }
        let mut kek = Zeroizing::new([0u8; KEY_LEN]);
        self.rng
            .fill(&mut kek[..])
            .map_err(|_| VaultError::Random)?;
        let mut suffix = [0u8; 8];
        self.rng.fill(&mut suffix).map_err(|_| VaultError::Random)?;
        let temp = path.with_extension(format!("kek.tmp-{:016x}", u64::from_le_bytes(suffix)));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)?;
            file.write_all(&kek[..])?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(key_file_error(&temp)(e));
        }
        let linked = fs::hard_link(&temp, path);
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                sync_dir(&self.dir)?;
                tracing::info!(tenant = %tenant, "created key-encryption key");
                Ok(kek)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.load(path)?.ok_or_else(|| VaultError::NoTenantKey {
                    tenant: tenant.clone(),
                })
            }
            Err(e) => Err(key_file_error(path)(e)),
        }
    }
}

impl KeyProvider for LocalKeyFile {
    fn wrap(
        &self,
        tenant: &TenantId,
        migration: &MigrationId,
        key: &DataKey,
    ) -> Result<WrappedKey, VaultError> {
        let path = self.path(tenant)?;
        let kek = self.load_or_create(tenant, &path)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| VaultError::Random)?;
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.push(WRAP_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(key.expose_bytes());
        let ad = wrap_context(tenant, migration);
        let tag = kek_cipher(&kek)
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&ad),
                &mut out[1 + NONCE_LEN..],
            )
            .expect("sealing 32 bytes cannot fail");
        out.extend_from_slice(tag.as_ref());
        tracing::debug!(tenant = %tenant, migration = %migration, "wrapped data key");
        Ok(WrappedKey(out))
    }

    fn unwrap(
        &self,
        tenant: &TenantId,
        migration: &MigrationId,
        wrapped: &WrappedKey,
    ) -> Result<DataKey, VaultError> {
        let malformed = |problem| VaultError::BadWrappedKey {
            tenant: tenant.clone(),
            migration: migration.clone(),
            problem,
        };
        let bytes = wrapped.as_bytes();
        match bytes.first() {
            None => return Err(malformed("it is empty")),
            Some(&WRAP_VERSION) => {}
            Some(_) => return Err(malformed("unsupported version")),
        }
        if bytes.len() != WRAPPED_LEN {
            return Err(malformed("wrong length"));
        }
        let path = self.path(tenant)?;
        let kek = self.load(&path)?.ok_or_else(|| VaultError::NoTenantKey {
            tenant: tenant.clone(),
        })?;
        let nonce = Nonce::try_assume_unique_for_key(&bytes[1..1 + NONCE_LEN])
            .map_err(|_| malformed("wrong length"))?;
        let mut sealed = Zeroizing::new([0u8; KEY_LEN + TAG_LEN]);
        sealed.copy_from_slice(&bytes[1 + NONCE_LEN..]);
        let ad = wrap_context(tenant, migration);
        let plain = kek_cipher(&kek)
            .open_in_place(nonce, Aad::from(&ad), &mut sealed[..])
            .map_err(|_| VaultError::UnwrapFailed {
                tenant: tenant.clone(),
                migration: migration.clone(),
            })?;
        let plain =
            <&[u8; KEY_LEN]>::try_from(&plain[..]).map_err(|_| malformed("wrong length"))?;
        let key = DataKey::from_bytes(plain);
        tracing::debug!(tenant = %tenant, migration = %migration, "unwrapped data key");
        Ok(key)
    }

    fn holds_tenant(&self, tenant: &TenantId) -> Result<bool, VaultError> {
        let path = self.path(tenant)?;
        match fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(key_file_error(&path)(e)),
        }
    }

    /// `file:` and the directory's absolute path.
    fn location(&self) -> String {
        let dir = fs::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone());
        format!("file:{}", dir.display())
    }

    fn destroy_tenant(&self, tenant: &TenantId) -> Result<(), VaultError> {
        let path = self.path(tenant)?;
        let mut file = match OpenOptions::new().write(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(key_file_error(&path)(e)),
        };
        let mut noise = Zeroizing::new([0u8; KEY_LEN]);
        self.rng
            .fill(&mut noise[..])
            .map_err(|_| VaultError::Random)?;
        file.write_all(&noise[..])
            .and_then(|()| file.sync_all())
            .map_err(key_file_error(&path))?;
        drop(file);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(key_file_error(&path)(e));
            }
            _ => {}
        }
        sync_dir(&self.dir)?;
        tracing::info!(tenant = %tenant, "destroyed key-encryption key");
        Ok(())
    }
}

fn kek_cipher(kek: &[u8; KEY_LEN]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek).expect("a 32-byte AES-256 key"))
}

/// Associated data of a wrapped key: it unwraps only for this tenant and migration.
fn wrap_context(tenant: &TenantId, migration: &MigrationId) -> Vec<u8> {
    let mut ad = WRAP_CONTEXT.to_vec();
    for part in [tenant.as_str(), migration.as_str()] {
        ad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        ad.extend_from_slice(part.as_bytes());
    }
    ad
}

fn check_private(path: &Path, mode: u32, wanted: u32) -> Result<(), VaultError> {
    if mode & 0o077 != 0 {
        return Err(VaultError::Permissions {
            path: path.to_owned(),
            mode: mode & 0o7777,
            wanted,
        });
    }
    Ok(())
}

/// Makes a created or removed key file durable.
fn sync_dir(dir: &Path) -> Result<(), VaultError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(key_file_error(dir))
}

fn key_file_error(path: &Path) -> impl FnOnce(io::Error) -> VaultError + '_ {
    move |source| VaultError::KeyFile {
        path: path.to_path_buf(),
        source,
    }
}
