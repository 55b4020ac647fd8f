//! Sealing throughput: `Sealer::seal_writer` on one thread, against `openssl speed` for
//! AES-256-GCM on the same machine (the cipher alone, 16 KiB blocks, one thread).
//!
//! The sealed bytes go to `io::sink()`: this measures the vault (copy into the segment
//! buffer, AES-256-GCM in place, framing), not a disk.

use std::io::{self, Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use airlock_model::{MigrationId, TenantId};
use airlock_vault::{DataKey, Sealer};
use anyhow::{Context, Result};

use crate::verdict;

const TOTAL: usize = 256 << 20;
const WRITE: usize = 16 << 20;
const ROUNDS: usize = 5;
const GOAL: f64 = 0.7;

pub fn seal_throughput() -> Result<()> {
    let sealer = Sealer::new(
        TenantId::new("bench"),
        MigrationId::new("bench"),
        DataKey::generate()?,
    );
    let plain: Vec<u8> = (0..WRITE).map(|i| (i ^ (i >> 11)) as u8).collect();

    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let mut w = sealer.seal_writer("bench/object", io::sink());
        for _ in 0..TOTAL / WRITE {
            w.write_all(std::hint::black_box(&plain))?;
        }
        w.finish()?;
        best = best.min(started.elapsed());
    }
    let seal_mbs = TOTAL as f64 / best.as_secs_f64() / 1e6;

    // Opening, for information: the same amount, read back in 64 KiB reads.
    let mut sealed = sealer.seal_writer("bench/object", Vec::with_capacity(TOTAL + (1 << 20)));
    for _ in 0..TOTAL / WRITE {
        sealed.write_all(&plain)?;
    }
    let sealed = sealed.finish()?;
    let mut open_best = Duration::MAX;
    let mut chunk = vec![0u8; 64 << 10];
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let mut r = sealer.open_reader("bench/object", &sealed[..]);
        let mut read = 0;
        loop {
            let n = r.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            read += n;
        }
        anyhow::ensure!(read == TOTAL, "opened {read} bytes of {TOTAL}");
        open_best = open_best.min(started.elapsed());
    }
    let open_mbs = TOTAL as f64 / open_best.as_secs_f64() / 1e6;

    println!(
        "sealing throughput (Sealer::seal_writer, {} MiB in {} MiB writes to a sink, {} MiB segments, one thread, best of {ROUNDS})",
        TOTAL >> 20,
        WRITE >> 20,
        sealer.segment_size() >> 20
    );
    println!("  seal {seal_mbs:.0} MB/s (open_reader {open_mbs:.0} MB/s, for information)");
    match openssl_aes_256_gcm()? {
        None => println!(
            "  `openssl` was not found: no baseline, no ratio (goal ≥ {GOAL} × openssl speed)\n"
        ),
        Some(openssl_mbs) => {
            let ratio = seal_mbs / openssl_mbs;
            println!(
                "  openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3: {openssl_mbs:.0} MB/s"
            );
            println!(
                "  ratio vault / openssl = {ratio:.2}×; goal ≥ {GOAL}: {}\n",
                verdict(ratio >= GOAL)
            );
        }
    }
    Ok(())
}

/// `openssl speed`'s one-thread AES-256-GCM figure for 16 KiB blocks, in MB/s, or `None`
/// if `openssl` is not installed.
///
/// OpenSSL 3 prints, after "The 'numbers' are in 1000s of bytes per second processed.":
/// `AES-256-GCM    2240786.90k` (the name's case varies between versions; the last number
/// on the line is the 16384-byte column, in kB/s with k = 1000).
fn openssl_aes_256_gcm() -> Result<Option<f64>> {
    let output = match Command::new("openssl")
        .args([
            "speed",
            "-evp",
            "aes-256-gcm",
            "-bytes",
            "16384",
            "-seconds",
            "3",
        ])
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context("running openssl speed"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "openssl speed failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|first| first.eq_ignore_ascii_case("aes-256-gcm"))
        })
        .with_context(|| format!("no aes-256-gcm line in openssl speed's output:\n{stdout}"))?;
    let last = line.split_whitespace().last().unwrap_or_default();
    let kbs: f64 = last
        .trim_end_matches('k')
        .parse()
        .with_context(|| format!("parsing {last:?} in openssl speed's line {line:?}"))?;
    Ok(Some(kbs * 1000.0 / 1e6))
}
