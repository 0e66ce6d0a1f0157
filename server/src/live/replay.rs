//! Replay: a stored plan's decision recomputed from its own inputs (stored config, a fresh
//! engine and cache, the store's data cut at its data day) and compared bit for bit.

use super::cycle::{cut, nonzero, plan_listings, plan_venue_order, strategy_views};
use super::records::StoredPlan;
use super::{LiveError, LiveService};
use app::api::PlanStrategy;
use shared::config::Config;
use shared::portfolio::engine::{TargetCache, TargetEngine};
use shared::universe::Listings;
use shared::Panel;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A stored plan recomputed from its inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    pub plan_id: String,
    /// Blended targets, per-strategy targets, effective weights and activity all equal, bit for bit.
    pub identical: bool,
    pub kernel_version_matches: bool,
    pub differences: Vec<String>,
}

impl LiveService {
    /// Recomputes a stored plan's targets from its stored config, on the store's data cut at its
    /// data day, with a fresh cache, and compares them bit for bit.
    ///
    /// # Errors
    /// Unknown id, the stored config no longer parses, the data day is gone from the store.
    pub async fn replay(&self, id: &str) -> Result<Replay, LiveError> {
        let p = self.records().plan(id).await?;
        let order = plan_venue_order(&p)?;
        let Some((_, panel)) = self.store.panel_for(&order).await? else {
            return Err(LiveError::NoData);
        };
        let listings = plan_listings(&self.store, &p).await?;
        let recomputed = recompute_plan(&p, &panel, listings)?;
        let differences = plan_differences(&p, &recomputed);
        Ok(Replay {
            plan_id: id.into(),
            identical: differences.is_empty(),
            kernel_version_matches: p.kernel_version == shared::KERNEL_VERSION,
            differences,
        })
    }
}

/// A stored plan's decision made again: its stored config, a fresh engine and cache, on a
/// panel cut at its data day. [`LiveService::replay`] and the consistency report
/// (`crate::parity::signals`) both call it, so "recomputed" means one thing.
#[derive(Clone, Debug, PartialEq)]
pub struct Recomputed {
    /// Blended target weights, non-zero only (as [`PlanBody::targets`]).
    pub targets: BTreeMap<String, f64>,
    pub strategies: Vec<PlanStrategy>,
    /// Rows the engine reads, ending at the data day: the window a data revision can matter in.
    pub lookback: usize,
}

/// Recomputes `plan`'s targets on `panel` (any panel holding its data day: the store's today,
/// or the store as of the plan's data version).
///
/// # Errors
/// The stored config no longer parses or builds; the data day is not in `panel`.
pub fn recompute_plan(
    plan: &StoredPlan,
    panel: &Arc<Panel>,
    listings: Option<Arc<Listings>>,
) -> Result<Recomputed, LiveError> {
    let config =
        Config::from_json(&plan.config_json).map_err(|e| LiveError::Config(e.to_string()))?;
    let mut engine =
        TargetEngine::from_config(&config).map_err(|e| LiveError::Config(e.to_string()))?;
    engine.listings = listings;
    let t = panel.row_of(plan.data_day).ok_or_else(|| {
        LiveError::NotFound(format!("data day {} is not in the store", plan.data_day))
    })?;
    let panel = cut(panel, t)?;
    let targets = engine.targets_at(&panel, t, &mut TargetCache::new());
    Ok(Recomputed {
        targets: nonzero(&panel, &targets.weights),
        strategies: strategy_views(&panel, &targets),
        lookback: engine.lookback(),
    })
}

/// How a recomputation differs from the stored plan, bit for bit: one line per differing blended
/// target and per differing strategy view; empty when identical.
pub fn plan_differences(plan: &StoredPlan, recomputed: &Recomputed) -> Vec<String> {
    let p = &plan.body;
    let mut differences = Vec::new();
    if recomputed.targets != p.targets {
        let keys: BTreeSet<&String> = recomputed.targets.keys().chain(p.targets.keys()).collect();
        for k in keys {
            let (a, b) = (p.targets.get(k), recomputed.targets.get(k));
            if a.map(|x| x.to_bits()) != b.map(|x| x.to_bits()) {
                differences.push(format!("target {k}: stored {a:?}, recomputed {b:?}"));
            }
        }
    }
    if recomputed.strategies != p.strategies {
        for (a, b) in p.strategies.iter().zip(&recomputed.strategies) {
            if a != b {
                differences.push(format!(
                    "strategy {}: stored and recomputed differ",
                    a.allocation.name
                ));
            }
        }
        if p.strategies.len() != recomputed.strategies.len() {
            differences.push("the number of strategies differs".into());
        }
    }
    differences
}
