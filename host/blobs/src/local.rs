//! [`LocalDirBlobs`]: blobs as files, one directory per region.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use airlock_model::Region;

use crate::{BlobError, BlobStore, BlobWrite, RegionalBlobs, check_delete_prefix, check_key};

/// Marks a file being written: `~` is not allowed in keys, so a temporary file can never be
/// taken for a blob, and `list` skips it.
const TEMP_MARK: char = '~';

/// Blobs on local disk: region R's store lives under `<root>/<R>/`, a key is a file path below
/// it. Directories are created 0700 and files 0600: the bytes are sealed already, but only
/// Airlock has any business reading them.
///
/// A key cannot be both a blob and a folder of blobs here (`a` and `a/b`); the second write
/// fails with [`BlobError::Io`].
#[derive(Clone, Debug)]
pub struct LocalDirBlobs {
    root: PathBuf,
    /// `dir:` and the root's absolute path, resolved once it exists.
    location: String,
}

impl LocalDirBlobs {
    /// Uses `root`, creating it if needed.
    pub fn new(root: impl Into<PathBuf>) -> Result<LocalDirBlobs, BlobError> {
        let root = root.into();
        make_dirs(&root).map_err(io_error("", &root))?;
        let absolute = fs::canonicalize(&root).map_err(io_error("", &root))?;
        Ok(LocalDirBlobs {
            location: format!("dir:{}", absolute.display()),
            root,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl RegionalBlobs for LocalDirBlobs {
    fn store(&self, region: Region) -> Result<Arc<dyn BlobStore>, BlobError> {
        let dir = self.root.join(region.as_str());
        make_dirs(&dir).map_err(io_error("", &dir))?;
        Ok(Arc::new(LocalDir { dir }))
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn abort_incomplete(&self, started_before: SystemTime) -> Result<u64, BlobError> {
        let mut removed = 0;
        for region in Region::ALL {
            let dir = self.root.join(region.as_str());
            // A region never written to has no folder, and gets none from a sweep.
            if !dir.is_dir() {
                continue;
            }
            removed += LocalDir { dir }.remove_temps(started_before)?;
        }
        Ok(removed)
    }
}

/// One region's directory.
struct LocalDir {
    dir: PathBuf,
}

impl LocalDir {
    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        check_key(key)?;
        Ok(self.dir.join(key))
    }

    fn missing(&self, key: &str) -> BlobError {
        BlobError::Missing {
            key: key.to_owned(),
            location: self.location(),
        }
    }

    /// Every file under `prefix`: blobs, and (with `temps`) leftovers of unfinished writes.
    fn files(&self, prefix: &str, temps: bool) -> Result<Vec<String>, BlobError> {
        crate::check_prefix(prefix)?;
        let start = match prefix.rsplit_once('/') {
            Some((dir, _)) => self.dir.join(dir),
            None => self.dir.clone(),
        };
        let mut keys = Vec::new();
        let mut pending = vec![start];
        while let Some(dir) = pending.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(io_error(prefix, &dir)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io_error(prefix, &dir))?;
                let path = entry.path();
                let kind = entry.file_type().map_err(io_error(prefix, &path))?;
                if kind.is_dir() {
                    pending.push(path);
                    continue;
                }
                let Some(key) = path
                    .strip_prefix(&self.dir)
                    .ok()
                    .and_then(|rel| rel.to_str())
                else {
                    continue;
                };
                let key = key.replace(std::path::MAIN_SEPARATOR, "/");
                let blob = key.split_once(TEMP_MARK).map_or(key.as_str(), |(k, _)| k);
                if blob.starts_with(prefix) && (temps || blob.len() == key.len()) {
                    keys.push(key);
                }
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }

    /// Removes the leftovers of writes that started before `started_before` (a crashed
    /// writer's temporary files; a live writer's are younger than any bound we use).
    fn remove_temps(&self, started_before: SystemTime) -> Result<u64, BlobError> {
        let mut removed = 0;
        let mut dirs = BTreeSet::new();
        for key in self.files("", true)? {
            if !key.contains(TEMP_MARK) {
                continue;
            }
            let path = self.dir.join(&key);
            let modified = match fs::metadata(&path).and_then(|m| m.modified()) {
                Ok(at) => at,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(io_error(&key, &path)(e)),
            };
            if modified >= started_before {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(io_error(&key, &path)(e)),
            }
            if let Some(parent) = path.parent() {
                dirs.insert(parent.to_path_buf());
            }
        }
        self.prune(dirs);
        if removed > 0 {
            tracing::info!(removed, store = %self.dir.display(), "unfinished blob writes removed");
        }
        Ok(removed)
    }

    /// Removes the now empty folders left between `dirs` and the region's directory.
    fn prune(&self, dirs: BTreeSet<PathBuf>) {
        let mut dirs: Vec<PathBuf> = dirs
            .into_iter()
            .flat_map(|d| d.ancestors().map(Path::to_path_buf).collect::<Vec<_>>())
            .filter(|d| d.starts_with(&self.dir) && *d != self.dir)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // Deepest first; a folder that is not empty (a write going on) stays.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            let _ = fs::remove_dir(dir);
        }
    }
}

impl BlobStore for LocalDir {
    fn create(&self, key: &str) -> Result<Box<dyn BlobWrite>, BlobError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = self.path(key)?;
        let parent = path.parent().unwrap_or(&self.dir).to_path_buf();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("blob");
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let temp = parent.join(format!(
            "{name}{TEMP_MARK}{}-{n}.partial",
            std::process::id()
        ));
        // A concurrent `delete` may prune the folder between the two steps: try again once.
        let mut tries = 0;
        let file = loop {
            make_dirs(&parent).map_err(io_error(key, &parent))?;
            match new_file(&temp) {
                Err(e) if e.kind() == io::ErrorKind::NotFound && tries == 0 => tries += 1,
                other => break other.map_err(io_error(key, &temp))?,
            }
        };
        tracing::debug!(key, store = %self.dir.display(), "blob write started");
        Ok(Box::new(LocalWrite {
            out: Some(BufWriter::with_capacity(256 * 1024, file)),
            key: key.to_owned(),
            temp,
            path,
            written: 0,
        }))
    }

    fn open(&self, key: &str) -> Result<Box<dyn Read + Send>, BlobError> {
        let path = self.path(key)?;
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if gone(&e) => return Err(self.missing(key)),
            Err(e) => return Err(io_error(key, &path)(e)),
        };
        // A folder of blobs opens as a file on Unix, but it is no blob.
        if file.metadata().map_err(io_error(key, &path))?.is_dir() {
            return Err(self.missing(key));
        }
        Ok(Box::new(BufReader::with_capacity(256 * 1024, file)))
    }

    fn exists(&self, key: &str) -> Result<bool, BlobError> {
        let path = self.path(key)?;
        match fs::metadata(&path) {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if gone(&e) => Ok(false),
            Err(e) => Err(io_error(key, &path)(e)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => {
                tracing::debug!(key, store = %self.dir.display(), "blob deleted");
                if let Some(parent) = path.parent() {
                    self.prune(BTreeSet::from([parent.to_path_buf()]));
                }
                Ok(())
            }
            Err(e) if gone(&e) || e.kind() == io::ErrorKind::IsADirectory => Ok(()),
            Err(e) => Err(io_error(key, &path)(e)),
        }
    }

    fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        check_delete_prefix(prefix)?;
        // Leftovers of crashed writes go too: deleting a migration leaves none of its bytes.
        let files = self.files(prefix, true)?;
        let mut deleted = 0;
        let mut dirs = BTreeSet::new();
        for key in &files {
            let path = self.dir.join(key);
            match fs::remove_file(&path) {
                Ok(()) => deleted += u64::from(!key.contains(TEMP_MARK)),
                Err(e) if gone(&e) => {}
                Err(e) => return Err(io_error(key, &path)(e)),
            }
            if let Some(parent) = path.parent() {
                dirs.insert(parent.to_path_buf());
            }
        }
        self.prune(dirs);
        tracing::info!(prefix, deleted, store = %self.dir.display(), "blobs deleted by prefix");
        Ok(deleted)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        self.files(prefix, false)
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}

/// A blob going to a temporary file beside its final path.
struct LocalWrite {
    /// `None` once finished.
    out: Option<BufWriter<File>>,
    key: String,
    temp: PathBuf,
    path: PathBuf,
    written: u64,
}

impl Write for LocalWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let out = self.out.as_mut().ok_or_else(finished)?;
        let n = out.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.as_mut().ok_or_else(finished)?.flush()
    }
}

impl BlobWrite for LocalWrite {
    fn finish(mut self: Box<Self>) -> Result<u64, BlobError> {
        let out = self
            .out
            .take()
            .ok_or_else(finished)
            .map_err(io_error(&self.key, &self.temp))?;
        let file = out
            .into_inner()
            .map_err(|e| io_error(&self.key, &self.temp)(e.into_error()))?;
        file.sync_data().map_err(io_error(&self.key, &self.temp))?;
        drop(file);
        fs::rename(&self.temp, &self.path).map_err(io_error(&self.key, &self.path))?;
        // The rename itself survives a crash only once the folder is on disk too.
        if let Some(parent) = self.path.parent() {
            File::open(parent)
                .and_then(|dir| dir.sync_all())
                .map_err(io_error(&self.key, parent))?;
        }
        tracing::debug!(key = %self.key, bytes = self.written, "blob written");
        // Renamed: nothing left for `drop` to clean up.
        self.temp = PathBuf::new();
        Ok(self.written)
    }
}

impl Drop for LocalWrite {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            self.out = None;
            if fs::remove_file(&self.temp).is_ok() {
                tracing::debug!(key = %self.key, "unfinished blob write discarded");
            }
        }
    }
}

fn finished() -> io::Error {
    io::Error::other("this blob write already finished")
}

/// Not there: missing, or a path through a file (`a/b` when `a` is a blob).
fn gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn io_error<'a>(key: &'a str, path: &'a Path) -> impl Fn(io::Error) -> BlobError + 'a {
    move |source| BlobError::Io {
        key: key.to_owned(),
        path: path.to_path_buf(),
        source,
    }
}

fn make_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn new_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}
