//! Hostile test plugin: tries to get out of the sandbox through Rust's std.
//!
//! `std::fs` and `std::net` make the component import `wasi:filesystem` and
//! `wasi:sockets`, as the default builds of Python and JavaScript plugins do. The host
//! links both deny-all, so the plugin **loads and runs**, and every attempt fails inside
//! it. Each row's `NAME` is one probe; its outcome becomes an app document
//! `probe/<ID>` = `{probe, outcome: "denied" | "succeeded", detail}`, where `detail` is
//! the error, or what the plugin got (the first bytes of a file, a peer's address):
//!
//! - `file:PATH` reads a file, `dir:PATH` lists a directory;
//! - `tcp:HOST:PORT` opens a TCP connection; `udp:HOST:PORT` sends a datagram;
//! - `dns:NAME` resolves a name.

use airlock_sdk::{
    Ctx, DataScope, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows, json,
};
use std::io::Read as _;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};

/// The app key; its one table is `AO_91ADB2_DATA` (columns `ID`, `NAME`).
pub const APP_KEY: &str = "com.airlock.hostile.sandbox-escape";

pub struct SandboxEscape;

impl Migrator for SandboxEscape {
    fn manifest() -> Manifest {
        Manifest::new(
            APP_KEY,
            "Hostile: sandbox escape",
            env!("CARGO_PKG_VERSION"),
        )
        .table("DATA")
        .namespace(Namespace::USER)
        .scope(DataScope::AppDataOther)
        .output(OutputKind::AppDocument)
    }

    fn migrate(ctx: &Ctx, _table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let mut outputs = Vec::with_capacity(rows.len());
        for row in rows.iter() {
            let id = row.id()?;
            let probe = row.str("NAME")?;
            let (outcome, detail) = match attempt(probe) {
                Ok(got) => ("succeeded", got),
                Err(error) => ("denied", error),
            };
            ctx.info(&format!("{probe}: {outcome}: {detail}"));
            outputs.push(Output::app_document(
                "probe",
                id,
                json!({ "probe": probe, "outcome": outcome, "detail": detail }),
            ));
        }
        Ok(outputs)
    }
}

/// Runs one probe: what it got, or the error std gave.
fn attempt(probe: &str) -> Result<String, String> {
    let (kind, target) = probe
        .split_once(':')
        .ok_or_else(|| format!("not a probe: {probe}"))?;
    let text = |e: std::io::Error| format!("{:?}: {e}", e.kind());
    match kind {
        "file" => {
            let mut bytes = Vec::new();
            std::fs::File::open(target)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(text)?;
            Ok(String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned())
        }
        "dir" => {
            let names: Vec<String> = std::fs::read_dir(target)
                .map_err(text)?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            Ok(names.join(","))
        }
        "tcp" => {
            let stream = TcpStream::connect(target).map_err(text)?;
            Ok(format!("connected to {:?}", stream.peer_addr()))
        }
        "udp" => {
            let socket = UdpSocket::bind("0.0.0.0:0").map_err(text)?;
            let sent = socket.send_to(b"airlock-escape", target).map_err(text)?;
            Ok(format!("sent {sent} bytes"))
        }
        "dns" => {
            let addresses: Vec<String> = (target, 80)
                .to_socket_addrs()
                .map_err(text)?
                .map(|a| a.ip().to_string())
                .collect();
            Ok(addresses.join(","))
        }
        _ => Err(format!("unknown probe kind {kind}")),
    }
}

airlock_sdk::export_migrator!(SandboxEscape);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_its_own_table_and_users_only() {
        let m = SandboxEscape::manifest();
        assert_eq!(m.tables, ["AO_91ADB2_DATA"]);
        assert_eq!(m.namespaces, ["identity:user"]);
    }

    #[test]
    fn a_probe_names_its_kind() {
        assert!(attempt("nonsense").unwrap_err().contains("not a probe"));
        assert!(attempt("ftp:x").unwrap_err().contains("unknown probe kind"));
    }
}
