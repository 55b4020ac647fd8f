//! Streaming reader (and writer) of Jira Data Center XML backups.
//!
//! A backup is a zip holding `entities.xml` (Jira's core data) and `activeobjects.xml` (the
//! apps' Active Objects tables). Real ones reach many gigabytes, so both files are read as
//! streams straight out of the zip: memory stays bounded by what the caller keeps.
//!
//! ```no_run
//! # fn main() -> Result<(), airlock_backup::BackupError> {
//! use airlock_model::AppKey;
//!
//! let mut backup = airlock_backup::Backup::open("jira-backup.zip")?;
//! let prefix = AppKey::new("com.actonic.jira.timesheet-builder").ao_prefix();
//! let mut ao = backup.active_objects()?;
//! let tables = ao.tables().iter().filter(|t| prefix.owns(&t.name)).count();
//! for batch in ao.batches(500, |table| prefix.owns(table)) {
//!     let batch = batch?;
//!     println!("{}: {} rows", batch.table, batch.rows.len());
//! }
//! # let _ = tables;
//! # Ok(())
//! # }
//! ```
//!
//! Backups are untrusted input: entities are never expanded, every malformed piece is an
//! error naming the file, the line and the element, no message quotes a value, and no
//! element, value or row may hold more than [`MAX_ELEMENT_BYTES`] in memory (reading stops
//! with [`BackupError::TooLarge`]).

mod ao;
mod dates;
mod entities;
mod error;
mod workflow;
mod write;
mod xml;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

pub use ao::{
    AoBatch, AoBatches, AoColumn, AoForeignKey, AoReader, AoTable, MAX_SKIPPED_SECTIONS, sql_type,
};
pub use dates::{format_ao_timestamp, format_entity_date, parse_ao_timestamp, parse_entity_date};
pub use entities::{BrokenRow, Entity, EntityReader};
pub use error::BackupError;
pub use workflow::{Descriptor, DescriptorError, RuleLeft, parse_descriptor};
pub use write::{AoWriter, EntitiesWriter};
pub use xml::MAX_ELEMENT_BYTES;

/// The name of the core data file inside a backup zip.
pub const ENTITIES_XML: &str = "entities.xml";
/// The name of the apps' data file inside a backup zip.
pub const ACTIVE_OBJECTS_XML: &str = "activeobjects.xml";

/// The decompressed stream of one zip entry.
pub type ZipEntry<'a> = BufReader<zip::read::ZipFile<'a, File>>;

/// Decompressed reads go through a buffer this large: few, large reads from the inflater.
const STREAM_BUFFER: usize = 64 * 1024;

/// An opened Jira XML backup zip.
///
/// The readers borrow the backup: read one file at a time, or open the backup twice to
/// read both files at once.
pub struct Backup {
    path: PathBuf,
    archive: zip::ZipArchive<File>,
    entities_size: u64,
    active_objects_size: u64,
    fingerprint: String,
}

impl std::fmt::Debug for Backup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backup")
            .field("path", &self.path)
            .field("entities_size", &self.entities_size)
            .field("active_objects_size", &self.active_objects_size)
            .finish_non_exhaustive()
    }
}

impl Backup {
    /// Opens the zip at `path` and checks that it holds entities.xml and activeobjects.xml.
    /// Reads only the zip's directory.
    pub fn open(path: impl AsRef<Path>) -> Result<Backup, BackupError> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|source| BackupError::Open {
            path: path.clone(),
            source,
        })?;
        let mut archive = zip::ZipArchive::new(file).map_err(|source| BackupError::NotZip {
            path: path.clone(),
            source,
        })?;
        let mut size = |entry: &'static str| -> Result<(u64, u32), BackupError> {
            let Some(index) = archive.index_for_name(entry) else {
                return Err(BackupError::MissingEntry {
                    path: path.clone(),
                    entry,
                });
            };
            let file = archive
                .by_index_raw(index)
                .map_err(|source| BackupError::Entry {
                    path: path.clone(),
                    entry,
                    source,
                })?;
            Ok((file.size(), file.crc32()))
        };
        let (entities_size, entities_crc) = size(ENTITIES_XML)?;
        let (active_objects_size, active_objects_crc) = size(ACTIVE_OBJECTS_XML)?;
        Ok(Backup {
            path,
            archive,
            entities_size,
            active_objects_size,
            fingerprint: format!(
                "{entities_size}:{entities_crc:08x}/{active_objects_size}:{active_objects_crc:08x}"
            ),
        })
    }

    /// Identifies the backup's content cheaply: the sizes and CRC-32s the zip's directory
    /// declares for both files (read without decompressing anything). A migration's work
    /// directory remembers it, so a resumed run never mixes two backups.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The path the backup was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The decompressed size of entities.xml as the zip declares it (for progress).
    pub fn entities_size(&self) -> u64 {
        self.entities_size
    }

    /// The decompressed size of activeobjects.xml as the zip declares it (for progress).
    pub fn active_objects_size(&self) -> u64 {
        self.active_objects_size
    }

    /// Starts reading activeobjects.xml: reads its table definitions, then streams rows.
    pub fn active_objects(&mut self) -> Result<AoReader<ZipEntry<'_>>, BackupError> {
        let entry = self.entry(ACTIVE_OBJECTS_XML)?;
        AoReader::new(entry, ACTIVE_OBJECTS_XML)
    }

    /// Starts reading entities.xml, one entity at a time.
    pub fn entities(&mut self) -> Result<EntityReader<ZipEntry<'_>>, BackupError> {
        let entry = self.entry(ENTITIES_XML)?;
        EntityReader::new(entry, ENTITIES_XML)
    }

    fn entry(&mut self, entry: &'static str) -> Result<ZipEntry<'_>, BackupError> {
        let file = self.archive.by_name(entry).map_err(|source| match source {
            zip::result::ZipError::FileNotFound => BackupError::MissingEntry {
                path: self.path.clone(),
                entry,
            },
            source => BackupError::Entry {
                path: self.path.clone(),
                entry,
                source,
            },
        })?;
        Ok(BufReader::with_capacity(STREAM_BUFFER, file))
    }
}

#[cfg(test)]
mod tests;
