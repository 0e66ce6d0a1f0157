//! The predecessor's CSV files: daily OHLCV, daily market caps, Coinalyze funding and open
//! interest, and CMC monthly snapshots. The format is detected from the header.
//!
//! Reading never gives up on a file because of one bad row: a row that cannot be trusted
//! (unparseable number, negative price, a duplicate key with different values, a date out of
//! order) is reported with `file:line` and skipped, and the good rows are kept.
//!
//! This module only parses: its rows are the store's write model ([`Record`], in
//! `store/layout.rs`), and the panel they make is laid out by the store's one layout
//! (`store::layout::layout_records`).

use super::symbols::{base_of, venue_of};
pub use crate::store::layout::Record;
use shared::Day;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The file formats Lockstep reads, each recognised by its exact header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CsvFormat {
    /// `date,symbol,base,open,high,low,close,volume` (Coinbase spot, volume in base units).
    DailyOhlcv,
    /// `date,base,market_cap,symbol` (USD).
    DailyMarketCap,
    /// Coinalyze daily funding: `funding_rate` in percent per 8-hour period.
    Funding,
    /// Coinalyze daily open interest in USD.
    OpenInterest,
    /// CMC top-200 snapshots on the 1st of each month, with circulating supply.
    CmcSnapshots,
}

impl CsvFormat {
    pub const ALL: [CsvFormat; 5] = [
        CsvFormat::DailyOhlcv,
        CsvFormat::DailyMarketCap,
        CsvFormat::Funding,
        CsvFormat::OpenInterest,
        CsvFormat::CmcSnapshots,
    ];

    /// The header that identifies this format.
    pub fn header(self) -> &'static str {
        match self {
            CsvFormat::DailyOhlcv => "date,symbol,base,open,high,low,close,volume",
            CsvFormat::DailyMarketCap => "date,base,market_cap,symbol",
            CsvFormat::Funding => {
                "rank,coin_name,coin_symbol,symbol,date,timestamp,funding_rate,funding_rate_pct,fr_open,fr_high,fr_low"
            }
            CsvFormat::OpenInterest => {
                "rank,coin_name,coin_symbol,symbol,date,timestamp,oi_open,oi_high,oi_low,oi_close"
            }
            CsvFormat::CmcSnapshots => {
                "Rank,Name,Symbol,Market Cap,Price,Circulating Supply,Volume (24h),% 1h,% 24h,% 7d,snapshot_date"
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CsvFormat::DailyOhlcv => "daily OHLCV",
            CsvFormat::DailyMarketCap => "daily market cap",
            CsvFormat::Funding => "funding rates",
            CsvFormat::OpenInterest => "open interest",
            CsvFormat::CmcSnapshots => "CMC monthly snapshots",
        }
    }

    /// The format whose header matches exactly (surrounding spaces and a BOM ignored).
    pub fn detect(header: &::csv::StringRecord) -> Option<CsvFormat> {
        let fields: Vec<&str> = header
            .iter()
            .map(|f| f.trim().trim_start_matches('\u{feff}'))
            .collect();
        CsvFormat::ALL
            .into_iter()
            .find(|f| f.header().split(',').eq(fields.iter().copied()))
    }
}

/// A rejected row: where it is and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub file: PathBuf,
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// A file that could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: unknown CSV header {header:?}; known formats:\n{known}")]
    UnknownHeader {
        path: PathBuf,
        header: String,
        known: String,
    },
    #[error("{path}: {source}")]
    Csv { path: PathBuf, source: ::csv::Error },
    #[error("{0}: no .csv files found")]
    EmptyDir(PathBuf),
}

/// What one file yielded.
#[derive(Clone, Debug)]
pub struct FileRead {
    pub path: PathBuf,
    pub format: CsvFormat,
    pub records: Vec<Record>,
    pub rejected: Vec<RowError>,
}

fn known_formats() -> String {
    CsvFormat::ALL
        .iter()
        .map(|f| format!("  {}: {}", f.name(), f.header()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads every `*.csv` in `dir` (sorted by name, not recursive).
///
/// # Errors
/// The directory cannot be listed, holds no CSV file, or a file cannot be read or has an
/// unknown header.
pub fn read_dir(dir: &Path) -> Result<Vec<FileRead>, CsvError> {
    let io = |source| CsvError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(CsvError::EmptyDir(dir.to_path_buf()));
    }
    paths.iter().map(|p| read_file(p)).collect()
}

/// Reads one file, detecting its format from the header.
///
/// # Errors
/// The file cannot be opened or its header matches no known format. Bad rows are not errors:
/// they are returned in [`FileRead::rejected`].
pub fn read_file(path: &Path) -> Result<FileRead, CsvError> {
    let file = std::fs::File::open(path).map_err(|source| CsvError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_from(path, file)
}

/// Reads CSV text from any reader; `path` names it in messages.
///
/// # Errors
/// See [`read_file`].
pub fn read_from(path: &Path, reader: impl std::io::Read) -> Result<FileRead, CsvError> {
    let mut rdr = ::csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(reader);
    let header = rdr
        .headers()
        .map_err(|source| CsvError::Csv {
            path: path.to_path_buf(),
            source,
        })?
        .clone();
    let format = CsvFormat::detect(&header).ok_or_else(|| CsvError::UnknownHeader {
        path: path.to_path_buf(),
        header: header.iter().collect::<Vec<_>>().join(","),
        known: known_formats(),
    })?;
    let mut out = FileRead {
        path: path.to_path_buf(),
        format,
        records: Vec::new(),
        rejected: Vec::new(),
    };
    let mut checker = KeyChecker::default();
    let n_fields = header.len();
    for result in rdr.records() {
        let row = match result {
            Ok(row) => row,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                out.rejected.push(RowError {
                    file: path.to_path_buf(),
                    line,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        let reject = |message: String| RowError {
            file: path.to_path_buf(),
            line,
            message,
        };
        if row.len() != n_fields {
            out.rejected.push(reject(format!(
                "expected {n_fields} fields, found {}",
                row.len()
            )));
            continue;
        }
        match parse_row(format, &row).and_then(|rec| checker.check(rec)) {
            Ok(Some(rec)) => out.records.push(rec),
            Ok(None) => {} // an exact duplicate of a row already kept: idempotent, not an error
            Err(message) => out.rejected.push(reject(message)),
        }
    }
    Ok(out)
}

fn num(row: &::csv::StringRecord, i: usize, name: &str) -> Result<f64, String> {
    let s = row.get(i).unwrap_or("").trim();
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{name}: {s:?} is not a number"))?;
    if !v.is_finite() {
        return Err(format!("{name}: {s:?} is not a finite number"));
    }
    Ok(v)
}

fn positive(row: &::csv::StringRecord, i: usize, name: &str) -> Result<f64, String> {
    let v = num(row, i, name)?;
    if v <= 0.0 {
        return Err(format!("{name}: {v} is not a positive price"));
    }
    Ok(v)
}

fn non_negative(row: &::csv::StringRecord, i: usize, name: &str) -> Result<f64, String> {
    let v = num(row, i, name)?;
    if v < 0.0 {
        return Err(format!("{name}: {v} is negative"));
    }
    Ok(v)
}

fn day(row: &::csv::StringRecord, i: usize) -> Result<Day, String> {
    Day::parse(row.get(i).unwrap_or("").trim()).map_err(|e| e.to_string())
}

fn sym(row: &::csv::StringRecord, i: usize, name: &str) -> Result<String, String> {
    base_of(row.get(i).unwrap_or("")).ok_or_else(|| format!("{name} is empty"))
}

fn parse_row(format: CsvFormat, row: &::csv::StringRecord) -> Result<Record, String> {
    Ok(match format {
        CsvFormat::DailyOhlcv => {
            let (open, high, low, close) = (
                positive(row, 3, "open")?,
                positive(row, 4, "high")?,
                positive(row, 5, "low")?,
                positive(row, 6, "close")?,
            );
            if high < low {
                return Err(format!("high {high} is below low {low}"));
            }
            Record::Bar {
                symbol: sym(row, 2, "base")?,
                day: day(row, 0)?,
                open,
                high,
                low,
                close,
                volume: non_negative(row, 7, "volume")?,
            }
        }
        CsvFormat::DailyMarketCap => Record::MarketCap {
            symbol: sym(row, 1, "base")?,
            day: day(row, 0)?,
            usd: non_negative(row, 2, "market_cap")?,
        },
        CsvFormat::Funding => {
            let contract = row.get(3).unwrap_or("");
            Record::Funding {
                // The contract names the asset; `coin_symbol` is sometimes another coin's.
                symbol: sym(row, 3, "symbol").or_else(|_| sym(row, 2, "coin_symbol"))?,
                venue: venue_of(contract).unwrap_or("unknown").to_string(),
                day: day(row, 4)?,
                // Percent per 8-hour period → daily fraction.
                daily_rate: num(row, 6, "funding_rate")? / 100.0 * 3.0,
            }
        }
        CsvFormat::OpenInterest => {
            let contract = row.get(3).unwrap_or("");
            Record::OpenInterest {
                symbol: sym(row, 3, "symbol").or_else(|_| sym(row, 2, "coin_symbol"))?,
                venue: venue_of(contract).unwrap_or("unknown").to_string(),
                day: day(row, 4)?,
                usd: non_negative(row, 9, "oi_close")?,
            }
        }
        CsvFormat::CmcSnapshots => Record::Supply {
            symbol: sym(row, 2, "Symbol")?,
            day: day(row, 10)?,
            circulating: non_negative(row, 5, "Circulating Supply")?,
            market_cap: non_negative(row, 3, "Market Cap")?,
        },
    })
}

/// Rejects duplicate keys with different values and dates that go backwards per series.
#[derive(Default)]
struct KeyChecker {
    seen: HashMap<(String, String, Day), Record>,
    last_day: HashMap<(String, String), Day>,
}

impl KeyChecker {
    fn check(&mut self, rec: Record) -> Result<Option<Record>, String> {
        let (symbol, venue, day) = match &rec {
            Record::Bar { symbol, day, .. }
            | Record::MarketCap { symbol, day, .. }
            | Record::Supply { symbol, day, .. } => (symbol.clone(), String::new(), *day),
            Record::Funding {
                symbol, venue, day, ..
            }
            | Record::OpenInterest {
                symbol, venue, day, ..
            } => (symbol.clone(), venue.clone(), *day),
        };
        let key = (symbol.clone(), venue.clone(), day);
        if let Some(prev) = self.seen.get(&key) {
            return if *prev == rec {
                Ok(None)
            } else {
                Err(format!(
                    "duplicate {symbol} {day} with different values (first: {prev:?})"
                ))
            };
        }
        let series = (symbol.clone(), venue);
        if let Some(&last) = self.last_day.get(&series) {
            if day < last {
                return Err(format!(
                    "{symbol} {day} comes after {last}: dates out of order"
                ));
            }
        }
        self.last_day.insert(series, day);
        self.seen.insert(key, rec.clone());
        Ok(Some(rec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<FileRead, CsvError> {
        read_from(Path::new("t.csv"), text.as_bytes())
    }

    #[test]
    fn detects_formats_and_rejects_unknown_headers() {
        let r = read("date,symbol,base,open,high,low,close,volume\n").unwrap();
        assert_eq!(r.format, CsvFormat::DailyOhlcv);
        let err = read("a,b,c\n1,2,3\n").unwrap_err().to_string();
        assert!(err.contains("unknown CSV header \"a,b,c\""), "{err}");
        assert!(
            err.contains("date,base,market_cap,symbol"),
            "lists known formats: {err}"
        );
    }

    #[test]
    fn bad_rows_are_reported_with_line_and_skipped() {
        let text = "date,symbol,base,open,high,low,close,volume\n\
            2020-01-01,BTC/USD,BTC,1,2,0.5,1.5,10\n\
            2020-01-02,BTC/USD,BTC,1,2,0.5,abc,10\n\
            2020-01-02,ETH/USD,ETH,1,2,0.5,-3,10\n\
            2020-01-03,BTC/USD,BTC,1,2,0.5,1.6,10\n\
            2020-01-03,BTC/USD,BTC,1,2,0.5,1.7,10\n\
            2020-01-02,BTC/USD,BTC,1,2,0.5,1.6,10\n\
            2020-01-03,BTC/USD,BTC,1,2,0.5,1.6,10\n\
            2020-02-30,BTC/USD,BTC,1,2,0.5,1.6,10\n";
        let r = read(text).unwrap();
        assert_eq!(r.records.len(), 2, "{:?}", r.records);
        let lines: Vec<u64> = r.rejected.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 6, 7, 9], "{:?}", r.rejected);
        assert!(r.rejected[0]
            .to_string()
            .starts_with("t.csv:3: close: \"abc\" is not a number"));
        assert!(r.rejected[1].message.contains("not a positive price"));
        assert!(r.rejected[2].message.contains("different values"));
        assert!(r.rejected[3].message.contains("out of order"));
        assert!(r.rejected[4].message.contains("invalid date"));
    }

    #[test]
    fn funding_becomes_a_daily_fraction_with_its_venue() {
        let text = "rank,coin_name,coin_symbol,symbol,date,timestamp,funding_rate,funding_rate_pct,fr_open,fr_high,fr_low\n\
            1,Bitcoin,BTC,BTCUSD_PERP.A,2025-07-28,1753660800,0.01,1.0,0.01,0.01,0.01\n\
            9,Tether,USDT,SOMIUSDT_PERP.A,2025-07-28,1753660800,0.02,2.0,0.01,0.01,0.01\n";
        let r = read(text).unwrap();
        assert_eq!(
            r.records[0],
            Record::Funding {
                symbol: "BTC".into(),
                venue: "binance".into(),
                day: Day::parse("2025-07-28").unwrap(),
                daily_rate: 0.01 / 100.0 * 3.0
            }
        );
        // The row labelled USDT is SOMI's contract.
        assert!(matches!(&r.records[1], Record::Funding { symbol, .. } if symbol == "SOMI"));
    }
}
