//! The shadow backtest, the gap attribution and the cost calibration of the consistency report.
//!
//! # The shadow backtest
//! The live config (`LiveService::config`) is backtested over the live period with the live
//! rebalance policy ([`crate::live::cycle::policy_of`]), the config's cost model
//! (`rebalance.fee_bps`, `rebalance.slippage_bps`) and today's store panel, by the one kernel
//! path (`shared::backtest::run`: `TargetEngine` → policy → simulator). It starts in cash with
//! the live account's equity at the start of the period. The period is `[from, to]` clipped to
//! the days the live account has equity snapshots: it starts on the first day in `[from, to]`
//! with a snapshot and ends on the last.
//!
//! A live snapshot taken during UTC day `d + 1` shows the account marked at the close of `d`
//! (the last complete day then), so it is the live equity of day `d`. The live equity of `d`
//! is the last such snapshot (after the day's execution); the start equity `E_start` and the
//! positions held before trading are what the first day's first executed plan sized on (its
//! equity and its lines' current units), else the day's first snapshot.
//!
//! # The gap
//! Day `t`'s gap is `total_t = (E_t − E_{t−1}) − (N_t − N_{t−1})`: live P&L from the snapshots
//! minus shadow P&L from the simulator (`E_{−1} = N_{−1} = E_start`; on the first day both P&Ls
//! are only that day's trading, as the shadow starts in cash). It is split into six parts that
//! add up to `total_t` exactly (`unexplained` is the residual):
//!
//! Notation: `c_a(t)` today's close of asset `a` (the last finite close when missing, as the
//! simulator marks), `r_a(t)` its funding rate (missing = 0), `g_a(t) = c_a(t) − c_a(t−1) −
//! c_a(t)·r_a(t)` the P&L of one unit held over day `t`; `L_a(t)`, `S_a(t)` live and shadow
//! units after day `t`'s trades; `fee_m`, `slip_m` the config's bps / 10 000, `rate = fee_m +
//! slip_m`; a live fill is `u` units at price `p` paying fee `φ`, on the plan's data day.
//!
//! 1. **Direct amounts** (from the records):
//!    - `slippage += Σ_fills (slip_m·|u|·c − u·(p − c))`: the modelled slippage of the live
//!      fills minus their actual distance from the close the backtest used.
//!    - `fees += Σ_fills (fee_m·|u|·c − φ)`: modelled fees of the live fills minus fees paid.
//!    - `funding += Σ_a L_a(t−1)·c_a(t)·r_a(t) − paid_t`: the model's funding on the positions
//!      actually held minus the funding paid (`paper_funding` for the paper broker; other
//!      brokers record no funding, so `paid = modelled` and any difference lands in
//!      `unexplained`).
//!    - `other += ρ_t − ρ_{t−1}` with `ρ_t = Σ_a L_a(t)·(m_a(t) − c_a(t))`, `m` the marks of the
//!      live snapshot: the live account valued at closes that have since been revised.
//! 2. **Position differences.** `L − S` is split into one position per part, `V_b` (`Σ_b V_b =
//!    L − S` after every day). Part `b` earns `Σ_a V_{b,a}(t−1)·g_a(t)` on day `t` and carries
//!    the modelled trading cost of the change of its position: with `δ_a = ΔL_a − ΔS_a =
//!    Σ_b ΔV_{b,a}` and `Δcost_a = rate·Σ_{live fills} |u|·c − (shadow fees on a)`, part `b` gets
//!    `−Δcost_a · ΔV_{b,a} / δ_a` (a signed share; `|share| ≤ rate·|ΔV_{b,a}|·c`). How the
//!    positions are split:
//!    - **Scale.** The live book trades on its own equity, the shadow on its NAV. With
//!      `C_b` the running total of part `b` before day `t`'s trades and `N_pre` the shadow's NAV
//!      before trading, `σ_b = C_b / N_pre` and `k = 1 + Σ_b σ_b` (live equity / shadow NAV, as
//!      the parts reconstruct it). Part `b` owns `σ_b` of the shadow's positions: money a cause
//!      cost (or made) is not invested (or is) like the rest of the book, so the later P&L of
//!      that money stays with its cause.
//!    - **The live plan traded the symbol** (its line is `buy`/`sell`, sent or dropped): the
//!      plan wanted position `I` (`new_weight × plan equity / mark`, 0 for an exit) from
//!      `cur` units. Then `V_b = σ_b·S(t)` plus: `skipped += P − (I − cur)` (the plan's orders
//!      `P` vs the unrounded trade: size rounding, venue minimum, not listed, no price);
//!      `other += (F − P) + (L(t) − F − cur)` (fills `F` short of the orders: failed or partial;
//!      position changes no fill explains: manual); and `I − k·S(t)` to `skipped` when the
//!      shadow did not trade the symbol that day and the plan's target equals the shadow's (the
//!      two books' threshold decisions differ), else to `other` (the targets differ: data
//!      revised after the plan, another config).
//!    - **The live book held the symbol**: `V_b += σ_b·ΔS` and the shadow's trade the live book
//!      did not make, `−k·ΔS`, goes to `skipped` when the plan's line was `hold` with the
//!      shadow's target (the threshold kept the position), else to `other` (the targets differ;
//!      no executed plan that day: rejected, expired, blocked, no cycle). Any change of the live
//!      position (`L(t) − L(t−1)`) goes to `other`.
//!    - **No line in an executed plan** (live target 0, nothing held): `V_b = σ_b·S(t)` and
//!      `L(t) − k·S(t)` to `other`.
//!    - Targets are equal when they agree to `1e-12 + 1e-9·|w|` (the kernels agree bit for bit
//!      on the same data).
//!    - Before the first day `V_other = L(−1)`: positions held before the period (the shadow
//!      starts in cash).
//! 3. **`unexplained`** is `total_t` minus everything above: cash moves no record explains
//!    (deposits, withdrawals, fees or funding of a broker that does not report them), positions
//!    in symbols the panel does not have. On the paper broker it is float rounding.
//!
//! # How a data revision shows up
//! The shadow always runs on today's store. A close revised after a plan used it moves:
//! the fills of that day against the revised close (`slippage`: `u·(c_old − c_new)` on top of
//! the modelled slippage), the live snapshot valued at the old close (`other`, `ρ`, reversed the
//! next day), the funding charged at the old close (`funding`, tiny), and targets the revision
//! changed (`other`, via `I − k·S`, until the live book trades the symbol again). The revision
//! itself is listed by the signal parity (which fields, by how much).
//!
//! # Cost calibration
//! Over all live fills of the period, with `c` the close of the plan's data day in today's
//! panel: traded notional `Σ |u|·c`, implied fee `Σ φ / Σ |u|·c`, implied slippage
//! `Σ u·(p − c) / Σ |u|·c` (positive = adverse), both in bps, next to the config's. A
//! suggestion is made when either differs from the configured value by more than
//! [`MATERIAL_BPS`] bps and by more than [`MATERIAL_RELATIVE`] of the configured value, with at
//! least [`MIN_FILLS`] fills.

use super::ParityError;
use crate::live::cycle::policy_of;
use crate::live::records::{status, Records, StoredPlan};
use crate::live::LiveService;
use crate::store::Store;
use app::api::{
    AttributionDay, AttributionParts, CostCalibration, GapAttribution, ShadowComparison, ShadowDay,
};
use shared::backtest::{self, BacktestSettings};
use shared::{Day, Field, Panel};
use sqlx::Row;
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;

/// A cost assumption differs materially when it is off by more than this many bps …
pub const MATERIAL_BPS: f64 = 1.0;
/// … and by more than this fraction of the configured value.
pub const MATERIAL_RELATIVE: f64 = 0.2;
/// Fewer fills than this make no suggestion.
pub const MIN_FILLS: usize = 10;

/// Part indices, in [`AttributionParts`] order.
pub mod part {
    pub const SKIPPED: usize = 0;
    pub const SLIPPAGE: usize = 1;
    pub const FEES: usize = 2;
    pub const FUNDING: usize = 3;
    pub const OTHER: usize = 4;
    pub const UNEXPLAINED: usize = 5;
    pub const COUNT: usize = 6;
}
use part::COUNT as NB;

/// Amounts per part.
pub type Parts = [f64; NB];

/// One live fill.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveFill {
    pub symbol: String,
    pub units: f64,
    pub price: f64,
    pub fee: f64,
}

/// One plan line, as the attribution needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveLine {
    /// `buy`/`sell` (sent or dropped): the plan traded the symbol; `hold`: the threshold kept it.
    pub traded: bool,
    /// The blended target weight of the plan (0 when the symbol has no line).
    pub target_weight: f64,
    /// Units held when the plan was made.
    pub current_units: f64,
    /// The position the plan wanted (`I`).
    pub intended_units: f64,
    /// Units of the order sent (0 when dropped or held).
    pub order_units: f64,
}

/// A live snapshot: equity and positions (units, mark).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveSnapshot {
    pub equity: f64,
    pub positions: BTreeMap<String, (f64, f64)>,
}

/// What the live account did on one data day.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveDay {
    pub day: Day,
    /// The last snapshot of the day (after its execution); `None`: no snapshot.
    pub end: Option<LiveSnapshot>,
    /// Lines of the day's executed plans (several plans: the last plan's line per symbol, with
    /// the order units summed and the first plan's current units).
    pub lines: BTreeMap<String, LiveLine>,
    /// Whether any plan executed for the day.
    pub executed: bool,
    pub fills: Vec<LiveFill>,
    /// Funding the venue charged for the day (`None`: the broker does not report it).
    pub funding_paid: Option<f64>,
}

/// Everything the attribution is computed from (pure: no store).
pub struct Inputs<'a> {
    /// Today's panel.
    pub panel: &'a Panel,
    /// The shadow backtest over exactly the days of `live`.
    pub shadow: &'a backtest::BacktestResult,
    /// Consecutive days, the first one's `end` present.
    pub live: &'a [LiveDay],
    /// Equity and positions before the first day's trades.
    pub start: &'a LiveSnapshot,
    pub fee_bps: f64,
    pub slippage_bps: f64,
}

/// One day of the attribution with its direct amounts separated.
#[derive(Clone, Debug, PartialEq)]
pub struct DayDetail {
    pub day: Day,
    pub live_pnl: f64,
    pub shadow_pnl: f64,
    /// Everything per part (sums to `total`).
    pub parts: Parts,
    /// The direct amounts only (step 1 of the method; `unexplained` is the residual).
    pub direct: Parts,
    pub total: f64,
    /// Live equity (snapshot, or reconstructed when `None` in the records) and shadow NAV.
    pub live_equity: f64,
    pub shadow_equity: f64,
}

/// The marks the simulator would use: the last finite, positive close up to each row.
fn marks_at(panel: &Panel, row: usize) -> Vec<f64> {
    (0..panel.n_assets())
        .map(|a| {
            let s = panel.series(Field::Close, a);
            s[..=row]
                .iter()
                .rev()
                .find(|c| c.is_finite() && **c > 0.0)
                .copied()
                .unwrap_or(f64::NAN)
        })
        .collect()
}

fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

fn positions_vec(panel: &Panel, s: &LiveSnapshot) -> Vec<f64> {
    let mut v = vec![0.0; panel.n_assets()];
    for (sym, (u, _)) in &s.positions {
        if let Some(a) = panel.asset_index(sym) {
            v[a] = *u;
        }
    }
    v
}

/// `ρ`: the snapshot valued at its own marks minus at today's closes.
fn revaluation(panel: &Panel, s: &LiveSnapshot, close: &[f64]) -> f64 {
    s.positions
        .iter()
        .filter_map(|(sym, (u, m))| {
            let a = panel.asset_index(sym)?;
            let d = u * (m - close[a]);
            d.is_finite().then_some(d)
        })
        .sum()
}

/// The attribution, day by day (see the module docs for the method).
///
/// # Errors
/// [`ParityError::BadRequest`] when the shadow and the live days do not line up.
pub fn attribute(inp: &Inputs<'_>) -> Result<Vec<DayDetail>, ParityError> {
    let panel = inp.panel;
    let n = panel.n_assets();
    let (fee_m, slip_m) = (inp.fee_bps / 10_000.0, inp.slippage_bps / 10_000.0);
    let rate = fee_m + slip_m;
    if inp.shadow.equity.len() != inp.live.len() {
        return Err(ParityError::BadRequest(format!(
            "shadow has {} days, live {}",
            inp.shadow.equity.len(),
            inp.live.len()
        )));
    }
    // Shadow trades per day: (Δunits, fee) per asset.
    let mut shadow_trades: BTreeMap<Day, Vec<(usize, f64, f64)>> = BTreeMap::new();
    for tr in &inp.shadow.trades {
        let a = panel.asset_index(&tr.symbol).ok_or_else(|| {
            ParityError::BadRequest(format!("shadow traded {} which the panel lacks", tr.symbol))
        })?;
        shadow_trades
            .entry(tr.date)
            .or_default()
            .push((a, tr.units, tr.fee));
    }

    // Shadow targets decided at each close: asset → weight (non-zero only).
    let mut shadow_targets: BTreeMap<Day, BTreeMap<usize, f64>> = BTreeMap::new();
    for w in &inp.shadow.targets {
        if let Some(a) = panel.asset_index(&w.symbol) {
            shadow_targets
                .entry(w.date)
                .or_default()
                .insert(a, w.weight);
        }
    }
    let e_start = inp.start.equity;
    let mut s_units = vec![0.0; n];
    let mut l_units = positions_vec(panel, inp.start);
    let mut v = vec![vec![0.0; n]; NB];
    v[part::OTHER].clone_from(&l_units);
    let mut cum: Parts = [0.0; NB];
    let (mut e_prev, mut n_prev) = (e_start, e_start);
    let mut prev_close: Vec<f64> = Vec::new();
    let mut rho_prev = 0.0;
    let mut out = Vec::with_capacity(inp.live.len());

    for (i, day) in inp.live.iter().enumerate() {
        let point = &inp.shadow.equity[i];
        if point.date != day.day {
            return Err(ParityError::BadRequest(format!(
                "shadow day {} does not match live day {}",
                point.date, day.day
            )));
        }
        let row = panel.row_of(day.day).ok_or_else(|| {
            ParityError::BadRequest(format!("day {} is not in the panel", day.day))
        })?;
        let close = marks_at(panel, row);
        if i == 0 {
            rho_prev = revaluation(panel, inp.start, &close);
        }
        let mut parts: Parts = [0.0; NB];
        let mut direct: Parts = [0.0; NB];

        // --- Phase A: holding over (close t−1, close t] (not on the first day) ---------------
        if i > 0 {
            let mut modelled_funding = 0.0;
            for a in 0..n {
                let rate_a = finite_or_zero(panel.get(Field::FundingRate, a, row));
                let g = close[a] - prev_close[a] - close[a] * rate_a;
                if l_units[a] != 0.0 && close[a].is_finite() {
                    modelled_funding += l_units[a] * close[a] * rate_a;
                }
                if !g.is_finite() {
                    continue;
                }
                for b in 0..NB {
                    if v[b][a] != 0.0 {
                        parts[b] += v[b][a] * g;
                    }
                }
            }
            let paid = day.funding_paid.unwrap_or(modelled_funding);
            direct[part::FUNDING] = modelled_funding - paid;
            parts[part::FUNDING] += direct[part::FUNDING];
        }

        // --- Shadow and scale ------------------------------------------------------------------
        let trades = shadow_trades
            .get(&day.day)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let no_targets = BTreeMap::new();
        let targets_today = shadow_targets.get(&day.day).unwrap_or(&no_targets);
        let mut ds = vec![0.0; n];
        let mut cost_s = vec![0.0; n];
        for &(a, u, fee) in trades {
            ds[a] += u;
            cost_s[a] += fee;
        }
        let n_t = point.nav;
        let n_pre = n_t + cost_s.iter().sum::<f64>();
        let mut sigma: Parts = [0.0; NB];
        let mut k = 1.0;
        if n_pre > 0.0 {
            for b in 0..NB {
                sigma[b] = (cum[b] + parts[b]) / n_pre;
                k += sigma[b];
            }
        }
        for a in 0..n {
            s_units[a] += ds[a];
        }

        // --- Live fills: direct slippage and fees, modelled cost per asset --------------------
        let mut fills = vec![0.0; n];
        let mut cost_l = vec![0.0; n];
        for f in &day.fills {
            let Some(a) = panel.asset_index(&f.symbol) else {
                continue; // valued nowhere: its effect is unexplained
            };
            let c = close[a];
            if !c.is_finite() {
                continue;
            }
            fills[a] += f.units;
            cost_l[a] += rate * f.units.abs() * c;
            direct[part::SLIPPAGE] += slip_m * f.units.abs() * c - f.units * (f.price - c);
            direct[part::FEES] += fee_m * f.units.abs() * c - f.fee;
        }
        parts[part::SLIPPAGE] += direct[part::SLIPPAGE];
        parts[part::FEES] += direct[part::FEES];

        // --- Live positions after the day ------------------------------------------------------
        let l_prev = l_units.clone();
        match &day.end {
            Some(s) => l_units = positions_vec(panel, s),
            None => {
                for a in 0..n {
                    l_units[a] += fills[a];
                }
            }
        }
        let rho = match &day.end {
            Some(s) => revaluation(panel, s, &close),
            None => 0.0,
        };
        direct[part::OTHER] = rho - rho_prev;
        parts[part::OTHER] += direct[part::OTHER];
        rho_prev = rho;

        // --- Phase B: split the new position differences, and the cost of changing them -------
        for a in 0..n {
            let busy = ds[a] != 0.0
                || s_units[a] != 0.0
                || l_units[a] != 0.0
                || l_prev[a] != 0.0
                || fills[a] != 0.0
                || (0..NB).any(|b| v[b][a] != 0.0);
            if !busy {
                continue;
            }
            let old: Vec<f64> = (0..NB).map(|b| v[b][a]).collect();
            let sym = &panel.symbols()[a];
            // The live plan's target equals the shadow's (the kernels agree bit for bit on the
            // same data; a difference means revised data or another config).
            let same_target = |w: f64, a: usize| {
                let s = targets_today.get(&a).copied().unwrap_or(0.0);
                (w - s).abs() <= 1e-12 + 1e-9 * s.abs()
            };
            let line = day.lines.get(sym);
            match line {
                Some(l) if l.traded => {
                    let p = l.order_units;
                    let intended = l.intended_units;
                    let cur = l.current_units;
                    for b in 0..NB {
                        v[b][a] = sigma[b] * s_units[a];
                    }
                    let gap_to_shadow = intended - k * s_units[a];
                    v[part::SKIPPED][a] += (cur + p) - intended;
                    v[part::OTHER][a] += (fills[a] - p) + (l_units[a] - fills[a] - cur);
                    let to = if ds[a] != 0.0 || !same_target(l.target_weight, a) {
                        part::OTHER
                    } else {
                        part::SKIPPED
                    };
                    v[to][a] += gap_to_shadow;
                }
                None if day.executed => {
                    // The plan neither held nor targeted the symbol (live target 0, nothing
                    // held): whatever the shadow holds of it is a difference of targets.
                    for b in 0..NB {
                        v[b][a] = sigma[b] * s_units[a];
                    }
                    v[part::OTHER][a] += l_units[a] - k * s_units[a];
                }
                _ => {
                    for b in 0..NB {
                        v[b][a] += sigma[b] * ds[a];
                    }
                    let to = match line {
                        Some(l) if same_target(l.target_weight, a) => part::SKIPPED,
                        _ => part::OTHER,
                    };
                    v[to][a] -= k * ds[a];
                    v[part::OTHER][a] += l_units[a] - l_prev[a];
                }
            }
            let dcost = -(cost_l[a] - cost_s[a]);
            if dcost != 0.0 {
                let delta: f64 = (0..NB).map(|b| v[b][a] - old[b]).sum();
                let scale = (l_units[a] - l_prev[a]).abs().max(ds[a].abs());
                if delta.abs() > 1e-9 * scale && delta != 0.0 {
                    for b in 0..NB {
                        let dv = v[b][a] - old[b];
                        if dv != 0.0 {
                            parts[b] += dcost * dv / delta;
                        }
                    }
                } else {
                    parts[part::UNEXPLAINED] += dcost;
                }
            }
        }

        // --- Totals ----------------------------------------------------------------------------
        let explained: f64 = parts.iter().sum();
        let shadow_pnl = n_t - n_prev;
        let e_t = match &day.end {
            Some(s) => s.equity,
            // No snapshot: the live equity as the parts reconstruct it.
            None => e_prev + shadow_pnl + explained,
        };
        let live_pnl = e_t - e_prev;
        let total = live_pnl - shadow_pnl;
        let residual = total - explained;
        parts[part::UNEXPLAINED] += residual;
        direct[part::UNEXPLAINED] = residual;
        for b in 0..NB {
            cum[b] += parts[b];
        }
        out.push(DayDetail {
            day: day.day,
            live_pnl,
            shadow_pnl,
            parts,
            direct,
            total,
            live_equity: e_t,
            shadow_equity: n_t,
        });
        e_prev = e_t;
        n_prev = n_t;
        prev_close = close;
    }
    Ok(out)
}

fn api_parts(p: &Parts, total: f64) -> AttributionParts {
    AttributionParts {
        skipped: p[part::SKIPPED],
        slippage: p[part::SLIPPAGE],
        fees: p[part::FEES],
        funding: p[part::FUNDING],
        other: p[part::OTHER],
        unexplained: p[part::UNEXPLAINED],
        total,
    }
}

/// The API view of [`attribute`]'s days.
pub fn gap_attribution(days: &[DayDetail]) -> GapAttribution {
    let mut cum: Parts = [0.0; NB];
    let mut cum_total = 0.0;
    let mut out = Vec::with_capacity(days.len());
    for d in days {
        for (c, x) in cum.iter_mut().zip(&d.parts) {
            *c += x;
        }
        cum_total += d.total;
        out.push(AttributionDay {
            day: d.day.to_string(),
            live_pnl: d.live_pnl,
            shadow_pnl: d.shadow_pnl,
            parts: api_parts(&d.parts, d.total),
            cumulative: api_parts(&cum, cum_total),
        });
    }
    GapAttribution {
        days: out,
        total: api_parts(&cum, cum_total),
    }
}

/// Implied costs of `fills` (each with its reference close) against the configured ones.
pub fn calibrate(fills: &[(LiveFill, f64)], fee_bps: f64, slippage_bps: f64) -> CostCalibration {
    let mut notional = 0.0;
    let mut fees = 0.0;
    let mut slip = 0.0;
    let mut count = 0;
    for (f, c) in fills {
        if !(c.is_finite() && *c > 0.0) || f.units == 0.0 {
            continue;
        }
        count += 1;
        notional += f.units.abs() * c;
        fees += f.fee;
        slip += f.units * (f.price - c);
    }
    let (implied_fee, implied_slip) = if notional > 0.0 {
        (
            Some(fees / notional * 10_000.0),
            Some(slip / notional * 10_000.0),
        )
    } else {
        (None, None)
    };
    let material = |implied: f64, configured: f64| {
        let d = (implied - configured).abs();
        d > MATERIAL_BPS && d > MATERIAL_RELATIVE * configured.abs()
    };
    let mut advice = Vec::new();
    if count >= MIN_FILLS {
        if let Some(f) = implied_fee.filter(|f| material(*f, fee_bps)) {
            advice.push(format!(
                "set rebalance.fee_bps to {f:.2} (live fills paid {f:.2} bps, the backtest assumes {fee_bps})"
            ));
        }
        if let Some(s) = implied_slip.filter(|s| material(*s, slippage_bps)) {
            advice.push(format!(
                "set rebalance.slippage_bps to {:.2} (live fills were {s:.2} bps from the close, the backtest assumes {slippage_bps})",
                s.max(0.0)
            ));
        }
    }
    CostCalibration {
        fills: count,
        traded_notional: notional,
        configured_fee_bps: fee_bps,
        configured_slippage_bps: slippage_bps,
        implied_fee_bps: implied_fee,
        implied_slippage_bps: implied_slip,
        suggestion: (!advice.is_empty()).then(|| {
            format!(
                "{} — measured over {count} fills, ${notional:.0} traded; suggested when off by more than {MATERIAL_BPS} bp and {:.0}% of the assumption",
                advice.join("; "),
                MATERIAL_RELATIVE * 100.0
            )
        }),
    }
}

/// Snapshots of `broker` taken in `[from_ms, to_ms)`: at → (equity, positions).
async fn snapshots(
    store: &Store,
    broker: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<BTreeMap<i64, LiveSnapshot>, ParityError> {
    let map_err = |e: sqlx::Error| ParityError::Store(crate::store::StoreError::Sqlx(e));
    let rows = sqlx::query(
        "SELECT at, equity FROM equity_snapshots WHERE broker = $1 AND at >= $2 AND at < $3 ORDER BY at",
    )
    .bind(broker.to_string())
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(store.pool())
    .await
    .map_err(map_err)?;
    let mut out = BTreeMap::new();
    for r in &rows {
        let at: i64 = r.try_get(0).map_err(map_err)?;
        out.insert(
            at,
            LiveSnapshot {
                equity: r.try_get(1).map_err(map_err)?,
                positions: BTreeMap::new(),
            },
        );
    }
    let rows = sqlx::query(
        "SELECT at, symbol, units, mark_price FROM position_snapshots WHERE broker = $1 AND at >= $2 AND at < $3",
    )
    .bind(broker.to_string())
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(store.pool())
    .await
    .map_err(map_err)?;
    for r in &rows {
        let at: i64 = r.try_get(0).map_err(map_err)?;
        if let Some(s) = out.get_mut(&at) {
            s.positions.insert(
                r.try_get(1).map_err(map_err)?,
                (
                    r.try_get(2).map_err(map_err)?,
                    r.try_get(3).map_err(map_err)?,
                ),
            );
        }
    }
    Ok(out)
}

/// The data day a snapshot taken at `at` shows: the last complete day then.
fn data_day_of(at: i64) -> Day {
    Day(at.div_euclid(DAY_MS) as i32 - 1)
}

/// Per symbol: the day's lines of the executed `plans` (oldest first), combined.
fn day_lines(plans: &[&StoredPlan]) -> BTreeMap<String, LiveLine> {
    let mut out: BTreeMap<String, LiveLine> = BTreeMap::new();
    for p in plans {
        for l in &p.body.lines {
            let traded = l.action != "hold";
            let intended = if !traded {
                l.current_units
            } else if l.new_weight == 0.0 {
                0.0
            } else if l.mark_price > 0.0 {
                l.new_weight * p.equity / l.mark_price
            } else {
                l.current_units // no price: nothing can trade
            };
            let order: f64 = p
                .body
                .orders
                .iter()
                .filter(|o| o.symbol == l.symbol)
                .map(|o| o.units)
                .sum();
            match out.get_mut(&l.symbol) {
                Some(prev) => {
                    prev.order_units += order;
                    prev.target_weight = l.target_weight;
                    if traded {
                        prev.traded = true;
                        prev.intended_units = intended;
                    }
                }
                None => {
                    out.insert(
                        l.symbol.clone(),
                        LiveLine {
                            traded,
                            target_weight: l.target_weight,
                            current_units: l.current_units,
                            intended_units: intended,
                            order_units: order,
                        },
                    );
                }
            }
        }
    }
    out
}

/// The shadow backtest, the gap attribution and the cost calibration of the live account of
/// `live` over `[from, to]` (see the module docs). `panel` is today's full panel of `store`.
///
/// # Errors
/// A bad range; the store failing; the live config not backtesting.
pub async fn shadow_and_gaps(
    store: &Store,
    live: &LiveService,
    panel: &Panel,
    from: Day,
    to: Day,
) -> Result<(ShadowComparison, GapAttribution, CostCalibration), ParityError> {
    let detail = shadow_detail(store, live, panel, from, to).await?;
    Ok((detail.shadow, gap_attribution(&detail.days), detail.costs))
}

/// Everything [`shadow_and_gaps`] computes, with the per-day direct amounts.
pub struct ShadowDetail {
    pub shadow: ShadowComparison,
    pub days: Vec<DayDetail>,
    pub costs: CostCalibration,
}

/// [`shadow_and_gaps`] with the per-day detail (tests, diagnostics).
///
/// # Errors
/// As [`shadow_and_gaps`].
pub async fn shadow_detail(
    store: &Store,
    live: &LiveService,
    panel: &Panel,
    from: Day,
    to: Day,
) -> Result<ShadowDetail, ParityError> {
    if from > to {
        return Err(ParityError::BadRequest(format!(
            "the period {from}..{to} is empty"
        )));
    }
    if panel.n_days() == 0 {
        return Err(ParityError::NoData);
    }
    let config = live.config();
    let policy = policy_of(config);
    let (fee_bps, slippage_bps) = (config.rebalance.fee_bps, config.rebalance.slippage_bps);
    let broker = live.broker().name();
    let to = Day(to.0.min(panel.end().0));
    let from = Day(from.0.max(panel.start().0));
    let empty = |start_equity: f64| ShadowDetail {
        shadow: ShadowComparison {
            policy: policy.to_string(),
            start_equity,
            days: Vec::new(),
            live_return: 0.0,
            shadow_return: 0.0,
        },
        days: Vec::new(),
        costs: calibrate(&[], fee_bps, slippage_bps),
    };
    if from > to {
        return Ok(empty(0.0));
    }

    // Snapshots by data day: first (before trading) and last (after).
    let snaps = snapshots(
        store,
        broker,
        (from.0 as i64 + 1) * DAY_MS,
        (to.0 as i64 + 2) * DAY_MS,
    )
    .await?;
    let mut by_day: BTreeMap<Day, (LiveSnapshot, LiveSnapshot)> = BTreeMap::new();
    for (at, s) in snaps {
        let d = data_day_of(at);
        by_day
            .entry(d)
            .and_modify(|e| e.1 = s.clone())
            .or_insert_with(|| (s.clone(), s));
    }
    let (Some(&first), Some(&last)) = (by_day.keys().next(), by_day.keys().next_back()) else {
        return Ok(empty(0.0));
    };
    // Executed plans of the period, by data day.
    let rec = Records { store };
    let plans = rec
        .plans_in(&[status::DONE, status::PARTIALLY_FAILED, status::EXECUTING])
        .await?;
    // Before the first day's trades: what the first executed plan sized on (its equity and
    // lines), else the day's first snapshot.
    let start = plans
        .iter()
        .filter(|p| p.broker == broker && p.data_day == first)
        .min_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
        .map(|p| LiveSnapshot {
            equity: p.equity,
            positions: p
                .body
                .lines
                .iter()
                .filter(|l| l.current_units != 0.0)
                .map(|l| (l.symbol.clone(), (l.current_units, l.mark_price)))
                .collect(),
        })
        .unwrap_or_else(|| by_day[&first].0.clone());
    if start.equity.is_nan() || start.equity <= 0.0 {
        return Err(ParityError::BadRequest(format!(
            "the live equity at the start ({first}) is {}: nothing to compare",
            start.equity
        )));
    }

    let mut plans_by_day: BTreeMap<Day, Vec<&StoredPlan>> = BTreeMap::new();
    for p in &plans {
        if p.broker == broker && p.data_day >= first && p.data_day <= last {
            plans_by_day.entry(p.data_day).or_default().push(p);
        }
    }
    let map_err = |e: sqlx::Error| ParityError::Store(crate::store::StoreError::Sqlx(e));
    let mut fills_by_plan: BTreeMap<String, Vec<LiveFill>> = BTreeMap::new();
    let rows = sqlx::query(
        "SELECT plan_id, symbol, units, price, fee FROM live_fills WHERE broker = $1 AND at >= $2 ORDER BY at, id",
    )
    .bind(broker.to_string())
    .bind((first.0 as i64 + 1) * DAY_MS)
    .fetch_all(store.pool())
    .await
    .map_err(map_err)?;
    for r in &rows {
        fills_by_plan
            .entry(r.try_get(0).map_err(map_err)?)
            .or_default()
            .push(LiveFill {
                symbol: r.try_get(1).map_err(map_err)?,
                units: r.try_get(2).map_err(map_err)?,
                price: r.try_get(3).map_err(map_err)?,
                fee: r.try_get(4).map_err(map_err)?,
            });
    }
    let mut funding: BTreeMap<Day, f64> = BTreeMap::new();
    let paper = broker == "paper";
    if paper {
        let rows = sqlx::query(
            "SELECT day, amount FROM paper_funding WHERE account = $1 AND day >= $2 AND day <= $3",
        )
        .bind(live.settings.paper.account.clone())
        .bind(first.0 as i64)
        .bind(last.0 as i64)
        .fetch_all(store.pool())
        .await
        .map_err(map_err)?;
        for r in &rows {
            let d = Day(r.try_get::<i64, _>(0).map_err(map_err)? as i32);
            *funding.entry(d).or_default() += r.try_get::<f64, _>(1).map_err(map_err)?;
        }
    }

    let mut days = Vec::new();
    let mut calib = Vec::new();
    for d in first.0..=last.0 {
        let day = Day(d);
        let mut plans = plans_by_day.get(&day).cloned().unwrap_or_default();
        plans.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut fills = Vec::new();
        for p in &plans {
            fills.extend(fills_by_plan.get(&p.id).cloned().unwrap_or_default());
        }
        if let Some(row) = panel.row_of(day) {
            for f in &fills {
                let c = panel
                    .asset_index(&f.symbol)
                    .map_or(f64::NAN, |a| panel.get(Field::Close, a, row));
                calib.push((f.clone(), c));
            }
        }
        days.push(LiveDay {
            day,
            end: by_day.get(&day).map(|s| s.1.clone()),
            lines: day_lines(&plans),
            executed: !plans.is_empty(),
            fills,
            funding_paid: if paper {
                Some(funding.get(&day).copied().unwrap_or(0.0))
            } else {
                None
            },
        });
    }

    let settings = BacktestSettings {
        start: Some(first),
        end: Some(last),
        policy: Some(policy),
        costs: None,
        stale_days: None,
        initial_nav: start.equity,
    };
    let result = backtest::run(panel, config, &settings)
        .map_err(|e| ParityError::Config(format!("shadow backtest: {e}")))?;
    let detail = attribute(&Inputs {
        panel,
        shadow: &result,
        live: &days,
        start: &start,
        fee_bps,
        slippage_bps,
    })?;
    let shadow_days: Vec<ShadowDay> = detail
        .iter()
        .zip(&days)
        .map(|(d, l)| ShadowDay {
            day: d.day.to_string(),
            live_equity: l.end.as_ref().map(|s| s.equity),
            shadow_equity: d.shadow_equity,
        })
        .collect();
    let live_end = days
        .iter()
        .rev()
        .find_map(|l| l.end.as_ref().map(|s| s.equity))
        .unwrap_or(start.equity);
    let shadow_end = detail.last().map_or(start.equity, |d| d.shadow_equity);
    Ok(ShadowDetail {
        shadow: ShadowComparison {
            policy: policy.to_string(),
            start_equity: start.equity,
            days: shadow_days,
            live_return: live_end / start.equity - 1.0,
            shadow_return: shadow_end / start.equity - 1.0,
        },
        days: detail,
        costs: calibrate(&calib, fee_bps, slippage_bps),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::config::Config;
    use shared::synth::{generate, SynthConfig};

    /// The shadow of the shipped config over the last 40 days of a synthetic market, and a
    /// live account that made exactly the shadow's trades, paying `extra_bps` more slippage
    /// than modelled on each (with the same units, so its equity lags by exactly that).
    fn mirror(extra_bps: f64) -> (Panel, backtest::BacktestResult, Vec<LiveDay>, f64) {
        let panel = generate(&SynthConfig {
            seed: 3,
            n_assets: 25,
            n_days: 300,
            start: Day(19_000),
        })
        .unwrap();
        let mut config = Config::lockstep_default().unwrap();
        config.rebalance.slippage_bps = 5.0;
        let (first, last) = (panel.day(260), panel.day(299));
        let settings = BacktestSettings {
            start: Some(first),
            end: Some(last),
            policy: Some(policy_of(&config)),
            initial_nav: 100_000.0,
            ..BacktestSettings::default()
        };
        let shadow = backtest::run(&panel, &config, &settings).unwrap();
        let (fee_m, slip_m) = (10.0 / 1e4, 5.0 / 1e4);
        let mut units = vec![0.0; panel.n_assets()];
        let mut marks = vec![f64::NAN; panel.n_assets()];
        let mut extra_total = 0.0;
        let mut days = Vec::new();
        for (i, point) in shadow.equity.iter().enumerate() {
            let row = panel.row_of(point.date).unwrap();
            let close = marks_at(&panel, row);
            let mut funding = 0.0;
            if i > 0 {
                for a in 0..panel.n_assets() {
                    let r = panel.get(Field::FundingRate, a, row);
                    if units[a] != 0.0 && r.is_finite() {
                        funding += units[a] * close[a] * r;
                    }
                }
            }
            let mut lines = BTreeMap::new();
            let mut fills = Vec::new();
            let target = |sym: &str| {
                shadow
                    .targets
                    .iter()
                    .find(|w| w.date == point.date && w.symbol == sym)
                    .map_or(0.0, |w| w.weight)
            };
            for tr in shadow.trades.iter().filter(|t| t.date == point.date) {
                let a = panel.asset_index(&tr.symbol).unwrap();
                let c = tr.price;
                let side = tr.units.signum();
                let price = c * (1.0 + side * (slip_m + extra_bps / 1e4));
                extra_total += tr.units.abs() * c * extra_bps / 1e4;
                fills.push(LiveFill {
                    symbol: tr.symbol.clone(),
                    units: tr.units,
                    price,
                    fee: fee_m * tr.units.abs() * c,
                });
                lines.insert(
                    tr.symbol.clone(),
                    LiveLine {
                        traded: true,
                        target_weight: target(&tr.symbol),
                        current_units: units[a],
                        intended_units: units[a] + tr.units,
                        order_units: tr.units,
                    },
                );
                units[a] += tr.units;
                marks[a] = c;
            }
            for (a, s) in panel.symbols().iter().enumerate() {
                if units[a] != 0.0 {
                    marks[a] = close[a];
                    lines.entry(s.clone()).or_insert(LiveLine {
                        traded: false,
                        target_weight: target(s),
                        current_units: units[a],
                        intended_units: units[a],
                        order_units: 0.0,
                    });
                }
            }
            let positions = panel
                .symbols()
                .iter()
                .enumerate()
                .filter(|(a, _)| units[*a] != 0.0)
                .map(|(a, s)| (s.clone(), (units[a], marks[a])))
                .collect();
            days.push(LiveDay {
                day: point.date,
                end: Some(LiveSnapshot {
                    equity: point.nav - extra_total,
                    positions,
                }),
                lines,
                executed: true,
                fills,
                funding_paid: Some(funding),
            });
        }
        (panel, shadow, days, extra_total)
    }

    fn run(extra_bps: f64) -> (Vec<DayDetail>, f64) {
        let (panel, shadow, days, extra) = mirror(extra_bps);
        let start = LiveSnapshot {
            equity: 100_000.0,
            positions: BTreeMap::new(),
        };
        let detail = attribute(&Inputs {
            panel: &panel,
            shadow: &shadow,
            live: &days,
            start: &start,
            fee_bps: 10.0,
            slippage_bps: 5.0,
        })
        .unwrap();
        (detail, extra)
    }

    #[test]
    fn a_live_book_that_is_the_shadow_has_no_gap() {
        let (detail, _) = run(0.0);
        assert_eq!(detail.len(), 40);
        for d in &detail {
            assert!(d.total.abs() < 1e-6, "{}: total {}", d.day, d.total);
            for (b, p) in d.parts.iter().enumerate() {
                assert!(p.abs() < 1e-6, "{}: part {b} = {p}", d.day);
            }
        }
    }

    #[test]
    fn extra_slippage_is_slippage_and_the_parts_add_up() {
        let (detail, extra) = run(7.0);
        assert!(extra > 10.0, "the shadow trades: {extra}");
        let direct: f64 = detail.iter().map(|d| d.direct[part::SLIPPAGE]).sum();
        assert!((direct + extra).abs() < 1e-6, "{direct} vs -{extra}");
        let mut cum: Parts = [0.0; NB];
        for d in &detail {
            let sum: f64 = d.parts.iter().sum();
            assert!((sum - d.total).abs() < 1e-9, "{}", d.day);
            assert!(d.parts[part::UNEXPLAINED].abs() < 1e-6, "{}", d.day);
            assert!(d.parts[part::FEES].abs() < 1e-6 && d.parts[part::FUNDING].abs() < 1e-6);
            for (c, x) in cum.iter_mut().zip(&d.parts) {
                *c += x;
            }
        }
        // The live book kept the shadow's units although its equity lagged: the money
        // slippage cost is still invested, so slippage (its carry) and other (the position
        // the plan did not scale down) offset each other exactly.
        let total: f64 = detail.iter().map(|d| d.total).sum();
        assert!((total + extra).abs() < 1e-6, "{total}");
        assert!(
            (cum[part::SLIPPAGE] + cum[part::OTHER] + extra).abs() < 1e-6,
            "{cum:?}"
        );
        assert!(cum[part::SKIPPED].abs() < 1e-6, "{cum:?}");
    }

    #[test]
    fn calibration_suggests_only_material_differences() {
        let fill = |units: f64, price: f64, fee: f64| {
            (
                LiveFill {
                    symbol: "X".into(),
                    units,
                    price,
                    fee,
                },
                100.0,
            )
        };
        // 12 fills of $1,000: fees 10 bps, buys 15 bps above and sells 15 bps below the close.
        let fills: Vec<_> = (0..12)
            .map(|i| {
                let u = if i % 2 == 0 { 10.0 } else { -10.0 };
                fill(u, 100.0 * (1.0 + u.signum() * 0.0015), 1.0)
            })
            .collect();
        let c = calibrate(&fills, 10.0, 0.0);
        assert_eq!(c.fills, 12);
        assert!((c.traded_notional - 12_000.0).abs() < 1e-9);
        assert!((c.implied_fee_bps.unwrap() - 10.0).abs() < 1e-9);
        assert!((c.implied_slippage_bps.unwrap() - 15.0).abs() < 1e-9);
        let s = c.suggestion.unwrap();
        assert!(
            s.contains("slippage_bps to 15.00") && !s.contains("fee_bps to"),
            "{s}"
        );
        // Within the threshold: no suggestion; too few fills: none either.
        assert!(calibrate(&fills, 10.5, 14.5).suggestion.is_none());
        assert!(calibrate(&fills[..5], 10.0, 0.0).suggestion.is_none());
        assert!(calibrate(&[], 10.0, 0.0).implied_fee_bps.is_none());
    }
}
