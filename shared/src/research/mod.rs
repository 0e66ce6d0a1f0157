//! Research on top of sweeps: an optimizer, and honesty about what a chosen point is worth.
//!
//! - [`search`]: seeded random search over strategy weights, leverage, threshold and params,
//!   with bounds and a sum constraint ([`rng`]: the seeded generator, the same on every
//!   target).
//! - [`evaluation`]: the in-sample/out-of-sample split, CSCV blocks and walk-forward folds as
//!   day offsets; [`trials`]: what each point keeps of its returns for the statistics below.
//! - [`dsr`]: the deflated Sharpe ratio of the best point (Bailey & López de Prado 2014).
//! - [`pbo`]: the probability of backtest overfitting by CSCV (Bailey, Borwein, López de Prado
//!   & Zhu 2015).
//! - [`walk_forward`]: the re-choices of a walk-forward; the stitched out-of-sample curve is
//!   run by [`crate::research::sweep::Sweep::walk_forward_curve`] with the one backtest.
//! - [`report`]: the chosen point out of sample and the walk-forward curve, after the rows.
//! - [`summary`]: all of the above for a finished sweep's rows, in one value the CLI prints
//!   and the Sweep page shows.

pub mod dsr;
pub mod evaluation;
pub mod pbo;
pub mod report;
pub mod rng;
pub mod search;
pub mod summary;
pub mod sweep;
pub mod trials;
pub mod walk_forward;
