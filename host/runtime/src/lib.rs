//! # airlock-runtime: the sandbox app data migrators run in
//!
//! Plugins are WebAssembly components targeting `airlock:plugin@1.0.0` (`wit/`) or
//! `@2.0.0` (`wit/v2/`), served side by side. The
//! runtime compiles each once (cached by content hash and engine compatibility),
//! pre-instantiates it, and runs every batch of every tenant in a fresh store and instance
//! under fuel, an epoch deadline, a memory cap, a stack limit, an output quota and a log
//! quota. Imports are checked against an allow-list at load (every refused one named; the
//! filesystem and sockets are allowed but linked deny-all); every import call is checked
//! against the operator's grant intersected with the manifest, and tables against the
//! Active Objects prefix derived from the app key.
//!
//! Architecture invariant: a failing plugin yields a typed [`BatchError`] naming plugin,
//! table, batch and cause; it never panics the host or poisons the runtime.
//! Architecture invariant: this crate logs ids, counts and codes only, never row content.

pub mod approval;
mod bindings;
mod cache;
mod conversions;
mod data;
mod error;
mod grant;
mod limits;
mod manifest;
mod run;
mod store;

pub use cache::CacheError;
pub use data::{
    AppData, AppDataError, AppRow, FoundRows, GrowingMappings, Mappings, MemoryAppData,
    MemoryMappings,
};
pub use error::{BatchError, Cause, ConsentError, LoadError, RuntimeError};
pub use grant::{Denied, Grant, check_identity};
pub use limits::{Ceilings, EPOCH_TICK, Limits, MAX_WASM_STACK};
pub use manifest::{Contract, Manifest, RequestedLimits};
pub use run::{
    ALLOWED_IMPORTS, Batch, FINISH_TABLE, MAX_CORE_INSTANCES_PER_COMPONENT, MAX_FINDINGS_PER_BATCH,
    MAX_HOST_CALL_BYTES, MAX_MEMORIES_PER_COMPONENT, MAX_TABLES_PER_COMPONENT,
    MAX_TRAP_STDERR_BYTES, Plugin, PluginInfo, Ran, RunContext, RunPhase, RunSummary, Runtime,
    RuntimeConfig, Session, TableSummary, Usage, check_outputs,
};
pub use store::{HostCalls, LogLine, MAX_IDS_PER_CALL, MAX_PUBLISHED_PER_BATCH};
