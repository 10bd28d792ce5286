//! HTTP(S) sources: other people's servers, which time out, rate-limit and fail.
//!
//! One request at a time per source, with a per-request timeout; timeouts, connection errors,
//! 5xx and 429 are retried with exponential backoff and jitter (a `Retry-After` header wins);
//! other 4xx fail at once. A conditional request (`If-None-Match` / `If-Modified-Since`) lets an
//! unchanged file answer 304 so nothing is downloaded again. Responses larger than `max_bytes`
//! are refused. Header values named in the pipeline come from environment variables and are
//! never logged; URLs are logged without credentials.

use crate::sources::HttpSettings;
use std::time::Duration;

/// What a conditional request may send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The ETag of the copy we hold.
    pub etag: Option<String>,
    /// The Last-Modified of the copy we hold.
    pub last_modified: Option<String>,
}

/// What came back.
#[derive(Debug)]
pub enum Response {
    /// 200 with the body and the validators to use next time.
    Body {
        /// The bytes.
        bytes: bytes::Bytes,
        /// Validators of this copy.
        validators: Validators,
    },
    /// 304: the copy we hold is current.
    NotModified,
}

/// Why a download failed, after retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// A header's environment variable is not set.
    #[error("environment variable `{var}` for header `{header}` is not set")]
    MissingEnv {
        /// Header name.
        header: String,
        /// Variable name.
        var: String,
    },
    /// The request could not complete (after retries).
    #[error("{reason} (after {attempts} attempt{})", if *.attempts == 1 { "" } else { "s" })]
    Failed {
        /// What happened on the last attempt.
        reason: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The response is larger than allowed.
    #[error("the response is larger than max_bytes ({max} bytes)")]
    TooLarge {
        /// The limit.
        max: u64,
    },
}

enum Attempt {
    Retry(String, Option<Duration>),
    Fail(String),
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .to_string();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(600)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(&v).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    wait.to_std().ok().map(|d| d.min(Duration::from_secs(600)))
}

fn jitter(max_ms: u64) -> u64 {
    // Enough randomness to spread retries; not for anything secret.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u64::from(nanos) % max_ms.max(1)
}

/// Downloads `url` with retries. `progress` shows a bar on a terminal.
pub async fn get(
    url: &url::Url,
    settings: &HttpSettings,
    validators: &Validators,
    progress: bool,
) -> Result<Response, HttpError> {
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, var) in &settings.headers_from_env {
        let value = std::env::var(var).map_err(|_| HttpError::MissingEnv {
            header: name.clone(),
            var: var.clone(),
        })?;
        let mut hv = reqwest::header::HeaderValue::from_str(&value).map_err(|_| HttpError::Failed {
            reason: format!("the value of `{var}` is not a valid header value"),
            attempts: 0,
        })?;
        hv.set_sensitive(true);
        if let Ok(hn) = reqwest::header::HeaderName::from_bytes(name.as_bytes()) {
            headers.insert(hn, hv);
        }
    }
    if let Some(e) = &validators.etag {
        if let Ok(v) = reqwest::header::HeaderValue::from_str(e) {
            headers.insert(reqwest::header::IF_NONE_MATCH, v);
        }
    }
    if let Some(m) = &validators.last_modified {
        if let Ok(v) = reqwest::header::HeaderValue::from_str(m) {
            headers.insert(reqwest::header::IF_MODIFIED_SINCE, v);
        }
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(settings.timeout_secs))
        .connect_timeout(Duration::from_secs(settings.timeout_secs.min(30)))
        .user_agent(concat!("harvester/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| HttpError::Failed {
            reason: e.to_string(),
            attempts: 0,
        })?;
    let attempts = settings.retries + 1;
    let mut last = String::new();
    for attempt in 1..=attempts {
        match once(&client, url, &headers, settings.max_bytes, progress).await {
            Ok(r) => return Ok(r),
            Err(Err(too_large)) => return Err(too_large),
            Err(Ok(Attempt::Fail(reason))) => {
                return Err(HttpError::Failed {
                    reason,
                    attempts: attempt,
                })
            }
            Err(Ok(Attempt::Retry(reason, wait))) => {
                last = reason;
                if attempt == attempts {
                    break;
                }
                let backoff = settings
                    .retry_base_ms
                    .saturating_mul(1 << (attempt - 1).min(16))
                    .min(60_000);
                let wait = wait.unwrap_or_else(|| Duration::from_millis(backoff + jitter(backoff / 2 + 1)));
                tracing::warn!(url = %redact(url), attempt, reason = %last, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
    Err(HttpError::Failed { reason: last, attempts })
}

/// A response body as it arrives, never copied while it grows: with a declared length, one
/// buffer of that size; without (chunked), the chunks as they come, joined once at the end (a
/// doubling buffer copied itself and peaked at twice the limit on an endless chunked body).
struct Body {
    buffer: Option<Vec<u8>>,
    chunks: Vec<bytes::Bytes>,
    len: u64,
}

impl Body {
    /// `declared` was already checked against the limit.
    fn new(declared: Option<u64>) -> Body {
        let buffer = declared.and_then(|n| usize::try_from(n).ok()).map(Vec::with_capacity);
        Body {
            buffer,
            chunks: Vec::new(),
            len: 0,
        }
    }

    fn push(&mut self, chunk: bytes::Bytes) {
        self.len += chunk.len() as u64;
        match &mut self.buffer {
            Some(b) => b.extend_from_slice(&chunk),
            None => self.chunks.push(chunk),
        }
    }

    fn into_bytes(mut self) -> bytes::Bytes {
        match (self.buffer, self.chunks.len()) {
            (Some(b), _) => b.into(),
            (None, 1) => self.chunks.swap_remove(0),
            (None, _) => self.chunks.concat().into(),
        }
    }
}

async fn once(
    client: &reqwest::Client,
    url: &url::Url,
    headers: &reqwest::header::HeaderMap,
    max_bytes: u64,
    progress: bool,
) -> Result<Response, Result<Attempt, HttpError>> {
    let resp = match client.get(url.clone()).headers(headers.clone()).send().await {
        Ok(r) => r,
        Err(e) => {
            let e = e.without_url();
            if e.is_redirect() {
                // A loop (or a chain longer than the client follows) does not mend on a retry.
                return Err(Ok(Attempt::Fail(format!(
                    "the server redirected in a loop or more than 10 times ({e}); check the source's URL"
                ))));
            }
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "request failed"
            };
            return Err(Ok(Attempt::Retry(format!("{kind}: {e}"), None)));
        }
    };
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Response::NotModified);
    }
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Ok(Attempt::Retry(
            format!("HTTP {status}"),
            retry_after(resp.headers()),
        )));
    }
    if !status.is_success() {
        return Err(Ok(Attempt::Fail(format!("HTTP {status}"))));
    }
    if resp.content_length().is_some_and(|n| n > max_bytes) {
        return Err(Err(HttpError::TooLarge { max: max_bytes }));
    }
    let header = |h| {
        resp.headers()
            .get(h)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let validators = Validators {
        etag: header(reqwest::header::ETAG),
        last_modified: header(reqwest::header::LAST_MODIFIED),
    };
    let bar = (progress && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let b = indicatif::ProgressBar::new(resp.content_length().unwrap_or(0));
        b.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_message(
            url.path_segments()
                .and_then(|mut s| s.next_back().map(str::to_string))
                .unwrap_or_default(),
        );
        b
    });
    let mut resp = resp;
    let mut body = Body::new(resp.content_length());
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                // Checked before the bytes are kept, so a body without a length (chunked) never
                // holds more than the limit.
                if body.len + chunk.len() as u64 > max_bytes {
                    return Err(Err(HttpError::TooLarge { max: max_bytes }));
                }
                body.push(chunk);
                if let Some(b) = &bar {
                    b.set_position(body.len);
                }
            }
            Ok(None) => break,
            Err(e) => {
                let e = e.without_url();
                let kind = if e.is_timeout() {
                    "timed out"
                } else {
                    "the download broke off"
                };
                return Err(Ok(Attempt::Retry(format!("{kind}: {e}"), None)));
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(Response::Body {
        bytes: body.into_bytes(),
        validators,
    })
}

/// The URL as it may be logged: see [`crate::domain::location::redact_url`].
pub fn redact(url: &url::Url) -> String {
    crate::domain::location::redact_url(url)
}
