//! The consistency report: is the live trader the backtest, and where does every dollar of
//! difference between them come from (`lockstep parity`, `GET /api/parity`, the Parity page).
//!
//! The report's JSON types live in [`app::api`] (`ParityReport` and friends). Its parts:
//!
//! - [`signals`]: every plan in the period recomputed on the data it saw (the store as of the
//!   plan's data version) and on today's data: `identical`, `revised` (with the revised values)
//!   or `mismatch` (same data, different result: an alarm).
//! - [`params`]: the live config's effective parameters against the backtest config's.
//! - [`shadow`]: the shadow backtest (the live config backtested over the live period) and the
//!   live records it is compared with.
//! - [`gaps`]: the gap attribution, live − shadow P&L per day and per symbol by cause.
//! - [`calibration`]: what the live fills say fees and slippage cost.
//! - [`report`] assembles them and runs the predecessor's four manual checks:
//!   `positions_vs_backtest`, `parameter_audit`, `signal_consistency`, `portfolio_value_30d`.
//!
//! # The period
//! `from`/`to` are data days (inclusive); by default the first and last plan's. Without any plan
//! the report still audits the parameters; the other parts are empty and their checks say they
//! were skipped.

pub mod calibration;
pub mod gaps;
pub mod params;
pub mod shadow;
pub mod signals;

use crate::live::records::{Records, StoredPlan};
use crate::live::{LiveError, LiveService};
use crate::store::StoreError;
use app::api::{
    CostCalibration, GapAttribution, ParityCheck, ParityReport, PlanLine, PlanOrder,
    ShadowComparison, SignalParity,
};
use shared::backtest::{self, BacktestSettings};
use shared::config::Config;
use shared::{Day, Panel};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ParityError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Live(#[from] LiveError),
    /// A config that does not parse or build (the message names the JSON path).
    #[error("config: {0}")]
    Config(String),
    #[error("the store holds no market data")]
    NoData,
    /// A request the caller can fix (bad date, bad range, bad tolerance).
    #[error("{0}")]
    BadRequest(String),
}

/// The position check's default relative tolerance.
pub const DEFAULT_TOLERANCE: f64 = 0.05;

/// Days the portfolio-value check looks back over.
pub const VALUE_CHECK_DAYS: i32 = 30;

/// Check names, in report order.
pub mod check {
    pub const POSITIONS: &str = "positions_vs_backtest";
    pub const PARAMETERS: &str = "parameter_audit";
    pub const SIGNALS: &str = "signal_consistency";
    pub const VALUE_30D: &str = "portfolio_value_30d";
}

/// What to report on. Every field is optional; see [`report`] for the defaults.
#[derive(Clone, Debug, Default)]
pub struct ReportRequest {
    /// First data day of the period (default: the first plan's).
    pub from: Option<Day>,
    /// Last data day of the period (default: the last plan's).
    pub to: Option<Day>,
    /// Relative tolerance of the position and portfolio-value checks (default 0.05).
    pub tolerance: Option<f64>,
    /// The day of the signal-consistency check (default: the newest plan's data day).
    pub date: Option<Day>,
    /// The backtest config and where it came from (default: [`params::default_backtest_config`]).
    pub backtest_config: Option<(Config, String)>,
    /// Counts the plans recomputed (the command line's bar; `None` elsewhere).
    pub progress: Option<indicatif::ProgressBar>,
}

impl ReportRequest {
    /// The tolerance to use.
    ///
    /// # Errors
    /// [`ParityError::BadRequest`] for a tolerance that is not a finite number > 0, or `from`
    /// after `to`.
    pub fn validate(&self) -> Result<f64, ParityError> {
        let tolerance = self.tolerance.unwrap_or(DEFAULT_TOLERANCE);
        if !(tolerance.is_finite() && tolerance > 0.0) {
            return Err(ParityError::BadRequest(format!(
                "tolerance: must be a finite number > 0 (a fraction: 0.05 = 5%), got {tolerance}"
            )));
        }
        if let (Some(f), Some(t)) = (self.from, self.to) {
            if f > t {
                return Err(ParityError::BadRequest(format!(
                    "from: {f} is after to: {t}"
                )));
            }
        }
        Ok(tolerance)
    }
}

/// The consistency report of `live` (its store, config and broker).
///
/// # Errors
/// A bad request ([`ParityError::BadRequest`]), an empty store ([`ParityError::NoData`]), a
/// store or broker failure. A plan that cannot be recomputed is reported, not an error.
pub async fn report(live: &LiveService, req: &ReportRequest) -> Result<ParityReport, ParityError> {
    let tolerance = req.validate()?;
    let store = live.store.as_ref();
    let records = Records { store };
    let mut panels = signals::Panels::new(store, live.venue_order()).await?;
    let today_panel = panels.today().clone();

    let plan_days = records.plan_day_range().await?;
    let from = req.from.or(plan_days.map(|d| d.0));
    let to = req.to.or(plan_days.map(|d| d.1));
    let period = match (from, to) {
        (Some(f), Some(t)) if f <= t => Some((f, t)),
        (Some(f), Some(t)) => {
            return Err(ParityError::BadRequest(format!(
                "from: {f} is after the last plan's day {t}; give `to` as well"
            )))
        }
        _ => None,
    };
    let plans: Vec<StoredPlan> = match period {
        Some((f, t)) => records.plans_between(f, t).await?,
        None => Vec::new(),
    };

    let mut signal_rows = Vec::with_capacity(plans.len());
    if let Some(bar) = &req.progress {
        bar.set_length(plans.len() as u64);
    }
    for p in &plans {
        signal_rows.push(signals::plan_parity(&mut panels, p).await?);
        if let Some(bar) = &req.progress {
            bar.inc(1);
        }
    }
    let alarms = signal_rows
        .iter()
        .filter(|s| s.status == signals::status::MISMATCH)
        .count();

    let (backtest_config, source) = match &req.backtest_config {
        Some((c, s)) => (c.clone(), s.clone()),
        None => (
            params::default_backtest_config()?,
            params::DEFAULT_BACKTEST_SOURCE.to_string(),
        ),
    };
    let parameters = params::audit(live.config(), &backtest_config, &source)?;

    let (shadow, attribution, costs) = match period {
        Some((f, t)) => shadow::shadow_and_gaps(live, &today_panel, f, t).await?,
        None => empty_shadow(live),
    };

    // The four checks.
    let latest = plans.last();
    let first_plan_day = plan_days.map(|d| d.0);
    let positions = positions_check(
        &records,
        &today_panel,
        latest,
        first_plan_day,
        &backtest_config,
        tolerance,
    )
    .await?;
    let parameter_check = parameters_check(&parameters);
    let signal_check = signal_check(&mut panels, &records, &signal_rows, req.date, latest).await?;
    let value_check = value_check(&shadow, tolerance);
    // The live config's universe, as the plans and the shadow backtest used it.
    let (listings, mut universe) = store.venue_universe(live.config().venue()).await?;
    let last = period.map_or(today_panel.end(), |p| p.1.min(today_panel.end()));
    universe.count_on(&today_panel, listings.as_deref(), last);

    Ok(ParityReport {
        generated_at: live.now_ms(),
        broker: live.broker().name().to_string(),
        from: period.map(|p| p.0.to_string()),
        to: period.map(|p| p.1.to_string()),
        kernel_version: shared::KERNEL_VERSION.to_string(),
        tolerance,
        signals: signal_rows,
        alarms,
        parameters,
        shadow,
        attribution,
        costs,
        checks: vec![positions, parameter_check, signal_check, value_check],
        // A seam in a price series inside the period moves the backtest and the live plans
        // alike, but it is not the market: the report names it.
        splices: match period {
            Some(p) => store.source_splices(Some(p)).await?,
            None => Vec::new(),
        },
        simulated: crate::demo::Labels::load(
            store,
            live.broker().name(),
            &live.settings.paper.account,
        )
        .await
        .map_err(|e| ParityError::Store(e.into()))?
        .runs,
        universe: Some(universe),
    })
}

/// The shadow parts of a report without a live period: nothing to compare yet.
fn empty_shadow(live: &LiveService) -> (ShadowComparison, GapAttribution, CostCalibration) {
    let config = live.config();
    (
        ShadowComparison {
            policy: crate::live::cycle::policy_of(config).to_string(),
            start_equity: 0.0,
            days: Vec::new(),
            live_return: 0.0,
            shadow_return: 0.0,
        },
        GapAttribution {
            days: Vec::new(),
            total: Default::default(),
            symbols: Vec::new(),
        },
        CostCalibration {
            fills: 0,
            traded_notional: 0.0,
            configured_fee_bps: config.rebalance.fee_bps,
            configured_slippage_bps: config.rebalance.slippage_bps,
            implied_fee_bps: None,
            implied_slippage_bps: None,
            suggestion: None,
        },
    )
}

fn skipped(name: &str, why: &str) -> ParityCheck {
    ParityCheck {
        name: name.into(),
        ok: true,
        status: ParityCheck::NOT_MEASURED.into(),
        value: None,
        limit: None,
        detail: format!("skipped: {why}"),
    }
}

/// Relative L1 distance `Σ|live − backtest| / Σ|backtest|` between two weight books (0 when
/// both are empty, infinite when only the backtest's is).
pub fn relative_distance(live: &BTreeMap<String, f64>, backtest: &BTreeMap<String, f64>) -> f64 {
    let symbols: BTreeSet<&String> = live.keys().chain(backtest.keys()).collect();
    let get = |m: &BTreeMap<String, f64>, s: &str| m.get(s).copied().unwrap_or(0.0);
    let diff: f64 = symbols
        .iter()
        .map(|s| (get(live, s) - get(backtest, s)).abs())
        .sum();
    let scale: f64 = backtest.values().map(|w| w.abs()).sum();
    if diff == 0.0 {
        0.0
    } else if scale == 0.0 {
        f64::INFINITY
    } else {
        diff / scale
    }
}

/// `positions_vs_backtest`: the newest plan's post-trade weights (what the live path holds
/// after that day's trades, the predecessor's dry-run positions; see [`post_trade_weights`])
/// against the holdings of the backtest config's backtest on the same day, started flat on the
/// first live plan's day as the live account was.
async fn positions_check(
    records: &Records<'_>,
    panel: &Arc<Panel>,
    latest: Option<&StoredPlan>,
    first_plan_day: Option<Day>,
    backtest_config: &Config,
    tolerance: f64,
) -> Result<ParityCheck, ParityError> {
    let (Some(plan), Some(start)) = (latest, first_plan_day) else {
        return Ok(skipped(check::POSITIONS, "no live plan in the period"));
    };
    let day = plan.data_day;
    if panel.row_of(day).is_none() {
        return Ok(ParityCheck {
            name: check::POSITIONS.into(),
            ok: false,
            status: ParityCheck::measured(false),
            value: None,
            limit: Some(tolerance),
            detail: format!("the plan's data day {day} is no longer in the store"),
        });
    }
    let orders = records.orders(&plan.id).await?;
    let live = post_trade_weights(&plan.body.lines, plan.equity, &orders);
    let (panel, config) = (panel.clone(), backtest_config.clone());
    let settings = BacktestSettings {
        start: Some(start.min(day)),
        end: Some(day),
        ..BacktestSettings::default()
    };
    let (listings, _) = records.store.venue_universe(config.venue()).await?;
    // A backtest is CPU work: keep it off the async workers.
    let result = tokio::task::spawn_blocking(move || {
        backtest::run_on_venue(&panel, &config, &settings, listings)
    })
    .await
    .map_err(|e| ParityError::Config(format!("backtest task: {e}")))?
    .map_err(|e| ParityError::Config(format!("backtest: {e}")))?;
    let held: BTreeMap<String, f64> = result
        .holdings
        .iter()
        .filter(|r| r.date == day)
        .map(|r| (r.symbol.clone(), r.weight))
        .collect();
    let value = relative_distance(&live, &held);
    let mut gaps: Vec<(String, f64, f64)> = live
        .keys()
        .chain(held.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|s| {
            (
                s.clone(),
                live.get(s).copied().unwrap_or(0.0),
                held.get(s).copied().unwrap_or(0.0),
            )
        })
        .filter(|(_, l, b)| l != b)
        .collect();
    gaps.sort_by(|a, b| (b.1 - b.2).abs().total_cmp(&(a.1 - a.2).abs()));
    let worst: Vec<String> = gaps
        .iter()
        .take(3)
        .map(|(s, l, b)| format!("{s} live {l:.4} vs backtest {b:.4}"))
        .collect();
    let ok = value <= tolerance;
    Ok(ParityCheck {
        name: check::POSITIONS.into(),
        ok,
        status: ParityCheck::measured(ok),
        value: value.is_finite().then_some(value),
        limit: Some(tolerance),
        detail: format!(
            "plan {} ({day}): {} live position(s) vs {} backtest holding(s) (backtest from {}), \
             relative L1 distance {value:.4}{}",
            plan.id,
            live.len(),
            held.len(),
            start.min(day),
            if worst.is_empty() {
                String::new()
            } else {
                format!("; largest: {}", worst.join(", "))
            }
        ),
    })
}

/// The weights a plan leaves the account with, by symbol (non-zero only). A line's
/// `new_weight` is what the plan meant to hold; where it did not get there the position it
/// kept counts instead: a dropped line (no price, not tradable, below the venue minimum) keeps
/// `current_weight`, and a sent order that did not fill in full (rejected, partial, open,
/// unknown) leaves `current_units` plus what did fill, at the plan's mark and equity. A plan
/// not executed yet (a dry run, a proposal) counts as meant.
pub fn post_trade_weights(
    lines: &[PlanLine],
    equity: f64,
    orders: &[PlanOrder],
) -> BTreeMap<String, f64> {
    lines
        .iter()
        .map(|l| {
            let order = l
                .client_order_id
                .as_ref()
                .and_then(|id| orders.iter().find(|o| &o.client_order_id == id));
            let w = if l.dropped.is_some() {
                l.current_weight
            } else {
                match order {
                    Some(o)
                        if !matches!(
                            o.status,
                            app::api::OrderState::Filled | app::api::OrderState::Pending
                        ) =>
                    {
                        if equity > 0.0 {
                            (l.current_units + o.filled_units) * l.mark_price / equity
                        } else {
                            0.0
                        }
                    }
                    _ => l.new_weight,
                }
            };
            (l.symbol.clone(), w)
        })
        .filter(|(_, w)| *w != 0.0)
        .collect()
}

fn parameters_check(audit: &app::api::ParameterAudit) -> ParityCheck {
    let differing: Vec<String> = audit
        .rows
        .iter()
        .filter(|r| !r.same)
        .take(5)
        .map(|r| {
            let show = |v: &Option<serde_json::Value>| {
                v.as_ref().map_or("(absent)".to_string(), |v| v.to_string())
            };
            let key = if r.strategy.is_empty() {
                r.key.clone()
            } else {
                format!("{}.{}", r.strategy, r.key)
            };
            format!(
                "{key}: live {}, backtest {}",
                show(&r.live),
                show(&r.backtest)
            )
        })
        .collect();
    ParityCheck {
        name: check::PARAMETERS.into(),
        ok: audit.differing == 0,
        status: ParityCheck::measured(audit.differing == 0),
        value: Some(audit.differing as f64),
        limit: Some(0.0),
        detail: if audit.differing == 0 {
            format!(
                "live config {} and backtest config {} ({}) agree on all {} effective parameters",
                audit.live_config_version,
                audit.backtest_config_version,
                audit.backtest_config_source,
                audit.rows.len()
            )
        } else {
            format!(
                "{} of {} effective parameters differ between live config {} and backtest config {} ({}): {}{}",
                audit.differing,
                audit.rows.len(),
                audit.live_config_version,
                audit.backtest_config_version,
                audit.backtest_config_source,
                differing.join("; "),
                if audit.differing > differing.len() { "; ..." } else { "" }
            )
        },
    }
}

/// `signal_consistency`: the newest plan of `date` (default: the newest plan) recomputed on the
/// data it saw gives its targets.
async fn signal_check(
    panels: &mut signals::Panels<'_>,
    records: &Records<'_>,
    rows: &[SignalParity],
    date: Option<Day>,
    latest: Option<&StoredPlan>,
) -> Result<ParityCheck, ParityError> {
    let plan = match date {
        Some(d) => match records.plans_between(d, d).await?.pop() {
            Some(p) => p,
            None => {
                return Ok(ParityCheck {
                    name: check::SIGNALS.into(),
                    ok: false,
                    status: ParityCheck::measured(false),
                    value: None,
                    limit: Some(0.0),
                    detail: format!("no live plan has data day {d}: nothing to check"),
                })
            }
        },
        None => match latest {
            Some(p) => p.clone(),
            None => return Ok(skipped(check::SIGNALS, "no live plan in the period")),
        },
    };
    let row = match rows.iter().find(|r| r.plan_id == plan.id) {
        Some(r) => r.clone(),
        None => signals::plan_parity(panels, &plan).await?,
    };
    let same_data = row
        .differences
        .iter()
        .filter(|d| d.cause == "same_data")
        .count();
    let (ok, what) = match row.status.as_str() {
        signals::status::IDENTICAL => (true, "recomputes to the same targets bit for bit, on the data it saw and on today's".to_string()),
        signals::status::REVISED => (
            true,
            format!(
                "recomputes to the same targets on the data it saw; today's data gives other weights for {} symbol(s) after {} revised value(s)",
                row.differences.len(),
                row.revisions.len()
            ),
        ),
        signals::status::MISMATCH => (
            false,
            format!("ALARM: recomputed on the same data it gives other weights for {same_data} symbol(s)"),
        ),
        _ => (false, "cannot be recomputed".to_string()),
    };
    Ok(ParityCheck {
        name: check::SIGNALS.into(),
        ok,
        status: ParityCheck::measured(ok),
        value: Some(same_data as f64),
        limit: Some(0.0),
        detail: format!(
            "plan {} ({}) {what}{}",
            plan.id,
            plan.data_day,
            row.note.map(|n| format!(" ({n})")).unwrap_or_default()
        ),
    })
}

/// `portfolio_value_30d`: the live account's return over the last 30 days with a live equity
/// against the shadow backtest's over the same days; the check holds when they differ by at
/// most `tolerance` (in return units: 0.05 = 5 percentage points).
fn value_check(shadow: &ShadowComparison, tolerance: f64) -> ParityCheck {
    let with_live: Vec<(Day, f64, f64)> = shadow
        .days
        .iter()
        .filter_map(|d| {
            let day = Day::parse(&d.day).ok()?;
            Some((day, d.live_equity?, d.shadow_equity))
        })
        .collect();
    let Some(&(last_day, live_end, shadow_end)) = with_live.last() else {
        return skipped(check::VALUE_30D, "no live equity in the period");
    };
    let first_allowed = Day(last_day.0 - VALUE_CHECK_DAYS);
    let Some(&(first_day, live_start, shadow_start)) =
        with_live.iter().find(|(d, _, _)| *d >= first_allowed)
    else {
        return skipped(check::VALUE_30D, "no live equity in the last 30 days");
    };
    if first_day == last_day || live_start <= 0.0 || shadow_start <= 0.0 {
        return skipped(
            check::VALUE_30D,
            "fewer than two days of live equity in the last 30 days",
        );
    }
    let live_ret = live_end / live_start - 1.0;
    let shadow_ret = shadow_end / shadow_start - 1.0;
    let value = (live_ret - shadow_ret).abs();
    ParityCheck {
        name: check::VALUE_30D.into(),
        ok: value <= tolerance,
        status: ParityCheck::measured(value <= tolerance),
        value: Some(value),
        limit: Some(tolerance),
        detail: format!(
            "{first_day} to {last_day}: live {:+.2}% (${live_start:.2} → ${live_end:.2}), shadow backtest {:+.2}% (${shadow_start:.2} → ${shadow_end:.2})",
            live_ret * 100.0,
            shadow_ret * 100.0
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::ShadowDay;

    fn book(w: &[(&str, f64)]) -> BTreeMap<String, f64> {
        w.iter().map(|(s, x)| (s.to_string(), *x)).collect()
    }

    #[test]
    fn relative_distance_by_hand() {
        let bt = book(&[("A", 0.5), ("B", -0.5)]);
        assert_eq!(relative_distance(&bt, &bt), 0.0);
        // |0.4 − 0.5| + |−0.5 + 0.5| + |0.1 − 0| = 0.2, over 1.0.
        let live = book(&[("A", 0.4), ("B", -0.5), ("C", 0.1)]);
        assert!((relative_distance(&live, &bt) - 0.2).abs() < 1e-12);
        assert_eq!(relative_distance(&book(&[]), &book(&[])), 0.0);
        assert!(relative_distance(&live, &book(&[])).is_infinite());
    }

    fn line(symbol: &str, units: f64, cur: f64, new: f64, id: Option<&str>) -> PlanLine {
        PlanLine {
            symbol: symbol.into(),
            mark_price: 10.0,
            current_units: units,
            current_weight: cur,
            target_weight: new,
            new_weight: new,
            notional: 0.0,
            size: "0".into(),
            limit_price: "0".into(),
            reduce_only: false,
            action: app::api::PlanAction::Buy,
            dropped: None,
            note: None,
            client_order_id: id.map(Into::into),
        }
    }

    fn order(id: &str, status: &str, filled: f64) -> PlanOrder {
        PlanOrder {
            client_order_id: id.into(),
            symbol: String::new(),
            size: "0".into(),
            limit_price: "0".into(),
            status: status.parse().unwrap(),
            filled_units: filled,
            avg_price: 10.0,
            fee: 0.0,
            reason: None,
            updated_at: 0,
        }
    }

    #[test]
    fn post_trade_weights_count_what_the_account_kept() {
        // Equity 1000, marks 10: 10 units are a weight of 0.1.
        let mut dropped = line("D", 10.0, 0.1, -0.2, None);
        dropped.dropped = Some("D is not tradable on this venue".into());
        let lines = vec![
            line("A", 0.0, 0.0, 0.3, Some("a")),  // filled: as meant
            line("B", 10.0, 0.1, 0.5, Some("b")), // 15 of 40 units filled: 25 units
            line("C", 20.0, 0.2, 0.0, Some("c")), // exit rejected: keeps 20 units
            dropped,                              // keeps its 0.1
            line("E", 0.0, 0.0, 0.05, Some("e")), // not sent yet (a dry run): as meant
            line("F", 5.0, 0.05, 0.05, None),     // held
        ];
        let orders = vec![
            order("a", "filled", 30.0),
            order("b", "partially_filled", 15.0),
            order("c", "rejected", 0.0),
        ];
        let w = post_trade_weights(&lines, 1000.0, &orders);
        assert_eq!(
            w,
            book(&[
                ("A", 0.3),
                ("B", 0.25),
                ("C", 0.2),
                ("D", 0.1),
                ("E", 0.05),
                ("F", 0.05)
            ])
        );
        assert!(post_trade_weights(&lines[1..2], 0.0, &orders).is_empty());
    }

    #[test]
    fn requests_are_validated() {
        let r = ReportRequest {
            tolerance: Some(-1.0),
            ..Default::default()
        };
        assert!(r
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("tolerance"));
        let r = ReportRequest {
            from: Some(Day(10)),
            to: Some(Day(5)),
            ..Default::default()
        };
        assert!(r.validate().unwrap_err().to_string().starts_with("from"));
        assert_eq!(
            ReportRequest::default().validate().unwrap(),
            DEFAULT_TOLERANCE
        );
    }

    fn shadow(days: &[(i32, Option<f64>, f64)]) -> ShadowComparison {
        ShadowComparison {
            policy: "time".into(),
            start_equity: 100.0,
            days: days
                .iter()
                .map(|(d, l, s)| ShadowDay {
                    // Days counted from 2022-01-08 (dates as text are 1990..2199).
                    day: Day(19_000 + *d).to_string(),
                    live_equity: *l,
                    shadow_equity: *s,
                })
                .collect(),
            live_return: 0.0,
            shadow_return: 0.0,
        }
    }

    #[test]
    fn value_check_uses_the_last_30_days() {
        // Day 0 is outside the window ending on day 40; the window starts on day 10.
        let s = shadow(&[
            (0, Some(50.0), 50.0),
            (10, Some(100.0), 100.0),
            (25, None, 104.0),
            (40, Some(110.0), 104.0),
        ]);
        let c = value_check(&s, 0.05);
        // live +10%, shadow +4%: 0.06 apart.
        assert!((c.value.unwrap() - 0.06).abs() < 1e-12, "{c:?}");
        assert!(!c.ok);
        assert!(value_check(&s, 0.07).ok);
        let c = value_check(&shadow(&[(3, Some(1.0), 1.0)]), 0.05);
        assert!(c.ok && c.detail.starts_with("skipped"), "{c:?}");
        assert_eq!(c.status, ParityCheck::NOT_MEASURED);
        assert_eq!(value_check(&s, 0.07).status, ParityCheck::OK);
        assert_eq!(value_check(&s, 0.05).status, ParityCheck::ALARM);
    }
}
