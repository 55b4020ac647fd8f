//! The per-batch store: what one instance may touch and what it has used. A fresh one is
//! made for every batch of every tenant, so no state survives from one to the next.

use crate::bindings::airlock::plugin::{app_data, log, types};
use crate::bindings::wit;
use crate::conversions::value_to_wit;
use crate::data::{AppData, Mappings};
use crate::grant::{Access, Denied};
use crate::manifest::Manifest;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{Resource, ResourceTable, WasmList, WasmStr};
use wasmtime::{AsContext, ResourceLimiter, StoreContextMut};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

/// Why the host stopped a plugin from inside an import or the limiter. Carried through
/// wasmtime's trap as the error's payload, then turned into a [`crate::Cause`].
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Stop {
    #[error("access denied: {0}")]
    Denied(Denied),
    #[error("memory limit of {limit} bytes exceeded")]
    Memory { limit: u64, requested: u64 },
    #[error("log quota of {limit} bytes exceeded")]
    LogQuota { limit: u64 },
    #[error("deadline passed during a host call")]
    Deadline,
    #[error("{0}")]
    AppData(crate::AppDataError),
    #[error("`{call}` was sent {requested} ids; one call may send at most {limit}")]
    HostCallLimit {
        call: &'static str,
        requested: u64,
        limit: u64,
    },
    #[error("`app-data.find` matched more than {limit} rows in one call")]
    FindRows { limit: u64 },
    #[error("{0}")]
    Publish(String),
}

/// The most mappings one batch may publish (over all its `publish` calls).
pub const MAX_PUBLISHED_PER_BATCH: usize = 100_000;

pub use airlock_contract::MAX_IDS_PER_CALL;

/// How many ids a host loop handles between two looks at the clock.
const DEADLINE_CHECK_EVERY: usize = 1024;

/// A log line a plugin wrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    pub level: &'static str,
    pub message: String,
}

/// Host calls one batch made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostCalls {
    pub resolve_calls: u64,
    pub ids_resolved: u64,
    pub row_reads: u64,
    /// Ids checked through `app-data.exists`.
    pub rows_checked: u64,
    pub log_lines: u64,
    /// Calls to `wasi:filesystem/preopens`: none is ever given, and a plugin that looks
    /// is reaching for files (Rust std, componentize-py and componentize-js builds do not
    /// look unless the plugin opens a file).
    pub directory_lookups: u64,
    /// Calls into `wasi:sockets`: every one is refused, and no honest plugin makes one.
    pub network_calls: u64,
    /// Mappings sent through `mappings.publish` (2.0).
    pub published: u64,
    /// `app-data.find` calls and the rows they answered (2.0).
    pub find_calls: u64,
    pub rows_found: u64,
    /// `core-data.rewrite-jql` calls (2.0).
    pub jql_rewrites: u64,
}

pub(crate) struct BatchState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    manifest: Arc<Manifest>,
    access: Arc<Access>,
    mappings: Arc<dyn Mappings>,
    app_data: Arc<dyn AppData>,
    log_limit: u64,
    log_bytes: u64,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) calls: HostCalls,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
    /// When the batch's wall time runs out; checked in every import (the epoch stops
    /// Wasm code, this stops host code).
    deadline: Instant,
    /// What the batch published, in order, and by (namespace, server id) to refuse a
    /// server id published twice with different cloud ids.
    published: Vec<(airlock_model::Namespace, String, String)>,
    published_index: std::collections::HashMap<(airlock_model::Namespace, String), usize>,
}

pub(crate) struct BatchStateInit {
    pub manifest: Arc<Manifest>,
    pub access: Arc<Access>,
    pub mappings: Arc<dyn Mappings>,
    pub app_data: Arc<dyn AppData>,
    pub memory_limit: u64,
    pub log_limit: u64,
    pub deadline: Instant,
    /// Seeds the plugin's randomness: the same batch always draws the same numbers, two
    /// batches (or tenants, or migrations) never do.
    pub seed: [u8; 32],
}

/// Plugins see a fixed time: 2020-01-01T00:00:00Z. Their outputs must not depend on when
/// they run.
const FIXED_WALL_CLOCK: Duration = Duration::from_secs(1_577_836_800);

struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        FIXED_WALL_CLOCK
    }
}

/// `wasi:clocks/monotonic-clock` for plugins: time stands still and every subscription is
/// ready at once, so no plugin can make a host thread wait (a sleep returns at once; a
/// plugin that spins on the clock runs into its fuel or its deadline instead).
pub(crate) struct FrozenClock;

pub(crate) struct FrozenClockView<'a> {
    table: &'a mut ResourceTable,
}

impl wasmtime::component::HasData for FrozenClock {
    type Data<'a> = FrozenClockView<'a>;
}

impl BatchState {
    pub(crate) fn frozen_clock(&mut self) -> FrozenClockView<'_> {
        FrozenClockView {
            table: &mut self.table,
        }
    }
}

/// A pollable that is always ready.
struct Ready;

impl Pollable for Ready {
    fn ready<'a, 'b>(&'a mut self) -> Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(std::future::ready(()))
    }
}

impl monotonic_clock::Host for FrozenClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        Ok(0)
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        Ok(1)
    }

    fn subscribe_instant(
        &mut self,
        _when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let ready = self.table.push(Ready)?;
        subscribe(self.table, ready)
    }

    fn subscribe_duration(
        &mut self,
        _duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let ready = self.table.push(Ready)?;
        subscribe(self.table, ready)
    }
}

impl BatchState {
    pub(crate) fn new(init: BatchStateInit) -> BatchState {
        let stdout = MemoryOutputPipe::new(init.log_limit as usize);
        let stderr = MemoryOutputPipe::new(init.log_limit as usize);
        let seed = init.seed.to_vec();
        let insecure_seed = u128::from_le_bytes(init.seed[..16].try_into().expect("16 bytes"));
        // A context that grants nothing: no preopened directory (so the filesystem has
        // no root to open a path from), no environment, no arguments, no TCP, no UDP, no
        // name lookup, and every socket address refused should any of those be turned
        // on by mistake. We add fixed clocks, seeded randomness and captured output.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FixedWallClock)
            .secure_random(wasmtime_wasi::Deterministic::new(seed.clone()))
            .insecure_random(wasmtime_wasi::Deterministic::new(seed))
            .insecure_random_seed(insecure_seed)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(std::future::ready(false)))
            .build();
        BatchState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                limit: init.memory_limit,
                total: 0,
                peak: 0,
            },
            manifest: init.manifest,
            access: init.access,
            mappings: init.mappings,
            app_data: init.app_data,
            log_limit: init.log_limit,
            log_bytes: 0,
            logs: Vec::new(),
            calls: HostCalls::default(),
            stdout,
            stderr,
            deadline: init.deadline,
            published: Vec::new(),
            published_index: std::collections::HashMap::new(),
        }
    }

    /// The batch's published mappings, taken out once it has returned.
    pub(crate) fn take_published(&mut self) -> Vec<(airlock_model::Namespace, String, String)> {
        self.published_index.clear();
        std::mem::take(&mut self.published)
    }

    /// Stops the plugin if its wall time has run out, wherever it is.
    fn check_deadline(&self) -> wasmtime::Result<()> {
        if Instant::now() >= self.deadline {
            return Err(wasmtime::Error::new(Stop::Deadline));
        }
        Ok(())
    }

    /// `wasi:filesystem/preopens`, counted (the sandbox's review reports it).
    pub(crate) fn preopens(&mut self) -> wasmtime_wasi::filesystem::WasiFilesystemCtxView<'_> {
        self.calls.directory_lookups += 1;
        wasmtime_wasi::filesystem::WasiFilesystemView::filesystem(self)
    }

    /// `wasi:sockets`, counted: an attempt to reach the network, refused.
    pub(crate) fn network(&mut self) -> wasmtime_wasi::sockets::WasiSocketsCtxView<'_> {
        self.calls.network_calls += 1;
        wasmtime_wasi::sockets::WasiSocketsView::sockets(self)
    }

    pub(crate) fn random(&mut self) -> &mut wasmtime_wasi::random::WasiRandomCtx {
        self.wasi.random()
    }

    /// True if the captured stdout/stderr filled up: a plugin printing without bound.
    pub(crate) fn stdio_full(&self) -> bool {
        let limit = self.log_limit as usize;
        self.stdout.contents().len() >= limit || self.stderr.contents().len() >= limit
    }
}

impl WasiView for BatchState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory across all of an instance's memories (a component may define
/// several) and records the peak.
pub(crate) struct Limiter {
    limit: u64,
    /// Bytes of all memories together.
    total: u64,
    pub(crate) peak: u64,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .total
            .saturating_add((desired as u64).saturating_sub(current as u64));
        if total > self.limit {
            return Err(wasmtime::Error::new(Stop::Memory {
                limit: self.limit,
                requested: total,
            }));
        }
        self.total = total;
        self.peak = self.peak.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Function tables of honest plugins hold hundreds of entries.
        Ok(desired <= 100_000)
    }
}

impl types::Host for BatchState {}

/// `mappings.resolve(namespace, ids)`: the grant is checked first, then the ids are
/// looked up as they lie in the plugin's memory.
pub(crate) fn resolve(
    mut store: StoreContextMut<'_, BatchState>,
    (namespace, ids): (WasmStr, WasmList<WasmStr>),
) -> wasmtime::Result<(Vec<Option<Arc<str>>>,)> {
    store.data().check_deadline()?;
    // Refused by its length, before one id is read.
    check_id_count("mappings.resolve", ids.len())?;
    let granted = {
        let name = namespace.to_str(&store)?;
        let state = store.data();
        state
            .access
            .namespace(&state.manifest, &name)
            .map_err(|d| wasmtime::Error::new(Stop::Denied(d)))?
    };
    let answers = match granted {
        // An optional namespace the operator withheld: nothing resolves.
        None => vec![None; ids.len()],
        Some(ns) => {
            let ids: Vec<WasmStr> = ids.iter(&mut store)?.collect::<wasmtime::Result<_>>()?;
            let store = store.as_context();
            let state = store.data();
            let mut answers = Vec::with_capacity(ids.len());
            let mut chunk = Vec::with_capacity(ids.len().min(DEADLINE_CHECK_EVERY));
            for ids in ids.chunks(DEADLINE_CHECK_EVERY) {
                state.check_deadline()?;
                chunk.clear();
                for id in ids {
                    chunk.push(id.to_str(&store)?);
                }
                let refs: Vec<&str> = chunk.iter().map(|id| id.as_ref()).collect();
                answers.extend(state.mappings.resolve(ns, &refs));
            }
            answers
        }
    };
    let calls = &mut store.data_mut().calls;
    calls.resolve_calls += 1;
    calls.ids_resolved += answers.len() as u64;
    Ok((answers,))
}

/// `mappings.publish(namespace, pairs)` (2.0): the plugin's own namespace only; ids
/// checked; kept in the batch's state until it returns (a failed batch publishes nothing).
pub(crate) fn publish(
    mut store: StoreContextMut<'_, BatchState>,
    (namespace, pairs): (WasmStr, WasmList<(WasmStr, WasmStr)>),
) -> wasmtime::Result<()> {
    store.data().check_deadline()?;
    check_id_count("mappings.publish", pairs.len())?;
    let ns = {
        let name = namespace.to_str(&store)?;
        store
            .data()
            .access
            .publish(&name)
            .map_err(|d| wasmtime::Error::new(Stop::Denied(d)))?
    };
    let already = store.data().published.len();
    if already + pairs.len() > MAX_PUBLISHED_PER_BATCH {
        return Err(wasmtime::Error::new(Stop::HostCallLimit {
            call: "mappings.publish (per batch)",
            requested: (already + pairs.len()) as u64,
            limit: MAX_PUBLISHED_PER_BATCH as u64,
        }));
    }
    let pairs: Vec<(WasmStr, WasmStr)> =
        pairs.iter(&mut store)?.collect::<wasmtime::Result<_>>()?;
    let mut checked = Vec::with_capacity(pairs.len());
    {
        let view = store.as_context();
        for (i, (server, cloud)) in pairs.iter().enumerate() {
            if i % DEADLINE_CHECK_EVERY == 0 {
                view.data().check_deadline()?;
            }
            let (server, cloud) = (server.to_str(&view)?, cloud.to_str(&view)?);
            for (what, id) in [("server", &server), ("cloud", &cloud)] {
                if let Some(reason) = published_id_problem(id) {
                    return Err(wasmtime::Error::new(Stop::Publish(format!(
                        "pair #{i}: the {what} id {reason}"
                    ))));
                }
            }
            checked.push((server.into_owned(), cloud.into_owned()));
        }
    }
    let state = store.data_mut();
    for (server, cloud) in checked {
        match state.published_index.get(&(ns, server.clone())) {
            Some(&at) if state.published[at].2 != cloud => {
                return Err(wasmtime::Error::new(Stop::Publish(format!(
                    "server id `{server}` of `{ns}` was published twice in this batch with different cloud ids"
                ))));
            }
            Some(_) => {}
            None => {
                state
                    .published_index
                    .insert((ns, server.clone()), state.published.len());
                state.published.push((ns, server, cloud));
            }
        }
        state.calls.published += 1;
    }
    Ok(())
}

/// Why a published id is refused, if it is: ids are short printable tokens.
fn published_id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        Some("is empty".into())
    } else if id.chars().count() > airlock_contract::MAX_PUBLISHED_ID {
        Some(format!(
            "is longer than {} characters",
            airlock_contract::MAX_PUBLISHED_ID
        ))
    } else if id.chars().any(char::is_control) {
        Some("holds control characters".into())
    } else {
        None
    }
}

/// A row set the host answers `app-data.find` with, lowered from its own values.
#[derive(wasmtime::component::ComponentType, wasmtime::component::Lower)]
#[component(record)]
pub(crate) struct FoundRows {
    columns: Vec<String>,
    values: Vec<airlock_model::Value>,
}

/// `app-data.find(table, column, values)` (2.0): a declared lookup, at most
/// [`MAX_IDS_PER_CALL`] values and [`airlock_contract::MAX_FIND_ROWS`] rows answered.
pub(crate) fn find(
    mut store: StoreContextMut<'_, BatchState>,
    (table, column, values): (String, String, Vec<wit::Value>),
) -> wasmtime::Result<(FoundRows,)> {
    let state = store.data_mut();
    state.check_deadline()?;
    check_id_count("app-data.find", values.len())?;
    state
        .access
        .lookup(&table, &column)
        .map_err(|d| wasmtime::Error::new(Stop::Denied(d)))?;
    let values: Vec<airlock_model::Value> = values
        .into_iter()
        .map(crate::conversions::value_from_wit)
        .collect();
    let limit = airlock_contract::MAX_FIND_ROWS;
    let found = state
        .app_data
        .find(&table, &column, &values, limit + 1)
        .map_err(|e| wasmtime::Error::new(Stop::AppData(e)))?;
    state.check_deadline()?;
    let (columns, rows) = found.unwrap_or_default();
    if rows.len() > limit {
        return Err(wasmtime::Error::new(Stop::FindRows {
            limit: limit as u64,
        }));
    }
    state.calls.find_calls += 1;
    state.calls.rows_found += rows.len() as u64;
    Ok((FoundRows {
        columns: columns.to_vec(),
        values: rows.into_iter().flatten().collect(),
    },))
}

/// `app-data.get(table, id)`, linked by hand beside [`exists`].
pub(crate) fn get(
    mut store: StoreContextMut<'_, BatchState>,
    (table, id): (String, i64),
) -> wasmtime::Result<(Option<app_data::TableRow>,)> {
    let state = store.data_mut();
    state.check_deadline()?;
    state.check_table(&table)?;
    state.calls.row_reads += 1;
    let row = state
        .app_data
        .get(&table, id)
        .map_err(|e| wasmtime::Error::new(Stop::AppData(e)))?
        .map(|(columns, values)| app_data::TableRow {
            columns: columns.to_vec(),
            values: values.iter().map(value_to_wit).collect::<Vec<wit::Value>>(),
        });
    Ok((row,))
}

/// `app-data.exists(table, ids)`, linked by hand: the ids' count is checked before one
/// is copied (bindgen would copy them all first), then they are read in place.
pub(crate) fn exists(
    mut store: StoreContextMut<'_, BatchState>,
    (table, ids): (WasmStr, WasmList<i64>),
) -> wasmtime::Result<(Vec<bool>,)> {
    store.data().check_deadline()?;
    check_id_count("app-data.exists", ids.len())?;
    let answers = {
        let store = store.as_context();
        let state = store.data();
        let table = table.to_str(&store)?;
        state.check_table(&table)?;
        state.look_up(&table, ids.as_le_slice(&store))?
    };
    store.data_mut().calls.rows_checked += answers.len() as u64;
    Ok((answers,))
}

fn check_id_count(call: &'static str, ids: usize) -> wasmtime::Result<()> {
    if ids > MAX_IDS_PER_CALL {
        return Err(wasmtime::Error::new(Stop::HostCallLimit {
            call,
            requested: ids as u64,
            limit: MAX_IDS_PER_CALL as u64,
        }));
    }
    Ok(())
}

impl BatchState {
    /// Whether each id (little-endian, as it lies in Wasm memory) exists, looking at the
    /// clock every [`DEADLINE_CHECK_EVERY`] ids.
    fn look_up(&self, table: &str, ids: &[i64]) -> wasmtime::Result<Vec<bool>> {
        let mut answers = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(DEADLINE_CHECK_EVERY) {
            self.check_deadline()?;
            for id in chunk {
                let found = self
                    .app_data
                    .exists(table, i64::from_le(*id))
                    .map_err(|e| wasmtime::Error::new(Stop::AppData(e)))?;
                answers.push(found);
            }
        }
        Ok(answers)
    }

    fn check_table(&self, table: &str) -> wasmtime::Result<()> {
        self.access
            .table(table)
            .map_err(|d| wasmtime::Error::new(Stop::Denied(d)))
    }
}

impl crate::bindings::v2::airlock::plugin::types::Host for BatchState {}

/// 2.0's `core-data`.
impl crate::bindings::v2::airlock::plugin::core_data::Host for BatchState {
    /// A JQL query's ids through the migration's mappings, in the namespaces this plugin
    /// may resolve only (others are listed, not looked up).
    fn rewrite_jql(
        &mut self,
        query: String,
    ) -> wasmtime::Result<
        Result<crate::bindings::v2::airlock::plugin::core_data::RewrittenJql, String>,
    > {
        use crate::bindings::v2::airlock::plugin::core_data::{RewrittenJql, UnresolvedId};
        self.check_deadline()?;
        self.calls.jql_rewrites += 1;
        let (access, mappings, deadline) = (&self.access, &self.mappings, self.deadline);
        let mut looked_up = 0u64;
        // Past the deadline nothing more is looked up, and the check after the walk stops
        // the plugin (a long query cannot hold the host past the batch's time).
        let mut resolve = |ns: airlock_model::Namespace, id: &str| {
            if !access.may_resolve(ns) || Instant::now() >= deadline {
                return None;
            }
            looked_up += 1;
            mappings
                .resolve(ns, &[id])
                .pop()
                .flatten()
                .map(|c| c.to_string())
        };
        let rewritten = match airlock_jql::rewrite(&query, &mut resolve) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e.to_string())),
        };
        self.check_deadline()?;
        // Only the ids looked up: a namespace not granted is not asked.
        self.calls.ids_resolved += looked_up;
        Ok(Ok(RewrittenJql {
            query: rewritten.query,
            rewritten: rewritten.rewritten as u32,
            unresolved: (rewritten.unresolved.into_iter())
                .map(|u| UnresolvedId {
                    granted: self.access.may_resolve(u.namespace),
                    field: u.field,
                    namespace: u.namespace.to_string(),
                    id: u.id,
                })
                .collect(),
        }))
    }
}

/// 2.0's `log`: the same as 1.0's.
impl crate::bindings::v2::airlock::plugin::log::Host for BatchState {
    fn write(
        &mut self,
        level: crate::bindings::v2::airlock::plugin::log::Level,
        message: String,
    ) -> wasmtime::Result<()> {
        use crate::bindings::v2::airlock::plugin::log::Level as L;
        let level = match level {
            L::Trace => log::Level::Trace,
            L::Debug => log::Level::Debug,
            L::Info => log::Level::Info,
            L::Warn => log::Level::Warn,
            L::Error => log::Level::Error,
        };
        log::Host::write(self, level, message)
    }
}

impl log::Host for BatchState {
    fn write(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        self.check_deadline()?;
        self.log_bytes += message.len() as u64;
        if self.log_bytes > self.log_limit {
            return Err(wasmtime::Error::new(Stop::LogQuota {
                limit: self.log_limit,
            }));
        }
        self.calls.log_lines += 1;
        let level = match level {
            log::Level::Trace => "trace",
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        let message = crate::conversions::printable(message, crate::conversions::MAX_MESSAGE_CHARS);
        self.logs.push(LogLine { level, message });
        Ok(())
    }
}
