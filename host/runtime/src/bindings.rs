//! The only `bindgen!` in the host: every WIT type and import trait comes from here.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../../wit",
    // Host imports may stop the plugin (an access denied, a quota hit): they return
    // `wasmtime::Result`, and an `Err` traps the guest with our typed error inside.
    imports: { default: trappable },
});

pub use airlock::plugin::types as wit;
