//! Helpers shared by the integration test modules.

use std::path::PathBuf;

/// The predecessor's real data files (`LOCKSTEP_REAL_DATA`, else `../shared/data/original`
/// beside the checkout), or `None` with a notice saying what `skipped` is skipped or replaced.
/// The files are never committed, so every test that uses them must also make sense without —
/// except under `CI=true` (or `LOCKSTEP_REQUIRE_REAL_DATA`), where missing data fails the test:
/// a CI run never skips quietly.
pub fn real_data_dir(skipped: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("LOCKSTEP_REAL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/original")
        });
    if dir.join("coinbase_top200_daily.csv").exists() {
        Some(dir)
    } else if real_data_required() {
        panic!(
            "the real data is required (CI=true or LOCKSTEP_REQUIRE_REAL_DATA) but {} has no \
             coinbase_top200_daily.csv; set LOCKSTEP_REAL_DATA to the predecessor's data folder",
            dir.display()
        );
    } else {
        eprintln!("notice: {} not found; {skipped}", dir.display());
        None
    }
}

/// Whether missing real data fails instead of skipping (`CI=true` or
/// `LOCKSTEP_REQUIRE_REAL_DATA`).
pub fn real_data_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("LOCKSTEP_REQUIRE_REAL_DATA").is_ok_and(|v| !v.is_empty() && v != "0")
}

// --- a store with a synthetic market and a paper trader ---------------------------------------

use server::live::{paper_broker, CycleOptions, FixedClock, LiveService, LiveSettings};
use server::store::market::{Record, SourceKind};
use server::store::Store;
use shared::config::Config;
use shared::synth::{generate, SynthConfig};
use shared::{Day, Field, Panel};
use std::sync::Arc;

pub const DAY_MS: i64 = 86_400_000;

/// The live cycle's clock for data day `day`: an hour after that day closed.
pub fn cycle_ms(day: Day) -> i64 {
    (day.0 as i64 + 1) * DAY_MS + 3_600_000
}

/// The synthetic market of `seed` with `n_assets` assets over `n_days` days from day 19000.
pub fn synth_panel(seed: u64, n_assets: usize, n_days: usize) -> Panel {
    generate(&SynthConfig {
        seed,
        n_assets,
        n_days,
        start: Day(19_000),
    })
    .unwrap()
}

/// The synthetic panel's rows `0..=last` as store records (bars, market caps, supply,
/// Binance funding).
pub fn panel_records(panel: &Panel, last: usize) -> Vec<Record> {
    panel_rows(panel, 0..=last, false)
}

/// The synthetic panel's `rows` as store records: bars, market caps, supply, Binance funding,
/// and Binance open interest when `open_interest`.
pub fn panel_rows(
    panel: &Panel,
    rows: std::ops::RangeInclusive<usize>,
    open_interest: bool,
) -> Vec<Record> {
    let mut out = Vec::new();
    for (a, s) in panel.symbols().iter().enumerate() {
        for t in rows.clone() {
            let day = panel.day(t);
            let g = |f: Field| panel.get(f, a, t);
            if g(Field::Close).is_finite() {
                out.push(Record::Bar {
                    symbol: s.clone(),
                    day,
                    open: g(Field::Open),
                    high: g(Field::High),
                    low: g(Field::Low),
                    close: g(Field::Close),
                    volume: g(Field::Volume),
                });
            }
            if g(Field::MarketCap).is_finite() {
                out.push(Record::MarketCap {
                    symbol: s.clone(),
                    day,
                    usd: g(Field::MarketCap),
                });
            }
            if g(Field::CirculatingSupply).is_finite() {
                out.push(Record::Supply {
                    symbol: s.clone(),
                    day,
                    circulating: g(Field::CirculatingSupply),
                    market_cap: f64::NAN,
                });
            }
            if g(Field::FundingRate).is_finite() {
                out.push(Record::Funding {
                    symbol: s.clone(),
                    venue: "binance".into(),
                    day,
                    daily_rate: g(Field::FundingRate),
                });
            }
            if open_interest && g(Field::OpenInterest).is_finite() {
                out.push(Record::OpenInterest {
                    symbol: s.clone(),
                    venue: "binance".into(),
                    day,
                    usd: g(Field::OpenInterest),
                });
            }
        }
    }
    out
}

/// Registers the `synthetic` source (described as `description`) and writes `records` under it.
pub async fn store_synthetic(store: &Store, description: &str, records: &[Record]) {
    store
        .register_source("synthetic", SourceKind::Synthetic, description)
        .await
        .unwrap();
    store.upsert("synthetic", records).await.unwrap();
}

/// Writes the synthetic panel's `rows` (with Binance open interest) into the store as the
/// `synthetic` source: the market most live tests trade on.
pub async fn seed_panel(store: &Store, panel: &Panel, rows: std::ops::RangeInclusive<usize>) {
    store_synthetic(store, "test panel", &panel_rows(panel, rows, true)).await;
}

/// The live service on the paper broker with the default config, on `clock`.
pub fn paper_service(store: &Store, settings: LiveSettings, clock: Arc<FixedClock>) -> LiveService {
    let store = Arc::new(store.clone());
    let config = Config::lockstep_default().unwrap();
    let broker = Arc::new(paper_broker(store.clone(), &settings, &config));
    LiveService::new(store, settings, config, broker, clock).unwrap()
}

/// A cycle that stores its plan, run by `test`.
pub fn cycle_options() -> CycleOptions {
    CycleOptions {
        dry_run: false,
        actor: "test".into(),
    }
}

/// Adds user `name` with `role` and signs them in: the `Cookie` header (session and CSRF
/// cookies) and the CSRF token a state-changing request sends back.
pub async fn signed_in(store: &Store, name: &str, role: app::api::Role) -> (String, String) {
    server::auth::users::add(store, name, role, "correct horse battery")
        .await
        .unwrap();
    let (token, _) =
        server::auth::session::create(store, name, std::time::Duration::from_secs(3600))
            .await
            .unwrap();
    let csrf = server::auth::session::csrf_token_for(&token);
    (
        format!("lockstep_session={token}; lockstep_csrf={csrf}"),
        csrf,
    )
}

/// The synthetic panel's row `t` as store records.
pub fn records_of_day(panel: &Panel, t: usize) -> Vec<Record> {
    panel_rows(panel, t..=t, false)
}

/// Runs the live cycle of data day `day` (the clock set an hour after it closed, plus
/// `extra_ms`); returns the plan's id.
/// The whole application (`server::router`) over a paper live service with `settings` and
/// `clock`, and that service.
pub fn paper_router(
    store: &Store,
    settings: LiveSettings,
    clock: Arc<FixedClock>,
) -> (axum::Router, Arc<LiveService>) {
    let live = Arc::new(paper_service(store, settings, clock));
    let state = server::AppState::new(
        store.clone(),
        std::path::Path::new("target/site"),
        "127.0.0.1:0".parse().unwrap(),
    )
    .with_live(live.clone());
    (server::router(state), live)
}

/// Runs the cycle as it stands (clock and data as set) and returns the proposed plan's id.
pub async fn propose(live: &LiveService) -> String {
    live.run_cycle(&cycle_options())
        .await
        .unwrap()
        .plan
        .summary
        .id
}

pub async fn cycle_on(live: &LiveService, clock: &FixedClock, day: Day, extra_ms: i64) -> String {
    clock.set(cycle_ms(day) + extra_ms);
    let out = live.run_cycle(&cycle_options()).await.unwrap();
    assert_eq!(out.plan.summary.data_day, day.to_string());
    out.plan.summary.id
}

/// A response's body as text; for a server-sent event stream (which stays open as long as the
/// client does), only the first event, so a test walking every route never waits on one.
pub async fn body_text(resp: axum::response::Response) -> String {
    use http_body_util::BodyExt;
    let streaming = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut body = resp.into_body();
    if streaming {
        let first = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame()).await;
        return match first {
            Ok(Some(Ok(frame))) => frame
                .data_ref()
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .unwrap_or_default(),
            _ => String::new(),
        };
    }
    let bytes = body.collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}
