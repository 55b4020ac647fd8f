//! `cargo xtask bench encryption`: what sealing every persisted customer byte costs the
//! demo migration (`airlock demo`'s backup: 10,000 issues with Timesheet Builder data).
//!
//! The core pipeline runs in this process through the engine's library API, as the CLI
//! wires it (`host/cli/src/migrate.rs`): `check` (extract + integrity check into staging),
//! `analyze` against a fresh local site, `load` into it; then the Timesheet Builder tables
//! are staged into an [`AppRows`] and read back in batches twice (the app analysis and the
//! app migration each walk every batch). The app's batches are read from the backup once,
//! before the rounds: `airlock migrate` stages them during the check's pass over
//! activeobjects.xml, which both variants make alike. Two variants, run back to back in
//! each round (which goes first alternates); the median over the rounds of each round's
//! CPU time with against without decides (encryption is CPU work, and wall-clock time on a
//! busy machine swings by more than its whole cost; CPU time swings too, slowly, which a
//! pair run back to back shares). Least against least CPU time and the best and median
//! wall-clock times are printed beside it:
//!
//! - with encryption: [`SealedStaging`] over [`LocalDirBlobs`] with a fresh data key per
//!   round, and [`AppRows`] sealing each row with the same [`Sealer`];
//! - without: [`PlainStaging`], defined here and nowhere else, writing the same objects in
//!   clear to the same blob store (same keys, temporary file, fsync, rename). `AppRows`
//!   always seals, so its time on this side is the measured one less its vault work
//!   (sealing and opening the same row bytes, measured alone after every round; the least
//!   of these), plus plain copies of those bytes in its place. What this leaves out: the
//!   sealed rows are 64 bytes longer in SQLite on both sides.
//!
//! `state.db` (mappings and failures) is sealed through the migration's `FieldCipher` on
//! one side and kept in clear through [`PlainFields`], defined here and nowhere else, on
//! the other; both count their calls, and the cipher's own share is then estimated from
//! those counts and the cipher's cost per call, measured alone. Both sides keep mappings
//! in buckets of neighbouring ids (the state's one layout); on the clear side a bucket's
//! key is its number and its cell the mappings in clear.
//!
//! The backup is generated once and kept under `target/bench-data/`, named by its spec.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use airlock_backup::{AoBatch, Backup};
use airlock_blobs::{BlobError, BlobStore, BlobWrite, LocalDirBlobs, RegionalBlobs};
use airlock_engine::AppRows;
use airlock_engine::load;
use airlock_engine::{FieldError, FieldProtection, State};
use airlock_engine::{Overrides, analyze};
use airlock_fixtures::Spec;
use airlock_model::{AppKey, MigrationId, Region, TenantId};
use airlock_site::{LocalSite, Site};
use airlock_staging::{SealedStaging, StagedWrite, Staging, StagingError};
use airlock_vault::{DataKey, Sealer};
use anyhow::{Context, Result, ensure};

use crate::verdict;

/// `airlock demo`'s default size.
const ISSUES: usize = 10_000;
/// Rounds per variant.
const ROUNDS: usize = 30;
/// Walks over every staged app batch: the app's analysis (phase 2) and its migration.
const APP_READS: usize = 2;
const GOAL: f64 = 0.10;
const MIB: f64 = 1024.0 * 1024.0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Sealed,
    Plain,
}

/// Wall-clock and CPU time (user + system, every thread of this process) of one step.
#[derive(Clone, Copy, Default)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

impl Cost {
    fn measure<T>(step: impl FnOnce() -> Result<T>) -> Result<(T, Cost)> {
        let (wall, cpu) = (Instant::now(), cpu_time());
        let value = step()?;
        let cost = Cost {
            wall: wall.elapsed(),
            cpu: cpu_time().saturating_sub(cpu),
        };
        Ok((value, cost))
    }

    fn plus(self, other: Cost) -> Cost {
        Cost {
            wall: self.wall + other.wall,
            cpu: self.cpu + other.cpu,
        }
    }

    fn minus(self, other: Cost) -> Cost {
        Cost {
            wall: self.wall.saturating_sub(other.wall),
            cpu: self.cpu.saturating_sub(other.cpu),
        }
    }

    /// The least wall and the least CPU time of `costs`: the step without the noise of
    /// whatever else the machine was doing.
    fn least(costs: impl Iterator<Item = Cost>) -> Cost {
        costs
            .reduce(|a, b| Cost {
                wall: a.wall.min(b.wall),
                cpu: a.cpu.min(b.cpu),
            })
            .unwrap_or_default()
    }
}

/// User + system time of every thread of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: rusage is plain data.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is valid for the call; RUSAGE_SELF cannot fail with it.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// One round of one variant.
#[derive(Clone, Copy, Default)]
struct Round {
    check: Cost,
    analyze: Cost,
    load: Cost,
    /// `AppRows::insert` of every batch, then every batch read back `APP_READS` times.
    app_rows: Cost,
    /// The vault's part of `app_rows` (seal every row, open each `APP_READS` times), and
    /// plain copies of the same bytes instead, each measured alone after the round.
    rows_vault: Cost,
    rows_copy: Cost,
    /// Bytes in the blob store after the load (every staged object, as stored).
    staged_bytes: u64,
    staged_objects: usize,
    /// Size of the app rows' SQLite file.
    app_db_bytes: u64,
    /// What the load asked of the state's field protection.
    state_fields: FieldCalls,
}

/// `AppRows` always seals; the side without encryption takes its vault work out and puts
/// plain copies in (the least of every round's measurement, both variants').
#[derive(Clone, Copy)]
struct RowsFix {
    vault: Cost,
    copy: Cost,
}

impl Round {
    fn app(&self, variant: Variant, fix: RowsFix) -> Cost {
        match variant {
            Variant::Sealed => self.app_rows,
            Variant::Plain => self.app_rows.minus(fix.vault).plus(fix.copy),
        }
    }

    fn total(&self, variant: Variant, fix: RowsFix) -> Cost {
        self.check
            .plus(self.analyze)
            .plus(self.load)
            .plus(self.app(variant, fix))
    }

    fn phases(&self, variant: Variant, fix: RowsFix) -> String {
        let s = |c: Cost| c.wall.as_secs_f64();
        format!(
            "check {:.2} s, analyze {:.2} s, load {:.2} s, app rows {:.2} s",
            s(self.check),
            s(self.analyze),
            s(self.load),
            s(self.app(variant, fix)),
        )
    }
}

/// The rounds of one variant, summarised.
struct Summary {
    variant: Variant,
    /// The round of least wall-clock time.
    best: Round,
    wall: Duration,
    median_wall: Duration,
    /// The least CPU time of any round.
    cpu: Duration,
    /// The least CPU time of check, analyze and load (the phases that use staging).
    staging_phases_cpu: Duration,
}

impl Summary {
    fn of(variant: Variant, rounds: &[Round], fix: RowsFix) -> Summary {
        let best = *rounds
            .iter()
            .min_by_key(|r| r.total(variant, fix).wall)
            .expect("at least one round");
        let mut walls: Vec<Duration> = rounds.iter().map(|r| r.total(variant, fix).wall).collect();
        walls.sort();
        Summary {
            variant,
            best,
            wall: best.total(variant, fix).wall,
            median_wall: walls[walls.len() / 2],
            cpu: rounds
                .iter()
                .map(|r| r.total(variant, fix).cpu)
                .min()
                .unwrap_or_default(),
            staging_phases_cpu: rounds
                .iter()
                .map(|r| r.check.plus(r.analyze).plus(r.load).cpu)
                .min()
                .unwrap_or_default(),
        }
    }
}

/// Each round's two variants, run back to back, against each other.
struct Paired {
    /// The median of with / without, CPU time of the whole migration.
    ratio: f64,
    /// The lower and upper quartile of the same ratios.
    quartiles: (f64, f64),
    /// Median differences of CPU time (ms), with − without: check, analyze, load, app rows.
    phases: [f64; 4],
}

impl Paired {
    fn of(sealed: &[Round], plain: &[Round], fix: RowsFix) -> Paired {
        let median = |mut v: Vec<f64>| -> f64 {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        let pairs = || sealed.iter().zip(plain);
        let mut ratios: Vec<f64> = pairs()
            .map(|(s, p)| {
                let (s, p) = (s.total(Variant::Sealed, fix), p.total(Variant::Plain, fix));
                s.cpu.as_secs_f64() / p.cpu.as_secs_f64()
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let quartile = |q: usize| {
            ratios
                .get(ratios.len() * q / 4)
                .copied()
                .unwrap_or(f64::NAN)
        };
        let ms = |c: Cost| c.cpu.as_secs_f64() * 1e3;
        let phase = |f: &dyn Fn(&Round, Variant) -> Cost| {
            median(
                pairs()
                    .map(|(s, p)| ms(f(s, Variant::Sealed)) - ms(f(p, Variant::Plain)))
                    .collect(),
            )
        };
        Paired {
            ratio: quartile(2),
            quartiles: (quartile(1), quartile(3)),
            phases: [
                phase(&|r, _| r.check),
                phase(&|r, _| r.analyze),
                phase(&|r, _| r.load),
                phase(&|r, v| r.app(v, fix)),
            ],
        }
    }
}

pub fn run() -> Result<()> {
    let data = bench_data()?;
    let backup = cached_backup(&data)?;
    let app = AppTables::read(&backup)?;
    println!(
        "encryption: the demo migration in-process, sealed against in clear (check, analyze, load into a fresh local site; \
         Timesheet Builder rows staged and read back {APP_READS}×), {ROUNDS} alternated rounds each"
    );

    let mut sealed_rounds = Vec::new();
    let mut plain_rounds = Vec::new();
    let mut entity_rows = 0;
    for round in 0..ROUNDS {
        // Alternate which goes first, so neither always inherits the other's page cache.
        let order = if round % 2 == 0 {
            [Variant::Sealed, Variant::Plain]
        } else {
            [Variant::Plain, Variant::Sealed]
        };
        for variant in order {
            let (r, rows) = migrate(&data, &backup, &app, variant)
                .with_context(|| format!("round {} of the encryption benchmark", round + 1))?;
            entity_rows = rows;
            match variant {
                Variant::Sealed => sealed_rounds.push(r),
                Variant::Plain => plain_rounds.push(r),
            }
        }
    }
    let all = || sealed_rounds.iter().chain(&plain_rounds);
    let state_fields = sealed_rounds
        .last()
        .map(|r| r.state_fields)
        .unwrap_or_default();
    let state_vault = state_fields.vault_cost()?;
    let fix = RowsFix {
        vault: Cost::least(all().map(|r| r.rows_vault)),
        copy: Cost::least(all().map(|r| r.rows_copy)),
    };
    let sealed = Summary::of(Variant::Sealed, &sealed_rounds, fix);
    let plain = Summary::of(Variant::Plain, &plain_rounds, fix);

    println!(
        "  backup: {} issues, {} rows in entities.xml, {} Timesheet Builder rows in {} batches, {:.0} MiB of XML",
        thousands(ISSUES as u64),
        thousands(entity_rows),
        thousands(app.rows.len() as u64),
        app.batches.len(),
        backup.xml_bytes as f64 / MIB
    );
    for (name, s) in [
        ("with encryption   ", &sealed),
        ("without encryption", &plain),
    ] {
        println!(
            "  {name} {:>5.2} s (median {:.2} s), least CPU {:.2} s: {}",
            s.wall.as_secs_f64(),
            s.median_wall.as_secs_f64(),
            s.cpu.as_secs_f64(),
            s.best.phases(s.variant, fix)
        );
    }
    println!(
        "  staged: {} objects, {:.1} MiB sealed / {:.1} MiB in clear (+{:.2}%); app rows: {:.1} MiB sealed / {:.1} MiB in clear \
         (SQLite file {:.1} MiB)",
        sealed.best.staged_objects,
        sealed.best.staged_bytes as f64 / MIB,
        plain.best.staged_bytes as f64 / MIB,
        (sealed.best.staged_bytes as f64 / plain.best.staged_bytes as f64 - 1.0) * 100.0,
        app.sealed_bytes as f64 / MIB,
        app.plain_bytes as f64 / MIB,
        sealed.best.app_db_bytes as f64 / MIB,
    );
    println!(
        "  what differs: with = SealedStaging (AES-256-GCM, fresh data key per round) over LocalDirBlobs, AppRows sealing each row,"
    );
    println!(
        "    state.db's buckets of mappings and its failures sealed and keyed by tokens (FieldCipher);"
    );
    println!(
        "    without = a plaintext Staging and state.db in clear (both in this benchmark only) over the same LocalDirBlobs store (same keys, fsync, rename),"
    );
    println!(
        "    and for app rows (AppRows always seals) its measured time − its vault work alone ({:.3} s: seal {} rows, open them {APP_READS}×)",
        fix.vault.wall.as_secs_f64(),
        thousands(app.rows.len() as u64),
    );
    println!(
        "    + plain copies of the same bytes ({:.3} s); the same in both: backup, engine, local site, SQLite",
        fix.copy.wall.as_secs_f64(),
    );
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64() - 1.0;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let vault = fix.vault.cpu.saturating_sub(fix.copy.cpu);
    println!(
        "  where the CPU time goes: staging {:+.0} ms (check, analyze, load; least against least), \
         app rows' vault work {:+.0} ms ({:.2} µs per row sealed or opened)",
        ms(sealed.staging_phases_cpu) - ms(plain.staging_phases_cpu),
        ms(vault),
        vault.as_secs_f64() * 1e6 / ((1 + APP_READS) * app.rows.len()) as f64
    );
    println!(
        "  state.db: {} tokens, {} seals ({:.0} bytes on average), {} opens per migration; the cipher's own share \
         ≈ {:.0} ms of CPU ({:.2}% of the migration with encryption; its cost per call measured alone)",
        thousands(state_fields.tokens),
        thousands(state_fields.seals),
        state_fields.sealed_bytes as f64 / state_fields.seals.max(1) as f64,
        thousands(state_fields.opens),
        ms(state_vault),
        state_vault.as_secs_f64() / sealed.cpu.as_secs_f64() * 100.0,
    );
    // Encryption is CPU work: its cost is the CPU time it adds. Wall-clock time also holds
    // the waits for a core, and on a machine busy with anything else those swing by more
    // than the whole cost of encryption from one round to the next. CPU time swings too on
    // a shared machine (by a third between rounds here), and slowly: so each round's two
    // variants, run back to back, are compared with each other, and the median of those
    // paired ratios decides.
    let paired = Paired::of(&sealed_rounds, &plain_rounds, fix);
    println!(
        "  per phase, CPU time with − without (median of the {ROUNDS} pairs): check {:+.1} ms, analyze {:+.1} ms, load {:+.1} ms, app rows {:+.1} ms",
        paired.phases[0], paired.phases[1], paired.phases[2], paired.phases[3],
    );
    let cost = paired.ratio - 1.0;
    println!(
        "  with / without: CPU time {:+.1}% (median of the paired ratios: this decides; quartiles {:+.1}% .. {:+.1}%), \
         {:+.1}% least against least; wall-clock {:+.1}% best against best, {:+.1}% median against median",
        cost * 100.0,
        (paired.quartiles.0 - 1.0) * 100.0,
        (paired.quartiles.1 - 1.0) * 100.0,
        ratio(sealed.cpu, plain.cpu) * 100.0,
        ratio(sealed.wall, plain.wall) * 100.0,
        ratio(sealed.median_wall, plain.median_wall) * 100.0,
    );
    println!(
        "  encryption costs {:.1}% of the migration (goal ≤ {:.0}%): {}\n",
        cost * 100.0,
        GOAL * 100.0,
        verdict(cost <= GOAL)
    );
    Ok(())
}

/// One migration of `backup` into a fresh work directory; also the rows the check counted.
fn migrate(
    data: &Path,
    backup: &CachedBackup,
    app: &AppTables,
    variant: Variant,
) -> Result<(Round, u64)> {
    let work = tempfile::Builder::new()
        .prefix("work-encryption-")
        .tempdir_in(data)?;
    let (tenant, migration) = (TenantId::new("bench"), MigrationId::new("encryption"));
    let sealer = Arc::new(Sealer::new(
        tenant.clone(),
        migration.clone(),
        DataKey::generate()?,
    ));
    let blobs = LocalDirBlobs::new(work.path().join("blobs"))?.store(Region::default())?;
    let staging: Box<dyn Staging> = match variant {
        Variant::Sealed => Box::new(SealedStaging::new(sealer.clone(), blobs.clone())),
        Variant::Plain => Box::new(PlainStaging::new(blobs.clone(), &tenant, &migration)),
    };
    let mut site = LocalSite::open(&work.path().join("site.db"))?;
    let fields = Arc::new(CountedFields {
        inner: match variant {
            Variant::Sealed => Arc::new(sealer.field_cipher("state")),
            Variant::Plain => Arc::new(PlainFields),
        },
        calls: Default::default(),
    });
    let mut state = State::open(&work.path().join("state.db"), fields.clone())?;
    let enabled = [AppKey::new(timesheet_builder::APP_KEY)];
    let mut round = Round::default();

    let (checked, cost) = Cost::measure(|| {
        Ok(airlock_engine::check(
            &backup.path,
            staging.as_ref(),
            &enabled,
            &[],
            |_| {},
        )?)
    })?;
    round.check = cost;
    ensure!(
        !checked.report.blocks_migration(),
        "the demo backup has {} fatal findings",
        checked.report.fatal()
    );
    let counts = checked.report.counts.clone();

    let (plan, cost) = Cost::measure(|| {
        Ok(analyze(
            staging.as_ref(),
            &counts,
            &site.snapshot()?,
            &site.describe(),
            &Overrides::default(),
        )?)
    })?;
    round.analyze = cost;
    ensure!(!plan.blocks_migration(), "the demo's plan has problems");

    let (summary, cost) = Cost::measure(|| {
        Ok(load(
            staging.as_ref(),
            &mut state,
            &mut site,
            &plan.decisions,
            &counts,
            |_| {},
        )?)
    })?;
    round.load = cost;
    ensure!(
        summary.failed.values().all(|n| *n == 0),
        "the load failed records: {:?}",
        summary.failed
    );
    round.state_fields = fields.calls();
    round.staged_objects = blobs.list("")?.len();
    round.staged_bytes = dir_size(&work.path().join("blobs"));

    // The app data phase's storage: rows in, then every batch out, as `each_batch` does.
    let db = work.path().join("app-rows.db");
    let store = AppRows::create(&db, sealer.clone())?;
    let (read, cost) = Cost::measure(|| {
        for batch in &app.batches {
            store.insert(batch)?;
        }
        store.mark_complete("bench")?;
        let mut read = 0;
        for _ in 0..APP_READS {
            for table in store.tables()? {
                let mut offset = 0u64;
                while let Some(batch) = store.batch(&table, offset, app.batch_rows)? {
                    offset += batch.rows.len() as u64;
                    read += std::hint::black_box(batch).rows.len();
                }
            }
        }
        Ok(read)
    })?;
    round.app_rows = cost;
    ensure!(
        read == APP_READS * app.rows.len(),
        "read {read} app rows back, not {APP_READS} × {}",
        app.rows.len()
    );
    round.app_db_bytes = std::fs::metadata(&db)?.len();
    (round.rows_vault, round.rows_copy) = app.vault_and_copy(&sealer)?;
    let rows = counts.values().sum();
    drop((store, staging, site, state));
    Ok((round, rows))
}

/// Staged objects in clear: the baseline the sealing is measured against. Same blob
/// store, same keys as [`SealedStaging`] (`<tenant>/<migration>/staging/<name>`), so the
/// only difference is the vault. Deliberately here, in the benchmark, and nowhere else.
struct PlainStaging {
    blobs: Arc<dyn BlobStore>,
    prefix: String,
}

impl PlainStaging {
    fn new(blobs: Arc<dyn BlobStore>, tenant: &TenantId, migration: &MigrationId) -> Self {
        PlainStaging {
            blobs,
            prefix: format!("{}/{}/staging/", tenant.as_str(), migration.as_str()),
        }
    }

    fn error(name: &str) -> impl FnOnce(BlobError) -> StagingError + '_ {
        move |source| StagingError::from_blob(name, source)
    }
}

struct PlainWrite {
    name: String,
    out: Box<dyn BlobWrite>,
}

impl Write for PlainWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl StagedWrite for PlainWrite {
    fn finish(self: Box<Self>) -> Result<u64, StagingError> {
        let PlainWrite { name, out } = *self;
        out.finish()
            .map_err(|source| StagingError::Blob { name, source })
    }
}

impl Staging for PlainStaging {
    fn create(&self, name: &str) -> Result<Box<dyn StagedWrite>, StagingError> {
        let out = self
            .blobs
            .create(&format!("{}{name}", self.prefix))
            .map_err(Self::error(name))?;
        Ok(Box::new(PlainWrite {
            name: name.to_owned(),
            out,
        }))
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + Send>, StagingError> {
        self.blobs
            .open(&format!("{}{name}", self.prefix))
            .map_err(Self::error(name))
    }

    fn exists(&self, name: &str) -> Result<bool, StagingError> {
        self.blobs
            .exists(&format!("{}{name}", self.prefix))
            .map_err(Self::error(name))
    }

    fn remove(&self, name: &str) -> Result<(), StagingError> {
        self.blobs
            .delete(&format!("{}{name}", self.prefix))
            .map_err(Self::error(name))
    }
}

/// State cells in clear: the baseline the state file's sealing is measured against. A value
/// is its own token (the row's namespace or kind, its other key column, already keeps
/// contexts apart). Deliberately here, in the benchmark, and nowhere else.
struct PlainFields;

impl FieldProtection for PlainFields {
    fn token(&self, _context: &[u8], value: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(value);
    }

    fn seal(&self, _ad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(plaintext);
    }

    fn open(&self, _ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, FieldError> {
        Ok(sealed.to_vec())
    }
}

/// Counts what the state asks of a field protection (both sides alike: a relaxed add).
struct CountedFields {
    inner: Arc<dyn FieldProtection>,
    calls: [AtomicU64; 4],
}

impl CountedFields {
    fn calls(&self) -> FieldCalls {
        let [tokens, seals, sealed_bytes, opens] =
            self.calls.each_ref().map(|n| n.load(Ordering::Relaxed));
        FieldCalls {
            tokens,
            seals,
            sealed_bytes,
            opens,
        }
    }
}

impl FieldProtection for CountedFields {
    fn token(&self, context: &[u8], value: &[u8], out: &mut Vec<u8>) {
        self.calls[0].fetch_add(1, Ordering::Relaxed);
        self.inner.token(context, value, out)
    }

    fn seal(&self, ad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        self.calls[1].fetch_add(1, Ordering::Relaxed);
        self.calls[2].fetch_add(plaintext.len() as u64, Ordering::Relaxed);
        self.inner.seal(ad, plaintext, out)
    }

    fn open(&self, ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, FieldError> {
        self.calls[3].fetch_add(1, Ordering::Relaxed);
        self.inner.open(ad, sealed)
    }
}

/// The state's field protection calls of one migration.
#[derive(Clone, Copy, Default)]
struct FieldCalls {
    tokens: u64,
    seals: u64,
    sealed_bytes: u64,
    opens: u64,
}

impl FieldCalls {
    /// CPU time the field cipher spends on these calls, less what [`PlainFields`] spends
    /// on them: the same calls made alone (values of the average size), the least of a
    /// few runs each.
    fn vault_cost(&self) -> Result<Duration> {
        let cipher = Sealer::new(
            TenantId::new("bench"),
            MigrationId::new("state"),
            DataKey::generate()?,
        )
        .field_cipher("state");
        let plaintext = vec![b'x'; (self.sealed_bytes / self.seals.max(1)) as usize];
        let ad = [0u8; 40];
        let cost = |fields: &dyn FieldProtection| -> Result<Duration> {
            let mut least = Duration::MAX;
            for _ in 0..5 {
                let ((), cost) = Cost::measure(|| {
                    // One buffer reused, as the state does.
                    let mut out = Vec::new();
                    for i in 0..self.tokens {
                        out.clear();
                        fields.token(b"mappings:issue", &i.to_be_bytes(), &mut out);
                        std::hint::black_box(&out);
                    }
                    for _ in 0..self.seals {
                        out.clear();
                        fields.seal(&ad, &plaintext, &mut out);
                        std::hint::black_box(&out);
                    }
                    let mut sealed = Vec::new();
                    fields.seal(&ad, &plaintext, &mut sealed);
                    for _ in 0..self.opens {
                        std::hint::black_box(
                            fields
                                .open(&ad, &sealed)
                                .map_err(anyhow::Error::from_boxed)?,
                        );
                    }
                    Ok(())
                })?;
                least = least.min(cost.cpu);
            }
            Ok(least)
        };
        Ok(cost(&cipher)?.saturating_sub(cost(&PlainFields)?))
    }
}

/// The Timesheet Builder tables of the backup, read once (the check reads
/// activeobjects.xml in both variants alike), and their rows as `AppRows` encodes them.
struct AppTables {
    batches: Vec<AoBatch>,
    batch_rows: usize,
    /// (table, the row's record index, its bytes in clear).
    rows: Vec<(String, u32, Vec<u8>)>,
    plain_bytes: u64,
    sealed_bytes: u64,
}

impl AppTables {
    fn read(backup: &CachedBackup) -> Result<AppTables> {
        let batch_rows = airlock_runtime::Limits::default().batch_rows as usize;
        let tables: Vec<&str> = timesheet_builder::Entity::ALL
            .iter()
            .map(|e| e.table())
            .collect();
        let mut zip = Backup::open(&backup.path)?;
        let batches = zip
            .active_objects()?
            .batches(batch_rows, |t| tables.contains(&t))
            .collect::<Result<Vec<_>, _>>()?;
        ensure!(!batches.is_empty(), "the demo backup has no app rows");
        let mut rows = Vec::new();
        for batch in &batches {
            for (i, row) in batch.rows.iter().enumerate() {
                let mut bytes = Vec::new();
                airlock_engine::encode_row(row, &mut bytes);
                let seq = u32::try_from(batch.offset + i as u64)?;
                rows.push((batch.table.clone(), seq, bytes));
            }
        }
        let plain_bytes = rows.iter().map(|(_, _, b)| b.len() as u64).sum();
        let sealer = Sealer::new(
            TenantId::new("bench"),
            MigrationId::new("size"),
            DataKey::generate()?,
        );
        let set = sealer.new_record_set("app-rows/size");
        let sealed_bytes = rows
            .iter()
            .map(|(_, i, b)| set.seal(*i, b).len() as u64)
            .sum();
        Ok(AppTables {
            batches,
            batch_rows,
            rows,
            plain_bytes,
            sealed_bytes,
        })
    }

    /// What `AppRows` spends on the vault for these rows (seal each once, open each
    /// `APP_READS` times), and the plain copies a store in clear would make instead.
    fn vault_and_copy(&self, sealer: &Sealer) -> Result<(Cost, Cost)> {
        let ((), vault) = Cost::measure(|| {
            // One record set per table, as `AppRows` keeps them.
            let mut sets = std::collections::HashMap::new();
            for (table, _, _) in &self.rows {
                sets.entry(table.as_str())
                    .or_insert_with(|| sealer.new_record_set(&format!("app-rows/{table}")));
            }
            let sealed: Vec<Vec<u8>> = self
                .rows
                .iter()
                .map(|(table, i, bytes)| sets[table.as_str()].seal(*i, bytes))
                .collect();
            for _ in 0..APP_READS {
                for ((table, i, _), s) in self.rows.iter().zip(&sealed) {
                    std::hint::black_box(sets[table.as_str()].open(*i, s)?);
                }
            }
            Ok(())
        })?;
        let ((), copy) = Cost::measure(|| {
            let copies: Vec<Vec<u8>> = self.rows.iter().map(|(_, _, b)| b.to_vec()).collect();
            for _ in 0..APP_READS {
                for c in &copies {
                    std::hint::black_box(c.to_vec());
                }
            }
            Ok(())
        })?;
        Ok((vault, copy))
    }
}

struct CachedBackup {
    path: PathBuf,
    /// entities.xml + activeobjects.xml, uncompressed.
    xml_bytes: u64,
}

/// `target/bench-data/`, beside the profile directory this binary runs from.
fn bench_data() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate the bench binary")?;
    let mut profile = exe.parent().context("the bench binary has no directory")?;
    if profile.ends_with("deps") {
        profile = profile.parent().context("no profile directory")?;
    }
    let data = profile
        .parent()
        .context("no target directory")?
        .join("bench-data");
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    Ok(data)
}

/// `airlock demo`'s backup, generated once and kept.
fn cached_backup(data: &Path) -> Result<CachedBackup> {
    let spec = Spec {
        issues: ISSUES,
        ..Spec::default()
    };
    let name = format!("demo-{ISSUES}-issues-{:016x}", fnv(&format!("{spec:?}")));
    let path = data.join(format!("{name}.zip"));
    if !path.is_file() {
        let partial = data.join(format!("{name}.zip.partial"));
        let started = Instant::now();
        airlock_fixtures::write_backup(&partial, &spec)?;
        std::fs::rename(&partial, &path)?;
        eprintln!(
            "generated {} in {:.0} s",
            path.display(),
            started.elapsed().as_secs_f64()
        );
    }
    let backup = Backup::open(&path)?;
    Ok(CachedBackup {
        xml_bytes: backup.entities_size() + backup.active_objects_size(),
        path,
    })
}

/// FNV-1a: a stable name for a spec across runs and toolchains.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
