//! The migration report as one self-contained HTML page (no scripts, no external files):
//! the integrity check, the plan for the target and the verification, from the JSON
//! reports in the work directory. Every value is escaped.

use std::fmt::Write as _;

use crate::Result;
use airlock_engine::{Action, Plan, RowOutcome};
use airlock_engine::{Finding, Findings, IntegrityReport};
use airlock_model::Severity;

use crate::report::{AppReport, FailedRow, VerifyRow, read};
use crate::storage::Storage;

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#172b4d}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #dfe1e6}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .8em;border-bottom:1px solid #ebecf0;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.fatal,.problem,.bad{color:#de350b;font-weight:600}\
.warning{color:#ff8b00}.info{color:#6b778c}.ok{color:#00875a;font-weight:600}\
.badge{display:inline-block;padding:.1em .6em;border-radius:3px;background:#ebecf0}\
.bar{display:inline-block;height:.7em;background:#4c9aff;vertical-align:middle}";

/// Renders the page and seals it beside the JSON reports (`airlock report` opens it).
pub fn store(storage: &Storage) -> Result<()> {
    storage.put_report("report.html", render(storage)?.as_bytes())
}

/// A table of listed rows (refused, or written differently): the first thousand, and the
/// command that lists them all.
fn row_table(h: &mut String, rows: &[FailedRow], title: &str, intro: &str, why: &str, all: &str) {
    const SHOWN: usize = 1_000;
    let _ = write!(
        h,
        "<h3>{title} ({}{})</h3><p>{intro}</p><table><tr><th>kind<th>id<th>code<th>{why}</tr>",
        rows.len(),
        if rows.len() >= crate::report::MAX_FAILED_ROWS_IN_REPORT {
            " or more"
        } else {
            ""
        }
    );
    for f in rows.iter().take(SHOWN) {
        let _ = write!(
            h,
            "<tr><td>{}<td>{}<td class=problem>{}<td>{}</tr>",
            f.kind.name(),
            esc(&f.id),
            esc(&f.code),
            esc(&f.reason)
        );
    }
    h.push_str("</table>");
    if rows.len() > SHOWN {
        let _ = write!(h, "<p>{} more: <code>{all}</code>.</p>", rows.len() - SHOWN);
    }
}

/// The page, from the migration's sealed JSON reports.
pub fn render(storage: &Storage) -> Result<String> {
    let integrity: Option<IntegrityReport> = read(storage, "integrity.json");
    let plan: Option<Plan> = read(storage, "plan.json");
    let verify: Option<Vec<VerifyRow>> = read(storage, "verify.json");
    let apps: Option<Vec<AppReport>> = read(storage, "apps.json");
    let failed: Option<Vec<FailedRow>> = read(storage, "failures.json");
    let changed: Option<Vec<FailedRow>> = read(storage, "changed.json");
    let load: Option<airlock_engine::LoadSummary> = read(storage, "load.json");
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=en><meta charset=utf-8><title>Airlock migration report</title><style>{STYLE}</style><h1>Airlock migration report</h1>"
    );
    let verdict = match (&integrity, &plan, &verify) {
        (Some(i), _, _) if i.blocks_migration() => {
            ("bad", "blocked by fatal findings in the source")
        }
        (_, Some(p), _) if p.problems().next().is_some() => {
            ("bad", "blocked by problems on the target")
        }
        (_, _, Some(v)) if v.iter().all(|r| r.ok) && apps.iter().flatten().all(AppReport::ok) => {
            ("ok", "migrated: every count matches")
        }
        (_, _, Some(_)) => ("bad", "migrated with differences (see verification)"),
        _ => ("info", "checked, not migrated yet"),
    };
    let _ = write!(
        h,
        "<p>Status: <span class={}>{}</span></p>",
        verdict.0, verdict.1
    );

    if let Some(report) = &integrity {
        let _ = write!(
            h,
            "<h2>1. Integrity of the source</h2><p>{} rows; <span class=fatal>{} fatal</span>, <span class=warning>{} warnings</span>, <span class=info>{} info</span>. Fatal findings block the migration until the source is fixed and checked again.</p>",
            report.counts.values().sum::<u64>(),
            report.fatal(),
            report.findings.count(Severity::Warning),
            report.findings.count(Severity::Info)
        );
        findings_table(&mut h, &report.findings, "file, line, row", |e| {
            format!(
                "{}{} {} {}: {}",
                esc(&e.file),
                e.line.map(|l| format!(" line {l}")).unwrap_or_default(),
                esc(&e.entity),
                esc(&e.id),
                esc(&e.message)
            )
        });
    }

    if let Some(plan) = &plan {
        let _ = write!(
            h,
            "<h2>2. What changes on the target</h2><p>Target: {}</p>",
            esc(&plan.target)
        );
        h.push_str("<table><tr><th>kind<th>add<th>map to existing<th>modify<th>problem</tr>");
        let mut kinds: Vec<_> = plan.items.iter().map(|i| i.kind).collect();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            let _ = write!(
                h,
                "<tr><td>{}<td class=n>{}<td class=n>{}<td class=n>{}<td class='n{}'>{}</tr>",
                kind.name(),
                plan.count(kind, Action::Add),
                plan.count(kind, Action::Map),
                plan.count(kind, Action::Modify),
                if plan.count(kind, Action::Problem) > 0 {
                    " problem"
                } else {
                    ""
                },
                plan.count(kind, Action::Problem)
            );
        }
        for (kind, n) in &plan.bulk {
            let _ = write!(
                h,
                "<tr><td>{}<td class=n>{n}<td class=n>0<td class=n>0<td class=n>0</tr>",
                kind.name()
            );
        }
        h.push_str("</table>");
        if !plan.caveats.is_empty() {
            h.push_str("<h3>What the target does not write as the source has it</h3><table><tr><th>kind<th>rows<th>treatment<th>what happens, what to do</tr>");
            for c in &plan.caveats {
                let _ = write!(
                    h,
                    "<tr><td>{}<td class=n>{}<td>{}<td>{}</tr>",
                    c.kind.name(),
                    c.rows,
                    c.treatment.as_text(),
                    esc(&c.how)
                );
            }
            h.push_str("</table>");
        }
        for (app, findings) in &plan.apps {
            let _ = write!(
                h,
                "<h3>App {}: its analysis of its data</h3><p><span class=fatal>{} fatal</span>, <span class=warning>{} warnings</span>. Fatal findings block the migration until the app's data is fixed.</p>",
                esc(app),
                findings.count(Severity::Fatal),
                findings.count(Severity::Warning)
            );
            if findings.summaries().is_empty() {
                continue;
            }
            findings_table(&mut h, findings, "table, row", |e| {
                format!("{} row {}: {}", esc(&e.entity), esc(&e.id), esc(&e.message))
            });
        }
        let problems: Vec<_> = plan.problems().collect();
        if !problems.is_empty() {
            h.push_str("<h3>Problems to resolve (override file)</h3><table><tr><th>kind<th>object<th>problem<th>what to do</tr>");
            for p in problems {
                let _ = write!(
                    h,
                    "<tr><td>{}<td>{}<td class=problem>{}<td>{}</tr>",
                    p.kind.name(),
                    esc(&p.label),
                    esc(&p.detail),
                    esc(&p.message)
                );
            }
            h.push_str("</table>");
        }
        if !plan.rows.is_empty() {
            const SHOWN: usize = 1_000;
            let _ = write!(
                h,
                "<h3>Rows the target's rules refuse ({} will be refused unless answered)</h3><p>These do not block: the rest migrates and the run ends with failures. Give each a valid value or skip it in the override file (<code>\"rows\"</code>) before the load, or after it: a rerun retries them.</p><table><tr><th>kind<th>id<th>code<th>outcome<th>why, and what to do</tr>",
                plan.refused().count()
            );
            for r in plan.rows.iter().take(SHOWN) {
                let outcome = match r.outcome {
                    RowOutcome::Refused => "refused",
                    RowOutcome::Fixed => "fixed",
                    RowOutcome::Skipped => "skipped",
                    RowOutcome::Written => "written",
                };
                let _ = write!(
                    h,
                    "<tr><td>{}<td>{}<td class=problem>{}<td>{outcome}<td>{}</tr>",
                    r.kind.name(),
                    esc(&r.source),
                    esc(&r.code),
                    esc(&r.reason)
                );
            }
            h.push_str("</table>");
        }
    }

    if let Some(rows) = &verify {
        h.push_str("<h2>3. Verification: source against target</h2><p>A kind matches when written + mapped + skipped (orphans, and rows the override file skips) = source, with no failure.</p><table><tr><th>kind<th>source<th>written<th>mapped<th>skipped<th>failed<th><th></tr>");
        let max = rows.iter().map(|r| r.source).max().unwrap_or(1).max(1);
        for r in rows {
            let width = (r.source as f64 / max as f64 * 200.0).round().max(1.0);
            let _ = write!(
                h,
                "<tr><td>{}<td class=n>{}<td class=n>{}<td class=n>{}<td class=n>{}<td class=n>{}<td class={}>{}<td><span class=bar style='width:{width}px'></span></tr>",
                r.kind.name(),
                r.source,
                r.target,
                r.mapped,
                r.skipped,
                r.failed,
                if r.ok { "ok" } else { "bad" },
                if r.ok { "✓" } else { "✗" }
            );
        }
        h.push_str("</table>");
        let cleared = load.as_ref().map(|l| &l.cleared).filter(|c| !c.is_empty());
        if let Some(cleared) = cleared {
            let each: Vec<String> = cleared
                .iter()
                .map(|(kind, n)| format!("{n} in {}", kind.name()))
                .collect();
            let _ = write!(
                h,
                "<p>Values left empty, their display text kept ({}): history values naming what is not migrated (a workflow run, a sprint) or not on the target.</p>",
                each.join(", ")
            );
        }
    }
    if let Some(failed) = failed.as_ref().filter(|f| !f.is_empty()) {
        row_table(
            &mut h,
            failed,
            "Rows the target refused",
            "Fix the source or answer in the override file, then run the migration again: it retries them. <code>airlock failures</code> lists them all (table, CSV or JSON).",
            "why, and what to do",
            "airlock failures",
        );
    }
    if let Some(changed) = changed.as_ref().filter(|f| !f.is_empty()) {
        row_table(
            &mut h,
            changed,
            "Rows written differently",
            "Written, but not as the source has them: each says what the target did and where the source's value is kept. <code>airlock failures --changed</code> lists them all.",
            "what happened",
            "airlock failures --changed",
        );
    }
    if let Some(apps) = &apps {
        h.push_str("<h2>4. App data</h2><table><tr><th>app<th>consented to<th>tables<th>rows<th>batches<th>outputs<th>in the target<th>failed batches<th>fuel</tr>");
        for a in apps {
            let _ = write!(
                h,
                "<tr><td>{}{}<td>{}<td class=n>{}<td class=n>{}<td class=n>{}<td class=n>{}<td class=n>{}<td class='n{}'>{}<td class=n>{}</tr>",
                esc(&a.app),
                if a.unreviewed {
                    " <span class=fatal>(ran unreviewed)</span>"
                } else {
                    ""
                },
                esc(&a
                    .scopes
                    .iter()
                    .chain(&a.namespaces)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")),
                a.tables,
                a.rows,
                a.batches,
                a.outputs,
                a.stored,
                if a.failed.is_empty() { "" } else { " bad" },
                a.failed.len(),
                a.fuel
            );
        }
        h.push_str("</table>");
        let failed: Vec<_> = apps
            .iter()
            .flat_map(|a| a.failed.iter().map(move |b| (a, b)))
            .collect();
        if !failed.is_empty() {
            h.push_str("<h3>Failed app batches (rerun the migration to retry them)</h3><table><tr><th>app<th>table<th>batch<th>rows<th>why</tr>");
            for (a, b) in failed {
                let _ = write!(
                    h,
                    "<tr><td>{}<td>{}<td class=n>{}<td class=n>{}<td class=problem>{}</tr>",
                    esc(&a.app),
                    esc(&b.table),
                    b.index,
                    b.rows,
                    esc(b.error.as_deref().unwrap_or_default())
                );
            }
            h.push_str("</table>");
        }
    }
    if let Some(report) = &integrity {
        coverage(&mut h, report);
    }
    h.push_str("<p class=info>Generated by Airlock from the migration's reports.</p></html>\n");
    Ok(h)
}

/// One row per check (severity, code, count) with its examples, as `example` renders one.
fn findings_table(
    h: &mut String,
    findings: &Findings,
    located_by: &str,
    example: impl Fn(&Finding) -> String,
) {
    let _ = write!(
        h,
        "<table><tr><th>severity<th>check<th>count<th>examples ({located_by}: what to do)</tr>"
    );
    for s in findings.summaries() {
        let examples: Vec<String> = s.examples.iter().map(&example).collect();
        let _ = write!(
            h,
            "<tr><td class={sev}>{sev}<td>{}<td class=n>{}<td>{}</tr>",
            esc(&s.check),
            s.count,
            examples.join("<br>"),
            sev = s.severity
        );
    }
    h.push_str("</table>");
}

/// The coverage ledger (every element type and app table, and what became of its rows),
/// then every orphan row the integrity report lists.
fn coverage(h: &mut String, report: &IntegrityReport) {
    let c = &report.coverage;
    let (rows, migrated, skipped, left) = c.totals();
    let _ = write!(
        h,
        "<h2>Coverage</h2><p>{rows} rows in the backup: {migrated} migrated, {skipped} skipped as orphans, {left} not migrated.</p><table><tr><th>file<th>element or table<th>rows<th>migrated<th>skipped<th>not migrated<th>status<th>why</tr>"
    );
    let mut entries: Vec<_> = c.entries.iter().collect();
    entries.sort_by(|a, b| {
        b.not_migrated
            .cmp(&a.not_migrated)
            .then(b.rows.cmp(&a.rows))
    });
    for e in entries {
        let _ = write!(
            h,
            "<tr><td>{}<td>{}<td class=n>{}<td class=n>{}<td class=n>{}<td class=n>{}<td class={}>{}<td>{}</tr>",
            esc(&e.file),
            esc(&e.element),
            e.rows,
            e.migrated,
            e.skipped,
            e.not_migrated,
            if e.not_migrated > 0 { "warning" } else { "ok" },
            esc(e.status.name()),
            esc(&e.reason)
        );
    }
    if c.unnamed_rows > 0 {
        let _ = write!(
            h,
            "<tr><td><td>(element types past the first {})<td class=n>{}<td class=n>0<td class=n>0<td class=n>{}<td class=warning>not supported<td></tr>",
            airlock_engine::MAX_ELEMENT_NAMES,
            c.unnamed_rows,
            c.unnamed_rows
        );
    }
    h.push_str("</table>");
    if report.orphans.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<h3>Orphan rows ({})</h3><p>Their parent is not in the backup. They are skipped (not migrated); <code>--strict</code> makes them fatal.</p><table><tr><th>kind<th>where<th>row<th>field<th>missing parent</tr>",
        report.orphans.len() as u64 + report.orphans_unlisted
    );
    for o in &report.orphans {
        let _ = write!(
            h,
            "<tr><td>{}<td>{}<td>{} {}<td>{}<td>{}</tr>",
            o.kind.name(),
            match o.line {
                Some(line) => format!("entities.xml line {line}"),
                None => o.kind.file().to_owned(),
            },
            esc(&o.entity),
            esc(&o.id),
            esc(&o.field),
            esc(&o.missing)
        );
    }
    if report.orphans_unlisted > 0 {
        let _ = write!(
            h,
            "<tr><td colspan=5>… and {} more, not listed</tr>",
            report.orphans_unlisted
        );
    }
    h.push_str("</table>");
}
