//! Paths of the plugin components built from this tree (see `build.rs`), and the
//! Timesheet Builder component's bytes for the demo.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// The Timesheet Builder component, embedded so `airlock demo` runs with no setup.
pub fn timesheet_builder() -> &'static [u8] {
    include_bytes!(env!("AIRLOCK_TIMESHEET_BUILDER_WASM"))
}
