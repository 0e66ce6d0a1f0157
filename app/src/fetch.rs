//! Calls to the server's JSON API from the browser.
//!
//! Only the hydrated build talks to the API; during server-side rendering these return an
//! error that the page shows as "loading", so the HTML the server sends never pretends to
//! hold data it did not fetch. State-changing calls carry the CSRF token the server set in the
//! `lockstep_csrf` cookie, in the `X-CSRF-Token` header.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// An API failure: the HTTP status (0 when the request never got an answer) and the message.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiFailure {
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// GETs `path` and decodes its JSON body; a non-2xx answer becomes the API's error message.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, String> {
    request::<(), T>("GET", path, None)
        .await
        .map_err(|e| e.message)
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
/// GETs `path`, keeping the status of a failure (e.g. to tell "not signed in" from an error).
pub async fn get_json_status<T: DeserializeOwned>(path: &str) -> Result<T, ApiFailure> {
    request::<(), T>("GET", path, None).await
}

/// POSTs `body` as JSON with the CSRF header and decodes the JSON answer (`()` for 204).
pub async fn post_json<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: Option<&B>,
) -> Result<T, ApiFailure> {
    request("POST", path, body).await
}

/// DELETEs `path` with the CSRF header and decodes the JSON answer (`()` for 204).
pub async fn delete_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiFailure> {
    request::<(), T>("DELETE", path, None).await
}

#[cfg(feature = "hydrate")]
fn csrf_cookie() -> Option<String> {
    use wasm_bindgen::JsCast;
    let doc = web_sys::window()?
        .document()?
        .dyn_into::<web_sys::HtmlDocument>()
        .ok()?;
    let cookies = doc.cookie().ok()?;
    cookies.split(';').find_map(|c| {
        // `__Host-lockstep_csrf` when the page came over HTTPS.
        let c = c.trim();
        c.strip_prefix("__Host-lockstep_csrf=")
            .or_else(|| c.strip_prefix("lockstep_csrf="))
            .map(str::to_string)
    })
}

#[allow(unused_variables)]
async fn request<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<T, ApiFailure> {
    #[cfg(feature = "hydrate")]
    {
        use gloo_net::http::Request;
        let fail = |status: u16, message: String| ApiFailure { status, message };
        let builder = match method {
            "GET" => Request::get(path),
            m => {
                let b = if m == "DELETE" {
                    Request::delete(path)
                } else {
                    Request::post(path)
                };
                match csrf_cookie() {
                    Some(t) => b.header("X-CSRF-Token", &t),
                    None => b,
                }
            }
        };
        let req = match body {
            Some(b) => builder
                .json(b)
                .map_err(|e| fail(0, format!("encoding the request: {e}")))?,
            None => builder
                .build()
                .map_err(|e| fail(0, format!("building the request: {e}")))?,
        };
        let resp = req
            .send()
            .await
            .map_err(|e| fail(0, format!("request to {path} failed: {e}")))?;
        let status = resp.status();
        if !resp.ok() {
            let body = resp.json::<crate::api::ApiErrorBody>().await;
            return Err(fail(
                status,
                match body {
                    Ok(b) => b.error,
                    Err(_) => format!("{path}: HTTP {status}"),
                },
            ));
        }
        if status == 204 {
            return serde_json::from_str("null").map_err(|e| fail(status, format!("{path}: {e}")));
        }
        resp.json::<T>()
            .await
            .map_err(|e| fail(status, format!("{path}: malformed response: {e}")))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Err(ApiFailure {
            status: 0,
            message: format!("{method} {path} is called from the browser"),
        })
    }
}
