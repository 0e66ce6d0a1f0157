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
    eprintln!("imported {} rows in {:.1} s", records.len(), t0.elapsed().as_secs_f64());
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
    let clock = Arc::new(FixedClock::new(
        (panel.end().0 as i64 + 1) * 86_400_000 + 3_600_000,
    ));
    let live = LiveService::new(store.clone(), settings, config, broker, clock)?;
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
        if i == 0 {
            // Execute the first plan so later cycles size against real positions.
            let t = Instant::now();
            let done = live.approve(&out.plan.summary.id, "bench").await?;
            eprintln!(
                "execution of {} orders: {:.1} ms ({})",
                done.orders.len(),
                t.elapsed().as_secs_f64() * 1e3,
                done.summary.status
            );
        }
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
