//! Staging: the named objects a migration keeps between its phases (extracted records,
//! app tables, reports), behind [`Staging`].
//!
//! [`PlainDir`] keeps them as plain files in a directory. It exists until the vault
//! (envelope encryption, issue 4) implements the same trait; nothing else in Airlock
//! writes customer data to disk, so swapping the implementation covers every byte.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Why a staged object could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StagingError {
    #[error("staged object {name:?} does not exist")]
    Missing { name: String },
    #[error("staged object name {name:?} is not allowed (letters, digits, '-', '_', '.', '/')")]
    BadName { name: String },
    #[error("staging {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A staged object being written. Nothing is visible under its name until [`finish`]:
/// a crash mid-write leaves the previous object (or none), never half of one.
///
/// [`finish`]: StagedWrite::finish
pub trait StagedWrite: Write + Send {
    fn finish(self: Box<Self>) -> Result<u64, StagingError>;
}

/// Named objects of one migration.
pub trait Staging: Send + Sync {
    /// Starts writing `name`, replacing it once finished.
    fn create(&self, name: &str) -> Result<Box<dyn StagedWrite>, StagingError>;
    /// Reads `name` from the start.
    fn open(&self, name: &str) -> Result<Box<dyn Read + Send>, StagingError>;
    fn exists(&self, name: &str) -> Result<bool, StagingError>;
    /// Removes `name`; removing a missing object is not an error.
    fn remove(&self, name: &str) -> Result<(), StagingError>;
}

/// Plain files under a directory (until the vault lands; see the crate docs).
#[derive(Clone, Debug)]
pub struct PlainDir {
    root: PathBuf,
}

impl PlainDir {
    pub fn new(root: impl Into<PathBuf>) -> Result<PlainDir, StagingError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|source| StagingError::Io {
            path: root.clone(),
            source,
        })?;
        Ok(PlainDir { root })
    }

    fn path(&self, name: &str) -> Result<PathBuf, StagingError> {
        let ok = !name.is_empty()
            && name.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            });
        if !ok {
            return Err(StagingError::BadName {
                name: name.to_owned(),
            });
        }
        Ok(self.root.join(name))
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StagingError + '_ {
    move |source| StagingError::Io {
        path: path.to_path_buf(),
        source,
    }
}

struct PlainWrite {
    out: BufWriter<File>,
    temp: PathBuf,
    path: PathBuf,
    written: u64,
}

impl Write for PlainWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl StagedWrite for PlainWrite {
    fn finish(self: Box<Self>) -> Result<u64, StagingError> {
        let PlainWrite {
            out,
            temp,
            path,
            written,
        } = *self;
        let file = out
            .into_inner()
            .map_err(|e| io_error(&temp)(e.into_error()))?;
        file.sync_data().map_err(io_error(&temp))?;
        fs::rename(&temp, &path).map_err(io_error(&path))?;
        Ok(written)
    }
}

impl Staging for PlainDir {
    fn create(&self, name: &str) -> Result<Box<dyn StagedWrite>, StagingError> {
        let path = self.path(name)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let temp = path.with_extension("partial");
        let file = File::create(&temp).map_err(io_error(&temp))?;
        Ok(Box::new(PlainWrite {
            out: BufWriter::with_capacity(256 * 1024, file),
            temp,
            path,
            written: 0,
        }))
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + Send>, StagingError> {
        let path = self.path(name)?;
        match File::open(&path) {
            Ok(file) => Ok(Box::new(BufReader::with_capacity(256 * 1024, file))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StagingError::Missing {
                name: name.to_owned(),
            }),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    fn exists(&self, name: &str) -> Result<bool, StagingError> {
        Ok(self.path(name)?.exists())
    }

    fn remove(&self, name: &str) -> Result<(), StagingError> {
        let path = self.path(name)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(&path)(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_appears_only_when_finished_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let staging = PlainDir::new(dir.path()).unwrap();
        let mut w = staging.create("core/issue.rec").unwrap();
        w.write_all(b"hello").unwrap();
        assert!(!staging.exists("core/issue.rec").unwrap());
        assert_eq!(w.finish().unwrap(), 5);
        let mut text = String::new();
        staging
            .open("core/issue.rec")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "hello");
        staging.remove("core/issue.rec").unwrap();
        staging.remove("core/issue.rec").unwrap();
        assert!(matches!(
            staging.open("core/issue.rec"),
            Err(StagingError::Missing { .. })
        ));
    }

    #[test]
    fn names_cannot_escape_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let staging = PlainDir::new(dir.path()).unwrap();
        for name in ["../x", "/etc/passwd", "a//b", "", "a/./b", "a b"] {
            assert!(
                matches!(staging.create(name), Err(StagingError::BadName { .. })),
                "{name}"
            );
        }
    }
}
