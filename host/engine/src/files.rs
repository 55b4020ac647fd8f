//! Attachment files: after the load, the files in the operator's attachments folder
//! (Jira home's `data/attachments/PROJECTKEY/BUCKET/ISSUEKEY/ATTACHMENTID` tree, or that
//! folder itself) go to the target, each under the cloud id its metadata was given. The
//! tree is walked, not indexed, so memory does not grow with the number of files; each
//! uploaded file is recorded, so a rerun uploads only the rest. A target that takes a file
//! only with its attachment (Jira Cloud) gets a [`FolderFiles`] index before the load
//! instead, and the walk after it only counts what went.

use std::fs::{File, FileType, OpenOptions};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use airlock_model::{Namespace, Severity};
use airlock_site::{AttachmentFiles, Site};
use serde::{Deserialize, Serialize};

use crate::state::State;
use crate::{EngineError, Finding, Findings};

/// What happened to the attachments folder.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilesSummary {
    pub uploaded: u64,
    pub bytes: u64,
    /// Uploaded by an earlier run.
    pub already: u64,
    /// Files whose name is not the id of a migrated attachment.
    pub unknown: u64,
    /// Migrated attachments with no file in the folder (those skipped are not counted here).
    pub missing: u64,
    /// What was not read because reading it could leave the attachments folder: symbolic
    /// links (never followed, to a file or a folder), anything but a regular file, a file
    /// whose real path is outside the folder. Counted per reason, with examples naming the
    /// path under the folder and what to do. A migrated attachment among them stays without
    /// its file on the target until a real file is put in its place and the migration rerun.
    #[serde(default)]
    pub skipped: Findings,
}

impl FilesSummary {
    /// How many entries of the folder were skipped, for any reason.
    pub fn skipped_count(&self) -> u64 {
        self.skipped.summaries().iter().map(|s| s.count).sum()
    }
}

/// A symbolic link in the attachments folder (to a file or a folder): never followed.
pub const SKIPPED_SYMLINK: &str = "attachment-symlink";
/// A device, pipe or socket where an attachment file should be: never read.
pub const SKIPPED_NOT_A_FILE: &str = "attachment-not-a-file";
/// A file whose real path leaves the attachments folder: never read.
pub const SKIPPED_OUTSIDE: &str = "attachment-outside-folder";

const NS: Namespace = Namespace::named("jira:fileAttachment");

/// Uploads every attachment file under `folder` whose metadata was migrated. Nothing
/// outside the attachments folder is read: symbolic links are not followed (a file opens
/// with `O_NOFOLLOW`, and a folder reached through a link is not walked), and a file whose
/// real path is not under the folder's real path is skipped; what is skipped is in
/// [`FilesSummary::skipped`] with the reason.
///
/// `with_records`: the target took each file with its attachment during the load
/// ([`Site::take_attachment_files`]); the walk then only counts the files that went and
/// records them, sending nothing again.
pub fn upload(
    folder: &Path,
    state: &mut State,
    target: &mut dyn Site,
    with_records: bool,
    mut progress: impl FnMut(u64),
) -> Result<FilesSummary, EngineError> {
    let root = attachments_root(folder)?;
    let mut summary = FilesSummary::default();
    // Migrated attachments whose file was skipped: not "missing" twice.
    let mut skipped_attachments = 0u64;
    walk(&root, |path, kind| {
        let id = attachment_id(path);
        let skipped_because: Option<&'static str> = 'entry: {
            if kind.is_symlink() {
                break 'entry Some(SKIPPED_SYMLINK);
            }
            // Thumbnails and other files Jira keeps beside attachments are not attachments.
            let Some(id) = id else {
                return Ok(());
            };
            if !kind.is_file() {
                break 'entry Some(SKIPPED_NOT_A_FILE);
            }
            let Some(cloud) = state.cloud_id(NS, id)? else {
                summary.unknown += 1;
                return Ok(());
            };
            if state.file_done(id)? {
                summary.already += 1;
                return Ok(());
            }
            let mut file = match open_inside(&root, path)? {
                Opened::File(file) => file,
                Opened::Skipped(check) => break 'entry Some(check),
            };
            let bytes = if with_records {
                file.metadata()
                    .map_err(|source| EngineError::Files {
                        path: path.to_path_buf(),
                        source,
                    })?
                    .len()
            } else {
                target
                    .put_attachment_file(&cloud, &mut file)
                    .map_err(EngineError::Target)?
            };
            state.mark_file_done(id)?;
            summary.uploaded += 1;
            summary.bytes += bytes;
            progress(summary.uploaded);
            None
        };
        if let Some(check) = skipped_because {
            summary.skipped.push(skipped(&root, path, id, check));
            skipped_attachments += u64::from(pending_attachment(state, id)?);
        }
        Ok(())
    })?;
    let migrated = state.count(NS)?;
    summary.missing =
        migrated.saturating_sub(summary.uploaded + summary.already + skipped_attachments);
    Ok(summary)
}

/// The folder the attachments are in, canonical: `data/attachments` under a Jira home, or
/// the folder itself. The operator's own folder may be reached through a link (a Jira home
/// on another disk); below it, nothing is.
fn attachments_root(folder: &Path) -> Result<PathBuf, EngineError> {
    let root = if folder.join("data").join("attachments").is_dir() {
        folder.join("data").join("attachments")
    } else {
        folder.to_path_buf()
    };
    root.canonicalize()
        .map_err(|source| EngineError::Files { path: root, source })
}

/// Visits every entry under `root` that is not a folder, with its own type (a link is
/// visited as a link: a folder reached through one is not walked).
fn walk(
    root: &Path,
    mut visit: impl FnMut(&Path, FileType) -> Result<(), EngineError>,
) -> Result<(), EngineError> {
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let io = |source| EngineError::Files {
            path: dir.clone(),
            source,
        };
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let path = entry.path();
            // The entry itself, not what a link points to.
            let kind = entry.file_type().map_err(|source| EngineError::Files {
                path: path.clone(),
                source,
            })?;
            if kind.is_dir() {
                stack.push(path);
            } else {
                visit(&path, kind)?;
            }
        }
    }
    Ok(())
}

/// The attachment id an entry's name is, if it is one (Jira names each file by its id).
fn attachment_id(path: &Path) -> Option<&str> {
    path.file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The attachments folder's files by attachment id, for a target that creates an
/// attachment together with its file ([`Site::take_attachment_files`]). One walk finds
/// them (the tree cannot be searched by id); the index keeps 16 bytes per file and each
/// issue folder's path once, and a file is opened, under [`upload`]'s rules, only when
/// its attachment is written.
pub struct FolderFiles {
    root: PathBuf,
    /// Issue folders, under `root`.
    folders: Vec<PathBuf>,
    /// (attachment id, its folder in `folders`), sorted by id.
    files: Vec<(u64, u32)>,
}

impl FolderFiles {
    /// Indexes the attachments under `folder` (a Jira home, or its attachments folder).
    pub fn index(folder: &Path) -> Result<FolderFiles, EngineError> {
        let root = attachments_root(folder)?;
        let mut folders: Vec<PathBuf> = Vec::new();
        let mut files: Vec<(u64, u32)> = Vec::new();
        walk(&root, |path, _| {
            let (Some(id), Some(parent)) = (
                attachment_id(path).and_then(|id| id.parse::<u64>().ok()),
                path.parent().and_then(|p| p.strip_prefix(&root).ok()),
            ) else {
                return Ok(());
            };
            // A folder's entries come together: its path is stored once.
            if folders.last().is_none_or(|last| last != parent) {
                folders.push(parent.to_path_buf());
            }
            files.push((id, (folders.len() - 1) as u32));
            Ok(())
        })?;
        files.sort_unstable();
        Ok(FolderFiles {
            root,
            folders,
            files,
        })
    }

    /// How many attachment files the folder holds.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the folder holds no attachment file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl AttachmentFiles for FolderFiles {
    fn open(&self, id: &str) -> Result<File, String> {
        let missing = || {
            format!(
                "the attachments folder has no file named {id} (Jira keeps it as \
                 data/attachments/<project key>/<bucket>/<issue key>/{id}): put it there and \
                 run the migration again, or skip the row in the override file"
            )
        };
        let number: u64 = id.parse().map_err(|_| missing())?;
        let at = self
            .files
            .binary_search_by_key(&number, |&(id, _)| id)
            .map_err(|_| missing())?;
        // Two files of one id in two folders: the first found is taken, as the walk left them.
        let folder = &self.folders[self.files[at].1 as usize];
        let path = self.root.join(folder).join(id);
        let under = path.strip_prefix(&self.root).unwrap_or(&path).display();
        match open_inside(&self.root, &path) {
            Ok(Opened::File(file)) => Ok(file),
            Ok(Opened::Skipped(check)) => Err(format!("{under}: {}", skip_message(check))),
            Err(e) => Err(format!(
                "{under} cannot be read ({e}): check it and run again"
            )),
        }
    }
}

/// Whether `id` names a migrated attachment whose file is not uploaded yet.
fn pending_attachment(state: &State, id: Option<&str>) -> Result<bool, EngineError> {
    Ok(match id {
        Some(id) => state.cloud_id(NS, id)?.is_some() && !state.file_done(id)?,
        None => false,
    })
}

enum Opened {
    File(File),
    Skipped(&'static str),
}

/// Opens `path` for reading only if it is a regular file, reached without a link, whose
/// real path is under `root` (already canonical). The checks are made on the open file, so
/// an entry replaced after the walk saw it is caught too.
fn open_inside(root: &Path, path: &Path) -> Result<Opened, EngineError> {
    let io = |source| EngineError::Files {
        path: path.to_path_buf(),
        source,
    };
    // O_NONBLOCK: a pipe put there meanwhile cannot hold the migration; no effect on a file.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match file {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(Opened::Skipped(SKIPPED_SYMLINK));
        }
        Err(e) => return Err(io(e)),
    };
    let opened = file.metadata().map_err(io)?;
    if !opened.is_file() {
        return Ok(Opened::Skipped(SKIPPED_NOT_A_FILE));
    }
    // O_NOFOLLOW guards the last component only: a folder on the way may have become a link.
    let real = path.canonicalize().map_err(io)?;
    let at_real = std::fs::metadata(&real).map_err(io)?;
    if !real.starts_with(root) || (at_real.dev(), at_real.ino()) != (opened.dev(), opened.ino()) {
        return Ok(Opened::Skipped(SKIPPED_OUTSIDE));
    }
    Ok(Opened::File(file))
}

/// Why an entry was not read, and what to do.
fn skip_message(check: &str) -> &'static str {
    match check {
        SKIPPED_SYMLINK => {
            "a symbolic link: not followed, so nothing outside the attachments folder is read; put the file itself there and run again"
        }
        SKIPPED_NOT_A_FILE => {
            "not a regular file (a device, pipe or socket): not read; put the file itself there and run again"
        }
        _ => {
            "its real path leaves the attachments folder: not read; put the file itself there and run again"
        }
    }
}

/// The finding for a skipped entry: where it is under the folder and what to do. It names
/// the path (project and issue keys), so it goes to the operator's sealed report and screen,
/// never to a log.
fn skipped(root: &Path, path: &Path, id: Option<&str>, check: &'static str) -> Finding {
    let under = path.strip_prefix(root).unwrap_or(path);
    let message = skip_message(check);
    Finding {
        check: check.to_owned(),
        severity: Severity::Warning,
        file: under.to_string_lossy().into_owned(),
        entity: "attachment file".to_owned(),
        id: id.unwrap_or_default().to_owned(),
        line: None,
        message: message.to_owned(),
    }
}
