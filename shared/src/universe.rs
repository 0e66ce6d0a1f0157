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

/// One stretch of days an asset was tradable: `first ..= last`, open-ended while listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
}

/// The listings a run on `venue` uses and how to describe it. `any` and the paper venue trade
/// every priced asset (the paper broker fills any symbol with a price); a real venue without
/// stored listings also does, and the note says so rather than passing it off as the venue's
/// universe.
pub fn resolve(
    venue: &str,
    stored: Option<Listings>,
) -> (Option<std::sync::Arc<Listings>>, UniverseInfo) {
    let info = |restricted: bool, listed_symbols: usize, note: String| UniverseInfo {
        venue: venue.to_string(),
        restricted,
        listed_symbols,
        note,
        funding_fallbacks: Vec::new(),
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
}
