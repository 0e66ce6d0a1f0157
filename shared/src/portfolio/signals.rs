//! Signals once, blends many: each strategy's held targets over a range of rows, computed once
//! per distinct strategy parameter set and looked up by every sweep point that differs only in
//! blend or execution parameters (weights, caps, leverage, `fixed_strategies`, the rebalance
//! policy and threshold, costs, the date range inside the covered rows).
//!
//! # Why this is not a second implementation
//! [`StrategySignals::compute`] walks the rows with [`held_targets`], the function every
//! backtest and the live path call, and records what it returned on each row. A sweep point
//! then runs the one blend ([`TargetEngine::blend_into_with`]), the one rebalance policy and
//! the one simulator, with the held targets read back from the record instead of recomputed
//! ([`SignalSource`]). The record is exact (every non-zero target with its bits, `-0.0`
//! included), so a point's metrics equal [`crate::backtest::metrics_for_config`]'s bit for bit;
//! a property test over random grids checks it.
//!
//! # Memory
//! A record keeps one 8-byte state per row and, per distinct computation (one per anchor day:
//! every `rebalance_days`, plus regime turn-ons), its non-zero targets as (asset `u16`, weight
//! `f64`) pairs: 10 bytes per held position instead of 8 bytes per asset per row. On the real
//! panel (136 assets × 2,125 days) the default config's nine strategies take about 2.4 MB (a
//! dense `f64` copy of every day would be 9 × 2,125 × 136 × 8 B ≈ 21 MB); figures in
//! `docs/benchmarks.md`. A [`SignalCache`] holds records up to a byte budget and evicts the
//! least recently used ones beyond it, never one the point being prepared needs.

use super::engine::{held_targets, Computed, HeldSource, TargetEngine};
use crate::calendar::Day;
use crate::config::{Config, ConfigError};
use crate::panel::Panel;
use crate::strategies::params::ParamMap;
use crate::strategies::{self, Activity, InactiveReason, Input, Strategy};
use crate::universe::AssetSpans;
use std::borrow::Cow;
use std::ops::Range;

/// Default byte budget of a [`SignalCache`]: room for the default config's strategies many
/// times over, small enough for a browser worker.
pub const DEFAULT_BUDGET_BYTES: usize = 64 << 20;

/// What a strategy held on one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowState {
    /// Index into `comps`.
    Held(u32),
    /// Index into `reasons`.
    Inactive(u32),
}

/// One distinct computation: its anchor, activity and the slice of the sparse arena with its
/// non-zero targets.
#[derive(Clone, Debug)]
struct Comp {
    anchor: Day,
    activity: Activity,
    start: u32,
    end: u32,
}

/// One strategy's held targets on every row of a range, as [`held_targets`] returned them.
#[derive(Clone, Debug)]
pub struct StrategySignals {
    first: usize,
    n_assets: usize,
    rows: Vec<RowState>,
    comps: Vec<Comp>,
    reasons: Vec<InactiveReason>,
    assets: Vec<u16>,
    weights: Vec<f64>,
}

impl StrategySignals {
    /// Walks rows `rows` with [`held_targets`] (one slot, so each anchor is computed once, as in
    /// a backtest) and records each row's outcome.
    ///
    /// # Panics
    /// If the panel has more than 65,536 assets (targets are indexed by `u16`) or `rows` is
    /// not inside it.
    pub fn compute(strategy: &dyn Strategy, input: &Input<'_>, rows: Range<usize>) -> Self {
        let n_assets = input.panel.n_assets();
        assert!(n_assets <= 1 << 16, "asset index must fit in u16");
        let mut s = StrategySignals {
            first: rows.start,
            n_assets,
            rows: Vec::with_capacity(rows.len()),
            comps: Vec::new(),
            reasons: Vec::new(),
            assets: Vec::new(),
            weights: Vec::new(),
        };
        let mut slot = None;
        for t in rows {
            let state = match held_targets(strategy, input, t, &mut slot) {
                Ok(c) => {
                    if s.comps.last().is_none_or(|last| last.anchor != c.anchor) {
                        let start = s.assets.len() as u32;
                        for (a, &w) in c.targets.iter().enumerate() {
                            // Bits, not value: a `-0.0` target is kept as written.
                            if w.to_bits() != 0 {
                                s.assets.push(a as u16);
                                s.weights.push(w);
                            }
                        }
                        s.comps.push(Comp {
                            anchor: c.anchor,
                            activity: c.activity.clone(),
                            start,
                            end: s.assets.len() as u32,
                        });
                    }
                    RowState::Held(s.comps.len() as u32 - 1)
                }
                Err(reason) => {
                    if s.reasons.last() != Some(&reason) {
                        s.reasons.push(reason);
                    }
                    RowState::Inactive(s.reasons.len() as u32 - 1)
                }
            };
            s.rows.push(state);
        }
        s.assets.shrink_to_fit();
        s.weights.shrink_to_fit();
        s
    }

    /// The panel rows covered.
    pub fn rows(&self) -> Range<usize> {
        self.first..self.first + self.rows.len()
    }

    /// Distinct computations recorded (anchor days with their targets).
    pub fn n_computations(&self) -> usize {
        self.comps.len()
    }

    /// Bytes held, counting capacity (the figure the cache budgets).
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.rows.capacity() * std::mem::size_of::<RowState>()
            + self.comps.capacity() * std::mem::size_of::<Comp>()
            + self
                .comps
                .iter()
                .map(|c| activity_bytes(&c.activity))
                .sum::<usize>()
            + self.reasons.capacity() * std::mem::size_of::<InactiveReason>()
            + self.reasons.iter().map(|r| r.0.capacity()).sum::<usize>()
            + self.assets.capacity() * std::mem::size_of::<u16>()
            + self.weights.capacity() * std::mem::size_of::<f64>()
    }

    /// What [`held_targets`] returned on row `t` (inside [`StrategySignals::rows`]), written
    /// into `slot` as it would have been.
    fn held_at<'c>(
        &self,
        t: usize,
        slot: &'c mut Option<Computed>,
    ) -> Result<&'c Computed, &InactiveReason> {
        let c = match self.rows[t - self.first] {
            RowState::Inactive(r) => return Err(&self.reasons[r as usize]),
            RowState::Held(c) => &self.comps[c as usize],
        };
        let hit =
            matches!(slot, Some(x) if x.anchor == c.anchor && x.targets.len() == self.n_assets);
        if !hit {
            let (mut targets, mut nonzero) = slot
                .take()
                .map(|x| (x.targets, x.nonzero))
                .unwrap_or_default();
            if targets.len() == self.n_assets {
                // Zero only what the last computation held: every other target is `+0.0`.
                for &a in &nonzero {
                    targets[a as usize] = 0.0;
                }
            } else {
                targets.clear();
                targets.resize(self.n_assets, 0.0);
            }
            nonzero.clear();
            let (a, b) = (c.start as usize, c.end as usize);
            // The record keeps exactly the targets whose bits are not zero, ascending: the
            // nonzero list is its asset column.
            for (&asset, &w) in self.assets[a..b].iter().zip(&self.weights[a..b]) {
                targets[asset as usize] = w;
                nonzero.push(u32::from(asset));
            }
            *slot = Some(Computed {
                anchor: c.anchor,
                activity: c.activity.clone(),
                targets,
                nonzero,
            });
        }
        Ok(slot.as_ref().expect("filled above"))
    }
}

fn activity_bytes(a: &Activity) -> usize {
    match a {
        Activity::Active => 0,
        Activity::Inactive(r) => r.0.capacity(),
    }
}

/// What makes two strategies compute the same targets on the same panel: the name, the
/// parameters that take effect (defaults written out, so spellings do not matter) and the
/// excluded assets.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SignalKey {
    name: String,
    params: String,
    excluded: Vec<bool>,
    /// The venue's listings aligned to the panel (step 2 of the eligible universe).
    tradable: Option<AssetSpans>,
}

#[derive(Debug)]
struct Entry {
    key: SignalKey,
    signals: StrategySignals,
    /// `signals.bytes()`, taken once when the record is stored: summing it afresh for every
    /// point walked every record's computations (a quarter of a long sweep's time in WASM).
    bytes: usize,
    last_used: u64,
}

/// Counters a caller can report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CacheStats {
    /// Strategy lookups answered from a record.
    pub hits: u64,
    /// Records computed.
    pub computed: u64,
    /// Records dropped to stay inside the budget.
    pub evicted: u64,
}

/// Records of [`StrategySignals`] for one panel, keyed by strategy parameter set, within a
/// byte budget (least recently used evicted first). One per thread or worker: it is not shared.
#[derive(Debug)]
pub struct SignalCache {
    budget: usize,
    entries: Vec<Entry>,
    /// The sum of the entries' `bytes`.
    total_bytes: usize,
    tick: u64,
    stats: CacheStats,
}

impl Default for SignalCache {
    fn default() -> Self {
        SignalCache::new(DEFAULT_BUDGET_BYTES)
    }
}

impl SignalCache {
    /// An empty cache that keeps at most `budget_bytes` of records (it may exceed it only by
    /// what a single point needs at once).
    pub fn new(budget_bytes: usize) -> SignalCache {
        SignalCache {
            budget: budget_bytes,
            entries: Vec::new(),
            total_bytes: 0,
            tick: 0,
            stats: CacheStats::default(),
        }
    }

    /// Bytes held by the records.
    pub fn bytes(&self) -> usize {
        self.total_bytes
    }

    /// Number of records held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// A [`HeldSource`] for `engine` (built from `config`) over panel rows `rows`: records
    /// for each of its strategies, computed now if missing or not covering `rows`.
    ///
    /// The cache must only ever see one panel (and `engine` must be built from `config`).
    ///
    /// # Errors
    /// A strategy whose params do not build (cannot happen for an engine built from `config`).
    pub fn source<'c>(
        &'c mut self,
        panel: &Panel,
        config: &Config,
        engine: &TargetEngine,
        rows: Range<usize>,
    ) -> Result<SignalSource<'c>, ConfigError> {
        let excluded = engine.excluded(panel);
        let tradable = engine.tradable(panel);
        let empty = ParamMap::new();
        let mut picked = Vec::with_capacity(engine.strategies.len());
        for s in &engine.strategies {
            let params = strategies::effective_params(
                &s.name,
                config.params.get(&s.name).unwrap_or(&empty),
            )?;
            let key = SignalKey {
                name: s.name.clone(),
                params: serde_json::to_string(&params).unwrap_or_default(),
                excluded: excluded.clone(),
                tradable: tradable.clone(),
            };
            self.tick += 1;
            let found = self.entries.iter().position(|e| e.key == key);
            let index = match found {
                Some(i) if covers(&self.entries[i].signals, &rows) => {
                    self.stats.hits += 1;
                    i
                }
                _ => {
                    // Recompute over the union of what was covered and what is asked, so a
                    // later point with the earlier range still hits.
                    let span = match found {
                        Some(i) => {
                            let r = self.entries[i].signals.rows();
                            r.start.min(rows.start)..r.end.max(rows.end)
                        }
                        None => rows.clone(),
                    };
                    let input = Input {
                        panel,
                        excluded: &excluded,
                        tradable: tradable.as_ref(),
                    };
                    let signals = StrategySignals::compute(&*s.strategy, &input, span);
                    self.stats.computed += 1;
                    match found {
                        Some(i) => {
                            let bytes = signals.bytes();
                            let e = &mut self.entries[i];
                            self.total_bytes = self.total_bytes - e.bytes + bytes;
                            e.signals = signals;
                            e.bytes = bytes;
                            i
                        }
                        None => {
                            let bytes = signals.bytes();
                            self.total_bytes += bytes;
                            self.entries.push(Entry {
                                key,
                                signals,
                                bytes,
                                last_used: 0,
                            });
                            self.entries.len() - 1
                        }
                    }
                }
            };
            self.entries[index].last_used = self.tick;
            picked.push(index);
        }
        // Evict the least recently used records this point does not need.
        while self.total_bytes > self.budget {
            let victim = (0..self.entries.len())
                .filter(|i| !picked.contains(i))
                .min_by_key(|&i| self.entries[i].last_used);
            let Some(v) = victim else { break };
            self.total_bytes -= self.entries[v].bytes;
            self.entries.swap_remove(v);
            self.stats.evicted += 1;
            let moved = self.entries.len();
            for p in &mut picked {
                if *p == moved {
                    *p = v;
                }
            }
        }
        let entries = &self.entries;
        Ok(SignalSource {
            signals: picked.iter().map(|&i| &entries[i].signals).collect(),
        })
    }
}

fn covers(s: &StrategySignals, rows: &Range<usize>) -> bool {
    let r = s.rows();
    r.start <= rows.start && rows.end <= r.end
}

/// The held targets of an engine's strategies read back from their records (engine strategy
/// `k` ↔ `signals[k]`). A row outside a record is computed on the spot by [`held_targets`].
#[derive(Debug)]
pub struct SignalSource<'c> {
    signals: Vec<&'c StrategySignals>,
}

impl HeldSource for SignalSource<'_> {
    fn held<'c, 's>(
        &'s mut self,
        k: usize,
        strategy: &dyn Strategy,
        input: &Input<'_>,
        t: usize,
        slot: &'c mut Option<Computed>,
    ) -> Result<&'c Computed, Cow<'s, InactiveReason>> {
        match self.signals.get(k) {
            Some(s) if s.rows().contains(&t) => s.held_at(t, slot).map_err(Cow::Borrowed),
            _ => held_targets(strategy, input, t, slot).map_err(Cow::Owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portfolio::engine::TargetCache;
    use crate::synth::{generate, SynthConfig};

    fn panel() -> Panel {
        generate(&SynthConfig {
            seed: 3,
            n_assets: 25,
            n_days: 300,
            start: Day(19_000),
        })
        .unwrap()
    }

    /// Every row's blend through the records equals the blend computed fresh, bit for bit, and
    /// the held state of every strategy matches.
    #[test]
    fn recorded_blend_equals_fresh_blend_every_row() {
        let p = panel();
        let config = Config::lockstep_default().unwrap();
        let engine = TargetEngine::from_config(&config).unwrap();
        let mut cache = SignalCache::default();
        let mut src = cache.source(&p, &config, &engine, 0..p.n_days()).unwrap();
        let (mut a, mut b) = (TargetCache::new(), TargetCache::new());
        let mut wa = vec![0.0; p.n_assets()];
        let mut wb = vec![0.0; p.n_assets()];
        for t in 0..p.n_days() {
            let ra = engine.blend_into(&p, t, &mut a, &mut wa);
            let rb = engine.blend_into_with(&p, t, &mut b, &mut wb, &mut src);
            assert_eq!(ra, rb, "row {t}");
            let bits = |w: &[f64]| w.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&wa), bits(&wb), "row {t}");
            for k in 0..engine.strategies.len() {
                let (x, y) = (a.strategy(k), b.strategy(k));
                assert_eq!(x.activity, y.activity);
                assert_eq!(x.computed_on, y.computed_on);
                assert_eq!(bits(x.targets), bits(y.targets));
            }
        }
    }

    #[test]
    fn records_are_shared_by_param_set_and_the_budget_evicts_old_ones() {
        let p = panel();
        let base = Config::lockstep_default().unwrap();
        let mut cache = SignalCache::default();
        let engine = TargetEngine::from_config(&base).unwrap();
        let n = engine.strategies.len();
        cache.source(&p, &base, &engine, 10..300).unwrap();
        assert_eq!(cache.stats().computed, n as u64);
        // Other weights, same strategy params: all hits.
        let mut c = base.clone();
        c.set_weight("size", 0.9).unwrap();
        c.leverage = 2.0;
        let e = TargetEngine::from_config(&c).unwrap();
        cache.source(&p, &c, &e, 50..200).unwrap();
        assert_eq!(cache.stats().computed, n as u64);
        assert_eq!(cache.stats().hits, n as u64);
        // A default written out is the same param set as the default left implicit.
        let implicit = Config::from_json(r#"{"strategy_weights": {"volatility": 1}}"#).unwrap();
        let window = strategies::effective_params("volatility", &ParamMap::new()).unwrap()
            ["volatility_window"]
            .as_f64()
            .unwrap();
        let mut explicit = implicit.clone();
        explicit
            .set_param("volatility", "volatility_window", window)
            .unwrap();
        let computed = cache.stats().computed;
        for c in [&implicit, &explicit] {
            let e = TargetEngine::from_config(c).unwrap();
            cache.source(&p, c, &e, 10..300).unwrap();
        }
        assert_eq!(cache.stats().computed, computed + 1);
        // One changed param: one new record; a wider range: recomputed over the union.
        let mut other = base.clone();
        other
            .set_param("volatility", "volatility_window", 11.0)
            .unwrap();
        let e = TargetEngine::from_config(&other).unwrap();
        let computed = cache.stats().computed;
        cache.source(&p, &other, &e, 10..300).unwrap();
        assert_eq!(cache.stats().computed, computed + 1);
        assert_eq!(cache.len(), n + 2);
        cache.source(&p, &other, &e, 0..300).unwrap();
        assert_eq!(cache.len(), n + 2);
        assert!(cache.entries.iter().all(|e| e.signals.rows().end == 300));

        // A budget smaller than one point's needs keeps exactly that point's records.
        let mut small = SignalCache::new(1);
        small.source(&p, &base, &engine, 0..300).unwrap();
        assert_eq!(small.len(), n);
        small.source(&p, &other, &e, 0..300).unwrap();
        assert_eq!(small.len(), n);
        assert_eq!(small.stats().evicted, 1);
        // The running byte count is the records' sum through inserts, recomputes and evictions.
        for c in [&cache, &small] {
            let sum: usize = c.entries.iter().map(|e| e.signals.bytes()).sum();
            assert_eq!(c.bytes(), sum);
            assert!(c.entries.iter().all(|e| e.bytes == e.signals.bytes()));
        }
    }
}
