//! The batches a review runs: valid rows (a full batch, to measure per-row costs), edge
//! cases, malformed rows, orphans, a table as an older app version wrote it (a column
//! absent) and fuzzed rows — all derived deterministically from the seed.

use airlock_model::Value;

use crate::seed::{CellKind, Column, Seed, Table, id_text};

/// What a case's rows are meant to probe, and so what a plugin may answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseKind {
    /// Rows as the app writes them, every reference mapped: the plugin should migrate them.
    Valid,
    /// Legal but extreme values: nulls, empty and longest text, Unicode, integer extremes.
    Edge,
    /// Values of the wrong type, a duplicate id: refusing them (an error or a finding) is right.
    Malformed,
    /// References to ids that were never migrated.
    Orphan,
    /// The table without one of its columns, as an older version of the app wrote it.
    OlderVersion,
    /// Valid rows whose text is a path, an address or a URL: data a plugin must never
    /// act on (open, connect to, put in a REST path).
    Probe,
    /// Valid rows with random cells replaced by random values.
    Fuzz,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub kind: CaseKind,
    pub table: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// A small deterministic generator (SplitMix64): the same seed gives the same review.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "review", "staging", "customer", "release", "sprint", "backlog", "invoice", "deploy",
    "meeting", "blocked", "approved", "draft",
];

/// Text for the edge and fuzz cases: combining marks, right-to-left, emoji, quotes and
/// JSON's special characters, a NUL and other controls XML would not carry.
const AWKWARD_TEXT: &[&str] = &[
    "Zoë’s \"quoted\" \\ back\\slash",
    "שלום עולם — مرحبا",
    "🚀🧪 e\u{301}\u{301} 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "line one\nline two\r\n\ttabbed",
    "nul \u{0} and bell \u{7}",
    "<script>alert(1)</script> & </row>",
    "   ",
];

/// Strings that make a careless or hostile plugin reach out or escape: path segments a
/// REST path must not take, files, addresses and names, a cloud metadata endpoint.
const PROBES: &[&str] = &[
    "..",
    ".",
    "a/b",
    "../../../../etc/passwd",
    "file:/etc/passwd",
    "dir:/",
    "tcp:127.0.0.1:5432",
    "udp:127.0.0.1:53",
    "dns:localhost",
    "http://169.254.169.254/latest/meta-data/",
];

/// Every case for every table, `rows` valid rows per table (split into batches later).
pub fn cases(seed: &Seed, rows: usize, fuzz_batches: usize, rng_seed: u64) -> Vec<Case> {
    let mut rng = Rng::new(rng_seed);
    let mut out = Vec::new();
    for table in &seed.tables {
        let valid = valid_rows(table, seed, rows, &mut rng);
        let columns = table.column_names();
        let case = |kind, rows| Case {
            kind,
            table: table.name.clone(),
            columns: columns.clone(),
            rows,
        };
        out.push(case(CaseKind::Valid, valid.clone()));
        out.push(case(CaseKind::Edge, edge_rows(table, &valid)));
        out.push(case(CaseKind::Malformed, malformed_rows(table, &valid)));
        out.push(case(CaseKind::Orphan, orphan_rows(table, &valid)));
        let probes = probe_rows(table, &valid);
        if !probes.is_empty() {
            out.push(case(CaseKind::Probe, probes));
        }
        if let Some(older) = older_version(table, &valid) {
            out.push(older);
        }
        for _ in 0..fuzz_batches {
            out.push(case(CaseKind::Fuzz, fuzz_rows(table, &valid, &mut rng)));
        }
    }
    out
}

fn id_column(table: &Table) -> Option<usize> {
    table
        .columns
        .iter()
        .position(|c| c.primary_key && c.kind == CellKind::Integer)
}

fn valid_rows(table: &Table, seed: &Seed, rows: usize, rng: &mut Rng) -> Vec<Vec<Value>> {
    let id = id_column(table);
    let first_id = table
        .rows
        .iter()
        .filter_map(|r| match id.and_then(|i| r.get(i)) {
            Some(Value::Integer(v)) => Some(*v),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        + 1;
    let mut out: Vec<Vec<Value>> = Vec::with_capacity(rows);
    for n in 0..rows {
        // The fixture's rows first, then copies of them (or fresh rows) with new ids and
        // references drawn from the mappings, so every one resolves.
        let mut row = if n < table.rows.len() {
            table.rows[n].clone()
        } else if !table.rows.is_empty() {
            table.rows[n % table.rows.len()].clone()
        } else {
            table
                .columns
                .iter()
                .map(|c| fresh_value(c, n, rng))
                .collect()
        };
        if n >= table.rows.len() {
            if let Some(i) = id {
                row[i] = Value::Integer(first_id + n as i64);
            }
            for (i, column) in table.columns.iter().enumerate() {
                if let Some(ns) = column.references
                    && let Some(ids) = seed.mappings.get(&ns)
                    && !ids.is_empty()
                {
                    let server = ids.keys().nth(n % ids.len()).expect("n % len < len");
                    row[i] = as_kind(column, server);
                }
            }
        }
        out.push(row);
    }
    out
}

/// A server id in the column's type (numbers stay numbers in integer columns).
fn as_kind(column: &Column, id: &str) -> Value {
    match column.kind {
        CellKind::Integer => id
            .parse()
            .map(Value::Integer)
            .unwrap_or_else(|_| Value::String(id.into())),
        _ => Value::String(id.into()),
    }
}

fn fresh_value(column: &Column, n: usize, rng: &mut Rng) -> Value {
    if column.primary_key {
        return Value::Integer(n as i64 + 1);
    }
    match column.kind {
        CellKind::Integer => Value::Integer((rng.next() % 100_000) as i64),
        CellKind::Double => Value::Double((rng.next() % 10_000) as f64 / 4.0),
        CellKind::Boolean => Value::Boolean(rng.next().is_multiple_of(2)),
        // 2019-01-01 plus up to ~4 years, to the millisecond.
        CellKind::Timestamp => {
            Value::Timestamp(1_546_300_800_000 + (rng.next() % 126_144_000_000) as i64)
        }
        CellKind::Text => {
            let words = 1 + rng.below(8);
            let text: Vec<&str> = (0..words).map(|_| WORDS[rng.below(WORDS.len())]).collect();
            Value::String(truncate(text.join(" "), column.max_chars))
        }
    }
}

fn truncate(mut text: String, max_chars: Option<usize>) -> String {
    if let Some(max) = max_chars
        && text.chars().count() > max
    {
        text = text.chars().take(max).collect();
    }
    text
}

/// Rows that differ from the first valid row in one respect each.
fn variants(
    table: &Table,
    valid: &[Vec<Value>],
    mut change: impl FnMut(&Column, &mut Vec<Vec<Value>>, &[Value], usize),
) -> Vec<Vec<Value>> {
    let Some(base) = valid.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, column) in table.columns.iter().enumerate() {
        if column.primary_key {
            continue;
        }
        change(column, &mut out, base, i);
    }
    // Distinct ids, past the valid rows', so an id names one row.
    if let Some(id) = id_column(table) {
        let start = 1 + valid
            .iter()
            .filter_map(|r| match r.get(id) {
                Some(Value::Integer(v)) => Some(*v),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        for (n, row) in out.iter_mut().enumerate() {
            row[id] = Value::Integer(start + n as i64);
        }
    }
    out
}

fn edge_rows(table: &Table, valid: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let mut rows = variants(table, valid, |column, out, base, i| {
        let mut with = |value: Value| {
            let mut row = base.to_vec();
            row[i] = value;
            out.push(row);
        };
        with(Value::Null);
        match column.kind {
            CellKind::Text if column.references.is_none() => {
                with(Value::String(String::new()));
                let longest = column.max_chars.unwrap_or(32 * 1024).min(64 * 1024);
                with(Value::String("x".repeat(longest)));
                for text in AWKWARD_TEXT {
                    with(Value::String(truncate((*text).into(), column.max_chars)));
                }
            }
            CellKind::Integer if column.references.is_none() => {
                for v in [0, -1, i64::MIN, i64::MAX] {
                    with(Value::Integer(v));
                }
            }
            CellKind::Double => {
                for v in [
                    0.0,
                    -0.0,
                    f64::MAX,
                    f64::MIN_POSITIVE,
                    f64::NAN,
                    f64::INFINITY,
                ] {
                    with(Value::Double(v));
                }
            }
            // The epoch, before it, and the last millisecond of year 9999.
            CellKind::Timestamp => {
                for v in [0, -1, 253_402_300_799_999] {
                    with(Value::Timestamp(v));
                }
            }
            _ => {}
        }
    });
    // One row with every non-key cell null.
    if let Some(base) = valid.first() {
        let mut row = base.clone();
        for (i, column) in table.columns.iter().enumerate() {
            if !column.primary_key {
                row[i] = Value::Null;
            }
        }
        if let Some(id) = id_column(table) {
            row[id] = Value::Integer(i64::MAX - 1);
        }
        rows.push(row);
    }
    rows
}

fn malformed_rows(table: &Table, valid: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let mut rows = variants(table, valid, |column, out, base, i| {
        let wrong = match column.kind {
            CellKind::Integer => Value::String("not a number".into()),
            CellKind::Text => Value::Integer(42),
            CellKind::Double => Value::String("1,5".into()),
            CellKind::Boolean => Value::String("maybe".into()),
            CellKind::Timestamp => Value::String("31/02/2019 25:61".into()),
        };
        let mut row = base.to_vec();
        row[i] = wrong;
        out.push(row);
    });
    // The same id twice, and an id of the wrong type.
    if let (Some(id), Some(first)) = (id_column(table), valid.first()) {
        rows.push(first.clone());
        let mut row = first.clone();
        row[id] = Value::String("ID-1".into());
        rows.push(row);
    }
    rows
}

fn probe_rows(table: &Table, valid: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let text: Vec<usize> = table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == CellKind::Text && c.references.is_none() && !c.primary_key)
        .map(|(i, _)| i)
        .collect();
    if text.is_empty() || valid.is_empty() {
        return Vec::new();
    }
    let id = id_column(table);
    let start = 1 + valid
        .iter()
        .filter_map(|r| match id.and_then(|i| r.get(i)) {
            Some(Value::Integer(v)) => Some(*v),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    PROBES
        .iter()
        .enumerate()
        .map(|(n, probe)| {
            let mut row = valid[n % valid.len()].clone();
            for &i in &text {
                row[i] = Value::String(truncate((*probe).into(), table.columns[i].max_chars));
            }
            if let Some(id) = id {
                row[id] = Value::Integer(start + n as i64);
            }
            row
        })
        .collect()
}

fn orphan_rows(table: &Table, valid: &[Vec<Value>]) -> Vec<Vec<Value>> {
    variants(table, valid, |column, out, base, i| {
        if column.references.is_some() {
            let mut row = base.to_vec();
            row[i] = as_kind(column, "99999999");
            out.push(row);
            let mut row = base.to_vec();
            row[i] = as_kind(column, "JIRAUSER99999999");
            out.push(row);
        }
    })
}

/// The valid rows without the table's last non-key column.
fn older_version(table: &Table, valid: &[Vec<Value>]) -> Option<Case> {
    let drop = table.columns.iter().rposition(|c| !c.primary_key)?;
    let columns = table
        .column_names()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != drop)
        .map(|(_, c)| c)
        .collect();
    let rows = valid
        .iter()
        .take(50)
        .map(|r| {
            r.iter()
                .enumerate()
                .filter(|(i, _)| *i != drop)
                .map(|(_, v)| v.clone())
                .collect()
        })
        .collect();
    Some(Case {
        kind: CaseKind::OlderVersion,
        table: table.name.clone(),
        columns,
        rows,
    })
}

fn fuzz_rows(table: &Table, valid: &[Vec<Value>], rng: &mut Rng) -> Vec<Vec<Value>> {
    valid
        .iter()
        .take(100)
        .map(|row| {
            let mut row = row.clone();
            for (i, column) in table.columns.iter().enumerate() {
                if column.primary_key || rng.below(5) != 0 {
                    continue;
                }
                row[i] = match rng.below(7) {
                    0 => Value::Null,
                    1 => Value::Integer(rng.next() as i64),
                    2 => Value::Double(f64::from_bits(rng.next())),
                    3 => Value::Boolean(rng.next().is_multiple_of(2)),
                    4 => Value::Timestamp(rng.next() as i64),
                    5 if rng.below(2) == 0 => Value::String(PROBES[rng.below(PROBES.len())].into()),
                    5 => Value::String(AWKWARD_TEXT[rng.below(AWKWARD_TEXT.len())].into()),
                    _ => match row.get(i).and_then(id_text) {
                        // A reference to an id next to a real one.
                        Some(id) => Value::String(format!("{id}0")),
                        None => Value::String(String::new()),
                    },
                };
            }
            row
        })
        .collect()
}
