//! Sessions: random tokens, their SHA-256 in the `sessions` table, cookies, and the
//! [`CurrentUser`] / [`RequireTrader`] extractors.

use super::{
    now_ms, Auth, AuthError, Role, SecureCookies, CSRF_COOKIE, HOST_CSRF_COOKIE,
    HOST_SESSION_COOKIE, SESSION_COOKIE,
};
use crate::error::ApiError;
use crate::store::Store;
use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::sync::Arc;
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

/// The names of the two cookies for a request: the `__Host-` ones when cookies are `Secure`
/// (HTTPS), else the plain ones. Only these names are read, so over HTTPS a cookie planted
/// without the prefix (by a sibling sub-domain, say) is never looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieNames {
    pub session: &'static str,
    pub csrf: &'static str,
}

impl CookieNames {
    pub fn for_secure(secure: bool) -> CookieNames {
        if secure {
            CookieNames {
                session: HOST_SESSION_COOKIE,
                csrf: HOST_CSRF_COOKIE,
            }
        } else {
            CookieNames {
                session: SESSION_COOKIE,
                csrf: CSRF_COOKIE,
            }
        }
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
/// JS-readable CSRF cookie (`__Host-` names when `secure`).
pub fn set_cookies(token: &str, ttl: Duration, secure: bool) -> [HeaderValue; 2] {
    let age = ttl.as_secs() as i64;
    let names = CookieNames::for_secure(secure);
    [
        cookie_header(names.session, token, age, true, secure),
        cookie_header(names.csrf, &csrf_token_for(token), age, false, secure),
    ]
}

/// `Set-Cookie` values that delete both cookies.
pub fn clear_cookies(secure: bool) -> [HeaderValue; 2] {
    let names = CookieNames::for_secure(secure);
    [
        cookie_header(names.session, "", 0, true, secure),
        cookie_header(names.csrf, "", 0, false, secure),
    ]
}

/// The session token this request carries, under the cookie name its scheme calls for.
pub fn session_token<'a>(
    auth: &Auth,
    uri: &axum::http::Uri,
    headers: &'a HeaderMap,
) -> Option<&'a str> {
    let names = CookieNames::for_secure(auth.secure_for(uri, headers));
    cookie(headers, names.session)
}

/// The session lookup of one request, cached so several extractors cost one query.
#[derive(Clone)]
struct Resolved(Option<CurrentUser>);

async fn resolve(
    parts: &mut Parts,
    store: &Store,
    auth: &Auth,
) -> Result<Option<CurrentUser>, ApiError> {
    if let Some(Resolved(u)) = parts.extensions.get::<Resolved>() {
        return Ok(u.clone());
    }
    let user = match session_token(auth, &parts.uri, &parts.headers) {
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

/// The signed-in user of a request, or the 401 that says why there is none.
async fn require_user(
    parts: &mut Parts,
    store: &Store,
    auth: &Auth,
) -> Result<CurrentUser, ApiError> {
    let had_cookie = session_token(auth, &parts.uri, &parts.headers).is_some();
    resolve(parts, store, auth).await?.ok_or_else(|| {
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

impl<S> FromRequestParts<S> for CurrentUser
where
    Arc<Store>: FromRef<S>,
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let store = Arc::<Store>::from_ref(state);
        require_user(parts, &store, &Auth::from_ref(state)).await
    }
}

impl<S> OptionalFromRequestParts<S> for CurrentUser
where
    Arc<Store>: FromRef<S>,
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let store = Arc::<Store>::from_ref(state);
        resolve(parts, &store, &Auth::from_ref(state)).await
    }
}

/// The signed-in user if there is one, and `None` when there is none *or the session could not
/// be checked* (the store is down): for endpoints that must answer anyway, such as the health
/// check, and only show more to a signed-in caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl<S> FromRequestParts<S> for MaybeUser
where
    Arc<Store>: FromRef<S>,
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let store = Arc::<Store>::from_ref(state);
        Ok(MaybeUser(
            resolve(parts, &store, &Auth::from_ref(state))
                .await
                .ok()
                .flatten(),
        ))
    }
}

/// What [`require_session`] needs: the store and the sign-in settings.
#[derive(Clone)]
pub struct SessionGate {
    pub store: Arc<Store>,
    pub auth: Auth,
}

impl SessionGate {
    /// The signed-in user of a request (looked up once; later extractors reuse it), or `None`.
    ///
    /// # Errors
    /// 503 when the session store cannot be read.
    pub async fn user(&self, parts: &mut Parts) -> Result<Option<CurrentUser>, ApiError> {
        resolve(parts, &self.store, &self.auth).await
    }
}

/// Middleware for every route that is not public (`route_layer` in `api::routes`): a request
/// without a valid session gets 401 before any handler code runs. The user found is cached in
/// the request, so the handler's own [`CurrentUser`] costs nothing more.
pub async fn require_session(
    State(gate): State<SessionGate>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    if let Err(e) = require_user(&mut parts, &gate.store, &gate.auth).await {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

impl<S> FromRequestParts<S> for RequireTrader
where
    Arc<Store>: FromRef<S>,
    Auth: FromRef<S>,
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
