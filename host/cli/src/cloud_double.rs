//! `airlock cloud-double`: Jira Cloud's REST API as Airlock's test double serves it (its
//! rate limits, and the faults asked for), on this machine, so an operator can rehearse a
//! Cloud migration end to end before the real one.

use airlock_cloud_double::{CloudDouble, DoubleConfig, Faults, JiraLimits};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

pub struct Options {
    pub listen: SocketAddr,
    pub faults: Option<String>,
    /// The site's file (kept after the double stops, to look at what arrived).
    pub site: PathBuf,
    /// Where the certificate authority (PEM) is written.
    pub ca_out: PathBuf,
    /// Keep Jira's rate limits (`--no-limits` turns them off).
    pub limits: bool,
}

/// The fault names `--faults` takes, with what each means.
const FAULTS: &[(&str, &str)] = &[
    (
        "rate-limited",
        "share of requests answered 429 with Retry-After",
    ),
    ("unavailable", "share answered 503 with Retry-After"),
    ("server-errors", "share answered 500 without being applied"),
    ("fail-after-apply", "share applied, then answered 500"),
    (
        "drop-after-apply",
        "share applied, then the connection dropped",
    ),
    ("retry-after", "seconds a 429/503 asks the client to wait"),
    ("max-throttles", "at most this many 429/503 windows"),
    ("seed", "the dice's seed (the same seed, the same faults)"),
];

/// `rate-limited=0.3,server-errors=0.05,…` over the defaults (no faults).
pub fn parse_faults(spec: &str) -> Result<Faults> {
    let mut faults = Faults::default();
    let known = || {
        FAULTS
            .iter()
            .map(|(name, what)| format!("{name} ({what})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((name, value)) = item.split_once('=') else {
            bail!(
                "--faults: `{item}` is not NAME=VALUE; the names are: {}",
                known()
            );
        };
        let share = |value: &str| -> Result<f64> {
            let share: f64 = value
                .parse()
                .with_context(|| format!("--faults {name}: `{value}` is not a number"))?;
            if !(0.0..=1.0).contains(&share) {
                bail!("--faults {name}: {share} is not a share between 0 and 1");
            }
            Ok(share)
        };
        let whole = |value: &str| -> Result<u64> {
            value
                .parse()
                .with_context(|| format!("--faults {name}: `{value}` is not a whole number"))
        };
        match name {
            "rate-limited" => faults.rate_limited = share(value)?,
            "unavailable" => faults.unavailable = share(value)?,
            "server-errors" => faults.server_errors = share(value)?,
            "fail-after-apply" => faults.fail_after_apply = share(value)?,
            "drop-after-apply" => faults.drop_after_apply = share(value)?,
            "retry-after" => faults.retry_after_secs = whole(value)?,
            "max-throttles" => faults.max_throttles = Some(whole(value)?),
            "seed" => faults.seed = whole(value)?,
            _ => bail!(
                "--faults: unknown fault `{name}`; the names are: {}",
                known()
            ),
        }
    }
    Ok(faults)
}

/// Starts the double, says how to point a migration at it, and serves until stopped.
pub fn run(options: &Options) -> Result<()> {
    let faults = match &options.faults {
        Some(spec) => parse_faults(spec)?,
        None => Faults::default(),
    };
    let limits = options.limits.then(JiraLimits::default);
    let double = CloudDouble::start(DoubleConfig {
        faults,
        site_path: Some(options.site.clone()),
        listen: Some(options.listen),
        limits: limits.clone(),
    })?;
    // Not a secret, but written 0600 like everything Airlock writes.
    crate::write_private(&options.ca_out, double.ca_pem().as_bytes())?;
    let mut out = std::io::stdout().lock();
    let limits = match &limits {
        Some(l) => format!(
            "with Jira's rate limits: per endpoint {} GET/POST and {} PUT/DELETE a second, per issue {}",
            l.get_post.per_second(),
            l.put_delete.per_second(),
            l.issue_writes
                .iter()
                .map(|w| format!("{} writes in {} s", w.requests, w.within.as_secs()))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        None => "without rate limits (--no-limits)".to_owned(),
    };
    writeln!(
        out,
        "the Jira Cloud double is listening on {} (Jira Cloud's REST API {limits}{})",
        double.url(),
        if options.faults.is_some() {
            ", and the faults asked for"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "  its certificate authority: {} (trust only this, only for the rehearsal)",
        options.ca_out.display()
    )?;
    writeln!(
        out,
        "  the site it holds: {} (kept when it stops)",
        options.site.display()
    )?;
    writeln!(out, "rehearse a migration against it:")?;
    writeln!(
        out,
        "  AIRLOCK_JIRA_EMAIL=rehearsal@example.com AIRLOCK_JIRA_TOKEN=rehearsal AIRLOCK_JIRA_CA={} \\\n    airlock migrate BACKUP.zip --target {}",
        options.ca_out.display(),
        double.url()
    )?;
    writeln!(out, "stop it with Ctrl-C")?;
    out.flush()?;
    drop(out);
    // Serves on its own threads until the process is stopped.
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::parse_faults;

    #[test]
    fn faults_parse_by_name_and_refuse_what_they_cannot_mean() {
        let f = parse_faults("rate-limited=0.3, server-errors=0.05,retry-after=2,max-throttles=4")
            .unwrap();
        assert_eq!(f.rate_limited, 0.3);
        assert_eq!(f.server_errors, 0.05);
        assert_eq!((f.retry_after_secs, f.max_throttles), (2, Some(4)));
        for (bad, says) in [
            ("rate-limited=1.5", "not a share between 0 and 1"),
            ("teapot=1", "unknown fault `teapot`"),
            ("rate-limited", "not NAME=VALUE"),
            ("retry-after=soon", "not a whole number"),
        ] {
            let e = parse_faults(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert_eq!(parse_faults("").unwrap().rate_limited, 0.0);
    }
}
