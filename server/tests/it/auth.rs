//! Sign-in, sessions, roles, CSRF and the login rate limit, through the real router
//! (`tower::ServiceExt::oneshot`), on SQLite and — for the store-level flow — on PostgreSQL in a
//! schema of its own. Also `lockstep user ...` through the built binary.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::routing::post;
use axum::Router;
use http_body_util::BodyExt;
use server::auth::{session, users, AuthConfig, RequireTrader, Role};
use server::store::testing::{Engine, TestStore};
use server::{router, AppState};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const PW: &str = "correct horse battery staple";

struct Ctx {
    app: Router,
    state: AppState,
    t: TestStore,
}

async fn setup(engine: Engine, tag: &str, config: AuthConfig) -> Option<Ctx> {
    let t = TestStore::new(engine, tag).await?;
    let state = AppState::new(
        t.store.clone(),
        &std::env::temp_dir(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .with_auth(config);
    Some(Ctx {
        app: router(state.clone()),
        state,
        t,
    })
}

async fn sqlite(tag: &str) -> Ctx {
    setup(Engine::Sqlite, tag, AuthConfig::default())
        .await
        .unwrap()
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: serde_json::Value,
}

impl Resp {
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }
    /// The `Set-Cookie` line for cookie `name`.
    fn set_cookie(&self, name: &str) -> String {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie in {:?}", self.set_cookies()))
    }
    fn cookie_value(&self, name: &str) -> String {
        let line = self.set_cookie(name);
        line.split(';').next().unwrap()[name.len() + 1..].to_string()
    }
}

async fn call(app: &Router, req: Request<Body>) -> Resp {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    }
}

fn login_req(username: &str, password: &str) -> Request<Body> {
    Request::post("/api/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({"username": username, "password": password}).to_string(),
        ))
        .unwrap()
}

/// A signed-in browser: its two cookies.
struct Browser {
    session: String,
    csrf: String,
}

impl Browser {
    fn cookie_header(&self) -> String {
        format!(
            "lockstep_session={}; lockstep_csrf={}",
            self.session, self.csrf
        )
    }
    /// A request carrying the cookies and, for unsafe methods, the matching CSRF header.
    fn req(&self, method: Method, uri: &str) -> Request<Body> {
        let mut b = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(header::COOKIE, self.cookie_header());
        if method != Method::GET {
            b = b.header("x-csrf-token", &self.csrf);
        }
        b.body(Body::empty()).unwrap()
    }
}

async fn sign_in(app: &Router, username: &str, password: &str) -> Browser {
    let r = call(app, login_req(username, password)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    Browser {
        session: r.cookie_value("lockstep_session"),
        csrf: r.cookie_value("lockstep_csrf"),
    }
}

/// The whole flow on both engines: add, sign in, me, logout, the session gone from the table.
#[tokio::test]
async fn sign_in_me_and_sign_out_on_both_engines() {
    for engine in Engine::ALL {
        let Some(c) = setup(engine, "auth_flow", AuthConfig::default()).await else {
            continue;
        };
        let store = &c.t.store;
        users::add(store, "Alice", Role::Trader, PW).await.unwrap();
        users::add(store, "bob", Role::Viewer, PW).await.unwrap();
        let listed: Vec<_> = users::list(store)
            .await
            .unwrap()
            .into_iter()
            .map(|u| (u.username, u.role))
            .collect();
        assert_eq!(
            listed,
            vec![("alice".into(), Role::Trader), ("bob".into(), Role::Viewer)],
            "{engine:?}"
        );

        // Names are case-insensitive at sign-in.
        let r = call(&c.app, login_req("ALICE", PW)).await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?} {:?}", r.body);
        assert_eq!(r.body["username"], "alice");
        assert_eq!(r.body["role"], "trader");
        let token = r.cookie_value("lockstep_session");
        let csrf = r.cookie_value("lockstep_csrf");
        assert_eq!(token.len(), 64);
        assert_eq!(r.body["csrf_token"], csrf.as_str());
        assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");

        // Only the token's hash is stored.
        let hashes: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(hashes, vec![session::token_hash(&token)], "{engine:?}");

        let b = Browser {
            session: token,
            csrf,
        };
        let me = call(&c.app, b.req(Method::GET, "/api/auth/me")).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["username"], "alice");
        assert_eq!(me.body["role"], "trader");
        assert_eq!(me.body["csrf_token"], b.csrf.as_str());
        let exp = me.body["expires_at"].as_i64().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((exp - now - 12 * 3600).abs() < 60, "{exp} vs {now}");

        let out = call(&c.app, b.req(Method::POST, "/api/auth/logout")).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert!(out.set_cookie("lockstep_session").contains("Max-Age=0"));
        assert!(out.set_cookie("lockstep_csrf").contains("Max-Age=0"));
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(n, 0, "{engine:?}");
        // The old cookie no longer works.
        let me = call(&c.app, b.req(Method::GET, "/api/auth/me")).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED);
        assert!(
            me.error().contains("expired or was ended"),
            "{}",
            me.error()
        );
    }
}

/// A page, with the status, headers and HTML.
async fn page(
    app: &Router,
    uri: &str,
    cookie: Option<&str>,
    fetch_site: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let mut b = Request::get(uri);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    if let Some(s) = fetch_site {
        b = b.header("sec-fetch-site", s);
    }
    let resp = app
        .clone()
        .oneshot(b.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// The server renders each page for who is signed in and hands that (name and role, never a
/// token) to the hydrating app in the badge's `data-server-*` attributes, so the browser needs
/// no `/api/auth/me` round trip; when the request may have come without the `SameSite=Strict`
/// cookie (a navigation from another site, or a browser that does not send `Sec-Fetch-Site`)
/// it says nothing and the app asks `/api/auth/me`. A page rendered for a user is not stored.
#[tokio::test]
async fn pages_are_rendered_for_who_is_signed_in() {
    let c = sqlite("page_session").await;
    users::add(&c.t.store, "alice", Role::Trader, PW)
        .await
        .unwrap();
    let b = sign_in(&c.app, "alice", PW).await;
    let cookie = b.cookie_header();
    for uri in ["/", "/login", "/trades"] {
        for site in ["same-origin", "same-site", "none"] {
            let (status, headers, html) = page(&c.app, uri, Some(&cookie), Some(site)).await;
            assert_eq!(status, StatusCode::OK, "{uri} {site}");
            assert!(
                html.contains(r#"data-server-session="signed-in""#),
                "{uri} {site}: {html}"
            );
            assert!(html.contains(r#"data-server-user="alice""#), "{uri} {site}");
            assert!(
                html.contains(r#"data-server-role="trader""#),
                "{uri} {site}"
            );
            assert!(
                !html.contains(&b.csrf) && !html.contains(&b.session),
                "{uri}: a token in the page"
            );
            assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{uri} {site}");
            // The badge itself still waits for the app (no "signed in" before hydration).
            assert!(!html.contains("signed-in-as"), "{uri} {site}");
        }
        // Cookie withheld or the browser does not say: the page does not claim to know.
        for site in [Some("cross-site"), None] {
            let (status, headers, html) = page(&c.app, uri, Some(&cookie), site).await;
            assert_eq!(status, StatusCode::OK, "{uri} {site:?}");
            assert!(html.contains(r#"id="session""#), "{site:?}");
            assert!(!html.contains("data-server-"), "{uri} {site:?}: {html}");
            assert!(headers.get(header::CACHE_CONTROL).is_none(), "{site:?}");
        }
    }
    // No cookie: signed out, as the server sees it.
    let (status, headers, html) = page(&c.app, "/login", None, Some("none")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"data-server-session="signed-out""#),
        "{html}"
    );
    assert!(!html.contains("data-server-user"));
    assert!(headers.get(header::CACHE_CONTROL).is_none());
    // After signing out, the old cookie renders signed out too.
    let out = call(&c.app, b.req(Method::POST, "/api/auth/logout")).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let (_, _, html) = page(&c.app, "/login", Some(&cookie), Some("same-origin")).await;
    assert!(
        html.contains(r#"data-server-session="signed-out""#),
        "{html}"
    );
}

#[tokio::test]
async fn user_store_rules_on_both_engines() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "auth_users").await else {
            continue;
        };
        let s = &t.store;
        users::add(s, "carol", Role::Viewer, PW).await.unwrap();
        let dup = users::add(s, "Carol", Role::Trader, PW).await.unwrap_err();
        assert!(dup.to_string().contains("already exists"), "{dup}");
        let short = users::add(s, "dan", Role::Viewer, "short")
            .await
            .unwrap_err();
        assert!(short.to_string().contains("at least 12"), "{short}");
        let bad = users::add(s, "no spaces", Role::Viewer, PW)
            .await
            .unwrap_err();
        assert!(bad.to_string().contains("invalid user name"), "{bad}");

        // The hash is an argon2id PHC string, never the password.
        let (_, phc) = users::find_with_hash(s, "carol").await.unwrap().unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains(PW));

        // A new password ends the user's sessions; role changes apply to open sessions.
        let (tok, _) = session::create(s, "carol", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            session::lookup(s, &tok).await.unwrap().unwrap().role,
            Role::Viewer
        );
        users::set_role(s, "carol", Role::Trader).await.unwrap();
        assert_eq!(
            session::lookup(s, &tok).await.unwrap().unwrap().role,
            Role::Trader
        );
        users::set_password(s, "carol", "another long password")
            .await
            .unwrap();
        assert!(session::lookup(s, &tok).await.unwrap().is_none());

        // Expired sessions do not count and are swept.
        let (old, _) = session::create(s, "carol", Duration::from_secs(60))
            .await
            .unwrap();
        sqlx::query("UPDATE sessions SET expires_at = 1")
            .execute(s.pool())
            .await
            .unwrap();
        assert!(session::lookup(s, &old).await.unwrap().is_none());
        assert_eq!(session::sweep_expired(s, 2).await.unwrap(), 1);

        users::remove(s, "carol").await.unwrap();
        assert!(users::list(s).await.unwrap().is_empty());
        assert!(users::remove(s, "carol")
            .await
            .unwrap_err()
            .to_string()
            .contains("no user named"));
    }
}

#[tokio::test]
async fn cookie_flags() {
    let c = sqlite("auth_cookies").await;
    users::add(&c.t.store, "erin", Role::Viewer, PW)
        .await
        .unwrap();
    let r = call(&c.app, login_req("erin", PW)).await;
    let s = r.set_cookie("lockstep_session");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(s.contains(flag), "{flag} missing in {s}");
    }
    assert!(!s.contains("Secure"), "plain http must not get Secure: {s}");
    let k = r.set_cookie("lockstep_csrf");
    assert!(k.contains("SameSite=Strict") && k.contains("Path=/"), "{k}");
    assert!(
        !k.contains("HttpOnly"),
        "the CSRF cookie must be readable by JS: {k}"
    );

    // Behind a TLS-terminating proxy both cookies are Secure and `__Host-` prefixed (this host
    // only, `Path=/`, no `Domain`), and the plain names are not set at all.
    let mut req = login_req("erin", PW);
    req.headers_mut()
        .insert("x-forwarded-proto", "https".parse().unwrap());
    let r = call(&c.app, req).await;
    for name in ["__Host-lockstep_session", "__Host-lockstep_csrf"] {
        let line = r.set_cookie(name);
        assert!(
            line.contains("; Secure") && line.contains("Path=/"),
            "{line}"
        );
        assert!(!line.contains("Domain"), "{line}");
    }
    assert_eq!(r.set_cookies().len(), 2, "{:?}", r.set_cookies());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let c = sqlite("auth_wrong").await;
    users::add(&c.t.store, "frank", Role::Trader, PW)
        .await
        .unwrap();
    // Warm the unknown-user path's dummy hash, as `lockstep serve` does at start.
    tokio::task::spawn_blocking(server::auth::password::warm_up)
        .await
        .unwrap();
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..3 {
        let t = Instant::now();
        let a = call(&c.app, login_req("frank", "wrong password here")).await;
        wrong.push(t.elapsed());
        let t = Instant::now();
        let b = call(
            &c.app,
            login_req(&format!("nobody{i}"), "wrong password here"),
        )
        .await;
        unknown.push(t.elapsed());
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(b.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.body, b.body);
        assert_eq!(a.error(), "invalid username or password");
        assert!(a.set_cookies().is_empty() && b.set_cookies().is_empty());
    }
    wrong.sort();
    unknown.sort();
    let (w, u) = (wrong[1].as_secs_f64(), unknown[1].as_secs_f64());
    eprintln!("sign-in answer, median of 3: wrong password {w:.3} s, unknown user {u:.3} s");
    // Both paths run one argon2 verification; skipping it would make one ~1000x faster.
    assert!(
        u / w > 0.33 && u / w < 3.0,
        "median wrong-password {w:.3}s vs unknown-user {u:.3}s"
    );
    // Malformed bodies get a JSON 400.
    let r = call(
        &c.app,
        Request::post("/api/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"username\": 1}"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("expected JSON"), "{}", r.error());
}

#[tokio::test]
async fn expired_sessions_are_refused() {
    let c = sqlite("auth_expired").await;
    users::add(&c.t.store, "gina", Role::Viewer, PW)
        .await
        .unwrap();
    let b = sign_in(&c.app, "gina", PW).await;
    assert_eq!(
        call(&c.app, b.req(Method::GET, "/api/auth/me"))
            .await
            .status,
        StatusCode::OK
    );
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64
                - 1,
        )
        .execute(c.t.store.pool())
        .await
        .unwrap();
    let me = call(&c.app, b.req(Method::GET, "/api/auth/me")).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    // And without any cookie, the message says to sign in.
    let anon = call(
        &c.app,
        Request::get("/api/auth/me").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    assert!(anon.error().contains("sign in first"), "{}", anon.error());
}

/// A trader-only endpoint in the shape the live-trading API uses: `RequireTrader` plus the CSRF
/// layer, on the same state as the app.
fn trader_only(state: &AppState) -> Router {
    async fn approve(RequireTrader(user): RequireTrader) -> String {
        format!("approved by {}", user.username)
    }
    Router::new()
        .route("/api/test/approve", post(approve))
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            server::auth::csrf::require_csrf,
        ))
        .with_state(state.clone())
}

#[tokio::test]
async fn viewers_cannot_do_what_traders_can() {
    let c = sqlite("auth_roles").await;
    users::add(&c.t.store, "tom", Role::Trader, PW)
        .await
        .unwrap();
    users::add(&c.t.store, "vic", Role::Viewer, PW)
        .await
        .unwrap();
    let trader = sign_in(&c.app, "tom", PW).await;
    let viewer = sign_in(&c.app, "vic", PW).await;
    let route = trader_only(&c.state);

    let r = route
        .clone()
        .oneshot(trader.req(Method::POST, "/api/test/approve"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"approved by tom");

    let r = call(&route, viewer.req(Method::POST, "/api/test/approve")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.error().starts_with("trader role required"),
        "{}",
        r.error()
    );

    let anon = Request::post("/api/test/approve")
        .header(header::COOKIE, "lockstep_csrf=x")
        .header("x-csrf-token", "x")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&route, anon).await.status, StatusCode::UNAUTHORIZED);

    // The live-trading endpoints: viewers read, traders act.
    let r = call(&c.app, viewer.req(Method::GET, "/api/plans")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let anon = Request::get("/api/plans").body(Body::empty()).unwrap();
    assert_eq!(call(&c.app, anon).await.status, StatusCode::UNAUTHORIZED);
    for (method, uri) in [
        (Method::POST, "/api/plans/no-such-plan/approve"),
        (Method::POST, "/api/plans/no-such-plan/reject"),
        (Method::POST, "/api/kill-switch"),
        (Method::DELETE, "/api/kill-switch"),
    ] {
        let r = call(&c.app, viewer.req(method.clone(), uri)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert!(
            r.error().starts_with("trader role required"),
            "{}",
            r.error()
        );
    }
    // A trader gets past the role check: no such plan, and the kill switch flips.
    let r = call(
        &c.app,
        trader.req(Method::POST, "/api/plans/no-such-plan/approve"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = call(&c.app, trader.req(Method::POST, "/api/kill-switch")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn state_changing_requests_need_the_csrf_token() {
    let c = sqlite("auth_csrf").await;
    users::add(&c.t.store, "hal", Role::Trader, PW)
        .await
        .unwrap();
    let b = sign_in(&c.app, "hal", PW).await;
    let route = trader_only(&c.state);
    for (app, uri) in [(&c.app, "/api/auth/logout"), (&route, "/api/test/approve")] {
        let bare = |cookies: String| Request::post(uri).header(header::COOKIE, cookies);
        // No header.
        let r = call(app, bare(b.cookie_header()).body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(
            r.error().contains("X-CSRF-Token header is missing"),
            "{}",
            r.error()
        );
        // Header that does not match the cookie.
        let r = call(
            app,
            bare(b.cookie_header())
                .header("x-csrf-token", "0".repeat(64))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.error().contains("does not match"), "{}", r.error());
        // No CSRF cookie.
        let r = call(
            app,
            bare(format!("lockstep_session={}", b.session))
                .header("x-csrf-token", &b.csrf)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(
            r.error().contains("lockstep_csrf cookie is missing"),
            "{}",
            r.error()
        );
        // A matching pair planted by someone else, not this session's token.
        let r = call(
            app,
            bare(format!(
                "lockstep_session={}; lockstep_csrf=planted",
                b.session
            ))
            .header("x-csrf-token", "planted")
            .body(Body::empty())
            .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.error().contains("does not belong"), "{}", r.error());
    }
    // The session survived all of that, and the proper request works.
    let me = call(&c.app, b.req(Method::GET, "/api/auth/me")).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        call(&route, b.req(Method::POST, "/api/test/approve"))
            .await
            .status,
        StatusCode::OK
    );
    // Other methods are covered too; GET is not.
    for m in [Method::PUT, Method::PATCH, Method::DELETE] {
        let r = call(
            &c.app,
            Request::builder()
                .method(m.clone())
                .uri("/api/health")
                .header(header::COOKIE, b.cookie_header())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{m}");
    }
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_user_and_address_and_per_address() {
    // Five failures per (name, address) and five attempts per address, with a window long
    // enough that no attempt is refilled while this test runs, however slow the machine.
    let config = AuthConfig {
        attempts_per_ip: 5,
        attempt_window: Duration::from_secs(3600),
        ..AuthConfig::default()
    };
    let c = setup(Engine::Sqlite, "auth_ratelimit", config)
        .await
        .unwrap();
    users::add(&c.t.store, "ivy", Role::Viewer, PW)
        .await
        .unwrap();
    for _ in 0..5 {
        let r = call(&c.app, login_req("ivy", "not the password")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // The sixth attempt from the same (unknown) address is refused before the password is
    // looked at, even the right one.
    let r = call(&c.app, login_req("Ivy", PW)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.error()
            .contains("too many sign-in attempts for this user from this address"),
        "{}",
        r.error()
    );
    let retry: u64 = r.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=720).contains(&retry), "{retry}");
    // Unknown users are limited the same way.
    for _ in 0..5 {
        call(&c.app, login_req("ghost", "whatever password")).await;
    }
    assert_eq!(
        call(&c.app, login_req("ghost", "whatever password"))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Per address: five different names from one peer, then the sixth is refused.
    let peer: SocketAddr = "127.0.0.7:50000".parse().unwrap();
    let from_peer = |name: &str| {
        let mut req = login_req(name, "not the password");
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    };
    for i in 0..5 {
        let r = call(&c.app, from_peer(&format!("spray{i}"))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = call(&c.app, from_peer("spray5")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.error().contains("from this address"), "{}", r.error());
}

/// `lockstep user ...` through the real binary: passwords from the environment or a file,
/// never an argument; clear errors.
#[test]
fn user_command_line() {
    let dir = std::env::temp_dir().join(format!("lockstep-auth-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/cli.db", dir.display());
    let run = |args: &[&str], env: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lockstep"));
        cmd.arg("--database-url")
            .arg(&db)
            .args(args)
            .env_remove("LOCKSTEP_PASSWORD")
            .env("RUST_LOG", "error")
            .stdin(std::process::Stdio::null());
        if let Some(pw) = env {
            cmd.env("LOCKSTEP_PASSWORD", pw);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&["user", "add", "Judy", "--role", "trader"], Some(PW));
    assert!(ok, "{out}{err}");
    assert!(out.contains("added user judy (trader)"), "{out}");

    let pw_file = dir.join("pw");
    std::fs::write(&pw_file, "a viewer's long password\n").unwrap();
    let (ok, out, err) = run(
        &[
            "user",
            "add",
            "ken",
            "--role",
            "viewer",
            "--password-file",
            pw_file.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{out}{err}");

    let (ok, out, _) = run(&["user", "list"], None);
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{out}");
    assert!(
        lines[1].starts_with("judy") && lines[1].contains("trader"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("ken") && lines[2].contains("viewer"),
        "{out}"
    );

    // No password source and no terminal: a clear error, nothing added.
    let (ok, _, err) = run(&["user", "add", "leo", "--role", "viewer"], None);
    assert!(!ok);
    assert!(err.contains("no password given"), "{err}");
    let (ok, _, err) = run(&["user", "add", "leo", "--role", "viewer"], Some("short"));
    assert!(!ok);
    assert!(err.contains("at least 12 characters"), "{err}");
    let (ok, _, err) = run(&["user", "add", "leo", "--role", "admin"], Some(PW));
    assert!(!ok);
    assert!(err.contains("expected `viewer` or `trader`"), "{err}");
    let (ok, _, err) = run(&["user", "add", "judy", "--role", "viewer"], Some(PW));
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
    // There is no --password argument at all.
    let (ok, _, err) = run(
        &["user", "add", "leo", "--role", "viewer", "--password", PW],
        None,
    );
    assert!(!ok);
    assert!(err.contains("--password"), "{err}");

    let (ok, out, err) = run(&["user", "passwd", "ken"], Some("a brand new passphrase"));
    assert!(ok, "{out}{err}");
    let (ok, _, _) = run(&["user", "role", "ken", "trader"], None);
    assert!(ok);
    let (ok, out, _) = run(&["user", "remove", "ken"], None);
    assert!(ok && out.contains("removed user ken"), "{out}");
    let (ok, _, err) = run(&["user", "remove", "ken"], None);
    assert!(!ok && err.contains("no user named"), "{err}");
    let (_, out, _) = run(&["user", "list"], None);
    assert!(!out.contains("ken"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
