use std::io;
use std::path::PathBuf;

/// Everything that can go wrong reading or writing a Jira XML backup.
///
/// Messages name the file (and inside a zip, the entry), the line and the element or
/// table, and say what the operator can do. They never quote a value from the backup:
/// values are customer data, and these messages end up in logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The backup file could not be opened at all.
    #[error(
        "cannot open the backup {path}: {source}. Check the path and that Airlock may read the file."
    )]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The file is not a zip archive, or its end (the zip's directory) is missing.
    #[error(
        "{path} is not a readable zip archive ({source}). It may be truncated or not a zip at all: \
         supply the complete .zip that Jira's \"Backup system\" wrote (copy it again if the copy was interrupted)."
    )]
    NotZip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },

    /// The zip lacks one of the two files a Jira XML backup holds.
    #[error(
        "{path} holds no {entry}: a Jira XML backup zip holds both entities.xml and activeobjects.xml. \
         Make a full backup with Jira's \"Backup system\" and supply that zip."
    )]
    MissingEntry { path: PathBuf, entry: &'static str },

    /// The zip entry exists but cannot be decompressed (encrypted, unknown compression…).
    #[error(
        "cannot read {entry} inside {path}: {source}. The archive may be damaged or re-packed with an \
         unsupported tool; make a fresh backup with Jira's \"Backup system\"."
    )]
    Entry {
        path: PathBuf,
        entry: &'static str,
        #[source]
        source: zip::result::ZipError,
    },

    /// Reading the (decompressed) stream failed: a truncated or corrupted archive, usually.
    #[error(
        "{file}, line {line}: reading failed ({source}). The backup is probably truncated or corrupted; \
         copy it again or make a fresh backup."
    )]
    Read {
        file: String,
        line: u64,
        #[source]
        source: io::Error,
    },

    /// The text is not well-formed XML.
    #[error(
        "{file}, line {line}, {context}: malformed XML ({source}). The file is truncated, damaged or was \
         not written by Jira; make a fresh backup, and do not edit the XML by hand."
    )]
    Xml {
        file: String,
        line: u64,
        context: String,
        #[source]
        source: quick_xml::Error,
    },

    /// Well-formed XML that does not follow the backup format (unknown value element, wrong
    /// number of values in a row, unparsable number or date…).
    #[error("{file}, line {line}, {context}: {problem}. {hint}")]
    Invalid {
        file: String,
        line: u64,
        context: String,
        problem: String,
        hint: &'static str,
    },

    /// An element, a value, a row or the table definitions are larger than the reader
    /// holds in memory (see [`MAX_ELEMENT_BYTES`](crate::MAX_ELEMENT_BYTES)). Reading stops
    /// there: nothing after it is trusted.
    #[error(
        "{file}, line {line}, {context}: {what}. Airlock holds one element at a time in memory and \
         refuses larger ones; no Jira backup holds such an element, so the file is corrupt or was \
         made to exhaust memory. Make a fresh backup with Jira's \"Backup system\" (if that row is \
         real, shorten its text in Jira first)."
    )]
    TooLarge {
        file: String,
        line: u64,
        context: String,
        what: String,
    },

    /// Writing failed in the underlying writer.
    #[error("cannot write {file}: {source}")]
    Write {
        file: &'static str,
        #[source]
        source: io::Error,
    },

    /// The caller asked the writer for something the format cannot hold.
    #[error("cannot write {file}, {context}: {problem}")]
    Unwritable {
        file: &'static str,
        context: String,
        problem: String,
    },
}

impl BackupError {
    /// The file (or zip entry) the error is about, when it is about one file's content.
    pub fn file(&self) -> Option<&str> {
        match self {
            BackupError::Read { file, .. }
            | BackupError::Xml { file, .. }
            | BackupError::Invalid { file, .. }
            | BackupError::TooLarge { file, .. } => Some(file),
            BackupError::Write { file, .. } | BackupError::Unwritable { file, .. } => Some(file),
            BackupError::MissingEntry { entry, .. } | BackupError::Entry { entry, .. } => {
                Some(entry)
            }
            BackupError::Open { .. } | BackupError::NotZip { .. } => None,
        }
    }

    /// The 1-based line of the file the error was found at, when it was found while reading.
    pub fn line(&self) -> Option<u64> {
        match self {
            BackupError::Read { line, .. }
            | BackupError::Xml { line, .. }
            | BackupError::Invalid { line, .. }
            | BackupError::TooLarge { line, .. } => Some(*line),
            _ => None,
        }
    }
}
