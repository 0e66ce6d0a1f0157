//! The deflated Sharpe ratio (Bailey & López de Prado, "The Deflated Sharpe Ratio: Correcting
//! for Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management
//! 40(5), 2014).
//!
//! The best of `N` trials has a high Sharpe ratio partly by luck. Under the null that every
//! trial is skill-less, the expected maximum of `N` estimated Sharpe ratios with variance
//! `V` across trials is
//!
//! `SR₀ = √V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))`, `γ` the Euler–Mascheroni constant,
//!
//! and the deflated Sharpe ratio is the probabilistic Sharpe ratio of the best trial against it:
//!
//! `DSR = Φ((SR* − SR₀) √(T − 1) / √(1 − γ₃ SR* + (γ₄ − 1)/4 · SR*²))`,
//!
//! with `SR*`, `V` per period (daily here, not annualised), `T` the number of returns, `γ₃` the
//! skewness and `γ₄` the (non-excess) kurtosis of the best trial's returns. It reads as the
//! probability that the best trial's true Sharpe ratio is above zero after accounting for how
//! many were tried. `V` is the sample variance (ddof 1) of the trials' Sharpe ratios.

use super::trials::TrialStats;
use crate::stats::normal;

/// The Euler–Mascheroni constant.
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// The deflated Sharpe ratio of a set of trials and what went into it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Deflated {
    /// Index (into the trials given) of the best one.
    pub best: usize,
    /// Trials counted (those with a finite Sharpe ratio).
    pub n_trials: usize,
    /// Returns per trial.
    pub n_obs: usize,
    /// The best trial's per-period Sharpe ratio `SR*`.
    pub sharpe: f64,
    /// Standard deviation of the trials' per-period Sharpe ratios, `√V`.
    pub sharpe_std: f64,
    /// `SR₀`, the expected best per-period Sharpe ratio of `N` skill-less trials.
    pub expected_max: f64,
    pub skew: f64,
    pub kurtosis: f64,
    /// The deflated Sharpe ratio, a probability.
    pub dsr: f64,
}

/// `SR₀` for `n_trials` trials whose Sharpe ratios have variance `sharpe_var`; 0 for a single
/// trial (nothing was selected).
pub fn expected_max_sharpe(n_trials: usize, sharpe_var: f64) -> f64 {
    if n_trials < 2 {
        return 0.0;
    }
    let n = n_trials as f64;
    let z = (1.0 - EULER_GAMMA) * normal::quantile(1.0 - 1.0 / n)
        + EULER_GAMMA * normal::quantile(1.0 - 1.0 / (n * std::f64::consts::E));
    sharpe_var.sqrt() * z
}

/// The probabilistic Sharpe ratio of `sharpe` (per period, from `n_obs` returns with the given
/// skewness and kurtosis) against the benchmark `bench`; `NaN` when the variance term is not
/// positive.
pub fn probabilistic_sharpe(
    sharpe: f64,
    bench: f64,
    n_obs: usize,
    skew: f64,
    kurtosis: f64,
) -> f64 {
    let den = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe;
    if n_obs < 2 || den.is_nan() || den <= 0.0 {
        return f64::NAN;
    }
    normal::cdf((sharpe - bench) * ((n_obs - 1) as f64).sqrt() / den.sqrt())
}

/// The deflated Sharpe ratio of the best of `trials` (trials whose Sharpe ratio is not finite
/// are not counted); `None` when no trial has one. Ties go to the earliest trial.
pub fn deflated_sharpe(trials: &[&TrialStats]) -> Option<Deflated> {
    let finite: Vec<(usize, &TrialStats)> = trials
        .iter()
        .enumerate()
        .filter(|(_, t)| t.sharpe.is_finite())
        .map(|(i, t)| (i, *t))
        .collect();
    let &(best, b) = finite
        .iter()
        .reduce(|a, x| if x.1.sharpe > a.1.sharpe { x } else { a })?;
    let srs: Vec<f64> = finite.iter().map(|(_, t)| t.sharpe).collect();
    let sharpe_std = crate::stats::std_ddof1(&srs);
    let var = if srs.len() < 2 {
        0.0
    } else {
        sharpe_std * sharpe_std
    };
    let expected_max = expected_max_sharpe(srs.len(), var);
    Some(Deflated {
        best,
        n_trials: srs.len(),
        n_obs: b.n,
        sharpe: b.sharpe,
        sharpe_std,
        expected_max,
        skew: b.skew,
        kurtosis: b.kurtosis,
        dsr: probabilistic_sharpe(b.sharpe, expected_max, b.n, b.skew, b.kurtosis),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::research::evaluation::Layout;

    /// The paper's numerical example: N = 100 trials, annualised SR* = 2.5 and V = 1/2 on
    /// 250-day years (per day SR* = 2.5/√250, V = 0.5/250), T = 1,250 daily returns, γ₃ = −3,
    /// γ₄ = 10. The paper reports SR₀ ≈ 0.1132 and DSR ≈ 0.9004; SciPy 1.17.1 gives
    /// SR₀ = 0.11317200186513214 and DSR = 0.9003968344493903 (`scipy.stats.norm.ppf/cdf`
    /// on the formulas above).
    #[test]
    fn the_papers_numerical_example() {
        let sr = 2.5 / 250f64.sqrt();
        let b = expected_max_sharpe(100, 0.5 / 250.0);
        assert!((b - 0.11317200186513214).abs() < 1e-14, "{b}");
        assert!((b - 0.1132).abs() < 5e-5);
        let dsr = probabilistic_sharpe(sr, b, 1250, -3.0, 10.0);
        assert!((dsr - 0.9003968344493903).abs() < 1e-12, "{dsr}");
        assert!((dsr - 0.9004).abs() < 5e-5);
    }

    /// A 320 × 20 matrix of returns from a 64-bit LCG (Knuth's MMIX constants, seed 42; the
    /// top 53 bits as a uniform `u`, return `(u − 0.5) × 0.04 + (i − 10) × 1e-4` for trial
    /// `i`), the same generator in Python and here. Column-major: `m[i][t]`.
    pub(crate) fn lcg_matrix(t: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut x = seed;
        (0..n)
            .map(|i| {
                let drift = (i as f64 - n as f64 / 2.0) * 1e-4;
                (0..t)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                        (u - 0.5) * 0.04 + drift
                    })
                    .collect()
            })
            .collect()
    }

    /// Reference from the same matrix with NumPy 2.4.6 / SciPy 1.17.1: Sharpe ratios
    /// `mean / std(ddof=1)` per column, `V = var(ddof=1)` of them, `scipy.stats.skew` and
    /// `kurtosis(fisher=False)` of the best column: best 16, SR* = 0.0998554433262136,
    /// V = 0.003234008558842954, γ₃ = −0.11006121139207319, γ₄ = 1.7650069161378203,
    /// SR₀ = 0.10809011377074543, DSR = 0.44190679291674645.
    #[test]
    fn matches_an_independent_computation() {
        let m = lcg_matrix(320, 20, 42);
        let layout = Layout {
            is_days: 320,
            blocks: vec![],
            folds: vec![],
        };
        let trials: Vec<TrialStats> = m
            .iter()
            .map(|r| TrialStats::from_returns(r, &layout))
            .collect();
        let d = deflated_sharpe(&trials.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(d.best, 16);
        assert_eq!((d.n_trials, d.n_obs), (20, 320));
        let near = |a: f64, b: f64| (a - b).abs() < 1e-12 * b.abs().max(1.0);
        assert!(near(d.sharpe, 0.0998554433262136), "{}", d.sharpe);
        assert!(near(d.sharpe_std * d.sharpe_std, 0.003234008558842954));
        assert!(near(d.skew, -0.11006121139207319));
        assert!(near(d.kurtosis, 1.7650069161378203));
        assert!(near(d.expected_max, 0.10809011377074543));
        assert!(near(d.dsr, 0.44190679291674645), "{}", d.dsr);
    }

    #[test]
    fn edge_cases() {
        assert_eq!(expected_max_sharpe(1, 0.3), 0.0);
        // More trials, higher bar.
        assert!(expected_max_sharpe(1000, 0.01) > expected_max_sharpe(10, 0.01));
        assert!(probabilistic_sharpe(0.1, 0.0, 1, 0.0, 3.0).is_nan());
        assert!((probabilistic_sharpe(0.1, 0.1, 100, 0.0, 3.0) - 0.5).abs() < 1e-15);
        assert!(deflated_sharpe(&[]).is_none());
    }
}
