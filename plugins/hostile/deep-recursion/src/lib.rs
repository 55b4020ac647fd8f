//! Hostile test plugin: `migrate-batch` recurses without bound.
//!
//! Every frame of [`dive`] holds only scalars, which live in Wasm locals on the engine's
//! native stack, never in the linear-memory shadow stack (no arrays, no addresses of
//! locals). So the host's **stack limit** (Wasmtime's `max_wasm_stack`) must trip, as a
//! stack-overflow trap, long before anything else runs out.
//!
//! Why not `std::hint::black_box`: on Wasm it spills its argument to a shadow-stack slot
//! and passes the slot's address to an empty `asm!` block, which would give every frame 16
//! bytes of shadow stack. Instead the optimisation barrier is a relaxed atomic static:
//! the next depth mixes in a value loaded from it and the result is stored to it after the
//! recursive call returns, so the call is not in tail position and the recursion can be
//! neither turned into a loop nor folded away.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The app key; its one table is `AO_AFB134_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.deep-recursion";

/// Always zero in practice; the optimiser cannot know that.
static OPAQUE: AtomicU64 = AtomicU64::new(0);

pub struct DeepRecursion;

impl Migrator for DeepRecursion {
    fn manifest() -> Manifest {
        Manifest::new(
            APP_KEY,
            "Hostile: deep recursion",
            env!("CARGO_PKG_VERSION"),
        )
        .table("DATA")
        .namespace(Namespace::USER)
        .scope(DataScope::AppDataOther)
        .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let result = dive(rows.len() as u64);
        Ok(vec![Output::app_document(
            "depth",
            0,
            airlock_sdk::json!(result),
        )])
    }
}

/// Recurses until `depth` wraps to `u64::MAX`, i.e. for all practical purposes forever.
#[inline(never)]
pub fn dive(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let below = dive(depth.wrapping_add(1) ^ OPAQUE.load(Relaxed));
    let result = below.wrapping_mul(31).wrapping_add(depth);
    OPAQUE.store(result, Relaxed);
    result
}

airlock_sdk::export_migrator!(DeepRecursion);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_its_own_table_and_users_only() {
        let m = DeepRecursion::manifest();
        assert_eq!(m.tables, ["AO_AFB134_DATA"]);
        assert_eq!(m.namespaces, ["identity:user"]);
    }

    #[test]
    fn dive_terminates_only_at_the_end_of_u64() {
        assert_eq!(dive(u64::MAX), 0);
        assert_eq!(dive(u64::MAX - 1), u64::MAX - 1);
    }
}
