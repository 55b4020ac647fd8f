//! Plugins compile once per engine and content hash.

use airlock_plugin_artifacts as artifacts;
use airlock_runtime::{Runtime, RuntimeConfig};
use std::path::Path;

#[test]
fn second_load_comes_from_the_cache_and_a_corrupt_artifact_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config.clone()).unwrap();
    let path = Path::new(artifacts::HOSTILE_STATIC_STATE);
    let first = runtime.load_file(path).unwrap();
    assert!(!first.info().from_cache);
    let second = runtime.load_file(path).unwrap();
    assert!(second.info().from_cache);
    assert_eq!(first.info().sha256, second.info().sha256);

    // A new process (new runtime, same engine settings) reuses the artifact too.
    let again = Runtime::new(config.clone())
        .unwrap()
        .load_file(path)
        .unwrap();
    assert!(again.info().from_cache);

    // Corrupt every artifact: the runtime recompiles instead of failing.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"not an artifact").unwrap();
    }
    let recompiled = Runtime::new(config).unwrap().load_file(path).unwrap();
    assert!(!recompiled.info().from_cache);
}
