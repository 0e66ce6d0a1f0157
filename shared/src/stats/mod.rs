//! Small numerical kernels the strategies share: moments, least squares, Student-t tails and the
//! augmented Dickey-Fuller statistic.
//!
//! Everything here works on plain slices, allocates nothing per call (the ADF search keeps its
//! buffers in an [`adf::AdfWorkspace`]) and sums in a fixed left-to-right order, so the same input
//! gives the same bits on every platform, native and WebAssembly alike.

pub mod adf;
pub mod normal;
pub mod ols;
pub mod tdist;

pub use adf::{
    adf_lags_cap, default_max_lag, AdfError, AdfLags, AdfRegression, AdfResult, AdfWorkspace,
};
pub use ols::{simple_regression, SimpleRegression};
pub use tdist::{ln_gamma, regularized_incomplete_beta, student_t_two_sided_p};

/// Arithmetic mean; `NaN` for an empty slice.
pub fn mean(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for &v in x {
        s += v;
    }
    s / x.len() as f64
}

/// Sample standard deviation with `ddof = 1` (numpy `std(ddof=1)`, pandas' default), two-pass
/// for accuracy; `NaN` when fewer than two values.
pub fn std_ddof1(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    let mut ss = 0.0;
    for &v in x {
        let d = v - m;
        ss += d * d;
    }
    (ss / (n - 1) as f64).sqrt()
}

/// Sample excess kurtosis with biased moments: `m4 / m2² - 3` (Fisher), exactly what
/// `scipy.stats.kurtosis(x)` returns by default. `NaN` when fewer than two values; for a constant
/// series `NaN` as well (scipy returns `NaN` there too, `0/0`).
pub fn excess_kurtosis(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    let (mut m2, mut m4) = (0.0, 0.0);
    for &v in x {
        let d = v - m;
        let d2 = d * d;
        m2 += d2;
        m4 += d2 * d2;
    }
    let nf = n as f64;
    m2 /= nf;
    m4 /= nf;
    if m2 == 0.0 {
        return f64::NAN;
    }
    m4 / (m2 * m2) - 3.0
}

/// Sample skewness with biased moments: `m3 / m2^1.5` (Fisher-Pearson), what
/// `scipy.stats.skew(x)` returns by default. `NaN` when fewer than two values or constant.
pub fn skewness(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    let (mut m2, mut m3) = (0.0, 0.0);
    for &v in x {
        let d = v - m;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
    }
    let nf = n as f64;
    m2 /= nf;
    m3 /= nf;
    if m2 == 0.0 {
        return f64::NAN;
    }
    m3 / (m2 * m2.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_std_by_hand() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squared deviations 32, ddof-1 variance 32/7.
        let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&x), 5.0);
        assert!((std_ddof1(&x) - (32.0f64 / 7.0).sqrt()).abs() < 1e-15);
        assert!(std_ddof1(&[1.0]).is_nan());
        assert!(mean(&[]).is_nan());
    }

    #[test]
    fn kurtosis_matches_scipy() {
        // Hand: x = 1..5, m2 = 2, m4 = (16 + 1 + 0 + 1 + 16) / 5 = 6.8, 6.8 / 4 - 3 = -1.3.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!((excess_kurtosis(&x) - (-1.3)).abs() < 1e-15);
        // python -c "from scipy.stats import kurtosis; print(repr(kurtosis(
        //   [0.1, -0.3, 0.25, 2.0, -0.05, 0.0, 0.7, -1.1])))"  (scipy 1.17.1)
        let y = [0.1, -0.3, 0.25, 2.0, -0.05, 0.0, 0.7, -1.1];
        assert!((excess_kurtosis(&y) - 0.5084532568598101).abs() < 1e-13);
        assert!(excess_kurtosis(&[3.0, 3.0, 3.0]).is_nan());
    }

    #[test]
    fn skewness_by_hand_and_against_scipy() {
        // Hand: 0, 0, 3: mean 1, deviations -1, -1, 2; m2 = 6/3 = 2, m3 = (-1 - 1 + 8)/3 = 2,
        // skew = 2 / 2^1.5 = 1/√2.
        assert!((skewness(&[0.0, 0.0, 3.0]) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-15);
        // python -c "from scipy.stats import skew; print(repr(skew(
        //   [0.1, -0.3, 0.25, 2.0, -0.05, 0.0, 0.7, -1.1])))"  (scipy 1.17.1)
        let y = [0.1, -0.3, 0.25, 2.0, -0.05, 0.0, 0.7, -1.1];
        assert!((skewness(&y) - 0.7820959142577768).abs() < 1e-14);
        assert!(skewness(&[3.0, 3.0]).is_nan() && skewness(&[1.0]).is_nan());
    }
}
