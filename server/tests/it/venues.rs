//! The venue clients against a local axum server on 127.0.0.1:0 that answers with the documented
//! response shapes (fixtures under `tests/fixtures/<venue>/`, generated rows for long histories):
//! pagination, 429 with Retry-After, 5xx, timeouts, truncated and malformed JSON, unknown symbols,
//! missing keys; and what ends up in the store after `lockstep fetch`'s code path.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use server::commands::fetch::{FetchConfig, Fetcher, SourceSummary, Status};
use server::market_data::coinalyze::CoinalyzeConfig;
use server::market_data::coinmarketcap::CoinMarketCapConfig;
use server::market_data::http::{ApiKey, Http, HttpConfig};
use server::market_data::hyperliquid::{Hyperliquid, HyperliquidConfig};
use server::store::listings::ListingRow;
use server::store::market::{Record, Series};
use server::store::testing::{Engine, TestStore};
use shared::Day;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const CMC_KEY: &str = "test-cmc-key-5ecret";
const COINALYZE_KEY: &str = "test-coinalyze-key-5ecret";

fn fixture(path: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn today() -> Day {
    Day::from_ymd(2025, 1, 11).unwrap()
}

/// What the mock does to the next request of a kind instead of (or before) answering normally.
#[derive(Clone, Debug)]
enum Fault {
    Status(u16, Option<&'static str>, &'static str),
    Sleep(Duration),
    Body(&'static str),
}

/// One request the mock received.
#[derive(Clone, Debug)]
struct Hit {
    /// `/info` requests: the body's `type`; others: the path.
    kind: String,
    query: HashMap<String, String>,
    body: Value,
    api_key: Option<String>,
    raw_query: String,
}

struct MockState {
    hits: Mutex<Vec<Hit>>,
    faults: Mutex<Vec<(String, Fault)>>,
    /// Rows per page for candles and funding (the real API: 500).
    page: usize,
    /// The mock's clock: data exists up to this day (its candle still open).
    today: Day,
    /// First day with data.
    first_day: Day,
}

#[derive(Clone)]
struct Mock(Arc<MockState>);

impl Mock {
    fn new(page: usize, today: Day, history_days: i32) -> Mock {
        Mock(Arc::new(MockState {
            hits: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            page,
            today,
            first_day: Day(today.0 - history_days),
        }))
    }

    fn fault(&self, kind: &str, f: Fault) {
        self.0.faults.lock().unwrap().push((kind.to_string(), f));
    }

    fn hits(&self, kind: &str) -> Vec<Hit> {
        self.0
            .hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.kind == kind)
            .cloned()
            .collect()
    }

    fn clear(&self) {
        self.0.hits.lock().unwrap().clear();
    }

    /// Serves on 127.0.0.1:0; returns the base URL.
    async fn serve(&self) -> String {
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        format!("http://{addr}")
    }
}

fn close_of(coin: &str, day: Day) -> f64 {
    let base = match coin {
        "BTC" => 40000.0,
        "ETH" => 2000.0,
        _ => 1.0,
    };
    base + f64::from(day.0 % 1000)
}

fn hourly_rate(coin: &str) -> f64 {
    match coin {
        "BTC" => 0.0000125,
        _ => -0.000005,
    }
}

async fn handle(
    State(mock): State<Mock>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = uri.path().to_string();
    let kind = if path == "/info" {
        body["type"].as_str().unwrap_or("?").to_string()
    } else {
        path.clone()
    };
    let raw_query = uri.query().unwrap_or("").to_string();
    let query: HashMap<String, String> = raw_query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let api_key = headers
        .get("x-cmc_pro_api_key")
        .or(headers.get("api_key"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    mock.0.hits.lock().unwrap().push(Hit {
        kind: kind.clone(),
        query: query.clone(),
        body: body.clone(),
        api_key: api_key.clone(),
        raw_query,
    });
    let fault = {
        let mut faults = mock.0.faults.lock().unwrap();
        faults
            .iter()
            .position(|(k, _)| *k == kind)
            .map(|i| faults.remove(i).1)
    };
    match fault {
        Some(Fault::Status(code, retry_after, text)) => {
            let mut r = (StatusCode::from_u16(code).unwrap(), text).into_response();
            if let Some(ra) = retry_after {
                r.headers_mut().insert("retry-after", ra.parse().unwrap());
            }
            return r;
        }
        Some(Fault::Body(text)) => {
            return ([("content-type", "application/json")], text).into_response()
        }
        Some(Fault::Sleep(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let s = &mock.0;
    let answer: Value = match (method, path.as_str()) {
        (Method::POST, "/info") => match kind.as_str() {
            "meta" => serde_json::from_str(&fixture("hyperliquid/meta.json")).unwrap(),
            "metaAndAssetCtxs" => {
                serde_json::from_str(&fixture("hyperliquid/metaAndAssetCtxs.json")).unwrap()
            }
            "candleSnapshot" => {
                let req = &body["req"];
                let coin = req["coin"].as_str().unwrap().to_string();
                assert_eq!(req["interval"], "1d");
                let start = req["startTime"].as_i64().expect("startTime in ms");
                let end = req["endTime"].as_i64().expect("endTime in ms");
                let rows: Vec<Value> = (s.first_day.0..=s.today.0)
                    .map(Day)
                    .map(|d| (d, i64::from(d.0) * DAY_MS))
                    // The candle containing startTime is included.
                    .filter(|(_, t)| t + DAY_MS > start && *t <= end)
                    .take(s.page)
                    .map(|(d, t)| {
                        let c = close_of(&coin, d);
                        json!({"T": t + DAY_MS - 1, "c": format!("{c}"), "h": format!("{}", c + 10.0),
                               "i": "1d", "l": format!("{}", c - 10.0), "n": 189,
                               "o": format!("{}", c - 1.0), "s": coin, "t": t, "v": "0.98639"})
                    })
                    .collect();
                Value::Array(rows)
            }
            "fundingHistory" => {
                let coin = body["coin"].as_str().unwrap().to_string();
                let start = body["startTime"].as_i64().unwrap();
                let end = body["endTime"].as_i64().unwrap_or(i64::MAX);
                let first = i64::from(s.first_day.0) * DAY_MS;
                // Data up to 05:00 of the mock's today.
                let last = i64::from(s.today.0) * DAY_MS + 5 * HOUR_MS;
                let rows: Vec<Value> = (0..)
                    .map(|h| first + h * HOUR_MS + 48)
                    .take_while(|t| *t <= last)
                    .filter(|t| *t >= start && *t <= end)
                    .take(s.page)
                    .map(|t| {
                        json!({"coin": coin, "fundingRate": format!("{}", hourly_rate(&coin)),
                               "premium": "-0.00052196", "time": t})
                    })
                    .collect();
                Value::Array(rows)
            }
            other => {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("unknown type {other}"),
                )
                    .into_response()
            }
        },
        (Method::GET, "/v1/cryptocurrency/listings/latest") => {
            if api_key.as_deref() != Some(CMC_KEY) {
                return (
                    StatusCode::UNAUTHORIZED,
                    fixture("coinmarketcap/error_401.json"),
                )
                    .into_response();
            }
            serde_json::from_str(&fixture("coinmarketcap/listings_latest.json")).unwrap()
        }
        (Method::GET, p) if p.starts_with("/future-markets") || p.ends_with("-history") => {
            if api_key.as_deref() != Some(COINALYZE_KEY) {
                return (StatusCode::UNAUTHORIZED, r#"{"message":"Invalid API key"}"#)
                    .into_response();
            }
            if p == "/future-markets" {
                serde_json::from_str(&fixture("coinalyze/future_markets.json")).unwrap()
            } else {
                let from: i64 = query["from"].parse().unwrap();
                let to: i64 = query["to"].parse().unwrap();
                assert_eq!(query["interval"], "daily");
                let symbols: Vec<&str> = query["symbols"].split("%2C").collect();
                let answer: Vec<Value> = symbols
                    .iter()
                    .map(|sym| {
                        let history: Vec<Value> = (s.first_day.0..=s.today.0)
                            .map(|d| i64::from(d) * 86_400)
                            .filter(|t| *t >= from && *t <= to)
                            .map(|t| {
                                let v = if p == "/funding-rate-history" {
                                    0.01
                                } else {
                                    1.0e9 + t as f64 / 86_400.0
                                };
                                json!({"t": t, "o": v, "h": v, "l": v, "c": v})
                            })
                            .collect();
                        json!({"symbol": sym, "history": history})
                    })
                    .collect();
                Value::Array(answer)
            }
        }
        _ => return (StatusCode::NOT_FOUND, "no such endpoint").into_response(),
    };
    axum::Json(answer).into_response()
}

fn fast_http() -> HttpConfig {
    HttpConfig {
        timeout: Duration::from_millis(300),
        max_retries: 3,
        backoff_base: Duration::from_millis(2),
        backoff_max: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(5),
        weight_per_minute: 1_000_000,
    }
}

fn config(base: &str, symbols: &[&str], keys: bool) -> FetchConfig {
    FetchConfig {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        history_days: 10,
        funding_history_days: 3,
        hyperliquid: HyperliquidConfig {
            base_url: base.to_string(),
            http: fast_http(),
            cache_ttl: Duration::from_secs(3600),
        },
        coinmarketcap: CoinMarketCapConfig {
            base_url: base.to_string(),
            http: fast_http(),
            limit: 5000,
            cache_ttl: Duration::from_secs(600),
        },
        coinalyze: CoinalyzeConfig {
            base_url: base.to_string(),
            http: fast_http(),
            venues: vec!["A".into()],
            cache_ttl: Duration::from_secs(3600),
        },
        cmc_key: keys.then(|| ApiKey::new(CMC_KEY).unwrap()),
        coinalyze_key: keys.then(|| ApiKey::new(COINALYZE_KEY).unwrap()),
    }
}

async fn run(fetcher: &Fetcher, t: &TestStore, only: &str, today: Day) -> SourceSummary {
    let mut s = fetcher.run(&t.store, Some(only), today).await.unwrap();
    assert_eq!(s.len(), 1);
    s.remove(0)
}

fn bars(records: &[Record], symbol: &str) -> Vec<(Day, f64)> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Bar {
                symbol: s,
                day,
                close,
                ..
            } if s == symbol => Some((*day, *close)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn hyperliquid_pages_candles_and_funding_into_the_store() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "hl_pages").await else {
            continue;
        };
        // Pages of 4 rows force pagination for 10 days of candles and 72 hours of funding.
        let mock = Mock::new(4, today(), 20);
        let base = mock.serve().await;
        let fetcher = Fetcher::new(config(&base, &["BTC", "eth", "NOPE", "LOOM"], false));
        let s = run(&fetcher, &t, "hyperliquid", today()).await;
        assert_eq!(s.status, Status::Partial, "{s}");
        assert_eq!(s.errors.len(), 2, "{s}");
        assert!(
            s.errors.iter().any(|e| e.contains("NOPE: unknown symbol")),
            "{s}"
        );
        // Delisted perps are not fetched.
        assert!(
            s.errors.iter().any(|e| e.contains("LOOM: unknown symbol")),
            "{s}"
        );

        let stored = t.store.records(Series::Bars).await.unwrap();
        let btc = bars(&stored, "BTC");
        // Ten complete days before today; today's open candle is not stored.
        let expected: Vec<(Day, f64)> = (1..=10)
            .rev()
            .map(|k| Day(today().0 - k))
            .map(|d| (d, close_of("BTC", d)))
            .collect();
        assert_eq!(btc, expected);
        assert_eq!(bars(&stored, "ETH").len(), 10);
        assert_eq!(stored.len(), 20);
        // 10 candles in pages of 4: 3 requests per coin, each starting after the last close;
        // then one for the listing's first day (back-filled once, from 2022-05-31).
        let candle_hits: Vec<i64> = mock
            .hits("candleSnapshot")
            .iter()
            .filter(|h| h.body["req"]["coin"] == "BTC")
            .map(|h| h.body["req"]["startTime"].as_i64().unwrap())
            .collect();
        let d0 = i64::from(today().0 - 10) * DAY_MS;
        let history_start = i64::from(Day::from_ymd(2022, 5, 31).unwrap().0) * DAY_MS;
        assert_eq!(
            candle_hits,
            vec![d0, d0 + 4 * DAY_MS, d0 + 8 * DAY_MS, history_start]
        );
        // The listing history: every market of `meta`, the fetched and named ones back-filled
        // to their first candle (the mock's first day), the delisted one up to the day before.
        let rows = t.store.listing_rows("hyperliquid").await.unwrap();
        let by: HashMap<&str, &ListingRow> =
            rows.iter().map(|r| (r.venue_symbol.as_str(), r)).collect();
        assert_eq!(rows.len(), 5, "{rows:?}");
        let first = Day(today().0 - 20);
        let btc = by["BTC"];
        assert_eq!((btc.first_day, btc.last_day), (Some(first), Some(today())));
        assert_eq!(
            (btc.size_decimals, btc.max_leverage, btc.unit),
            (Some(5), Some(50), 1.0)
        );
        assert!(btc.backfilled && !btc.delisted);
        let loom = by["LOOM"];
        assert!(loom.delisted && loom.backfilled);
        assert_eq!(
            (loom.first_day, loom.last_day),
            (Some(first), Some(Day(today().0 - 1)))
        );
        let pepe = by["kPEPE"];
        assert_eq!((pepe.symbol.as_str(), pepe.unit), ("PEPE", 1000.0));
        // Not named in --symbols: listed from today, not back-filled.
        assert_eq!((pepe.first_day, pepe.backfilled), (Some(today()), false));
        let listings = t
            .store
            .venue_listings("hyperliquid")
            .await
            .unwrap()
            .unwrap();
        assert!(
            listings.is_tradable("BTC", first) && !listings.is_tradable("BTC", Day(first.0 - 1))
        );
        assert!(listings.is_tradable("LOOM", Day(today().0 - 1)));
        assert!(!listings.is_tradable("LOOM", today()));
        assert!(listings.is_tradable("PEPE", Day(today().0 + 100)));

        let funding = t.store.records(Series::Funding).await.unwrap();
        let btc_funding: Vec<(Day, String, f64)> = funding
            .iter()
            .filter_map(|r| match r {
                Record::Funding {
                    symbol,
                    venue,
                    day,
                    daily_rate,
                } if symbol == "BTC" => Some((*day, venue.clone(), *daily_rate)),
                _ => None,
            })
            .collect();
        assert_eq!(btc_funding.len(), 3, "{btc_funding:?}");
        for (k, (day, venue, rate)) in btc_funding.iter().enumerate() {
            assert_eq!(*day, Day(today().0 - 3 + k as i32));
            assert_eq!(venue, "hyperliquid");
            // 24 hourly rates of 0.0000125 = 0.0003 a day.
            assert!((rate - 0.0003).abs() < 1e-12, "{rate}");
        }
        // 72 hourly rows in pages of 4: 18 pages, each starting 1 ms after the last row.
        let fh = mock.hits("fundingHistory");
        let btc_fh: Vec<&Hit> = fh.iter().filter(|h| h.body["coin"] == "BTC").collect();
        assert_eq!(btc_fh.len(), 18);
        assert_eq!(
            btc_fh[1].body["startTime"].as_i64().unwrap(),
            i64::from(today().0 - 3) * DAY_MS + 3 * HOUR_MS + 48 + 1
        );

        let runs = t.store.runs(Some("hyperliquid"), 5).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "partial");
        assert_eq!(runs[0].counts.inserted, 20 + 6);
    }
}

#[tokio::test]
async fn a_second_fetch_changes_nothing_and_a_later_one_asks_only_for_new_days() {
    let t = TestStore::new(Engine::Sqlite, "hl_incremental")
        .await
        .unwrap();
    let mock = Mock::new(500, Day(today().0 + 1), 20);
    let base = mock.serve().await;
    let fetcher = Fetcher::new(config(&base, &["BTC", "ETH"], false));
    let first = run(&fetcher, &t, "hyperliquid", today()).await;
    assert_eq!(first.status, Status::Ok, "{first}");
    assert_eq!(first.counts.inserted, 20 + 6);
    let version = t.store.data_version().await.unwrap();

    // Same day again: everything is up to date, no history request is sent, nothing changes.
    mock.clear();
    let again = run(&fetcher, &t, "hyperliquid", today()).await;
    assert_eq!(again.status, Status::Ok, "{again}");
    assert_eq!(again.up_to_date, 4);
    assert_eq!(again.counts.inserted + again.counts.updated, 0);
    assert!(mock.hits("candleSnapshot").is_empty());
    assert!(mock.hits("fundingHistory").is_empty());
    assert_eq!(t.store.data_version().await.unwrap(), version);

    // A day later: only that day is requested and stored.
    mock.clear();
    let next = Day(today().0 + 1);
    let later = run(&fetcher, &t, "hyperliquid", next).await;
    assert_eq!(later.status, Status::Ok, "{later}");
    assert_eq!(later.counts.inserted, 4, "{later}");
    assert_eq!(later.counts.updated, 0);
    let hits = mock.hits("candleSnapshot");
    assert_eq!(hits.len(), 2);
    for h in &hits {
        assert_eq!(
            h.body["req"]["startTime"],
            json!(i64::from(today().0) * DAY_MS)
        );
        assert_eq!(
            h.body["req"]["endTime"],
            json!(i64::from(next.0) * DAY_MS - 1)
        );
    }
    for h in mock.hits("fundingHistory") {
        assert_eq!(h.body["startTime"], json!(i64::from(today().0) * DAY_MS));
    }
    assert_eq!(t.store.records(Series::Bars).await.unwrap().len(), 22);
}

#[tokio::test]
async fn retries_honour_retry_after_and_recover_from_500s_and_timeouts() {
    let t = TestStore::new(Engine::Sqlite, "hl_retries").await.unwrap();
    let mock = Mock::new(500, today(), 20);
    mock.fault("candleSnapshot", Fault::Status(429, Some("1"), "slow down"));
    mock.fault("candleSnapshot", Fault::Status(500, None, "internal error"));
    mock.fault("candleSnapshot", Fault::Sleep(Duration::from_millis(1000)));
    mock.fault("fundingHistory", Fault::Status(502, None, "bad gateway"));
    let base = mock.serve().await;
    let fetcher = Fetcher::new(config(&base, &["BTC"], false));
    let started = Instant::now();
    let s = run(&fetcher, &t, "hyperliquid", today()).await;
    assert_eq!(s.status, Status::Ok, "{s}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured ({:?})",
        started.elapsed()
    );
    // 429, 500, timeout, then success: four sends of the same first page; then the listing's
    // first day.
    assert_eq!(mock.hits("candleSnapshot").len(), 4 + 1);
    assert_eq!(mock.hits("fundingHistory").len(), 2);
    assert_eq!(t.store.records(Series::Bars).await.unwrap().len(), 10);
    assert_eq!(t.store.records(Series::Funding).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_venue_that_stays_down_fails_the_source_and_stores_nothing() {
    let t = TestStore::new(Engine::Sqlite, "hl_down").await.unwrap();
    let mock = Mock::new(500, today(), 20);
    for _ in 0..4 {
        mock.fault("meta", Fault::Status(503, None, "maintenance"));
    }
    let base = mock.serve().await;
    let fetcher = Fetcher::new(config(&base, &["BTC"], false));
    let s = run(&fetcher, &t, "hyperliquid", today()).await;
    let Status::Failed(msg) = &s.status else {
        panic!("{s}")
    };
    assert!(msg.contains("gave up after 4 attempt(s)"), "{msg}");
    assert!(msg.contains("HTTP 503: maintenance"), "{msg}");
    assert!(t.store.records(Series::Bars).await.unwrap().is_empty());
    let runs = t.store.runs(Some("hyperliquid"), 5).await.unwrap();
    assert_eq!(runs[0].status, "error");
    assert!(runs[0].error.as_deref().unwrap().contains("meta"));
}

#[tokio::test]
async fn truncated_and_malformed_json_are_clear_errors_and_store_nothing() {
    let t = TestStore::new(Engine::Sqlite, "hl_malformed")
        .await
        .unwrap();
    let mock = Mock::new(500, today(), 20);
    // BTC's candles come back cut off; ETH's are HTML; BTC's funding has a non-numeric rate.
    mock.fault(
        "candleSnapshot",
        Fault::Body(r#"[{"T":1736553599999,"c":"40000.0","h":"40010.0","i":"1d","#),
    );
    mock.fault(
        "candleSnapshot",
        Fault::Body("<html>502 Bad Gateway</html>"),
    );
    mock.fault(
        "fundingHistory",
        Fault::Body(r#"[{"coin":"BTC","fundingRate":"abc","premium":"0","time":1736380800048}]"#),
    );
    let base = mock.serve().await;
    let fetcher = Fetcher::new(config(&base, &["BTC", "ETH"], false));
    let s = run(&fetcher, &t, "hyperliquid", today()).await;
    assert_eq!(s.status, Status::Partial, "{s}");
    let all = s.errors.join("\n");
    assert!(
        all.contains("BTC candles: hyperliquid candleSnapshot BTC"),
        "{all}"
    );
    assert!(all.contains("truncated JSON"), "{all}");
    assert!(
        all.contains("ETH candles") && all.contains("invalid JSON"),
        "{all}"
    );
    assert!(all.contains("fundingRate \"abc\" is not a number"), "{all}");
    // Malformed answers are not retried (the two after them back-fill the listings).
    assert_eq!(mock.hits("candleSnapshot").len(), 2 + 2);
    assert!(t.store.records(Series::Bars).await.unwrap().is_empty());
    let funding = t.store.records(Series::Funding).await.unwrap();
    assert!(funding
        .iter()
        .all(|r| matches!(r, Record::Funding { symbol, .. } if symbol == "ETH")));
    assert_eq!(funding.len(), 3);
}

/// Regression: kPEPE's series was stored as `KPEPE` at prices per 1000 PEPE while the broker
/// trades it as `PEPE` per unit, so a `PEPE` target had no data and a `KPEPE` one no market.
#[tokio::test]
async fn a_k_contract_is_stored_as_the_asset_per_unit() {
    let t = TestStore::new(Engine::Sqlite, "hl_kpepe").await.unwrap();
    let mock = Mock::new(500, today(), 20);
    let base = mock.serve().await;
    let fetcher = Fetcher::new(config(&base, &["pepe", "KPEPE"], false));
    let s = run(&fetcher, &t, "hyperliquid", today()).await;
    assert_eq!(s.status, Status::Partial, "{s}");
    assert_eq!(
        s.errors,
        vec!["KPEPE: unknown symbol (not a listed Hyperliquid perp)".to_string()]
    );
    // The venue is asked about its own coin.
    let candle_hits = mock.hits("candleSnapshot");
    assert!(!candle_hits.is_empty());
    assert!(candle_hits.iter().all(|h| h.body["req"]["coin"] == "kPEPE"));
    assert!(mock
        .hits("fundingHistory")
        .iter()
        .all(|h| h.body["coin"] == "kPEPE"));

    let stored = t.store.records(Series::Bars).await.unwrap();
    assert_eq!(stored.len(), 10);
    for r in &stored {
        let Record::Bar {
            symbol,
            day,
            open,
            high,
            low,
            close,
            volume,
        } = r
        else {
            panic!("{r:?}");
        };
        assert_eq!(symbol, "PEPE");
        // The mock's kPEPE candle: close c, open c - 1, high c + 10, low c - 10 (USD per 1000
        // PEPE), volume 0.98639 contracts of 1000.
        let c = close_of("kPEPE", *day);
        let near = |got: f64, want: f64| (got - want).abs() <= 1e-12 * want.abs();
        assert!(near(*close, c / 1000.0), "{day}: {close} vs {c}");
        assert!(near(*open, (c - 1.0) / 1000.0), "{open}");
        assert!(near(*high, (c + 10.0) / 1000.0), "{high}");
        assert!(near(*low, (c - 10.0) / 1000.0), "{low}");
        assert!(near(*volume, 986.39), "{volume}");
    }
    // Funding is a rate: 24 hourly rates of -0.000005 are -0.00012 a day, per PEPE or per 1000.
    let funding = t.store.records(Series::Funding).await.unwrap();
    assert_eq!(funding.len(), 3);
    for r in &funding {
        assert!(
            matches!(r, Record::Funding { symbol, daily_rate, .. }
                if symbol == "PEPE" && (daily_rate + 0.00012).abs() < 1e-12),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn a_4xx_is_final_and_names_the_endpoint_and_the_venues_message() {
    let t = TestStore::new(Engine::Sqlite, "hl_422").await.unwrap();
    let mock = Mock::new(500, today(), 20);
    mock.fault(
        "candleSnapshot",
        Fault::Status(
            422,
            None,
            "Failed to deserialize the JSON body into the target type",
        ),
    );
    let base = mock.serve().await;
    let fetcher = Fetcher::new(config(&base, &["BTC"], false));
    let s = run(&fetcher, &t, "hyperliquid", today()).await;
    assert_eq!(s.status, Status::Partial, "{s}");
    assert_eq!(
        s.errors[0],
        format!(
            "BTC candles: hyperliquid candleSnapshot BTC from {}: HTTP 422: Failed to deserialize the JSON body into the target type",
            i64::from(today().0 - 10) * DAY_MS
        )
    );
    let hits = mock.hits("candleSnapshot");
    assert_eq!(
        hits.len(),
        1 + 1,
        "a 4xx is not retried (the second back-fills the listing)"
    );
    assert_ne!(
        hits[0].body["req"]["startTime"],
        hits[1].body["req"]["startTime"]
    );
}

#[tokio::test]
async fn asset_contexts_parse_the_documented_shape_with_nulls() {
    let mock = Mock::new(500, today(), 20);
    let base = mock.serve().await;
    let hl = Hyperliquid::new(HyperliquidConfig {
        base_url: base,
        http: fast_http(),
        cache_ttl: Duration::from_secs(60),
    })
    .unwrap();
    let ctxs = hl.asset_contexts().await.unwrap();
    assert_eq!(ctxs.len(), 3);
    assert_eq!(ctxs[0].instrument.symbol, "BTC");
    assert_eq!(ctxs[0].instrument.size_decimals, Some(5));
    assert_eq!(ctxs[0].funding_hourly, Some(0.0000125));
    assert_eq!(ctxs[0].open_interest, Some(688.11));
    assert_eq!(ctxs[1].mark_px, Some(0.0123));
    // kPEPE is PEPE: prices per PEPE (0.0125 per 1000 → 0.0000125), open interest in PEPE
    // (4M contracts → 4G PEPE); the hourly rate and the USD volume are the venue's.
    let pepe = &ctxs[2];
    assert_eq!(pepe.instrument.symbol, "PEPE");
    assert_eq!(pepe.instrument.venue_symbol, "kPEPE");
    assert!((pepe.mark_px.unwrap() - 0.0000125).abs() < 1e-18);
    assert!((pepe.oracle_px.unwrap() - 0.0000124).abs() < 1e-18);
    assert_eq!(pepe.open_interest, Some(4_000_000_000.0));
    assert_eq!(pepe.funding_hourly, Some(0.0000125));
    assert_eq!(pepe.day_notional_volume, Some(52000000.5));
    // The universe keeps Hyperliquid's own names and flags delisted perps.
    use server::market_data::MarketData;
    let universe = hl.universe().await.unwrap();
    assert_eq!(hl.universe().await.unwrap(), universe);
    assert_eq!(universe.len(), 5);
    assert!(universe.iter().any(|i| i.symbol == "LOOM" && i.delisted));
    // The thousand-unit contract is named as the asset the broker trades (`PEPE`), with the
    // venue's own name kept.
    assert!(universe
        .iter()
        .any(|i| i.symbol == "PEPE" && i.venue_symbol == "kPEPE"));
    assert!(!universe.iter().any(|i| i.symbol == "KPEPE"));
    // The second universe call is served from the cache.
    assert_eq!(mock.hits("meta").len(), 1);
}

#[tokio::test]
async fn sources_without_keys_are_skipped_with_a_notice() {
    let t = TestStore::new(Engine::Sqlite, "no_keys").await.unwrap();
    let mock = Mock::new(500, today(), 20);
    let base = mock.serve().await;
    let fetcher = Fetcher::new(config(&base, &["BTC"], false));
    let all = fetcher.run(&t.store, None, today()).await.unwrap();
    let lines: Vec<String> = all.iter().map(|s| s.to_string()).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("hyperliquid: ok"), "{}", lines[0]);
    assert_eq!(lines[1], "coinmarketcap: skipped: CMC_API_KEY is not set");
    assert_eq!(lines[2], "coinalyze: skipped: COINALYZE_API_KEY is not set");
    assert!(mock.hits("/v1/cryptocurrency/listings/latest").is_empty());
    assert!(mock.hits("/future-markets").is_empty());
    // Missing means missing: no market caps were made up.
    assert!(t.store.records(Series::MarketCap).await.unwrap().is_empty());
    assert!(fetcher
        .run(&t.store, Some("coingecko"), today())
        .await
        .is_err());
}

#[tokio::test]
async fn coinmarketcap_stores_caps_and_supply_and_leaves_unknowns_missing() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "cmc").await else {
            continue;
        };
        let mock = Mock::new(500, today(), 20);
        let base = mock.serve().await;
        let fetcher = Fetcher::new(config(&base, &[], true));
        let s = run(&fetcher, &t, "coinmarketcap", today()).await;
        assert_eq!(s.status, Status::Ok, "{s}");
        let hits = mock.hits("/v1/cryptocurrency/listings/latest");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].api_key.as_deref(), Some(CMC_KEY));
        assert!(
            !hits[0].raw_query.contains(CMC_KEY),
            "the key is never in the URL"
        );
        assert_eq!(hits[0].query["convert"], "USD");

        let day = Day::from_ymd(2025, 1, 10).unwrap();
        let mut caps: Vec<(String, Day, f64)> = t
            .store
            .records(Series::MarketCap)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| match r {
                Record::MarketCap { symbol, day, usd } => Some((symbol, day, usd)),
                _ => None,
            })
            .collect();
        caps.sort_by(|a, b| a.0.cmp(&b.0));
        // MYST's market cap is 0 (unknown to CMC): not stored. The UNI of rank 4321 is dropped
        // for the UNI of rank 20.
        assert_eq!(
            caps,
            vec![
                ("BTC".to_string(), day, 1861209900000.0),
                ("ETH".to_string(), day, 397680125000.0),
                ("UNI".to_string(), day, 7920000000.0),
            ]
        );
        let supply = t.store.records(Series::Supply).await.unwrap();
        assert_eq!(supply.len(), 3);
        assert!(supply.iter().any(|r| matches!(r,
            Record::Supply { symbol, circulating, .. } if symbol == "ETH" && *circulating == 120500000.5)));

        // Fetching again the same day changes nothing (and is served from the cache).
        let again = run(&fetcher, &t, "coinmarketcap", today()).await;
        assert_eq!(again.counts.inserted + again.counts.updated, 0, "{again}");
        assert_eq!(again.cache_hits, 1);
    }
}

#[tokio::test]
async fn a_refused_key_fails_the_source_with_the_venues_message() {
    let t = TestStore::new(Engine::Sqlite, "cmc_401").await.unwrap();
    let mock = Mock::new(500, today(), 20);
    let base = mock.serve().await;
    let mut cfg = config(&base, &[], true);
    cfg.cmc_key = ApiKey::new("wrong-key");
    let fetcher = Fetcher::new(cfg);
    assert!(!format!("{fetcher:?}").contains("wrong-key"));
    assert!(!format!("{fetcher:?}").contains(COINALYZE_KEY));
    let s = run(&fetcher, &t, "coinmarketcap", today()).await;
    assert_eq!(
        s.status,
        Status::Failed(
            "coinmarketcap listings/latest: HTTP 401: This API Key is invalid.".to_string()
        )
    );
    assert!(!s.to_string().contains("wrong-key"));
    assert_eq!(mock.hits("/v1/cryptocurrency/listings/latest").len(), 1);
}

#[tokio::test]
async fn coinalyze_funding_becomes_a_daily_fraction_on_binance() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "coinalyze").await else {
            continue;
        };
        let mock = Mock::new(500, today(), 20);
        let base = mock.serve().await;
        let fetcher = Fetcher::new(config(&base, &["BTC", "SOL", "XYZ"], true));
        let s = run(&fetcher, &t, "coinalyze", today()).await;
        assert_eq!(s.status, Status::Partial, "{s}");
        // SOL trades only on Bybit here (not a configured venue); XYZ nowhere.
        assert_eq!(s.errors.len(), 2, "{s}");
        assert!(s.errors[0].contains("SOL") && s.errors[0].contains("unknown symbol"));

        let hits = mock.hits("/funding-rate-history");
        assert_eq!(hits.len(), 1);
        let q = &hits[0].query;
        // The USDT-margined Binance perpetual, in seconds, complete days only.
        assert_eq!(q["symbols"], "BTCUSDT_PERP.A");
        assert_eq!(q["from"], (i64::from(today().0 - 10) * 86_400).to_string());
        assert_eq!(q["to"], (i64::from(today().0) * 86_400 - 1).to_string());
        assert_eq!(hits[0].api_key.as_deref(), Some(COINALYZE_KEY));
        let oi_hits = mock.hits("/open-interest-history");
        assert_eq!(oi_hits[0].query["convert_to_usd"], "true");

        let funding = t.store.records(Series::Funding).await.unwrap();
        assert_eq!(funding.len(), 10);
        for r in &funding {
            let Record::Funding {
                symbol,
                venue,
                daily_rate,
                ..
            } = r
            else {
                unreachable!()
            };
            assert_eq!((symbol.as_str(), venue.as_str()), ("BTC", "binance"));
            // 0.01 % per 8 hours = 0.0003 a day.
            assert!((daily_rate - 0.0003).abs() < 1e-15, "{daily_rate}");
        }
        let oi = t.store.records(Series::OpenInterest).await.unwrap();
        assert_eq!(oi.len(), 10);
        let last = Day(today().0 - 1);
        assert!(oi.iter().any(|r| matches!(r,
            Record::OpenInterest { day, usd, venue, .. }
                if *day == last && *usd == 1.0e9 + f64::from(last.0) && venue == "binance")));

        // Incremental: the next day asks Coinalyze only for that day.
        mock.clear();
        let later = run(&fetcher, &t, "coinalyze", Day(today().0 + 1)).await;
        assert_eq!(later.counts.inserted, 2, "{later}");
        let q = &mock.hits("/funding-rate-history")[0].query;
        assert_eq!(q["from"], (i64::from(today().0) * 86_400).to_string());
    }
}

#[tokio::test]
async fn the_rate_limiter_keeps_to_the_budget() {
    let http = Http::new(
        "test",
        "http://127.0.0.1:9",
        None,
        HttpConfig {
            weight_per_minute: 600,
            ..fast_http()
        },
        server::market_data::http::venue_message,
    )
    .unwrap();
    let started = Instant::now();
    // A full minute's budget is available at once...
    http.charge(600).await;
    assert!(started.elapsed() < Duration::from_millis(50));
    // ...then 10 per second: 5 more units take about half a second.
    http.charge(5).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
}
