//! The strategy configuration: the predecessor's `all_strategies_config.json` format, read as-is.

pub use crate::error::ConfigError;

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use crate::strategies::params::ParamMap;
use crate::strategies::{self, Strategy, STRATEGY_NAMES};

/// Lockstep's default configuration (`config/strategies.json`), embedded so that the browser and
/// tests can use it without touching a filesystem.
pub const DEFAULT_CONFIG_JSON: &str = include_str!("../../config/strategies.json");

/// Strategies that keep their weight when others are inactive, when the config is silent.
pub const DEFAULT_FIXED_STRATEGIES: &[&str] = &["breakout", "days_from_high"];

/// Stablecoins excluded from every cross-section, when the config is silent. Stable assets have
/// near-zero volatility, so under inverse-vol weighting they would take most of a side.
pub const DEFAULT_STABLECOINS: &[&str] = &[
    "USDT", "USDC", "DAI", "BUSD", "TUSD", "USDP", "GUSD", "FDUSD", "PYUSD", "USDE", "USDS",
    "FRAX", "LUSD", "USDD", "EURC", "EURT", "SUSD", "CUSD", "USTC", "UST", "PAX", "HUSD", "USDK",
    "USDJ", "USD1", "RLUSD", "CRVUSD", "GHO", "USDB", "USDX", "XUSD", "EURS", "USDG", "USD0",
    "PAXG", "XAUT",
];

/// How the portfolio trades towards its targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Trade every symbol to target on every rebalance date.
    Time,
    /// Trade a symbol only when it drifts more than `threshold` (NAV weight) from target.
    Threshold,
}

impl PolicyKind {
    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Time => "time",
            PolicyKind::Threshold => "threshold",
        }
    }
}

/// The top-level `venue`: whose tradable universe (and, where the panel has it, funding) a run
/// uses. `any` is every priced asset, as the predecessor's backtests did; a real venue also
/// drops, day by day, the assets it did not list (docs/strategies.md, "Eligible universe").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum VenueScope {
    /// Every asset with data (the predecessor's universe; files without `venue` load as this).
    #[default]
    Any,
    /// Hyperliquid perpetuals: the assets its listing history shows tradable that day.
    Hyperliquid,
    /// Lockstep's paper venue: every priced symbol.
    Paper,
}

impl VenueScope {
    /// Every config spelling, in the order the error message lists them.
    pub const NAMES: &'static [&'static str] = &["hyperliquid", "paper", "any"];

    /// The config spelling (`"hyperliquid"`, `"paper"`, `"any"`).
    pub fn name(self) -> &'static str {
        match self {
            VenueScope::Any => "any",
            VenueScope::Hyperliquid => "hyperliquid",
            VenueScope::Paper => "paper",
        }
    }

    /// Parses a config spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<VenueScope> {
        match s {
            "any" => Some(VenueScope::Any),
            "hyperliquid" => Some(VenueScope::Hyperliquid),
            "paper" => Some(VenueScope::Paper),
            _ => None,
        }
    }

    /// A real venue (one whose lots, listings and funding a run can follow), not `any`.
    pub fn is_real(self) -> bool {
        self != VenueScope::Any
    }
}

impl std::fmt::Display for VenueScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The top-level `rebalance` section: execution policy and costs.
#[derive(Clone, Debug, PartialEq)]
pub struct RebalanceSettings {
    /// `policy`: `threshold` (default, like live trading) or `time`.
    pub policy: PolicyKind,
    /// `threshold`: per-symbol band in NAV weight (default 0.03).
    pub threshold: f64,
    /// `fee_bps` on traded notional (default 10).
    pub fee_bps: f64,
    /// `slippage_bps` on traded notional (default 0).
    pub slippage_bps: f64,
    /// `stale_days`: a held asset missing this many days in a row is closed (default 7).
    pub stale_days: u32,
    /// `venue_rules`: round every trade to the venue's lots and drop those under its minimum,
    /// as the live plan does. `None` (the key absent): on when the config names a real venue.
    pub venue_rules: Option<bool>,
    /// `capital`: the account size in USD the venue's lots and minimum apply at (default
    /// 100,000, the paper account's starting cash). Read only under venue rules.
    pub capital: f64,
    /// `cost_model`: `fixed` (default: `fee_bps` and `slippage_bps` as written) or
    /// `calibrated` (the fee and slippage the account's own fills show, resolved by the server
    /// before a run; too few fills fall back to `fixed`, with a notice).
    pub cost_model: CostModel,
}

/// Where a run's fee and slippage come from (`rebalance.cost_model`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CostModel {
    /// `fee_bps` and `slippage_bps` of the config.
    #[default]
    Fixed,
    /// The cost calibration of the account's fills on the venue.
    Calibrated,
}

impl CostModel {
    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            CostModel::Fixed => "fixed",
            CostModel::Calibrated => "calibrated",
        }
    }
}

/// The account size venue rules apply at when the config does not say.
pub const DEFAULT_CAPITAL: f64 = 100_000.0;

impl RebalanceSettings {
    /// Whether the simulator trades on the venue's lots: `venue_rules` when written, else
    /// `real_venue` (the config names a venue with listings, not `any`).
    pub fn venue_rules_on(&self, real_venue: bool) -> bool {
        self.venue_rules.unwrap_or(real_venue)
    }
}

impl Default for RebalanceSettings {
    fn default() -> Self {
        RebalanceSettings {
            policy: PolicyKind::Threshold,
            threshold: 0.03,
            fee_bps: 10.0,
            slippage_bps: 0.0,
            stale_days: 7,
            venue_rules: None,
            capital: DEFAULT_CAPITAL,
            cost_model: CostModel::Fixed,
        }
    }
}

/// A parsed, validated strategy configuration.
///
/// The file format is the predecessor's: `strategy_weights` (name → weight) and `params`
/// (name → object). Lockstep adds optional top-level keys: `strategy_caps`, `leverage`,
/// `fixed_strategies`, `stablecoins` and `rebalance`.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Strategy name → capital weight (>= 0). Strategies only in `params` have weight 0.
    pub strategy_weights: BTreeMap<String, f64>,
    /// Strategy name → its raw params, kept verbatim (comments included) for serialisation.
    pub params: BTreeMap<String, ParamMap>,
    /// Optional per-strategy caps on the effective weight.
    pub strategy_caps: BTreeMap<String, f64>,
    /// Multiplies every blended weight (default 1).
    pub leverage: f64,
    /// Strategies that never scale up when others are inactive.
    pub fixed_strategies: Vec<String>,
    /// Bases excluded from every strategy's universe.
    pub stablecoins: Vec<String>,
    pub rebalance: RebalanceSettings,
    /// The top-level `venue` as written; `None` when the file is silent (then the run uses
    /// [`VenueScope::Any`], see [`Config::venue`]). Kept as written so that a file without the
    /// key round-trips without it.
    pub venue_setting: Option<VenueScope>,
    /// Top-level comment keys (leading `_`), kept verbatim.
    pub comments: BTreeMap<String, Value>,
    /// JSON paths of keys that were accepted but ignored (comments, unused predecessor keys).
    pub ignored: Vec<String>,
}

impl Default for Config {
    /// An empty config: no strategies, all Lockstep defaults.
    fn default() -> Self {
        Config {
            strategy_weights: BTreeMap::new(),
            params: BTreeMap::new(),
            strategy_caps: BTreeMap::new(),
            leverage: 1.0,
            fixed_strategies: DEFAULT_FIXED_STRATEGIES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            stablecoins: DEFAULT_STABLECOINS.iter().map(|s| s.to_string()).collect(),
            rebalance: RebalanceSettings::default(),
            venue_setting: None,
            comments: BTreeMap::new(),
            ignored: Vec::new(),
        }
    }
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "fixed_strategies",
    "leverage",
    "params",
    "rebalance",
    "stablecoins",
    "strategy_caps",
    "strategy_weights",
    "venue",
];
const REBALANCE_KEYS: &[&str] = &[
    "capital",
    "cost_model",
    "fee_bps",
    "policy",
    "slippage_bps",
    "stale_days",
    "threshold",
    "venue_rules",
];

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

fn as_object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ConfigError> {
    v.as_object()
        .ok_or_else(|| invalid(path, format!("must be an object, got {v}")))
}

fn finite(v: &Value, path: &str, min: f64) -> Result<f64, ConfigError> {
    match v.as_f64() {
        Some(x) if x.is_finite() && x >= min => Ok(x),
        _ => Err(invalid(
            path,
            format!("must be a finite number >= {min}, got {v}"),
        )),
    }
}

fn strategy_name(name: &str, path: &str) -> Result<(), ConfigError> {
    if STRATEGY_NAMES.contains(&name) {
        Ok(())
    } else {
        Err(ConfigError::UnknownStrategy {
            path: path.to_string(),
            name: name.to_string(),
            valid: STRATEGY_NAMES.iter().map(|s| s.to_string()).collect(),
        })
    }
}

fn string_list(v: &Value, path: &str) -> Result<Vec<String>, ConfigError> {
    let arr = v
        .as_array()
        .ok_or_else(|| invalid(path, format!("must be a list of strings, got {v}")))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_str().map(str::to_string).ok_or_else(|| {
                invalid(format!("{path}[{i}]"), format!("must be a string, got {x}"))
            })
        })
        .collect()
}

/// Writes `x` as a JSON integer when it is one (so `40.0` from a sweep prints as `40`).
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::Number(Number::from(x as i64))
    } else {
        Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

impl Config {
    /// Parses and validates a config file's text.
    ///
    /// # Errors
    /// Invalid JSON, unknown keys or strategies, or invalid values; each with its JSON path.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let v: Value = serde_json::from_str(text).map_err(|e| ConfigError::Json {
            path: "$".into(),
            message: e.to_string(),
        })?;
        Config::from_value(&v)
    }

    /// Lockstep's shipped default configuration.
    ///
    /// # Errors
    /// Never for the embedded file (a test proves it); `Result` because it is parsed.
    pub fn lockstep_default() -> Result<Config, ConfigError> {
        Config::from_json(DEFAULT_CONFIG_JSON)
    }

    /// Parses and validates an already-decoded JSON value.
    ///
    /// # Errors
    /// As [`Config::from_json`].
    pub fn from_value(v: &Value) -> Result<Config, ConfigError> {
        let top = as_object(v, "$")?;
        let mut c = Config::default();
        for (key, value) in top {
            match key.as_str() {
                "strategy_weights" => {
                    for (name, w) in as_object(value, key)? {
                        let path = format!("strategy_weights.{name}");
                        strategy_name(name, &path)?;
                        c.strategy_weights
                            .insert(name.clone(), finite(w, &path, 0.0)?);
                    }
                }
                "params" => {
                    for (name, p) in as_object(value, key)? {
                        let path = format!("params.{name}");
                        if name.starts_with('_') {
                            c.ignored.push(path);
                            continue;
                        }
                        strategy_name(name, &path)?;
                        let map: ParamMap = as_object(p, &path)?
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        c.params.insert(name.clone(), map);
                    }
                }
                "strategy_caps" => {
                    for (name, cap) in as_object(value, key)? {
                        let path = format!("strategy_caps.{name}");
                        strategy_name(name, &path)?;
                        c.strategy_caps
                            .insert(name.clone(), finite(cap, &path, 0.0)?);
                    }
                }
                "leverage" => c.leverage = finite(value, key, 0.0)?,
                "fixed_strategies" => {
                    c.fixed_strategies = string_list(value, key)?;
                    for (i, name) in c.fixed_strategies.iter().enumerate() {
                        strategy_name(name, &format!("fixed_strategies[{i}]"))?;
                    }
                }
                "stablecoins" => c.stablecoins = string_list(value, key)?,
                "rebalance" => c.rebalance = parse_rebalance(value)?,
                "venue" => c.venue_setting = Some(parse_venue(value)?),
                k if k.starts_with('_') => {
                    c.ignored.push(k.to_string());
                    c.comments.insert(k.to_string(), value.clone());
                }
                _ => {
                    return Err(ConfigError::UnknownKey {
                        path: key.clone(),
                        valid: TOP_LEVEL_KEYS.iter().map(|s| s.to_string()).collect(),
                    })
                }
            }
        }
        let names: Vec<String> = c.strategy_names();
        for name in names {
            let ignored = c.validate_strategy(&name)?;
            c.ignored.extend(ignored);
        }
        Ok(c)
    }

    /// The venue whose universe a run trades: the `venue` key, or `any` when the file is silent.
    pub fn venue(&self) -> VenueScope {
        self.venue_setting.unwrap_or_default()
    }

    /// Every strategy named in `strategy_weights` or `params`, sorted.
    pub fn strategy_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .strategy_weights
            .keys()
            .chain(self.params.keys())
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The configured weight of `name` (0 when absent).
    pub fn weight(&self, name: &str) -> f64 {
        self.strategy_weights.get(name).copied().unwrap_or(0.0)
    }

    /// Builds `name` from its params (empty params when absent).
    ///
    /// # Errors
    /// As [`strategies::build`].
    pub fn build_strategy(&self, name: &str) -> Result<Box<dyn Strategy>, ConfigError> {
        let empty = ParamMap::new();
        strategies::build(name, self.params.get(name).unwrap_or(&empty))
    }

    fn validate_strategy(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        let empty = ParamMap::new();
        strategies::build_reporting(name, self.params.get(name).unwrap_or(&empty)).map(|(_, i)| i)
    }

    /// Sets one numeric param (a sweep point), validating it by rebuilding the strategy. On error
    /// the config is unchanged.
    ///
    /// # Errors
    /// Unknown strategy, a key the strategy does not accept, or an invalid value.
    pub fn set_param(&mut self, strategy: &str, key: &str, value: f64) -> Result<(), ConfigError> {
        strategy_name(strategy, &format!("params.{strategy}"))?;
        let path = format!("params.{strategy}.{key}");
        if !value.is_finite() {
            return Err(invalid(
                path,
                format!("must be a finite number, got {value}"),
            ));
        }
        let had_entry = self.params.contains_key(strategy);
        let map = self.params.entry(strategy.to_string()).or_default();
        let old = map.insert(key.to_string(), number(value));
        // A key the strategy does not read would merely be reported as ignored when it is a
        // predecessor key; for a sweep that is an error: the point would change nothing.
        let result = self.validate_strategy(strategy).and_then(|ignored| {
            if ignored.contains(&path) {
                Err(invalid(path.clone(), "is not a parameter of this strategy"))
            } else {
                Ok(())
            }
        });
        if result.is_err() {
            let map = self.params.get_mut(strategy).expect("inserted above");
            match old {
                Some(v) => {
                    map.insert(key.to_string(), v);
                }
                None => {
                    map.remove(key);
                }
            }
            if !had_entry {
                self.params.remove(strategy);
            }
        }
        result
    }

    /// Sets a strategy's capital weight.
    ///
    /// # Errors
    /// Unknown strategy or a weight that is negative or not finite.
    pub fn set_weight(&mut self, strategy: &str, weight: f64) -> Result<(), ConfigError> {
        let path = format!("strategy_weights.{strategy}");
        strategy_name(strategy, &path)?;
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(invalid(
                path,
                format!("must be a finite number >= 0, got {weight}"),
            ));
        }
        self.strategy_weights.insert(strategy.to_string(), weight);
        Ok(())
    }

    /// The config in its file format. Lockstep's extension keys are written only when they
    /// differ from their defaults, so a predecessor file round-trips to the same keys.
    pub fn to_value(&self) -> Value {
        let mut top = Map::new();
        let weights: Map<String, Value> = self
            .strategy_weights
            .iter()
            .map(|(k, w)| {
                let v = Number::from_f64(*w).map_or(Value::Null, Value::Number);
                (k.clone(), v)
            })
            .collect();
        top.insert("strategy_weights".into(), Value::Object(weights));
        let params: Map<String, Value> = self
            .params
            .iter()
            .map(|(k, p)| {
                let obj: Map<String, Value> =
                    p.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                (k.clone(), Value::Object(obj))
            })
            .collect();
        top.insert("params".into(), Value::Object(params));
        for (k, v) in &self.comments {
            top.insert(k.clone(), v.clone());
        }
        if !self.strategy_caps.is_empty() {
            let caps: Map<String, Value> = self
                .strategy_caps
                .iter()
                .map(|(k, c)| (k.clone(), number(*c)))
                .collect();
            top.insert("strategy_caps".into(), Value::Object(caps));
        }
        if self.leverage != 1.0 {
            top.insert("leverage".into(), number(self.leverage));
        }
        let defaults = Config::default();
        if self.fixed_strategies != defaults.fixed_strategies {
            top.insert(
                "fixed_strategies".into(),
                self.fixed_strategies.clone().into(),
            );
        }
        if self.stablecoins != defaults.stablecoins {
            top.insert("stablecoins".into(), self.stablecoins.clone().into());
        }
        if let Some(venue) = self.venue_setting {
            top.insert("venue".into(), venue.name().into());
        }
        if self.rebalance != defaults.rebalance {
            let r = &self.rebalance;
            let mut m = Map::new();
            m.insert("policy".into(), r.policy.name().into());
            m.insert("threshold".into(), number(r.threshold));
            m.insert("fee_bps".into(), number(r.fee_bps));
            m.insert("slippage_bps".into(), number(r.slippage_bps));
            m.insert("stale_days".into(), number(r.stale_days as f64));
            // Keys added after the predecessor's format: written only when set, so older
            // files round-trip unchanged.
            if let Some(on) = r.venue_rules {
                m.insert("venue_rules".into(), on.into());
            }
            if r.capital != DEFAULT_CAPITAL {
                m.insert("capital".into(), number(r.capital));
            }
            if r.cost_model != CostModel::Fixed {
                m.insert("cost_model".into(), r.cost_model.name().into());
            }
            top.insert("rebalance".into(), Value::Object(m));
        }
        Value::Object(top)
    }

    /// The config as pretty-printed JSON text.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.to_value()).unwrap_or_default()
    }
}

fn parse_venue(v: &Value) -> Result<VenueScope, ConfigError> {
    let bad = || {
        invalid(
            "venue",
            format!(
                "expected one of {}, got {v}",
                VenueScope::NAMES
                    .iter()
                    .map(|n| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    v.as_str().and_then(VenueScope::parse).ok_or_else(bad)
}

fn parse_rebalance(v: &Value) -> Result<RebalanceSettings, ConfigError> {
    let mut r = RebalanceSettings::default();
    for (key, value) in as_object(v, "rebalance")? {
        let path = format!("rebalance.{key}");
        match key.as_str() {
            "policy" => {
                r.policy = match value.as_str() {
                    Some("time") => PolicyKind::Time,
                    Some("threshold") => PolicyKind::Threshold,
                    _ => {
                        return Err(invalid(
                            path,
                            format!("unknown policy {value}; valid values: time, threshold"),
                        ))
                    }
                }
            }
            "threshold" => r.threshold = finite(value, &path, 0.0)?,
            "fee_bps" => r.fee_bps = finite(value, &path, 0.0)?,
            "slippage_bps" => r.slippage_bps = finite(value, &path, 0.0)?,
            "venue_rules" => {
                r.venue_rules = Some(value.as_bool().ok_or_else(|| {
                    invalid(path.clone(), format!("must be true or false, got {value}"))
                })?)
            }
            "capital" => {
                r.capital = finite(value, &path, 0.0)?;
                if r.capital == 0.0 {
                    return Err(invalid(path, "must be > 0 (USD), got 0".to_string()));
                }
            }
            "cost_model" => {
                r.cost_model = match value.as_str() {
                    Some("fixed") => CostModel::Fixed,
                    Some("calibrated") => CostModel::Calibrated,
                    _ => {
                        return Err(invalid(
                            path,
                            format!("unknown cost model {value}; valid values: fixed, calibrated"),
                        ))
                    }
                }
            }
            "stale_days" => {
                let x = finite(value, &path, 1.0)?;
                if x.fract() != 0.0 || x > u32::MAX as f64 {
                    return Err(invalid(
                        path,
                        format!("must be a whole number >= 1, got {x}"),
                    ));
                }
                r.stale_days = x as u32;
            }
            k if k.starts_with('_') => {}
            _ => {
                return Err(ConfigError::UnknownKey {
                    path,
                    valid: REBALANCE_KEYS.iter().map(|s| s.to_string()).collect(),
                })
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written copy of the structure of the predecessor's
    /// `all_strategies_config_seed.json` (2025-11-02): the same keys, values and kinds of comment
    /// (nested `_` objects, `_comment` inside params, `exchange_id`, `reference_symbol: BTC/USD`).
    const SEED: &str = r#"{
      "strategy_weights": {
        "size": 0.2249, "breakout": 0.1486, "beta": 0.1617, "mean_reversion": 0.0450,
        "carry": 0.0000, "volatility": 0.0563, "kurtosis": 0.0450, "days_from_high": 0.0000,
        "adf": 0.2185, "trendline_breakout": 0.0, "leverage_inverted": 0.0500, "dilution": 0.0500
      },
      "_weights_note": {"_comment": "TESTING", "_capped_strategies": {"kurtosis": "4.5%"}},
      "_weights_updated_history": {"_2025_11_02": {"_portfolio_metrics": {"sharpe": 1.424}}},
      "_removed_strategy": {"_comment": "oi_divergence removed", "_old_weight": 0.0676894017329385},
      "params": {
        "days_from_high": {"max_days": 20},
        "breakout": {"entry_lookback": 50, "exit_lookback": 70},
        "mean_reversion": {"zscore_threshold": 1.5, "volume_threshold": 1.0, "lookback_window": 30,
                           "period_days": 2, "limit": 100, "long_only": true},
        "size": {"top_n": 10, "bottom_n": 10, "limit": 100, "rebalance_days": 10, "_comment": "10 days"},
        "carry": {"exchange_id": "hyperliquid", "top_n": 10, "bottom_n": 10, "rebalance_days": 7,
                  "_comment": "weekly"},
        "beta": {"beta_window": 90, "volatility_window": 30, "rebalance_days": 5,
                 "long_percentile": 20, "short_percentile": 80, "weighting_method": "equal_weight",
                 "long_allocation": 0.5, "short_allocation": 0.5, "_comment": "BAB"},
        "trendline_breakout": {"trendline_window": 30, "volatility_window": 30,
                 "breakout_threshold": 1.5, "min_r2": 0.5, "max_pvalue": 0.05, "max_positions": 10,
                 "rebalance_days": 1, "weighting_method": "equal_weight", "long_allocation": 0.5,
                 "short_allocation": 0.5, "_comment": "momentum"},
        "volatility": {"volatility_window": 30, "num_quintiles": 5, "rebalance_days": 3,
                 "weighting_method": "equal_weight", "long_allocation": 0.5, "short_allocation": 0.5,
                 "_comment": "low vol"},
        "kurtosis": {"kurtosis_window": 30, "rebalance_days": 14, "long_percentile": 20,
                 "short_percentile": 80, "weighting_method": "risk_parity", "long_allocation": 0.5,
                 "short_allocation": 0.5, "strategy_type": "mean_reversion",
                 "regime_filter": "bear_only", "reference_symbol": "BTC/USD", "_comment": "bear"},
        "adf": {"_status": "ACTIVE", "adf_window": 60, "regression": "ct", "volatility_window": 30,
                "rebalance_days": 7, "long_percentile": 20, "short_percentile": 80,
                "strategy_type": "trend_following_premium", "weighting_method": "risk_parity",
                "long_allocation": 0.5, "short_allocation": 0.5, "_comment": "trend",
                "_backtest_results": {"trend_following_risk_parity": {"sharpe": 0.49}}},
        "leverage_inverted": {"_status": "TESTING", "rebalance_days": 7, "top_n": 10,
                 "bottom_n": 10, "_comment": "testing"},
        "dilution": {"_status": "TESTING", "rebalance_days": 7, "lookback_months": 12, "top_n": 10,
                 "volatility_window": 90, "long_allocation": 0.5, "short_allocation": 0.5,
                 "_comment": "testing"}
      }
    }"#;

    #[test]
    fn seed_config_loads_unchanged() {
        let c = Config::from_json(SEED).unwrap();
        assert_eq!(c.weight("size"), 0.2249);
        assert_eq!(c.weight("carry"), 0.0);
        assert_eq!(c.strategy_names().len(), 12);
        assert!(c.ignored.contains(&"params.carry.exchange_id".to_string()));
        assert!(c.ignored.contains(&"_weights_note".to_string()));
        assert!(c
            .ignored
            .contains(&"params.adf._backtest_results".to_string()));
        let k = crate::strategies::kurtosis::Kurtosis::from_params(
            &mut crate::strategies::params::Params::new("kurtosis", &c.params["kurtosis"]),
        )
        .unwrap();
        assert_eq!(k.regime.unwrap().reference, "BTC");
        // Serialising gives back the same file, modulo key order and number spelling.
        let again = Config::from_value(&c.to_value()).unwrap();
        assert_eq!(again, c);
        let original: Value = serde_json::from_str(SEED).unwrap();
        assert_eq!(c.to_value(), original);
    }

    /// The real file, when the predecessor data is checked out next to the repository.
    #[test]
    fn real_seed_file_loads_when_present() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/original/all_strategies_config_seed.json"
        );
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let c = Config::from_json(&text).unwrap();
                assert_eq!(c.weight("adf"), 0.2185);
                let original: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(c.to_value(), original);
            }
            // A CI run never skips quietly (`./x test` points at the data, see x).
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true but the real seed config {path} cannot be read: {e}")
            }
            Err(_) => println!("skipping: {path} not present"),
        }
    }

    #[test]
    fn shipped_default_config_loads() {
        let c = Config::lockstep_default().unwrap();
        let expect = [
            ("size", 0.2249),
            ("adf", 0.2185),
            ("beta", 0.1617),
            ("breakout", 0.1486),
            ("volatility", 0.0563),
            ("leverage_inverted", 0.05),
            ("dilution", 0.05),
            ("kurtosis", 0.045),
            ("mean_reversion", 0.045),
            ("carry", 0.0),
            ("days_from_high", 0.0),
            ("trendline_breakout", 0.0),
            ("turnover", 0.0),
        ];
        for (name, w) in expect {
            assert_eq!(c.weight(name), w, "{name}");
        }
        assert_eq!(c.strategy_weights.len(), expect.len());
        assert_eq!(c.params["kurtosis"]["regime_filter"], "bear_only");
        assert_eq!(c.leverage, 1.0);
        assert_eq!(c.fixed_strategies, vec!["breakout", "days_from_high"]);
        assert!(c.stablecoins.iter().any(|s| s == "USDT"));
        assert_eq!(c.rebalance, RebalanceSettings::default());
    }

    #[test]
    fn unknown_keys_and_strategies_name_their_path() {
        let e = Config::from_json(r#"{"strategy_weights": {"sizee": 0.1}}"#).unwrap_err();
        assert_eq!(e.path(), "strategy_weights.sizee");
        assert!(e.to_string().contains("valid strategies: adf, beta"), "{e}");
        let e = Config::from_json(r#"{"params": {"size": {"topn": 3}}}"#).unwrap_err();
        assert_eq!(e.path(), "params.size.topn");
        assert!(e.to_string().contains("top_n"), "{e}");
        let e = Config::from_json(r#"{"strategy_weight": {}}"#).unwrap_err();
        assert_eq!(e.path(), "strategy_weight");
        assert!(e.to_string().contains("strategy_weights"), "{e}");
        let e = Config::from_json(r#"{"rebalance": {"fees": 3}}"#).unwrap_err();
        assert_eq!(e.path(), "rebalance.fees");
    }

    #[test]
    fn validation_errors_carry_paths() {
        let cases = [
            (
                r#"{"strategy_weights": {"size": -0.1}}"#,
                "strategy_weights.size",
            ),
            (
                r#"{"params": {"beta": {"beta_window": 1}}}"#,
                "params.beta.beta_window",
            ),
            (
                r#"{"params": {"volatility": {"volatility_window": 0}}}"#,
                "params.volatility.volatility_window",
            ),
            (
                r#"{"params": {"kurtosis": {"regime_filter": "bear"}}}"#,
                "params.kurtosis.regime_filter",
            ),
            (
                r#"{"params": {"size": {"long_allocation": -1}}}"#,
                "params.size.long_allocation",
            ),
            (r#"{"params": {"size": "x"}}"#, "params.size"),
            (r#"{"strategy_caps": {"size": "x"}}"#, "strategy_caps.size"),
            (r#"{"leverage": -2}"#, "leverage"),
            (r#"{"fixed_strategies": ["nope"]}"#, "fixed_strategies[0]"),
            (
                r#"{"rebalance": {"policy": "sometimes"}}"#,
                "rebalance.policy",
            ),
            (
                r#"{"rebalance": {"threshold": "x"}}"#,
                "rebalance.threshold",
            ),
        ];
        for (text, path) in cases {
            let e = Config::from_json(text).unwrap_err();
            assert_eq!(e.path(), path, "{text}: {e}");
        }
        assert_eq!(Config::from_json("{").unwrap_err().path(), "$");
    }

    #[test]
    fn set_param_validates_and_reverts() {
        let mut c = Config::from_json(SEED).unwrap();
        c.set_param("volatility", "volatility_window", 40.0)
            .unwrap();
        assert_eq!(c.params["volatility"]["volatility_window"], 40);
        let before = c.clone();
        assert_eq!(
            c.set_param("volatility", "volatility_window", 1.0)
                .unwrap_err()
                .path(),
            "params.volatility.volatility_window"
        );
        assert!(c
            .set_param("volatility", "volatility_window", 40.5)
            .is_err());
        assert!(c.set_param("volatility", "no_such_key", 3.0).is_err());
        assert!(
            c.set_param("volatility", "beta_window", 3.0).is_err(),
            "not read by volatility"
        );
        assert!(c.set_param("nope", "x", 3.0).is_err());
        assert!(c.set_param("turnover", "no_such_key", 3.0).is_err());
        assert_eq!(c, before, "failed sets leave the config unchanged");
        c.set_param("turnover", "turnover_window", 10.0).unwrap();
        assert_eq!(c.params["turnover"]["turnover_window"], 10);
    }

    #[test]
    fn extension_keys_round_trip() {
        let text = r#"{
            "strategy_weights": {"size": 0.5, "volatility": 0.5},
            "params": {},
            "strategy_caps": {"size": 0.05},
            "leverage": 1.5,
            "fixed_strategies": ["size"],
            "stablecoins": ["USDT"],
            "rebalance": {"policy": "time", "threshold": 0.05, "fee_bps": 5, "slippage_bps": 2.5,
                          "stale_days": 3}
        }"#;
        let c = Config::from_json(text).unwrap();
        assert_eq!(c.strategy_caps["size"], 0.05);
        assert_eq!(c.rebalance.policy, PolicyKind::Time);
        assert_eq!(c.rebalance.slippage_bps, 2.5);
        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(c.to_value(), original);
        assert_eq!(Config::from_json(&c.to_json_pretty()).unwrap(), c);
    }

    #[test]
    fn venue_loads_round_trips_and_defaults_to_any() {
        // A predecessor file (no `venue`) runs on every priced asset and writes no `venue` back.
        let c = Config::from_json(SEED).unwrap();
        assert_eq!(c.venue(), VenueScope::Any);
        assert_eq!(c.venue_setting, None);
        assert!(c.to_value().get("venue").is_none());
        for name in VenueScope::NAMES {
            let text = format!(
                r#"{{"strategy_weights": {{"size": 1}}, "params": {{}}, "venue": "{name}"}}"#
            );
            let c = Config::from_json(&text).unwrap();
            assert_eq!(c.venue().name(), *name);
            assert_eq!(c.venue().is_real(), *name != "any");
            // Written back when set, `any` included.
            assert_eq!(c.to_value()["venue"], Value::from(*name));
            assert_eq!(Config::from_json(&c.to_json_pretty()).unwrap(), c);
        }
    }

    #[test]
    fn an_unknown_venue_is_a_clear_error() {
        for bad in [r#""binance""#, r#""Hyperliquid""#, "1", "null", "[]"] {
            let text = format!(r#"{{"strategy_weights": {{}}, "params": {{}}, "venue": {bad}}}"#);
            let e = Config::from_json(&text).unwrap_err();
            assert_eq!(e.path(), "venue");
            let msg = e.to_string();
            assert!(msg.contains(r#""hyperliquid", "paper", "any""#), "{msg}");
        }
    }

    /// The venue-rule and cost-model keys: parsed, written back only when set, and refused
    /// with the path when malformed.
    #[test]
    fn venue_rules_capital_and_cost_model_round_trip() {
        let text = r#"{
            "strategy_weights": {"size": 1.0},
            "params": {},
            "rebalance": {"policy": "threshold", "threshold": 0.03, "fee_bps": 10, "slippage_bps": 0,
                          "stale_days": 7, "venue_rules": true, "capital": 25000,
                          "cost_model": "calibrated"}
        }"#;
        let c = Config::from_json(text).unwrap();
        assert_eq!(c.rebalance.venue_rules, Some(true));
        assert!(c.rebalance.venue_rules_on(false));
        assert_eq!(c.rebalance.capital, 25_000.0);
        assert_eq!(c.rebalance.cost_model, CostModel::Calibrated);
        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(c.to_value(), original);
        // Absent: off unless the venue is real; not written back.
        let c = Config::from_json(r#"{"rebalance": {"policy": "time"}}"#).unwrap();
        assert_eq!(c.rebalance.venue_rules, None);
        assert!(!c.rebalance.venue_rules_on(false) && c.rebalance.venue_rules_on(true));
        let written = c.to_value();
        let r = written["rebalance"].as_object().unwrap();
        assert!(!r.contains_key("venue_rules") && !r.contains_key("capital"));
        assert!(!r.contains_key("cost_model"));
        for (text, path) in [
            (
                r#"{"rebalance": {"venue_rules": "yes"}}"#,
                "rebalance.venue_rules",
            ),
            (r#"{"rebalance": {"capital": 0}}"#, "rebalance.capital"),
            (
                r#"{"rebalance": {"cost_model": "magic"}}"#,
                "rebalance.cost_model",
            ),
        ] {
            assert_eq!(Config::from_json(text).unwrap_err().path(), path, "{text}");
        }
    }

    mod fuzz {
        use super::{Config, Value, DEFAULT_CONFIG_JSON};
        use proptest::prelude::*;

        /// Any JSON value, a few levels deep.
        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                "\\PC{0,12}".prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::btree_map("\\PC{0,10}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// The shipped config with the value at one random path replaced.
        fn mutated() -> impl Strategy<Value = Value> {
            (
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                json(),
            )
                .prop_map(|(i, j, replacement)| {
                    let mut v: Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
                    let top = v.as_object_mut().unwrap();
                    let keys: Vec<String> = top.keys().cloned().collect();
                    let slot = top.get_mut(&keys[i.index(keys.len())]).unwrap();
                    match slot.as_object_mut() {
                        // One level down where there is one (a strategy's params, a weight).
                        Some(inner) if !inner.is_empty() => {
                            let ks: Vec<String> = inner.keys().cloned().collect();
                            inner.insert(ks[j.index(ks.len())].clone(), replacement);
                        }
                        _ => *slot = replacement,
                    }
                    v
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(crate::fuzz::cases(2048)))]

            /// Any text: a config or an error with a path — never a panic.
            #[test]
            fn any_text_parses_or_errs(s in "\\PC{0,200}") {
                let _ = Config::from_json(&s);
            }

            /// Any JSON: the same; and a config that parses builds every one of its strategies
            /// or says why not.
            #[test]
            fn any_json_parses_or_errs(v in json()) {
                if let Ok(c) = Config::from_value(&v) {
                    for name in c.strategy_names() {
                        let _ = c.build_strategy(&name);
                    }
                }
            }

            /// The shipped config with one value replaced by anything.
            #[test]
            fn a_damaged_default_parses_or_errs(v in mutated()) {
                match Config::from_value(&v) {
                    Ok(c) => {
                        for name in c.strategy_names() {
                            let _ = c.build_strategy(&name);
                        }
                    }
                    Err(e) => prop_assert!(!e.path().is_empty()),
                }
            }
        }
    }
}
