//! The two storage backends a migration test runs on: the embedded default (SQLite metadata
//! and sealed objects in the work directory) and production's shape (PostgreSQL as the
//! application role under row-level security, sealed objects in a real S3 server over
//! HTTPS on loopback). A test takes a [`Backend`] and runs every `airlock` through it;
//! [`on_each_backend!`] makes one `#[test]` per backend.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use airlock_blobs::S3Credentials;
use airlock_blobs::testing::TestS3;
use airlock_model::Region;
use airlock_store::testing::TestPostgres;

/// The S3 server's bucket prefix: buckets are `airlock-test-<region>`.
const BUCKET_PREFIX: &str = "airlock-test";

pub enum Backend {
    SqliteAndLocalDirectory,
    PostgresAndS3(Box<Production>),
}

/// A fresh database and S3 server, owned by the test that runs on them.
pub struct Production {
    pg: TestPostgres,
    s3: TestS3,
    /// The S3 server's CA, written where `AIRLOCK_S3_CA` points (kept alive by the field).
    ca: tempfile::NamedTempFile,
    access_key_id: String,
    secret_access_key: String,
}

impl Backend {
    pub fn sqlite_and_local_directory() -> Backend {
        Backend::SqliteAndLocalDirectory
    }

    /// `None` when PostgreSQL is down and not required (its helper printed SKIPPED); under
    /// CI or `AIRLOCK_REQUIRE_POSTGRES=1` a missing PostgreSQL fails the test instead.
    pub fn postgres_and_s3(test: &str) -> Option<Backend> {
        let pg = TestPostgres::start_blocking(test)?;
        let s3 = TestS3::start(BUCKET_PREFIX, &Region::ALL).expect("the S3 test server starts");
        let ca = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca.path(), s3.ca_pem()).unwrap();
        let S3Credentials::Static {
            access_key_id,
            secret_access_key,
        } = s3.credentials().clone()
        else {
            panic!("the test server has static credentials")
        };
        Some(Backend::PostgresAndS3(Box::new(Production {
            pg,
            s3,
            ca,
            access_key_id,
            secret_access_key,
        })))
    }

    /// `airlock` with this backend's storage settings (through the environment, as a
    /// deployment sets them), run in `cwd` with its own download cache.
    pub fn command(&self, cwd: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_airlock"));
        cmd.current_dir(cwd)
            .env("AIRLOCK_CACHE_DIR", cwd.join("cache"));
        for var in [
            "AIRLOCK_STORE",
            "AIRLOCK_BLOBS",
            "AIRLOCK_KEYS",
            "AIRLOCK_TENANT",
            "AIRLOCK_STORE_OWNER_URL",
            "AIRLOCK_S3_CA",
            "AIRLOCK_S3_BUCKET_PREFIX",
            "AIRLOCK_TRUSTED_REVIEWERS",
        ] {
            cmd.env_remove(var);
        }
        if let Backend::PostgresAndS3(p) = self {
            cmd.env("AIRLOCK_STORE", p.pg.app_url())
                .env("AIRLOCK_STORE_OWNER_URL", p.pg.owner_url())
                .env("AIRLOCK_BLOBS", format!("s3:{}", p.s3.endpoint()))
                .env("AIRLOCK_S3_CA", p.ca.path())
                .env("AIRLOCK_S3_BUCKET_PREFIX", BUCKET_PREFIX)
                .env("AWS_ACCESS_KEY_ID", &p.access_key_id)
                .env("AWS_SECRET_ACCESS_KEY", &p.secret_access_key);
        }
        cmd
    }

    /// Runs `airlock args…`; a run that succeeds must not have logged an `ERROR` (an
    /// audit event lost, say, shows only there).
    pub fn run(&self, args: &[&str], cwd: &Path) -> Output {
        let out = self.command(cwd).args(args).output().expect("airlock runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() || !stderr.contains("ERROR"),
            "`airlock {}` succeeded but logged an ERROR:\n{stderr}",
            args.join(" ")
        );
        out
    }

    /// Where this backend keeps sealed objects of `region` for a migration working in
    /// `work`: the work directory's `blobs/<region>`, or the region's bucket.
    pub fn region_dir(&self, work: &Path, region: Region) -> PathBuf {
        match self {
            Backend::SqliteAndLocalDirectory => work.join("blobs").join(region.as_str()),
            Backend::PostgresAndS3(p) => p.s3.bucket_dir(region),
        }
    }

    /// Every place this backend keeps data outside the work directory, for scans.
    pub fn data_dirs(&self) -> Vec<PathBuf> {
        match self {
            Backend::SqliteAndLocalDirectory => Vec::new(),
            Backend::PostgresAndS3(p) => vec![p.s3.data_dir().to_path_buf()],
        }
    }

    /// Every row of every table of the metadata store, as text (PostgreSQL: bytea as hex);
    /// `None` for SQLite, whose file is in the work directory and scanned with it.
    pub fn database_text(&self) -> Option<String> {
        match self {
            Backend::SqliteAndLocalDirectory => None,
            Backend::PostgresAndS3(p) => Some(postgres_text(p.pg.owner_url())),
        }
    }

    /// How many migrations the metadata store holds (any tenant) that have not failed, for
    /// "nothing written": one whose backup could not be read is recorded as failed.
    pub fn live_migrations(&self, work: &Path) -> u64 {
        self.count(work, LIVE_MIGRATIONS, None)
    }

    /// How many rows of any table belong to `tenant` (as the schema owner sees them).
    pub fn tenants(&self, work: &Path, tenant: &str) -> u64 {
        [
            "tenants",
            "migrations",
            "data_keys",
            "objects",
            "plugin_grants",
            "stats",
            "audit_log",
        ]
        .iter()
        .map(|table| {
            let sql = format!("SELECT count(*) FROM {table} WHERE tenant_id = $1");
            self.count(work, &sql, Some(tenant))
        })
        .sum()
    }

    /// How many audit events `event` the metadata store holds whose detail contains
    /// `detail` (any tenant).
    pub fn audit_events(&self, work: &Path, event: &str, detail: &str) -> u64 {
        let sql =
            format!("SELECT count(*) FROM audit_log WHERE event = $1 AND detail LIKE '%{detail}%'");
        self.count(work, &sql, Some(event))
    }

    /// `sql` (a count, with at most one text parameter) on the metadata store; 0 for a
    /// SQLite store that does not exist.
    fn count(&self, work: &Path, sql: &str, param: Option<&str>) -> u64 {
        match self {
            Backend::SqliteAndLocalDirectory => {
                let db = work.join("airlock.db");
                if !db.exists() {
                    return 0;
                }
                let conn = rusqlite::Connection::open_with_flags(
                    db,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .unwrap();
                let sql = sql.replace("$1", "?1");
                let params: Vec<&str> = param.into_iter().collect();
                conn.query_row(&sql, rusqlite::params_from_iter(params), |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap() as u64
            }
            Backend::PostgresAndS3(p) => {
                let sql = sql.to_owned();
                let param = param.map(str::to_owned);
                let (n,): (i64,) = postgres(p.pg.owner_url(), |mut conn| async move {
                    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                    if let Some(param) = param {
                        query = query.bind(param);
                    }
                    query.fetch_one(&mut conn).await.unwrap()
                });
                n as u64
            }
        }
    }
}

const LIVE_MIGRATIONS: &str = "SELECT count(*) FROM migrations WHERE status <> 'failed'";

/// One `#[test]` per backend for each named test function taking a [`Backend`]: `NAME::
/// sqlite_and_local_directory` and `NAME::postgres_and_s3`.
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite_and_local_directory() {
                super::$name(super::Backend::sqlite_and_local_directory());
            }

            #[test]
            fn postgres_and_s3() {
                if let Some(backend) = super::Backend::postgres_and_s3(stringify!($name)) {
                    super::$name(backend);
                }
            }
        }
    )*};
}

/// Every file under `dir` whose bytes contain one of `needles`, with the needle.
pub fn files_containing(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for needle in needles {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(format!("{} holds {needle:?}", path.display()));
                }
            }
        }
    }
    found
}

pub fn files_under(dir: &Path) -> usize {
    if !dir.exists() {
        return 0;
    }
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() { files_under(&path) } else { 1 }
        })
        .sum()
}

/// Where `needles` appear in clear (or hex-encoded, in the database) in anything Airlock
/// keeps: the work directory (`w` in `cwd`), this backend's data directories and its
/// database. The source backup and the target site are outside these places.
pub fn leaks(backend: &Backend, work: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = files_containing(work, needles);
    for dir in backend.data_dirs() {
        found.extend(files_containing(&dir, needles));
    }
    if let Some(rows) = backend.database_text() {
        for needle in needles {
            let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
            if rows.contains(needle) {
                found.push(format!("the database holds {needle:?}"));
            }
            if rows.contains(&hex) {
                found.push(format!("the database holds {needle:?}, hex-encoded"));
            }
        }
    }
    found
}

fn postgres<T, F, Fut>(url: &str, f: F) -> T
where
    F: FnOnce(sqlx::PgConnection) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let conn = sqlx::PgConnection::connect(url).await.unwrap();
        f(conn).await
    })
}

/// Every row of every table in the database's public schema, one per line, as the schema
/// owner sees them (row-level security does not hide rows from the owner's scan).
fn postgres_text(owner_url: &str) -> String {
    postgres(owner_url, |mut conn| async move {
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let mut text = String::new();
        for (table,) in tables {
            let sql =
                format!("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{table}\" t");
            let (rows,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut conn)
                .await
                .unwrap();
            text.push_str(&rows);
            text.push('\n');
        }
        text
    })
}

/// Timesheet Builder copied into `cwd` as `tb.wasm`, signed by a new vendor key, reviewed in
/// the sandbox and approved by a new reviewer key, as a vendor and a reviewer do it
/// (`airlock plugin keygen`, `sign`, `sandbox`, `approve`): the file's name and the
/// reviewer's public key.
pub fn signed_and_approved_plugin(backend: &Backend, cwd: &Path) -> (String, String) {
    std::fs::copy(
        airlock_plugin_artifacts::TIMESHEET_BUILDER,
        cwd.join("tb.wasm"),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = backend.run(args, cwd);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "`airlock {}`: {stdout}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let public_key = |stdout: String| {
        let line = stdout.lines().find_map(|l| l.strip_prefix("public key: "));
        line.expect("keygen prints the public key").to_owned()
    };
    public_key(run(&["plugin", "keygen", "--out", "vendor.key"]));
    let reviewer = public_key(run(&["plugin", "keygen", "--out", "reviewer.key"]));
    run(&["plugin", "sign", "tb.wasm", "--key", "vendor.key"]);
    run(&["sandbox", "tb.wasm", "--out", "review", "--rows", "100"]);
    run(&[
        "plugin",
        "approve",
        "tb.wasm",
        "--key",
        "reviewer.key",
        "--note",
        "test",
        "--review",
        "review/review.json",
    ]);
    ("tb.wasm".into(), reviewer)
}
