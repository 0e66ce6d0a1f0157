//! The dense, date-aligned [`Panel`] built from the store's long rows.
//!
//! The layout rules are those of [`super::layout`] (a test proves [`Store::build_panel`] equal
//! bit for bit to [`super::layout::layout_records`] on the real files): the assets are the
//! symbols with at least one daily bar, sorted by their bytes; the days run from the first to
//! the last bar; market caps, supply, funding and open interest are aligned to those assets and
//! days and dropped outside them; nothing is filled in (a day without a value is NaN); funding
//! and open interest from several venues of one asset in a [`VenueOrder`] (the run's venue,
//! then Binance, then the other venues by name).
//!
//! The reshape is a hand-written scatter into the column-major buffers (see docs/benchmarks.md
//! for why not polars): each stored row is written once at `asset * n_days + row`. The rows
//! arrive packed by the database, one result row per symbol (see [`Packed`] for why and how
//! that stays exact).

use super::layout::VenueOrder;
use super::{Backend, Store, StoreError};
use shared::{Day, Field, Panel};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Panels kept built at the current data version: one per venue order a caller asked for
/// (the default one for `/api/panel`, and the configured venue's for the live trader).
pub(super) const PANEL_CACHE_ENTRIES: usize = 2;

/// One series' rows, packed by the database: one result row per symbol (and venue), its days
/// and values in one text column.
///
/// Why packed: the drivers hand rows over one at a time (sqlx's SQLite worker thread sends each
/// row through a channel, and the `Any` driver copies every value again), which cost ~3 µs per
/// row, ~0.6 s for the real store's 175k rows, almost all of it thread hand-offs and small
/// allocations (docs/benchmarks.md). Packed, ~700 rows cross the driver instead.
///
/// Exact: every value is written in a text form that reads back to the same bits. SQLite's
/// `quote()` of a REAL prints 15 significant digits when those read back to the same double and
/// 21 otherwise; PostgreSQL's `float8` output is the shortest exact form (`extra_float_digits`
/// > 0, the default since 12). A missing value is `NULL`, read as NaN.
struct Packed {
    backend: Backend,
}

impl Packed {
    /// A value column as exact text.
    fn value(&self, column: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("quote({column})"),
            Backend::Postgres => format!("coalesce({column}::text, 'NULL')"),
        }
    }

    /// `day v1 v2 ...` per stored row, rows joined by `,`, one result row per `group`.
    fn query(&self, table: &str, group: &str, columns: &[&str], filter: &str) -> String {
        let day = match self.backend {
            Backend::Sqlite => "day",
            Backend::Postgres => "day::text",
        };
        let mut item = day.to_string();
        for c in columns {
            item.push_str(" || ' ' || ");
            item.push_str(&self.value(c));
        }
        let agg = match self.backend {
            Backend::Sqlite => format!("group_concat({item}, ',')"),
            Backend::Postgres => format!("string_agg({item}, ',')"),
        };
        format!("SELECT {group}, {agg} FROM {table} {filter} GROUP BY {group}")
    }
}

/// Reads one packed list (`day v1 .. vN,day v1 .. vN,...`), calling `row(day, values)` per item.
///
/// A plain byte scan with the numbers parsed by `str::parse` (std's, optimised even in debug
/// builds): the real store's ~175k items take a few milliseconds in release, and split
/// iterators compiled without optimisation made debug builds (the tests) several times slower.
fn unpack<const N: usize>(
    packed: &str,
    mut row: impl FnMut(i64, &[f64; N]),
) -> Result<(), StoreError> {
    let bytes = packed.as_bytes();
    let bad = |at: usize, why: &str| {
        let end = (at + 60).min(packed.len());
        let near = packed.get(at..end).unwrap_or("");
        StoreError::Data(format!("packed panel rows at byte {at} ({near:?}): {why}"))
    };
    // The end of the token starting at `from`: the next `stop` byte, or the end.
    let token_end = |from: usize, stop: u8| -> usize {
        let mut i = from;
        while i < bytes.len() && bytes[i] != stop {
            i += 1;
        }
        i
    };
    let mut values = [f64::NAN; N];
    let mut at = 0;
    while at < bytes.len() {
        let end = token_end(at, b' ');
        let day: i64 = packed[at..end].parse().map_err(|_| bad(at, "no day"))?;
        at = end + 1;
        for (k, v) in values.iter_mut().enumerate() {
            if at > bytes.len() {
                return Err(bad(end, "too few values"));
            }
            let end = token_end(at, if k + 1 == N { b',' } else { b' ' });
            let text = &packed[at..end];
            *v = if text == "NULL" {
                f64::NAN
            } else {
                text.parse().map_err(|_| bad(at, "not a number"))?
            };
            at = end + 1;
        }
        row(day, &values);
    }
    // The last item ends at the end (`at` one past it); exactly at the end means a trailing `,`.
    if at == bytes.len() && !bytes.is_empty() {
        return Err(bad(at, "empty last item"));
    }
    Ok(())
}

/// The assets and days of the panel: every symbol with a daily bar (sorted by its bytes) and the
/// days from the first bar to the last.
struct Frame {
    symbols: Vec<String>,
    first: i64,
    n_days: usize,
}

impl Frame {
    /// The column-major cell of (`asset`, `day`), if `day` is inside the frame.
    #[inline]
    fn cell(&self, asset: usize, day: i64) -> Option<usize> {
        let row = day - self.first;
        (0..self.n_days as i64)
            .contains(&row)
            .then(|| asset * self.n_days + row as usize)
    }

    fn len(&self) -> usize {
        self.symbols.len() * self.n_days
    }

    fn asset(&self, symbol: &str) -> Option<usize> {
        self.symbols
            .binary_search_by(|s| s.as_str().cmp(symbol))
            .ok()
    }
}

/// One series read packed and scattered into one buffer per value column. `pos` says where the
/// symbol, the venue (if any) and the packed text are in each result row.
async fn read_series<const N: usize>(
    pool: &sqlx::AnyPool,
    sql: &str,
    frame: &Frame,
    pos: (usize, Option<usize>, usize),
    order: &VenueOrder,
) -> Result<[Vec<f64>; N], StoreError> {
    let rows = sqlx::query(sql).fetch_all(pool).await?;
    let (symbol_at, venue_at, packed_at) = pos;
    // Per-venue series: for each cell the best-ranked venue with a stored row wins, so the
    // groups are written worst venue first.
    let mut groups = Vec::with_capacity(rows.len());
    for r in &rows {
        let rank = match venue_at {
            Some(i) => order.rank(r.try_get(i)?),
            None => (0, ""),
        };
        groups.push((rank, r));
    }
    groups.sort_by(|a, b| b.0.cmp(&a.0));
    let mut out: [Vec<f64>; N] = std::array::from_fn(|_| vec![f64::NAN; frame.len()]);
    for (_, r) in groups {
        // A symbol without bars (filtered out in SQL), or one whose bars arrived after the
        // frame was read: the data version changed, so the next call rebuilds.
        let Some(a) = frame.asset(r.try_get(symbol_at)?) else {
            continue;
        };
        unpack::<N>(r.try_get(packed_at)?, |day, v| {
            if let Some(i) = frame.cell(a, day) {
                for (o, x) in out.iter_mut().zip(v) {
                    o[i] = *x;
                }
            }
        })?;
    }
    Ok(out)
}

impl Store {
    /// Builds the full panel from the stored rows; `None` when no daily bar is stored (a panel
    /// without prices has no days to align to). Each series is read packed (see [`Packed`]),
    /// only for symbols that have bars, and written straight into the column-major buffers;
    /// the five reads run concurrently, each on its own pooled connection, and each is
    /// unpacked as soon as it arrives, while the database still works on the others.
    pub async fn build_panel(&self) -> Result<Option<Panel>, StoreError> {
        self.build_panel_for(&VenueOrder::default()).await
    }

    /// [`Store::build_panel`] with funding and open interest taken in `order` (a run on a
    /// venue takes that venue's first).
    pub async fn build_panel_for(&self, order: &VenueOrder) -> Result<Option<Panel>, StoreError> {
        let pool = self.pool();
        // The frame, from the bars' primary-key index (symbol, day).
        let extents =
            sqlx::query("SELECT symbol, MIN(day), MAX(day) FROM daily_bars GROUP BY symbol")
                .fetch_all(pool)
                .await?;
        if extents.is_empty() {
            return Ok(None);
        }
        let mut symbols = Vec::with_capacity(extents.len());
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        for r in &extents {
            symbols.push(r.try_get::<String, _>(0)?);
            first = first.min(r.try_get(1)?);
            last = last.max(r.try_get(2)?);
        }
        // Byte order, whatever the database's collation.
        symbols.sort_unstable();
        let frame = Frame {
            symbols,
            first,
            n_days: (last - first + 1) as usize,
        };
        let packed = Packed {
            backend: self.backend(),
        };
        let keep = "WHERE symbol IN (SELECT DISTINCT symbol FROM daily_bars)";
        let bars_sql = packed.query(
            "daily_bars",
            "symbol",
            &["open", "high", "low", "close", "volume"],
            "",
        );
        let caps_sql = packed.query("market_caps", "symbol", &["usd"], keep);
        let supply_sql = packed.query("supply_snapshots", "symbol", &["circulating"], keep);
        let funding_sql = packed.query("funding", "symbol, venue", &["daily_rate"], keep);
        let oi_sql = packed.query("open_interest", "symbol, venue", &["usd"], keep);
        let single = (0, None, 1);
        let by_venue = (0, Some(1), 2);
        let ([open, high, low, close, volume], [caps], [supply], [funding], [oi]) = tokio::try_join!(
            read_series::<5>(pool, &bars_sql, &frame, single, order),
            read_series::<1>(pool, &caps_sql, &frame, single, order),
            read_series::<1>(pool, &supply_sql, &frame, single, order),
            read_series::<1>(pool, &funding_sql, &frame, by_venue, order),
            read_series::<1>(pool, &oi_sql, &frame, by_venue, order),
        )?;
        let [mut open, mut high, mut low, mut close, mut volume] = [open, high, low, close, volume];
        // A venue with its own bar source preference: the days another of its sources holds
        // take that bar (`lockstep data prefer --venue`).
        if let Some(venue) = &order.bars {
            let prefs = self.bar_venue_preference(venue).await?;
            for ((symbol, day), v) in self.venue_bar_choices(&prefs, None).await? {
                let Some(i) = frame.asset(&symbol).and_then(|a| frame.cell(a, day)) else {
                    continue;
                };
                for (col, x) in [&mut open, &mut high, &mut low, &mut close, &mut volume]
                    .into_iter()
                    .zip(v)
                {
                    col[i] = x;
                }
            }
        }
        let mut panel = Panel::new(Day(first as i32), frame.n_days, frame.symbols)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        for (field, values) in [
            (Field::Open, open),
            (Field::High, high),
            (Field::Low, low),
            (Field::Close, close),
            (Field::Volume, volume),
            (Field::MarketCap, caps),
            (Field::CirculatingSupply, supply),
            (Field::FundingRate, funding),
            (Field::OpenInterest, oi),
        ] {
            panel
                .set_field(field, values)
                .map_err(|e| StoreError::Data(e.to_string()))?;
        }
        Ok(Some(panel))
    }

    /// The full panel, rebuilt only when the store's data version changed since the last call.
    /// Returns the version it corresponds to.
    pub async fn panel(&self) -> Result<Option<(i64, Arc<Panel>)>, StoreError> {
        self.panel_for(&VenueOrder::default()).await
    }

    /// [`Store::panel`] with funding and open interest in `order` (see
    /// [`Store::build_panel_for`]), cached beside the default one.
    pub async fn panel_for(
        &self,
        order: &VenueOrder,
    ) -> Result<Option<(i64, Arc<Panel>)>, StoreError> {
        let mut cache = self.panel_cache.lock().await;
        let version = self.data_version().await?;
        cache.retain(|(v, _, _)| *v == version);
        // A venue without its own bar preference reads the store's bars: one cache entry with
        // the order that has none (the paper venue's panel is the default one).
        let order = &self.effective_order(order).await?;
        if let Some((_, _, p)) = cache.iter().find(|(_, o, _)| o == order) {
            return Ok(p.clone().map(|p| (version, p)));
        }
        // Read the version before the rows: a write racing this build bumps the version again,
        // so the next call rebuilds instead of serving a stale panel under a new version.
        let started = std::time::Instant::now();
        let built = self.build_panel_for(order).await?;
        if let Some(p) = &built {
            tracing::info!(
                "built the panel from the store: {} assets x {} days in {:.1} ms (data version {version})",
                p.n_assets(),
                p.n_days(),
                started.elapsed().as_secs_f64() * 1e3
            );
        }
        let built = built.map(Arc::new);
        if cache.len() >= PANEL_CACHE_ENTRIES {
            cache.remove(0);
        }
        cache.push((version, order.clone(), built.clone()));
        Ok(built.map(|p| (version, p)))
    }

    /// `order`, without its venue bar preference when the venue has none stored (the panel is
    /// then the store's bars: the same panel, one cache entry).
    pub(super) async fn effective_order(
        &self,
        order: &VenueOrder,
    ) -> Result<VenueOrder, StoreError> {
        Ok(match &order.bars {
            Some(v) if self.bar_venue_preference(v).await?.is_empty() => order.without_bars(),
            _ => order.clone(),
        })
    }

    /// Where a run on `order`'s venue did not get that venue's funding: per asset of the panel,
    /// the venue that supplied the days the preferred venue has no rate for, and how many.
    /// Empty without a preferred venue. What the run's universe note lists, so a fallback is
    /// never silent.
    pub async fn funding_fallbacks(
        &self,
        order: &VenueOrder,
    ) -> Result<Vec<FundingFallback>, StoreError> {
        let Some(venue) = order.preferred.as_deref() else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT f.symbol, f.day, f.venue FROM funding f \
             WHERE f.venue <> $1 AND f.daily_rate IS NOT NULL \
             AND f.symbol IN (SELECT DISTINCT symbol FROM daily_bars) \
             AND NOT EXISTS (SELECT 1 FROM funding g WHERE g.symbol = f.symbol \
                             AND g.day = f.day AND g.venue = $1 AND g.daily_rate IS NOT NULL)",
        )
        .bind(venue.to_string())
        .fetch_all(self.pool())
        .await?;
        let mut candidates = Vec::with_capacity(rows.len());
        for r in &rows {
            candidates.push((
                r.try_get::<String, _>(0)?,
                r.try_get::<i64, _>(1)?,
                r.try_get::<String, _>(2)?,
            ));
        }
        Ok(summarize_fallbacks(order, candidates.into_iter()))
    }
}

/// The funding fallbacks of a run on `order`'s venue from `candidates`: the (symbol, day,
/// venue) rates of priced symbols on days the venue has none. Per (symbol, day) the best
/// ranked venue wins; then the days per (symbol, venue). Empty without a preferred venue.
pub(super) fn summarize_fallbacks(
    order: &VenueOrder,
    candidates: impl Iterator<Item = (String, i64, String)>,
) -> Vec<FundingFallback> {
    let Some(venue) = order.preferred.as_deref() else {
        return Vec::new();
    };
    // (symbol, day) → the winning fallback venue; then days per (symbol, venue).
    let mut winner: BTreeMap<(String, i64), String> = BTreeMap::new();
    for (symbol, day, v) in candidates {
        let key = (symbol, day);
        let better = match winner.get(&key) {
            Some(w) => order.rank(&v) < order.rank(w),
            None => true,
        };
        if better {
            winner.insert(key, v);
        }
    }
    let mut days: BTreeMap<(String, String), (usize, i64, i64)> = BTreeMap::new();
    for ((symbol, day), v) in winner {
        let e = days.entry((symbol, v)).or_insert((0, day, day));
        e.0 += 1;
        e.1 = e.1.min(day);
        e.2 = e.2.max(day);
    }
    days.into_iter()
        .map(|((symbol, from_venue), (n, first, last))| FundingFallback {
            symbol,
            wanted: venue.to_string(),
            from_venue,
            days: n,
            first: Day(first as i32),
            last: Day(last as i32),
        })
        .collect()
}

/// Days of one asset whose funding came from a fallback venue (see
/// [`Store::funding_fallbacks`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundingFallback {
    pub symbol: String,
    /// The run's venue, which had no rate on those days.
    pub wanted: String,
    /// The venue whose rate the panel took.
    pub from_venue: String,
    pub days: usize,
    pub first: Day,
    pub last: Day,
}

impl std::fmt::Display for FundingFallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: funding from {} on {} day(s) between {} and {} (no {} rate)",
            self.symbol, self.from_venue, self.days, self.first, self.last, self.wanted
        )
    }
}

/// What an encoded panel answer depends on besides the data version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncodedKey {
    pub fields: Vec<Field>,
    pub from: Option<Day>,
    pub to: Option<Day>,
    /// The panel as it was at this data version (a share link's pinned data); `None`: today's.
    pub as_of: Option<i64>,
    /// The panel a run on this venue reads (its funding first) with the venue's universe
    /// (`shared::panel_codec` version 2); `None`: the default panel, version 1.
    pub venue: Option<shared::config::VenueScope>,
}

impl EncodedKey {
    /// The key's days clipped to `panel`'s; an error when nothing of the panel is left.
    fn days_within(&self, panel: &Panel) -> Result<(Day, Day), PanelRequestError> {
        let (first, last) = (panel.start(), panel.end());
        let from = self.from.map_or(first, |d| d.max(first));
        let to = self.to.map_or(last, |d| d.min(last));
        if from > to {
            return Err(PanelRequestError::OutOfRange {
                from: self.from.unwrap_or(first),
                to: self.to.unwrap_or(last),
                first,
                last,
            });
        }
        Ok((from, to))
    }
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
    #[error("data version {as_of} does not exist: the store is at version {current}")]
    UnknownVersion { as_of: i64, current: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Codec(#[from] shared::panel_codec::CodecError),
}

/// Most distinct requests kept per data version (least recently used out first).
pub const ENCODED_CACHE_ENTRIES: usize = 32;

impl Store {
    /// Encoded panel answers held now (at most [`ENCODED_CACHE_ENTRIES`]).
    pub fn encoded_panels_cached(&self) -> usize {
        self.encoded_cache.len()
    }

    /// Encoded panel answers computed (not served from the cache) since the store was opened.
    pub fn encoded_panel_computations(&self) -> u64 {
        self.encoded_cache.computations()
    }

    /// The encoded panel for `key`, from the cache when the data has not changed since it was
    /// encoded. `from`/`to` are clipped to the stored days (before the cache is asked, so every
    /// request past the ends is one entry). Encodings run one at a time: however many distinct
    /// requests arrive at once, the work is one encoding after another.
    ///
    /// With `as_of` below today's version the panel is rebuilt as it was then
    /// ([`Store::build_panel_as_of`], bit for bit what a reader saw at that version), through the
    /// same cache with the version in the key (its answer never changes) and one computation at
    /// a time; the last rebuilt panel is kept, so other days or fields of the same version clip
    /// it instead of rebuilding it.
    pub async fn encoded_panel(&self, key: &EncodedKey) -> Result<EncodedPanel, PanelRequestError> {
        let order = VenueOrder::for_venue(key.venue.map(|v| v.name()));
        if let Some(as_of) = key.as_of {
            let current = self.data_version().await?;
            if as_of < 0 || as_of > current {
                return Err(PanelRequestError::UnknownVersion { as_of, current });
            }
            if as_of < current {
                return self.cached_as_of(key, as_of, current, &order).await;
            }
        }
        let (version, panel) = self
            .panel_for(&order)
            .await?
            .ok_or(PanelRequestError::Empty)?;
        if key.as_of.is_some_and(|v| v != version) {
            // The data changed since the version was read: answer for the version asked.
            let as_of = key.as_of.expect("checked");
            return self.cached_as_of(key, as_of, version, &order).await;
        }
        let (from, to) = key.days_within(&panel)?;
        let clipped = EncodedKey {
            fields: key.fields.clone(),
            from: Some(from),
            to: Some(to),
            as_of: None,
            venue: key.venue,
        };
        self.encoded_cache
            .get_or_compute(clipped, version, || async move {
                let universe = match key.venue {
                    Some(v) => Some(self.venue_universe_data(v).await?),
                    None => None,
                };
                let rows =
                    panel.row_of(from).expect("clipped")..=panel.row_of(to).expect("clipped");
                let fields = key.fields.clone();
                let started = std::time::Instant::now();
                let bytes = tokio::task::spawn_blocking(move || {
                    encode(&panel, &fields, rows, universe.as_ref())
                })
                .await
                .map_err(|e| StoreError::Data(format!("encoding task: {e}")))??;
                tracing::info!(
                    "encoded the panel ({} fields, {from}..{to}): {} bytes in {:.1} ms",
                    key.fields.len(),
                    bytes.len(),
                    started.elapsed().as_secs_f64() * 1e3
                );
                Ok(EncodedPanel {
                    version,
                    hash: shared::panel_codec::content_hash(&bytes),
                    bytes: Arc::new(bytes),
                    first_day: from,
                    last_day: to,
                })
            })
            .await
    }

    /// [`Store::encoded_as_of`] through the encoded cache: the key keeps `as_of` (and the days
    /// as asked: the old panel's days are only known once it is built), the cache's version is
    /// `current`, the store's version when asked (a change of data drops these entries with
    /// every other; the next request computes the same answer again).
    async fn cached_as_of(
        &self,
        key: &EncodedKey,
        as_of: i64,
        current: i64,
        order: &VenueOrder,
    ) -> Result<EncodedPanel, PanelRequestError> {
        let key = EncodedKey {
            as_of: Some(as_of),
            ..key.clone()
        };
        self.encoded_cache
            .get_or_compute(key.clone(), current, || async {
                self.encoded_as_of(&key, as_of, order).await
            })
            .await
    }

    /// The panel of `order` as it was at data version `version` (the last one rebuilt is kept),
    /// clipped to `key`'s days and encoded with the venue's universe as it was then when `key`
    /// names one: the listings as of `version` ([`Store::venue_listings_as_of`]) and the funding
    /// fallbacks of that panel.
    async fn encoded_as_of(
        &self,
        key: &EncodedKey,
        version: i64,
        order: &VenueOrder,
    ) -> Result<EncodedPanel, PanelRequestError> {
        let need_fallbacks = key.venue.is_some();
        let kept = {
            let slot = self
                .as_of_panel
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            slot.as_ref()
                .filter(|(v, o, has, _)| *v == version && o == order && (*has || !need_fallbacks))
                .map(|(_, _, _, p)| p.clone())
        };
        let (panel, fallbacks) = match kept {
            Some(p) => p,
            None => {
                let started = std::time::Instant::now();
                let built = self
                    .panel_as_of_parts(version, order, need_fallbacks)
                    .await?
                    .map(|(p, f)| (Arc::new(p), f));
                tracing::info!(
                    "rebuilt the panel as of data version {version} in {:.1} ms",
                    started.elapsed().as_secs_f64() * 1e3
                );
                *self
                    .as_of_panel
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((version, order.clone(), need_fallbacks, built.clone()));
                built
            }
        }
        .ok_or(PanelRequestError::Empty)?;
        let universe = match key.venue {
            Some(v) => Some(
                self.venue_universe_data_as_of(v, version, &fallbacks)
                    .await?,
            ),
            None => None,
        };
        encode_as_of(panel, key, version, universe).await
    }
}

/// `shared::panel_codec`'s version 1, or version 2 with `universe`.
fn encode(
    panel: &Panel,
    fields: &[Field],
    rows: std::ops::RangeInclusive<usize>,
    universe: Option<&shared::universe::VenueUniverse>,
) -> Result<Vec<u8>, shared::panel_codec::CodecError> {
    match universe {
        Some(u) => shared::panel_codec::encode_for_venue(panel, fields, rows, u),
        None => shared::panel_codec::encode(panel, fields, rows),
    }
}

/// `panel` (the store's panel at data version `version`) clipped to `key`'s days and encoded.
async fn encode_as_of(
    panel: Arc<Panel>,
    key: &EncodedKey,
    version: i64,
    universe: Option<shared::universe::VenueUniverse>,
) -> Result<EncodedPanel, PanelRequestError> {
    let (from, to) = key.days_within(&panel)?;
    let rows = panel.row_of(from).expect("clipped")..=panel.row_of(to).expect("clipped");
    let fields = key.fields.clone();
    let bytes =
        tokio::task::spawn_blocking(move || encode(&panel, &fields, rows, universe.as_ref()))
            .await
            .map_err(|e| StoreError::Data(format!("encoding task: {e}")))??;
    Ok(EncodedPanel {
        version,
        hash: shared::panel_codec::content_hash(&bytes),
        bytes: Arc::new(bytes),
        first_day: from,
        last_day: to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<const N: usize>(packed: &str) -> Result<Vec<(i64, [f64; N])>, StoreError> {
        let mut out = Vec::new();
        unpack::<N>(packed, |day, v| out.push((day, *v)))?;
        Ok(out)
    }

    #[test]
    fn packed_rows_read_back_exactly() {
        let rows = read::<2>("19000 1.5 NULL,19002 -2.5e-300 9.0e+999,-3 0.1 3").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].0, 19000);
        assert_eq!(rows[0].1[0], 1.5);
        assert!(rows[0].1[1].is_nan(), "NULL is missing");
        assert_eq!(rows[1].1, [-2.5e-300, f64::INFINITY]);
        assert_eq!(rows[2], (-3, [0.1, 3.0]));
        // SQLite's 21-digit form of a double its 15 digits cannot carry.
        let x: f64 = 0.1 + 0.2;
        let rows = read::<1>(&format!("7 {:.20e}", x)).unwrap();
        assert_eq!(rows[0].1[0].to_bits(), x.to_bits());
        assert!(read::<1>("").unwrap().is_empty());
    }

    #[test]
    fn malformed_packed_rows_are_errors_not_panics() {
        for bad in [
            "19000 1.5",
            "x 1 2",
            "19000 1 abc",
            "19000  2",
            "19000 1 2,",
            "19000",
        ] {
            let err = read::<2>(bad).expect_err(bad).to_string();
            assert!(err.contains("packed panel rows"), "{bad}: {err}");
        }
    }
}
