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

/// A sweep: a base backtest and one or two axes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// `"blend"` (the whole config) or one strategy's name (that strategy alone, weight 1).
    pub scope: String,
    pub axes: Vec<SweepAxisSpec>,
    /// The metric the heat map shows (one of `shared::metrics::KEYS`).
    pub metric: String,
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
}
