//! Signal parity: every live plan's targets made again, twice.
//!
//! 1. **Same data**: on the store as it was when the plan was made (the panel at the plan's
//!    recorded data version, [`crate::store::Store::build_panel_as_of`]). The targets are a pure
//!    function of that panel and the plan's stored config, so they must equal the plan's bit for
//!    bit; any difference is a `mismatch`, the report's red alarm.
//! 2. **Today's data**: on the store as it is now. A difference here with none in (1) means the
//!    data was `revised` since; the revisions inside the plan's lookback window are listed
//!    (field, before, after), from the store's revision log.
//!
//! Both recomputations are [`crate::live::recompute_plan`], the function
//! [`crate::live::LiveService::replay`] uses: one meaning of "recomputed".

use super::ParityError;
use crate::live::records::{Records, StoredPlan};
use crate::live::{plan_differences, recompute_plan, Recomputed};
use crate::store::layout::VenueOrder;
use crate::store::market::ValueRevision;
use crate::store::Store;
use app::api::{DataRevision, SignalParity, WeightDifference};
use shared::{Day, Panel};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Statuses of [`SignalParity::status`].
pub mod status {
    pub const IDENTICAL: &str = "identical";
    pub const REVISED: &str = "revised";
    pub const MISMATCH: &str = "mismatch";
    pub const UNAVAILABLE: &str = "unavailable";
}

/// Most data revisions listed per plan (a re-import that touched years of history would
/// otherwise repeat thousands of rows under every plan); the note says how many were left out.
pub const MAX_REVISIONS_PER_PLAN: usize = 200;

/// Panels the signal check reuses across plans: today's, and one per data version asked for.
pub struct Panels<'a> {
    store: &'a Store,
    today: Arc<Panel>,
    as_of: HashMap<i64, Option<Arc<Panel>>>,
    /// The venue order of the live config's panel (its venue's funding first).
    order: VenueOrder,
}

impl<'a> Panels<'a> {
    /// Today's panel from the store.
    ///
    /// # Errors
    /// [`ParityError::NoData`] on an empty store, or a store failure.
    pub async fn new(store: &'a Store, order: VenueOrder) -> Result<Panels<'a>, ParityError> {
        let (_, today) = store.panel_for(&order).await?.ok_or(ParityError::NoData)?;
        Ok(Panels {
            store,
            today,
            as_of: HashMap::new(),
            order,
        })
    }

    pub fn today(&self) -> &Arc<Panel> {
        &self.today
    }

    /// A panel whose rows up to `day` are those of the store at data version `version`:
    /// today's when nothing on or before `day` changed since (the usual case), else the panel
    /// rebuilt as of `version`.
    async fn at(&mut self, version: i64, day: Day) -> Result<Option<Arc<Panel>>, ParityError> {
        if self.store.unchanged_through(version, day).await? {
            return Ok(Some(self.today.clone()));
        }
        if let Some(p) = self.as_of.get(&version) {
            return Ok(p.clone());
        }
        let p = self
            .store
            .build_panel_as_of_for(version, &self.order)
            .await?
            .map(Arc::new);
        self.as_of.insert(version, p.clone());
        Ok(p)
    }
}

/// Signal parity of every plan whose data day lies in `from..=to`, oldest first.
///
/// # Errors
/// A store failure. A plan that cannot be recomputed is reported `unavailable`, not an error.
pub async fn signal_parity(
    panels: &mut Panels<'_>,
    from: Day,
    to: Day,
) -> Result<Vec<SignalParity>, ParityError> {
    let plans = Records {
        store: panels.store,
    }
    .plans_between(from, to)
    .await?;
    let mut out = Vec::with_capacity(plans.len());
    for p in &plans {
        out.push(plan_parity(panels, p).await?);
    }
    Ok(out)
}

/// Signal parity of one plan.
///
/// # Errors
/// A store failure.
pub async fn plan_parity(
    panels: &mut Panels<'_>,
    plan: &StoredPlan,
) -> Result<SignalParity, ParityError> {
    let mut entry = SignalParity {
        plan_id: plan.id.clone(),
        data_day: plan.data_day.to_string(),
        plan_status: plan.status.as_str().into(),
        status: status::UNAVAILABLE.into(),
        kernel_version_matches: plan.kernel_version == shared::KERNEL_VERSION,
        differences: Vec::new(),
        revisions: Vec::new(),
        note: None,
    };
    let mut notes = Vec::new();
    if !entry.kernel_version_matches {
        notes.push(format!(
            "made by kernel {}, recomputed by kernel {}",
            plan.kernel_version,
            shared::KERNEL_VERSION
        ));
    }
    let Some(version) = plan.body.data_version else {
        notes.push(
            "the plan predates recorded data versions, so the data it saw cannot be rebuilt \
             (`lockstep` replays it on today's data only)"
                .into(),
        );
        entry.note = Some(notes.join("; "));
        return Ok(entry);
    };
    let listings = match crate::live::plan_listings(panels.store, plan).await {
        Ok(l) => l,
        Err(e) => {
            notes.push(format!("cannot read the plan's venue listings: {e}"));
            entry.note = Some(notes.join("; "));
            return Ok(entry);
        }
    };
    let today = match recompute_plan(plan, panels.today(), listings.clone()) {
        Ok(r) => r,
        Err(e) => {
            notes.push(format!("cannot recompute on today's data: {e}"));
            entry.note = Some(notes.join("; "));
            return Ok(entry);
        }
    };
    let same = match panels.at(version, plan.data_day).await? {
        None => Err(format!(
            "the store held no daily bars at data version {version}"
        )),
        // The same rows as today's through the plan's day: the result is today's.
        Some(panel) if Arc::ptr_eq(&panel, panels.today()) => Ok(today.clone()),
        Some(panel) => recompute_plan(plan, &panel, listings).map_err(|e| e.to_string()),
    };
    let same = match same {
        Ok(r) => r,
        Err(e) => {
            notes.push(format!(
                "cannot recompute on the data as of version {version}: {e}"
            ));
            entry.note = Some(notes.join("; "));
            return Ok(entry);
        }
    };
    let same_diff = plan_differences(plan, &same);
    let today_diff = plan_differences(plan, &today);
    entry.status = classify(&same_diff, &today_diff).into();
    entry.differences = weight_differences(&plan.body.targets, &same, &today);
    if entry.status == status::MISMATCH && entry.differences.is_empty() {
        notes.push(format!(
            "blended targets agree but the per-strategy views differ: {}",
            same_diff.join("; ")
        ));
    }
    // The window the plan's targets read: (data_day - lookback, data_day].
    let first = Day(plan.data_day.0 - same.lookback.max(1) as i32 + 1);
    let revisions = panels
        .store
        .revisions_after(version, first, plan.data_day)
        .await?;
    if revisions.len() > MAX_REVISIONS_PER_PLAN {
        notes.push(format!(
            "{} data revisions in the lookback window; the first {MAX_REVISIONS_PER_PLAN} are listed",
            revisions.len()
        ));
    }
    if entry.status == status::REVISED && revisions.is_empty() {
        notes.push(
            "no value in the lookback window changed: the difference comes from rows outside it \
             (assets listed or days added since)"
                .into(),
        );
    }
    entry.revisions = revisions
        .iter()
        .take(MAX_REVISIONS_PER_PLAN)
        .map(data_revision)
        .collect();
    entry.note = (!notes.is_empty()).then(|| notes.join("; "));
    Ok(entry)
}

/// `mismatch` when the same data gives another result, else `revised` when today's data does,
/// else `identical`.
pub fn classify(same_data_differences: &[String], today_differences: &[String]) -> &'static str {
    if !same_data_differences.is_empty() {
        status::MISMATCH
    } else if !today_differences.is_empty() {
        status::REVISED
    } else {
        status::IDENTICAL
    }
}

/// Every symbol whose planned, same-data and today's weights are not all equal (bit for bit);
/// 0 for a symbol a side does not hold.
pub fn weight_differences(
    planned: &BTreeMap<String, f64>,
    same: &Recomputed,
    today: &Recomputed,
) -> Vec<WeightDifference> {
    let symbols: BTreeSet<&String> = planned
        .keys()
        .chain(same.targets.keys())
        .chain(today.targets.keys())
        .collect();
    let get = |m: &BTreeMap<String, f64>, s: &str| m.get(s).copied().unwrap_or(0.0);
    symbols
        .into_iter()
        .filter_map(|s| {
            let (p, a, t) = (
                get(planned, s),
                get(&same.targets, s),
                get(&today.targets, s),
            );
            if p.to_bits() == a.to_bits() && p.to_bits() == t.to_bits() {
                return None;
            }
            Some(WeightDifference {
                symbol: s.clone(),
                planned: p,
                same_data: a,
                today: t,
                cause: if p.to_bits() != a.to_bits() {
                    "same_data".into()
                } else {
                    "revised".into()
                },
            })
        })
        .collect()
}

/// The API row of a stored revision. Per-venue series name the venue after the field
/// (`funding_rate@bybit`): the panel takes Binance first, the others by name.
pub fn data_revision(r: &ValueRevision) -> DataRevision {
    DataRevision {
        symbol: r.symbol.clone(),
        day: r.day.to_string(),
        field: if r.venue.is_empty() {
            r.field.to_string()
        } else {
            format!("{}@{}", r.field, r.venue)
        },
        before: r.before,
        after: r.after,
        relative_change: relative_change(r.before, r.after),
    }
}

/// (after − before) / |before| when both exist and `before` is not zero.
pub fn relative_change(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if b != 0.0 => Some((a - b) / b.abs()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(targets: &[(&str, f64)]) -> Recomputed {
        Recomputed {
            targets: targets.iter().map(|(s, w)| (s.to_string(), *w)).collect(),
            strategies: Vec::new(),
            lookback: 10,
        }
    }

    #[test]
    fn classification_puts_same_data_first() {
        let d = vec!["x".to_string()];
        assert_eq!(classify(&[], &[]), status::IDENTICAL);
        assert_eq!(classify(&[], &d), status::REVISED);
        assert_eq!(classify(&d, &[]), status::MISMATCH);
        assert_eq!(classify(&d, &d), status::MISMATCH);
    }

    #[test]
    fn weight_differences_name_their_cause() {
        let planned: BTreeMap<String, f64> =
            [("A".to_string(), 0.5), ("B".to_string(), -0.5)].into();
        let same = rec(&[("A", 0.5), ("B", -0.5)]);
        let today = rec(&[("A", 0.4), ("C", -0.6)]);
        let d = weight_differences(&planned, &same, &today);
        assert_eq!(d.len(), 3);
        assert_eq!(
            (d[0].symbol.as_str(), d[0].today, d[0].cause.as_str()),
            ("A", 0.4, "revised")
        );
        assert_eq!((d[1].symbol.as_str(), d[1].today), ("B", 0.0));
        assert_eq!(
            (d[2].symbol.as_str(), d[2].planned, d[2].today),
            ("C", 0.0, -0.6)
        );
        let tampered = rec(&[("A", 0.25), ("B", -0.5)]);
        let d = weight_differences(&planned, &tampered, &tampered);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].same_data, d[0].cause.as_str()), (0.25, "same_data"));
        assert!(weight_differences(&planned, &same, &same).is_empty());
    }

    #[test]
    fn relative_change_by_hand() {
        assert_eq!(relative_change(Some(100.0), Some(110.0)), Some(0.1));
        assert_eq!(relative_change(Some(-2.0), Some(-1.0)), Some(0.5));
        assert_eq!(relative_change(None, Some(1.0)), None);
        assert_eq!(relative_change(Some(0.0), Some(1.0)), None);
    }
}
