//! Blob stores: where sealed migration data rests, behind [`BlobStore`].
//!
//! Everything that reaches a store has already been sealed (encrypted) by the vault; these
//! stores only keep bytes under keys. A migration's region is chosen when it is created and
//! its blobs never leave it, so stores come from a [`RegionalBlobs`] factory, one per region:
//!
//! - [`LocalDirBlobs`]: a directory per region on local disk, for the embedded deployment;
//! - [`S3Blobs`]: one S3 bucket per region, `<bucket_prefix>-<region>`.
//!
//! The API is synchronous because the migration engine is thread-based; the S3 store drives
//! its own small tokio runtime. With the `testing` feature, `testing::TestS3` is a real
//! S3-compatible server (s3s-fs) over HTTPS on loopback.
//!
//! Architecture invariant: this crate never logs blob contents, only keys, sizes and places.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

pub use airlock_model::Region;

mod local;
mod s3;
#[cfg(feature = "testing")]
pub mod testing;

pub use local::LocalDirBlobs;
pub use s3::{S3Blobs, S3Config, S3Credentials, bucket_name};

/// The longest key accepted, in bytes (S3's own limit).
pub const MAX_KEY_LEN: usize = 1024;
/// The longest segment between two `/`: it becomes a file name on disk (255 bytes at most,
/// with room for the suffix of a file being written).
pub const MAX_SEGMENT_LEN: usize = 200;

/// Why a blob could not be stored, read, listed or removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    #[error("blob {key:?} does not exist in {location}")]
    Missing { key: String, location: String },
    #[error(
        "blob key {key:?} is not allowed: {reason} (keys are '/'-separated segments of \
         letters, digits, '.', '_' and '-', at most {MAX_SEGMENT_LEN} bytes each and \
         {MAX_KEY_LEN} in all)"
    )]
    BadKey { key: String, reason: &'static str },
    #[error(
        "bucket {bucket} (for region {region}) does not exist at {endpoint}: create bucket \
         {bucket} in {region}, or check the endpoint and the bucket prefix"
    )]
    BucketMissing {
        bucket: String,
        region: Region,
        endpoint: String,
    },
    #[error(
        "bucket {bucket} is in region {actual}, not {expected}: refusing to keep {expected} \
         data there; give the bucket prefix of buckets created in their own regions"
    )]
    WrongRegion {
        bucket: String,
        expected: Region,
        actual: String,
    },
    #[error("blob store configuration: {message}")]
    Config { message: String },
    #[error("blob {key:?} at {}: {source}", path.display())]
    Io {
        key: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{action} at {location} failed: {detail} ({hint})")]
    S3 {
        location: String,
        action: String,
        detail: String,
        hint: &'static str,
    },
}

/// A blob being written. Nothing is visible under its key until [`finish`]: a crash
/// mid-write leaves the previous blob (or none), never half of one. Dropping an unfinished
/// writer throws its bytes away.
///
/// [`finish`]: BlobWrite::finish
pub trait BlobWrite: Write + Send {
    /// Makes the blob visible under its key; returns its size in bytes.
    fn finish(self: Box<Self>) -> Result<u64, BlobError>;
}

/// Blobs of one region, by key.
pub trait BlobStore: Send + Sync {
    /// Starts writing `key`; nothing is visible under the key until `finish` (a crash
    /// mid-write leaves the previous object or none).
    fn create(&self, key: &str) -> Result<Box<dyn BlobWrite>, BlobError>;
    /// Streams `key` from the start. A missing key is [`BlobError::Missing`].
    fn open(&self, key: &str) -> Result<Box<dyn Read + Send>, BlobError>;
    fn exists(&self, key: &str) -> Result<bool, BlobError>;
    /// Removing a missing key is not an error.
    fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// Deletes every key under `prefix` (e.g. "tenant-a/mig-1/"), returns how many.
    /// An empty prefix is refused: wiping a whole region is never a side effect.
    fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError>;
    /// Keys under `prefix` ("" for all), sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError>;
    /// Where this store keeps its blobs, for error messages and audits (a path or s3://bucket).
    fn location(&self) -> String;
}

/// Hands out the store of a region; a migration's blobs all live in its region's store.
pub trait RegionalBlobs: Send + Sync {
    fn store(&self, region: Region) -> Result<Arc<dyn BlobStore>, BlobError>;

    /// Which blob store this is, as a location a migration records and the retention sweep
    /// compares: `dir:/abs/path` or `s3:https://endpoint/prefix-*` (`s3:aws/prefix-*`).
    /// Never a credential.
    fn location(&self) -> String;

    /// Aborts the writes, in every region, that started before `started_before` and were
    /// never finished (S3 incomplete multipart uploads, a directory's temporary files): a
    /// crashed writer leaves them, and nothing else ever removes them. Returns how many.
    fn abort_incomplete(&self, started_before: SystemTime) -> Result<u64, BlobError>;
}

/// Checks a key: `/`-separated segments of `[A-Za-z0-9._-]`, none empty, `.` or `..`, each
/// at most [`MAX_SEGMENT_LEN`] bytes, the whole at most [`MAX_KEY_LEN`] bytes. Every store
/// checks keys the same way, so a key that works on disk works on S3 and the other way round.
pub fn check_key(key: &str) -> Result<(), BlobError> {
    let bad = |reason| {
        Err(BlobError::BadKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("it is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return bad("it is too long");
    }
    for segment in key.split('/') {
        if let Some(reason) = segment_problem(segment) {
            return bad(reason);
        }
    }
    Ok(())
}

/// Checks a listing prefix: whole segments as in keys, then possibly the start of one.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), BlobError> {
    let bad = |reason| {
        Err(BlobError::BadKey {
            key: prefix.to_owned(),
            reason,
        })
    };
    if prefix.len() > MAX_KEY_LEN {
        return bad("it is too long");
    }
    let (whole, partial) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    if !whole.is_empty() || prefix.starts_with('/') {
        for segment in whole.split('/') {
            if let Some(reason) = segment_problem(segment) {
                return bad(reason);
            }
        }
    }
    if !partial.bytes().all(key_byte) {
        return bad("it has a character outside [A-Za-z0-9._-/]");
    }
    if partial.len() > MAX_SEGMENT_LEN {
        return bad("it has a segment that is too long");
    }
    Ok(())
}

fn segment_problem(segment: &str) -> Option<&'static str> {
    if segment.is_empty() {
        Some("it has an empty segment")
    } else if segment == "." || segment == ".." {
        Some("it has a '.' or '..' segment")
    } else if !segment.bytes().all(key_byte) {
        Some("it has a character outside [A-Za-z0-9._-/]")
    } else if segment.len() > MAX_SEGMENT_LEN {
        Some("it has a segment that is too long")
    } else {
        None
    }
}

fn key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._-".contains(&b)
}

/// Refuses an empty prefix for `delete_prefix` (see [`BlobStore::delete_prefix`]).
pub(crate) fn check_delete_prefix(prefix: &str) -> Result<(), BlobError> {
    if prefix.is_empty() {
        return Err(BlobError::BadKey {
            key: String::new(),
            reason: "delete_prefix needs a non-empty prefix; delete a region's keys by naming them",
        });
    }
    check_prefix(prefix)
}
