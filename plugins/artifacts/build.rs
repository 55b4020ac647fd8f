//! Compiles every plugin crate to a WebAssembly component, so tests, the demo and the
//! benchmarks always run the plugins as they are in the tree (never a stale binary).
//! The nested cargo uses its own target directory, so it never waits on the outer build.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_owned();
    let mut crates = vec![
        (
            "TIMESHEET_BUILDER".to_owned(),
            "timesheet-builder".to_owned(),
        ),
        ("BENCH_RESOLVE".to_owned(), "bench-resolve".to_owned()),
    ];
    let mut hostile: Vec<String> = std::fs::read_dir(root.join("plugins/hostile"))
        .expect("plugins/hostile exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    hostile.sort();
    for name in &hostile {
        crates.push((
            format!("HOSTILE_{}", name.to_uppercase().replace('-', "_")),
            format!("hostile-{name}"),
        ));
    }

    for dir in [
        "plugins/timesheet-builder",
        "plugins/bench-resolve",
        "plugins/hostile",
        "sdk",
        "wit",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );

    let target_dir = root.join("target").join("wasm-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
    for (_, package) in &crates {
        cmd.args(["-p", package]);
    }
    // The outer build's settings are not the plugins' (clippy's wrapper, host rustflags,
    // its jobserver and target dir).
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    // Components without debug info are a tenth of the size and compile faster; the host
    // reports traps by cause, not by wasm backtrace.
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false");
    let status = cmd.status().expect("run cargo for the plugins");
    if !status.success() {
        panic!(
            "building the plugins for {TARGET} failed (see above). If the target is missing, run \
             `rustup target add {TARGET}` (the README's commands do this for you)."
        );
    }

    let out = target_dir.join(TARGET).join("release");
    let mut consts = String::new();
    let mut all = String::new();
    for (constant, package) in &crates {
        let path = out.join(format!("{}.wasm", package.replace('-', "_")));
        assert!(path.exists(), "{} was not built", path.display());
        consts.push_str(&format!(
            "/// `{package}` built for {TARGET}.\npub const {constant}: &str = {:?};\n",
            path.display().to_string()
        ));
        if let Some(name) = package.strip_prefix("hostile-") {
            all.push_str(&format!("    ({name:?}, {constant}),\n"));
        }
    }
    println!(
        "cargo:rustc-env=AIRLOCK_TIMESHEET_BUILDER_WASM={}",
        out.join("timesheet_builder.wasm").display()
    );
    consts.push_str(&format!(
        "/// Every hostile plugin: (name, path).\npub const HOSTILE: &[(&str, &str)] = &[\n{all}];\n"
    ));
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("artifacts.rs");
    std::fs::write(dest, consts).unwrap();
}
