//! Calls to the server's JSON API from the browser.
//!
//! Only the hydrated build talks to the API; during server-side rendering these return an
//! error that the page shows as "loading", so the HTML the server sends never pretends to
//! hold data it did not fetch.

use serde::de::DeserializeOwned;

/// GETs `path` and decodes its JSON body; a non-2xx answer becomes the API's error message.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, String> {
    #[cfg(feature = "hydrate")]
    {
        let resp = gloo_net::http::Request::get(path)
            .send()
            .await
            .map_err(|e| format!("request to {path} failed: {e}"))?;
        if !resp.ok() {
            let status = resp.status();
            let body = resp.json::<crate::api::ApiErrorBody>().await;
            return Err(match body {
                Ok(b) => format!("{path}: {} ({status})", b.error),
                Err(_) => format!("{path}: HTTP {status}"),
            });
        }
        resp.json::<T>()
            .await
            .map_err(|e| format!("{path}: malformed response: {e}"))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Err(format!("{path} is fetched in the browser"))
    }
}
