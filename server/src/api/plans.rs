//! Trade plans: `GET /api/plans`, `GET /api/plans/{id}`, `POST /api/plans/{id}/approve`,
//! `POST /api/plans/{id}/reject`, `POST /api/plans/{id}/execute` (resume an interrupted
//! execution), `GET /api/plans/{id}/replay` (recompute a stored plan from its inputs) and
//! `POST /api/live/run` (one live cycle now).

use super::ApiError;
use crate::auth::{CurrentUser, RequireTrader};
use crate::live::CycleOptions;
use crate::state::AppState;
use app::api::{ApiErrorBody, LiveRunResult, PlanDecision, PlanDetail, PlanReplay, PlanSummary};
use axum::extract::{Path, Query, State};
use axum::Json;

/// `?limit=N` (default 50, at most 500).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct PlansQuery {
    pub limit: Option<i64>,
}

/// Plans, newest first.
#[utoipa::path(get, path = "/api/plans", tag = "live", params(PlansQuery),
    responses((status = 200, body = Vec<PlanSummary>), (status = 401, body = ApiErrorBody)))]
pub async fn list(
    _user: CurrentUser,
    State(state): State<AppState>,
    Query(q): Query<PlansQuery>,
) -> Result<Json<Vec<PlanSummary>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let mut plans = state.live.plans(limit).await?;
    label(&state, plans.iter_mut().collect()).await?;
    Ok(Json(plans))
}

/// Marks plans a demo made as simulated (`crate::demo`).
async fn label(state: &AppState, mut plans: Vec<&mut PlanSummary>) -> Result<(), ApiError> {
    crate::demo::label_plans(&state.store, &state.live.settings.paper.account, &mut plans)
        .await
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("store: {e}"),
            )
        })
}

/// `plan` as an answer, labelled like [`list`]'s (simulated when a demo made it).
async fn labelled(state: &AppState, mut plan: PlanDetail) -> Result<Json<PlanDetail>, ApiError> {
    label(state, vec![&mut plan.summary]).await?;
    Ok(Json(plan))
}

/// One plan: lines, inputs, risk checks, orders.
#[utoipa::path(get, path = "/api/plans/{id}", tag = "live", params(("id" = String, Path)),
    responses((status = 200, body = PlanDetail), (status = 401, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody)))]
pub async fn detail(
    _user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlanDetail>, ApiError> {
    labelled(&state, state.live.plan(&id).await?).await
}

/// Approves a proposed plan and executes it (traders only). 409 when it is not proposed, has
/// expired, is blocked by a risk limit, or the kill switch is on.
#[utoipa::path(post, path = "/api/plans/{id}/approve", tag = "live", params(("id" = String, Path)),
    responses((status = 200, body = PlanDetail), (status = 401, body = ApiErrorBody),
              (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody)))]
pub async fn approve(
    RequireTrader(user): RequireTrader,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlanDetail>, ApiError> {
    let plan = state
        .live
        .approve_in_background(&id, &user.username, EXECUTION_WAIT)
        .await?;
    labelled(&state, plan).await
}

/// How long approve/execute wait for the execution job before answering with the plan as it is
/// (`executing`; the page follows its status). The job runs in a task the server owns either
/// way: a dropped request or a proxy timeout does not stop it.
pub const EXECUTION_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Rejects a proposed plan (traders only).
#[utoipa::path(post, path = "/api/plans/{id}/reject", tag = "live", params(("id" = String, Path)),
    request_body = Option<PlanDecision>,
    responses((status = 200, body = PlanDetail), (status = 401, body = ApiErrorBody),
              (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody)))]
pub async fn reject(
    RequireTrader(user): RequireTrader,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<PlanDecision>>,
) -> Result<Json<PlanDetail>, ApiError> {
    let note = body.and_then(|Json(b)| b.note);
    let plan = state
        .live
        .reject(&id, &user.username, note.as_deref())
        .await?;
    labelled(&state, plan).await
}

/// Resumes an approved or interrupted (`executing`) plan: reconciles by client order id, sends
/// only what the venue has not seen (traders only).
#[utoipa::path(post, path = "/api/plans/{id}/execute", tag = "live", params(("id" = String, Path)),
    responses((status = 200, body = PlanDetail), (status = 401, body = ApiErrorBody),
              (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody)))]
pub async fn execute(
    RequireTrader(user): RequireTrader,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlanDetail>, ApiError> {
    let plan = state
        .live
        .execute_in_background(&id, &user.username, EXECUTION_WAIT)
        .await?;
    labelled(&state, plan).await
}

/// Reconciles a plan by client order id (traders only): an interrupted `executing` plan is
/// resumed under the resume rules or closed `abandoned`; a `partially_failed` or `abandoned`
/// plan has its unsettled orders asked about and recorded. Never re-sends a closed plan's
/// orders. 409 when another executor holds the lease or there is nothing to reconcile.
#[utoipa::path(post, path = "/api/plans/{id}/reconcile", tag = "live", params(("id" = String, Path)),
    responses((status = 200, body = PlanDetail), (status = 401, body = ApiErrorBody),
              (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody),
              (status = 409, body = ApiErrorBody)))]
pub async fn reconcile(
    RequireTrader(user): RequireTrader,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlanDetail>, ApiError> {
    let live = state.live.clone();
    let who = user.username.clone();
    let plan_id = id.clone();
    // In a task the server owns, like execution: a dropped request does not stop it half-way.
    let job = tokio::spawn(async move { live.reconcile(&plan_id, &who).await });
    match tokio::time::timeout(EXECUTION_WAIT, job).await {
        Ok(Ok(result)) => labelled(&state, result?).await,
        Ok(Err(e)) => {
            Err(crate::live::LiveError::Conflict(format!("reconcile task failed: {e}")).into())
        }
        Err(_) => labelled(&state, state.live.plan(&id).await?).await,
    }
}

/// Runs one live cycle now (traders only). 409 when the data is stale or missing.
#[utoipa::path(post, path = "/api/live/run", tag = "live",
    responses((status = 200, body = LiveRunResult), (status = 401, body = ApiErrorBody),
              (status = 403, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn run(
    RequireTrader(user): RequireTrader,
    State(state): State<AppState>,
) -> Result<Json<LiveRunResult>, ApiError> {
    let start = std::time::Instant::now();
    let out = state
        .live
        .run_cycle(&CycleOptions {
            dry_run: false,
            actor: user.username.clone(),
        })
        .await?;
    Ok(Json(LiveRunResult {
        plan: Some(out.plan.summary),
        expired: out.expired,
        notes: out.notes,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
    }))
}

/// Recomputes a stored plan's targets from its stored inputs (config, data day, the store's
/// data) and compares them bit for bit: did this plan follow from its data and config?
#[utoipa::path(get, path = "/api/plans/{id}/replay", tag = "live", params(("id" = String, Path)),
    responses((status = 200, body = PlanReplay), (status = 401, body = ApiErrorBody),
              (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn replay(
    _user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlanReplay>, ApiError> {
    let r = state.live.replay(&id).await?;
    Ok(Json(PlanReplay {
        plan_id: r.plan_id,
        identical: r.identical,
        kernel_version_matches: r.kernel_version_matches,
        kernel_version: shared::KERNEL_VERSION.to_string(),
        differences: r.differences,
    }))
}
