//! The optimizer's random search: `n` points drawn in a box of bounds, with the searched
//! strategy weights optionally constrained to a fixed sum.
//!
//! # How a point is drawn
//! Point `i` uses its own stream ([`SplitMix64::for_point`]`(seed, i)`), so the CLI's threads
//! and the browser's workers draw exactly the same points whatever their chunks.
//! 1. Every dimension outside the sum constraint (leverage, threshold, costs, params, and the
//!    weights when there is no constraint), in order: uniform on `[lo, hi]`.
//! 2. With a sum `S`, the searched weights: uniform on the simplex `{x ≥ lo, Σx = S}` (the part
//!    above the lower bounds is `(S − Σlo)` times normalised unit exponentials, i.e. a flat
//!    Dirichlet), redrawn until every `x ≤ hi` (up to [`MAX_ATTEMPTS`] times). If none of
//!    those draws fits, the last one is water-filled: weights over their upper bound are pinned
//!    there and the excess is shared by the others in proportion to their draws, until nothing
//!    is over. The result always satisfies the bounds and the sum (up to rounding); it is
//!    uniform on the feasible set unless the upper bounds cut away most of the simplex.

use super::rng::SplitMix64;
use crate::research::sweep::AxisTarget;

/// Redraws of the constrained weights before water-filling.
pub const MAX_ATTEMPTS: usize = 64;

/// One searched value and its bounds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SearchDim {
    pub target: AxisTarget,
    pub lo: f64,
    pub hi: f64,
}

/// `n` random points seeded with `seed`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RandomSearch {
    pub dims: Vec<SearchDim>,
    /// The searched strategy weights (the `Weight` dims) sum to this, when set.
    pub weight_sum: Option<f64>,
    pub n: usize,
    pub seed: u64,
}

/// A search that cannot run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SearchError {
    #[error("a search needs at least one dimension")]
    NoDims,
    #[error("a search needs at least one point")]
    NoPoints,
    #[error("{path}: bounds {lo}..{hi} must be finite with lo <= hi")]
    Bounds { path: String, lo: f64, hi: f64 },
    #[error("{path}: a weight's lower bound must be >= 0, got {lo}")]
    NegativeWeight { path: String, lo: f64 },
    #[error("{path} is searched twice")]
    Duplicate { path: String },
    #[error("a weight sum is set but no strategy weight is searched")]
    SumWithoutWeights,
    #[error("the searched weights cannot sum to {sum}: their bounds allow {lo_total}..{hi_total}")]
    Infeasible {
        sum: f64,
        lo_total: f64,
        hi_total: f64,
    },
}

impl RandomSearch {
    /// Checks bounds, duplicates and that the sum constraint can be met.
    ///
    /// # Errors
    /// [`SearchError`] naming the dimension.
    pub fn validate(&self) -> Result<(), SearchError> {
        if self.dims.is_empty() {
            return Err(SearchError::NoDims);
        }
        if self.n == 0 {
            return Err(SearchError::NoPoints);
        }
        for (k, d) in self.dims.iter().enumerate() {
            let path = d.target.path();
            if !(d.lo.is_finite() && d.hi.is_finite() && d.lo <= d.hi) {
                return Err(SearchError::Bounds {
                    path,
                    lo: d.lo,
                    hi: d.hi,
                });
            }
            if matches!(d.target, AxisTarget::Weight { .. }) && d.lo < 0.0 {
                return Err(SearchError::NegativeWeight { path, lo: d.lo });
            }
            if self.dims[..k].iter().any(|e| e.target == d.target) {
                return Err(SearchError::Duplicate { path });
            }
        }
        if let Some(sum) = self.weight_sum {
            let w: Vec<&SearchDim> = self.weights().map(|k| &self.dims[k]).collect();
            if w.is_empty() {
                return Err(SearchError::SumWithoutWeights);
            }
            let lo_total: f64 = w.iter().map(|d| d.lo).sum();
            let hi_total: f64 = w.iter().map(|d| d.hi).sum();
            if !(sum.is_finite() && lo_total <= sum && sum <= hi_total) {
                return Err(SearchError::Infeasible {
                    sum,
                    lo_total,
                    hi_total,
                });
            }
        }
        Ok(())
    }

    /// Indices of the weight dimensions.
    fn weights(&self) -> impl Iterator<Item = usize> + '_ {
        self.dims
            .iter()
            .enumerate()
            .filter(|(_, d)| matches!(d.target, AxisTarget::Weight { .. }))
            .map(|(k, _)| k)
    }

    /// The values of point `index`, one per dimension (see the module doc). Call on a
    /// validated search.
    pub fn point(&self, index: usize) -> Vec<f64> {
        let mut rng = SplitMix64::for_point(self.seed, index as u64);
        let constrained: Vec<usize> = if self.weight_sum.is_some() {
            self.weights().collect()
        } else {
            Vec::new()
        };
        let mut v = vec![0.0; self.dims.len()];
        for (k, d) in self.dims.iter().enumerate() {
            if !constrained.contains(&k) {
                v[k] = d.lo + (d.hi - d.lo) * rng.next_f64();
            }
        }
        if let Some(sum) = self.weight_sum {
            let lo: Vec<f64> = constrained.iter().map(|&k| self.dims[k].lo).collect();
            let hi: Vec<f64> = constrained.iter().map(|&k| self.dims[k].hi).collect();
            let x = simplex_point(&mut rng, &lo, &hi, sum);
            for (&k, x) in constrained.iter().zip(x) {
                v[k] = x;
            }
        }
        v
    }
}

/// A point of `{lo ≤ x ≤ hi, Σx = sum}` (feasible by the caller's check), as the module doc
/// describes.
fn simplex_point(rng: &mut SplitMix64, lo: &[f64], hi: &[f64], sum: f64) -> Vec<f64> {
    let free = sum - lo.iter().sum::<f64>();
    let mut e = vec![0.0; lo.len()];
    let mut x = vec![0.0; lo.len()];
    for _ in 0..MAX_ATTEMPTS {
        for v in e.iter_mut() {
            *v = rng.next_exp();
        }
        let total: f64 = e.iter().sum();
        for k in 0..x.len() {
            x[k] = lo[k] + free * (e[k] / total);
        }
        if x.iter().zip(hi).all(|(x, h)| x <= h) {
            return x;
        }
    }
    // Water-fill the last draw.
    let mut pinned = vec![false; x.len()];
    for _ in 0..=x.len() {
        let mut excess = 0.0;
        for k in 0..x.len() {
            if x[k] > hi[k] {
                excess += x[k] - hi[k];
                x[k] = hi[k];
                pinned[k] = true;
            }
        }
        if excess <= 0.0 {
            break;
        }
        let open: f64 = (0..x.len()).filter(|&k| !pinned[k]).map(|k| e[k]).sum();
        if open <= 0.0 {
            break;
        }
        for k in 0..x.len() {
            if !pinned[k] {
                x[k] += excess * (e[k] / open);
            }
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn weight(s: &str, lo: f64, hi: f64) -> SearchDim {
        SearchDim {
            target: AxisTarget::Weight { strategy: s.into() },
            lo,
            hi,
        }
    }

    fn search(dims: Vec<SearchDim>, sum: Option<f64>) -> RandomSearch {
        RandomSearch {
            dims,
            weight_sum: sum,
            n: 100,
            seed: 7,
        }
    }

    #[test]
    fn points_are_deterministic_per_index_and_inside_the_box() {
        let s = search(
            vec![
                weight("size", 0.0, 0.5),
                SearchDim {
                    target: AxisTarget::Leverage,
                    lo: 1.0,
                    hi: 2.0,
                },
            ],
            None,
        );
        s.validate().unwrap();
        let a: Vec<Vec<f64>> = (0..100).map(|i| s.point(i)).collect();
        let b: Vec<Vec<f64>> = (0..100).rev().map(|i| s.point(i)).collect();
        assert!(a.iter().eq(b.iter().rev()));
        assert!(a
            .iter()
            .all(|p| (0.0..=0.5).contains(&p[0]) && (1.0..=2.0).contains(&p[1])));
        assert_ne!(a[0], a[1]);
        // The first value of point 0 is lo + (hi - lo) × its stream's first uniform.
        let u = SplitMix64::for_point(7, 0).next_f64();
        assert_eq!(a[0][0], 0.5 * u);
    }

    #[test]
    fn bad_searches_are_named() {
        let bad = |s: RandomSearch| s.validate().unwrap_err().to_string();
        assert!(bad(search(vec![], None)).contains("at least one dimension"));
        assert!(bad(search(vec![weight("size", 0.5, 0.1)], None)).contains("strategy_weights.size"));
        assert!(bad(search(vec![weight("size", -0.1, 0.1)], None)).contains(">= 0"));
        assert!(bad(search(
            vec![weight("size", 0.0, 0.1), weight("size", 0.0, 0.2)],
            None
        ))
        .contains("twice"));
        assert!(bad(search(
            vec![SearchDim {
                target: AxisTarget::Leverage,
                lo: 1.0,
                hi: 2.0
            }],
            Some(1.0)
        ))
        .contains("no strategy weight"));
        let e = bad(search(
            vec![weight("size", 0.0, 0.3), weight("beta", 0.0, 0.3)],
            Some(1.0),
        ));
        assert!(e.contains("cannot sum to 1"), "{e}");
    }

    /// The tight case forces the water-fill: bounds [0, 0.26] × 4 summing to 1 leave a small
    /// corner of the simplex.
    #[test]
    fn tight_bounds_still_give_feasible_points() {
        let names = ["adf", "beta", "size", "carry"];
        let s = search(
            names.iter().map(|n| weight(n, 0.0, 0.26)).collect(),
            Some(1.0),
        );
        s.validate().unwrap();
        for i in 0..200 {
            let p = s.point(i);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{p:?}");
            assert!(p.iter().all(|x| (0.0..=0.26).contains(x)), "{p:?}");
        }
    }

    proptest! {
        #[test]
        fn constrained_points_meet_bounds_and_sum(
            seed in any::<u64>(),
            bounds in proptest::collection::vec((0.0f64..0.3, 0.0f64..0.7), 2..8),
            lev in (0.5f64..1.0, 1.0f64..3.0),
            frac in 0.0f64..1.0,
        ) {
            let mut dims: Vec<SearchDim> = bounds
                .iter()
                .enumerate()
                .map(|(k, &(lo, w))| weight(crate::strategies::STRATEGY_NAMES[k], lo, lo + w))
                .collect();
            dims.insert(1, SearchDim { target: AxisTarget::Leverage, lo: lev.0, hi: lev.1 });
            let lo_total: f64 = bounds.iter().map(|b| b.0).sum();
            let hi_total: f64 = bounds.iter().map(|b| b.0 + b.1).sum();
            let sum = lo_total + frac * (hi_total - lo_total);
            let s = RandomSearch { dims, weight_sum: Some(sum), n: 10, seed };
            s.validate().unwrap();
            for i in 0..10 {
                let p = s.point(i);
                let mut total = 0.0;
                for (d, x) in s.dims.iter().zip(&p) {
                    prop_assert!(*x >= d.lo - 1e-12 && *x <= d.hi + 1e-12, "{:?} {}", d, x);
                    if matches!(d.target, AxisTarget::Weight { .. }) {
                        total += x;
                    }
                }
                prop_assert!((total - sum).abs() < 1e-9, "{} vs {}", total, sum);
            }
        }
    }
}
