//! `/api/panel`, `/api/data/status` and the synthetic label of `/api/health`, through the router.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use server::commands::first_start;
use server::store::testing::{Engine, TestStore};
use server::{router, AppState};
use shared::synth::SynthConfig;
use shared::{Day, Field};
use tower::ServiceExt;

async fn call(
    app: &axum::Router,
    uri: &str,
    etag: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::get(uri);
    if let Some(e) = etag {
        req = req.header(header::IF_NONE_MATCH, e);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, bytes)
}

/// These endpoints as `--public-read` serves them (sign-in is covered in attack.rs).
fn public_read(state: AppState) -> AppState {
    state.with_web(server::WebConfig {
        public_read: true,
        ..server::WebConfig::default()
    })
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[tokio::test]
async fn panel_endpoint_serves_the_exact_panel_with_an_etag() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "panelapi").await else {
            continue;
        };
        let dir = std::env::temp_dir();
        let store = server::store::Store::connect(&t.url).await.unwrap();
        let app = router(public_read(AppState::new(
            store,
            &dir,
            "127.0.0.1:0".parse().unwrap(),
        )));

        // Empty store: a 404 that says why.
        let (status, _, body) = call(&app, "/api/panel", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("no daily bars"));

        let cfg = SynthConfig {
            seed: 3,
            n_assets: 8,
            n_days: 120,
            start: Day(19_000),
        };
        first_start::store_synthetic(&t.store, &cfg).await.unwrap();
        let expected = t.store.build_panel().await.unwrap().unwrap();

        let (status, headers, body) = call(&app, "/api/panel", None).await;
        assert_eq!(status, StatusCode::OK, "{engine:?}");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            shared::panel_codec::MEDIA_TYPE
        );
        assert!(
            headers.get(header::CONTENT_ENCODING).is_none(),
            "not gzipped twice"
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        let etag = headers[header::ETAG].to_str().unwrap().to_string();
        let d = shared::panel_codec::decode(&body).unwrap();
        assert_eq!(d.fields, server::api::data::DEFAULT_FIELDS.to_vec());
        for f in &d.fields {
            let same = d
                .panel
                .field(*f)
                .iter()
                .zip(expected.field(*f))
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{f:?} bit for bit");
        }
        // Revalidation: 304 while the data is unchanged, a new ETag once it changed.
        let (status, _, body) = call(&app, "/api/panel", Some(&etag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        t.store
            .upsert(
                "test",
                &[server::store::market::Record::MarketCap {
                    symbol: "BTC".into(),
                    day: Day(19_001),
                    usd: 1.0,
                }],
            )
            .await
            .unwrap();
        let (status, headers, _) = call(&app, "/api/panel", Some(&etag)).await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(headers[header::ETAG].to_str().unwrap(), etag);

        // A window of two fields.
        let (status, _, body) = call(
            &app,
            "/api/panel?fields=close,funding_rate&from=2022-01-10&to=2022-01-19",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let d = shared::panel_codec::decode(&body).unwrap();
        assert_eq!(d.fields, vec![Field::Close, Field::FundingRate]);
        assert_eq!(d.panel.start(), Day::parse("2022-01-10").unwrap());
        assert_eq!(d.panel.n_days(), 10);
        let row = expected.row_of(d.panel.start()).unwrap();
        assert_eq!(
            d.panel.get(Field::Close, 0, 0).to_bits(),
            expected.get(Field::Close, 0, row).to_bits()
        );

        // Bad parameters are 400s naming the parameter.
        for (uri, param) in [
            ("/api/panel?fields=close,price", "`fields`"),
            ("/api/panel?fields=close,close", "`fields`"),
            ("/api/panel?from=2022-13-01", "`from`"),
            ("/api/panel?to=yesterday", "`to`"),
            ("/api/panel?from=2022-02-01&to=2022-01-01", "`from`"),
            ("/api/panel?from=2030-01-01", "`from`"),
            ("/api/panel?field=close", "`field`"),
            ("/api/data/status?stale_days=-1", "`stale_days`"),
            ("/api/data/status?as_of=soon", "`as_of`"),
        ] {
            let (status, _, body) = call(&app, uri, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            let msg = json(&body)["error"].as_str().unwrap().to_string();
            assert!(msg.contains(param), "{uri}: {msg}");
        }

        // Synthetic data is labelled as such.
        let (status, _, body) = call(&app, "/api/data/status?as_of=latest", None).await;
        assert_eq!(status, StatusCode::OK);
        let s: app::api::DataStatus = serde_json::from_slice(&body).unwrap();
        assert!(s.synthetic);
        assert!(s
            .sources
            .iter()
            .any(|x| x.name == "synthetic" && x.synthetic && x.kind == "synthetic"));
        assert!(s
            .series
            .iter()
            .any(|x| x.field == "close" && x.symbols == 8));
        let (_, _, body) = call(&app, "/api/health", None).await;
        let h = json(&body);
        assert_eq!(h["data"]["synthetic"], true);
        assert!(h["data"]["sources"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("synthetic")));
    }
}

#[tokio::test]
async fn first_start_fills_an_empty_store_from_a_directory_once() {
    let t = TestStore::new(Engine::Sqlite, "firststart").await.unwrap();
    let dir = std::env::temp_dir().join(format!("lockstep-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("p.csv"),
        "date,symbol,base,open,high,low,close,volume\n2020-01-01,BTC/USD,BTC,1,2,0.5,1.5,10\n",
    )
    .unwrap();
    std::env::set_var("LOCKSTEP_DEMO_DATA", &dir);
    let got = first_start::ensure_data(&t.store).await.unwrap();
    assert_eq!(got, first_start::FirstStart::Imported(dir.clone()));
    assert_eq!(
        first_start::ensure_data(&t.store).await.unwrap(),
        first_start::FirstStart::AlreadyFilled
    );
    assert!(!t.store.synthetic_in_use().await.unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `/api/panel?as_of=VERSION` (what a share link pins): after a revision and new rows, the
/// panel of the old version is served byte for byte as it was; an unknown version is a 400.
#[tokio::test]
async fn panel_as_of_a_version_is_the_panel_served_then() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "panel_as_of").await else {
            continue;
        };
        let dir = std::env::temp_dir();
        let store = server::store::Store::connect(&t.url).await.unwrap();
        let app = router(public_read(AppState::new(
            store,
            &dir,
            "127.0.0.1:0".parse().unwrap(),
        )));
        let cfg = SynthConfig {
            seed: 5,
            n_assets: 6,
            n_days: 90,
            start: Day(19_000),
        };
        first_start::store_synthetic(&t.store, &cfg).await.unwrap();
        let v1 = t.store.data_version().await.unwrap();
        let (status, _, then) = call(&app, "/api/panel", None).await;
        assert_eq!(status, StatusCode::OK);
        // The current version is today's panel.
        let (_, _, same) = call(&app, &format!("/api/panel?as_of={v1}"), None).await;
        assert_eq!(same, then, "{engine:?}");

        // A refresh: one close revised, a new day for every asset.
        let (_, p) = t.store.panel().await.unwrap().unwrap();
        let mut records = Vec::new();
        for (a, symbol) in p.symbols().iter().enumerate() {
            let last = p.get(Field::Close, a, p.n_days() - 1);
            records.push(server::store::market::Record::Bar {
                symbol: symbol.clone(),
                day: Day(p.end().0 + 1),
                open: last,
                high: last * 1.02,
                low: last * 0.98,
                close: last * 1.01,
                volume: 1000.0,
            });
        }
        let c = p.get(Field::Close, 0, 40);
        records.push(server::store::market::Record::Bar {
            symbol: p.symbols()[0].clone(),
            day: p.day(40),
            open: c,
            high: c * 1.5,
            low: c * 0.5,
            close: c * 1.1,
            volume: 1000.0,
        });
        t.store.upsert("test", &records).await.unwrap();
        assert!(t.store.data_version().await.unwrap() > v1);

        let (_, _, now) = call(&app, "/api/panel", None).await;
        assert_ne!(now, then, "the refresh changed today's panel");
        let (status, _, old) = call(&app, &format!("/api/panel?as_of={v1}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(old, then, "{engine:?}: the old version, byte for byte");
        // A window of the old version.
        let (status, _, w) = call(
            &app,
            &format!("/api/panel?fields=close&from=2022-01-10&to=2022-01-19&as_of={v1}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let d = shared::panel_codec::decode(&w).unwrap();
        assert_eq!(d.panel.n_days(), 10);

        for bad in ["as_of=99999999", "as_of=-1", "as_of=yesterday"] {
            let (status, _, body) = call(&app, &format!("/api/panel?{bad}"), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            let msg = json(&body)["error"].as_str().unwrap().to_string();
            assert!(msg.contains("as_of"), "{bad}: {msg}");
        }
    }
}
