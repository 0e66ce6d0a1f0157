//! The dense, date-aligned market panel every kernel reads.
//!
//! Rows are contiguous UTC days, columns are assets. Each field is stored column-major: one
//! asset's whole history is a contiguous `&[f64]`, which is what rolling-window kernels want.
//! Missing values are `NaN`; nothing is ever filled in silently.

use crate::calendar::Day;

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
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    start: Day,
    n_days: usize,
    symbols: Vec<String>,
    /// `data[field][asset * n_days + row]`.
    data: Vec<Vec<f64>>,
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
            symbols,
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
        let n = self.n_days;
        &mut self.data[field.index()][asset * n..(asset + 1) * n]
    }

    #[inline]
    pub fn get(&self, field: Field, asset: usize, row: usize) -> f64 {
        self.data[field.index()][asset * self.n_days + row]
    }

    #[inline]
    pub fn set(&mut self, field: Field, asset: usize, row: usize, value: f64) {
        let n = self.n_days;
        self.data[field.index()][asset * n + row] = value;
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
            symbols: self.symbols.clone(),
            data,
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
    fn rejects_duplicate_symbols() {
        assert!(Panel::new(Day(0), 1, vec!["A".into(), "A".into()]).is_err());
    }
}
