//! How the dashboard prints numbers and times: value formats for axes, read-outs and tables,
//! the headline metrics' labels, UTC timestamps. Pages and charts share these; none of them
//! owns them.

use shared::metrics::KEYS;

/// How a value prints on an axis, in a read-out or a table cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum YFormat {
    /// `0.1234` → `12.3%`.
    Percent,
    /// Plain numbers with 4 significant digits.
    #[default]
    Number,
    /// US dollars with thousands separators, cents below $10,000, millions above $10M.
    Usd,
}

impl YFormat {
    pub fn format(self, v: f64) -> String {
        match self {
            YFormat::Percent => format!("{:.1}%", v * 100.0),
            YFormat::Number => number(v),
            YFormat::Usd => {
                let a = v.abs();
                // Rounds to "$0.00" without a sign, never "-$0.00".
                let sign = if v < 0.0 && a >= 0.005 { "-" } else { "" };
                if a >= 1e7 {
                    format!("{sign}${:.2}M", a / 1e6)
                } else if a >= 1e4 {
                    format!("{sign}${}", group_thousands(&format!("{a:.0}")))
                } else {
                    format!("{sign}${}", group_thousands(&format!("{a:.2}")))
                }
            }
        }
    }
}

/// A plain number in fixed decimals, never scientific notation: thousands separators, two
/// decimals from 1 up, four below (a ratio of 0.0065 stays readable), `-` only when it shows.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "–".into()
        } else if v > 0.0 {
            "∞".into()
        } else {
            "-∞".into()
        };
    }
    let a = v.abs();
    fixed(v, if a >= 1.0 { 2 } else { 4 })
}

/// A quantity or a price (units held, a mark, an average fill price), whose size runs from a
/// memecoin's 0.00001234 to a whole dollar book's 1,234,567: about five significant digits in
/// fixed decimals (two at least, ten at most), thousands separators, never scientific
/// notation. `0.2475` → `0.24750`, `-1198.5` → `-1,198.50`, `95000.123` → `95,000.12`.
pub fn precise(v: f64) -> String {
    if !v.is_finite() {
        return number(v);
    }
    let a = v.abs();
    let digits = if a == 0.0 {
        2
    } else if a >= 1.0 {
        // Digits before the point: 1 for 1..10, 2 for 10..100, ...
        let int_digits = a.log10().floor() as i32 + 1;
        (5 - int_digits).clamp(2, 10)
    } else {
        // Zeros after the point before the first significant digit.
        let zeros = (-a.log10()).ceil() as i32 - 1;
        (zeros + 5).clamp(2, 10)
    };
    fixed(v, digits as usize)
}

/// `v` with `digits` decimals, thousands separators, `-` only when it shows.
fn fixed(v: f64, digits: usize) -> String {
    let text = format!("{:.digits$}", v.abs());
    let zero = text.bytes().all(|b| b == b'0' || b == b'.');
    let sign = if v < 0.0 && !zero { "-" } else { "" };
    format!("{sign}{}", group_thousands(&text))
}

/// `1234567.89` → `1,234,567.89` (digits of a non-negative decimal string).
fn group_thousands(s: &str) -> String {
    let (int, frac) = s.split_once('.').map_or((s, None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// A fraction as a percentage with two decimals: `0.1234` → `12.34%`.
pub fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM` UTC.
pub fn fmt_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let day = shared::Day(secs.div_euclid(86_400) as i32);
    let s = secs.rem_euclid(86_400);
    format!("{day} {:02}:{:02} UTC", s / 3600, s % 3600 / 60)
}

/// How a page shows one headline metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricLabel {
    /// The metric's key in [`shared::metrics::KEYS`] (and the CLI's JSON).
    pub key: &'static str,
    pub label: &'static str,
    pub format: YFormat,
}

/// The labels and formats of [`shared::metrics::KEYS`], in that order.
const LABELS: [(&str, YFormat); KEYS.len()] = [
    ("Total return", YFormat::Percent),
    ("CAGR", YFormat::Percent),
    ("Annual volatility", YFormat::Percent),
    ("Sharpe", YFormat::Number),
    ("Sortino", YFormat::Number),
    ("Max drawdown", YFormat::Percent),
    ("Calmar", YFormat::Number),
    ("Win rate", YFormat::Percent),
    ("Annual turnover", YFormat::Number),
    ("Avg gross exposure", YFormat::Percent),
    ("Avg net exposure", YFormat::Percent),
];

/// The headline metrics in display order, with their labels and formats.
pub fn metrics() -> impl Iterator<Item = MetricLabel> {
    KEYS.iter()
        .zip(LABELS)
        .map(|(&key, (label, format))| MetricLabel { key, label, format })
}

/// The format of the metric `key` (plain numbers for a key that is not a metric).
pub fn metric_format(key: &str) -> YFormat {
    metrics()
        .find(|m| m.key == key)
        .map(|m| m.format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_print_compactly() {
        assert_eq!(YFormat::Usd.format(12.345), "$12.35");
        assert_eq!(YFormat::Usd.format(-1_234.5), "-$1,234.50");
        assert_eq!(YFormat::Usd.format(-12_345.4), "-$12,345");
        assert_eq!(YFormat::Usd.format(2_500_000.0), "$2,500,000");
        assert_eq!(YFormat::Usd.format(25_000_000.0), "$25.00M");
        assert_eq!(YFormat::Usd.format(-0.001), "$0.00");
        assert_eq!(YFormat::Usd.format(999.0), "$999.00");
    }

    /// Regression: metrics printed as `6.477e-3`.
    #[test]
    fn numbers_never_print_in_scientific_notation() {
        assert_eq!(YFormat::Number.format(0.006477), "0.0065");
        assert_eq!(YFormat::Number.format(1.23456), "1.23");
        assert_eq!(YFormat::Number.format(12_345.678), "12,345.68");
        assert_eq!(YFormat::Number.format(-1_234_567.0), "-1,234,567.00");
        assert_eq!(YFormat::Number.format(-0.00001), "0.0000");
        assert_eq!(YFormat::Number.format(0.0), "0.0000");
        assert_eq!(YFormat::Percent.format(0.006477), "0.6%");
        for v in [1e-9, 3.3e-5, 7.0e12, -2.5e-7, 123.0] {
            assert!(!YFormat::Number.format(v).contains('e'), "{v}");
        }
        // Exposures are percentages; ratios fixed decimals.
        assert_eq!(metric_format("avg_gross_exposure"), YFormat::Percent);
        assert_eq!(metric_format("sortino"), YFormat::Number);
    }

    /// Units and prices: five significant digits in fixed decimals, from the tiny to the huge,
    /// never `e` notation.
    #[test]
    fn quantities_and_prices_keep_their_digits_in_fixed_decimals() {
        assert_eq!(precise(0.2475), "0.24750");
        assert_eq!(precise(-1198.5), "-1,198.50");
        assert_eq!(precise(95_000.123), "95,000.12");
        assert_eq!(precise(1.23456), "1.2346");
        assert_eq!(precise(12.3456), "12.346");
        assert_eq!(precise(0.000_012_34), "0.000012340");
        assert_eq!(precise(0.1), "0.10000");
        assert_eq!(precise(0.0), "0.00");
        assert_eq!(precise(-0.0), "0.00");
        assert_eq!(precise(1e-12), "0.0000000000");
        assert_eq!(
            precise(-1e-15),
            "0.0000000000",
            "no sign on a zero that shows"
        );
        assert_eq!(precise(7.0e12), "7,000,000,000,000.00");
        assert_eq!(precise(f64::NAN), "–");
        for v in [
            1e-300, 3.3e-9, 4.2e-7, -2.5e-5, 0.5, 9.99999, 1e6, 7.0e20, -1.7e308, 123.0,
        ] {
            let s = precise(v);
            assert!(!s.contains('e') && !s.contains('E'), "{v} -> {s}");
            let plain: String = s.chars().filter(|c| *c != ',').collect();
            assert!(plain.parse::<f64>().is_ok(), "{v} -> {s}");
        }
        // The digits are the value's: parsed back, within half a unit in the last place shown.
        for v in [0.2475, 1198.5, 0.000_012_34, 3.25159, 42_424.242] {
            let s = precise(v);
            let back: f64 = s.replace(',', "").parse().unwrap();
            let decimals = s.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
            assert!(
                (back - v).abs() <= 0.5 * 10f64.powi(-decimals) + 1e-15,
                "{v} -> {s}"
            );
        }
    }

    #[test]
    fn times_print_in_utc() {
        assert_eq!(fmt_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(fmt_time(1_700_000_000_000), "2023-11-14 22:13 UTC");
    }

    #[test]
    fn every_metric_has_a_label_that_names_it() {
        let all: Vec<MetricLabel> = metrics().collect();
        assert_eq!(all.len(), KEYS.len());
        // The labels follow the keys' order (a reordered KEYS would mislabel the table).
        let words = |s: &str| s.to_lowercase().replace(['_', ' '], "");
        for m in &all {
            assert!(
                words(m.label).starts_with(&words(m.key)),
                "{} is labelled {}",
                m.key,
                m.label
            );
        }
        assert_eq!(metric_format("max_drawdown"), YFormat::Percent);
        assert_eq!(metric_format("sharpe"), YFormat::Number);
    }
}
