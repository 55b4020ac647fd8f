//! Airlock's domain types, shared by every host crate.
//!
//! Architecture invariant: this crate does no I/O and knows nothing of WebAssembly, XML,
//! databases or HTTP. It names things and states their rules.

mod app;
pub mod app_storage;
pub mod jira;
mod output;
mod tenant;
mod value;

pub use app::{AoPrefix, AppKey};
pub use output::{AppFinding, AppOutput, EntityKind};
pub use tenant::{MigrationId, Region, TenantId, UnknownRegion};
pub use value::Severity;

/// The vocabulary shared with plugins.
pub use airlock_contract::{DataScope, Namespace, UnknownNamespace, UnknownScope, Value};
