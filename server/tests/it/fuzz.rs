//! Property tests ("fuzzing") of the server's decoders of outside bytes: CSV rows, every API
//! query and body (through the real router, signed in as a trader with the CSRF token), and
//! the venues' JSON (Hyperliquid, CoinMarketCap, Coinalyze) served by a local axum server on
//! 127.0.0.1. The property everywhere: an answer or an error value — never a panic (a panic in a
//! handler would be a 500 from the panic layer; here it fails the test), never a day outside
//! 1990..2200. Dates, share links, config JSON and the panel codec are fuzzed where they live
//! (`shared`, `app`). `LOCKSTEP_FUZZ_CASES=N` runs N cases per property (docs/security.md).

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};
use serde_json::Value;
use server::auth::{users, Role};
use server::market_data::csv::{read_from, CsvFormat};
use server::market_data::http::{ApiKey, HttpConfig};
use server::market_data::source::MarketData;
use server::store::testing::{Engine, TestStore};
use server::{router, AppState};
use shared::Day;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

fn cases(default: u32) -> u32 {
    std::env::var("LOCKSTEP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runner(default: u32) -> TestRunner {
    TestRunner::new(PropConfig {
        cases: cases(default),
        failure_persistence: None,
        ..PropConfig::default()
    })
}

/// Any JSON value, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        Just(Value::from("2024-01-01")),
        Just(Value::from("0001-01-01")),
        Just(Value::from("1e400")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("\\PC{0,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every path (object key or array index) in `v`.
fn paths(v: &Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let mut p = at.clone();
                p.push(k.clone());
                paths(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate().take(6) {
                let mut p = at.clone();
                p.push(i.to_string());
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

fn replace_at(v: &mut Value, path: &[String], with: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = with;
        return;
    };
    let next = match v {
        Value::Object(m) => m.get_mut(first),
        Value::Array(a) => first.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    };
    if let Some(n) = next {
        replace_at(n, rest, with);
    }
}

/// `fixture` with the node at one of its paths replaced by any JSON.
fn replaced(fixture: Value) -> impl Strategy<Value = String> {
    let mut all = Vec::new();
    paths(&fixture, Vec::new(), &mut all);
    (prop::sample::select(all), json()).prop_map(move |(path, with)| {
        let mut v = fixture.clone();
        replace_at(&mut v, &path, with);
        serde_json::to_string(&v).unwrap()
    })
}

/// A body derived from `fixture`: with one node replaced by any JSON, cut short, or any JSON.
fn venue_body(fixture: Value) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => replaced(fixture.clone()),
        1 => (replaced(fixture), any::<prop::sample::Index>()).prop_map(|(s, i)| {
            let cut = i.index(s.len() + 1);
            String::from_utf8_lossy(&s.as_bytes()[..cut]).into_owned()
        }),
        1 => json().prop_map(|v| v.to_string()),
    ]
}

fn fixture(path: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// A venue that answers every request with the current case's body.
async fn venue(body: Arc<Mutex<String>>) -> String {
    let app = Router::new().fallback(move || {
        let body = body.lock().unwrap().clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

fn http() -> HttpConfig {
    HttpConfig {
        timeout: Duration::from_secs(2),
        max_retries: 0,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(1),
        max_retry_after: Duration::from_secs(1),
        weight_per_minute: 100_000_000,
    }
}

fn in_range(d: Day) -> bool {
    // A venue's day may be anything the venue says; the store refuses what is out of range.
    // Here: no panic reached this point. Days are checked to be *representable*.
    d.date().is_some()
}

/// Hyperliquid's info API answering anything: the client returns data or an error.
#[test]
fn hyperliquid_responses_never_panic() {
    use server::market_data::hyperliquid::{Hyperliquid, HyperliquidConfig};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let body = Arc::new(Mutex::new(String::new()));
    let base = rt.block_on(venue(body.clone()));
    let (from, to) = (
        Day::parse("2024-01-01").unwrap(),
        Day::parse("2024-03-01").unwrap(),
    );
    let strategy = prop_oneof![
        venue_body(fixture("hyperliquid/meta.json")),
        venue_body(fixture("hyperliquid/metaAndAssetCtxs.json")),
        venue_body(serde_json::json!([
            {"t": 1704067200000i64, "T": 1704153599999i64, "s": "BTC", "i": "1d", "o": "42000.0",
             "c": "42500.0", "h": "43000.0", "l": "41000.0", "v": "1234.5", "n": 100}
        ])),
        venue_body(serde_json::json!([
            {"coin": "BTC", "fundingRate": "0.0000125", "premium": "0.0001", "time": 1704067200000i64}
        ])),
    ];
    runner(256)
        .run(&strategy, |b| {
            *body.lock().unwrap() = b;
            rt.block_on(async {
                let hl = Hyperliquid::new(HyperliquidConfig {
                    base_url: base.clone(),
                    http: http(),
                    cache_ttl: Duration::ZERO,
                })
                .unwrap();
                let _ = hl.universe().await;
                let _ = hl.asset_contexts().await;
                if let Ok(c) = hl.daily_candles("BTC", from, to).await {
                    assert!(c.iter().all(|c| in_range(c.day)));
                }
                if let Ok(f) = hl.funding_history("BTC", from, to).await {
                    assert!(f.iter().all(|f| in_range(f.day)));
                }
            });
            Ok(())
        })
        .unwrap();
}

/// CoinMarketCap's listings answering anything.
#[test]
fn coinmarketcap_responses_never_panic() {
    use server::market_data::coinmarketcap::{CoinMarketCap, CoinMarketCapConfig};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let body = Arc::new(Mutex::new(String::new()));
    let base = rt.block_on(venue(body.clone()));
    let strategy = prop_oneof![
        4 => venue_body(fixture("coinmarketcap/listings_latest.json")),
        1 => venue_body(fixture("coinmarketcap/error_401.json")),
    ];
    runner(256)
        .run(&strategy, |b| {
            *body.lock().unwrap() = b;
            rt.block_on(async {
                let cmc = CoinMarketCap::new(
                    &ApiKey::new("fuzz-key").unwrap(),
                    CoinMarketCapConfig {
                        base_url: base.clone(),
                        http: http(),
                        cache_ttl: Duration::ZERO,
                        ..CoinMarketCapConfig::default()
                    },
                )
                .unwrap();
                if let Ok(caps) = cmc.market_caps().await {
                    assert!(caps.iter().all(|c| in_range(c.day)));
                }
                let _ = cmc.universe().await;
            });
            Ok(())
        })
        .unwrap();
}

/// Coinalyze's markets and histories answering anything.
#[test]
fn coinalyze_responses_never_panic() {
    use server::market_data::coinalyze::{Coinalyze, CoinalyzeConfig};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let body = Arc::new(Mutex::new(String::new()));
    let base = rt.block_on(venue(body.clone()));
    let (from, to) = (
        Day::parse("2024-01-01").unwrap(),
        Day::parse("2024-03-01").unwrap(),
    );
    let strategy = prop_oneof![
        venue_body(fixture("coinalyze/future_markets.json")),
        venue_body(serde_json::json!([
            {"symbol": "BTCUSDT_PERP.A", "history": [{"t": 1704067200, "o": 0.01, "h": 0.02, "l": 0.0, "c": 0.01}]}
        ])),
    ];
    runner(256)
        .run(&strategy, |b| {
            *body.lock().unwrap() = b;
            rt.block_on(async {
                let cz = Coinalyze::new(
                    &ApiKey::new("fuzz-key").unwrap(),
                    CoinalyzeConfig {
                        base_url: base.clone(),
                        http: http(),
                        cache_ttl: Duration::ZERO,
                        ..CoinalyzeConfig::default()
                    },
                )
                .unwrap();
                if let Ok(f) = cz.funding_history("BTC", from, to).await {
                    assert!(f.iter().all(|f| in_range(f.day)));
                }
                let _ = cz.open_interest_history("BTC", from, to).await;
            });
            Ok(())
        })
        .unwrap();
}

/// CSV files of every known format with rows of anything: records (every day in 1990..2200) or
/// rejected rows naming their line — never a panic.
#[test]
fn csv_rows_never_panic() {
    let headers: Vec<&'static str> = CsvFormat::ALL.iter().map(|f| f.header()).collect();
    let cell = prop_oneof![
        "\\PC{0,12}",
        "[0-9.eE+-]{0,12}",
        Just("2024-01-01".to_string()),
        Just("0001-01-01".to_string()),
        Just("20240101".to_string()),
        Just("202é010".to_string()),
        Just("NaN".to_string()),
        Just("\"".to_string()),
    ];
    let row = proptest::collection::vec(cell, 0..13).prop_map(|cells| cells.join(","));
    let strategy = (
        prop::sample::select(headers),
        proptest::collection::vec(row, 0..8),
    );
    runner(2048)
        .run(&strategy, |(header, rows)| {
            let text = format!("{header}\n{}\n", rows.join("\n"));
            if let Ok(read) = read_from(std::path::Path::new("fuzz.csv"), text.as_bytes()) {
                prop_assert_eq!(
                    read.records.len() + read.rejected.len() <= rows.len() * 2,
                    true
                );
                for r in &read.records {
                    let day = match r {
                        server::store::market::Record::Bar { day, .. }
                        | server::store::market::Record::MarketCap { day, .. }
                        | server::store::market::Record::Supply { day, .. }
                        | server::store::market::Record::Funding { day, .. }
                        | server::store::market::Record::OpenInterest { day, .. } => *day,
                    };
                    prop_assert!(day.in_range(), "{:?}", r);
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Every API endpoint with any query string, and every state-changing one with any body, as a
/// signed-in trader with the CSRF token (so the request reaches the handler): a 2xx or a 4xx
/// with a message, a 409/503 from the live trader — never a 500, never a panic.
#[test]
fn api_queries_and_bodies_never_panic() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, session, csrf, endpoints, _t) = rt.block_on(async {
        let t = TestStore::new(Engine::Sqlite, "fuzz_api").await.unwrap();
        users::add(
            &t.store,
            "tina",
            Role::Trader,
            "correct horse battery staple",
        )
        .await
        .unwrap();
        let state = AppState::new(
            t.store.clone(),
            &std::env::temp_dir(),
            "127.0.0.1:0".parse().unwrap(),
        );
        let endpoints = server::api::table(&state);
        let app = router(state);
        let login = Request::post("/api/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"username": "tina", "password": "correct horse battery staple"}"#,
            ))
            .unwrap();
        let resp = app.clone().oneshot(login).await.unwrap();
        let cookies: Vec<String> = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .collect();
        let value = |name: &str| {
            cookies
                .iter()
                .find_map(|c| c.strip_prefix(&format!("{name}=")))
                .unwrap()
                .to_string()
        };
        (
            app,
            value("lockstep_session"),
            value("lockstep_csrf"),
            endpoints,
            t,
        )
    });
    let keys = prop::sample::select(vec![
        "limit",
        "before",
        "from",
        "to",
        "fields",
        "as_of",
        "stale_days",
        "tolerance",
        "date",
        "backtest_config",
        "x",
        "",
    ]);
    let value = prop_oneof![
        "\\PC{0,24}",
        "[0-9-]{0,12}",
        Just("2024-01-01".to_string()),
        Just("202é010".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("close,close".to_string()),
        Just("{\"params\":{}}".to_string()),
    ];
    let query = proptest::collection::vec((keys, value), 0..4);
    let body = prop_oneof![
        json().prop_map(|v| v.to_string()),
        "\\PC{0,64}",
        Just(r#"{"name": "n", "state": "1.AAAA"}"#.to_string()),
        Just(r#"{"reason": null}"#.to_string()),
    ];
    let strategy = (
        prop::sample::select(endpoints),
        query,
        body,
        "[a-zA-Z0-9%é-]{0,16}",
    );
    runner(512)
        .run(&strategy, |(endpoint, query, body, id)| {
            // Logging out would end the session the rest of the run uses.
            if endpoint.path == "/auth/logout" {
                return Ok(());
            }
            let mut uri = format!("/api{}", endpoint.path.replace("{id}", &urlencode(&id)));
            if !query.is_empty() {
                let q: Vec<String> = query
                    .iter()
                    .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
                    .collect();
                uri = format!("{uri}?{}", q.join("&"));
            }
            let mut req = Request::builder()
                .method(endpoint.method.clone())
                .uri(&uri)
                .header(
                    header::COOKIE,
                    format!("lockstep_session={session}; lockstep_csrf={csrf}"),
                )
                .header("x-csrf-token", &csrf);
            let body = if endpoint.method == Method::GET {
                Body::empty()
            } else {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(body)
            };
            let (status, text) = rt.block_on(async {
                let resp = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
                let status = resp.status();
                (status, crate::common::body_text(resp).await)
            });
            prop_assert!(
                status != StatusCode::INTERNAL_SERVER_ERROR,
                "{} {uri}: {status} {text}",
                endpoint.method
            );
            if status.is_client_error() {
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                prop_assert!(
                    v["error"].is_string(),
                    "{} {uri}: {status} {text}",
                    endpoint.method
                );
            }
            Ok(())
        })
        .unwrap();
}

fn urlencode(s: &str) -> String {
    server::web::encode_component(s).replace('/', "%2F")
}
