//! Sealed objects: the format (see the crate docs), [`Sealer`], and the streaming
//! [`SealWriter`] and [`OpenReader`].

use std::fmt;
use std::io::{self, Read, Write};

use airlock_model::{MigrationId, TenantId};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, Tag};
use ring::hkdf::{HKDF_SHA256, Salt};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{ObjectRef, VaultError};
use crate::keys::{DataKey, KeyProvider, WrappedKey};

pub(crate) const MAGIC: &[u8; 4] = b"ALKV";
pub(crate) const VERSION: u8 = 1;
const SALT_LEN: usize = 32;
const PREFIX_LEN: usize = 7;
/// Bytes before the first segment: magic, version, segment size, salt, nonce prefix.
pub const HEADER_LEN: usize = MAGIC.len() + 1 + 4 + SALT_LEN + PREFIX_LEN;
/// Plaintext bytes per segment unless [`Sealer::with_segment_size`] says otherwise.
pub const DEFAULT_SEGMENT_SIZE: u32 = 1 << 20;
/// The largest segment size accepted, so a damaged header cannot make a reader allocate
/// gigabytes before the first tag is checked.
pub const MAX_SEGMENT_SIZE: u32 = 1 << 24;
const TAG_LEN: usize = 16;
const HKDF_INFO: &[u8] = b"airlock object v1";

/// Seals and opens the objects of one migration under its data key.
///
/// Each object gets its own key, derived from the data key, a random salt and the object's
/// tenant, migration and name; see the crate docs for the format.
pub struct Sealer {
    tenant: TenantId,
    migration: MigrationId,
    key: DataKey,
    segment_size: u32,
    rng: SystemRandom,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("tenant", &self.tenant)
            .field("migration", &self.migration)
            .field("segment_size", &self.segment_size)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    pub fn new(tenant: TenantId, migration: MigrationId, key: DataKey) -> Sealer {
        Sealer {
            tenant,
            migration,
            key,
            segment_size: DEFAULT_SEGMENT_SIZE,
            rng: SystemRandom::new(),
        }
    }

    /// A new migration: a fresh data key, and that key wrapped by `provider` to store with
    /// the migration.
    pub fn create(
        provider: &(impl KeyProvider + ?Sized),
        tenant: TenantId,
        migration: MigrationId,
    ) -> Result<(Sealer, WrappedKey), VaultError> {
        let key = DataKey::generate()?;
        let wrapped = provider.wrap(&tenant, &migration, &key)?;
        Ok((Sealer::new(tenant, migration, key), wrapped))
    }

    /// An existing migration, from its stored wrapped key.
    pub fn unwrap(
        provider: &(impl KeyProvider + ?Sized),
        tenant: TenantId,
        migration: MigrationId,
        wrapped: &WrappedKey,
    ) -> Result<Sealer, VaultError> {
        let key = provider.unwrap(&tenant, &migration, wrapped)?;
        Ok(Sealer::new(tenant, migration, key))
    }

    /// Seals new objects with `bytes` of plaintext per segment (opening reads the size from
    /// each object's header). Small sizes are for tests; the default suits everything else.
    ///
    /// # Panics
    /// If `bytes` is 0 or above [`MAX_SEGMENT_SIZE`].
    pub fn with_segment_size(mut self, bytes: u32) -> Sealer {
        assert!(
            (1..=MAX_SEGMENT_SIZE).contains(&bytes),
            "segment size {bytes} is outside 1..={MAX_SEGMENT_SIZE}"
        );
        self.segment_size = bytes;
        self
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub fn migration(&self) -> &MigrationId {
        &self.migration
    }

    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// For the other keys derived from the data key (the field cipher).
    pub(crate) fn data_key(&self) -> &DataKey {
        &self.key
    }

    /// Seals `plaintext` as the object `name`, in memory.
    ///
    /// # Panics
    /// If the system random generator fails, or the object would exceed 2^32 segments.
    pub fn seal(&self, name: &str, plaintext: &[u8]) -> Vec<u8> {
        let cipher = self.new_object(name);
        let size = self.segment_size as usize;
        let segments = plaintext.len().div_ceil(size).max(1);
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + segments * TAG_LEN);
        out.extend_from_slice(&cipher.header);
        for i in 0..segments {
            let chunk = &plaintext[i * size..plaintext.len().min((i + 1) * size)];
            let start = out.len();
            out.extend_from_slice(chunk);
            let index = u32::try_from(i).expect("an object of at most 2^32 segments");
            let tag = cipher.seal(index, i + 1 == segments, &mut out[start..]);
            out.extend_from_slice(tag.as_ref());
        }
        out
    }

    /// Opens the object `name` sealed by [`seal`](Sealer::seal) or a [`SealWriter`].
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        let object = self.object_ref(name);
        self.open_inner(&object, sealed)
            .map_err(|failure| failure.into_error(object))
    }

    fn open_inner(&self, object: &ObjectRef, sealed: &[u8]) -> Result<Vec<u8>, Failure> {
        let header: [u8; HEADER_LEN] = match sealed.get(..HEADER_LEN) {
            Some(h) => h.try_into().expect("HEADER_LEN bytes"),
            None => return Err(short_header(sealed)),
        };
        let header = Header::parse(header)?;
        let full = header.segment_size() + TAG_LEN;
        let cipher = ObjectCipher::new(&self.key, header, object);
        let mut rest = &sealed[HEADER_LEN..];
        let segments = rest.len().div_ceil(full).max(1);
        let mut out = Vec::with_capacity(rest.len().saturating_sub(segments * TAG_LEN));
        let mut scratch = Vec::new();
        for index in 0.. {
            let at_end = rest.len() <= full;
            let take = if at_end { rest.len() } else { full };
            let start = out.len();
            out.extend_from_slice(&rest[..take]);
            let n = open_segment(&cipher, index, &mut out[start..], at_end, &mut scratch)?;
            out.truncate(start + n);
            rest = &rest[take..];
            if at_end {
                break;
            }
        }
        Ok(out)
    }

    /// Seals what is written into `out` as the object `name`. Call
    /// [`finish`](SealWriter::finish): a writer dropped without it leaves an object that
    /// fails to open as truncated.
    ///
    /// # Panics
    /// If the system random generator fails.
    pub fn seal_writer<W: Write>(&self, name: &str, out: W) -> SealWriter<W> {
        let cipher = self.new_object(name);
        let size = self.segment_size as usize;
        SealWriter {
            out,
            object: self.object_ref(name),
            cipher,
            buf: Vec::with_capacity(size + TAG_LEN),
            segment_size: size,
            index: 0,
            header_written: false,
            broken: false,
        }
    }

    /// Reads the plaintext of the object `name` from `input`. Errors are `io::Error`s
    /// holding a [`VaultError`] (`e.get_ref()` then `downcast_ref::<VaultError>()`); once
    /// one is returned, every later read returns it again.
    pub fn open_reader<R: Read>(&self, name: &str, input: R) -> OpenReader<R> {
        OpenReader {
            input,
            object: self.object_ref(name),
            pending_key: Some(DataKey::from_bytes(self.key.expose_bytes())),
            header: [0; HEADER_LEN],
            header_filled: 0,
            cipher: None,
            buf: Vec::new(),
            filled: 0,
            carry: None,
            plain: 0..0,
            index: 0,
            done: false,
            failed: None,
            scratch: Vec::new(),
        }
    }

    fn object_ref(&self, name: &str) -> ObjectRef {
        ObjectRef {
            tenant: self.tenant.clone(),
            migration: self.migration.clone(),
            name: name.to_owned(),
        }
    }

    /// A fresh header and the key it derives for `name`.
    fn new_object(&self, name: &str) -> ObjectCipher {
        let mut random = [0u8; SALT_LEN + PREFIX_LEN];
        self.rng
            .fill(&mut random)
            .expect("the system random generator failed");
        let mut bytes = [0u8; HEADER_LEN];
        bytes[..4].copy_from_slice(MAGIC);
        bytes[4] = VERSION;
        bytes[5..9].copy_from_slice(&self.segment_size.to_be_bytes());
        bytes[9..].copy_from_slice(&random);
        ObjectCipher::new(&self.key, Header { bytes }, &self.object_ref(name))
    }
}

/// Many small records of one named set (an app's staged table, row by row), each sealed
/// on its own under the set's one key: a key derivation per set, not per record.
///
/// The set is an object whose segments are its records, addressed by index: record *i* is
/// sealed as final segment *i* (nonce = prefix | *i* | 1, the set's header as associated
/// data). Each index must be sealed once per set; a new set (a new header: a fresh salt,
/// so a fresh key) is made whenever records are written again. A record moved to another
/// index, another set, tenant or migration does not open.
///
/// [`seal_bound`](RecordSet::seal_bound) also binds what the caller keeps in clear beside
/// a record (the key it is found by, the names of its fields): the associated data is then
/// the header followed by those bytes, so a record whose clear companions were changed or
/// swapped with another's does not open either.
pub struct RecordSet {
    cipher: ObjectCipher,
    object: ObjectRef,
}

impl fmt::Debug for RecordSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordSet")
            .field("object", &self.object)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A new record set named `name`; keep its [`RecordSet::header`] to reopen it.
    pub fn new_record_set(&self, name: &str) -> RecordSet {
        RecordSet {
            cipher: self.new_object(name),
            object: self.object_ref(name),
        }
    }

    /// Reopens the record set `name` from the header it was made with.
    pub fn record_set(&self, name: &str, header: &[u8]) -> Result<RecordSet, VaultError> {
        let object = self.object_ref(name);
        let bytes: [u8; HEADER_LEN] = header
            .try_into()
            .map_err(|_| short_header(header).into_error(object.clone()))?;
        let header = Header::parse(bytes).map_err(|f| f.into_error(object.clone()))?;
        Ok(RecordSet {
            cipher: ObjectCipher::new(&self.key, header, &object),
            object,
        })
    }
}

impl RecordSet {
    /// The set's header (48 bytes, no secret): store it beside the records.
    pub fn header(&self) -> &[u8] {
        &self.cipher.header
    }

    /// Record `index` sealed: ciphertext then tag (16 bytes longer than `plaintext`).
    pub fn seal(&self, index: u32, plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        let tag = self.cipher.seal(index, true, &mut out);
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// Record `index`, opened.
    pub fn open(&self, index: u32, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        self.open_bound(index, &[], sealed)
    }

    /// Record `index` sealed with `bound` added to its associated data (after the header):
    /// it opens only through [`open_bound`](RecordSet::open_bound) with the same bytes.
    /// An empty `bound` is [`seal`](RecordSet::seal).
    pub fn seal_bound(&self, index: u32, bound: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        let tag = self.cipher.seal_with(index, true, bound, &mut out);
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// Record `index`, opened, if it was sealed with the same `bound` bytes; otherwise
    /// [`VaultError::Tampered`], as for any other change.
    pub fn open_bound(
        &self,
        index: u32,
        bound: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        let mut buf = sealed.to_vec();
        match self.cipher.open_with(index, true, bound, &mut buf) {
            Some(len) => {
                buf.truncate(len);
                Ok(buf)
            }
            None => Err(VaultError::Tampered {
                object: self.object.clone(),
                segment: u64::from(index),
            }),
        }
    }
}

/// A parsed (not yet authenticated) header. The first segment's tag authenticates it.
struct Header {
    bytes: [u8; HEADER_LEN],
}

impl Header {
    fn parse(bytes: [u8; HEADER_LEN]) -> Result<Header, Failure> {
        if &bytes[..4] != MAGIC {
            return Err(Failure::BadMagic);
        }
        if bytes[4] != VERSION {
            return Err(Failure::Version(bytes[4]));
        }
        let header = Header { bytes };
        let size = header.segment_size() as u32;
        if !(1..=MAX_SEGMENT_SIZE).contains(&size) {
            return Err(Failure::SegmentSize(size));
        }
        Ok(header)
    }

    fn segment_size(&self) -> usize {
        u32::from_be_bytes(self.bytes[5..9].try_into().expect("4 bytes")) as usize
    }

    fn salt(&self) -> &[u8] {
        &self.bytes[9..9 + SALT_LEN]
    }

    fn prefix(&self) -> &[u8] {
        &self.bytes[9 + SALT_LEN..]
    }
}

/// The blob is shorter than a header: bad magic if what is there already says so.
fn short_header(bytes: &[u8]) -> Failure {
    if bytes.len() >= MAGIC.len() && &bytes[..MAGIC.len()] != MAGIC {
        Failure::BadMagic
    } else {
        Failure::TruncatedHeader(bytes.len())
    }
}

/// One object's key, with the header its segments authenticate.
struct ObjectCipher {
    key: LessSafeKey,
    header: [u8; HEADER_LEN],
    prefix: [u8; PREFIX_LEN],
    segment_size: usize,
}

impl ObjectCipher {
    /// HKDF-SHA256(ikm = data key, salt = header salt, info = "airlock object v1" then
    /// tenant, migration and object name, each prefixed by its length as a u64, big-endian).
    fn new(data_key: &DataKey, header: Header, object: &ObjectRef) -> ObjectCipher {
        let lens = [
            (object.tenant.as_str().len() as u64).to_be_bytes(),
            (object.migration.as_str().len() as u64).to_be_bytes(),
            (object.name.len() as u64).to_be_bytes(),
        ];
        let info: [&[u8]; 7] = [
            HKDF_INFO,
            &lens[0],
            object.tenant.as_str().as_bytes(),
            &lens[1],
            object.migration.as_str().as_bytes(),
            &lens[2],
            object.name.as_bytes(),
        ];
        let prk = Salt::new(HKDF_SHA256, header.salt()).extract(data_key.expose_bytes());
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .expect("32 bytes are within HKDF-SHA256's output limit");
        ObjectCipher {
            key: LessSafeKey::new(okm.into()),
            prefix: header.prefix().try_into().expect("PREFIX_LEN bytes"),
            segment_size: header.segment_size(),
            header: header.bytes,
        }
    }

    /// prefix (7) | segment index (u32, big-endian) | 1 for the final segment, else 0.
    fn nonce(&self, index: u32, last: bool) -> Nonce {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..PREFIX_LEN].copy_from_slice(&self.prefix);
        nonce[PREFIX_LEN..PREFIX_LEN + 4].copy_from_slice(&index.to_be_bytes());
        nonce[NONCE_LEN - 1] = u8::from(last);
        Nonce::assume_unique_for_key(nonce)
    }

    fn seal(&self, index: u32, last: bool, in_out: &mut [u8]) -> Tag {
        self.key
            .seal_in_place_separate_tag(self.nonce(index, last), Aad::from(&self.header), in_out)
            .expect("a segment is far below AES-GCM's length limit")
    }

    /// As `seal`, the associated data being the header then `bound` (the header alone when
    /// `bound` is empty, so that is `seal`).
    fn seal_with(&self, index: u32, last: bool, bound: &[u8], in_out: &mut [u8]) -> Tag {
        if bound.is_empty() {
            return self.seal(index, last, in_out);
        }
        let ad = [&self.header[..], bound].concat();
        self.key
            .seal_in_place_separate_tag(self.nonce(index, last), Aad::from(&ad), in_out)
            .expect("a segment is far below AES-GCM's length limit")
    }

    /// As `open`, with the associated data of `seal_with`.
    fn open_with(&self, index: u32, last: bool, bound: &[u8], in_out: &mut [u8]) -> Option<usize> {
        if bound.is_empty() {
            return self.open(index, last, in_out);
        }
        let ad = [&self.header[..], bound].concat();
        self.key
            .open_in_place(self.nonce(index, last), Aad::from(&ad), in_out)
            .ok()
            .map(|plain| plain.len())
    }

    /// Opens ciphertext and tag in place; the plaintext length, or `None` if the tag fails.
    fn open(&self, index: u32, last: bool, in_out: &mut [u8]) -> Option<usize> {
        self.key
            .open_in_place(self.nonce(index, last), Aad::from(&self.header), in_out)
            .ok()
            .map(|plain| plain.len())
    }
}

/// Opens segment `index` (ciphertext and tag, in place); its plaintext length.
///
/// `at_end`: nothing follows it, so it should be the final segment. If it is full-size and
/// only opens as a non-final one, the object was cut at that boundary: truncated.
fn open_segment(
    cipher: &ObjectCipher,
    index: u64,
    segment: &mut [u8],
    at_end: bool,
    scratch: &mut Vec<u8>,
) -> Result<usize, Failure> {
    let tampered = Failure::Tampered(index);
    if at_end && segment.is_empty() {
        return Err(Failure::Truncated(index));
    }
    let Ok(nonce_index) = u32::try_from(index) else {
        return Err(tampered);
    };
    if segment.len() < TAG_LEN {
        return Err(tampered);
    }
    if !at_end {
        return cipher.open(nonce_index, false, segment).ok_or(tampered);
    }
    if segment.len() != cipher.segment_size + TAG_LEN {
        return cipher.open(nonce_index, true, segment).ok_or(tampered);
    }
    // A failed open zeroes the buffer: keep the ciphertext to try it as a non-final segment.
    scratch.clear();
    scratch.extend_from_slice(segment);
    if let Some(n) = cipher.open(nonce_index, true, segment) {
        return Ok(n);
    }
    segment.copy_from_slice(scratch);
    match cipher.open(nonce_index, false, segment) {
        Some(_) => {
            segment.fill(0);
            Err(Failure::Truncated(index + 1))
        }
        None => Err(tampered),
    }
}

/// What went wrong with an object, without the object: small and `Copy`, so a reader can
/// keep it and return the same error on every later read.
#[derive(Clone, Copy, Debug)]
enum Failure {
    Tampered(u64),
    Truncated(u64),
    TruncatedHeader(usize),
    BadMagic,
    Version(u8),
    SegmentSize(u32),
}

impl Failure {
    fn into_error(self, object: ObjectRef) -> VaultError {
        tracing::debug!(
            tenant = %object.tenant,
            migration = %object.migration,
            failure = ?self,
            "sealed object failed to open"
        );
        match self {
            Failure::Tampered(segment) => VaultError::Tampered { object, segment },
            Failure::Truncated(segments) => VaultError::Truncated { object, segments },
            Failure::TruncatedHeader(bytes) => VaultError::TruncatedHeader { object, bytes },
            Failure::BadMagic => VaultError::BadMagic { object },
            Failure::Version(version) => VaultError::UnsupportedVersion { object, version },
            Failure::SegmentSize(segment_size) => VaultError::BadSegmentSize {
                object,
                segment_size,
            },
        }
    }
}

/// Seals what is written to it, one segment at a time, into `W`.
///
/// Holds at most one segment of plaintext: a full segment is sealed only when more bytes
/// arrive (it is then not the final one) or at [`finish`](SealWriter::finish) (it is).
/// `flush` flushes `W` but cannot push out the pending segment. After an error the writer
/// refuses further use: resealing a segment would reuse its nonce.
pub struct SealWriter<W: Write> {
    out: W,
    object: ObjectRef,
    cipher: ObjectCipher,
    /// The pending segment's plaintext; sealed in place, tag appended, then written.
    buf: Vec<u8>,
    segment_size: usize,
    index: u32,
    header_written: bool,
    broken: bool,
}

impl<W: Write> fmt::Debug for SealWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealWriter")
            .field("object", &self.object)
            .field("segments_written", &self.index)
            .finish_non_exhaustive()
    }
}

impl<W: Write> SealWriter<W> {
    /// Seals the pending bytes as the final segment, flushes, and returns `W`.
    pub fn finish(mut self) -> io::Result<W> {
        self.write_segment(true)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn check_not_broken(&self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(format!(
                "{}: an earlier write failed; the object is incomplete",
                self.object
            )));
        }
        Ok(())
    }

    fn write_segment(&mut self, last: bool) -> io::Result<()> {
        self.check_not_broken()?;
        // Broken until this segment is out: a failure below must never lead to a retry
        // that seals under the same nonce.
        self.broken = true;
        if !self.header_written {
            self.out.write_all(&self.cipher.header)?;
            self.header_written = true;
        }
        let tag = self.cipher.seal(self.index, last, &mut self.buf);
        self.buf.extend_from_slice(tag.as_ref());
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        if !last {
            self.index = self.index.checked_add(1).ok_or_else(|| {
                io::Error::other(format!("{} exceeds 2^32 segments", self.object))
            })?;
        }
        self.broken = false;
        Ok(())
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check_not_broken()?;
        let mut rest = data;
        while !rest.is_empty() {
            if self.buf.len() == self.segment_size {
                self.write_segment(false)?;
            }
            let take = rest.len().min(self.segment_size - self.buf.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Reads and authenticates a sealed object from `R`, yielding its plaintext.
///
/// Plaintext is returned only after its segment's tag verified. Reads one byte past each
/// full-size segment to learn whether it is the final one.
pub struct OpenReader<R: Read> {
    input: R,
    object: ObjectRef,
    /// Until the header (and its salt) arrives; then the object key replaces it.
    pending_key: Option<DataKey>,
    header: [u8; HEADER_LEN],
    header_filled: usize,
    cipher: Option<ObjectCipher>,
    /// A segment's ciphertext and tag plus the byte after it; the plaintext after opening.
    buf: Vec<u8>,
    filled: usize,
    /// The byte read past the current segment: the first of the next one.
    carry: Option<u8>,
    plain: std::ops::Range<usize>,
    /// The next segment's index.
    index: u64,
    done: bool,
    failed: Option<Failure>,
    scratch: Vec<u8>,
}

impl<R: Read> fmt::Debug for OpenReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenReader")
            .field("object", &self.object)
            .field("segments_read", &self.index)
            .finish_non_exhaustive()
    }
}

/// Why the next segment could not be had: the input's own error (kept as is, and the read
/// may be retried), or the object's (final).
enum Stop {
    Io(io::Error),
    Failed(Failure),
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Stop {
        Stop::Failed(f)
    }
}

impl<R: Read> OpenReader<R> {
    /// Reads into `buf[filled..]` until it is full or the input ends; the new fill level.
    /// On an input error, the fill level so far goes with it, so a retry resumes.
    fn fill(input: &mut R, buf: &mut [u8], mut filled: usize) -> Result<usize, (usize, Stop)> {
        while filled < buf.len() {
            match input.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((filled, Stop::Io(e))),
            }
        }
        Ok(filled)
    }

    /// Reads into `buf[filled..]` until `buf` holds `want` bytes or the input ends; the new
    /// fill level. `buf` grows (zeroed) as bytes arrive, doubling from 64 KiB, so a small
    /// object never costs a whole segment of fresh memory. On an input error, the fill level
    /// so far goes with it, so a retry resumes.
    fn fill_growing(
        input: &mut R,
        buf: &mut Vec<u8>,
        mut filled: usize,
        want: usize,
    ) -> Result<usize, (usize, Stop)> {
        const FIRST: usize = 64 * 1024;
        while filled < want {
            if filled == buf.len() {
                buf.resize((buf.len() * 2).clamp(FIRST.min(want), want), 0);
            }
            filled = Self::fill(input, buf, filled)?;
            if filled < buf.len() {
                break; // the input ended
            }
        }
        Ok(filled)
    }

    fn read_header(&mut self) -> Result<(), Stop> {
        let filled = Self::fill(&mut self.input, &mut self.header, self.header_filled).map_err(
            |(filled, stop)| {
                self.header_filled = filled;
                stop
            },
        )?;
        self.header_filled = filled;
        if filled < HEADER_LEN {
            return Err(short_header(&self.header[..filled]).into());
        }
        let header = Header::parse(self.header)?;
        let key = self
            .pending_key
            .take()
            .expect("the data key until the header");
        let cipher = ObjectCipher::new(&key, header, &self.object);
        self.buf = Vec::new();
        self.cipher = Some(cipher);
        Ok(())
    }

    /// Reads and opens the next segment into `buf`.
    fn next_segment(&mut self) -> Result<(), Stop> {
        if self.cipher.is_none() {
            self.read_header()?;
        }
        // A segment, its tag and the byte after it (which tells whether it is the last).
        let want = self
            .cipher
            .as_ref()
            .expect("read_header set it")
            .segment_size
            + TAG_LEN
            + 1;
        if let Some(b) = self.carry.take() {
            if self.buf.is_empty() {
                self.buf.push(0);
            }
            self.buf[0] = b;
            self.filled = 1;
        }
        let filled = Self::fill_growing(&mut self.input, &mut self.buf, self.filled, want)
            .map_err(|(filled, stop)| {
                self.filled = filled;
                stop
            })?;
        let cipher = self.cipher.as_ref().expect("read_header set it");
        let at_end = filled < want;
        let len = if at_end {
            filled
        } else {
            self.carry = Some(self.buf[filled - 1]);
            filled - 1
        };
        self.filled = 0;
        let n = open_segment(
            cipher,
            self.index,
            &mut self.buf[..len],
            at_end,
            &mut self.scratch,
        )?;
        self.plain = 0..n;
        self.index += 1;
        self.done = at_end;
        Ok(())
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.plain.is_empty() || out.is_empty() {
                let n = out.len().min(self.plain.len());
                out[..n].copy_from_slice(&self.buf[self.plain.start..self.plain.start + n]);
                self.plain.start += n;
                return Ok(n);
            }
            if let Some(failure) = self.failed {
                return Err(failure.into_error(self.object.clone()).into());
            }
            if self.done {
                return Ok(0);
            }
            match self.next_segment() {
                Ok(()) => {}
                Err(Stop::Io(e)) => return Err(e),
                Err(Stop::Failed(failure)) => {
                    self.failed = Some(failure);
                    self.plain = 0..0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(segment_size: u32) -> ObjectCipher {
        let sealer = Sealer::new(
            TenantId::new("t1"),
            MigrationId::new("m1"),
            DataKey::from_bytes(&[1; 32]),
        )
        .with_segment_size(segment_size);
        sealer.new_object("a")
    }

    #[test]
    fn header_and_nonce_layout() {
        assert_eq!(HEADER_LEN, 48);
        let c = cipher(4096);
        assert_eq!(&c.header[..5], b"ALKV\x01");
        assert_eq!(&c.header[5..9], &4096u32.to_be_bytes());
        assert_eq!(c.prefix, c.header[41..48]);
        let nonce = c.nonce(0x0102_0304, true);
        let bytes = nonce.as_ref();
        assert_eq!(&bytes[..7], &c.prefix);
        assert_eq!(&bytes[7..], &[1, 2, 3, 4, 1]);
        assert_eq!(c.nonce(5, false).as_ref()[11], 0);
    }

    #[test]
    fn a_segment_index_beyond_u32_does_not_open() {
        let c = cipher(16);
        let mut segment = [0u8; 32];
        assert!(matches!(
            open_segment(&c, 1 << 32, &mut segment, false, &mut Vec::new()),
            Err(Failure::Tampered(n)) if n == 1 << 32
        ));
    }

    #[test]
    #[should_panic(expected = "segment size 0 is outside")]
    fn a_zero_segment_size_is_refused() {
        let _ = cipher(0);
    }
}
