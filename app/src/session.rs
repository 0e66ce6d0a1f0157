//! Who is signed in, as seen by the browser, and updated by the sign-in and sign-out buttons.
//! The server checks every request itself; this only decides what the page offers (e.g. a
//! disabled Approve button with the reason for viewers).
//!
//! Where the browser learns it: the server looks the session up when it renders a page (it has
//! the cookie) and hands the answer to the app in the badge's `data-server-*` attributes
//! ([`ServerSession`]); the app takes it over right after hydration, without a round trip. Only
//! when the server could not know — the page came from a navigation that started on another
//! site, which does not carry the `SameSite=Strict` cookie (`Sec-Fetch-Site: cross-site`, or a
//! browser that does not say), or a page rendered outside the app's routes — does the app ask
//! `GET /api/auth/me` instead; after a signed-out render it asks too (the cookie may have been
//! withheld), and changes the badge only if the answer differs.

use crate::api::{Role, SessionInfo};
use crate::fetch::post_json;
use leptos::prelude::*;
use leptos_router::components::A;

/// A signed-in user as the page needs it: the name and role (the CSRF token is read from its
/// cookie by every state-changing request, never from here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub username: String,
    pub role: Role,
}

impl From<SessionInfo> for SignedIn {
    fn from(s: SessionInfo) -> SignedIn {
        SignedIn {
            username: s.username,
            role: s.role,
        }
    }
}

/// What the server knew of the visitor when it rendered the page: provided as context by the
/// server (`server::web`), `Some(None)` for a visitor with no valid session. Absent when it
/// could not know (see the module's text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSession(pub Option<SignedIn>);

/// The session signal provided by `App`: `None` while unknown, `Some(None)` when signed out.
/// `rendered` is what the server knew at rendering time ([`ServerSession`]), the same on the
/// server and in the hydrating browser (which reads it back from the badge's attributes).
#[derive(Clone, Copy)]
pub struct Session(
    pub RwSignal<Option<Option<SignedIn>>>,
    StoredValue<Option<Option<SignedIn>>>,
);

impl Session {
    pub fn new() -> Session {
        // The first render (server and hydration alike) shows "unknown": what the session
        // enables (buttons, the book) only appears once the app runs and can act on it.
        let s = Session(RwSignal::new(None), StoredValue::new(rendered_session()));
        #[cfg(feature = "hydrate")]
        {
            let rendered = s.1.get_value();
            leptos::task::spawn_local(async move {
                // Once hydration is done and the tasks it spawned (the resources' first runs,
                // which subscribe to the session) have run: one turn of the event loop, as the
                // `/api/auth/me` answer used to arrive. A change before they subscribe is lost.
                next_macrotask().await;
                if let Some(known) = rendered.clone() {
                    s.0.set(Some(known));
                }
                if matches!(rendered, Some(Some(_))) {
                    return;
                }
                let me = crate::fetch::get_json_status::<SessionInfo>("/api/auth/me")
                    .await
                    .ok()
                    .map(SignedIn::from);
                if s.0.get_untracked() != Some(me.clone()) {
                    s.0.set(Some(me));
                }
            });
        }
        s
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<SignedIn> {
        self.0.get().flatten()
    }

    /// Why the current visitor may not trade, or `None` for a trader.
    pub fn trade_refusal(&self) -> Option<String> {
        match self.0.get() {
            None => Some("Checking who is signed in…".into()),
            Some(None) => Some("Sign in as a trader to approve or reject plans.".into()),
            Some(Some(u)) if u.role != Role::Trader => Some(format!(
                "{} is a viewer: only traders can approve or reject plans.",
                u.username
            )),
            Some(Some(_)) => None,
        }
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

pub fn use_session() -> Session {
    use_context::<Session>().expect("Session is provided by App")
}

/// Resolves on the next turn of the browser's event loop (`setTimeout(0)`), after every
/// microtask queued so far.
#[cfg(feature = "hydrate")]
async fn next_macrotask() {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

/// The server's knowledge of the visitor for this render: on the server from its context
/// ([`ServerSession`]), in the browser from the attributes the server wrote on `#session`
/// ([`server_session_attrs`]); `None` when it did not know.
fn rendered_session() -> Option<Option<SignedIn>> {
    #[cfg(feature = "ssr")]
    {
        use_context::<ServerSession>().map(|s| s.0)
    }
    #[cfg(feature = "hydrate")]
    {
        let el = web_sys::window()?
            .document()?
            .get_element_by_id("session")?;
        parse_server_session(
            el.get_attribute("data-server-session").as_deref(),
            el.get_attribute("data-server-user").as_deref(),
            el.get_attribute("data-server-role").as_deref(),
        )
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        None
    }
}

/// The badge's `data-server-session`, `data-server-user` and `data-server-role` for what the
/// server knew (all `None` when it did not).
fn server_session_attrs(
    known: &Option<Option<SignedIn>>,
) -> (Option<&'static str>, Option<String>, Option<&'static str>) {
    match known {
        None => (None, None, None),
        Some(None) => (Some("signed-out"), None, None),
        Some(Some(u)) => (
            Some("signed-in"),
            Some(u.username.clone()),
            Some(u.role.as_str()),
        ),
    }
}

/// Reads back [`server_session_attrs`]; anything else is "did not know".
#[cfg_attr(not(any(test, feature = "hydrate")), allow(dead_code))]
fn parse_server_session(
    session: Option<&str>,
    user: Option<&str>,
    role: Option<&str>,
) -> Option<Option<SignedIn>> {
    match session? {
        "signed-out" => Some(None),
        "signed-in" => Some(Some(SignedIn {
            username: user?.to_string(),
            role: Role::parse(role?)?,
        })),
        _ => None,
    }
}

/// The sign-in / signed-in-as corner of the top bar.
#[component]
pub fn SessionBadge() -> impl IntoView {
    let session = use_session();
    let sign_out = move |_| {
        leptos::task::spawn_local(async move {
            let _ = post_json::<(), ()>("/api/auth/logout", None).await;
            session.0.set(Some(None));
        });
    };
    // What the server knew, handed to the hydrating app (the same values on both sides).
    let (known, known_user, known_role) = server_session_attrs(&session.1.get_value());
    view! {
        <div
            class="session"
            id="session"
            data-server-session=known
            data-server-user=known_user
            data-server-role=known_role
        >
            {move || match session.0.get() {
                None => view! { <span class="muted">"…"</span> }.into_any(),
                Some(None) => view! { <A href="/login">"Sign in"</A> }.into_any(),
                Some(Some(u)) => view! {
                    <span id="signed-in-as">{format!("{} ({})", u.username, u.role.as_str())}</span>
                    <button class="link" id="sign-out" on:click=sign_out>"Sign out"</button>
                }
                .into_any(),
            }}
        </div>
    }
}

/// Where the sign-in page may send the browser afterwards (`/login?next=...`, set by the server
/// when a signed-out visitor asked for a page): a path on this site, never another site
/// (`//host`, `/\host`, `https://...`) or a `javascript:` URL.
pub fn safe_next(next: &str) -> Option<String> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 8192
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then(|| next.to_string())
}

/// A full page load of `path` (the server renders it and checks the session again; client-side
/// routing would not reach `/s/{id}`, which is not a page of the app).
#[cfg(feature = "hydrate")]
fn load(path: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href(path);
    }
}

/// The sign-in page. With `?next=PATH` (a page that needs a sign-in sent the visitor here), a
/// browser that is signed in — at once, because its first request came from another site
/// without the SameSite=Strict cookie, or after signing in — goes on to `PATH`.
#[component]
pub fn SignInPage() -> impl IntoView {
    let session = use_session();
    let query = leptos_router::hooks::use_query_map();
    let next = move || {
        query
            .with_untracked(|q| q.get("next"))
            .and_then(|n| safe_next(&n))
    };
    Effect::new(move |_| {
        if let (Some(Some(_)), Some(_path)) = (session.0.get(), next()) {
            #[cfg(feature = "hydrate")]
            load(&_path);
        }
    });
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // Effects run only in the browser: until the app has hydrated, the form stays disabled so a
    // click can never fall through to a native form submission.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let navigate = leptos_router::hooks::use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let req = crate::api::LoginRequest {
            username: username.get_untracked(),
            password: password.get_untracked(),
        };
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match post_json::<_, SessionInfo>("/api/auth/login", Some(&req)).await {
                Ok(info) => {
                    session.0.set(Some(Some(info.into())));
                    // With `next`, the effect above loads it.
                    if next().is_none() {
                        navigate("/", Default::default());
                    }
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <form on:submit=submit class="signin" method="post">
                <label>
                    "Username"
                    <input
                        name="username"
                        autocomplete="username"
                        prop:value=move || username.get()
                        on:input=move |ev| username.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Password"
                    <input
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))
                    />
                </label>
                <button type="submit" id="sign-in" disabled=move || busy.get() || !hydrated.get()>
                    "Sign in"
                </button>
                {move || error.get().map(|e| view! { <p class="error" id="signin-error">{e}</p> })}
            </form>
            <p class="muted">"Accounts are created on the server: " <code>"lockstep user add NAME --role trader"</code></p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next("/backtest?s=1.abc").as_deref(),
            Some("/backtest?s=1.abc")
        );
        assert_eq!(
            safe_next("/s/AbCdEfGhIjKl").as_deref(),
            Some("/s/AbCdEfGhIjKl")
        );
        for bad in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "",
            "/a\nb",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_server_session_round_trips_through_the_badge_attributes() {
        let alice = SignedIn {
            username: "alice".into(),
            role: Role::Viewer,
        };
        for known in [None, Some(None), Some(Some(alice))] {
            let (s, u, r) = server_session_attrs(&known);
            assert_eq!(parse_server_session(s, u.as_deref(), r), known);
        }
        // Anything else is "the server did not know": the app asks /api/auth/me.
        assert_eq!(
            parse_server_session(Some("signed-in"), None, Some("trader")),
            None
        );
        assert_eq!(
            parse_server_session(Some("signed-in"), Some("a"), Some("admin")),
            None
        );
        assert_eq!(parse_server_session(Some("maybe"), None, None), None);
    }
}
