//! Sealed fields end to end: round trips, tampering, another row's, migration's or
//! purpose's cipher, and lookup tokens.

use airlock_model::{MigrationId, TenantId};
use airlock_vault::{DataKey, FIELD_OVERHEAD, FieldCipher, Sealer, TOKEN_LEN, VaultError};

const AD: &[u8] = b"users\x00row-1";

fn sealer_for(migration: &str, key: u8) -> Sealer {
    Sealer::new(
        TenantId::new("t1"),
        MigrationId::new(migration),
        DataKey::from_bytes(&[key; 32]),
    )
}

fn cipher() -> FieldCipher {
    sealer_for("m1", 0x5a).field_cipher("state")
}

/// The error a refused field gives, checked to name whose field it is and nothing more.
fn refused(cipher: &FieldCipher, ad: &[u8], sealed: &[u8], purpose: &str) -> VaultError {
    let e = cipher.open(ad, sealed).unwrap_err();
    assert!(
        matches!(&e, VaultError::FieldTampered { purpose: p, .. } if p == purpose),
        "{e:?}"
    );
    let message = e.to_string();
    assert!(
        message.contains(&format!(
            "tenant {}, migration {} (purpose {purpose:?}) failed authentication",
            cipher.tenant(),
            cipher.migration()
        )),
        "{message}"
    );
    e
}

#[test]
fn fields_round_trip() {
    let c = cipher();
    for plain in [&b""[..], b"x", b"JIRAUSER10001", &[0xff; 4096]] {
        let sealed = c.seal(AD, plain);
        assert_eq!(sealed.len(), plain.len() + FIELD_OVERHEAD);
        assert_eq!(c.open(AD, &sealed).unwrap(), plain);
    }
    // The same cipher derived again (another run of the migration) opens them too.
    let sealed = c.seal(AD, b"admin");
    assert_eq!(cipher().open(AD, &sealed).unwrap(), b"admin");
}

#[test]
fn the_same_value_seals_differently_each_time() {
    let c = cipher();
    let (a, b) = (c.seal(AD, b"alice"), c.seal(AD, b"alice"));
    assert_ne!(a, b);
    assert_ne!(a[..12], b[..12], "a fresh nonce per seal");
    assert!(!a.windows(5).any(|w| w == b"alice"));
}

#[test]
fn nonces_never_repeat_across_refills_of_the_pool() {
    // Drawn from the system generator a few hundred at a time: well past several refills.
    let c = cipher();
    let nonces: std::collections::HashSet<Vec<u8>> =
        (0..2000).map(|_| c.seal(AD, b"x")[..12].to_vec()).collect();
    assert_eq!(nonces.len(), 2000);
    assert!(!nonces.contains(&vec![0u8; 12]));
}

#[test]
fn a_flipped_bit_anywhere_is_refused() {
    let c = cipher();
    let sealed = c.seal(AD, b"alice@example.com");
    for at in 0..sealed.len() {
        for bit in [0x01, 0x80] {
            let mut bad = sealed.clone();
            bad[at] ^= bit;
            refused(&c, AD, &bad, "state");
        }
    }
}

#[test]
fn a_cut_or_short_field_is_refused() {
    let c = cipher();
    let sealed = c.seal(AD, b"alice");
    for len in [
        0,
        1,
        12,
        FIELD_OVERHEAD - 1,
        FIELD_OVERHEAD,
        sealed.len() - 1,
    ] {
        refused(&c, AD, &sealed[..len], "state");
    }
    let mut longer = sealed.clone();
    longer.push(0);
    refused(&c, AD, &longer, "state");
}

#[test]
fn a_field_opens_only_with_its_own_associated_data() {
    let c = cipher();
    let sealed = c.seal(AD, b"alice");
    for other in [
        &b""[..],
        b"users\x00row-2",
        b"users\x00row-1\x00",
        b"Users\x00row-1",
    ] {
        refused(&c, other, &sealed, "state");
    }
}

#[test]
fn another_migrations_or_purposes_cipher_refuses_a_field() {
    let c = cipher();
    let sealed = c.seal(AD, b"alice");
    // Another migration with the same data key (another info), another data key, another
    // purpose, another tenant.
    refused(
        &sealer_for("m2", 0x5a).field_cipher("state"),
        AD,
        &sealed,
        "state",
    );
    refused(
        &sealer_for("m1", 0x5b).field_cipher("state"),
        AD,
        &sealed,
        "state",
    );
    refused(
        &sealer_for("m1", 0x5a).field_cipher("report"),
        AD,
        &sealed,
        "report",
    );
    let other_tenant = Sealer::new(
        TenantId::new("t2"),
        MigrationId::new("m1"),
        DataKey::from_bytes(&[0x5a; 32]),
    );
    refused(&other_tenant.field_cipher("state"), AD, &sealed, "state");
}

#[test]
fn tokens_are_deterministic_per_cipher_and_differ_across_migrations_and_purposes() {
    let c = cipher();
    let token = c.token(b"user", b"alice");
    assert_eq!(token.len(), TOKEN_LEN);
    assert_eq!(c.token(b"user", b"alice"), token);
    assert_eq!(cipher().token(b"user", b"alice"), token, "re-derived");
    assert_ne!(c.token(b"user", b"bob"), token);
    assert_ne!(c.token(b"project", b"alice"), token);
    assert_ne!(
        sealer_for("m2", 0x5a)
            .field_cipher("state")
            .token(b"user", b"alice"),
        token
    );
    assert_ne!(
        sealer_for("m1", 0x5a)
            .field_cipher("report")
            .token(b"user", b"alice"),
        token
    );
    assert_ne!(
        sealer_for("m1", 0x5b)
            .field_cipher("state")
            .token(b"user", b"alice"),
        token
    );
}

#[test]
fn context_and_value_do_not_run_into_each_other() {
    let c = cipher();
    assert_ne!(c.token(b"a", b"bc"), c.token(b"ab", b"c"));
    assert_ne!(c.token(b"", b"abc"), c.token(b"abc", b""));
}

#[test]
fn a_field_cipher_shows_no_key_in_debug() {
    let c = cipher();
    let shown = format!("{c:?}");
    assert_eq!(
        shown,
        "FieldCipher { tenant: TenantId(\"t1\"), migration: MigrationId(\"m1\"), purpose: \"state\", .. }"
    );
}

#[test]
fn field_ciphers_are_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<FieldCipher>();
    let c = std::sync::Arc::new(cipher());
    let sealed: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let c = c.clone();
                s.spawn(move || c.seal(AD, format!("value {i}").as_bytes()))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, s) in sealed.iter().enumerate() {
        assert_eq!(c.open(AD, s).unwrap(), format!("value {i}").as_bytes());
    }
}
