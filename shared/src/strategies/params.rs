//! Reading one strategy's `params` object with JSON-path errors.
//!
//! A strategy's constructor asks a [`Params`] for each key it understands, with its default.
//! Every key asked for becomes part of the "valid keys" list, so an unknown key's error message
//! lists exactly what that strategy accepts without a second hand-maintained list. [`Params::finish`]
//! then rejects whatever was not asked for, except comment keys (leading `_`) and predecessor keys
//! Lockstep does not use, which are accepted and reported back as ignored.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::ConfigError;

/// One strategy's raw params, exactly as they appear in the config file.
pub type ParamMap = BTreeMap<String, Value>;

/// Keys the predecessor's configs carry that no Lockstep strategy reads (or that a particular
/// strategy does not read). They are accepted so that its files load unchanged, and reported.
pub const PREDECESSOR_KEYS: &[&str] = &[
    "exchange_id",
    "max_days",
    "entry_lookback",
    "exit_lookback",
    "zscore_threshold",
    "volume_threshold",
    "lookback_window",
    "period_days",
    "limit",
    "long_only",
    "top_n",
    "bottom_n",
    "rebalance_days",
    "beta_window",
    "volatility_window",
    "long_percentile",
    "short_percentile",
    "num_quintiles",
    "weighting_method",
    "long_allocation",
    "short_allocation",
    "trendline_window",
    "breakout_threshold",
    "min_r2",
    "max_pvalue",
    "max_positions",
    "kurtosis_window",
    "strategy_type",
    "regime_filter",
    "reference_symbol",
    "adf_window",
    "regression",
    "lookback_months",
    "holding_period",
];

/// A reader over one strategy's params that remembers which keys were asked for.
#[derive(Debug)]
pub struct Params<'a> {
    map: &'a ParamMap,
    path: String,
    known: Vec<&'static str>,
    /// Key → the value the strategy ended up with (the config's, else the default): what the
    /// consistency report compares between two configs.
    effective: BTreeMap<String, Value>,
}

impl<'a> Params<'a> {
    /// A reader for `params.<strategy>`.
    pub fn new(strategy: &str, map: &'a ParamMap) -> Params<'a> {
        Params {
            map,
            path: format!("params.{strategy}"),
            known: Vec::new(),
            effective: BTreeMap::new(),
        }
    }

    /// The JSON path of `key` inside this strategy's params (`params.beta.beta_window`).
    pub fn key_path(&self, key: &str) -> String {
        format!("{}.{}", self.path, key)
    }

    /// The raw value of `key`, registering it as valid.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        self.map.get(key)
    }

    /// Whether the config sets `key` (registers it as valid).
    pub fn has(&mut self, key: &'static str) -> bool {
        self.raw(key).is_some()
    }

    fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.key_path(key),
            message: message.into(),
        }
    }

    /// An optional finite number.
    ///
    /// # Errors
    /// The value is not a number or not finite.
    pub fn f64_opt(&mut self, key: &'static str) -> Result<Option<f64>, ConfigError> {
        let x = match self.raw(key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if x.is_finite() => Some(x),
                _ => return Err(self.invalid(key, format!("must be a finite number, got {n}"))),
            },
            Some(v) => return Err(self.invalid(key, format!("must be a number, got {v}"))),
        };
        self.note(key, x.map_or(Value::Null, Value::from));
        Ok(x)
    }

    /// Records the value `key` takes effect with (a later, outer getter overwrites an inner one).
    /// A strategy that overrides a shared default after reading it calls this too.
    pub fn note(&mut self, key: &'static str, value: Value) {
        self.effective.insert(key.to_string(), value);
    }

    /// Every key asked for so far and the value it took effect with (the config's value, else
    /// the default; `null` for an optional key left unset).
    pub fn effective(&self) -> &BTreeMap<String, Value> {
        &self.effective
    }

    /// A finite number with a default.
    ///
    /// # Errors
    /// The value is not a finite number.
    pub fn f64(&mut self, key: &'static str, default: f64) -> Result<f64, ConfigError> {
        let x = self.f64_opt(key)?.unwrap_or(default);
        self.note(key, Value::from(x));
        Ok(x)
    }

    /// A finite number within `[min, max]`.
    ///
    /// # Errors
    /// The value is not a finite number or lies outside the range.
    pub fn f64_in(
        &mut self,
        key: &'static str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Result<f64, ConfigError> {
        let x = self.f64(key, default)?;
        if x < min || x > max {
            return Err(self.invalid(key, format!("must be within [{min}, {max}], got {x}")));
        }
        Ok(x)
    }

    /// An optional whole number `>= min` (a JSON integer or an integral float such as `40.0`,
    /// which is what a parameter sweep writes).
    ///
    /// # Errors
    /// The value is not a whole number or is below `min`.
    pub fn usize_opt(
        &mut self,
        key: &'static str,
        min: usize,
    ) -> Result<Option<usize>, ConfigError> {
        let Some(x) = self.f64_opt(key)? else {
            return Ok(None);
        };
        if x.fract() != 0.0 || x < min as f64 || x > 1e9 {
            return Err(self.invalid(key, format!("must be a whole number >= {min}, got {x}")));
        }
        self.note(key, Value::from(x as u64));
        Ok(Some(x as usize))
    }

    /// A whole number `>= min` with a default.
    ///
    /// # Errors
    /// See [`Params::usize_opt`].
    pub fn usize_min(
        &mut self,
        key: &'static str,
        default: usize,
        min: usize,
    ) -> Result<usize, ConfigError> {
        let n = self.usize_opt(key, min)?.unwrap_or(default);
        self.note(key, Value::from(n as u64));
        Ok(n)
    }

    /// A window length in days: a whole number `>= 2` (a statistic over one value is undefined).
    ///
    /// # Errors
    /// See [`Params::usize_opt`].
    pub fn window(&mut self, key: &'static str, default: usize) -> Result<usize, ConfigError> {
        self.usize_min(key, default, 2)
    }

    /// `rebalance_days`: a whole number `>= 1`, default 1.
    ///
    /// # Errors
    /// See [`Params::usize_opt`].
    pub fn rebalance_days(&mut self) -> Result<u32, ConfigError> {
        let n = self.usize_min("rebalance_days", 1, 1)?;
        u32::try_from(n).map_err(|_| self.invalid("rebalance_days", "is too large"))
    }

    /// A boolean with a default.
    ///
    /// # Errors
    /// The value is not a boolean.
    pub fn bool(&mut self, key: &'static str, default: bool) -> Result<bool, ConfigError> {
        let b = match self.raw(key) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(v) => return Err(self.invalid(key, format!("must be true or false, got {v}"))),
        };
        self.note(key, Value::Bool(b));
        Ok(b)
    }

    /// A string that must be one of `options`; returns the matching option.
    ///
    /// # Errors
    /// The value is not a string or not one of `options` (the message lists them).
    pub fn choice(
        &mut self,
        key: &'static str,
        default: &'static str,
        options: &[&'static str],
    ) -> Result<&'static str, ConfigError> {
        let chosen = self.choice_inner(key, default, options)?;
        self.note(key, Value::from(chosen));
        Ok(chosen)
    }

    fn choice_inner(
        &mut self,
        key: &'static str,
        default: &'static str,
        options: &[&'static str],
    ) -> Result<&'static str, ConfigError> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::String(s)) => options.iter().copied().find(|o| o == s).ok_or_else(|| {
                self.invalid(
                    key,
                    format!("unknown value {s:?}; valid values: {}", options.join(", ")),
                )
            }),
            Some(v) => Err(self.invalid(
                key,
                format!("must be one of {}, got {v}", options.join(", ")),
            )),
        }
    }

    /// A market symbol. Pair notation from the predecessor (`BTC/USD`, `BTC/USDC:USDC`) resolves
    /// to the bare base (`BTC`) because panels are keyed by bases.
    ///
    /// # Errors
    /// The value is not a non-empty string.
    pub fn symbol(&mut self, key: &'static str, default: &str) -> Result<String, ConfigError> {
        let symbol = self.symbol_inner(key, default)?;
        self.note(key, Value::from(symbol.clone()));
        Ok(symbol)
    }

    fn symbol_inner(&mut self, key: &'static str, default: &str) -> Result<String, ConfigError> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(Value::String(s)) => {
                let base = s.split(['/', ':']).next().unwrap_or("").trim();
                if base.is_empty() {
                    Err(self.invalid(key, format!("must name a symbol, got {s:?}")))
                } else {
                    Ok(base.to_string())
                }
            }
            Some(v) => Err(self.invalid(key, format!("must be a symbol string, got {v}"))),
        }
    }

    /// The keys this strategy asked for, sorted.
    pub fn valid_keys(&self) -> Vec<String> {
        let mut v: Vec<String> = self.known.iter().map(|k| k.to_string()).collect();
        v.sort();
        v
    }

    /// Checks that every key was understood. Returns the JSON paths of keys accepted but ignored
    /// (comments and predecessor keys this strategy does not use).
    ///
    /// # Errors
    /// A key that is neither asked for, a comment, nor a known predecessor key.
    pub fn finish(self) -> Result<Vec<String>, ConfigError> {
        let mut ignored = Vec::new();
        for key in self.map.keys() {
            if self.known.iter().any(|k| k == key) {
                continue;
            }
            if key.starts_with('_') || PREDECESSOR_KEYS.contains(&key.as_str()) {
                ignored.push(self.key_path(key));
                continue;
            }
            return Err(ConfigError::UnknownKey {
                path: self.key_path(key),
                valid: self.valid_keys(),
            });
        }
        Ok(ignored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> ParamMap {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn reads_defaults_and_values() {
        let m = map(json!({"w": 40, "x": 1.5, "b": false, "_comment": "hi"}));
        let mut p = Params::new("beta", &m);
        assert_eq!(p.window("w", 30).unwrap(), 40);
        assert_eq!(p.window("missing", 30).unwrap(), 30);
        assert_eq!(p.f64("x", 0.0).unwrap(), 1.5);
        assert!(!p.bool("b", true).unwrap());
        let effective = p.effective().clone();
        assert_eq!(effective["w"], json!(40));
        assert_eq!(effective["missing"], json!(30), "the default takes effect");
        assert_eq!(effective["x"], json!(1.5));
        assert_eq!(effective["b"], json!(false));
        assert_eq!(effective.len(), 4);
        assert_eq!(
            p.finish().unwrap(),
            vec!["params.beta._comment".to_string()]
        );
    }

    #[test]
    fn window_below_two_is_an_error_with_its_path() {
        let m = map(json!({"beta_window": 1}));
        let mut p = Params::new("beta", &m);
        let e = p.window("beta_window", 90).unwrap_err();
        assert_eq!(e.path(), "params.beta.beta_window");
        let m = map(json!({"beta_window": 30.5}));
        assert!(Params::new("beta", &m).window("beta_window", 90).is_err());
        let m = map(json!({"beta_window": 30.0}));
        assert_eq!(
            Params::new("beta", &m).window("beta_window", 90).unwrap(),
            30
        );
    }

    #[test]
    fn unknown_key_lists_valid_keys() {
        let m = map(json!({"bta_window": 3}));
        let mut p = Params::new("beta", &m);
        p.window("beta_window", 90).unwrap();
        p.window("volatility_window", 30).unwrap();
        match p.finish().unwrap_err() {
            ConfigError::UnknownKey { path, valid } => {
                assert_eq!(path, "params.beta.bta_window");
                assert_eq!(valid, vec!["beta_window", "volatility_window"]);
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn predecessor_keys_are_ignored_and_reported() {
        let m = map(json!({"exchange_id": "hyperliquid"}));
        let p = Params::new("carry", &m);
        assert_eq!(
            p.finish().unwrap(),
            vec!["params.carry.exchange_id".to_string()]
        );
    }

    #[test]
    fn pair_symbols_resolve_to_bases() {
        let m = map(json!({"a": "BTC/USD", "b": "BTC/USDC:USDC", "c": "ETH", "d": "/"}));
        let mut p = Params::new("kurtosis", &m);
        assert_eq!(p.symbol("a", "X").unwrap(), "BTC");
        assert_eq!(p.symbol("b", "X").unwrap(), "BTC");
        assert_eq!(p.symbol("c", "X").unwrap(), "ETH");
        assert!(p.symbol("d", "X").is_err());
        assert_eq!(p.symbol("e", "BTC").unwrap(), "BTC");
    }

    #[test]
    fn choice_lists_options() {
        let m = map(json!({"k": "bear"}));
        let e = Params::new("kurtosis", &m)
            .choice("k", "none", &["bear_only", "bull_only", "none"])
            .unwrap_err();
        assert!(e.to_string().contains("bear_only, bull_only, none"), "{e}");
        assert!(Params::new("kurtosis", &m).f64("k", 0.0).is_err());
    }
}
