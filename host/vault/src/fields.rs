//! Sealed fields: small values kept in a database (the migration state's mappings and
//! failures) under keys derived from the migration's data key, with keyed lookup tokens
//! to find them by. See the crate docs for the format.

use std::fmt;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::sync::Mutex;

use airlock_model::{MigrationId, TenantId};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce};
use ring::hkdf::{HKDF_SHA256, Salt};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::VaultError;
use crate::keys::DataKey;
use crate::seal::Sealer;

const HKDF_INFO: &[u8] = b"airlock fields v1";
/// What each derived key is for, appended to the info so the two keys are independent.
const TOKEN_KEY_USE: &[u8] = b"token hmac-sha256";
const SEAL_KEY_USE: &[u8] = b"seal aes-256-gcm";
/// Bytes in a lookup token: a truncated HMAC-SHA256.
pub const TOKEN_LEN: usize = 16;
const TAG_LEN: usize = 16;
/// Bytes a sealed field adds to its plaintext: nonce and tag.
pub const FIELD_OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Nonces drawn from the system generator at a time: a `getrandom` call per nonce cost
/// more than the sealing itself.
const NONCES_PER_DRAW: usize = 256;

impl Sealer {
    /// The field cipher of this migration for `purpose` (e.g. `"state"`): the same keys
    /// every time for the same data key, tenant, migration and purpose.
    pub fn field_cipher(&self, purpose: &str) -> FieldCipher {
        FieldCipher::derive(self.data_key(), self.tenant(), self.migration(), purpose)
    }
}

/// Seals small values (database cells) and makes keyed lookup tokens for them, under two
/// keys derived from a migration's data key for one purpose.
///
/// - [`token`](FieldCipher::token): a deterministic HMAC-SHA256 of the value (truncated to
///   16 bytes), stored in place of a value that must be found by equality. Equal values
///   give equal tokens under one cipher, so a token reveals which rows share a value, and
///   nothing else without the key.
/// - [`seal`](FieldCipher::seal) / [`open`](FieldCipher::open): AES-256-GCM with
///   associated data the caller chooses (bind a cell to its row key, so a cell moved to
///   another row does not open).
///
/// **Nonces** are 96 random bits per seal (ring's `SystemRandom`, drawn 3 KiB at a time,
/// each byte handed out once; a forked child must not seal with its parent's cipher,
/// which Airlock never does). NIST SP 800-38D bounds random nonces to 2^32 seals per key,
/// which keeps the chance of a repeat below 2^-32; the key differs per migration and
/// purpose, and a migration seals one cell per mapping or failure — millions at most, far
/// below that bound.
///
/// The derived keys (as ring holds them, expanded) are wiped when the cipher is dropped
/// (ring's own short-lived copies while deriving them are out of our reach); `Debug` shows
/// tenant, migration and purpose only.
pub struct FieldCipher {
    keys: ManuallyDrop<Box<FieldKeys>>,
    tenant: TenantId,
    migration: MigrationId,
    purpose: String,
    rng: SystemRandom,
    nonces: Mutex<NoncePool>,
}

/// Random bytes from the system generator not yet used as a nonce.
struct NoncePool {
    bytes: Box<[u8; NONCE_LEN * NONCES_PER_DRAW]>,
    /// Bytes before this one were handed out.
    next: usize,
}

/// The two derived keys, boxed so they stay in one place that is wiped on drop.
struct FieldKeys {
    token: hmac::Key,
    seal: LessSafeKey,
}

// The wipe below frees the keys without running their destructors: they must have none
// (ring's keys are plain arrays, no heap), which this checks at compile time.
const _: () = assert!(!std::mem::needs_drop::<FieldKeys>());

impl Drop for FieldCipher {
    fn drop(&mut self) {
        // SAFETY: `keys` is taken once, here, and never used again.
        let keys = unsafe { ManuallyDrop::take(&mut self.keys) };
        // As `MaybeUninit`, any bytes are a valid value, zeroes included; the layout is
        // that of `FieldKeys`, so the box frees the same allocation.
        let raw = Box::into_raw(keys).cast::<MaybeUninit<FieldKeys>>();
        // SAFETY: `raw` is the box's own allocation, exclusively ours; `FieldKeys` has no
        // destructor to skip (asserted above) and owns no memory outside the box; zeroes
        // are a valid `MaybeUninit`. Rebuilt from `into_raw`, the box frees it once.
        unsafe {
            zeroize::zeroize_flat_type(raw);
            drop(Box::from_raw(raw));
        }
    }
}

impl fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldCipher")
            .field("tenant", &self.tenant)
            .field("migration", &self.migration)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

impl FieldCipher {
    /// HKDF-SHA256(ikm = data key, no salt, info = "airlock fields v1" then tenant,
    /// migration, purpose and the key's use, each prefixed by its length as a u64,
    /// big-endian). No salt: the data key is already uniformly random (RFC 5869 §3.1), and
    /// tokens must come out the same on every run of the migration.
    fn derive(
        data_key: &DataKey,
        tenant: &TenantId,
        migration: &MigrationId,
        purpose: &str,
    ) -> FieldCipher {
        let prk = Salt::new(HKDF_SHA256, &[]).extract(data_key.expose_bytes());
        let parts = [
            tenant.as_str().as_bytes(),
            migration.as_str().as_bytes(),
            purpose.as_bytes(),
        ];
        let info_for = |key_use: &'static [u8]| -> Vec<u8> {
            let mut info = HKDF_INFO.to_vec();
            for part in parts.iter().copied().chain([key_use]) {
                put_length_prefixed(&mut info, part);
            }
            info
        };
        let (token_info, seal_info) = (info_for(TOKEN_KEY_USE), info_for(SEAL_KEY_USE));
        let (token_info, seal_info) = ([&token_info[..]], [&seal_info[..]]);
        let token = prk
            .expand(&token_info, hmac::HMAC_SHA256)
            .expect("32 bytes are within HKDF-SHA256's output limit")
            .into();
        let seal = prk
            .expand(&seal_info, &AES_256_GCM)
            .expect("32 bytes are within HKDF-SHA256's output limit")
            .into();
        FieldCipher {
            keys: ManuallyDrop::new(Box::new(FieldKeys {
                token,
                seal: LessSafeKey::new(seal),
            })),
            tenant: tenant.clone(),
            migration: migration.clone(),
            purpose: purpose.to_owned(),
            rng: SystemRandom::new(),
            nonces: Mutex::new(NoncePool {
                bytes: Box::new([0; NONCE_LEN * NONCES_PER_DRAW]),
                next: NONCE_LEN * NONCES_PER_DRAW,
            }),
        }
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub fn migration(&self) -> &MigrationId {
        &self.migration
    }

    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The lookup token of `value` in `context` (e.g. a namespace): HMAC-SHA256 over both,
    /// each prefixed by its length as a u64, big-endian, truncated to 16 bytes. The same
    /// for the same inputs under this cipher; unrelated under another migration's or
    /// purpose's.
    pub fn token(&self, context: &[u8], value: &[u8]) -> [u8; TOKEN_LEN] {
        let mut mac = hmac::Context::with_key(&self.keys.token);
        for part in [context, value] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let full = mac.sign();
        full.as_ref()[..TOKEN_LEN]
            .try_into()
            .expect("an HMAC-SHA256 is 32 bytes")
    }

    /// `plaintext` sealed with associated data `ad`: nonce (12 random bytes) | ciphertext
    /// | tag (16 bytes); [`FIELD_OVERHEAD`] bytes longer than `plaintext`.
    ///
    /// # Panics
    /// If the system random generator fails.
    pub fn seal(&self, ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIELD_OVERHEAD + plaintext.len());
        self.seal_into(ad, plaintext, &mut out);
        out
    }

    /// [`seal`](FieldCipher::seal), appended to `out` (a buffer the caller reuses).
    ///
    /// # Panics
    /// If the system random generator fails.
    pub fn seal_into(&self, ad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        let nonce = self.next_nonce();
        let start = out.len();
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .keys
            .seal
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(ad),
                &mut out[start + NONCE_LEN..],
            )
            .expect("a field is far below AES-GCM's length limit");
        out.extend_from_slice(tag.as_ref());
    }

    /// 12 fresh random bytes: the next unused ones of the pool, refilled when empty.
    fn next_nonce(&self) -> [u8; NONCE_LEN] {
        let mut pool = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        let NoncePool { bytes, next } = &mut *pool;
        if *next == bytes.len() {
            self.rng
                .fill(&mut bytes[..])
                .expect("the system random generator failed");
            *next = 0;
        }
        let nonce = bytes[*next..*next + NONCE_LEN]
            .try_into()
            .expect("NONCE_LEN bytes");
        *next += NONCE_LEN;
        nonce
    }

    /// Opens what [`seal`](FieldCipher::seal) made with the same associated data.
    pub fn open(&self, ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        let refused = || {
            tracing::debug!(
                tenant = %self.tenant,
                migration = %self.migration,
                purpose = %self.purpose,
                "sealed field failed to open"
            );
            VaultError::FieldTampered {
                tenant: self.tenant.clone(),
                migration: self.migration.clone(),
                purpose: self.purpose.clone(),
            }
        };
        if sealed.len() < FIELD_OVERHEAD {
            return Err(refused());
        }
        let nonce =
            Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).expect("NONCE_LEN bytes");
        let mut buf = sealed.to_vec();
        let plain = self
            .keys
            .seal
            .open_within(nonce, Aad::from(ad), &mut buf, NONCE_LEN..)
            .map_err(|_| refused())?
            .len();
        buf.truncate(plain);
        Ok(buf)
    }
}

fn put_length_prefixed(out: &mut Vec<u8>, part: &[u8]) {
    out.extend_from_slice(&(part.len() as u64).to_be_bytes());
    out.extend_from_slice(part);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(purpose: &str) -> FieldCipher {
        let sealer = Sealer::new(
            TenantId::new("t1"),
            MigrationId::new("m1"),
            DataKey::from_bytes(&[7; 32]),
        );
        sealer.field_cipher(purpose)
    }

    #[test]
    fn layout_of_a_sealed_field() {
        let c = cipher("state");
        let sealed = c.seal(b"ad", b"abc");
        assert_eq!(sealed.len(), NONCE_LEN + 3 + TAG_LEN);
        assert_eq!(c.open(b"ad", &sealed).unwrap(), b"abc");
    }
}
