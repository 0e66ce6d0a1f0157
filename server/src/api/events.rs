//! `GET /api/events`: the live trader's changes as server-sent events, so the open pages
//! (Overview/Portfolio, Trades, a plan) refetch what changed without a reload: a new plan, an
//! executing plan's fills, the kill switch, a demo history advancing. Each event's `data` is a
//! [`LiveEvent`] as JSON; a reader that fell behind gets `{"kind": "resync"}` and refetches all.
//! Comments every 15 s keep proxies from closing an idle stream.

use crate::auth::CurrentUser;
use crate::state::AppState;
use app::api::LiveEvent;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

fn event(e: &LiveEvent) -> Event {
    Event::default()
        .json_data(e)
        .unwrap_or_else(|_| Event::default().data("{}"))
}

/// The event stream (any signed-in user).
#[utoipa::path(get, path = "/api/events", tag = "live",
    responses((status = 200, description = "text/event-stream of LiveEvent JSON objects", body = LiveEvent),
              (status = 401, body = app::api::ApiErrorBody)))]
pub async fn events(
    _user: CurrentUser,
    State(state): State<AppState>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = state.live.hub.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let e = match rx.recv().await {
            Ok(e) => e,
            Err(RecvError::Lagged(_)) => LiveEvent {
                kind: "resync".into(),
                plan_id: None,
                status: None,
                at: 0,
            },
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event(&e)), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
