//! `GET /api/health`.

use crate::auth::session::MaybeUser;
use crate::state::AppState;
use app::api::{DataSummary, DatabaseHealth, Health};
use axum::extract::State;
use axum::Json;

/// Always answers 200 while the process is up; a broken database shows in the body, so a
/// monitor can tell "server down" from "database down". The database's error message (which
/// may name hosts, paths or users) goes only to signed-in callers; anonymous ones get
/// `"status": "error"` and the log has the rest.
#[utoipa::path(get, path = "/api/health", tag = "system",
    responses((status = 200, body = Health)))]
pub async fn health(MaybeUser(user): MaybeUser, State(state): State<AppState>) -> Json<Health> {
    let store = &state.store;
    // The whole-table counts are read once per data version (the endpoint is public: a client
    // polling it costs one small query per request); the source registry's synthetic flags
    // are a few rows, read each time.
    let summary = async {
        let version = store.data_version().await?;
        let data = state
            .health_cache
            .get_or_compute((), version, || async {
                let bars = store.bar_summary().await?;
                let sources = store.sources_in_use().await?;
                Ok::<_, crate::store::StoreError>(std::sync::Arc::new((bars, sources)))
            })
            .await?;
        let (bars, sources) = data.as_ref().clone();
        let synthetic = store.synthetic_among(&sources).await?;
        Ok::<_, crate::store::StoreError>((bars, sources, synthetic))
    };
    let (database, data) = match summary.await {
        Ok((s, sources, synthetic)) => (
            DatabaseHealth {
                status: "ok".into(),
                backend: store.backend().name().into(),
                error: None,
            },
            DataSummary {
                symbols: s.symbols,
                bars: s.bars,
                first_day: s.first_day.map(|d| d.to_string()),
                last_day: s.last_day.map(|d| d.to_string()),
                sources,
                synthetic,
            },
        ),
        Err(e) => (
            DatabaseHealth {
                status: "error".into(),
                backend: store.backend().name().into(),
                error: match user {
                    Some(_) => Some(e.to_string()),
                    None => {
                        tracing::warn!(error = %e, "health: the database check failed");
                        Some("the database check failed (sign in to see why)".into())
                    }
                },
            },
            DataSummary {
                symbols: 0,
                bars: 0,
                first_day: None,
                last_day: None,
                sources: Vec::new(),
                synthetic: false,
            },
        ),
    };
    Json(Health {
        version: env!("CARGO_PKG_VERSION").to_string(),
        kernel_version: shared::KERNEL_VERSION.to_string(),
        database,
        data,
    })
}
