//! `airlock`: argument parsing and wiring; the work lives in the library crates.

mod app_stage;
mod demo;
mod inspect;
mod plugin_run;
mod render;

use airlock_runtime::{Runtime, RuntimeConfig};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "airlock",
    version,
    about = "Move a Jira Data Center site to Jira Cloud, with its apps' data."
)]
struct Cli {
    /// Where precompiled plugins are cached.
    #[arg(long, global = true, env = "AIRLOCK_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with app data migrator plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Generate a small Data Center backup with Timesheet Builder data and run the
    /// Timesheet Builder plugin over it through the sandbox.
    Demo {
        /// Where the demo writes its backup and cache.
        #[arg(long, default_value = "airlock-demo")]
        dir: PathBuf,
        /// Run this plugin instead of the embedded Timesheet Builder.
        #[arg(long)]
        plugin: Option<PathBuf>,
        /// Plant broken rows (a member of a missing team, a period that ends before it
        /// starts, an unknown user) to see analysis block the migration.
        #[arg(long)]
        broken: bool,
        /// Issues in the generated backup.
        #[arg(long, default_value_t = 200)]
        issues: usize,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Show a plugin's manifest, imports, size, hash and limits.
    Inspect {
        wasm: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Run a plugin over a fixture directory (activeobjects.xml, mappings.json, optional
    /// grant.json) and print outputs, findings, fuel, memory, time and logs per batch.
    Run {
        wasm: PathBuf,
        #[arg(long)]
        fixture: PathBuf,
        /// Outputs to print per batch.
        #[arg(long, default_value_t = 5)]
        max_outputs: usize,
        /// One JSON object per batch instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a sample fixture directory (Timesheet Builder tables, other apps' tables,
    /// mappings) to try `plugin run` on.
    Fixture {
        dir: PathBuf,
        /// Plant broken Timesheet Builder rows.
        #[arg(long)]
        broken: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AIRLOCK_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,airlock_runtime=error")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn runtime(cache_dir: Option<PathBuf>) -> Result<Runtime> {
    Ok(Runtime::new(RuntimeConfig {
        cache_dir,
        ..RuntimeConfig::default()
    })?)
}

/// Returns whether the command succeeded (false: it ran, and found failures).
fn run(cli: Cli) -> Result<bool> {
    match cli.command {
        Command::Plugin(PluginCommand::Inspect { wasm, json }) => {
            inspect::run(&runtime(cli.cache_dir)?, &wasm, json)?;
            Ok(true)
        }
        Command::Plugin(PluginCommand::Run {
            wasm,
            fixture,
            max_outputs,
            json,
        }) => plugin_run::run(
            &runtime(cli.cache_dir)?,
            &wasm,
            &fixture,
            &plugin_run::Options { max_outputs, json },
        ),
        Command::Plugin(PluginCommand::Fixture { dir, broken }) => {
            let spec = airlock_fixtures::Spec {
                broken_timesheet_rows: broken,
                ..airlock_fixtures::Spec::default()
            };
            let generated = airlock_fixtures::write_plugin_fixture(&dir, &spec)?;
            println!(
                "wrote {} (activeobjects.xml with {} rows, mappings.json)",
                dir.display(),
                generated.ao_rows.values().sum::<u64>()
            );
            Ok(true)
        }
        Command::Demo {
            dir,
            plugin,
            broken,
            issues,
        } => {
            let cache = cli.cache_dir.unwrap_or_else(|| dir.join("cache"));
            demo::run(
                &runtime(Some(cache))?,
                &dir,
                plugin.as_deref(),
                broken,
                issues,
            )
        }
    }
}
