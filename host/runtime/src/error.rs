use crate::grant::Denied;
use crate::run::Usage;
use airlock_model::DataScope;
use std::path::PathBuf;
use std::time::Duration;

/// The runtime itself could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot configure the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot link the host interfaces: {0}")]
    Link(String),
    #[error("plugin cache: {0}")]
    Cache(#[from] crate::cache::CacheError),
}

/// A plugin could not be loaded. Nothing of it runs.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin {path}: cannot read the file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "plugin {plugin}: not a valid WebAssembly component ({reason}); build it with `cargo build --target wasm32-wasip2`"
    )]
    Invalid { plugin: String, reason: String },
    #[error(
        "plugin {plugin}: imports {}, which Airlock does not provide. A plugin may import \
         airlock:plugin 1.x or 2.x (one major version, the one it exports) and WASI 0.2's cli, clocks, io, random, filesystem and sockets \
         (the last two deny-all: no directory, no network); build it without the rest: drop the \
         dependency that links them (an HTTP client, say), or for componentize-js pass \
         `--disable http` (disableFeatures: [\"http\"]), and check with `airlock plugin inspect`",
        quoted(.imports)
    )]
    ForbiddenImports {
        plugin: String,
        /// Every import refused, in the component's order.
        imports: Vec<String>,
    },
    #[error("plugin {plugin}: describe() failed: {cause}")]
    Describe { plugin: String, cause: String },
    #[error("plugin {plugin}: invalid manifest: {reason}")]
    BadManifest { plugin: String, reason: String },
    #[error("plugin {plugin}: cannot prepare it for instantiation: {reason}")]
    Link { plugin: String, reason: String },
    #[error(
        "plugin {plugin}: exceeds the sandbox's limits on a component's shape ({reason}); a plugin may define at most {max_memories} memories, {max_tables} tables and {max_instances} core instances",
        max_memories = crate::run::MAX_MEMORIES_PER_COMPONENT,
        max_tables = crate::run::MAX_TABLES_PER_COMPONENT,
        max_instances = crate::run::MAX_CORE_INSTANCES_PER_COMPONENT
    )]
    ExceedsLimits { plugin: String, reason: String },
}

/// An operator's grant does not cover what the plugin needs.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("plugin {plugin}: the operator has not consented to data scopes {}", list(.missing))]
    ScopesMissing {
        plugin: String,
        missing: Vec<DataScope>,
    },
    #[error(
        "plugin {plugin}: this component (sha256 {found}) is not the one the operator enabled (sha256 {granted}); enable this build explicitly"
    )]
    NotTheGrantedPlugin {
        plugin: String,
        granted: String,
        found: String,
    },
    #[error(
        "plugin {plugin}: it declares app key `{declared}` but was enabled for `{granted}`; a plugin cannot choose whose data it reads"
    )]
    AppKeyMismatch {
        plugin: String,
        granted: String,
        declared: String,
    },
    #[error(
        "app `{app_key}` has the Active Objects prefix {prefix}_ of app `{other}`: it would read that app's tables, so it is refused (ask the vendor which app key is genuine)"
    )]
    PrefixCollision {
        app_key: String,
        other: String,
        prefix: String,
    },
}

fn quoted(imports: &[String]) -> String {
    imports
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(scopes: &[DataScope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A batch that did not complete. The host survives it; the runtime stays usable.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin} ({call}) failed on table {table}, batch {batch}: {cause}")]
pub struct BatchError {
    pub plugin: String,
    pub call: &'static str,
    pub table: String,
    pub batch: u64,
    pub cause: Cause,
    /// What the batch used before it stopped.
    pub usage: Usage,
}

/// Why a batch stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Cause {
    #[error(
        "fuel limit exhausted ({limit} units): the plugin computes too much per batch, or loops"
    )]
    OutOfFuel { limit: u64 },
    #[error("deadline of {}ms exceeded", .limit.as_millis())]
    Deadline { limit: Duration },
    #[error("memory limit of {limit} bytes exceeded (the plugin asked for {requested})")]
    Memory { limit: u64, requested: u64 },
    #[error("stack limit exceeded: recursion too deep")]
    StackOverflow,
    #[error("output quota of {limit} bytes exceeded ({produced} bytes returned)")]
    OutputQuota { limit: u64, produced: u64 },
    #[error("log quota of {limit} bytes exceeded")]
    LogQuota { limit: u64 },
    #[error("access denied: {0}")]
    AccessDenied(Denied),
    #[error("trapped: {trap}{}", .stderr.as_deref().map(stderr_tail).unwrap_or_default())]
    Trap {
        trap: String,
        /// The end of what the plugin wrote to stderr before it trapped (a Rust panic
        /// message, a Python traceback, a JavaScript exception), at most
        /// [`crate::MAX_TRAP_STDERR_BYTES`], control characters escaped but for line breaks.
        stderr: Option<String>,
    },
    #[error("the plugin reported error `{code}`{}: {message}", .row_id.map(|r| format!(" on row ID {r}")).unwrap_or_default())]
    Plugin {
        code: String,
        message: String,
        row_id: Option<i64>,
    },
    #[error("the host's batch is malformed: row #{row} does not have one value per column")]
    MalformedBatch { row: usize },
    #[error("invalid output #{index}: {reason}")]
    InvalidOutput { index: usize, reason: String },
    #[error(
        "`{call}` was sent {requested} ids in one call; the most is {limit} (split the lookup into smaller calls)"
    )]
    HostCallLimit {
        call: &'static str,
        requested: u64,
        limit: u64,
    },
    #[error(
        "one host call carried more than {limit} bytes of lists and strings (split it into smaller calls)"
    )]
    HostCallData { limit: u64 },
    #[error(
        "`app-data.find` matched more than {limit} rows in one call (send fewer values per call)"
    )]
    FindRows { limit: u64 },
    #[error(
        "a staged app row cannot be trusted ({0}); stage the app's data again (run `check` in a new work directory) and, if it recurs, report it: the work directory may have been tampered with"
    )]
    AppData(crate::AppDataError),
    #[error("mappings.publish refused: {reason}")]
    Publish { reason: String },
}

/// The plugin's stderr under a trap, each line indented so none can pass for the host's.
fn stderr_tail(stderr: &str) -> String {
    let mut out = String::from("; the plugin's stderr ended with:");
    for line in stderr.lines() {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

impl Cause {
    /// A stable code for statistics and reports (never data).
    pub fn code(&self) -> &'static str {
        match self {
            Cause::OutOfFuel { .. } => "out-of-fuel",
            Cause::Deadline { .. } => "deadline",
            Cause::Memory { .. } => "memory-limit",
            Cause::StackOverflow => "stack-overflow",
            Cause::OutputQuota { .. } => "output-quota",
            Cause::LogQuota { .. } => "log-quota",
            Cause::AccessDenied(_) => "access-denied",
            Cause::Trap { .. } => "trap",
            Cause::Plugin { .. } => "plugin-error",
            Cause::InvalidOutput { .. } => "invalid-output",
            Cause::MalformedBatch { .. } => "malformed-batch",
            Cause::HostCallLimit { .. } | Cause::HostCallData { .. } | Cause::FindRows { .. } => {
                "host-call-limit"
            }
            Cause::AppData(_) => "app-data-integrity",
            Cause::Publish { .. } => "publish-refused",
        }
    }
}
