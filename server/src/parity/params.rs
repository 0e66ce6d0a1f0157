//! The parameter audit: the live config against the backtest config it is compared with, key by
//! key, on the parameters that take effect.
//!
//! The predecessor's live size strategy weighted by inverse volatility while its backtest used
//! equal weights, and nothing showed it: the two configs only differed in a key one of them left
//! to its default. So this audit compares *effective* values
//! ([`shared::strategies::effective_params`]: the config's value, else the strategy's
//! default), never the spelling: a default written out on one side and left implicit on the other
//! is the same parameter.
//!
//! Rows: the portfolio level (`strategy` = `""`: strategy weights and caps, leverage, fixed
//! strategies, stablecoins, the rebalance policy and the cost model), then every strategy either
//! config names, with every key its constructor reads.

use super::ParityError;
use app::api::{ParameterAudit, ParameterRow};
use serde_json::Value;
use shared::config::Config;
use std::collections::{BTreeMap, BTreeSet};

/// Where the default backtest config comes from: what `lockstep backtest` runs without
/// `--config`.
pub const DEFAULT_BACKTEST_SOURCE: &str =
    "default (config/strategies.json, as `lockstep backtest`)";

/// The backtest config `lockstep backtest` uses without `--config`: Lockstep's shipped one.
///
/// # Errors
/// Never for the embedded file (shared's tests parse it).
pub fn default_backtest_config() -> Result<Config, ParityError> {
    Config::lockstep_default().map_err(|e| ParityError::Config(format!("shipped config: {e}")))
}

/// Parses a backtest config given as JSON text; `what` names where it came from (a file path,
/// the `backtest_config` query parameter) and leads the error, followed by the JSON path.
///
/// # Errors
/// [`ParityError::Config`]: invalid JSON or an invalid config, naming the path of the bad key.
pub fn parse_backtest_config(text: &str, what: &str) -> Result<Config, ParityError> {
    Config::from_json(text).map_err(|e| ParityError::Config(format!("{what}: {e}")))
}

/// Numbers compare by value (`20` and `20.0` are one parameter), everything else exactly.
fn same_value(a: &Option<Value>, b: &Option<Value>) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn num(x: f64) -> Value {
    Value::from(x)
}

/// Portfolio-level keys and their effective values.
fn portfolio_keys(config: &Config, strategies: &BTreeSet<String>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for name in strategies {
        // A strategy a config does not name has weight 0: that is its effective weight.
        out.insert(format!("strategy_weights.{name}"), num(config.weight(name)));
    }
    for (name, cap) in &config.strategy_caps {
        out.insert(format!("strategy_caps.{name}"), num(*cap));
    }
    out.insert("leverage".into(), num(config.leverage));
    let mut fixed = config.fixed_strategies.clone();
    fixed.sort();
    out.insert("fixed_strategies".into(), Value::from(fixed));
    let mut stable = config.stablecoins.clone();
    stable.sort();
    out.insert("stablecoins".into(), Value::from(stable));
    let r = &config.rebalance;
    out.insert("rebalance.policy".into(), Value::from(r.policy.name()));
    out.insert("rebalance.threshold".into(), num(r.threshold));
    out.insert("rebalance.fee_bps".into(), num(r.fee_bps));
    out.insert("rebalance.slippage_bps".into(), num(r.slippage_bps));
    out.insert(
        "rebalance.stale_days".into(),
        Value::from(u64::from(r.stale_days)),
    );
    out
}

/// Effective params of every strategy `config` names.
fn strategy_keys(
    config: &Config,
) -> Result<BTreeMap<String, BTreeMap<String, Value>>, ParityError> {
    let empty = shared::strategies::params::ParamMap::new();
    config
        .strategy_names()
        .into_iter()
        .map(|name| {
            let params = config.params.get(&name).unwrap_or(&empty);
            let effective = shared::strategies::effective_params(&name, params)
                .map_err(|e| ParityError::Config(e.to_string()))?;
            Ok((name, effective))
        })
        .collect()
}

fn rows_of(
    strategy: &str,
    live: Option<&BTreeMap<String, Value>>,
    backtest: Option<&BTreeMap<String, Value>>,
    out: &mut Vec<ParameterRow>,
) {
    let keys: BTreeSet<&String> = live
        .into_iter()
        .chain(backtest)
        .flat_map(|m| m.keys())
        .collect();
    for key in keys {
        let l = live.and_then(|m| m.get(key)).cloned();
        let b = backtest.and_then(|m| m.get(key)).cloned();
        out.push(ParameterRow {
            strategy: strategy.to_string(),
            key: key.clone(),
            same: same_value(&l, &b),
            live: l,
            backtest: b,
        });
    }
}

/// The audit of `live` against `backtest`; `backtest_source` says where the backtest config came
/// from.
///
/// # Errors
/// A strategy whose params no longer build (a config that was validated cannot fail).
pub fn audit(
    live: &Config,
    backtest: &Config,
    backtest_source: &str,
) -> Result<ParameterAudit, ParityError> {
    let names: BTreeSet<String> = live
        .strategy_names()
        .into_iter()
        .chain(backtest.strategy_names())
        .collect();
    let mut rows = Vec::new();
    rows_of(
        "",
        Some(&portfolio_keys(live, &names)),
        Some(&portfolio_keys(backtest, &names)),
        &mut rows,
    );
    let (live_s, backtest_s) = (strategy_keys(live)?, strategy_keys(backtest)?);
    for name in &names {
        rows_of(name, live_s.get(name), backtest_s.get(name), &mut rows);
    }
    let differing = rows.iter().filter(|r| !r.same).count();
    Ok(ParameterAudit {
        live_config_version: crate::live::config_identity(live).1,
        backtest_config_version: crate::live::config_identity(backtest).1,
        backtest_config_source: backtest_source.to_string(),
        rows,
        differing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(json_edit: impl FnOnce(&mut Value)) -> Config {
        let mut v: Value = serde_json::from_str(shared::config::DEFAULT_CONFIG_JSON).unwrap();
        json_edit(&mut v);
        Config::from_value(&v).unwrap()
    }

    #[test]
    fn identical_configs_differ_nowhere() {
        let c = Config::lockstep_default().unwrap();
        let a = audit(&c, &c, "same").unwrap();
        assert_eq!(a.differing, 0);
        assert_eq!(a.live_config_version, a.backtest_config_version);
        // Every strategy's effective keys are listed, defaults included.
        assert!(a
            .rows
            .iter()
            .any(|r| r.strategy == "size" && r.key == "weighting_method"));
        assert!(a
            .rows
            .iter()
            .any(|r| r.strategy.is_empty() && r.key == "rebalance.fee_bps"));
    }

    #[test]
    fn a_default_written_out_is_the_same_parameter() {
        let live = Config::lockstep_default().unwrap();
        let bt = with(|v| v["params"]["size"]["weighting_method"] = "risk_parity".into());
        let a = audit(&live, &bt, "file").unwrap();
        assert_eq!(a.differing, 0, "{:?}", a.rows.iter().find(|r| !r.same));
        assert_ne!(a.live_config_version, a.backtest_config_version);
    }

    #[test]
    fn the_predecessors_weighting_difference_is_found_and_nothing_else() {
        let live = Config::lockstep_default().unwrap();
        let bt = with(|v| v["params"]["size"]["weighting_method"] = "equal_weight".into());
        let a = audit(&live, &bt, "file").unwrap();
        let diff: Vec<&ParameterRow> = a.rows.iter().filter(|r| !r.same).collect();
        assert_eq!(a.differing, 1);
        assert_eq!(diff.len(), 1);
        assert_eq!(diff[0].strategy, "size");
        assert_eq!(diff[0].key, "weighting_method");
        assert_eq!(diff[0].live, Some(Value::from("risk_parity")));
        assert_eq!(diff[0].backtest, Some(Value::from("equal_weight")));
    }

    #[test]
    fn portfolio_keys_and_missing_strategies_are_compared() {
        let live = Config::lockstep_default().unwrap();
        let bt = with(|v| {
            v["rebalance"] = serde_json::json!({"fee_bps": 5});
            v["params"].as_object_mut().unwrap().remove("carry");
            v["strategy_weights"]
                .as_object_mut()
                .unwrap()
                .remove("carry");
        });
        let a = audit(&live, &bt, "file").unwrap();
        let fee = a
            .rows
            .iter()
            .find(|r| r.key == "rebalance.fee_bps")
            .unwrap();
        assert!(!fee.same);
        assert_eq!(fee.backtest, Some(Value::from(5.0)));
        // carry had weight 0 on the live side: the weight row agrees, its params exist on one
        // side only.
        let w = a
            .rows
            .iter()
            .find(|r| r.key == "strategy_weights.carry")
            .unwrap();
        assert!(w.same);
        let carry: Vec<&ParameterRow> = a.rows.iter().filter(|r| r.strategy == "carry").collect();
        assert!(!carry.is_empty());
        assert!(carry.iter().all(|r| r.backtest.is_none() && !r.same));
    }

    #[test]
    fn bad_json_names_its_path() {
        let e = parse_backtest_config(r#"{"params": {"size": {"top_n": -1}}}"#, "backtest_config")
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("backtest_config") && msg.contains("params.size.top_n"),
            "{msg}"
        );
        let e = parse_backtest_config("{not json", "file x.json").unwrap_err();
        assert!(e.to_string().contains("file x.json"), "{e}");
    }
}
