//! Settings of the live trader: schedule, freshness, plan lifetime, risk limits, the paper
//! account. A JSON file (`--live-settings FILE`), every key optional; unknown keys are errors.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything the live cycle needs besides the strategy config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveSettings {
    /// Daily run time of the scheduler inside `lockstep serve`, `HH:MM` UTC.
    pub run_at_utc: String,
    /// Whether `lockstep serve` runs the cycle on its schedule at all.
    pub scheduler: bool,
    /// Step 1 of the cycle: fetch market data from the live sources (as `lockstep fetch`).
    pub refresh: bool,
    /// Refuse to trade when the newest complete day closed longer ago than this (hours).
    pub max_data_age_hours: f64,
    /// A proposed plan expires this long after it was made (hours).
    pub plan_ttl_hours: f64,
    /// Approve (and execute) plans that pass the risk checks without a person. Off by default.
    pub auto_approve: bool,
    /// How long an execution lease lives without a heartbeat (seconds): after a crash, another
    /// process may recover the plan this long after the executor's last sign of life. The
    /// executor renews it before every order, so it must exceed one order's round trip
    /// (including the broker's status polls).
    pub execution_lease_seconds: f64,
    /// Limit price = mark × (1 ± max_slippage): the worst price an order accepts.
    pub max_slippage: f64,
    pub risk: RiskLimits,
    pub paper: PaperSettings,
    /// Where plan, kill-switch and stale-data messages go (webhooks, e-mail); none by default.
    pub notify: crate::notify::NotifySettings,
}

impl Default for LiveSettings {
    fn default() -> Self {
        LiveSettings {
            run_at_utc: "00:30".into(),
            scheduler: true,
            refresh: true,
            max_data_age_hours: 36.0,
            plan_ttl_hours: 12.0,
            auto_approve: false,
            execution_lease_seconds: 60.0,
            max_slippage: 0.02,
            risk: RiskLimits::default(),
            paper: PaperSettings::default(),
            notify: crate::notify::NotifySettings::default(),
        }
    }
}

impl LiveSettings {
    /// The lots and minimum the live plan trades under, for a simulator book of `capital`
    /// dollars (`rebalance.venue_rules`): the paper venue's minimum and size decimals and the
    /// plan's slippage band, so the backtest's rounding is the plan's.
    pub fn lots(&self, capital: f64) -> shared::venue::LotRules {
        shared::venue::LotRules {
            min_notional: self.paper.min_notional,
            size_decimals: self.paper.size_decimals,
            max_slippage: self.max_slippage,
            capital,
        }
    }
}

/// Limits checked before any order is sent. A plan that breaks one is blocked with the reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskLimits {
    /// Σ |weight| after the plan's trades.
    pub max_gross_leverage: f64,
    /// |weight| of any one symbol after the plan's trades.
    pub max_weight_per_symbol: f64,
    /// |notional| of any one order (USD).
    pub max_order_notional: f64,
    /// Traded notional in one UTC day (this plan plus what was already traded that day) / equity.
    pub max_daily_turnover: f64,
}

impl Default for RiskLimits {
    fn default() -> Self {
        RiskLimits {
            max_gross_leverage: 1.5,
            max_weight_per_symbol: 0.2,
            max_order_notional: 250_000.0,
            max_daily_turnover: 1.0,
        }
    }
}

/// The paper broker's account and venue rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaperSettings {
    /// Account name in the store (several paper accounts can live side by side).
    pub account: String,
    /// Cash the account starts with (USD), used once, when the account is created.
    pub initial_cash: f64,
    /// Orders below this notional are refused (Hyperliquid's minimum is $10).
    pub min_notional: f64,
    /// Fixed size decimals for every symbol; by default each symbol gets the fewest decimals
    /// that make one lot worth at most $1 at its price (capped at 8).
    pub size_decimals: Option<u32>,
    /// Fee and slippage in bps of traded notional; default: the strategy config's `rebalance`
    /// section, i.e. exactly the simulator's cost model.
    pub fee_bps: Option<f64>,
    pub slippage_bps: Option<f64>,
}

impl Default for PaperSettings {
    fn default() -> Self {
        PaperSettings {
            account: "default".into(),
            initial_cash: 100_000.0,
            min_notional: 10.0,
            size_decimals: None,
            fee_bps: None,
            slippage_bps: None,
        }
    }
}

/// Settings that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("reading live settings {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("live settings {path}: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("live settings: {0}")]
    Invalid(String),
}

impl LiveSettings {
    /// Reads and validates a settings file.
    ///
    /// # Errors
    /// Unreadable file, bad JSON, unknown keys, or values out of range.
    pub fn from_file(path: &Path) -> Result<LiveSettings, SettingsError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: p.clone(),
            source,
        })?;
        let s: LiveSettings = serde_json::from_str(&text)
            .map_err(|source| SettingsError::Parse { path: p, source })?;
        s.validate()?;
        Ok(s)
    }

    /// Checks every number is usable.
    ///
    /// # Errors
    /// The first bad value, named.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.run_at()?;
        let positive = [
            ("max_data_age_hours", self.max_data_age_hours),
            ("plan_ttl_hours", self.plan_ttl_hours),
            ("execution_lease_seconds", self.execution_lease_seconds),
            ("risk.max_gross_leverage", self.risk.max_gross_leverage),
            (
                "risk.max_weight_per_symbol",
                self.risk.max_weight_per_symbol,
            ),
            ("risk.max_order_notional", self.risk.max_order_notional),
            ("risk.max_daily_turnover", self.risk.max_daily_turnover),
            ("paper.initial_cash", self.paper.initial_cash),
        ];
        for (k, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(SettingsError::Invalid(format!("{k} must be > 0, got {v}")));
            }
        }
        let non_negative = [
            ("max_slippage", self.max_slippage),
            ("paper.min_notional", self.paper.min_notional),
            ("paper.fee_bps", self.paper.fee_bps.unwrap_or(0.0)),
            ("paper.slippage_bps", self.paper.slippage_bps.unwrap_or(0.0)),
        ];
        for (k, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(SettingsError::Invalid(format!("{k} must be >= 0, got {v}")));
            }
        }
        self.notify.validate().map_err(SettingsError::Invalid)?;
        if self.max_slippage >= 1.0 {
            return Err(SettingsError::Invalid(format!(
                "max_slippage is a fraction (0.02 = 2%), got {}",
                self.max_slippage
            )));
        }
        Ok(())
    }

    /// `run_at_utc` as (hour, minute).
    ///
    /// # Errors
    /// Not `HH:MM` with a valid time.
    pub fn run_at(&self) -> Result<(u32, u32), SettingsError> {
        let bad = || {
            SettingsError::Invalid(format!(
                "run_at_utc must be HH:MM, got {:?}",
                self.run_at_utc
            ))
        };
        let (h, m) = self.run_at_utc.split_once(':').ok_or_else(bad)?;
        let h: u32 = h.parse().map_err(|_| bad())?;
        let m: u32 = m.parse().map_err(|_| bad())?;
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok((h, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_keys_are_checked() {
        LiveSettings::default().validate().unwrap();
        let s: LiveSettings = serde_json::from_str(
            r#"{"auto_approve": true, "risk": {"max_weight_per_symbol": 0.1}}"#,
        )
        .unwrap();
        assert!(s.auto_approve);
        assert_eq!(s.risk.max_weight_per_symbol, 0.1);
        assert_eq!(s.risk.max_gross_leverage, 1.5);
        assert!(serde_json::from_str::<LiveSettings>(r#"{"auto_aprove": true}"#).is_err());
        let bad = LiveSettings {
            run_at_utc: "25:00".into(),
            ..LiveSettings::default()
        };
        assert!(bad.validate().is_err());
    }
}
