//! The market-data store on both engines: idempotent upserts with revision counting, imports,
//! the panel built from the store (bit for bit the CSV reader's), the data-quality report.
//! SQLite always; PostgreSQL on the local test server, each test in its own schema.

use server::commands::first_start;
use server::commands::import::import_paths;
use server::market_data::csv;
use server::market_data::symbols::base_of;
use server::store::layout::{layout_records, VenueOrder};
use server::store::market::{Record, Series, UpsertCounts};
use server::store::testing::{Engine, TestStore};
use shared::synth::SynthConfig;
use shared::{Day, Field, Panel};
use std::path::{Path, PathBuf};

fn bar(symbol: &str, day: i32, close: f64) -> Record {
    Record::Bar {
        symbol: symbol.into(),
        day: Day(day),
        open: close,
        high: close,
        low: close,
        close,
        volume: 1.0,
    }
}

/// Bitwise equality of two panels (NaN == NaN), with the first difference named.
fn assert_same_panel(a: &Panel, b: &Panel) {
    assert_eq!(a.start(), b.start(), "start");
    assert_eq!(a.n_days(), b.n_days(), "n_days");
    assert_eq!(a.symbols(), b.symbols(), "symbols");
    for f in Field::ALL {
        let (x, y) = (a.field(f), b.field(f));
        if let Some(i) = (0..x.len()).find(|&i| x[i].to_bits() != y[i].to_bits()) {
            let (asset, row) = (i / a.n_days(), i % a.n_days());
            panic!(
                "{} differs at {} {}: {} vs {}",
                f.name(),
                a.symbols()[asset],
                a.day(row),
                x[i],
                y[i]
            );
        }
    }
}

async fn each_engine(tag: &str) -> Vec<TestStore> {
    let mut out = Vec::new();
    for e in Engine::ALL {
        if let Some(t) = TestStore::new(e, tag).await {
            out.push(t);
        }
    }
    out
}

#[tokio::test]
async fn upserts_are_idempotent_and_count_revisions() {
    for t in each_engine("upsert").await {
        let s = &t.store;
        let v0 = s.data_version().await.unwrap();
        let rows = vec![
            bar("BTC", 100, 10.0),
            bar("BTC", 101, 11.0),
            Record::Funding {
                symbol: "BTC".into(),
                venue: "binance".into(),
                day: Day(100),
                daily_rate: 0.0003,
            },
            Record::Funding {
                symbol: "BTC".into(),
                venue: "bybit".into(),
                day: Day(100),
                daily_rate: 0.0006,
            },
            Record::MarketCap {
                symbol: "BTC".into(),
                day: Day(100),
                usd: 1e12,
            },
        ];
        let c = s.upsert("test", &rows).await.unwrap();
        assert_eq!(
            c,
            UpsertCounts {
                inserted: 5,
                updated: 0,
                unchanged: 0,
                ..UpsertCounts::default()
            },
            "{:?}",
            t.engine
        );
        let v1 = s.data_version().await.unwrap();
        assert!(v1 > v0);
        // The same rows again: nothing changes, not even the data version.
        let c = s.upsert("test", &rows).await.unwrap();
        assert_eq!(
            c,
            UpsertCounts {
                inserted: 0,
                updated: 0,
                unchanged: 5,
                ..UpsertCounts::default()
            },
            "{:?}",
            t.engine
        );
        assert_eq!(s.data_version().await.unwrap(), v1);
        // A changed close is an update and a revision; a new day is an insert; a key repeated
        // within one call is written once (the last one wins).
        let c = s
            .upsert(
                "test",
                &[
                    bar("BTC", 101, 11.5),
                    bar("BTC", 102, 12.0),
                    bar("BTC", 102, 12.5),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            c,
            UpsertCounts {
                inserted: 1,
                updated: 1,
                unchanged: 1,
                ..UpsertCounts::default()
            },
            "{:?}",
            t.engine
        );
        let closes = s.long_rows(Series::Bars, "close").await.unwrap();
        let got: Vec<(i32, f64, u64)> = closes
            .iter()
            .map(|r| (r.day.0, r.value, r.revisions))
            .collect();
        assert_eq!(got, vec![(100, 10.0, 0), (101, 11.5, 1), (102, 12.5, 0)]);
        let revs = s.revision_counts().await.unwrap();
        assert_eq!(revs[0], (Series::Bars, 1));
        // Funding keeps both venues; the panel takes Binance's.
        let panel = s.build_panel().await.unwrap().unwrap();
        assert_eq!(panel.get(Field::FundingRate, 0, 0), 0.0003);
        assert_eq!(panel.get(Field::MarketCap, 0, 0), 1e12);
        assert_eq!(panel.n_days(), 3);
        // Incremental refresh starts after the last stored day per series.
        let last = s.last_days(Series::Funding, Some("test")).await.unwrap();
        assert_eq!(last[&("BTC".to_string(), "bybit".to_string())], Day(100));
        assert!(s
            .last_days(Series::Funding, Some("other"))
            .await
            .unwrap()
            .is_empty());
        // The cached panel follows the data version.
        let (va, pa) = s.panel().await.unwrap().unwrap();
        let (vb, pb) = s.panel().await.unwrap().unwrap();
        assert_eq!(va, vb);
        assert!(std::sync::Arc::ptr_eq(&pa, &pb), "served from the cache");
        s.upsert("test", &[bar("ETH", 100, 2.0)]).await.unwrap();
        let (vc, pc) = s.panel().await.unwrap().unwrap();
        assert!(vc > vb);
        assert_eq!(pc.symbols(), &["BTC".to_string(), "ETH".to_string()]);
    }
}

#[tokio::test]
async fn sources_aliases_and_runs() {
    use server::store::market::{Alias, RunOutcome, SourceKind};
    for t in each_engine("meta").await {
        let s = &t.store;
        s.register_source("hyperliquid", SourceKind::Live, "Hyperliquid info API")
            .await
            .unwrap();
        s.upsert_aliases(
            "hyperliquid",
            &[Alias {
                alias: "kPEPE".into(),
                symbol: "PEPE".into(),
                venue: Some("hyperliquid".into()),
            }],
        )
        .await
        .unwrap();
        assert_eq!(
            s.resolve_symbol("hyperliquid", "kPEPE", base_of)
                .await
                .unwrap()
                .as_deref(),
            Some("PEPE")
        );
        assert_eq!(
            s.resolve_symbol("coinalyze", "BTCUSDT_PERP.A", base_of)
                .await
                .unwrap()
                .as_deref(),
            Some("BTC")
        );
        assert_eq!(s.aliases("hyperliquid").await.unwrap().len(), 1);
        let run = s.start_run("hyperliquid", Some("candles")).await.unwrap();
        let counts = UpsertCounts {
            inserted: 3,
            updated: 1,
            unchanged: 2,
            ..UpsertCounts::default()
        };
        s.finish_run(run, &RunOutcome::error(6, counts, "HTTP 500"))
            .await
            .unwrap();
        let runs = s.runs(Some("hyperliquid"), 5).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "error");
        assert_eq!(runs[0].counts, counts);
        assert_eq!(runs[0].error.as_deref(), Some("HTTP 500"));
        assert!(runs[0].finished_at.is_some());
        assert!(!s.synthetic_in_use().await.unwrap());
    }
}

#[tokio::test]
async fn synthetic_market_round_trips_through_the_store() {
    let cfg = SynthConfig {
        seed: 7,
        n_assets: 12,
        n_days: 150,
        start: Day(18_262),
    };
    let expected = shared::synth::generate(&cfg).unwrap();
    for t in each_engine("synth").await {
        first_start::store_synthetic(&t.store, &cfg).await.unwrap();
        let panel = t.store.build_panel().await.unwrap().unwrap();
        // The store sorts assets by name; the generator lists BTC and the stablecoins first.
        let mut symbols = expected.symbols().to_vec();
        symbols.sort();
        let mut reordered =
            Panel::new(expected.start(), expected.n_days(), symbols.clone()).unwrap();
        for f in Field::ALL {
            for (a, sym) in symbols.iter().enumerate() {
                let src = expected.asset_index(sym).unwrap();
                reordered
                    .series_mut(f, a)
                    .copy_from_slice(expected.series(f, src));
                // The store keeps no negative zeros (see store::market).
                for v in reordered.series_mut(f, a) {
                    if *v == 0.0 {
                        *v = 0.0;
                    }
                }
            }
        }
        assert_same_panel(&panel, &reordered);
        assert!(t.store.synthetic_in_use().await.unwrap());
        assert_eq!(
            t.store.sources_in_use().await.unwrap(),
            vec!["synthetic".to_string()]
        );
        let status = t.store.data_status(Day(18_262 + 150), 3).await.unwrap();
        assert!(status.synthetic);
        assert!(status.sources[0].synthetic);
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test]
async fn imports_keep_good_rows_and_never_lose_stored_ones() {
    let dir = std::env::temp_dir().join(format!("lockstep-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = write(
        &dir,
        "a.csv",
        "date,symbol,base,open,high,low,close,volume\n\
         2020-01-01,BTC/USD,BTC,1,2,0.5,1.5,10\n\
         2020-01-02,BTC/USD,BTC,1,2,0.5,1.6,10\n",
    );
    let bad = write(
        &dir,
        "b.csv",
        "date,symbol,base,open,high,low,close,volume\n\
         2020-01-01,BTC/USD,BTC,1,2,0.5,oops,10\n\
         2020-01-03,BTC/USD,BTC,1,2,0.5,1.7,10\n\
         2020-01-02,BTC/USD,BTC,1,2,0.5,1.8,10\n",
    );
    let unknown = write(&dir, "c.csv", "when,what\n1,2\n");
    for t in each_engine("import").await {
        let r = import_paths(&t.store, std::slice::from_ref(&good))
            .await
            .unwrap();
        assert_eq!(r.rejected(), 0);
        assert_eq!(r.counts().inserted, 2);
        let r = import_paths(&t.store, std::slice::from_ref(&good))
            .await
            .unwrap();
        assert_eq!(
            r.counts(),
            UpsertCounts {
                inserted: 0,
                updated: 0,
                unchanged: 2,
                ..UpsertCounts::default()
            },
            "idempotent"
        );
        let r = import_paths(&t.store, &[bad.clone(), unknown.clone()])
            .await
            .unwrap();
        // b.csv: line 2 unparseable, line 4 out of order; line 3 (a new day) is kept.
        let b = &r.files[0];
        assert_eq!(b.format, Some(csv::CsvFormat::DailyOhlcv));
        assert_eq!(
            (b.rows_read, b.counts.inserted, b.rejected.len()),
            (3, 1, 2)
        );
        assert_eq!(b.rejected[0].line, 2);
        assert!(
            b.rejected[0].to_string().contains("b.csv:2"),
            "{}",
            b.rejected[0]
        );
        let c = &r.files[1];
        assert!(c
            .error
            .as_ref()
            .unwrap()
            .contains("date,symbol,base,open,high,low,close,volume"));
        assert_eq!(r.rejected(), 3);
        let closes = t.store.long_rows(Series::Bars, "close").await.unwrap();
        let got: Vec<f64> = closes.iter().map(|r| r.value).collect();
        assert_eq!(got, vec![1.5, 1.6, 1.7], "stored rows survive the bad file");
        let runs = t.store.runs(Some("csv"), 10).await.unwrap();
        assert_eq!(runs.len(), 4);
        assert!(runs
            .iter()
            .any(|r| r.status == "partial" && r.rejected == 2));
        assert!(runs.iter().any(|r| r.status == "error"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The files' records laid out in memory by the store's one layout (no database involved).
fn csv_panel(reads: &[csv::FileRead]) -> Panel {
    layout_records(
        reads.iter().flat_map(|r| &r.records),
        &VenueOrder::default(),
    )
    .unwrap()
}

/// The acceptance test of the store: the real files imported into SQLite give, bit for bit, the
/// panel the CSV reader builds from the same files; importing them again changes nothing.
#[tokio::test]
async fn real_files_panel_from_store_equals_the_csv_panel() {
    let Some(dir) = crate::common::real_data_dir("real-data store tests skipped") else {
        return;
    };
    let t = TestStore::new(Engine::Sqlite, "real").await.unwrap();
    let started = std::time::Instant::now();
    let report = import_paths(&t.store, std::slice::from_ref(&dir))
        .await
        .unwrap();
    let import_time = started.elapsed();
    print!("{}", report.table());
    let started = std::time::Instant::now();
    let from_store = t.store.build_panel().await.unwrap().unwrap();
    let panel_time = started.elapsed();
    eprintln!(
        "real data: import {:.2} s, panel from store {:.0} ms ({} assets x {} days; debug build)",
        import_time.as_secs_f64(),
        panel_time.as_secs_f64() * 1e3,
        from_store.n_assets(),
        from_store.n_days()
    );
    let reads = csv::read_dir(&dir).unwrap();
    let from_csv = csv_panel(&reads);
    assert_same_panel(&from_store, &from_csv);
    let rejected: usize = reads.iter().map(|r| r.rejected.len()).sum();
    assert_eq!(report.rejected() as usize, rejected);
    // The /api/panel encoding of the real panel: under 2 MB, and lossless.
    let fields = server::api::data::DEFAULT_FIELDS;
    let started = std::time::Instant::now();
    let bytes =
        shared::panel_codec::encode(&from_store, &fields, 0..=from_store.n_days() - 1).unwrap();
    let encode_time = started.elapsed();
    let started = std::time::Instant::now();
    let decoded = shared::panel_codec::decode(&bytes).unwrap();
    let decode_time = started.elapsed();
    eprintln!(
        "real panel encoding ({} fields): {} bytes, encode {:.0} ms, decode {:.1} ms (shared at opt-level 3)",
        fields.len(),
        bytes.len(),
        encode_time.as_secs_f64() * 1e3,
        decode_time.as_secs_f64() * 1e3
    );
    assert!(bytes.len() < 2_000_000, "{} bytes", bytes.len());
    for f in fields {
        let same = decoded
            .panel
            .field(f)
            .iter()
            .zip(from_csv.field(f))
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{f:?}");
    }
    let again = import_paths(&t.store, std::slice::from_ref(&dir))
        .await
        .unwrap();
    let c = again.counts();
    assert_eq!(
        (c.inserted, c.updated),
        (0, 0),
        "a second import changes nothing"
    );

    // Data quality on the real files: the five collection-window end days of the price file and
    // its alphabetical cut are found.
    let status = t
        .store
        .data_status(Day::parse("2025-10-26").unwrap(), 3)
        .await
        .unwrap();
    assert!(!status.synthetic);
    let close = status.series.iter().find(|s| s.field == "close").unwrap();
    assert_eq!(close.symbols, 136);
    assert_eq!(close.gaps, 0, "no gaps inside a listing window");
    let ends = status
        .artifacts
        .iter()
        .find(|a| a.kind == "series_end_cluster" && a.field == "close")
        .expect("end cluster on close");
    let mut days = ends.days.clone();
    days.sort();
    assert_eq!(
        days,
        vec![
            "2020-10-27",
            "2021-10-28",
            "2022-10-28",
            "2023-10-28",
            "2024-10-27"
        ]
    );
    assert_eq!(ends.series, 82, "{}", ends.message);
    let cut = status
        .artifacts
        .iter()
        .find(|a| a.kind == "alphabetical_truncation" && a.field == "close")
        .expect("alphabetical truncation of the price file");
    assert!(cut.message.contains("..PERP"), "{}", cut.message);
    eprintln!("{}", server::commands::data::render(&status));
}

/// The real files on PostgreSQL: the panel built from the store is the CSV panel, bit for bit,
/// as on SQLite (the symbol order must be bytes, not the database's collation). Skipped when
/// the local PostgreSQL server is unreachable.
#[tokio::test]
async fn real_files_panel_from_postgres_equals_the_csv_panel() {
    let Some(dir) = crate::common::real_data_dir("real-data store tests skipped") else {
        return;
    };
    let Some(t) = TestStore::new(Engine::Postgres, "real_pg").await else {
        return;
    };
    let started = std::time::Instant::now();
    import_paths(&t.store, std::slice::from_ref(&dir))
        .await
        .unwrap();
    let import_time = started.elapsed();
    let mut times = Vec::new();
    let mut from_store = None;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        from_store = t.store.build_panel().await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let from_store = from_store.unwrap();
    eprintln!(
        "real data on PostgreSQL: import {:.2} s, panel from store {:.0} / {:.0} / {:.0} ms \
         ({} assets x {} days; debug build)",
        import_time.as_secs_f64(),
        times[0],
        times[1],
        times[2],
        from_store.n_assets(),
        from_store.n_days()
    );
    let reads = csv::read_dir(&dir).unwrap();
    assert_same_panel(&from_store, &csv_panel(&reads));
}

/// The panel reads values back as text packed by the database (`store::panel::Packed`): every
/// finite double must survive that bit for bit, on both engines: random bit patterns over the
/// whole exponent range, subnormals, the extremes, and values whose 15-digit form is ambiguous.
#[tokio::test]
async fn panel_values_survive_the_store_bit_for_bit() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64*: deterministic, no dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut values = vec![
        f64::MIN_POSITIVE,
        f64::MIN_POSITIVE / 3.0, // subnormal
        5e-324,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        0.1,
        0.1 + 0.2,
        1.0 / 3.0,
        2.0f64.powi(53) + 2.0,
        123_456_789.123_456_79,
        9_007_199_254_740_993.0,
        -1.0,
        7.0,
    ];
    while values.len() < 400 {
        let v = f64::from_bits(next());
        if v.is_finite() && v != 0.0 {
            values.push(v);
        }
    }
    let days = values.len() / 5;
    for t in each_engine("panel_bits").await {
        let mut records = Vec::new();
        for d in 0..days {
            let v = &values[d * 5..d * 5 + 5];
            let (symbol, day) = (
                if d % 2 == 0 { "AAA" } else { "BBB" },
                Day(19_000 + d as i32),
            );
            records.push(Record::Bar {
                symbol: symbol.into(),
                day,
                open: v[0],
                high: v[1],
                low: v[2],
                close: v[3],
                volume: v[4],
            });
            records.push(Record::MarketCap {
                symbol: symbol.into(),
                day,
                usd: v[4],
            });
            records.push(Record::Funding {
                symbol: symbol.into(),
                venue: "binance".into(),
                day,
                daily_rate: v[0],
            });
        }
        t.store.upsert("test", &records).await.unwrap();
        let p = t.store.build_panel().await.unwrap().unwrap();
        assert_eq!(p.symbols(), ["AAA", "BBB"]);
        for d in 0..days {
            let a = d % 2;
            let v = &values[d * 5..d * 5 + 5];
            let fields = [
                Field::Open,
                Field::High,
                Field::Low,
                Field::Close,
                Field::Volume,
            ];
            for (f, want) in fields.into_iter().zip(v) {
                let got = p.get(f, a, d);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{:?} {f:?}: {got:e} vs {want:e}",
                    t.engine
                );
            }
            assert_eq!(p.get(Field::MarketCap, a, d).to_bits(), v[4].to_bits());
            assert_eq!(p.get(Field::FundingRate, a, d).to_bits(), v[0].to_bits());
            // The other asset has no row that day: missing, not zero.
            assert!(p.get(Field::Close, 1 - a, d).is_nan());
        }
    }
}
