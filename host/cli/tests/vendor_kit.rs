//! The vendor kit as a vendor meets it: the SDK and the contract crate packaged to stand
//! alone, and `airlock plugin new` writing a crate that passes its tests and builds for
//! `wasm32-wasip2` untouched, outside this repository.
//!
//! The nested cargo builds share target directories under `CARGO_TARGET_TMPDIR` (one for
//! the plugin builds, one for `cargo package`), kept between runs, so only the first run
//! compiles the dependencies cold.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_owned()
}

fn shared_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("vendor-kit-target")
}

/// Where `cargo package` verifies the crates: apart from [`shared_target`], whose SDK
/// build another test may be using while this one cleans (see
/// [`forget_unpacked_packages`]).
fn package_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("vendor-kit-package-target")
}

/// `cargo` as a vendor's shell finds it (rustup's proxy, so the crate's own
/// `rust-toolchain.toml` picks the toolchain), without this test run's cargo settings.
fn cargo(args: &[&str], cwd: &Path) -> Output {
    cargo_in(args, cwd, &shared_target())
}

/// [`cargo`] with its own target directory.
fn cargo_in(args: &[&str], cwd: &Path, target: &Path) -> Output {
    let mut cmd = Command::new("cargo");
    cmd.args(args).current_dir(cwd);
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy().into_owned();
        let ours = (var.starts_with("CARGO_") && var != "CARGO_HOME")
            || [
                "RUSTFLAGS",
                "RUSTDOCFLAGS",
                "RUSTC",
                "RUSTC_WRAPPER",
                "RUSTC_WORKSPACE_WRAPPER",
                "RUSTDOC",
                "RUSTUP_TOOLCHAIN",
                "MAKEFLAGS",
                "MFLAGS",
            ]
            .contains(&var.as_str());
        if ours {
            cmd.env_remove(&var);
        }
    }
    cmd.env("CARGO_TARGET_DIR", target)
        .output()
        .expect("cargo runs")
}

fn airlock(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .current_dir(cwd)
        .env("AIRLOCK_CACHE_DIR", cwd.join("cache"))
        .output()
        .expect("airlock runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every file under `dir`, relative, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path.strip_prefix(dir).unwrap().to_owned(), bytes));
            }
        }
    }
    out.sort();
    out
}

/// `wit/` is the contract's one source (the runtime binds it; other languages read it);
/// `sdk/wit/` is the copy that travels inside the SDK crate, kept identical.
#[test]
fn the_sdk_carries_the_wit_files_unchanged() {
    let root = repo_root();
    let (wit, copy) = (files(&root.join("wit")), files(&root.join("sdk/wit")));
    assert!(!wit.is_empty());
    assert!(
        wit == copy,
        "sdk/wit/ differs from wit/: after changing wit/, copy it (`rm -r sdk/wit && cp -r wit sdk/wit`)"
    );
}

/// Cargo unpacks a packaged crate from its local registry (keyed by the registry's path,
/// not by content) once per version and reuses it, and reuses what it compiled from it:
/// after the contract changes under the same version, the SDK would be verified against
/// the old contract. Drop our unpacked crates from the local registries' sources
/// (crates.io's are left alone) and what the shared target compiled of them.
fn forget_unpacked_packages() {
    let out = cargo_in(
        &["clean", "-p", "airlock-contract", "-p", "airlock-sdk"],
        &repo_root(),
        &package_target(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let Some(sources) = home.map(|h| h.join("registry/src")) else {
        return;
    };
    let Ok(registries) = std::fs::read_dir(&sources) else {
        return;
    };
    for registry in registries.flatten() {
        // Local registries are named `-<hash>`; crates.io's `index.crates.io-<hash>`.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for unpacked in std::fs::read_dir(registry.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = unpacked.file_name().to_string_lossy().into_owned();
            if name.starts_with("airlock-contract-") || name.starts_with("airlock-sdk-") {
                std::fs::remove_dir_all(unpacked.path()).unwrap();
            }
        }
    }
}

/// `cargo package` makes both crates and verifies them: each builds from its archive
/// alone (the SDK against the contract just packaged), with no path out of its folder.
#[test]
fn the_sdk_and_the_contract_package_and_build_alone() {
    forget_unpacked_packages();
    let out = cargo_in(
        &[
            "package",
            "-p",
            "airlock-contract",
            "-p",
            "airlock-sdk",
            "--allow-dirty",
        ],
        &repo_root(),
        &package_target(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let listing = cargo_in(
        &["package", "-p", "airlock-sdk", "--list", "--allow-dirty"],
        &repo_root(),
        &package_target(),
    );
    let listing = text(&listing);
    for file in ["wit/plugin.wit", "NAMESPACES.md", "src/testing.rs"] {
        assert!(listing.lines().any(|l| l == file), "{file}: {listing}");
    }
}

/// The "Must show" 1: the crate tests and builds untouched outside the repository,
/// loads in `plugin inspect`, runs over its own fixture, and passes the reviewer's sandbox.
#[test]
fn a_new_plugin_tests_builds_and_loads_untouched_outside_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo_root();
    assert!(
        !dir.path().starts_with(&root),
        "the crate must lie outside the repository"
    );

    let out = airlock(
        &["plugin", "new", "acme-notes", "--app-key", "com.acme.notes"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let krate = dir.path().join("acme-notes");
    let toolchain = std::fs::read_to_string(krate.join("rust-toolchain.toml")).unwrap();
    assert_eq!(
        toolchain,
        std::fs::read_to_string(root.join("rust-toolchain.toml")).unwrap()
    );
    assert!(krate.join("fixture/activeobjects.xml").is_file());

    // A second crate into the same folder is refused, nothing overwritten.
    let again = airlock(
        &["plugin", "new", "acme-notes", "--app-key", "com.acme.notes"],
        dir.path(),
    );
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        text(&again).contains("exists and is not empty"),
        "{}",
        text(&again)
    );

    let tests = cargo(&["test"], &krate);
    assert!(tests.status.success(), "{}", text(&tests));
    assert!(
        text(&tests).contains("test result: ok. 5 passed"),
        "{}",
        text(&tests)
    );

    // As a vendor's CI would hold it: formatted, and clippy-clean.
    let fmt = cargo(&["fmt", "--check"], &krate);
    assert!(fmt.status.success(), "{}", text(&fmt));
    let clippy = cargo(&["clippy", "--all-targets", "--", "-D", "warnings"], &krate);
    assert!(clippy.status.success(), "{}", text(&clippy));

    let build = cargo(&["build", "--release", "--target", "wasm32-wasip2"], &krate);
    assert!(build.status.success(), "{}", text(&build));
    let wasm = shared_target().join("wasm32-wasip2/release/acme_notes.wasm");
    let wasm = wasm.to_str().unwrap();

    let inspect = airlock(&["plugin", "inspect", wasm, "--json"], dir.path());
    assert!(inspect.status.success(), "{}", text(&inspect));
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let manifest = &json["manifest"];
    assert_eq!(manifest["app_key"], "com.acme.notes");
    assert_eq!(manifest["tables"], serde_json::json!(["AO_379DCF_NOTE"]));
    assert_eq!(
        manifest["namespaces"],
        serde_json::json!(["identity:user", "jira:issue"])
    );

    // The fixture is a backup of version 1 of the app (no PINNED column): it runs clean.
    let fixture = krate.join("fixture");
    let run = airlock(
        &[
            "plugin",
            "run",
            wasm,
            "--fixture",
            fixture.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(run.status.success(), "{}", text(&run));
    assert!(
        text(&run).contains("1 batches, 0 failed, 0 fatal findings, 0 nondeterministic"),
        "{}",
        text(&run)
    );
    assert!(text(&run).contains("3 outputs"), "{}", text(&run));

    // The reviewer's sandbox, starting from the vendor's fixture: a passing review.
    let review = airlock(
        &[
            "sandbox",
            wasm,
            "--fixture",
            fixture.to_str().unwrap(),
            "--out",
            "review",
        ],
        dir.path(),
    );
    assert!(review.status.success(), "{}", text(&review));
    assert!(text(&review).contains("verdict: PASS"), "{}", text(&review));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("review/review.json")).unwrap())
            .unwrap();
    assert_eq!(json["passed"], true);
    assert!(dir.path().join("review/review.html").is_file());
}

/// `--sdk DIR` vendors the archives `cargo package` wrote, and refuses a folder without them.
#[test]
fn plugin_new_vendors_an_sdk_given_as_crate_archives() {
    let dir = tempfile::tempdir().unwrap();
    let sdk = dir.path().join("package");
    std::fs::create_dir(&sdk).unwrap();
    let new = |name: &str, sdk: Option<&Path>| {
        let mut args = vec!["plugin", "new", name, "--app-key", "com.acme.notes"];
        if let Some(sdk) = sdk {
            args.extend(["--sdk", sdk.to_str().unwrap()]);
        }
        airlock(&args, dir.path())
    };

    let out = new("empty", Some(&sdk));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("expected exactly one airlock-contract-<version>.crate"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("empty").exists(), "nothing written");

    // The archives as a vendor finds them in target/package/ (here: the ones airlock carries).
    for (file, bytes) in airlock_plugin_artifacts::sdk_crates() {
        std::fs::write(sdk.join(file), bytes).unwrap();
    }
    let out = new("given", Some(&sdk));
    assert!(out.status.success(), "{}", text(&out));
    let out = new("carried", None);
    assert!(out.status.success(), "{}", text(&out));
    let vendored = |name: &str| files(&dir.path().join(name).join("vendor"));
    assert!(!vendored("given").is_empty());
    assert!(vendored("given") == vendored("carried"));
}
