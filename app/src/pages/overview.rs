//! The first page: is the server healthy, and what data does it hold.

use crate::api::Health;
use crate::fetch::get_json;
use leptos::prelude::*;

/// Server health and a summary of the stored data, with a Refresh button.
#[component]
pub fn Overview() -> impl IntoView {
    // Bumped by the Refresh button; the resource refetches whenever it changes.
    let (refreshes, set_refreshes) = signal(0u32);
    let health = LocalResource::new(move || {
        refreshes.get();
        get_json::<Health>("/api/health")
    });

    view! {
        <crate::pages::portfolio::PortfolioSection/>
        <crate::pages::data::DataSummaryCard/>
        <section class="card">
            <div class="card-head">
                <h2>"Server"</h2>
                <button
                    id="refresh-health"
                    on:click=move |_| set_refreshes.update(|n| *n += 1)
                >
                    "Refresh"
                </button>
            </div>
            <Suspense fallback=|| view! { <p class="muted" id="health-loading">"Loading server health…"</p> }>
                {move || {
                    health
                        .get()
                        .map(|result| match result {
                            Ok(h) => view! { <HealthView health=h refreshes=refreshes.get()/> }.into_any(),
                            Err(e) => view! { <p class="error" id="health-error">{e}</p> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn HealthView(health: Health, refreshes: u32) -> impl IntoView {
    let db_ok = health.database.status == "ok";
    let data = health.data;
    let synthetic = data.synthetic;
    let data_line = match (&data.first_day, &data.last_day) {
        (Some(first), Some(last)) => format!(
            "{} symbols, {} daily bars, {first} to {last}",
            data.symbols, data.bars
        ),
        _ => "The store is empty: no market data imported yet.".to_string(),
    };
    view! {
        <dl class="facts" id="health" data-refreshes=refreshes>
            <dt>"Server"</dt>
            <dd id="health-version">{format!("lockstep {}", health.version)}</dd>
            <dt>"Kernel"</dt>
            <dd>{health.kernel_version}</dd>
            <dt>"Database"</dt>
            <dd id="health-database" class=if db_ok { "ok" } else { "error" }>
                {format!("{} — {}", health.database.backend, health.database.status)}
                {health.database.error.map(|e| format!(": {e}"))}
            </dd>
            <dt>"Data"</dt>
            <dd id="health-data">
                {data_line}
                {synthetic.then_some(" — synthetic demo data, not market history")}
            </dd>
            <dt>"Checked"</dt>
            <dd id="health-checks">{format!("{} time(s) this visit", refreshes + 1)}</dd>
        </dl>
    }
}
