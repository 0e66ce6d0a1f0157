//! Named team links through the real router: save (`POST /api/links`), list, open (`/s/{id}`,
//! a redirect to exactly the URL "Copy link" makes), tampered states, unknown ids, and who may
//! do what (any signed-in user saves and lists; the author or a trader deletes; anyone opens).

use app::share::{self, SharedState, SweepAxisSpec, SweepSpec, SHARE_VERSION};
use app::spec::default_spec;
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use server::auth::{users, Role};
use server::store::testing::{Engine, TestStore};
use server::{router, AppState};
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
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

/// A client: anonymous, or signed in with its cookies.
struct Client {
    app: Router,
    cookies: Option<(String, String)>,
}

impl Client {
    async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<serde_json::Value>,
        csrf: bool,
    ) -> Resp {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "lockstep.test:8080");
        if let Some((session, token)) = &self.cookies {
            b = b.header(
                header::COOKIE,
                format!("lockstep_session={session}; lockstep_csrf={token}"),
            );
            if csrf {
                b = b.header("x-csrf-token", token);
            }
        }
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn save(&self, name: &str, state: &str) -> Resp {
        let body = serde_json::json!({"name": name, "state": state});
        self.send(Method::POST, "/api/links", Some(body), true)
            .await
    }
}

struct Ctx {
    app: Router,
    _t: TestStore,
}

impl Ctx {
    fn anon(&self) -> Client {
        Client {
            app: self.app.clone(),
            cookies: None,
        }
    }

    async fn sign_in(&self, username: &str) -> Client {
        let anon = self.anon();
        let body = serde_json::json!({"username": username, "password": PW});
        let r = anon
            .send(Method::POST, "/api/auth/login", Some(body), false)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let cookie = |name: &str| {
            r.headers
                .get_all(header::SET_COOKIE)
                .iter()
                .map(|v| v.to_str().unwrap())
                .find_map(|c| c.strip_prefix(&format!("{name}=")))
                .and_then(|c| c.split(';').next())
                .unwrap()
                .to_string()
        };
        Client {
            app: self.app.clone(),
            cookies: Some((cookie("lockstep_session"), cookie("lockstep_csrf"))),
        }
    }
}

async fn setup(engine: Engine, tag: &str) -> Option<Ctx> {
    let t = TestStore::new(engine, tag).await?;
    for (name, role) in [
        ("tina", Role::Trader),
        ("vic", Role::Viewer),
        ("val", Role::Viewer),
    ] {
        users::add(&t.store, name, role, PW).await.unwrap();
    }
    // `--public-read`: these tests open `/s/{id}` signed out, as a pasted link arrives (the
    // default, sign-in first, is covered in attack.rs).
    let state = AppState::new(
        t.store.clone(),
        &std::env::temp_dir(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .with_web(server::WebConfig {
        public_read: true,
        ..server::WebConfig::default()
    });
    Some(Ctx {
        app: router(state),
        _t: t,
    })
}

/// A backtest state as the Backtest page's "Copy link" makes it (fees changed from default).
fn backtest_state() -> SharedState {
    let mut backtest = default_spec();
    backtest.fee_bps = 25.0;
    SharedState {
        v: SHARE_VERSION,
        kernel: shared::KERNEL_VERSION.into(),
        data: Some("\"0123456789abcdef\"".into()),
        backtest,
        data_version: None,
        universe: None,
        costs: None,
        sweep: None,
    }
}

/// A sweep state as the Sweep page's "Copy link" makes it.
fn sweep_state() -> SharedState {
    SharedState {
        data_version: None,
        universe: None,
        sweep: Some(SweepSpec {
            scope: "volatility".into(),
            axes: vec![SweepAxisSpec {
                strategy: "volatility".into(),
                param: "volatility_window".into(),
                from: 10.0,
                to: 50.0,
                steps: 5,
            }],
            metric: "cagr".into(),
            ..Default::default()
        }),
        ..backtest_state()
    }
}

#[tokio::test]
async fn save_list_and_open_round_trip_on_both_engines() {
    for engine in Engine::ALL {
        let Some(c) = setup(engine, "links_round_trip").await else {
            continue;
        };
        let (anon, viewer, trader) = (c.anon(), c.sign_in("vic").await, c.sign_in("tina").await);
        let bt = share::encode(&backtest_state());
        let sw = share::encode(&sweep_state());

        // Signed out: no saving (a CSRF pair without a session passes the CSRF check and gets
        // 401), no listing. Without the CSRF header: refused before the handler.
        let no_session = Client {
            app: c.app.clone(),
            cookies: Some((String::new(), "t0k3n".into())),
        };
        let r = no_session.save("fees 25", &bt).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{engine:?} {}", r.text);
        assert!(r.error().starts_with("not signed in"), "{}", r.error());
        let r = anon.save("fees 25", &bt).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{engine:?} {}", r.text);
        assert_eq!(
            anon.send(Method::GET, "/api/links", None, false)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        let body = serde_json::json!({"name": "x", "state": bt});
        let r = viewer
            .send(Method::POST, "/api/links", Some(body), false)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.error().contains("CSRF"), "{}", r.error());

        // A viewer may save a link: it changes nothing in the book.
        let r = viewer.save("  Fees at 25 bps ", &bt).await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?} {}", r.text);
        let saved = r.json();
        let id = saved["id"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 12);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        assert_eq!(saved["name"], "Fees at 25 bps");
        assert_eq!(saved["kind"], "backtest");
        assert_eq!(saved["created_by"], "vic");
        assert_eq!(saved["path"], format!("/s/{id}"));
        assert_eq!(saved["url"], format!("http://lockstep.test:8080/s/{id}"));

        // Opening it (signed out: a pasted link arrives without the Strict cookie) redirects to
        // exactly the URL "Copy link" makes, and the state decodes to what was saved.
        let r = anon
            .send(Method::GET, &format!("/s/{id}"), None, false)
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{engine:?} {}", r.text);
        assert_eq!(r.location(), format!("/backtest?s={bt}"));
        assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
        let back = r.location().strip_prefix("/backtest?s=").unwrap();
        assert_eq!(share::decode(back).unwrap(), backtest_state());

        // A sweep link opens the Sweep page.
        std::thread::sleep(std::time::Duration::from_millis(3));
        let r = trader.save("Vol windows", &sw).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let sweep_id = r.json()["id"].as_str().unwrap().to_string();
        assert_ne!(sweep_id, id);
        assert_eq!(r.json()["kind"], "sweep");
        let r = anon
            .send(Method::GET, &format!("/s/{sweep_id}"), None, false)
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location(), format!("/sweep?s={sw}"));

        // The list: newest first, for viewers too.
        let r = viewer.send(Method::GET, "/api/links", None, false).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let names: Vec<(String, String)> = r
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["name"].as_str().unwrap().to_string(),
                    l["created_by"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("Vol windows".to_string(), "tina".to_string()),
                ("Fees at 25 bps".to_string(), "vic".to_string()),
            ],
            "{engine:?}"
        );
        let r = viewer
            .send(Method::GET, "/api/links?limit=1", None, false)
            .await;
        assert_eq!(r.json().as_array().unwrap().len(), 1);

        let r = anon
            .send(Method::GET, "/api/openapi.json", None, false)
            .await;
        let doc = r.json();
        for path in ["/api/links", "/api/links/{id}"] {
            assert!(doc["paths"].get(path).is_some(), "{path} not documented");
        }
        assert!(doc["components"]["schemas"].get("TeamLink").is_some());
    }
}

#[tokio::test]
async fn tampered_or_truncated_states_are_refused_with_the_reason() {
    let c = setup(Engine::Sqlite, "links_tampered").await.unwrap();
    let viewer = c.sign_in("vic").await;
    let good = share::encode(&backtest_state());

    let truncated = &good[..good.len() - 12];
    let r = viewer.save("cut", truncated).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.error()
            .starts_with("state: this link is truncated or was altered"),
        "{}",
        r.error()
    );

    // One character changed in the middle: the zlib checksum (or the inflater) notices.
    let mut bytes = good.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(bytes).unwrap();
    let r = viewer.save("altered", &altered).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.error().contains("truncated or was altered"),
        "{}",
        r.error()
    );

    let r = viewer.save("not ours", "https://example.com/?s=abc").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("not a Lockstep link"), "{}", r.error());
    let r = viewer.save("future", "9.abcdef").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("newer dashboard"), "{}", r.error());

    let r = viewer.save("   ", &good).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().starts_with("name:"), "{}", r.error());
    let r = viewer.save(&"n".repeat(101), &good).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("too long"), "{}", r.error());

    let r = viewer
        .send(
            Method::POST,
            "/api/links",
            Some(serde_json::json!({"state": good})),
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("expected JSON"), "{}", r.error());

    // Nothing was stored.
    let r = viewer.send(Method::GET, "/api/links", None, false).await;
    assert_eq!(r.json(), serde_json::json!([]));
}

#[tokio::test]
async fn unknown_ids_get_a_clear_404_page() {
    let c = setup(Engine::Sqlite, "links_unknown").await.unwrap();
    let anon = c.anon();
    let r = anon.send(Method::GET, "/s/AAAAAAAAAAAA", None, false).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text.contains("Team link not found"), "{}", r.text);
    assert!(r.text.contains("/s/AAAAAAAAAAAA"), "{}", r.text);

    // Not an id at all: the same page, and what was typed is shown escaped.
    let r = anon
        .send(Method::GET, "/s/%3Cscript%3Ex", None, false)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text.contains("&lt;script&gt;x"), "{}", r.text);
    assert!(!r.text.contains("<script>"), "{}", r.text);
}

#[tokio::test]
async fn only_the_author_or_a_trader_deletes_a_link() {
    let c = setup(Engine::Sqlite, "links_delete").await.unwrap();
    let (vic, val, tina) = (
        c.sign_in("vic").await,
        c.sign_in("val").await,
        c.sign_in("tina").await,
    );
    let state = share::encode(&backtest_state());
    let first = vic.save("first", &state).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = vic.save("second", &state).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Another viewer may not; the anonymous may not; without CSRF nobody may.
    let r = val
        .send(Method::DELETE, &format!("/api/links/{first}"), None, true)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.error().contains("only its author (vic) or a trader"),
        "{}",
        r.error()
    );
    let r = c
        .anon()
        .send(Method::DELETE, &format!("/api/links/{first}"), None, true)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "CSRF first: {}", r.text);
    let r = vic
        .send(Method::DELETE, &format!("/api/links/{first}"), None, false)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The author may; a trader may delete anyone's.
    let r = vic
        .send(Method::DELETE, &format!("/api/links/{first}"), None, true)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = tina
        .send(Method::DELETE, &format!("/api/links/{second}"), None, true)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = tina
        .send(Method::DELETE, &format!("/api/links/{second}"), None, true)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A deleted link is gone for good.
    let r = c
        .anon()
        .send(Method::GET, &format!("/s/{first}"), None, false)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Results a finished sweep stores with its link, as the Sweep page builds them.
fn sweep_results(n_rows: usize) -> String {
    use shared::research::evaluation::Evaluation;
    use shared::sweep::SweepRow;
    let rows: Vec<SweepRow> = (0..n_rows)
        .map(|i| SweepRow {
            index: i,
            values: vec![10.0 + i as f64],
            metrics: None,
            error: Some(format!("point {i}")),
            stats: None,
        })
        .collect();
    let base = share::SweepResults {
        kernel: shared::KERNEL_VERSION.into(),
        data: Some("\"0123456789abcdef\"".into()),
        rows: Vec::new(),
        points: 0,
        summary: shared::research::summary::summarize(&rows, &Evaluation::default()),
        finished: Default::default(),
    };
    share::results_for_link(base, &rows, "sharpe", None).unwrap()
}

/// A sweep link saved with its results redirects with `&link=<id>` and hands the results back
/// unchanged; results are refused on a backtest link, when unreadable, or when too large.
#[tokio::test]
async fn a_sweep_link_stores_its_results_on_both_engines() {
    for engine in Engine::ALL {
        let Some(c) = setup(engine, "links_results").await else {
            continue;
        };
        let viewer = c.sign_in("vic").await;
        let sw = share::encode(&sweep_state());
        let results = sweep_results(5);
        let body = serde_json::json!({"name": "with rows", "state": sw, "results": results});
        let r = viewer
            .send(Method::POST, "/api/links", Some(body), true)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?} {}", r.text);
        let id = r.json()["id"].as_str().unwrap().to_string();
        let r = c
            .anon()
            .send(Method::GET, &format!("/s/{id}"), None, false)
            .await;
        assert_eq!(
            r.location(),
            format!("/sweep?s={sw}&link={id}"),
            "{engine:?}"
        );
        let r = viewer
            .send(
                Method::GET,
                &format!("/api/links/{id}/results"),
                None,
                false,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?} {}", r.text);
        assert_eq!(r.json()["results"], results);
        let back = share::decode_results(r.json()["results"].as_str().unwrap()).unwrap();
        assert_eq!(back.points, 5);
        assert_eq!(back.rows[4].error.as_deref(), Some("point 4"));

        // Without results: the plain "Copy link" URL and a 404 for the results.
        let r = viewer.save("without", &sw).await;
        let plain = r.json()["id"].as_str().unwrap().to_string();
        let r = c
            .anon()
            .send(Method::GET, &format!("/s/{plain}"), None, false)
            .await;
        assert_eq!(r.location(), format!("/sweep?s={sw}"));
        let r = viewer
            .send(
                Method::GET,
                &format!("/api/links/{plain}/results"),
                None,
                false,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

        // Refusals name the field.
        let bt = share::encode(&backtest_state());
        for (state, res, says) in [
            (&bt, results.clone(), "results: only a sweep link"),
            (&sw, results[..results.len() - 6].to_string(), "results: "),
            (&sw, format!("1.{}", "A".repeat(200 * 1024)), "too large"),
        ] {
            let body = serde_json::json!({"name": "bad", "state": state, "results": res});
            let r = viewer
                .send(Method::POST, "/api/links", Some(body), true)
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{engine:?} {}", r.text);
            assert!(r.error().contains(says), "{says}: {}", r.error());
        }
    }
}
