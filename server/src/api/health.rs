//! `GET /api/health`.

use crate::web::AppState;
use app::api::{DataSummary, DatabaseHealth, Health};
use axum::extract::State;
use axum::Json;

/// Always answers 200 while the process is up; a broken database shows in the body, so a
/// monitor can tell "server down" from "database down".
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let store = &state.store;
    let (database, data) = match store.bar_summary().await {
        Ok(s) => (
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
            },
        ),
        Err(e) => (
            DatabaseHealth {
                status: "error".into(),
                backend: store.backend().name().into(),
                error: Some(e.to_string()),
            },
            DataSummary {
                symbols: 0,
                bars: 0,
                first_day: None,
                last_day: None,
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
