//! API tests driven through the router with `tower::ServiceExt::oneshot`: no socket needed.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use server::store::Store;
use server::{router, AppState};
use tower::ServiceExt;

async fn app() -> (axum::Router, tempdir::Dir) {
    let dir = tempdir::Dir::new("api");
    let store = Store::connect(&format!("sqlite://{}/t.db", dir.path.display()))
        .await
        .unwrap();
    let state = AppState::new(store, &dir.path, "127.0.0.1:0".parse().unwrap());
    (router(state), dir)
}

async fn get(app: axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
    let resp = app
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn health_reports_version_database_and_an_empty_store() {
    let (app, _dir) = app().await;
    let (status, body) = get(app, "/api/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["database"]["status"], "ok");
    assert_eq!(body["database"]["backend"], "sqlite");
    assert_eq!(body["data"]["symbols"], 0);
    assert!(body["data"]["first_day"].is_null());
}

#[tokio::test]
async fn health_counts_stored_bars() {
    let (app, dir) = app().await;
    let store = Store::connect(&format!("sqlite://{}/t.db", dir.path.display()))
        .await
        .unwrap();
    for (sym, day) in [("BTC", 18_262), ("BTC", 18_263), ("ETH", 18_263)] {
        sqlx::query(
            "INSERT INTO daily_bars (symbol, day, close, source) VALUES ($1, $2, 1.0, 'test')",
        )
        .bind(sym)
        .bind(day as i64)
        .execute(store.pool())
        .await
        .unwrap();
    }
    let (_, body) = get(app, "/api/health").await;
    assert_eq!(body["data"]["symbols"], 2);
    assert_eq!(body["data"]["bars"], 3);
    assert_eq!(body["data"]["first_day"], "2020-01-01");
    assert_eq!(body["data"]["last_day"], "2020-01-02");
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() {
    let (app, _dir) = app().await;
    let (status, body) = get(app, "/api/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"].as_str().unwrap().contains("/api/nope"),
        "{body}"
    );
}

/// A throwaway directory removed on drop (no extra crate for one struct).
mod tempdir {
    pub struct Dir {
        pub path: std::path::PathBuf,
    }
    impl Dir {
        pub fn new(tag: &str) -> Dir {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("lockstep-{tag}-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
