//! What the `airlock` process writes is its operator's alone: the process runs under umask
//! 077 (every file it creates is 0600, every directory 0700, whatever library creates it),
//! and every directory the CLI works in goes through [`private_dir`], which also tightens
//! or refuses one that already exists.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::error::{PipelineError, Result};

/// Makes every file and directory this process creates from now on private to its user
/// (0600 / 0700), including those SQLite, the blob store and the key store create.
pub fn restrict_umask() {
    // SAFETY: umask(2) only sets the process's file mode creation mask; it cannot fail
    // and touches no memory.
    unsafe {
        libc::umask(0o077);
    }
}

fn current_uid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Makes `path` a directory only its owner (this process's user) can enter: created 0700
/// if missing (its missing parents too, under the process's umask), tightened to 0700 if
/// it exists with wider permissions. Refused, with what to do: a symbolic link (whoever
/// controls the link controls where customer data goes), something that is not a
/// directory, and a directory owned by another user (who could read or replace what is
/// written there).
pub fn private_dir(path: &Path) -> Result<()> {
    // Without a trailing slash, which would make lstat follow a link.
    let path: &Path = &path.components().collect::<PathBuf>();
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent)
                    .map_err(|e| PipelineError::io("cannot create", parent, e))?;
            }
            if let Err(e) = fs::DirBuilder::new().mode(0o700).create(path) {
                // Created by another process meanwhile: checked below like any other.
                if e.kind() != ErrorKind::AlreadyExists {
                    return Err(PipelineError::io("cannot create", path, e));
                }
            }
            fs::symlink_metadata(path)
                .map_err(|e| PipelineError::io("cannot read the metadata of", path, e))?
        }
        Err(e) => {
            return Err(PipelineError::io("cannot read the metadata of", path, e));
        }
    };
    if meta.file_type().is_symlink() {
        return Err(PipelineError::Refused(format!(
            "{} is a symbolic link: Airlock keeps a migration's data only in a real directory \
             of its own user, not one a link points to; remove the link and pass the directory \
             itself (after checking who else can reach it), or choose a new directory",
            path.display()
        )));
    }
    if !meta.is_dir() {
        return Err(PipelineError::Refused(format!(
            "{} exists and is not a directory: choose another path",
            path.display()
        )));
    }
    let me = current_uid();
    if meta.uid() != me {
        return Err(PipelineError::Refused(format!(
            "{} belongs to another user (uid {}, this process runs as uid {me}), who could read \
             or replace what Airlock writes there: choose a directory of your own (a new one is \
             created 0700)",
            path.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o777 != 0o700 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(|e| {
            PipelineError::io(
                "cannot make private (chmod 700; do it, or choose a new directory)",
                path,
                e,
            )
        })?;
        // The operator's own directory, named so they know what changed.
        tracing::warn!(
            "{} was open to others (mode {:o}); it is now 0700",
            path.display(),
            meta.mode() & 0o777
        );
    }
    Ok(())
}

/// Where the default local site lives for the work directory `work`: in a sibling
/// directory, `<work>-site/site.db`, never inside the work directory (which holds only
/// sealed data). The directory is made private like the work directory.
pub fn default_site(work: &Path) -> Result<PathBuf> {
    // `.`, `..` or `/` have no name of their own: name them by where they really are.
    let base = if work.file_name().is_some() {
        work.to_path_buf()
    } else {
        work.canonicalize()
            .map_err(|e| PipelineError::io("cannot resolve", work, e))?
    };
    let Some(name) = base.file_name() else {
        return Err(PipelineError::Input(format!(
            "the work directory {} has no name to place the local site beside it: pass \
             --target local:PATH",
            work.display()
        )));
    };
    let mut dir_name = name.to_owned();
    dir_name.push("-site");
    let dir = base.with_file_name(dir_name);
    // A work directory of an earlier version held its site: a new, empty site beside it
    // would make a resumed migration load everything again.
    let legacy = work.join("site.db");
    if fs::symlink_metadata(&legacy).is_ok() {
        return Err(PipelineError::Refused(format!(
            "{} holds a local site from an earlier version of Airlock, in clear inside the work \
             directory; move it beside the work directory (mkdir -m 700 {dir}; mv {work}/site.db* \
             {work}/site.attachments {dir}/) or keep using it with --target local:{legacy}",
            legacy.display(),
            dir = dir.display(),
            work = work.display(),
            legacy = legacy.display(),
        )));
    }
    private_dir(&dir)?;
    Ok(dir.join("site.db"))
}
