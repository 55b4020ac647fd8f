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

/// The cache's artifact files (not the key beside it).
fn artifacts_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_swapped_or_tampered_artifact_is_refused_and_the_plugin_recompiled() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("plugins");
    let config = RuntimeConfig {
        cache_dir: Some(dir.clone()),
        ..RuntimeConfig::default()
    };
    let timesheet = Path::new(artifacts::TIMESHEET_BUILDER);
    let other = Path::new(artifacts::HOSTILE_STATIC_STATE);
    let runtime = Runtime::new(config.clone()).unwrap();
    runtime.load_file(timesheet).unwrap();
    let timesheet_file = artifacts_in(&dir).pop().unwrap();
    runtime.load_file(other).unwrap();
    let other_file = artifacts_in(&dir)
        .into_iter()
        .find(|p| *p != timesheet_file)
        .unwrap();

    // A genuine artifact, but another plugin's, put under Timesheet Builder's name: the
    // native code it holds must not run as Timesheet Builder.
    std::fs::copy(&other_file, &timesheet_file).unwrap();
    let reloaded = Runtime::new(config.clone())
        .unwrap()
        .load_file(timesheet)
        .unwrap();
    assert!(!reloaded.info().from_cache, "the swapped artifact was used");
    assert_eq!(reloaded.manifest().name, "Timesheet Builder");

    // One byte of machine code changed.
    let mut bytes = std::fs::read(&timesheet_file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&timesheet_file, &bytes).unwrap();
    let reloaded = Runtime::new(config.clone())
        .unwrap()
        .load_file(timesheet)
        .unwrap();
    assert!(
        !reloaded.info().from_cache,
        "the tampered artifact was used"
    );
    airlock_tests::timesheet_still_works(&Runtime::new(config).unwrap());
}

#[test]
fn the_cache_is_private_and_one_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("plugins");
    let config = |dir: &Path| RuntimeConfig {
        cache_dir: Some(dir.to_owned()),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config(&dir)).unwrap();
    runtime
        .load_file(Path::new(artifacts::HOSTILE_STATIC_STATE))
        .unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&root.path().join("plugins.key")), 0o600, "the key");
    for file in std::fs::read_dir(&dir).unwrap() {
        assert_eq!(mode(&file.unwrap().path()), 0o600);
    }

    // An existing directory readable by others is tightened; one others can write is not
    // trusted at all.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    Runtime::new(config(&dir)).unwrap();
    assert_eq!(mode(&dir), 0o700);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = Runtime::new(config(&dir))
        .err()
        .expect("a 0777 cache is refused");
    assert!(refused.to_string().contains("chmod 700"), "{refused}");

    // A link to a directory, wherever it points, is refused.
    let link = root.path().join("linked");
    std::os::unix::fs::symlink(root.path(), &link).unwrap();
    let refused = Runtime::new(config(&link))
        .err()
        .expect("a link is refused");
    assert!(refused.to_string().contains("symbolic link"), "{refused}");

    // A key others can read is refused.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(
        root.path().join("plugins.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let refused = Runtime::new(config(&dir))
        .err()
        .expect("an open key is refused");
    assert!(
        refused.to_string().contains("not a valid cache key"),
        "{refused}"
    );
}
