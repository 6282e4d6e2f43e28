//! `reference-registry keygen`: a P-256 key and a self-signed certificate, usable both
//! for signing tokens (the `x5c` certificate distribution's `rootcertbundle` trusts) and
//! as a TLS server certificate.
//!
//! Why rcgen: it writes PKCS#8 keys and X.509 certificates with SANs over the same
//! aws-lc-rs the rest of the crypto uses, with no OpenSSL.

use super::AuthError;

/// Returns `(key PEM, certificate PEM)`: a PKCS#8 P-256 key and a self-signed certificate
/// whose subject alternative names are `names` (IP addresses become IP SANs). Empty
/// `names` means `localhost` and `127.0.0.1`.
pub fn keygen(names: &[&str]) -> Result<(String, String), AuthError> {
    let names: Vec<String> = if names.is_empty() {
        vec!["localhost".into(), "127.0.0.1".into()]
    } else {
        names.iter().map(|n| n.to_string()).collect()
    };
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| AuthError::new(format!("cannot generate key and certificate: {e}")))?;
    Ok((ck.signing_key.serialize_pem(), ck.cert.pem()))
}
