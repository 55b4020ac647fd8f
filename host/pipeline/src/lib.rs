//! The migration as a library, shared by the `airlock` binary, the demo, the benchmarks
//! and the tests (and the server to come):
//!
//! ```text
//! Migration::open(config, apps, observer)
//!   → check → analyze → load → apps → verify → finish      (or `run(.., Until::Migrate)`)
//! ```
//!
//! Each phase emits [`Event`]s to the caller's [`Observer`] and seals its report into the
//! migration's [`Storage`]; nothing here prints or reads the environment. Also here: the
//! vendor's local run of a plugin over a fixture ([`app_stage`]) and the private
//! directories every migration writes into ([`private`]).

pub mod app_stage;
mod apps;
pub mod config;
mod error;
pub mod events;
pub mod html;
mod migration;
pub mod private;
pub mod report;
pub mod storage;

pub use apps::{EnabledApp, GrantError, Review, check_identities, run_order};
pub use config::{Config, TargetConfig};
pub use error::{PipelineError, Result};
pub use events::{Blocked, Event, Observer, Phase, Quiet};
pub use migration::{Migration, Outcome, Until, run};
pub use report::{AppBatchResult, AppReport, FinishFinding, VerifyRow};
pub use storage::{Storage, StorageOptions};
