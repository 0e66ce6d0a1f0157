//! `rebalance.cost_model: "calibrated"` beyond `lockstep backtest`: on a store whose paper
//! account has a month of fills (the live cycle on the paper broker), `lockstep sweep` trades the calibrated costs
//! `lockstep backtest` trades (one function resolves both, the notice is in the sweep's JSON),
//! so the sweep's row of a point is the backtest of that point bit for bit; `GET /api/costs`
//! serves the same measurement per venue (signed in only), and the browser's path
//! (`app::spec::with_costs` on it, then `app::spec::run_on` on `/api/panel`) gives the same
//! metrics again. The fixed costs give other metrics: the test fails if a path ignores the
//! model.

use crate::common::{
    cycle_ms, cycle_on, panel_records, paper_service, signed_in, store_synthetic, synth_panel,
};
use crate::venue_panel::{native, native_sweep_run};
use app::api::costs::CalibratedCosts;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use server::live::{Clock, FixedClock, LiveSettings};
use server::store::testing::{Engine, TestStore};
use shared::config::{Config, CostModel};
use std::sync::Arc;
use tower::ServiceExt;

/// Risk limits that never block: every day trades. The paper venue charges 6 bps and fills
/// 15 bps away from the close (the config assumes 10 bps and no slippage), so the calibrated
/// costs are other numbers than the fixed ones.
fn settings() -> LiveSettings {
    let mut s = LiveSettings::default();
    s.paper.fee_bps = Some(6.0);
    s.paper.slippage_bps = Some(15.0);
    s.risk.max_gross_leverage = 100.0;
    s.risk.max_weight_per_symbol = 100.0;
    s.risk.max_order_notional = 1e12;
    s.risk.max_daily_turnover = 1e6;
    s
}

async fn get(app: &axum::Router, uri: &str, cookie: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut req = Request::get(uri);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

fn metrics_json(m: &shared::metrics::Metrics) -> String {
    serde_json::to_string(m).unwrap()
}

#[tokio::test]
async fn a_calibrated_sweep_point_is_the_calibrated_backtest_bit_for_bit() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "calibrated_costs").await else {
            continue;
        };
        let panel = synth_panel(11, 25, 320);
        store_synthetic(
            &t.store,
            "test panel",
            &panel_records(&panel, panel.n_days() - 1),
        )
        .await;
        // A month of paper trading: the account's fills.
        let config = Config::lockstep_default().unwrap();
        let last = panel.day(panel.n_days() - 1);
        let clock = Arc::new(FixedClock::new(cycle_ms(last)));
        let live = paper_service(&t.store, settings(), clock.clone());
        for i in (0..30).rev() {
            let id = cycle_on(&live, &clock, shared::Day(last.0 - i), 0).await;
            clock.set(clock.now_ms() + 60_000);
            let done = live.approve(&id, "test").await.unwrap();
            assert_eq!(done.summary.status, "done", "{:?}", done.note);
        }

        let fixed = config.to_value();
        let mut calibrated = fixed.clone();
        calibrated["rebalance"]["cost_model"] = "calibrated".into();
        let axis = format!("leverage={}", config.leverage);

        // `lockstep backtest` and `lockstep sweep` (one point: the config itself).
        let bt = native(&t.url, &calibrated);
        // (One point: its statistics are undefined, NaN, which the JSON writes as null.)
        let (sw, written) = native_sweep_run(&t.url, &calibrated, &[&axis]);
        let written: serde_json::Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(
            written["costs"]["used"], "calibrated",
            "the JSON's new field"
        );
        assert_eq!(
            written["costs"]["note"],
            serde_json::to_value(&sw.costs.as_ref().unwrap().note).unwrap()
        );
        let costs = sw.costs.clone().expect("the sweep reports its costs");
        assert_eq!(costs.used, CostModel::Calibrated, "{engine:?} {costs:?}");
        assert!((costs.costs.fee_bps - 6.0).abs() < 1.0, "{costs:?}");
        assert!((costs.costs.slippage_bps - 15.0).abs() < 3.0, "{costs:?}");
        let note = costs.note.clone().unwrap();
        assert!(note.contains("fills on paper ("), "{note}");
        assert_eq!(sw.rows.len(), 1);
        let row = sw.rows[0].metrics.as_ref().expect("row metrics");
        assert_eq!(
            metrics_json(row),
            metrics_json(&bt.metrics),
            "{engine:?}: the calibrated sweep row is the calibrated backtest"
        );
        assert_eq!(
            row.total_return.to_bits(),
            bt.metrics.total_return.to_bits()
        );
        // The fixed costs are other numbers: a sweep that ignored the model would differ.
        let bt_fixed = native(&t.url, &fixed);
        assert_ne!(
            bt_fixed.metrics.total_return.to_bits(),
            bt.metrics.total_return.to_bits(),
            "{engine:?}: calibrated {costs:?} vs the config's 10 bps"
        );
        let (sw_fixed, _) = native_sweep_run(&t.url, &fixed, &[&axis]);
        let fixed_costs = sw_fixed.costs.expect("the fixed sweep reports its costs");
        assert_eq!(
            (fixed_costs.used, fixed_costs.note),
            (CostModel::Fixed, None)
        );
        assert_eq!(
            metrics_json(sw_fixed.rows[0].metrics.as_ref().unwrap()),
            metrics_json(&bt_fixed.metrics)
        );

        // `GET /api/costs`: the same measurement per venue, for signed-in users only.
        let store = server::store::Store::connect(&t.url).await.unwrap();
        let (cookie, _) = signed_in(&store, "vic", app::api::Role::Viewer).await;
        let app = server::router(server::AppState::new(
            store,
            &std::env::temp_dir(),
            "127.0.0.1:0".parse().unwrap(),
        ));
        let (status, body) = get(&app, "/api/costs", None).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{}",
            String::from_utf8_lossy(&body)
        );
        let (status, body) = get(&app, "/api/costs", Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["window_days"], 90);
        assert_eq!(json["min_fills"], 10);
        let venues: Vec<&str> = json["venues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["venue"].as_str().unwrap())
            .collect();
        assert_eq!(venues, ["paper", "hyperliquid"]);
        let paper = &json["venues"][0];
        assert_eq!(paper["to"], last.to_string());
        assert_eq!(paper["from"], shared::Day(last.0 - 89).to_string());
        for key in ["fills", "traded_notional", "fee_bps", "slippage_bps"] {
            assert!(paper.get(key).is_some(), "{key} in {paper}");
        }
        assert!(paper["fills"].as_u64().unwrap() >= 10, "{paper}");
        assert!(
            note.contains(&format!("{} fills on paper", paper["fills"])),
            "{note}"
        );
        assert_eq!(json["venues"][1]["fills"], 0);
        assert!(json["venues"][1]["fee_bps"].is_null());
        let calib: CalibratedCosts = serde_json::from_slice(&body).unwrap();
        let (status, body) = get(&app, "/api/costs?venue=any", Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK);
        let one: CalibratedCosts = serde_json::from_slice(&body).unwrap();
        assert_eq!(one.venues, calib.venues[..1]);
        for bad in ["/api/costs?venue=binance", "/api/costs?from=2024-01-01"] {
            let (status, body) = get(&app, bad, Some(&cookie)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(
                String::from_utf8_lossy(&body).contains('`'),
                "{bad}: names the parameter"
            );
        }

        // The browser: the Backtest page's spec, its costs from the endpoint, its panel.
        let spec = app::spec::spec_of(calibrated.clone());
        let (run_spec, resolved) = app::spec::with_costs(&spec, Ok(&calib), None);
        assert_eq!(
            resolved, costs,
            "{engine:?}: the browser resolves what the CLI resolved"
        );
        let request = app::spec::panel_request(&spec);
        let (status, bytes) = get(&app, &request.url(), Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK);
        let (panel, universe) = app::data::decode_panel(&bytes, request).unwrap();
        let browser = app::spec::run_on(&run_spec, &panel, universe.as_ref()).unwrap();
        assert_eq!(
            metrics_json(&browser.metrics),
            metrics_json(&bt.metrics),
            "{engine:?}: the browser's calibrated run is the CLI's"
        );
    }
}
