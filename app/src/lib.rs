//! The Lockstep dashboard.
//!
//! One crate, two builds: with `ssr` the server renders these components to HTML; with
//! `hydrate` the same components are compiled to WebAssembly and take over the page in the
//! browser. The two features are never enabled together.

#![recursion_limit = "256"]

pub mod api;
pub mod chart;
pub mod data;
mod fetch;
pub mod format;
pub mod live;
pub mod pages;
pub mod pool;
pub mod run_form;
pub mod session;
pub mod share;
pub mod spec;
pub mod team_links;
pub mod worker;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    ParamSegment, StaticSegment,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component: navigation and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // One panel download per visit, shared by every page that runs the kernels.
    provide_context(data::PanelResource::new());
    provide_context(session::Session::new());
    live::provide_live_events();
    view! {
        <Stylesheet id="leptos" href="/pkg/lockstep.css"/>
        <Title text="Lockstep"/>
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">"Lockstep"</A>
                // On a phone the nav collapses behind this toggle (CSS only).
                <input type="checkbox" id="nav-toggle" class="nav-toggle" aria-label="Show the menu"/>
                <label for="nav-toggle" class="nav-toggle-label">"Menu"</label>
                <nav>
                    <A href="/">"Overview"</A>
                    <A href="/backtest">"Backtest"</A>
                    <A href="/sweep">"Sweep"</A>
                    <A href="/trades">"Trades"</A>
                    <A href="/parity">"Parity"</A>
                    <A href="/data">"Data"</A>
                </nav>
                <session::SessionBadge/>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="error">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=pages::overview::Overview/>
                    <Route path=StaticSegment("backtest") view=pages::backtest::BacktestPage/>
                    <Route path=StaticSegment("sweep") view=pages::sweep::SweepPage/>
                    <Route path=StaticSegment("trades") view=pages::trades::TradesPage/>
                    <Route path=(StaticSegment("plans"), ParamSegment("id")) view=pages::trades::PlanPage/>
                    <Route path=StaticSegment("parity") view=pages::parity::ParityPage/>
                    <Route path=StaticSegment("data") view=pages::data::DataPage/>
                    <Route path=StaticSegment("login") view=session::SignInPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// Entry point of the WebAssembly build: attach to the server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
