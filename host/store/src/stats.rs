//! Anonymized statistics: durations, counts, bytes, fuel and error codes of each migration,
//! kept 12 months and exported as JSON lines. No names, keys, ids, emails or URLs: the table
//! holds only [`STAT_COLUMNS`] plus its keys (a test checks the live schema against this
//! list), the only text is an [`ErrorCode`], and the export writes only [`STAT_COLUMNS`].

use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::error::{StoreError, query};
use crate::tenant::to_i64;
use crate::{Backend, from_unix};

/// Every column of `stats` that may hold data, in export order. Adding one means adding it
/// here, to both migrations and to [`Stat`] — and asking whether it could identify anyone.
pub const STAT_COLUMNS: &[&str] = &[
    "recorded_at",
    "phase_analyse_ms",
    "phase_stage_ms",
    "phase_load_ms",
    "phase_verify_ms",
    "records_issues",
    "records_comments",
    "records_worklogs",
    "records_attachments",
    "records_other",
    "batches",
    "bytes_staged",
    "bytes_uploaded",
    "plugin_fuel",
    "error_code",
];

/// The key columns of `stats`: stored for tenancy and retention, never exported;
/// `migration_id` makes a migration's row one row (a rerun replaces it).
pub const STAT_KEY_COLUMNS: &[&str] = &["tenant_id", "stat_id", "migration_id"];

/// A machine-readable error code such as `cloud-rate-limited`: `^[a-z0-9-]{1,64}$`, so it
/// cannot carry a name, an email or a URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode(String);

impl ErrorCode {
    pub fn new(code: &str) -> Result<ErrorCode, StoreError> {
        ErrorCode::check("error code", code)?;
        Ok(ErrorCode(code.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn check(what: &'static str, code: &str) -> Result<(), StoreError> {
        let ok = (1..=64).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(())
        } else {
            Err(StoreError::Invalid {
                what,
                why: "use 1-64 characters of a-z, 0-9 and '-'".into(),
            })
        }
    }
}

/// One migration's anonymized statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub phase_analyse_ms: u64,
    pub phase_stage_ms: u64,
    pub phase_load_ms: u64,
    pub phase_verify_ms: u64,
    pub records_issues: u64,
    pub records_comments: u64,
    pub records_worklogs: u64,
    pub records_attachments: u64,
    pub records_other: u64,
    pub batches: u64,
    pub bytes_staged: u64,
    pub bytes_uploaded: u64,
    pub plugin_fuel: u64,
    /// Why the migration failed; `None` when it did not.
    pub error_code: Option<ErrorCode>,
}

impl Stat {
    /// The numeric columns, in [`STAT_COLUMNS`] order after `recorded_at`.
    fn numbers(&self) -> [(&'static str, u64); 13] {
        [
            ("phase_analyse_ms", self.phase_analyse_ms),
            ("phase_stage_ms", self.phase_stage_ms),
            ("phase_load_ms", self.phase_load_ms),
            ("phase_verify_ms", self.phase_verify_ms),
            ("records_issues", self.records_issues),
            ("records_comments", self.records_comments),
            ("records_worklogs", self.records_worklogs),
            ("records_attachments", self.records_attachments),
            ("records_other", self.records_other),
            ("batches", self.batches),
            ("bytes_staged", self.bytes_staged),
            ("bytes_uploaded", self.bytes_uploaded),
            ("plugin_fuel", self.plugin_fuel),
        ]
    }
}

/// The SQL built from this is dynamic only in joining these constants.
fn columns() -> String {
    STAT_COLUMNS.join(", ")
}

/// One row per migration: a rerun replaces the values (and the time) an earlier run
/// recorded.
pub(crate) async fn upsert(
    conn: &mut AnyConnection,
    backend: Backend,
    tenant: &str,
    migration: &str,
    now: i64,
    stat: &Stat,
) -> Result<(), StoreError> {
    crate::audit::lock_tenant(conn, backend, tenant).await?;
    // $1 tenant, $2 migration, $3.. the STAT_COLUMNS in order.
    let params = (0..STAT_COLUMNS.len())
        .map(|i| format!("${}", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let updates = STAT_COLUMNS
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO stats (tenant_id, stat_id, migration_id, {}) \
         SELECT $1, COALESCE(MAX(stat_id), 0) + 1, $2, {params} FROM stats WHERE tenant_id = $1 \
         ON CONFLICT (tenant_id, migration_id) DO UPDATE SET {updates}",
        columns()
    );
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant)
        .bind(migration)
        .bind(now);
    for (what, value) in stat.numbers() {
        q = q.bind(to_i64(what, value)?);
    }
    q.bind(stat.error_code.as_ref().map(|c| c.0.clone()))
        .execute(&mut *conn)
        .await
        .map_err(query("stats"))?;
    Ok(())
}

pub(crate) async fn read(
    conn: &mut AnyConnection,
    tenant: &str,
) -> Result<Vec<(OffsetDateTime, Stat)>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {} FROM stats WHERE tenant_id = $1 ORDER BY stat_id",
        columns()
    )))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await
    .map_err(query("stats"))?;
    rows.iter()
        .map(|row| {
            let n = |c: &str| -> Result<u64, StoreError> {
                let v: i64 = row.try_get(c).map_err(query("stats"))?;
                u64::try_from(v).map_err(|_| StoreError::Invalid {
                    what: "stats row",
                    why: format!("{c} is negative"),
                })
            };
            let recorded: i64 = row.try_get("recorded_at").map_err(query("stats"))?;
            let code: Option<String> = row.try_get("error_code").map_err(query("stats"))?;
            let stat = Stat {
                phase_analyse_ms: n("phase_analyse_ms")?,
                phase_stage_ms: n("phase_stage_ms")?,
                phase_load_ms: n("phase_load_ms")?,
                phase_verify_ms: n("phase_verify_ms")?,
                records_issues: n("records_issues")?,
                records_comments: n("records_comments")?,
                records_worklogs: n("records_worklogs")?,
                records_attachments: n("records_attachments")?,
                records_other: n("records_other")?,
                batches: n("batches")?,
                bytes_staged: n("bytes_staged")?,
                bytes_uploaded: n("bytes_uploaded")?,
                plugin_fuel: n("plugin_fuel")?,
                error_code: code.map(|c| ErrorCode::new(&c)).transpose()?,
            };
            Ok((from_unix(recorded), stat))
        })
        .collect()
}

/// Every tenant's statistics recorded at or after `since`, as JSON lines holding exactly
/// [`STAT_COLUMNS`] (never the tenant or the row id). Cross-tenant: maintenance only.
pub(crate) async fn export_jsonl(
    conn: &mut AnyConnection,
    since: i64,
) -> Result<Vec<u8>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {} FROM stats WHERE recorded_at >= $1 ORDER BY recorded_at, stat_id",
        columns()
    )))
    .bind(since)
    .fetch_all(&mut *conn)
    .await
    .map_err(query("stats"))?;
    let mut out = Vec::new();
    for row in &rows {
        let mut line = serde_json::Map::new();
        for &column in STAT_COLUMNS {
            let value = if column == "error_code" {
                let code: Option<String> = row.try_get(column).map_err(query("stats"))?;
                code.map_or(serde_json::Value::Null, serde_json::Value::String)
            } else {
                let n: i64 = row.try_get(column).map_err(query("stats"))?;
                serde_json::Value::from(n)
            };
            line.insert(column.to_owned(), value);
        }
        serde_json::to_writer(&mut out, &line)
            .map_err(|e| StoreError::Export(format!("cannot encode a line: {e}")))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Sends exported statistics to the statistics endpoint, over HTTPS only.
pub struct StatsExporter {
    client: reqwest::Client,
    url: reqwest::Url,
}

impl StatsExporter {
    /// `url` must be `https://`. `extra_root_pem` adds a trusted CA (a private endpoint, or a
    /// test server) to the system's roots.
    pub fn new(url: &str, extra_root_pem: Option<&str>) -> Result<StatsExporter, StoreError> {
        let url = reqwest::Url::parse(url).map_err(|e| StoreError::Invalid {
            what: "statistics endpoint",
            why: format!("not a URL: {e}"),
        })?;
        if url.scheme() != "https" {
            return Err(StoreError::Invalid {
                what: "statistics endpoint",
                why: "it must be an https:// URL; statistics never travel unencrypted".into(),
            });
        }
        let tls = airlock_tls::client_config(extra_root_pem).map_err(|e| StoreError::Invalid {
            what: "statistics endpoint TLS",
            why: e.to_string(),
        })?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(true)
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StoreError::Export(format!("cannot set up the HTTP client: {e}")))?;
        Ok(StatsExporter { client, url })
    }

    /// POSTs `jsonl` (from [`crate::Maintenance::export_stats_jsonl`]) as
    /// `application/x-ndjson`.
    pub async fn send(&self, jsonl: Vec<u8>) -> Result<(), StoreError> {
        let lines = jsonl.iter().filter(|&&b| b == b'\n').count();
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            .body(jsonl)
            .send()
            .await
            .map_err(|e| StoreError::Export(format!("cannot reach the endpoint: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(StoreError::Export(format!(
                "the endpoint answered {status}"
            )));
        }
        tracing::info!(lines, "statistics exported");
        Ok(())
    }
}
