//! Paths of the plugin components built from this tree (see `build.rs`), the
//! Timesheet Builder component's bytes for the demo, and the SDK as `cargo package` made
//! it, for `airlock plugin new`.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// The Python example plugin's component (`plugins/python-example`). Panics, saying to run
/// `cargo xtask test`, when componentize-py was not installed when this crate was built.
pub fn python_example() -> &'static str {
    PYTHON_EXAMPLE_BUILT.unwrap_or_else(|why| panic!("{why}"))
}

/// The JavaScript example plugin's component (`plugins/js-example`). Panics, saying to
/// run `cargo xtask test`, when componentize-js was not installed when this crate was built.
pub fn js_example() -> &'static str {
    JS_EXAMPLE_BUILT.unwrap_or_else(|why| panic!("{why}"))
}

/// The Timesheet Builder component, embedded so `airlock demo` runs with no setup.
pub fn timesheet_builder() -> &'static [u8] {
    include_bytes!(env!("AIRLOCK_TIMESHEET_BUILDER_WASM"))
}

/// `airlock-contract` and `airlock-sdk` as `cargo package` made them from this tree:
/// (file name, `.crate` archive), the contract first (the SDK depends on it).
pub fn sdk_crates() -> [(&'static str, &'static [u8]); 2] {
    [
        (
            concat!("airlock-contract-", env!("CARGO_PKG_VERSION"), ".crate"),
            include_bytes!(env!("AIRLOCK_CONTRACT_CRATE")),
        ),
        (
            concat!("airlock-sdk-", env!("CARGO_PKG_VERSION"), ".crate"),
            include_bytes!(env!("AIRLOCK_SDK_CRATE")),
        ),
    ]
}
