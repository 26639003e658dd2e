//! TLS for the gRPC port (rustls), optionally requiring client certificates
//! signed by a given CA (mutual TLS). The files are re-read on SIGHUP; a bad set
//! keeps the one in use, so a botched rotation never takes the port down.

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// With a client CA every client must present a certificate it signed.
    pub client_ca: Option<PathBuf>,
}

pub struct ReloadableTls {
    files: TlsFiles,
    current: parking_lot::RwLock<TlsAcceptor>,
}

impl ReloadableTls {
    pub fn load(files: TlsFiles) -> Result<ReloadableTls, String> {
        let acceptor = acceptor(&files)?;
        Ok(ReloadableTls {
            files,
            current: parking_lot::RwLock::new(acceptor),
        })
    }

    /// The acceptor new connections use; connections already open keep theirs.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.current.read().clone()
    }

    /// Re-reads the files; on error the acceptor in use stays.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = acceptor(&self.files)?;
        *self.current.write() = fresh;
        Ok(())
    }

    pub fn mutual(&self) -> bool {
        self.files.client_ca.is_some()
    }
}

fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&files.cert, "--tls-cert")?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("--tls-key {}: {e}", files.key.display()))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for ca in certificates(path, "--tls-client-ca")? {
                roots
                    .add(ca)
                    .map_err(|e| format!("--tls-client-ca {}: {e}", path.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("--tls-client-ca {}: {e}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("--tls-cert/--tls-key do not match: {e}"))?;
    // gRPC is HTTP/2 only; JSON and gRPC-Web clients may speak HTTP/1.1.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn certificates(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{flag} {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{flag} {}: no PEM certificate in it",
            path.display()
        ));
    }
    Ok(chain)
}
