//! Shareable links: the full state of a backtest or sweep in the URL.
//!
//! The state is JSON, zlib-compressed (its Adler-32 checksum catches altered links) and
//! base64url-encoded behind a version prefix (`1.`). It records
//! the kernel version and the hash of the data it ran on, so whoever opens the link either gets
//! the same numbers or is told exactly why they cannot (older kernel, different data snapshot).
//! A truncated or altered link is an error message, never a panic.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use shared::portfolio::rebalance::RebalancePolicy;
use shared::Day;

/// The link format this build writes and reads.
pub const SHARE_VERSION: u32 = 1;
/// Links larger than this (decompressed) are refused rather than inflated without bound.
const MAX_STATE_BYTES: usize = 1 << 20;

/// What a backtest needs besides the data: the config and the run settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BacktestSpec {
    /// The strategy config in the predecessor's format.
    pub config: serde_json::Value,
    pub start: Option<Day>,
    pub end: Option<Day>,
    pub policy: RebalancePolicy,
    pub fee_bps: f64,
    pub slippage_bps: f64,
}

/// One swept parameter: `strategy.param` (or a strategy's weight, `param = "weight"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepAxisSpec {
    pub strategy: String,
    pub param: String,
    pub from: f64,
    pub to: f64,
    pub steps: usize,
}

/// One searched dimension: a config path as `lockstep sweep --axis` names it
/// (`strategy_weights.size`, `leverage`, `rebalance.threshold`, ...) and its bounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchDimSpec {
    pub path: String,
    pub lo: f64,
    pub hi: f64,
}

/// A seeded random search (`lockstep sweep --random N --seed S [--sum X]`): instead of the grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSpec {
    pub dims: Vec<SearchDimSpec>,
    pub n: usize,
    pub seed: u64,
    /// The searched strategy weights sum to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
}

/// A sweep: a base backtest and one or two axes, or a random search; how it is judged out of
/// sample; and the point the user chose.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// `"blend"` (the whole config) or one strategy's name (that strategy alone, weight 1).
    pub scope: String,
    /// The grid's axes (ignored by a search).
    pub axes: Vec<SweepAxisSpec>,
    /// The metric the heat map shows (one of `shared::metrics::KEYS`).
    pub metric: String,
    /// A random search instead of the grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchSpec>,
    /// Split, CSCV blocks and walk-forward (default: the whole range in sample, 16 blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<shared::research::evaluation::Evaluation>,
    /// The point the user chose (default: the best in-sample Sharpe ratio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<usize>,
}

/// Everything a link carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedState {
    pub v: u32,
    /// `shared::KERNEL_VERSION` of the build that made the link.
    pub kernel: String,
    /// The ETag of `/api/panel` the numbers were computed on.
    pub data: Option<String>,
    pub backtest: BacktestSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSpec>,
    /// The store's data version the numbers were computed on: opening the link fetches the
    /// panel as of it (`/api/panel?as_of=`), so it re-runs on the same data after a refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_version: Option<i64>,
    /// Which universe the run traded (`UniverseInfo::summary`), shown beside the link's run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub universe: Option<String>,
    /// The costs the run traded with (`rebalance.cost_model`, resolved): a link that pins its
    /// data version re-runs a calibrated config with these numbers, not with what the account's
    /// fills say today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub costs: Option<crate::api::costs::ResolvedCosts>,
}

/// Why a link cannot be opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("this link is not a Lockstep link (expected it to start with \"{SHARE_VERSION}.\")")]
    NoVersion,
    #[error("this link was made by a newer dashboard (format {0}); reload to update")]
    Newer(u32),
    #[error("this link is truncated or was altered: {0}")]
    Corrupt(String),
    #[error("this link asks for more than this dashboard runs: {0}")]
    TooLarge(String),
}

impl SweepSpec {
    /// The sweep's size limits: one or two axes, finite bounds, and at most
    /// [`shared::sweep::MAX_POINTS`] grid points in all. Checked when a link is decoded (in the
    /// browser and by the server before it stores a team link) and before a grid is built, so
    /// a link with a 10⁹-step axis is an error message, not a browser that allocates gigabytes.
    ///
    /// # Errors
    /// [`ShareError::TooLarge`] naming the axis.
    pub fn check(&self) -> Result<(), ShareError> {
        use shared::sweep::{MAX_AXES, MAX_POINTS};
        if let Some(search) = &self.search {
            if search.dims.is_empty() || search.dims.len() > MAX_AXES {
                return Err(ShareError::TooLarge(format!(
                    "{} search dimensions (1 to {MAX_AXES} are allowed)",
                    search.dims.len()
                )));
            }
            if search.n > MAX_POINTS {
                return Err(ShareError::TooLarge(format!(
                    "a search of {} points: at most {MAX_POINTS} grid points in all",
                    search.n
                )));
            }
            if let Some(d) = search
                .dims
                .iter()
                .find(|d| !(d.lo.is_finite() && d.hi.is_finite()))
            {
                return Err(ShareError::TooLarge(format!(
                    "search dimension {} has a bound that is not a finite number",
                    d.path
                )));
            }
            return Ok(());
        }
        if self.axes.is_empty() || self.axes.len() > 2 {
            return Err(ShareError::TooLarge(format!(
                "{} sweep axes (one or two are allowed)",
                self.axes.len()
            )));
        }
        let mut points = 1usize;
        for (i, a) in self.axes.iter().enumerate() {
            if !(a.from.is_finite() && a.to.is_finite()) {
                return Err(ShareError::TooLarge(format!(
                    "axis {} ({}.{}) has a bound that is not a finite number",
                    i + 1,
                    a.strategy,
                    a.param
                )));
            }
            points = points.saturating_mul(a.steps);
            if a.steps > MAX_POINTS || points > MAX_POINTS {
                return Err(ShareError::TooLarge(format!(
                    "axis {} ({}.{}) has {} steps: at most {MAX_POINTS} grid points in all",
                    i + 1,
                    a.strategy,
                    a.param,
                    a.steps
                )));
            }
        }
        Ok(())
    }
}

/// Encodes `state` for a URL query value.
pub fn encode(state: &SharedState) -> String {
    let json = serde_json::to_vec(state).expect("a SharedState always serialises");
    let packed = miniz_oxide::deflate::compress_to_vec_zlib(&json, 9);
    format!("{SHARE_VERSION}.{}", URL_SAFE_NO_PAD.encode(packed))
}

/// Decodes a link's state.
///
/// # Errors
/// [`ShareError`] saying what is wrong with the link.
pub fn decode(s: &str) -> Result<SharedState, ShareError> {
    let (version, payload) = s.trim().split_once('.').ok_or(ShareError::NoVersion)?;
    let version: u32 = version.parse().map_err(|_| ShareError::NoVersion)?;
    if version > SHARE_VERSION {
        return Err(ShareError::Newer(version));
    }
    if version == 0 {
        return Err(ShareError::NoVersion);
    }
    let packed = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| ShareError::Corrupt(format!("not base64url ({e})")))?;
    let json = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&packed, MAX_STATE_BYTES)
        .map_err(|e| ShareError::Corrupt(format!("cannot be unpacked ({:?})", e.status)))?;
    let state: SharedState = serde_json::from_slice(&json)
        .map_err(|e| ShareError::Corrupt(format!("unreadable state ({e})")))?;
    if state.v != version {
        return Err(ShareError::Corrupt(format!(
            "version {} inside a version {version} link",
            state.v
        )));
    }
    if let Some(sweep) = &state.sweep {
        sweep.check()?;
    }
    Ok(state)
}

/// What to tell the user about reproducing a link here, if anything.
pub fn reproducibility_warning(state: &SharedState, data_etag: Option<&str>) -> Option<String> {
    if state.kernel != shared::KERNEL_VERSION {
        return Some(format!(
            "This link was computed with kernel {}; this server runs kernel {}. Numbers may differ.",
            state.kernel,
            shared::KERNEL_VERSION
        ));
    }
    match (&state.data, data_etag) {
        (Some(theirs), Some(ours)) if theirs != ours => Some(format!(
            "This link was computed on data snapshot {theirs}; the server now holds {ours}. Numbers may differ."
        )),
        _ => None,
    }
}

/// A finished sweep's results as a team link stores them beside its state, so the link shows
/// the table without re-running while the data and kernel are those it was computed on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepResults {
    /// `shared::KERNEL_VERSION` of the run.
    pub kernel: String,
    /// The `/api/panel` ETag the rows were computed on.
    pub data: Option<String>,
    /// The rows (without their per-trial statistics; at most [`MAX_RESULT_ROWS`], the best by
    /// the sweep's metric plus the chosen point).
    pub rows: Vec<shared::sweep::SweepRow>,
    /// Points run in all (more than `rows.len()` when only the best were kept).
    pub points: usize,
    pub summary: shared::research::summary::Summary,
    pub finished: shared::research::report::Finished,
}

/// Most rows a team link stores.
pub const MAX_RESULT_ROWS: usize = 1000;
/// Largest encoded results a team link stores (the request body as a whole is limited to
/// 256 KiB by the server, with the state beside it).
pub const MAX_RESULTS_BYTES: usize = 160 * 1024;
/// Decompressed results larger than this are refused.
const MAX_RESULTS_JSON: usize = 8 << 20;

/// Encodes results as a state is encoded (versioned, zlib, base64url).
pub fn encode_results(r: &SweepResults) -> String {
    let json = serde_json::to_vec(r).expect("results always serialise");
    let packed = miniz_oxide::deflate::compress_to_vec_zlib(&json, 9);
    format!("{SHARE_VERSION}.{}", URL_SAFE_NO_PAD.encode(packed))
}

/// Decodes stored results.
///
/// # Errors
/// [`ShareError`] saying what is wrong.
pub fn decode_results(s: &str) -> Result<SweepResults, ShareError> {
    let (version, payload) = s.trim().split_once('.').ok_or(ShareError::NoVersion)?;
    match version.parse::<u32>() {
        Ok(v) if v == SHARE_VERSION => {}
        Ok(v) if v > SHARE_VERSION => return Err(ShareError::Newer(v)),
        _ => return Err(ShareError::NoVersion),
    }
    let packed = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| ShareError::Corrupt(format!("results not base64url ({e})")))?;
    let json = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&packed, MAX_RESULTS_JSON)
        .map_err(|e| {
        ShareError::Corrupt(format!("results cannot be unpacked ({:?})", e.status))
    })?;
    let r: SweepResults = serde_json::from_slice(&json)
        .map_err(|e| ShareError::Corrupt(format!("unreadable results ({e})")))?;
    if r.rows.len() > MAX_RESULT_ROWS {
        return Err(ShareError::TooLarge(format!(
            "{} result rows (at most {MAX_RESULT_ROWS})",
            r.rows.len()
        )));
    }
    Ok(r)
}

/// The results of a finished sweep encoded for a team link: rows without statistics, the best
/// by `metric` (and `keep`, the chosen point) first cut to [`MAX_RESULT_ROWS`] and then halved
/// until the encoding fits [`MAX_RESULTS_BYTES`]; in index order.
pub fn results_for_link(
    mut base: SweepResults,
    rows: &[shared::sweep::SweepRow],
    metric: &str,
    keep: Option<usize>,
) -> Option<String> {
    let value = |r: &shared::sweep::SweepRow| {
        r.metrics
            .as_ref()
            .and_then(|m| m.get(metric))
            .filter(|v| !v.is_nan())
    };
    let mut order: Vec<&shared::sweep::SweepRow> = rows.iter().collect();
    order.sort_by(|a, b| match (value(a), value(b)) {
        _ if Some(a.index) == keep => std::cmp::Ordering::Less,
        _ if Some(b.index) == keep => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => y.total_cmp(&x).then(a.index.cmp(&b.index)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.index.cmp(&b.index),
    });
    base.points = rows.len();
    let mut n = order.len().min(MAX_RESULT_ROWS);
    loop {
        let mut kept: Vec<shared::sweep::SweepRow> = order[..n]
            .iter()
            .map(|r| shared::sweep::SweepRow {
                stats: None,
                ..(*r).clone()
            })
            .collect();
        kept.sort_by_key(|r| r.index);
        base.rows = kept;
        let encoded = encode_results(&base);
        if encoded.len() <= MAX_RESULTS_BYTES {
            return Some(encoded);
        }
        if n <= 1 {
            return None;
        }
        n /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> SharedState {
        SharedState {
            v: SHARE_VERSION,
            kernel: shared::KERNEL_VERSION.into(),
            data: Some("\"abc\"".into()),
            backtest: BacktestSpec {
                config: serde_json::from_str(shared::config::DEFAULT_CONFIG_JSON).unwrap(),
                start: Some(Day(18_262)),
                end: None,
                policy: RebalancePolicy::Threshold { threshold: 0.03 },
                fee_bps: 10.0,
                slippage_bps: 2.5,
            },
            data_version: None,
            universe: None,
            costs: None,
            sweep: Some(SweepSpec {
                scope: "volatility".into(),
                axes: vec![SweepAxisSpec {
                    strategy: "volatility".into(),
                    param: "volatility_window".into(),
                    from: 10.0,
                    to: 90.0,
                    steps: 9,
                }],
                metric: "sharpe".into(),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn round_trips_exactly() {
        let s = state();
        let link = encode(&s);
        assert!(link.starts_with("1."));
        assert!(
            link.len() < 4000,
            "links stay short enough for chat: {}",
            link.len()
        );
        assert_eq!(decode(&link).unwrap(), s);
    }

    /// A sweep link pins its data version and the costs it ran with, like a backtest link; a
    /// link written before either existed (no `data_version`, `universe`, `costs`) still opens,
    /// on today's data.
    #[test]
    fn sweep_links_pin_their_data_and_old_links_still_open() {
        let mut s = state();
        s.data_version = Some(42);
        s.universe = Some("paper: every priced asset (3 on the last day, 2024-01-02)".into());
        s.costs = Some(crate::api::costs::resolve(
            shared::config::CostModel::Calibrated,
            shared::sim::Costs {
                fee_bps: 10.0,
                slippage_bps: 2.5,
            },
            Ok(&crate::api::costs::VenueCosts {
                venue: "paper".into(),
                from: Day(20_000),
                to: Day(20_089),
                fills: 156,
                traded_notional: 1.5e6,
                fee_bps: Some(5.99),
                slippage_bps: Some(23.75),
            }),
        ));
        let back = decode(&encode(&s)).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.data_version, Some(42));
        assert_eq!(back.costs.unwrap().costs.slippage_bps, 23.75);

        // The JSON of a link from before pinning: none of the three keys.
        let mut old = serde_json::to_value(state()).unwrap();
        let o = old.as_object_mut().unwrap();
        for k in ["data_version", "universe", "costs"] {
            o.remove(k);
        }
        let packed =
            miniz_oxide::deflate::compress_to_vec_zlib(&serde_json::to_vec(&old).unwrap(), 9);
        let link = format!("1.{}", URL_SAFE_NO_PAD.encode(packed));
        let opened = decode(&link).unwrap();
        assert_eq!(opened, state());
        assert_eq!((opened.data_version, opened.costs), (None, None));
    }

    #[test]
    fn truncated_and_tampered_links_are_errors() {
        let link = encode(&state());
        assert!(matches!(
            decode(&link[..link.len() / 2]),
            Err(ShareError::Corrupt(_))
        ));
        let mut bytes = link.into_bytes();
        let i = bytes.len() - 10;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        assert!(decode(std::str::from_utf8(&bytes).unwrap()).is_err());
        assert_eq!(decode("hello"), Err(ShareError::NoVersion));
        assert_eq!(decode("9.abc"), Err(ShareError::Newer(9)));
        assert!(matches!(decode("1.!!!"), Err(ShareError::Corrupt(_))));
    }

    #[test]
    fn warns_about_other_data_or_kernels() {
        let mut s = state();
        assert_eq!(reproducibility_warning(&s, Some("\"abc\"")), None);
        assert!(reproducibility_warning(&s, Some("\"xyz\""))
            .unwrap()
            .contains("data snapshot"));
        s.kernel = "0.0.0".into();
        assert!(reproducibility_warning(&s, Some("\"abc\""))
            .unwrap()
            .contains("kernel 0.0.0"));
    }

    /// The defect: a stored link with a 10⁹-step sweep crashed any browser that opened it.
    #[test]
    fn sweep_bombs_are_refused_on_decode() {
        for (steps0, steps1) in [
            (1_000_000_000, None),
            (400, Some(400)),
            (usize::MAX, Some(2)),
        ] {
            let mut s = state();
            let sweep = s.sweep.as_mut().unwrap();
            sweep.axes[0].steps = steps0;
            if let Some(n) = steps1 {
                let mut second = sweep.axes[0].clone();
                second.steps = n;
                sweep.axes.push(second);
            }
            let e = decode(&encode(&s)).unwrap_err();
            assert!(matches!(e, ShareError::TooLarge(_)), "{e}");
            assert!(e.to_string().contains("grid points"), "{e}");
        }
        let mut s = state();
        s.sweep.as_mut().unwrap().axes[0].steps = shared::sweep::MAX_POINTS;
        assert!(decode(&encode(&s)).is_ok());
        s.sweep.as_mut().unwrap().axes.clear();
        assert!(matches!(decode(&encode(&s)), Err(ShareError::TooLarge(_))));
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn cases() -> u32 {
            std::env::var("LOCKSTEP_FUZZ_CASES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2048)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(cases()))]

            /// Any text after the version prefix: a state within the limits, or an error.
            #[test]
            fn any_link_decodes_or_errs(s in "\\PC{0,64}", prefix in prop::sample::select(vec!["", "1.", "0.", "2.", "1"])) {
                if let Ok(st) = decode(&format!("{prefix}{s}")) {
                    if let Some(sw) = st.sweep {
                        prop_assert!(sw.check().is_ok());
                    }
                }
            }

            /// Any bytes, zlib-packed and base64'd as a real link is: the checksum passes, so
            /// the JSON and the limits are what is tested.
            #[test]
            fn any_packed_payload_decodes_or_errs(b in proptest::collection::vec(any::<u8>(), 0..256)) {
                let packed = miniz_oxide::deflate::compress_to_vec_zlib(&b, 6);
                let _ = decode(&format!("1.{}", URL_SAFE_NO_PAD.encode(packed)));
            }

            /// A real state with any sweep sizes: within the limits it round-trips, beyond them
            /// it is refused.
            #[test]
            fn sweep_sizes(steps in proptest::collection::vec(any::<usize>(), 0..4), from in any::<f64>()) {
                let mut s = state();
                let axis = s.sweep.as_ref().unwrap().axes[0].clone();
                s.sweep.as_mut().unwrap().axes = steps
                    .iter()
                    .map(|&n| SweepAxisSpec { steps: n, from, ..axis.clone() })
                    .collect();
                let ok = !steps.is_empty()
                    && steps.len() <= 2
                    && from.is_finite()
                    && steps.iter().all(|&n| n <= shared::sweep::MAX_POINTS)
                    && steps.iter().try_fold(1usize, |p, &n| p.checked_mul(n)).is_some_and(|p| p <= shared::sweep::MAX_POINTS);
                prop_assert_eq!(decode(&encode(&s)).is_ok(), ok);
            }
        }
    }
}
