//! Walk-forward choice: before each fold, the trial with the best Sharpe ratio over the
//! training folds before it. Only the training folds' sums are read, so nothing after a
//! fold's start can change the choice made for it (a look-ahead test in `crate::research::sweep` perturbs
//! later data and checks).

use super::evaluation::WalkForward;
use super::trials::Sums;
use std::ops::Range;

/// One re-choice.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Step {
    /// The fold traded out of sample.
    pub test_fold: usize,
    /// The folds chosen on.
    pub train_folds: Range<usize>,
    /// Index (into the trials given) of the chosen trial; `None` when no trial had a Sharpe
    /// ratio over the training folds.
    pub chosen: Option<usize>,
    /// The chosen trial's per-period Sharpe ratio over the training folds.
    pub train_sharpe: f64,
}

/// The choices for every fold after the first `train_steps`, from each trial's per-fold sums
/// (`trials[i][fold]`). Ties go to the earliest trial.
pub fn choose(spec: &WalkForward, trials: &[&[Sums]]) -> Vec<Step> {
    let n_folds = trials.first().map_or(0, |t| t.len());
    let train = spec.train_steps as usize;
    (train..n_folds)
        .map(|j| {
            let from = if spec.anchored { 0 } else { j - train };
            let mut chosen = None;
            let mut best = f64::NAN;
            for (i, t) in trials.iter().enumerate() {
                let sr = t[from..j]
                    .iter()
                    .fold(Sums::default(), |acc, s| acc.plus(*s))
                    .sharpe();
                if sr.is_finite() && (chosen.is_none() || sr > best) {
                    chosen = Some(i);
                    best = sr;
                }
            }
            Step {
                test_fold: j,
                train_folds: from..j,
                chosen,
                train_sharpe: best,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folds(r: &[f64], step: usize) -> Vec<Sums> {
        r.chunks(step).map(Sums::of).collect()
    }

    /// Trial 0 is best early, trial 1 late: the rolling window follows the switch one fold
    /// after it happens; the anchored one needs the late record to outweigh the early one.
    #[test]
    fn rolling_and_anchored_choices_by_hand() {
        let up = [0.02, 0.01, 0.03, 0.02];
        let down = [-0.02, -0.01, -0.03, -0.02];
        let a: Vec<f64> = [up, up, up, down, down, down].concat();
        let b: Vec<f64> = [down, down, down, up, up, up].concat();
        let (fa, fb) = (folds(&a, 4), folds(&b, 4));
        let trials = [fa.as_slice(), fb.as_slice()];
        let rolling = choose(
            &WalkForward {
                step_days: 4,
                train_steps: 1,
                anchored: false,
            },
            &trials,
        );
        let picks: Vec<Option<usize>> = rolling.iter().map(|s| s.chosen).collect();
        // Folds 1..6 chosen on the fold before: a, a, a (fold 2 was up for a), b, b.
        assert_eq!(picks, vec![Some(0), Some(0), Some(0), Some(1), Some(1)]);
        assert_eq!(rolling[0].train_folds, 0..1);
        let anchored = choose(
            &WalkForward {
                step_days: 4,
                train_steps: 2,
                anchored: true,
            },
            &trials,
        );
        assert_eq!(anchored[0].train_folds, 0..2);
        assert_eq!(anchored[3].train_folds, 0..5);
        // On folds 0..5 (3 up, 2 down for a), a is still ahead.
        let picks: Vec<Option<usize>> = anchored.iter().map(|s| s.chosen).collect();
        assert_eq!(picks, vec![Some(0), Some(0), Some(0), Some(0)]);
        assert!(choose(
            &WalkForward {
                step_days: 4,
                train_steps: 1,
                anchored: false
            },
            &[]
        )
        .is_empty());
    }
}
