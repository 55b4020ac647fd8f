//! # airlock-contract: what host and plugins must agree on
//!
//! The host (`airlock-model` and up) and the guest SDK (`airlock-sdk`) are separate
//! products; this crate is the vocabulary both speak, so they cannot drift apart: typed
//! cell values, Atlassian's data scope names, the mapping namespaces and the rules that
//! admit them, the rule that derives an app's Active Objects table prefix from its key,
//! and how Jira's date-time text reads ([`dates`]).
//!
//! Architecture invariant: no I/O and no dependencies beyond MD5; it builds for the host
//! and for `wasm32-wasip2` alike.

pub mod dates;
mod namespace;
mod prefix;
mod scope;
mod value;

pub use namespace::{
    APP_NAMESPACE_PREFIX, InvalidAppNamespace, MAX_APP_ENTITY, MAX_APP_NAMESPACES, Namespace,
    UndeclaredNamespace, UnknownNamespace,
};
pub use prefix::{ao_prefix, ao_table};
pub use scope::{DataScope, UnknownScope};
pub use value::Value;

/// The most ids one `mappings.resolve` or `app-data.exists` call may carry. The host
/// refuses a bigger call (so one call cannot hold it past a batch's deadline); the SDK
/// splits bigger lookups into calls of this size.
pub const MAX_IDS_PER_CALL: usize = 65_536;

/// The most rows one `app-data.find` call may answer (contract 2.0); a call that would
/// answer more stops the plugin, which should send fewer values per call.
pub const MAX_FIND_ROWS: usize = 10_000;

/// The longest server or cloud id `mappings.publish` accepts (contract 2.0).
pub const MAX_PUBLISHED_ID: usize = 255;
