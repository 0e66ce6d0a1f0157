//! Sessions: random tokens, their SHA-256 in the `sessions` table, cookies, and the
//! [`CurrentUser`] / [`RequireTrader`] extractors.

use super::{now_ms, AuthError, Role, SecureCookies, CSRF_COOKIE, SESSION_COOKIE};
use crate::api::ApiError;
use crate::store::Store;
use crate::web::AppState;
use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::time::Duration;

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// A new session token: 32 bytes from the operating system's CSPRNG, as 64 hex characters.
///
/// # Errors
/// [`AuthError::Hash`] if the OS has no randomness to give (never seen in practice).
pub fn new_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Hash(format!("random source: {e}")))?;
    Ok(to_hex(&bytes))
}

/// What the `sessions` table stores for a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    to_hex(&Sha256::digest(token.as_bytes()))
}

/// The CSRF token bound to a session token (the server needs no state to check it).
pub fn csrf_token_for(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"lockstep-csrf-v1:");
    h.update(session_token.as_bytes());
    to_hex(&h.finalize())
}

/// A signed-in user, as extracted from the session cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentUser {
    pub username: String,
    pub role: Role,
    /// When the session ends, Unix milliseconds.
    pub expires_at_ms: i64,
    /// The CSRF token for this session (what `X-CSRF-Token` must carry).
    pub csrf_token: String,
}

impl CurrentUser {
    pub fn is_trader(&self) -> bool {
        self.role == Role::Trader
    }
}

/// A signed-in user with the trader role. Viewers get 403 `trader role required`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequireTrader(pub CurrentUser);

/// Creates a session for `username` lasting `ttl`; returns the token (for the cookie only —
/// it is not stored) and the expiry in Unix milliseconds. Expired sessions are swept first.
///
/// # Errors
/// Database errors.
pub async fn create(
    store: &Store,
    username: &str,
    ttl: Duration,
) -> Result<(String, i64), AuthError> {
    let now = now_ms();
    sweep_expired(store, now).await?;
    let token = new_token()?;
    let expires = now + ttl.as_millis() as i64;
    sqlx::query(
        "INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash(&token))
    .bind(username)
    .bind(now)
    .bind(expires)
    .execute(store.pool())
    .await?;
    Ok((token, expires))
}

/// The user a token belongs to, if the session exists and has not expired.
///
/// # Errors
/// Database errors, or a stored role that is neither viewer nor trader.
pub async fn lookup(store: &Store, token: &str) -> Result<Option<CurrentUser>, AuthError> {
    let row = sqlx::query(
        "SELECT s.username AS username, u.role AS role, s.expires_at AS expires_at \
         FROM sessions s JOIN users u ON u.username = s.username \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now_ms())
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let role: String = row.try_get("role")?;
    Ok(Some(CurrentUser {
        username: row.try_get("username")?,
        role: Role::parse(&role).ok_or_else(|| AuthError::Corrupt(format!("role {role:?}")))?,
        expires_at_ms: row.try_get("expires_at")?,
        csrf_token: csrf_token_for(token),
    }))
}

/// Ends the session with this token (no error if there is none).
pub async fn delete(store: &Store, token: &str) -> Result<(), AuthError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash(token))
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Ends every session of a user; returns how many there were.
pub async fn delete_for_user(store: &Store, username: &str) -> Result<u64, AuthError> {
    let r = sqlx::query("DELETE FROM sessions WHERE username = $1")
        .bind(username)
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected())
}

/// Deletes sessions that expired before `now_ms`.
pub async fn sweep_expired(store: &Store, now_ms: i64) -> Result<u64, AuthError> {
    let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Whether the request reached us over HTTPS (directly or through a TLS-terminating proxy).
pub fn is_https(parts_uri: &axum::http::Uri, headers: &HeaderMap) -> bool {
    if parts_uri.scheme_str() == Some("https") {
        return true;
    }
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    forwarded_proto || forwarded
}

/// Whether cookies set in answer to this request get the `Secure` flag.
pub fn secure_for(mode: SecureCookies, uri: &axum::http::Uri, headers: &HeaderMap) -> bool {
    match mode {
        SecureCookies::Always => true,
        SecureCookies::Auto => is_https(uri, headers),
    }
}

fn cookie_header(
    name: &str,
    value: &str,
    max_age_secs: i64,
    http_only: bool,
    secure: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; Max-Age={max_age_secs}; SameSite=Strict");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are hex")
}

/// The two `Set-Cookie` values for a new session: the HTTP-only session cookie and the
/// JS-readable CSRF cookie.
pub fn set_cookies(token: &str, ttl: Duration, secure: bool) -> [HeaderValue; 2] {
    let age = ttl.as_secs() as i64;
    [
        cookie_header(SESSION_COOKIE, token, age, true, secure),
        cookie_header(CSRF_COOKIE, &csrf_token_for(token), age, false, secure),
    ]
}

/// `Set-Cookie` values that delete both cookies.
pub fn clear_cookies(secure: bool) -> [HeaderValue; 2] {
    [
        cookie_header(SESSION_COOKIE, "", 0, true, secure),
        cookie_header(CSRF_COOKIE, "", 0, false, secure),
    ]
}

/// The session lookup of one request, cached so several extractors cost one query.
#[derive(Clone)]
struct Resolved(Option<CurrentUser>);

async fn resolve(parts: &mut Parts, store: &Store) -> Result<Option<CurrentUser>, ApiError> {
    if let Some(Resolved(u)) = parts.extensions.get::<Resolved>() {
        return Ok(u.clone());
    }
    let user = match cookie(&parts.headers, SESSION_COOKIE) {
        None => None,
        Some(token) => lookup(store, token).await.map_err(|e| {
            tracing::error!(error = %e, "session lookup failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("could not check the session: {e}"),
            )
        })?,
    };
    parts.extensions.insert(Resolved(user.clone()));
    Ok(user)
}

impl<S> FromRequestParts<S> for CurrentUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let had_cookie = cookie(&parts.headers, SESSION_COOKIE).is_some();
        resolve(parts, &app.store).await?.ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                if had_cookie {
                    "not signed in: the session has expired or was ended; sign in again"
                } else {
                    "not signed in: sign in first (POST /api/auth/login)"
                },
            )
        })
    }
}

impl<S> OptionalFromRequestParts<S> for CurrentUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let app = AppState::from_ref(state);
        resolve(parts, &app.store).await
    }
}

impl<S> FromRequestParts<S> for RequireTrader
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = <CurrentUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if user.is_trader() {
            Ok(RequireTrader(user))
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "trader role required: {} is signed in as a {}",
                    user.username,
                    user.role.as_str()
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_chars_and_differ() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_ne!(token_hash(&a), a);
        assert_ne!(csrf_token_for(&a), token_hash(&a));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; lockstep_session=abc"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("lockstep_csrf=def"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("def"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn https_is_detected_from_proxies() {
        let uri: axum::http::Uri = "/api/auth/login".parse().unwrap();
        let mut h = HeaderMap::new();
        assert!(!is_https(&uri, &h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(is_https(&uri, &h));
        assert!(secure_for(SecureCookies::Always, &uri, &HeaderMap::new()));
    }
}
