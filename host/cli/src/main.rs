//! `airlock`: argument parsing and wiring; the work lives in the library crates.

mod admin;
mod cloud_double;
mod demo;
mod inspect;
mod migrate;
mod plugin_new;
mod plugin_run;
mod render;
mod sandbox;
mod settings;

use airlock_pipeline::{Config, StorageOptions, TargetConfig, Until, private};
use airlock_runtime::{Runtime, RuntimeConfig};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use migrate::Status;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "airlock",
    version,
    about = "Move a Jira Data Center site to Jira Cloud, with its apps' data."
)]
struct Cli {
    /// Where compiled plugins are cached (default: ~/.cache/airlock/plugins, or under
    /// $XDG_CACHE_HOME; the demo's: its own folder).
    #[arg(long, global = true, env = "AIRLOCK_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// The configuration file every command reads its storage settings from (default:
    /// ./airlock.toml if it exists). Flags and the environment override it.
    #[arg(long, global = true, env = "AIRLOCK_CONFIG")]
    config: Option<PathBuf>,
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
    /// The migration's reports (integrity, plan, load, app data, verification): one HTML page, or JSON.
    Report {
        #[arg(long, default_value = "airlock-work")]
        work: PathBuf,
        /// Write the page here (it holds the migration's findings in clear: keep it
        /// where only the operator can read it). Default: print it to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// `html` (one page) or `json` (every phase's report in one document).
        #[arg(long, default_value = "html", value_parser = ["html", "json"])]
        format: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// List every row the target refused at load: kind, source id, code and why (with
    /// `--changed`: every row it wrote differently from the source, and what it did).
    Failures {
        #[arg(long, default_value = "airlock-work")]
        work: PathBuf,
        /// The rows written differently (an issue Jira Cloud gave another key) instead.
        #[arg(long)]
        changed: bool,
        #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
        format: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Write a generated Jira Data Center backup (for tests, demos and benchmarks).
    GenBackup {
        /// The zip to write.
        out: PathBuf,
        #[arg(long, default_value_t = 1000)]
        issues: usize,
        /// Plant an orphan worklog, a duplicate project key and a user without an email.
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
        /// Plant the shapes real backups hold: orphans of every kind, a cascading select,
        /// sysadmin@localhost, CJK and right-to-left text, raw control characters, element
        /// types Airlock leaves behind and one it does not know.
        #[arg(long)]
        realistic: bool,
        /// Plant rows the target refuses (a label with a space, a worklog with negative
        /// time): the plan predicts them and `airlock failures` lists them.
        #[arg(long)]
        unwritable: bool,
    },
    /// Work with app data migrator plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// The reviewer's tool: run a submitted plugin over synthesized data (valid rows, edge
    /// cases, malformed rows, orphans, an older version's columns, fuzzed rows) under
    /// production limits, twice, and write a review (review.html, review.json): the
    /// verdict, what it read and wrote against its manifest, the limits it used, a
    /// transcript of the ids it looked up. Exit 0: passed; 1: failed.
    Sandbox {
        wasm: PathBuf,
        /// Start from this fixture (activeobjects.xml, mappings.json): the vendor's, or
        /// one `plugin fixture` wrote. Default: Airlock's sample for an app it knows,
        /// else generic columns for each declared table.
        #[arg(long)]
        fixture: Option<PathBuf>,
        /// Where the review is written.
        #[arg(long, default_value = "sandbox-review")]
        out: PathBuf,
        /// Valid rows synthesized per table.
        #[arg(long, default_value_t = 1000)]
        rows: usize,
        /// The generator's seed (the same seed, the same data).
        #[arg(long, default_value_t = 0x5EED)]
        seed: u64,
    },
    /// A rehearsal target: Jira Cloud's REST API as Airlock's double serves it (Jira's rate
    /// limits: per endpoint 100 GET/POST and 50 PUT/DELETE a second, per issue 20 writes in
    /// 2 s and 100 in 30 s; and the faults asked for) over HTTPS on this machine. Prints its
    /// address and writes its certificate authority, then serves until stopped (Ctrl-C).
    CloudDouble {
        /// A loopback address and port (port 0: any free one).
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: std::net::SocketAddr,
        /// Faults to inject, e.g. `rate-limited=0.3,server-errors=0.05,retry-after=1`
        /// (also unavailable, fail-after-apply, drop-after-apply, max-throttles, seed).
        #[arg(long)]
        faults: Option<String>,
        /// The site's file: what the migration wrote, kept after the double stops.
        #[arg(long, default_value = "cloud-double.db")]
        site: PathBuf,
        /// Where its certificate authority (PEM) is written, for AIRLOCK_JIRA_CA.
        #[arg(long, default_value = "cloud-double-ca.pem")]
        ca_out: PathBuf,
        /// Serve without Jira's rate limits (answer as fast as it can).
        #[arg(long)]
        no_limits: bool,
    },
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
        /// Where the demo migration keeps its data (default: its work directory), as for
        /// `migrate`: so the demo can rehearse production's PostgreSQL and S3.
        #[command(flatten)]
        storage: StorageArgs,
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
    /// The operator's consent for the plugin in the same position: the scopes and
    /// namespaces it may use, comma-separated (e.g. `app-data-ugc,identity:user`); a
    /// plugin without one gets what its manifest asks. `airlock plugin inspect` lists them.
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// Trust approvals signed by this reviewer (hex public key from `airlock plugin
    /// keygen`); repeat for several. Also AIRLOCK_TRUSTED_REVIEWERS (comma-separated) or
    /// `trusted_reviewers` in airlock.toml.
    #[arg(
        long = "trust-reviewer",
        env = "AIRLOCK_TRUSTED_REVIEWERS",
        value_delimiter = ','
    )]
    trusted_reviewers: Vec<String>,
    /// Run plugins that are unsigned or not approved by a trusted reviewer (audited, and
    /// the report says so).
    #[arg(long)]
    unreviewed: bool,
    /// Jira home's attachments folder (data/attachments), to migrate the files too.
    #[arg(long)]
    attachments: Option<PathBuf>,
    /// Make orphan rows (whose parent is not in the backup) fatal instead of skipping
    /// them (as `"orphans": "block"` in the override file).
    #[arg(long)]
    strict: bool,
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
    /// The schema owner's postgres:// URL, which applies the schema migrations.
    #[arg(long, env = "AIRLOCK_STORE_OWNER_URL", hide_env_values = true)]
    store_owner: Option<String>,
    /// S3 buckets are named PREFIX-REGION (default: airlock).
    #[arg(long, env = "AIRLOCK_S3_BUCKET_PREFIX")]
    s3_bucket_prefix: Option<String>,
    /// A root certificate (PEM file) the S3 endpoint's certificate may chain to.
    #[arg(long, env = "AIRLOCK_S3_CA")]
    s3_ca: Option<PathBuf>,
}

/// Writes a file only its owner can read: an exported report holds customer data in clear.
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
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
    /// The storage settings: flags and the environment, else the configuration file.
    fn options(self, settings: &settings::Settings) -> Result<StorageOptions> {
        let file = &settings.values;
        let region = match (self.region, &file.region) {
            (Some(region), _) => Some(region),
            (None, Some(text)) => Some(parse_region(text).map_err(|e| {
                anyhow::anyhow!("region in {}: {e}", show(settings.file.as_deref()))
            })?),
            (None, None) => None,
        };
        let s3_ca = self.s3_ca.or_else(|| file.s3_ca.clone());
        let s3_ca_pem = match &s3_ca {
            Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read the CA certificate {} (AIRLOCK_S3_CA)",
                    path.display()
                )
            })?),
            None => None,
        };
        Ok(StorageOptions {
            tenant: self.tenant.or_else(|| file.tenant.clone()),
            region,
            store: self.store.or_else(|| file.store.clone()),
            store_owner: self.store_owner.or_else(|| file.store_owner.clone()),
            blobs: self.blobs.or_else(|| file.blobs.clone()),
            keys: self.keys.or_else(|| file.keys.clone()),
            s3_bucket_prefix: self
                .s3_bucket_prefix
                .or_else(|| file.s3_bucket_prefix.clone()),
            s3_ca_pem,
            s3_credentials: None,
        })
    }
}

fn show(path: Option<&std::path::Path>) -> String {
    path.map_or_else(|| "the configuration".into(), |p| p.display().to_string())
}

impl MigrationArgs {
    fn options(self, settings: &settings::Settings) -> Result<migrate::Options> {
        let production = self.storage.store.is_some()
            || self.storage.blobs.is_some()
            || self.storage.keys.is_some()
            || self.storage.tenant.is_some();
        // The command that opens this migration's report reads the same storage.
        let mut report = format!("airlock report --work {}", self.work.display());
        if let Some(file) = &settings.file {
            report.push_str(&format!(" --config {}", file.display()));
        }
        if production {
            report.push_str(" (with the same --tenant, --store, --blobs and --keys, or their AIRLOCK_* variables)");
        }
        Ok(migrate::Options {
            config: Config {
                target: target(self.target.as_deref())?,
                overrides: self.overrides,
                attachments: self.attachments,
                strict: self.strict,
                storage: self.storage.options(settings)?,
                ..Config::new(self.backup, self.work)
            },
            plugins: self.plugins,
            grants: self.grants,
            review: migrate::ReviewPolicy {
                trusted_reviewers: trusted_reviewers(self.trusted_reviewers, settings),
                unreviewed: self.unreviewed,
            },
            report_command: report,
        })
    }
}

/// A reviewer approves only a build the sandbox passed: `review` (review.json) must be a
/// passing review of the bytes at `wasm`.
fn check_review(review: &std::path::Path, wasm: &std::path::Path) -> Result<()> {
    let text = std::fs::read(review)
        .with_context(|| format!("cannot read the review {}", review.display()))?;
    let json: serde_json::Value = serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is not a review: give the review.json `airlock sandbox` wrote",
            review.display()
        )
    })?;
    let sha256 = airlock_runtime::approval::sha256_of(wasm)?;
    anyhow::ensure!(
        json["plugin"]["sha256"].as_str() == Some(sha256.as_str()),
        "{} is a review of another build (its SHA-256 is {}, {} is {sha256}): run `airlock sandbox` on this build",
        review.display(),
        json["plugin"]["sha256"].as_str().unwrap_or("missing"),
        wasm.display()
    );
    anyhow::ensure!(
        json["passed"] == serde_json::Value::Bool(true),
        "{}: the sandbox failed this build ({}): it cannot be approved",
        review.display(),
        json["failures"]
            .as_array()
            .map(|f| f
                .iter()
                .filter_map(|r| r["code"].as_str())
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    Ok(())
}

/// The reviewers whose approvals count: the flags (or AIRLOCK_TRUSTED_REVIEWERS), else
/// the configuration file's `trusted_reviewers`.
fn trusted_reviewers(given: Vec<String>, settings: &settings::Settings) -> Vec<String> {
    let given: Vec<String> = given
        .into_iter()
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect();
    if !given.is_empty() {
        return given;
    }
    settings
        .values
        .trusted_reviewers
        .clone()
        .unwrap_or_default()
}

/// The target named on the command line; Jira Cloud's credentials come from the
/// environment, never from arguments (shell history).
fn target(spec: Option<&str>) -> Result<TargetConfig> {
    let Some(spec) = spec else {
        return Ok(TargetConfig::LocalBesideWork);
    };
    if let Some(path) = spec.strip_prefix("local:") {
        return Ok(TargetConfig::Local(PathBuf::from(path)));
    }
    if spec.starts_with("https://") {
        let var = |name: &str| {
            std::env::var(name).with_context(|| {
                format!("set {name} to reach {spec} (AIRLOCK_JIRA_EMAIL and AIRLOCK_JIRA_TOKEN: an account's email and API token)")
            })
        };
        let mut config = airlock_site::CloudConfig::new(
            spec.trim_end_matches('/'),
            var("AIRLOCK_JIRA_EMAIL")?,
            var("AIRLOCK_JIRA_TOKEN")?,
        );
        if let Ok(path) = std::env::var("AIRLOCK_JIRA_CA") {
            config.extra_root_pem = Some(std::fs::read_to_string(&path).with_context(|| {
                format!("cannot read the CA certificate {path} (AIRLOCK_JIRA_CA)")
            })?);
        }
        return Ok(TargetConfig::Cloud(Box::new(config)));
    }
    anyhow::bail!(
        "unknown target {spec:?}: use local:PATH for the embedded local site or https://SITE.atlassian.net for Jira Cloud"
    )
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
        /// Print output bodies and log lines whole, and every log line of a batch (by
        /// default bodies are cut at 200 characters and a batch shows 50 log lines).
        #[arg(long)]
        full: bool,
        /// One JSON object per batch instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a new plugin crate: an example migrator, its tests, a fixture and the SDK
    /// vendored, ready for `cargo test` and `cargo build --release --target wasm32-wasip2`.
    New {
        /// The crate's name (e.g. acme-notes).
        name: String,
        /// The key of the app whose data it migrates (e.g. com.acme.notes).
        #[arg(long)]
        app_key: String,
        /// Where to write it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A directory with airlock-contract-<v>.crate and airlock-sdk-<v>.crate to vendor
        /// (default: the SDK this airlock was built with).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Make an Ed25519 key pair for signing (vendor) or approving (reviewer) plugins:
    /// the private key (PKCS#8) goes to FILE, readable by you only; the public key is printed.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a plugin as its vendor: writes PLUGIN.wasm.sig (its SHA-256, app key and
    /// version, your public key, the signature).
    Sign {
        wasm: PathBuf,
        /// The vendor's private key (from `plugin keygen`).
        #[arg(long)]
        key: PathBuf,
    },
    /// Approve a signed plugin as a reviewer: writes PLUGIN.wasm.approval binding its
    /// hash and vendor to your key. An unsigned or altered plugin is refused.
    Approve {
        wasm: PathBuf,
        /// The reviewer's private key (from `plugin keygen`).
        #[arg(long)]
        key: PathBuf,
        /// A note kept in the approval (e.g. the review's reference).
        #[arg(long, default_value = "")]
        note: String,
        /// The sandbox's review of this very build (`airlock sandbox … --out DIR` writes
        /// DIR/review.json): it must have passed.
        #[arg(long)]
        review: PathBuf,
    },
    /// Write a fixture directory to try `plugin run` and `sandbox` on: Airlock's sample
    /// (Timesheet Builder tables, other apps' tables, mappings), or with --from an app's
    /// tables from a real backup with a mapping for every core id they reference.
    Fixture {
        dir: PathBuf,
        /// Plant broken Timesheet Builder rows (the sample only).
        #[arg(long, conflicts_with = "from")]
        broken: bool,
        /// Take the app's tables from this Data Center backup (zip).
        #[arg(long, requires = "app")]
        from: Option<PathBuf>,
        /// The app whose tables to take (its plugin key, e.g. com.acme.notes).
        #[arg(long, requires = "from")]
        app: Option<String>,
        /// Replace free text and user keys that are names with tokens (the same value,
        /// the same token; not reversible).
        #[arg(long, requires = "from")]
        scrub: bool,
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
        Ok(Status::Done) => ExitCode::SUCCESS,
        Ok(Status::Blocked) => ExitCode::from(1),
        Ok(Status::Failures) => ExitCode::from(3),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Where compiled plugins are kept when nothing else is configured: the user's cache
/// (`$XDG_CACHE_HOME/airlock/plugins`, else `~/.cache/airlock/plugins`), so a resumed or
/// retried migration does not compile its plugins again. The cache is private and every
/// artifact authenticated, so a shared default is safe; none without a home.
fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("airlock").join("plugins"))
}

fn runtime(cache_dir: Option<PathBuf>) -> Result<Runtime> {
    Ok(Runtime::new(RuntimeConfig {
        cache_dir: cache_dir.or_else(default_cache_dir),
        ..RuntimeConfig::default()
    })?)
}

/// How the command ended (an error: it could not run; exit code 2).
fn run(cli: Cli) -> Result<Status> {
    let done = |ok: bool| if ok { Status::Done } else { Status::Blocked };
    let settings = settings::load(cli.config.as_deref())?;
    let cli = Cli {
        cache_dir: cli.cache_dir.or_else(|| settings.values.cache_dir.clone()),
        ..cli
    };
    match cli.command {
        Command::Check(args) => migrate::command(
            &runtime(cli.cache_dir)?,
            args.options(&settings)?,
            Until::Check,
        ),
        Command::Analyze(args) => migrate::command(
            &runtime(cli.cache_dir)?,
            args.options(&settings)?,
            Until::Analyze,
        ),
        Command::Migrate(args) => migrate::command(
            &runtime(cli.cache_dir)?,
            args.options(&settings)?,
            Until::Migrate,
        ),
        Command::Report {
            work,
            out,
            format,
            storage,
        } => {
            if !work.join("migration.json").exists() {
                anyhow::bail!(
                    "{} holds no migration: run `airlock check`, `analyze` or `migrate` with --work {} first",
                    work.display(),
                    work.display()
                );
            }
            let storage = airlock_pipeline::Storage::open(&work, &storage.options(&settings)?)?;
            let page = if format == "json" {
                let mut text =
                    serde_json::to_string_pretty(&airlock_pipeline::report::bundle(&storage))?;
                text.push('\n');
                text
            } else {
                airlock_pipeline::html::render(&storage)?
            };
            match out {
                Some(path) => {
                    write_private(&path, page.as_bytes())?;
                    println!("report: {}", path.display());
                }
                None => print!("{page}"),
            }
            Ok(Status::Done)
        }
        Command::Failures {
            work,
            changed,
            format,
            storage,
        } => {
            if !work
                .join(airlock_pipeline::storage::MIGRATION_FILE)
                .exists()
            {
                anyhow::bail!(
                    "{} holds no migration: run `airlock migrate` with --work {} first",
                    work.display(),
                    work.display()
                );
            }
            let storage = airlock_pipeline::Storage::open(&work, &storage.options(&settings)?)?;
            let state = airlock_pipeline::report::open_state(&work, &storage)?;
            let rows = if changed {
                airlock_pipeline::report::changed_rows(&state)?
            } else {
                airlock_pipeline::report::failed_rows(&state)?
            };
            render::failures(&rows, &format)?;
            Ok(Status::Done)
        }
        Command::Admin(AdminCommand::Sweep {
            work,
            every,
            adopt_unrecorded,
            storage,
        }) => {
            admin::sweep(&work, &storage.options(&settings)?, every, adopt_unrecorded)?;
            Ok(Status::Done)
        }
        Command::Admin(AdminCommand::Licence {
            ends,
            work,
            storage,
        }) => {
            admin::licence(&work, &storage.options(&settings)?, &ends)?;
            Ok(Status::Done)
        }
        Command::Admin(AdminCommand::Stats {
            work,
            days,
            export,
            storage,
        }) => {
            admin::stats(&work, &storage.options(&settings)?, days, export.as_deref())?;
            Ok(Status::Done)
        }
        Command::GenBackup {
            out,
            issues,
            faults,
            malformed,
            broken_app_rows,
            attachments,
            canaries,
            realistic,
            unwritable,
        } => {
            let spec = airlock_fixtures::Spec {
                issues,
                users: (issues / 20).clamp(50, 5_000),
                projects: (issues / 2_000).clamp(3, 50),
                teams: (issues / 250).clamp(8, 400),
                core_faults: faults,
                malformed_xml: malformed,
                canaries,
                realistic,
                unwritable,
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
            for fault in generated
                .planted_core
                .iter()
                .chain(&generated.planted_realistic)
                .chain(&generated.planted_unwritable)
            {
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
            Ok(Status::Done)
        }
        Command::Sandbox {
            wasm,
            fixture,
            out,
            rows,
            seed,
        } => {
            let options = airlock_sandbox::Options {
                fixture,
                rows,
                seed,
                ..airlock_sandbox::Options::default()
            };
            sandbox::run(&runtime(cli.cache_dir)?, &wasm, &options, &out).map(done)
        }
        Command::Plugin(PluginCommand::Inspect { wasm, json }) => {
            inspect::run(&runtime(cli.cache_dir)?, &wasm, json)?;
            Ok(Status::Done)
        }
        Command::Plugin(PluginCommand::Run {
            wasm,
            fixture,
            max_outputs,
            full,
            json,
        }) => plugin_run::run(
            &runtime(cli.cache_dir)?,
            &wasm,
            &fixture,
            &plugin_run::Options {
                max_outputs,
                full,
                json,
            },
        )
        .map(done),
        Command::Plugin(PluginCommand::New {
            name,
            app_key,
            dir,
            sdk,
        }) => plugin_new::run(&plugin_new::Options {
            name,
            app_key,
            dir,
            sdk,
        })
        .map(|()| Status::Done),
        Command::Plugin(PluginCommand::Keygen { out }) => {
            let (pkcs8, public) = airlock_runtime::approval::generate_key()?;
            if out.exists() {
                anyhow::bail!(
                    "{} exists: choose another --out (a key is never overwritten)",
                    out.display()
                );
            }
            write_private(&out, &pkcs8)?;
            println!(
                "wrote the private key to {} (keep it secret)",
                out.display()
            );
            println!("public key: {public}");
            Ok(Status::Done)
        }
        Command::Plugin(PluginCommand::Sign { wasm, key }) => {
            let plugin = runtime(cli.cache_dir)?.load_file(&wasm)?;
            let manifest = plugin.manifest();
            let vendor = airlock_runtime::approval::read_key(&key)?;
            let signed = airlock_runtime::approval::sign(
                &wasm,
                manifest.app_key.as_str(),
                &manifest.version,
                &vendor,
            )?;
            anyhow::ensure!(
                signed.sha256 == plugin.info().sha256,
                "{} changed while it was being signed: sign it again",
                wasm.display()
            );
            let path = airlock_runtime::approval::signature_path(&wasm);
            airlock_runtime::approval::write_json(&path, &signed)?;
            println!(
                "signed {} {} {} (sha256 {}) as vendor {}: wrote {}",
                wasm.display(),
                signed.app_key,
                signed.version,
                signed.sha256,
                signed.vendor_key,
                path.display()
            );
            Ok(Status::Done)
        }
        Command::Plugin(PluginCommand::Approve {
            wasm,
            key,
            note,
            review,
        }) => {
            check_review(&review, &wasm)?;
            let reviewer = airlock_runtime::approval::read_key(&key)?;
            let approval = airlock_runtime::approval::approve(&wasm, &reviewer, &note)?;
            let path = airlock_runtime::approval::approval_path(&wasm);
            airlock_runtime::approval::write_json(&path, &approval)?;
            println!(
                "approved {} (sha256 {}, vendor {}) as reviewer {}: wrote {}",
                wasm.display(),
                approval.sha256,
                approval.vendor_key,
                approval.reviewer_key,
                path.display()
            );
            Ok(Status::Done)
        }
        Command::Plugin(PluginCommand::Fixture {
            dir,
            from: Some(backup),
            app: Some(app),
            scrub,
            ..
        }) => {
            let app = airlock_model::AppKey::new(&app);
            let made = airlock_sandbox::fixture::from_backup(&backup, &app, scrub, &dir)?;
            for (table, rows) in &made.tables {
                println!("  {table}: {rows} rows");
            }
            for (ns, ids) in &made.mappings {
                println!("  {ns}: {ids} mappings (synthetic cloud ids)");
            }
            if scrub {
                println!("  {} values scrubbed", made.scrubbed);
            }
            println!(
                "wrote {} (activeobjects.xml, mappings.json) from {}",
                dir.display(),
                backup.display()
            );
            Ok(Status::Done)
        }
        Command::Plugin(PluginCommand::Fixture { dir, broken, .. }) => {
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
            Ok(Status::Done)
        }
        Command::CloudDouble {
            listen,
            faults,
            site,
            ca_out,
            no_limits,
        } => {
            cloud_double::run(&cloud_double::Options {
                listen,
                faults,
                site,
                ca_out,
                limits: !no_limits,
            })?;
            Ok(Status::Done)
        }
        Command::Demo {
            dir,
            plugin,
            broken,
            issues,
            storage,
        } => {
            let cache = cli.cache_dir.unwrap_or_else(|| dir.join("cache"));
            demo::run(
                &runtime(Some(cache))?,
                &dir,
                &demo::Options {
                    plugin,
                    broken,
                    issues,
                    storage: storage.options(&settings)?,
                },
            )
        }
    }
}
