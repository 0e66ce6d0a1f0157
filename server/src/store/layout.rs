//! The store's write model and its one panel layout.
//!
//! [`Record`] is what every writer hands the store (the CSV importer, the venue clients, the
//! demo): one row in Lockstep's units and bare symbols. [`layout_records`] lays records out as
//! the dense [`Panel`], and [`VenueOrder`] says which venue's funding and open interest a cell
//! takes when several venues have one; the store's packed build (`panel.rs`) follows the same
//! rules and a test proves the two equal bit for bit on the real files.
//!
//! The rules: the assets are the symbols with at least one daily bar, sorted by their bytes;
//! the days run from the first to the last bar; market caps, supply, funding and open interest
//! are aligned to those assets and days and dropped outside them; nothing is filled in (a day
//! without a value is NaN).

use shared::{Day, Field, Panel};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One good row, already converted to Lockstep's units and bare symbols.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Bar {
        symbol: String,
        day: Day,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    },
    MarketCap {
        symbol: String,
        day: Day,
        usd: f64,
    },
    /// `daily_rate` is a daily fraction (the predecessor's percent per 8 h × 3 / 100).
    Funding {
        symbol: String,
        venue: String,
        day: Day,
        daily_rate: f64,
    },
    OpenInterest {
        symbol: String,
        venue: String,
        day: Day,
        usd: f64,
    },
    Supply {
        symbol: String,
        day: Day,
        circulating: f64,
        market_cap: f64,
    },
}

/// Which venue's funding and open interest a panel cell takes when several venues have a row:
/// the run's venue first (when it has one), then Binance (the predecessor's files), then the
/// other venues by name. The order a venue-true run falls back in (docs/strategies.md,
/// "Funding").
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VenueOrder {
    /// The configured venue, preferred over every other; `None`: Binance first.
    pub preferred: Option<String>,
    /// The venue whose bar source preference (`lockstep data prefer --venue`) picks the panel's
    /// bars: any venue but `any`; `None`, or a venue without one, reads the store's bars.
    pub bars: Option<String>,
}

impl VenueOrder {
    /// The order for a run on `venue` (`None`, or `any`/`paper`: Binance first).
    pub fn for_venue(venue: Option<&str>) -> VenueOrder {
        VenueOrder {
            preferred: venue
                .filter(|v| !matches!(*v, "any" | "paper" | "binance"))
                .map(str::to_string),
            bars: venue.filter(|v| *v != "any").map(str::to_string),
        }
    }

    /// This order without a venue bar preference (the store's bars).
    pub fn without_bars(&self) -> VenueOrder {
        VenueOrder {
            preferred: self.preferred.clone(),
            bars: None,
        }
    }

    /// The sort key of `venue`: lower wins, ties by name.
    pub fn rank<'a>(&self, venue: &'a str) -> (u8, &'a str) {
        let r = if self.preferred.as_deref() == Some(venue) {
            0
        } else if venue == "binance" {
            1
        } else {
            2
        };
        (r, venue)
    }
}

/// Lays records out as a [`Panel`] (the rules in the module doc): the assets and days of the
/// bars, the other fields aligned to them; funding and open interest from several venues of
/// one asset in `order`.
///
/// # Errors
/// No price rows at all (a panel without prices has no days to align to).
pub fn layout_records<'a>(
    records: impl Iterator<Item = &'a Record> + Clone,
    order: &VenueOrder,
) -> Result<Panel, String> {
    let bars = records.clone().filter(|r| matches!(r, Record::Bar { .. }));
    let mut symbols = BTreeSet::new();
    let (mut first, mut last) = (i32::MAX, i32::MIN);
    for r in bars {
        if let Record::Bar { symbol, day, .. } = r {
            symbols.insert(symbol.clone());
            first = first.min(day.0);
            last = last.max(day.0);
        }
    }
    if symbols.is_empty() {
        return Err(
            "no daily OHLCV rows: the panel needs prices to align the other fields to".into(),
        );
    }
    let symbols: Vec<String> = symbols.into_iter().collect();
    let index: HashMap<&str, usize> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let n_days = (last - first + 1) as usize;
    let mut panel = Panel::new(Day(first), n_days, symbols.clone()).map_err(|e| e.to_string())?;
    let row_of =
        |d: Day| -> Option<usize> { (d.0 >= first && d.0 <= last).then(|| (d.0 - first) as usize) };
    // (asset, row) → (venue rank, value) for funding and open interest.
    let mut venue_pick: BTreeMap<(Field, usize, usize), (u8, String, f64)> = BTreeMap::new();
    let rank = |v: &str| order.rank(v).0;
    for rec in records {
        match rec {
            Record::Bar {
                symbol,
                day,
                open,
                high,
                low,
                close,
                volume,
            } => {
                let (a, t) = (
                    index[symbol.as_str()],
                    row_of(*day).expect("bar within bar range"),
                );
                for (f, v) in [
                    (Field::Open, open),
                    (Field::High, high),
                    (Field::Low, low),
                    (Field::Close, close),
                    (Field::Volume, volume),
                ] {
                    panel.set(f, a, t, *v);
                }
            }
            Record::MarketCap { symbol, day, usd } => {
                if let (Some(&a), Some(t)) = (index.get(symbol.as_str()), row_of(*day)) {
                    panel.set(Field::MarketCap, a, t, *usd);
                }
            }
            Record::Supply {
                symbol,
                day,
                circulating,
                ..
            } => {
                if let (Some(&a), Some(t)) = (index.get(symbol.as_str()), row_of(*day)) {
                    panel.set(Field::CirculatingSupply, a, t, *circulating);
                }
            }
            Record::Funding {
                symbol,
                venue,
                day,
                daily_rate: v,
            }
            | Record::OpenInterest {
                symbol,
                venue,
                day,
                usd: v,
            } => {
                let field = if matches!(rec, Record::Funding { .. }) {
                    Field::FundingRate
                } else {
                    Field::OpenInterest
                };
                if let (Some(&a), Some(t)) = (index.get(symbol.as_str()), row_of(*day)) {
                    let cand = (rank(venue), venue.clone(), *v);
                    let entry = venue_pick
                        .entry((field, a, t))
                        .or_insert_with(|| cand.clone());
                    if (cand.0, &cand.1) < (entry.0, &entry.1) {
                        *entry = cand;
                    }
                }
            }
        }
    }
    for ((field, a, t), (_, _, v)) in venue_pick {
        panel.set(field, a, t, v);
    }
    Ok(panel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panel_aligns_fields_to_price_days_and_leaves_gaps_missing() {
        let day = |s: &str| Day::parse(s).unwrap();
        let bar = |symbol: &str, d: &str, close: f64, volume: f64| Record::Bar {
            symbol: symbol.into(),
            day: day(d),
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close,
            volume,
        };
        let cap = |symbol: &str, d: &str, usd: f64| Record::MarketCap {
            symbol: symbol.into(),
            day: day(d),
            usd,
        };
        let prices = [
            bar("BTC", "2020-01-01", 10.0, 5.0),
            bar("BTC", "2020-01-03", 12.0, 5.0),
            bar("ETH", "2020-01-02", 2.0, 7.0),
        ];
        let caps = [
            cap("BTC", "2020-01-02", 1000.0),
            cap("XRP", "2020-01-02", 5.0),
        ];
        let p = layout_records(prices.iter().chain(&caps), &VenueOrder::default()).unwrap();
        assert_eq!(p.symbols(), &["BTC".to_string(), "ETH".to_string()]);
        assert_eq!(p.n_days(), 3);
        let close = p.series(Field::Close, 0);
        assert_eq!(close[0], 10.0);
        assert!(
            close[1].is_nan(),
            "no bar on 2020-01-02: missing, not filled"
        );
        assert_eq!(close[2], 12.0);
        assert_eq!(p.get(Field::MarketCap, 0, 1), 1000.0);
        assert!(p.get(Field::MarketCap, 1, 1).is_nan());
    }

    #[test]
    fn the_runs_venue_comes_first_then_binance_then_by_name() {
        let any = VenueOrder::default();
        assert!(any.rank("binance") < any.rank("bybit"));
        assert!(any.rank("bybit") < any.rank("hyperliquid"));
        let hl = VenueOrder::for_venue(Some("hyperliquid"));
        assert!(hl.rank("hyperliquid") < hl.rank("binance"));
        assert!(hl.rank("binance") < hl.rank("bybit"));
        assert_eq!(VenueOrder::for_venue(Some("any")), any);
        assert_eq!(VenueOrder::for_venue(Some("paper")).without_bars(), any);
        let rec = |venue: &str, v: f64| Record::Funding {
            symbol: "BTC".into(),
            venue: venue.into(),
            day: Day(1),
            daily_rate: v,
        };
        let bar = Record::Bar {
            symbol: "BTC".into(),
            day: Day(1),
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 1.0,
        };
        let rows = [
            bar,
            rec("hyperliquid", 0.3),
            rec("binance", 0.1),
            rec("bybit", 0.2),
        ];
        let funding = |o: &VenueOrder| {
            layout_records(rows.iter(), o)
                .unwrap()
                .get(Field::FundingRate, 0, 0)
        };
        assert_eq!(funding(&any), 0.1);
        assert_eq!(funding(&hl), 0.3);
    }
}
