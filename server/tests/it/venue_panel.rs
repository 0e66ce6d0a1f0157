//! The browser's backtest of a venue config trades the venue's universe: `/api/panel?venue=`
//! carries the listing history (and the venue's funding order) to the app, whose decode and run
//! path (`app::data::decode_panel`, `app::spec::run_on`) gives `lockstep backtest`'s result bit
//! for bit, on SQLite and PostgreSQL. The old browser path (the default panel, no listings)
//! gives another result on the same store: the test fails without the fix.

use crate::common::{panel_rows, synth_panel};
use app::share::{SweepAxisSpec, SweepSpec};
use app::worker::{run_job, sweep_universe, Job};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use server::commands::backtest::BacktestArgs;
use server::commands::sweep::SweepOutput;
use server::market_data::symbols::symbol_of_coin;
use server::store::listings::ListingSeen;
use server::store::market::Record;
use server::store::testing::{Engine, TestStore};
use server::{router, AppState};
use shared::backtest::BacktestResult;
use shared::config::VenueScope;
use shared::portfolio::signals::SignalCache;
use shared::{Day, Panel};
use tower::ServiceExt;

const N_ASSETS: usize = 18;
const N_DAYS: usize = 500;
/// The row from which the late listings are tradable.
const LATE: usize = 250;

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Vec<u8>) {
    let (status, _, body) = get_versioned(app, uri).await;
    (status, body)
}

/// The answer with its `x-lockstep-data-version` header.
async fn get_versioned(app: &axum::Router, uri: &str) -> (StatusCode, Option<i64>, Vec<u8>) {
    let resp = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let version = resp
        .headers()
        .get(server::api::data::DATA_VERSION_HEADER)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, version, body.to_vec())
}

/// `request` pinned to data version `v`: answered at `v` with the bytes `then` that today's
/// request answered while `v` was current. Returns the pinned request and its body.
async fn assert_pinned(
    app: &axum::Router,
    request: app::data::PanelRequest,
    v: i64,
    then: &[u8],
    what: &str,
) -> (app::data::PanelRequest, Vec<u8>) {
    let pinned = app::data::PanelRequest {
        as_of: Some(v),
        ..request
    };
    let (status, version, old) = get_versioned(app, &pinned.url()).await;
    assert_eq!((status, version), (StatusCode::OK, Some(v)), "{what}");
    assert!(
        old == then,
        "{what}: the pinned panel is the one served at version {v}"
    );
    (pinned, old)
}

fn listing(symbol: &str) -> ListingSeen {
    let (symbol, unit) = symbol_of_coin(symbol);
    ListingSeen {
        venue_symbol: symbol.clone(),
        symbol,
        size_decimals: Some(2),
        unit,
        max_leverage: Some(10),
        delisted: false,
    }
}

/// The assets Hyperliquid lists in [`fill`] and from which day: the first four that are not
/// stablecoins from the start, the next three from row [`LATE`], the others never.
fn listed_from(panel: &Panel) -> std::collections::HashMap<String, Day> {
    let stable = shared::config::Config::lockstep_default()
        .unwrap()
        .stablecoins;
    panel
        .symbols()
        .iter()
        .filter(|s| !stable.contains(s))
        .take(7)
        .enumerate()
        .map(|(i, s)| {
            let from = if i < 4 {
                panel.start()
            } else {
                panel.day(LATE)
            };
            (s.clone(), from)
        })
        .collect()
}

/// A synthetic market in the store, with Hyperliquid funding beside Binance's on some days
/// (a venue run reads Hyperliquid's first) and, when `listed`, Hyperliquid listings for a few
/// assets only ([`listed_from`]).
async fn fill(store: &server::store::Store, listed: bool) -> Panel {
    let panel = synth_panel(41, N_ASSETS, N_DAYS);
    let mut records = panel_rows(&panel, 0..=N_DAYS - 1, true);
    for (a, s) in panel.symbols().iter().enumerate().step_by(2) {
        for t in (a * 7..N_DAYS).step_by(3) {
            records.push(Record::Funding {
                symbol: s.clone(),
                venue: "hyperliquid".into(),
                day: panel.day(t),
                daily_rate: 0.0004 * (1.0 + (a + t) as f64 % 5.0),
            });
        }
    }
    store.upsert("test", &records).await.unwrap();
    if listed {
        let from = listed_from(&panel);
        let seen: Vec<ListingSeen> = from.keys().map(|s| listing(s)).collect();
        store
            .record_listings("hyperliquid", panel.day(LATE), &seen)
            .await
            .unwrap();
        for (s, first) in &from {
            store
                .backfill_first_day("hyperliquid", s, Some(*first))
                .await
                .unwrap();
        }
    }
    panel
}

fn config_json() -> serde_json::Value {
    let mut c: serde_json::Value =
        serde_json::from_str(shared::config::DEFAULT_CONFIG_JSON).unwrap();
    c["venue"] = serde_json::Value::from("hyperliquid");
    c
}

/// `lockstep backtest --config F --out F.json` on the store at `url`, on its own thread (the
/// command starts its own runtime).
pub fn native(url: &str, config: &serde_json::Value) -> BacktestResult {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("lockstep-venue-panel-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, serde_json::to_vec(config).unwrap()).unwrap();
    let out = dir.join("out.json");
    let url = url.to_string();
    let args = BacktestArgs {
        config: Some(cfg),
        data: None,
        start: None,
        end: None,
        policy: None,
        out: out.clone(),
    };
    std::thread::spawn(move || server::commands::backtest::run(&args, &url).unwrap())
        .join()
        .unwrap();
    let written: BacktestResult = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    written
}

fn app_of(store: server::store::Store) -> axum::Router {
    router(
        AppState::new(store, &std::env::temp_dir(), "127.0.0.1:0".parse().unwrap()).with_web(
            server::WebConfig {
                public_read: true,
                ..server::WebConfig::default()
            },
        ),
    )
}

/// The browser's path: the page's request for the config's venue, decoded and run as the
/// Backtest page runs it.
async fn browser(app: &axum::Router, config: &serde_json::Value) -> BacktestResult {
    let spec = app::spec::spec_of(config.clone());
    let request = app::spec::panel_request(&spec);
    assert_eq!(
        request,
        app::data::PanelRequest::for_venue(VenueScope::Hyperliquid)
    );
    let (status, bytes) = get(app, &request.url()).await;
    assert_eq!(status, StatusCode::OK);
    let (panel, universe) = app::data::decode_panel(&bytes, request).unwrap();
    app::spec::run_on(&spec, &panel, universe.as_ref()).unwrap()
}

fn json(r: &BacktestResult) -> String {
    serde_json::to_string(r).unwrap()
}

#[tokio::test]
async fn a_browser_venue_backtest_equals_the_native_one_bit_for_bit() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "venue_panel").await else {
            continue;
        };
        let panel = fill(&t.store, true).await;
        let config = config_json();
        let native = native(&t.url, &config);
        let app = app_of(server::store::Store::connect(&t.url).await.unwrap());
        let browser = browser(&app, &config).await;

        let u = native.universe.as_ref().unwrap();
        assert!(u.restricted && u.listed_symbols == 7, "{u:?}");
        // Which universe ran, in one line: the seven listed of the assets priced that day.
        let t_end = panel.row_of(native.end).unwrap();
        let priced: Vec<&String> = (0..panel.n_assets())
            .filter(|&a| panel.get(shared::Field::Close, a, t_end).is_finite())
            .map(|a| &panel.symbols()[a])
            .collect();
        let from = listed_from(&panel);
        let listed = priced.iter().filter(|s| from.contains_key(**s)).count();
        assert!(listed > 0 && listed < priced.len());
        assert_eq!(
            u.summary,
            format!(
                "hyperliquid: {listed} of {} assets listed on the last day ({})",
                priced.len(),
                native.end
            )
        );
        assert!(!u.funding_fallbacks.is_empty(), "{u:?}");
        assert_eq!(json(&browser), json(&native), "{engine:?}");
        assert_eq!(
            browser.metrics.total_return.to_bits(),
            native.metrics.total_return.to_bits()
        );

        // Nothing unlisted is ever held, and the listings did bind.
        let from = listed_from(&panel);
        let listed = |s: &str, d: Day| from.get(s).is_some_and(|f| d >= *f);
        assert!(!browser.holdings.is_empty());
        for h in &browser.holdings {
            assert!(
                listed(&h.symbol, h.date),
                "{} held on {} unlisted",
                h.symbol,
                h.date
            );
        }

        // The browser as it was (the default panel, every asset): another result, holding
        // assets Hyperliquid did not list.
        let (status, bytes) = get(&app, &app::data::PanelRequest::default().url()).await;
        assert_eq!(status, StatusCode::OK);
        let (old_panel, none) =
            app::data::decode_panel(&bytes, app::data::PanelRequest::default()).unwrap();
        assert!(none.is_none());
        let (c, settings) = app::spec::compile(&app::spec::spec_of(config.clone())).unwrap();
        let old = shared::backtest::run(&old_panel, &c, &settings).unwrap();
        assert_ne!(
            old.metrics.total_return.to_bits(),
            native.metrics.total_return.to_bits()
        );
        assert!(old.holdings.iter().any(|h| !listed(&h.symbol, h.date)));
        // And the venue's universe cannot be skipped: a venue config on the default panel is
        // refused, not run on every asset.
        let e =
            app::spec::run_on(&app::spec::spec_of(config.clone()), &old_panel, None).unwrap_err();
        assert!(e.contains("venue hyperliquid"), "{e}");
    }
}

/// Without listing data for the venue the run says so (in the browser as natively) instead of
/// passing every asset off as the venue's universe.
#[tokio::test]
async fn without_listings_the_browser_run_says_so() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "venue_panel_none").await else {
            continue;
        };
        let panel = fill(&t.store, false).await;
        let config = config_json();
        let native = native(&t.url, &config);
        let app = app_of(server::store::Store::connect(&t.url).await.unwrap());
        let browser = browser(&app, &config).await;
        assert_eq!(json(&browser), json(&native), "{engine:?}");
        let u = browser.universe.unwrap();
        assert!(!u.restricted, "{u:?}");
        assert!(
            u.note.contains("no listing data for hyperliquid"),
            "{}",
            u.note
        );
        // A link pins the data version: after new bars, `as_of` serves the venue's panel and
        // universe as they were, byte for byte, under the version the header named.
        let request = app::data::PanelRequest::for_venue(VenueScope::Hyperliquid);
        let (_, v1, then) = get_versioned(&app, &request.url()).await;
        let v1 = v1.expect("the data version header");
        assert_eq!(v1, t.store.data_version().await.unwrap());
        let next = Record::Bar {
            symbol: panel.symbols()[0].clone(),
            day: Day(panel.end().0 + 1),
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 1.0,
        };
        t.store.upsert("test", &[next]).await.unwrap();
        let (_, v2, now) = get_versioned(&app, &request.url()).await;
        assert!(v2.unwrap() > v1 && now != then);
        assert_pinned(&app, request, v1, &then, "hyperliquid panel").await;

        // An unknown venue is a 400 naming the parameter.
        let (status, body) = get(&app, "/api/panel?venue=binance").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(&body).contains("`venue`"));
    }
}

/// `lockstep sweep --config F --axis ... --out F.json` on the store at `url`, on its own
/// thread (the command starts its own runtime).
pub fn native_sweep(url: &str, config: &serde_json::Value, axes: &[&str]) -> SweepOutput {
    let (_, written) = native_sweep_run(url, config, axes);
    serde_json::from_slice(&written).unwrap()
}

/// [`native_sweep`]: what `run` returned and the bytes it wrote (JSON).
pub fn native_sweep_run(
    url: &str,
    config: &serde_json::Value,
    axes: &[&str],
) -> (SweepOutput, Vec<u8>) {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("lockstep-venue-sweep-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, serde_json::to_vec(config).unwrap()).unwrap();
    let out = dir.join("out.json");
    let mut argv = vec![
        "sweep".to_string(),
        "--config".into(),
        cfg.display().to_string(),
    ];
    for a in axes {
        argv.extend(["--axis".to_string(), a.to_string()]);
    }
    argv.extend([
        "--threads".to_string(),
        "2".into(),
        "--out".into(),
        out.display().to_string(),
    ]);
    let cli = SweepCli::try_parse_from(argv).unwrap();
    let url = url.to_string();
    let returned =
        std::thread::spawn(move || server::commands::sweep::run(&cli.sweep, &url).unwrap())
            .join()
            .unwrap();
    let written = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (returned, written)
}

#[derive(clap::Parser)]
struct SweepCli {
    #[command(flatten)]
    sweep: server::commands::sweep::SweepArgs,
}

/// A sweep of a venue config trades the venue's universe, natively and in the browser's
/// workers: on a store where Hyperliquid lists seven assets (three of them late), every row's
/// metrics equal the Backtest of its point bit for bit, both report the same universe line, and
/// the browser's rows (the Sweep page's request, jobs through JSON) equal `lockstep sweep`'s.
/// The old path (the default panel, no listings) gives other rows: the test fails without it.
#[tokio::test]
async fn a_venue_sweep_row_equals_the_backtest_of_its_point_bit_for_bit() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "venue_sweep").await else {
            continue;
        };
        fill(&t.store, true).await;
        let config = config_json();
        let axes = ["strategy_weights.size=0.1,0.3", "leverage=0.5,1.5"];
        let out = native_sweep(&t.url, &config, &axes);
        assert_eq!(out.rows.len(), 4);
        let u = out.universe.as_ref().expect("the sweep's universe");
        assert!(u.restricted && u.listed_symbols == 7, "{u:?}");

        // Each row is the Backtest of its point (the point's config, as `lockstep backtest`).
        let cli = SweepCli::try_parse_from(
            ["sweep", "--out", "-"]
                .into_iter()
                .chain(axes.iter().flat_map(|a| ["--axis", a])),
        )
        .unwrap();
        let base = shared::config::Config::from_value(&config).unwrap();
        let built = server::commands::sweep::build(&cli.sweep, base).unwrap();
        for row in &out.rows {
            let point = built.config_at(row.index).unwrap().to_value();
            let backtest = native(&t.url, &point);
            let m = row.metrics.as_ref().expect("row metrics");
            assert_eq!(
                serde_json::to_string(m).unwrap(),
                serde_json::to_string(&backtest.metrics).unwrap(),
                "{engine:?} row {}",
                row.index
            );
            assert_eq!(
                m.total_return.to_bits(),
                backtest.metrics.total_return.to_bits()
            );
            assert_eq!(backtest.universe.as_ref().unwrap().summary, u.summary);
        }

        // The browser: the Sweep page's request for the base config, the workers' jobs.
        let app = app_of(server::store::Store::connect(&t.url).await.unwrap());
        let spec = app::spec::spec_of(config.clone());
        let request = app::spec::panel_request(&spec);
        let (status, bytes) = get(&app, &request.url()).await;
        assert_eq!(status, StatusCode::OK);
        let (panel, universe) = app::data::decode_panel(&bytes, request).unwrap();
        let grid = SweepSpec {
            scope: "blend".into(),
            axes: vec![
                SweepAxisSpec {
                    strategy: "size".into(),
                    param: "weight".into(),
                    from: 0.1,
                    to: 0.3,
                    steps: 2,
                },
                SweepAxisSpec {
                    strategy: String::new(),
                    param: "leverage".into(),
                    from: 0.5,
                    to: 1.5,
                    steps: 2,
                },
            ],
            metric: "sharpe".into(),
            ..Default::default()
        };
        let job = Job {
            backtest: spec.clone(),
            sweep: grid.clone(),
            start: 0,
            end: 4,
            universe: universe.clone(),
        };
        let job: Job = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        let rows = run_job(&panel, &job, &mut SignalCache::default()).unwrap();
        assert_eq!(rows.len(), 4);
        for (b, n) in rows.iter().zip(&out.rows) {
            assert_eq!(b.values, n.values);
            assert_eq!(
                serde_json::to_string(&b.metrics).unwrap(),
                serde_json::to_string(&n.metrics).unwrap(),
                "{engine:?} browser row {}",
                b.index
            );
        }
        let line = sweep_universe(&spec, &grid, &panel, universe.as_ref()).unwrap();
        assert_eq!(line.summary, u.summary);
        // A venue sweep without the venue's universe is refused, not run on every asset.
        let bare = Job {
            universe: None,
            ..job.clone()
        };
        let e = run_job(&panel, &bare, &mut SignalCache::default()).unwrap_err();
        assert!(e.contains("venue hyperliquid"), "{e}");
        // The old path (the default panel, every asset) gives other rows.
        let (status, bytes) = get(&app, &app::data::PanelRequest::default().url()).await;
        assert_eq!(status, StatusCode::OK);
        let (old_panel, _) =
            app::data::decode_panel(&bytes, app::data::PanelRequest::default()).unwrap();
        let old = app::worker::build_sweep(&spec, &grid)
            .unwrap()
            .run_chunk_cached(
                &old_panel,
                0..4,
                &mut SignalCache::default(),
                &mut |_, _| {},
                &|| false,
            )
            .unwrap()
            .rows;
        assert!(old
            .iter()
            .zip(&out.rows)
            .any(|(o, n)| o.metrics.unwrap().total_return.to_bits()
                != n.metrics.unwrap().total_return.to_bits()));
    }
}

/// A pinned venue panel keeps the listings of its data version (issue 13, part 7): after a
/// refresh delists a market, adds another and back-fills an earlier first day, `as_of` serves
/// the venue's panel and universe byte for byte as they were served before, while today's
/// answer carries the new listings. On SQLite and PostgreSQL.
#[tokio::test]
async fn a_pinned_venue_panel_keeps_the_listings_of_its_version() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "venue_pinned_listings").await else {
            continue;
        };
        let panel = fill(&t.store, true).await;
        let app = app_of(server::store::Store::connect(&t.url).await.unwrap());
        let request = app::data::PanelRequest::for_venue(VenueScope::Hyperliquid);
        let (status, v1, then) = get_versioned(&app, &request.url()).await;
        assert_eq!(status, StatusCode::OK);
        let v1 = v1.expect("the data version header");
        let rows_then = t.store.listing_rows("hyperliquid").await.unwrap();

        // The refresh: one early market delisted (tradable up to its last seen day, LATE),
        // a market never listed before appears, and a late one's first day moves earlier.
        let from = listed_from(&panel);
        let mut names: Vec<&String> = from.keys().collect();
        names.sort();
        let early = names
            .iter()
            .find(|s| from[**s] == panel.start())
            .unwrap()
            .to_string();
        let late = names
            .iter()
            .find(|s| from[**s] == panel.day(LATE))
            .unwrap()
            .to_string();
        let new = panel
            .symbols()
            .iter()
            .find(|s| !from.contains_key(*s))
            .unwrap()
            .clone();
        let mut gone = listing(&early);
        gone.delisted = true;
        t.store
            .record_listings("hyperliquid", panel.day(LATE + 100), &[gone, listing(&new)])
            .await
            .unwrap();
        t.store
            .backfill_first_day("hyperliquid", &late, Some(panel.day(LATE - 50)))
            .await
            .unwrap();
        let (_, v2, now) = get_versioned(&app, &request.url()).await;
        assert!(v2.unwrap() > v1, "the listings moved the data version");
        assert_ne!(now, then, "today's venue panel carries the new listings");

        // As of v1: the rows, the panel's bytes and the decoded universe as they were.
        assert_eq!(
            t.store.listing_rows_as_of("hyperliquid", v1).await.unwrap(),
            rows_then,
            "{engine:?}"
        );
        let (pinned, old) = assert_pinned(&app, request, v1, &then, &format!("{engine:?}")).await;
        let (_, u_then) = app::data::decode_panel(&old, pinned).unwrap();
        let (_, u_now) = app::data::decode_panel(&now, request).unwrap();
        let spans = |u: &Option<shared::universe::VenueUniverse>, s: &str| {
            let listings = u.as_ref().and_then(|u| u.listings.as_ref()).unwrap();
            listings
                .iter()
                .find(|(sym, _)| *sym == s)
                .map(|(_, spans)| spans.to_vec())
        };
        assert_ne!(spans(&u_then, &early), spans(&u_now, &early));
        assert_ne!(spans(&u_then, &new), spans(&u_now, &new));
        assert_ne!(spans(&u_then, &late), spans(&u_now, &late));
        // Today's rows as of today's version are today's rows.
        assert_eq!(
            t.store
                .listing_rows_as_of("hyperliquid", v2.unwrap())
                .await
                .unwrap(),
            t.store.listing_rows("hyperliquid").await.unwrap()
        );
    }
}
