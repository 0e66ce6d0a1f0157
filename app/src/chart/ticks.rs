//! Where the axes put their ticks, for every chart: values on round numbers (steps of 1, 2 or 5
//! times a power of ten) and dates on the first day of a month, a quarter or a year, by span.
//! Plotters' own choice is evenly spaced ticks at arbitrary values (`2021-03-17`, `0.0137`),
//! which nobody reads at a glance.

use shared::Day;

/// At most `max` (≥ 2) ticks on round values inside `[lo, hi]`: every multiple of the
/// smallest step `s × 10^k` (`s` in 1, 2, 5) that keeps the count within `max`. Values are
/// computed as `i × s × 10^k` with one rounding, so `0.3` is `0.3`, not `0.30000000000000004`.
/// Empty for an empty, inverted or non-finite range.
pub fn value_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi < lo {
        return Vec::new();
    }
    let max = max.max(2);
    if hi == lo {
        return vec![lo];
    }
    let raw = (hi - lo) / (max - 1) as f64;
    let mut exp = raw.log10().floor() as i32;
    loop {
        for s in [1.0, 2.0, 5.0] {
            let value = |i: i64| -> f64 {
                if exp >= 0 {
                    i as f64 * s * 10f64.powi(exp)
                } else {
                    i as f64 * s / 10f64.powi(-exp)
                }
            };
            let step = value(1);
            // A hair of slack so that an end on a multiple (0.9 / 0.05 = 17.999…) counts.
            let first = (lo / step - 1e-9).ceil() as i64;
            let last = (hi / step + 1e-9).floor() as i64;
            if last < first || ((last - first + 1) as u64) <= max as u64 {
                return (first..=last)
                    .map(value)
                    .filter(|v| *v >= lo && *v <= hi)
                    .map(|v| if v == 0.0 { 0.0 } else { v })
                    .collect();
            }
        }
        exp += 1;
    }
}

/// The spacing of date ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateStep {
    /// Every `n` days from the first day shown.
    Days(u32),
    /// The first day of every `n`-th month (1: months, 3: quarters, 6: half years), counted
    /// from January.
    Months(u32),
    /// 1 January of every `n`-th year.
    Years(u32),
}

impl DateStep {
    /// A tick's label: `2021` for years, `2021-04` for months and quarters, the full date for
    /// days.
    pub fn label(self, day: Day) -> String {
        let (y, m, _) = day.ymd();
        match self {
            DateStep::Years(_) => format!("{y}"),
            DateStep::Months(_) => format!("{y}-{m:02}"),
            DateStep::Days(_) => day.to_string(),
        }
    }
}

/// At most `max` (≥ 2) ticks on round dates inside `[first, last]`, and how they are spaced:
/// year starts for long spans (every 1, 2, 5, 10 years), then quarter or month starts, and for
/// spans of a few weeks every 1, 2, 7 or 14 days.
pub fn date_ticks(first: Day, last: Day, max: usize) -> (DateStep, Vec<Day>) {
    let max = max.max(2);
    if last < first {
        return (DateStep::Days(1), Vec::new());
    }
    let month_steps = [
        DateStep::Months(1),
        DateStep::Months(3),
        DateStep::Months(6),
        DateStep::Years(1),
        DateStep::Years(2),
        DateStep::Years(5),
        DateStep::Years(10),
        DateStep::Years(20),
        DateStep::Years(50),
        DateStep::Years(100),
    ];
    let span_days = (last.0 - first.0) as usize + 1;
    // Month starts need a span of about two months to give two ticks; shorter spans count days.
    if span_days < 62 {
        for n in [1u32, 2, 7, 14, 31] {
            let ticks: Vec<Day> = (first.0..=last.0).step_by(n as usize).map(Day).collect();
            if ticks.len() <= max {
                return (DateStep::Days(n), ticks);
            }
        }
    }
    let mut best = (DateStep::Years(100), Vec::new());
    for step in month_steps {
        let ticks = month_ticks(first, last, step);
        if ticks.len() <= max {
            best = (step, ticks);
            break;
        }
    }
    best
}

/// [`date_ticks`] for an axis of day numbers (`Day.0` as `f64`, as the charts plot them):
/// the step and the ticks as axis values.
pub fn day_axis(x0: f64, x1: f64, max: usize) -> (DateStep, Vec<f64>) {
    if !(x0.is_finite() && x1.is_finite()) {
        return (DateStep::Days(1), Vec::new());
    }
    let (step, days) = date_ticks(Day(x0.ceil() as i32), Day(x1.floor() as i32), max);
    (step, days.into_iter().map(|d| d.0 as f64).collect())
}

/// A date tick's label ([`DateStep::label`]); empty between whole days.
pub fn day_label(step: DateStep, x: f64) -> String {
    if (x - x.round()).abs() < 0.01 {
        step.label(Day(x.round() as i32))
    } else {
        String::new()
    }
}

/// An `f64` axis whose ticks (mesh lines and labels) are exactly the given values: plotters'
/// own `with_key_points` drops the axis's label formatting, so this wraps the plain `f64`
/// range and keeps it.
#[cfg(feature = "hydrate")]
pub struct TickedAxis {
    inner: plotters::coord::types::RangedCoordf64,
    ticks: Vec<f64>,
}

#[cfg(feature = "hydrate")]
impl TickedAxis {
    pub fn new(range: std::ops::Range<f64>, ticks: Vec<f64>) -> TickedAxis {
        TickedAxis {
            inner: range.into(),
            ticks,
        }
    }
}

#[cfg(feature = "hydrate")]
mod ticked_axis {
    use super::TickedAxis;
    use plotters::coord::ranged1d::{
        KeyPointHint, NoDefaultFormatting, Ranged, ReversibleRanged, ValueFormatter,
    };
    use plotters::coord::types::RangedCoordf64;
    use std::ops::Range;

    impl Ranged for TickedAxis {
        type FormatOption = NoDefaultFormatting;
        type ValueType = f64;

        fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
            self.inner.map(value, limit)
        }

        fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
            // Only bold points: no light mesh lines between the ticks.
            if hint.weight().allow_light_points() {
                Vec::new()
            } else {
                self.ticks.clone()
            }
        }

        fn range(&self) -> Range<f64> {
            self.inner.range()
        }
    }

    impl ReversibleRanged for TickedAxis {
        fn unmap(&self, input: i32, limit: (i32, i32)) -> Option<f64> {
            self.inner.unmap(input, limit)
        }
    }

    impl ValueFormatter<f64> for TickedAxis {
        fn format(value: &f64) -> String {
            <RangedCoordf64 as ValueFormatter<f64>>::format(value)
        }
    }
}

/// The first days of months on `step` inside `[first, last]`.
fn month_ticks(first: Day, last: Day, step: DateStep) -> Vec<Day> {
    let every = match step {
        DateStep::Months(n) => n as i32,
        DateStep::Years(n) => 12 * n as i32,
        DateStep::Days(_) => return Vec::new(),
    };
    let (y0, _, _) = first.ymd();
    let (y1, _, _) = last.ymd();
    let mut out = Vec::new();
    // Counted in months since year 0 so that multi-year steps land on round years.
    let (from, to) = (y0 * 12, y1 * 12 + 11);
    let mut k = from.div_euclid(every) * every;
    while k <= to {
        let (y, m) = (k.div_euclid(12), k.rem_euclid(12) as u32 + 1);
        if let Some(d) = Day::from_ymd(y, m, 1) {
            if d >= first && d <= last {
                out.push(d);
            }
        }
        k += every;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Day {
        Day::parse(s).unwrap()
    }

    #[test]
    fn values_fall_on_one_two_five_steps() {
        assert_eq!(
            value_ticks(0.0, 10.0, 6),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(value_ticks(0.0, 1.0, 3), vec![0.0, 0.5, 1.0]);
        assert_eq!(value_ticks(-0.13, 0.27, 6), vec![-0.1, 0.0, 0.1, 0.2]);
        // Exact decimals, not accumulated float error.
        assert_eq!(
            value_ticks(0.25, 0.35, 6),
            vec![0.26, 0.28, 0.3, 0.32, 0.34]
        );
        assert_eq!(
            value_ticks(937.0, 41_250.0, 6),
            vec![10_000.0, 20_000.0, 30_000.0, 40_000.0]
        );
        assert_eq!(value_ticks(0.9, 1.1, 6), vec![0.9, 0.95, 1.0, 1.05, 1.1]);
    }

    #[test]
    fn value_ticks_respect_the_limit_and_odd_ranges() {
        for (lo, hi) in [
            (0.0, 1.0),
            (-3.7, 12.9),
            (1e-7, 3e-7),
            (12345.0, 12346.0),
            (-5e6, 9e9),
        ] {
            for max in [2, 3, 5, 8] {
                let t = value_ticks(lo, hi, max);
                assert!(
                    !t.is_empty() && t.len() <= max,
                    "{lo}..{hi} max {max}: {t:?}"
                );
                assert!(t.iter().all(|v| *v >= lo && *v <= hi), "{t:?}");
                assert!(t.windows(2).all(|w| w[0] < w[1]));
            }
        }
        assert_eq!(value_ticks(2.0, 2.0, 6), vec![2.0]);
        assert!(value_ticks(1.0, 0.0, 6).is_empty());
        assert!(value_ticks(f64::NAN, 1.0, 6).is_empty());
    }

    #[test]
    fn long_spans_tick_on_year_starts() {
        let (step, t) = date_ticks(d("2020-01-01"), d("2025-10-25"), 8);
        assert_eq!(step, DateStep::Years(1));
        assert_eq!(t.first(), Some(&d("2020-01-01")));
        assert_eq!(t.len(), 6);
        assert_eq!(step.label(t[1]), "2021");
        let (step, t) = date_ticks(d("1990-03-01"), d("2025-01-01"), 8);
        assert_eq!(step, DateStep::Years(5));
        assert_eq!(t[0], d("1995-01-01"));
    }

    #[test]
    fn a_year_or_two_ticks_on_quarters_or_half_years() {
        let (step, t) = date_ticks(d("2024-02-10"), d("2025-01-20"), 8);
        assert_eq!(step, DateStep::Months(3));
        assert_eq!(
            t,
            vec![
                d("2024-04-01"),
                d("2024-07-01"),
                d("2024-10-01"),
                d("2025-01-01")
            ]
        );
        assert_eq!(step.label(t[0]), "2024-04");
        let (step, _) = date_ticks(d("2023-01-01"), d("2025-06-30"), 8);
        assert_eq!(step, DateStep::Months(6));
    }

    #[test]
    fn months_and_days_for_short_spans() {
        let (step, t) = date_ticks(d("2025-03-15"), d("2025-08-20"), 8);
        assert_eq!(step, DateStep::Months(1));
        assert_eq!(t[0], d("2025-04-01"));
        assert_eq!(t.len(), 5);
        let (step, t) = date_ticks(d("2025-08-01"), d("2025-08-30"), 8);
        assert_eq!(step, DateStep::Days(7));
        assert_eq!(t.len(), 5);
        assert_eq!(step.label(t[1]), "2025-08-08");
        let (step, t) = date_ticks(d("2025-08-01"), d("2025-08-01"), 8);
        assert_eq!((step, t.len()), (DateStep::Days(1), 1));
    }

    #[test]
    fn date_ticks_never_exceed_the_limit() {
        let start = d("2019-06-17");
        for span in [
            0, 1, 5, 20, 45, 61, 62, 90, 200, 400, 800, 2125, 5000, 20000,
        ] {
            for max in [2, 4, 8] {
                let (_, t) = date_ticks(start, Day(start.0 + span), max);
                assert!(t.len() <= max, "span {span} max {max}: {}", t.len());
                assert!(t.iter().all(|x| *x >= start && x.0 <= start.0 + span));
            }
        }
    }
}
