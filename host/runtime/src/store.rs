//! The per-batch store: what one instance may touch and what it has used. A fresh one is
//! made for every batch of every tenant, so no state survives from one to the next.

use crate::bindings::airlock::plugin::{app_data, log, types};
use crate::bindings::wit;
use crate::conversions::value_to_wit;
use crate::data::{AppData, Mappings};
use crate::grant::{Access, Denied};
use crate::manifest::Manifest;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime::component::{WasmList, WasmStr};
use wasmtime::{AsContext, ResourceLimiter, StoreContextMut};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

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
}

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
}

pub(crate) struct BatchStateInit {
    pub manifest: Arc<Manifest>,
    pub access: Arc<Access>,
    pub mappings: Arc<dyn Mappings>,
    pub app_data: Arc<dyn AppData>,
    pub memory_limit: u64,
    pub log_limit: u64,
}

/// Plugins see a fixed time: 2020-01-01T00:00:00Z. Their outputs must not depend on when
/// they run.
const FIXED_WALL_CLOCK: Duration = Duration::from_secs(1_577_836_800);
const RANDOM_SEED: u128 = 0x00a1_e0c4_5eed;

struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        FIXED_WALL_CLOCK
    }
}

struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

impl BatchState {
    pub(crate) fn new(init: BatchStateInit) -> BatchState {
        let stdout = MemoryOutputPipe::new(init.log_limit as usize);
        let stderr = MemoryOutputPipe::new(init.log_limit as usize);
        let seed = RANDOM_SEED.to_le_bytes().to_vec();
        // The builder starts with no preopens, no environment, no arguments and sockets
        // denied; we add fixed clocks, seeded randomness and captured output.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FixedWallClock)
            .monotonic_clock(FrozenMonotonicClock)
            .secure_random(wasmtime_wasi::Deterministic::new(seed.clone()))
            .insecure_random(wasmtime_wasi::Deterministic::new(seed))
            .insecure_random_seed(RANDOM_SEED)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        BatchState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                limit: init.memory_limit,
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
        }
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

/// Caps linear memory and records the peak.
pub(crate) struct Limiter {
    limit: u64,
    pub(crate) peak: u64,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.limit {
            return Err(wasmtime::Error::new(Stop::Memory {
                limit: self.limit,
                requested: desired,
            }));
        }
        self.peak = self.peak.max(desired);
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
    let ids: Vec<WasmStr> = ids.iter(&mut store)?.collect::<wasmtime::Result<_>>()?;
    let answers = {
        let store = store.as_context();
        let state = store.data();
        let namespace = namespace.to_str(&store)?;
        let ns = state
            .access
            .namespace(&state.manifest, &namespace)
            .map_err(|d| wasmtime::Error::new(Stop::Denied(d)))?;
        let ids = ids
            .iter()
            .map(|id| id.to_str(&store))
            .collect::<wasmtime::Result<Vec<_>>>()?;
        let ids: Vec<&str> = ids.iter().map(|id| id.as_ref()).collect();
        state.mappings.resolve(ns, &ids)
    };
    let calls = &mut store.data_mut().calls;
    calls.resolve_calls += 1;
    calls.ids_resolved += answers.len() as u64;
    Ok((answers,))
}

impl app_data::Host for BatchState {
    fn get(&mut self, table: String, id: i64) -> wasmtime::Result<Option<app_data::TableRow>> {
        self.check_table(&table)?;
        self.calls.row_reads += 1;
        Ok(self
            .app_data
            .get(&table, id)
            .map(|(columns, values)| app_data::TableRow {
                columns: columns.to_vec(),
                values: values.iter().map(value_to_wit).collect::<Vec<wit::Value>>(),
            }))
    }

    fn exists(&mut self, table: String, ids: Vec<i64>) -> wasmtime::Result<Vec<bool>> {
        self.check_table(&table)?;
        self.calls.rows_checked += ids.len() as u64;
        Ok(ids
            .iter()
            .map(|id| self.app_data.exists(&table, *id))
            .collect())
    }
}

impl BatchState {
    fn check_table(&self, table: &str) -> wasmtime::Result<()> {
        self.access
            .table(table)
            .map_err(|d| wasmtime::Error::new(Stop::Denied(d)))
    }
}

impl log::Host for BatchState {
    fn write(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
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
        self.logs.push(LogLine { level, message });
        Ok(())
    }
}
