//! The tradable universe of a venue, day by day: which assets it listed on which days.
//!
//! Step 2 of "Eligible universe" (docs/strategies.md) drops an asset the configured venue did
//! not list that day, and the blend never holds a weight in one, so a backtest trades what the
//! account could have traded and a live plan never carries a line the venue refuses. The store
//! keeps each venue's listing history (`server/src/store/listings.rs`); this module is the pure
//! part every path shares (backtest, live, WASM): [`Listings`] (symbol → the spans it was listed)
//! and [`AssetSpans`], the same aligned to one panel's assets.
//!
//! A span with no last day is still listed: it stays open until a refresh sees the venue delist
//! the asset, so days after the latest refresh are tradable for a listed asset.

use std::collections::BTreeMap;

use crate::calendar::Day;
use crate::panel::{Field, Panel};

/// One stretch of days an asset was tradable: `first ..= last`, open-ended while listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    pub first: Day,
    /// `None`: still listed.
    pub last: Option<Day>,
}

impl Span {
    /// Whether `day` is inside the span.
    #[inline]
    pub fn contains(&self, day: Day) -> bool {
        day >= self.first && self.last.is_none_or(|l| day <= l)
    }
}

/// A venue's listing history in Lockstep's symbols (after `symbol_of_coin`, so `kPEPE` is `PEPE`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Listings {
    /// The venue's name (`hyperliquid`, `paper`).
    pub venue: String,
    by_symbol: BTreeMap<String, Vec<Span>>,
}

impl Listings {
    /// An empty history for `venue` (nothing is tradable until spans are added).
    pub fn new(venue: impl Into<String>) -> Listings {
        Listings {
            venue: venue.into(),
            by_symbol: BTreeMap::new(),
        }
    }

    /// Adds a span during which `symbol` was listed (several contracts of one asset add several).
    pub fn add(&mut self, symbol: impl Into<String>, span: Span) {
        self.by_symbol.entry(symbol.into()).or_default().push(span);
    }

    /// No symbol was ever listed.
    pub fn is_empty(&self) -> bool {
        self.by_symbol.is_empty()
    }

    /// Symbols with at least one span.
    pub fn len(&self) -> usize {
        self.by_symbol.len()
    }

    /// Whether the venue listed `symbol` on `day`.
    pub fn is_tradable(&self, symbol: &str, day: Day) -> bool {
        self.by_symbol
            .get(symbol)
            .is_some_and(|spans| spans.iter().any(|s| s.contains(day)))
    }

    /// Every symbol with its spans, in byte order of the symbols.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Span])> {
        self.by_symbol
            .iter()
            .map(|(s, v)| (s.as_str(), v.as_slice()))
    }

    /// The spans aligned to `symbols` (a panel's assets); an unlisted symbol has none.
    pub fn align(&self, symbols: &[String]) -> AssetSpans {
        AssetSpans(
            symbols
                .iter()
                .map(|s| self.by_symbol.get(s).cloned().unwrap_or_default())
                .collect(),
        )
    }
}

/// [`Listings`] aligned to one panel's assets: `spans[asset]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetSpans(pub Vec<Vec<Span>>);

impl AssetSpans {
    /// Whether `asset` was tradable on `day`.
    #[inline]
    pub fn at(&self, asset: usize, day: Day) -> bool {
        self.0
            .get(asset)
            .is_some_and(|spans| spans.iter().any(|s| s.contains(day)))
    }
}

/// Which universe a run traded, for the people reading its result: the backtest page, share
/// links, the parity report and `lockstep backtest/targets` show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UniverseInfo {
    /// The configured venue: `any`, `hyperliquid` or `paper`.
    pub venue: String,
    /// Whether the venue's listing history restricted eligibility day by day.
    pub restricted: bool,
    /// Symbols with a listing span (0 when not restricted).
    pub listed_symbols: usize,
    /// One line saying which universe ran, and why when it is not the venue's listings.
    pub note: String,
    /// Per asset, where the panel's funding did not come from the venue (the fallback order
    /// is in docs/strategies.md, "Funding"): `SYMBOL: funding from binance on N day(s) ...`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub funding_fallbacks: Vec<String>,
    /// The run's last day, on which `priced` and `listed` were counted ([`Self::count_on`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_day: Option<Day>,
    /// Assets of the panel with a price on `last_day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priced: Option<usize>,
    /// Of those, the assets the venue listed that day (all of them when not restricted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<usize>,
    /// Which universe ran, in one line for the page, the link, the report and the CLI:
    /// `hyperliquid: N of M assets listed on the last day (D)` or `any venue: ...`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
}

impl UniverseInfo {
    /// Counts the panel's priced assets on `day` and those of them `listings` lists (the
    /// listings the run used: `None` when it was not restricted), and writes [`Self::summary`].
    /// A day outside the panel counts nothing.
    pub fn count_on(&mut self, panel: &Panel, listings: Option<&Listings>, day: Day) {
        let (mut priced, mut listed) = (0, 0);
        if let Some(t) = panel.row_of(day) {
            for (a, symbol) in panel.symbols().iter().enumerate() {
                if panel.get(Field::Close, a, t).is_finite() {
                    priced += 1;
                    listed += usize::from(listings.is_none_or(|l| l.is_tradable(symbol, day)));
                }
            }
        }
        self.last_day = Some(day);
        self.priced = Some(priced);
        self.listed = Some(listed);
        self.summary = self.summarize();
    }

    /// The one line of [`Self::summary`] from what is known so far.
    fn summarize(&self) -> String {
        let on_day =
            |n: usize, m: usize, d: Day| format!("{n} of {m} assets listed on the last day ({d})");
        let counts = self.last_day.zip(self.priced).zip(self.listed);
        match (self.venue.as_str(), self.restricted, counts) {
            ("any", _, Some(((d, m), _))) => {
                format!("any venue: every priced asset ({m} on the last day, {d})")
            }
            ("any", _, None) => "any venue: every priced asset".into(),
            (v, true, Some(((d, m), n))) => format!("{v}: {}", on_day(n, m, d)),
            (v, true, None) => format!("{v}: {} symbols listed", self.listed_symbols),
            ("paper", false, Some(((d, m), _))) => {
                format!("paper: every priced asset ({m} on the last day, {d})")
            }
            ("paper", false, None) => "paper: every priced asset".into(),
            (v, false, _) => format!("{v}: no listing data, ran as any venue (every priced asset)"),
        }
    }
}

/// What a run on a venue needs to know besides the panel, as the store holds it: the venue,
/// its listing history (`None`: nothing stored for it) and where the venue's panel took funding
/// from another venue. The server resolves it for its own runs and `/api/panel?venue=` carries
/// it to the browser (`panel_codec`), so both call [`VenueUniverse::resolve`] on the same value.
/// The Sweep page hands it to its workers with each job as JSON (hence serde).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VenueUniverse {
    pub venue: String,
    pub listings: Option<Listings>,
    /// `UniverseInfo::funding_fallbacks`, one line per asset.
    pub funding_fallbacks: Vec<String>,
}

impl VenueUniverse {
    /// The listings the run uses and its [`UniverseInfo`] ([`resolve`] plus the fallbacks).
    pub fn resolve(&self) -> (Option<std::sync::Arc<Listings>>, UniverseInfo) {
        let (listings, mut info) = resolve(&self.venue, self.listings.clone());
        info.funding_fallbacks = self.funding_fallbacks.clone();
        (listings, info)
    }
}

/// The listings a run on `venue` uses and how to describe it. `any` and the paper venue trade
/// every priced asset (the paper broker fills any symbol with a price); a real venue without
/// stored listings also does, and the note says so rather than passing it off as the venue's
/// universe.
pub fn resolve(
    venue: &str,
    stored: Option<Listings>,
) -> (Option<std::sync::Arc<Listings>>, UniverseInfo) {
    let info = |restricted: bool, listed_symbols: usize, note: String| {
        let mut i = UniverseInfo {
            venue: venue.to_string(),
            restricted,
            listed_symbols,
            note,
            funding_fallbacks: Vec::new(),
            last_day: None,
            priced: None,
            listed: None,
            summary: String::new(),
        };
        i.summary = i.summarize();
        i
    };
    match (venue, stored) {
        ("any", _) => (
            None,
            info(false, 0, "every priced asset (venue: any)".into()),
        ),
        ("paper", _) => (
            None,
            info(
                false,
                0,
                "paper venue: every priced asset is tradable".into(),
            ),
        ),
        (v, Some(l)) if !l.is_empty() => {
            let n = l.len();
            (
                Some(std::sync::Arc::new(l)),
                info(
                    true,
                    n,
                    format!("{v} listings: {n} symbols, eligible only on the days {v} listed them"),
                ),
            )
        }
        (v, _) => (
            None,
            info(
                false,
                0,
                format!(
                    "no listing data for {v}: ran on every priced asset, as venue any \
                     (run `lockstep fetch --source {v}` to store its listings)"
                ),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_inclusive_and_open_while_listed() {
        let mut l = Listings::new("hyperliquid");
        l.add(
            "BTC",
            Span {
                first: Day(10),
                last: None,
            },
        );
        l.add(
            "LOOM",
            Span {
                first: Day(5),
                last: Some(Day(8)),
            },
        );
        assert!(!l.is_tradable("BTC", Day(9)));
        assert!(l.is_tradable("BTC", Day(10)));
        assert!(l.is_tradable("BTC", Day(100_000)));
        assert!(l.is_tradable("LOOM", Day(5)) && l.is_tradable("LOOM", Day(8)));
        assert!(!l.is_tradable("LOOM", Day(9)));
        assert!(!l.is_tradable("ETH", Day(10)));
        let a = l.align(&["ETH".into(), "LOOM".into(), "BTC".into()]);
        assert!(!a.at(0, Day(10)));
        assert!(a.at(1, Day(6)) && !a.at(1, Day(9)));
        assert!(a.at(2, Day(11)));
        assert!(!a.at(3, Day(11)), "outside the panel: not tradable");
    }

    #[test]
    fn a_venue_without_listings_says_so() {
        let (l, info) = resolve("hyperliquid", None);
        assert!(l.is_none() && !info.restricted);
        assert!(
            info.note.contains("no listing data for hyperliquid"),
            "{}",
            info.note
        );
        let (l, info) = resolve("hyperliquid", Some(Listings::new("hyperliquid")));
        assert!(l.is_none() && info.note.contains("no listing data"));
        let mut some = Listings::new("hyperliquid");
        some.add(
            "BTC",
            Span {
                first: Day(1),
                last: None,
            },
        );
        let (l, info) = resolve("hyperliquid", Some(some.clone()));
        assert_eq!(l.as_deref(), Some(&some));
        assert!(info.restricted && info.listed_symbols == 1);
        let (l, info) = resolve("any", Some(some.clone()));
        assert!(l.is_none() && !info.restricted && info.venue == "any");
        let (l, info) = resolve("paper", Some(some));
        assert!(l.is_none() && info.note.starts_with("paper venue"));
    }

    /// The one line each universe shows: the venue's count of listed assets on the last day,
    /// or that every priced asset ran.
    #[test]
    fn the_summary_counts_listed_assets_on_the_last_day() {
        let mut p = Panel::new(Day(10), 3, vec!["A".into(), "B".into(), "C".into()]).unwrap();
        for a in 0..3 {
            p.set(Field::Close, a, 2, 1.0);
        }
        p.set(Field::Close, 2, 2, f64::NAN);
        let mut l = Listings::new("hyperliquid");
        l.add(
            "A",
            Span {
                first: Day(12),
                last: None,
            },
        );
        l.add(
            "C",
            Span {
                first: Day(0),
                last: None,
            },
        );
        l.add(
            "B",
            Span {
                first: Day(0),
                last: Some(Day(11)),
            },
        );
        let (listings, mut info) = resolve("hyperliquid", Some(l));
        assert_eq!(info.summary, "hyperliquid: 3 symbols listed");
        info.count_on(&p, listings.as_deref(), Day(12));
        assert_eq!(
            info.summary,
            "hyperliquid: 1 of 2 assets listed on the last day (1970-01-13)"
        );
        assert_eq!((info.priced, info.listed), (Some(2), Some(1)));
        let (_, mut any) = resolve("any", None);
        any.count_on(&p, None, Day(12));
        assert_eq!(
            any.summary,
            "any venue: every priced asset (2 on the last day, 1970-01-13)"
        );
        let (_, none) = resolve("hyperliquid", None);
        assert!(none.summary.starts_with("hyperliquid: no listing data"));
    }
}
