//! The dense, date-aligned [`Panel`] built from the store's long rows.
//!
//! The layout rules are exactly those of [`crate::market_data::csv::build_panel`] (a test proves
//! the two agree bit for bit on the real files): the assets are the symbols with at least one
//! daily bar, sorted by their bytes; the days run from the first to the last bar; market caps,
//! supply, funding and open interest are aligned to those assets and days and dropped outside
//! them; nothing is filled in (a day without a value is NaN); funding and open interest from
//! several venues of one asset: Binance first, then the other venues by name.
//!
//! The reshape is a hand-written scatter into the column-major buffers (see docs/benchmarks.md
//! for why not polars): each long row is written once at `asset * n_days + row`.

use super::{Store, StoreError};
use shared::{Day, Field, Panel};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;

/// The venue order for funding and open interest: Binance first, then by name.
fn venue_rank(venue: &str) -> (u8, &str) {
    (u8::from(venue != "binance"), venue)
}

impl Store {
    /// Builds the full panel from the stored rows; `None` when no daily bar is stored (a panel
    /// without prices has no days to align to).
    pub async fn build_panel(&self) -> Result<Option<Panel>, StoreError> {
        let pool = self.pool();
        // The five reads run concurrently: each pooled connection decodes its rows on its own
        // thread (SQLite) or socket (PostgreSQL).
        let (bars, caps, supply, funding, open_interest) = tokio::try_join!(
            sqlx::query("SELECT symbol, day, open, high, low, close, volume FROM daily_bars")
                .fetch_all(pool),
            sqlx::query("SELECT symbol, day, usd FROM market_caps").fetch_all(pool),
            sqlx::query("SELECT symbol, day, circulating FROM supply_snapshots").fetch_all(pool),
            sqlx::query("SELECT symbol, venue, day, daily_rate FROM funding").fetch_all(pool),
            sqlx::query("SELECT symbol, venue, day, usd FROM open_interest").fetch_all(pool),
        )?;
        if bars.is_empty() {
            return Ok(None);
        }
        let mut parsed: Vec<(String, i32, [f64; 5])> = Vec::with_capacity(bars.len());
        for r in &bars {
            let v = |i: usize| -> Result<f64, sqlx::Error> {
                Ok(r.try_get::<Option<f64>, _>(i)?.unwrap_or(f64::NAN))
            };
            parsed.push((
                r.try_get(0)?,
                r.try_get::<i64, _>(1)? as i32,
                [v(2)?, v(3)?, v(4)?, v(5)?, v(6)?],
            ));
        }
        drop(bars);
        let mut symbols: Vec<String> = parsed.iter().map(|(s, _, _)| s.clone()).collect();
        symbols.sort_unstable();
        symbols.dedup();
        let first = parsed.iter().map(|p| p.1).min().expect("non-empty");
        let last = parsed.iter().map(|p| p.1).max().expect("non-empty");
        let n_days = (last - first + 1) as usize;
        let index: HashMap<&str, usize> = symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let n_assets = symbols.len();
        let mut data: Vec<Vec<f64>> = (0..Field::COUNT)
            .map(|_| vec![f64::NAN; n_assets * n_days])
            .collect();
        let cell = |symbol: &str, day: i32| -> Option<usize> {
            let a = *index.get(symbol)?;
            (day >= first && day <= last).then(|| a * n_days + (day - first) as usize)
        };
        const BAR_FIELDS: [Field; 5] = [
            Field::Open,
            Field::High,
            Field::Low,
            Field::Close,
            Field::Volume,
        ];
        for (symbol, day, values) in &parsed {
            let i = cell(symbol, *day).expect("bar inside the bar range");
            for (f, v) in BAR_FIELDS.iter().zip(values) {
                data[*f as usize][i] = *v;
            }
        }
        // Single-valued series keyed by (symbol, day).
        for (rows, field) in [(caps, Field::MarketCap), (supply, Field::CirculatingSupply)] {
            let out = &mut data[field as usize];
            for r in &rows {
                let symbol: &str = r.try_get(0)?;
                let day = r.try_get::<i64, _>(1)? as i32;
                if let Some(i) = cell(symbol, day) {
                    out[i] = r.try_get::<Option<f64>, _>(2)?.unwrap_or(f64::NAN);
                }
            }
        }
        // Per-venue series: the best-ranked venue with a stored row wins.
        for (rows, field) in [
            (funding, Field::FundingRate),
            (open_interest, Field::OpenInterest),
        ] {
            let mut best: HashMap<usize, (String, f64)> = HashMap::new();
            for r in &rows {
                let symbol: &str = r.try_get(0)?;
                let day = r.try_get::<i64, _>(2)? as i32;
                let Some(i) = cell(symbol, day) else { continue };
                let venue: String = r.try_get(1)?;
                let v = r.try_get::<Option<f64>, _>(3)?.unwrap_or(f64::NAN);
                match best.get_mut(&i) {
                    Some(cur) if venue_rank(&venue) >= venue_rank(&cur.0) => {}
                    Some(cur) => *cur = (venue, v),
                    None => {
                        best.insert(i, (venue, v));
                    }
                }
            }
            let out = &mut data[field as usize];
            for (i, (_, v)) in best {
                out[i] = v;
            }
        }
        let mut panel =
            Panel::new(Day(first), n_days, symbols).map_err(|e| StoreError::Data(e.to_string()))?;
        for (field, values) in Field::ALL.into_iter().zip(data) {
            panel
                .set_field(field, values)
                .map_err(|e| StoreError::Data(e.to_string()))?;
        }
        Ok(Some(panel))
    }

    /// The full panel, rebuilt only when the store's data version changed since the last call.
    /// Returns the version it corresponds to.
    pub async fn panel(&self) -> Result<Option<(i64, Arc<Panel>)>, StoreError> {
        let mut cache = self.panel_cache.lock().await;
        let version = self.data_version().await?;
        if let Some((v, p)) = cache.as_ref() {
            if *v == version {
                return Ok(Some((version, p.clone())));
            }
        }
        // Read the version before the rows: a write racing this build bumps the version again,
        // so the next call rebuilds instead of serving a stale panel under a new version.
        let started = std::time::Instant::now();
        let built = self.build_panel().await?;
        if let Some(p) = &built {
            tracing::info!(
                "built the panel from the store: {} assets x {} days in {:.1} ms (data version {version})",
                p.n_assets(),
                p.n_days(),
                started.elapsed().as_secs_f64() * 1e3
            );
        }
        *cache = built.map(|p| (version, Arc::new(p)));
        Ok(cache.as_ref().map(|(v, p)| (*v, p.clone())))
    }
}

/// What an encoded panel answer depends on besides the data version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncodedKey {
    pub fields: Vec<Field>,
    pub from: Option<Day>,
    pub to: Option<Day>,
}

/// An encoded panel (see `shared::panel_codec`) and its content hash.
#[derive(Clone, Debug)]
pub struct EncodedPanel {
    pub version: i64,
    pub bytes: Arc<Vec<u8>>,
    pub hash: u64,
    pub first_day: Day,
    pub last_day: Day,
}

/// Why a panel request has no answer.
#[derive(Debug, thiserror::Error)]
pub enum PanelRequestError {
    #[error("the store holds no daily bars: there is no panel yet")]
    Empty,
    #[error("no data between {from} and {to}: the stored panel covers {first}..{last}")]
    OutOfRange {
        from: Day,
        to: Day,
        first: Day,
        last: Day,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Codec(#[from] shared::panel_codec::CodecError),
}

/// Most distinct requests kept per data version.
const ENCODED_CACHE_ENTRIES: usize = 32;

impl Store {
    /// The encoded panel for `key`, from the cache when the data has not changed since it was
    /// encoded. `from`/`to` are clipped to the stored days.
    pub async fn encoded_panel(&self, key: &EncodedKey) -> Result<EncodedPanel, PanelRequestError> {
        let (version, panel) = self.panel().await?.ok_or(PanelRequestError::Empty)?;
        {
            let cache = self.encoded_cache.lock().expect("encoded cache lock");
            if let Some(e) = cache.get(key) {
                if e.version == version {
                    return Ok(e.clone());
                }
            }
        }
        let (first, last) = (panel.start(), panel.end());
        let from = key.from.map_or(first, |d| d.max(first));
        let to = key.to.map_or(last, |d| d.min(last));
        if from > to {
            return Err(PanelRequestError::OutOfRange {
                from: key.from.unwrap_or(first),
                to: key.to.unwrap_or(last),
                first,
                last,
            });
        }
        let rows = panel.row_of(from).expect("clipped")..=panel.row_of(to).expect("clipped");
        let fields = key.fields.clone();
        let started = std::time::Instant::now();
        let bytes =
            tokio::task::spawn_blocking(move || shared::panel_codec::encode(&panel, &fields, rows))
                .await
                .map_err(|e| StoreError::Data(format!("encoding task: {e}")))??;
        tracing::info!(
            "encoded the panel ({} fields, {from}..{to}): {} bytes in {:.1} ms",
            key.fields.len(),
            bytes.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
        let encoded = EncodedPanel {
            version,
            hash: shared::panel_codec::content_hash(&bytes),
            bytes: Arc::new(bytes),
            first_day: from,
            last_day: to,
        };
        let mut cache = self.encoded_cache.lock().expect("encoded cache lock");
        cache.retain(|_, e| e.version == version);
        if cache.len() >= ENCODED_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key.clone(), encoded.clone());
        Ok(encoded)
    }
}
