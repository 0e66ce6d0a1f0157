//! How a sweep is judged out of sample: an in-sample/out-of-sample split, the CSCV blocks of
//! the in-sample days, and walk-forward folds. [`Evaluation::layout`] turns the settings into
//! day offsets (0 = the sweep's first simulated day) that every point's returns are cut by.

use crate::calendar::Day;
use std::ops::Range;

/// The paper's default number of CSCV blocks (Bailey, Borwein, López de Prado & Zhu 2015).
pub const DEFAULT_CSCV_BLOCKS: usize = 16;

fn default_blocks() -> usize {
    DEFAULT_CSCV_BLOCKS
}

/// Out-of-sample settings of a sweep or search.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// First out-of-sample day: points are chosen on the days before it, and the chosen point
    /// is then backtested from it to the end. `None`: the whole range is in sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Day>,
    /// CSCV blocks `S` for the probability of backtest overfitting (even, ≥ 2; 0 = off).
    #[serde(default = "default_blocks")]
    pub cscv_blocks: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_forward: Option<WalkForward>,
}

impl Default for Evaluation {
    fn default() -> Self {
        Evaluation {
            split: None,
            cscv_blocks: DEFAULT_CSCV_BLOCKS,
            walk_forward: None,
        }
    }
}

/// Walk-forward: the range is cut into folds of `step_days`; before each fold the point with
/// the best Sharpe ratio over the `train_steps` folds before it (rolling) or over every fold
/// before it (anchored, at least `train_steps`) is chosen and run on the fold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WalkForward {
    pub step_days: u32,
    pub train_steps: u32,
    #[serde(default)]
    pub anchored: bool,
}

/// Out-of-sample settings that do not fit the range.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvaluationError {
    #[error(
        "split {split}: must be after the first day {start} and no later than the last day {end}"
    )]
    SplitOutside { split: Day, start: Day, end: Day },
    #[error("cscv_blocks: must be an even number >= 2 (or 0 for none), got {0}")]
    OddBlocks(usize),
    #[error("walk_forward: step_days and train_steps must be >= 1 (step_days >= 2)")]
    EmptyWalkForward,
    #[error(
        "walk_forward: {days} days make {folds} folds of {step} days; training on {train} \
         folds and testing on at least one needs {need} folds"
    )]
    TooFewFolds {
        days: usize,
        step: u32,
        folds: usize,
        train: u32,
        need: usize,
    },
}

/// Day offsets into a point's returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// In-sample days (all days without a split).
    pub is_days: usize,
    /// CSCV blocks of the in-sample days: `S` equal blocks of `is_days / S` days; the first
    /// `is_days mod S` days are left out (as `pypbo` does). Empty when there are fewer than
    /// two days per block.
    pub blocks: Vec<Range<usize>>,
    /// Walk-forward folds of the whole range (the last may be shorter). Empty without one.
    pub folds: Vec<Range<usize>>,
}

impl Evaluation {
    /// The offsets for a sweep simulating `n_days` days from `start`.
    ///
    /// # Errors
    /// [`EvaluationError`] naming what does not fit.
    pub fn layout(&self, start: Day, n_days: usize) -> Result<Layout, EvaluationError> {
        let end = Day(start.0 + n_days as i32 - 1);
        let is_days = match self.split {
            Some(split) => {
                let k = (split.0 - start.0) as i64;
                if k < 1 || k >= n_days as i64 {
                    return Err(EvaluationError::SplitOutside { split, start, end });
                }
                k as usize
            }
            None => n_days,
        };
        let s = self.cscv_blocks;
        if s % 2 == 1 {
            return Err(EvaluationError::OddBlocks(s));
        }
        let blocks = if s >= 2 && is_days >= 2 * s {
            let (sub, res) = (is_days / s, is_days % s);
            (0..s).map(|b| res + b * sub..res + (b + 1) * sub).collect()
        } else {
            Vec::new()
        };
        let folds = match self.walk_forward {
            None => Vec::new(),
            Some(wf) => {
                if wf.step_days < 2 || wf.train_steps == 0 {
                    return Err(EvaluationError::EmptyWalkForward);
                }
                let step = wf.step_days as usize;
                let folds: Vec<Range<usize>> = (0..n_days.div_ceil(step))
                    .map(|k| k * step..((k + 1) * step).min(n_days))
                    .collect();
                let need = wf.train_steps as usize + 1;
                if folds.len() < need {
                    return Err(EvaluationError::TooFewFolds {
                        days: n_days,
                        step: wf.step_days,
                        folds: folds.len(),
                        train: wf.train_steps,
                        need,
                    });
                }
                folds
            }
        };
        Ok(Layout {
            is_days,
            blocks,
            folds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_by_hand() {
        let start = Day(100);
        // 100 days, split at day 150: 50 in-sample days, 4 blocks of 12 after 2 left out.
        let e = Evaluation {
            split: Some(Day(150)),
            cscv_blocks: 4,
            walk_forward: Some(WalkForward {
                step_days: 30,
                train_steps: 2,
                anchored: false,
            }),
        };
        let l = e.layout(start, 100).unwrap();
        assert_eq!(l.is_days, 50);
        assert_eq!(l.blocks, vec![2..14, 14..26, 26..38, 38..50]);
        assert_eq!(l.folds, vec![0..30, 30..60, 60..90, 90..100]);
        // Too short for blocks: none, not an error.
        let short = Evaluation {
            split: Some(Day(105)),
            ..Evaluation::default()
        };
        assert!(short.layout(start, 100).unwrap().blocks.is_empty());
        let default = Evaluation::default().layout(start, 100).unwrap();
        assert_eq!(default.blocks.len(), 16);
        assert_eq!(default.blocks[0], 4..10);
        assert!(default.folds.is_empty());
    }

    #[test]
    fn bad_settings_are_named() {
        let start = Day(100);
        let err = |e: Evaluation| e.layout(start, 100).unwrap_err().to_string();
        for split in [Day(100), Day(200), Day(50)] {
            let e = err(Evaluation {
                split: Some(split),
                ..Evaluation::default()
            });
            assert!(e.contains("split"), "{e}");
        }
        assert!(err(Evaluation {
            cscv_blocks: 5,
            ..Evaluation::default()
        })
        .contains("even"));
        let e = err(Evaluation {
            walk_forward: Some(WalkForward {
                step_days: 50,
                train_steps: 2,
                anchored: true,
            }),
            ..Evaluation::default()
        });
        assert!(e.contains("needs 3 folds"), "{e}");
        let json = r#"{"split": "2024-01-01"}"#;
        let parsed: Evaluation = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.cscv_blocks, 16);
    }
}
