//! The app data stage: one plugin over its own Active Objects tables, batch by batch,
//! analysis then migration. `plugin run` and the demo share it; the core pipeline will
//! drive the same sessions from the staged tables.

use airlock_backup::{AoBatch, AoReader, BackupError};
use airlock_model::{AppFinding, AppOutput, Severity};
use airlock_runtime::{
    Batch, BatchError, GrowingMappings, MemoryAppData, Plugin, Ran, RunPhase, RunSummary, Session,
};
use std::collections::BTreeMap;
use std::io::BufRead;

/// The plugin's own tables, read from a backup: the batches to run and the rows for
/// `app-data.get` joins. Other apps' tables are streamed past, never handed over.
pub struct AppTables {
    pub batches: Vec<AoBatch>,
    pub app_data: MemoryAppData,
    /// Rows per table of the plugin's tables.
    pub rows: BTreeMap<String, u64>,
    /// Tables in the backup that belong to other apps (not given to the plugin).
    pub foreign_tables: Vec<String>,
}

pub fn read_app_tables<R: BufRead>(
    reader: &mut AoReader<R>,
    plugin: &Plugin,
) -> Result<AppTables, BackupError> {
    let manifest = plugin.manifest();
    let prefix = manifest.ao_prefix();
    let wanted = |table: &str| prefix.owns(table) && manifest.tables.iter().any(|t| t == table);
    let foreign_tables = reader
        .tables()
        .iter()
        .map(|t| t.name.clone())
        .filter(|name| !prefix.owns(name))
        .collect();
    let batch_rows = plugin.limits().batch_rows as usize;
    let mut tables = AppTables {
        batches: Vec::new(),
        app_data: MemoryAppData::new(),
        rows: BTreeMap::new(),
        foreign_tables,
    };
    for batch in reader.batches(batch_rows, wanted) {
        let batch = batch?;
        tables
            .app_data
            .extend(&batch.table, &batch.columns, batch.rows.iter().cloned());
        *tables.rows.entry(batch.table.clone()).or_default() += batch.rows.len() as u64;
        tables.batches.push(batch);
    }
    Ok(tables)
}

/// What happened to one batch.
pub struct BatchOutcome {
    pub table: String,
    pub index: u64,
    pub rows: usize,
    pub analyze: Result<Ran<Vec<AppFinding>>, Box<BatchError>>,
    /// `None` when migration was not attempted.
    pub migrate: Option<Result<Ran<Vec<AppOutput>>, Box<BatchError>>>,
}

impl BatchOutcome {
    pub fn fatal_findings(&self) -> usize {
        self.analyze.as_ref().map_or(0, |ran| {
            ran.value
                .iter()
                .filter(|f| f.severity == Severity::Fatal)
                .count()
        })
    }

    pub fn failed(&self) -> bool {
        self.analyze.is_err() || matches!(self.migrate, Some(Err(_)))
    }
}

/// Batch numbers count per table, as checkpoints will.
fn numbered(batches: &[AoBatch]) -> impl Iterator<Item = (u64, &AoBatch)> {
    let mut next: BTreeMap<&str, u64> = BTreeMap::new();
    batches.iter().map(move |b| {
        let n = next.entry(b.table.as_str()).or_default();
        let index = *n;
        *n += 1;
        (index, b)
    })
}

fn as_batch(index: u64, b: &AoBatch) -> Batch<'_> {
    Batch {
        table: &b.table,
        index,
        columns: &b.columns,
        rows: &b.rows,
    }
}

/// Analyses every batch; what a batch publishes is recorded in `mappings` (the session's)
/// before the next runs.
pub fn analyze_all(
    session: &Session,
    batches: &[AoBatch],
    mappings: &GrowingMappings,
) -> Vec<BatchOutcome> {
    numbered(batches)
        .map(|(index, b)| {
            let analyze = session.analyze(as_batch(index, b));
            if let Ok(ran) = &analyze {
                mappings.record(&ran.published);
            }
            BatchOutcome {
                table: b.table.clone(),
                index,
                rows: b.rows.len(),
                analyze,
                migrate: None,
            }
        })
        .collect()
}

/// Migrates every batch whose analysis succeeded, recording what each publishes.
pub fn migrate_all(
    session: &Session,
    batches: &[AoBatch],
    outcomes: &mut [BatchOutcome],
    mappings: &GrowingMappings,
) {
    for ((index, b), outcome) in numbered(batches).zip(outcomes.iter_mut()) {
        if outcome.analyze.is_ok() {
            let migrate = session.migrate(as_batch(index, b));
            if let Ok(ran) = &migrate {
                mappings.record(&ran.published);
            }
            outcome.migrate = Some(migrate);
        }
    }
}

/// Runs the plugin's `finish` (contract 2.0) for a phase the outcomes hold; `None` for a
/// 1.0 plugin.
pub fn finish(
    session: &Session,
    phase: RunPhase,
    outcomes: &[BatchOutcome],
    mappings: &GrowingMappings,
) -> Option<Result<Ran<Vec<AppFinding>>, Box<BatchError>>> {
    let mut summary = RunSummary::default();
    for o in outcomes {
        match phase {
            RunPhase::Analyze => summary.batch(&o.table, o.rows, &o.analyze),
            RunPhase::Migrate => match &o.migrate {
                Some(migrate) => summary.batch(&o.table, o.rows, migrate),
                None => continue,
            },
        }
    }
    let ran = session.finish(phase, &summary)?;
    if let Ok(ran) = &ran {
        mappings.record(&ran.published);
    }
    Some(ran)
}

/// Migrates every successfully migrated batch again, in a fresh instance, and returns
/// the batches whose outputs differ: a plugin must be deterministic, so a retry after a
/// crash writes exactly what the first attempt wrote.
pub fn nondeterministic(
    session: &Session,
    batches: &[AoBatch],
    outcomes: &[BatchOutcome],
) -> Vec<(String, u64)> {
    numbered(batches)
        .zip(outcomes)
        .filter_map(|((index, b), outcome)| {
            let Some(Ok(first)) = &outcome.migrate else {
                return None;
            };
            let again = session.migrate(as_batch(index, b));
            match again {
                Ok(ran) if ran.value == first.value => None,
                _ => Some((b.table.clone(), index)),
            }
        })
        .collect()
}

/// Totals per table, for summaries.
#[derive(Default)]
pub struct TableTotals {
    pub rows: u64,
    pub batches: u64,
    pub findings: BTreeMap<Severity, u64>,
    pub outputs: BTreeMap<&'static str, u64>,
    pub output_bytes: u64,
    pub fuel: u64,
    pub micros: u64,
    pub failed_batches: u64,
}

pub fn totals(outcomes: &[BatchOutcome]) -> BTreeMap<String, TableTotals> {
    let mut by_table: BTreeMap<String, TableTotals> = BTreeMap::new();
    for o in outcomes {
        let t = by_table.entry(o.table.clone()).or_default();
        t.rows += o.rows as u64;
        t.batches += 1;
        if o.failed() {
            t.failed_batches += 1;
        }
        if let Ok(ran) = &o.analyze {
            for f in &ran.value {
                *t.findings.entry(f.severity).or_default() += 1;
            }
            t.fuel += ran.usage.fuel;
            t.micros += ran.usage.elapsed.as_micros() as u64;
        }
        if let Some(Ok(ran)) = &o.migrate {
            for out in &ran.value {
                *t.outputs.entry(out.kind()).or_default() += 1;
                t.output_bytes += out.size() as u64;
            }
            t.fuel += ran.usage.fuel;
            t.micros += ran.usage.elapsed.as_micros() as u64;
        }
    }
    by_table
}
