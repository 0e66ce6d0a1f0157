//! When the book trades: one [`RebalancePolicy`] shared by the backtest and the live trader.
//!
//! Both policies answer the same question for every symbol: given the weight held now (the
//! drifted position marked at today's close, as a fraction of NAV) and the target weight in force,
//! which weight should be held after today's trades? The answer is either the target (trade) or
//! the current weight (no trade): a policy never trades part-way.
//!
//! - [`RebalancePolicy::Time`] trades every symbol to its target on rebalance dates (the days the
//!   blended targets are recomputed) and lets positions drift in between.
//! - [`RebalancePolicy::Threshold`] runs every day against the targets in force and trades a
//!   symbol only when `|current − target| > threshold`, measured per symbol in NAV weight (the
//!   predecessor measured it against the whole levered book, so small new positions never
//!   opened). Entries (held 0, target ≠ 0), exits (target 0, held ≠ 0) and sign flips always
//!   trade, whatever their size.

use std::fmt;
use std::str::FromStr;

/// The default band of [`RebalancePolicy::Threshold`]: 3 % of NAV per symbol.
pub const DEFAULT_THRESHOLD: f64 = 0.03;

/// How the book moves towards its targets.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum RebalancePolicy {
    /// Trade every symbol to target on every rebalance date; hold (drift) otherwise.
    Time,
    /// Every day, trade a symbol to target when it is more than `threshold` (NAV weight) away,
    /// or when the trade opens, closes or flips a position.
    Threshold {
        #[serde(default = "default_threshold")]
        threshold: f64,
    },
}

fn default_threshold() -> f64 {
    DEFAULT_THRESHOLD
}

impl Default for RebalancePolicy {
    /// `threshold` at 3 %, as live trading runs.
    fn default() -> Self {
        RebalancePolicy::Threshold {
            threshold: DEFAULT_THRESHOLD,
        }
    }
}

/// A policy that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("rebalance threshold must be finite and >= 0, got {0}")]
    BadThreshold(f64),
    #[error("unknown rebalance policy {0:?}: expected one of time, threshold")]
    Unknown(String),
}

impl RebalancePolicy {
    /// Checks the threshold is usable.
    ///
    /// # Errors
    /// [`PolicyError::BadThreshold`] for a negative or non-finite threshold.
    pub fn validate(&self) -> Result<(), PolicyError> {
        match *self {
            RebalancePolicy::Time => Ok(()),
            RebalancePolicy::Threshold { threshold }
                if threshold.is_finite() && threshold >= 0.0 =>
            {
                Ok(())
            }
            RebalancePolicy::Threshold { threshold } => Err(PolicyError::BadThreshold(threshold)),
        }
    }

    /// Whether one symbol should trade to `target` from `current` (both NAV weights) today.
    /// `rebalance_date` says whether the targets were (re)computed at this close; only
    /// [`RebalancePolicy::Time`] looks at it.
    #[inline]
    pub fn should_trade(&self, rebalance_date: bool, current: f64, target: f64) -> bool {
        if current == target {
            return false;
        }
        match *self {
            RebalancePolicy::Time => rebalance_date,
            RebalancePolicy::Threshold { threshold } => {
                let entry_or_exit = current == 0.0 || target == 0.0;
                let flip = (current > 0.0) != (target > 0.0);
                entry_or_exit || flip || (current - target).abs() > threshold
            }
        }
    }

    /// The weight to hold after today's trades for every symbol: `out[i]` is `target[i]` where
    /// [`RebalancePolicy::should_trade`] says so and `current[i]` otherwise. Pure; the simulator
    /// and the live trader both call it. Slices must have equal length.
    pub fn apply(&self, rebalance_date: bool, current: &[f64], target: &[f64], out: &mut [f64]) {
        debug_assert!(current.len() == target.len() && target.len() == out.len());
        for ((o, &c), &t) in out.iter_mut().zip(current).zip(target) {
            *o = if self.should_trade(rebalance_date, c, t) {
                t
            } else {
                c
            };
        }
    }

    /// The config / CLI name: `"time"` or `"threshold"`.
    pub fn name(&self) -> &'static str {
        match self {
            RebalancePolicy::Time => "time",
            RebalancePolicy::Threshold { .. } => "threshold",
        }
    }
}

impl fmt::Display for RebalancePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RebalancePolicy::Time => f.write_str("time"),
            RebalancePolicy::Threshold { threshold } => write!(f, "threshold({threshold})"),
        }
    }
}

impl FromStr for RebalancePolicy {
    type Err = PolicyError;
    /// `time`, or `threshold` (3 %), or `threshold:0.05`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let p = match s.split_once(':') {
            None if s == "time" => RebalancePolicy::Time,
            None if s == "threshold" => RebalancePolicy::default(),
            Some(("threshold", v)) => RebalancePolicy::Threshold {
                threshold: v.parse().map_err(|_| PolicyError::Unknown(s.to_string()))?,
            },
            _ => return Err(PolicyError::Unknown(s.to_string())),
        };
        p.validate()?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TH: RebalancePolicy = RebalancePolicy::Threshold { threshold: 0.03 };

    fn apply(p: RebalancePolicy, reb: bool, cur: &[f64], tgt: &[f64]) -> Vec<f64> {
        let mut out = vec![f64::NAN; cur.len()];
        p.apply(reb, cur, tgt, &mut out);
        out
    }

    #[test]
    fn threshold_band_is_per_symbol_in_nav_weight() {
        let cur = [0.10, 0.10, 0.10, -0.05];
        let tgt = [0.12, 0.14, 0.07, -0.09];
        // 0.02 inside the band, 0.04 outside, 0.03 exactly on it (not > threshold), 0.04 out.
        assert_eq!(apply(TH, false, &cur, &tgt), vec![0.10, 0.14, 0.10, -0.09]);
    }

    #[test]
    fn entries_exits_and_flips_always_trade() {
        // The predecessor's bug: a new 1 % position never opened under a 3 % band.
        let cur = [0.0, 0.01, 0.01, 0.0];
        let tgt = [0.01, 0.0, -0.005, 0.0];
        assert_eq!(apply(TH, false, &cur, &tgt), vec![0.01, 0.0, -0.005, 0.0]);
    }

    #[test]
    fn time_trades_everything_on_rebalance_dates_only() {
        let cur = [0.10, 0.0, 0.3];
        let tgt = [0.1001, 0.2, 0.0];
        assert_eq!(apply(RebalancePolicy::Time, true, &cur, &tgt), tgt.to_vec());
        assert_eq!(
            apply(RebalancePolicy::Time, false, &cur, &tgt),
            cur.to_vec()
        );
        // Threshold ignores the rebalance flag.
        assert_eq!(apply(TH, true, &cur, &tgt), apply(TH, false, &cur, &tgt));
    }

    #[test]
    fn parse_serde_and_validate() {
        assert_eq!("time".parse::<RebalancePolicy>(), Ok(RebalancePolicy::Time));
        assert_eq!("threshold".parse::<RebalancePolicy>(), Ok(TH));
        assert_eq!(
            "threshold:0.05".parse::<RebalancePolicy>(),
            Ok(RebalancePolicy::Threshold { threshold: 0.05 })
        );
        assert!("threshold:-1".parse::<RebalancePolicy>().is_err());
        assert!("weekly".parse::<RebalancePolicy>().is_err());
        assert!(RebalancePolicy::Threshold {
            threshold: f64::NAN
        }
        .validate()
        .is_err());
        let json = serde_json::to_string(&TH).unwrap();
        assert_eq!(json, r#"{"policy":"threshold","threshold":0.03}"#);
        let back: RebalancePolicy = serde_json::from_str(r#"{"policy":"threshold"}"#).unwrap();
        assert_eq!(back, TH);
        assert_eq!(RebalancePolicy::default(), TH);
    }

    proptest! {
        #[test]
        fn output_is_current_or_target(
            cur in proptest::collection::vec(-0.5f64..0.5, 1..20),
            shift in proptest::collection::vec(-0.1f64..0.1, 20),
            th in 0.0f64..0.1,
            reb: bool,
        ) {
            let tgt: Vec<f64> = cur.iter().zip(&shift).map(|(c, s)| c + s).collect();
            for p in [RebalancePolicy::Time, RebalancePolicy::Threshold { threshold: th }] {
                let out = apply(p, reb, &cur, &tgt);
                for i in 0..cur.len() {
                    prop_assert!(out[i] == cur[i] || out[i] == tgt[i]);
                    if let RebalancePolicy::Threshold { threshold } = p {
                        // After trading nothing is further than the band from its target.
                        prop_assert!((out[i] - tgt[i]).abs() <= threshold);
                    }
                }
            }
        }
    }
}
