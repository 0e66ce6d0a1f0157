//! Ordinary least squares: the closed-form single-regressor fit the trendline strategy needs and
//! a Householder QR solver for the ADF regression.
//!
//! QR rather than normal equations for anything whose statistic must match a reference to 1e-8:
//! forming `X'X` squares the condition number, Householder does not.

use super::tdist::student_t_two_sided_p;

/// `y = intercept + slope · x + e`, fitted by OLS.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimpleRegression {
    pub n: usize,
    pub slope: f64,
    pub intercept: f64,
    /// Sum of squared residuals.
    pub ssr: f64,
    /// Coefficient of determination `1 - SSR / SST` (`NaN` when `y` is constant).
    pub r2: f64,
    /// Standard error of the slope, `sqrt(SSR / (n - 2) / Sxx)`.
    pub slope_se: f64,
}

impl SimpleRegression {
    /// Residual standard deviation `sqrt(SSR / (n - 2))`.
    pub fn residual_std(&self) -> f64 {
        (self.ssr / (self.n as f64 - 2.0)).sqrt()
    }

    /// Two-sided p-value of the slope's t statistic with `n - 2` degrees of freedom (what
    /// `scipy.stats.linregress` reports). Kept out of the fit because it costs a continued
    /// fraction and callers usually screen on R² first. A perfect fit (`slope_se == 0`) gives 0.
    pub fn slope_p_value(&self) -> f64 {
        let df = self.n as f64 - 2.0;
        if self.slope_se == 0.0 {
            return if self.slope == 0.0 { f64::NAN } else { 0.0 };
        }
        student_t_two_sided_p(self.slope / self.slope_se, df)
    }

    /// The fitted value at `x`.
    pub fn predict(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// OLS of `y` on `x` with an intercept. `None` when the lengths differ, `n < 3` (no residual
/// degree of freedom) or `x` is constant. Inputs must be finite; this does not check.
pub fn simple_regression(x: &[f64], y: &[f64]) -> Option<SimpleRegression> {
    let n = x.len();
    if n != y.len() || n < 3 {
        return None;
    }
    let nf = n as f64;
    let (mut sx, mut sy) = (0.0, 0.0);
    for i in 0..n {
        sx += x[i];
        sy += y[i];
    }
    let (mx, my) = (sx / nf, sy / nf);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let dx = x[i] - mx;
        let dy = y[i] - my;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let mut ssr = 0.0;
    for i in 0..n {
        let e = y[i] - (intercept + slope * x[i]);
        ssr += e * e;
    }
    let r2 = if syy == 0.0 {
        f64::NAN
    } else {
        1.0 - ssr / syy
    };
    let slope_se = (ssr / (nf - 2.0) / sxx).sqrt();
    Some(SimpleRegression {
        n,
        slope,
        intercept,
        ssr,
        r2,
        slope_se,
    })
}

/// The design matrix has (numerically) dependent columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("regressor column {column} is linearly dependent on the ones before it")]
pub struct RankDeficient {
    pub column: usize,
}

/// Householder QR of the column-major `n × p` matrix `a` (column `j` is `a[j*n..(j+1)*n]`),
/// applying the same reflections to `y`, in place. Afterwards `y[..p]` holds `Q'y` for the
/// coefficients, `y[p..]` the residual coordinates (so `SSR = Σ y[p..]²`), and `rdiag[j]` the
/// diagonal of `R`. Because `R` is triangular, the t statistic of the **last** column needs no
/// back-substitution: `t = y[p-1] · sign(rdiag[p-1]) / sqrt(SSR / (n - p))`
/// (see [`last_coefficient_t`]).
///
/// # Errors
/// [`RankDeficient`] when a column's remaining norm is below `1e-13` of its original norm, or is 0.
pub fn householder_qr(
    a: &mut [f64],
    n: usize,
    p: usize,
    y: &mut [f64],
    rdiag: &mut [f64],
) -> Result<(), RankDeficient> {
    debug_assert!(a.len() >= n * p && y.len() >= n && rdiag.len() >= p && n >= p);
    for k in 0..p {
        let (done, rest) = a.split_at_mut((k + 1) * n);
        let col = &mut done[k * n..];
        // Reflections preserve a column's norm, so its original norm is the rows above k
        // (already final) plus what remains below.
        let below = dot(&col[k..], &col[k..]);
        let full = dot(&col[..k], &col[..k]) + below;
        let mut nrm = below.sqrt();
        if nrm == 0.0 || nrm <= 1e-13 * full.sqrt() {
            return Err(RankDeficient { column: k });
        }
        if col[k] < 0.0 {
            nrm = -nrm;
        }
        for v in &mut col[k..] {
            *v /= nrm;
        }
        col[k] += 1.0;
        let pivot = col[k];
        for j in 0..p - k - 1 {
            let other = &mut rest[j * n..(j + 1) * n];
            reflect(&col[k..], pivot, &mut other[k..]);
        }
        reflect(&col[k..], pivot, &mut y[k..n]);
        rdiag[k] = -nrm;
    }
    Ok(())
}

/// Applies the Householder reflection stored in `v` (with `v[0] = pivot`) to `target`.
#[inline]
fn reflect(v: &[f64], pivot: f64, target: &mut [f64]) {
    let s = -dot(v, target) / pivot;
    for (t, a) in target.iter_mut().zip(v.iter()) {
        *t += s * a;
    }
}

/// `Σ a_i·b_i` over the shorter length, in four interleaved partial sums (then combined as
/// `(s0 + s1) + (s2 + s3)` plus the tail). The fixed order keeps results identical on every
/// platform; the four independent chains let the CPU overlap the additions, which a single
/// running sum (one long dependency chain) cannot.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut s = [0.0f64; 4];
    let chunks = n / 4;
    for c in 0..chunks {
        let k = 4 * c;
        s[0] += a[k] * b[k];
        s[1] += a[k + 1] * b[k + 1];
        s[2] += a[k + 2] * b[k + 2];
        s[3] += a[k + 3] * b[k + 3];
    }
    let mut tail = 0.0;
    for k in 4 * chunks..n {
        tail += a[k] * b[k];
    }
    (s[0] + s[1]) + (s[2] + s[3]) + tail
}

/// `Σ a_i` with the same four-lane order as [`dot`].
#[inline]
pub fn sum(a: &[f64]) -> f64 {
    let n = a.len();
    let mut s = [0.0f64; 4];
    let chunks = n / 4;
    for c in 0..chunks {
        let k = 4 * c;
        s[0] += a[k];
        s[1] += a[k + 1];
        s[2] += a[k + 2];
        s[3] += a[k + 3];
    }
    let mut tail = 0.0;
    for v in &a[4 * chunks..] {
        tail += v;
    }
    (s[0] + s[1]) + (s[2] + s[3]) + tail
}

/// After [`householder_qr`]: `(t statistic of the last column, SSR)`.
pub fn last_coefficient_t(qty: &[f64], rdiag: &[f64], n: usize, p: usize) -> (f64, f64) {
    let ssr = dot(&qty[p..n], &qty[p..n]);
    let sigma = (ssr / (n - p) as f64).sqrt();
    (qty[p - 1] * rdiag[p - 1].signum() / sigma, ssr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_regression_matches_scipy_linregress() {
        // python -c "from scipy.stats import linregress; r = linregress([0,1,2,3,4],
        //   [1.0,2.5,2.9,4.2,5.1]); print(r.slope, r.intercept, r.rvalue**2, r.pvalue, r.stderr)"
        let r = simple_regression(&[0.0, 1.0, 2.0, 3.0, 4.0], &[1.0, 2.5, 2.9, 4.2, 5.1]).unwrap();
        assert!((r.slope - 0.99).abs() < 1e-14);
        assert!((r.intercept - 1.16).abs() < 1e-14);
        assert!((r.r2 - 0.9789252896524172).abs() < 1e-14);
        assert!((r.slope_se - 0.0838649708360606).abs() < 1e-14);
        assert!((r.slope_p_value() - 0.0013067715246401967).abs() < 1e-15);
        // Residuals by hand: 1.0-1.16, 2.5-2.15, 2.9-3.14, 4.2-4.13, 5.1-5.12.
        let ssr: f64 = [0.16, 0.35, 0.24, 0.07, 0.02].iter().map(|e| e * e).sum();
        assert!((r.ssr - ssr).abs() < 1e-14);
        assert!((r.residual_std() - (ssr / 3.0).sqrt()).abs() < 1e-14);
        assert!((r.predict(5.0) - 6.11).abs() < 1e-13);
    }

    #[test]
    fn simple_regression_rejects_degenerate_input() {
        assert!(simple_regression(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_none());
        assert!(simple_regression(&[1.0, 2.0], &[1.0, 2.0]).is_none());
        assert!(simple_regression(&[1.0, 2.0, 3.0], &[1.0, 2.0]).is_none());
        let perfect = simple_regression(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]).unwrap();
        assert_eq!(perfect.slope_p_value(), 0.0);
    }

    #[test]
    fn qr_gives_the_last_coefficients_t_statistic() {
        // y on [1, x]: same model as the linregress case above; the last column is x, so its t
        // statistic is slope / stderr = 0.99 / 0.0838649708360606.
        let n = 5;
        let mut a = vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 2.0, 3.0, 4.0];
        let mut y = vec![1.0, 2.5, 2.9, 4.2, 5.1];
        let mut rdiag = [0.0; 2];
        householder_qr(&mut a, n, 2, &mut y, &mut rdiag).unwrap();
        let (t, ssr) = last_coefficient_t(&y, &rdiag, n, 2);
        assert!((t - 0.99 / 0.0838649708360606).abs() < 1e-12);
        assert!((ssr - 0.211).abs() < 1e-14);
    }

    #[test]
    fn qr_reports_dependent_columns() {
        let mut a = vec![1.0, 2.0, 3.0, 2.0, 4.0, 6.0];
        let mut y = vec![1.0, 0.0, 1.0];
        let mut rdiag = [0.0; 2];
        assert_eq!(
            householder_qr(&mut a, 3, 2, &mut y, &mut rdiag),
            Err(RankDeficient { column: 1 })
        );
    }
}
