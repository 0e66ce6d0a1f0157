//! `GET /api/audit?limit=&before=`: the append-only audit log (who did what, when), newest
//! first, one page at a time. Any signed-in user may read it.

use super::ApiError;
use crate::auth::CurrentUser;
use crate::state::AppState;
use app::api::{ApiErrorBody, AuditPage};
use axum::extract::{Query, State};
use axum::Json;

/// `?limit=N` (default 100, 1 to 1000) and `?before=` (an entry id, i.e. the previous page's
/// `next_before`, or Unix milliseconds).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    pub limit: Option<i64>,
    pub before: Option<String>,
}

/// One page of the audit log, newest first.
#[utoipa::path(get, path = "/api/audit", tag = "live", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 401, body = ApiErrorBody)))]
pub async fn audit(
    _user: CurrentUser,
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let before = q.before.as_deref().filter(|b| !b.is_empty());
    Ok(Json(
        state
            .live
            .audit_page(q.limit.unwrap_or(100), before)
            .await?,
    ))
}
