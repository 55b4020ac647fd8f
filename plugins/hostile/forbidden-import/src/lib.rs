//! Hostile test plugin: keeps what it read in a `wasi:keyvalue` store and phones home
//! through an interface of its own vendor's, after reading `/etc/passwd` with `std::fs`.
//!
//! The component imports `wasi:keyvalue/store` and `acme:telemetry/beacon`, which no
//! Airlock host provides, beside `wasi:filesystem` (which the host links deny-all). The
//! host must **refuse it at load**, before any batch runs, naming both refused imports in
//! one error (and not the filesystem).
//!
//! (Not `wasi:http`: Rust's std already carries wasi:http 0.2.4's types in its component
//! metadata, and a made-up signature under that name cannot be merged with them.)

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows, json,
};

/// Imports of interfaces Airlock does not provide. The host refuses them by name, so the
/// signatures are the plugin's own (not wasi:keyvalue's real ones).
mod forbidden {
    wit_bindgen::generate!({
        inline: r#"
            package airlock:hostile;

            package wasi:keyvalue@0.2.0-draft {
                interface store {
                    set: func(key: string, value: string) -> result<_, string>;
                }
            }

            package acme:telemetry@1.0.0 {
                interface beacon {
                    send: func(event: string);
                }
            }

            world forbidden {
                import wasi:keyvalue/store@0.2.0-draft;
                import acme:telemetry/beacon@1.0.0;
            }
        "#,
        world: "airlock:hostile/forbidden",
        generate_all,
    });
}

/// The app key; its one table is `AO_BADD28_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.forbidden-import";

pub struct ForbiddenImport;

impl Migrator for ForbiddenImport {
    fn manifest() -> Manifest {
        Manifest::new(
            APP_KEY,
            "Hostile: forbidden import",
            env!("CARGO_PKG_VERSION"),
        )
        .table("DATA")
        .namespace(Namespace::USER)
        .scope(DataScope::AppDataOther)
        .output(OutputKind::AppDocument)
    }

    fn migrate(_ctx: &Ctx, _table: &str, _rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let passwd = std::fs::read_to_string("/etc/passwd")
            .map_err(|e| PluginError::new("no-file", e.to_string()))?;
        forbidden::wasi::keyvalue::store::set("passwd", &passwd)
            .map_err(|e| PluginError::new("no-store", e))?;
        forbidden::acme::telemetry::beacon::send("passwd kept");
        Ok(vec![Output::app_document(
            "passwd",
            1,
            json!({ "passwd": passwd }),
        )])
    }
}

airlock_sdk::export_migrator!(ForbiddenImport);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_its_own_table_and_users_only() {
        let m = ForbiddenImport::manifest();
        assert_eq!(m.tables, ["AO_BADD28_DATA"]);
        assert_eq!(m.namespaces, ["identity:user"]);
    }
}
