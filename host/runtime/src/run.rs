//! The runtime: one engine and linker per process, plugins compiled once and
//! pre-instantiated, a fresh store and instance for every batch.

use crate::bindings;
use crate::cache::ArtifactCache;
use crate::conversions;
use crate::conversions::RowSetRef;
use crate::data::{AppData, Mappings};
use crate::error::{BatchError, Cause, ConsentError, LoadError, RuntimeError};
use crate::grant::{Access, Grant};
use crate::limits::{Ceilings, EPOCH_TICK, Limits, MAX_WASM_STACK};
use crate::manifest::{Contract, Manifest};
use crate::store::{BatchState, BatchStateInit, HostCalls, LogLine, Stop};
use airlock_model::app_storage;
use airlock_model::{
    AppFinding, AppKey, AppOutput, MigrationId, Namespace, Severity, TenantId, Value,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{
    Component, ComponentExportIndex, HasSelf, Instance, InstancePre, Linker,
};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

/// How the runtime is set up.
#[derive(Clone, Debug, Default)]
pub struct RuntimeConfig {
    /// Where precompiled plugins are kept; `None` compiles in memory every load.
    pub cache_dir: Option<PathBuf>,
    /// Default limits per batch.
    pub limits: Limits,
    /// The most a plugin's manifest may ask for.
    pub ceilings: Ceilings,
}

/// Runs plugins. Cheap to share across threads; a plugin that fails never harms it.
pub struct Runtime {
    engine: Engine,
    linker: Linker<BatchState>,
    cache: Option<ArtifactCache>,
    config: RuntimeConfig,
    _ticker: EpochTicker,
}

/// Batches that can run at once (instance slots in the pool); each holds one plugin
/// instance for the length of one batch.
const POOL_SLOTS: u32 = 256;

/// The shape a component may have. Rust, Python and JavaScript components need one or two
/// memories and a handful of core instances and tables; the caps stop one component from
/// taking many slots of the shared pool (and its memory cap from being multiplied).
pub const MAX_MEMORIES_PER_COMPONENT: u32 = 4;
pub const MAX_TABLES_PER_COMPONENT: u32 = 16;
pub const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 16;

/// The most bytes of lists and strings one call may copy out of a plugin: an import's
/// arguments, or a batch's results (whose output quota is lower still). An import's list of
/// ids is checked by count besides ([`crate::MAX_IDS_PER_CALL`]).
pub const MAX_HOST_CALL_BYTES: u64 = 128 << 20;

/// How much of a plugin's stderr a trap's error carries: the end of it, where a panic
/// message, a Python traceback or a JavaScript exception is.
pub const MAX_TRAP_STDERR_BYTES: usize = 4096;

/// The most findings one `analyze-batch` may return; the rest are replaced by one
/// `findings-capped` finding, so a plugin cannot flood the host or the report.
pub const MAX_FINDINGS_PER_BATCH: usize = 1000;

/// Interfaces a plugin may import, without versions. Everything else is refused at load.
/// The WASI ones are what Rust's std links for wasm32-wasip2 and what componentize-py and
/// componentize-js builds import by default; the host provides them locked down (no
/// environment, no stdin, captured output, fixed clocks, seeded random) and the filesystem
/// and sockets deny-all: no directory is preopened and no socket can be created or name
/// resolved, so a plugin that links them loads, and every attempt fails inside it.
pub const ALLOWED_IMPORTS: &[&str] = &[
    "airlock:plugin/types",
    "airlock:plugin/mappings",
    "airlock:plugin/app-data",
    "airlock:plugin/core-data",
    "airlock:plugin/log",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
];

fn import_allowed(name: &str) -> bool {
    let (interface, version) = name.split_once('@').unwrap_or((name, ""));
    let version_ok = if interface.starts_with("airlock:plugin/") {
        version.starts_with("1.") || version.starts_with("2.")
    } else {
        version.starts_with("0.2.")
    };
    version_ok && ALLOWED_IMPORTS.contains(&interface)
}

/// An `airlock:plugin` import of another major version than the contract the component
/// exports (a 1.0 migrator importing 2.0's `mappings`, say): refused, so a plugin speaks
/// one version of the contract.
fn other_major(name: &str, contract: Contract) -> bool {
    name.strip_prefix("airlock:plugin/")
        .and_then(|rest| rest.split_once('@'))
        .is_some_and(|(_, version)| !version.starts_with(contract.major()))
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let mut wasm = Config::new();
        wasm.consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK)
            .wasm_component_model(true)
            .wasm_backtrace_max_frames(None);
        // `AIRLOCK_PERFMAP=1` writes /tmp/perf-<pid>.map so `perf` can name plugin frames.
        if std::env::var_os("AIRLOCK_PERFMAP").is_some() {
            wasm.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        // A pool of instance slots: instantiation reuses warm memory instead of mapping
        // and faulting in fresh pages for every batch. Up to 8 MiB stays resident between
        // batches; with PAGEMAP_SCAN (Linux 6.7+) only the pages a batch dirtied are reset.
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(POOL_SLOTS)
            .total_core_instances(POOL_SLOTS * 4)
            .total_memories(POOL_SLOTS * 2)
            .total_tables(POOL_SLOTS * 4)
            .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
            .max_memories_per_module(MAX_MEMORIES_PER_COMPONENT)
            .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
            .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
            .max_memory_size(config.ceilings.memory_bytes as usize)
            .linear_memory_keep_resident(8 << 20)
            .table_keep_resident(64 << 10)
            .pagemap_scan(wasmtime::Enabled::Auto);
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|e| RuntimeError::Engine(e.to_string()))?;
        let linker = link(&engine).map_err(|e| RuntimeError::Link(e.to_string()))?;
        let cache = match &config.cache_dir {
            Some(dir) => Some(ArtifactCache::new(dir, &engine)?),
            None => None,
        };
        let ticker = EpochTicker::start(&engine);
        Ok(Runtime {
            engine,
            linker,
            cache,
            config,
            _ticker: ticker,
        })
    }

    pub fn limits(&self) -> Limits {
        self.config.limits
    }

    /// Loads a plugin from a `.wasm` file.
    pub fn load_file(&self, path: &Path) -> Result<Plugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        self.load(&name, &bytes)
    }

    /// Loads a plugin: refuses imports outside the allow-list, compiles (or takes the
    /// cached artifact), pre-instantiates and asks it to describe itself.
    pub fn load(&self, name: &str, wasm: &[u8]) -> Result<Plugin, LoadError> {
        let sha256 = hex::encode(Sha256::digest(wasm));
        let started = Instant::now();
        let (component, cached) = match self
            .cache
            .as_ref()
            .and_then(|c| c.get(&self.engine, &sha256))
        {
            Some(c) => (c, true),
            None => {
                let c = Component::new(&self.engine, wasm).map_err(|e| {
                    let reason = format!("{e:#}");
                    // The pool checks a component's shape when it is compiled.
                    if reason.contains("pooling allocator") {
                        LoadError::ExceedsLimits {
                            plugin: name.to_owned(),
                            reason,
                        }
                    } else {
                        LoadError::Invalid {
                            plugin: name.to_owned(),
                            reason,
                        }
                    }
                })?;
                if let Some(cache) = &self.cache {
                    cache.put(&sha256, &c);
                }
                (c, false)
            }
        };
        let compile_time = started.elapsed();

        let imports: Vec<String> = component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        // Every refused import at once: a vendor fixes the build in one round.
        let refused: Vec<String> = imports
            .iter()
            .filter(|i| !import_allowed(i))
            .cloned()
            .collect();
        if !refused.is_empty() {
            return Err(LoadError::ForbiddenImports {
                plugin: name.to_owned(),
                imports: refused,
            });
        }

        let exports = Exports::find(&component).ok_or_else(|| LoadError::Link {
            plugin: name.to_owned(),
            reason: "it exports neither airlock:plugin/migrator@2.0.0 nor @1.0.0 (with describe, \
                     analyze-batch and migrate-batch, and finish in 2.0)"
                .into(),
        })?;
        let mixed: Vec<String> = (imports.iter())
            .filter(|i| other_major(i, exports.contract))
            .cloned()
            .collect();
        if !mixed.is_empty() {
            return Err(LoadError::Link {
                plugin: name.to_owned(),
                reason: format!(
                    "it exports airlock:plugin/migrator@{} but imports {}: build it against one version of the contract",
                    exports.contract.version(),
                    mixed.join(", ")
                ),
            });
        }
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link {
                plugin: name.to_owned(),
                reason: format!("{e:#}"),
            })?;
        let manifest = describe(&self.engine, &pre, &exports, self.config.limits)
            .map_err(|cause| LoadError::Describe {
                plugin: name.to_owned(),
                cause,
            })?
            .map_err(|reason| LoadError::BadManifest {
                plugin: name.to_owned(),
                reason,
            })?;
        let limits = self.config.limits.for_request(
            self.config.ceilings,
            manifest.requested.fuel_per_batch,
            manifest.requested.memory_bytes,
            manifest.requested.batch_rows,
        );
        tracing::info!(
            plugin = name,
            cached,
            compile_ms = compile_time.as_millis() as u64,
            "plugin loaded"
        );
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                name: name.to_owned(),
                info: PluginInfo {
                    sha256,
                    size: wasm.len(),
                    imports,
                    compile_time,
                    from_cache: cached,
                },
                manifest: Arc::new(manifest),
                limits,
                engine: self.engine.clone(),
                pre,
                exports,
            }),
        })
    }
}

/// The interfaces linked by hand, as each contract version names them.
const MAPPINGS_INTERFACE: &str = "airlock:plugin/mappings@1.0.0";
const APP_DATA_INTERFACE: &str = "airlock:plugin/app-data@1.0.0";
const MAPPINGS_V2_INTERFACE: &str = "airlock:plugin/mappings@2.0.0";
const APP_DATA_V2_INTERFACE: &str = "airlock:plugin/app-data@2.0.0";

fn link(engine: &Engine) -> wasmtime::Result<Linker<BatchState>> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets, sync};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::sockets::WasiSockets;

    let mut linker = Linker::new(engine);
    {
        use bindings::airlock::plugin::{log, types};
        types::add_to_linker::<BatchState, HasSelf<BatchState>>(&mut linker, |s| s)?;
        log::add_to_linker::<BatchState, HasSelf<BatchState>>(&mut linker, |s| s)?;
    }
    // `mappings.resolve` by hand rather than through bindgen: the ids are read in place in
    // the plugin's memory and the answers lowered from shared strings, so a lookup
    // allocates nothing per id on the host (it is the hottest import).
    linker
        .instance(MAPPINGS_INTERFACE)?
        .func_wrap("resolve", crate::store::resolve)?;
    // `app-data` too, so an `exists` call's size is refused before its ids are copied.
    let mut app_data = linker.instance(APP_DATA_INTERFACE)?;
    app_data.func_wrap("get", crate::store::get)?;
    app_data.func_wrap("exists", crate::store::exists)?;
    // Contract 2.0, beside 1.0: the same functions (the shapes are the same), and what it
    // adds.
    {
        use bindings::v2::airlock::plugin::{core_data, log, types};
        types::add_to_linker::<BatchState, HasSelf<BatchState>>(&mut linker, |s| s)?;
        log::add_to_linker::<BatchState, HasSelf<BatchState>>(&mut linker, |s| s)?;
        core_data::add_to_linker::<BatchState, HasSelf<BatchState>>(&mut linker, |s| s)?;
    }
    let mut mappings = linker.instance(MAPPINGS_V2_INTERFACE)?;
    mappings.func_wrap("resolve", crate::store::resolve)?;
    mappings.func_wrap("publish", crate::store::publish)?;
    let mut app_data = linker.instance(APP_DATA_V2_INTERFACE)?;
    app_data.func_wrap("get", crate::store::get)?;
    app_data.func_wrap("exists", crate::store::exists)?;
    app_data.func_wrap("find", crate::store::find)?;

    // Only the WASI interfaces on the allow-list, so a missing check cannot open a door.
    let l = &mut linker;
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<BatchState, HasIo>(l, |t| {
        t.ctx().table
    })?;
    sync::io::poll::add_to_linker::<BatchState, HasIo>(l, |t| t.ctx().table)?;
    sync::io::streams::add_to_linker::<BatchState, HasIo>(l, |t| t.ctx().table)?;
    clocks::wall_clock::add_to_linker::<BatchState, WasiClocks>(l, BatchState::clocks)?;
    // Never wasmtime-wasi's monotonic clock: its subscriptions really sleep.
    clocks::monotonic_clock::add_to_linker::<BatchState, crate::store::FrozenClock>(
        l,
        BatchState::frozen_clock,
    )?;
    random::random::add_to_linker::<BatchState, WasiRandom>(l, BatchState::random)?;
    random::insecure::add_to_linker::<BatchState, WasiRandom>(l, BatchState::random)?;
    random::insecure_seed::add_to_linker::<BatchState, WasiRandom>(l, BatchState::random)?;
    cli::exit::add_to_linker::<BatchState, WasiCli>(l, BatchState::cli)?;
    cli::environment::add_to_linker::<BatchState, WasiCli>(l, BatchState::cli)?;
    cli::stdin::add_to_linker::<BatchState, WasiCli>(l, BatchState::cli)?;
    cli::stdout::add_to_linker::<BatchState, WasiCli>(l, BatchState::cli)?;
    cli::stderr::add_to_linker::<BatchState, WasiCli>(l, BatchState::cli)?;
    cli::terminal_input::add_to_linker::<BatchState, WasiCli>(l, BatchState::cli)?;
    cli::terminal_output::add_to_linker::<BatchState, WasiCli>(l, BatchState::cli)?;
    cli::terminal_stdin::add_to_linker::<BatchState, WasiCli>(l, BatchState::cli)?;
    cli::terminal_stdout::add_to_linker::<BatchState, WasiCli>(l, BatchState::cli)?;
    cli::terminal_stderr::add_to_linker::<BatchState, WasiCli>(l, BatchState::cli)?;
    // The filesystem and sockets are wasmtime-wasi's own, over a context that grants
    // nothing (see `BatchState::new`): `get-directories` answers no directory, so no
    // descriptor can ever be opened; creating a TCP or UDP socket fails `access-denied`
    // before any OS socket exists; a name lookup fails `permanent-resolver-failure`.
    filesystem::preopens::add_to_linker::<BatchState, WasiFilesystem>(l, BatchState::preopens)?;
    sync::filesystem::types::add_to_linker::<BatchState, WasiFilesystem>(
        l,
        BatchState::filesystem,
    )?;
    sockets::network::add_to_linker::<BatchState, WasiSockets>(
        l,
        &Default::default(),
        BatchState::network,
    )?;
    sockets::instance_network::add_to_linker::<BatchState, WasiSockets>(l, BatchState::network)?;
    sockets::tcp_create_socket::add_to_linker::<BatchState, WasiSockets>(l, BatchState::network)?;
    sockets::ip_name_lookup::add_to_linker::<BatchState, WasiSockets>(l, BatchState::network)?;
    sync::sockets::tcp::add_to_linker::<BatchState, WasiSockets>(l, BatchState::network)?;
    sync::sockets::udp::add_to_linker::<BatchState, WasiSockets>(l, BatchState::network)?;
    sync::sockets::udp_create_socket::add_to_linker::<BatchState, WasiSockets>(
        l,
        BatchState::network,
    )?;
    Ok(linker)
}

struct HasIo;

impl wasmtime::component::HasData for HasIo {
    type Data<'a> = &'a mut wasmtime::component::ResourceTable;
}

use wasmtime_wasi::WasiView as _;

/// Calls `describe` in a throwaway store that can resolve nothing: `Err` if the call
/// failed, `Ok(Err)` if the manifest it returned is invalid.
fn describe(
    engine: &Engine,
    pre: &InstancePre<BatchState>,
    exports: &Exports,
    limits: Limits,
) -> Result<Result<Manifest, String>, String> {
    let nothing = Arc::new(Manifest {
        app_key: airlock_model::AppKey::new("-"),
        name: String::new(),
        version: String::new(),
        tables: vec![],
        namespaces: vec![],
        optional_namespaces: vec![],
        publishes: vec![],
        lookups: vec![],
        scopes: vec![],
        outputs: vec![],
        requested: Default::default(),
        contract: exports.contract,
    });
    let access = Arc::new(Access::new(
        &nothing,
        &Grant::new(nothing.app_key.clone(), String::new()),
    ));
    let mut store = new_store(
        engine,
        BatchStateInit {
            manifest: nothing,
            access,
            mappings: Arc::new(crate::MemoryMappings::new()),
            app_data: Arc::new(crate::MemoryAppData::new()),
            memory_limit: limits.memory_bytes,
            log_limit: limits.log_bytes,
            deadline: Instant::now() + limits.deadline,
            seed: batch_seed(&[b"describe"]),
        },
        &limits,
    )
    .map_err(|e| format!("{e:#}"))?;
    let instance = pre.instantiate(&mut store).map_err(|e| format!("{e:#}"))?;
    let failed =
        |e: wasmtime::Error, store: &Store<BatchState>| classify(e, store, &limits).to_string();
    match exports.contract {
        Contract::V1 => {
            let (manifest,) = instance
                .get_typed_func::<(), (bindings::wit::Manifest,)>(&mut store, &exports.describe)
                .and_then(|f| f.call(&mut store, ()))
                .map_err(|e| failed(e, &store))?;
            Ok(conversions::manifest(manifest))
        }
        Contract::V2 => {
            let (manifest,) = instance
                .get_typed_func::<(), (bindings::v2::wit::Manifest,)>(&mut store, &exports.describe)
                .and_then(|f| f.call(&mut store, ()))
                .map_err(|e| failed(e, &store))?;
            Ok(conversions::manifest_v2(manifest))
        }
    }
}

fn new_store(
    engine: &Engine,
    init: BatchStateInit,
    limits: &Limits,
) -> wasmtime::Result<Store<BatchState>> {
    let mut store = Store::new(engine, BatchState::new(init));
    store.limiter(|s| &mut s.limiter);
    store.set_hostcall_fuel(MAX_HOST_CALL_BYTES as usize);
    store.set_fuel(limits.fuel)?;
    let ticks = limits
        .deadline
        .as_nanos()
        .div_ceil(EPOCH_TICK.as_nanos())
        .max(1) as u64;
    store.set_epoch_deadline(ticks);
    store.epoch_deadline_trap();
    Ok(store)
}

/// Turns whatever stopped a call into a typed cause.
fn classify(error: wasmtime::Error, store: &Store<BatchState>, limits: &Limits) -> Cause {
    if let Some(stop) = error.downcast_ref::<Stop>() {
        return match stop.clone() {
            Stop::Denied(d) => Cause::AccessDenied(d),
            Stop::Memory { limit, requested } => Cause::Memory { limit, requested },
            Stop::LogQuota { limit } => Cause::LogQuota { limit },
            Stop::AppData(e) => Cause::AppData(e),
            Stop::Deadline => Cause::Deadline {
                limit: limits.deadline,
            },
            Stop::HostCallLimit {
                call,
                requested,
                limit,
            } => Cause::HostCallLimit {
                call,
                requested,
                limit,
            },
            Stop::FindRows { limit } => Cause::FindRows { limit },
            Stop::Publish(reason) => Cause::Publish { reason },
        };
    }
    // wasmtime's own cap on what one host call copies out of the plugin (its error type
    // is private: known by its message).
    if format!("{error:#}").contains("fuel allocated for hostcalls") {
        return Cause::HostCallData {
            limit: MAX_HOST_CALL_BYTES,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Cause::OutOfFuel { limit: limits.fuel },
        Some(Trap::Interrupt) => Cause::Deadline {
            limit: limits.deadline,
        },
        Some(Trap::StackOverflow) => Cause::StackOverflow,
        _ if store.data().stdio_full() => Cause::LogQuota {
            limit: limits.log_bytes,
        },
        trap => Cause::Trap {
            trap: trap.map_or_else(|| format!("{error:#}"), |t| t.to_string()),
            stderr: stderr_tail(&store.data().stderr.contents()),
        },
    }
}

/// The end of what a plugin wrote to stderr, for a trap's error: the last
/// [`MAX_TRAP_STDERR_BYTES`] from the first whole line in them, every control character
/// but the line breaks escaped; `None` if it wrote nothing.
fn stderr_tail(stderr: &[u8]) -> Option<String> {
    let start = stderr.len().saturating_sub(MAX_TRAP_STDERR_BYTES);
    let mut tail = &stderr[start..];
    if start > 0
        && let Some(newline) = tail.iter().position(|&b| b == b'\n')
    {
        tail = &tail[newline + 1..];
    }
    let text = String::from_utf8_lossy(tail);
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| conversions::printable(line.to_owned(), MAX_TRAP_STDERR_BYTES))
        .collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    if lines.is_empty() {
        return None;
    }
    if start > 0 {
        lines.insert(
            0,
            format!("… (only the last {MAX_TRAP_STDERR_BYTES} bytes are kept)"),
        );
    }
    Some(lines.join("\n"))
}

/// A loaded plugin: compiled, checked, pre-instantiated. Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    name: String,
    info: PluginInfo,
    manifest: Arc<Manifest>,
    limits: Limits,
    engine: Engine,
    pre: InstancePre<BatchState>,
    exports: Exports,
}

/// Where the migrator's functions sit in the component, found once at load, and which
/// contract version it exports.
struct Exports {
    contract: Contract,
    describe: ComponentExportIndex,
    analyze: ComponentExportIndex,
    migrate: ComponentExportIndex,
    /// `finish` (2.0).
    finish: Option<ComponentExportIndex>,
}

impl Exports {
    fn find(component: &Component) -> Option<Exports> {
        let (contract, interface) = [Contract::V2, Contract::V1].into_iter().find_map(|c| {
            let name = format!("airlock:plugin/migrator@{}", c.version());
            component.get_export_index(None, &name).map(|i| (c, i))
        })?;
        let function = |name| component.get_export_index(Some(&interface), name);
        Some(Exports {
            contract,
            describe: function("describe")?,
            analyze: function("analyze-batch")?,
            migrate: function("migrate-batch")?,
            finish: match contract {
                Contract::V1 => None,
                Contract::V2 => Some(function("finish")?),
            },
        })
    }
}

/// Facts about a plugin's artifact.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PluginInfo {
    pub sha256: String,
    pub size: usize,
    pub imports: Vec<String>,
    #[serde(skip)]
    pub compile_time: Duration,
    pub from_cache: bool,
}

impl Plugin {
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    pub fn info(&self) -> &PluginInfo {
        &self.inner.info
    }

    /// The limits each batch of this plugin runs under.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// Binds the plugin to one tenant's migration, after checking the grant is for this
    /// very component and this app, and that the operator consented to every data scope
    /// the manifest names.
    pub fn session(&self, context: RunContext) -> Result<Session, ConsentError> {
        let grant = &context.grant;
        if grant.plugin_sha256 != self.inner.info.sha256 {
            return Err(ConsentError::NotTheGrantedPlugin {
                plugin: self.inner.name.clone(),
                granted: grant.plugin_sha256.clone(),
                found: self.inner.info.sha256.clone(),
            });
        }
        if grant.app_key != self.inner.manifest.app_key {
            return Err(ConsentError::AppKeyMismatch {
                plugin: self.inner.name.clone(),
                granted: grant.app_key.to_string(),
                declared: self.inner.manifest.app_key.to_string(),
            });
        }
        let missing = context.grant.missing_scopes(&self.inner.manifest);
        if !missing.is_empty() {
            return Err(ConsentError::ScopesMissing {
                plugin: self.inner.name.clone(),
                missing,
            });
        }
        let access = Arc::new(Access::new(&self.inner.manifest, &context.grant));
        Ok(Session {
            plugin: self.clone(),
            context,
            access,
        })
    }
}

/// One tenant's migration as a plugin sees it.
pub struct RunContext {
    pub tenant: TenantId,
    pub migration: MigrationId,
    pub grant: Grant,
    pub mappings: Arc<dyn Mappings>,
    pub app_data: Arc<dyn AppData>,
}

/// A batch of rows from one table.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    pub table: &'a str,
    /// The batch's number within its table, for errors and checkpoints.
    pub index: u64,
    pub columns: &'a [String],
    pub rows: &'a [Vec<Value>],
}

/// What a batch used.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Usage {
    pub fuel: u64,
    pub peak_memory: u64,
    #[serde(serialize_with = "micros")]
    pub instantiate: Duration,
    #[serde(serialize_with = "micros")]
    pub elapsed: Duration,
    pub output_bytes: u64,
    pub host_calls: HostCalls,
    pub logs: Vec<LogLine>,
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_micros() as u64)
}

/// A completed batch.
#[derive(Clone, Debug)]
pub struct Ran<T> {
    pub value: T,
    pub usage: Usage,
    /// Mappings the plugin published (2.0), each new or the same as already recorded: the
    /// caller records them with the migration's mappings before the next batch.
    pub published: Vec<(Namespace, String, String)>,
}

/// The phase a plugin's `finish` closes (2.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunPhase {
    Analyze,
    Migrate,
}

/// What a phase did, as `finish` receives it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RunSummary {
    pub tables: Vec<TableSummary>,
    /// Mappings the plugin published in the phase, by namespace.
    pub published: std::collections::BTreeMap<Namespace, u64>,
}

/// One table's batches in a phase.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TableSummary {
    pub table: String,
    pub rows: u64,
    pub batches: u64,
    pub failed_batches: u64,
}

impl RunSummary {
    /// Counts one batch of `table` (tables are summarized in the order they come).
    pub fn batch<T>(&mut self, table: &str, rows: usize, result: &Result<Ran<T>, Box<BatchError>>) {
        let entry = match self.tables.iter().position(|t| t.table == table) {
            Some(i) => &mut self.tables[i],
            None => {
                self.tables.push(TableSummary {
                    table: table.to_owned(),
                    ..TableSummary::default()
                });
                self.tables.last_mut().expect("just pushed")
            }
        };
        entry.rows += rows as u64;
        entry.batches += 1;
        match result {
            Ok(ran) => {
                for (ns, _, _) in &ran.published {
                    *self.published.entry(*ns).or_default() += 1;
                }
            }
            Err(_) => entry.failed_batches += 1,
        }
    }

    fn to_wit(&self, phase: RunPhase) -> bindings::v2::wit::RunSummary {
        use bindings::v2::wit;
        wit::RunSummary {
            phase: match phase {
                RunPhase::Analyze => wit::Phase::Analyze,
                RunPhase::Migrate => wit::Phase::Migrate,
            },
            tables: (self.tables.iter())
                .map(|t| wit::TableSummary {
                    table: t.table.clone(),
                    rows: t.rows,
                    batches: t.batches,
                    failed_batches: t.failed_batches,
                })
                .collect(),
            published: (self.published.iter())
                .map(|(ns, n)| (ns.as_str().to_owned(), *n))
                .collect(),
        }
    }
}

/// A plugin bound to a tenant's context.
pub struct Session {
    plugin: Plugin,
    context: RunContext,
    access: Arc<Access>,
}

impl Session {
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    pub fn tenant(&self) -> &TenantId {
        &self.context.tenant
    }

    /// Runs `finish` (2.0) in a fresh instance after the last batch of `phase`; `None` for a
    /// 1.0 plugin, which has none. Its findings carry the table `(finish)`.
    pub fn finish(
        &self,
        phase: RunPhase,
        summary: &RunSummary,
    ) -> Option<Result<Ran<Vec<AppFinding>>, Box<BatchError>>> {
        let index = self.plugin.inner.exports.finish?;
        let summary = summary.to_wit(phase);
        let batch = Batch {
            table: FINISH_TABLE,
            index: 0,
            columns: &[],
            rows: &[],
        };
        Some(self.call("finish", batch, |instance, _, store, table, _| {
            let (findings,) = instance
                .get_typed_func::<(&bindings::v2::wit::RunSummary,), (Vec<bindings::wit::Finding>,)>(
                    &mut *store,
                    index,
                )?
                .call(&mut *store, (&summary,))?;
            Ok(Ok(cap_findings(table, findings)))
        }))
    }

    /// Runs `analyze-batch` in a fresh instance.
    pub fn analyze(&self, batch: Batch<'_>) -> Result<Ran<Vec<AppFinding>>, Box<BatchError>> {
        self.call(
            "analyze-batch",
            batch,
            |instance, exports, store, table, rows| {
                let (findings,) = instance
                    .get_typed_func::<(&str, &RowSetRef<'_>), (Vec<bindings::wit::Finding>,)>(
                        &mut *store,
                        &exports.analyze,
                    )?
                    .call(&mut *store, (table, rows))?;
                Ok(Ok(cap_findings(table, findings)))
            },
        )
    }

    /// Runs `migrate-batch` in a fresh instance and checks the outputs against the quota,
    /// the app's own key space and Jira Cloud's limits.
    pub fn migrate(&self, batch: Batch<'_>) -> Result<Ran<Vec<AppOutput>>, Box<BatchError>> {
        let limit = self.plugin.inner.limits.output_bytes;
        let app = &self.context.grant.app_key;
        let declared = &self.plugin.inner.manifest.outputs;
        let ran = self.call(
            "migrate-batch",
            batch,
            |instance, exports, store, table, rows| {
                type Outputs = Result<Vec<bindings::wit::Output>, bindings::wit::PluginError>;
                let (result,) = instance
                    .get_typed_func::<(&str, &RowSetRef<'_>), (Outputs,)>(
                        &mut *store,
                        &exports.migrate,
                    )?
                    .call(&mut *store, (table, rows))?;
                Ok(match result {
                    Ok(outputs) => {
                        let outputs: Vec<AppOutput> =
                            outputs.into_iter().map(conversions::output).collect();
                        check_declared_kinds(declared, &outputs)
                            .and_then(|()| check_outputs(app, &outputs, limit))
                            .map(|()| outputs)
                    }
                    Err(e) => Err(Cause::Plugin {
                        code: conversions::printable(e.code, conversions::MAX_CODE_CHARS),
                        message: conversions::printable(e.message, conversions::MAX_MESSAGE_CHARS),
                        row_id: e.row_id,
                    }),
                })
            },
        )?;
        Ok(ran)
    }

    fn call<T>(
        &self,
        call: &'static str,
        batch: Batch<'_>,
        run: impl FnOnce(
            &Instance,
            &Exports,
            &mut Store<BatchState>,
            &str,
            &RowSetRef<'_>,
        ) -> wasmtime::Result<Result<T, Cause>>,
    ) -> Result<Ran<T>, Box<BatchError>> {
        let inner = &self.plugin.inner;
        // This batch's own fuel: the base plus its rows' allowance (see `Limits::batch_fuel`).
        let limits = Limits {
            fuel: inner.limits.batch_fuel(batch.rows.len()),
            ..inner.limits
        };
        let span = tracing::debug_span!("batch", plugin = %inner.name, tenant = %self.context.tenant, table = batch.table, batch = batch.index, rows = batch.rows.len());
        let _enter = span.enter();
        let fail = |cause: Cause, usage: Usage| {
            Box::new(BatchError {
                plugin: inner.name.clone(),
                call,
                table: batch.table.to_owned(),
                batch: batch.index,
                cause,
                usage,
            })
        };
        // The host never hands a plugin another app's rows.
        // (`finish` reads no batch.)
        if call != "finish"
            && let Err(denied) = self.access.table(batch.table)
        {
            return Err(fail(Cause::AccessDenied(denied), Usage::default()));
        }
        // Rows cross as one row-major list: each must be exactly as wide as the columns.
        if let Some(row) = batch
            .rows
            .iter()
            .position(|r| r.len() != batch.columns.len())
        {
            return Err(fail(Cause::MalformedBatch { row }, Usage::default()));
        }

        let started = Instant::now();
        let seed = batch_seed(&[
            self.context.tenant.as_str().as_bytes(),
            self.context.migration.as_str().as_bytes(),
            call.as_bytes(),
            batch.table.as_bytes(),
            &batch.index.to_le_bytes(),
        ]);
        let mut store = new_store(
            &inner.engine,
            BatchStateInit {
                manifest: inner.manifest.clone(),
                access: self.access.clone(),
                mappings: self.context.mappings.clone(),
                app_data: self.context.app_data.clone(),
                memory_limit: limits.memory_bytes,
                log_limit: limits.log_bytes,
                deadline: started + limits.deadline,
                seed,
            },
            &limits,
        )
        .map_err(|e| {
            fail(
                Cause::Trap {
                    trap: format!("cannot create a store: {e:#}"),
                    stderr: None,
                },
                Usage::default(),
            )
        })?;
        let instance = inner.pre.instantiate(&mut store);
        let instantiate = started.elapsed();
        let rows = conversions::row_set(batch.columns, batch.rows);
        let result = instance
            .and_then(|instance| run(&instance, &inner.exports, &mut store, batch.table, &rows))
            .map(|done| done.and_then(|value| Ok((value, self.published(&mut store)?))));
        let elapsed = started.elapsed();

        let data = store.data();
        let mut usage = Usage {
            fuel: limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0)),
            peak_memory: data.limiter.peak,
            instantiate,
            elapsed,
            output_bytes: 0,
            host_calls: data.calls,
            logs: data.logs.clone(),
        };
        match result {
            Ok(Ok((value, published))) => {
                tracing::debug!(
                    fuel = usage.fuel,
                    elapsed_us = elapsed.as_micros() as u64,
                    "batch done"
                );
                Ok(Ran {
                    value,
                    usage,
                    published,
                })
            }
            Ok(Err(cause)) => {
                if let Cause::OutputQuota { produced, .. } = cause {
                    usage.output_bytes = produced;
                }
                tracing::warn!(code = cause.code(), "batch failed");
                Err(fail(cause, usage))
            }
            Err(error) => {
                let cause = classify(error, &store, &limits);
                tracing::warn!(code = cause.code(), "batch stopped");
                Err(fail(cause, usage))
            }
        }
    }
}

impl Session {
    /// What the batch published, checked against what is already recorded: a server id
    /// mapped before to another cloud id is refused (the first mapping stands).
    fn published(
        &self,
        store: &mut Store<BatchState>,
    ) -> Result<Vec<(Namespace, String, String)>, Cause> {
        let published = store.data_mut().take_published();
        let mut by_namespace: std::collections::BTreeMap<Namespace, Vec<usize>> =
            std::collections::BTreeMap::new();
        for (i, (ns, _, _)) in published.iter().enumerate() {
            by_namespace.entry(*ns).or_default().push(i);
        }
        for (ns, indexes) in by_namespace {
            for chunk in indexes.chunks(crate::MAX_IDS_PER_CALL) {
                let ids: Vec<&str> = chunk.iter().map(|&i| published[i].1.as_str()).collect();
                let known = self.context.mappings.resolve_for_host(ns, &ids);
                for (&i, known) in chunk.iter().zip(known) {
                    if let Some(known) = known
                        && *known != *published[i].2
                    {
                        return Err(Cause::Publish {
                            reason: format!(
                                "server id `{}` of `{ns}` is already mapped to another cloud id; a plugin's mappings must not change between batches or runs",
                                published[i].1
                            ),
                        });
                    }
                }
            }
        }
        Ok(published)
    }
}

/// What `finish`'s findings and errors name as their table.
pub const FINISH_TABLE: &str = "(finish)";

/// Every output must be of a kind the manifest declares: the operator consented to those.
fn check_declared_kinds(declared: &[&'static str], outputs: &[AppOutput]) -> Result<(), Cause> {
    match outputs.iter().position(|o| !declared.contains(&o.kind())) {
        None => Ok(()),
        Some(index) => Err(Cause::InvalidOutput {
            index,
            reason: format!(
                "`{}` is not an output kind the manifest declares (it declares: {}); declare it in the manifest",
                outputs[index].kind(),
                if declared.is_empty() {
                    "none".to_owned()
                } else {
                    declared.join(", ")
                }
            ),
        }),
    }
}

/// What the host checks of a batch's outputs before they go any further, however the
/// plugin ran: the batch's output quota, then the app storage rules (ids and keys that
/// are safe in a REST path, the app's own namespace, Jira Cloud's limits), so a bad key
/// is refused here, before any target sees it.
pub fn check_outputs(app: &AppKey, outputs: &[AppOutput], quota: u64) -> Result<(), Cause> {
    let produced: u64 = outputs.iter().map(|o| o.size() as u64).sum();
    if produced > quota {
        return Err(Cause::OutputQuota {
            limit: quota,
            produced,
        });
    }
    app_storage::check_all(app, outputs).map_err(|refused| match refused {
        app_storage::Refused::AppKey(rule) => Cause::InvalidOutput {
            index: 0,
            reason: format!("the app key {rule}"),
        },
        app_storage::Refused::Output(invalid) => Cause::InvalidOutput {
            index: invalid.index,
            reason: invalid.to_string(),
        },
    })
}

/// Keeps the first [`MAX_FINDINGS_PER_BATCH`] findings and says how many more there were.
fn cap_findings(table: &str, findings: Vec<bindings::wit::Finding>) -> Vec<AppFinding> {
    let total = findings.len();
    let mut kept: Vec<AppFinding> = findings
        .into_iter()
        .take(MAX_FINDINGS_PER_BATCH)
        .map(|f| conversions::finding(table, f))
        .collect();
    if total > MAX_FINDINGS_PER_BATCH {
        kept.push(AppFinding {
            severity: Severity::Warning,
            code: "findings-capped".into(),
            message: format!(
                "the plugin returned {total} findings for this batch; only the first {MAX_FINDINGS_PER_BATCH} are kept"
            ),
            table: table.to_owned(),
            row_id: None,
        });
    }
    kept
}

/// The seed of a batch's randomness: SHA-256 over its tenant, migration, call, table and
/// number. Deterministic (a rerun draws the same), distinct for every batch.
fn batch_seed(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"airlock-batch-seed-v1");
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Advances the engine's epoch so deadlines fire; stops when the engine is dropped.
struct EpochTicker {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("airlock-epoch".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawn the epoch ticker thread");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_checks_interface_and_version() {
        assert!(import_allowed("wasi:io/streams@0.2.6"));
        assert!(import_allowed("airlock:plugin/mappings@1.0.0"));
        assert!(import_allowed("airlock:plugin/mappings@2.0.0"));
        assert!(!import_allowed("airlock:plugin/mappings@3.0.0"));
        // One major version per component: the one its migrator exports.
        assert!(other_major("airlock:plugin/mappings@2.0.0", Contract::V1));
        assert!(!other_major("airlock:plugin/mappings@1.0.0", Contract::V1));
        assert!(other_major("airlock:plugin/log@1.0.0", Contract::V2));
        assert!(!other_major("wasi:io/streams@0.2.6", Contract::V2));
        // Linked deny-all: a plugin importing them loads, and can open nothing.
        assert!(import_allowed("wasi:filesystem/preopens@0.2.6"));
        assert!(import_allowed("wasi:sockets/tcp@0.2.3"));
        assert!(!import_allowed("wasi:filesystem/preopens@0.3.0"));
        assert!(!import_allowed("wasi:http/outgoing-handler@0.2.6"));
        assert!(!import_allowed("wasi:io/streams"));
        assert!(!import_allowed("acme:telemetry/beacon@1.0.0"));
    }

    #[test]
    fn a_traps_stderr_is_its_last_lines_escaped() {
        assert_eq!(stderr_tail(b""), None);
        assert_eq!(stderr_tail(b"\n \n"), None);
        assert_eq!(
            stderr_tail(b"Traceback (most recent call last):\r\n  oops\x1b[2J\n\n").as_deref(),
            Some("Traceback (most recent call last):\n  oops\\u{1b}[2J")
        );
        // 10 KiB of lines: only the last 4 KiB, from a whole line, and it says so.
        let long: Vec<u8> = (0..1000)
            .flat_map(|i| format!("line {i:04}\n").into_bytes())
            .collect();
        let tail = stderr_tail(&long).unwrap();
        let lines: Vec<&str> = tail.lines().collect();
        assert!(
            lines[0].starts_with("… (only the last 4096 bytes"),
            "{}",
            lines[0]
        );
        assert!(lines[1].starts_with("line "), "{}", lines[1]);
        assert_eq!(lines.last(), Some(&"line 0999"));
        assert!(tail.len() <= MAX_TRAP_STDERR_BYTES + 100);
    }

    #[test]
    fn outputs_of_a_kind_the_manifest_does_not_declare_are_refused() {
        let property = AppOutput::AppProperty {
            key: "k".into(),
            value: "1".into(),
        };
        let document = AppOutput::AppDocument {
            collection: "c".into(),
            id: "1".into(),
            body: "{}".into(),
        };
        let outputs = [property, document];
        assert!(check_declared_kinds(&["app-property", "app-document"], &outputs).is_ok());
        match check_declared_kinds(&["app-property"], &outputs) {
            Err(Cause::InvalidOutput { index: 1, reason }) => {
                assert!(
                    reason.contains("`app-document` is not an output kind"),
                    "{reason}"
                );
                assert!(reason.contains("it declares: app-property"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
