//! rustls client configuration trusting only the directory's CA, and classification of TLS
//! failures.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use super::error::DirectoryError;

/// A client config whose only roots are the certificates in the PEM file `ca_file`.
pub(crate) fn client_config(ca_file: &Path) -> Result<Arc<ClientConfig>, DirectoryError> {
    let ca_error = |reason: String| DirectoryError::CaFile {
        path: ca_file.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(ca_file).map_err(|e| ca_error(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| ca_error(format!("not a readable PEM file ({e})")))?;
        roots
            .add(cert)
            .map_err(|e| ca_error(format!("a certificate in it is not usable ({e})")))?;
    }
    if roots.is_empty() {
        return Err(ca_error("it holds no PEM certificate".to_owned()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ca_error(format!("TLS setup failed ({e})")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The rustls error inside an I/O error from a TLS connect, if any.
pub(crate) fn rustls_error(err: &io::Error) -> Option<&rustls::Error> {
    err.get_ref()?.downcast_ref::<rustls::Error>()
}

/// True when rustls rejected the server's certificate (issuer, name, validity, …).
pub(crate) fn is_certificate_rejection(err: &rustls::Error) -> bool {
    matches!(
        err,
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
    )
}
