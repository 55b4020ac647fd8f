//! Human-readable numbers for terminal output.

use std::time::Duration;

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub fn count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.2}G", n as f64 / 1e9),
    }
}

pub fn duration(d: Duration) -> String {
    let us = d.as_micros();
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", d.as_secs_f64()),
    }
}

/// Items separated by commas, or `none`.
pub fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The rows the target refused, as `airlock failures` prints them.
pub fn failures(rows: &[airlock_pipeline::report::FailedRow], format: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match format {
        "json" => {
            serde_json::to_writer_pretty(&mut out, rows)?;
            writeln!(out)?;
        }
        "csv" => {
            writeln!(out, "kind,id,code,reason")?;
            for r in rows {
                writeln!(
                    out,
                    "{},{},{},{}",
                    csv_field(r.kind.name()),
                    csv_field(&r.id),
                    csv_field(&r.code),
                    csv_field(&r.reason)
                )?;
            }
        }
        _ => {
            if rows.is_empty() {
                writeln!(out, "no row failed")?;
            }
            for r in rows {
                writeln!(
                    out,
                    "{:<18} {:<14} {:<22} {}",
                    r.kind.name(),
                    r.id,
                    r.code,
                    r.reason
                )?;
            }
            if !rows.is_empty() {
                writeln!(
                    out,
                    "{} row(s) failed; fix them or answer them in the override file, then run `airlock migrate` again: it retries them",
                    rows.len()
                )?;
            }
        }
    }
    Ok(())
}

/// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; a
/// leading `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does not run it.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(64 << 20), "64.0 MiB");
        assert_eq!(count(999), "999");
        assert_eq!(count(2_500_000), "2.5M");
        assert_eq!(duration(Duration::from_micros(42)), "42 µs");
        assert_eq!(duration(Duration::from_millis(1500)), "1.50 s");
        assert_eq!(list(["a", "b"]), "a, b");
        assert_eq!(list(Vec::<String>::new()), "none");
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(x)"), "'=HYPERLINK(x)");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
