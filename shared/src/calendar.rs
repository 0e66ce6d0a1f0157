//! UTC calendar days as plain integers.
//!
//! A [`Day`] counts days since 1970-01-01: an integer, so the panel indexes days by
//! subtraction and rebalance dates are anchored to this calendar (`day % rebalance_days == 0`),
//! never to the start of a backtest, so the live trader and any backtest agree on which days a
//! strategy recomputes. Dates as text are read and written with `chrono` (its `NaiveDate`, no
//! clock: `shared` never asks the time), and a date from outside must fall in
//! [`Day::MIN`]..=[`Day::MAX`] (1990–2199).

use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::str::FromStr;

/// A UTC calendar day, counted from 1970-01-01 (day 0).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Day(pub i32);

/// A date string that is not a valid `YYYY-MM-DD` (or `YYYYMMDD`) calendar date in
/// [`Day::MIN`]..=[`Day::MAX`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {input:?}: expected YYYY-MM-DD between 1990-01-01 and 2199-12-31")]
pub struct DateError {
    /// What was given, cut to 40 characters (it may be anything a client sent).
    pub input: String,
}

impl DateError {
    fn of(s: &str) -> DateError {
        DateError {
            input: s.chars().take(40).collect(),
        }
    }
}

/// `num_days_from_ce()` of 1970-01-01: chrono counts from 0001-01-01 (day 1).
const EPOCH_FROM_CE: i32 = 719_163;

impl Day {
    /// The first day a date from outside may name: 1990-01-01. Market data starts well after it;
    /// anything earlier is a typo or garbage, and one such row would make the dense panel span
    /// centuries (days × assets × fields of memory).
    pub const MIN: Day = Day(7_305);
    /// The last day a date from outside may name: 2199-12-31.
    pub const MAX: Day = Day(84_005);

    /// Builds a day from a proleptic Gregorian date; `None` if the date does not exist.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Day> {
        NaiveDate::from_ymd_opt(year, month, day).map(Day::from_date)
    }

    /// The day of a chrono date.
    pub fn from_date(date: NaiveDate) -> Day {
        Day(date.num_days_from_ce() - EPOCH_FROM_CE)
    }

    /// This day as a chrono date; `None` only for days beyond chrono's range (±262,000 years),
    /// which no parser here makes.
    pub fn date(self) -> Option<NaiveDate> {
        self.0
            .checked_add(EPOCH_FROM_CE)
            .and_then(NaiveDate::from_num_days_from_ce_opt)
    }

    /// The (year, month, day) of this day.
    ///
    /// # Panics
    /// For a day beyond chrono's range (about ±262,000 years from now), which only a
    /// hand-built `Day(i32::MAX)` can be.
    pub fn ymd(self) -> (i32, u32, u32) {
        let d = self.date().expect("a day within chrono's range");
        (d.year(), d.month(), d.day())
    }

    /// Whether this day lies in [`Day::MIN`]..=[`Day::MAX`], the range dates from outside may
    /// name.
    pub fn in_range(self) -> bool {
        (Day::MIN..=Day::MAX).contains(&self)
    }

    /// Days since 1970-01-01, the anchor of every rebalance calendar.
    pub fn days_since_epoch(self) -> i32 {
        self.0
    }

    /// Parses `YYYY-MM-DD` or the compact `YYYYMMDD` used by the CMC snapshots, in
    /// [`Day::MIN`]..=[`Day::MAX`]. Exactly those shapes: no signs, spaces or one-digit months.
    ///
    /// # Errors
    /// [`DateError`] for anything else, whatever bytes it holds (never a panic).
    pub fn parse(s: &str) -> Result<Day, DateError> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        // The shape is checked on bytes, so nothing below slices a string inside a character.
        let iso: [u8; 10] = match b.len() {
            10 if b[4] == b'-' && b[7] == b'-' && digits(0..4) && digits(5..7) && digits(8..10) => {
                b.try_into().expect("ten bytes")
            }
            8 if digits(0..8) => [b[0], b[1], b[2], b[3], b'-', b[4], b[5], b'-', b[6], b[7]],
            _ => return Err(DateError::of(s)),
        };
        let iso = std::str::from_utf8(&iso).map_err(|_| DateError::of(s))?;
        let date = NaiveDate::from_str(iso).map_err(|_| DateError::of(s))?;
        let day = Day::from_date(date);
        if day.in_range() {
            Ok(day)
        } else {
            Err(DateError::of(s))
        }
    }
}

impl fmt::Display for Day {
    /// `YYYY-MM-DD`; a day beyond chrono's range (only a hand-built one) shows as `day N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.date() {
            Some(d) => write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
            None => write!(f, "day {}", self.0),
        }
    }
}

impl FromStr for Day {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Day::parse(s)
    }
}

impl TryFrom<String> for Day {
    type Error = DateError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Day::parse(&s)
    }
}

impl From<Day> for String {
    fn from(d: Day) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_days() {
        assert_eq!(Day::from_ymd(1970, 1, 1), Some(Day(0)));
        assert_eq!(Day(0).to_string(), "1970-01-01");
        assert_eq!(Day::parse("2020-01-01").unwrap(), Day(18_262));
        assert_eq!(Day::parse("20200101").unwrap(), Day(18_262));
        assert_eq!(Day(18_262).to_string(), "2020-01-01");
        assert_eq!(Day::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
    }

    #[test]
    fn the_range_is_1990_to_2199() {
        assert_eq!(Day::MIN, Day::from_ymd(1990, 1, 1).unwrap());
        assert_eq!(Day::MAX, Day::from_ymd(2199, 12, 31).unwrap());
        assert_eq!(Day::parse("1990-01-01"), Ok(Day::MIN));
        assert_eq!(Day::parse("2199-12-31"), Ok(Day::MAX));
        for out in [
            "1989-12-31",
            "2200-01-01",
            "0001-01-01",
            "9999-12-31",
            "00010101",
        ] {
            assert!(Day::parse(out).is_err(), "{out}");
        }
    }

    #[test]
    fn rejects_bad_dates() {
        for bad in [
            "2023-02-29",
            "2020-13-01",
            "2020-1-01",
            "",
            "abcd-ef-gh",
            "2020-00-10",
            "+2020-01-01",
            " 2020-01-01",
            "2020-01-1 ",
            "2020/01/01",
        ] {
            assert!(Day::parse(bad).is_err(), "{bad}");
        }
    }

    /// The defect: a multi-byte character where a digit belongs made the old parser slice a
    /// string inside a character and panic ("byte index 4 is not a char boundary").
    #[test]
    fn non_ascii_input_is_an_error_not_a_panic() {
        for bad in [
            "202é010",
            "2020-é1-01",
            "２０２０-01-01",
            "2020-01-0é",
            "é2020101",
        ] {
            let e = Day::parse(bad).unwrap_err();
            assert_eq!(e.input, bad);
        }
        // The echoed input is bounded.
        assert_eq!(Day::parse(&"x".repeat(10_000)).unwrap_err().input.len(), 40);
    }

    #[test]
    fn round_trips_every_day_in_range() {
        for n in Day::MIN.0..=Day::MAX.0 {
            let day = Day(n);
            let (y, m, d) = day.ymd();
            assert_eq!(Day::from_ymd(y, m, d), Some(day));
            assert_eq!(Day::parse(&day.to_string()), Ok(day));
        }
    }

    #[test]
    fn days_beyond_chrono_display_without_panicking() {
        assert_eq!(Day(i32::MAX).to_string(), format!("day {}", i32::MAX));
        assert_eq!(Day(i32::MIN).date(), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::fuzz::cases(4096)))]

        /// Any string: an in-range day that prints back as its input (YYYY-MM-DD) or as the
        /// same date (YYYYMMDD), or an error — never a panic.
        #[test]
        fn any_string_parses_or_errs(s in "\\PC{0,16}|[0-9-]{8,10}") {
            if let Ok(d) = Day::parse(&s) {
                prop_assert!(d.in_range());
                let shown = d.to_string();
                prop_assert!(shown == s || shown.replace('-', "") == s, "{} -> {}", s, shown);
            }
        }

        /// Any bytes, as a lossy string: the same.
        #[test]
        fn any_bytes_parse_or_err(b in proptest::collection::vec(any::<u8>(), 0..24)) {
            let s = String::from_utf8_lossy(&b);
            if let Ok(d) = Day::parse(&s) {
                prop_assert!(d.in_range());
            }
        }
    }
}
