//! How Airlock speaks TLS, in one place.
//!
//! Every HTTPS connection Airlock makes (the Jira Cloud target, the statistics exporter) and
//! every HTTPS test server it starts (the Jira Cloud double, the test S3, the store's test
//! endpoint) goes through here, so they cannot drift apart:
//!
//! - rustls with ring as the crypto provider: no aws-lc, no OpenSSL;
//! - HTTP/1.1 only (ALPN `http/1.1`);
//! - a client trusts the system's roots (through the platform verifier) plus, optionally,
//!   one extra root given as PEM: a private endpoint's CA, or a test server's throwaway CA.
//!
//! [`client_config`] builds the client side. With the `test-certificates` feature,
//! [`test_certificates`] makes a throwaway CA and a certificate for 127.0.0.1 / localhost
//! signed by it, as a ready server configuration plus the CA's PEM for the client.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// Why a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The extra root is not valid PEM.
    #[error("the extra root certificate is not PEM: {0}")]
    NotPem(rustls::pki_types::pem::Error),
    /// The extra root is PEM but holds no certificate.
    #[error("the extra root certificate holds no certificate")]
    NoCertificate,
    /// The platform verifier could not be set up.
    #[error("cannot set up certificate verification: {0}")]
    Verification(rustls::Error),
    /// rustls refused the configuration.
    #[error("cannot set up TLS: {0}")]
    Setup(rustls::Error),
    /// rcgen could not make the test certificates.
    #[cfg(feature = "test-certificates")]
    #[error("cannot make the test certificates: {0}")]
    TestCertificates(rcgen::Error),
}

/// The crypto provider for every configuration here: ring.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration: rustls with ring, the system's roots through the platform
/// verifier plus `extra_root_pem` (one or more PEM certificates) if given, no client
/// certificate, ALPN `http/1.1`.
pub fn client_config(extra_root_pem: Option<&str>) -> Result<rustls::ClientConfig, TlsError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let provider = provider();
    let verifier = match extra_root_pem {
        Some(pem) => {
            let roots = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(TlsError::NotPem)?;
            if roots.is_empty() {
                return Err(TlsError::NoCertificate);
            }
            rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
        }
        None => rustls_platform_verifier::Verifier::new(provider.clone()),
    }
    .map_err(TlsError::Verification)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A test server's TLS: its configuration and the PEM of the CA that signed its certificate
/// (to hand to [`client_config`]).
#[cfg(feature = "test-certificates")]
pub struct TestCertificates {
    /// rustls with ring, safe default versions, the chain leaf + CA, ALPN `http/1.1`.
    pub server: Arc<rustls::ServerConfig>,
    /// The throwaway CA, as PEM.
    pub ca_pem: String,
}

/// A throwaway CA (common name "`{name}` CA") and a certificate for 127.0.0.1 and localhost
/// (common name `name`) signed by it, made fresh on each call.
#[cfg(feature = "test-certificates")]
pub fn test_certificates(name: &str) -> Result<TestCertificates, TlsError> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let fail = TlsError::TestCertificates;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, format!("{name} CA"));
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(fail)?).map_err(fail)?;
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .map_err(fail)?;
    leaf.distinguished_name.push(DnType::CommonName, name);
    let leaf_key = KeyPair::generate().map_err(fail)?;
    let cert = leaf.signed_by(&leaf_key, &ca).map_err(fail)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone(), ca.der().clone()], key)
        .map_err(TlsError::Setup)?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TestCertificates {
        server: Arc::new(server),
        ca_pem: ca.pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_that_is_not_pem_is_refused() {
        let pem = "-----BEGIN CERTIFICATE-----\nnot base64 !!!\n-----END CERTIFICATE-----\n";
        let e = client_config(Some(pem)).unwrap_err();
        assert!(matches!(e, TlsError::NotPem(_)), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("the extra root certificate is not PEM: "),
            "{e}"
        );
    }

    #[test]
    fn a_root_without_a_certificate_is_refused() {
        for pem in ["", "just some text\n"] {
            let e = client_config(Some(pem)).unwrap_err();
            assert!(matches!(e, TlsError::NoCertificate), "{e:?}");
            assert_eq!(
                e.to_string(),
                "the extra root certificate holds no certificate"
            );
        }
    }

    #[test]
    fn a_client_trusts_the_test_ca_and_both_sides_speak_http_1_1() {
        let certs = test_certificates("Airlock TLS test").unwrap();
        assert!(certs.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let client = client_config(Some(&certs.ca_pem)).unwrap();
        assert_eq!(client.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert_eq!(certs.server.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert_eq!(
            client_config(None).unwrap().alpn_protocols,
            vec![b"http/1.1".to_vec()]
        );
    }

    /// A handshake in memory: the client given the CA's PEM accepts the server's chain for
    /// 127.0.0.1 and both agree on `http/1.1`; a client without it refuses the server.
    #[test]
    fn a_handshake_with_the_test_ca_succeeds_and_without_it_fails() {
        use rustls::pki_types::ServerName;
        let certs = test_certificates("Airlock TLS test").unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();

        let trusted = Arc::new(client_config(Some(&certs.ca_pem)).unwrap());
        let (client, server) = handshake(trusted, certs.server.clone(), name.clone()).unwrap();
        assert_eq!(client.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(server.alpn_protocol(), Some(&b"http/1.1"[..]));

        let untrusted = Arc::new(client_config(None).unwrap());
        assert!(handshake(untrusted, certs.server, name).is_err());
    }

    fn handshake(
        client: Arc<rustls::ClientConfig>,
        server: Arc<rustls::ServerConfig>,
        name: rustls::pki_types::ServerName<'static>,
    ) -> Result<(rustls::ClientConnection, rustls::ServerConnection), rustls::Error> {
        let mut client = rustls::ClientConnection::new(client, name)?;
        let mut server = rustls::ServerConnection::new(server)?;
        for _ in 0..10 {
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok((client, server));
            }
            let mut buf = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut buf).unwrap();
            }
            let mut read = &buf[..];
            while !read.is_empty() {
                server.read_tls(&mut read).unwrap();
            }
            server.process_new_packets()?;
            let mut buf = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut buf).unwrap();
            }
            let mut read = &buf[..];
            while !read.is_empty() {
                client.read_tls(&mut read).unwrap();
            }
            client.process_new_packets()?;
        }
        panic!("the handshake did not finish");
    }
}
