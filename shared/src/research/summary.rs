//! Everything a finished sweep says about selection bias, from its rows alone: the chosen
//! (best in-sample Sharpe ratio) point, the deflated Sharpe ratio, the probability of backtest
//! overfitting, the walk-forward's choices, and a one-line plain-language reading. The CLI
//! prints it, the Sweep page shows it next to the heat map, and both compute it with this one
//! function from the same rows, so they agree.

use super::dsr::{self, Deflated};
use super::evaluation::Evaluation;
use super::pbo::{self, Overfitting};
use super::trials::{Sums, TrialStats};
use super::walk_forward::{self, Step};
use crate::metrics::DAYS_PER_YEAR;
use crate::research::sweep::SweepRow;

/// The selection statistics of a sweep.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Points with a finite in-sample Sharpe ratio (the trials counted).
    pub n_trials: usize,
    /// The point with the best in-sample Sharpe ratio (ties: the lowest index).
    pub chosen: Option<usize>,
    /// The deflated Sharpe ratio of the chosen point; `best` is a point index.
    pub deflated: Option<Deflated>,
    /// CSCV over the in-sample days.
    pub overfitting: Option<Overfitting>,
    /// Walk-forward re-choices; `chosen` are point indices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub walk_forward: Vec<Step>,
    /// Why a statistic is missing (too few trials or days), for the reader.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// One sentence a non-statistician can act on.
    pub reading: String,
}

/// The summary of `rows` (any order; rows without statistics are skipped).
pub fn summarize(rows: &[SweepRow], evaluation: &Evaluation) -> Summary {
    let mut trials: Vec<(usize, &TrialStats)> = rows
        .iter()
        .filter_map(|r| r.stats.as_ref().map(|s| (r.index, s)))
        .filter(|(_, s)| s.sharpe.is_finite())
        .collect();
    trials.sort_by_key(|(i, _)| *i);
    let mut notes = Vec::new();
    let stats: Vec<&TrialStats> = trials.iter().map(|(_, s)| *s).collect();
    let deflated = dsr::deflated_sharpe(&stats).map(|d| Deflated {
        best: trials[d.best].0,
        ..d
    });
    let chosen = deflated.as_ref().map(|d| d.best);
    let blocks: Vec<&[Sums]> = stats.iter().map(|s| s.blocks.as_slice()).collect();
    let overfitting = if evaluation.cscv_blocks == 0 {
        None
    } else if blocks.iter().any(|b| b.is_empty()) || blocks.is_empty() {
        notes.push(format!(
            "no PBO: the in-sample part needs at least {} days for {} CSCV blocks",
            2 * evaluation.cscv_blocks,
            evaluation.cscv_blocks
        ));
        None
    } else {
        match pbo::overfitting(&blocks) {
            Ok(o) => Some(o),
            Err(e) => {
                notes.push(format!("no PBO: {e}"));
                None
            }
        }
    };
    let walk_forward = match &evaluation.walk_forward {
        Some(spec) => {
            let folds: Vec<&[Sums]> = stats.iter().map(|s| s.folds.as_slice()).collect();
            walk_forward::choose(spec, &folds)
                .into_iter()
                .map(|s| Step {
                    chosen: s.chosen.map(|k| trials[k].0),
                    ..s
                })
                .collect()
        }
        None => Vec::new(),
    };
    if trials.len() < 2 {
        notes.push(format!(
            "{} point(s) with a Sharpe ratio: nothing was selected among several",
            trials.len()
        ));
    }
    let reading = reading(trials.len(), deflated.as_ref(), overfitting.as_ref());
    Summary {
        n_trials: trials.len(),
        chosen,
        deflated,
        overfitting,
        walk_forward,
        notes,
        reading,
    }
}

/// The plain-language reading: what the deflated Sharpe ratio and PBO mean for the best point.
fn reading(n: usize, d: Option<&Deflated>, o: Option<&Overfitting>) -> String {
    let Some(d) = d else {
        return "No point has a Sharpe ratio yet: nothing to judge.".to_string();
    };
    let ann = DAYS_PER_YEAR.sqrt();
    let pct = |x: f64| format!("{:.0} %", 100.0 * x);
    let mut s = if !d.dsr.is_finite() {
        format!(
            "The best of {n} points has a Sharpe ratio of {:.2}, but its returns are too \
             irregular for a deflated Sharpe ratio",
            d.sharpe * ann
        )
    } else {
        let verdict = if d.dsr >= 0.95 {
            "very likely real"
        } else if d.dsr >= 0.5 {
            "uncertain"
        } else {
            "likely luck"
        };
        format!(
            "The best of {n} points (Sharpe {:.2}) is {verdict}: after {n} tries there is a {} \
             chance its true Sharpe ratio is above zero (deflated Sharpe {:.2}; {n} skill-less \
             tries would reach about {:.2})",
            d.sharpe * ann,
            pct(d.dsr),
            d.dsr,
            d.expected_max * ann
        )
    };
    if let Some(o) = o {
        s += &format!(
            ", and picking the in-sample best chose a below-median point out of sample in {} of \
             {} splits (PBO {:.2}{})",
            pct(o.pbo),
            o.n_splits,
            o.pbo,
            if o.pbo > 0.5 { ": overfit" } else { "" }
        );
    }
    s.push('.');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::research::dsr::tests::lcg_matrix;

    #[test]
    fn summary_maps_trials_to_point_indices_and_reads_plainly() {
        let m = lcg_matrix(320, 20, 42);
        let layout = Evaluation::default().layout(crate::Day(0), 320).unwrap();
        // Points 0..20 at indices 100.., in reverse order, plus a failed point.
        let mut rows: Vec<SweepRow> = m
            .iter()
            .enumerate()
            .rev()
            .map(|(i, r)| SweepRow {
                index: 100 + i,
                values: vec![i as f64],
                metrics: None,
                error: None,
                stats: Some(TrialStats::from_returns(r, &layout)),
            })
            .collect();
        rows.push(SweepRow {
            index: 7,
            values: vec![],
            metrics: None,
            error: Some("bad".into()),
            stats: None,
        });
        let s = summarize(&rows, &Evaluation::default());
        assert_eq!(s.n_trials, 20);
        // Column 16 is the best (dsr::tests); it is point 116.
        assert_eq!(s.chosen, Some(116));
        let d = s.deflated.as_ref().unwrap();
        assert!((d.dsr - 0.44190679291674645).abs() < 1e-12);
        assert_eq!(s.overfitting.as_ref().unwrap().pbo, 0.5884226884226884);
        assert!(s.reading.contains("likely luck"), "{}", s.reading);
        assert!(s.reading.contains("59 %"), "{}", s.reading);
        assert!(s.reading.contains(": overfit"), "{}", s.reading);
        assert!(s.notes.is_empty());
        let none = summarize(&[], &Evaluation::default());
        assert_eq!(none.chosen, None);
        assert!(!none.notes.is_empty());
    }
}
