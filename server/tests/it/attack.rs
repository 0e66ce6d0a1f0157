//! The web surface under attack, through the real router (and, for slow clients, a real socket
//! on 127.0.0.1): the route × role × CSRF matrix walked from the router's own table, the
//! lockout an outsider used to cause, clickjacking and the other security headers, oversized
//! bodies, slow clients, a cross-origin preflight, session fixation, sessions ended by sign-out
//! and password change, a panicking handler, reads that must not write, audit rows written with
//! the change they record, and out-of-range dates. docs/security.md says what each one proves.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use server::api::{Access, Endpoint};
use server::auth::{users, AuthConfig, Role};
use server::live::{CycleOptions, FixedClock, LiveService, LiveSettings};
use server::store::testing::{Engine, TestStore};
use server::{router, AppState, WebConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const PW: &str = "correct horse battery staple";

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or(serde_json::Value::Null)
    }
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_string()
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn call(app: &Router, req: Request<Body>) -> Resp {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    Resp {
        status,
        headers,
        text: crate::common::body_text(resp).await,
    }
}

fn login_from(user: &str, password: &str, peer: &str) -> Request<Body> {
    let mut req = Request::post("/api/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({"username": user, "password": password}).to_string(),
        ))
        .unwrap();
    let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

/// A browser: its cookies (none when anonymous).
#[derive(Clone, Default)]
struct Browser {
    session: String,
    csrf: String,
}

impl Browser {
    fn req(&self, method: Method, uri: &str, csrf: bool) -> Request<Body> {
        let mut b = Request::builder().method(method).uri(uri);
        if !self.session.is_empty() {
            b = b.header(
                header::COOKIE,
                format!(
                    "lockstep_session={}; lockstep_csrf={}",
                    self.session, self.csrf
                ),
            );
        } else if csrf {
            // An anonymous client can make up a matching cookie/header pair.
            b = b.header(header::COOKIE, "lockstep_csrf=anon");
        }
        if csrf {
            let token = if self.session.is_empty() {
                "anon"
            } else {
                &self.csrf
            };
            b = b.header("x-csrf-token", token);
        }
        b.body(Body::empty()).unwrap()
    }
}

fn cookie_of(r: &Resp, name: &str) -> String {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}

async fn sign_in(app: &Router, user: &str) -> Browser {
    let r = call(app, login_from(user, PW, "127.0.0.1")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    Browser {
        session: cookie_of(&r, "lockstep_session"),
        csrf: cookie_of(&r, "lockstep_csrf"),
    }
}

struct Ctx {
    app: Router,
    state: AppState,
    t: TestStore,
}

async fn setup(tag: &str, web: WebConfig, auth: AuthConfig) -> Ctx {
    let t = TestStore::new(Engine::Sqlite, tag).await.unwrap();
    users::add(&t.store, "tina", Role::Trader, PW)
        .await
        .unwrap();
    users::add(&t.store, "vic", Role::Viewer, PW).await.unwrap();
    let state = AppState::new(
        t.store.clone(),
        &std::env::temp_dir(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .with_web(web)
    .with_auth(auth);
    Ctx {
        app: router(state.clone()),
        state,
        t,
    }
}

fn concrete(path: &str) -> String {
    format!("/api{}", path.replace("{id}", "no-such-id"))
}

/// Every endpoint the router serves, from its own table, for every role, with and without the
/// CSRF header: anonymous callers reach only what is public (and, with `--public-read`, the
/// read endpoints), viewers never reach a trader's action, and no state change passes without
/// the token. An endpoint added to the router is in the table (it cannot be added without an
/// [`Access`]), so it is tested here the day it is added.
#[tokio::test]
async fn every_route_answers_each_role_as_its_decision_says() {
    for public_read in [false, true] {
        let web = WebConfig {
            public_read,
            ..WebConfig::default()
        };
        let c = setup("attack_matrix", web, AuthConfig::default()).await;
        let table = server::api::table(&c.state);
        assert!(table.len() >= 20, "{table:?}");
        let mut trader = sign_in(&c.app, "tina").await;
        let mut viewer = sign_in(&c.app, "vic").await;
        for Endpoint {
            method,
            path,
            access,
        } in &table
        {
            let uri = concrete(path);
            let unsafe_method = *method != Method::GET;
            for (who, browser) in [
                ("anonymous", Browser::default()),
                ("viewer", viewer.clone()),
                ("trader", trader.clone()),
            ] {
                for csrf in [true, false] {
                    if !csrf && !unsafe_method {
                        continue;
                    }
                    let r = call(&c.app, browser.req(method.clone(), &uri, csrf)).await;
                    let what = format!(
                        "{method} {uri} as {who}, csrf {csrf}, public_read {public_read}: {} {}",
                        r.status, r.text
                    );
                    // The table is the router: every entry is routed (no fallback 404, no 405).
                    assert!(!r.error().starts_with("no API endpoint"), "{what}");
                    assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
                    if unsafe_method && !csrf && *path != "/auth/login" {
                        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
                        assert!(r.error().starts_with("CSRF check failed"), "{what}");
                        continue;
                    }
                    let expected_refusal = match who {
                        "anonymous" if !access.is_public(public_read) => {
                            Some(StatusCode::UNAUTHORIZED)
                        }
                        // Public, and its answer to a visitor is "not signed in".
                        "anonymous" if *path == "/auth/me" => Some(StatusCode::UNAUTHORIZED),
                        "viewer" if *access == Access::Trader => Some(StatusCode::FORBIDDEN),
                        _ => None,
                    };
                    match expected_refusal {
                        Some(s) => assert_eq!(r.status, s, "{what}"),
                        None => assert!(
                            r.status != StatusCode::UNAUTHORIZED
                                && r.status != StatusCode::FORBIDDEN,
                            "{what}"
                        ),
                    }
                }
            }
            if *path == "/auth/logout" {
                // Both just signed out: sign in again for the rest of the table.
                trader = sign_in(&c.app, "tina").await;
                viewer = sign_in(&c.app, "vic").await;
            }
        }

        // Pages: without --public-read only the sign-in page answers a visitor; the others
        // (and team links) send them to it, with the way back.
        let anon = Browser::default();
        for listing in leptos_axum::generate_route_list(app::App) {
            let path = listing.path().to_string();
            let r = call(&c.app, anon.req(Method::GET, &path, false)).await;
            if path == "/login" || public_read {
                assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
            } else {
                assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
                let next = server::web::encode_component(&path);
                assert_eq!(
                    r.header("location"),
                    format!("/login?next={next}"),
                    "{path}"
                );
            }
            let r = call(&c.app, viewer.req(Method::GET, &path, false)).await;
            assert_eq!(r.status, StatusCode::OK, "{path} signed in");
        }
        let r = call(&c.app, anon.req(Method::GET, "/s/AAAAAAAAAAAA", false)).await;
        if public_read {
            assert_eq!(r.status, StatusCode::NOT_FOUND);
        } else {
            assert_eq!(r.status, StatusCode::SEE_OTHER);
            assert_eq!(r.header("location"), "/login?next=/s/AAAAAAAAAAAA");
        }
        // Static files (the WASM bundle, CSS, the sweep worker) are public: no 303.
        let r = call(&c.app, anon.req(Method::GET, "/pkg/lockstep.css", false)).await;
        assert_ne!(r.status, StatusCode::SEE_OTHER);
    }
}

/// The documented API (`/api/openapi.json`) lists nothing the router's table does not have.
#[tokio::test]
async fn the_openapi_document_matches_the_route_table() {
    let c = setup(
        "attack_openapi",
        WebConfig::default(),
        AuthConfig::default(),
    )
    .await;
    let viewer = sign_in(&c.app, "vic").await;
    let doc = call(&c.app, viewer.req(Method::GET, "/api/openapi.json", false))
        .await
        .json();
    let table: Vec<(String, String)> = server::api::table(&c.state)
        .iter()
        .map(|e| (e.method.as_str().to_lowercase(), format!("/api{}", e.path)))
        .collect();
    let paths = doc["paths"].as_object().unwrap();
    assert!(!paths.is_empty());
    // The JSON endpoints the pages and scripts read, documented with their parameters.
    for (path, param) in [("/api/costs", "venue"), ("/api/data/status", "stale_days")] {
        let params = paths[path]["get"]["parameters"].as_array();
        assert!(
            params.is_some_and(|ps| ps.iter().any(|p| p["name"] == param)),
            "{path} is not documented with `{param}`: {}",
            paths.get(path).map(|p| p.to_string()).unwrap_or_default()
        );
    }
    for (path, methods) in paths {
        for method in methods.as_object().unwrap().keys() {
            assert!(
                table.contains(&(method.clone(), path.clone())),
                "{method} {path} is documented but has no access decision in api::endpoints"
            );
        }
    }
}

/// The defect: one wrong try every 12 s from anywhere kept a trader at 429 forever. Now the
/// attacker's failures lock only the attacker's address out of that name.
#[tokio::test]
async fn an_outsider_cannot_lock_a_trader_out() {
    let auth = AuthConfig {
        // No refill while the test runs.
        attempt_window: Duration::from_secs(3600),
        ..AuthConfig::default()
    };
    let c = setup("attack_lockout", WebConfig::default(), auth).await;
    let attacker = "127.0.0.66";
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            call(&c.app, login_from("tina", "guess guess guess", attacker))
                .await
                .status,
        );
    }
    assert_eq!(&statuses[..5], &[StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(&statuses[5..], &[StatusCode::TOO_MANY_REQUESTS; 3]);
    // The attacker is refused even with the right password: that pair is locked.
    let r = call(&c.app, login_from("tina", PW, attacker)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.error().contains("for this user from this address"),
        "{}",
        r.error()
    );
    assert!(r.header("retry-after").parse::<u64>().unwrap() >= 1);
    // The trader, from her own address, signs in at once — again and again.
    for _ in 0..3 {
        let r = call(&c.app, login_from("tina", PW, "127.0.0.1")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // Spraying many names from one address runs into the address's ceiling (30 a window).
    let sprayer = "127.0.0.77";
    let mut limited_after = None;
    for i in 0..40 {
        let r = call(
            &c.app,
            login_from(&format!("user{i}"), "guess guess guess", sprayer),
        )
        .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.error().contains("from this address"), "{}", r.error());
            limited_after = Some(i);
            break;
        }
    }
    assert_eq!(limited_after, Some(30));
    // Every failure and every sign-in is in the audit log; the made-up names are not.
    let log = server::live::records::Records { store: &c.t.store }
        .audit_log()
        .await
        .unwrap();
    let count = |action: &str| log.iter().filter(|e| e.2 == action).count();
    assert_eq!(count("auth.login"), 3);
    assert_eq!(count("auth.login_failed"), 5 + 30);
    assert!(log
        .iter()
        .any(|e| e.2 == "auth.login_failed" && e.3.as_deref() == Some("tina")));
    assert!(!log
        .iter()
        .any(|e| e.3.as_deref().is_some_and(|s| s.contains("user1"))));
}

/// No other site may frame the dashboard (the Approve button must not be clickjackable), and
/// every answer carries the other security headers.
#[tokio::test]
async fn every_answer_forbids_framing_and_sniffing() {
    let c = setup(
        "attack_headers",
        WebConfig::default(),
        AuthConfig::default(),
    )
    .await;
    let viewer = sign_in(&c.app, "vic").await;
    let anon = Browser::default();
    for (who, uri) in [
        (&viewer, "/trades"),
        (&anon, "/login"),
        (&anon, "/api/health"),
        (&anon, "/api/portfolio"),
        (&anon, "/nope"),
    ] {
        let r = call(&c.app, who.req(Method::GET, uri, false)).await;
        let csp = r.header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{uri}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{uri}: {csp}");
        assert_eq!(r.header("x-frame-options"), "DENY", "{uri}");
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{uri}");
        assert_eq!(r.header("referrer-policy"), "same-origin", "{uri}");
        // Plain HTTP: no HSTS (it would mean nothing).
        assert_eq!(r.header("strict-transport-security"), "", "{uri}");
    }
    // The page's inline scripts carry exactly the nonce its policy names, and a new one per
    // answer.
    let r = call(&c.app, anon.req(Method::GET, "/login", false)).await;
    let csp = r.header("content-security-policy").to_string();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap()
        .to_string();
    assert!(r.text.contains(&format!("nonce=\"{nonce}\"")), "{}", r.text);
    let script_tags = r.text.matches("<script").count();
    assert!(script_tags >= 1);
    assert_eq!(
        r.text
            .matches(&format!("<script type=\"module\" nonce=\"{nonce}\""))
            .count()
            + r.text
                .matches(&format!("<script nonce=\"{nonce}\""))
                .count(),
        script_tags,
        "{}",
        r.text
    );
    let again = call(&c.app, anon.req(Method::GET, "/login", false)).await;
    assert!(!again.header("content-security-policy").contains(&nonce));
    // Behind TLS: HSTS.
    let mut req = anon.req(Method::GET, "/api/health", false);
    req.headers_mut()
        .insert("x-forwarded-proto", "https".parse().unwrap());
    let r = call(&c.app, req).await;
    assert!(r
        .header("strict-transport-security")
        .starts_with("max-age="));
}

/// A body over the limit is refused with 413 before any handler reads it, signed in or not.
#[tokio::test]
async fn oversized_bodies_get_413() {
    let web = WebConfig {
        max_body_bytes: 16 * 1024,
        ..WebConfig::default()
    };
    let c = setup("attack_413", web, AuthConfig::default()).await;
    let big = "x".repeat(64 * 1024);
    // Announced with Content-Length: refused before the body is read.
    let body = format!("{{\"username\": \"{big}\", \"password\": \"p\"}}");
    let r = call(
        &c.app,
        Request::post("/api/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    // Not announced (chunked): cut off where the limit is reached, still 413.
    let viewer = sign_in(&c.app, "vic").await;
    let mut req = viewer.req(Method::POST, "/api/links", true);
    *req.body_mut() = Body::from(format!("{{\"name\": \"n\", \"state\": \"{big}\"}}"));
    req.headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    let r = call(&c.app, req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    // The server carries on.
    let r = call(&c.app, viewer.req(Method::GET, "/api/auth/me", false)).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Slow clients on a real socket: one that never finishes its headers is disconnected after
/// the header timeout, one that trickles its body gets 408 after the request timeout, and the
/// server answers everyone else meanwhile.
#[tokio::test]
async fn slow_clients_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let web = WebConfig {
        header_timeout: Duration::from_millis(400),
        request_timeout: Duration::from_millis(600),
        ..WebConfig::default()
    };
    let c = setup("attack_slow", web.clone(), AuthConfig::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::http::serve::serve(
        listener,
        c.app.clone(),
        web.header_timeout,
        async {
            let _ = stop_rx.await;
        },
    ));

    // Headers that never end.
    let started = Instant::now();
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A normal request is served while that connection hangs.
    let mut ok = tokio::net::TcpStream::connect(addr).await.unwrap();
    ok.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    ok.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the slow connection was never closed");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(5),
        "{took:?}"
    );

    // A body that trickles: 408 once the request timeout passes.
    let started = Instant::now();
    let mut trickle = tokio::net::TcpStream::connect(addr).await.unwrap();
    trickle
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{",
        )
        .await
        .unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            if trickle.write_all(b" ").await.is_err() {
                break;
            }
        }
        trickle
    });
    let mut trickle = writer.await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), trickle.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request timed out"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}

/// A cross-origin page cannot get permission to send the CSRF header: the preflight gets no
/// `Access-Control-Allow-*`, and the state change without the header is refused.
#[tokio::test]
async fn cross_origin_preflights_get_no_permission() {
    let c = setup("attack_cors", WebConfig::default(), AuthConfig::default()).await;
    let r = call(
        &c.app,
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/kill-switch")
            .header(header::ORIGIN, "https://evil.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "x-csrf-token, content-type",
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(!r.status.is_success(), "{}", r.status);
    for h in [
        "access-control-allow-origin",
        "access-control-allow-headers",
        "access-control-allow-methods",
        "access-control-allow-credentials",
    ] {
        assert_eq!(r.header(h), "", "{h}");
    }
    // What a form on another site can send: the session cookie never (SameSite=Strict), no
    // header — refused by the CSRF check.
    let trader = sign_in(&c.app, "tina").await;
    let mut req = trader.req(Method::POST, "/api/kill-switch", false);
    req.headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let r = call(&c.app, req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let ks = call(&c.app, trader.req(Method::GET, "/api/kill-switch", false)).await;
    assert_eq!(ks.json()["active"], false);
}

/// A session token planted before sign-in (by a sibling site, a shared computer) is never
/// adopted: signing in issues a new one, and the planted one opens nothing.
#[tokio::test]
async fn sign_in_never_adopts_a_planted_session() {
    let c = setup(
        "attack_fixation",
        WebConfig::default(),
        AuthConfig::default(),
    )
    .await;
    let planted = "f".repeat(64);
    let mut req = login_from("vic", PW, "127.0.0.1");
    req.headers_mut().insert(
        header::COOKIE,
        format!("lockstep_session={planted}").parse().unwrap(),
    );
    let r = call(&c.app, req).await;
    assert_eq!(r.status, StatusCode::OK);
    let issued = cookie_of(&r, "lockstep_session");
    assert_ne!(issued, planted);
    let planted_browser = Browser {
        session: planted.clone(),
        csrf: server::auth::session::csrf_token_for(&planted),
    };
    let me = call(
        &c.app,
        planted_browser.req(Method::GET, "/api/auth/me", false),
    )
    .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);

    // An attacker's *real* session planted in the victim's browser is ended by the victim's
    // sign-in, not taken over by it.
    let attacker = sign_in(&c.app, "tina").await;
    let mut req = login_from("vic", PW, "127.0.0.1");
    req.headers_mut().insert(
        header::COOKIE,
        format!("lockstep_session={}", attacker.session)
            .parse()
            .unwrap(),
    );
    let r = call(&c.app, req).await;
    let victim = cookie_of(&r, "lockstep_session");
    assert_ne!(victim, attacker.session);
    let me = call(&c.app, attacker.req(Method::GET, "/api/auth/me", false)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);

    // Over HTTPS only `__Host-` cookies count: a plain-named planted cookie is ignored.
    let req = Request::get("/api/auth/me")
        .header("x-forwarded-proto", "https")
        .header(header::COOKIE, format!("lockstep_session={victim}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&c.app, req).await.status, StatusCode::UNAUTHORIZED);
    let req = Request::get("/api/auth/me")
        .header("x-forwarded-proto", "https")
        .header(header::COOKIE, format!("__Host-lockstep_session={victim}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&c.app, req).await.status, StatusCode::OK);
}

/// Signing out ends that session only; a new password ends them all; a role change and a
/// removal apply to open sessions at once.
#[tokio::test]
async fn sign_out_and_password_change_end_sessions() {
    let c = setup(
        "attack_sessions",
        WebConfig::default(),
        AuthConfig::default(),
    )
    .await;
    let laptop = sign_in(&c.app, "tina").await;
    let phone = sign_in(&c.app, "tina").await;
    let r = call(&c.app, laptop.req(Method::POST, "/api/auth/logout", true)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let me = |b: Browser| {
        let app = c.app.clone();
        async move {
            call(&app, b.req(Method::GET, "/api/auth/me", false))
                .await
                .status
        }
    };
    assert_eq!(me(laptop.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(phone.clone()).await, StatusCode::OK);

    users::set_password(&c.t.store, "tina", "a brand new pass phrase")
        .await
        .unwrap();
    assert_eq!(me(phone.clone()).await, StatusCode::UNAUTHORIZED);

    let vic = sign_in(&c.app, "vic").await;
    users::set_role(&c.t.store, "vic", Role::Trader)
        .await
        .unwrap();
    let r = call(&c.app, vic.req(Method::POST, "/api/kill-switch", true)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    users::set_role(&c.t.store, "vic", Role::Viewer)
        .await
        .unwrap();
    let r = call(&c.app, vic.req(Method::DELETE, "/api/kill-switch", true)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    users::remove(&c.t.store, "vic").await.unwrap();
    assert_eq!(me(vic).await, StatusCode::UNAUTHORIZED);
}

/// A handler that panics answers 500 with a JSON message; the server keeps serving.
#[tokio::test]
async fn a_panicking_handler_is_a_500_not_a_dead_server() {
    async fn boom() -> &'static str {
        panic!("handler bug")
    }
    let app = server::http::limits::apply(
        Router::new()
            .route("/boom", axum::routing::get(boom))
            .route("/fine", axum::routing::get(|| async { "fine" })),
        &WebConfig::default(),
    );
    let r = call(&app, Request::get("/boom").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.error().starts_with("internal error"), "{}", r.text);
    assert!(
        !r.text.contains("handler bug"),
        "the panic message stays in the log"
    );
    let r = call(&app, Request::get("/fine").body(Body::empty()).unwrap()).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "fine"));
}

/// The health check answers anonymous callers without the database's error text, and a
/// signed-in caller with it.
#[tokio::test]
async fn health_keeps_error_details_for_signed_in_callers() {
    let c = setup("attack_health", WebConfig::default(), AuthConfig::default()).await;
    let viewer = sign_in(&c.app, "vic").await;
    // A database that still checks sessions but whose bars cannot be read.
    sqlx::query("ALTER TABLE daily_bars RENAME TO daily_bars_gone")
        .execute(c.t.store.pool())
        .await
        .unwrap();
    let health = |who: Browser| {
        let app = c.app.clone();
        async move {
            let r = call(&app, who.req(Method::GET, "/api/health", false)).await;
            assert_eq!(r.status, StatusCode::OK);
            let body = r.json();
            assert_eq!(body["database"]["status"], "error", "{body}");
            body["database"]["error"].as_str().unwrap().to_string()
        }
    };
    let signed_in = health(viewer.clone()).await;
    assert!(signed_in.contains("daily_bars"), "{signed_in}");
    let anonymous = health(Browser::default()).await;
    assert!(anonymous.contains("sign in to see why"), "{anonymous}");
    assert!(!anonymous.contains("daily_bars"), "{anonymous}");
    // A closed pool: nothing can be read, the session neither; no caller gets the pool's words.
    c.t.store.pool().close().await;
    for who in [Browser::default(), viewer] {
        let e = health(who).await;
        assert!(e.contains("sign in to see why"), "{e}");
        assert!(!e.to_lowercase().contains("pool"), "{e}");
    }
}

/// A synthetic store with a paper trader an hour after its last day, and its router.
async fn live_setup(tag: &str) -> (Ctx, Arc<LiveService>) {
    let c = setup(tag, WebConfig::default(), AuthConfig::default()).await;
    let panel = crate::common::synth_panel(7, 20, 300);
    crate::common::seed_panel(&c.t.store, &panel, 0..=panel.n_days() - 1).await;
    let last = panel.day(panel.n_days() - 1);
    let clock = Arc::new(FixedClock::new(crate::common::cycle_ms(last)));
    let live = Arc::new(crate::common::paper_service(
        &c.t.store,
        LiveSettings::default(),
        clock,
    ));
    let state = c.state.clone().with_live(live.clone());
    let c = Ctx {
        app: router(state.clone()),
        state,
        t: c.t,
    };
    (c, live)
}

async fn count(store: &server::store::Store, table: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// The defect: `GET /api/portfolio` created the paper account and moved the paper venue's
/// marks. A read now writes nothing.
#[tokio::test]
async fn reading_the_portfolio_writes_nothing() {
    let (c, live) = live_setup("attack_get_portfolio").await;
    let viewer = sign_in(&c.app, "vic").await;
    let tables = [
        "paper_accounts",
        "paper_positions",
        "paper_funding",
        "equity_snapshots",
    ];
    let mut before = Vec::new();
    for t in tables {
        before.push(count(&c.t.store, t).await);
    }
    let version = c.t.store.data_version().await.unwrap();
    for _ in 0..3 {
        let r = call(&c.app, viewer.req(Method::GET, "/api/portfolio", false)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["equity"], 100_000.0);
    }
    for (t, b) in tables.iter().zip(&before) {
        assert_eq!(count(&c.t.store, t).await, *b, "{t} changed on a GET");
    }
    assert_eq!(c.t.store.data_version().await.unwrap(), version);
    // The paper venue's marks in memory were not set either.
    let marks = live
        .broker()
        .marks(&["BTC".to_string(), "S00".to_string()])
        .await
        .unwrap();
    assert!(marks.is_empty(), "{marks:?}");
}

/// A plan's status change and its audit row are one transaction: when the audit row cannot be
/// written, the plan does not move either.
#[tokio::test]
async fn a_status_change_and_its_audit_row_commit_together() {
    let (c, live) = live_setup("attack_audit_tx").await;
    let out = live
        .run_cycle(&CycleOptions {
            dry_run: false,
            actor: "test".into(),
        })
        .await
        .unwrap();
    let id = out.plan.summary.id;
    // The database refuses this one audit row (as a full disk or a constraint would).
    sqlx::query(
        "CREATE TRIGGER refuse_reject BEFORE INSERT ON audit_log WHEN NEW.action = 'plan.reject' \
         BEGIN SELECT RAISE(ABORT, 'audit log refused'); END",
    )
    .execute(c.t.store.pool())
    .await
    .unwrap();
    let e = live.reject(&id, "tina", Some("no")).await.unwrap_err();
    assert!(e.to_string().contains("audit log refused"), "{e}");
    assert_eq!(live.plan(&id).await.unwrap().summary.status, "proposed");
    sqlx::query("DROP TRIGGER refuse_reject")
        .execute(c.t.store.pool())
        .await
        .unwrap();
    live.reject(&id, "tina", Some("no")).await.unwrap();
    assert_eq!(live.plan(&id).await.unwrap().summary.status, "rejected");
    let log = server::live::records::Records { store: &c.t.store }
        .audit_log()
        .await
        .unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.2 == "plan.reject" && e.3.as_deref() == Some(id.as_str()))
            .count(),
        1
    );
    // The kill switch likewise.
    sqlx::query(
        "CREATE TRIGGER refuse_switch BEFORE INSERT ON audit_log WHEN NEW.action = 'kill_switch.on' \
         BEGIN SELECT RAISE(ABORT, 'audit log refused'); END",
    )
    .execute(c.t.store.pool())
    .await
    .unwrap();
    assert!(live.set_kill_switch(true, "tina", None).await.is_err());
    assert!(!live.kill_switch().await.unwrap().active);
}

/// `lockstep user ...` writes every change to the audit log.
#[test]
fn user_changes_are_audited() {
    let dir = std::env::temp_dir().join(format!("lockstep-attack-users-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/u.db", dir.display());
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lockstep"))
            .arg("--database-url")
            .arg(&db)
            .args(args)
            .env("LOCKSTEP_PASSWORD", PW)
            .env("USER", "ops")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["user", "add", "una", "--role", "viewer"]);
    run(&["user", "role", "una", "trader"]);
    run(&["user", "passwd", "una"]);
    run(&["user", "remove", "una"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .arg("--database-url")
        .arg(&db)
        .args(["live", "audit", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for action in ["user.add", "user.role", "user.password", "user.remove"] {
        assert!(text.contains(action), "{action} missing: {text}");
    }
    assert!(text.contains("cli:ops"), "{text}");
    assert!(!text.contains(PW), "a password reached the audit log");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--help` never prints the database URL from the environment (it may hold a password).
#[test]
fn help_hides_the_database_url() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .arg("--help")
        .env(
            "DATABASE_URL",
            "postgres://admin:hunter2@db.internal/lockstep",
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DATABASE_URL"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

/// The defect: one CSV row dated 0001-01-01 made the next panel span 740,000 days. Dates from
/// outside are bounded to 1990..2200 where they are parsed, and the store refuses a row before
/// 1970 or after 2199 whoever made it (a venue's garbage timestamp too), writing nothing.
#[tokio::test]
async fn days_outside_1990_to_2200_never_reach_the_store() {
    let t = TestStore::new(Engine::Sqlite, "attack_days").await.unwrap();
    assert!(shared::Day::parse("0001-01-01").is_err());
    let bar = |day: shared::Day| server::store::market::Record::Bar {
        symbol: "BTC".into(),
        day,
        open: 1.0,
        high: 1.0,
        low: 1.0,
        close: 1.0,
        volume: 1.0,
    };
    let good = bar(shared::Day::from_ymd(2024, 1, 1).unwrap());
    let ancient = bar(shared::Day::from_ymd(1, 1, 1).unwrap());
    let e = t
        .store
        .upsert("csv", &[good.clone(), ancient])
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("outside 1970-01-01..=2199-12-31"),
        "{e}"
    );
    assert_eq!(t.store.bar_summary().await.unwrap().bars, 0);
    // Venue rows with a negative or a far-future timestamp.
    for ms in [-86_400_000, 10_000_000_000_000] {
        let garbage = bar(server::market_data::source::day_of_ms(ms));
        assert!(
            t.store.upsert("hyperliquid", &[garbage]).await.is_err(),
            "{ms}"
        );
    }
    t.store.upsert("csv", &[good]).await.unwrap();
    assert_eq!(t.store.bar_summary().await.unwrap().bars, 1);
}

/// `/api/data/status` reads every stored row: it is computed once per data version and
/// request, the cache holds at most 16 answers, and new data is seen at once. `/api/panel`
/// clips days before the cache is asked, so every request past the ends is one entry.
#[tokio::test]
async fn expensive_reads_are_cached_per_data_version_and_bounded() {
    let (c, _live) = live_setup("attack_caches").await;
    let viewer = sign_in(&c.app, "vic").await;
    let get = |uri: String| {
        let (app, v) = (c.app.clone(), viewer.clone());
        async move { call(&app, v.req(Method::GET, &uri, false)).await }
    };
    let first = get("/api/data/status?as_of=latest".into()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(c.state.status_cache.len(), 1);
    let again = get("/api/data/status?as_of=latest".into()).await;
    assert_eq!(again.text, first.text);
    assert_eq!(c.state.status_cache.len(), 1);
    for d in 1..=40 {
        let r = get(format!(
            "/api/data/status?as_of=2021-01-{:02}&stale_days=3",
            d.min(28)
        ))
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = get(format!("/api/data/status?stale_days={d}")).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert!(c.state.status_cache.len() <= server::state::STATUS_CACHE_ENTRIES);
    let r = get("/api/data/status?stale_days=100000".into()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // New data: the next answer is computed afresh (one more value of close).
    let closes = |v: &serde_json::Value| {
        v["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["field"] == "close")
            .map(|s| s["values"].as_u64().unwrap())
            .unwrap()
    };
    let before = closes(&first.json());
    new_coin_bar(&c.t.store, "2021-06-01").await;
    let after = get("/api/data/status?as_of=latest".into()).await.json();
    assert_eq!(closes(&after), before + 1);

    // The panel: a request from long before the data starts is the whole panel, same ETag,
    // and the same cache entry (nothing encoded again).
    let store = &c.state.store;
    let whole = get("/api/panel".into()).await;
    assert_eq!(whole.status, StatusCode::OK);
    let computed = store.encoded_panel_computations();
    let early = get("/api/panel?from=1990-01-01&to=2199-12-31".into()).await;
    assert_eq!(whole.header("etag"), early.header("etag"));
    let again = get("/api/panel".into()).await;
    assert_eq!(whole.header("etag"), again.header("etag"));
    assert_eq!(
        store.encoded_panel_computations(),
        computed,
        "served from the cache"
    );
    // A client inventing a new range every time: each is computed once, and the cache keeps
    // at most its bound.
    for d in 0..40 {
        let from = shared::Day(19_000 + d);
        let r = get(format!("/api/panel?from={from}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(store.encoded_panels_cached() <= server::store::panel::ENCODED_CACHE_ENTRIES);
    }
    assert_eq!(store.encoded_panel_computations(), computed + 40);
    assert!(store.encoded_panels_cached() <= server::store::panel::ENCODED_CACHE_ENTRIES);

    // The health check's whole-table counts: once per data version.
    let health = || async {
        let r = call(
            &c.app,
            Browser::default().req(Method::GET, "/api/health", false),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()["data"]["bars"].as_u64().unwrap()
    };
    let bars = health().await;
    let computed = c.state.health_cache.computations();
    assert_eq!(health().await, bars);
    assert_eq!(
        c.state.health_cache.computations(),
        computed,
        "served from the cache"
    );
    new_coin_bar(&c.t.store, "2021-06-02").await;
    assert_eq!(health().await, bars + 1, "new data: counted afresh");
    assert_eq!(c.state.health_cache.computations(), computed + 1);
    assert!(c.state.health_cache.len() <= 1);
}

/// `/api/panel?as_of=<older version>` rebuilds the old panel from the revision log: that is
/// done once per version (the rebuilt panel is kept), each answer is encoded once (the as-of
/// version is in the cache key: its answer never changes), identical requests arriving at once
/// compute it once, and a client inventing new ranges cannot grow the cache past its bound.
#[tokio::test]
async fn panel_as_of_an_older_version_is_cached_and_bounded() {
    let (c, _live) = live_setup("attack_panel_as_of").await;
    let viewer = sign_in(&c.app, "vic").await;
    let get = |uri: String| {
        let (app, v) = (c.app.clone(), viewer.clone());
        async move { call(&app, v.req(Method::GET, &uri, false)).await }
    };
    let store = c.state.store.clone();
    let old = store.data_version().await.unwrap();
    let extra = server::store::market::Record::Bar {
        symbol: "NEWCOIN".into(),
        day: shared::Day(19_100),
        open: 1.0,
        high: 1.0,
        low: 1.0,
        close: 1.0,
        volume: 1.0,
    };
    c.t.store.upsert("synthetic", &[extra]).await.unwrap();
    assert!(store.data_version().await.unwrap() > old);

    let today = get("/api/panel".into()).await;
    assert_eq!(today.status, StatusCode::OK, "{}", today.text);
    let rebuilds = store.as_of_rebuilds();
    let url = format!("/api/panel?as_of={old}");
    let first = get(url.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.header("x-lockstep-data-version"), old.to_string());
    assert_ne!(first.header("etag"), today.header("etag"), "the old data");
    assert_eq!(store.as_of_rebuilds(), rebuilds + 1);
    let computed = store.encoded_panel_computations();
    let second = get(url.clone()).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.header("etag"), first.header("etag"));
    assert_eq!(second.text, first.text);
    assert_eq!(store.as_of_rebuilds(), rebuilds + 1, "no second rebuild");
    assert_eq!(
        store.encoded_panel_computations(),
        computed,
        "served from the cache"
    );

    // Eight identical new requests at once: one computation.
    let from = shared::Day(19_050);
    let burst: Vec<_> = (0..8)
        .map(|_| tokio::spawn(get(format!("{url}&from={from}"))))
        .collect();
    let mut etags = std::collections::HashSet::new();
    for t in burst {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        etags.insert(r.header("etag").to_string());
    }
    assert_eq!(etags.len(), 1);
    assert_eq!(store.encoded_panel_computations(), computed + 1);

    // Forty distinct ranges of the old version: bounded, and the old panel is not rebuilt.
    for d in 0..40 {
        let (from, to) = (shared::Day(19_000 + d), shared::Day(19_200 + 2 * d));
        let r = get(format!("{url}&from={from}&to={to}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(store.encoded_panels_cached() <= server::store::panel::ENCODED_CACHE_ENTRIES);
    }
    assert_eq!(store.encoded_panel_computations(), computed + 41);
    assert_eq!(store.as_of_rebuilds(), rebuilds + 1);
    // A version the store never had is still refused, before any work.
    let r = get(format!("/api/panel?as_of={}", old + 1000)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("does not exist"), "{}", r.error());
    assert_eq!(store.as_of_rebuilds(), rebuilds + 1);
}

/// A team link whose sweep asks for a 10⁹-step axis is refused at the door with a 400 naming the
/// axis and the limit: it is never stored, so no browser opening it allocates the grid.
#[tokio::test]
async fn a_team_link_with_a_billion_point_sweep_is_refused() {
    use app::share::{SharedState, SweepAxisSpec, SweepSpec, SHARE_VERSION};
    let c = setup(
        "attack_link_sweep",
        WebConfig::default(),
        AuthConfig::default(),
    )
    .await;
    let viewer = sign_in(&c.app, "vic").await;
    let state = |steps: usize| {
        app::share::encode(&SharedState {
            v: SHARE_VERSION,
            kernel: shared::KERNEL_VERSION.into(),
            data: None,
            backtest: app::spec::default_spec(),
            data_version: None,
            universe: None,
            costs: None,
            sweep: Some(SweepSpec {
                scope: "volatility".into(),
                axes: vec![SweepAxisSpec {
                    strategy: "volatility".into(),
                    param: "volatility_window".into(),
                    from: 10.0,
                    to: 50.0,
                    steps,
                }],
                metric: "cagr".into(),
                ..Default::default()
            }),
        })
    };
    let save = |state: String| {
        let mut req = viewer.req(Method::POST, "/api/links", true);
        *req.body_mut() =
            Body::from(serde_json::json!({"name": "huge sweep", "state": state}).to_string());
        req.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        call(&c.app, req)
    };
    let r = save(state(1_000_000_000)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let e = r.error();
    assert!(
        e.contains("1000000000 steps") && e.contains(&shared::sweep::MAX_POINTS.to_string()),
        "{e}"
    );
    assert!(e.contains("volatility.volatility_window"), "{e}");
    assert_eq!(count(&c.t.store, "team_links").await, 0);
    // The same link with five steps is saved.
    let r = save(state(5)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(count(&c.t.store, "team_links").await, 1);
}

/// One flat bar of a new symbol, `NEWCOIN`, on `day`: a change of the data (a new version).
async fn new_coin_bar(store: &server::store::Store, day: &str) {
    let bar = server::store::market::Record::Bar {
        symbol: "NEWCOIN".into(),
        day: shared::Day::parse(day).unwrap(),
        open: 1.0,
        high: 1.0,
        low: 1.0,
        close: 1.0,
        volume: 1.0,
    };
    store.upsert("synthetic", &[bar]).await.unwrap();
}
