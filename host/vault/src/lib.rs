//! # airlock-vault: envelope encryption of customer data at rest
//!
//! Keys form a small hierarchy:
//!
//! - each **tenant** has a key-encryption key (KEK), held by a [`KeyProvider`]: a 0600 file
//!   per tenant ([`LocalKeyFile`]) today, a KMS later. Destroying it crypto-shreds the
//!   tenant's data;
//! - each **migration** has a random 32-byte [`DataKey`], stored only wrapped by the
//!   tenant's KEK ([`WrappedKey`], bound to the tenant and migration);
//! - each **object** (a named blob of the migration) is sealed under its own key, derived
//!   from the data key by HKDF-SHA256, by a [`Sealer`];
//! - each **field** (a cell of the migration's state database) is sealed, and found by a
//!   keyed token, under two keys derived from the data key per purpose, by a
//!   [`FieldCipher`].
//!
//! ## Sealed object format, version 1
//!
//! ```text
//! header  = "ALKV" | version (1 byte, = 1) | segment size (u32, big-endian; default 1 MiB)
//!           | salt (32 random bytes) | nonce prefix (7 random bytes)            48 bytes
//! segment = AES-256-GCM(plaintext chunk) | tag (16 bytes)
//! object  = header | segment 0 | segment 1 | … | final segment
//! ```
//!
//! - Object key = HKDF-SHA256(ikm = data key, salt = header salt, info = `"airlock object
//!   v1"` | tenant | migration | object name, each of the three prefixed by its byte length
//!   as a u64, big-endian).
//! - Every segment but the last holds exactly `segment size` plaintext bytes; the final one
//!   holds 1 to `segment size` bytes, or 0 if the object is empty (an empty object is one
//!   empty final segment). Segments are numbered from 0.
//! - Nonce of segment *i* = prefix (7) | *i* (u32, big-endian) | 1 if final, else 0.
//! - Associated data of every segment = the 48 header bytes (for a record of a
//!   [`RecordSet`] sealed with [`RecordSet::seal_bound`]: the header bytes, then the bytes
//!   the caller binds).
//!
//! What that detects, as a [`VaultError`] naming the object and the segment: a flipped bit
//! anywhere (a tag fails; a header bit fails segment 0, or is caught by the magic, version
//! or segment-size check first); a cut inside a segment (that segment's tag fails); a cut
//! at a segment boundary or a writer dropped before `finish` (no final segment:
//! [`VaultError::Truncated`]); reordered, swapped or spliced segments (the index and the
//! salt-derived key are in every tag); a blob opened as another tenant's, migration's or
//! object's (another HKDF info, another key: the tag fails); data appended after the final
//! segment (that segment is then read as a non-final one and fails).
//!
//! ## Why nonces never repeat
//!
//! Under one object key, segment *i* uses the nonce prefix | *i* | last-flag: the index
//! grows by one per segment and is capped at 2^32 segments, and only one segment has the
//! final flag, so no nonce is used twice under that key. Object keys differ between
//! objects because each object draws a fresh 32-byte random salt (a collision is a 2^-128
//! event at any realistic number of objects), and the info binds tenant, migration and
//! name as well; so two objects never share a key, and a colliding 7-byte prefix is
//! harmless. A writer that hit an error refuses further use rather than seal a segment
//! index twice.
//!
//! ## Sealed fields, version 1
//!
//! Small values kept in a database rather than as objects — the migration state's
//! mappings and failures — go through a [`FieldCipher`] ([`Sealer::field_cipher`], one per
//! purpose, e.g. `"state"`). It holds two keys, both HKDF-SHA256(ikm = data key, no salt,
//! info = `"airlock fields v1"` | tenant | migration | purpose | key use, each of the last
//! four prefixed by its byte length as a u64, big-endian), the key use being `"token
//! hmac-sha256"` or `"seal aes-256-gcm"`:
//!
//! ```text
//! token  = HMAC-SHA256(token key, len(context) | context | len(value) | value)[..16]
//! sealed = nonce (12 random bytes) | AES-256-GCM(seal key, plaintext, ad) | tag (16 bytes)
//! ```
//!
//! - A token stands in for a value that must be found by equality (a server id, a source
//!   key): deterministic under one cipher, so a table can be keyed and searched by it;
//!   unrelated across migrations and purposes.
//! - The caller chooses the associated data; binding a cell to its row's key (namespace,
//!   token) makes a cell copied or moved to another row fail to open.
//! - Nonces are random: NIST SP 800-38D allows 2^32 random-nonce seals per key; keys differ
//!   per migration and purpose, and a migration seals a cell per mapping or failure.
//! - A flipped bit, a cut, another row's associated data, another migration's or
//!   purpose's cipher: [`VaultError::FieldTampered`], naming tenant, migration and purpose.
//!
//! Architecture invariant: no key material and no plaintext reaches an error, a log line
//! or a `Debug` output; errors and logs carry tenant and migration ids, object names,
//! segment numbers and file paths.
//! Architecture invariant: ring only (AES-256-GCM, HKDF-SHA256, `SystemRandom`); no
//! OpenSSL, no aws-lc.

mod error;
mod fields;
mod keys;
mod seal;

pub use error::{ObjectRef, VaultError};
pub use fields::{FIELD_OVERHEAD, FieldCipher, TOKEN_LEN};
pub use keys::{DataKey, KEY_LEN, KeyProvider, LocalKeyFile, WrappedKey};
pub use seal::{
    DEFAULT_SEGMENT_SIZE, HEADER_LEN, MAX_SEGMENT_SIZE, OpenReader, RecordSet, SealWriter, Sealer,
};
