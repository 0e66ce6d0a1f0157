//! The gap attribution of the consistency report: live − shadow P&L per day and per symbol,
//! split into its causes. Pure: the inputs come from [`super::shadow`].
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
//!      actually held minus the funding the broker recorded ([`crate::broker::Broker::funding_paid`]:
//!      the paper account's charges, the Hyperliquid account's own `userFunding` payments
//!      summed per UTC day; a broker that records none counts as paying the model, and any
//!      difference lands in `unexplained`).
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
//! # Per symbol
//! Every amount above belongs to one asset (a fill's, a position's, a funding payment's), so
//! the period's parts are also summed per symbol: for skipped, slippage, fees, funding and
//! other the symbols' amounts add up to the period's. Funding a broker recorded only as a
//! day's total (paper days from before the split was kept) is divided in proportion to the
//! modelled funding. `unexplained` is the residual of the day and has no symbol, except the
//! cost of a trade difference too small to divide (step 2).
//!
//! # How a data revision shows up
//! The shadow always runs on today's store. A close revised after a plan used it moves:
//! the fills of that day against the revised close (`slippage`: `u·(c_old − c_new)` on top of
//! the modelled slippage), the live snapshot valued at the old close (`other`, `ρ`, reversed the
//! next day), the funding charged at the old close (`funding`, tiny), and targets the revision
//! changed (`other`, via `I − k·S`, until the live book trades the symbol again). The revision
//! itself is listed by the signal parity (which fields, by how much).
//!

use super::ParityError;
use crate::broker::FundingPaid;
pub use crate::live::records::AccountSnapshot;
use app::api::{AttributionDay, AttributionParts, GapAttribution, SymbolAttribution};
use shared::backtest;
use shared::{Day, Field, Panel};
use std::collections::BTreeMap;

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

/// What the live account did on one data day.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveDay {
    pub day: Day,
    /// The last snapshot of the day (after its execution); `None`: no snapshot.
    pub end: Option<AccountSnapshot>,
    /// Lines of the day's executed plans (several plans: the last plan's line per symbol, with
    /// the order units summed and the first plan's current units).
    pub lines: BTreeMap<String, LiveLine>,
    /// Whether any plan executed for the day.
    pub executed: bool,
    pub fills: Vec<LiveFill>,
    /// Funding the venue charged for the day (`None`: the broker does not report it).
    pub funding_paid: Option<FundingPaid>,
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
    pub start: &'a AccountSnapshot,
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

/// The attribution of a period: per day, and per symbol over the period.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribution {
    pub days: Vec<DayDetail>,
    /// Symbol → its parts summed over the period (only symbols with a non-zero part).
    pub symbols: BTreeMap<String, Parts>,
}

/// Where funding recorded without a symbol goes when nothing modelled can carry it.
pub const NO_SYMBOL: &str = "(no symbol)";

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

fn positions_vec(panel: &Panel, s: &AccountSnapshot) -> Vec<f64> {
    let mut v = vec![0.0; panel.n_assets()];
    for (sym, (u, _)) in &s.positions {
        if let Some(a) = panel.asset_index(sym) {
            v[a] = *u;
        }
    }
    v
}

/// `ρ`: the snapshot valued at its own marks minus at today's closes, in total and per asset.
fn revaluation(panel: &Panel, s: &AccountSnapshot, close: &[f64]) -> (f64, Vec<f64>) {
    let mut by_asset = vec![0.0; panel.n_assets()];
    let mut total = 0.0;
    for (sym, (u, m)) in &s.positions {
        let Some(a) = panel.asset_index(sym) else {
            continue;
        };
        let d = u * (m - close[a]);
        if d.is_finite() {
            total += d;
            by_asset[a] += d;
        }
    }
    (total, by_asset)
}

/// The direct funding amounts of a day per symbol: the model's funding `modelled[a]` on the
/// positions held minus what the broker recorded. Added to `by_asset` (panel symbols) and
/// `others` (symbols the panel lacks, or [`NO_SYMBOL`]).
fn funding_by_symbol(
    panel: &Panel,
    modelled: &[f64],
    paid: &FundingPaid,
    by_asset: &mut [Parts],
    others: &mut BTreeMap<String, Parts>,
) {
    let f = part::FUNDING;
    for (a, m) in modelled.iter().enumerate() {
        by_asset[a][f] += m;
    }
    if paid.by_symbol.is_empty() {
        let sum: f64 = modelled.iter().sum();
        if sum != 0.0 {
            for (a, m) in modelled.iter().enumerate() {
                by_asset[a][f] -= paid.total * m / sum;
            }
        } else if paid.total != 0.0 {
            others.entry(NO_SYMBOL.into()).or_insert([0.0; NB])[f] -= paid.total;
        }
        return;
    }
    for (sym, x) in &paid.by_symbol {
        match panel.asset_index(sym) {
            Some(a) => by_asset[a][f] -= x,
            None => others.entry(sym.clone()).or_insert([0.0; NB])[f] -= x,
        }
    }
}

/// The attribution, day by day (see the module docs for the method).
///
/// # Errors
/// [`ParityError::BadRequest`] when the shadow and the live days do not line up.
pub fn attribute(inp: &Inputs<'_>) -> Result<Attribution, ParityError> {
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
    let mut rho_prev_by = vec![0.0; n];
    let mut out = Vec::with_capacity(inp.live.len());
    // The period's parts per asset, and per symbol the panel lacks (funding only).
    let mut by_asset: Vec<Parts> = vec![[0.0; NB]; n];
    let mut others: BTreeMap<String, Parts> = BTreeMap::new();

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
            (rho_prev, rho_prev_by) = revaluation(panel, inp.start, &close);
        }
        let mut parts: Parts = [0.0; NB];
        let mut direct: Parts = [0.0; NB];

        // --- Phase A: holding over (close t−1, close t] (not on the first day) ---------------
        if i > 0 {
            let mut modelled_funding = 0.0;
            let mut modelled = vec![0.0; n];
            for a in 0..n {
                let rate_a = finite_or_zero(panel.get(Field::FundingRate, a, row));
                let g = close[a] - prev_close[a] - close[a] * rate_a;
                if l_units[a] != 0.0 && close[a].is_finite() {
                    modelled[a] = l_units[a] * close[a] * rate_a;
                    modelled_funding += modelled[a];
                }
                if !g.is_finite() {
                    continue;
                }
                for b in 0..NB {
                    if v[b][a] != 0.0 {
                        let x = v[b][a] * g;
                        parts[b] += x;
                        by_asset[a][b] += x;
                    }
                }
            }
            let paid = match &day.funding_paid {
                Some(p) => {
                    funding_by_symbol(panel, &modelled, p, &mut by_asset, &mut others);
                    p.total
                }
                None => modelled_funding,
            };
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
            let slip = slip_m * f.units.abs() * c - f.units * (f.price - c);
            let fee = fee_m * f.units.abs() * c - f.fee;
            direct[part::SLIPPAGE] += slip;
            direct[part::FEES] += fee;
            by_asset[a][part::SLIPPAGE] += slip;
            by_asset[a][part::FEES] += fee;
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
        let (rho, rho_by) = match &day.end {
            Some(s) => revaluation(panel, s, &close),
            None => (0.0, vec![0.0; n]),
        };
        direct[part::OTHER] = rho - rho_prev;
        parts[part::OTHER] += direct[part::OTHER];
        for a in 0..n {
            by_asset[a][part::OTHER] += rho_by[a] - rho_prev_by[a];
        }
        rho_prev = rho;
        rho_prev_by = rho_by;

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
                            let x = dcost * dv / delta;
                            parts[b] += x;
                            by_asset[a][b] += x;
                        }
                    }
                } else {
                    parts[part::UNEXPLAINED] += dcost;
                    by_asset[a][part::UNEXPLAINED] += dcost;
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
    let mut symbols = others;
    for (a, p) in by_asset.into_iter().enumerate() {
        if p.iter().any(|x| *x != 0.0) {
            symbols.insert(panel.symbols()[a].clone(), p);
        }
    }
    Ok(Attribution { days: out, symbols })
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

/// The API view of [`attribute`]'s result: days, period total, and the symbols by how much of
/// the gap they explain (`|total|`, largest first; ties by name).
pub fn gap_attribution(attribution: &Attribution) -> GapAttribution {
    let days = &attribution.days;
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
    let mut symbols: Vec<SymbolAttribution> = attribution
        .symbols
        .iter()
        .map(|(s, p)| SymbolAttribution {
            symbol: s.clone(),
            parts: api_parts(p, p.iter().sum()),
        })
        .collect();
    symbols.sort_by(|a, b| {
        b.parts
            .total
            .abs()
            .total_cmp(&a.parts.total.abs())
            .then_with(|| a.symbol.cmp(&b.symbol))
    });
    GapAttribution {
        days: out,
        total: api_parts(&cum, cum_total),
        symbols,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::cycle::policy_of;
    use shared::backtest::BacktestSettings;
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
                end: Some(AccountSnapshot {
                    equity: point.nav - extra_total,
                    positions,
                }),
                lines,
                executed: true,
                fills,
                funding_paid: Some(FundingPaid {
                    total: funding,
                    by_symbol: BTreeMap::new(),
                }),
            });
        }
        (panel, shadow, days, extra_total)
    }

    fn run(extra_bps: f64) -> (Attribution, f64) {
        let (panel, shadow, days, extra) = mirror(extra_bps);
        let start = AccountSnapshot {
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
        assert_eq!(detail.days.len(), 40);
        for d in &detail.days {
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
        let direct: f64 = detail.days.iter().map(|d| d.direct[part::SLIPPAGE]).sum();
        assert!((direct + extra).abs() < 1e-6, "{direct} vs -{extra}");
        let mut cum: Parts = [0.0; NB];
        for d in &detail.days {
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
        let total: f64 = detail.days.iter().map(|d| d.total).sum();
        assert!((total + extra).abs() < 1e-6, "{total}");
        assert!(
            (cum[part::SLIPPAGE] + cum[part::OTHER] + extra).abs() < 1e-6,
            "{cum:?}"
        );
        assert!(cum[part::SKIPPED].abs() < 1e-6, "{cum:?}");
        // Per symbol: every part adds up to the period's, and each symbol's direct slippage
        // is the extra it paid on its own fills.
        assert_symbols_add_up(&detail, &cum);
        let (_, shadow, _, _) = mirror(7.0);
        let mut extra_by: BTreeMap<String, f64> = BTreeMap::new();
        for tr in &shadow.trades {
            *extra_by.entry(tr.symbol.clone()).or_default() += tr.units.abs() * tr.price * 7e-4;
        }
        let busiest = extra_by
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(s, x)| (s.clone(), *x))
            .unwrap();
        let s = &detail.symbols[&busiest.0];
        assert!(
            (s[part::SLIPPAGE] + s[part::OTHER] + busiest.1).abs()
                < 1e-6 * busiest.1.max(1.0) + 1e-6,
            "{}: {s:?} vs extra {}",
            busiest.0,
            busiest.1
        );
        let api = gap_attribution(&detail);
        assert_eq!(api.symbols.len(), detail.symbols.len());
        for w in api.symbols.windows(2) {
            assert!(w[0].parts.total.abs() >= w[1].parts.total.abs());
        }
    }

    /// For each part but `unexplained`, the symbols' amounts sum to the period's.
    fn assert_symbols_add_up(a: &Attribution, cum: &Parts) {
        for b in 0..part::UNEXPLAINED {
            let sum: f64 = a.symbols.values().map(|p| p[b]).sum();
            assert!(
                (sum - cum[b]).abs() < 1e-6 * cum[b].abs().max(1.0),
                "part {b}: symbols {sum} vs period {}",
                cum[b]
            );
        }
    }

    /// A venue that charged one symbol twice the model's funding on every day and recorded the
    /// split: that symbol carries the whole funding gap, day by day and over the period.
    #[test]
    fn funding_paid_per_symbol_lands_on_its_symbol() {
        let (panel, shadow, mut days, _) = mirror(0.0);
        // The symbol the live book pays the most funding on.
        let mut modelled: BTreeMap<String, f64> = BTreeMap::new();
        let mut per_day: Vec<BTreeMap<String, f64>> = Vec::new();
        let mut units: BTreeMap<String, f64> = BTreeMap::new();
        for d in &days {
            let row = panel.row_of(d.day).unwrap();
            let close = marks_at(&panel, row);
            let mut today = BTreeMap::new();
            for (sym, u) in &units {
                let a = panel.asset_index(sym).unwrap();
                let r = panel.get(Field::FundingRate, a, row);
                if r.is_finite() && *u != 0.0 {
                    today.insert(sym.clone(), u * close[a] * r);
                    *modelled.entry(sym.clone()).or_default() += (u * close[a] * r).abs();
                }
            }
            per_day.push(today);
            units = d
                .end
                .as_ref()
                .unwrap()
                .positions
                .iter()
                .map(|(s, (u, _))| (s.clone(), *u))
                .collect();
        }
        let target = modelled
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(s, _)| s.clone())
            .unwrap();
        let mut extra = 0.0;
        for (d, today) in days.iter_mut().zip(&per_day).skip(1) {
            let mut by_symbol = today.clone();
            if let Some(x) = by_symbol.get_mut(&target) {
                extra += *x;
                *x *= 2.0;
            }
            let total = by_symbol.values().sum();
            d.funding_paid = Some(FundingPaid { total, by_symbol });
            // The account paid it: its equity is lower by what it paid on top.
            let e = d.end.as_mut().unwrap();
            e.equity -= extra;
        }
        let start = AccountSnapshot {
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
        let direct: f64 = detail.days.iter().map(|d| d.direct[part::FUNDING]).sum();
        assert!(extra.abs() > 1e-3, "the symbol pays funding: {extra}");
        assert!((direct + extra).abs() < 1e-9, "{direct} vs -{extra}");
        let mut cum: Parts = [0.0; NB];
        for d in &detail.days {
            assert!(d.parts[part::UNEXPLAINED].abs() < 1e-6, "{}", d.day);
            for (c, x) in cum.iter_mut().zip(&d.parts) {
                *c += x;
            }
        }
        assert_symbols_add_up(&detail, &cum);
        // The symbol's funding is the extra it paid (and its carry, which is tiny); no other
        // symbol has a funding part.
        let f = detail.symbols[&target][part::FUNDING];
        assert!(
            (f + extra).abs() < 0.05 * extra.abs() + 1e-9,
            "{f} vs -{extra}"
        );
        for (s, p) in &detail.symbols {
            if *s != target {
                assert!(
                    p[part::FUNDING].abs() < 0.05 * extra.abs() + 1e-9,
                    "{s}: {p:?}"
                );
            }
        }
    }

    /// Funding recorded only as a day's total is divided in proportion to the model's.
    #[test]
    fn a_funding_total_without_symbols_is_divided_pro_rata() {
        let panel = Panel::new(Day(0), 1, vec!["A".into(), "B".into()]).unwrap();
        let mut by_asset = vec![[0.0; NB]; 2];
        let mut others = BTreeMap::new();
        let paid = FundingPaid {
            total: 6.0,
            by_symbol: BTreeMap::new(),
        };
        // Modelled 1 and 3: paid 6 = 1.5 and 4.5; gaps −0.5 and −1.5.
        funding_by_symbol(&panel, &[1.0, 3.0], &paid, &mut by_asset, &mut others);
        assert_eq!(by_asset[0][part::FUNDING], -0.5);
        assert_eq!(by_asset[1][part::FUNDING], -1.5);
        assert!(others.is_empty());
        // Nothing modelled: the total has no symbol to go to.
        funding_by_symbol(&panel, &[0.0, 0.0], &paid, &mut by_asset, &mut others);
        assert_eq!(others[NO_SYMBOL][part::FUNDING], -6.0);
        // A split naming a symbol the panel lacks keeps it under its own name.
        let paid = FundingPaid {
            total: 2.0,
            by_symbol: [("A".to_string(), 1.0), ("ZZZ".to_string(), 1.0)].into(),
        };
        let mut others = BTreeMap::new();
        funding_by_symbol(&panel, &[0.5, 0.0], &paid, &mut by_asset, &mut others);
        assert_eq!(by_asset[0][part::FUNDING], -1.0);
        assert_eq!(others["ZZZ"][part::FUNDING], -1.0);
    }
}
