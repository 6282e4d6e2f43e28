//! HTTPS: rustls 0.23 through tokio-rustls, HTTP/2 and HTTP/1.1 negotiated by ALPN.
//!
//! warp 0.4 has no TLS, so the TLS listener is our own accept loop: `TcpListener::accept`
//! → `TlsAcceptor::accept` (with a timeout) → hyper-util's auto builder serving warp's
//! filter as a service. A failed handshake (a plain-HTTP request to the TLS port, a
//! client that distrusts the certificate) ends that connection only, never the loop.
//! PEM goes through rustls-pki-types' `PemObject` (rustls-pemfile is unmaintained).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::auth::AuthError;

/// A server certificate chain and key, ready to serve.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) server: Arc<rustls::ServerConfig>,
}

/// Never prints key material.
impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// From PEM text: the certificate chain (leaf first) and its private key (PKCS#8,
    /// PKCS#1 or SEC1). ALPN offers `h2` then `http/1.1`.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<TlsConfig, AuthError> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| AuthError::new(format!("TLS certificate: bad PEM: {e}")))?;
        if certs.is_empty() {
            return Err(AuthError::new("TLS certificate: no PEM CERTIFICATE found"));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|_| AuthError::new("TLS key: no PEM private key found"))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| AuthError::new(format!("TLS: {e}")))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| AuthError::new(format!("TLS certificate and key: {e}")))?;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsConfig {
            server: Arc::new(server),
        })
    }

    /// [`TlsConfig::from_pem`] from files.
    pub fn from_files(cert: &Path, key: &Path) -> Result<TlsConfig, AuthError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .map_err(|e| AuthError::new(format!("cannot read {}: {e}", p.display())))
        };
        TlsConfig::from_pem(&read(cert)?, &read(key)?)
    }
}
