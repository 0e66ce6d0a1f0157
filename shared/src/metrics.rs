//! Performance metrics of a daily return series.
//!
//! Definitions (the predecessor got several of these wrong: it dropped flat days, took Sharpe as
//! CAGR / vol and compounded summed log returns):
//! - Every day of the range counts, flat days included. NAV compounds the **simple** daily
//!   returns: `NAV_i = Π_{k ≤ i} (1 + R_k)`, starting from 1 the day before the first day.
//! - `total_return = NAV_n − 1`; `cagr = (1 + total_return)^(365 / n) − 1` (a 365-day year,
//!   crypto trades every day); −1 if the book lost everything.
//! - `annual_vol = std(R) × √365`, sample std (ddof 1).
//! - `sharpe = mean(R) / std(R) × √365`, risk-free rate 0, same std.
//! - `sortino = mean(R) / DD × √365` with downside deviation `DD = sqrt(mean(min(R, 0)²))` over
//!   all days.
//! - `max_drawdown = min_i (NAV_i / max_{k ≤ i} NAV_k − 1)` (≤ 0), the running peak including
//!   the starting NAV; its peak and trough dates (the peak is dated the day before the first day
//!   if it is the start).
//! - `calmar = cagr / |max_drawdown|`.
//! - `win_rate` = days with `R > 0` / all days.
//! - `annual_turnover = mean(daily traded notional / NAV) × 365`.
//! - `avg_gross_exposure` / `avg_net_exposure`: means of the daily post-trade `Σ|w|` and `Σw`.
//!
//! Undefined values (a ratio over a zero deviation, a std of one day) are `NaN`, which
//! `serde_json` writes as `null`. Powers use [`crate::math::powf`] (the `libm` crate, the same
//! code on every target), so the browser and the server print the same digits.

use crate::calendar::Day;
use crate::sim::SimOutput;

/// Days per year for annualising: crypto trades every calendar day.
pub const DAYS_PER_YEAR: f64 = 365.0;

/// The headline numbers of one backtest.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub n_days: usize,
    #[serde(deserialize_with = "null_as_nan")]
    pub total_return: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub cagr: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub annual_vol: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub sharpe: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub sortino: f64,
    /// The deepest fall from a running peak, as a fraction (≤ 0).
    #[serde(deserialize_with = "null_as_nan")]
    pub max_drawdown: f64,
    pub max_drawdown_peak: Option<Day>,
    pub max_drawdown_trough: Option<Day>,
    #[serde(deserialize_with = "null_as_nan")]
    pub calmar: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub win_rate: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub annual_turnover: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub avg_gross_exposure: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub avg_net_exposure: f64,
}

/// The headline metrics by the names the CLI's JSON gives them (the fields of [`Metrics`]
/// that are numbers of the whole run), in the order pages list them.
pub const KEYS: [&str; 11] = [
    "total_return",
    "cagr",
    "annual_vol",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "annual_turnover",
    "avg_gross_exposure",
    "avg_net_exposure",
];

impl Metrics {
    /// The metric named `key` (one of [`KEYS`]), or `None` for a name that is not one.
    pub fn get(&self, key: &str) -> Option<f64> {
        Some(match key {
            "total_return" => self.total_return,
            "cagr" => self.cagr,
            "annual_vol" => self.annual_vol,
            "sharpe" => self.sharpe,
            "sortino" => self.sortino,
            "max_drawdown" => self.max_drawdown,
            "calmar" => self.calmar,
            "win_rate" => self.win_rate,
            "annual_turnover" => self.annual_turnover,
            "avg_gross_exposure" => self.avg_gross_exposure,
            "avg_net_exposure" => self.avg_net_exposure,
            _ => return None,
        })
    }
}

/// The drawdown path of a value series: each value against the highest value so far
/// (`v / peak − 1`, ≤ 0), the peak starting at the first value. Charts plot it; the
/// [`Metrics::max_drawdown`] of a run also counts the starting NAV of 1 as a peak.
pub fn drawdowns(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut peak = f64::MIN;
    values
        .into_iter()
        .map(|v| {
            peak = peak.max(v);
            v / peak - 1.0
        })
        .collect()
}

/// Reads `null` (how `serde_json` writes a `NaN`) back as `NaN`, so results round-trip.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        f64::NAN
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Metrics of daily simple `returns` for consecutive days starting at `start`. `turnover`,
/// `gross` and `net` are per-day series of the same length (or empty: their metrics are then
/// `NaN`).
pub fn compute(
    start: Day,
    returns: &[f64],
    turnover: &[f64],
    gross: &[f64],
    net: &[f64],
) -> Metrics {
    let n = returns.len();
    let nf = n as f64;
    let ann = DAYS_PER_YEAR.sqrt();

    let mut nav = 1.0;
    let (mut peak, mut peak_i) = (1.0, -1i64);
    let (mut mdd, mut mdd_peak, mut mdd_trough) = (0.0, None, None);
    for (i, r) in returns.iter().enumerate() {
        nav *= 1.0 + r;
        if nav > peak {
            peak = nav;
            peak_i = i as i64;
        }
        let dd = nav / peak - 1.0;
        if dd < mdd {
            mdd = dd;
            mdd_peak = Some(Day(start.0 + peak_i as i32));
            mdd_trough = Some(Day(start.0 + i as i32));
        }
    }
    let total_return = nav - 1.0;
    let cagr = if n == 0 {
        f64::NAN
    } else if nav <= 0.0 {
        -1.0
    } else {
        crate::math::powf(nav, DAYS_PER_YEAR / nf) - 1.0
    };

    let m = mean(returns);
    let std = if n < 2 {
        f64::NAN
    } else {
        (returns.iter().map(|r| (r - m) * (r - m)).sum::<f64>() / (nf - 1.0)).sqrt()
    };
    let downside = (returns
        .iter()
        .map(|r| {
            let d = r.min(0.0);
            d * d
        })
        .sum::<f64>()
        / nf)
        .sqrt();
    let ratio = |num: f64, den: f64| if den > 0.0 { num / den } else { f64::NAN };

    Metrics {
        n_days: n,
        total_return,
        cagr,
        annual_vol: std * ann,
        sharpe: ratio(m, std) * ann,
        sortino: ratio(m, downside) * ann,
        max_drawdown: mdd,
        max_drawdown_peak: mdd_peak,
        max_drawdown_trough: mdd_trough,
        calmar: ratio(cagr, -mdd),
        win_rate: returns.iter().filter(|&&r| r > 0.0).count() as f64 / nf,
        annual_turnover: mean(turnover) * DAYS_PER_YEAR,
        avg_gross_exposure: mean(gross),
        avg_net_exposure: mean(net),
    }
}

/// Metrics of a simulation.
pub fn from_sim(out: &SimOutput) -> Metrics {
    compute(out.start, &out.returns, &out.turnover, &out.gross, &out.net)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn near(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + b.abs())
    }

    #[test]
    fn hand_computed_values() {
        // NAV 1.1, 1.045, 1.045, 1.0659; values computed by hand (Python, float64).
        let r = [0.1, -0.05, 0.0, 0.02];
        let m = compute(
            Day(10),
            &r,
            &[0.1, 0.0, 0.3, 0.0],
            &[1.0, 2.0, 1.0, 0.0],
            &[0.5; 4],
        );
        assert_eq!(m.n_days, 4);
        assert!(near(m.total_return, 0.0659));
        assert!(near(m.annual_vol, 1.191_829_825_660_246_2));
        assert!(near(m.sharpe, 5.359_406_068_279_481));
        assert!(near(m.sortino, 13.373_481_222_179_961));
        assert!((m.cagr - 337.163_847_876_395_7).abs() < 1e-9);
        assert!(near(m.max_drawdown, 1.045 / 1.1 - 1.0));
        assert_eq!(m.max_drawdown_peak, Some(Day(10)));
        assert_eq!(m.max_drawdown_trough, Some(Day(11)));
        assert!((m.calmar - 6_743.276_957_527_893_5).abs() < 1e-6);
        // The flat day counts as a day and not as a win.
        assert_eq!(m.win_rate, 0.5);
        assert!(near(m.annual_turnover, 0.1 * 365.0));
        assert!(near(m.avg_gross_exposure, 1.0));
        assert_eq!(m.avg_net_exposure, 0.5);
    }

    #[test]
    fn drawdown_from_the_starting_nav_is_dated_the_day_before() {
        let m = compute(Day(100), &[-0.1, 0.05, -0.2, 0.5], &[], &[], &[]);
        // NAV 0.9, 0.945, 0.756, 1.134: the trough 0.756 against the start 1.0.
        assert!(near(m.max_drawdown, 0.756 - 1.0));
        assert_eq!(m.max_drawdown_peak, Some(Day(99)));
        assert_eq!(m.max_drawdown_trough, Some(Day(102)));
        assert!(m.annual_turnover.is_nan());
    }

    #[test]
    fn degenerate_series() {
        let flat = compute(Day(0), &[0.0; 5], &[], &[], &[]);
        assert_eq!(flat.total_return, 0.0);
        assert_eq!(flat.cagr, 0.0);
        assert_eq!(flat.max_drawdown, 0.0);
        assert_eq!(flat.max_drawdown_peak, None);
        assert!(flat.sharpe.is_nan() && flat.sortino.is_nan() && flat.calmar.is_nan());
        let empty = compute(Day(0), &[], &[], &[], &[]);
        assert!(empty.cagr.is_nan() && empty.annual_vol.is_nan());
        let ruin = compute(Day(0), &[0.1, -1.0], &[], &[], &[]);
        assert_eq!(ruin.cagr, -1.0);
        assert_eq!(ruin.max_drawdown, -1.0);
        let json = serde_json::to_string(&flat).unwrap();
        assert!(json.contains(r#""sharpe":null"#), "{json}");
        let back: Metrics = serde_json::from_str(&json).unwrap();
        assert!(back.sharpe.is_nan() && back.total_return == 0.0);
    }

    #[test]
    fn a_year_of_constant_returns_has_cagr_equal_to_total_return() {
        let r = vec![0.001; 365];
        let m = compute(Day(0), &r, &[], &[], &[]);
        assert!((m.cagr - m.total_return).abs() < 1e-12);
        assert!((m.total_return - (crate::math::powf(1.001, 365.0) - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn keys_are_the_json_names_and_get_reads_each() {
        let m = compute(
            Day(10),
            &[0.1, -0.05, 0.0, 0.02],
            &[0.1, 0.0, 0.3, 0.0],
            &[1.0, 2.0, 1.0, 0.0],
            &[0.5; 4],
        );
        let json = serde_json::to_value(m).unwrap();
        let obj = json.as_object().unwrap();
        for key in KEYS {
            assert_eq!(obj[key].as_f64(), m.get(key), "{key}");
        }
        // Every number of the whole run is a key; the rest are counts and dates.
        let numbers: Vec<&str> = obj
            .keys()
            .map(String::as_str)
            .filter(|k| !["n_days", "max_drawdown_peak", "max_drawdown_trough"].contains(k))
            .collect();
        assert_eq!(numbers.len(), KEYS.len());
        assert_eq!(m.get("nope"), None);
    }

    #[test]
    fn drawdowns_run_from_the_first_value() {
        assert_eq!(
            drawdowns([2.0, 1.0, 4.0, 3.0, 4.0]),
            vec![0.0, -0.5, 0.0, -0.25, 0.0]
        );
        assert!(drawdowns([]).is_empty());
    }

    proptest! {
        #[test]
        fn drawdown_and_win_rate_bounds(r in proptest::collection::vec(-0.5f64..0.5, 1..200)) {
            let m = compute(Day(0), &r, &[], &[], &[]);
            prop_assert!((-1.0..=0.0).contains(&m.max_drawdown));
            prop_assert!((0.0..=1.0).contains(&m.win_rate));
            if m.max_drawdown < 0.0 {
                prop_assert!(m.max_drawdown_peak.unwrap() < m.max_drawdown_trough.unwrap());
            }
            let nav: f64 = r.iter().map(|x| 1.0 + x).product();
            prop_assert!((m.total_return - (nav - 1.0)).abs() < 1e-9);
        }
    }
}
