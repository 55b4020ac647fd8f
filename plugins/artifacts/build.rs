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
        // Contract 2.0, written against wit/v2 alone.
        ("TEAM_DIRECTORY".to_owned(), "team-directory".to_owned()),
        ("TEAM_BADGES".to_owned(), "team-badges".to_owned()),
        ("SAVED_QUERIES".to_owned(), "saved-queries".to_owned()),
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
        "plugins/v2",
        "sdk",
        "contract",
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
    package_sdk(&root, &cargo);
    let mut cmd = Command::new(&cargo);
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
    without_outer_settings(&mut cmd);
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
        let mut path = out.join(format!("{}.wasm", package.replace('-', "_")));
        assert!(path.exists(), "{} was not built", path.display());
        if package == "hostile-many-memories" {
            // A Rust plugin cannot declare memories: add them to its core module.
            let base = std::fs::read(&path).unwrap();
            consts.push_str(&format!(
                "/// `{package}` as built: harmless, one memory.\npub const HOSTILE_MANY_MEMORIES_BASE: &str = {:?};\n",
                path.display().to_string()
            ));
            let split = out.join("hostile_split_memory.wasm");
            std::fs::write(&split, with_extra_memories(&base, 3, 22 << 4)).unwrap();
            consts.push_str(&format!(
                "/// `{package}` with 3 more memories of 22 MiB (66 MiB in all).\npub const HOSTILE_SPLIT_MEMORY: &str = {:?};\n",
                split.display().to_string()
            ));
            all.push_str("    (\"split-memory\", HOSTILE_SPLIT_MEMORY),\n");
            path = out.join("hostile_many_memories_x10.wasm");
            std::fs::write(&path, with_extra_memories(&base, 10, 60 << 4)).unwrap();
        }
        consts.push_str(&format!(
            "/// `{package}` built for {TARGET}.\npub const {constant}: &str = {:?};\n",
            path.display().to_string()
        ));
        if let Some(name) = package.strip_prefix("hostile-") {
            all.push_str(&format!("    ({name:?}, {constant}),\n"));
        }
    }
    let python = python_example(&root, &out);
    consts.push_str(&format!(
        "/// `plugins/python-example` built with componentize-py, or why it could not be.\n\
         pub const PYTHON_EXAMPLE_BUILT: Result<&str, &str> = {python:?};\n"
    ));
    let js = js_example(&root, &out);
    consts.push_str(&format!(
        "/// `plugins/js-example` built with componentize-js, or why it could not be.\n\
         pub const JS_EXAMPLE_BUILT: Result<&str, &str> = {js:?};\n"
    ));
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

/// The outer build's settings are not the nested cargo's (clippy's wrapper, host
/// rustflags, its jobserver and target dir).
fn without_outer_settings(cmd: &mut Command) {
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
}

/// Packages `airlock-contract` and `airlock-sdk` as `cargo package` makes them for a
/// registry (workspace settings resolved, the WIT files inside the SDK), for `airlock plugin
/// new` to vendor into a plugin crate. Unverified and without a lock file here, so it
/// needs neither a build nor the network; the vendor-kit test builds a generated crate
/// from them. Exports their paths as `AIRLOCK_CONTRACT_CRATE` and `AIRLOCK_SDK_CRATE`.
fn package_sdk(root: &Path, cargo: &str) {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("sdk-package");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "package",
            "-p",
            "airlock-contract",
            "-p",
            "airlock-sdk",
            "--no-verify",
            "--exclude-lockfile",
            "--allow-dirty",
            "--offline",
            "--quiet",
            "--target-dir",
        ])
        .arg(&out);
    without_outer_settings(&mut cmd);
    let status = cmd.status().expect("run cargo package for the SDK");
    assert!(
        status.success(),
        "packaging airlock-contract and airlock-sdk failed (see above)"
    );
    let version = std::env::var("CARGO_PKG_VERSION").unwrap();
    for (name, var) in [
        ("airlock-contract", "AIRLOCK_CONTRACT_CRATE"),
        ("airlock-sdk", "AIRLOCK_SDK_CRATE"),
    ] {
        let path = out.join("package").join(format!("{name}-{version}.crate"));
        assert!(path.exists(), "{} was not packaged", path.display());
        println!("cargo:rustc-env={var}={}", path.display());
    }
}

/// The component with `count` more memories of `pages` 64 KiB pages in its largest core
/// module (the plugin's own code). Sections are rewritten in place; nothing refers to
/// their byte offsets.
fn with_extra_memories(component: &[u8], count: u32, pages: u32) -> Vec<u8> {
    const CORE_MODULE: u8 = 1;
    const MEMORY: u8 = 5;
    let (preamble, sections) = component.split_at(8);
    let parsed = sections_of(sections);
    let largest = parsed
        .iter()
        .enumerate()
        .filter(|(_, (id, _))| *id == CORE_MODULE)
        .max_by_key(|(_, (_, body))| body.len())
        .map(|(i, _)| i)
        .expect("a component holds a core module");
    let mut out = preamble.to_vec();
    for (i, (id, body)) in parsed.iter().enumerate() {
        if i != largest {
            push_section(&mut out, *id, body);
            continue;
        }
        let (header, module_sections) = body.split_at(8);
        let mut module = header.to_vec();
        let mut found = false;
        for (mid, mbody) in sections_of(module_sections) {
            if mid != MEMORY {
                push_section(&mut module, mid, mbody);
                continue;
            }
            found = true;
            let (existing, rest) = leb(mbody);
            let mut memories = Vec::new();
            push_leb(&mut memories, existing + count);
            memories.extend_from_slice(rest);
            for _ in 0..count {
                memories.push(0x00); // limits: a minimum, no maximum
                push_leb(&mut memories, pages);
            }
            push_section(&mut module, MEMORY, &memories);
        }
        assert!(found, "the plugin's core module defines its memory");
        push_section(&mut out, *id, &module);
    }
    out
}

fn sections_of(mut bytes: &[u8]) -> Vec<(u8, &[u8])> {
    let mut sections = Vec::new();
    while let Some((&id, rest)) = bytes.split_first() {
        let (size, rest) = leb(rest);
        let (body, rest) = rest.split_at(size as usize);
        sections.push((id, body));
        bytes = rest;
    }
    sections
}

fn push_section(out: &mut Vec<u8>, id: u8, body: &[u8]) {
    out.push(id);
    push_leb(out, u32::try_from(body.len()).unwrap());
    out.extend_from_slice(body);
}

fn leb(bytes: &[u8]) -> (u32, &[u8]) {
    let (mut value, mut shift) = (0u32, 0);
    for (i, b) in bytes.iter().enumerate() {
        value |= u32::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return (value, &bytes[i + 1..]);
        }
        shift += 7;
    }
    panic!("truncated LEB128");
}

fn push_leb(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Builds `plugins/python-example` with the componentize-py that `cargo xtask test`
/// installs under `target/tools/python` (never installs it: `cargo build` stays offline).
/// `Err` says what to run; the tests that need the plugin fail with it.
fn python_example(root: &Path, out: &Path) -> Result<String, String> {
    let tools = root.join("target").join("tools");
    // Watched as a directory: installing the tool changes it and reruns this script.
    std::fs::create_dir_all(&tools).ok();
    println!("cargo:rerun-if-changed={}", tools.display());
    let source = root.join("plugins").join("python-example");
    println!("cargo:rerun-if-changed={}", source.join("app.py").display());
    let site = tools.join("python");
    let tool = site.join("bin").join("componentize-py");
    let wasm = out.join("python_example.wasm");
    let mut cmd = Command::new("python3");
    cmd.arg(&tool)
        .env("PYTHONPATH", &site)
        // No __pycache__ written into the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg("-d")
        .arg(root.join("wit"))
        .args(["-w", "plugin", "componentize", "-p"])
        .arg(&source)
        .arg("app")
        .arg("-o")
        .arg(&wasm);
    build_with(&tool, "componentize-py", "python-example", cmd)?;
    Ok(wasm.display().to_string())
}

/// Builds `plugins/js-example` with the componentize-js that `cargo xtask test` installs
/// (`npm ci` of the example's package-lock.json) under `target/tools/js`.
fn js_example(root: &Path, out: &Path) -> Result<String, String> {
    let tools = root.join("target").join("tools");
    let source = root.join("plugins").join("js-example");
    for file in ["plugin.js", "package-lock.json"] {
        println!("cargo:rerun-if-changed={}", source.join(file).display());
    }
    let tool = tools.join("js/node_modules/.bin/componentize-js");
    let wasm = out.join("js_example.wasm");
    let mut cmd = Command::new(&tool);
    cmd.arg(source.join("plugin.js"))
        .arg("--wit")
        .arg(root.join("wit"))
        // No wasi:http: Airlock refuses any component that imports it.
        .args(["--disable", "http", "fetch-event"])
        .args(["--world-name", "plugin", "--out"])
        .arg(&wasm);
    build_with(&tool, "componentize-js", "js-example", cmd)?;
    Ok(wasm.display().to_string())
}

/// Runs `cmd` (which uses the installed `tool`) to build `plugins/<example>`; `Err` says
/// what to run when the tool is missing, or what the tool printed when it failed.
fn build_with(tool: &Path, name: &str, example: &str, mut cmd: Command) -> Result<(), String> {
    if !tool.exists() {
        return Err(format!(
            "{name} is not installed ({} is missing): run `cargo xtask test`, which installs \
             it there and builds plugins/{example}",
            tool.display()
        ));
    }
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run {name} ({}): {e}", tool.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{name} failed to build plugins/{example}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}
