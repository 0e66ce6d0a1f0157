//! Sign-in, sessions, roles and CSRF protection for the dashboard and the JSON API.
//!
//! `auth` knows the store and its own settings, never the application: the extractors and
//! layers take what they need from any router state `S` through `FromRef` (`Arc<Store>` and
//! [`Auth`]), and reject with [`crate::error::ApiError`].
//!
//! # Using it from a handler
//!
//! ```ignore
//! use crate::auth::{CurrentUser, RequireTrader};
//!
//! // Any signed-in user (viewer or trader); a request without a valid session gets
//! // 401 {"error": "not signed in: ..."} before the handler runs.
//! async fn portfolio(user: CurrentUser, State(state): State<AppState>) -> ... {
//!     tracing::debug!(user = %user.username, role = user.role.as_str(), "portfolio");
//! }
//!
//! // Traders only: viewers get 403 {"error": "trader role required: ..."}, anonymous 401.
//! async fn approve(RequireTrader(user): RequireTrader, Path(id): Path<String>, ...) -> ... {
//!     // record `user.username` as the approver
//! }
//!
//! // Signed-in or not: `Option<CurrentUser>` (never rejects).
//! async fn page_data(user: Option<CurrentUser>) -> ... {}
//! ```
//!
//! They look the session up once per request (the result is cached in the request's
//! extensions). Routes are not left to remember this: `api::routes` puts every endpoint that is
//! not public behind [`session::require_session`] with a `route_layer`, so a handler that forgets
//! the extractor is still signed-in only.
//!
//! # CSRF
//!
//! [`csrf::require_csrf`] is layered over everything under `/api` in `web::router`, so every
//! POST, PUT, PATCH and DELETE below `/api` — except `POST /api/auth/login`, which is protected by
//! its rate limit and the SameSite cookies — must carry the header `X-CSRF-Token` equal to the
//! JS-readable CSRF cookie (compared in constant time); when a session cookie is sent, the token
//! must also be the one derived from that session (`SHA-256("lockstep-csrf-v1:" + session
//! token)`), so a token planted by another site or sub-domain does not pass. Failures get 403
//! with a message naming what was missing or wrong. Handlers need do nothing.
//!
//! # How a client signs in
//!
//! 1. `POST /api/auth/login` with `{"username": "...", "password": "..."}` →
//!    200 [`app::api::SessionInfo`] `{username, role, csrf_token, expires_at}` and two cookies:
//!    the session (HTTP-only) and the CSRF token (readable by JS), both `Path=/;
//!    SameSite=Strict`, `Max-Age` = session lifetime. Over plain HTTP they are named
//!    `lockstep_session` / `lockstep_csrf`; when the request came over HTTPS (or
//!    `--secure-cookies`) they are `Secure` and named `__Host-lockstep_session` /
//!    `__Host-lockstep_csrf`, a prefix the browser only accepts from this exact host over HTTPS
//!    with `Path=/` and no `Domain` — so a sibling sub-domain cannot plant one (session
//!    fixation) — and the server then reads only the prefixed names.
//!    Wrong password and unknown user both give 401 `invalid username or password`; too many
//!    failures for one name from one address, or too many attempts from one address, give 429
//!    with `Retry-After` ([`ratelimit`]). Every sign-in and every failure is written to the
//!    audit log.
//! 2. Later requests send the cookies automatically (same origin). State-changing ones add
//!    `X-CSRF-Token: <csrf_token>` (from the login answer, `GET /api/auth/me`, or the cookie).
//! 3. `GET /api/auth/me` → the same [`app::api::SessionInfo`], or 401 when not signed in.
//! 4. `POST /api/auth/logout` (with the CSRF header) → 204, the session is deleted server-side
//!    and both cookies are cleared. A new password (`lockstep user passwd`) or removing the user
//!    ends every session of that user.
//!
//! Users are managed from the command line: `lockstep user add|list|passwd|role|remove`.
//!
//! # Why SameSite=Strict
//!
//! Every data request and every state change the dashboard makes is a same-origin `fetch`, which
//! carries Strict cookies. The only thing Strict withholds is the cookie on the first navigation
//! from another site (a shared link pasted in chat): that page request arrives signed-out, is
//! sent to the sign-in page, and the sign-in page — whose `/api/auth/me` does carry the cookie —
//! forwards a signed-in browser straight on. That small cost buys a session cookie no other site
//! can make the browser send at all.

pub mod csrf;
pub mod password;
pub mod ratelimit;
pub mod session;
pub mod users;

pub use app::api::Role;
pub use session::{CurrentUser, RequireTrader};

use std::sync::Arc;
use std::time::Duration;

/// The HTTP-only cookie holding the session token (plain HTTP).
pub const SESSION_COOKIE: &str = "lockstep_session";
/// The JS-readable cookie holding the CSRF token (plain HTTP).
pub const CSRF_COOKIE: &str = "lockstep_csrf";
/// [`SESSION_COOKIE`] over HTTPS: the `__Host-` prefix binds it to this host.
pub const HOST_SESSION_COOKIE: &str = "__Host-lockstep_session";
/// [`CSRF_COOKIE`] over HTTPS.
pub const HOST_CSRF_COOKIE: &str = "__Host-lockstep_csrf";
/// The request header that must repeat the CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Errors of the user and session store. `Db` is retryable (the database may come back); the
/// others are final answers about the input.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid user name {0:?}: use 1 to 64 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit")]
    InvalidUsername(String),
    #[error("password too short: it needs at least {min} characters", min = password::MIN_PASSWORD_CHARS)]
    PasswordTooShort,
    #[error("password too long: at most {max} bytes", max = password::MAX_PASSWORD_BYTES)]
    PasswordTooLong,
    #[error("user {0:?} already exists (use `lockstep user passwd` or `lockstep user role` to change it)")]
    UserExists(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the server is busy checking other passwords; try again in a few seconds")]
    Busy,
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl AuthError {
    /// Whether trying the same thing again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, AuthError::Db(_) | AuthError::Busy)
    }
}

/// When to mark cookies `Secure` (sent over HTTPS only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SecureCookies {
    /// When the request arrived over HTTPS: an `https` URI, or `X-Forwarded-Proto: https` /
    /// `Forwarded: proto=https` from a TLS-terminating proxy.
    #[default]
    Auto,
    /// Always (for deployments that are only ever reached over HTTPS).
    Always,
}

/// Settings for sign-in and sessions.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// How long a session lasts after sign-in (absolute, not sliding).
    pub session_ttl: Duration,
    pub secure_cookies: SecureCookies,
    /// Take the client address for the login rate limit from the last `X-Forwarded-For` entry
    /// (only behind a reverse proxy that sets it; otherwise clients could pick their own key).
    pub trust_forwarded_for: bool,
    /// Failed sign-ins allowed per [`AuthConfig::attempt_window`] for one user name from one
    /// client address (see [`ratelimit`]: failures elsewhere never lock a user out).
    pub attempts_per_user: u32,
    /// Sign-in attempts of any kind allowed per [`AuthConfig::attempt_window`] from one client
    /// address: the ceiling on password spraying from one place.
    pub attempts_per_ip: u32,
    /// The rate limit's window: a full burst of attempts, then one more every
    /// `window / attempts`.
    pub attempt_window: Duration,
    /// Password hashes (argon2id, 19 MiB and tens of milliseconds of CPU each) computed at
    /// once; more wait up to [`AuthConfig::hash_wait`] for a slot, then get 503.
    pub max_concurrent_hashes: usize,
    pub hash_wait: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_ttl: Duration::from_secs(12 * 3600),
            secure_cookies: SecureCookies::Auto,
            trust_forwarded_for: false,
            attempts_per_user: 5,
            attempts_per_ip: 30,
            attempt_window: Duration::from_secs(60),
            max_concurrent_hashes: 4,
            hash_wait: Duration::from_secs(10),
        }
    }
}

/// Process-wide auth state held in `AppState`: the config and the login rate limiters.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<AuthInner>,
}

struct AuthInner {
    config: AuthConfig,
    limiter: ratelimit::LoginLimiter,
    hashes: password::HashSlots,
}

impl Auth {
    pub fn new(config: AuthConfig) -> Auth {
        let limiter = ratelimit::LoginLimiter::new(
            config.attempts_per_user,
            config.attempts_per_ip,
            config.attempt_window,
        );
        let hashes = password::HashSlots::new(config.max_concurrent_hashes, config.hash_wait);
        Auth {
            inner: Arc::new(AuthInner {
                config,
                limiter,
                hashes,
            }),
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    pub fn limiter(&self) -> &ratelimit::LoginLimiter {
        &self.inner.limiter
    }

    /// The cap on concurrent password hashes of the sign-in endpoint.
    pub fn hash_slots(&self) -> &password::HashSlots {
        &self.inner.hashes
    }

    /// Whether cookies set or read in answer to this request are the `Secure`, `__Host-` ones.
    pub fn secure_for(&self, uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> bool {
        session::secure_for(self.inner.config.secure_cookies, uri, headers)
    }
}

impl Default for Auth {
    fn default() -> Self {
        Auth::new(AuthConfig::default())
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
