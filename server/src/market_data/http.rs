//! Shared HTTP plumbing for the venue clients: a weight-based rate limiter (`governor`), retries
//! with exponential backoff on 429 (honouring `Retry-After`), 5xx and timeouts, a clear final
//! error on other 4xx (naming the endpoint and the venue's own message), and an in-memory
//! response cache with a per-request TTL.
//!
//! API keys travel as [`ApiKey`] and sensitive headers: they are never part of a URL, a cache key,
//! an error or a `Debug` string.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// An API key. Its `Debug` and `Display` print `***`; the only way out is [`ApiKey::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key from a string; `None` when it is empty or only whitespace.
    pub fn new(key: impl Into<String>) -> Option<ApiKey> {
        let key = key.into().trim().to_string();
        (!key.is_empty()).then_some(ApiKey(key))
    }

    /// The key from an environment variable, `None` when unset or empty.
    pub fn from_env(var: &str) -> Option<ApiKey> {
        std::env::var(var).ok().and_then(ApiKey::new)
    }

    /// The secret itself, for the one header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Timeouts, retry policy and rate budget of one client. The defaults suit the real venues;
/// tests shorten everything to milliseconds.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Whole-request timeout (connect, send, read the body).
    pub timeout: Duration,
    /// Retries after the first attempt, for 429, 5xx and transport errors.
    pub max_retries: u32,
    /// First backoff; doubled on every retry.
    pub backoff_base: Duration,
    /// Backoff ceiling.
    pub backoff_max: Duration,
    /// Longest `Retry-After` honoured; a venue asking for more is a final error.
    pub max_retry_after: Duration,
    /// Rate budget: this many weight units per minute (the venue's documented budget).
    pub weight_per_minute: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(30),
            max_retries: 5,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
            weight_per_minute: 60,
        }
    }
}

/// Why a request failed for good. Retryable causes (429, 5xx, timeouts, broken connections)
/// are retried inside [`Http::send`]; they surface only as [`HttpError::GaveUp`].
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The venue kept failing in a retryable way (429, 5xx, timeout, connection) until the
    /// retry budget ran out.
    #[error("{venue} {endpoint}: gave up after {attempts} attempt(s): {last}")]
    GaveUp {
        venue: &'static str,
        endpoint: String,
        attempts: u32,
        last: String,
    },
    /// The venue said no (a 4xx other than 429, or a `Retry-After` longer than allowed).
    #[error("{venue} {endpoint}: HTTP {status}: {message}")]
    Rejected {
        venue: &'static str,
        endpoint: String,
        status: u16,
        message: String,
    },
    /// A 2xx whose body is not the JSON the client expects (truncated, malformed, wrong shape).
    #[error("{venue} {endpoint}: malformed response: {detail}")]
    Malformed {
        venue: &'static str,
        endpoint: String,
        detail: String,
    },
    /// The HTTP client could not be built or the request could not be formed.
    #[error("{venue}: {detail}")]
    Setup { venue: &'static str, detail: String },
}

impl HttpError {
    /// Whether the failure was of a kind that can pass with time (the retries ran out).
    pub fn is_retryable(&self) -> bool {
        matches!(self, HttpError::GaveUp { .. })
    }
}

/// GET with a query string, or POST with a JSON body.
#[derive(Clone, Debug)]
pub enum Method {
    Get(Vec<(String, String)>),
    Post(serde_json::Value),
}

/// One request: where, what, how much rate budget it costs and how long its answer may be cached.
#[derive(Clone, Debug)]
pub struct Request {
    /// Path under the base URL, e.g. `/info` or `/v1/cryptocurrency/listings/latest`.
    pub path: String,
    pub method: Method,
    /// Rate-limit weight charged before sending.
    pub weight: u32,
    /// How long a successful answer is reused; zero disables the cache for this request.
    pub cache_ttl: Duration,
    /// A short name for errors and logs, e.g. `candleSnapshot BTC`.
    pub endpoint: String,
}

/// Extracts the venue's own error message from a 4xx body.
pub type MessageFn = fn(&str) -> String;

/// The generic extractor: `error`, `msg`, `message` or `status.error_message` of a JSON body,
/// otherwise the (shortened) text itself.
pub fn venue_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        for ptr in ["/error", "/msg", "/message", "/status/error_message"] {
            if let Some(s) = v.pointer(ptr).and_then(|s| s.as_str()) {
                if !s.is_empty() {
                    return s.to_string();
                }
            }
        }
    }
    let text = body.trim();
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    let mut out: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// One venue's HTTP client: base URL, secret header, limiter, cache, counters.
pub struct Http {
    venue: &'static str,
    base_url: String,
    client: reqwest::Client,
    secret_header: Option<(HeaderName, HeaderValue)>,
    limiter: DefaultDirectRateLimiter,
    burst: u32,
    config: HttpConfig,
    message: MessageFn,
    cache: Mutex<HashMap<String, (Instant, String)>>,
    requests: AtomicU64,
    cache_hits: AtomicU64,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("venue", &self.venue)
            .field("base_url", &self.base_url)
            .field("secret_header", &self.secret_header.as_ref().map(|_| "***"))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Http {
    /// A client for `venue` at `base_url`. `secret` is sent as the named header on every
    /// request (marked sensitive so it never shows in debug output).
    ///
    /// # Errors
    /// A header name or key that is not a valid header, or a TLS backend that fails to start.
    pub fn new(
        venue: &'static str,
        base_url: &str,
        secret: Option<(&'static str, &ApiKey)>,
        config: HttpConfig,
        message: MessageFn,
    ) -> Result<Http, HttpError> {
        let setup = |detail: String| HttpError::Setup { venue, detail };
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("lockstep/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| setup(format!("building the HTTP client: {e}")))?;
        let secret_header = match secret {
            Some((name, key)) => {
                let name = HeaderName::from_static(name);
                let mut value = HeaderValue::from_str(key.expose())
                    .map_err(|_| setup("the API key is not a valid header value".into()))?;
                value.set_sensitive(true);
                Some((name, value))
            }
            None => None,
        };
        let burst = config.weight_per_minute.max(1);
        let quota = Quota::per_minute(NonZeroU32::new(burst).expect("max(1)"));
        Ok(Http {
            venue,
            base_url: base_url.trim_end_matches('/').to_string(),
            client,
            secret_header,
            limiter: RateLimiter::direct(quota),
            burst,
            config,
            message,
            cache: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        })
    }

    pub fn venue(&self) -> &'static str {
        self.venue
    }

    /// HTTP requests sent so far (retries included), for summaries.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Answers served from the cache so far.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    /// Waits until `weight` units of rate budget are free and takes them. Weights above the
    /// per-minute budget are charged in budget-sized slices.
    pub async fn charge(&self, weight: u32) {
        let mut left = weight;
        while left > 0 {
            let n = left.min(self.burst);
            let n = NonZeroU32::new(n).expect("n > 0");
            // `n <= burst`, so this can only wait, never fail.
            let _ = self.limiter.until_n_ready(n).await;
            left -= n.get();
        }
    }

    /// Sends `req` (with retries, rate limiting and the cache) and decodes the JSON answer.
    ///
    /// # Errors
    /// [`HttpError::Rejected`] for a 4xx, [`HttpError::GaveUp`] when retries ran out,
    /// [`HttpError::Malformed`] when the body is not a `T`.
    pub async fn send<T: DeserializeOwned>(&self, req: &Request) -> Result<T, HttpError> {
        let text = self.send_text(req).await?;
        serde_json::from_str(&text).map_err(|e| {
            // A body that does not decode must not stay cached.
            self.cache
                .lock()
                .expect("cache lock")
                .remove(&cache_key(req));
            HttpError::Malformed {
                venue: self.venue,
                endpoint: req.endpoint.clone(),
                detail: describe_json_error(&e, &text),
            }
        })
    }

    /// Like [`Http::send`] but returns the raw body text.
    ///
    /// # Errors
    /// As [`Http::send`], without the decoding step.
    pub async fn send_text(&self, req: &Request) -> Result<String, HttpError> {
        let key = cache_key(req);
        if !req.cache_ttl.is_zero() {
            let cache = self.cache.lock().expect("cache lock");
            if let Some((at, text)) = cache.get(&key) {
                if at.elapsed() < req.cache_ttl {
                    self.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(text.clone());
                }
            }
        }
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            self.charge(req.weight).await;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = self.attempt(req).await;
            let (reason, wait) = match outcome {
                Attempt::Done(text) => {
                    if !req.cache_ttl.is_zero() {
                        self.cache
                            .lock()
                            .expect("cache lock")
                            .insert(key, (Instant::now(), text.clone()));
                    }
                    return Ok(text);
                }
                Attempt::Final(e) => return Err(e),
                Attempt::Retry { reason, wait } => (reason, wait),
            };
            if attempt > self.config.max_retries {
                return Err(HttpError::GaveUp {
                    venue: self.venue,
                    endpoint: req.endpoint.clone(),
                    attempts: attempt,
                    last: reason,
                });
            }
            let backoff = self.backoff(attempt);
            let wait = match wait {
                Some(w) if w > self.config.max_retry_after => {
                    return Err(HttpError::Rejected {
                        venue: self.venue,
                        endpoint: req.endpoint.clone(),
                        status: 429,
                        message: format!(
                            "rate limited; Retry-After {}s exceeds the {}s this client waits",
                            w.as_secs(),
                            self.config.max_retry_after.as_secs()
                        ),
                    })
                }
                Some(w) => w.max(backoff),
                None => backoff,
            };
            tracing::warn!(
                venue = self.venue,
                endpoint = %req.endpoint,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "{reason}; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << (attempt.saturating_sub(1)).min(20);
        self.config
            .backoff_base
            .saturating_mul(factor)
            .min(self.config.backoff_max)
    }

    async fn attempt(&self, req: &Request) -> Attempt {
        let url = format!("{}{}", self.base_url, req.path);
        let mut builder = match &req.method {
            Method::Get(query) => self.client.get(&url).query(query),
            Method::Post(body) => self.client.post(&url).json(body),
        };
        builder = builder.header(reqwest::header::ACCEPT, "application/json");
        if let Some((name, value)) = &self.secret_header {
            builder = builder.header(name.clone(), value.clone());
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return transport(e),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = match response.text().await {
            Ok(t) => t,
            Err(e) => return transport(e),
        };
        if status.is_success() {
            return Attempt::Done(body);
        }
        let message = (self.message)(&body);
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Attempt::Retry {
                reason: format!("HTTP 429: {message}"),
                wait: retry_after,
            };
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Attempt::Retry {
                reason: format!("HTTP {}: {message}", status.as_u16()),
                wait: retry_after,
            };
        }
        Attempt::Final(HttpError::Rejected {
            venue: self.venue,
            endpoint: req.endpoint.clone(),
            status: status.as_u16(),
            message,
        })
    }
}

enum Attempt {
    Done(String),
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
    Final(HttpError),
}

fn transport(e: reqwest::Error) -> Attempt {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    Attempt::Retry {
        reason: format!("{kind}: {}", e.without_url()),
        wait: None,
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn cache_key(req: &Request) -> String {
    match &req.method {
        Method::Get(q) => {
            let q: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("GET {}?{}", req.path, q.join("&"))
        }
        Method::Post(body) => format!("POST {} {body}", req.path),
    }
}

fn describe_json_error(e: &serde_json::Error, text: &str) -> String {
    let what = if e.is_eof() {
        "truncated JSON"
    } else if e.is_syntax() {
        "invalid JSON"
    } else {
        "unexpected JSON shape"
    };
    format!(
        "{what} ({e}; {} byte(s), starting {:?})",
        text.len(),
        text.chars().take(80).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_redacted() {
        let k = ApiKey::new("sekrit-123").unwrap();
        assert_eq!(format!("{k:?}"), "ApiKey(***)");
        assert_eq!(format!("{k}"), "***");
        assert!(ApiKey::new("  ").is_none());
        let http = Http::new(
            "test",
            "http://127.0.0.1:1",
            Some(("x-api-key", &k)),
            HttpConfig::default(),
            venue_message,
        )
        .unwrap();
        assert!(!format!("{http:?}").contains("sekrit"));
    }

    #[test]
    fn retry_after_in_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn venue_messages() {
        assert_eq!(
            venue_message(r#"{"status":{"error_code":1002,"error_message":"API key missing."}}"#),
            "API key missing."
        );
        assert_eq!(
            venue_message("Failed to deserialize the JSON body into the target type"),
            "Failed to deserialize the JSON body into the target type"
        );
        assert_eq!(venue_message(""), "(empty body)");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let http = Http::new(
            "test",
            "http://127.0.0.1:1",
            None,
            HttpConfig {
                backoff_base: Duration::from_millis(10),
                backoff_max: Duration::from_millis(35),
                ..HttpConfig::default()
            },
            venue_message,
        )
        .unwrap();
        assert_eq!(http.backoff(1), Duration::from_millis(10));
        assert_eq!(http.backoff(2), Duration::from_millis(20));
        assert_eq!(http.backoff(3), Duration::from_millis(35));
    }
}
