//! Price series whose source changes under them (a "splice"): the predecessor's files mix
//! exchanges, and a refresh can carry a series on from CSV closes to Hyperliquid candles. Every
//! bar remembers its source (`daily_bars.source`), so a change of source between two stored days
//! of one symbol is found by reading the closes in order; the report gives the day, both
//! sources and the jump across the splice next to the series' usual daily move, so a user can
//! tell a seam from a market move. Shown by `lockstep data status`, `/api/data/status`, the Data
//! page and the consistency report's period.
//!
//! The bars the store did not use for a day (another source holds it) are kept in
//! `bar_alternates` (`migrations/0081_bar_sources.sql`, written by the upsert in
//! `market/writes.rs`); [`Store::alternate_bars`] summarises them.

use super::market::{LongRow, Series};
use super::{Store, StoreError};
use app::api::{AlternateBars, SourceSplice};
use shared::Day;
use sqlx::Row;

/// The median of `|close_t / close_{t-1} - 1|` over consecutive days of one source in `rows`
/// (one symbol's closes in day order); `None` with fewer than 2 such steps.
fn typical_move(rows: &[&LongRow]) -> Option<f64> {
    let mut moves: Vec<f64> = rows
        .windows(2)
        .filter(|w| w[0].source == w[1].source && w[1].day.0 - w[0].day.0 == 1)
        .filter(|w| w[0].value > 0.0 && w[1].value > 0.0)
        .map(|w| (w[1].value / w[0].value - 1.0).abs())
        .collect();
    if moves.len() < 2 {
        return None;
    }
    moves.sort_by(f64::total_cmp);
    let n = moves.len();
    Some(if n % 2 == 1 {
        moves[n / 2]
    } else {
        (moves[n / 2 - 1] + moves[n / 2]) / 2.0
    })
}

/// Every change of source between two consecutive stored closes of one symbol, in `rows`
/// (closes ordered by symbol, then day, as [`Store::long_rows`] returns them), ordered by
/// symbol and day. Pure: the tests feed it hand-made rows.
pub fn find_splices(rows: &[LongRow]) -> Vec<SourceSplice> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let mut end = start + 1;
        while end < rows.len() && rows[end].symbol == rows[start].symbol {
            end += 1;
        }
        let series: Vec<&LongRow> = rows[start..end].iter().collect();
        if series.windows(2).any(|w| w[0].source != w[1].source) {
            let typical = typical_move(&series);
            for w in series.windows(2) {
                let (a, b) = (w[0], w[1]);
                if a.source == b.source {
                    continue;
                }
                let change = b.value / a.value - 1.0;
                let jump_ratio = typical
                    .filter(|t| *t > 0.0 && change.is_finite())
                    .map(|t| change.abs() / t);
                out.push(SourceSplice {
                    symbol: b.symbol.clone(),
                    day: b.day.to_string(),
                    previous_day: a.day.to_string(),
                    from_source: a.source.clone(),
                    to_source: b.source.clone(),
                    previous_close: a.value,
                    close: b.value,
                    change,
                    typical_move: typical,
                    jump_ratio,
                });
            }
        }
        start = end;
    }
    out
}

impl Store {
    /// The spliced price series of the store, optionally only splices on days `from..=to`.
    pub async fn source_splices(
        &self,
        within: Option<(Day, Day)>,
    ) -> Result<Vec<SourceSplice>, StoreError> {
        let rows = self.long_rows(Series::Bars, "close").await?;
        // `YYYY-MM-DD` strings order as the days do.
        let within = within.map(|(from, to)| (from.to_string(), to.to_string()));
        Ok(find_splices(&rows)
            .into_iter()
            .filter(|s| {
                within
                    .as_ref()
                    .is_none_or(|(from, to)| (from..=to).contains(&&s.day))
            })
            .collect())
    }

    /// The bars kept aside in `bar_alternates`, per source and reason.
    pub async fn alternate_bars(&self) -> Result<Vec<AlternateBars>, StoreError> {
        let rows = sqlx::query(
            "SELECT source, reason, COUNT(*), MIN(day), MAX(day) FROM bar_alternates \
             GROUP BY source, reason ORDER BY source, reason",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AlternateBars {
                    source: r.try_get(0)?,
                    reason: r.try_get(1)?,
                    bars: r.try_get::<i64, _>(2)? as u64,
                    first_day: Day(r.try_get::<i64, _>(3)? as i32).to_string(),
                    last_day: Day(r.try_get::<i64, _>(4)? as i32).to_string(),
                })
            })
            .collect()
    }

    /// The bar `source` wrote for `symbol` on `day` and the store keeps aside, as
    /// `[open, high, low, close, volume]` (NaN = missing) with why it was kept aside.
    pub async fn alternate_bar(
        &self,
        symbol: &str,
        day: Day,
        source: &str,
    ) -> Result<Option<([f64; 5], String)>, StoreError> {
        let row = sqlx::query(
            "SELECT open, high, low, close, volume, reason FROM bar_alternates \
             WHERE symbol = $1 AND day = $2 AND source = $3",
        )
        .bind(symbol.to_string())
        .bind(i64::from(day.0))
        .bind(source.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let mut v = [f64::NAN; 5];
        for (i, x) in v.iter_mut().enumerate() {
            *x = r.try_get::<Option<f64>, _>(i)?.unwrap_or(f64::NAN);
        }
        Ok(Some((v, r.try_get(5)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(symbol: &str, day: i32, value: f64, source: &str) -> LongRow {
        LongRow {
            symbol: symbol.into(),
            venue: String::new(),
            day: Day(day),
            value,
            source: source.into(),
            revisions: 0,
        }
    }

    #[test]
    fn a_change_of_source_is_a_splice_measured_against_the_typical_move() {
        let rows = vec![
            close("AAA", 1, 100.0, "csv"),
            close("AAA", 2, 101.0, "csv"),                // +1 %
            close("AAA", 3, 99.99, "csv"),                // -1 %
            close("AAA", 4, 100.9899, "csv"),             // +1 %
            close("AAA", 5, 106.039395, "hyperliquid"),   // +5 % across the splice
            close("AAA", 6, 107.09978895, "hyperliquid"), // +1 %
            close("BBB", 1, 10.0, "csv"),
            close("BBB", 2, 10.5, "csv"),
        ];
        let s = find_splices(&rows);
        assert_eq!(s.len(), 1, "{s:?}");
        let s = &s[0];
        assert_eq!(
            (s.symbol.as_str(), s.day.clone()),
            ("AAA", Day(5).to_string())
        );
        assert_eq!(s.previous_day, Day(4).to_string());
        assert_eq!(
            (s.from_source.as_str(), s.to_source.as_str()),
            ("csv", "hyperliquid")
        );
        assert!((s.change - 0.05).abs() < 1e-9, "{}", s.change);
        let typical = s.typical_move.unwrap();
        assert!(
            (typical - 0.01).abs() < 1e-9,
            "the splice step is not a typical move: {typical}"
        );
        assert!((s.jump_ratio.unwrap() - 5.0).abs() < 1e-6);
    }

    #[test]
    fn one_source_per_series_is_no_splice_and_short_series_have_no_typical_move() {
        let rows = vec![
            close("AAA", 1, 1.0, "csv"),
            close("AAA", 2, 1.1, "csv"),
            close("BBB", 1, 1.0, "csv"),
            close("BBB", 2, 2.0, "hyperliquid"),
            close("BBB", 3, 1.0, "csv"),
        ];
        let s = find_splices(&rows);
        assert_eq!(s.len(), 2, "there and back: {s:?}");
        assert!(s
            .iter()
            .all(|s| s.symbol == "BBB" && s.typical_move.is_none()));
        assert!(s.iter().all(|s| s.jump_ratio.is_none()));
        assert_eq!(s[1].change, -0.5);
    }
}
