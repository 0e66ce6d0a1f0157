//! The probability of backtest overfitting by combinatorially symmetric cross-validation
//! (Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting", Journal
//! of Computational Finance 20(4), 2017; SSRN 2326253, 2015).
//!
//! The in-sample days are cut into `S` equal blocks. For each of the `C(S, S/2)` ways to pick
//! half of them as a training set (the other half is the test set):
//! 1. every trial's Sharpe ratio is computed on the training blocks and on the test blocks;
//! 2. `n*`, the trial best on the training blocks, gets its relative rank on the test blocks,
//!    `ω = rank / (N + 1)` (ranks from 1 = worst, ties averaged, as `scipy.stats.rankdata`);
//! 3. its logit `λ = ln(ω / (1 − ω))` is ≤ 0 when `n*` is at or below the median out of sample.
//!
//! PBO is the share of splits with `λ ≤ 0`: how often choosing the best in sample picks a
//! below-median trial out of sample. A trial whose Sharpe ratio on a half is undefined (no
//! variance) counts as the worst on that half. Sharpe ratios come from the blocks' running sums
//! ([`Sums`]), added block by block in ascending order.

use super::trials::{sharpe_of, Sums};

/// The result of CSCV.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Overfitting {
    /// The probability of backtest overfitting, `P(λ ≤ 0)`.
    pub pbo: f64,
    pub n_trials: usize,
    pub n_blocks: usize,
    pub n_splits: usize,
    /// Median logit (NumPy's median: the mean of the two middle values for an even count).
    pub median_logit: f64,
    /// Share of splits in which the chosen trial lost money out of sample (test Sharpe < 0).
    pub prob_oos_loss: f64,
}

/// Trials that cannot be cross-validated together.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PboError {
    #[error("CSCV needs at least 2 trials, got {0}")]
    TooFewTrials(usize),
    #[error("CSCV needs an even number of blocks >= 2, got {0}")]
    Blocks(usize),
    #[error("trial {trial} has {got} blocks, the first has {want}")]
    Ragged {
        trial: usize,
        got: usize,
        want: usize,
    },
    #[error("block {block} has {got} days in trial {trial} and {want} in the first")]
    Days {
        trial: usize,
        block: usize,
        got: u32,
        want: u32,
    },
}

/// CSCV over `trials`, each the [`Sums`] of its `S` blocks (the same days for every trial).
///
/// # Errors
/// [`PboError`] for fewer than two trials, an odd `S`, or blocks that do not line up.
pub fn overfitting(trials: &[&[Sums]]) -> Result<Overfitting, PboError> {
    let n = trials.len();
    if n < 2 {
        return Err(PboError::TooFewTrials(n));
    }
    let s = trials[0].len();
    if s < 2 || s % 2 == 1 {
        return Err(PboError::Blocks(s));
    }
    // Block-major columns, so the inner loops run over trials and vectorise.
    let mut sum = vec![0.0; s * n];
    let mut sq = vec![0.0; s * n];
    let days: Vec<u32> = trials[0].iter().map(|b| b.n).collect();
    for (i, t) in trials.iter().enumerate() {
        if t.len() != s {
            return Err(PboError::Ragged {
                trial: i,
                got: t.len(),
                want: s,
            });
        }
        for (b, x) in t.iter().enumerate() {
            if x.n != days[b] {
                return Err(PboError::Days {
                    trial: i,
                    block: b,
                    got: x.n,
                    want: days[b],
                });
            }
            sum[b * n + i] = x.sum;
            sq[b * n + i] = x.sum_sq;
        }
    }
    let half = s / 2;
    // Every split's test half is another split's training half (its complement), and both
    // halves' sums are the same additions either way (blocks in ascending order): each pass
    // below sums the two halves once and scores both splits. The passes are the combinations
    // holding block 0, the first half of the lexicographic order; the splits' order does not
    // matter (counts and a sorted median).
    let mut pick: Vec<usize> = (0..half).collect();
    let mut in_a = vec![false; s];
    let (mut s_a, mut q_a) = (vec![0.0; n], vec![0.0; n]);
    let (mut s_b, mut q_b) = (vec![0.0; n], vec![0.0; n]);
    let mut sr_a = vec![0.0; n];
    let mut sr_b = vec![0.0; n];
    let mut logits = Vec::new();
    let mut losses = 0usize;
    // Chooses the best on `train`, ranks it on `test`: the split's logit and whether the
    // chosen trial lost money out of sample.
    let score = |train: &[f64], test: &[f64]| {
        let best = argmax(train);
        let x = test[best];
        let (less, equal) = if x.is_nan() {
            (0, test.iter().filter(|v| v.is_nan()).count())
        } else {
            (
                test.iter().filter(|&&v| v < x || v.is_nan()).count(),
                test.iter().filter(|&&v| v == x).count(),
            )
        };
        let rank = less as f64 + (equal as f64 + 1.0) / 2.0;
        let w = rank / (n as f64 + 1.0);
        (crate::math::ln(w / (1.0 - w)), x < 0.0)
    };
    while pick[0] == 0 {
        in_a.fill(false);
        for &b in &pick {
            in_a[b] = true;
        }
        s_a.fill(0.0);
        q_a.fill(0.0);
        s_b.fill(0.0);
        q_b.fill(0.0);
        let (mut n_a, mut n_b) = (0.0, 0.0);
        for b in 0..s {
            let (acc_s, acc_q) = if in_a[b] {
                n_a += days[b] as f64;
                (&mut s_a, &mut q_a)
            } else {
                n_b += days[b] as f64;
                (&mut s_b, &mut q_b)
            };
            for (a, x) in acc_s.iter_mut().zip(&sum[b * n..(b + 1) * n]) {
                *a += x;
            }
            for (a, x) in acc_q.iter_mut().zip(&sq[b * n..(b + 1) * n]) {
                *a += x;
            }
        }
        for i in 0..n {
            sr_a[i] = sharpe_of(n_a, s_a[i], q_a[i]);
            sr_b[i] = sharpe_of(n_b, s_b[i], q_b[i]);
        }
        for (train, test) in [(&sr_a, &sr_b), (&sr_b, &sr_a)] {
            let (logit, loss) = score(train, test);
            logits.push(logit);
            losses += usize::from(loss);
        }
        if !next_combination(&mut pick, s) {
            break;
        }
    }
    let splits = logits.len();
    let overfit = logits.iter().filter(|&&l| l <= 0.0).count();
    logits.sort_by(f64::total_cmp);
    let median_logit = if splits % 2 == 1 {
        logits[splits / 2]
    } else {
        (logits[splits / 2 - 1] + logits[splits / 2]) / 2.0
    };
    Ok(Overfitting {
        pbo: overfit as f64 / splits as f64,
        n_trials: n,
        n_blocks: s,
        n_splits: splits,
        median_logit,
        prob_oos_loss: losses as f64 / splits as f64,
    })
}

/// The first index of the largest value, `NaN` counting as the smallest.
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] || (v[best].is_nan() && !x.is_nan()) {
            best = i;
        }
    }
    best
}

/// Advances `pick` (ascending indices below `s`) to the next combination in lexicographic
/// order, as `itertools.combinations` lists them; false after the last.
fn next_combination(pick: &mut [usize], s: usize) -> bool {
    let k = pick.len();
    let Some(i) = (0..k).rev().find(|&i| pick[i] != i + s - k) else {
        return false;
    };
    pick[i] += 1;
    for j in i + 1..k {
        pick[j] = pick[j - 1] + 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Day;
    use crate::research::dsr::tests::lcg_matrix;
    use crate::research::evaluation::Evaluation;
    use crate::research::trials::TrialStats;

    fn blocks_of(m: &[Vec<f64>], s: usize) -> Vec<Vec<Sums>> {
        let layout = Evaluation {
            cscv_blocks: s,
            ..Evaluation::default()
        }
        .layout(Day(0), m[0].len())
        .unwrap();
        m.iter()
            .map(|r| TrialStats::from_returns(r, &layout).blocks)
            .collect()
    }

    fn run(b: &[Vec<Sums>]) -> Overfitting {
        overfitting(&b.iter().map(Vec::as_slice).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn combinations_in_itertools_order() {
        let mut p = vec![0, 1];
        let mut all = vec![p.clone()];
        while next_combination(&mut p, 4) {
            all.push(p.clone());
        }
        assert_eq!(
            all,
            vec![
                vec![0, 1],
                vec![0, 2],
                vec![0, 3],
                vec![1, 2],
                vec![1, 3],
                vec![2, 3]
            ]
        );
    }

    /// By hand, S = 4 blocks of 2 days, 2 trials.
    /// - A wins in every block: A is always chosen and always ranks 2 of 2 out of sample,
    ///   ω = 2/3, λ = ln 2 > 0 in all six splits: PBO = 0.
    /// - A is good in blocks 0–1 and bad in 2–3, B the mirror image: choosing on {0,1} picks A,
    ///   which is worst on {2,3} (ω = 1/3); likewise {2,3} picks B. The four mixed splits tie
    ///   both trials at Sharpe 0 on both halves: A is picked (first), ranks 1.5 (ω = 1/2, λ = 0,
    ///   counted). PBO = 6/6 = 1.
    #[test]
    fn hand_computed_extremes() {
        let good = [0.02, 0.04];
        let bad = [-0.02, -0.04];
        let a: Vec<f64> = [good, good, good, good].concat();
        let worse: Vec<f64> = [good, good, good, good]
            .concat()
            .iter()
            .map(|x| x - 0.01)
            .collect();
        let r = run(&blocks_of(&[a, worse], 4));
        assert_eq!((r.pbo, r.n_splits), (0.0, 6));
        assert!((r.median_logit - crate::math::ln(2.0)).abs() < 1e-12);
        let a: Vec<f64> = [good, good, bad, bad].concat();
        let b: Vec<f64> = [bad, bad, good, good].concat();
        let r = run(&blocks_of(&[a, b], 4));
        assert_eq!(r.pbo, 1.0);
        assert_eq!(r.median_logit, 0.0);
        // Only the two pure splits lose money out of sample.
        assert!((r.prob_oos_loss - 2.0 / 6.0).abs() < 1e-15);
    }

    /// The LCG matrix of `dsr::tests` cut into blocks, against a direct NumPy/SciPy transcription
    /// of the paper (all `itertools.combinations(range(S), S // 2)`, Sharpe = mean / std(ddof=1)
    /// of the concatenated blocks, `scipy.stats.rankdata` average ranks, `scipy.special.logit`,
    /// first `T mod S` rows dropped as pypbo does), NumPy 2.4.6 / SciPy 1.17.1:
    /// - 320 × 20, S = 16: PBO = 0.5884226884226884 (7,573 of 12,870 splits), median logit
    ///   −0.287682072451781, P(OOS loss) = 0.6231546231546231;
    /// - 203 × 7 (seed 9), S = 8: PBO = 0.4142857142857143 (29 of 70), median logit
    ///   1.0986122886681098, P(OOS loss) = 0.42857142857142855.
    #[test]
    fn matches_an_independent_computation() {
        let r = run(&blocks_of(&lcg_matrix(320, 20, 42), 16));
        assert_eq!(r.n_splits, 12_870);
        assert_eq!(r.pbo, 0.5884226884226884);
        assert!((r.median_logit - -0.287682072451781).abs() < 1e-12);
        assert_eq!(r.prob_oos_loss, 0.6231546231546231);
        let r = run(&blocks_of(&lcg_matrix(203, 7, 9), 8));
        assert_eq!(r.n_splits, 70);
        assert_eq!(r.pbo, 0.4142857142857143);
        assert!((r.median_logit - 1.0986122886681098).abs() < 1e-12);
        assert_eq!(r.prob_oos_loss, 0.42857142857142855);
    }

    /// One split at a time, every split summed on its own: what `overfitting` computed before it
    /// scored each split together with its complement.
    fn one_split_at_a_time(trials: &[Vec<Sums>]) -> (Vec<u64>, usize) {
        let (n, s) = (trials.len(), trials[0].len());
        let mut pick: Vec<usize> = (0..s / 2).collect();
        let (mut logits, mut losses) = (Vec::new(), 0);
        loop {
            let half = |train: bool| -> Vec<f64> {
                (0..n)
                    .map(|i| {
                        let (mut days, mut sum, mut sq) = (0.0, 0.0, 0.0);
                        for b in (0..s).filter(|b| pick.contains(b) == train) {
                            days += trials[0][b].n as f64;
                            sum += trials[i][b].sum;
                            sq += trials[i][b].sum_sq;
                        }
                        sharpe_of(days, sum, sq)
                    })
                    .collect()
            };
            let (tr, te) = (half(true), half(false));
            let x = te[argmax(&tr)];
            let (less, equal) = if x.is_nan() {
                (0, te.iter().filter(|v| v.is_nan()).count())
            } else {
                (
                    te.iter().filter(|&&v| v < x || v.is_nan()).count(),
                    te.iter().filter(|&&v| v == x).count(),
                )
            };
            let w = (less as f64 + (equal as f64 + 1.0) / 2.0) / (n as f64 + 1.0);
            logits.push(crate::math::ln(w / (1.0 - w)).to_bits());
            losses += usize::from(x < 0.0);
            if !next_combination(&mut pick, s) {
                break;
            }
        }
        logits.sort_unstable();
        (logits, losses)
    }

    /// Scoring each split with its complement changes no bit: the same logits (as a multiset)
    /// and losses as summing every split on its own, so the same PBO, median and loss share.
    #[test]
    fn pairs_of_complements_give_every_split_bit_for_bit() {
        for (rows, cols, seed, s) in [(320, 20, 42, 16), (203, 7, 9, 8), (64, 5, 3, 2)] {
            let b = blocks_of(&lcg_matrix(rows, cols, seed), s);
            let r = run(&b);
            let (want, losses) = one_split_at_a_time(&b);
            assert_eq!(r.n_splits, want.len());
            let overfit = want.iter().filter(|&&l| f64::from_bits(l) <= 0.0).count();
            assert_eq!(r.pbo, overfit as f64 / want.len() as f64);
            assert_eq!(r.prob_oos_loss, losses as f64 / want.len() as f64);
            let mut sorted: Vec<f64> = want.iter().map(|&l| f64::from_bits(l)).collect();
            sorted.sort_by(f64::total_cmp);
            let k = sorted.len();
            let median = if k % 2 == 1 {
                sorted[k / 2]
            } else {
                (sorted[k / 2 - 1] + sorted[k / 2]) / 2.0
            };
            assert_eq!(r.median_logit.to_bits(), median.to_bits());
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let one = vec![Sums::of(&[0.1, 0.2]); 4];
        assert_eq!(overfitting(&[&one]).unwrap_err(), PboError::TooFewTrials(1));
        let three = vec![Sums::of(&[0.1, 0.2]); 3];
        assert_eq!(
            overfitting(&[&three, &three]).unwrap_err(),
            PboError::Blocks(3)
        );
        let mut other = one.clone();
        other[2] = Sums::of(&[0.1]);
        assert!(matches!(
            overfitting(&[&one, &other]).unwrap_err(),
            PboError::Days {
                trial: 1,
                block: 2,
                ..
            }
        ));
    }
}
