//! `cargo xtask bench migrate`: the whole migration, as an operator runs it.
//!
//! - throughput: the whole pipeline (`airlock_pipeline::run`, as `airlock migrate` runs it:
//!   check, analyze, load into a fresh local site, Timesheet Builder's app data, verify) on
//!   a 100,000-issue backup, run in a child process (this binary, `--migrate-child`, with
//!   the plugin compile cache `airlock` keeps by default), as a ratio to reading the same backup and doing nothing else (every entity
//!   of entities.xml, every batch of activeobjects.xml, through `airlock_backup`): the
//!   median over five rounds of the two run back to back;
//! - memory: the child's peak RSS (`wait4`'s `ru_maxrss`) at 100,000 and 1,000,000 issues.
//!
//! Backups are generated as `airlock gen-backup` does and kept under `target/bench-data/`,
//! named by their spec, so a rerun starts at once.

use airlock_backup::Backup;
use airlock_fixtures::Spec;
use anyhow::{Context, Result, bail, ensure};
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::verdict;

const SMALL: usize = 100_000;
/// Throughput rounds (a parse-only run and a migration each).
const ROUNDS: usize = 5;
const LARGE: usize = 1_000_000;
const MIB: f64 = 1024.0 * 1024.0;

pub fn run() -> Result<()> {
    let dirs = Dirs::locate()?;
    println!(
        "migrate end to end (airlock-pipeline with Timesheet Builder, in a child process, into a fresh local site)"
    );
    let small = cached_backup(&dirs, SMALL)?;
    // On a shared machine one run of each swings by more than the goal's margin: parse-only
    // and migrate run back to back, ROUNDS times, and the median of the paired ratios
    // decides.
    let mut pairs = Vec::new();
    for _ in 0..ROUNDS {
        let parsed = parse_only(&small)?;
        let migrated = migrate(&dirs, &small)?;
        pairs.push((parsed, migrated));
    }
    let mut ratios: Vec<f64> = pairs
        .iter()
        .map(|(p, m)| p.as_secs_f64() / m.elapsed.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    // The round whose ratio is the median is the one shown.
    let (parsed, migrated) = pairs
        .into_iter()
        .find(|(p, m)| p.as_secs_f64() / m.elapsed.as_secs_f64() == ratio)
        .expect("the median is one of the rounds");
    let size_mb = small.xml_bytes as f64 / MIB;
    let rate = |d: Duration| {
        format!(
            "{} rows/s, {:.1} MiB/s",
            thousands((small.entity_rows as f64 / d.as_secs_f64()) as u64),
            size_mb / d.as_secs_f64()
        )
    };
    println!(
        "  backup: {} issues, {} entities.xml rows, {} app rows, {:.0} MiB of XML ({:.0} MiB zipped)",
        thousands(SMALL as u64),
        thousands(small.entity_rows),
        thousands(small.ao_rows),
        size_mb,
        small.zip_bytes as f64 / MIB
    );
    println!(
        "  parse only {:>6.1} s: {} (every entity and AO batch, nothing else)",
        parsed.as_secs_f64(),
        rate(parsed)
    );
    println!(
        "  migrate    {:>6.1} s: {} ({})",
        migrated.elapsed.as_secs_f64(),
        rate(migrated.elapsed),
        migrated.phases()
    );
    println!(
        "  ratio migrate / parse-only throughput = {ratio:.2} (median of {ROUNDS} rounds, each run back to back; \
         all: {}); goal ≥ 0.33: {}\n",
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(" "),
        verdict(ratio >= 0.33)
    );

    let large = cached_backup(&dirs, LARGE)?;
    let big = migrate(&dirs, &large)?;
    println!("peak RSS of the migration child (wait4 ru_maxrss)");
    for (backup, run) in [(&small, &migrated), (&large, &big)] {
        println!(
            "  {:>9} issues: {:>6.0} MiB (highest sampled in {}); {:.0} MiB of XML migrated in {:.1} s, {} rows/s; work dir {:.0} MiB",
            thousands(backup.issues as u64),
            run.peak_rss as f64 / MIB,
            run.peak_phase,
            backup.xml_bytes as f64 / MIB,
            run.elapsed.as_secs_f64(),
            thousands((backup.entity_rows as f64 / run.elapsed.as_secs_f64()) as u64),
            run.work_bytes as f64 / MIB,
        );
        println!("    {}", run.phases());
    }
    let growth = big.peak_rss as f64 / migrated.peak_rss as f64;
    let under = big.peak_rss < 1 << 30;
    println!(
        "  ratio {}/{} issues = {growth:.2}×; goal ≤ 1.5×: {}; under 1 GiB at {} issues: {}\n",
        thousands(LARGE as u64),
        thousands(SMALL as u64),
        verdict(growth <= 1.5),
        thousands(LARGE as u64),
        if under { "yes" } else { "NO" }
    );
    Ok(())
}

/// This binary (run again as the migration child) and where generated backups and work
/// directories go.
pub(crate) struct Dirs {
    child: PathBuf,
    pub data: PathBuf,
}

impl Dirs {
    pub fn locate() -> Result<Dirs> {
        // This binary is target/<profile>/airlock-bench (or …/deps/ when run as a test).
        let exe = std::env::current_exe().context("cannot locate the bench binary")?;
        let mut profile = exe.parent().context("the bench binary has no directory")?;
        if profile.ends_with("deps") {
            profile = profile.parent().context("no profile directory")?;
        }
        let target = profile.parent().context("no target directory")?;
        let data = target.join("bench-data");
        std::fs::create_dir_all(&data)
            .with_context(|| format!("cannot create {}", data.display()))?;
        // Work directories of runs that were interrupted (gigabytes at a million issues).
        for entry in std::fs::read_dir(&data)?.filter_map(|e| e.ok()) {
            if entry.file_name().to_string_lossy().starts_with("work-") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(Dirs { child: exe, data })
    }
}

/// The migration child: `airlock-bench --migrate-child BACKUP WORK CACHE` runs the pipeline
/// as `airlock migrate BACKUP --work WORK --plugin timesheet_builder.wasm` does (with its
/// compile cache, here CACHE; the local site beside the work directory) and prints each
/// phase's start and end as a JSON line for the parent to time.
pub fn child(args: &[String]) -> Result<()> {
    let [backup, work, cache] = args else {
        bail!("usage: airlock-bench --migrate-child BACKUP WORK CACHE");
    };
    let runtime = airlock_runtime::Runtime::new(airlock_runtime::RuntimeConfig {
        cache_dir: Some(PathBuf::from(cache)),
        ..airlock_runtime::RuntimeConfig::default()
    })?;
    let plugin = runtime.load_file(Path::new(airlock_plugin_artifacts::TIMESHEET_BUILDER))?;
    let apps = vec![airlock_pipeline::EnabledApp::as_asked(plugin)];
    let mut phases = |event: &airlock_pipeline::Event<'_>| {
        if matches!(
            event,
            airlock_pipeline::Event::PhaseStarted { .. }
                | airlock_pipeline::Event::PhaseFinished { .. }
        ) && let Ok(line) = serde_json::to_string(event)
        {
            println!("{line}");
        }
    };
    let outcome = airlock_pipeline::run(
        airlock_pipeline::Config::new(backup, work),
        apps,
        &mut phases,
        airlock_pipeline::Until::Migrate,
    )?;
    ensure!(
        outcome.succeeded(),
        "the migration did not succeed: {outcome:?}"
    );
    Ok(())
}

/// The phases as the child names them.
const PHASES: [&str; 5] = ["check", "analyze", "load", "apps", "verify"];

/// A phase event line of the child: (started?, phase).
fn phase_event(line: &str) -> Option<(bool, &'static str)> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let started = match value.get("event")?.as_str()? {
        "phase-started" => true,
        "phase-finished" => false,
        _ => return None,
    };
    let name = value.get("phase")?.as_str()?;
    PHASES.iter().find(|p| **p == name).map(|p| (started, *p))
}

/// What `airlock gen-backup --issues N` writes.
pub(crate) fn spec(issues: usize) -> Spec {
    Spec {
        issues,
        users: (issues / 20).clamp(50, 5_000),
        projects: (issues / 2_000).clamp(3, 50),
        teams: (issues / 250).clamp(8, 400),
        ..Spec::default()
    }
}

pub(crate) struct CachedBackup {
    pub path: PathBuf,
    issues: usize,
    pub entity_rows: u64,
    ao_rows: u64,
    /// entities.xml + activeobjects.xml, uncompressed.
    xml_bytes: u64,
    zip_bytes: u64,
}

/// FNV-1a: a stable name for a spec across runs and toolchains.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The backup of `spec(issues)`, generated once and kept; its row counts beside it.
pub(crate) fn cached_backup(dirs: &Dirs, issues: usize) -> Result<CachedBackup> {
    let spec = spec(issues);
    let name = format!("backup-{issues}-issues-{:016x}", fnv(&format!("{spec:?}")));
    let path = dirs.data.join(format!("{name}.zip"));
    let counts = dirs.data.join(format!("{name}.rows"));
    let read_counts = || -> Option<(u64, u64)> {
        let text = std::fs::read_to_string(&counts).ok()?;
        let (e, a) = text.trim().split_once(' ')?;
        Some((e.parse().ok()?, a.parse().ok()?))
    };
    let (entity_rows, ao_rows) = match (path.is_file(), read_counts()) {
        (true, Some(c)) => c,
        _ => {
            let partial = dirs.data.join(format!("{name}.zip.partial"));
            let started = Instant::now();
            let generated = with_progress(
                |elapsed| {
                    let written = std::fs::metadata(&partial).map_or(0, |m| m.len());
                    format!(
                        "generating the {}-issue backup: {} s, {:.0} MiB zipped so far",
                        thousands(issues as u64),
                        elapsed.as_secs(),
                        written as f64 / MIB
                    )
                },
                || airlock_fixtures::write_backup(&partial, &spec).map_err(anyhow::Error::from),
            )?;
            std::fs::rename(&partial, &path)?;
            let c = (
                generated.entity_counts.values().sum(),
                generated.ao_rows.values().sum(),
            );
            std::fs::write(&counts, format!("{} {}\n", c.0, c.1))?;
            eprintln!(
                "generated {} in {:.0} s",
                path.display(),
                started.elapsed().as_secs_f64()
            );
            c
        }
    };
    let backup = Backup::open(&path)?;
    Ok(CachedBackup {
        xml_bytes: backup.entities_size() + backup.active_objects_size(),
        zip_bytes: std::fs::metadata(&path)?.len(),
        path,
        issues,
        entity_rows,
        ao_rows,
    })
}

/// The baseline: stream both files through the backup reader and keep nothing.
fn parse_only(backup: &CachedBackup) -> Result<Duration> {
    let started = Instant::now();
    let (entity_rows, ao_rows) = with_progress(
        |elapsed| format!("parse only: {} s", elapsed.as_secs()),
        || {
            let mut zip = Backup::open(&backup.path)?;
            let mut entity_rows = 0u64;
            let mut entities = zip.entities()?;
            while let Some(entity) = entities.next_entity()? {
                std::hint::black_box(&entity);
                entity_rows += 1;
            }
            drop(entities);
            let mut ao_rows = 0u64;
            let mut ao = zip.active_objects()?;
            for batch in ao.batches(1000, |_| true) {
                ao_rows += std::hint::black_box(batch?).rows.len() as u64;
            }
            Ok((entity_rows, ao_rows))
        },
    )?;
    let elapsed = started.elapsed();
    ensure!(
        (entity_rows, ao_rows) == (backup.entity_rows, backup.ao_rows),
        "{} holds {entity_rows} entities and {ao_rows} app rows, not the {} and {} it was written with; delete it",
        backup.path.display(),
        backup.entity_rows,
        backup.ao_rows
    );
    Ok(elapsed)
}

/// One migration child's run.
struct Migrated {
    elapsed: Duration,
    /// From wait4: the child's high-water mark, in bytes.
    peak_rss: u64,
    /// The phase in which the sampled RSS was highest.
    peak_phase: &'static str,
    /// When each phase ended, after the start, as the child's output shows.
    phase_ends: Vec<(&'static str, Duration)>,
    /// The work directory's size (staging, state, local site) at the end.
    work_bytes: u64,
}

impl Migrated {
    fn phases(&self) -> String {
        let mut last = Duration::ZERO;
        let mut parts = Vec::new();
        for (phase, end) in &self.phase_ends {
            let took = *end - last;
            if took >= Duration::from_millis(50) {
                parts.push(format!("{phase} {:.1} s", took.as_secs_f64()));
            }
            last = *end;
        }
        parts.join(", ")
    }
}

fn migrate(dirs: &Dirs, backup: &CachedBackup) -> Result<Migrated> {
    // The work directory and the local site beside it (`<work>-site`) both live in one
    // temporary directory, removed with it.
    let root = tempfile::Builder::new()
        .prefix("work-")
        .tempdir_in(&dirs.data)?;
    let work = root.path().join("work");
    let started = Instant::now();
    let mut child = Command::new(&dirs.child)
        .arg("--migrate-child")
        .arg(&backup.path)
        .arg(&work)
        .arg(dirs.data.join("plugin-cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", dirs.child.display()))?;
    let pid = child.id();
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = child.stdout.take().context("no stdout")?;
    let mut stderr = child.stderr.take().context("no stderr")?;
    let out_thread = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let err_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let status = format!("/proc/{pid}/status");
    let mut output = Vec::new();
    let mut phase = "check";
    let mut phase_ends = Vec::new();
    let (mut peak_sampled, mut peak_phase) = (0u64, "check");
    let mut progress = Progress::new();
    loop {
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                match phase_event(&line) {
                    Some((true, name)) => phase = name,
                    Some((false, name)) => phase_ends.push((name, started.elapsed())),
                    None => {}
                }
                output.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let rss = proc_kib(&status, "VmRSS:").unwrap_or(0) * 1024;
        if rss > peak_sampled {
            (peak_sampled, peak_phase) = (rss, phase);
        }
        progress.show(|| {
            format!(
                "migration, {} issues: {} s, {phase}, RSS {:.0} MiB",
                thousands(backup.issues as u64),
                started.elapsed().as_secs(),
                rss as f64 / MIB
            )
        });
    }
    let (exit, peak_rss) = wait4(pid)?;
    let elapsed = started.elapsed();
    progress.clear();
    let _ = out_thread.join();
    let errors = err_thread.join().unwrap_or_default();
    drop(child);
    if exit != 0 {
        let tail: Vec<&String> = output.iter().rev().take(30).collect();
        for line in tail.into_iter().rev() {
            eprintln!("  | {line}");
        }
        eprint!("{errors}");
        bail!(
            "the migration child on {} exited with {exit} (output above)",
            backup.path.display()
        );
    }
    Ok(Migrated {
        elapsed,
        peak_rss,
        peak_phase,
        phase_ends,
        work_bytes: dir_size(root.path()),
    })
}

/// A `VmRSS:`-style line of /proc/<pid>/status, in KiB.
fn proc_kib(status: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Reaps the child: its exit code and its peak RSS in bytes (`ru_maxrss`, KiB on Linux).
fn wait4(pid: u32) -> Result<(i32, u64)> {
    let pid = libc::pid_t::try_from(pid)?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; both pointers are valid for the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: as above; `pid` is our own child, not yet reaped (std never waited on it).
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error).context("wait4 on the airlock child");
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok((code, u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024))
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

/// Runs `work` while a status line (from `line`, given the time so far) is kept on stderr.
pub(crate) fn with_progress<T: Send>(
    line: impl Fn(Duration) -> String,
    work: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    let started = Instant::now();
    let (done_tx, done) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let worker = s.spawn(move || {
            let result = work();
            drop(done_tx);
            result
        });
        let mut progress = Progress::new();
        while let Err(mpsc::RecvTimeoutError::Timeout) =
            done.recv_timeout(Duration::from_millis(200))
        {
            progress.show(|| line(started.elapsed()));
        }
        progress.clear();
        worker
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the work panicked")))
    })
}

/// A status line on stderr: redrawn twice a second on a terminal, a plain line every 15 s
/// otherwise (logs stay readable).
struct Progress {
    terminal: bool,
    last: Option<Instant>,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            terminal: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    fn show(&mut self, line: impl FnOnce() -> String) {
        let every = if self.terminal {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(15)
        };
        // The first line waits a period too: short steps print nothing.
        let last = *self.last.get_or_insert_with(Instant::now);
        if last.elapsed() < every {
            return;
        }
        self.last = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r\x1b[2K{}", line())
        } else {
            writeln!(err, "  … {}", line())
        };
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.terminal {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

pub(crate) fn thousands(n: u64) -> String {
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
