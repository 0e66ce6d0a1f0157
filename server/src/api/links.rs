//! Named team links (see `crate::links`): `POST /api/links`, `GET /api/links`,
//! `DELETE /api/links/{id}`, and the page route `GET /s/{id}`.
//!
//! Permissions: any signed-in user (viewer or trader) may save and list links — a link only
//! names a backtest or sweep, it changes nothing in the book. Deleting one is for its author or
//! a trader. `/s/{id}` needs no sign-in (see `crate::links` for why).

use super::ApiError;
use crate::auth::{session, CurrentUser, Role};
use crate::links::{self, LinkError, StoredLink};
use crate::state::AppState;
use app::api::{ApiErrorBody, CreateTeamLink, TeamLink, TeamLinkResults};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;

impl From<LinkError> for ApiError {
    fn from(e: LinkError) -> ApiError {
        if e.is_bad_request() {
            ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
        } else {
            tracing::error!(error = %e, "team links");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "team links are unavailable right now (database error); try again shortly",
            )
        }
    }
}

/// `scheme://host` of the request, when it named a host.
fn origin(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))?;
    // A Host header is echoed only to the client that sent it; still, keep it to host[:port].
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    {
        return None;
    }
    let scheme = if session::is_https(uri, headers) {
        "https"
    } else {
        "http"
    };
    Some(format!("{scheme}://{host}"))
}

fn to_api(link: &StoredLink, origin: Option<&str>) -> TeamLink {
    let path = link.path();
    TeamLink {
        id: link.id.clone(),
        kind: link.kind.as_str().to_string(),
        name: link.name.clone(),
        url: origin.map_or_else(|| path.clone(), |o| format!("{o}{path}")),
        path,
        created_by: link.created_by.clone(),
        created_at: link.created_at_ms,
    }
}

/// Saves a named link to a backtest or sweep state (any signed-in user). 400 names what is
/// wrong with the name or the state (a tampered or truncated state is refused).
#[utoipa::path(post, path = "/api/links", tag = "links", request_body = CreateTeamLink,
    responses((status = 201, body = TeamLink), (status = 400, body = ApiErrorBody),
              (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody)))]
pub async fn create(
    user: CurrentUser,
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Json<CreateTeamLink>, JsonRejection>,
) -> Result<(StatusCode, Json<TeamLink>), ApiError> {
    let Json(req) = body.map_err(|e| {
        ApiError::new(
            crate::error::rejection_status(&e),
            format!(
                "expected JSON {{\"name\": ..., \"state\": ...}}: {}",
                e.body_text()
            ),
        )
    })?;
    let link = links::create(
        &state.store,
        &req.name,
        &req.state,
        req.results.as_deref(),
        &user.username,
    )
    .await?;
    tracing::info!(id = %link.id, kind = link.kind.as_str(), username = %user.username, "team link saved");
    Ok((
        StatusCode::CREATED,
        Json(to_api(&link, origin(&uri, &headers).as_deref())),
    ))
}

/// `?limit=N` (default 100, at most 500).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct LinksQuery {
    pub limit: Option<i64>,
}

/// The team's links, newest first (any signed-in user).
#[utoipa::path(get, path = "/api/links", tag = "links", params(LinksQuery),
    responses((status = 200, body = Vec<TeamLink>), (status = 401, body = ApiErrorBody)))]
pub async fn list(
    _user: CurrentUser,
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<LinksQuery>,
) -> Result<Json<Vec<TeamLink>>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let origin = origin(&uri, &headers);
    let all = links::list(&state.store, limit).await?;
    Ok(Json(
        all.iter().map(|l| to_api(l, origin.as_deref())).collect(),
    ))
}

/// Deletes a link: its author or a trader. 204; 403 for another viewer's link; 404 unknown.
#[utoipa::path(delete, path = "/api/links/{id}", tag = "links", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ApiErrorBody),
              (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn delete(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let Some(link) = links::get(&state.store, &id).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no team link {id:?}"),
        ));
    };
    if link.created_by != user.username && user.role != Role::Trader {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "only its author ({}) or a trader may delete team link {id}; {} is a {}",
                link.created_by,
                user.username,
                user.role.as_str()
            ),
        ));
    }
    links::delete(&state.store, &id).await?;
    tracing::info!(%id, username = %user.username, "team link deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A sweep link's stored results (readable as the panel is: the Sweep page shows them). 404 when
/// the link is unknown or stored none.
#[utoipa::path(get, path = "/api/links/{id}/results", tag = "links", params(("id" = String, Path)),
    responses((status = 200, body = TeamLinkResults), (status = 404, body = ApiErrorBody)))]
pub async fn results(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TeamLinkResults>, ApiError> {
    match links::results(&state.store, &id).await? {
        Some(results) => Ok(Json(TeamLinkResults { results })),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no stored results for team link {id:?}"),
        )),
    }
}

/// `GET /s/{id}`: 303 to the page with the link's state in the URL, exactly as "Copy link"
/// writes it; an unknown id gets a 404 page that says so.
pub async fn open(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let mut resp = match links::get(&state.store, &id).await {
        Ok(Some(link)) => Redirect::to(&link.target()).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Html(page(
                "Team link not found",
                &format!(
                    "There is no team link <code>/s/{}</code> on this server. It may have been \
                     deleted, or the address was mistyped or cut short.",
                    escape(&id)
                ),
            )),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, %id, "opening a team link");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Html(page(
                    "Team link unavailable",
                    "The server could not read its team links just now (database error). Try \
                     again shortly.",
                )),
            )
                .into_response()
        }
    };
    // Links can be deleted: never let a browser or proxy answer from a cached redirect.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A small stand-alone page in the dashboard's style (its stylesheet and top bar).
fn page(title: &str, message: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Lockstep</title>
<link rel="stylesheet" href="/pkg/lockstep.css">
</head>
<body>
<header class="topbar"><a href="/" class="brand">Lockstep</a>
<nav><a href="/">Overview</a> <a href="/backtest">Backtest</a> <a href="/sweep">Sweep</a> <a href="/trades">Trades</a> <a href="/data">Data</a></nav></header>
<main><section class="card" id="team-link-missing">
<h1>{title}</h1>
<p class="error">{message}</p>
<p><a href="/backtest">Open the Backtest page</a> or <a href="/sweep">the Sweep page</a>.</p>
</section></main>
</body>
</html>
"#
    )
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().take(200) {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_not_found_page_escapes_the_id() {
        assert_eq!(escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn the_origin_comes_from_the_host_header() {
        let mut h = HeaderMap::new();
        let uri: Uri = "/api/links".parse().unwrap();
        assert_eq!(origin(&uri, &h), None);
        h.insert(
            header::HOST,
            HeaderValue::from_static("lockstep.example:8443"),
        );
        assert_eq!(
            origin(&uri, &h).as_deref(),
            Some("http://lockstep.example:8443")
        );
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(
            origin(&uri, &h).as_deref(),
            Some("https://lockstep.example:8443")
        );
        h.insert(header::HOST, HeaderValue::from_static("evil.example/<x>"));
        assert_eq!(origin(&uri, &h), None);
    }
}
