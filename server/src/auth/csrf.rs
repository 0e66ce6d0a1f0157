//! CSRF protection for state-changing API requests: a double-submit token bound to the session.
//!
//! A request with method POST, PUT, PATCH or DELETE (anything but GET, HEAD, OPTIONS, TRACE)
//! must send the header `X-CSRF-Token` equal to the CSRF cookie (`lockstep_csrf`, or
//! `__Host-lockstep_csrf` over HTTPS); if it also sends a session cookie, the token must be the
//! one derived from that session. Only
//! `POST /api/auth/login` is exempt (it is rate-limited, needs the password, and its cookies are
//! SameSite=Strict). Another site can make a browser send our cookies only on top-level
//! navigations — never with Strict cookies — and can neither read the cookie nor set a custom
//! header on a cross-origin request without a CORS preflight, which this server never grants.

use super::session::{cookie, csrf_token_for, CookieNames};
use super::{Auth, CSRF_HEADER};
use crate::error::ApiError;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// Paths (as the client sent them) that need no CSRF token.
const EXEMPT: &[&str] = &["/api/auth/login"];

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn reject(why: &str) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, format!("CSRF check failed: {why}")).into_response()
}

/// Checks a request's CSRF token; see the module docs. Layer it with
/// `axum::middleware::from_fn_with_state(auth, require_csrf)`.
pub async fn require_csrf(State(auth): State<Auth>, req: Request, next: Next) -> Response {
    if is_safe(req.method()) {
        return next.run(req).await;
    }
    let path = req
        .extensions()
        .get::<OriginalUri>()
        .map(|u| u.0.path().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    if EXEMPT.contains(&path.trim_end_matches('/')) {
        return next.run(req).await;
    }
    let names = CookieNames::for_secure(auth.secure_for(req.uri(), req.headers()));
    if let Err(why) = check(req.headers(), names) {
        tracing::warn!(method = %req.method(), %path, why, "CSRF check failed");
        return reject(why);
    }
    next.run(req).await
}

/// The check itself, on the request headers and the cookie names of its scheme: `Err` says
/// what is wrong.
pub fn check(headers: &axum::http::HeaderMap, names: CookieNames) -> Result<(), &'static str> {
    let header = match headers.get(CSRF_HEADER).map(|v| v.to_str()) {
        None => {
            return Err("the X-CSRF-Token header is missing; send the value of the lockstep_csrf cookie (also csrf_token in GET /api/auth/me) in it")
        }
        Some(Err(_)) => return Err("the X-CSRF-Token header is not valid text"),
        Some(Ok(v)) => v.trim(),
    };
    let Some(cookie_token) = cookie(headers, names.csrf) else {
        return Err("the lockstep_csrf cookie is missing; sign in (again) to get one");
    };
    if !ct_eq(header, cookie_token) {
        return Err("the X-CSRF-Token header does not match the lockstep_csrf cookie");
    }
    if let Some(session) = cookie(headers, names.session) {
        if !ct_eq(header, &csrf_token_for(session)) {
            return Err(
                "the CSRF token does not belong to this session; reload the page or sign in again",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, HeaderMap, HeaderValue};

    fn headers(cookies: &str, token: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if !cookies.is_empty() {
            h.insert(header::COOKIE, HeaderValue::from_str(cookies).unwrap());
        }
        if let Some(t) = token {
            h.insert(CSRF_HEADER, HeaderValue::from_str(t).unwrap());
        }
        h
    }

    #[test]
    fn double_submit_bound_to_the_session() {
        let check = |h: &HeaderMap| super::check(h, CookieNames::for_secure(false));
        let s = "a".repeat(64);
        let t = csrf_token_for(&s);
        let both = format!("lockstep_session={s}; lockstep_csrf={t}");
        assert_eq!(check(&headers(&both, Some(&t))), Ok(()));
        assert!(check(&headers(&both, None))
            .unwrap_err()
            .contains("header is missing"));
        assert!(check(&headers(&format!("lockstep_session={s}"), Some(&t)))
            .unwrap_err()
            .contains("cookie is missing"));
        assert!(check(&headers(&both, Some("x")))
            .unwrap_err()
            .contains("does not match"));
        // A planted cookie + header pair that is not this session's token.
        let planted = format!("lockstep_session={s}; lockstep_csrf=evil");
        assert!(check(&headers(&planted, Some("evil")))
            .unwrap_err()
            .contains("does not belong"));
    }

    #[test]
    fn over_https_only_the_host_prefixed_cookies_count() {
        let names = CookieNames::for_secure(true);
        let s = "b".repeat(64);
        let t = csrf_token_for(&s);
        let plain = format!("lockstep_session={s}; lockstep_csrf={t}");
        assert!(super::check(&headers(&plain, Some(&t)), names)
            .unwrap_err()
            .contains("cookie is missing"));
        let host = format!("__Host-lockstep_session={s}; __Host-lockstep_csrf={t}");
        assert_eq!(super::check(&headers(&host, Some(&t)), names), Ok(()));
    }
}
