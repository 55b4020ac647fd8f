//! `cargo xtask demo | test | bench`: the commands the README names and CI runs.
//! Each installs what it needs (the wasm32-wasip2 target) first.

use anyhow::{Context, Result, bail};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = args
        .split_first()
        .map_or(("help", &[][..]), |(t, r)| (t.as_str(), r));
    match task {
        "demo" => demo(rest),
        "test" => test(),
        "bench" => bench(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n\
                 tasks:\n  \
                 demo    build the plugins and run a demo migration with Timesheet Builder\n  \
                 test    rustfmt check, clippy -D warnings, and every test\n  \
                 bench   the benchmarks (release build), printing ratios against baselines;\n          \
                 name some to run only those: instantiation per-row host-calls languages migrate\n          \
                 seal encryption cloud (the load at Jira Cloud's rate limits, against the double;\n          \
                 --issues N, 10,000 by default)"
            );
            if task == "help" {
                Ok(())
            } else {
                bail!("unknown task `{task}`")
            }
        }
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(mut cmd: Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    eprintln!("» {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// Makes sure the plugins' compilation target is installed (rustup does nothing if it is).
fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to install the wasm32-wasip2 target")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", WASM_TARGET]);
    run(cmd)
}

/// componentize-py, pinned: it builds `plugins/python-example` (see plugins/artifacts).
const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// Installs componentize-py from PyPI into `target/tools/python` unless it is there, so
/// the plugin build script (which never installs anything) can build the Python example.
fn ensure_python_tools() -> Result<()> {
    let site = std::path::Path::new("target/tools/python");
    if site.join("bin/componentize-py").exists() {
        return Ok(());
    }
    let mut cmd = Command::new("python3");
    cmd.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--root-user-action=ignore",
        "--target",
    ])
    .arg(site)
    .arg(COMPONENTIZE_PY);
    run(cmd).context("installing componentize-py needs python3 with pip")
}

/// Installs componentize-js from npm into `target/tools/js` as plugins/js-example's
/// package-lock.json pins it (`npm ci`), unless that lock is installed there already.
fn ensure_js_tools() -> Result<()> {
    let dir = std::path::Path::new("target/tools/js");
    let lock = std::fs::read("plugins/js-example/package-lock.json")
        .context("run from the workspace root")?;
    let installed = dir.join("node_modules/.bin/componentize-js").exists()
        && std::fs::read(dir.join("package-lock.json")).ok().as_ref() == Some(&lock);
    if installed {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    std::fs::copy("plugins/js-example/package.json", dir.join("package.json"))?;
    std::fs::write(dir.join("package-lock.json"), &lock)?;
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    run(cmd).context("installing componentize-js needs node and npm")
}

fn demo(args: &[String]) -> Result<()> {
    ensure_wasm_target()?;
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--locked",
        "--package",
        "airlock-cli",
        "--bin",
        "airlock",
        "--",
        "demo",
    ])
    .args(args);
    run(cmd)
}

fn test() -> Result<()> {
    ensure_wasm_target()?;
    ensure_python_tools()?;
    ensure_js_tools()?;
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    run(fmt)?;
    // The guest side (bindings, export glue, the bump heap) only exists in the wasm build.
    let mut guest = cargo();
    guest.args([
        "clippy",
        "--locked",
        "--target",
        WASM_TARGET,
        "--target-dir",
        "target/wasm-plugins",
    ]);
    for package in guest_packages()? {
        guest.args(["-p", &package]);
    }
    guest.args(["--", "-D", "warnings"]);
    run(guest)?;
    // One build serves clippy and the tests: clippy's driver compiles the workspace's own
    // crates (it lints, then generates code like rustc), so the dependencies are built once
    // instead of once for `cargo clippy`'s check and again for the tests. `cargo test`
    // builds every target `clippy --all-targets` would lint (the workspace has no benches
    // or examples), and `-D warnings` fails the build as `cargo clippy -- -D warnings` does.
    let mut test = cargo();
    test.args(["test", "--locked", "--workspace"])
        .env("RUSTC_WORKSPACE_WRAPPER", clippy_driver()?)
        .env(
            "CLIPPY_ARGS",
            "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
        );
    run(test)
}

/// The toolchain's clippy driver (rust-toolchain.toml installs the clippy component).
fn clippy_driver() -> Result<std::path::PathBuf> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .context("rustc is needed to find clippy")?;
    let driver = std::path::Path::new(String::from_utf8_lossy(&sysroot.stdout).trim())
        .join("bin")
        .join("clippy-driver");
    if !driver.exists() {
        bail!(
            "{} is missing: run `rustup component add clippy`",
            driver.display()
        );
    }
    Ok(driver)
}

/// The crates that build for wasm32-wasip2: the SDK, its contract and every plugin.
fn guest_packages() -> Result<Vec<String>> {
    let mut packages: Vec<String> = [
        "airlock-contract",
        "airlock-sdk",
        "timesheet-builder",
        "bench-resolve",
    ]
    .map(String::from)
    .to_vec();
    let mut hostile: Vec<String> = std::fs::read_dir("plugins/hostile")
        .context("run from the workspace root")?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| format!("hostile-{}", e.file_name().to_string_lossy()))
        .collect();
    hostile.sort();
    packages.extend(hostile);
    Ok(packages)
}

fn bench(args: &[String]) -> Result<()> {
    ensure_wasm_target()?;
    ensure_python_tools()?;
    ensure_js_tools()?;
    // The migrate benchmark runs the pipeline in a child process: airlock-bench itself.
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--locked",
        "--release",
        "--package",
        "airlock-bench",
        "--",
    ])
    .args(args);
    run(cmd)
}
