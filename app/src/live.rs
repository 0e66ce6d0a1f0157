//! Live pages: the server's event stream (`GET /api/events`, server-sent events) turned into a
//! signal pages refetch on, so a new plan, an executing plan's fills, the kill switch and a demo
//! history show up without a reload, in every open tab. `EventSource` reconnects by itself after
//! a dropped connection; no script is inlined (the page's CSP allows only its own bundle).

use crate::api::LiveEvent;
use leptos::prelude::*;

/// The newest event the server sent (`None` until one arrives). Each page reads it in the
/// resources that should refetch.
#[derive(Clone, Copy)]
pub struct LiveEvents(pub RwSignal<Option<(u64, LiveEvent)>>);

impl LiveEvents {
    /// A counter that moves on every event of one of `kinds` (or on a resync): put it in a
    /// resource's source to refetch on those events.
    pub fn tick(&self, kinds: &'static [&'static str]) -> Memo<u64> {
        let s = self.0;
        Memo::new(move |prev: Option<&u64>| match s.get() {
            Some((n, e)) if kinds.contains(&e.kind.as_str()) || e.kind == "resync" => n,
            _ => prev.copied().unwrap_or(0),
        })
    }
}

/// Opens the event stream for the whole app (once, in [`crate::App`]) and provides
/// [`LiveEvents`]. On the server it only provides the (empty) signal.
pub fn provide_live_events() {
    let events = LiveEvents(RwSignal::new(None));
    provide_context(events);
    // The stream needs a signed-in user: connect once there is one.
    #[cfg(feature = "hydrate")]
    {
        let session = crate::session::use_session();
        Effect::new(move |connected: Option<bool>| {
            if connected == Some(true) {
                return true;
            }
            let signed_in = session.user().is_some();
            if signed_in {
                connect(events);
            }
            signed_in
        });
    }
}

/// The app's [`LiveEvents`].
pub fn use_live_events() -> LiveEvents {
    use_context::<LiveEvents>().unwrap_or_else(|| LiveEvents(RwSignal::new(None)))
}

#[cfg(feature = "hydrate")]
fn connect(events: LiveEvents) {
    use wasm_bindgen::{closure::Closure, JsCast};
    let Ok(source) = web_sys::EventSource::new("/api/events") else {
        return;
    };
    let mut n = 0u64;
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |m: web_sys::MessageEvent| {
            let Some(text) = m.data().as_string() else {
                return;
            };
            if let Ok(e) = serde_json::from_str::<LiveEvent>(&text) {
                n += 1;
                events.0.set(Some((n, e)));
            }
        });
    source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The stream lives as long as the app; the closure with it.
    on_message.forget();
    let source = send_wrapper::SendWrapper::new(source);
    on_cleanup(move || source.close());
}
