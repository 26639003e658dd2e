//! How every subcommand reaches a running server: one `--server` URL form
//! (`http://HOST:PORT`, or `https://HOST:PORT` with TLS) and one bearer token
//! source (`--token-file`, or `CREDITGATE_TOKEN`).

use clap::Args;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::PathBuf;
use std::sync::Arc;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ServerArgs {
    /// The server: http://HOST:PORT, or https://HOST:PORT with TLS.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// File holding the bearer token (when the server has authentication).
    #[arg(long, env = "CREDITGATE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The bearer token itself (prefer --token-file: an environment is easier to leak).
    #[arg(long = "token", env = "CREDITGATE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM file of the CA that signed the server's certificate (https:// only);
    /// the system roots otherwise.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

/// Adds `authorization: Bearer …` to every call when a token was given.
#[derive(Clone)]
pub struct Bearer(Option<AsciiMetadataValue>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel to the server with the caller's token on every call.
pub type Connection = InterceptedService<Channel, Bearer>;

impl ServerArgs {
    fn bearer(&self) -> Result<Bearer, String> {
        let token = match (&self.token_file, &self.token) {
            (Some(path), _) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("--token-file {}: {e}", path.display()))?
                    .trim()
                    .to_owned(),
            ),
            (None, Some(token)) => Some(token.trim().to_owned()),
            (None, None) => None,
        };
        match token.filter(|token| !token.is_empty()) {
            None => Ok(Bearer(None)),
            Some(token) => format!("Bearer {token}")
                .parse()
                .map(|value| Bearer(Some(value)))
                .map_err(|_| "the bearer token holds characters a header cannot carry".to_owned()),
        }
    }

    /// Connects (eagerly, so that a wrong address is reported before any work).
    pub async fn connect(&self) -> Result<Connection, String> {
        let bearer = self.bearer()?;
        let url: http::Uri = self.server.parse().map_err(|e| {
            format!(
                "--server {}: {e} (expected http://HOST:PORT or https://HOST:PORT)",
                self.server
            )
        })?;
        let host = url
            .host()
            .ok_or_else(|| format!("--server {}: no host", self.server))?
            .trim_matches(|c| c == '[' || c == ']')
            .to_owned();
        let failed =
            |e: tonic::transport::Error| format!("cannot reach the server at {}: {e}", self.server);
        let channel = match url.scheme_str() {
            Some("http") => {
                if self.ca_file.is_some() {
                    return Err("--ca-file needs an https:// --server".to_owned());
                }
                Endpoint::from_shared(self.server.clone())
                    .map_err(failed)?
                    .connect()
                    .await
                    .map_err(failed)?
            }
            Some("https") => {
                let port = url.port_u16().unwrap_or(443);
                let connector = tokio_rustls::TlsConnector::from(Arc::new(self.tls_config()?));
                let name = ServerName::try_from(host.clone())
                    .map_err(|e| format!("--server {}: {e}", self.server))?;
                let address = format!("{host}:{port}");
                // The endpoint's own URL only names the authority; the connector
                // below makes the TLS connection.
                Endpoint::from_shared(format!("http://{address}"))
                    .map_err(failed)?
                    .connect_with_connector(tower::service_fn(move |_| {
                        let (connector, name, address) =
                            (connector.clone(), name.clone(), address.clone());
                        async move {
                            let tcp = tokio::net::TcpStream::connect(address).await?;
                            let tls = connector.connect(name, tcp).await?;
                            Ok::<_, std::io::Error>(TokioIo::new(tls))
                        }
                    }))
                    .await
                    .map_err(failed)?
            }
            _ => {
                return Err(format!(
                    "--server {}: expected http://HOST:PORT or https://HOST:PORT",
                    self.server
                ));
            }
        };
        Ok(InterceptedService::new(channel, bearer))
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, String> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    // A system root rustls cannot use is skipped, as browsers do.
                    let _ = roots.add(cert);
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}
