//! A small blocking HTTP client for the node's `/v1` API.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Talks to one node's API.
pub struct Client {
    base: String,
    agent: ureq::Agent,
    token: Option<String>,
    /// How to explain a node that does not answer.
    hint: String,
}

impl Client {
    /// `addr` is `HOST:PORT` or an `http://` URL.
    pub fn new(addr: &str, token: Option<String>, hint: String) -> Client {
        let base = if addr.starts_with("http://") || addr.starts_with("https://") {
            addr.trim_end_matches('/').to_owned()
        } else {
            format!("http://{addr}")
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build();
        Client {
            base,
            agent: ureq::Agent::new_with_config(config),
            token,
            hint,
        }
    }

    /// The node's base URL, `http://HOST:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        for (k, v) in query {
            req = req.query(*k, v);
        }
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        self.answer(req.call())
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let mut req = self.agent.post(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        self.answer(req.send_json(body))
    }

    pub fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let mut req = self.agent.put(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        self.answer(req.send_json(body))
    }

    /// Posts raw bytes (a photo).
    pub fn post_bytes<T: DeserializeOwned>(&self, path: &str, body: &[u8]) -> Result<T> {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/octet-stream");
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        self.answer(req.send(body))
    }

    /// Raw bytes (a photo); `None` when the node answers 404.
    pub fn get_bytes(&self, path: &str, query: &[(&str, String)]) -> Result<Option<Vec<u8>>> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        for (k, v) in query {
            req = req.query(*k, v);
        }
        let resp = req.call();
        if let Ok(r) = &resp {
            if r.status() == 404 {
                return Ok(None);
            }
        }
        match resp {
            Ok(mut r) if r.status().is_success() => Ok(Some(
                r.body_mut()
                    .with_config()
                    .limit(1024 * 1024)
                    .read_to_vec()
                    .map_err(|e| anyhow!("reading the answer of {}: {e}", self.base))?,
            )),
            other => self.answer::<serde_json::Value>(other).map(|_| None),
        }
    }

    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let mut req = self.agent.delete(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        self.answer(req.call())
    }

    fn answer<T: DeserializeOwned>(
        &self,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T> {
        let mut resp = match r {
            Ok(r) => r,
            Err(ureq::Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                bail!("no node answers at {}: {}", self.base, self.hint)
            }
            Err(ureq::Error::ConnectionFailed) => {
                bail!("no node answers at {}: {}", self.base, self.hint)
            }
            Err(e) => bail!("could not reach the node at {}: {e}", self.base),
        };
        let status = resp.status();
        if status.is_success() {
            return resp.body_mut().read_json::<T>().map_err(|e| {
                anyhow!(
                    "the node at {} sent an answer this CLI does not understand: {e}",
                    self.base
                )
            });
        }
        let err: serde_json::Value = resp.body_mut().read_json().unwrap_or_default();
        match err.get("error").and_then(|e| e.as_str()) {
            Some(msg) => Err(ApiError {
                message: msg.to_owned(),
            }
            .into()),
            None => bail!("the node at {} answered HTTP {status}", self.base),
        }
    }
}

/// An error the node reported, shown as its message.
#[derive(Debug)]
pub struct ApiError {
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}
