//! What a backtest is in the dashboard: the default one and the check that turns a
//! [`BacktestSpec`] (the form, a link, a sweep job) into what the kernels run. The pages and the
//! sweep worker share it.

use crate::data::PanelRequest;
use crate::share::BacktestSpec;
use shared::backtest::{self, BacktestResult, BacktestSettings};
use shared::config::Config;
use shared::sim::Costs;
use shared::universe::VenueUniverse;
use shared::Panel;

/// The default backtest: Lockstep's shipped config, its rebalance settings, the whole panel.
pub fn default_spec() -> BacktestSpec {
    let config = serde_json::from_str(shared::config::DEFAULT_CONFIG_JSON).expect("valid JSON");
    spec_of(config)
}

/// A backtest of `config` over the whole panel with the rebalance policy and costs the config
/// itself names (the defaults' when it does not parse: [`compile`] then says why).
pub fn spec_of(config: serde_json::Value) -> BacktestSpec {
    let rebalance = match Config::from_value(&config) {
        Ok(c) => c.rebalance,
        Err(_) => {
            Config::lockstep_default()
                .expect("the shipped config is valid")
                .rebalance
        }
    };
    BacktestSpec {
        policy: BacktestSettings::default()
            .sim_config(Some(&rebalance))
            .policy,
        fee_bps: rebalance.fee_bps,
        slippage_bps: rebalance.slippage_bps,
        config,
        start: None,
        end: None,
    }
}

/// Validates a spec into what the kernel runs.
///
/// # Errors
/// The config's own message (naming the JSON path), or the bad cost or date range.
pub fn compile(spec: &BacktestSpec) -> Result<(Config, BacktestSettings), String> {
    let config = Config::from_value(&spec.config).map_err(|e| e.to_string())?;
    if !(spec.fee_bps.is_finite() && spec.fee_bps >= 0.0) {
        return Err(format!("fee_bps: {} must be a number ≥ 0", spec.fee_bps));
    }
    if !(spec.slippage_bps.is_finite() && spec.slippage_bps >= 0.0) {
        return Err(format!(
            "slippage_bps: {} must be a number ≥ 0",
            spec.slippage_bps
        ));
    }
    if let (Some(s), Some(e)) = (spec.start, spec.end) {
        if s > e {
            return Err(format!("start {s} is after end {e}"));
        }
    }
    let settings = BacktestSettings {
        start: spec.start,
        end: spec.end,
        policy: Some(spec.policy),
        costs: Some(Costs {
            fee_bps: spec.fee_bps,
            slippage_bps: spec.slippage_bps,
        }),
        ..BacktestSettings::default()
    };
    Ok((config, settings))
}

/// The panel a run of `spec` needs: its config's venue's (the default panel when the config
/// does not parse: the run then fails on the config, with its message).
pub fn panel_request(spec: &BacktestSpec) -> PanelRequest {
    Config::from_value(&spec.config)
        .map(|c| PanelRequest::for_venue(c.venue()))
        .unwrap_or_default()
}

/// The listings a run of `config` trades in and what it says about them, from `universe` (what
/// `/api/panel?venue=` sent with the panel) by the function the server resolves its own with.
/// The Backtest page and the Sweep page's workers both take their universe from here.
///
/// # Errors
/// A config on a real venue whose universe did not come with the panel (rather than running
/// it on every asset).
pub fn venue_listings(
    config: &Config,
    universe: Option<&VenueUniverse>,
) -> Result<
    (
        Option<std::sync::Arc<shared::universe::Listings>>,
        shared::universe::UniverseInfo,
    ),
    String,
> {
    let venue = config.venue();
    match (PanelRequest::for_venue(venue).venue, universe) {
        (None, _) => Ok(shared::universe::resolve(venue.name(), None)),
        (Some(v), Some(u)) if u.venue == v.name() => Ok(u.resolve()),
        (Some(v), _) => Err(format!(
            "the market data for venue {v} (its listings and funding) has not loaded yet"
        )),
    }
}

/// Runs `spec` on `panel` in the universe of its config's venue, as `lockstep backtest` does:
/// `universe` is what `/api/panel?venue=` sent with the panel (see
/// [`crate::data::decode_panel`]), resolved by the same function the server resolves its own
/// with, and the result says which universe ran. A config on a venue whose universe did not
/// come with the panel is refused rather than run on every asset.
///
/// # Errors
/// An invalid spec, a panel without the venue's universe, or the kernel's error.
pub fn run_on(
    spec: &BacktestSpec,
    panel: &Panel,
    universe: Option<&VenueUniverse>,
) -> Result<BacktestResult, String> {
    let (config, settings) = compile(spec)?;
    let (listings, info) = venue_listings(&config, universe)?;
    let mut result = backtest::run_on_venue(panel, &config, &settings, listings.clone())
        .map_err(|e| e.to_string())?;
    let mut info = info;
    info.count_on(panel, listings.as_deref(), result.end);
    result.universe = Some(info);
    Ok(result)
}

/// Whether a run of `spec` reads the account's calibrated costs (`rebalance.cost_model:
/// "calibrated"` in a config that parses).
pub fn needs_calibration(spec: &BacktestSpec) -> bool {
    Config::from_value(&spec.config)
        .is_ok_and(|c| c.rebalance.cost_model == shared::config::CostModel::Calibrated)
}

/// The spec a run of `spec` trades with, and which costs those are: under `rebalance.cost_model:
/// "calibrated"` its fee and slippage become what `calibration` (`GET /api/costs`) measured on
/// the config's venue, by the rule `lockstep backtest` and `lockstep sweep` resolve theirs with
/// ([`crate::api::costs::resolve`]; the fixed numbers are the spec's own, the form's). Too few
/// fills, or no calibration (`Err`: why), run the fixed numbers and say so. `pinned`: the costs
/// a link that pins its data version ran with, used instead of today's calibration.
pub fn with_costs(
    spec: &BacktestSpec,
    calibration: Result<&crate::api::costs::CalibratedCosts, String>,
    pinned: Option<&crate::api::costs::ResolvedCosts>,
) -> (BacktestSpec, crate::api::costs::ResolvedCosts) {
    use crate::api::costs::{calibration_venue, resolve, ResolvedCosts};
    use shared::config::CostModel;
    let fixed = Costs {
        fee_bps: spec.fee_bps,
        slippage_bps: spec.slippage_bps,
    };
    let Ok(config) = Config::from_value(&spec.config) else {
        // The run fails on the config, with its message.
        return (spec.clone(), resolve(CostModel::Fixed, fixed, Err("")));
    };
    let model = config.rebalance.cost_model;
    let resolved = match pinned {
        Some(p) if model == CostModel::Calibrated => ResolvedCosts {
            note: Some(format!(
                "as the link ran on its data: {}",
                p.note.clone().unwrap_or_else(|| p.used.name().to_string())
            )),
            ..p.clone()
        },
        _ => {
            let venue = calibration_venue(config.venue());
            let measured = calibration.and_then(|c| {
                c.venue(venue)
                    .cloned()
                    .ok_or_else(|| format!("the server has no cost calibration for {venue}"))
            });
            match &measured {
                Ok(m) => resolve(model, fixed, Ok(m)),
                Err(why) => resolve(model, fixed, Err(why.as_str())),
            }
        }
    };
    let mut run = spec.clone();
    run.fee_bps = resolved.costs.fee_bps;
    run.slippage_bps = resolved.costs.slippage_bps;
    (run, resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn default_spec_compiles_and_mirrors_the_cli_defaults() {
        let spec = default_spec();
        let (config, settings) = compile(&spec).unwrap();
        let cli = BacktestSettings::default().sim_config(Some(&config.rebalance));
        let ours = settings.sim_config(Some(&config.rebalance));
        assert_eq!(cli, ours, "the page's default run is the CLI's default run");
    }

    #[test]
    fn bad_edits_name_the_json_path() {
        let mut spec = default_spec();
        spec.config["params"]["beta"]["beta_window"] = Value::from(1);
        let err = compile(&spec).unwrap_err();
        assert!(err.contains("params.beta.beta_window"), "{err}");
        spec = default_spec();
        spec.fee_bps = -1.0;
        assert!(compile(&spec).unwrap_err().contains("fee_bps"));
    }

    #[test]
    fn a_calibrated_spec_runs_the_venues_measured_costs_else_its_own() {
        use crate::api::costs::{CalibratedCosts, VenueCosts};
        use shared::config::CostModel;
        let venue = |name: &str, fills: usize, fee: f64| VenueCosts {
            venue: name.into(),
            from: shared::Day(20_000),
            to: shared::Day(20_089),
            fills,
            traded_notional: 1e6,
            fee_bps: Some(fee),
            slippage_bps: Some(3.0),
        };
        let calib = CalibratedCosts {
            window_days: 90,
            min_fills: 10,
            venues: vec![venue("paper", 156, 5.99), venue("hyperliquid", 3, 4.0)],
        };
        let mut spec = default_spec();
        assert!(!needs_calibration(&spec));
        let (run, r) = with_costs(&spec, Ok(&calib), None);
        assert_eq!(
            (run, r.used, r.note),
            (spec.clone(), CostModel::Fixed, None)
        );

        spec.config["rebalance"]["cost_model"] = Value::from("calibrated");
        assert!(needs_calibration(&spec));
        let (run, r) = with_costs(&spec, Ok(&calib), None);
        assert_eq!(r.used, CostModel::Calibrated);
        assert_eq!((run.fee_bps, run.slippage_bps), (5.99, 3.0));
        assert!(r.note.unwrap().contains("156 fills on paper"));
        // Hyperliquid has 3 fills: the form's numbers, with the reason.
        spec.config["venue"] = Value::from("hyperliquid");
        let (run, r) = with_costs(&spec, Ok(&calib), None);
        assert_eq!(r.used, CostModel::Fixed);
        assert_eq!(
            (run.fee_bps, run.slippage_bps),
            (spec.fee_bps, spec.slippage_bps)
        );
        assert!(r.note.unwrap().contains("only 3 fills on hyperliquid"));
        let (_, r) = with_costs(&spec, Err("HTTP 401".into()), None);
        assert!(r.note.unwrap().contains("HTTP 401"));
        // A pinned link's costs win over today's calibration.
        let (_, ran) = with_costs(&default_spec_calibrated(), Ok(&calib), None);
        let (run, r) = with_costs(&spec, Err("offline".into()), Some(&ran));
        assert_eq!((run.fee_bps, r.used), (5.99, CostModel::Calibrated));
    }

    fn default_spec_calibrated() -> BacktestSpec {
        let mut spec = default_spec();
        spec.config["rebalance"]["cost_model"] = Value::from("calibrated");
        spec
    }
}
