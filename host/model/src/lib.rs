//! Airlock's domain types, shared by every host crate.
//!
//! Architecture invariant: this crate does no I/O and knows nothing of WebAssembly, XML,
//! databases or HTTP. It names things and states their rules.

mod app;
mod namespace;
mod output;
mod scope;
mod tenant;
mod value;

pub use app::{AoPrefix, AppKey};
pub use namespace::{Namespace, UnknownNamespace};
pub use output::{AppFinding, AppOutput, EntityKind};
pub use scope::{DataScope, UnknownScope};
pub use tenant::TenantId;
pub use value::{Severity, Value};
