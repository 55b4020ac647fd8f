//! `airlock plugin run X.wasm --fixture DIR`: the vendor's local loop. Runs analysis and
//! migration over the fixture's tables under production limits and prints, per batch,
//! outputs, findings, fuel, peak memory, time and logs.

use crate::render;
use airlock_backup::AoReader;
use airlock_model::{DataScope, MigrationId, Namespace, TenantId};
use airlock_pipeline::app_stage::{self, BatchOutcome};
use airlock_runtime::{
    BatchError, Grant, GrowingMappings, MemoryMappings, Plugin, Ran, RunContext, RunPhase, Runtime,
    Usage,
};
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

pub struct Options {
    pub max_outputs: usize,
    /// Output bodies and log lines whole, and every log line of a batch.
    pub full: bool,
    pub json: bool,
}

/// Characters of an output shown unless `--full`.
const OUTPUT_CHARS: usize = 200;
/// Characters of a log line shown unless `--full`.
const LOG_LINE_CHARS: usize = 160;
/// Log lines shown per batch unless `--full`: a failing plugin may log thousands.
const LOG_LINES: usize = 50;

/// `grant.json`: what the operator would grant. Absent: everything the manifest asks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantFile {
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// Reads `mappings.json`: `{"identity:user": {"server id": "cloud id"}, …}`.
pub fn read_mappings(path: &Path) -> Result<MemoryMappings> {
    let map = airlock_sandbox::seed::read_mappings(path)?;
    Ok(airlock_sandbox::seed::memory_mappings(&map))
}

fn read_grant(path: &Path, plugin: &Plugin) -> Result<Grant> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: GrantFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a grant file: expected {{\"namespaces\": [..], \"scopes\": [..]}}",
            path.display()
        )
    })?;
    let mut grant = Grant::new(
        plugin.manifest().app_key.clone(),
        plugin.info().sha256.clone(),
    );
    for ns in &file.namespaces {
        grant = grant
            .namespace(Namespace::parse(ns).with_context(|| format!("in {}", path.display()))?);
    }
    for scope in &file.scopes {
        let scope: DataScope = scope
            .parse()
            .with_context(|| format!("in {}", path.display()))?;
        grant = grant.scope(scope);
    }
    Ok(grant)
}

/// Returns whether every batch succeeded with no fatal finding.
pub fn run(runtime: &Runtime, wasm: &Path, fixture: &Path, options: &Options) -> Result<bool> {
    let plugin = runtime.load_file(wasm)?;
    let ao_path = fixture.join("activeobjects.xml");
    if !ao_path.exists() {
        bail!(
            "{} has no activeobjects.xml: a fixture directory holds activeobjects.xml and mappings.json \
             (`airlock plugin fixture DIR` writes a sample)",
            fixture.display()
        );
    }
    let mappings_path = fixture.join("mappings.json");
    let mappings = if mappings_path.exists() {
        read_mappings(&mappings_path)?
    } else {
        MemoryMappings::new()
    };
    let grant_path = fixture.join("grant.json");
    let grant = if grant_path.exists() {
        read_grant(&grant_path, &plugin)?
    } else {
        Grant::as_asked(&plugin)
    };

    let mut reader = AoReader::open_file(&ao_path)?;
    let tables = app_stage::read_app_tables(&mut reader, &plugin)?;
    // Grows with what the plugin publishes (contract 2.0), as the migration's would.
    let mappings = Arc::new(GrowingMappings::new(mappings));
    let session = plugin.session(RunContext {
        tenant: TenantId::new("local"),
        migration: MigrationId::new("local"),
        grant,
        mappings: mappings.clone(),
        app_data: Arc::new(tables.app_data),
    })?;

    if !options.json {
        crate::inspect::print(&plugin, wasm);
        println!();
        if tables.batches.is_empty() {
            println!("no rows of this app's tables in {}", ao_path.display());
        }
    }
    let mut outcomes = app_stage::analyze_all(&session, &tables.batches, &mappings);
    let analyzed = app_stage::finish(&session, RunPhase::Analyze, &outcomes, &mappings);
    app_stage::migrate_all(&session, &tables.batches, &mut outcomes, &mappings);
    let migrated = app_stage::finish(&session, RunPhase::Migrate, &outcomes, &mappings);

    for outcome in &outcomes {
        if options.json {
            println!("{}", serde_json::to_string(&json_outcome(outcome))?);
        } else {
            print_outcome(outcome, options);
        }
    }
    let mut failed = outcomes.iter().filter(|o| o.failed()).count();
    let mut fatal: usize = outcomes.iter().map(BatchOutcome::fatal_findings).sum();
    for (phase, finish) in [("analyze", &analyzed), ("migrate", &migrated)] {
        let Some(finish) = finish else { continue };
        match finish {
            Ok(ran) => {
                fatal += (ran.value.iter())
                    .filter(|f| f.severity == airlock_model::Severity::Fatal)
                    .count()
            }
            Err(_) => failed += 1,
        }
        if options.json {
            let line = serde_json::json!({ "finish": phase, "result": side(finish) });
            println!("{line}");
        } else {
            print_finish(phase, finish, options.full);
        }
    }
    let unstable = app_stage::nondeterministic(&session, &tables.batches, &outcomes);
    if options.json {
        for (table, batch) in &unstable {
            let line =
                serde_json::json!({ "table": table, "batch": batch, "nondeterministic": true });
            println!("{line}");
        }
    } else {
        for (table, batch) in &unstable {
            println!("NONDETERMINISTIC {table} batch {batch}: a second run gave different outputs");
        }
        println!(
            "\n{} batches, {} failed, {} fatal findings, {} nondeterministic (each migrated batch was run twice)",
            outcomes.len(),
            failed,
            fatal,
            unstable.len()
        );
    }
    Ok(failed == 0 && fatal == 0 && unstable.is_empty())
}

fn usage_line(usage: &Usage) -> String {
    format!(
        "fuel {}  peak memory {}  time {} (instantiate {})  host calls: {} resolve ({} ids), {} row reads, {} rows checked{}",
        render::count(usage.fuel),
        render::bytes(usage.peak_memory),
        render::duration(usage.elapsed),
        render::duration(usage.instantiate),
        usage.host_calls.resolve_calls,
        usage.host_calls.ids_resolved,
        usage.host_calls.row_reads,
        usage.host_calls.rows_checked,
        match (usage.host_calls.find_calls, usage.host_calls.published) {
            (0, 0) => String::new(),
            (finds, published) => format!(
                ", {finds} finds ({} rows), {published} published",
                usage.host_calls.rows_found
            ),
        }
    )
}

fn print_logs(usage: &Usage, full: bool) {
    let shown = if full { usage.logs.len() } else { LOG_LINES };
    for line in usage.logs.iter().take(shown) {
        println!(
            "    log {:5} {}",
            line.level,
            shorten(&line.message, LOG_LINE_CHARS, full)
        );
    }
    if usage.logs.len() > shown {
        println!(
            "    … {} more log lines (--full shows all)",
            usage.logs.len() - shown
        );
    }
}

/// `text` whole with `--full`; else its first `max` characters and how many were cut.
fn shorten(text: &str, max: usize, full: bool) -> String {
    let chars = text.chars().count();
    if full || chars <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!(
        "{kept}… ({} more characters; --full shows all)",
        chars - max
    )
}

fn print_error(call: &str, e: &BatchError, full: bool) {
    println!("  {call:8} FAILED [{}] {}", e.cause.code(), e.cause);
    println!("           {}", usage_line(&e.usage));
    print_logs(&e.usage, full);
}

/// `finish` after a phase's last batch (contract 2.0).
fn print_finish(
    phase: &str,
    finish: &Result<Ran<Vec<airlock_model::AppFinding>>, Box<BatchError>>,
    full: bool,
) {
    println!("── finish after {phase}");
    match finish {
        Ok(ran) => {
            println!(
                "  finish   {} findings, {} mappings published  {}",
                ran.value.len(),
                ran.published.len(),
                usage_line(&ran.usage)
            );
            for f in &ran.value {
                let row = f.row_id.map(|r| format!(" row {r}")).unwrap_or_default();
                println!("    {:7} {}{row}: {}", f.severity, f.code, f.message);
            }
            print_logs(&ran.usage, full);
        }
        Err(e) => print_error("finish", e, full),
    }
}

fn print_outcome(o: &BatchOutcome, options: &Options) {
    let (max_outputs, full) = (options.max_outputs, options.full);
    println!("── {} · batch {} · {} rows", o.table, o.index, o.rows);
    match &o.analyze {
        Ok(Ran { value, usage, .. }) => {
            println!("  analyze  {} findings  {}", value.len(), usage_line(usage));
            for f in value {
                let row = f.row_id.map(|r| format!(" row {r}")).unwrap_or_default();
                println!("    {:7} {}{row}: {}", f.severity, f.code, f.message);
            }
            print_logs(usage, full);
        }
        Err(e) => print_error("analyze", e, full),
    }
    match &o.migrate {
        Some(Ok(Ran { value, usage, .. })) => {
            let bytes: usize = value.iter().map(|o| o.size()).sum();
            println!(
                "  migrate  {} outputs ({})  {}",
                value.len(),
                render::bytes(bytes as u64),
                usage_line(usage)
            );
            for output in value.iter().take(max_outputs) {
                println!(
                    "    {}",
                    shorten(&describe_output(output), OUTPUT_CHARS, full)
                );
            }
            if value.len() > max_outputs {
                println!(
                    "    … {} more (--max-outputs N shows more)",
                    value.len() - max_outputs
                );
            }
            print_logs(usage, full);
        }
        Some(Err(e)) => print_error("migrate", e, full),
        None => println!("  migrate  not run (analysis failed)"),
    }
}

fn describe_output(o: &airlock_model::AppOutput) -> String {
    use airlock_model::AppOutput::*;
    match o {
        EntityProperty {
            entity,
            entity_id,
            key,
            value,
        } => format!("entity-property {entity:?} {entity_id} {key} = {value}"),
        AppProperty { key, value } => format!("app-property {key} = {value}"),
        AppDocument {
            collection,
            id,
            body,
        } => format!("app-document {collection}/{id} {body}"),
    }
}

/// One call's result as JSON: its value and usage, or its error.
fn side<T: serde::Serialize>(r: &Result<Ran<T>, Box<BatchError>>) -> serde_json::Value {
    match r {
        Ok(ran) => serde_json::json!({
            "ok": ran.value,
            "usage": ran.usage,
            "published": ran.published.len(),
        }),
        Err(e) => serde_json::json!({
            "error": { "code": e.cause.code(), "message": e.cause.to_string() },
            "usage": e.usage,
        }),
    }
}

fn json_outcome(o: &BatchOutcome) -> serde_json::Value {
    serde_json::json!({
        "table": o.table,
        "batch": o.index,
        "rows": o.rows,
        "analyze": side(&o.analyze),
        "migrate": o.migrate.as_ref().map(side),
    })
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn a_cut_says_how_much_and_how_to_see_it_all() {
        assert_eq!(shorten("short", 10, false), "short");
        assert_eq!(
            shorten("abcdéfgh", 4, false),
            "abcd… (4 more characters; --full shows all)"
        );
        assert_eq!(shorten("abcdéfgh", 4, true), "abcdéfgh");
    }
}
