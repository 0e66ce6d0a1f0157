//! What a backtest is in the dashboard: the default one and the check that turns a
//! [`BacktestSpec`] (the form, a link, a sweep job) into what the kernels run. The pages and the
//! sweep worker share it.

use crate::share::BacktestSpec;
use shared::backtest::BacktestSettings;
use shared::config::Config;
use shared::sim::Costs;

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
}
