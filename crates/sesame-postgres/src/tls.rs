//! TLS to Postgres: rustls (ring) trusting Mozilla's roots (webpki-roots) plus an optional CA
//! file, used when the URL says `sslmode=require`.
//!
//! Sesame never downgrades: with `require` a connection is TLS with a verified certificate or
//! it fails (`unavailable`); `prefer` (tokio-postgres' default) and `disable` are plaintext,
//! for local and test databases.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use sesame_store::StoreError;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Builds the connector, adding the certificates of `ca_file` (PEM) to the trusted roots.
pub(crate) fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, StoreError> {
    let bad = |m: String| StoreError::Other(m.into());
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(format!("database CA file {}: {e}", path.display())))?;
        let mut added = 0;
        for cert in certs {
            let cert =
                cert.map_err(|e| bad(format!("database CA file {}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| bad(format!("database CA file {}: {e}", path.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad(format!("database CA file {} holds no certificate", path.display())));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(format!("TLS set-up: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
