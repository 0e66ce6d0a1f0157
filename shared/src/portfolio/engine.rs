//! Per-strategy targets at a date, with the calendar-anchored rebalance hold, and the blend.
//!
//! # The rule (a pure function of the panel up to `t`)
//!
//! For a strategy with `rebalance_days = N` at row `t` (calendar day `d`):
//! 1. If it has a regime filter and the filter is off at `t` (or the reference asset is missing),
//!    the strategy is inactive at `t` with that reason.
//! 2. Otherwise its targets are those computed fresh on the *anchor* day `a`: the latest
//!    rebalance day `r = d - (d mod N)`, moved forward to the day the regime filter turned back on
//!    if that happened after `r` (the filter is evaluated every day).
//! 3. If the anchor lies before the first row of the data, the strategy is inactive ("waiting for
//!    its first rebalance date"): a live server holding [`TargetEngine::lookback`] rows and a
//!    backtest over the same rows then agree.
//!
//! The backtest walks forward with a [`TargetCache`] so each (strategy, anchor) is computed once;
//! the live path calls the same [`TargetEngine::targets_at`] with an empty cache. Both produce
//! identical numbers because the cache only memoises the pure function above.

use super::blend::{blend_into, effective_weights_into, nonzero_into, BlendItem};
use crate::calendar::Day;
use crate::config::{Config, ConfigError};
use crate::panel::Panel;
use crate::strategies::{Activity, InactiveReason, Input, Strategy};
use crate::universe::{AssetSpans, Listings};
use std::borrow::Cow;
use std::sync::Arc;

/// One strategy inside the engine, with its blend settings.
#[derive(Debug)]
pub struct EngineStrategy {
    pub name: String,
    /// Configured capital weight (> 0; zero-weight strategies are not run).
    pub weight: f64,
    pub fixed: bool,
    pub cap: Option<f64>,
    pub strategy: Box<dyn Strategy>,
}

/// What one strategy holds at a date.
#[derive(Clone, Debug, PartialEq)]
pub struct StrategyTargets {
    pub name: String,
    pub configured_weight: f64,
    /// Weight after redistributing inactive capital and applying caps.
    pub effective_weight: f64,
    /// `Inactive` carries the reason shown to users.
    pub activity: Activity,
    /// The day these targets were computed on (the anchor), when active.
    pub computed_on: Option<Day>,
    /// One weight per panel asset (longs sum to `long_allocation`, shorts to `-short_allocation`).
    pub targets: Vec<f64>,
}

/// The whole decision at the close of one day.
#[derive(Clone, Debug, PartialEq)]
pub struct DayTargets {
    pub day: Day,
    /// Blended portfolio weights per panel asset (leverage applied, netted by symbol).
    pub weights: Vec<f64>,
    pub strategies: Vec<StrategyTargets>,
}

/// A strategy's computed result on its anchor day: what the engine holds for the strategy until
/// the anchor moves.
#[derive(Clone, Debug)]
pub struct Computed {
    pub anchor: Day,
    pub activity: Activity,
    /// One weight per panel asset (zeros unless `activity` is active).
    pub targets: Vec<f64>,
    /// The assets whose target is not `+0.0`, ascending ([`nonzero_into`]): what the blend
    /// adds. Kept with the targets, so a day that blends (most days: daily strategies move
    /// their anchor every day) visits the held positions rather than every asset.
    pub nonzero: Vec<u32>,
}

/// Where [`TargetEngine::blend_into_with`] gets each strategy's held computation at a row.
///
/// [`Fresh`] computes it (the live path and every backtest); a sweep looks it up in signals
/// computed once per strategy parameter set by the same function
/// ([`crate::portfolio::signals`]). Either way the blend, the policy and the simulator that
/// follow are the one copy; only where the held targets come from differs.
pub trait HeldSource {
    /// Strategy `k`'s (of the engine) held computation at row `t`, memoised in `slot` (the
    /// slot is reused while the anchor is unchanged), or why it is inactive before computing
    /// (borrowed when the source keeps it: a sweep's records hold each reason once, and an
    /// inactive strategy is inactive for the same reason day after day).
    fn held<'c, 's>(
        &'s mut self,
        k: usize,
        strategy: &dyn Strategy,
        input: &Input<'_>,
        t: usize,
        slot: &'c mut Option<Computed>,
    ) -> Result<&'c Computed, Cow<'s, InactiveReason>>;
}

/// Computes held targets on demand with the strategy itself ([`held_targets`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fresh;

impl HeldSource for Fresh {
    fn held<'c, 's>(
        &'s mut self,
        _k: usize,
        strategy: &dyn Strategy,
        input: &Input<'_>,
        t: usize,
        slot: &'c mut Option<Computed>,
    ) -> Result<&'c Computed, Cow<'s, InactiveReason>> {
        held_targets(strategy, input, t, slot).map_err(Cow::Owned)
    }
}

/// Where a strategy's state on the last evaluated day lives.
#[derive(Clone, Debug)]
enum Today {
    /// The memoised computation in `TargetCache::last` (active or not).
    Slot,
    /// Inactive before computing (regime off, no rebalance date yet); targets are zeros.
    Inactive(Activity),
}

/// Memo of the last computation per strategy, the exclusion mask, and the state of the last
/// evaluated day (read back through [`TargetCache::strategy`]).
///
/// Valid for one panel and its truncations/extensions over the same history (a computation on
/// anchor day `a` reads only rows `<= a`). Use a fresh cache for different data.
#[derive(Clone, Debug, Default)]
pub struct TargetCache {
    last: Vec<Option<Computed>>,
    /// The symbols the mask was built for; shared with the panel, so "same symbols" is usually
    /// a pointer comparison rather than a string comparison every day.
    excluded: Option<(Arc<[String]>, Vec<bool>)>,
    /// The engine's listings aligned to the same symbols (rebuilt with `excluded`).
    tradable: Option<AssetSpans>,
    /// Whether the last call zeroed a weight the venue did not list (its output then differs
    /// from `last_blend`, so the next call cannot claim "unchanged").
    masked_last: bool,
    today: Vec<Today>,
    computed_on: Vec<Option<Day>>,
    items: Vec<BlendItem>,
    /// The items `eff` was computed from: equal items give the same effective weights (a pure
    /// function), so most days skip the computation.
    last_items: Vec<BlendItem>,
    eff: Vec<f64>,
    pinned: Vec<bool>,
    zeros: Vec<f64>,
    /// What the last blend was made of: per strategy the anchor of the computation it held
    /// (`None` when inactive before computing, i.e. zeros) and its effective weight's bits.
    /// Equal keys give the same blend bit for bit, so it is copied instead of recomputed.
    last_key: Vec<(Option<Day>, u64)>,
    key: Vec<(Option<Day>, u64)>,
    last_blend: Vec<f64>,
}

/// One strategy's state on the day last passed to [`TargetEngine::blend_into`].
#[derive(Clone, Copy, Debug)]
pub struct HeldTargets<'a> {
    pub activity: &'a Activity,
    /// The anchor day the targets were computed on, when active.
    pub computed_on: Option<Day>,
    /// Weight after redistributing inactive capital and applying caps.
    pub effective_weight: f64,
    /// One weight per panel asset (zeros when inactive).
    pub targets: &'a [f64],
}

impl TargetCache {
    /// An empty cache (what the live path uses).
    pub fn new() -> TargetCache {
        TargetCache::default()
    }

    /// Strategy `k`'s anchor day on the day last passed to [`TargetEngine::blend_into`], when
    /// active ([`HeldTargets::computed_on`] without the rest).
    ///
    /// # Panics
    /// As [`TargetCache::strategy`].
    pub fn computed_on(&self, k: usize) -> Option<Day> {
        self.computed_on[k]
    }

    /// Strategy `k`'s state on the day last passed to [`TargetEngine::blend_into`].
    ///
    /// # Panics
    /// If `k` is not a strategy index of the engine that filled the cache.
    pub fn strategy(&self, k: usize) -> HeldTargets<'_> {
        let (activity, targets) = match &self.today[k] {
            Today::Slot => {
                let c = self.last[k].as_ref().expect("filled by blend_into");
                (&c.activity, c.targets.as_slice())
            }
            Today::Inactive(a) => (a, self.zeros.as_slice()),
        };
        HeldTargets {
            activity,
            computed_on: self.computed_on[k],
            effective_weight: self.eff[k],
            targets,
        }
    }
}

/// All configured strategies plus the blend settings.
#[derive(Debug)]
pub struct TargetEngine {
    pub strategies: Vec<EngineStrategy>,
    pub leverage: f64,
    pub stablecoins: Vec<String>,
    /// The configured venue's listing history: assets it did not list on a day are not
    /// eligible that day and hold no weight (docs/strategies.md, "Eligible universe").
    /// `None`: every priced asset (`venue: any`, the paper venue, or no listing data).
    pub listings: Option<Arc<Listings>>,
}

impl TargetEngine {
    /// Builds every strategy with a positive weight.
    ///
    /// # Errors
    /// A strategy that fails to build (cannot happen for a config that parsed).
    pub fn from_config(config: &Config) -> Result<TargetEngine, ConfigError> {
        let mut strategies = Vec::new();
        for (name, &weight) in &config.strategy_weights {
            if weight <= 0.0 {
                continue;
            }
            strategies.push(EngineStrategy {
                name: name.clone(),
                weight,
                fixed: config.fixed_strategies.iter().any(|f| f == name),
                cap: config.strategy_caps.get(name).copied(),
                strategy: config.build_strategy(name)?,
            });
        }
        Ok(TargetEngine {
            strategies,
            leverage: config.leverage,
            stablecoins: config.stablecoins.clone(),
            listings: None,
        })
    }

    /// Rows ending at `t` that [`TargetEngine::targets_at`] may read: for each strategy its own
    /// lookback (or its regime filter's, if longer) plus `rebalance_days - 1` days of hold. A live
    /// server must hold at least this many days.
    pub fn lookback(&self) -> usize {
        self.strategies
            .iter()
            .map(|s| strategy_lookback(&*s.strategy))
            .max()
            .unwrap_or(1)
    }

    /// `excluded[asset]` for the panel's symbols (stablecoins).
    pub fn excluded(&self, panel: &Panel) -> Vec<bool> {
        panel
            .symbols()
            .iter()
            .map(|s| self.stablecoins.iter().any(|c| c.eq_ignore_ascii_case(s)))
            .collect()
    }

    /// The listings aligned to the panel's assets, when the engine has any.
    pub fn tradable(&self, panel: &Panel) -> Option<AssetSpans> {
        self.listings.as_ref().map(|l| l.align(panel.symbols()))
    }

    /// The decision at the close of row `t`: every strategy's held targets and the blend.
    ///
    /// The live path; it allocates its result. The backtest calls [`TargetEngine::blend_into`],
    /// which this is built on, so both run the same code.
    pub fn targets_at(&self, panel: &Panel, t: usize, cache: &mut TargetCache) -> DayTargets {
        let mut weights = vec![0.0; panel.n_assets()];
        self.blend_into(panel, t, cache, &mut weights);
        let strategies = self
            .strategies
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let h = cache.strategy(k);
                StrategyTargets {
                    name: s.name.clone(),
                    configured_weight: s.weight,
                    effective_weight: h.effective_weight,
                    activity: h.activity.clone(),
                    computed_on: h.computed_on,
                    targets: h.targets.to_vec(),
                }
            })
            .collect();
        DayTargets {
            day: panel.day(t),
            weights,
            strategies,
        }
    }

    /// [`TargetEngine::targets_at`] without allocating (after the first day): writes the blended
    /// weights into `weights` (one slot per panel asset) and leaves each strategy's held targets
    /// in `cache`, readable with [`TargetCache::strategy`].
    ///
    /// Returns whether the blend was recomputed: `false` when every strategy holds the same
    /// computation (anchor) with the same effective weight as in the previous call on this
    /// cache, in which case `weights` receives a copy of that call's blend — the same bits, as
    /// the blend is a function of exactly those inputs. Between rebalance dates this is most
    /// days, and it lets the backtest skip its per-day work on them.
    ///
    /// # Panics
    /// If `weights.len()` is not the panel's asset count.
    pub fn blend_into(
        &self,
        panel: &Panel,
        t: usize,
        cache: &mut TargetCache,
        weights: &mut [f64],
    ) -> bool {
        self.blend_into_with(panel, t, cache, weights, &mut Fresh)
    }

    /// [`TargetEngine::blend_into`] with the held targets from `held` (a sweep's precomputed
    /// signals). Everything after the held targets — activity, effective weights, caps, the
    /// reuse of an unchanged blend, the netting — is this one function.
    ///
    /// # Panics
    /// As [`TargetEngine::blend_into`].
    pub fn blend_into_with<H: HeldSource>(
        &self,
        panel: &Panel,
        t: usize,
        cache: &mut TargetCache,
        weights: &mut [f64],
        held: &mut H,
    ) -> bool {
        let n_strat = self.strategies.len();
        let n_assets = panel.n_assets();
        assert_eq!(weights.len(), n_assets, "one weight slot per asset");
        if cache.last.len() != n_strat {
            cache.last = vec![None; n_strat];
        }
        cache.today.resize(n_strat, Today::Slot);
        cache.computed_on.resize(n_strat, None);
        cache.zeros.resize(n_assets, 0.0);
        let fresh = match &cache.excluded {
            Some((symbols, _)) => {
                !Arc::ptr_eq(symbols, panel.symbols_arc()) && **symbols != *panel.symbols()
            }
            None => true,
        };
        if fresh {
            cache.excluded = Some((Arc::clone(panel.symbols_arc()), self.excluded(panel)));
            cache.tradable = self.tradable(panel);
        }
        let excluded = &cache.excluded.as_ref().expect("set above").1;
        let input = Input {
            panel,
            excluded,
            tradable: cache.tradable.as_ref(),
        };
        cache.items.clear();
        for (k, s) in self.strategies.iter().enumerate() {
            let today = held.held(k, &*s.strategy, &input, t, &mut cache.last[k]);
            let active = match &today {
                Ok(c) => c.activity == Activity::Active,
                Err(_) => false,
            };
            cache.computed_on[k] = match &today {
                Ok(c) if active => Some(c.anchor),
                _ => None,
            };
            match today {
                Ok(_) => cache.today[k] = Today::Slot,
                Err(reason) => {
                    // Inactive for yesterday's reason (the usual case): kept as it is.
                    let same = matches!(&cache.today[k],
                        Today::Inactive(Activity::Inactive(r)) if *r == *reason);
                    if !same {
                        cache.today[k] = Today::Inactive(Activity::Inactive(reason.into_owned()));
                    }
                }
            }
            cache.items.push(BlendItem {
                weight: s.weight,
                fixed: s.fixed,
                cap: s.cap,
                active,
            });
        }
        if cache.items != cache.last_items || cache.eff.len() != n_strat {
            effective_weights_into(&cache.items, &mut cache.eff, &mut cache.pinned);
            cache.last_items.clone_from(&cache.items);
        }
        cache.key.clear();
        for k in 0..n_strat {
            let anchor = match cache.today[k] {
                Today::Slot => cache.last[k].as_ref().map(|c| c.anchor),
                Today::Inactive(_) => None,
            };
            cache.key.push((anchor, cache.eff[k].to_bits()));
        }
        if !fresh && cache.last_blend.len() == n_assets && cache.key == cache.last_key {
            weights.copy_from_slice(&cache.last_blend);
            let masked = untradable_to_zero(cache.tradable.as_ref(), panel.day(t), weights);
            let changed = masked || cache.masked_last;
            cache.masked_last = masked;
            return changed;
        }
        {
            let cache = &*cache;
            let none: &[u32] = &[];
            blend_into(
                self.leverage,
                &cache.eff,
                (0..n_strat).map(|k| match (&cache.today[k], &cache.last[k]) {
                    (Today::Slot, Some(c)) => (c.targets.as_slice(), c.nonzero.as_slice()),
                    _ => (cache.zeros.as_slice(), none),
                }),
                weights,
            );
        }
        cache.last_blend.clear();
        cache.last_blend.extend_from_slice(weights);
        std::mem::swap(&mut cache.key, &mut cache.last_key);
        cache.masked_last = untradable_to_zero(cache.tradable.as_ref(), panel.day(t), weights);
        true
    }
}

/// Zeroes the weight of every asset the venue does not list on `day` (a strategy may hold
/// targets computed on an earlier day, or trade outside the cross-section). Returns whether any
/// weight was zeroed, which counts as a changed blend. The unmasked blend stays in the cache,
/// so a relisted asset gets its weight back exactly as a recomputation would give it.
fn untradable_to_zero(tradable: Option<&AssetSpans>, day: Day, weights: &mut [f64]) -> bool {
    let Some(spans) = tradable else {
        return false;
    };
    let mut zeroed = false;
    for (a, w) in weights.iter_mut().enumerate() {
        if *w != 0.0 && !spans.at(a, day) {
            *w = 0.0;
            zeroed = true;
        }
    }
    zeroed
}

/// Rows one strategy's held targets at `t` may read (see [`TargetEngine::lookback`]).
pub fn strategy_lookback(s: &dyn Strategy) -> usize {
    let own = s.lookback().max(s.regime().map_or(0, |r| r.lookback()));
    own + s.rebalance_days().max(1) as usize - 1
}

/// The anchor row for `s` at `t`, or why the strategy is inactive.
pub fn anchor_row(s: &dyn Strategy, panel: &Panel, t: usize) -> Result<usize, InactiveReason> {
    if let Some(r) = s.regime() {
        r.check(panel, t)?;
    }
    let n = s.rebalance_days().max(1) as i32;
    let day = panel.day(t).0;
    let back = day.rem_euclid(n) as usize;
    let mut anchor_back = back;
    if let Some(r) = s.regime() {
        // The latest day in (r, t] on which the regime turned back on.
        for b in 0..back {
            // Day t-b is on (checked), look at the day before it.
            let prev = t.checked_sub(b + 1);
            let on = prev.is_some_and(|p| r.check(panel, p).is_ok());
            if !on {
                anchor_back = b;
                break;
            }
        }
    }
    t.checked_sub(anchor_back).ok_or_else(|| {
        InactiveReason(format!(
            "waiting for its first rebalance date ({} day cycle) in the data",
            n
        ))
    })
}

/// The held targets of one strategy at `t`, memoised in `slot` by anchor day (a recomputation
/// reuses the slot's buffer), or why the strategy is inactive before computing anything.
pub fn held_targets<'c>(
    s: &dyn Strategy,
    input: &Input<'_>,
    t: usize,
    slot: &'c mut Option<Computed>,
) -> Result<&'c Computed, InactiveReason> {
    let n_assets = input.panel.n_assets();
    let a = anchor_row(s, input.panel, t)?;
    let anchor = input.panel.day(a);
    let hit = matches!(slot, Some(c) if c.anchor == anchor && c.targets.len() == n_assets);
    if !hit {
        let (mut targets, mut nonzero) = slot
            .take()
            .map(|c| (c.targets, c.nonzero))
            .unwrap_or_default();
        targets.clear();
        targets.resize(n_assets, 0.0);
        let activity = s.compute(input, a, &mut targets);
        if activity != Activity::Active {
            targets.fill(0.0);
        }
        nonzero_into(&targets, &mut nonzero);
        *slot = Some(Computed {
            anchor,
            activity,
            targets,
            nonzero,
        });
    }
    Ok(slot.as_ref().expect("filled above"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::Field;
    use crate::strategies::regime::{RegimeFilter, RegimeMode};
    use crate::strategies::Strategy;
    use crate::synth::{generate, SynthConfig};
    use proptest::prelude::{prop_assert, prop_assert_eq, proptest, ProptestConfig};

    /// Puts the close at `t` of asset 0 on asset 0 (so every computation is recognisable).
    #[derive(Debug)]
    struct Probe {
        n: u32,
        regime: Option<RegimeFilter>,
    }

    impl Strategy for Probe {
        fn name(&self) -> &'static str {
            "probe"
        }
        fn lookback(&self) -> usize {
            1
        }
        fn rebalance_days(&self) -> u32 {
            self.n
        }
        fn regime(&self) -> Option<&RegimeFilter> {
            self.regime.as_ref()
        }
        fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
            out[0] = input.panel.get(Field::Close, 0, t);
            Activity::Active
        }
    }

    /// (weight, fixed, cap, strategy)
    type Spec = (f64, bool, Option<f64>, Box<dyn Strategy>);

    fn engine(strats: Vec<Spec>) -> TargetEngine {
        TargetEngine {
            strategies: strats
                .into_iter()
                .map(|(weight, fixed, cap, strategy)| EngineStrategy {
                    name: strategy.name().to_string(),
                    weight,
                    fixed,
                    cap,
                    strategy,
                })
                .collect(),
            leverage: 1.0,
            stablecoins: vec!["USDT".into()],
            listings: None,
        }
    }

    fn panel(closes: Vec<f64>, start: i32) -> Panel {
        let mut p = Panel::new(Day(start), closes.len(), vec!["BTC".into()]).unwrap();
        p.series_mut(Field::Close, 0).copy_from_slice(&closes);
        p
    }

    #[test]
    fn holds_between_calendar_anchored_rebalance_days() {
        // Panel starts on day 10 (10 % 4 = 2): rows 0,1 precede the first rebalance (day 12).
        let p = panel((0..10).map(|i| 100.0 + i as f64).collect(), 10);
        let e = engine(vec![(
            1.0,
            false,
            None,
            Box::new(Probe { n: 4, regime: None }),
        )]);
        let mut cache = TargetCache::new();
        let got: Vec<f64> = (0..10)
            .map(|t| e.targets_at(&p, t, &mut cache).weights[0])
            .collect();
        // day 12 = row 2 (close 102), day 16 = row 6 (close 106)
        assert_eq!(
            got,
            vec![0.0, 0.0, 102.0, 102.0, 102.0, 102.0, 106.0, 106.0, 106.0, 106.0]
        );
        let first = e.targets_at(&p, 0, &mut TargetCache::new());
        assert!(
            matches!(&first.strategies[0].activity, Activity::Inactive(r) if r.0.contains("first rebalance"))
        );
        assert_eq!(e.lookback(), 4);
        // Live path (fresh cache, truncated panel) agrees with the walk.
        for (t, want) in got.iter().enumerate() {
            let live = e.targets_at(&p.truncate_to(t).unwrap(), t, &mut TargetCache::new());
            assert_eq!(live.weights[0], *want);
        }
    }

    #[test]
    fn blend_is_reused_only_while_nothing_it_is_made_of_changes() {
        // Two strategies, rebalancing every 4 and 6 days (day = row + 10).
        let p = panel((0..30).map(|r| 100.0 + r as f64).collect(), 10);
        let e = engine(vec![
            (0.6, false, None, Box::new(Probe { n: 4, regime: None })),
            (0.4, false, None, Box::new(Probe { n: 6, regime: None })),
        ]);
        let mut cache = TargetCache::new();
        let mut w = vec![0.0; 1];
        let mut recomputed = Vec::new();
        for t in 0..30 {
            recomputed.push(e.blend_into(&p, t, &mut cache, &mut w));
            let fresh = e.targets_at(&p, t, &mut TargetCache::new());
            assert_eq!(w[0].to_bits(), fresh.weights[0].to_bits(), "row {t}");
        }
        // Recomputed exactly on the days one of the anchors moves (days divisible by 4 or 6)
        // and on the first row; the second strategy is waiting until day 12 (row 2).
        let want: Vec<bool> = (0..30)
            .map(|t| t == 0 || (t + 10) % 4 == 0 || (t + 10) % 6 == 0)
            .collect();
        assert_eq!(recomputed, want);
    }

    #[test]
    fn regime_turning_on_computes_fresh_that_day_and_off_is_immediate() {
        // BTC: 200 days flat at 100 (SMA50 == SMA200: not bear), then 50 for rows 200..=205
        // (bear), 420 on row 206 (bull for one day: 4 × (4600 + 420) >= 19600 + 420), then 50
        // again (bear from row 207).
        let mut c = vec![100.0; 200];
        c.extend([50.0; 6]);
        c.push(420.0);
        c.extend([50.0; 13]);
        let p = panel(c.clone(), 0);
        let regime = Some(RegimeFilter {
            mode: RegimeMode::BearOnly,
            reference: "BTC".into(),
        });
        let e = engine(vec![(1.0, false, None, Box::new(Probe { n: 10, regime }))]);
        let mut cache = TargetCache::new();
        let mut held = Vec::new();
        for t in 199..220 {
            let d = e.targets_at(&p, t, &mut cache);
            let live = e.targets_at(&p.truncate_to(t).unwrap(), t, &mut TargetCache::new());
            assert_eq!(d, live);
            held.push((d.weights[0], d.strategies[0].computed_on.map(|d| d.0)));
        }
        // 199: flat -> SMA50 == SMA200 -> not bear -> inactive.
        assert_eq!(held[0], (0.0, None));
        // 200: turns on, computes fresh that day (not waiting for day 210).
        assert_eq!(held[1], (50.0, Some(200)));
        assert_eq!(held[5], (50.0, Some(200)));
        // 206: the regime turns off the same day.
        assert_eq!(held[7], (0.0, None));
        // 207: back on, fresh compute that day; held through 209.
        assert_eq!(held[8], (50.0, Some(207)));
        assert_eq!(held[10], (50.0, Some(207)));
        // 210 is a rebalance day: recompute.
        assert_eq!(held[11].1, Some(210));
    }

    #[test]
    fn inactive_strategy_capital_flows_to_flexible_and_reason_is_reported() {
        let p = panel(vec![100.0; 5], 0);
        let off = Some(RegimeFilter {
            mode: RegimeMode::BearOnly,
            reference: "ETH".into(),
        });
        let e = engine(vec![
            (0.5, false, None, Box::new(Probe { n: 1, regime: None })),
            (0.3, true, None, Box::new(Probe { n: 1, regime: None })),
            (0.2, false, None, Box::new(Probe { n: 1, regime: off })),
        ]);
        let d = e.targets_at(&p, 4, &mut TargetCache::new());
        let eff: Vec<f64> = d.strategies.iter().map(|s| s.effective_weight).collect();
        assert_eq!(eff, vec![0.7, 0.3, 0.0]);
        assert!(matches!(&d.strategies[2].activity,
            Activity::Inactive(r) if r.0.contains("reference asset ETH is not in the data")));
        assert!((d.weights[0] - 100.0).abs() < 1e-12);
    }

    fn synth(seed: u64) -> Panel {
        generate(&SynthConfig {
            seed,
            n_assets: 20,
            n_days: 470,
            start: Day(19_003),
        })
        .unwrap()
    }

    /// Regression: the predecessor kept stablecoins in its cross-section, where inverse-vol
    /// weighting gave them most of a side. They are excluded by default.
    #[test]
    fn stablecoins_are_excluded_by_default() {
        let p = synth(7);
        let stable: Vec<usize> = crate::synth::STABLECOINS
            .iter()
            .map(|s| p.asset_index(s).unwrap())
            .collect();
        let text = |extra: &str| {
            format!(
                r#"{{"strategy_weights": {{"volatility": 1}},
                    "params": {{"volatility": {{"top_n": 3, "weighting_method": "risk_parity"}}}}{extra}}}"#
            )
        };
        let t = p.n_days() - 1;
        let run = |cfg: &str| {
            let e = TargetEngine::from_config(&Config::from_json(cfg).unwrap()).unwrap();
            e.targets_at(&p, t, &mut TargetCache::new()).weights
        };
        let default = run(&text(""));
        assert!(stable.iter().all(|&a| default[a] == 0.0), "{default:?}");
        assert!((default.iter().filter(|w| **w > 0.0).sum::<f64>() - 0.5).abs() < 1e-12);
        let unguarded = run(&text(r#", "stablecoins": []"#));
        let stable_long: f64 = stable.iter().map(|&a| unguarded[a].max(0.0)).sum();
        assert!(
            stable_long > 0.25,
            "without the exclusion they dominate: {stable_long}"
        );
    }

    /// A venue's listings: half the assets listed from the start, one listed late, one
    /// delisted mid-way, the rest never. Every day of a walk (the backtest's path) and of the
    /// live path (a fresh cache on the truncated panel) holds weight only in assets listed that
    /// day, cross-sections pick only listed assets, and without listings the same days do trade
    /// the unlisted ones (so the test can fail).
    #[test]
    fn no_day_holds_an_asset_the_venue_does_not_list() {
        use crate::universe::{Listings, Span};
        let p = synth(11);
        let config = Config::lockstep_default().unwrap();
        let mut listings = Listings::new("hyperliquid");
        let n = p.n_assets();
        let late = p.day(200);
        let gone = p.day(300);
        for (a, s) in p.symbols().iter().enumerate() {
            let span = match a % 4 {
                0 | 1 => Span {
                    first: p.start(),
                    last: None,
                },
                2 if a == 2 => Span {
                    first: late,
                    last: None,
                },
                2 => Span {
                    first: p.start(),
                    last: Some(gone),
                },
                _ => continue,
            };
            listings.add(s.clone(), span);
        }
        let listings = Arc::new(listings);
        let plain = TargetEngine::from_config(&config).unwrap();
        let mut venue = TargetEngine::from_config(&config).unwrap();
        venue.listings = Some(Arc::clone(&listings));
        let (mut walk, mut walk_plain) = (TargetCache::new(), TargetCache::new());
        let mut weights = vec![0.0; n];
        let mut unlisted_traded_without = false;
        for t in 0..p.n_days() {
            let day = p.day(t);
            venue.blend_into(&p, t, &mut walk, &mut weights);
            for (a, w) in weights.iter().enumerate() {
                let listed = listings.is_tradable(&p.symbols()[a], day);
                assert!(
                    *w == 0.0 || listed,
                    "row {t}: weight {w} in unlisted {}",
                    p.symbols()[a]
                );
            }
            for k in 0..venue.strategies.len() {
                let held = walk.strategy(k);
                if held.computed_on == Some(day) {
                    for (a, w) in held.targets.iter().enumerate() {
                        let listed = listings.is_tradable(&p.symbols()[a], day);
                        assert!(
                            *w == 0.0 || listed,
                            "row {t}: {} picked unlisted {}",
                            venue.strategies[k].name,
                            p.symbols()[a]
                        );
                    }
                }
            }
            if t % 37 == 0 {
                let live = venue.targets_at(&p.truncate_to(t).unwrap(), t, &mut TargetCache::new());
                assert_eq!(live.weights, weights, "live equals the walk at row {t}");
            }
            let without = plain.targets_at(&p, t, &mut walk_plain).weights;
            unlisted_traded_without |= without
                .iter()
                .enumerate()
                .any(|(a, w)| *w != 0.0 && !listings.is_tradable(&p.symbols()[a], day));
        }
        assert!(
            unlisted_traded_without,
            "the unmasked engine trades unlisted assets"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

        /// The backtest walk (one cache), the live path (fresh cache on the truncated panel) and a
        /// server holding only `lookback` rows agree bit for bit on the blend and every strategy.
        #[test]
        fn walk_live_and_window_agree(seed in 0u64..1_000) {
            let config = Config::lockstep_default().unwrap();
            let e = TargetEngine::from_config(&config).unwrap();
            let p = synth(seed);
            let l = e.lookback();
            let mut cache = TargetCache::new();
            let first = p.n_days() - 40;
            for t in 0..p.n_days() {
                let walk = e.targets_at(&p, t, &mut cache);
                if t < first || t % 3 != 0 {
                    continue;
                }
                let live = e.targets_at(&p.truncate_to(t).unwrap(), t, &mut TargetCache::new());
                prop_assert_eq!(&walk, &live);
                prop_assert!(t + 1 >= l);
                let w = p.window(t + 1 - l, t).unwrap();
                let held = e.targets_at(&w, l - 1, &mut TargetCache::new());
                prop_assert!(walk.weights.iter().zip(&held.weights).all(|(a, b)| a.to_bits() == b.to_bits()));
                prop_assert_eq!(&walk.strategies, &held.strategies);
            }
        }
    }
}
