//! The Data page: how complete and fresh the stored market data is, per source and field,
//! with the collection artifacts the quality check found.

use crate::api::DataStatus;
use crate::fetch::get_json;
use crate::format::fmt_time;
use leptos::prelude::*;

#[component]
pub fn DataPage() -> impl IntoView {
    let status = LocalResource::new(|| get_json::<DataStatus>("/api/data/status"));
    view! {
        <section class="card">
            <h1>"Data quality"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Checking the store…"</p> }>
                {move || status.get().map(|s| match s {
                    Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                    Ok(s) => view! { <DataStatusView status=s/> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// A compact summary for the first page: sources, coverage and any warning.
#[component]
pub fn DataSummaryCard() -> impl IntoView {
    let status = LocalResource::new(|| get_json::<DataStatus>("/api/data/status"));
    view! {
        <section class="card" id="data-summary">
            <div class="card-head">
                <h2>"Data"</h2>
                <a href="/data">"details"</a>
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Checking the store…"</p> }>
                {move || status.get().map(|s| match s {
                    Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                    Ok(s) => {
                        let lines: Vec<String> = s
                            .series
                            .iter()
                            .map(|x| format!(
                                "{} {}: {} symbols, {} to {}, {} gaps, {} stale",
                                x.source,
                                x.field,
                                x.symbols,
                                x.first_day.clone().unwrap_or_else(|| "—".into()),
                                x.last_day.clone().unwrap_or_else(|| "—".into()),
                                x.gaps,
                                x.stale_count
                            ))
                            .collect();
                        view! {
                            {s.synthetic.then(|| view! { <p class="warning" id="synthetic-warning">"Synthetic demo data: generated, not market history."</p> })}
                            <ul class="compact">{lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
                            {s.artifacts.first().map(|a| view! { <p class="warning">{a.message.clone()}</p> })}
                            {(!s.splices.is_empty()).then(|| view! {
                                <p class="warning">{format!(
                                    "{} price series change source (first: {} on {}, {} → {}); see Data.",
                                    s.splices.len(),
                                    s.splices[0].symbol,
                                    s.splices[0].day,
                                    s.splices[0].from_source,
                                    s.splices[0].to_source
                                )}</p>
                            })}
                        }
                        .into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn DataStatusView(status: DataStatus) -> impl IntoView {
    let sources = status
        .sources
        .iter()
        .map(|s| {
            let run = s.last_run.as_ref().map(|r| {
                format!(
                    "{} at {}: {}{}",
                    r.status,
                    fmt_time(r.started_at),
                    r.counts(),
                    r.error
                        .as_ref()
                        .map(|e| format!(" — {e}"))
                        .unwrap_or_default()
                )
            });
            view! {
                <tr>
                    <td>{s.name.clone()}{s.synthetic.then_some(" (synthetic)")}</td>
                    <td>{s.kind.clone()}</td>
                    <td class="muted">{s.description.clone()}</td>
                    <td>{run.unwrap_or_else(|| "never run".into())}</td>
                </tr>
            }
        })
        .collect_view();
    let series = status
        .series
        .iter()
        .map(|x| {
            view! {
                <tr>
                    <td>{x.source.clone()}</td>
                    <td>{x.field.clone()}{(!x.venues.is_empty()).then(|| format!(" ({})", x.venues.join(", ")))}</td>
                    <td class="num">{x.symbols}</td>
                    <td class="num">{x.values}</td>
                    <td>{x.first_day.clone().unwrap_or_default()}</td>
                    <td>{x.last_day.clone().unwrap_or_default()}</td>
                    <td class="num">{format!("{} ({} days)", x.gaps, x.missing_days)}</td>
                    <td class="num" title=x.stale.join(", ")>{x.stale_count}</td>
                    <td class="num" title=x.jump_rule.clone()>{x.jump_count}</td>
                    <td class="num">{x.revisions}</td>
                </tr>
            }
        })
        .collect_view();
    let artifacts = status
        .artifacts
        .iter()
        .map(|a| view! { <li><strong>{format!("{} {}: ", a.source, a.field)}</strong>{a.message.clone()}</li> })
        .collect_view();
    let splices = status
        .splices
        .iter()
        .map(|x| {
            view! {
                <tr>
                    <td>{x.symbol.clone()}</td>
                    <td>{x.day.clone()}</td>
                    <td>{format!("{} → {}", x.from_source, x.to_source)}</td>
                    <td class="num">{format!("{} → {}", x.previous_close, x.close)}</td>
                    <td class="num">{format!("{:+.2} %", x.change * 100.0)}</td>
                    <td class="num">{x.typical_move.map(|t| format!("{:.2} %", t * 100.0)).unwrap_or_else(|| "–".into())}</td>
                    <td class="num">{x.jump_ratio.map(|r| format!("{r:.1}×")).unwrap_or_else(|| "–".into())}</td>
                </tr>
            }
        })
        .collect_view();
    let preference = if status.bar_source_preference.is_empty() {
        "No bar source preference: when two sources write the same day, the newer write wins and the other bar is kept aside.".to_string()
    } else {
        format!(
            "Bar source preference (lockstep data prefer): {}.",
            status.bar_source_preference.join(" > ")
        )
    };
    let alternates = status
        .alternate_bars
        .iter()
        .map(|a| view! { <li>{format!("{} bars from {} kept aside ({}), {} to {}", a.bars, a.source, a.reason, a.first_day, a.last_day)}</li> })
        .collect_view();
    let venue_preferences = status
        .bar_venue_preferences
        .iter()
        .map(|p| view! { <li>{format!("{} reads {} (lockstep data prefer --venue {})", p.venue, p.sources.join(" > "), p.venue)}</li> })
        .collect_view();
    let no_splices = status.splices.is_empty();
    view! {
        <p class="muted">{format!("As of {}; a series is stale after {} days without a value.", status.as_of, status.stale_after_days)}</p>
        {status.synthetic.then(|| view! { <p class="warning">"This store holds synthetic demo data: generated, not market history."</p> })}
        <h2>"Sources"</h2>
        <table id="data-sources">
            <thead>
                <tr>
                    <th>"Source"</th>
                    <th>"Kind"</th>
                    <th>"What"</th>
                    <th>"Last run"</th>
                </tr>
            </thead>
            <tbody>{sources}</tbody>
        </table>
        <h2>"Series"</h2>
        <table id="data-series">
            <thead>
                <tr>
                    <th>"Source"</th>
                    <th>"Field"</th>
                    <th>"Symbols"</th>
                    <th>"Values"</th>
                    <th>"First"</th>
                    <th>"Last"</th>
                    <th>"Gaps"</th>
                    <th>"Stale"</th>
                    <th>"Jumps"</th>
                    <th>"Revisions"</th>
                </tr>
            </thead>
            <tbody>{series}</tbody>
        </table>
        <h2>"Spliced price series"</h2>
        <p class="muted">"A series whose price source changes between two stored days: the jump across the splice next to the series' typical daily move (median |close-to-close change| within one source)."</p>
        {no_splices.then(|| view! { <p id="data-no-splices">"Every price series has one source."</p> })}
        <table id="data-splices" class:hidden=no_splices>
            <thead>
                <tr>
                    <th>"Symbol"</th>
                    <th>"Day"</th>
                    <th>"Source"</th>
                    <th>"Close"</th>
                    <th>"Change"</th>
                    <th>"Typical move"</th>
                    <th>"Jump"</th>
                </tr>
            </thead>
            <tbody>{splices}</tbody>
        </table>
        <p class="muted" id="data-bar-preference">{preference}</p>
        <ul id="data-alternate-bars">{alternates}</ul>
        <ul id="data-venue-bar-preferences">{venue_preferences}</ul>
        <h2>"Collection artifacts"</h2>
        <ul id="data-artifacts">{artifacts}</ul>
    }
}
