//! [`Client`]: every endpoint of the mq HTTP API as an async method returning the shared wire types.
//!
//! A client knows one or more bootstrap servers; each request goes to the first that answers, so a
//! dead node is skipped. Server errors come back as [`ClientError::Api`] with the stable code and
//! message of the `{"error": …}` body.
//!
//! In a cluster, produce and fetch of one partition go straight to the partition's leader, which
//! the client learns from the metadata ([`routes`]); anything else goes to a bootstrap server,
//! which forwards it. A request that timed out is sent again to another server only when it is a
//! read: a produce or a group request might have been applied, and a retry must not apply it twice.

mod groups;
mod routes;
mod topics;

pub use groups::FetchedFrames;
pub use topics::FetchedBatches;

use mq_wire::{ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{message} ({code})")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    /// No server could be reached: the request was not sent (a refused connection), or it was a
    /// read that timed out everywhere.
    #[error("cannot reach {servers}: {reason}")]
    Unreachable { servers: String, reason: String },
    /// A write was sent and no answer came (a timeout, a connection cut): it may or may not have
    /// been applied, so it was not sent anywhere else.
    #[error("no answer from {url}: {reason}; the request may or may not have been applied")]
    NoAnswer { url: String, reason: String },
    /// The server answered something that is not the expected JSON.
    #[error("unexpected answer from {url} (HTTP {status}): {reason}")]
    Decode {
        url: String,
        status: u16,
        reason: String,
    },
    /// A bad server address was given.
    #[error("invalid server address `{0}`: give host:port or http://host:port")]
    BadServer(String),
}

impl ClientError {
    /// The server's error code, when the server answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// An async client of one mq cluster.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    servers: Vec<String>,
    verbose: bool,
    /// Partition leaders learned from the cluster's metadata, shared by clones.
    routes: std::sync::Arc<routes::Routes>,
}

impl Client {
    /// A client of `servers` (comma-separated lists are split; `host:port` gets `http://`), with a
    /// per-request `timeout`.
    pub fn new(servers: &[String], timeout: Duration) -> Result<Client, ClientError> {
        let mut normalized = Vec::new();
        for server in servers.iter().flat_map(|s| s.split(',')) {
            let server = server.trim().trim_end_matches('/');
            if server.is_empty() {
                continue;
            }
            let url = if server.contains("://") {
                server.to_owned()
            } else {
                format!("http://{server}")
            };
            reqwest::Url::parse(&url).map_err(|_| ClientError::BadServer(server.to_owned()))?;
            normalized.push(url);
        }
        if normalized.is_empty() {
            return Err(ClientError::BadServer(String::new()));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| ClientError::Unreachable {
                servers: normalized.join(","),
                reason: e.to_string(),
            })?;
        Ok(Client {
            http,
            servers: normalized,
            verbose: false,
            routes: Default::default(),
        })
    }

    /// Logs every request (method, URL, status, time) to stderr.
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// The servers this client tries, in order.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    /// `GET /health`: Ok when a node answers `OK`.
    pub async fn health(&self) -> Result<String, ClientError> {
        let (_, _, _, body) = self
            .call_raw(reqwest::Method::GET, "/health", None, "text/plain")
            .await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// The node's `/metrics` text.
    pub async fn metrics_text(&self) -> Result<String, ClientError> {
        let (_, _, _, body) = self
            .call_raw(reqwest::Method::GET, "/metrics", None, "text/plain")
            .await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    pub async fn cluster_status(&self) -> Result<mq_wire::api::ClusterStatus, ClientError> {
        self.get("/v1/cluster").await
    }

    async fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, ClientError> {
        self.call(reqwest::Method::GET, path, None::<&()>).await
    }

    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, ClientError> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn delete<R: DeserializeOwned>(&self, path: &str) -> Result<R, ClientError> {
        self.call(reqwest::Method::DELETE, path, None::<&()>).await
    }

    /// Sends a raw body to the bootstrap servers and takes the raw answer; error answers become
    /// [`ClientError::Api`].
    async fn call_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, bytes::Bytes)>,
        accept: &str,
    ) -> Result<Answer, ClientError> {
        self.call_servers(&self.servers, method, path, body, accept)
            .await
    }

    /// Tries `servers` in order: the next one after a refused connection (the request never
    /// arrived), or after a timeout of a read; never a write after a timeout.
    async fn call_servers(
        &self,
        servers: &[String],
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, bytes::Bytes)>,
        accept: &str,
    ) -> Result<Answer, ClientError> {
        let mut last_error = String::new();
        let resend_after_timeout = method == reqwest::Method::GET;
        for server in servers {
            let url = format!("{server}{path}");
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::ACCEPT, accept);
            if let Some((content_type, bytes)) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, *content_type)
                    .body(bytes.clone());
            }
            let started = Instant::now();
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    last_error = describe_transport_error(&error);
                    if self.verbose {
                        eprintln!("{method} {url} -> failed: {last_error}");
                    }
                    if error.is_connect() || (error.is_timeout() && resend_after_timeout) {
                        continue;
                    }
                    return Err(ClientError::NoAnswer {
                        url,
                        reason: last_error,
                    });
                }
            };
            let status = response.status().as_u16();
            if self.verbose {
                eprintln!(
                    "{method} {url} -> {status} in {:.1} ms",
                    started.elapsed().as_secs_f64() * 1000.0
                );
            }
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(|e| ClientError::Decode {
                url: url.clone(),
                status,
                reason: e.to_string(),
            })?;
            if (200..300).contains(&status) {
                return Ok((url, status, headers, bytes));
            }
            return Err(api_error(&url, status, &bytes));
        }
        Err(ClientError::Unreachable {
            servers: servers.join(","),
            reason: last_error,
        })
    }

    /// Sends a request and decodes the JSON answer, or the error body into [`ClientError::Api`].
    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<R, ClientError> {
        let (url, status, _, bytes) = self
            .call_raw(method, path, json_body(body), "application/json")
            .await?;
        decode_json(&url, status, &bytes)
    }
}

/// A JSON request body with its content type.
fn json_body<B: Serialize>(body: Option<&B>) -> Option<(&'static str, bytes::Bytes)> {
    body.map(|b| {
        let json = serde_json::to_vec(b).expect("wire types serialize");
        ("application/json", bytes::Bytes::from(json))
    })
}

/// A successful answer: the URL that gave it, its status, headers and body.
type Answer = (String, u16, reqwest::header::HeaderMap, bytes::Bytes);

fn decode_json<R: DeserializeOwned>(
    url: &str,
    status: u16,
    bytes: &[u8],
) -> Result<R, ClientError> {
    serde_json::from_slice(bytes).map_err(|e| ClientError::Decode {
        url: url.to_owned(),
        status,
        reason: e.to_string(),
    })
}

/// The error an unsuccessful answer stands for.
fn api_error(url: &str, status: u16, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(error) => ClientError::Api {
            status,
            code: error.error.code,
            message: error.error.message,
        },
        Err(_) => ClientError::Decode {
            url: url.to_owned(),
            status,
            reason: String::from_utf8_lossy(bytes).chars().take(200).collect(),
        },
    }
}

/// The innermost cause of a transport error, which is the part a person can act on.
fn describe_transport_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
