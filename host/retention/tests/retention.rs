//! Retention end to end, with real keys and real blobs: every test runs on SQLite with
//! `LocalDirBlobs` (temporary directories), and on PostgreSQL (a fresh database from
//! `TestPostgres`) with S3 (`TestS3`, HTTPS on loopback). The clock is a `SimClock`; the
//! KEKs are a `LocalKeyFile` in a temporary directory; objects are written sealed through
//! `SealedStaging` and indexed in the store, as the engine does.
//!
//! Every test also seeds a second tenant's running migration in the same store, blob store
//! and key directory, and checks at the end that nothing of it was touched. A running
//! migration idle for 30 days is abandoned (and swept), so a test that crosses 30 days
//! gives its running migrations activity (an object written, `Env::touch`) on the way.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use airlock_blobs::testing::TestS3;
use airlock_blobs::{LocalDirBlobs, RegionalBlobs, S3Blobs};
use airlock_model::{MigrationId, Region, TenantId};
use airlock_retention::{BlobsSweep, KeysShredder, sweep_now};
use airlock_staging::{SealedStaging, Staging};
use airlock_store::testing::TestPostgres;
use airlock_store::{
    BlobSweep, Clock, KekShredder, LeftReason, MigrationRecord, ObjectClass, Placement, SimClock,
    Stat, Store, SweepReport,
};
use airlock_vault::{KeyProvider, LocalKeyFile, Sealer, WrappedKey};
use time::OffsetDateTime;
use time::macros::datetime;

const REGION: Region = Region::EuWest1;
const BUCKET_PREFIX: &str = "airlock-retention";

/// What a migration's analysis leaves behind: staging name, class, plaintext.
const OBJECTS: [(&str, ObjectClass, &[u8]); 3] = [
    (
        "reports/integrity.json",
        ObjectClass::Report,
        b"{\"dangling\":[\"ACME-17 canary\"]}",
    ),
    (
        "reports/plan.json",
        ObjectClass::Analysis,
        b"{\"create\":{\"issues\":3,\"users\":[\"jane@acme.example\"]}}",
    ),
    (
        "records/issue.rec",
        ObjectClass::Staging,
        b"ACME-17\tThe canary summary\tjane@acme.example",
    ),
];

/// Audit events retention writes for a migration.
const RETENTION_EVENTS: [&str; 4] = [
    "data-key-destroyed",
    "retention-deletion",
    "retention-deletion-failed",
    "stats-expired",
];

// ---------------------------------------------------------------------------------------
// Harness

/// A store, a blob store and a key directory, with the runtime the store runs on. Blob
/// calls are made from the test's own thread (the S3 store blocks on a runtime of its own,
/// which it may not do inside another).
struct Env {
    backend: &'static str,
    store: Store,
    clock: Arc<SimClock>,
    blobs: Arc<dyn RegionalBlobs>,
    keys: Arc<LocalKeyFile>,
    key_dir: PathBuf,
    /// Where the blobs end up on disk: the region folders, or the S3 server's data folder
    /// (a folder per bucket, plus its bookkeeping).
    disk: PathBuf,
    _s3: Option<TestS3>,
    _pg: Option<TestPostgres>,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// SQLite + local directory always; PostgreSQL + S3 when PostgreSQL is reachable (or
/// required: see `TestPostgres`).
fn envs(test: &str) -> Vec<Env> {
    envs_at(test, datetime!(2026-03-01 9:00 UTC))
}

/// The same, with the store's clock starting at `start`.
fn envs_at(test: &str, start: OffsetDateTime) -> Vec<Env> {
    let mut out = vec![Env::sqlite_local(start)];
    out.extend(Env::postgres_s3(test, start));
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn key_file(dir: &Path) -> (Arc<LocalKeyFile>, PathBuf) {
    let key_dir = dir.join("keys");
    (Arc::new(LocalKeyFile::open(&key_dir).unwrap()), key_dir)
}

impl Env {
    fn sqlite_local(start: OffsetDateTime) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let clock = Arc::new(SimClock::new(start));
        let store = rt
            .block_on(Store::open_sqlite(
                &dir.path().join("store.db"),
                clock.clone(),
            ))
            .expect("open sqlite");
        let disk = dir.path().join("blobs");
        let (keys, key_dir) = key_file(dir.path());
        Env {
            backend: "sqlite+local",
            store,
            clock,
            blobs: Arc::new(LocalDirBlobs::new(&disk).unwrap()),
            keys,
            key_dir,
            disk,
            _s3: None,
            _pg: None,
            rt,
            _dir: dir,
        }
    }

    fn postgres_s3(test: &str, start: OffsetDateTime) -> Option<Env> {
        let rt = runtime();
        let pg = rt.block_on(TestPostgres::start(test))?;
        let clock = Arc::new(SimClock::new(start));
        let store = rt.block_on(pg.store(clock.clone())).expect("open postgres");
        let s3 = TestS3::start(BUCKET_PREFIX, &[REGION]).expect("start TestS3");
        let dir = tempfile::tempdir().unwrap();
        let (keys, key_dir) = key_file(dir.path());
        Some(Env {
            backend: "postgres+s3",
            store,
            clock,
            blobs: Arc::new(S3Blobs::new(s3.config()).expect("S3 client")),
            keys,
            key_dir,
            disk: s3.data_dir().to_owned(),
            _s3: Some(s3),
            _pg: Some(pg),
            rt,
            _dir: dir,
        })
    }

    fn run<F: Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    fn days(&self, n: i64) {
        self.clock.advance_days(n);
    }

    fn sweep(&self) -> SweepReport {
        self.run(sweep_now(
            &self.store,
            self.blobs.clone(),
            self.keys.clone(),
        ))
        .expect("sweep")
    }

    /// Where this environment's migrations keep their data.
    fn placement(&self) -> Placement {
        Placement::new(self.blobs.location(), self.keys.location()).unwrap()
    }

    /// A started migration of `tenant` (created if new) with a data key and the sealed
    /// [`OBJECTS`], indexed in the store.
    fn seed(&self, tenant: &str, migration: &str) -> Seeded {
        self.seed_as(tenant, migration, true)
    }

    /// As [`Env::seed`], left `created` unless `start`.
    fn seed_as(&self, tenant: &str, migration: &str, start: bool) -> Seeded {
        let (t, m) = (TenantId::new(tenant), MigrationId::new(migration));
        let scope = self.store.tenant(&t);
        let placement = self.placement();
        self.run(async {
            if scope.info().await.unwrap().is_none() {
                scope.create().await.unwrap();
            }
            scope
                .create_migration(&m, REGION, &placement)
                .await
                .unwrap();
            if start {
                scope.start_migration(&m).await.unwrap();
            }
        });
        let (sealer, wrapped) = Sealer::create(&*self.keys, t.clone(), m.clone()).unwrap();
        self.run(scope.put_data_key(&m, wrapped.as_bytes()))
            .unwrap();
        let staging = SealedStaging::new(Arc::new(sealer), self.blobs.store(REGION).unwrap());
        for (name, class, plaintext) in OBJECTS {
            let mut w = staging.create(name).unwrap();
            w.write_all(plaintext).unwrap();
            let bytes = w.finish().unwrap();
            self.run(scope.record_object(&m, &format!("staging/{name}"), class, bytes))
                .unwrap();
        }
        Seeded {
            tenant: t,
            migration: m,
            wrapped,
            touched: 0,
        }
    }

    /// Activity: the migration writes one more sealed object now (as a running phase
    /// would), so it is not abandoned for 30 days from now.
    fn touch(&self, s: &mut Seeded) {
        let wrapped = self.data_key(s).expect("a touched migration has its key");
        let sealer = Sealer::unwrap(
            &*self.keys,
            s.tenant.clone(),
            s.migration.clone(),
            &WrappedKey::from_bytes(&wrapped),
        )
        .unwrap();
        let staging = SealedStaging::new(Arc::new(sealer), self.blobs.store(REGION).unwrap());
        s.touched += 1;
        let name = format!("records/activity-{}.rec", s.touched);
        let mut w = staging.create(&name).unwrap();
        w.write_all(b"still at work").unwrap();
        let bytes = w.finish().unwrap();
        let scope = self.store.tenant(&s.tenant);
        self.run(scope.record_object(
            &s.migration,
            &format!("staging/{name}"),
            ObjectClass::Staging,
            bytes,
        ))
        .unwrap();
    }

    fn finish(&self, s: &Seeded, succeeded: bool) {
        self.run(
            self.store
                .tenant(&s.tenant)
                .finish_migration(&s.migration, succeeded),
        )
        .unwrap();
    }

    fn data_key(&self, s: &Seeded) -> Option<Vec<u8>> {
        self.run(self.store.tenant(&s.tenant).data_key(&s.migration))
            .unwrap()
    }

    fn record(&self, s: &Seeded) -> Option<MigrationRecord> {
        self.run(self.store.tenant(&s.tenant).migration(&s.migration))
            .unwrap()
    }

    fn indexed(&self, s: &Seeded) -> usize {
        self.run(self.store.tenant(&s.tenant).objects(&s.migration))
            .unwrap()
            .len()
    }

    fn events(&self, tenant: &TenantId) -> Vec<(String, String)> {
        self.run(self.store.tenant(tenant).audit_log())
            .unwrap()
            .into_iter()
            .map(|e| (e.event, e.detail))
            .collect()
    }

    /// Opens every object with the key stored for the migration, as a later phase would.
    fn open_all(&self, s: &Seeded) -> Result<(), String> {
        let wrapped = self.data_key(s).ok_or("the migration has no data key")?;
        let sealer = Sealer::unwrap(
            &*self.keys,
            s.tenant.clone(),
            s.migration.clone(),
            &WrappedKey::from_bytes(&wrapped),
        )
        .map_err(|e| e.to_string())?;
        let staging = SealedStaging::new(Arc::new(sealer), self.blobs.store(REGION).unwrap());
        for (name, _, plaintext) in OBJECTS {
            let mut read = Vec::new();
            staging
                .open(name)
                .map_err(|e| e.to_string())?
                .read_to_end(&mut read)
                .map_err(|e| e.to_string())?;
            if read != plaintext {
                return Err(format!("{name} read back different bytes"));
            }
        }
        Ok(())
    }

    /// The migration's keys in its region's store.
    fn blob_keys(&self, s: &Seeded) -> Vec<String> {
        self.blobs.store(REGION).unwrap().list(&s.prefix()).unwrap()
    }

    /// Files on disk under the migration's prefix, in any region folder or bucket: behind
    /// the store's back, so a listing that forgot something cannot hide it.
    fn files_on_disk(&self, s: &Seeded) -> Vec<PathBuf> {
        files_under(&self.disk)
            .into_iter()
            .filter(|path| {
                let parts: Vec<_> = path
                    .strip_prefix(&self.disk)
                    .unwrap()
                    .components()
                    .map(Component::as_os_str)
                    .collect();
                parts.len() > 3 && parts[1] == s.tenant.as_str() && parts[2] == s.migration.as_str()
            })
            .collect()
    }

    /// The sealed bytes of the migration's blobs, as stored.
    fn sealed_bytes(&self, s: &Seeded) -> Vec<Vec<u8>> {
        let store = self.blobs.store(REGION).unwrap();
        self.blob_keys(s)
            .iter()
            .map(|key| {
                let mut raw = Vec::new();
                store.open(key).unwrap().read_to_end(&mut raw).unwrap();
                raw
            })
            .collect()
    }

    /// No file anywhere under the blob store's disk holds the start (header, with its
    /// random salt) or the end (the last tag) of any of `sealed`.
    fn assert_no_sealed_bytes_left(&self, sealed: &[Vec<u8>]) {
        assert!(!sealed.is_empty());
        for file in files_under(&self.disk) {
            let content = std::fs::read(&file).unwrap();
            for raw in sealed {
                for needle in [&raw[..32], &raw[raw.len() - 32..]] {
                    assert!(
                        !content.windows(needle.len()).any(|w| w == needle),
                        "{}: sealed bytes left in {}",
                        self.backend,
                        file.display()
                    );
                }
            }
        }
    }

    fn kek_file(&self, tenant: &TenantId) -> PathBuf {
        self.key_dir.join(format!("{tenant}.kek"))
    }

    /// Everything of `s` is as seeded: key, blobs, index, KEK, and no retention event.
    fn assert_untouched(&self, s: &Seeded) {
        let b = self.backend;
        assert_eq!(
            self.data_key(s).as_deref(),
            Some(s.wrapped.as_bytes()),
            "{b}: {s:?} key"
        );
        assert_eq!(self.open_all(s), Ok(()), "{b}: {s:?} opens");
        let objects = OBJECTS.len() + s.touched;
        assert_eq!(self.blob_keys(s).len(), objects, "{b}: {s:?} blobs");
        assert_eq!(self.files_on_disk(s).len(), objects, "{b}: {s:?} files");
        assert_eq!(self.indexed(s), objects, "{b}: {s:?} index");
        let rec = self.record(s).expect("migration row");
        assert!(
            rec.key_destroyed_at.is_none() && rec.purged_at.is_none(),
            "{b}: {s:?}"
        );
        assert!(self.kek_file(&s.tenant).is_file(), "{b}: {s:?} KEK file");
        let retention: Vec<_> = self
            .events(&s.tenant)
            .into_iter()
            .filter(|(e, _)| RETENTION_EVENTS.contains(&e.as_str()))
            .collect();
        assert!(retention.is_empty(), "{b}: {s:?}: {retention:?}");
    }

    /// Nothing of `s` can be read any more, and its bytes are gone.
    fn assert_shredded(&self, s: &Seeded) {
        let b = self.backend;
        assert_eq!(self.data_key(s), None, "{b}: {s:?} key");
        assert_eq!(
            self.open_all(s),
            Err("the migration has no data key".into()),
            "{b}"
        );
        assert_eq!(self.blob_keys(s), Vec::<String>::new(), "{b}: {s:?} blobs");
        assert_eq!(
            self.files_on_disk(s),
            Vec::<PathBuf>::new(),
            "{b}: {s:?} files"
        );
        assert_eq!(self.indexed(s), 0, "{b}: {s:?} index");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Close the pools on the runtime they run on, before it goes.
        self.rt.block_on(self.store.close());
    }
}

#[derive(Debug)]
struct Seeded {
    tenant: TenantId,
    migration: MigrationId,
    /// The wrapped data key as stored, kept to try unwrapping it after the tenant expires.
    wrapped: WrappedKey,
    /// Objects written since the seed ([`Env::touch`]).
    touched: usize,
}

impl Seeded {
    fn prefix(&self) -> String {
        format!("{}/{}/", self.tenant, self.migration)
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The second tenant's migration: same migration id, same region, same stores; running,
/// so no rule applies to it.
fn bystander(env: &Env) -> Seeded {
    env.seed("tenant-b", "m1")
}

/// A [`BlobsSweep`] that notes, when it is called, whether the migration's data key was
/// still stored and how many blobs were there: to see the order with the real adapters.
struct Watched {
    inner: BlobsSweep,
    store: Store,
    blobs: Arc<dyn RegionalBlobs>,
    /// (migration, key still stored, blobs present)
    calls: Mutex<Vec<(String, bool, usize)>>,
}

impl BlobSweep for Watched {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn abort_incomplete(&self, started_before: OffsetDateTime) -> Result<u64, String> {
        self.inner.abort_incomplete(started_before)
    }

    fn delete_migration(
        &self,
        tenant: &TenantId,
        migration: &MigrationId,
        region: Region,
    ) -> Result<u64, String> {
        // A blocking thread of the store's runtime.
        let key = tokio::runtime::Handle::current()
            .block_on(self.store.tenant(tenant).data_key(migration))
            .unwrap();
        let present = self
            .blobs
            .store(region)
            .unwrap()
            .list(&format!("{tenant}/{migration}/"))
            .unwrap()
            .len();
        self.calls
            .lock()
            .unwrap()
            .push((migration.to_string(), key.is_some(), present));
        self.inner.delete_migration(tenant, migration, region)
    }
}

// ---------------------------------------------------------------------------------------
// 1. A failed migration's analysis: kept 30 days, then the key, then the blobs.

#[test]
fn a_failed_migrations_analysis_goes_30_days_after_key_first() {
    for env in envs("a_failed_migrations_analysis_goes_30_days_after_key_first") {
        let b = env.backend;
        let failed = env.seed("tenant-a", "m1");
        // Same tenant, a migration id that `m1` is a prefix of: still running (with
        // activity on day 29, so not abandoned), untouched.
        let mut sibling = env.seed("tenant-a", "m10");
        let mut other = bystander(&env);
        env.finish(&failed, false);
        let watched = Arc::new(Watched {
            inner: BlobsSweep::new(env.blobs.clone()),
            store: env.store.clone(),
            blobs: env.blobs.clone(),
            calls: Mutex::default(),
        });
        let sweep = || {
            let blobs: Arc<dyn BlobSweep> = watched.clone();
            let keys: Arc<dyn KekShredder> = Arc::new(KeysShredder::new(env.keys.clone()));
            env.run(env.store.maintenance().sweep(&blobs, &keys))
                .unwrap()
        };

        env.days(29);
        assert_eq!(sweep(), SweepReport::default(), "{b}: day 29");
        assert_eq!(env.open_all(&failed), Ok(()), "{b}: day 29 opens");
        assert_eq!(env.blob_keys(&failed).len(), 3, "{b}");
        assert_eq!(env.files_on_disk(&failed).len(), 3, "{b}");
        assert_eq!(env.indexed(&failed), 3, "{b}");
        let sealed = env.sealed_bytes(&failed);
        env.touch(&mut sibling);
        env.touch(&mut other);

        env.days(2);
        let report = sweep();
        assert_eq!(
            (
                report.keys_destroyed,
                report.migrations_purged,
                report.blobs_deleted,
                report.blob_failures
            ),
            (1, 1, 3, 0),
            "{b}: day 31"
        );
        assert_eq!(
            *watched.calls.lock().unwrap(),
            [("m1".to_owned(), false, 3)],
            "{b}: the key was gone, the blobs not yet, when the blobs were deleted"
        );
        env.assert_shredded(&failed);
        env.assert_no_sealed_bytes_left(&sealed);
        let rec = env.record(&failed).unwrap();
        assert!(
            rec.key_destroyed_at.is_some() && rec.purged_at.is_some(),
            "{b}"
        );
        let events = env.events(&failed.tenant);
        let n = events.len();
        assert_eq!(events[n - 2].0, "data-key-destroyed", "{b}");
        assert_eq!(
            events[n - 2].1,
            "migration=m1 reason=migration-failed-30d",
            "{b}"
        );
        assert_eq!(events[n - 1].0, "retention-deletion", "{b}");
        assert_eq!(
            events[n - 1].1,
            "migration=m1 reason=migration-failed-30d classes=analysis,report,staging \
             objects=3 key=destroyed",
            "{b}"
        );
        // The tenant's KEK stays: only the licence end takes it.
        assert!(env.kek_file(&failed.tenant).is_file(), "{b}");

        // Swept once: the next sweep has nothing to do.
        assert_eq!(sweep(), SweepReport::default(), "{b}: again");
        assert_eq!(watched.calls.lock().unwrap().len(), 1, "{b}");

        // The sibling's key and blobs are still there, audit aside (its tenant's log has
        // the failed migration's events).
        assert_eq!(env.open_all(&sibling), Ok(()), "{b}: sibling");
        assert_eq!(env.blob_keys(&sibling).len(), 4, "{b}: sibling");
        assert_eq!(env.files_on_disk(&sibling).len(), 4, "{b}: sibling");
        env.assert_untouched(&other);
    }
}

// ---------------------------------------------------------------------------------------
// 2. A succeeded migration: its analysis and staging go at the next sweep.

#[test]
fn a_succeeded_migrations_data_goes_at_the_next_sweep() {
    for env in envs("a_succeeded_migrations_data_goes_at_the_next_sweep") {
        let b = env.backend;
        let done = env.seed("tenant-a", "m1");
        let other = bystander(&env);
        env.finish(&done, true);
        let sealed = env.sealed_bytes(&done);

        let report = env.sweep();
        assert_eq!(
            (
                report.keys_destroyed,
                report.migrations_purged,
                report.blobs_deleted
            ),
            (1, 1, 3),
            "{b}"
        );
        env.assert_shredded(&done);
        env.assert_no_sealed_bytes_left(&sealed);
        let events = env.events(&done.tenant);
        let last = &events[events.len() - 1];
        assert_eq!(last.0, "retention-deletion", "{b}");
        assert!(
            last.1.contains("reason=migration-succeeded"),
            "{b}: {}",
            last.1
        );
        assert!(
            events.iter().any(|(e, d)| e == "data-key-destroyed"
                && d == "migration=m1 reason=migration-succeeded"),
            "{b}: {events:?}"
        );
        assert_eq!(env.sweep(), SweepReport::default(), "{b}: again");

        // The adapter alone: deleting what is gone, or was never there, deletes 0.
        let sweep = BlobsSweep::new(env.blobs.clone());
        for migration in ["m1", "never-created"] {
            let deleted =
                sweep.delete_migration(&done.tenant, &MigrationId::new(migration), REGION);
            assert_eq!(deleted, Ok(0), "{b}: {migration}");
        }
        env.assert_untouched(&other);
    }
}

// ---------------------------------------------------------------------------------------
// 3. Metadata: 30 days after the licence ends, the tenant and its KEK go.

#[test]
fn a_tenant_goes_30_days_after_its_licence_ends() {
    for env in envs("a_tenant_goes_30_days_after_its_licence_ends") {
        let b = env.backend;
        let mut running = env.seed("tenant-a", "m1");
        let mut other = bystander(&env);
        let tenant = env.store.tenant(&running.tenant);
        env.run(tenant.record_stat(&running.migration, &Stat::default()))
            .unwrap();
        env.run(tenant.set_licence_end(Some(env.clock.now())))
            .unwrap();
        let kek = env.kek_file(&running.tenant);
        assert!(kek.is_file(), "{b}");

        env.days(29);
        assert_eq!(env.sweep(), SweepReport::default(), "{b}: day 29");
        assert!(env.run(tenant.info()).unwrap().is_some(), "{b}");
        assert_eq!(env.run(tenant.migrations()).unwrap().len(), 1, "{b}");
        assert!(kek.is_file(), "{b}: day 29 KEK");
        assert!(
            env.keys
                .unwrap(&running.tenant, &running.migration, &running.wrapped)
                .is_ok(),
            "{b}: day 29 unwrap"
        );
        assert_eq!(env.open_all(&running), Ok(()), "{b}: day 29 opens");
        // Both still at work: the licence, not idleness, ends tenant-a's migration.
        env.touch(&mut running);
        env.touch(&mut other);
        let sealed = env.sealed_bytes(&running);

        env.days(2);
        let report = env.sweep();
        assert_eq!(
            (
                report.tenants_expired,
                report.keys_destroyed,
                report.migrations_purged,
                report.blobs_deleted,
                report.kek_failures
            ),
            (1, 1, 1, 4, 0),
            "{b}: day 31"
        );
        assert!(report.left.is_empty(), "{b}: {:?}", report.left);
        assert_eq!(env.run(tenant.info()).unwrap(), None, "{b}");
        assert!(env.run(tenant.migrations()).unwrap().is_empty(), "{b}");
        assert!(env.run(tenant.stats()).unwrap().is_empty(), "{b}");
        assert!(env.events(&running.tenant).is_empty(), "{b}: audit log");
        assert!(!kek.exists(), "{b}: the KEK file is gone");
        let unwrapped = env
            .keys
            .unwrap(&running.tenant, &running.migration, &running.wrapped);
        assert!(
            unwrapped.is_err(),
            "{b}: a key wrapped before expiry unwraps after it"
        );
        env.assert_shredded(&running);
        env.assert_no_sealed_bytes_left(&sealed);
        let platform = env
            .run(env.store.maintenance().platform_audit_log())
            .unwrap();
        assert_eq!(platform.len(), 1, "{b}");
        assert_eq!(platform[0].event, "tenant-expired", "{b}");
        assert!(platform[0].detail.contains("kek=destroyed"), "{b}");
        assert!(!platform[0].detail.contains("tenant-a"), "{b}");

        assert_eq!(env.sweep(), SweepReport::default(), "{b}: again");
        env.assert_untouched(&other);
        assert!(
            env.keys
                .unwrap(&other.tenant, &other.migration, &other.wrapped)
                .is_ok(),
            "{b}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 4. Statistics: kept 12 months.

#[test]
fn statistics_go_after_12_months() {
    for env in envs("statistics_go_after_12_months") {
        let b = env.backend;
        let mut a = env.seed("tenant-a", "m1");
        let mut other = bystander(&env);
        let (ta, tb) = (env.store.tenant(&a.tenant), env.store.tenant(&other.tenant));
        env.run(ta.record_stat(
            &a.migration,
            &Stat {
                batches: 3,
                ..Stat::default()
            },
        ))
        .unwrap();

        // Both migrations run for a year: they write something every few weeks, so
        // neither is ever abandoned.
        for _ in 0..12 {
            env.days(28);
            env.touch(&mut a);
            env.touch(&mut other);
        }
        env.days(1);
        // The other tenant's statistics, recorded at 11 months, outlive tenant-a's.
        env.run(tb.record_stat(
            &other.migration,
            &Stat {
                batches: 4,
                ..Stat::default()
            },
        ))
        .unwrap();
        assert_eq!(env.sweep(), SweepReport::default(), "{b}: 11 months");
        assert_eq!(env.run(ta.stats()).unwrap().len(), 1, "{b}: 11 months");

        env.days(29);
        env.touch(&mut a);
        env.touch(&mut other);
        env.days(2);
        let report = env.sweep();
        assert_eq!(report.stats_deleted, 1, "{b}: 12 months and a day");
        assert!(env.run(ta.stats()).unwrap().is_empty(), "{b}");
        let events = env.events(&a.tenant);
        assert_eq!(
            events.last().map(|(e, d)| (e.as_str(), d.as_str())),
            Some(("stats-expired", "rows=1")),
            "{b}"
        );
        // Statistics are not the migration's data: that stays while it runs.
        assert_eq!(env.open_all(&a), Ok(()), "{b}");

        let left = env.run(tb.stats()).unwrap();
        assert_eq!(left.len(), 1, "{b}");
        assert_eq!(left[0].1.batches, 4, "{b}");
        env.assert_untouched(&other);
    }
}

// ---------------------------------------------------------------------------------------
// 5. Issue 14: a sweep deletes only what its stores hold, and says what it left.

/// A sweep run without the migration's blob store (the issue: `admin sweep` without
/// `--blobs` swept a local directory while the blobs were in S3) destroys the data key but
/// leaves the blobs where they are, unpurged and unaudited as deleted, and says where they
/// are; a store that fails (S3 refusing the access key) leaves them too. A tenant whose KEK
/// is in another key provider is left, its KEK file untouched. The sweep with the right
/// stores then does it all.
#[test]
fn a_sweep_that_cannot_reach_a_migrations_blobs_or_keys_leaves_it_and_says_why() {
    for env in envs("a_sweep_that_cannot_reach_a_migrations_blobs_or_keys_leaves_it") {
        let b = env.backend;
        let failed = env.seed("tenant-a", "m1");
        env.finish(&failed, false);
        env.run(
            env.store
                .tenant(&failed.tenant)
                .set_licence_end(Some(env.clock.now())),
        )
        .unwrap();
        env.days(31);
        let sealed = env.sealed_bytes(&failed);

        // Another blob store and another key directory: what a sweep without the
        // production flags holds.
        let wrong = tempfile::tempdir().unwrap();
        let wrong_blobs: Arc<dyn RegionalBlobs> =
            Arc::new(LocalDirBlobs::new(wrong.path().join("blobs")).unwrap());
        let wrong_keys: Arc<dyn KeyProvider> =
            Arc::new(LocalKeyFile::open(wrong.path().join("keys")).unwrap());
        let report = env
            .run(sweep_now(&env.store, wrong_blobs.clone(), wrong_keys))
            .expect("sweep");
        assert_eq!(
            (
                report.keys_destroyed,
                report.migrations_purged,
                report.blobs_deleted,
                report.tenants_expired
            ),
            (1, 0, 0, 0),
            "{b}"
        );
        let said: Vec<String> = report.left.iter().map(ToString::to_string).collect();
        assert_eq!(said.len(), 2, "{b}: {said:?}");
        assert_eq!(
            said[0],
            format!(
                "tenant tenant-a migration m1: its data is in {}; this sweep has {}: run the \
                 sweep with that blob store",
                env.blobs.location(),
                wrong_blobs.location()
            ),
            "{b}"
        );
        assert_eq!(report.left[1].why, LeftReason::MigrationsLeft, "{b}");
        if env._s3.is_some() {
            assert!(
                said[0].contains("its data is in s3:https://127.0.0.1:"),
                "{said:?}"
            );
        }
        // The blobs are all still there, and nothing says they were deleted.
        assert_eq!(env.blob_keys(&failed).len(), 3, "{b}");
        assert_eq!(env.files_on_disk(&failed).len(), 3, "{b}");
        let rec = env.record(&failed).unwrap();
        assert!(
            rec.key_destroyed_at.is_some() && rec.purged_at.is_none(),
            "{b}"
        );
        let events = env.events(&failed.tenant);
        assert!(
            !events.iter().any(|(e, _)| e == "retention-deletion"),
            "{b}: {events:?}"
        );
        assert!(env.kek_file(&failed.tenant).is_file(), "{b}: KEK kept");
        assert!(
            env.run(env.store.maintenance().platform_audit_log())
                .unwrap()
                .is_empty(),
            "{b}: no tenant-expired event"
        );

        // The right blob store, but it fails: on S3 an access key it refuses.
        if let Some(s3) = &env._s3 {
            let mut config = s3.config();
            config.credentials = airlock_blobs::S3Credentials::Static {
                access_key_id: "airlock-test".into(),
                secret_access_key: "not-the-secret".into(),
            };
            let refused: Arc<dyn RegionalBlobs> = Arc::new(S3Blobs::new(config).unwrap());
            assert_eq!(refused.location(), env.blobs.location());
            let report = env
                .run(sweep_now(&env.store, refused.clone(), env.keys.clone()))
                .expect("sweep");
            assert_eq!(
                (report.migrations_purged, report.tenants_expired),
                (0, 0),
                "{b}"
            );
            assert!(
                matches!(report.left[0].why, LeftReason::BlobsUnreachable(_)),
                "{b}: {:?}",
                report.left
            );
            assert_eq!(env.blob_keys(&failed).len(), 3, "{b}");
            drop(refused);
        }

        // The right blob store, the wrong keys: the migration goes, the tenant waits.
        let other_keys: Arc<dyn KeyProvider> =
            Arc::new(LocalKeyFile::open(wrong.path().join("other-keys")).unwrap());
        let report = env
            .run(sweep_now(&env.store, env.blobs.clone(), other_keys.clone()))
            .expect("sweep");
        assert_eq!(
            (
                report.migrations_purged,
                report.blobs_deleted,
                report.tenants_expired
            ),
            (1, 3, 0),
            "{b}"
        );
        assert_eq!(
            report
                .left
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [format!(
                "tenant tenant-a: its key-encryption key is in {}; this sweep has {}: run the \
                 sweep with that key provider",
                env.keys.location(),
                other_keys.location()
            )],
            "{b}"
        );
        env.assert_shredded(&failed);
        env.assert_no_sealed_bytes_left(&sealed);
        assert!(env.kek_file(&failed.tenant).is_file(), "{b}: KEK kept");

        // Both right: the tenant goes, its KEK destroyed and said so.
        let report = env.sweep();
        assert_eq!(report.tenants_expired, 1, "{b}");
        assert!(report.left.is_empty(), "{b}");
        assert!(!env.kek_file(&failed.tenant).exists(), "{b}");
        let platform = env
            .run(env.store.maintenance().platform_audit_log())
            .unwrap();
        assert!(platform[0].detail.ends_with("kek=destroyed"), "{b}");
    }
}

/// Migrations left `created` (a refused check, a crash before the first load) or
/// `running` (a crash) with no activity for 30 days are swept like failed ones: key, then
/// blobs, audited as `migration-abandoned-30d`. One still at work stays.
#[test]
fn abandoned_migrations_are_swept_after_30_idle_days() {
    for env in envs("abandoned_migrations_are_swept_after_30_idle_days") {
        let b = env.backend;
        let created = env.seed_as("tenant-a", "created", false);
        let running = env.seed("tenant-a", "running");
        // Another tenant's, so that its audit log shows no retention event at all.
        let mut busy = env.seed("tenant-c", "busy");
        let other = bystander(&env);
        let sealed: Vec<Vec<u8>> = [&created, &running]
            .into_iter()
            .flat_map(|s| env.sealed_bytes(s))
            .collect();

        env.days(29);
        env.touch(&mut busy);
        assert_eq!(env.sweep(), SweepReport::default(), "{b}: day 29");
        env.days(2);
        let report = env.sweep();
        // The bystander, idle too, goes as well: it is abandoned like the others.
        assert_eq!(
            (
                report.keys_destroyed,
                report.migrations_purged,
                report.blobs_deleted
            ),
            (3, 3, 9),
            "{b}: day 31"
        );
        assert!(report.left.is_empty(), "{b}");
        for s in [&created, &running, &other] {
            env.assert_shredded(s);
            let events = env.events(&s.tenant);
            assert!(
                events.iter().any(|(e, d)| e == "retention-deletion"
                    && *d
                        == format!(
                            "migration={} reason=migration-abandoned-30d \
                             classes=analysis,report,staging objects=3 key=destroyed",
                            s.migration
                        )),
                "{b}: {events:?}"
            );
        }
        env.assert_no_sealed_bytes_left(&sealed);
        env.assert_untouched(&busy);
    }
}

/// A write that never finished: on S3 a multipart upload created and given one part (a
/// writer that died before completing it), on a directory the temporary file. A day later
/// the sweep aborts it; a younger one stays (a live writer's). A purged migration's go
/// with it, however young.
#[test]
fn incomplete_uploads_are_aborted() {
    // The store's clock starts at the real time: S3 stamps uploads with it.
    for env in envs_at("incomplete_uploads_are_aborted", OffsetDateTime::now_utc()) {
        let b = env.backend;
        let store = env.blobs.store(REGION).unwrap();
        // Above one part (8 MiB) on S3, so the upload is multipart with its first part sent.
        let big = vec![7u8; 8 * 1024 * 1024 + 1];
        let crash = |key: &str| {
            let mut w = store.create(key).unwrap();
            w.write_all(&big).unwrap();
            // The writer dies: no finish, no drop (which would abort).
            std::mem::forget(w);
        };
        crash("tenant-a/m1/staging/issues.rec");
        let leftovers = || {
            files_under(&env.disk)
                .into_iter()
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    name.starts_with(".upload") || name.contains('~')
                })
                .count()
        };
        assert!(leftovers() > 0, "{b}: the crashed write left its part");
        assert!(store.list("").unwrap().is_empty(), "{b}: and no blob");

        // Younger than a day: a live writer's, kept.
        assert_eq!(env.sweep(), SweepReport::default(), "{b}");
        assert!(leftovers() > 0, "{b}");

        env.clock.advance(time::Duration::hours(25));
        let report = env.sweep();
        assert_eq!(report.uploads_aborted, 1, "{b}");
        assert_eq!(leftovers(), 0, "{b}: the parts are gone");

        // A succeeded migration's purge takes its unfinished writes, however young.
        let done = env.seed("tenant-a", "m2");
        env.finish(&done, true);
        crash(&format!("{}records/late.rec", done.prefix()));
        assert!(leftovers() > 0, "{b}");
        let report = env.sweep();
        assert_eq!(report.migrations_purged, 1, "{b}");
        assert_eq!(leftovers(), 0, "{b}: purged with its migration");
        env.assert_shredded(&done);
    }
}

/// A setup that fails (here: its last step, the work directory's file) leaves no tenant,
/// migration or key row, and nothing in the blob store; the KEK the vault made for it is
/// the only trace (it wraps nothing that was kept).
#[test]
fn a_failed_setup_leaves_nothing_behind() {
    for env in envs("a_failed_setup_leaves_nothing_behind") {
        let b = env.backend;
        let (t, m) = (TenantId::new("tenant-new"), MigrationId::new("m1"));
        let scope = env.store.tenant(&t);
        let (_sealer, wrapped) = Sealer::create(&*env.keys, t.clone(), m.clone()).unwrap();
        let placement = env.placement();
        let err = env
            .run(
                scope.set_up_migration(&m, REGION, &placement, wrapped.as_bytes(), || {
                    Err(std::io::Error::other("migration.json: no space left").into())
                }),
            )
            .expect_err("the last step failed");
        assert!(err.to_string().contains("no space left"), "{b}: {err}");
        assert_eq!(env.run(scope.info()).unwrap(), None, "{b}: no tenant");
        assert!(env.run(scope.migrations()).unwrap().is_empty(), "{b}");
        assert_eq!(env.run(scope.data_key(&m)).unwrap(), None, "{b}: no key");
        assert!(env.events(&t).is_empty(), "{b}: no audit event");
        assert!(
            env.blobs
                .store(REGION)
                .unwrap()
                .list("")
                .unwrap()
                .is_empty(),
            "{b}"
        );
        // Nothing for a sweep to find, either.
        env.days(400);
        let report = env.sweep();
        assert_eq!(report, SweepReport::default(), "{b}");
    }
}
