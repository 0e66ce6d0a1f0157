//! The capital blend: how much of the book each strategy runs on a date, and the netted weights.
//!
//! Rules, in order:
//! 1. An active strategy starts at its configured weight; an inactive one at 0.
//! 2. The inactive strategies' capital (fixed and flexible alike) goes to the *active flexible*
//!    strategies in proportion to their configured weights. Fixed strategies never scale up. With
//!    no active flexible strategy that capital stays in cash.
//! 3. Caps (only from the config's `strategy_caps`): a weight above its cap is cut to the cap and
//!    the excess goes to the active flexible strategies still below their caps, pro rata, until
//!    nothing is over a cap or nobody can take more (the rest stays in cash). A capped weight is
//!    never renormalised back up — the predecessor applied its caps and then undid them.
//! 4. Portfolio weight of an asset = leverage × Σ effective weight × strategy target, netted.

/// One strategy as the blend sees it on a date.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlendItem {
    /// Configured weight (>= 0).
    pub weight: f64,
    /// Fixed strategies keep their weight and never absorb others' capital.
    pub fixed: bool,
    /// Optional cap on the effective weight.
    pub cap: Option<f64>,
    /// Whether the strategy produced targets on this date.
    pub active: bool,
}

/// The effective weight of each item (same order). Their sum is at most the configured total;
/// what is missing is held in cash.
pub fn effective_weights(items: &[BlendItem]) -> Vec<f64> {
    let mut eff = Vec::new();
    effective_weights_into(items, &mut eff, &mut Vec::new());
    eff
}

/// [`effective_weights`] into caller-owned buffers (`pinned` is scratch), so the backtest's
/// daily loop does not allocate.
pub fn effective_weights_into(items: &[BlendItem], eff: &mut Vec<f64>, pinned: &mut Vec<bool>) {
    eff.clear();
    eff.extend(items.iter().map(|i| if i.active { i.weight } else { 0.0 }));
    let receives = |i: &BlendItem| i.active && !i.fixed && i.weight > 0.0;
    let inactive: f64 = items.iter().filter(|i| !i.active).map(|i| i.weight).sum();
    let flexible: f64 = items.iter().filter(|i| receives(i)).map(|i| i.weight).sum();
    if inactive > 0.0 && flexible > 0.0 {
        for (e, i) in eff.iter_mut().zip(items) {
            if receives(i) {
                *e += inactive * i.weight / flexible;
            }
        }
    }
    // Water-fill the caps. Each pass pins at least one more item at its cap, so this ends.
    pinned.clear();
    pinned.resize(items.len(), false);
    for _ in 0..=items.len() {
        let mut excess = 0.0;
        for (k, i) in items.iter().enumerate() {
            if let Some(cap) = i.cap {
                if eff[k] > cap {
                    excess += eff[k] - cap;
                    eff[k] = cap;
                    pinned[k] = true;
                }
            }
        }
        if excess <= 0.0 {
            break;
        }
        let open: f64 = items
            .iter()
            .enumerate()
            .filter(|(k, i)| receives(i) && !pinned[*k])
            .map(|(_, i)| i.weight)
            .sum();
        if open <= 0.0 {
            break; // nobody can take it: cash
        }
        for (k, i) in items.iter().enumerate() {
            if receives(i) && !pinned[k] {
                eff[k] += excess * i.weight / open;
            }
        }
    }
}

/// `out[asset] = leverage × Σ_s eff[s] × targets[s][asset]`, netted by symbol.
///
/// `targets` yields, per strategy, its dense targets (one per asset) and the ascending indices
/// of the assets whose target is not `+0.0` (its bits are not all zero): only those are added.
/// That is the dense sum's bits exactly: each `out[asset]` starts at `+0.0` and adds the
/// strategies' `e × x` in strategy order either way; a skipped `x = +0.0` would add `±0.0`
/// (finite `e`), which leaves any partial sum unchanged except `-0.0`, and a sum that starts at
/// `+0.0` never becomes `-0.0` under round-to-nearest (only `-0.0 + -0.0` is `-0.0`). A
/// non-finite weight (`e × 0.0` is NaN) takes the dense loop. A day's blend touches the held
/// positions (tens) instead of every strategy × every asset (9 × 136 on the real panel), and
/// the backtest blends on most days (daily strategies move their anchor every day).
///
/// # Panics
/// If an index in a nonzero list is outside `out`.
pub fn blend_into<'t>(
    leverage: f64,
    eff: &[f64],
    targets: impl IntoIterator<Item = (&'t [f64], &'t [u32])>,
    out: &mut [f64],
) {
    out.iter_mut().for_each(|w| *w = 0.0);
    for (e, (t, nonzero)) in eff.iter().zip(targets) {
        if *e == 0.0 {
            continue;
        }
        if e.is_finite() {
            for &a in nonzero {
                let a = a as usize;
                out[a] += e * t[a];
            }
        } else {
            for (o, x) in out.iter_mut().zip(t) {
                *o += e * x;
            }
        }
    }
    if leverage != 1.0 {
        out.iter_mut().for_each(|w| *w *= leverage);
    }
}

/// The ascending indices of `targets` whose bits are not all zero (`-0.0` included), written
/// into `out`: what [`blend_into`] adds.
pub fn nonzero_into(targets: &[f64], out: &mut Vec<u32>) {
    out.clear();
    out.extend(
        targets
            .iter()
            .enumerate()
            .filter(|(_, x)| x.to_bits() != 0)
            .map(|(a, _)| a as u32),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item(weight: f64, fixed: bool, cap: Option<f64>, active: bool) -> BlendItem {
        BlendItem {
            weight,
            fixed,
            cap,
            active,
        }
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn inactive_capital_goes_to_flexible_pro_rata_fixed_never_scales() {
        // flexible 0.3, 0.1 active; fixed 0.2 active; flexible 0.2 and fixed 0.2 inactive.
        let items = [
            item(0.3, false, None, true),
            item(0.1, false, None, true),
            item(0.2, true, None, true),
            item(0.2, false, None, false),
            item(0.2, true, None, false),
        ];
        // inactive 0.4 split 3:1 -> +0.3, +0.1
        let eff = effective_weights(&items);
        assert!(close(&eff, &[0.6, 0.2, 0.2, 0.0, 0.0]), "{eff:?}");
    }

    #[test]
    fn none_flexible_active_leaves_cash() {
        let items = [item(0.5, true, None, true), item(0.5, false, None, false)];
        assert!(close(&effective_weights(&items), &[0.5, 0.0]));
    }

    /// Regression: the predecessor capped at 5% and then renormalised, undoing the cap.
    #[test]
    fn capped_weight_stays_capped_and_excess_goes_to_uncapped() {
        // A 0.5 (uncapped), B 0.3 (cap 0.05), C 0.2 (uncapped); all active.
        let items = [
            item(0.5, false, None, true),
            item(0.3, false, Some(0.05), true),
            item(0.2, false, None, true),
        ];
        let eff = effective_weights(&items);
        // excess 0.25 -> A +0.25*5/7, C +0.25*2/7
        assert!(
            close(
                &eff,
                &[0.5 + 0.25 * 5.0 / 7.0, 0.05, 0.2 + 0.25 * 2.0 / 7.0]
            ),
            "{eff:?}"
        );
        assert!((eff.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn cap_cascades_and_leftover_is_cash() {
        // Inactive 0.6 goes to A and B (1:1) -> 0.5 each; A cap 0.3 -> excess 0.2 to B -> 0.7,
        // B cap 0.4 -> excess 0.3, nobody left -> cash.
        let items = [
            item(0.2, false, Some(0.3), true),
            item(0.2, false, Some(0.4), true),
            item(0.6, false, None, false),
        ];
        let eff = effective_weights(&items);
        assert!(close(&eff, &[0.3, 0.4, 0.0]), "{eff:?}");
    }

    fn nz(t: &[f64]) -> Vec<u32> {
        let mut v = Vec::new();
        nonzero_into(t, &mut v);
        v
    }

    #[test]
    fn blend_nets_by_symbol_with_leverage() {
        let a = [0.5, -0.5, 0.0];
        let b = [-0.5, 0.0, 0.5];
        let mut out = [9.0; 3];
        let (na, nb) = (nz(&a), nz(&b));
        assert_eq!((na.as_slice(), nb.as_slice()), (&[0, 1][..], &[0, 2][..]));
        blend_into(
            2.0,
            &[0.6, 0.4],
            [(&a[..], &na[..]), (&b[..], &nb[..])],
            &mut out,
        );
        assert!(
            close(&out, &[2.0 * (0.3 - 0.2), 2.0 * -0.3, 2.0 * 0.2]),
            "{out:?}"
        );
    }

    /// The dense sum every strategy × every asset, as the blend was before it skipped zeros.
    fn dense(leverage: f64, eff: &[f64], targets: &[Vec<f64>], out: &mut [f64]) {
        out.iter_mut().for_each(|w| *w = 0.0);
        for (e, t) in eff.iter().zip(targets) {
            if *e == 0.0 {
                continue;
            }
            for (o, x) in out.iter_mut().zip(t) {
                *o += e * x;
            }
        }
        if leverage != 1.0 {
            out.iter_mut().for_each(|w| *w *= leverage);
        }
    }

    proptest! {
        /// Skipping the `+0.0` targets gives the dense sum's bits, signed zeros and
        /// cancellations included, for any finite or non-finite weights.
        #[test]
        fn the_sparse_blend_is_the_dense_blend_bit_for_bit(
            eff in proptest::collection::vec(prop_oneof![
                4 => -2.0f64..2.0,
                1 => Just(0.0),
                1 => Just(f64::INFINITY),
                1 => Just(1e-310),
            ], 1..6),
            cells in proptest::collection::vec(prop_oneof![
                3 => Just(0.0),
                1 => Just(-0.0),
                2 => -1.0f64..1.0,
                1 => Just(0.25),
                1 => Just(-0.25),
                1 => Just(1e-320),
            ], 6..=6 * 8),
            leverage in prop_oneof![Just(1.0), 0.1f64..3.0, Just(-1.0)],
        ) {
            let n = cells.len() / 6;
            let targets: Vec<Vec<f64>> = (0..eff.len())
                .map(|s| (0..n).map(|a| cells[(s * n + a) % cells.len()]).collect())
                .collect();
            let lists: Vec<Vec<u32>> = targets.iter().map(|t| nz(t)).collect();
            let mut want = vec![7.0; n];
            dense(leverage, &eff, &targets, &mut want);
            let mut got = vec![7.0; n];
            blend_into(
                leverage,
                &eff,
                targets.iter().zip(&lists).map(|(t, l)| (t.as_slice(), l.as_slice())),
                &mut got,
            );
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }

        #[test]
        fn caps_hold_and_total_never_grows(
            spec in proptest::collection::vec((0.0f64..1.0, any::<bool>(), proptest::option::of(0.0f64..0.5), any::<bool>()), 1..8)
        ) {
            let items: Vec<BlendItem> = spec.iter().map(|&(w, f, c, a)| item(w, f, c, a)).collect();
            let eff = effective_weights(&items);
            let total: f64 = items.iter().map(|i| i.weight).sum();
            prop_assert!(eff.iter().sum::<f64>() <= total + 1e-12);
            for (e, i) in eff.iter().zip(&items) {
                prop_assert!(*e >= 0.0);
                if let Some(c) = i.cap { prop_assert!(*e <= c + 1e-15); }
                if !i.active { prop_assert!(*e == 0.0); }
                if i.fixed && i.active { prop_assert!(*e <= i.weight); }
            }
            // With no caps and some active flexible strategy, nothing is lost to cash.
            if items.iter().all(|i| i.cap.is_none()) && items.iter().any(|i| i.active && !i.fixed && i.weight > 0.0) {
                prop_assert!((eff.iter().sum::<f64>() - total).abs() < 1e-9);
            }
        }
    }
}
