//! # airlock-sdk: write an app data migrator for Airlock
//!
//! Airlock moves a Jira Data Center site to Jira Cloud. Your app's data lives in its Active
//! Objects tables; your migrator turns those rows into cloud outputs (entity properties, app
//! properties, app documents). It runs inside Airlock as a sandboxed WebAssembly component:
//! it sees only your app's tables and the id mappings the operator granted, under fuel,
//! time and memory limits.
//!
//! You implement one trait, [`Migrator`], and export it with one macro,
//! [`export_migrator!`]. The same crate builds natively, so you unit-test the transformation
//! with plain `cargo test` against [`testing::TestHost`].
//!
//! ```
//! use airlock_sdk::{json, namespaces, Ctx, Finding, Manifest, Migrator, Output, PluginError, Rows};
//!
//! pub struct Notes;
//!
//! const APP_KEY: &str = "com.example.notes";
//!
//! impl Migrator for Notes {
//!     fn manifest() -> Manifest {
//!         Manifest::new(APP_KEY, "Notes", "1.0.0")
//!             .table("NOTE")
//!             .namespace(namespaces::USER)
//!             .scope(airlock_sdk::DataScope::AppDataUgc)
//!             .output(airlock_sdk::OutputKind::AppDocument)
//!     }
//!
//!     fn analyze(ctx: &Ctx, _table: &str, rows: &Rows) -> Vec<Finding> {
//!         let users = ctx.resolve(namespaces::USER, rows.iter().filter_map(|r| r.opt_str("AUTHOR").ok().flatten()));
//!         rows.iter()
//!             .filter(|r| r.opt_str("AUTHOR").ok().flatten().is_some_and(|a| users.get(a).is_none()))
//!             .map(|r| Finding::fatal("unknown-user", "the note's author was not migrated").row(r.id().ok()))
//!             .collect()
//!     }
//!
//!     fn migrate(ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
//!         let users = ctx.resolve(namespaces::USER, rows.iter().filter_map(|r| r.opt_str("AUTHOR").ok().flatten()));
//!         rows.iter()
//!             .map(|row| {
//!                 let id = row.id()?;
//!                 let author = users.require(row.str("AUTHOR")?, id)?;
//!                 Ok(Output::app_document("notes", id, json!({ "text": row.str("TEXT")?, "author": author })))
//!             })
//!             .collect()
//!     }
//! }
//!
//! airlock_sdk::export_migrator!(Notes);
//!
//! // A native unit test, as a vendor would write it:
//! use airlock_sdk::testing::TestHost;
//! let host = TestHost::new().map(namespaces::USER, "JIRAUSER10000", "5b10a2844c20165700ede21g");
//! let table = airlock_sdk::ao_table(APP_KEY, "NOTE");
//! let rows = Rows::new(["ID", "TEXT", "AUTHOR"]).row([1.into(), "hello".into(), "JIRAUSER10000".into()]);
//! let outputs = host.migrate::<Notes>(&table, &rows).unwrap();
//! assert_eq!(outputs.len(), 1);
//! ```
//!
//! ## What the host enforces
//!
//! - Tables: only those whose name carries your app's Active Objects prefix (derived from
//!   the app key, see [`ao_prefix`]) and that your manifest lists.
//! - Namespaces: only known ones (the table in [`namespaces`], each a constant there) in
//!   the manifest, else the plugin is refused at load; only those your manifest lists and
//!   the operator granted in a `resolve`, else the batch stops with an access error.
//!   [`testing::TestHost`] applies both rules, so a misspelled namespace fails `cargo test`.
//! - Limits per batch: fuel, wall-clock time, memory, stack depth, output size and log
//!   volume. `airlock plugin run` prints what each batch used.
//! - Determinism: the clock is fixed and randomness seeded; the same rows and mappings must
//!   give the same outputs.
//!
//! ## Real tables
//!
//! An app's tables differ across its versions (and Jira's): a column added later is
//! absent from older backups. [`Row::has`] tells an absent column from a null one; mark a
//! column that may be absent with [`Manifest::optional_column`] and its `opt_*` accessors
//! read it as `None` where it is absent (any other absent column is an error naming the
//! column and its table). [`Row::timestamp`] reads dates as Jira stores them: timestamp
//! columns, BIGINT milliseconds since 1970 (Jira Software) and ISO 8601 text.
//!
//! ## Getting the SDK
//!
//! `airlock plugin new NAME --app-key KEY` writes a plugin crate with this SDK (and the
//! `airlock-contract` crate it depends on) vendored under `vendor/`, as `cargo package`
//! made them: the crate builds anywhere, and the WIT files travel inside this crate
//! (`wit/`).

mod ctx;
mod fast;
mod manifest;
pub mod namespaces;
mod output;
mod rows;
pub mod testing;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod guest;

pub use airlock_contract::MAX_IDS_PER_CALL;
pub use ctx::{Ctx, Host, Level, Namespace, Resolved};
pub use fast::{FastMap, FastSet, FxHasher};
pub use manifest::{DataScope, Limits, Manifest, OutputKind, ao_prefix, ao_table};
pub use output::{EntityKind, Finding, Output, PluginError, Severity};
pub use rows::{Row, RowError, Rows, Value};

/// `serde_json`, re-exported so plugins build JSON outputs without another dependency.
pub use serde_json::{self, json};

/// What a plugin implements. The host calls these once per batch, each time in a fresh
/// instance: keep no state between calls (statics do not survive a batch).
pub trait Migrator {
    /// The manifest: app key, tables, namespaces, scopes, outputs, limits.
    fn manifest() -> Manifest;

    /// Checks a batch of one table's rows and reports problems. The default finds none.
    fn analyze(ctx: &Ctx, table: &str, rows: &Rows) -> Vec<Finding> {
        let _ = (ctx, table, rows);
        Vec::new()
    }

    /// Turns a batch of one table's rows into cloud outputs. Must be deterministic.
    fn migrate(ctx: &Ctx, table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError>;
}

/// Exports a [`Migrator`] as the plugin component's `airlock:plugin/migrator` interface.
///
/// Use it once, at the root of a `cdylib` crate. In a native build it expands to nothing,
/// so the same crate links into native tests and benchmarks.
#[macro_export]
macro_rules! export_migrator {
    ($migrator:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct AirlockExport;
            impl $crate::guest::Guest for AirlockExport {
                fn describe() -> $crate::guest::WitManifest {
                    $crate::guest::describe::<$migrator>()
                }
                fn analyze_batch(
                    table: ::std::string::String,
                    rows: $crate::guest::WitRowSet,
                ) -> ::std::vec::Vec<$crate::guest::WitFinding> {
                    $crate::guest::analyze_batch::<$migrator>(table, rows)
                }
                fn migrate_batch(
                    table: ::std::string::String,
                    rows: $crate::guest::WitRowSet,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::guest::WitOutput>,
                    $crate::guest::WitPluginError,
                > {
                    $crate::guest::migrate_batch::<$migrator>(table, rows)
                }
            }
            $crate::guest::bindings::__export_airlock_plugin! {
                AirlockExport with_types_in $crate::guest::bindings
            }
        };
    };
}
