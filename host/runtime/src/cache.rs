//! Precompiled components on disk, keyed by the component's content hash and the engine's
//! compatibility hash, so a plugin compiles once per engine build, not once per run.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_hash: String,
}

impl ArtifactCache {
    pub(crate) fn new(dir: &Path, engine: &Engine) -> std::io::Result<ArtifactCache> {
        std::fs::create_dir_all(dir)?;
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(ArtifactCache {
            dir: dir.to_owned(),
            engine_hash: format!("{:016x}", h.finish()),
        })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256}-{}.cwasm", self.engine_hash))
    }

    /// The cached artifact, if one exists and loads.
    pub(crate) fn get(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        // Read, not mmap: a file truncated or rewritten under a mapping would crash the
        // process (SIGBUS) instead of failing this load.
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: the cache directory is the host's own; artifacts in it were written by
        // `put` from `Component::serialize` of this engine configuration (the file name
        // carries the engine's compatibility hash), and wasmtime checks the header again.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "discarding an unusable cached artifact");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores an artifact; a failure only costs a recompile next time.
    pub(crate) fn put(&self, sha256: &str, component: &Component) {
        let path = self.path(sha256);
        let result = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|bytes| {
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, &path)
            });
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not cache a compiled plugin");
        }
    }
}
