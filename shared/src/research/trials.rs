//! What a sweep keeps of each point's daily returns for the selection statistics: the
//! in-sample Sharpe ratio and higher moments (deflated Sharpe ratio), running sums per CSCV
//! block (probability of backtest overfitting) and per walk-forward fold. A row carries a few
//! hundred bytes instead of its 2,000-odd returns, and every statistic is computed from these.

use super::evaluation::Layout;
use crate::stats;

/// Count, sum and sum of squares of a stretch of daily returns: enough for the Sharpe ratio
/// of any union of stretches. Serialised as `[n, sum, sum_sq]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(from = "(u32, f64, f64)", into = "(u32, f64, f64)")]
pub struct Sums {
    pub n: u32,
    pub sum: f64,
    pub sum_sq: f64,
}

impl From<(u32, f64, f64)> for Sums {
    fn from((n, sum, sum_sq): (u32, f64, f64)) -> Sums {
        Sums { n, sum, sum_sq }
    }
}

impl From<Sums> for (u32, f64, f64) {
    fn from(s: Sums) -> (u32, f64, f64) {
        (s.n, s.sum, s.sum_sq)
    }
}

impl Sums {
    /// The sums of `returns`, left to right.
    pub fn of(returns: &[f64]) -> Sums {
        let mut s = Sums {
            n: returns.len() as u32,
            ..Sums::default()
        };
        for &r in returns {
            s.sum += r;
            s.sum_sq += r * r;
        }
        s
    }

    /// The sums of both stretches.
    #[must_use]
    pub fn plus(self, o: Sums) -> Sums {
        Sums {
            n: self.n + o.n,
            sum: self.sum + o.sum,
            sum_sq: self.sum_sq + o.sum_sq,
        }
    }

    /// The per-period Sharpe ratio `mean / std` (sample std, ddof 1; risk-free rate 0), from
    /// the sums: `var = (Σr² − (Σr)²/n) / (n − 1)`. `NaN` with fewer than two returns or no
    /// variance.
    pub fn sharpe(self) -> f64 {
        sharpe_of(self.n as f64, self.sum, self.sum_sq)
    }
}

/// [`Sums::sharpe`] on loose numbers (the CSCV loop keeps them in columns).
#[inline]
pub fn sharpe_of(n: f64, sum: f64, sum_sq: f64) -> f64 {
    if n < 2.0 {
        return f64::NAN;
    }
    let mean = sum / n;
    let var = (sum_sq - sum * mean) / (n - 1.0);
    if var > 0.0 {
        mean / var.sqrt()
    } else {
        f64::NAN
    }
}

/// One point's in-sample statistics.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrialStats {
    /// In-sample days.
    pub n: usize,
    /// Per-period (daily, not annualised) Sharpe ratio of the in-sample returns, two-pass
    /// mean and sample std (ddof 1).
    #[serde(deserialize_with = "crate::metrics::null_as_nan")]
    pub sharpe: f64,
    /// Skewness of the in-sample returns (biased moments, `scipy.stats.skew`).
    #[serde(deserialize_with = "crate::metrics::null_as_nan")]
    pub skew: f64,
    /// Kurtosis, not excess (a normal distribution has 3; `scipy.stats.kurtosis(fisher=False)`).
    #[serde(deserialize_with = "crate::metrics::null_as_nan")]
    pub kurtosis: f64,
    /// Sums per CSCV block of the in-sample days ([`Layout::blocks`]); empty when the split is
    /// too short for the blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Sums>,
    /// Sums per walk-forward fold of the whole range ([`Layout::folds`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folds: Vec<Sums>,
}

impl TrialStats {
    /// The statistics of one point from its daily returns (day 0 = the sweep's first day).
    pub fn from_returns(returns: &[f64], layout: &Layout) -> TrialStats {
        let is = &returns[..layout.is_days.min(returns.len())];
        let slice = |r: &std::ops::Range<usize>| {
            Sums::of(&returns[r.start.min(returns.len())..r.end.min(returns.len())])
        };
        TrialStats {
            n: is.len(),
            sharpe: stats::mean(is) / stats::std_ddof1(is),
            skew: stats::skewness(is),
            kurtosis: stats::excess_kurtosis(is) + 3.0,
            blocks: layout.blocks.iter().map(slice).collect(),
            folds: layout.folds.iter().map(slice).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_give_the_two_pass_sharpe() {
        let r = [0.01, -0.02, 0.015, 0.0, 0.03, -0.005];
        let want = stats::mean(&r) / stats::std_ddof1(&r);
        let s = Sums::of(&r);
        assert!((s.sharpe() - want).abs() < 1e-13);
        let joined = Sums::of(&r[..2]).plus(Sums::of(&r[2..]));
        assert_eq!(joined.n, 6);
        assert!((joined.sharpe() - want).abs() < 1e-13);
        assert!(Sums::of(&[0.01]).sharpe().is_nan());
        assert!(Sums::of(&[0.0, 0.0, 0.0]).sharpe().is_nan());
        let json = serde_json::to_string(&Sums::of(&[1.0, 2.0])).unwrap();
        assert_eq!(json, "[2,3.0,5.0]");
        assert_eq!(
            serde_json::from_str::<Sums>(&json).unwrap(),
            Sums::of(&[1.0, 2.0])
        );
    }

    #[test]
    fn stats_follow_the_layout() {
        let r: Vec<f64> = (0..20)
            .map(|i| ((i * 7) % 5) as f64 * 0.01 - 0.02)
            .collect();
        let layout = Layout {
            is_days: 12,
            blocks: vec![2..7, 7..12],
            folds: vec![0..10, 10..20],
        };
        let t = TrialStats::from_returns(&r, &layout);
        assert_eq!(t.n, 12);
        assert_eq!(t.blocks, vec![Sums::of(&r[2..7]), Sums::of(&r[7..12])]);
        assert_eq!(t.folds[1], Sums::of(&r[10..]));
        assert_eq!(t.skew, stats::skewness(&r[..12]));
        let back: TrialStats = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }
}
