//! `airlock plugin inspect X.wasm`: what a plugin is and asks for, before anyone runs it.

use crate::render;
use airlock_runtime::{Manifest, Plugin, Runtime};
use anyhow::Result;
use std::path::Path;

pub fn run(runtime: &Runtime, path: &Path, json: bool) -> Result<()> {
    let plugin = runtime.load_file(path)?;
    if json {
        let value = serde_json::json!({
            "file": path.display().to_string(),
            "manifest": plugin.manifest(),
            "table_prefix": table_prefix(plugin.manifest()),
            "artifact": plugin.info(),
            "limits": plugin.limits(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    print(&plugin, path);
    Ok(())
}

/// `AO_09EAEF_`: the prefix of every Active Objects table of the app, as the backup names them.
fn table_prefix(manifest: &Manifest) -> String {
    format!("{}_", manifest.ao_prefix())
}

pub fn print(plugin: &Plugin, path: &Path) {
    let m = plugin.manifest();
    let info = plugin.info();
    let limits = plugin.limits();
    println!("{} {} ({})", m.name, m.version, path.display());
    println!("  app key      {}", m.app_key);
    println!(
        "  table prefix {}  (the app's Active Objects tables; it reads no other)",
        table_prefix(m)
    );
    println!("  size         {}", render::bytes(info.size as u64));
    println!("  sha256       {}", info.sha256);
    println!(
        "  compiled     {}{}",
        render::duration(info.compile_time),
        if info.from_cache { " (from cache)" } else { "" }
    );
    println!("  contract     airlock:plugin@{}", m.contract.version());
    println!("  tables       {}", render::list(&m.tables));
    println!("  namespaces   {}", render::list(&m.namespaces));
    if !m.optional_namespaces.is_empty() {
        println!(
            "  optional     {}  (resolved if granted, else nothing)",
            render::list(&m.optional_namespaces)
        );
    }
    if !m.publishes.is_empty() {
        println!("  publishes    {}", render::list(&m.publishes));
    }
    if !m.lookups.is_empty() {
        let lookups: Vec<String> = (m.lookups.iter())
            .map(|(table, column)| format!("{table}.{column}"))
            .collect();
        println!("  finds by     {}", render::list(&lookups));
    }
    println!("  data scopes  {}", render::list(&m.scopes));
    println!("  outputs      {}", render::list(&m.outputs));
    println!(
        "  limits       fuel {} / batch + {} / row (at most {}), memory {}, deadline {}, output {}, logs {}, {} rows / batch",
        render::count(limits.fuel),
        render::count(limits.fuel_per_row),
        render::count(limits.batch_fuel_cap),
        render::bytes(limits.memory_bytes),
        render::duration(limits.deadline),
        render::bytes(limits.output_bytes),
        render::bytes(limits.log_bytes),
        limits.batch_rows
    );
    println!("  imports");
    for import in &info.imports {
        println!("    {import}");
    }
}
