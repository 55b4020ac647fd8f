//! One suite, run against both stores: `LocalDirBlobs` on a temporary directory and
//! `S3Blobs` against `TestS3` (s3s-fs over HTTPS on loopback).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_blobs::testing::TestS3;
use airlock_blobs::{
    BlobError, BlobStore, LocalDirBlobs, MAX_KEY_LEN, RegionalBlobs, S3Blobs, S3Config,
    S3Credentials, check_key,
};
use airlock_model::Region;

const MIB: usize = 1024 * 1024;
const PREFIX: &str = "airlock";

/// A store factory and what it keeps, to look at behind the API's back.
struct Backend {
    blobs: Box<dyn RegionalBlobs>,
    kind: Kind,
}

enum Kind {
    Local(tempfile::TempDir),
    S3(Box<TestS3>),
}

impl Backend {
    fn local() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let blobs = LocalDirBlobs::new(dir.path().join("blobs")).unwrap();
        Backend {
            blobs: Box::new(blobs),
            kind: Kind::Local(dir),
        }
    }

    fn s3() -> Backend {
        let server = TestS3::start(PREFIX, &[Region::UsEast1, Region::EuWest1]).unwrap();
        let blobs = S3Blobs::new(server.config()).unwrap();
        Backend {
            blobs: Box::new(blobs),
            kind: Kind::S3(Box::new(server)),
        }
    }

    fn store(&self) -> Arc<dyn BlobStore> {
        self.blobs.store(Region::UsEast1).unwrap()
    }

    /// Where a region's blobs end up on disk: its folder, or its bucket's folder.
    fn region_dir(&self, region: Region) -> PathBuf {
        match &self.kind {
            Kind::Local(dir) => dir.path().join("blobs").join(region.as_str()),
            Kind::S3(server) => server.bucket_dir(region),
        }
    }

    /// Every file the backend keeps, blobs and bookkeeping alike.
    fn all_files(&self) -> Vec<PathBuf> {
        match &self.kind {
            Kind::Local(dir) => files_under(dir.path()),
            Kind::S3(server) => files_under(server.data_dir()),
        }
    }

    /// Files of unfinished writes: temporary files, or parts of multipart uploads.
    fn unfinished(&self) -> Vec<PathBuf> {
        self.all_files()
            .into_iter()
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.contains('~') || name.starts_with(".upload_id-")
            })
            .collect()
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// Bytes that do not repeat, so a misplaced chunk shows.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `bytes` under `key` in `chunk`-sized writes and finishes.
fn put(store: &dyn BlobStore, key: &str, bytes: &[u8], chunk: usize) {
    let mut w = store.create(key).unwrap();
    for piece in bytes.chunks(chunk.max(1)) {
        w.write_all(piece).unwrap();
    }
    assert_eq!(w.finish().unwrap(), bytes.len() as u64, "{key}");
}

/// Reads `key` back with an odd-sized buffer.
fn get(store: &dyn BlobStore, key: &str) -> Vec<u8> {
    let mut r = store.open(key).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0; 4099];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn is_missing(result: Result<impl Sized, BlobError>, key: &str) {
    match result {
        Err(BlobError::Missing { key: k, location }) => {
            assert_eq!(k, key);
            assert!(!location.is_empty());
        }
        Err(other) => panic!("{key}: expected Missing, got {other}"),
        Ok(_) => panic!("{key}: expected Missing, got a blob"),
    }
}

fn round_trip(b: &Backend) {
    let store = b.store();
    // (size, write size): empty, tiny, odd writes, and 20 MiB in writes that straddle the
    // 8 MiB parts of S3's multipart upload.
    let cases = [
        (0, 1),
        (1, 1),
        (5_000, 7),
        (100_003, 4_093),
        (20 * MIB, 1_000_003),
    ];
    for (i, (len, chunk)) in cases.into_iter().enumerate() {
        let key = format!("tenant-a/mig-1/blob-{i}.bin");
        let bytes = data(len, i as u64);
        put(&*store, &key, &bytes, chunk);
        assert!(get(&*store, &key) == bytes, "{key}: read back differs");
    }
    // One write call with everything at once, too.
    let bytes = data(9 * MIB + 17, 99);
    let mut w = store.create("tenant-a/mig-1/at-once").unwrap();
    w.write_all(&bytes).unwrap();
    w.finish().unwrap();
    assert!(get(&*store, "tenant-a/mig-1/at-once") == bytes);
    assert!(b.unfinished().is_empty(), "{:?}", b.unfinished());
}

fn not_visible_before_finish(b: &Backend) {
    let store = b.store();
    let key = "tenant-a/mig-1/pending";
    let mut w = store.create(key).unwrap();
    // More than one S3 part, so a multipart upload is under way.
    w.write_all(&data(9 * MIB, 1)).unwrap();
    w.flush().unwrap();
    assert!(!store.exists(key).unwrap());
    is_missing(store.open(key), key);
    assert!(store.list("").unwrap().is_empty());
    assert!(!b.unfinished().is_empty(), "the write should be on its way");
    w.finish().unwrap();
    assert!(store.exists(key).unwrap());
    assert_eq!(store.list("").unwrap(), [key]);
}

fn overwrite_replaces(b: &Backend) {
    let store = b.store();
    let key = "tenant-a/mig-1/report.json";
    put(
        &*store,
        key,
        b"the first version, longer than the second",
        5,
    );
    let mut w = store.create(key).unwrap();
    w.write_all(b"second").unwrap();
    assert_eq!(
        get(&*store, key),
        b"the first version, longer than the second",
        "the old blob stays until finish"
    );
    w.finish().unwrap();
    assert_eq!(get(&*store, key), b"second");
    assert_eq!(store.list("").unwrap(), [key]);
}

fn missing_is_missing(b: &Backend) {
    let store = b.store();
    is_missing(store.open("tenant-a/nothing"), "tenant-a/nothing");
    if let Kind::Local(_) = b.kind {
        // On disk, a folder of blobs is not a blob, and neither is a path through a blob.
        put(&*store, "tenant-a/dir/blob", b"x", 1);
        is_missing(store.open("tenant-a/dir"), "tenant-a/dir");
        is_missing(
            store.open("tenant-a/dir/blob/below"),
            "tenant-a/dir/blob/below",
        );
        assert!(!store.exists("tenant-a/dir").unwrap());
        assert!(!store.exists("tenant-a/dir/blob/below").unwrap());
        store.delete("tenant-a/dir").unwrap();
        assert!(store.exists("tenant-a/dir/blob").unwrap());
    }
    let message = store.open("tenant-a/nothing").err().unwrap().to_string();
    assert!(message.contains("tenant-a/nothing"), "{message}");
    assert!(message.contains(&store.location()), "{message}");
}

fn bad_keys_refused(b: &Backend) {
    let store = b.store();
    let long_segment = "a".repeat(201);
    let too_long = vec!["b".repeat(200); 6].join("/");
    assert!(too_long.len() > MAX_KEY_LEN);
    let bad = [
        "",
        "/a",
        "a/",
        "a//b",
        ".",
        "..",
        "./a",
        "a/../b",
        "a/.",
        "a b",
        "a\\b",
        "a~b",
        "é",
        "a\0b",
        long_segment.as_str(),
        too_long.as_str(),
    ];
    for key in bad {
        let refused = |r: Result<(), BlobError>| {
            assert!(
                matches!(r, Err(BlobError::BadKey { .. })),
                "{key:?} accepted: {r:?}"
            )
        };
        refused(check_key(key));
        refused(store.create(key).map(drop));
        refused(store.open(key).map(drop));
        refused(store.exists(key).map(drop));
        refused(store.delete(key));
    }
    for prefix in ["/", "../", "a//", "a/./", "a b"] {
        assert!(
            matches!(store.list(prefix), Err(BlobError::BadKey { .. })),
            "{prefix:?}"
        );
        assert!(matches!(
            store.delete_prefix(prefix),
            Err(BlobError::BadKey { .. })
        ));
    }
    assert!(matches!(
        store.delete_prefix(""),
        Err(BlobError::BadKey { .. })
    ));
    let message = check_key("a/../b").unwrap_err().to_string();
    assert!(
        message.contains("\"a/../b\"") && message.contains("'..'"),
        "{message}"
    );

    // The longest key works. (Not on TestS3: s3s-fs names a metadata file after the base64
    // of the key, so keys over about 118 bytes make file names too long for the file
    // system; AWS S3 takes 1024 bytes.)
    let longest = match b.kind {
        Kind::Local(_) => vec!["c".repeat(200); 5].join("/") + "/" + &"d".repeat(19),
        Kind::S3(_) => "c".repeat(60) + "/" + &"d".repeat(39),
    };
    if let Kind::Local(_) = b.kind {
        assert_eq!(longest.len(), MAX_KEY_LEN);
    }
    for key in [longest.as_str(), "A-z_0.9/.hidden/-/..x", "x"] {
        check_key(key).unwrap();
        put(&*store, key, key.as_bytes(), 3);
        assert_eq!(get(&*store, key), key.as_bytes());
    }
    assert_eq!(store.list("").unwrap().len(), 3);
}

fn exists_and_delete(b: &Backend) {
    let store = b.store();
    let key = "tenant-a/mig-1/x";
    assert!(!store.exists(key).unwrap());
    store.delete(key).unwrap();
    put(&*store, key, b"hello", 2);
    assert!(store.exists(key).unwrap());
    store.delete(key).unwrap();
    assert!(!store.exists(key).unwrap());
    is_missing(store.open(key), key);
    store.delete(key).unwrap();
    assert!(store.list("").unwrap().is_empty());
}

fn delete_prefix_and_list(b: &Backend) {
    let store = b.store();
    // Over 1,000 keys under one prefix, so S3 lists and deletes in pages.
    let keys: Vec<String> = (0..1050)
        .map(|i| format!("tenant-a/mig-1/rec/{:02}/{i:05}", i % 7))
        .collect();
    std::thread::scope(|s| {
        for part in keys.chunks(keys.len().div_ceil(4)) {
            let store = &store;
            s.spawn(move || {
                for key in part {
                    put(&**store, key, key.as_bytes(), 64);
                }
            });
        }
    });
    let others = [
        "tenant-a/mig-10/not-mig-1",
        "tenant-a/mig-2/x",
        "tenant-b/mig-1/x",
        "tenant-a/mig-1.txt",
    ];
    for key in others {
        put(&*store, key, b"keep", 4);
    }
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(store.list("tenant-a/mig-1/").unwrap(), sorted);
    assert_eq!(store.list("").unwrap().len(), keys.len() + others.len());
    assert_eq!(
        store.list("tenant-a/mig-1").unwrap().len(),
        keys.len() + 2,
        "a prefix is a string prefix: mig-1/…, mig-10/… and mig-1.txt"
    );
    assert_eq!(store.list("tenant-b/").unwrap(), ["tenant-b/mig-1/x"]);
    assert!(store.list("tenant-c/").unwrap().is_empty());

    assert_eq!(store.delete_prefix("tenant-a/mig-1/").unwrap(), 1050);
    assert!(store.list("tenant-a/mig-1/").unwrap().is_empty());
    let mut left = store.list("").unwrap();
    left.sort();
    let mut expected = others.map(str::to_owned).to_vec();
    expected.sort();
    assert_eq!(left, expected);
    assert_eq!(get(&*store, "tenant-a/mig-1.txt"), b"keep");
    assert_eq!(store.delete_prefix("tenant-a/mig-1/").unwrap(), 0);
    // Nothing of the deleted keys is left on disk.
    let dir = b.region_dir(Region::UsEast1);
    let leftover: Vec<_> = files_under(&dir)
        .into_iter()
        .filter(|p| p.starts_with(dir.join("tenant-a/mig-1/")))
        .collect();
    assert!(leftover.is_empty(), "{leftover:?}");
}

fn dropped_writer_leaves_nothing(b: &Backend) {
    let store = b.store();
    let key = "tenant-a/mig-1/abandoned";
    let mut w = store.create(key).unwrap();
    w.write_all(&data(9 * MIB, 2)).unwrap();
    w.flush().unwrap();
    assert!(!b.unfinished().is_empty(), "the write should be on its way");
    drop(w);
    assert!(b.unfinished().is_empty(), "{:?}", b.unfinished());
    assert!(!store.exists(key).unwrap());
    assert!(store.list("").unwrap().is_empty());
    assert!(files_under(&b.region_dir(Region::UsEast1)).is_empty());

    // A small one, never sent anywhere before `finish`, also leaves nothing.
    let mut w = store.create(key).unwrap();
    w.write_all(b"small").unwrap();
    drop(w);
    assert!(!store.exists(key).unwrap());
    assert!(files_under(&b.region_dir(Region::UsEast1)).is_empty());
}

fn regions_are_isolated(b: &Backend) {
    let us = b.blobs.store(Region::UsEast1).unwrap();
    let eu = b.blobs.store(Region::EuWest1).unwrap();
    assert_ne!(us.location(), eu.location());
    let key = "tenant-a/mig-1/secret";
    put(&*us, key, b"sealed bytes", 4);
    assert!(us.exists(key).unwrap());
    assert!(!eu.exists(key).unwrap());
    is_missing(eu.open(key), key);
    assert!(eu.list("").unwrap().is_empty());
    assert_eq!(eu.delete_prefix("tenant-a/").unwrap(), 0);
    assert!(us.exists(key).unwrap());

    // It landed in the us-east-1 folder or bucket, and nowhere else.
    let us_dir = b.region_dir(Region::UsEast1);
    assert_eq!(files_under(&us_dir), [us_dir.join(key)]);
    assert_eq!(std::fs::read(us_dir.join(key)).unwrap(), b"sealed bytes");
    assert!(files_under(&b.region_dir(Region::EuWest1)).is_empty());
    if let Kind::S3(_) = b.kind {
        assert_eq!(us.location(), "s3://airlock-us-east-1");
        assert_eq!(eu.location(), "s3://airlock-eu-west-1");
    }
}

/// Generates `local::name` and `s3::name` tests from one suite.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(#[test] fn $name() { super::$name(&super::Backend::local()); })*
        }
        mod s3 {
            $(#[test] fn $name() { super::$name(&super::Backend::s3()); })*
        }
    };
}

suite!(
    round_trip,
    not_visible_before_finish,
    overwrite_replaces,
    missing_is_missing,
    bad_keys_refused,
    exists_and_delete,
    delete_prefix_and_list,
    dropped_writer_leaves_nothing,
    regions_are_isolated,
);

#[cfg(unix)]
#[test]
fn local_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let b = Backend::local();
    put(&*b.store(), "tenant-a/mig-1/x", b"x", 1);
    let root = match &b.kind {
        Kind::Local(dir) => dir.path().join("blobs"),
        Kind::S3(_) => unreachable!(),
    };
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for dir in [
        "",
        "us-east-1",
        "us-east-1/tenant-a",
        "us-east-1/tenant-a/mig-1",
    ] {
        assert_eq!(mode(&root.join(dir)), 0o700, "{dir}");
    }
    assert_eq!(mode(&root.join("us-east-1/tenant-a/mig-1/x")), 0o600);
}

#[test]
fn local_delete_removes_empty_folders() {
    let b = Backend::local();
    let store = b.store();
    put(&*store, "tenant-a/mig-1/deep/x", b"x", 1);
    put(&*store, "tenant-a/mig-2/y", b"y", 1);
    store.delete("tenant-a/mig-1/deep/x").unwrap();
    let dir = b.region_dir(Region::UsEast1);
    assert!(!dir.join("tenant-a/mig-1").exists());
    assert_eq!(store.delete_prefix("tenant-a/").unwrap(), 1);
    assert!(!dir.join("tenant-a").exists());
    // The store still works after its folders went.
    put(&*store, "tenant-a/mig-1/deep/x", b"again", 2);
    assert_eq!(get(&*store, "tenant-a/mig-1/deep/x"), b"again");
}

#[test]
fn s3_talks_https_only() {
    let server = TestS3::start(PREFIX, &[Region::UsEast1]).unwrap();
    assert!(server.endpoint().starts_with("https://127.0.0.1:"));
    assert!(server.ca_pem().contains("BEGIN CERTIFICATE"));

    let port = server.endpoint().rsplit(':').next().unwrap();
    let with_endpoint = |endpoint: &str, allow: bool| {
        let mut config = server.config();
        config.endpoint = Some(endpoint.to_owned());
        config.allow_plain_http_on_loopback = allow;
        S3Blobs::new(config)
    };
    for (endpoint, allow) in [
        (format!("http://127.0.0.1:{port}"), false),
        ("http://localhost".to_owned(), false),
        ("http://s3.example.com".to_owned(), true),
        ("http://127.0.0.1.example.com".to_owned(), true),
        ("ftp://127.0.0.1".to_owned(), true),
        ("127.0.0.1:9000".to_owned(), true),
    ] {
        match with_endpoint(&endpoint, allow) {
            Err(BlobError::Config { message }) => {
                assert!(message.contains(&endpoint), "{message}")
            }
            other => panic!("{endpoint} accepted: {other:?}"),
        }
    }
    with_endpoint("http://127.0.0.1:9000", true).unwrap();
    with_endpoint("http://[::1]:9000/", true).unwrap();

    // Without the test CA, the server's certificate is not trusted.
    let mut untrusted = server.config();
    untrusted.extra_ca_pem = None;
    let err = S3Blobs::new(untrusted)
        .unwrap()
        .store(Region::UsEast1)
        .err()
        .unwrap();
    assert!(
        matches!(&err, BlobError::S3 { hint, .. } if hint.contains("certificate")),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains(server.endpoint()) && message.contains("UnknownIssuer"),
        "{message}"
    );

    // With it, the store works.
    let blobs = S3Blobs::new(server.config()).unwrap();
    let store = blobs.store(Region::UsEast1).unwrap();
    put(&*store, "k", b"v", 1);
    assert_eq!(get(&*store, "k"), b"v");
}

#[test]
fn s3_checks_buckets_and_credentials() {
    let server = TestS3::start(PREFIX, &[Region::UsEast1]).unwrap();
    let blobs = S3Blobs::new(server.config()).unwrap();

    let err = blobs.store(Region::ApNortheast1).err().unwrap();
    let bucket_missing = |b: &str| b == "airlock-ap-northeast-1";
    assert!(matches!(&err, BlobError::BucketMissing { bucket, .. } if bucket_missing(bucket)));
    let message = err.to_string();
    assert!(
        message.contains("create bucket airlock-ap-northeast-1"),
        "{message}"
    );
    assert!(message.contains(server.endpoint()), "{message}");

    // A bucket named for eu-west-1 but living in us-east-1 gets no eu-west-1 data.
    server
        .create_bucket("airlock-eu-west-1", Region::UsEast1)
        .unwrap();
    let err = blobs.store(Region::EuWest1).err().unwrap();
    assert!(
        matches!(&err, BlobError::WrongRegion { bucket, expected: Region::EuWest1, actual }
            if bucket == "airlock-eu-west-1" && actual == "us-east-1"),
        "{err}"
    );
    server
        .create_bucket("airlock-eu-central-1", Region::EuCentral1)
        .unwrap();
    blobs.store(Region::EuCentral1).unwrap();

    let mut config = server.config();
    config.credentials = S3Credentials::Static {
        access_key_id: "airlock-test".to_owned(),
        secret_access_key: "wrong".to_owned(),
    };
    assert!(
        !format!("{config:?}").contains("wrong"),
        "secrets stay out of Debug"
    );
    let err = S3Blobs::new(config)
        .unwrap()
        .store(Region::UsEast1)
        .err()
        .unwrap();
    assert!(
        matches!(&err, BlobError::S3 { hint, .. } if hint.contains("access key")),
        "{err}"
    );
    assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");

    let mut config = S3Config::new("Not_A_Bucket");
    config.endpoint = Some(server.endpoint().to_owned());
    assert!(matches!(
        S3Blobs::new(config),
        Err(BlobError::Config { .. })
    ));
}

#[test]
fn s3_handles_may_be_dropped_inside_an_async_runtime() {
    let server = TestS3::start(PREFIX, &[Region::UsEast1]).unwrap();
    let blobs = S3Blobs::new(server.config()).unwrap();
    let store = blobs.store(Region::UsEast1).unwrap();
    put(&*store, "k", b"v", 1);
    let reader = store.open("k").unwrap();

    // The last handle of the store's own runtime goes away on an async worker thread: a plain
    // `Runtime` drop would panic there ("Cannot drop a runtime in a context where blocking is
    // not allowed").
    let other = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    other.block_on(async move {
        drop(reader);
        drop(store);
        drop(blobs);
    });
}
