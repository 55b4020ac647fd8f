//! Signed plugins and reviewers' approvals (Ed25519, ring).
//!
//! A vendor signs a plugin: `PLUGIN.wasm.sig` holds the component's SHA-256, the app key
//! and version from its manifest, the vendor's public key and the signature over them. A
//! reviewer approves it: `PLUGIN.wasm.approval` binds that same hash and vendor key to the
//! reviewer's public key and signature. [`verify`] accepts a plugin only if the bytes on
//! disk are the ones signed and a reviewer the operator trusts approved exactly them.
//! Keys are PKCS#8 documents (as `ring` writes them); public keys travel as hex.

use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a vendor's signature covers (`PLUGIN.wasm.sig`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSignature {
    /// The component's SHA-256 (hex).
    pub sha256: String,
    pub app_key: String,
    pub version: String,
    /// The vendor's Ed25519 public key (hex).
    pub vendor_key: String,
    /// The vendor's signature over [`PluginSignature::message`] (hex).
    pub signature: String,
}

/// A reviewer's approval of one signed build (`PLUGIN.wasm.approval`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The approved component's SHA-256 (hex).
    pub sha256: String,
    /// The vendor whose signature the reviewer checked (hex public key).
    pub vendor_key: String,
    /// The reviewer's Ed25519 public key (hex).
    pub reviewer_key: String,
    #[serde(default)]
    pub note: String,
    /// The reviewer's signature over [`Approval::message`] (hex).
    pub signature: String,
}

/// A plugin that passed [`verify`]: who signed and who approved it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reviewed {
    pub sha256: String,
    pub vendor_key: String,
    pub reviewer_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid {what}: {reason}")]
    Invalid {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    #[error(
        "{plugin} is not signed (no {sig}): ask its vendor for the signature file (`airlock plugin sign`), or run it with --unreviewed"
    )]
    Unsigned { plugin: PathBuf, sig: PathBuf },
    #[error(
        "{plugin} is not the build its vendor signed (its SHA-256 is {actual}, the signature is for {signed}): get the signed build from the vendor"
    )]
    Altered {
        plugin: PathBuf,
        actual: String,
        signed: String,
    },
    #[error(
        "{path}: the signature does not verify with the key it names: the file was altered; get it again from the vendor"
    )]
    BadSignature { path: PathBuf },
    #[error(
        "{plugin} has no approval (no {approval}): have a reviewer approve this build (`airlock plugin approve`), or run it with --unreviewed"
    )]
    Unapproved { plugin: PathBuf, approval: PathBuf },
    #[error(
        "{plugin}: its approval ({approval}) is for another build or vendor: have a reviewer approve this build"
    )]
    ApprovalMismatch { plugin: PathBuf, approval: PathBuf },
    #[error(
        "{plugin} is approved by reviewer {reviewer}, whom this configuration does not trust: add the key to trusted_reviewers in airlock.toml (or --trust-reviewer) if you trust them"
    )]
    UntrustedReviewer { plugin: PathBuf, reviewer: String },
    #[error("cannot generate a key: the system's random source failed")]
    Random,
}

type Result<T> = std::result::Result<T, ApprovalError>;

impl PluginSignature {
    /// The bytes the vendor signs: a fixed label, then each field on its own line.
    pub fn message(&self) -> Vec<u8> {
        format!(
            "airlock-plugin-signature-v1\n{}\n{}\n{}\n{}\n",
            self.sha256, self.app_key, self.version, self.vendor_key
        )
        .into_bytes()
    }
}

impl Approval {
    /// The bytes the reviewer signs.
    pub fn message(&self) -> Vec<u8> {
        format!(
            "airlock-plugin-approval-v1\n{}\n{}\n{}\n{}\n",
            self.sha256, self.vendor_key, self.reviewer_key, self.note
        )
        .into_bytes()
    }
}

/// `PLUGIN.wasm.sig`.
pub fn signature_path(plugin: &Path) -> PathBuf {
    suffixed(plugin, ".sig")
}

/// `PLUGIN.wasm.approval`.
pub fn approval_path(plugin: &Path) -> PathBuf {
    suffixed(plugin, ".approval")
}

fn suffixed(plugin: &Path, suffix: &str) -> PathBuf {
    let mut name = plugin.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A new key pair: the PKCS#8 document (to keep private) and the public key (hex).
pub fn generate_key() -> Result<(Vec<u8>, String)> {
    let pkcs8 =
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| ApprovalError::Random)?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| ApprovalError::Random)?;
    Ok((
        pkcs8.as_ref().to_vec(),
        hex::encode(pair.public_key().as_ref()),
    ))
}

/// Reads a private key file written by [`generate_key`]'s caller.
pub fn read_key(path: &Path) -> Result<Ed25519KeyPair> {
    let bytes = read(path)?;
    Ed25519KeyPair::from_pkcs8(&bytes).map_err(|e| ApprovalError::Invalid {
        path: path.into(),
        what: "Ed25519 private key (PKCS#8, from `airlock plugin keygen`)",
        reason: e.to_string(),
    })
}

/// The hex public key of a key pair.
pub fn public_key(pair: &Ed25519KeyPair) -> String {
    hex::encode(pair.public_key().as_ref())
}

/// The vendor's signature of `plugin` (its bytes on disk, its manifest's app key and version).
pub fn sign(
    plugin: &Path,
    app_key: &str,
    version: &str,
    vendor: &Ed25519KeyPair,
) -> Result<PluginSignature> {
    let mut signed = PluginSignature {
        sha256: sha256_of(plugin)?,
        app_key: app_key.into(),
        version: version.into(),
        vendor_key: public_key(vendor),
        signature: String::new(),
    };
    signed.signature = hex::encode(vendor.sign(&signed.message()).as_ref());
    Ok(signed)
}

/// The reviewer's approval of `plugin`, refused unless the vendor's signature holds for the
/// bytes on disk (a reviewer never approves an unsigned or altered build).
pub fn approve(plugin: &Path, reviewer: &Ed25519KeyPair, note: &str) -> Result<Approval> {
    let signed = check_signature(plugin)?;
    let mut approval = Approval {
        sha256: signed.sha256,
        vendor_key: signed.vendor_key,
        reviewer_key: public_key(reviewer),
        note: note.into(),
        signature: String::new(),
    };
    approval.signature = hex::encode(reviewer.sign(&approval.message()).as_ref());
    Ok(approval)
}

/// The plugin's signature file, checked: it verifies, and it is for these bytes.
pub fn check_signature(plugin: &Path) -> Result<PluginSignature> {
    let sig_path = signature_path(plugin);
    if !sig_path.exists() {
        return Err(ApprovalError::Unsigned {
            plugin: plugin.into(),
            sig: sig_path,
        });
    }
    let signed: PluginSignature = read_json(&sig_path, "plugin signature")?;
    check(
        &sig_path,
        &signed.vendor_key,
        &signed.message(),
        &signed.signature,
    )?;
    let actual = sha256_of(plugin)?;
    if actual != signed.sha256 {
        return Err(ApprovalError::Altered {
            plugin: plugin.into(),
            actual,
            signed: signed.sha256,
        });
    }
    Ok(signed)
}

/// Whether `plugin` may run: signed, unaltered, and approved for these bytes by one of
/// `trusted` reviewers (hex public keys).
pub fn verify(plugin: &Path, trusted: &[String]) -> Result<Reviewed> {
    let signed = check_signature(plugin)?;
    let approval_path = approval_path(plugin);
    if !approval_path.exists() {
        return Err(ApprovalError::Unapproved {
            plugin: plugin.into(),
            approval: approval_path,
        });
    }
    let approval: Approval = read_json(&approval_path, "plugin approval")?;
    check(
        &approval_path,
        &approval.reviewer_key,
        &approval.message(),
        &approval.signature,
    )?;
    if approval.sha256 != signed.sha256 || approval.vendor_key != signed.vendor_key {
        return Err(ApprovalError::ApprovalMismatch {
            plugin: plugin.into(),
            approval: approval_path,
        });
    }
    if !trusted
        .iter()
        .any(|k| k.eq_ignore_ascii_case(&approval.reviewer_key))
    {
        return Err(ApprovalError::UntrustedReviewer {
            plugin: plugin.into(),
            reviewer: approval.reviewer_key,
        });
    }
    Ok(Reviewed {
        sha256: signed.sha256,
        vendor_key: signed.vendor_key,
        reviewer_key: approval.reviewer_key,
    })
}

/// Writes a signature or approval as pretty JSON.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).expect("plain structs serialize");
    text.push('\n');
    std::fs::write(path, text).map_err(|source| ApprovalError::Write {
        path: path.into(),
        source,
    })
}

fn check(path: &Path, key_hex: &str, message: &[u8], signature_hex: &str) -> Result<()> {
    let invalid = |reason: &str| ApprovalError::Invalid {
        path: path.into(),
        what: "signature file",
        reason: reason.into(),
    };
    let key = hex::decode(key_hex).map_err(|_| invalid("the public key is not hex"))?;
    let signature = hex::decode(signature_hex).map_err(|_| invalid("the signature is not hex"))?;
    UnparsedPublicKey::new(&ED25519, key)
        .verify(message, &signature)
        .map_err(|_| ApprovalError::BadSignature { path: path.into() })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| ApprovalError::Read {
        path: path.into(),
        source,
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &'static str) -> Result<T> {
    serde_json::from_slice(&read(path)?).map_err(|e| ApprovalError::Invalid {
        path: path.into(),
        what,
        reason: e.to_string(),
    })
}

/// The file's SHA-256 (hex), as signatures, approvals and reviews name a build.
pub fn sha256_of(path: &Path) -> Result<String> {
    Ok(hex::encode(Sha256::digest(read(path)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Ed25519KeyPair, String) {
        let (pkcs8, public) = generate_key().unwrap();
        (Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap(), public)
    }

    /// A signed and approved plugin file (any bytes do: only its hash is bound).
    fn signed_and_approved(dir: &Path) -> (PathBuf, String) {
        let plugin = dir.join("p.wasm");
        std::fs::write(&plugin, b"\0asm component bytes").unwrap();
        let (vendor, _) = pair();
        let (reviewer, reviewer_key) = pair();
        let sig = sign(&plugin, "com.acme.notes", "1.0.0", &vendor).unwrap();
        write_json(&signature_path(&plugin), &sig).unwrap();
        let approval = approve(&plugin, &reviewer, "reviewed").unwrap();
        write_json(&approval_path(&plugin), &approval).unwrap();
        (plugin, reviewer_key)
    }

    #[test]
    fn a_signed_and_approved_plugin_is_accepted_by_a_trusted_reviewer_only() {
        let dir = tempfile::tempdir().unwrap();
        let (plugin, reviewer) = signed_and_approved(dir.path());
        let reviewed = verify(&plugin, std::slice::from_ref(&reviewer)).unwrap();
        assert_eq!(reviewed.reviewer_key, reviewer);
        let e = verify(&plugin, &[]).unwrap_err();
        assert!(matches!(e, ApprovalError::UntrustedReviewer { .. }), "{e}");
    }

    #[test]
    fn unsigned_altered_and_unapproved_plugins_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (plugin, reviewer) = signed_and_approved(dir.path());
        let trusted = [reviewer];

        let mut bytes = std::fs::read(&plugin).unwrap();
        bytes[5] ^= 1;
        std::fs::write(&plugin, &bytes).unwrap();
        let e = verify(&plugin, &trusted).unwrap_err();
        assert!(matches!(e, ApprovalError::Altered { .. }), "{e}");
        assert!(e.to_string().contains("p.wasm"), "{e}");
        // A reviewer cannot approve the altered build either.
        let (reviewer, _) = pair();
        assert!(matches!(
            approve(&plugin, &reviewer, "").unwrap_err(),
            ApprovalError::Altered { .. }
        ));
        bytes[5] ^= 1;
        std::fs::write(&plugin, &bytes).unwrap();

        std::fs::remove_file(approval_path(&plugin)).unwrap();
        let e = verify(&plugin, &trusted).unwrap_err();
        assert!(matches!(e, ApprovalError::Unapproved { .. }), "{e}");

        std::fs::remove_file(signature_path(&plugin)).unwrap();
        let e = verify(&plugin, &trusted).unwrap_err();
        assert!(matches!(e, ApprovalError::Unsigned { .. }), "{e}");
        assert!(e.to_string().contains("--unreviewed"), "{e}");
    }

    #[test]
    fn a_signature_file_edited_to_claim_another_hash_fails_its_signature() {
        let dir = tempfile::tempdir().unwrap();
        let (plugin, reviewer) = signed_and_approved(dir.path());
        let path = signature_path(&plugin);
        let mut sig: PluginSignature =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        sig.version = "9.9.9".into();
        write_json(&path, &sig).unwrap();
        let e = verify(&plugin, &[reviewer]).unwrap_err();
        assert!(matches!(e, ApprovalError::BadSignature { .. }), "{e}");
    }
}
