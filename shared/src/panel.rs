//! The dense, date-aligned market panel every kernel reads.
//!
//! Rows are contiguous UTC days, columns are assets. Each field is stored column-major: one
//! asset's whole history is a contiguous `&[f64]`, which is what rolling-window kernels want.
//! Missing values are `NaN`; nothing is ever filled in silently.

use crate::calendar::Day;
use std::sync::{Arc, OnceLock};

/// The fields a panel carries. Units are fixed so that kernels never guess.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Open,
    High,
    Low,
    Close,
    /// Volume in base units; USD volume is `close × volume`.
    Volume,
    /// Market capitalisation in USD.
    MarketCap,
    /// Circulating supply in base units.
    CirculatingSupply,
    /// Perpetual funding as a daily fraction: the sum of the day's period rates.
    FundingRate,
    /// Open interest in USD.
    OpenInterest,
}

impl Field {
    pub const ALL: [Field; 9] = [
        Field::Open,
        Field::High,
        Field::Low,
        Field::Close,
        Field::Volume,
        Field::MarketCap,
        Field::CirculatingSupply,
        Field::FundingRate,
        Field::OpenInterest,
    ];
    pub const COUNT: usize = Field::ALL.len();

    pub fn name(self) -> &'static str {
        match self {
            Field::Open => "open",
            Field::High => "high",
            Field::Low => "low",
            Field::Close => "close",
            Field::Volume => "volume",
            Field::MarketCap => "market_cap",
            Field::CirculatingSupply => "circulating_supply",
            Field::FundingRate => "funding_rate",
            Field::OpenInterest => "open_interest",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Errors building or slicing a panel.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PanelError {
    #[error("duplicate symbol {0:?} in panel")]
    DuplicateSymbol(String),
    #[error("row range {first}..={last} is outside the panel's {n_days} days")]
    RowRange {
        first: usize,
        last: usize,
        n_days: usize,
    },
    #[error("field {field} has {got} values, expected {expected} (assets × days)")]
    FieldLength {
        field: &'static str,
        got: usize,
        expected: usize,
    },
}

/// Contiguous UTC days × assets, one column-major `f64` matrix per [`Field`].
///
/// Besides the raw fields a panel memoises series derived row by row from them (log closes and
/// log returns, see [`Panel::log_returns`]), computed once on first use: every strategy on every
/// date reads them, and a sweep runs thousands of backtests on one panel. Any mutation drops
/// them; equality and `Debug` ignore them.
#[derive(Clone)]
pub struct Panel {
    start: Day,
    n_days: usize,
    /// Shared by windows and clones: the target cache recognises "the same symbols" by pointer
    /// without comparing strings every day.
    symbols: Arc<[String]>,
    /// `data[field][asset * n_days + row]`.
    data: Vec<Vec<f64>>,
    derived: Derived,
}

/// Series derived from the close, column-major like the fields. Each value depends only on its
/// own row and the row before, so a window of a panel derives exactly the same bits as the
/// full panel for every row but the window's first (where the predecessor is missing: `NaN`).
#[derive(Clone, Default)]
struct Derived {
    log_close: OnceLock<Vec<f64>>,
    log_return: OnceLock<Vec<f64>>,
    /// Per row, the assets with a usable close, ascending: `(offsets, assets)` in CSR form.
    priced: OnceLock<(Vec<u32>, Vec<u32>)>,
    /// Each asset's position in the alphabetical order of the symbols.
    symbol_rank: OnceLock<Vec<u32>>,
    /// `[close, funding_rate]` row-major (`row * n_assets + asset`): the simulator's daily read.
    close_funding_rows: OnceLock<Vec<[f64; 2]>>,
}

impl PartialEq for Panel {
    fn eq(&self, other: &Panel) -> bool {
        self.start == other.start
            && self.n_days == other.n_days
            && self.symbols == other.symbols
            && self.data == other.data
    }
}

impl std::fmt::Debug for Panel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Panel")
            .field("start", &self.start)
            .field("n_days", &self.n_days)
            .field("symbols", &self.symbols)
            .field("data", &self.data)
            .finish()
    }
}

/// `c` if it is a usable price (finite and positive).
#[inline]
fn price(c: f64) -> Option<f64> {
    (c.is_finite() && c > 0.0).then_some(c)
}

impl Panel {
    /// An all-missing panel of `n_days` days from `start` for `symbols` (bare bases, unique).
    pub fn new(start: Day, n_days: usize, symbols: Vec<String>) -> Result<Panel, PanelError> {
        let mut seen = std::collections::HashSet::new();
        for s in &symbols {
            if !seen.insert(s.as_str()) {
                return Err(PanelError::DuplicateSymbol(s.clone()));
            }
        }
        let len = n_days * symbols.len();
        Ok(Panel {
            start,
            n_days,
            data: vec![vec![f64::NAN; len]; Field::COUNT],
            symbols: symbols.into(),
            derived: Derived::default(),
        })
    }

    /// Replaces a whole field from a column-major buffer (`asset * n_days + row`).
    pub fn set_field(&mut self, field: Field, values: Vec<f64>) -> Result<(), PanelError> {
        let expected = self.n_days * self.symbols.len();
        if values.len() != expected {
            return Err(PanelError::FieldLength {
                field: field.name(),
                got: values.len(),
                expected,
            });
        }
        self.data[field.index()] = values;
        self.derived = Derived::default();
        Ok(())
    }

    pub fn start(&self) -> Day {
        self.start
    }

    /// The last day of the panel; equal to `start` minus one for an empty panel.
    pub fn end(&self) -> Day {
        Day(self.start.0 + self.n_days as i32 - 1)
    }

    pub fn n_days(&self) -> usize {
        self.n_days
    }

    pub fn n_assets(&self) -> usize {
        self.symbols.len()
    }

    pub fn symbols(&self) -> &[String] {
        &self.symbols
    }

    pub fn asset_index(&self, symbol: &str) -> Option<usize> {
        self.symbols.iter().position(|s| s == symbol)
    }

    /// The calendar day of `row`.
    pub fn day(&self, row: usize) -> Day {
        Day(self.start.0 + row as i32)
    }

    /// The row of `day`, if the panel covers it.
    pub fn row_of(&self, day: Day) -> Option<usize> {
        let r = day.0 - self.start.0;
        (r >= 0 && (r as usize) < self.n_days).then_some(r as usize)
    }

    /// One asset's full history of one field.
    #[inline]
    pub fn series(&self, field: Field, asset: usize) -> &[f64] {
        let n = self.n_days;
        &self.data[field.index()][asset * n..(asset + 1) * n]
    }

    #[inline]
    pub fn series_mut(&mut self, field: Field, asset: usize) -> &mut [f64] {
        self.derived = Derived::default();
        let n = self.n_days;
        &mut self.data[field.index()][asset * n..(asset + 1) * n]
    }

    #[inline]
    pub fn get(&self, field: Field, asset: usize, row: usize) -> f64 {
        self.data[field.index()][asset * self.n_days + row]
    }

    #[inline]
    pub fn set(&mut self, field: Field, asset: usize, row: usize, value: f64) {
        self.derived = Derived::default();
        let n = self.n_days;
        self.data[field.index()][asset * n + row] = value;
    }

    /// The symbols as a shared allocation: two panels whose `symbols_arc` are the same pointer
    /// (a panel, its clones and its windows) certainly have the same symbols.
    pub fn symbols_arc(&self) -> &Arc<[String]> {
        &self.symbols
    }

    /// One asset's natural log closes: `ln(c_t)` where the close is finite and positive, else
    /// `NaN`. Computed once per panel (through [`crate::math::ln`]), then shared by every
    /// strategy; the same bits as computing `ln(c_t)` on the spot.
    pub fn log_closes(&self, asset: usize) -> &[f64] {
        let all = self.derived.log_close.get_or_init(|| {
            self.field(Field::Close)
                .iter()
                .map(|&c| price(c).map_or(f64::NAN, crate::math::ln))
                .collect()
        });
        let n = self.n_days;
        &all[asset * n..(asset + 1) * n]
    }

    /// One asset's daily log returns: `l_t = ln(c_t / c_{t-1})` where both closes are finite and
    /// positive, else `NaN`; `l_0 = NaN` (no predecessor in this panel). Computed once per panel,
    /// bit-identical to computing `ln(c_t / c_{t-1})` on the spot, so a window of the panel gives
    /// the same values on every row except its first: a kernel that reads `l_t` must also be
    /// entitled to read row `t - 1`.
    pub fn log_returns(&self, asset: usize) -> &[f64] {
        let n = self.n_days;
        let all = self.derived.log_return.get_or_init(|| {
            let close = self.field(Field::Close);
            let mut out = vec![f64::NAN; close.len()];
            for a in 0..self.symbols.len() {
                let c = &close[a * n..(a + 1) * n];
                let o = &mut out[a * n..(a + 1) * n];
                for r in 1..n {
                    if let (Some(c0), Some(c1)) = (price(c[r - 1]), price(c[r])) {
                        o[r] = crate::math::ln(c1 / c0);
                    }
                }
            }
            out
        });
        &all[asset * n..(asset + 1) * n]
    }

    /// The assets whose close at `row` is finite and positive, in ascending order. Computed once
    /// per panel: the cross-sections visit only these instead of every asset every day (on the
    /// real data 10 to 54 of 136 assets have a price on a given day).
    pub fn priced_assets(&self, row: usize) -> &[u32] {
        let (offsets, assets) = self.derived.priced.get_or_init(|| {
            let n = self.n_days;
            let close = self.field(Field::Close);
            let mut counts = vec![0u32; n + 1];
            for a in 0..self.symbols.len() {
                for (r, &c) in close[a * n..(a + 1) * n].iter().enumerate() {
                    if price(c).is_some() {
                        counts[r + 1] += 1;
                    }
                }
            }
            for r in 0..n {
                counts[r + 1] += counts[r];
            }
            let mut next = counts.clone();
            let mut assets = vec![0u32; counts[n] as usize];
            for a in 0..self.symbols.len() {
                for (r, &c) in close[a * n..(a + 1) * n].iter().enumerate() {
                    if price(c).is_some() {
                        assets[next[r] as usize] = a as u32;
                        next[r] += 1;
                    }
                }
            }
            (counts, assets)
        });
        &assets[offsets[row] as usize..offsets[row + 1] as usize]
    }

    /// `[close, funding_rate]` of every asset at `row`, in asset order: the raw values (`NaN`
    /// where missing), transposed once per panel. The simulator reads both fields of every held
    /// asset every day; column-major, each read is a cache line of its own (the assets'
    /// columns are `n_days × 8` bytes apart), row-major they are a few adjacent lines, and a
    /// sweep's points share the one copy.
    pub fn close_and_funding_at(&self, row: usize) -> &[[f64; 2]] {
        let n_assets = self.symbols.len();
        let all = self.derived.close_funding_rows.get_or_init(|| {
            let n = self.n_days;
            let close = self.field(Field::Close);
            let funding = self.field(Field::FundingRate);
            let mut out = vec![[f64::NAN; 2]; n * n_assets];
            for a in 0..n_assets {
                for r in 0..n {
                    out[r * n_assets + a] = [close[a * n + r], funding[a * n + r]];
                }
            }
            out
        });
        &all[row * n_assets..(row + 1) * n_assets]
    }

    /// `symbol_ranks()[asset]` is the asset's position when the symbols are sorted
    /// alphabetically: comparing ranks orders assets exactly as comparing their symbols does,
    /// without touching the strings (the tie-break of every ranking).
    pub fn symbol_ranks(&self) -> &[u32] {
        self.derived.symbol_rank.get_or_init(|| {
            let mut order: Vec<usize> = (0..self.symbols.len()).collect();
            order.sort_by(|&a, &b| self.symbols[a].cmp(&self.symbols[b]));
            let mut rank = vec![0u32; order.len()];
            for (r, a) in order.into_iter().enumerate() {
                rank[a] = r as u32;
            }
            rank
        })
    }

    /// Computes every derived series now (log closes and returns, the priced assets per row,
    /// the row-major closes and funding, the symbol ranks) instead of inside the first kernel
    /// that reads one: what a panel that will serve many runs does once when it arrives (a
    /// sweep worker, the page that just decoded it). The same values either way; a no-op when
    /// they exist or the panel is empty.
    pub fn derive_all(&self) {
        if self.symbols.is_empty() || self.n_days == 0 {
            return;
        }
        let _ = (
            self.log_closes(0),
            self.log_returns(0),
            self.priced_assets(0),
            self.close_and_funding_at(0),
            self.symbol_ranks(),
        );
    }

    /// The whole column-major buffer of a field.
    pub fn field(&self, field: Field) -> &[f64] {
        &self.data[field.index()]
    }

    /// A copy holding only rows `first..=last` (same assets). Used to prove that a kernel reads
    /// nothing outside its declared window.
    pub fn window(&self, first: usize, last: usize) -> Result<Panel, PanelError> {
        if first > last || last >= self.n_days {
            return Err(PanelError::RowRange {
                first,
                last,
                n_days: self.n_days,
            });
        }
        let n = last - first + 1;
        let data = self
            .data
            .iter()
            .map(|f| {
                let mut out = Vec::with_capacity(n * self.symbols.len());
                for a in 0..self.symbols.len() {
                    out.extend_from_slice(&f[a * self.n_days + first..=a * self.n_days + last]);
                }
                out
            })
            .collect();
        Ok(Panel {
            start: self.day(first),
            n_days: n,
            symbols: Arc::clone(&self.symbols),
            data,
            derived: Derived::default(),
        })
    }

    /// A copy holding rows `0..=last`: what a live server knows at the close of `day(last)`.
    pub fn truncate_to(&self, last: usize) -> Result<Panel, PanelError> {
        self.window(0, last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Panel {
        let mut p = Panel::new(Day(100), 4, vec!["BTC".into(), "ETH".into()]).unwrap();
        for a in 0..2 {
            for r in 0..4 {
                p.set(Field::Close, a, r, (a * 10 + r) as f64);
            }
        }
        p
    }

    #[test]
    fn layout_is_column_major() {
        let p = tiny();
        assert_eq!(p.series(Field::Close, 1), &[10.0, 11.0, 12.0, 13.0]);
        assert_eq!(p.field(Field::Close)[4], 10.0);
        assert!(p.get(Field::Open, 0, 0).is_nan());
        assert_eq!(p.end(), Day(103));
        assert_eq!(p.row_of(Day(102)), Some(2));
        assert_eq!(p.row_of(Day(104)), None);
    }

    #[test]
    fn window_slices_every_asset() {
        let w = tiny().window(1, 2).unwrap();
        assert_eq!(w.start(), Day(101));
        assert_eq!(w.series(Field::Close, 0), &[1.0, 2.0]);
        assert_eq!(w.series(Field::Close, 1), &[11.0, 12.0]);
        assert!(tiny().window(2, 4).is_err());
    }

    #[test]
    fn derived_series_match_on_the_spot_values_and_windows() {
        let mut p = Panel::new(Day(0), 5, vec!["A".into()]).unwrap();
        for (r, c) in [100.0, 110.0, f64::NAN, 0.0, 121.0].into_iter().enumerate() {
            p.set(Field::Close, 0, r, c);
        }
        let l = p.log_returns(0).to_vec();
        assert!(l[0].is_nan() && l[2].is_nan() && l[3].is_nan() && l[4].is_nan());
        assert_eq!(l[1].to_bits(), crate::math::ln(110.0 / 100.0).to_bits());
        let lc = p.log_closes(0);
        assert_eq!(lc[4].to_bits(), crate::math::ln(121.0).to_bits());
        assert!(lc[2].is_nan() && lc[3].is_nan());
        assert_eq!(p.priced_assets(1), &[0]);
        assert!(p.priced_assets(2).is_empty() && p.priced_assets(3).is_empty());
        // A window re-derives: its first row has no predecessor.
        let w = p.window(1, 2).unwrap();
        assert!(w.log_returns(0)[0].is_nan());
        // Mutation drops the memo.
        p.set(Field::Close, 0, 2, 121.0);
        assert_eq!(
            p.log_returns(0)[2].to_bits(),
            crate::math::ln(1.1).to_bits()
        );
        let q = p.clone();
        assert_eq!(q.log_returns(0)[2].to_bits(), p.log_returns(0)[2].to_bits());
        assert!(Arc::ptr_eq(p.symbols_arc(), q.symbols_arc()));
    }

    #[test]
    fn close_and_funding_rows_are_the_fields_transposed() {
        let mut p = Panel::new(Day(0), 3, vec!["A".into(), "B".into()]).unwrap();
        p.set(Field::Close, 1, 2, 5.0);
        p.set(Field::FundingRate, 0, 1, 0.25);
        let row2 = p.close_and_funding_at(2);
        assert!(row2[1][0] == 5.0 && row2[1][1].is_nan() && row2[0][0].is_nan());
        let row1 = p.close_and_funding_at(1);
        assert!(row1[0][0].is_nan() && row1[0][1] == 0.25 && row1[1][1].is_nan());
        // A mutation drops the copy.
        p.set(Field::Close, 1, 2, 6.0);
        assert_eq!(p.close_and_funding_at(2)[1][0], 6.0);
    }

    #[test]
    fn priced_assets_and_symbol_ranks() {
        let mut p = Panel::new(Day(0), 3, vec!["C".into(), "A".into(), "B".into()]).unwrap();
        p.set(Field::Close, 0, 0, 1.0);
        p.set(Field::Close, 2, 0, 2.0);
        p.set(Field::Close, 1, 2, 3.0);
        p.set(Field::Close, 2, 2, -1.0);
        assert_eq!(p.priced_assets(0), &[0, 2]);
        assert!(p.priced_assets(1).is_empty());
        assert_eq!(p.priced_assets(2), &[1]);
        assert_eq!(p.symbol_ranks(), &[2, 0, 1]);
    }

    #[test]
    fn derive_all_fills_every_series_with_the_lazy_values() {
        let mut p = Panel::new(Day(0), 4, vec!["B".into(), "A".into()]).unwrap();
        for (a, r, c) in [
            (0, 0, 2.0),
            (0, 1, 3.0),
            (0, 3, 1.5),
            (1, 1, 7.0),
            (1, 2, -1.0),
        ] {
            p.set(Field::Close, a, r, c);
        }
        p.set(Field::FundingRate, 1, 1, 0.01);
        let lazy = p.clone();
        p.derive_all();
        let d = &p.derived;
        assert!(d.log_close.get().is_some() && d.log_return.get().is_some());
        assert!(d.priced.get().is_some() && d.close_funding_rows.get().is_some());
        assert!(d.symbol_rank.get().is_some());
        assert!(
            lazy.derived.log_close.get().is_none(),
            "the clone derived nothing yet"
        );
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for a in 0..2 {
            assert_eq!(bits(p.log_closes(a)), bits(lazy.log_closes(a)));
            assert_eq!(bits(p.log_returns(a)), bits(lazy.log_returns(a)));
        }
        for r in 0..4 {
            assert_eq!(p.priced_assets(r), lazy.priced_assets(r));
            let flat = |x: &[[f64; 2]]| {
                x.iter()
                    .flat_map(|v| v.map(f64::to_bits))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                flat(p.close_and_funding_at(r)),
                flat(lazy.close_and_funding_at(r))
            );
        }
        assert_eq!(p.symbol_ranks(), lazy.symbol_ranks());
        // Empty panels have nothing to derive (and no row 0 to ask for).
        Panel::new(Day(0), 0, vec!["A".into()])
            .unwrap()
            .derive_all();
        Panel::new(Day(0), 3, vec![]).unwrap().derive_all();
    }

    #[test]
    fn rejects_duplicate_symbols() {
        assert!(Panel::new(Day(0), 1, vec!["A".into(), "A".into()]).is_err());
    }
}
