use std::fmt;
use std::io;
use std::path::PathBuf;

use airlock_model::{MigrationId, TenantId};

/// Which sealed object an error is about: its name and whose it is. Ids and names only,
/// never content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    pub tenant: TenantId,
    pub migration: MigrationId,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "object {:?} (tenant {}, migration {})",
            self.name, self.tenant, self.migration
        )
    }
}

/// Why a key could not be made, wrapped or unwrapped, or a sealed object could not be read.
///
/// Messages name the object, segment, tenant, migration or file involved; they never hold
/// key material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// A segment's tag did not verify: a flipped bit, a cut inside a segment, segments moved
    /// around, or a blob sealed under another tenant, migration or object name.
    #[error(
        "{object}: segment {segment} failed authentication — the blob was altered, truncated, reordered or sealed for another tenant or object; it cannot be read"
    )]
    Tampered { object: ObjectRef, segment: u64 },

    /// Every segment present verified, but the final one is missing: the object was cut at a
    /// segment boundary, or its writer was dropped before `finish`.
    #[error("{object} is truncated after {} (no final segment)", after(*.segments))]
    Truncated {
        object: ObjectRef,
        /// Complete segments before the cut.
        segments: u64,
    },

    /// The blob ends inside its header (an empty or partly written file).
    #[error("{object} is truncated: it ends after {bytes} bytes, inside its {header}-byte header", header = crate::seal::HEADER_LEN)]
    TruncatedHeader { object: ObjectRef, bytes: usize },

    #[error("{object} is not a sealed Airlock object (bad magic)")]
    BadMagic { object: ObjectRef },

    #[error("{object} has unsupported version {version} (this build reads version 1)")]
    UnsupportedVersion { object: ObjectRef, version: u8 },

    /// The header names a segment size this build would not write; it was altered or
    /// written by something else.
    #[error(
        "{object} has an invalid header (segment size {segment_size} is outside 1 B..=16 MiB); it was altered or is not an Airlock object"
    )]
    BadSegmentSize {
        object: ObjectRef,
        segment_size: u32,
    },

    /// A sealed field (a database cell) did not open: altered, cut, moved to another row
    /// (its associated data differs), or sealed under another migration's or purpose's key.
    #[error(
        "a sealed field of tenant {tenant}, migration {migration} (purpose {purpose:?}) failed authentication — it was altered, moved to another row, or sealed for another migration or purpose; it cannot be read"
    )]
    FieldTampered {
        tenant: TenantId,
        migration: MigrationId,
        purpose: String,
    },

    #[error(
        "tenant id {tenant:?} cannot name a key file (1 to 128 ASCII letters, digits, '-', '_' or '.', not starting with '.')"
    )]
    BadTenantId { tenant: String },

    /// A key file or key directory that group or others can reach.
    #[error(
        "{} is accessible by group or others (mode {mode:03o}); refusing to use it — run `chmod {wanted:o} {}`",
        path.display(),
        path.display()
    )]
    Permissions {
        path: PathBuf,
        mode: u32,
        wanted: u32,
    },

    #[error("key file {} holds {len} bytes instead of 32; it is damaged", path.display())]
    BadKeyFile { path: PathBuf, len: u64 },

    /// Destroyed (crypto-shredded) or never created.
    #[error(
        "tenant {tenant} has no key-encryption key (destroyed or never created); its data keys cannot be unwrapped"
    )]
    NoTenantKey { tenant: TenantId },

    #[error(
        "the wrapped data key of tenant {tenant}, migration {migration} failed authentication — it was altered, wrapped for another tenant or migration, or under a key since replaced; it cannot be unwrapped"
    )]
    UnwrapFailed {
        tenant: TenantId,
        migration: MigrationId,
    },

    #[error(
        "the wrapped data key of tenant {tenant}, migration {migration} is malformed: {problem}"
    )]
    BadWrappedKey {
        tenant: TenantId,
        migration: MigrationId,
        problem: &'static str,
    },

    #[error("key file {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("the system random number generator failed")]
    Random,
}

fn after(segments: u64) -> String {
    match segments {
        0 => "its header".to_owned(),
        n => format!("segment {}", n - 1),
    }
}

impl VaultError {
    /// The object this error is about, if it is about one.
    pub fn object(&self) -> Option<&ObjectRef> {
        match self {
            VaultError::Tampered { object, .. }
            | VaultError::Truncated { object, .. }
            | VaultError::TruncatedHeader { object, .. }
            | VaultError::BadMagic { object }
            | VaultError::UnsupportedVersion { object, .. }
            | VaultError::BadSegmentSize { object, .. } => Some(object),
            _ => None,
        }
    }
}

/// For `Read`/`Write` callers: the `VaultError` stays inside, reachable with
/// `io::Error::get_ref()` and `downcast_ref::<VaultError>()`.
impl From<VaultError> for io::Error {
    fn from(e: VaultError) -> io::Error {
        let kind = match e {
            VaultError::Truncated { .. } | VaultError::TruncatedHeader { .. } => {
                io::ErrorKind::UnexpectedEof
            }
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}
