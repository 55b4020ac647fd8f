//! The review as one self-contained HTML page: the verdict first, then why, then what the
//! plugin touched, the limits, every batch and the transcript.

use std::fmt::Write;

use crate::{Reason, Review, kind_name};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "—".into()
    } else {
        esc(&items.join(", "))
    }
}

fn reasons(h: &mut String, title: &str, class: &str, items: &[Reason]) {
    if items.is_empty() {
        return;
    }
    let _ = write!(h, "<h2>{title}</h2><ul class={class}>");
    for r in items {
        let _ = write!(h, "<li><code>{}</code> {}</li>", esc(&r.code), esc(&r.what));
    }
    h.push_str("</ul>");
}

pub fn render(review: &Review) -> String {
    let mut h = String::from(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Airlock sandbox review</title>\
         <style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}\
         table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}\
         .n{text-align:right}.pass{background:#dfd;padding:.5em}.fail{background:#fdd;padding:.5em}\
         ul.fail li,ul.warn li{margin:.2em 0}.warn{background:#ffd}code{font-size:90%}</style>",
    );
    let p = &review.plugin;
    let _ = write!(
        h,
        "<h1>Sandbox review: {} {}</h1><p>{} · app <code>{}</code> · SHA-256 <code>{}</code></p>",
        esc(p.name.as_deref().unwrap_or("(not loaded)")),
        esc(p.version.as_deref().unwrap_or("")),
        esc(&p.file),
        esc(p.app_key.as_deref().unwrap_or("—")),
        esc(p.sha256.as_deref().unwrap_or("—")),
    );
    let _ = write!(
        h,
        "<p class={}><b>{}</b> — {} failure(s), {} warning(s); data: {}</p>",
        if review.passed { "pass" } else { "fail" },
        if review.passed { "PASS" } else { "FAIL" },
        review.failures.len(),
        review.warnings.len(),
        esc(&review.data)
    );
    reasons(&mut h, "Why it fails", "fail", &review.failures);
    reasons(&mut h, "Warnings", "warn", &review.warnings);

    let a = &review.access;
    h.push_str("<h2>Data access</h2><table><tr><th><th>declared<th>used</tr>");
    for (what, declared, used) in [
        ("tables", &a.tables_declared, &a.tables_read),
        ("namespaces", &a.namespaces_declared, &a.namespaces_resolved),
        ("outputs", &a.outputs_declared, &a.outputs_written),
    ] {
        let _ = write!(
            h,
            "<tr><th>{what}<td>{}<td>{}</tr>",
            list(declared),
            list(used)
        );
    }
    let _ = write!(
        h,
        "<tr><th>scopes<td>{}<td>(consent, not observable)</tr><tr><th>imports<td colspan=2>{}</tr>\
         <tr><th>network<td>none given<td>{} wasi:sockets calls, all refused</tr>\
         <tr><th>files<td>none given<td>{} looks for a directory, all answered with none</tr></table>",
        list(&a.scopes),
        list(&review.plugin.imports),
        a.network_calls,
        a.directory_lookups
    );
    h.push_str("<p>Tables are read through the batches the host gives; “used” lists the tables looked up by id.</p>");

    let l = &review.limits;
    let pct = |f: f64| format!("{:.1}%", f * 100.0);
    let _ = write!(
        h,
        "<h2>Limits</h2><table><tr><th>per valid row<td class=n>{:.0} fuel<td class=n>{:.1} µs<td>over {} rows</tr>\
         <tr><th>worst batch, of its cap<td class=n>fuel {}<td class=n>time {} of {} ms<td>memory {} of {} bytes (peak {}), output {} of {} bytes</tr></table>",
        l.fuel_per_row,
        l.micros_per_row,
        l.valid_rows,
        pct(l.fuel_of_cap),
        pct(l.time_of_deadline),
        l.deadline_ms,
        pct(l.memory_of_cap),
        l.memory_cap,
        l.peak_memory,
        pct(l.output_of_cap),
        l.output_cap,
    );

    let _ = write!(
        h,
        "<h2>Batches</h2><p>Run twice on the same data: {}.</p>",
        if review.deterministic {
            "the same answers and the same lookups"
        } else {
            "<b>the answers or lookups differed</b>"
        }
    );
    let totals = crate::outcome_counts(review);
    h.push_str("<table><tr><th>case<th>table<th>call<th class=n>rows<th>outcome<th>codes<th class=n>outputs<th class=n>fatal findings<th class=n>fuel<th class=n>peak memory<th class=n>µs</tr>");
    for b in &review.batches {
        let _ = write!(
            h,
            "<tr><td>{}<td>{}<td>{}<td class=n>{}<td>{}<td>{}<td class=n>{}<td class=n>{}<td class=n>{}<td class=n>{}<td class=n>{}</tr>",
            kind_name(b.case),
            esc(&b.table),
            b.call,
            b.rows,
            b.outcome,
            list(&b.codes),
            b.outputs,
            b.fatal_findings,
            b.fuel,
            b.peak_memory,
            b.micros
        );
    }
    h.push_str("</table><p>");
    for ((case, outcome), n) in totals {
        let _ = write!(h, "{case} {outcome}: {n} · ");
    }
    h.push_str("</p>");

    let _ = write!(
        h,
        "<h2>Transcript</h2><p>{} import calls (ids only; the first {} here and in review.json).</p>\
         <table><tr><th class=n>batch<th>import<th>of<th class=n>ids<th class=n>found<th>ids asked</tr>",
        review.transcript_calls,
        review.transcript.len().min(500)
    );
    for c in review.transcript.iter().take(500) {
        let mut ids = c.ids.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
        if c.ids.len() > 8 {
            let _ = write!(ids, ", … {} more", c.ids.len() - 8);
        }
        let _ = write!(
            h,
            "<tr><td class=n>{}<td>{}<td>{}<td class=n>{}<td class=n>{}<td><code>{}</code></tr>",
            c.batch,
            c.import,
            esc(&c.of),
            c.ids.len(),
            c.found,
            esc(&ids)
        );
    }
    h.push_str("</table></html>\n");
    h
}
