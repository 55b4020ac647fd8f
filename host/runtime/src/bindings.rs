//! The host's `bindgen!`s, one per contract version served: every WIT type and import trait
//! comes from here. Version 2's findings, outputs, errors and rows are the same shapes as
//! 1.0's, so the host lowers and lifts them with 1.0's types (the component model checks
//! shapes, not names); only what 2.0 adds is taken from [`v2`].

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../../wit",
    // Host imports may stop the plugin (an access denied, a quota hit): they return
    // `wasmtime::Result`, and an `Err` traps the guest with our typed error inside.
    imports: { default: trappable },
});

pub use airlock::plugin::types as wit;

/// `airlock:plugin@2.0.0`.
pub mod v2 {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../../wit/v2",
        imports: { default: trappable },
    });

    pub use airlock::plugin::types as wit;
}
