//! "Save team link": stores the page's share state on the server under a short id
//! (`POST /api/links`, see `server/src/links.rs`) and shows the `/s/<id>` address to send
//! around instead of the long "Copy link" URL. Any signed-in user may save one.

use crate::api::{CreateTeamLink, TeamLink};
use crate::fetch::post_json;
use crate::session::use_session;
use leptos::prelude::*;

/// What the last save gave: the full `/s/<id>` address, or why it failed.
pub type Saved = RwSignal<Option<Result<String, String>>>;

/// The name field and the button; place [`TeamLinkResult`] with the same `saved` below.
/// `state` returns the page's current state encoded exactly as "Copy link" encodes it;
/// `results` (the Sweep page) the finished results to store with it, if any
/// ([`crate::share::results_for_link`]).
#[component]
pub fn SaveTeamLink(
    state: Callback<(), String>,
    saved: Saved,
    #[prop(optional)] results: Option<Callback<(), Option<String>>>,
) -> impl IntoView {
    let session = use_session();
    let name = RwSignal::new(String::new());
    let saving = RwSignal::new(false);
    let refusal = move || match session.0.get() {
        None => Some("Checking who is signed in…"),
        Some(None) => Some("Sign in to save a named team link."),
        Some(Some(_)) => None,
    };
    let save = move |_| {
        let n = name.get_untracked().trim().to_string();
        if n.is_empty() {
            saved.set(Some(Err("Give the team link a name first.".into())));
            return;
        }
        let req = CreateTeamLink {
            name: n,
            state: state.run(()),
            results: results.and_then(|r| r.run(())),
        };
        saving.set(true);
        leptos::task::spawn_local(async move {
            let r = post_json::<_, TeamLink>("/api/links", Some(&req)).await;
            saving.set(false);
            saved.set(Some(
                r.map(|l| full_url(&l.path))
                    .map_err(|e| format!("Could not save the team link: {e}")),
            ));
        });
    };
    view! {
        <span class="team-link">
            <input
                id="team-link-name"
                name="team-link-name"
                placeholder="Team link name"
                maxlength="100"
                prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <button
                class="secondary"
                id="save-team-link"
                disabled=move || refusal().is_some() || saving.get()
                title=move || refusal().unwrap_or("Store this state on the server under a short /s/ link")
                on:click=save
            >
                "Save team link"
            </button>
        </span>
    }
}

/// The saved address (selectable) or the error.
#[component]
pub fn TeamLinkResult(saved: Saved) -> impl IntoView {
    move || {
        saved.get().map(|r| match r {
            Ok(url) => view! {
                <p class="share">
                    "Team link saved: " <input id="team-link-url" readonly prop:value=url/>
                </p>
            }
            .into_any(),
            Err(e) => view! { <p class="error" id="team-link-error">{e}</p> }.into_any(),
        })
    }
}

/// `path` on this page's origin.
fn full_url(path: &str) -> String {
    #[cfg(feature = "hydrate")]
    if let Some(origin) = web_sys::window().and_then(|w| w.location().origin().ok()) {
        return format!("{origin}{path}");
    }
    path.to_string()
}
