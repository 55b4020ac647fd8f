//! Attachment files: after the load, the files in the operator's attachments folder
//! (Jira home's `data/attachments/PROJECTKEY/BUCKET/ISSUEKEY/ATTACHMENTID` tree, or that
//! folder itself) go to the target, each under the cloud id its metadata was given. The
//! tree is walked, not indexed, so memory does not grow with the number of files; each
//! uploaded file is recorded, so a rerun uploads only the rest.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use airlock_model::{Namespace, Severity};
use airlock_site::Site;
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
pub fn upload(
    folder: &Path,
    state: &mut State,
    target: &mut dyn Site,
    mut progress: impl FnMut(u64),
) -> Result<FilesSummary, EngineError> {
    let root = if folder.join("data").join("attachments").is_dir() {
        folder.join("data").join("attachments")
    } else {
        folder.to_path_buf()
    };
    // The operator's own folder may be reached through a link (a Jira home on another
    // disk); below it, nothing is.
    let root = root.canonicalize().map_err(|source| EngineError::Files {
        path: root.clone(),
        source,
    })?;
    let mut summary = FilesSummary::default();
    // Migrated attachments whose file was skipped: not "missing" twice.
    let mut skipped_attachments = 0u64;
    let mut stack: Vec<PathBuf> = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| EngineError::Files {
            path: dir.clone(),
            source,
        })?;
        'entries: for entry in entries {
            let entry = entry.map_err(|source| EngineError::Files {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            // The entry itself, not what a link points to.
            let kind = entry.file_type().map_err(|source| EngineError::Files {
                path: path.clone(),
                source,
            })?;
            let id = path
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let skipped_because: Option<&'static str> = 'entry: {
                if kind.is_symlink() {
                    break 'entry Some(SKIPPED_SYMLINK);
                }
                if kind.is_dir() {
                    stack.push(path);
                    continue 'entries;
                }
                // Thumbnails and other files Jira keeps beside attachments are not attachments.
                let Some(id) = id else {
                    continue 'entries;
                };
                if !kind.is_file() {
                    break 'entry Some(SKIPPED_NOT_A_FILE);
                }
                let Some(cloud) = state.cloud_id(NS, id)? else {
                    summary.unknown += 1;
                    continue 'entries;
                };
                if state.file_done(id)? {
                    summary.already += 1;
                    continue 'entries;
                }
                let mut file = match open_inside(&root, &path)? {
                    Opened::File(file) => file,
                    Opened::Skipped(check) => break 'entry Some(check),
                };
                let bytes = target
                    .put_attachment_file(&cloud, &mut file)
                    .map_err(EngineError::Target)?;
                state.mark_file_done(id)?;
                summary.uploaded += 1;
                summary.bytes += bytes;
                progress(summary.uploaded);
                None
            };
            if let Some(check) = skipped_because {
                summary.skipped.push(skipped(&root, &path, id, check));
                skipped_attachments += u64::from(pending_attachment(state, id)?);
            }
        }
    }
    let migrated = state.count(NS)?;
    summary.missing =
        migrated.saturating_sub(summary.uploaded + summary.already + skipped_attachments);
    Ok(summary)
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

/// The finding for a skipped entry: where it is under the folder and what to do. It names
/// the path (project and issue keys), so it goes to the operator's sealed report and screen,
/// never to a log.
fn skipped(root: &Path, path: &Path, id: Option<&str>, check: &'static str) -> Finding {
    let under = path.strip_prefix(root).unwrap_or(path);
    let message = match check {
        SKIPPED_SYMLINK => {
            "a symbolic link: not followed, so nothing outside the attachments folder is read; put the file itself there and run again"
        }
        SKIPPED_NOT_A_FILE => {
            "not a regular file (a device, pipe or socket): not read; put the file itself there and run again"
        }
        _ => {
            "its real path leaves the attachments folder: not read; put the file itself there and run again"
        }
    };
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
