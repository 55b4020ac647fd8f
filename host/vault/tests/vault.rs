//! The vault end to end: round trips, tampering, truncation, keys and key files.

use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;

use airlock_model::{MigrationId, TenantId};
use airlock_vault::{
    DataKey, HEADER_LEN, KeyProvider, LocalKeyFile, Sealer, VaultError, WrappedKey,
};

const SEG: usize = 64;
const TAG: usize = 16;
const NAME: &str = "staging/issues.rec";

fn key() -> DataKey {
    DataKey::from_bytes(&[0x5a; 32])
}

fn sealer_for(tenant: &str, migration: &str) -> Sealer {
    Sealer::new(TenantId::new(tenant), MigrationId::new(migration), key())
        .with_segment_size(SEG as u32)
}

fn sealer() -> Sealer {
    sealer_for("t1", "m1")
}

/// Deterministic bytes that are not a repeating pattern.
fn data(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ len as u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `plain` through a `SealWriter` in writes of the given sizes, cycling.
fn seal_stream(sealer: &Sealer, name: &str, plain: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut w = sealer.seal_writer(name, Vec::new());
    let mut rest = plain;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = size.min(rest.len());
        w.write_all(&rest[..n]).unwrap();
        rest = &rest[n..];
    }
    w.finish().unwrap()
}

/// Reads an object through an `OpenReader` in reads of `size` bytes.
fn open_stream(
    sealer: &Sealer,
    name: &str,
    sealed: &[u8],
    size: usize,
) -> Result<Vec<u8>, VaultError> {
    let mut r = sealer.open_reader(name, sealed);
    let mut out = Vec::new();
    let mut chunk = vec![0; size];
    loop {
        match r.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) => {
                // The same error again on the next read: a failed object never looks finished.
                let again = r.read(&mut chunk).unwrap_err();
                assert_eq!(again.to_string(), e.to_string());
                let inner = e.into_inner().expect("a VaultError inside");
                return Err(*inner.downcast::<VaultError>().expect("a VaultError"));
            }
        }
    }
}

fn segment(i: usize) -> std::ops::Range<usize> {
    let start = HEADER_LEN + i * (SEG + TAG);
    start..start + SEG + TAG
}

/// Both ways of opening fail alike, naming the object; the error is returned for matching.
fn fails(sealer: &Sealer, name: &str, sealed: &[u8]) -> VaultError {
    let whole = sealer.open(name, sealed).unwrap_err();
    for size in [1, 7, 4096] {
        let streamed = open_stream(sealer, name, sealed, size).unwrap_err();
        assert_eq!(streamed.to_string(), whole.to_string());
    }
    let message = whole.to_string();
    assert!(message.contains(&format!("object {name:?}")), "{message}");
    assert!(message.contains("tenant t1, migration m1"), "{message}");
    whole
}

fn tampered_at(e: &VaultError) -> u64 {
    match e {
        VaultError::Tampered { segment, .. } => {
            assert!(
                e.to_string()
                    .contains(&format!("segment {segment} failed authentication"))
            );
            *segment
        }
        other => panic!("expected Tampered, got {other:?}"),
    }
}

#[test]
fn round_trips_with_seal_and_open() {
    let s = sealer();
    for len in [0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 3 * SEG + 7, 4 << 20] {
        let plain = data(len);
        let sealed = s.seal(NAME, &plain);
        let segments = len.div_ceil(SEG).max(1);
        assert_eq!(sealed.len(), HEADER_LEN + len + segments * TAG, "{len}");
        assert_eq!(s.open(NAME, &sealed).unwrap(), plain, "{len}");
        assert_eq!(
            open_stream(&s, NAME, &sealed, 4096).unwrap(),
            plain,
            "{len}"
        );
    }
}

#[test]
fn round_trips_streaming_with_small_and_odd_sizes() {
    let s = sealer();
    for len in [0, 1, SEG, SEG + 1, 5 * SEG, 5 * SEG + 3, 1000] {
        let plain = data(len);
        for writes in [&[1][..], &[7, 3], &[SEG], &[SEG + 1, 2], &[1000]] {
            let sealed = seal_stream(&s, NAME, &plain, writes);
            assert_eq!(s.open(NAME, &sealed).unwrap(), plain, "{len} {writes:?}");
            for reads in [1, 5, SEG, SEG + 17, 4097] {
                assert_eq!(
                    open_stream(&s, NAME, &sealed, reads).unwrap(),
                    plain,
                    "{len} {writes:?} {reads}"
                );
            }
        }
    }
}

#[test]
fn round_trips_several_mib_streaming() {
    let s = Sealer::new(TenantId::new("t1"), MigrationId::new("m1"), key()).with_segment_size(4096);
    let plain = data((5 << 20) + 3);
    let sealed = seal_stream(&s, NAME, &plain, &[65_537, 3, 100_000]);
    assert_eq!(open_stream(&s, NAME, &sealed, 10_007).unwrap(), plain);
    assert_eq!(s.open(NAME, &sealed).unwrap(), plain);
}

#[test]
fn round_trips_at_the_default_one_mib_segment_size() {
    let s = Sealer::new(TenantId::new("t1"), MigrationId::new("m1"), key());
    assert_eq!(s.segment_size(), 1 << 20);
    for len in [0, 1 << 20, (2 << 20) + 12_345] {
        let plain = data(len);
        let sealed = s.seal(NAME, &plain);
        assert_eq!(&sealed[..4], b"ALKV");
        assert_eq!(sealed[4], 1);
        assert_eq!(&sealed[5..9], &(1u32 << 20).to_be_bytes());
        assert_eq!(open_stream(&s, NAME, &sealed, 65_536).unwrap(), plain);
        let streamed = seal_stream(&s, NAME, &plain, &[300_000]);
        assert_eq!(streamed.len(), sealed.len());
        assert_eq!(s.open(NAME, &streamed).unwrap(), plain);
    }
}

#[test]
fn a_flipped_bit_in_the_header_is_caught() {
    let s = sealer();
    let sealed = s.seal(NAME, &data(3 * SEG));
    // Salt and nonce prefix: authenticated as associated data, and they change the key.
    for at in [9, 20, HEADER_LEN - 1] {
        let mut bad = sealed.clone();
        bad[at] ^= 0x01;
        assert_eq!(tampered_at(&fails(&s, NAME, &bad)), 0, "byte {at}");
    }
    let mut bad = sealed.clone();
    bad[0] ^= 0x01;
    let e = fails(&s, NAME, &bad);
    assert!(matches!(e, VaultError::BadMagic { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("is not a sealed Airlock object (bad magic)")
    );

    let mut bad = sealed.clone();
    bad[4] = 2;
    let e = fails(&s, NAME, &bad);
    assert!(
        matches!(e, VaultError::UnsupportedVersion { version: 2, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("unsupported version 2"));

    // Segment size: a smaller size misframes the segments; zero is rejected outright.
    let mut bad = sealed.clone();
    bad[8] ^= 0x01;
    assert_eq!(tampered_at(&fails(&s, NAME, &bad)), 0);
    let mut bad = sealed.clone();
    bad[5..9].copy_from_slice(&0u32.to_be_bytes());
    let e = fails(&s, NAME, &bad);
    assert!(
        matches!(
            e,
            VaultError::BadSegmentSize {
                segment_size: 0,
                ..
            }
        ),
        "{e:?}"
    );
    let mut bad = sealed;
    bad[5] = 0xff;
    let e = fails(&s, NAME, &bad);
    assert!(matches!(e, VaultError::BadSegmentSize { .. }), "{e:?}");
}

#[test]
fn a_flipped_bit_in_a_segment_body_or_tag_is_caught() {
    let s = sealer();
    let sealed = s.seal(NAME, &data(3 * SEG + 10));
    for (seg, offset) in [(0, 0), (2, 5), (1, SEG + 3), (3, 0), (3, 10 + TAG - 1)] {
        let mut bad = sealed.clone();
        bad[segment(seg).start + offset] ^= 0x80;
        let e = fails(&s, NAME, &bad);
        assert_eq!(tampered_at(&e), seg as u64, "segment {seg} offset {offset}");
        assert!(e.to_string().contains(
            "the blob was altered, truncated, reordered or sealed for another tenant or object; it cannot be read"
        ));
    }
}

#[test]
fn truncation_is_caught_wherever_the_cut_falls() {
    let s = sealer();
    let sealed = s.seal(NAME, &data(4 * SEG - 5));

    // Inside a segment: that segment's tag fails.
    let e = fails(&s, NAME, &sealed[..segment(2).start + 30]);
    assert_eq!(tampered_at(&e), 2);
    // Inside a segment, with less than a tag left.
    let e = fails(&s, NAME, &sealed[..segment(2).start + 3]);
    assert_eq!(tampered_at(&e), 2);

    // At a segment boundary: every segment present verifies, the final one is missing.
    let e = fails(&s, NAME, &sealed[..segment(2).start]);
    assert!(
        matches!(e, VaultError::Truncated { segments: 2, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .ends_with("is truncated after segment 1 (no final segment)"),
        "{e}"
    );

    // Header only.
    let e = fails(&s, NAME, &sealed[..HEADER_LEN]);
    assert!(
        matches!(e, VaultError::Truncated { segments: 0, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("is truncated after its header (no final segment)")
    );

    // Inside the header, and an empty file.
    for len in [20, 0] {
        let e = fails(&s, NAME, &sealed[..len]);
        assert!(
            matches!(e, VaultError::TruncatedHeader { bytes, .. } if bytes == len),
            "{e:?}"
        );
        assert!(e.to_string().contains("is truncated"));
    }
}

#[test]
fn truncation_is_caught_when_the_final_segment_is_full_size() {
    let s = sealer();
    let plain = data(4 * SEG);
    let sealed = s.seal(NAME, &plain);
    assert_eq!(s.open(NAME, &sealed).unwrap(), plain);
    let e = fails(&s, NAME, &sealed[..segment(3).start]);
    assert!(
        matches!(e, VaultError::Truncated { segments: 3, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("is truncated after segment 2 (no final segment)")
    );
}

#[test]
fn a_writer_dropped_without_finish_leaves_a_truncated_object() {
    let s = sealer();
    let mut out = Vec::new();
    {
        let mut w = s.seal_writer(NAME, &mut out);
        w.write_all(&data(3 * SEG + 1)).unwrap();
    }
    let e = fails(&s, NAME, &out);
    assert!(
        matches!(e, VaultError::Truncated { segments: 3, .. }),
        "{e:?}"
    );

    let mut out = Vec::new();
    drop(s.seal_writer(NAME, &mut out));
    let e = fails(&s, NAME, &out);
    assert!(
        matches!(e, VaultError::TruncatedHeader { bytes: 0, .. }),
        "{e:?}"
    );
}

#[test]
fn swapped_segments_are_caught() {
    let s = sealer();
    let sealed = s.seal(NAME, &data(4 * SEG - 1));
    let mut bad = sealed.clone();
    bad[segment(1)].copy_from_slice(&sealed[segment(2)]);
    bad[segment(2)].copy_from_slice(&sealed[segment(1)]);
    assert_eq!(tampered_at(&fails(&s, NAME, &bad)), 1);
}

#[test]
fn segments_spliced_from_another_object_of_the_migration_are_caught() {
    let s = sealer();
    let a = s.seal(NAME, &data(4 * SEG - 1));
    // The same name and plaintext sealed again: another salt, so another key.
    let b = s.seal(NAME, &data(4 * SEG - 1));
    let mut bad = a.clone();
    bad[segment(1)].copy_from_slice(&b[segment(1)]);
    assert_eq!(tampered_at(&fails(&s, NAME, &bad)), 1);

    // Another object's header on these segments.
    let mut bad = a.clone();
    bad[..HEADER_LEN].copy_from_slice(&b[..HEADER_LEN]);
    assert_eq!(tampered_at(&fails(&s, NAME, &bad)), 0);

    // Data appended after the final segment.
    let mut bad = a;
    bad.extend_from_slice(&b[segment(0)]);
    assert_eq!(tampered_at(&fails(&s, NAME, &bad)), 3);
}

#[test]
fn a_blob_opens_only_as_its_own_tenant_migration_and_object() {
    let s = sealer();
    let sealed = s.seal(NAME, b"customer data");
    let sealed_stream = seal_stream(&s, NAME, b"customer data", &[3]);
    for blob in [&sealed, &sealed_stream] {
        for other in [sealer_for("t2", "m1"), sealer_for("t1", "m2")] {
            let e = other.open(NAME, blob).unwrap_err();
            assert!(
                matches!(e, VaultError::Tampered { segment: 0, .. }),
                "{e:?}"
            );
            let message = e.to_string();
            assert!(message.contains(&format!("object {NAME:?}")), "{message}");
            assert!(
                message.contains(&format!(
                    "tenant {}, migration {}",
                    other.tenant(),
                    other.migration()
                )),
                "{message}"
            );
            assert!(matches!(
                open_stream(&other, NAME, blob, 5),
                Err(VaultError::Tampered { segment: 0, .. })
            ));
        }
        assert_eq!(tampered_at(&fails(&s, "staging/issues.rec2", blob)), 0);
        assert_eq!(tampered_at(&fails(&s, "staging/projects.rec", blob)), 0);
    }
}

#[test]
fn the_same_plaintext_seals_differently_each_time() {
    let s = sealer();
    let plain = data(3 * SEG);
    let a = s.seal(NAME, &plain);
    let b = s.seal(NAME, &plain);
    assert_ne!(a[9..HEADER_LEN], b[9..HEADER_LEN], "salt and nonce prefix");
    assert_ne!(a[HEADER_LEN..], b[HEADER_LEN..]);
    let c = seal_stream(&s, NAME, &plain, &[SEG]);
    assert_ne!(a[HEADER_LEN..], c[HEADER_LEN..]);
    assert_eq!(s.open(NAME, &a).unwrap(), s.open(NAME, &b).unwrap());
}

#[test]
fn reader_errors_are_io_errors_holding_a_vault_error() {
    let s = sealer();
    let mut sealed = s.seal(NAME, &data(2 * SEG));
    sealed[segment(1).start] ^= 1;
    let mut plain = Vec::new();
    let e = s
        .open_reader(NAME, &sealed[..])
        .read_to_end(&mut plain)
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    let vault = e
        .get_ref()
        .and_then(|e| e.downcast_ref::<VaultError>())
        .unwrap();
    assert!(matches!(vault, VaultError::Tampered { segment: 1, .. }));
    assert_eq!(vault.object().unwrap().name, NAME);
    // Segment 0 verified and was delivered; nothing of segment 1 was.
    assert_eq!(plain, data(2 * SEG)[..SEG]);

    let e = s
        .open_reader(NAME, &sealed[..HEADER_LEN])
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn data_key_debug_shows_no_key_bytes() {
    let key = DataKey::from_bytes(&[0xab; 32]);
    let debug = format!("{key:?}");
    assert_eq!(debug, "DataKey(..)");
    let sealer = Sealer::new(TenantId::new("t1"), MigrationId::new("m1"), key);
    let debug = format!("{sealer:?}");
    assert!(
        !debug.contains("171") && !debug.to_lowercase().contains("ab, "),
        "{debug}"
    );
    let generated = DataKey::generate().unwrap();
    let debug = format!("{generated:?}");
    assert_eq!(debug, "DataKey(..)");
}

// Keys and key files.

fn ids(tenant: &str, migration: &str) -> (TenantId, MigrationId) {
    (TenantId::new(tenant), MigrationId::new(migration))
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_wrapped_key_unwraps_for_its_tenant_and_migration_only() {
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyFile::open(dir.path().join("keys")).unwrap();
    let (t1, m1) = ids("t1", "m1");
    let (t2, m2) = ids("t2", "m2");
    let key = DataKey::generate().unwrap();
    let wrapped = keys.wrap(&t1, &m1, &key).unwrap();
    assert_eq!(wrapped.as_bytes().len(), 1 + 12 + 32 + 16);
    assert_eq!(wrapped.as_bytes()[0], 1);
    let stored = WrappedKey::from_bytes(wrapped.as_bytes());
    let unwrapped = keys.unwrap(&t1, &m1, &stored).unwrap();
    assert_eq!(unwrapped.expose_bytes(), key.expose_bytes());
    assert_eq!(format!("{wrapped:?}"), "WrappedKey(61 bytes)");

    // Another migration of the same tenant.
    let e = keys.unwrap(&t1, &m2, &wrapped).unwrap_err();
    assert!(matches!(e, VaultError::UnwrapFailed { .. }), "{e:?}");
    assert!(e.to_string().contains("tenant t1, migration m2"), "{e}");
    // Another tenant, with a KEK of its own.
    keys.wrap(&t2, &m1, &DataKey::generate().unwrap()).unwrap();
    let e = keys.unwrap(&t2, &m1, &wrapped).unwrap_err();
    assert!(matches!(e, VaultError::UnwrapFailed { .. }), "{e:?}");
    // Another tenant without one.
    let e = keys
        .unwrap(&TenantId::new("t3"), &m1, &wrapped)
        .unwrap_err();
    assert!(matches!(e, VaultError::NoTenantKey { .. }), "{e:?}");
    // Altered.
    let mut bytes = wrapped.as_bytes().to_vec();
    bytes[20] ^= 1;
    let e = keys
        .unwrap(&t1, &m1, &WrappedKey::from_bytes(&bytes))
        .unwrap_err();
    assert!(matches!(e, VaultError::UnwrapFailed { .. }), "{e:?}");
    bytes[0] = 9;
    let e = keys
        .unwrap(&t1, &m1, &WrappedKey::from_bytes(&bytes))
        .unwrap_err();
    assert!(matches!(e, VaultError::BadWrappedKey { .. }), "{e:?}");
    let e = keys
        .unwrap(&t1, &m1, &WrappedKey::from_bytes(&bytes[..1]))
        .unwrap_err();
    assert!(matches!(e, VaultError::BadWrappedKey { .. }), "{e:?}");
}

#[test]
fn destroying_a_tenant_shreds_its_data_keys() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("keys");
    let keys = LocalKeyFile::open(&root).unwrap();
    let (t1, m1) = ids("t1", "m1");
    let (sealer, wrapped) = Sealer::create(&keys, t1.clone(), m1.clone()).unwrap();
    let sealed = sealer.seal(NAME, b"customer data");
    let again = Sealer::unwrap(&keys, t1.clone(), m1.clone(), &wrapped).unwrap();
    assert_eq!(again.open(NAME, &sealed).unwrap(), b"customer data");

    let other = ids("t2", "m1");
    let other_wrapped = keys
        .wrap(&other.0, &other.1, &DataKey::generate().unwrap())
        .unwrap();

    keys.destroy_tenant(&t1).unwrap();
    assert!(!root.join("t1.kek").exists());
    let e = keys.unwrap(&t1, &m1, &wrapped).unwrap_err();
    assert!(matches!(e, VaultError::NoTenantKey { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("tenant t1 has no key-encryption key"),
        "{e}"
    );
    keys.destroy_tenant(&t1).unwrap();
    keys.destroy_tenant(&TenantId::new("never-created"))
        .unwrap();

    // A new KEK for the tenant does not bring the old data keys back.
    keys.wrap(&t1, &m1, &DataKey::generate().unwrap()).unwrap();
    let e = keys.unwrap(&t1, &m1, &wrapped).unwrap_err();
    assert!(matches!(e, VaultError::UnwrapFailed { .. }), "{e:?}");
    // Other tenants are untouched.
    keys.unwrap(&other.0, &other.1, &other_wrapped).unwrap();
}

#[test]
fn key_files_are_0600_in_a_0700_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault/keys");
    let keys = LocalKeyFile::open(&root).unwrap();
    assert_eq!(mode(&root), 0o700);
    let (t1, m1) = ids("tenant-1.example_A", "m1");
    keys.wrap(&t1, &m1, &DataKey::generate().unwrap()).unwrap();
    let file = root.join("tenant-1.example_A.kek");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 32);
    // Only the key file: no temporary left behind.
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 1);
}

#[test]
fn a_key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("keys");
    let keys = LocalKeyFile::open(&root).unwrap();
    let (t1, m1) = ids("t1", "m1");
    let wrapped = keys.wrap(&t1, &m1, &DataKey::generate().unwrap()).unwrap();
    let file = root.join("t1.kek");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    for e in [
        keys.unwrap(&t1, &m1, &wrapped).unwrap_err(),
        keys.wrap(&t1, &m1, &DataKey::generate().unwrap())
            .unwrap_err(),
    ] {
        assert!(
            matches!(e, VaultError::Permissions { mode: 0o644, .. }),
            "{e:?}"
        );
        let message = e.to_string();
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains("mode 644"), "{message}");
        assert!(
            message.contains(&format!("chmod 600 {}", file.display())),
            "{message}"
        );
    }
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    keys.unwrap(&t1, &m1, &wrapped).unwrap();

    // A key directory others can reach is refused too.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = LocalKeyFile::open(&root).unwrap_err();
    assert!(
        matches!(e, VaultError::Permissions { mode: 0o755, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains(&format!("chmod 700 {}", root.display())),
        "{e}"
    );
}

#[test]
fn tenant_ids_cannot_escape_the_key_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("keys");
    let keys = LocalKeyFile::open(&root).unwrap();
    let m1 = MigrationId::new("m1");
    let long = "a".repeat(129);
    for bad in [
        "",
        "..",
        ".hidden",
        "../escape",
        "a/b",
        "/etc/passwd",
        "a\0b",
        "a b",
        "é",
        &long,
    ] {
        let tenant = TenantId::new(bad);
        let e = keys
            .wrap(&tenant, &m1, &DataKey::generate().unwrap())
            .unwrap_err();
        assert!(
            matches!(e, VaultError::BadTenantId { .. }),
            "{bad:?}: {e:?}"
        );
        assert!(matches!(
            keys.destroy_tenant(&tenant),
            Err(VaultError::BadTenantId { .. })
        ));
    }
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn concurrent_first_wraps_share_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("keys");
    let keys = LocalKeyFile::open(&root).unwrap();
    let (t1, m1) = ids("t1", "m1");
    let key = DataKey::generate().unwrap();
    let wrapped: Vec<WrappedKey> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| keys.wrap(&t1, &m1, &key).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for w in &wrapped {
        assert_eq!(
            keys.unwrap(&t1, &m1, w).unwrap().expose_bytes(),
            key.expose_bytes()
        );
    }
}

/// Hands out at most 3 bytes per read, interrupts every third call and fails the fifth once.
struct Flaky<'a> {
    data: &'a [u8],
    calls: usize,
}

impl Read for Flaky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls == 5 {
            return Err(io::Error::other("flaky disk"));
        }
        if self.calls.is_multiple_of(3) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(3).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn a_reader_resumes_after_short_interrupted_and_failed_reads() {
    let s = sealer();
    let plain = data(3 * SEG + 9);
    let sealed = s.seal(NAME, &plain);
    let mut r = s.open_reader(
        NAME,
        Flaky {
            data: &sealed,
            calls: 0,
        },
    );
    let mut out = Vec::new();
    let mut chunk = [0u8; 10];
    let mut failures = 0;
    loop {
        match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) => {
                assert_eq!(e.to_string(), "flaky disk");
                failures += 1;
            }
        }
    }
    assert_eq!(failures, 1);
    assert_eq!(out, plain);
}

/// Accepts `budget` bytes, then fails.
#[derive(Debug)]
struct Failing {
    budget: usize,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::other("disk full"));
        }
        let n = buf.len().min(self.budget);
        self.budget -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_writer_that_failed_refuses_further_use() {
    let s = sealer();
    let mut w = s.seal_writer(
        NAME,
        Failing {
            budget: HEADER_LEN + SEG + TAG + 10,
        },
    );
    let e = w.write_all(&data(4 * SEG)).unwrap_err();
    assert_eq!(e.to_string(), "disk full");
    // Retrying would seal segment 1 again under the same nonce: refused instead.
    let e = w.write_all(&data(2 * SEG)).unwrap_err();
    assert!(e.to_string().contains("an earlier write failed"), "{e}");
    let e = w.finish().unwrap_err();
    assert!(e.to_string().contains(&format!("object {NAME:?}")), "{e}");
}

/// Records of a set open at their own index of their own set only, and a set reopened from
/// its header opens what it sealed.
#[test]
fn records_open_only_at_their_index_in_their_set() {
    let key = || DataKey::from_bytes(&[7u8; 32]);
    let sealer = Sealer::new(TenantId::new("t1"), MigrationId::new("m1"), key());
    let set = sealer.new_record_set("app-rows/AO_1_TEAM");
    let a = set.seal(0, b"row zero");
    let b = set.seal(1, b"row one");
    assert_eq!(set.open(0, &a).unwrap(), b"row zero");
    let reopened = sealer
        .record_set("app-rows/AO_1_TEAM", set.header())
        .unwrap();
    assert_eq!(reopened.open(1, &b).unwrap(), b"row one");
    // Moved to another index, another set, another set's header, another tenant.
    assert!(matches!(
        set.open(1, &a),
        Err(VaultError::Tampered { segment: 1, .. })
    ));
    let other = sealer.new_record_set("app-rows/AO_1_TEAM");
    assert!(other.open(0, &a).is_err());
    let renamed = sealer
        .record_set("app-rows/AO_1_MEMBER", set.header())
        .unwrap();
    assert!(renamed.open(0, &a).is_err());
    let tenant2 = Sealer::new(TenantId::new("t2"), MigrationId::new("m1"), key());
    assert!(
        tenant2
            .record_set("app-rows/AO_1_TEAM", set.header())
            .unwrap()
            .open(0, &a)
            .is_err()
    );
    let mut flipped = a.clone();
    flipped[2] ^= 1;
    assert!(set.open(0, &flipped).is_err());
    assert!(
        sealer
            .record_set("app-rows/AO_1_TEAM", &set.header()[..20])
            .is_err()
    );
}

/// A record sealed with bound bytes (what its caller keeps in clear beside it) opens only
/// with the same bytes; empty bound bytes are the plain seal.
#[test]
fn bound_records_open_only_with_the_same_bound_bytes() {
    let sealer = Sealer::new(
        TenantId::new("t1"),
        MigrationId::new("m1"),
        DataKey::from_bytes(&[7u8; 32]),
    );
    let set = sealer.new_record_set("app-rows/AO_1_TEAM");
    let a = set.seal_bound(0, b"id=1", b"row zero");
    assert_eq!(set.open_bound(0, b"id=1", &a).unwrap(), b"row zero");
    for other in [&b"id=2"[..], b"", b"id=1\0"] {
        assert!(matches!(
            set.open_bound(0, other, &a),
            Err(VaultError::Tampered { segment: 0, .. })
        ));
    }
    assert!(set.open(0, &a).is_err());
    assert!(set.open_bound(1, b"id=1", &a).is_err());
    let plain = set.seal(1, b"row one");
    assert_eq!(set.open_bound(1, b"", &plain).unwrap(), b"row one");
    assert_eq!(set.seal_bound(1, b"", b"row one"), plain);
}
