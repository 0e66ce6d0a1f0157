//! `POST /api/auth/login`, `POST /api/auth/logout`, `GET /api/auth/me`. See `crate::auth` for
//! the scheme.

use super::ApiError;
use crate::auth::ratelimit::Limited;
use crate::auth::{password, session, users, AuthError, CurrentUser};
use crate::state::AppState;
use app::api::{ApiErrorBody, LoginRequest, SessionInfo};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::net::{IpAddr, SocketAddr};

const BAD_CREDENTIALS: &str = "invalid username or password";

fn info(user: &CurrentUser) -> SessionInfo {
    SessionInfo {
        username: user.username.clone(),
        role: user.role,
        csrf_token: user.csrf_token.clone(),
        expires_at: user.expires_at_ms.div_euclid(1000),
    }
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The client's address for the rate limit: the peer, or the last `X-Forwarded-For` hop when
/// configured to trust a proxy.
fn client_ip(
    state: &AppState,
    peer: Option<&ConnectInfo<SocketAddr>>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    if state.auth.config().trust_forwarded_for {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back();
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer.map(|c| c.0.ip())
}

/// Signs in: sets the session (HTTP-only) and CSRF cookies. Wrong password and unknown user get
/// the same 401; too many failures for one name from one address, or too many attempts from one
/// address, get 429 with `Retry-After`; 503 when every password-hash slot stays busy. Every
/// sign-in and every failure is written to the audit log. The only state-changing endpoint that
/// needs no `X-CSRF-Token`.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionInfo), (status = 400, body = ApiErrorBody),
              (status = 401, body = ApiErrorBody), (status = 429, body = ApiErrorBody),
              (status = 503, body = ApiErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| {
        ApiError::new(
            crate::error::rejection_status(&e),
            format!(
                "expected JSON {{\"username\": ..., \"password\": ...}}: {}",
                e.body_text()
            ),
        )
    })?;
    let peer = extensions.get::<ConnectInfo<SocketAddr>>();
    let ip = client_ip(&state, peer, &headers);
    // A malformed name is just a user that does not exist: same work, same answer.
    let name = users::normalize_username(&req.username)
        .unwrap_or_else(|_| req.username.trim().to_lowercase());
    if let Err(hit) = state.auth.limiter().admit(&name, ip) {
        let secs = hit.retry_after().as_secs().max(1);
        let which = match hit {
            Limited::User(_) => "for this user from this address",
            Limited::Address(_) => "from this address",
        };
        tracing::warn!(user = %shown_name(&name, false), ip = %show_ip(ip), "sign-in rate-limited {which}");
        return Ok(retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many sign-in attempts {which}; try again in {secs} s"),
            secs,
        ));
    }
    let store = &state.store;
    let too_long = req.password.len() > password::MAX_PASSWORD_BYTES;
    let found = if too_long {
        None
    } else {
        users::find_with_hash(store, &name)
            .await
            .map_err(internal)?
    };
    let (user, phc) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    // Over-long passwords never match; hash an empty one so the answer takes the usual time.
    let password = if too_long {
        String::new()
    } else {
        req.password
    };
    let ok = match state.auth.hash_slots().verify(password, phc).await {
        Ok(ok) => ok,
        Err(AuthError::Busy) => {
            tracing::warn!(ip = %show_ip(ip), "sign-in refused: every password-hash slot is busy");
            return Ok(retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                AuthError::Busy.to_string(),
                2,
            ));
        }
        Err(e) => return Err(internal(e)),
    };
    let audit = crate::live::records::Records { store };
    let now = crate::auth::now_ms();
    let user = match (ok, user) {
        (true, Some(u)) => u,
        (_, known) => {
            state.auth.limiter().record_failure(&name, ip);
            let shown = shown_name(&name, known.is_some());
            tracing::warn!(user = %shown, ip = %show_ip(ip), "sign-in failed");
            let detail = format!("from {}", show_ip(ip));
            if let Err(e) = audit
                .audit(
                    &shown,
                    "auth.login_failed",
                    Some(&shown),
                    Some(&detail),
                    now,
                )
                .await
            {
                tracing::error!(error = %e, "could not write the failed sign-in to the audit log");
            }
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, BAD_CREDENTIALS));
        }
    };
    state.auth.limiter().record_success(&name, ip);
    let secure = state.auth.secure_for(&uri, &headers);
    // A sign-in replaces the session this browser had, if any (and never adopts its token).
    if let Some(old) = session::session_token(&state.auth, &uri, &headers) {
        session::delete(store, old).await.map_err(internal)?;
    }
    let ttl = state.auth.config().session_ttl;
    let (token, expires_at_ms) = session::create(store, &user.username, ttl)
        .await
        .map_err(internal)?;
    audit
        .audit(
            &user.username,
            "auth.login",
            Some(&user.username),
            Some(&format!("{} from {}", user.role.as_str(), show_ip(ip))),
            now,
        )
        .await
        .map_err(|e| internal(AuthError::Corrupt(format!("audit log: {e}"))))?;
    tracing::info!(username = %user.username, role = user.role.as_str(), ip = %show_ip(ip), "signed in");
    let current = CurrentUser {
        username: user.username,
        role: user.role,
        expires_at_ms,
        csrf_token: session::csrf_token_for(&token),
    };
    let mut resp = Json(info(&current)).into_response();
    for c in session::set_cookies(&token, ttl, secure) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(no_store(resp))
}

/// A 429 or 503 with `Retry-After`.
fn retry_later(status: StatusCode, message: String, secs: u64) -> Response {
    let mut resp = ApiError::new(status, message).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// A user name as it may appear in the log and the audit log. A real user's name is shown (it
/// is 1-64 characters of `a-z0-9._-`). Anything else typed into the name field — which may be
/// a password typed into the wrong box, or text made to forge log lines — is never written:
/// only its length and a short fingerprint, enough to tell repeated attempts apart.
pub fn shown_name(name: &str, known_user: bool) -> String {
    if known_user && users::normalize_username(name).is_ok() {
        return name.to_string();
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    format!(
        "unknown user ({} chars, sha256 {})",
        name.chars().count(),
        session::to_hex(&digest[..4])
    )
}

/// Signs out: ends the session (if any) and clears both cookies. 204 (403 without the CSRF header).
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204), (status = 403, body = ApiErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = session::session_token(&state.auth, &uri, &headers) {
        session::delete(&state.store, token)
            .await
            .map_err(internal)?;
    }
    if let Some(u) = user {
        tracing::info!(username = %u.username, "signed out");
        let audit = crate::live::records::Records {
            store: &state.store,
        };
        if let Err(e) = audit
            .audit(
                &u.username,
                "auth.logout",
                Some(&u.username),
                None,
                crate::auth::now_ms(),
            )
            .await
        {
            tracing::error!(error = %e, "could not write the sign-out to the audit log");
        }
    }
    let secure = state.auth.secure_for(&uri, &headers);
    let mut resp = StatusCode::NO_CONTENT.into_response();
    for c in session::clear_cookies(secure) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(no_store(resp))
}

/// The signed-in user, role, CSRF token and session expiry; 401 when not signed in.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    responses((status = 200, body = SessionInfo), (status = 401, body = ApiErrorBody)))]
pub async fn me(user: CurrentUser) -> Response {
    no_store(Json(info(&user)).into_response())
}

/// The client address for the log, `unknown` when there is none.
fn show_ip(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string())
}

fn internal(e: AuthError) -> ApiError {
    tracing::error!(error = %e, "auth store error");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        if e.is_retryable() {
            "sign-in is unavailable right now (database error); try again shortly"
        } else {
            "sign-in failed on the server (see its log)"
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_names_never_reach_the_log_unless_they_are_real_users() {
        assert_eq!(shown_name("alice", true), "alice");
        // A password typed into the name field, and a forged log line, are fingerprinted.
        let pw = shown_name("correct horse battery staple", false);
        assert!(pw.starts_with("unknown user (28 chars, sha256 "), "{pw}");
        assert!(!pw.contains("horse"));
        let forged = shown_name("x\n2030-01-01 INFO signed in username=admin", false);
        assert!(
            !forged.contains('\n') && !forged.contains("admin"),
            "{forged}"
        );
        // Bounded whatever the input.
        assert!(shown_name(&"é".repeat(100_000), false).len() < 64);
        // A valid-looking name that is not a user is not shown either.
        assert!(shown_name("bob", false).starts_with("unknown user"));
    }
}
