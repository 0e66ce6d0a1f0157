//! Data quality: coverage, gaps, stale series, suspicious jumps and collection artifacts, per
//! source and field (`lockstep data status`, `GET /api/data/status`).
//!
//! Rules (also in each [`SeriesStatus::jump_rule`]):
//! - **Gap**: a step between two consecutive values of one series (symbol, or symbol@venue)
//!   longer than the cadence: 1 day for daily fields, 31 days for the monthly supply snapshots.
//! - **Stale**: the series' last value is more than `stale_after_days` (default 3) days before
//!   `as_of` (default: today, UTC).
//! - **Jump**: close `|ln(v/prev)| > ln 3` (a 3× move or a 67 % drop between consecutive stored
//!   values); market cap, circulating supply and open interest `|ln(v/prev)| > ln 5`; funding
//!   `|daily rate| > 0.03` (3 % a day). A zero or negative value where a ratio is taken counts as
//!   a jump.
//! - **Series end cluster**: among the series of one source and field that end more than
//!   `stale_after_days` before that field's last day, a day on which at least
//!   `max(3, 5 % of the series)` of them end. Real listings end on scattered days; a collection
//!   window ends many at once (the predecessor's price file: 82 of 136 assets on five days).
//! - **Alphabetical truncation**: a field whose symbols stop at some symbol `S` while other
//!   fields hold at least 10 symbols sorting after `S` and at least 20 % of the other fields'
//!   symbols sorting before `S` are present: the list was cut alphabetically, not by the market.

use super::market::{LongRow, RunInfo, Series};
use super::{Store, StoreError};
use app::api::{
    DataArtifact, DataSourceStatus, DataStatus, FetchRunStatus, SeriesGap, SeriesJump, SeriesStatus,
};
use shared::Day;
use std::collections::{BTreeMap, BTreeSet};

/// Default staleness threshold in days.
pub const DEFAULT_STALE_DAYS: u32 = 3;

/// The stored fields the report covers: (series, column, panel field name, cadence in days).
pub const FIELDS: [(Series, &str, &str, u32); 5] = [
    (Series::Bars, "close", "close", 1),
    (Series::MarketCap, "usd", "market_cap", 1),
    (Series::Supply, "circulating", "circulating_supply", 31),
    (Series::Funding, "daily_rate", "funding_rate", 1),
    (Series::OpenInterest, "usd", "open_interest", 1),
];

/// How a field's jumps are judged.
#[derive(Clone, Copy, Debug)]
enum JumpRule {
    /// `|ln(v / prev)| > ln(factor)`.
    Ratio(f64),
    /// `|v| > limit`.
    Absolute(f64),
}

impl JumpRule {
    fn for_field(field: &str) -> JumpRule {
        match field {
            "close" => JumpRule::Ratio(3.0),
            "funding_rate" => JumpRule::Absolute(0.03),
            _ => JumpRule::Ratio(5.0),
        }
    }

    fn describe(self) -> String {
        match self {
            JumpRule::Ratio(f) => format!("|ln(value / previous value)| > ln {f}"),
            JumpRule::Absolute(l) => format!("|value| > {l}"),
        }
    }

    /// How far past the rule a move is (0 = not a jump), to rank jumps.
    fn excess(self, prev: f64, v: f64) -> f64 {
        match self {
            JumpRule::Ratio(f) => {
                if prev <= 0.0 || v <= 0.0 {
                    return if prev == v { 0.0 } else { f64::INFINITY };
                }
                let x = (v / prev).ln().abs() - f.ln();
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            JumpRule::Absolute(l) => {
                let x = v.abs() - l;
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
        }
    }
}

/// The long rows of one field from the store, all sources together.
pub struct FieldRows {
    pub field: &'static str,
    pub cadence_days: u32,
    pub rows: Vec<LongRow>,
}

/// Summarises `fields` (rows ordered by symbol, venue, day within each field). Pure: the tests
/// feed it hand-made rows.
pub fn summarize(fields: &[FieldRows], as_of: Day, stale_after_days: u32) -> Vec<SeriesStatus> {
    let mut out = Vec::new();
    for f in fields {
        // Group by source, then by series (symbol, venue) in day order.
        let mut by_source: BTreeMap<&str, BTreeMap<(&str, &str), Vec<&LongRow>>> = BTreeMap::new();
        for r in &f.rows {
            by_source
                .entry(r.source.as_str())
                .or_default()
                .entry((r.symbol.as_str(), r.venue.as_str()))
                .or_default()
                .push(r);
        }
        let rule = JumpRule::for_field(f.field);
        for (source, series) in by_source {
            let mut st = SeriesStatus {
                source: source.to_string(),
                field: f.field.to_string(),
                venues: Vec::new(),
                cadence_days: f.cadence_days,
                symbols: 0,
                values: 0,
                first_day: None,
                last_day: None,
                gaps: 0,
                missing_days: 0,
                largest_gaps: Vec::new(),
                stale: Vec::new(),
                stale_count: 0,
                jump_rule: rule.describe(),
                jumps: Vec::new(),
                jump_count: 0,
                revised_values: 0,
                revisions: 0,
            };
            let mut symbols = BTreeSet::new();
            let mut venues = BTreeSet::new();
            let (mut first, mut last) = (i32::MAX, i32::MIN);
            let mut gaps: Vec<(u64, SeriesGap)> = Vec::new();
            let mut jumps: Vec<(f64, SeriesJump)> = Vec::new();
            let mut stale = Vec::new();
            for ((symbol, venue), rows) in &series {
                let name = if venue.is_empty() {
                    symbol.to_string()
                } else {
                    format!("{symbol}@{venue}")
                };
                symbols.insert(*symbol);
                if !venue.is_empty() {
                    venues.insert(*venue);
                }
                st.values += rows.len() as u64;
                first = first.min(rows[0].day.0);
                let series_last = rows[rows.len() - 1].day.0;
                last = last.max(series_last);
                if as_of.0 - series_last > stale_after_days as i32 {
                    stale.push(name.clone());
                }
                for r in rows.iter() {
                    if r.revisions > 0 {
                        st.revised_values += 1;
                        st.revisions += r.revisions;
                    }
                }
                if let JumpRule::Absolute(_) = rule {
                    for r in rows.iter() {
                        let x = rule.excess(0.0, r.value);
                        if x > 0.0 {
                            jumps.push((
                                x,
                                SeriesJump {
                                    series: name.clone(),
                                    day: r.day.to_string(),
                                    previous: None,
                                    value: r.value,
                                },
                            ));
                        }
                    }
                }
                for w in rows.windows(2) {
                    let step = (w[1].day.0 - w[0].day.0) as u32;
                    if step > f.cadence_days {
                        let missing = u64::from(step - f.cadence_days);
                        st.gaps += 1;
                        st.missing_days += missing;
                        gaps.push((
                            missing,
                            SeriesGap {
                                series: name.clone(),
                                from: w[0].day.to_string(),
                                to: w[1].day.to_string(),
                                missing_days: missing,
                            },
                        ));
                    }
                    if let JumpRule::Ratio(_) = rule {
                        let x = rule.excess(w[0].value, w[1].value);
                        if x > 0.0 {
                            jumps.push((
                                x,
                                SeriesJump {
                                    series: name.clone(),
                                    day: w[1].day.to_string(),
                                    previous: Some(w[0].value),
                                    value: w[1].value,
                                },
                            ));
                        }
                    }
                }
            }
            st.symbols = symbols.len() as u64;
            st.venues = venues.into_iter().map(str::to_string).collect();
            if first <= last {
                st.first_day = Some(Day(first).to_string());
                st.last_day = Some(Day(last).to_string());
            }
            gaps.sort_by_key(|g| std::cmp::Reverse(g.0));
            st.largest_gaps = gaps.into_iter().take(10).map(|g| g.1).collect();
            st.jump_count = jumps.len() as u64;
            jumps.sort_by(|a, b| b.0.total_cmp(&a.0));
            st.jumps = jumps.into_iter().take(10).map(|j| j.1).collect();
            st.stale_count = stale.len() as u64;
            st.stale = stale.into_iter().take(20).collect();
            out.push(st);
        }
    }
    out
}

/// Collection artifacts across `fields`: series end clusters and alphabetical truncation.
pub fn artifacts(fields: &[FieldRows], stale_after_days: u32) -> Vec<DataArtifact> {
    let mut out = Vec::new();
    // (source, field) → symbols, for the truncation check.
    let mut symbol_sets: BTreeMap<(String, &str), BTreeSet<&str>> = BTreeMap::new();
    for f in fields {
        // (source) → series → last day.
        let mut ends: BTreeMap<&str, BTreeMap<(&str, &str), i32>> = BTreeMap::new();
        for r in &f.rows {
            let e = ends
                .entry(r.source.as_str())
                .or_default()
                .entry((r.symbol.as_str(), r.venue.as_str()))
                .or_insert(r.day.0);
            *e = (*e).max(r.day.0);
            symbol_sets
                .entry((r.source.clone(), f.field))
                .or_default()
                .insert(r.symbol.as_str());
        }
        for (source, series) in ends {
            let n = series.len();
            let field_last = series.values().copied().max().unwrap_or(i32::MIN);
            let mut by_day: BTreeMap<i32, u64> = BTreeMap::new();
            for &d in series.values() {
                if field_last - d > stale_after_days as i32 {
                    *by_day.entry(d).or_default() += 1;
                }
            }
            let threshold = 3u64.max((n as u64 * 5).div_ceil(100));
            let mut clusters: Vec<(i32, u64)> = by_day
                .into_iter()
                .filter(|&(_, c)| c >= threshold)
                .collect();
            if clusters.is_empty() {
                continue;
            }
            clusters.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let involved: u64 = clusters.iter().map(|c| c.1).sum();
            let listing = clusters
                .iter()
                .map(|(d, c)| format!("{} ({c})", Day(*d)))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(DataArtifact {
                kind: "series_end_cluster".into(),
                source: source.to_string(),
                field: f.field.to_string(),
                message: format!(
                    "{involved} of {n} {} series end on one of {} day(s) well before the field's last day {}: {listing}. \
                     Many series stopping on the same day points at the collection window, not at delistings.",
                    f.field,
                    clusters.len(),
                    Day(field_last)
                ),
                days: clusters.iter().map(|(d, _)| Day(*d).to_string()).collect(),
                series: involved,
            });
        }
    }
    // Alphabetical truncation: this field stops at `max`, the others go on.
    for ((source, field), set) in &symbol_sets {
        let Some(&max) = set.iter().next_back() else {
            continue;
        };
        let others: BTreeSet<&str> = symbol_sets
            .iter()
            .filter(|(k, _)| k.1 != *field)
            .flat_map(|(_, s)| s.iter().copied())
            .collect();
        let after = others.iter().filter(|s| **s > max).count();
        let before: Vec<&&str> = others.iter().filter(|s| **s <= max).collect();
        let present_before = before.iter().filter(|s| set.contains(**s)).count();
        if after >= 10 && !before.is_empty() && present_before * 5 >= before.len() {
            let min = set.iter().next().copied().unwrap_or("");
            out.push(DataArtifact {
                kind: "alphabetical_truncation".into(),
                source: source.clone(),
                field: field.to_string(),
                message: format!(
                    "{field} from {source} covers symbols {min}..{max} only: {present_before} of the {} symbols \
                     other fields hold up to {max} are present, none of the {after} after it. The symbol list \
                     looks cut alphabetically.",
                    before.len()
                ),
                days: Vec::new(),
                series: set.len() as u64,
            });
        }
    }
    out
}

fn run_status(r: RunInfo) -> FetchRunStatus {
    FetchRunStatus {
        target: r.target,
        started_at: r.started_at,
        finished_at: r.finished_at,
        status: r.status,
        rows_read: r.rows_read,
        inserted: r.counts.inserted,
        updated: r.counts.updated,
        unchanged: r.counts.unchanged,
        rejected: r.rejected,
        error: r.error,
        replaced: r.counts.replaced,
        set_aside: r.counts.set_aside,
    }
}

/// Today, UTC.
pub fn today() -> Day {
    Day((super::market::now_secs().div_euclid(86_400)) as i32)
}

impl Store {
    /// The long rows of every reported field.
    pub async fn field_rows(&self) -> Result<Vec<FieldRows>, StoreError> {
        let mut out = Vec::new();
        for (series, column, field, cadence_days) in FIELDS {
            out.push(FieldRows {
                field,
                cadence_days,
                rows: self.long_rows(series, column).await?,
            });
        }
        Ok(out)
    }

    /// The data-quality report.
    pub async fn data_status(
        &self,
        as_of: Day,
        stale_after_days: u32,
    ) -> Result<DataStatus, StoreError> {
        let fields = self.field_rows().await?;
        let series = summarize(&fields, as_of, stale_after_days);
        let artifacts = artifacts(&fields, stale_after_days);
        let in_use: BTreeSet<String> = fields
            .iter()
            .flat_map(|f| f.rows.iter().map(|r| r.source.clone()))
            .collect();
        let registered = self.sources().await?;
        let mut sources = Vec::new();
        for name in &in_use {
            let info = registered.iter().find(|s| &s.name == name);
            let last_run = self
                .runs(Some(name), 1)
                .await?
                .into_iter()
                .next()
                .map(run_status);
            let synthetic =
                info.is_some_and(|i| i.synthetic) || name == super::market::SYNTHETIC_SOURCE;
            sources.push(DataSourceStatus {
                name: name.clone(),
                kind: info.map(|i| i.kind.clone()).unwrap_or_else(|| {
                    if synthetic {
                        "synthetic"
                    } else {
                        "unregistered"
                    }
                    .to_string()
                }),
                synthetic,
                description: info.map(|i| i.description.clone()).unwrap_or_default(),
                last_run,
            });
        }
        let closes = fields
            .iter()
            .find(|f| f.field == "close")
            .map(|f| f.rows.as_slice())
            .unwrap_or_default();
        Ok(DataStatus {
            as_of: as_of.to_string(),
            stale_after_days,
            synthetic: sources.iter().any(|s| s.synthetic),
            sources,
            series,
            artifacts,
            splices: super::splices::find_splices(closes),
            bar_source_preference: self.bar_source_preference().await?,
            alternate_bars: self.alternate_bars().await?,
            bar_venue_preferences: self
                .bar_venue_preferences()
                .await?
                .into_iter()
                .map(|(venue, sources)| app::api::VenueBarPreference { venue, sources })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(symbol: &str, venue: &str, day: i32, value: f64) -> LongRow {
        LongRow {
            symbol: symbol.into(),
            venue: venue.into(),
            day: Day(day),
            value,
            source: "t".into(),
            revisions: 0,
        }
    }

    #[test]
    fn gaps_stale_and_jumps_on_hand_made_rows() {
        let mut rows = vec![
            row("AAA", "", 100, 10.0),
            row("AAA", "", 101, 10.5),
            row("AAA", "", 105, 40.0), // 3-day gap, then a 3.8x jump
            row("AAA", "", 106, 13.0), // 40 -> 13 is a 3.08x drop: a jump too
            row("BBB", "", 100, 1.0),
            row("BBB", "", 101, 2.9), // 2.9x: not a jump
        ];
        rows[3].revisions = 2;
        let fields = [FieldRows {
            field: "close",
            cadence_days: 1,
            rows,
        }];
        let s = &summarize(&fields, Day(106), 3)[0];
        assert_eq!((s.symbols, s.values), (2, 6));
        assert_eq!(s.first_day.as_deref(), Some(Day(100).to_string().as_str()));
        assert_eq!((s.gaps, s.missing_days), (1, 3));
        assert_eq!(s.largest_gaps[0].series, "AAA");
        assert_eq!(s.jump_count, 2);
        assert_eq!(s.jumps[0].value, 40.0, "largest first");
        assert_eq!(s.stale, vec!["BBB".to_string()], "105 days old by 5 > 3");
        assert_eq!((s.revised_values, s.revisions), (1, 2));
    }

    #[test]
    fn funding_jumps_are_absolute_and_venues_listed() {
        let fields = [FieldRows {
            field: "funding_rate",
            cadence_days: 1,
            rows: vec![
                row("AAA", "binance", 1, 0.0003),
                row("AAA", "binance", 2, -0.05),
                row("AAA", "bybit", 1, 0.0003),
            ],
        }];
        let s = &summarize(&fields, Day(2), 3)[0];
        assert_eq!(s.venues, vec!["binance", "bybit"]);
        assert_eq!(s.jump_count, 1);
        assert_eq!(s.jumps[0].series, "AAA@binance");
    }

    #[test]
    fn many_series_ending_on_one_day_is_an_artifact() {
        let mut rows = Vec::new();
        // 10 series run to day 200; 6 end on day 50 together; 2 end on scattered days.
        for i in 0..10 {
            rows.push(row(&format!("L{i}"), "", 0, 1.0));
            rows.push(row(&format!("L{i}"), "", 200, 1.0));
        }
        for i in 0..6 {
            rows.push(row(&format!("E{i}"), "", 0, 1.0));
            rows.push(row(&format!("E{i}"), "", 50, 1.0));
        }
        rows.push(row("S1", "", 70, 1.0));
        rows.push(row("S2", "", 90, 1.0));
        rows.sort_by(|a, b| a.symbol.cmp(&b.symbol).then(a.day.cmp(&b.day)));
        let fields = [FieldRows {
            field: "close",
            cadence_days: 1,
            rows,
        }];
        let a = artifacts(&fields, 3);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].kind, "series_end_cluster");
        assert_eq!(a[0].days, vec![Day(50).to_string()]);
        assert_eq!(a[0].series, 6);
        // Scattered ends alone are no artifact.
        let scattered: Vec<LongRow> = (0..8)
            .map(|i| row(&format!("X{i}"), "", 10 * i, 1.0))
            .collect();
        let fields = [FieldRows {
            field: "close",
            cadence_days: 1,
            rows: scattered,
        }];
        assert!(artifacts(&fields, 3).is_empty());
    }

    #[test]
    fn alphabetically_cut_symbol_lists_are_flagged() {
        let letters: Vec<String> = (b'A'..=b'Z').map(|c| format!("{}X", c as char)).collect();
        let prices: Vec<LongRow> = letters[..10].iter().map(|s| row(s, "", 1, 1.0)).collect();
        let caps: Vec<LongRow> = letters.iter().map(|s| row(s, "", 1, 1.0)).collect();
        let fields = [
            FieldRows {
                field: "close",
                cadence_days: 1,
                rows: prices,
            },
            FieldRows {
                field: "market_cap",
                cadence_days: 1,
                rows: caps,
            },
        ];
        let a = artifacts(&fields, 3);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].kind, "alphabetical_truncation");
        assert_eq!(a[0].field, "close");
        assert!(a[0].message.contains("AX..JX"), "{}", a[0].message);
    }
}
