//! Machinery shared by every cross-sectional strategy: universe, ranking, selection, weighting.
//!
//! # How a strategy uses it
//!
//! 1. In its constructor, read the common keys with
//!    [`CrossSection::from_params`]`(&mut params, Defaults::LONG_SHORT)` (or
//!    [`Defaults::LONG_ONLY`]). That reads `top_n`, `bottom_n`, `long_percentile`,
//!    `short_percentile`, `num_quintiles`, `weighting_method`, `volatility_window`,
//!    `long_allocation`, `short_allocation` and `limit`. Read `rebalance_days` with
//!    [`super::params::Params::rebalance_days`] and the strategy's own keys with the other
//!    `Params` methods, then call `params.finish()` (the registry does that).
//! 2. `lookback()` = `max(own window rows, cross_section.lookback())`.
//! 3. A *ranking* strategy's `compute` is one call:
//!    `self.xs.rank(input, t, Orientation::LongLow, |asset| signal_or_none, out)`.
//!    The closure returns `None` when the asset's own window is incomplete; the cross-section
//!    handles exclusions, the close at `t`, the weighting volatility, `limit`, ranking with the
//!    symbol tie-break, `top_n`/`bottom_n` or percentile selection, and weights.
//! 4. A *rule* strategy (breakout, mean reversion, trendline, days from high) decides its own
//!    longs and shorts: call [`CrossSection::eligible`] to get the eligible [`Candidate`]s
//!    (signal = whatever the closure returns, e.g. a z-score), pick from them, then
//!    [`CrossSection::write_weights`] with the chosen longs and shorts.
//!
//! Helpers for windows: [`window`] (rows `t+1-len..=t`, all finite, or `None`) and
//! [`annualized_vol`]. Nothing here reads a row after `t` or before `t + 1 - lookback`.

use super::params::Params;
use super::{Activity, InactiveReason, Input};
use crate::error::ConfigError;
use crate::panel::Field;

/// Days per year used to annualise daily statistics (crypto trades every day).
pub const DAYS_PER_YEAR: f64 = 365.0;

/// Which end of the ranking is long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    /// Long the lowest signals, short the highest (size, beta, volatility, ...).
    LongLow,
    /// Long the highest signals, short the lowest (turnover, trend-following ADF, ...).
    LongHigh,
}

/// How many assets each end of the ranking takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Selection {
    /// `top_n` highest and `bottom_n` lowest signals.
    Count { top_n: usize, bottom_n: usize },
    /// Signals `<=` the `low`-th percentile form the low end, signals `>=` the `high`-th
    /// percentile the high end (numpy linear interpolation, in percent).
    Percentile { low: f64, high: f64 },
}

/// How the selected assets of one side share that side's allocation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Weighting {
    /// Each asset gets `allocation / n`.
    Equal,
    /// Each asset gets `allocation × (1/vol) / Σ(1/vol)`, vol over `window` daily log returns.
    InverseVol { window: usize },
}

/// Defaults a strategy passes to [`CrossSection::from_params`].
#[derive(Clone, Copy, Debug)]
pub struct Defaults {
    pub long_allocation: f64,
    pub short_allocation: f64,
}

impl Defaults {
    /// Long/short strategies: 0.5 / 0.5.
    pub const LONG_SHORT: Defaults = Defaults {
        long_allocation: 0.5,
        short_allocation: 0.5,
    };
    /// Long-only strategies: the longs sum to 1.0.
    pub const LONG_ONLY: Defaults = Defaults {
        long_allocation: 1.0,
        short_allocation: 0.0,
    };
}

/// The universe, selection and weighting settings shared by all cross-sectional strategies.
#[derive(Clone, Debug, PartialEq)]
pub struct CrossSection {
    pub selection: Selection,
    pub weighting: Weighting,
    /// The longs sum to this.
    pub long_allocation: f64,
    /// The shorts sum to minus this.
    pub short_allocation: f64,
    /// Keep only the `limit` largest market caps at `t` (after the data checks).
    pub limit: Option<usize>,
    /// `volatility_floor`: under inverse-vol weighting, a position is weighted by
    /// `1 / max(vol, floor)` (annualised, like the vol). 0 (the default) is no floor. Explicit
    /// on purpose: the predecessor floored silently, and with stablecoins in its universe the
    /// floored near-zero vols took most of a side. The floor only caps how large one calm
    /// asset's weight can get; it never makes an asset eligible (zero vol stays ineligible) and
    /// never changes a signal (the `volatility` strategy ranks on the raw vol).
    pub vol_floor: f64,
}

/// One eligible asset at `t`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub asset: usize,
    /// What the strategy's closure returned (finite).
    pub signal: f64,
    /// The weighting volatility (finite, > 0) under inverse-vol weighting, else NaN.
    pub vol: f64,
    /// Market cap at `t` when `limit` is set (finite, > 0); NaN without `limit` (not read).
    pub market_cap: f64,
}

/// Default count per end when neither counts nor percentiles are configured.
pub const DEFAULT_TOP_N: usize = 10;
/// Default weighting volatility window.
pub const DEFAULT_VOL_WINDOW: usize = 30;

impl CrossSection {
    /// Reads the common keys.
    ///
    /// Selection: `long_percentile`/`short_percentile` if either is set (the other defaults to
    /// its mirror, `100 - p`); else `num_quintiles: q` (`100/q` percent at each end); else
    /// `top_n`/`bottom_n` (`bottom_n` defaults to `top_n`, both to 10). `long_percentile` is the
    /// cutoff at the low end and `short_percentile` at the high end, as the predecessor named them
    /// for long-low strategies; which end is long is the strategy's [`Orientation`].
    /// Weighting: `weighting_method` `risk_parity` (default) / `inverse_vol` / `equal_weight`,
    /// with `volatility_window` (default 30).
    ///
    /// # Errors
    /// Wrong types, negative allocations, percentiles outside `[0, 100]` or crossed, windows < 2.
    pub fn from_params(p: &mut Params<'_>, d: Defaults) -> Result<CrossSection, ConfigError> {
        let top_n = p.usize_min("top_n", DEFAULT_TOP_N, 0)?;
        let bottom_n = p.usize_min("bottom_n", top_n, 0)?;
        let lp = p.f64_opt("long_percentile")?;
        let sp = p.f64_opt("short_percentile")?;
        let q = p.usize_opt("num_quintiles", 2)?;
        let selection = match (lp, sp, q) {
            (None, None, None) => Selection::Count { top_n, bottom_n },
            (None, None, Some(q)) => {
                let step = 100.0 / q as f64;
                Selection::Percentile {
                    low: step,
                    high: 100.0 - step,
                }
            }
            (lp, sp, _) => {
                let low = lp.unwrap_or_else(|| 100.0 - sp.unwrap_or(0.0));
                let high = sp.unwrap_or(100.0 - low);
                for (key, v) in [("long_percentile", low), ("short_percentile", high)] {
                    if !(0.0..=100.0).contains(&v) {
                        return Err(ConfigError::Invalid {
                            path: p.key_path(key),
                            message: format!("must be within [0, 100], got {v}"),
                        });
                    }
                }
                if low > high {
                    return Err(ConfigError::Invalid {
                        path: p.key_path("long_percentile"),
                        message: format!(
                            "the low-end cutoff {low} must not exceed short_percentile {high}"
                        ),
                    });
                }
                Selection::Percentile { low, high }
            }
        };
        let rest = CrossSection::weighting_from_params(p, d)?;
        Ok(CrossSection { selection, ..rest })
    }

    /// For rule strategies that pick their own longs and shorts (breakout, days from high, ...):
    /// reads only `weighting_method`, `volatility_window`, `long_allocation`, `short_allocation`
    /// and `limit`; the selection stays at its unused default.
    ///
    /// # Errors
    /// As [`CrossSection::from_params`].
    pub fn weighting_from_params(
        p: &mut Params<'_>,
        d: Defaults,
    ) -> Result<CrossSection, ConfigError> {
        let method = p.choice(
            "weighting_method",
            "risk_parity",
            &["risk_parity", "inverse_vol", "equal_weight"],
        )?;
        let window = p.window("volatility_window", DEFAULT_VOL_WINDOW)?;
        let weighting = if method == "equal_weight" {
            Weighting::Equal
        } else {
            Weighting::InverseVol { window }
        };
        let long_allocation = p.f64_in("long_allocation", d.long_allocation, 0.0, f64::MAX)?;
        let short_allocation = p.f64_in("short_allocation", d.short_allocation, 0.0, f64::MAX)?;
        let limit = p.usize_opt("limit", 1)?;
        // Read under every weighting method so the config editor always offers it; it only
        // acts under inverse-vol weighting.
        let vol_floor = p.f64_in("volatility_floor", 0.0, 0.0, f64::MAX)?;
        Ok(CrossSection {
            selection: Selection::Count {
                top_n: DEFAULT_TOP_N,
                bottom_n: DEFAULT_TOP_N,
            },
            weighting,
            long_allocation,
            short_allocation,
            limit,
            vol_floor,
        })
    }

    /// Rows ending at `t` the universe checks and weighting read: the close at `t`, the market cap
    /// at `t`, and `window + 1` closes under inverse-vol weighting.
    pub fn lookback(&self) -> usize {
        match self.weighting {
            Weighting::Equal => 1,
            Weighting::InverseVol { window } => window + 1,
        }
    }

    /// The eligible universe at `t`, in asset order.
    ///
    /// An asset is eligible when it is not excluded, its close at `t` is finite and positive, its
    /// weighting volatility (inverse-vol only) is finite and positive, and `signal(asset)` is
    /// `Some(finite)`. Then, if `limit` is set, assets without a market cap at `t` drop out and
    /// only the `limit` largest caps stay (ties by symbol, alphabetically earlier first).
    pub fn eligible(
        &self,
        input: &Input<'_>,
        t: usize,
        mut signal: impl FnMut(usize) -> Option<f64>,
    ) -> Vec<Candidate> {
        let panel = input.panel;
        let mut out = Vec::new();
        if t >= panel.n_days() {
            return out;
        }
        // Only assets with a finite, positive close at `t` (ascending, as before).
        for &asset in panel.priced_assets(t) {
            let asset = asset as usize;
            if input.excluded.get(asset).copied().unwrap_or(false) {
                continue;
            }
            // Step 2: an asset the venue does not list at `t` cannot be traded.
            if !input.is_tradable(asset, t) {
                continue;
            }
            // Read only when `limit` needs it: column-major, it is a cache miss per asset.
            let market_cap = if self.limit.is_some() {
                let m = panel.get(Field::MarketCap, asset, t);
                if !(m.is_finite() && m > 0.0) {
                    continue;
                }
                m
            } else {
                f64::NAN
            };
            let vol = match self.weighting {
                Weighting::Equal => f64::NAN,
                Weighting::InverseVol { window } => {
                    match annualized_vol(panel.log_returns(asset), t, window) {
                        Some(v) if v > 0.0 => v,
                        _ => continue,
                    }
                }
            };
            match signal(asset) {
                Some(s) if s.is_finite() => out.push(Candidate {
                    asset,
                    signal: s,
                    vol,
                    market_cap,
                }),
                _ => continue,
            }
        }
        if let Some(limit) = self.limit {
            if out.len() > limit {
                let rank = panel.symbol_ranks();
                out.sort_unstable_by(|a, b| {
                    b.market_cap
                        .total_cmp(&a.market_cap)
                        .then_with(|| rank[a.asset].cmp(&rank[b.asset]))
                });
                out.truncate(limit);
                out.sort_by_key(|c| c.asset);
            }
        }
        out
    }

    /// Ranks the eligible universe by `signal`, selects both ends and writes weights to `out`.
    pub fn rank(
        &self,
        input: &Input<'_>,
        t: usize,
        orientation: Orientation,
        signal: impl FnMut(usize) -> Option<f64>,
        out: &mut [f64],
    ) -> Activity {
        let cands = self.eligible(input, t, signal);
        self.rank_candidates(input, &cands, orientation, out)
    }

    /// The selection and weighting half of [`CrossSection::rank`], for a strategy that adjusted
    /// the candidates itself (e.g. `volatility` reuses the weighting volatility as its signal).
    pub fn rank_candidates(
        &self,
        input: &Input<'_>,
        cands: &[Candidate],
        orientation: Orientation,
        out: &mut [f64],
    ) -> Activity {
        let (high, low) = match select_ranked(cands, self.selection, input.panel.symbol_ranks()) {
            Ok(sel) => sel,
            Err(reason) => return Activity::Inactive(reason),
        };
        let (longs, shorts) = match orientation {
            Orientation::LongLow => (low, high),
            Orientation::LongHigh => (high, low),
        };
        self.write_weights(&longs, &shorts, out)
    }

    /// Splits signed candidates (signal > 0 long, < 0 short, 0 out) into the two sides and writes
    /// their weights. Inactive when no candidate has a side: "no eligible assets", or `none_among`
    /// followed by the number of eligible assets (e.g. "no open breakout position among 12
    /// eligible assets").
    pub fn write_signed(&self, cands: &[Candidate], none_among: &str, out: &mut [f64]) -> Activity {
        let (longs, shorts) = split_signed(cands);
        if longs.is_empty() && shorts.is_empty() {
            return Activity::Inactive(InactiveReason(if cands.is_empty() {
                "no eligible assets".into()
            } else {
                format!("{none_among} among {} eligible assets", cands.len())
            }));
        }
        self.write_weights(&longs, &shorts, out)
    }

    /// Writes `long_allocation` across `longs` and `-short_allocation` across `shorts` using the
    /// configured weighting (candidates must come from [`CrossSection::eligible`]). Inactive when
    /// both sides are empty. A side with zero allocation writes nothing.
    pub fn write_weights(
        &self,
        longs: &[Candidate],
        shorts: &[Candidate],
        out: &mut [f64],
    ) -> Activity {
        let long_on = !longs.is_empty() && self.long_allocation > 0.0;
        let short_on = !shorts.is_empty() && self.short_allocation > 0.0;
        if !long_on && !short_on {
            return Activity::Inactive(InactiveReason(
                "no asset passed the selection on either side".into(),
            ));
        }
        if long_on {
            self.write_side(longs, self.long_allocation, out);
        }
        if short_on {
            self.write_side(shorts, -self.short_allocation, out);
        }
        Activity::Active
    }

    fn write_side(&self, side: &[Candidate], allocation: f64, out: &mut [f64]) {
        match self.weighting {
            Weighting::Equal => {
                let w = allocation / side.len() as f64;
                for c in side {
                    out[c.asset] += w;
                }
            }
            Weighting::InverseVol { .. } => {
                // `f64::max` with a floor of 0 returns the vol itself (> 0 for a candidate),
                // so without a floor the bits are those of the unfloored formula.
                let floor = self.vol_floor;
                let total: f64 = side.iter().map(|c| 1.0 / c.vol.max(floor)).sum();
                for c in side {
                    out[c.asset] += allocation * (1.0 / c.vol.max(floor)) / total;
                }
            }
        }
    }
}

/// For a strategy with no short book (built with [`Defaults::LONG_ONLY`], whose
/// `short_allocation` default is 0): a non-zero configured `short_allocation` would change
/// nothing, so it is an error naming its JSON path and `why`. 0, or leaving the key out, is
/// accepted.
///
/// # Errors
/// [`ConfigError::Invalid`] at `params.<strategy>.short_allocation`.
pub fn reject_short_allocation(
    p: &Params<'_>,
    short_allocation: f64,
    why: &str,
) -> Result<(), ConfigError> {
    if short_allocation == 0.0 {
        return Ok(());
    }
    let hint = if why.starts_with("long_only") {
        ", or set long_only: false to trade the mirror short"
    } else {
        ""
    };
    Err(ConfigError::Invalid {
        path: p.key_path("short_allocation"),
        message: format!(
            "is {short_allocation} but {why}: the strategy never shorts, so this would change \
             nothing (remove it{hint})"
        ),
    })
}

/// Picks the high end and the low end of `cands` (returned in that order, each in rank order).
///
/// Counts: with at least `top_n + bottom_n` eligible, the `top_n` highest and `bottom_n` lowest;
/// otherwise `k = floor(eligible / 2)` per side (capped by `top_n`/`bottom_n`), and nothing when
/// `k < 2`. Percentiles: need at least two eligible assets. Ties go to the alphabetically earlier
/// symbol at both ends; the high end is chosen first and an asset it took is skipped at the low
/// end (this only matters when signals tie across the whole ranking).
///
/// # Errors
/// The reason the strategy is inactive when nothing can be selected.
pub fn select(
    cands: &[Candidate],
    selection: Selection,
    symbols: &[String],
) -> Result<(Vec<Candidate>, Vec<Candidate>), InactiveReason> {
    let mut order: Vec<usize> = (0..symbols.len()).collect();
    order.sort_by(|&a, &b| symbols[a].cmp(&symbols[b]));
    let mut rank = vec![0u32; symbols.len()];
    for (r, a) in order.into_iter().enumerate() {
        rank[a] = r as u32;
    }
    select_ranked(cands, selection, &rank)
}

/// [`select`] with the symbol order given as ranks ([`crate::panel::Panel::symbol_ranks`]):
/// what the strategies call, so the tie-break compares integers, not strings.
///
/// # Errors
/// As [`select`].
pub fn select_ranked(
    cands: &[Candidate],
    selection: Selection,
    rank: &[u32],
) -> Result<(Vec<Candidate>, Vec<Candidate>), InactiveReason> {
    let n = cands.len();
    if n == 0 {
        return Err(InactiveReason("no eligible assets".into()));
    }
    // The two orders, as integer keys (`f64::total_cmp` is the order of `total_order_key`;
    // symbols are unique, so both orders are total and unstable selection is exact):
    // - low end: signal ascending, then symbol ascending: `(key, rank, position)`;
    // - high end: signal descending, then symbol ascending: `(!key, rank, position)`.
    // Only the selected ends are sorted: partitioning (`select_nth_unstable`, linear) finds
    // them, so a day costs O(n + k log k) instead of a full sort of the cross-section. The
    // result is exactly what sorting everything and reading the ends gives (the property test
    // `single_sort_selection_matches_two_sorts` compares against two full sorts).
    let low_keys = || -> Vec<(i64, u32, u32)> {
        cands
            .iter()
            .enumerate()
            .map(|(i, c)| (total_order_key(c.signal), rank[c.asset], i as u32))
            .collect()
    };
    let pick = |keys: &[(i64, u32, u32)]| -> Vec<Candidate> {
        keys.iter().map(|k| cands[k.2 as usize]).collect()
    };
    match selection {
        Selection::Count { top_n, bottom_n } => {
            let (k_top, k_bot) = if n >= top_n + bottom_n {
                (top_n, bottom_n)
            } else {
                let k = n / 2;
                if k < 2 {
                    return Err(InactiveReason(format!(
                        "only {n} eligible assets: fewer than 2 per side"
                    )));
                }
                (k.min(top_n), k.min(bottom_n))
            };
            // High end: the k_top smallest high-order keys. The rest (n - k_top >= k_bot
            // candidates) are exactly those the low end may take.
            let mut keys: Vec<(i64, u32, u32)> =
                low_keys().into_iter().map(|(k, r, i)| (!k, r, i)).collect();
            let (high_part, rest) = smallest_sorted(&mut keys, k_top);
            let high = pick(high_part);
            let mut rest: Vec<(i64, u32, u32)> = rest.iter().map(|&(k, r, i)| (!k, r, i)).collect();
            let (low_part, _) = smallest_sorted(&mut rest, k_bot);
            Ok((high, pick(low_part)))
        }
        Selection::Percentile {
            low: p_low,
            high: p_high,
        } => {
            if n < 2 {
                return Err(InactiveReason(format!(
                    "only {n} eligible asset: percentiles need at least 2"
                )));
            }
            let mut keys = low_keys();
            let cut_low = percentile_of_keys(&mut keys, cands, p_low);
            let cut_high = percentile_of_keys(&mut keys, cands, p_high);
            // The high end is every signal >= cut_high; the low end skips those (possible only
            // when the cutoffs cross, i.e. signals tie across the whole ranking).
            let in_high = |x: f64| x >= cut_high;
            let mut high_keys: Vec<(i64, u32, u32)> = keys
                .iter()
                .filter(|k| in_high(cands[k.2 as usize].signal))
                .map(|&(k, r, i)| (!k, r, i))
                .collect();
            high_keys.sort_unstable();
            let mut low_keys: Vec<(i64, u32, u32)> = keys
                .iter()
                .filter(|k| {
                    let x = cands[k.2 as usize].signal;
                    x <= cut_low && !in_high(x)
                })
                .copied()
                .collect();
            low_keys.sort_unstable();
            Ok((pick(&high_keys), pick(&low_keys)))
        }
    }
}

/// Moves the `k` smallest keys to the front, sorted, and returns (them, the rest unsorted).
fn smallest_sorted<T: Ord>(keys: &mut [T], k: usize) -> (&[T], &[T]) {
    let k = k.min(keys.len());
    if k > 0 && k < keys.len() {
        keys.select_nth_unstable(k - 1);
    }
    let (head, rest) = keys.split_at_mut(k);
    head.sort_unstable();
    (head, rest)
}

/// [`percentile_sorted`] of the candidates' signals, from `keys` (low-end keys of all of them)
/// by linear-time order statistics instead of a sort: the interpolation reads only the sorted
/// values at `floor(h)` and `floor(h) + 1`. Reorders `keys`.
fn percentile_of_keys(keys: &mut [(i64, u32, u32)], cands: &[Candidate], p: f64) -> f64 {
    let n = keys.len();
    let h = (p / 100.0) * (n - 1) as f64;
    let lo = (h.floor() as usize).min(n - 1);
    let (_, &mut at_lo, right) = keys.select_nth_unstable(lo);
    // The next order statistic is the smallest key above position `lo`.
    let at_hi = right.iter().min().copied().unwrap_or(at_lo);
    let pair = [
        cands[at_lo.2 as usize].signal,
        cands[at_hi.2 as usize].signal,
    ];
    lerp(pair[0], pair[1], h - lo as f64)
}

/// An integer whose order is [`f64::total_cmp`]'s order (IEEE 754 `totalOrder`): flip the
/// magnitude bits of negative numbers so that more negative sorts lower.
#[inline]
fn total_order_key(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    b ^ ((((b >> 63) as u64) >> 1) as i64)
}

/// numpy's default (`linear`) percentile of ascending `sorted` values, `p` in percent.
/// Returns NaN for an empty slice.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (p / 100.0) * (n - 1) as f64;
    let lo = (h.floor() as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    lerp(sorted[lo], sorted[hi], h - lo as f64)
}

/// numpy's `_lerp`: from `a` towards `b` by `frac`, interpolating from the nearer end so that
/// the result is monotone.
#[inline]
fn lerp(a: f64, b: f64, frac: f64) -> f64 {
    let d = b - a;
    if frac >= 0.5 {
        b - d * (1.0 - frac)
    } else {
        a + d * frac
    }
}

/// Rows `t+1-len..=t` of `series` if all of them exist and are finite.
#[inline]
pub fn window(series: &[f64], t: usize, len: usize) -> Option<&[f64]> {
    if len == 0 || t >= series.len() || t + 1 < len {
        return None;
    }
    let w = &series[t + 1 - len..=t];
    w.iter().all(|x| x.is_finite()).then_some(w)
}

/// Annualised volatility at `t`: sample standard deviation (ddof 1) of the last `window` daily
/// log returns `l_i = ln(c_i / c_{i-1})`, `i` in `t+1-window..=t`, times `sqrt(365)`.
/// `log_returns` is [`crate::panel::Panel::log_returns`] of one asset (`NaN` where a close is
/// missing or not positive). `None` when any of the `window + 1` closes is missing or not
/// positive (a `NaN` return in the window), or `window < 2`.
///
/// Two-pass (mean, then squared deviations), both sums in [`lane_sum`]'s fixed order: O(window)
/// additions and no logarithm per call, which is what lets every strategy weight by volatility
/// every day.
#[inline]
pub fn annualized_vol(log_returns: &[f64], t: usize, window: usize) -> Option<f64> {
    if window < 2 || t >= log_returns.len() || t + 1 < window {
        return None;
    }
    let w = &log_returns[t + 1 - window..=t];
    // |l| < 1500 for any two finite positive f64 closes, so the sum never overflows: it is
    // finite exactly when every return in the window is.
    let total = lane_sum(w);
    if !total.is_finite() {
        return None;
    }
    let mean = total / window as f64;
    let ss = lane_sum_map(w, |l| (l - mean) * (l - mean));
    Some((ss / (window - 1) as f64).sqrt() * DAYS_PER_YEAR.sqrt())
}

/// Sum in four interleaved lanes, `((s0 + s1) + (s2 + s3)) + tail`, element `i` going to lane
/// `i % 4` (the last `len % 4` elements to the tail, in order). A fixed order, so the same bits
/// on every platform; four independent chains, so the CPU adds them in parallel instead of
/// waiting on one long dependency chain.
#[inline]
pub fn lane_sum(x: &[f64]) -> f64 {
    lane_sum_map(x, |v| v)
}

/// [`lane_sum`] of `f(x_i)`.
#[inline]
pub fn lane_sum_map(x: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let chunks = x.chunks_exact(4);
    let rest = chunks.remainder();
    let (mut s0, mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0, 0.0);
    for c in chunks {
        s0 += f(c[0]);
        s1 += f(c[1]);
        s2 += f(c[2]);
        s3 += f(c[3]);
    }
    let mut tail = 0.0;
    for &v in rest {
        tail += f(v);
    }
    ((s0 + s1) + (s2 + s3)) + tail
}

/// The candidates with a positive signal (longs) and with a negative one (shorts), in order.
pub fn split_signed(cands: &[Candidate]) -> (Vec<Candidate>, Vec<Candidate>) {
    let longs = cands.iter().filter(|c| c.signal > 0.0).copied().collect();
    let shorts = cands.iter().filter(|c| c.signal < 0.0).copied().collect();
    (longs, shorts)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::calendar::Day;
    use crate::panel::Panel;
    use proptest::prelude::*;

    /// A panel of `closes[asset][row]`, other fields missing.
    pub(crate) fn panel_from_closes(symbols: &[&str], closes: &[Vec<f64>]) -> Panel {
        let n = closes[0].len();
        let mut p = Panel::new(Day(0), n, symbols.iter().map(|s| s.to_string()).collect()).unwrap();
        for (a, c) in closes.iter().enumerate() {
            p.series_mut(Field::Close, a).copy_from_slice(c);
        }
        p
    }

    fn cand(asset: usize, signal: f64) -> Candidate {
        Candidate {
            asset,
            signal,
            vol: 1.0,
            market_cap: f64::NAN,
        }
    }

    fn syms(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("S{i:02}")).collect()
    }

    fn assets(v: &[Candidate]) -> Vec<usize> {
        v.iter().map(|c| c.asset).collect()
    }

    #[test]
    fn percentile_matches_numpy() {
        // np.percentile([1, 2, 3, 4, 10], [0, 20, 50, 80, 90, 100]) = [1, 1.8, 3, 5.2, 7.6, 10]
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        let got: Vec<f64> = [0.0, 20.0, 50.0, 80.0, 90.0, 100.0]
            .iter()
            .map(|&p| percentile_sorted(&v, p))
            .collect();
        let want = [1.0, 1.8, 3.0, 5.2, 7.6, 10.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        assert_eq!(percentile_sorted(&[7.0], 30.0), 7.0);
    }

    #[test]
    fn count_selection_uses_top_and_bottom() {
        let c: Vec<Candidate> = [5.0, 1.0, 3.0, 4.0, 2.0, 6.0]
            .iter()
            .enumerate()
            .map(|(i, &s)| cand(i, s))
            .collect();
        let (hi, lo) = select(
            &c,
            Selection::Count {
                top_n: 2,
                bottom_n: 1,
            },
            &syms(6),
        )
        .unwrap();
        assert_eq!(assets(&hi), vec![5, 0]);
        assert_eq!(assets(&lo), vec![1]);
    }

    #[test]
    fn fewer_than_needed_takes_half_per_side_and_none_below_two() {
        let five: Vec<Candidate> = (0..5).map(|i| cand(i, i as f64)).collect();
        let (hi, lo) = select(
            &five,
            Selection::Count {
                top_n: 10,
                bottom_n: 10,
            },
            &syms(5),
        )
        .unwrap();
        assert_eq!(assets(&hi), vec![4, 3]);
        assert_eq!(assets(&lo), vec![0, 1]);
        let three: Vec<Candidate> = (0..3).map(|i| cand(i, i as f64)).collect();
        assert!(select(
            &three,
            Selection::Count {
                top_n: 10,
                bottom_n: 10
            },
            &syms(3)
        )
        .is_err());
    }

    #[test]
    fn ties_go_to_the_alphabetically_earlier_symbol_at_both_ends() {
        // symbols: C, A, D, B ; signals all equal except D
        let symbols: Vec<String> = ["C", "A", "D", "B", "E"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let c = vec![
            cand(0, 1.0),
            cand(1, 1.0),
            cand(2, 5.0),
            cand(3, 1.0),
            cand(4, 0.0),
        ];
        let (hi, lo) = select(
            &c,
            Selection::Count {
                top_n: 2,
                bottom_n: 2,
            },
            &symbols,
        )
        .unwrap();
        // high: D(5), then the tie 1.0 among A, B, C -> A
        assert_eq!(assets(&hi), vec![2, 1]);
        // low: E(0), then tie among A (taken), B, C -> B
        assert_eq!(assets(&lo), vec![4, 3]);
    }

    #[test]
    fn percentile_selection_is_inclusive() {
        let c: Vec<Candidate> = [1.0, 2.0, 3.0, 4.0, 10.0]
            .iter()
            .enumerate()
            .map(|(i, &s)| cand(i, s))
            .collect();
        // P20 = 1.8 -> {1}; P80 = 5.2 -> {10}
        let (hi, lo) = select(
            &c,
            Selection::Percentile {
                low: 20.0,
                high: 80.0,
            },
            &syms(5),
        )
        .unwrap();
        assert_eq!(assets(&hi), vec![4]);
        assert_eq!(assets(&lo), vec![0]);
        // P25 = 2 exactly: inclusive at the cutoff
        let (_, lo) = select(
            &c,
            Selection::Percentile {
                low: 25.0,
                high: 75.0,
            },
            &syms(5),
        )
        .unwrap();
        assert_eq!(assets(&lo), vec![0, 1]);
    }

    /// Log returns of a close series the way the panel derives them.
    pub(crate) fn log_returns(close: &[f64]) -> Vec<f64> {
        let p = panel_from_closes(&["A"], &[close.to_vec()]);
        p.log_returns(0).to_vec()
    }

    #[test]
    fn annualized_vol_is_sample_std_of_log_returns() {
        let close = [100.0, 110.0, 99.0, 99.0 * 1.05];
        let r = [
            crate::math::ln(1.1),
            crate::math::ln(0.9),
            crate::math::ln(1.05),
        ];
        let m = r.iter().sum::<f64>() / 3.0;
        let var = r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 2.0;
        let want = var.sqrt() * 365f64.sqrt();
        let got = annualized_vol(&log_returns(&close), 3, 3).unwrap();
        assert!((got - want).abs() < 1e-12);
        assert!(
            annualized_vol(&log_returns(&close), 2, 3).is_none(),
            "needs window + 1 closes"
        );
        let gap = log_returns(&[f64::NAN, 1.0, 2.0, 1.0]);
        assert!(annualized_vol(&gap, 3, 2).is_some());
        assert!(annualized_vol(&gap, 3, 3).is_none());
        assert!(annualized_vol(&log_returns(&[1.0, 0.0, 2.0, 1.0]), 3, 2).is_none());
    }

    #[test]
    fn lane_sum_order_is_pinned() {
        // Sequentially 1e16 + 1 - 1e16 + 1 is 1 (the first 1 is absorbed); in lanes the big
        // values meet in lanes 0 and 2 and the 1s survive.
        let x = [1e16, 1.0, -1e16, 1.0, 0.5];
        assert_eq!(lane_sum(&x), ((1e16 + 1.0) + (-1e16 + 1.0)) + 0.5);
        assert_eq!(lane_sum(&[2.0, 3.0]), 5.0);
        assert_eq!(lane_sum(&[]), 0.0);
        assert_eq!(lane_sum_map(&[1.0, 2.0, 3.0, 4.0, 5.0], |v| v * v), 55.0);
    }

    #[test]
    fn limit_keeps_largest_caps_and_missing_cap_only_matters_with_limit() {
        let closes = vec![vec![1.0; 3]; 4];
        let mut p = panel_from_closes(&["A", "B", "C", "D"], &closes);
        for (a, cap) in [(0, 10.0), (1, 30.0), (2, f64::NAN), (3, 20.0)] {
            p.set(Field::MarketCap, a, 2, cap);
        }
        let excluded = vec![false; 4];
        let input = Input {
            panel: &p,
            excluded: &excluded,
            tradable: None,
        };
        let mut xs = CrossSection {
            selection: Selection::Count {
                top_n: 1,
                bottom_n: 1,
            },
            weighting: Weighting::Equal,
            long_allocation: 0.5,
            short_allocation: 0.5,
            limit: None,
            vol_floor: 0.0,
        };
        assert_eq!(
            assets(&xs.eligible(&input, 2, |_| Some(1.0))),
            vec![0, 1, 2, 3]
        );
        xs.limit = Some(2);
        assert_eq!(assets(&xs.eligible(&input, 2, |_| Some(1.0))), vec![1, 3]);
        xs.limit = Some(5);
        assert_eq!(
            assets(&xs.eligible(&input, 2, |_| Some(1.0))),
            vec![0, 1, 3]
        );
    }

    #[test]
    fn zero_volatility_is_ineligible_under_inverse_vol() {
        let closes = vec![vec![1.0, 1.0, 1.0], vec![1.0, 2.0, 1.0]];
        let p = panel_from_closes(&["FLAT", "MOVE"], &closes);
        let excluded = vec![false; 2];
        let input = Input {
            panel: &p,
            excluded: &excluded,
            tradable: None,
        };
        let xs = CrossSection {
            selection: Selection::Count {
                top_n: 1,
                bottom_n: 1,
            },
            weighting: Weighting::InverseVol { window: 2 },
            long_allocation: 0.5,
            short_allocation: 0.5,
            limit: None,
            vol_floor: 0.0,
        };
        assert_eq!(assets(&xs.eligible(&input, 2, |_| Some(0.0))), vec![1]);
    }

    #[test]
    fn excluded_assets_never_enter() {
        let closes = vec![vec![1.0; 2]; 2];
        let p = panel_from_closes(&["USDT", "BTC"], &closes);
        let excluded = vec![true, false];
        let input = Input {
            panel: &p,
            excluded: &excluded,
            tradable: None,
        };
        let xs = CrossSection {
            selection: Selection::Count {
                top_n: 1,
                bottom_n: 1,
            },
            weighting: Weighting::Equal,
            long_allocation: 0.5,
            short_allocation: 0.5,
            limit: None,
            vol_floor: 0.0,
        };
        assert_eq!(assets(&xs.eligible(&input, 1, |_| Some(0.0))), vec![1]);
    }

    #[test]
    fn inverse_vol_weights_hand_computed() {
        let xs = CrossSection {
            selection: Selection::Count {
                top_n: 2,
                bottom_n: 2,
            },
            weighting: Weighting::InverseVol { window: 30 },
            long_allocation: 0.5,
            short_allocation: 0.5,
            limit: None,
            vol_floor: 0.0,
        };
        let mk = |asset, vol| Candidate {
            asset,
            signal: 0.0,
            vol,
            market_cap: f64::NAN,
        };
        let mut out = vec![0.0; 4];
        // longs: vols 1 and 3 -> 1/1 : 1/3 = 3:1 -> 0.375, 0.125
        xs.write_weights(
            &[mk(0, 1.0), mk(1, 3.0)],
            &[mk(2, 2.0), mk(3, 2.0)],
            &mut out,
        );
        let want = [0.375, 0.125, -0.25, -0.25];
        for (g, w) in out.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{out:?}");
        }
    }

    #[test]
    fn volatility_floor_caps_a_calm_assets_weight() {
        let mk = |asset, vol| Candidate {
            asset,
            signal: 0.0,
            vol,
            market_cap: f64::NAN,
        };
        let map: super::super::params::ParamMap =
            serde_json::from_str(r#"{"volatility_floor": 0.2}"#).unwrap();
        let mut p = Params::new("size", &map);
        let xs = CrossSection::from_params(&mut p, Defaults::LONG_SHORT).unwrap();
        assert_eq!(xs.vol_floor, 0.2);
        let mut out = vec![0.0; 2];
        // A stablecoin-like 0.01 vol against 0.4: unfloored 40:1, floored at 0.2 it is 2:1.
        xs.write_weights(&[mk(0, 0.01), mk(1, 0.4)], &[], &mut out);
        assert!((out[0] - 0.5 * 2.0 / 3.0).abs() < 1e-15, "{out:?}");
        assert!((out[1] - 0.5 / 3.0).abs() < 1e-15, "{out:?}");
        // Without a floor the same bits as the plain formula.
        let plain = CrossSection {
            vol_floor: 0.0,
            ..xs.clone()
        };
        let mut out = vec![0.0; 2];
        plain.write_weights(&[mk(0, 0.01), mk(1, 0.4)], &[], &mut out);
        let total = 1.0 / 0.01 + 1.0 / 0.4;
        assert_eq!(out[0], 0.5 * (1.0 / 0.01) / total);
        // Validation names the JSON path.
        for bad in ["-0.1", "\"x\""] {
            let map: super::super::params::ParamMap =
                serde_json::from_str(&format!(r#"{{"volatility_floor": {bad}}}"#)).unwrap();
            let e = CrossSection::from_params(&mut Params::new("size", &map), Defaults::LONG_SHORT)
                .unwrap_err();
            assert_eq!(e.path(), "params.size.volatility_floor", "{e}");
        }
        // Offered by the config editor for every strategy with weights.
        for name in crate::strategies::STRATEGY_NAMES {
            let keys = crate::strategies::param_keys(name, &Default::default()).unwrap();
            assert!(
                keys.iter().any(|k| k == "volatility_floor"),
                "{name}: {keys:?}"
            );
        }
    }

    proptest! {
        /// The one-sort selection equals the obvious one: two full sorts with string
        /// tie-breaks, on signals full of ties and symbols not in asset order.
        #[test]
        fn single_sort_selection_matches_two_sorts(
            signals in proptest::collection::vec(-3i32..3, 2..120),
            top in 1usize..8,
            bottom in 1usize..8,
            pct in 5.0f64..45.0,
        ) {
            let n = signals.len();
            let symbols: Vec<String> = (0..n).map(|i| format!("{}{i}", (b'Z' - (i % 26) as u8) as char))
                .collect();
            let cands: Vec<Candidate> = signals.iter().enumerate().map(|(i, &s)| cand(i, s as f64)).collect();
            let naive = |sel: Selection| -> Option<(Vec<usize>, Vec<usize>)> {
                let mut hi = cands.clone();
                hi.sort_by(|a, b| b.signal.total_cmp(&a.signal).then_with(|| symbols[a.asset].cmp(&symbols[b.asset])));
                let mut lo = cands.clone();
                lo.sort_by(|a, b| a.signal.total_cmp(&b.signal).then_with(|| symbols[a.asset].cmp(&symbols[b.asset])));
                let (high, low): (Vec<Candidate>, Vec<Candidate>) = match sel {
                    Selection::Count { top_n, bottom_n } => {
                        let (kt, kb) = if n >= top_n + bottom_n { (top_n, bottom_n) } else {
                            let k = n / 2;
                            if k < 2 { return None; }
                            (k.min(top_n), k.min(bottom_n))
                        };
                        let high: Vec<Candidate> = hi[..kt].to_vec();
                        let low = lo.iter().filter(|c| !high.iter().any(|h| h.asset == c.asset)).take(kb).copied().collect();
                        (high, low)
                    }
                    Selection::Percentile { low: pl, high: ph } => {
                        let sorted: Vec<f64> = lo.iter().map(|c| c.signal).collect();
                        let (cl, ch) = (percentile_sorted(&sorted, pl), percentile_sorted(&sorted, ph));
                        let high: Vec<Candidate> = hi.iter().filter(|c| c.signal >= ch).copied().collect();
                        let low = lo.iter().filter(|c| c.signal <= cl && !high.iter().any(|h| h.asset == c.asset)).copied().collect();
                        (high, low)
                    }
                };
                Some((assets(&high), assets(&low)))
            };
            for sel in [Selection::Count { top_n: top, bottom_n: bottom }, Selection::Percentile { low: pct, high: 100.0 - pct }] {
                let got = select(&cands, sel, &symbols).ok().map(|(h, l)| (assets(&h), assets(&l)));
                prop_assert_eq!(got, naive(sel));
            }
        }

        #[test]
        fn allocations_sum_per_side(
            signals in proptest::collection::vec(-5i32..5, 4..30),
            vols in proptest::collection::vec(0.1f64..3.0, 30),
            top in 1usize..6,
            equal in any::<bool>(),
            long_alloc in 0.1f64..1.0,
            short_alloc in 0.1f64..1.0,
        ) {
            let n = signals.len();
            let cands: Vec<Candidate> = signals
                .iter()
                .enumerate()
                .map(|(i, &s)| Candidate { asset: i, signal: s as f64, vol: vols[i], market_cap: f64::NAN })
                .collect();
            let xs = CrossSection {
                selection: Selection::Count { top_n: top, bottom_n: top },
                weighting: if equal { Weighting::Equal } else { Weighting::InverseVol { window: 30 } },
                long_allocation: long_alloc,
                short_allocation: short_alloc,
                limit: None,
                vol_floor: 0.0,
            };
            let (hi, lo) = select(&cands, xs.selection, &syms(n)).unwrap();
            prop_assert!(hi.iter().all(|h| lo.iter().all(|l| l.asset != h.asset)));
            let mut out = vec![0.0; n];
            xs.write_weights(&lo, &hi, &mut out);
            let longs: f64 = out.iter().filter(|w| **w > 0.0).sum();
            let shorts: f64 = out.iter().filter(|w| **w < 0.0).sum();
            prop_assert!((longs - long_alloc).abs() < 1e-12);
            prop_assert!((shorts + short_alloc).abs() < 1e-12);
        }
    }
}
