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
    let digits = if a >= 1.0 { 2 } else { 4 };
    let text = format!("{a:.digits$}");
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
