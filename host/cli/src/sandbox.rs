//! `airlock sandbox PLUGIN.wasm`: runs the review (airlock-sandbox) and prints its verdict;
//! the review itself is written as HTML and JSON.

use std::path::Path;

use airlock_runtime::Runtime;
use airlock_sandbox::{Options, Progress, Review};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Returns whether the plugin passed.
pub fn run(runtime: &Runtime, wasm: &Path, options: &Options, out: &Path) -> Result<bool> {
    println!("reviewing {} in the sandbox…", wasm.display());
    // A bar on a terminal (compiling a Python or JavaScript component takes seconds);
    // nothing extra otherwise.
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner().with_message("loading the plugin");
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let mut progress = |p: Progress| {
        let Some(bar) = &bar else { return };
        if let Progress::Batches { done, total } = p {
            if bar.length() != Some(total as u64) {
                bar.set_style(
                    ProgressStyle::with_template("  {msg:<16} [{bar:30}] {pos}/{len} calls")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_length(total as u64);
                bar.set_message("running twice");
            }
            bar.set_position(done as u64);
        }
    };
    let review = airlock_sandbox::review_with_progress(runtime, wasm, options, &mut progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let review = review?;
    let (json, page) = airlock_sandbox::write(&review, out)?;
    print(&review);
    println!("review: {} (and {})", page.display(), json.display());
    Ok(review.passed)
}

fn print(review: &Review) {
    let p = &review.plugin;
    if let (Some(name), Some(version), Some(app)) = (&p.name, &p.version, &p.app_key) {
        println!("  plugin   {name} {version} ({app})");
    }
    println!("  data     {}", review.data);
    if !review.batches.is_empty() {
        let counts = airlock_sandbox::outcome_counts(review);
        let line: Vec<String> = counts
            .iter()
            .map(|((case, outcome), n)| format!("{case} {outcome} {n}"))
            .collect();
        println!("  batches  {}", line.join(", "));
        let l = &review.limits;
        println!(
            "  per row  {:.0} fuel, {:.1} µs (valid rows: {}); worst batch: fuel {:.1}%, time {:.1}%, memory {:.1}% of its cap",
            l.fuel_per_row,
            l.micros_per_row,
            l.valid_rows,
            l.fuel_of_cap * 100.0,
            l.time_of_deadline * 100.0,
            l.memory_of_cap * 100.0
        );
        println!(
            "  access   tables looked up: {}; namespaces resolved: {}; outputs: {}",
            or_none(&review.access.tables_read),
            or_none(&review.access.namespaces_resolved),
            or_none(&review.access.outputs_written)
        );
        println!(
            "  runs     {} ({} import calls in the transcript)",
            if review.deterministic {
                "deterministic"
            } else {
                "NOT deterministic"
            },
            review.transcript_calls
        );
    }
    for w in &review.warnings {
        println!("  warning  {}: {}", w.code, w.what);
    }
    if review.passed {
        println!("verdict: PASS");
    } else {
        println!("verdict: FAIL");
        for f in &review.failures {
            println!("  ✗ {}: {}", f.code, f.what);
        }
    }
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
