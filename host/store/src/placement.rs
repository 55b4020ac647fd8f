//! [`Placement`]: which blob store and which key provider hold a migration's data.

use crate::error::StoreError;

/// Where a migration's data lives: the blob store that holds its sealed blobs and the key
/// provider that holds its tenant's key-encryption key, each as a location such as
/// `dir:/srv/airlock/blobs`, `s3:https://s3.example.com/airlock-*` or
/// `file:/srv/airlock/keys`. Recorded when the migration is created; the retention sweep
/// deletes (and reports as deleted) only what lives in the stores it holds.
///
/// A location, never a credential: a URL with a user (`user:secret@host`), a query or a
/// fragment is refused, and so is any control character.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Placement {
    blob_store: String,
    key_provider: String,
}

impl Placement {
    pub fn new(
        blob_store: impl Into<String>,
        key_provider: impl Into<String>,
    ) -> Result<Placement, StoreError> {
        let (blob_store, key_provider) = (blob_store.into(), key_provider.into());
        check_location("blob store location", &blob_store)?;
        check_location("key provider location", &key_provider)?;
        Ok(Placement {
            blob_store,
            key_provider,
        })
    }

    pub fn blob_store(&self) -> &str {
        &self.blob_store
    }

    pub fn key_provider(&self) -> &str {
        &self.key_provider
    }
}

/// `kind:rest`, 3 to 1,024 bytes, no control characters; a URL has no user, query or
/// fragment (where credentials and signed tokens would ride).
pub(crate) fn check_location(what: &'static str, location: &str) -> Result<(), StoreError> {
    let bad = |why: &str| {
        Err(StoreError::Invalid {
            what,
            why: why.to_owned(),
        })
    };
    if !(3..=1024).contains(&location.len()) {
        return bad("it must be 3 to 1024 bytes");
    }
    let Some((kind, rest)) = location.split_once(':') else {
        return bad("it must start with its kind, e.g. dir:, s3: or file:");
    };
    let kind_ok = kind.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !kind_ok || rest.is_empty() {
        return bad("it must start with its kind, e.g. dir:, s3: or file:");
    }
    if location.chars().any(char::is_control) {
        return bad("it has a control character");
    }
    if let Some((_, after_scheme)) = rest.split_once("://") {
        let authority = after_scheme.split('/').next().unwrap_or_default();
        if authority.contains('@') || rest.contains(['?', '#']) {
            return bad("a location names a place, never a credential: no user, query or fragment");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_name_places_not_credentials() {
        for good in [
            "dir:/srv/airlock/blobs",
            "dir:/home/op/my work/blobs",
            "s3:https://s3.example.com:9000/airlock-*",
            "s3:aws/airlock-*",
            "file:/srv/airlock/keys",
        ] {
            assert!(check_location("x", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/srv/airlock",
            ":/srv",
            "dir:",
            "S3:https://h/p",
            "3s:https://h/p",
            "s3:https://AKIA:secret@s3.example.com/airlock-*",
            "s3:https://s3.example.com/airlock-*?X-Amz-Signature=abc",
            "s3:https://s3.example.com/airlock-*#frag",
            "dir:/srv/\nblobs",
        ] {
            assert!(check_location("x", bad).is_err(), "{bad:?}");
        }
    }
}
