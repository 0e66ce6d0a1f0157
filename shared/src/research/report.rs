//! What a finished sweep reports beyond its rows: the chosen point in and out of sample and
//! the walk-forward's stitched out-of-sample curve. `lockstep sweep` and the Sweep page's
//! worker both call [`finish`], after [`crate::research::summary::summarize`] has picked the
//! point and the walk-forward's re-choices from the rows, so both show the same numbers.

use crate::metrics::Metrics;
use crate::panel::Panel;
use crate::portfolio::signals::SignalCache;
use crate::research::sweep::{Sweep, SweepError, WalkForwardCurve};
use crate::research::walk_forward::Step;

/// A chosen point in and out of sample.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Chosen {
    pub index: usize,
    pub values: Vec<f64>,
    /// The config the point runs (the base with its values written in).
    pub config: serde_json::Value,
    pub in_sample: Option<Metrics>,
    pub out_of_sample: Option<Metrics>,
}

/// The chosen point and the walk-forward curve of a finished sweep.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Finished {
    pub chosen: Option<Chosen>,
    pub walk_forward: Option<WalkForwardCurve>,
}

/// Runs point `chosen` out of sample (when the sweep has a split; `in_sample` is its row's
/// metrics) and the walk-forward `steps` as one stitched curve (when there are any).
///
/// # Errors
/// A chosen point whose config fails, or a backtest error.
pub fn finish(
    sweep: &Sweep,
    panel: &Panel,
    chosen: Option<usize>,
    in_sample: Option<Metrics>,
    steps: &[Step],
    cache: &mut SignalCache,
) -> Result<Finished, SweepError> {
    let chosen = match chosen {
        Some(index) => Some(Chosen {
            index,
            values: sweep.values(index),
            config: sweep
                .config_at(index)
                .map_err(|source| SweepError::Axis {
                    path: format!("point {index}"),
                    source,
                })?
                .to_value(),
            in_sample,
            out_of_sample: sweep.out_of_sample(panel, index, cache)?,
        }),
        None => None,
    };
    let walk_forward = if steps.is_empty() {
        None
    } else {
        Some(sweep.walk_forward_curve(panel, steps, cache)?)
    };
    Ok(Finished {
        chosen,
        walk_forward,
    })
}
