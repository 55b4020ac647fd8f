//! Attachment files: after the load, the files in the operator's attachments folder
//! (Jira home's `data/attachments/PROJECTKEY/BUCKET/ISSUEKEY/ATTACHMENTID` tree, or that
//! folder itself) go to the target, each under the cloud id its metadata was given. The
//! tree is walked, not indexed, so memory does not grow with the number of files; each
//! uploaded file is recorded, so a rerun uploads only the rest.

use std::path::{Path, PathBuf};

use airlock_model::Namespace;
use airlock_target::Target;
use serde::{Deserialize, Serialize};

use crate::EngineError;
use crate::state::State;

/// What happened to the attachments folder.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilesSummary {
    pub uploaded: u64,
    pub bytes: u64,
    /// Uploaded by an earlier run.
    pub already: u64,
    /// Files whose name is not the id of a migrated attachment.
    pub unknown: u64,
    /// Migrated attachments with no file in the folder.
    pub missing: u64,
}

const NS: Namespace = Namespace::named("jira:fileAttachment");

/// Uploads every attachment file under `folder` whose metadata was migrated.
pub fn upload(
    folder: &Path,
    state: &mut State,
    target: &mut dyn Target,
    mut progress: impl FnMut(u64),
) -> Result<FilesSummary, EngineError> {
    let root = if folder.join("data").join("attachments").is_dir() {
        folder.join("data").join("attachments")
    } else {
        folder.to_path_buf()
    };
    let mut summary = FilesSummary::default();
    let mut stack: Vec<PathBuf> = vec![root];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| EngineError::Files {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| EngineError::Files {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|source| EngineError::Files {
                path: path.clone(),
                source,
            })?;
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            // Thumbnails and other files Jira keeps beside attachments are not attachments.
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Some(cloud) = state.cloud_id(NS, id)? else {
                summary.unknown += 1;
                continue;
            };
            if state.file_done(id)? {
                summary.already += 1;
                continue;
            }
            let mut file = std::fs::File::open(&path).map_err(|source| EngineError::Files {
                path: path.clone(),
                source,
            })?;
            let bytes = target
                .put_attachment_file(&cloud, &mut file)
                .map_err(EngineError::Target)?;
            state.mark_file_done(id)?;
            summary.uploaded += 1;
            summary.bytes += bytes;
            progress(summary.uploaded);
        }
    }
    let migrated = state.count(NS)?;
    summary.missing = migrated.saturating_sub(summary.uploaded + summary.already);
    Ok(summary)
}
