//! Times one live cycle (paper broker, default config, no network) on a store holding the real
//! panel. Usage: `cargo run -p server --example live_cycle_bench -- DATA_DIR [N]`
//! (DATA_DIR: the predecessor's CSV files, e.g. ../shared/data/original).

use server::live::{paper_broker, CycleOptions, FixedClock, LiveService, LiveSettings};
use server::store::Store;
use shared::config::Config;
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: live_cycle_bench DATA_DIR [N]");
    let n: usize = args.next().map_or(10, |s| s.parse().expect("N"));
    let tmp = std::env::temp_dir().join(format!("lockstep-live-bench-{}", std::process::id()));
    let store = Store::connect(&format!("sqlite://{}/b.db", tmp.display())).await?;
    let t0 = Instant::now();
    let reads = server::market_data::csv::read_dir(std::path::Path::new(&dir))?;
    let records: Vec<_> = reads.into_iter().flat_map(|r| r.records).collect();
    store
        .register_source("import", server::store::market::SourceKind::Import, "bench")
        .await?;
    store.upsert("import", &records).await?;
    eprintln!(
        "imported {} rows in {:.1} s",
        records.len(),
        t0.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    let (_, panel) = store.panel().await?.expect("data");
    eprintln!(
        "cold panel build: {:.1} ms ({} assets × {} days)",
        t0.elapsed().as_secs_f64() * 1e3,
        panel.n_assets(),
        panel.n_days()
    );
    let store = Arc::new(store);
    let config = Config::lockstep_default()?;
    let settings = LiveSettings::default();
    let broker = Arc::new(paper_broker(store.clone(), &settings, &config));
    // The first cycle trades on the day before the last (and is executed); the timed ones run
    // on the last day, against those positions, as the next day's cycle would.
    let day_ms = |d: i32| (d as i64 + 1) * 86_400_000 + 3_600_000;
    let clock = Arc::new(FixedClock::new(day_ms(panel.end().0 - 1)));
    let live = LiveService::new(store.clone(), settings, config, broker, clock.clone())?;
    let t = Instant::now();
    let first = live
        .run_cycle(&CycleOptions {
            dry_run: false,
            actor: "bench".into(),
        })
        .await?;
    eprintln!(
        "first cycle of the process ({}): {:.1} ms — {} orders",
        first.plan.summary.data_day,
        t.elapsed().as_secs_f64() * 1e3,
        first.plan.summary.orders
    );
    let t = Instant::now();
    let done = live.approve(&first.plan.summary.id, "bench").await?;
    eprintln!(
        "execution of {} orders: {:.1} ms ({})",
        done.orders.len(),
        t.elapsed().as_secs_f64() * 1e3,
        done.summary.status
    );
    clock.set(day_ms(panel.end().0));
    let mut totals = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        let out = live
            .run_cycle(&CycleOptions {
                dry_run: false,
                actor: "bench".into(),
            })
            .await?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        totals.push(ms);
        let steps: Vec<String> = out
            .timings
            .iter()
            .map(|(s, t)| format!("{s} {t:.1}"))
            .collect();
        eprintln!(
            "cycle {i}: {ms:.1} ms ({}) — {} orders",
            steps.join(", "),
            out.plan.summary.orders
        );
    }
    totals.sort_by(f64::total_cmp);
    eprintln!(
        "warm cycle: median {:.1} ms, max {:.1} ms over {n}",
        totals[n / 2],
        totals[n - 1]
    );
    drop(live);
    let _ = std::fs::remove_dir_all(tmp);
    Ok(())
}
