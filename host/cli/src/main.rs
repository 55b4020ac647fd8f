//! `airlock`: argument parsing and wiring; the work lives in the library crates.

mod admin;
mod app_stage;
mod demo;
mod html;
mod inspect;
mod migrate;
mod plugin_run;
mod private;
mod render;
mod storage;

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
    /// Phase 1: stage the backup and check the source's integrity (fatal findings block a migration).
    Check(MigrationArgs),
    /// Phases 1 and 2: the integrity check, then what will change on the target.
    Analyze(MigrationArgs),
    /// Every phase: check, analyze, load the core data, each plugin's app data, verify. Resumes after a crash.
    Migrate(MigrationArgs),
    /// Render the work directory's reports (integrity, plan, verification) as one HTML page.
    Report {
        #[arg(long, default_value = "airlock-work")]
        work: PathBuf,
        /// Write the page here (it holds the migration's findings in clear: keep it
        /// where only the operator can read it). Default: print it to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Write a generated Jira Data Center backup (for tests, demos and benchmarks).
    GenBackup {
        /// The zip to write.
        out: PathBuf,
        #[arg(long, default_value_t = 1000)]
        issues: usize,
        /// Plant a dangling reference, a duplicate project key and a user without an email.
        #[arg(long)]
        faults: bool,
        /// Make entities.xml malformed at a known line.
        #[arg(long)]
        malformed: bool,
        /// Plant three Timesheet Builder rows its analysis must call fatal.
        #[arg(long)]
        broken_app_rows: bool,
        /// Also write the attachment files, in a Jira home's layout under this folder.
        #[arg(long)]
        attachments: Option<PathBuf>,
        /// Plant canary strings (an issue summary, a user email, a team name) that must
        /// never appear in clear in what Airlock stores.
        #[arg(long)]
        canaries: bool,
    },
    /// Work with app data migrator plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Platform administration across tenants: retention, anonymized statistics.
    #[command(subcommand)]
    Admin(AdminCommand),
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
        #[arg(long, default_value_t = 10_000)]
        issues: usize,
    },
}

/// Where a migration reads from and writes to.
#[derive(clap::Args)]
struct MigrationArgs {
    /// The Jira Data Center XML backup (zip).
    backup: PathBuf,
    /// The target: `local:PATH` for the embedded local site (default: site.db in a private
    /// directory beside the work directory, WORK-site; it holds the migrated data in
    /// clear), or `https://SITE.atlassian.net` for Jira Cloud (credentials from
    /// AIRLOCK_JIRA_EMAIL and AIRLOCK_JIRA_TOKEN; AIRLOCK_JIRA_CA adds a trusted root).
    #[arg(long)]
    target: Option<String>,
    /// The work directory: staging, the migration's state (for resuming) and reports.
    #[arg(long, default_value = "airlock-work")]
    work: PathBuf,
    /// The operator's answers to the target analysis (JSON: projects, fields, users).
    #[arg(long)]
    overrides: Option<PathBuf>,
    /// An app's migrator (WebAssembly component) to enable; repeat for several.
    #[arg(long = "plugin")]
    plugins: Vec<PathBuf>,
    /// Jira home's attachments folder (data/attachments), to migrate the files too.
    #[arg(long)]
    attachments: Option<PathBuf>,
    #[command(flatten)]
    storage: StorageArgs,
}

/// Where a migration keeps its sealed data, keys and metadata (defaults: the work directory).
#[derive(clap::Args, Clone, Default)]
struct StorageArgs {
    /// The tenant the migration belongs to.
    #[arg(long, env = "AIRLOCK_TENANT")]
    tenant: Option<String>,
    /// The region the migration's data stays in, chosen when it is created
    /// (us-east-1, us-west-2, eu-central-1, eu-west-1, ap-southeast-2, ap-northeast-1).
    #[arg(long, value_parser = parse_region)]
    region: Option<airlock_model::Region>,
    /// The metadata store: postgres://airlock_app@HOST/DB (the schema owner's URL in
    /// AIRLOCK_STORE_OWNER_URL). Default: airlock.db (SQLite) in the work directory.
    #[arg(long, env = "AIRLOCK_STORE")]
    store: Option<String>,
    /// The blob store: s3:https://ENDPOINT or s3:aws (credentials from AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY; buckets AIRLOCK_S3_BUCKET_PREFIX-REGION; AIRLOCK_S3_CA adds a
    /// trusted root). Default: blobs/ in the work directory.
    #[arg(long, env = "AIRLOCK_BLOBS")]
    blobs: Option<String>,
    /// The folder of key-encryption keys (one 0600 file per tenant). Default: keys/ in the
    /// work directory.
    #[arg(long, env = "AIRLOCK_KEYS")]
    keys: Option<PathBuf>,
}

/// Writes a file only its owner can read: an exported report holds customer data in clear.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn parse_region(s: &str) -> Result<airlock_model::Region, String> {
    airlock_model::Region::parse(s).map_err(|e| e.to_string())
}

impl StorageArgs {
    fn options(self) -> storage::StorageOptions {
        storage::StorageOptions {
            tenant: self.tenant,
            region: self.region,
            store: self.store,
            blobs: self.blobs,
            keys: self.keys,
        }
    }
}

impl MigrationArgs {
    fn options(self) -> migrate::Options {
        migrate::Options {
            backup: self.backup,
            work: self.work,
            target: self.target,
            overrides: self.overrides,
            plugins: self.plugins,
            attachments: self.attachments,
            bundled_plugin: false,
            storage: self.storage.options(),
        }
    }
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Run the retention sweep: expired migrations' data keys destroyed, then their blobs;
    /// statistics after 12 months; tenants 30 days after their licence ends.
    Sweep {
        #[arg(long, default_value = "airlock-work")]
        work: PathBuf,
        /// Keep sweeping, this often (e.g. 15m, 1h, 1d), until stopped; once without it.
        #[arg(long, value_parser = admin::parse_interval)]
        every: Option<std::time::Duration>,
        /// First record this command's blob store and keys on migrations created before
        /// Airlock recorded where a migration's data lives (only if they are the ones).
        #[arg(long)]
        adopt_unrecorded: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Record when the licence of a tenant (--tenant) ends (a date, YYYY-MM-DD, UTC), or
    /// `never`: its migrations' metadata, data and key go 30 days after.
    Licence {
        /// YYYY-MM-DD, or `never` for a licence that does not end.
        #[arg(long)]
        ends: String,
        #[arg(long, default_value = "airlock-work")]
        work: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Anonymized statistics of every tenant (JSON lines), printed or sent over HTTPS.
    Stats {
        #[arg(long, default_value = "airlock-work")]
        work: PathBuf,
        /// The last this many days.
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// An https:// endpoint to POST them to.
        #[arg(long)]
        export: Option<String>,
        #[command(flatten)]
        storage: StorageArgs,
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

/// mimalloc: the phases allocate and free small strings per record, where glibc's
/// allocator cost ~13% of a migration.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before anything is created: what Airlock writes is the operator's alone.
    private::restrict_umask();
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
        Command::Check(args) => migrate::check_command(&runtime(cli.cache_dir)?, &args.options()),
        Command::Analyze(args) => {
            migrate::analyze_command(&runtime(cli.cache_dir)?, &args.options())
        }
        Command::Migrate(args) => {
            migrate::migrate_command(&runtime(cli.cache_dir)?, &args.options())
        }
        Command::Report { work, out, storage } => {
            if !work.join("migration.json").exists() {
                anyhow::bail!(
                    "{} holds no migration: run `airlock check`, `analyze` or `migrate` with --work {} first",
                    work.display(),
                    work.display()
                );
            }
            let storage = storage::Storage::open(&work, &storage.options())?;
            let page = html::render(&storage)?;
            match out {
                Some(path) => {
                    write_private(&path, page.as_bytes())?;
                    println!("report: {}", path.display());
                }
                None => print!("{page}"),
            }
            Ok(true)
        }
        Command::Admin(AdminCommand::Sweep {
            work,
            every,
            adopt_unrecorded,
            storage,
        }) => {
            admin::sweep(&work, &storage.options(), every, adopt_unrecorded)?;
            Ok(true)
        }
        Command::Admin(AdminCommand::Licence {
            ends,
            work,
            storage,
        }) => {
            admin::licence(&work, &storage.options(), &ends)?;
            Ok(true)
        }
        Command::Admin(AdminCommand::Stats {
            work,
            days,
            export,
            storage,
        }) => {
            admin::stats(&work, &storage.options(), days, export.as_deref())?;
            Ok(true)
        }
        Command::GenBackup {
            out,
            issues,
            faults,
            malformed,
            broken_app_rows,
            attachments,
            canaries,
        } => {
            let spec = airlock_fixtures::Spec {
                issues,
                users: (issues / 20).clamp(50, 5_000),
                projects: (issues / 2_000).clamp(3, 50),
                teams: (issues / 250).clamp(8, 400),
                core_faults: faults,
                malformed_xml: malformed,
                canaries,
                broken_timesheet_rows: broken_app_rows,
                ..airlock_fixtures::Spec::default()
            };
            let generated = airlock_fixtures::write_backup(&out, &spec)?;
            if let Some(home) = &attachments {
                let files = airlock_fixtures::write_attachments(home, &spec)?;
                println!("wrote {files} attachment files under {}", home.display());
            }
            let rows: u64 = generated.entity_counts.values().sum();
            println!(
                "wrote {}: {rows} entities.xml rows ({} issues), {} app rows",
                out.display(),
                issues,
                generated.ao_rows.values().sum::<u64>()
            );
            for fault in &generated.planted_core {
                println!(
                    "  planted {} in {} {}{}",
                    fault.check,
                    fault.entity,
                    fault.id,
                    fault
                        .line
                        .map(|l| format!(" at line {l}"))
                        .unwrap_or_default()
                );
            }
            Ok(true)
        }
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
