//! The WebAssembly side: the generated bindings, the host imports behind [`Host`], and the
//! conversions between WIT types and the SDK's. Only compiled for `wasm32`.

use crate::Migrator;
use crate::ctx::{Ctx, Host, Level};
use crate::manifest::{DataScope, OutputKind};
use crate::output::{EntityKind, Finding, Output, Severity};
use crate::rows::{Rows, Value};

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_airlock_plugin",
        default_bindings_module: "::airlock_sdk::guest::bindings",
        // Imports take borrowed strings: no copy of each id before a `resolve`.
        ownership: Borrowing {
            duplicate_if_necessary: false
        },
    });
}

use bindings::airlock::plugin::{app_data, log, mappings, types as wit};
pub use bindings::exports::airlock::plugin::migrator::Guest;

pub type WitManifest = wit::Manifest;
pub type WitRowSet = wit::RowSet;
pub type WitFinding = wit::Finding;
pub type WitOutput = wit::Output;
pub type WitPluginError = wit::PluginError;

/// The component's imports.
struct Imports;

impl Host for Imports {
    fn resolve(&self, namespace: &str, ids: &[&str]) -> Vec<Option<String>> {
        mappings::resolve(namespace, ids)
    }

    fn get(&self, table: &str, id: i64) -> Option<(Vec<String>, Vec<Value>)> {
        app_data::get(table, id).map(|row| {
            (
                row.columns,
                row.values.into_iter().map(value_from_wit).collect(),
            )
        })
    }

    fn exists(&self, table: &str, ids: &[i64]) -> Vec<bool> {
        app_data::exists(table, ids)
    }

    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Trace => log::Level::Trace,
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
            Level::Error => log::Level::Error,
        };
        log::write(level, message);
    }
}

pub fn describe<M: Migrator>() -> WitManifest {
    let m = M::manifest();
    wit::Manifest {
        app_key: m.app_key,
        name: m.name,
        version: m.version,
        tables: m.tables,
        namespaces: m.namespaces,
        scopes: m.scopes.into_iter().map(scope_to_wit).collect(),
        outputs: m.outputs.into_iter().map(output_kind_to_wit).collect(),
        limits: wit::RequestedLimits {
            fuel_per_batch: m.limits.fuel_per_batch,
            memory_bytes: m.limits.memory_bytes,
            batch_rows: m.limits.batch_rows,
        },
    }
}

pub fn analyze_batch<M: Migrator>(table: String, rows: WitRowSet) -> Vec<WitFinding> {
    let rows = rows_from_wit(rows).in_table::<M>(&table);
    M::analyze(&Ctx::for_migrator::<M>(&Imports), &table, &rows)
        .into_iter()
        .map(finding_to_wit)
        .collect()
}

pub fn migrate_batch<M: Migrator>(
    table: String,
    rows: WitRowSet,
) -> Result<Vec<WitOutput>, WitPluginError> {
    let rows = rows_from_wit(rows).in_table::<M>(&table);
    match M::migrate(&Ctx::for_migrator::<M>(&Imports), &table, &rows) {
        Ok(outputs) => Ok(outputs.into_iter().map(output_to_wit).collect()),
        Err(e) => Err(wit::PluginError {
            code: e.code,
            message: e.message,
            row_id: e.row_id,
        }),
    }
}

fn rows_from_wit(set: WitRowSet) -> Rows {
    let values = set.values.into_iter().map(value_from_wit).collect();
    Rows::from_flat(set.columns, values)
}

fn value_from_wit(v: wit::Value) -> Value {
    match v {
        wit::Value::Null => Value::Null,
        wit::Value::String(s) => Value::String(s),
        wit::Value::Integer(i) => Value::Integer(i),
        wit::Value::Double(d) => Value::Double(d),
        wit::Value::Boolean(b) => Value::Boolean(b),
        wit::Value::Timestamp(t) => Value::Timestamp(t),
    }
}

fn finding_to_wit(f: Finding) -> WitFinding {
    wit::Finding {
        severity: match f.severity {
            Severity::Info => wit::Severity::Info,
            Severity::Warning => wit::Severity::Warning,
            Severity::Fatal => wit::Severity::Fatal,
        },
        code: f.code,
        message: f.message,
        row_id: f.row_id,
    }
}

fn output_to_wit(o: Output) -> WitOutput {
    match o {
        Output::EntityProperty {
            entity,
            entity_id,
            key,
            value,
        } => wit::Output::EntityProperty(wit::EntityProperty {
            entity: match entity {
                EntityKind::Issue => wit::EntityKind::Issue,
                EntityKind::Project => wit::EntityKind::Project,
                EntityKind::User => wit::EntityKind::User,
                EntityKind::Comment => wit::EntityKind::Comment,
                EntityKind::Worklog => wit::EntityKind::Worklog,
            },
            entity_id,
            key,
            value,
        }),
        Output::AppProperty { key, value } => {
            wit::Output::AppProperty(wit::AppProperty { key, value })
        }
        Output::AppDocument {
            collection,
            id,
            body,
        } => wit::Output::AppDocument(wit::AppDocument {
            collection,
            id,
            body,
        }),
    }
}

fn scope_to_wit(s: DataScope) -> wit::DataScope {
    match s {
        DataScope::AppDataUgc => wit::DataScope::AppDataUgc,
        DataScope::AppDataPii => wit::DataScope::AppDataPii,
        DataScope::AppDataSecurity => wit::DataScope::AppDataSecurity,
        DataScope::AppDataOther => wit::DataScope::AppDataOther,
        DataScope::ProductDataUgc => wit::DataScope::ProductDataUgc,
        DataScope::ProductDataPii => wit::DataScope::ProductDataPii,
        DataScope::ProductDataSecurity => wit::DataScope::ProductDataSecurity,
        DataScope::ProductDataOther => wit::DataScope::ProductDataOther,
        DataScope::MigrationTracingIdentity => wit::DataScope::MigrationTracingIdentity,
        DataScope::MigrationTracingProduct => wit::DataScope::MigrationTracingProduct,
    }
}

fn output_kind_to_wit(k: OutputKind) -> wit::OutputKind {
    match k {
        OutputKind::EntityProperty => wit::OutputKind::EntityProperty,
        OutputKind::AppProperty => wit::OutputKind::AppProperty,
        OutputKind::AppDocument => wit::OutputKind::AppDocument,
    }
}

/// The plugin's heap: a bump allocator. Each batch runs in a fresh instance that is thrown
/// away afterwards, so freeing is wasted work; allocation is a pointer bump, `dealloc` only
/// reclaims the most recent block, and `realloc` of the most recent block grows in place.
/// Memory use is therefore what a batch allocates in total, under the host's memory cap.
mod heap {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::Cell;

    const PAGE: usize = 64 * 1024;

    pub struct Bump {
        next: Cell<usize>,
        end: Cell<usize>,
    }

    // SAFETY: a component instance is single-threaded.
    unsafe impl Sync for Bump {}

    impl Bump {
        pub const fn new() -> Bump {
            Bump {
                next: Cell::new(0),
                end: Cell::new(0),
            }
        }

        fn take(&self, layout: Layout) -> *mut u8 {
            let start = (self.next.get() + layout.align() - 1) & !(layout.align() - 1);
            let Some(new_next) = start.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            if start == 0 || new_next > self.end.get() {
                // Grow linear memory by what is missing (at least 1 MiB, to amortise).
                let base = core::arch::wasm32::memory_size(0) * PAGE;
                let fresh = if self.end.get() == base {
                    self.next.get()
                } else {
                    base
                };
                let start = (fresh + layout.align() - 1) & !(layout.align() - 1);
                let Some(needed) = start.checked_add(layout.size()) else {
                    return core::ptr::null_mut();
                };
                let pages = (needed.saturating_sub(base)).div_ceil(PAGE).max(16);
                if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                    return core::ptr::null_mut();
                }
                self.end.set(base + pages * PAGE);
                self.next.set(needed);
                return start as *mut u8;
            }
            self.next.set(new_next);
            start as *mut u8
        }
    }

    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            self.take(layout)
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // Give back only the latest block (common for temporaries).
            if ptr as usize + layout.size() == self.next.get() {
                self.next.set(ptr as usize);
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let end = ptr as usize + layout.size();
            if end == self.next.get() {
                // The latest block: grow or shrink in place when it fits.
                if let Some(new_end) = (ptr as usize).checked_add(new_size)
                    && new_end <= self.end.get()
                {
                    self.next.set(new_end);
                    return ptr;
                }
            } else if new_size <= layout.size() {
                return ptr;
            }
            // SAFETY: the caller guarantees `layout` and `new_size` describe a valid block.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            let new = self.take(new_layout);
            if !new.is_null() {
                // SAFETY: both blocks are valid for the smaller size and do not overlap.
                unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            }
            new
        }
    }
}

#[global_allocator]
static HEAP: heap::Bump = heap::Bump::new();
