//! What the Backtest and Sweep pages share around a run: the data stamp of the panel a run
//! reads (`#panel-status`: today's data or a link's pinned version), the config's venue and
//! cost model as form fields, the account's calibrated costs (`GET /api/costs`, fetched only
//! while the config asks for them) and the line that says which costs ran.

use crate::api::costs::{CalibratedCosts, ResolvedCosts};
use crate::data::{PanelRequest, PanelResource};
use crate::share::BacktestSpec;
use leptos::prelude::*;
use serde_json::Value;
use shared::config::CostModel;

/// The data stamp: the panel's size and days, which data version it is (`data-version`) and
/// whether that is today's data or the version a link pinned, with the time its download and its
/// derived series took. `warm_up_ms`: how long the page's idle warm-up run took, once it ran
/// (`data-warm-up-ms`, read by the browser bench).
#[component]
pub fn PanelStatus(
    panel: PanelResource,
    wanted: Memo<PanelRequest>,
    #[prop(optional)] warm_up_ms: Option<RwSignal<Option<f64>>>,
) -> impl IntoView {
    move || match panel.ready_for(wanted.get()) {
        None => {
            view! { <span class="muted" id="panel-status">"Loading market data…"</span> }.into_any()
        }
        Some(Err(e)) => view! { <span class="error" id="panel-status">{e}</span> }.into_any(),
        Some(Ok(p)) => {
            let version = p.data_version.map(|v| v.to_string()).unwrap_or_default();
            let stamp = match (p.request.as_of, p.data_version) {
                (Some(_), Some(v)) => format!("data as of version {v} (the link's data)"),
                (_, Some(v)) => format!("today's data, version {v}"),
                _ => "today's data".to_string(),
            };
            view! {
                <span
                    class="muted"
                    id="panel-status"
                    data-ready="true"
                    data-version=version
                    data-warm-up-ms=move || {
                        warm_up_ms.and_then(|w| w.get()).map(|ms| ms.to_string())
                    }
                >
                    {format!(
                        "Data: {} assets × {} days ({} to {}), {stamp}, {:.0} kB in {:.0} ms (series derived in {:.0} ms), snapshot {}",
                        p.panel.n_assets(),
                        p.panel.n_days(),
                        p.panel.start(),
                        p.panel.end(),
                        p.bytes as f64 / 1024.0,
                        p.load_ms,
                        p.derive_ms,
                        p.etag.clone().unwrap_or_else(|| "unknown".into()),
                    )}
                </span>
            }
            .into_any()
        }
    }
}

/// The note of a link pinned to data version `as_of` (when it is), with the button that
/// leaves the pinned data for today's: `rerun` does what re-running means on the page.
#[component]
pub fn PinnedNotice(as_of: RwSignal<Option<i64>>, rerun: Callback<()>) -> impl IntoView {
    move || {
        as_of.get().map(|v| {
            view! {
                <p class="notice" id="data-as-of">
                    {format!(
                        "This link re-runs on the data as it was at version {v}, the data its author saw. "
                    )}
                    <button class="secondary" id="rerun-today" on:click=move |_| rerun.run(())>
                        "Re-run on today's data"
                    </button>
                </p>
            }
        })
    }
}

/// The account's cost calibration, fetched while `need` holds (a config with
/// `rebalance.cost_model: "calibrated"`): `None` while it loads or is not needed.
pub type Calibration = LocalResource<Option<Result<CalibratedCosts, String>>>;

/// [`Calibration`] for a page whose config asks for it when `need` is true.
pub fn use_calibration(need: Memo<bool>) -> Calibration {
    LocalResource::new(move || {
        let need = need.get();
        async move {
            if need {
                Some(crate::fetch::get_json::<CalibratedCosts>("/api/costs").await)
            } else {
                None
            }
        }
    })
}

/// What a run may use from `calibration` now: `Some(Ok)` the numbers, `Some(Err)` why there are
/// none (the run falls back to the fixed costs, saying so), `None` while they still load.
pub fn calibration_now(
    need: bool,
    calibration: Calibration,
) -> Option<Result<CalibratedCosts, String>> {
    if !need {
        return Some(Err("not asked for".into()));
    }
    calibration.get().flatten()
}

/// The config's venue and cost model, written into the spec's config (`venue`,
/// `rebalance.cost_model`); "any" and "fixed" remove the key (the defaults).
#[component]
pub fn VenueCostFields(spec: RwSignal<BacktestSpec>) -> impl IntoView {
    let venue = move || {
        spec.with(|s| {
            s.config
                .get("venue")
                .and_then(Value::as_str)
                .unwrap_or("any")
                .to_string()
        })
    };
    let model = move || {
        spec.with(|s| {
            s.config
                .get("rebalance")
                .and_then(|r| r.get("cost_model"))
                .and_then(Value::as_str)
                .unwrap_or("fixed")
                .to_string()
        })
    };
    view! {
        <label>
            "Venue"
            <select
                name="venue"
                prop:value=venue
                on:change=move |ev| {
                    let v = event_target_value(&ev);
                    spec.update(|s| {
                        if let Some(o) = s.config.as_object_mut() {
                            if v == "any" {
                                o.remove("venue");
                            } else {
                                o.insert("venue".into(), Value::String(v.clone()));
                            }
                        }
                    });
                }
            >
                <option value="any">"any (every priced asset)"</option>
                <option value="paper">"paper"</option>
                <option value="hyperliquid">"hyperliquid"</option>
            </select>
        </label>
        <label>
            "Cost model"
            <select
                name="cost_model"
                prop:value=model
                on:change=move |ev| {
                    let v = event_target_value(&ev);
                    spec.update(|s| {
                        let Some(o) = s.config.as_object_mut() else { return };
                        let r = o
                            .entry("rebalance")
                            .or_insert_with(|| Value::Object(Default::default()));
                        if let Some(r) = r.as_object_mut() {
                            if v == "fixed" {
                                r.remove("cost_model");
                            } else {
                                r.insert("cost_model".into(), Value::String(v.clone()));
                            }
                        }
                    });
                }
            >
                <option value="fixed">"fixed (fee and slippage below)"</option>
                <option value="calibrated">"calibrated (the account's fills)"</option>
            </select>
        </label>
    }
}

/// The one line saying which costs a run traded with (`id`: the element's id).
pub fn costs_line(id: &'static str, costs: &ResolvedCosts) -> impl IntoView {
    let text = match (costs.used, &costs.note) {
        (CostModel::Calibrated, Some(note)) => format!("Costs: calibrated — {note}"),
        (CostModel::Fixed, Some(note)) => format!(
            "Costs: fixed, {} bp fee + {} bp slippage — {note}",
            costs.costs.fee_bps, costs.costs.slippage_bps
        ),
        (used, _) => format!(
            "Costs: {}, {} bp fee + {} bp slippage",
            used.name(),
            costs.costs.fee_bps,
            costs.costs.slippage_bps
        ),
    };
    view! {
        <p class="muted" id=id data-used=costs.used.name()>{text}</p>
    }
}
