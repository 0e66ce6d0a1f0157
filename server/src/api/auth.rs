//! `POST /api/auth/login`, `POST /api/auth/logout`, `GET /api/auth/me`. See `crate::auth` for
//! the scheme.

use super::ApiError;
use crate::auth::ratelimit::Limited;
use crate::auth::{password, session, users, CurrentUser, SESSION_COOKIE};
use crate::web::AppState;
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

/// Signs in: sets the `lockstep_session` (HTTP-only) and `lockstep_csrf` cookies. Wrong password
/// and unknown user get the same 401; too many attempts per user name or client address get 429
/// with `Retry-After`. The only state-changing endpoint that needs no `X-CSRF-Token`.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionInfo), (status = 400, body = ApiErrorBody),
              (status = 401, body = ApiErrorBody), (status = 429, body = ApiErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
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
    if let Err(hit) = state.auth.limiter().check(&name, ip) {
        let secs = hit.retry_after().as_secs().max(1);
        let which = match hit {
            Limited::User(_) => "for this user",
            Limited::Address(_) => "from this address",
        };
        tracing::warn!(username = %name, ip = %show_ip(ip), "sign-in rate-limited {which}");
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many sign-in attempts {which}; try again in {secs} s"),
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Ok(resp);
    }
    let store = &state.store;
    let found = if req.password.len() > password::MAX_PASSWORD_BYTES {
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
    let password = if req.password.len() > password::MAX_PASSWORD_BYTES {
        String::new()
    } else {
        req.password
    };
    let ok = password::verify_blocking(password, phc)
        .await
        .map_err(internal)?;
    let user = match (ok, user) {
        (true, Some(u)) => u,
        _ => {
            tracing::warn!(username = %name, ip = %show_ip(ip), "sign-in failed");
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, BAD_CREDENTIALS));
        }
    };
    // A sign-in replaces the session this browser had, if any.
    if let Some(old) = session::cookie(&headers, SESSION_COOKIE) {
        session::delete(store, old).await.map_err(internal)?;
    }
    let ttl = state.auth.config().session_ttl;
    let (token, expires_at_ms) = session::create(store, &user.username, ttl)
        .await
        .map_err(internal)?;
    tracing::info!(username = %user.username, role = user.role.as_str(), ip = %show_ip(ip), "signed in");
    let current = CurrentUser {
        username: user.username,
        role: user.role,
        expires_at_ms,
        csrf_token: session::csrf_token_for(&token),
    };
    let secure = session::secure_for(state.auth.config().secure_cookies, &uri, &headers);
    let mut resp = Json(info(&current)).into_response();
    for c in session::set_cookies(&token, ttl, secure) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(no_store(resp))
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
    if let Some(token) = session::cookie(&headers, SESSION_COOKIE) {
        session::delete(&state.store, token)
            .await
            .map_err(internal)?;
    }
    if let Some(u) = user {
        tracing::info!(username = %u.username, "signed out");
    }
    let secure = session::secure_for(state.auth.config().secure_cookies, &uri, &headers);
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

fn internal(e: crate::auth::AuthError) -> ApiError {
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
