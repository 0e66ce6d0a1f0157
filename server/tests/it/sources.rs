//! Price sources that change under a series (issue 13, part 5), on both engines: a second
//! source's bar for a stored day never replaces the first silently (the write counts it and the
//! other bar is kept in `bar_alternates`), the bar source preference decides which one the
//! panel reads, and a series whose source changes is reported as a splice with its day and the
//! jump next to the series' typical move — on hand-made bars and on the predecessor's real
//! price file carried on by another source.

use server::commands::import::import_paths;
use server::store::market::{Record, RunOutcome, Series};
use server::store::testing::{Engine, TestStore};
use server::store::Store;
use shared::{Day, Field};

fn bar(symbol: &str, day: i32, close: f64) -> Record {
    Record::Bar {
        symbol: symbol.into(),
        day: Day(day),
        open: close,
        high: close * 1.01,
        low: close * 0.99,
        close,
        volume: 10.0,
    }
}

/// CSV closes of AAA on days 100..=110: +1 % and -1 % in turn.
fn csv_close(day: i32) -> f64 {
    let mut c = 100.0;
    for d in 101..=day {
        c *= if d % 2 == 0 { 1.01 } else { 0.99 };
    }
    c
}

/// The other venue's closes: 5 % above the CSV's on the days both have, then +1 % a day.
fn venue_close(day: i32) -> f64 {
    if day <= 110 {
        csv_close(day) * 1.05
    } else {
        venue_close(day - 1) * 1.01
    }
}

fn csv_bars() -> Vec<Record> {
    (100..=110).map(|d| bar("AAA", d, csv_close(d))).collect()
}

fn venue_bars() -> Vec<Record> {
    (108..=115).map(|d| bar("AAA", d, venue_close(d))).collect()
}

/// The source and close `daily_bars` holds for AAA on `day`.
async fn stored(store: &Store, day: i32) -> (String, f64) {
    let rows = store.long_rows(Series::Bars, "close").await.unwrap();
    let r = rows
        .iter()
        .find(|r| r.symbol == "AAA" && r.day == Day(day))
        .unwrap_or_else(|| panic!("no AAA bar on day {day}"));
    (r.source.clone(), r.value)
}

#[tokio::test]
async fn a_second_source_is_kept_aside_or_says_it_replaced_and_the_splice_is_reported() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "bar_sources").await else {
            continue;
        };
        let s = &t.store;
        let c = s.upsert("csv", &csv_bars()).await.unwrap();
        assert_eq!((c.inserted, c.replaced, c.set_aside), (11, 0, 0));

        // No preference: the newer write wins the shared days, and says so.
        let c = s.upsert("hyperliquid", &venue_bars()).await.unwrap();
        assert_eq!(
            (c.inserted, c.updated, c.replaced, c.set_aside),
            (5, 3, 3, 0),
            "{engine:?}: {c:?}"
        );
        assert_eq!(
            stored(s, 108).await,
            ("hyperliquid".into(), venue_close(108))
        );
        let (kept, reason) = s
            .alternate_bar("AAA", Day(108), "csv")
            .await
            .unwrap()
            .expect("the csv bar of day 108 is kept");
        assert_eq!((kept[3], reason.as_str()), (csv_close(108), "displaced"));

        // The splice: day 108, csv -> hyperliquid, +5 % on top of that day's move, against a
        // typical move of 1 %.
        let status = s.data_status(Day(115), 3).await.unwrap();
        assert_eq!(status.splices.len(), 1, "{engine:?}: {:?}", status.splices);
        let sp = &status.splices[0];
        assert_eq!(
            (sp.symbol.as_str(), sp.day.clone(), sp.previous_day.clone()),
            ("AAA", Day(108).to_string(), Day(107).to_string())
        );
        assert_eq!(
            (sp.from_source.as_str(), sp.to_source.as_str()),
            ("csv", "hyperliquid")
        );
        let want = venue_close(108) / csv_close(107) - 1.0;
        assert!((sp.change - want).abs() < 1e-12, "{} vs {want}", sp.change);
        let typical = sp.typical_move.unwrap();
        assert!((typical - 0.01).abs() < 1e-9, "{typical}");
        assert!((sp.jump_ratio.unwrap() - want.abs() / typical).abs() < 1e-9);
        assert_eq!(status.alternate_bars.len(), 1);
        assert_eq!(
            (
                status.alternate_bars[0].source.as_str(),
                status.alternate_bars[0].bars
            ),
            ("csv", 3)
        );
        // The same through `/api/data/status` (as `--public-read` serves it).
        let app = server::router(
            server::AppState::new(
                s.clone(),
                &std::env::temp_dir(),
                "127.0.0.1:0".parse().unwrap(),
            )
            .with_web(server::WebConfig {
                public_read: true,
                ..server::WebConfig::default()
            }),
        );
        let resp = tower::ServiceExt::oneshot(
            app,
            axum::http::Request::get("/api/data/status?as_of=latest")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), axum::http::StatusCode::OK);
        let body: serde_json::Value =
            serde_json::from_str(&crate::common::body_text(resp).await).unwrap();
        assert_eq!(body["splices"][0]["day"], Day(108).to_string(), "{body}");
        assert_eq!(body["splices"][0]["to_source"], "hyperliquid");
        assert_eq!(body["alternate_bars"][0]["reason"], "displaced");
        let text = server::commands::data::render(&status);
        assert!(text.contains("spliced price series (1"), "{text}");
        let line = format!("AAA {}: csv -> hyperliquid", Day(108));
        assert!(text.contains(&line), "{text}");

        // Prefer the CSV: writing it again takes its days back, and keeps the venue's bars.
        s.set_bar_source_preference(&["csv".into(), "hyperliquid".into()])
            .await
            .unwrap();
        assert_eq!(
            s.bar_source_preference().await.unwrap(),
            vec!["csv".to_string(), "hyperliquid".to_string()]
        );
        let c = s.upsert("csv", &csv_bars()).await.unwrap();
        assert_eq!((c.updated, c.replaced, c.unchanged), (3, 3, 8), "{c:?}");
        assert_eq!(stored(s, 109).await, ("csv".into(), csv_close(109)));
        assert!(
            s.alternate_bar("AAA", Day(109), "csv")
                .await
                .unwrap()
                .is_none(),
            "the csv bar is stored again, not kept aside"
        );
        let (kept, reason) = s
            .alternate_bar("AAA", Day(109), "hyperliquid")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((kept[3], reason.as_str()), (venue_close(109), "displaced"));

        // The venue writes its days again: refused where the CSV holds the day, counted.
        let v = s.data_version().await.unwrap();
        let c = s.upsert("hyperliquid", &venue_bars()).await.unwrap();
        assert_eq!(
            (c.inserted, c.updated, c.unchanged, c.set_aside, c.total()),
            (0, 0, 5, 3, 8),
            "{c:?}"
        );
        assert_eq!(stored(s, 110).await, ("csv".into(), csv_close(110)));
        let (_, reason) = s
            .alternate_bar("AAA", Day(110), "hyperliquid")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reason, "not_preferred");
        assert!(
            s.data_version().await.unwrap() > v,
            "the alternates changed"
        );
        // Idempotent: the same write again changes nothing, not even the data version.
        let v = s.data_version().await.unwrap();
        let c = s.upsert("hyperliquid", &venue_bars()).await.unwrap();
        assert_eq!((c.set_aside, c.unchanged), (3, 5));
        assert_eq!(s.data_version().await.unwrap(), v);

        // The panel reads the preferred bars; the splice moved to day 111.
        let panel = s.build_panel().await.unwrap().unwrap();
        let row = (Day(110).0 - panel.start().0) as usize;
        assert_eq!(panel.get(Field::Close, 0, row), csv_close(110));
        let splices = s.source_splices(None).await.unwrap();
        assert_eq!(splices.len(), 1);
        assert_eq!(splices[0].day, Day(111).to_string());
        assert!(s
            .source_splices(Some((Day(100), Day(110))))
            .await
            .unwrap()
            .is_empty());

        // A run records what its write did to other sources' bars.
        let run = s.start_run("hyperliquid", Some("candles")).await.unwrap();
        s.finish_run(run, &RunOutcome::ok(8, c)).await.unwrap();
        let last = &s.runs(Some("hyperliquid"), 1).await.unwrap()[0];
        assert_eq!((last.counts.set_aside, last.counts.replaced), (3, 0));

        // A source named twice is refused and the preference stays.
        let err = s
            .set_bar_source_preference(&["csv".into(), "csv".into()])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("named twice"), "{err}");
        assert_eq!(s.bar_source_preference().await.unwrap().len(), 2);
    }
}

/// The predecessor's Coinbase closes carried on by another source: the seam is found on the
/// right day, and measured against ETH's own typical daily move on the real data.
#[tokio::test]
async fn the_real_price_file_carried_on_by_a_venue_is_a_reported_splice() {
    let Some(dir) = crate::common::real_data_dir("the real-data splice test is skipped") else {
        return;
    };
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "bar_sources_real").await else {
            continue;
        };
        let s = &t.store;
        import_paths(s, &[dir.join("coinbase_top200_daily.csv")])
            .await
            .unwrap();
        assert!(
            s.data_status(Day(20_400), 3)
                .await
                .unwrap()
                .splices
                .is_empty(),
            "one source per series in the file alone"
        );
        let closes = s.long_rows(Series::Bars, "close").await.unwrap();
        let eth: Vec<_> = closes.iter().filter(|r| r.symbol == "ETH").collect();
        let last = eth.last().unwrap();
        // The venue's candles start the day after the file's last ETH close, 2 % higher.
        let first = Day(last.day.0 + 1);
        let venue: Vec<Record> = (0..5)
            .map(|i| bar("ETH", first.0 + i, last.value * 1.02 * 1.001f64.powi(i)))
            .collect();
        let c = s.upsert("hyperliquid", &venue).await.unwrap();
        assert_eq!((c.inserted, c.replaced), (5, 0), "new days replace nothing");
        let splices = s.source_splices(None).await.unwrap();
        assert_eq!(splices.len(), 1, "{splices:?}");
        let sp = &splices[0];
        assert_eq!(
            (sp.symbol.as_str(), sp.day.clone()),
            ("ETH", first.to_string())
        );
        assert_eq!(sp.from_source, "csv");
        assert!((sp.change - 0.02).abs() < 1e-9);
        // ETH's median daily move over 2020-2025 is between 1 % and 4 %.
        let typical = sp.typical_move.unwrap();
        assert!((0.01..0.04).contains(&typical), "{typical}");
        assert!((sp.jump_ratio.unwrap() - 0.02 / typical).abs() < 1e-9);
    }
}

/// Every field of two panels, bit for bit (NaN equals NaN).
fn same_bits(a: &shared::Panel, b: &shared::Panel) -> bool {
    a.symbols() == b.symbols()
        && a.start() == b.start()
        && a.n_days() == b.n_days()
        && Field::ALL.iter().all(|&f| {
            (0..a.n_assets()).all(|i| {
                a.series(f, i)
                    .iter()
                    .zip(b.series(f, i))
                    .all(|(x, y)| x.to_bits() == y.to_bits())
            })
        })
}

/// AAA's close on `day` in `panel`.
fn close_on(panel: &shared::Panel, day: i32) -> f64 {
    panel.get(Field::Close, 0, (day - panel.start().0) as usize)
}

/// A source preference per venue (issue 13, part 5), on both engines: the store keeps the CSV's
/// bars (its preference), the Hyperliquid venue's panel reads Hyperliquid's closes where both
/// sources hold a day, `any` and a venue without a preference read the store's bars; the
/// status lists the preference, and a panel pinned to a data version keeps the venue's bars of
/// that version after later writes.
#[tokio::test]
async fn a_venue_panel_reads_its_preferred_source_and_any_the_stores() {
    use server::store::layout::VenueOrder;
    use server::store::panel::EncodedKey;
    use shared::config::VenueScope;
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "venue_bar_pref").await else {
            continue;
        };
        let s = &t.store;
        s.set_bar_source_preference(&["csv".into(), "hyperliquid".into()])
            .await
            .unwrap();
        s.upsert("csv", &csv_bars()).await.unwrap();
        let c = s.upsert("hyperliquid", &venue_bars()).await.unwrap();
        assert_eq!((c.inserted, c.set_aside), (5, 3), "{c:?}");
        let hl = VenueOrder::for_venue(Some("hyperliquid"));
        let paper = VenueOrder::for_venue(Some("paper"));
        let any = VenueOrder::for_venue(Some("any"));

        // No venue preference: every venue's panel is the store's, bit for bit.
        let store_panel = s.build_panel().await.unwrap().unwrap();
        for order in [&hl, &paper, &any] {
            let p = s.build_panel_for(order).await.unwrap().unwrap();
            assert!(same_bits(&p, &store_panel), "{engine:?} {order:?}");
        }

        // `lockstep data prefer --venue hyperliquid hyperliquid csv`.
        let prefer = |venue: &str, sources: &[&str]| {
            server::commands::data::DataCommand::Prefer(server::commands::data::PreferArgs {
                sources: sources.iter().map(|x| x.to_string()).collect(),
                clear: false,
                venue: Some(venue.to_string()),
            })
        };
        server::commands::data::run(s, &prefer("hyperliquid", &["hyperliquid", "csv"]))
            .await
            .unwrap();
        let e = server::commands::data::run(s, &prefer("binance", &["csv"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("--venue \"binance\""), "{e}");
        assert_eq!(
            s.bar_venue_preference("hyperliquid").await.unwrap(),
            vec!["hyperliquid".to_string(), "csv".to_string()]
        );
        let p_any = s.build_panel_for(&any).await.unwrap().unwrap();
        let p_hl = s.build_panel_for(&hl).await.unwrap().unwrap();
        let (_, cached) = s.panel_for(&hl).await.unwrap().unwrap();
        assert!(same_bits(&cached, &p_hl), "the cached venue panel");
        assert_eq!((p_hl.start(), p_hl.n_days()), (Day(100), 16));
        for day in 100..=115 {
            // `any`: the CSV wherever it has the day (the store's preference), then the venue.
            let want_any = if day <= 110 {
                csv_close(day)
            } else {
                venue_close(day)
            };
            // Hyperliquid's panel: Hyperliquid's bar wherever it has one (108 on).
            let want_hl = if day >= 108 {
                venue_close(day)
            } else {
                csv_close(day)
            };
            assert_eq!(close_on(&p_any, day), want_any, "{engine:?} any {day}");
            assert_eq!(close_on(&p_hl, day), want_hl, "{engine:?} hl {day}");
            let row = (day - 100) as usize;
            assert_eq!(p_hl.get(Field::High, 0, row), want_hl * 1.01);
        }
        // Day 109 by hand: csv 100 × 0.99 (101) × 1.01 × 0.99 × 1.01 × 0.99 × 1.01 × 0.99 ×
        // 1.01 × 0.99 (109) = 100 × 0.99^5 × 1.01^4; Hyperliquid's is 5 % above it.
        let csv_109 = 100.0 * 0.99f64.powi(5) * 1.01f64.powi(4);
        assert!((close_on(&p_any, 109) / csv_109 - 1.0).abs() < 1e-12);
        assert!((close_on(&p_hl, 109) / (csv_109 * 1.05) - 1.0).abs() < 1e-12);
        assert!(same_bits(&p_any, &s.build_panel().await.unwrap().unwrap()));
        // The paper venue has no preference of its own: the store's bars.
        assert!(same_bits(
            &s.build_panel_for(&paper).await.unwrap().unwrap(),
            &p_any
        ));

        // The status lists it (text, JSON), beside the store's preference.
        let status = s.data_status(Day(115), 3).await.unwrap();
        assert_eq!(status.bar_venue_preferences.len(), 1);
        assert_eq!(status.bar_venue_preferences[0].venue, "hyperliquid");
        assert_eq!(
            status.bar_venue_preferences[0].sources,
            vec!["hyperliquid".to_string(), "csv".to_string()]
        );
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(
            json["bar_venue_preferences"][0]["sources"][0],
            "hyperliquid"
        );
        let text = server::commands::data::render(&status);
        assert!(
            text.contains("bar source preference: csv > hyperliquid")
                && text.contains("bar source preference for hyperliquid: hyperliquid > csv"),
            "{text}"
        );
        // `any` is the store's preference, not a venue's; a source named twice is refused.
        for bad in [
            s.set_bar_venue_preference("any", &["csv".into()]).await,
            s.set_bar_venue_preference("hyperliquid", &["csv".into(), "csv".into()])
                .await,
        ] {
            assert!(matches!(bad, Err(server::store::StoreError::Rejected(_))));
        }

        // Pinned: the venue's panel (and its `/api/panel` bytes) as of this version survive a
        // CSV bar that displaces Hyperliquid's day 112 and a new Hyperliquid day.
        let v = s.data_version().await.unwrap();
        let key = |as_of| EncodedKey {
            fields: vec![Field::Close, Field::Volume],
            from: None,
            to: None,
            as_of,
            venue: Some(VenueScope::Hyperliquid),
        };
        let then = s.encoded_panel(&key(None)).await.unwrap();
        s.upsert("csv", &[bar("AAA", 112, 200.0)]).await.unwrap();
        s.upsert("hyperliquid", &[bar("AAA", 116, 300.0)])
            .await
            .unwrap();
        assert!(s.data_version().await.unwrap() > v);
        let now_any = s.build_panel_for(&any).await.unwrap().unwrap();
        let now_hl = s.build_panel_for(&hl).await.unwrap().unwrap();
        assert_eq!(close_on(&now_any, 112), 200.0);
        assert_eq!(close_on(&now_hl, 112), venue_close(112));
        assert_eq!(close_on(&now_hl, 116), 300.0);
        let old_hl = s.build_panel_as_of_for(v, &hl).await.unwrap().unwrap();
        let old_any = s.build_panel_as_of_for(v, &any).await.unwrap().unwrap();
        assert!(same_bits(&old_hl, &p_hl), "{engine:?}: as-of hyperliquid");
        assert!(same_bits(&old_any, &p_any), "{engine:?}: as-of any");
        let pinned = s.encoded_panel(&key(Some(v))).await.unwrap();
        assert_eq!(pinned.bytes, then.bytes, "{engine:?}: pinned bytes");
        assert_ne!(s.encoded_panel(&key(None)).await.unwrap().bytes, then.bytes);

        // Cleared: the venue reads the store's bars again.
        s.set_bar_venue_preference("hyperliquid", &[])
            .await
            .unwrap();
        assert!(s
            .data_status(Day(116), 3)
            .await
            .unwrap()
            .bar_venue_preferences
            .is_empty());
        assert!(same_bits(
            &s.build_panel_for(&hl).await.unwrap().unwrap(),
            &s.build_panel().await.unwrap().unwrap()
        ));
    }
}
