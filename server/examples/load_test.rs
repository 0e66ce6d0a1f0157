//! A bounded load test of the web surface on loopback, for docs/security.md.
//!
//! ```text
//! cargo run --release -p server --example load_test -- [--seconds 20] [--viewers 50]
//!     [--flooders 5] [--data DIR]
//! ```
//!
//! One `lockstep serve` router (the real one: limits, headers, sessions, caches) on 127.0.0.1
//! with a throwaway SQLite store holding the synthetic market (or the predecessor's files with
//! `--data`), the paper broker and a fixed clock an hour after the last day. Then, at once and
//! for `--seconds` at most (and at most 2,000 rounds per viewer):
//!
//! - `--viewers` signed-in viewers, each from its own loopback address (127.0.1.N), poll
//!   `GET /api/portfolio` and `GET /api/panel` (as the browser does: `If-None-Match`, and a full
//!   download every fifth round), back to back;
//! - `--flooders` addresses (127.0.2.N) send sign-ins with wrong passwords — for the trader's
//!   name and for made-up ones — as fast as they are answered;
//! - the trader, from 127.0.0.1, runs the live cycle and approves the plan (the paper broker
//!   executes it) while that goes on, then signs in again from a clean address.
//!
//! It prints requests served, p50/p99/max latency and errors per kind, the trader's sign-in and
//! plan timings under load, and compares the executed plan's fills with the same plan executed
//! on an identical quiet store first (they must be equal). Every request goes to 127.0.0.1;
//! nothing runs longer than `--seconds` plus the plan's execution.

use anyhow::{bail, Context};
use server::auth::{users, Role};
use server::live::{paper_broker, FixedClock, LiveService, LiveSettings};
use server::store::market::SourceKind;
use server::store::Store;
use server::{AppState, WebConfig};
use shared::config::Config;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PW: &str = "load test pass phrase";
const ROUNDS_PER_VIEWER: usize = 2_000;

struct Args {
    seconds: u64,
    viewers: usize,
    flooders: usize,
    data: Option<std::path::PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        seconds: 20,
        viewers: 50,
        flooders: 5,
        data: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => a.seconds = value()?.parse()?,
            "--viewers" => a.viewers = value()?.parse()?,
            "--flooders" => a.flooders = value()?.parse()?,
            "--data" => a.data = Some(value()?.into()),
            other => bail!("unknown argument {other:?}"),
        }
    }
    if a.viewers > 250 || a.flooders > 250 || a.seconds > 600 {
        bail!("at most 250 viewers, 250 flooders and 600 seconds");
    }
    Ok(a)
}

/// Latencies and outcomes of one kind of request.
#[derive(Default)]
struct Stats {
    latencies_ms: Vec<f64>,
    by_status: BTreeMap<u16, u64>,
    /// Transport failures (no answer at all).
    failed: u64,
}

impl Stats {
    fn record(&mut self, started: Instant, status: Option<u16>) {
        self.latencies_ms
            .push(started.elapsed().as_secs_f64() * 1e3);
        match status {
            Some(s) => *self.by_status.entry(s).or_default() += 1,
            None => self.failed += 1,
        }
    }
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.latencies_ms.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return f64::NAN;
        }
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
}

type Shared = Arc<Mutex<BTreeMap<&'static str, Stats>>>;

fn record(stats: &Shared, kind: &'static str, started: Instant, status: Option<u16>) {
    stats
        .lock()
        .unwrap()
        .entry(kind)
        .or_default()
        .record(started, status);
}

/// A store with the market data, the users, and a paper trader an hour after the last day.
async fn world(
    dir: &std::path::Path,
    data: Option<&std::path::Path>,
    viewers: usize,
) -> anyhow::Result<(AppState, Arc<LiveService>)> {
    std::fs::create_dir_all(dir)?;
    let store = Store::connect(&format!("sqlite://{}/load.db", dir.display())).await?;
    let records = match data {
        Some(d) => server::market_data::csv::read_dir(d)?
            .into_iter()
            .flat_map(|r| r.records)
            .collect(),
        None => {
            let panel = shared::synth::generate(&shared::synth::SynthConfig {
                seed: 11,
                n_assets: 60,
                n_days: 900,
                start: shared::Day::parse("2022-01-01")?,
            })?;
            server::commands::first_start::panel_records(&panel)
        }
    };
    store
        .register_source("load", SourceKind::Import, "load test")
        .await?;
    store.upsert("load", &records).await?;
    users::add(&store, "tina", Role::Trader, PW).await?;
    for i in 0..viewers {
        users::add(&store, &format!("viewer{i:03}"), Role::Viewer, PW).await?;
    }
    let (_, panel) = store.panel().await?.context("no panel")?;
    let store = Arc::new(store);
    let settings = LiveSettings {
        max_data_age_hours: 1e9,
        ..LiveSettings::default()
    };
    let config = Config::lockstep_default()?;
    let broker = Arc::new(paper_broker(store.clone(), &settings, &config));
    let clock = Arc::new(FixedClock::new(
        (panel.end().0 as i64 + 1) * 86_400_000 + 3_600_000,
    ));
    let live = Arc::new(LiveService::new(
        store.clone(),
        settings,
        config,
        broker,
        clock,
    )?);
    let state = AppState::new(
        (*store).clone(),
        &std::env::temp_dir(),
        "127.0.0.1:0".parse()?,
    )
    .with_live(live.clone())
    .with_web(WebConfig::default());
    Ok((state, live))
}

async fn start(state: AppState) -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let header_timeout = state.web.header_timeout;
    tokio::spawn(server::http::serve::serve(
        listener,
        server::router(state),
        header_timeout,
        async {
            let _ = rx.await;
        },
    ));
    Ok((format!("http://{addr}"), tx))
}

fn client(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client")
}

/// Signs in; returns the `Cookie` header value and the CSRF token.
async fn sign_in(
    c: &reqwest::Client,
    base: &str,
    user: &str,
) -> anyhow::Result<(String, String, Duration)> {
    let t = Instant::now();
    let r = c
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"username": user, "password": PW}))
        .send()
        .await?;
    let took = t.elapsed();
    if !r.status().is_success() {
        bail!(
            "{user}: sign-in answered {}: {}",
            r.status(),
            r.text().await?
        );
    }
    let mut cookies = Vec::new();
    let mut csrf = String::new();
    for v in r.headers().get_all(reqwest::header::SET_COOKIE) {
        let pair = v.to_str()?.split(';').next().unwrap_or("").to_string();
        if let Some(t) = pair.strip_prefix("lockstep_csrf=") {
            csrf = t.to_string();
        }
        cookies.push(pair);
    }
    Ok((cookies.join("; "), csrf, took))
}

/// What the trader's run went through.
struct Trade {
    detail: serde_json::Value,
    propose: Duration,
    execute: Duration,
    /// 503 answers (retryable) that were resumed with `POST /api/plans/{id}/execute`.
    resumed: Vec<String>,
}

/// Runs the cycle and approves its plan as the trader (the paper broker executes it); a 503
/// (retryable: the store was busy) is resumed with `POST /api/plans/{id}/execute`, as the
/// dashboard's Execute button does, at most 5 times.
async fn trade(c: &reqwest::Client, base: &str, cookie: &str, csrf: &str) -> anyhow::Result<Trade> {
    let t = Instant::now();
    let run = json_or_error(
        c.post(format!("{base}/api/live/run"))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .send()
            .await?,
    )
    .await?;
    let propose = t.elapsed();
    let id = run["plan"]["id"]
        .as_str()
        .with_context(|| format!("no plan made: {run}"))?
        .to_string();
    let t = Instant::now();
    let mut resumed = Vec::new();
    let mut action = "approve";
    let detail = loop {
        let r = c
            .post(format!("{base}/api/plans/{id}/{action}"))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .send()
            .await?;
        if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE && resumed.len() < 5 {
            resumed.push(format!("{action}: {}", r.text().await?));
            action = "execute";
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        break json_or_error(r).await?;
    };
    Ok(Trade {
        detail,
        propose,
        execute: t.elapsed(),
        resumed,
    })
}

/// The JSON body of a 2xx answer, else an error with the status and the server's message.
async fn json_or_error(r: reqwest::Response) -> anyhow::Result<serde_json::Value> {
    let (status, url) = (r.status(), r.url().path().to_string());
    let text = r.text().await?;
    if !status.is_success() {
        bail!("{url}: {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// What must be equal between the quiet and the loaded execution: each order's symbol, status,
/// filled units and average price.
fn fills(detail: &serde_json::Value) -> Vec<(String, String, String, String)> {
    detail["orders"]
        .as_array()
        .map(|os| {
            os.iter()
                .map(|o| {
                    (
                        o["symbol"].to_string(),
                        o["status"].to_string(),
                        o["filled_units"].to_string(),
                        o["avg_price"].to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let tmp = std::env::temp_dir().join(format!("lockstep-load-{}", std::process::id()));
    let trader_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);

    // The same plan on a quiet server first: the reference the loaded run must equal.
    let (quiet_state, _) = world(&tmp.join("quiet"), a.data.as_deref(), 0).await?;
    let (base, stop_quiet) = start(quiet_state).await?;
    let trader = client(trader_ip);
    let (cookie, csrf, quiet_sign_in) = sign_in(&trader, &base, "tina").await?;
    let quiet = trade(&trader, &base, &cookie, &csrf).await?;
    let _ = stop_quiet.send(());

    let (state, _live) = world(&tmp.join("loaded"), a.data.as_deref(), a.viewers).await?;
    let (base, stop) = start(state).await?;
    let stats: Shared = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(a.seconds);

    // Viewers sign in (each from its own address) before the clock starts.
    let mut sessions = Vec::new();
    for i in 0..a.viewers {
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 1, (i + 1) as u8));
        let c = client(ip);
        let (cookie, _, _) = sign_in(&c, &base, &format!("viewer{i:03}")).await?;
        sessions.push((c, cookie));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, cookie) in sessions {
        let (base, stats) = (base.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            let mut etag = String::new();
            for round in 0..ROUNDS_PER_VIEWER {
                if Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                let r = c
                    .get(format!("{base}/api/portfolio"))
                    .header("cookie", &cookie)
                    .send()
                    .await;
                let status = match r {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        Some(s)
                    }
                    Err(_) => None,
                };
                record(&stats, "viewer: GET /api/portfolio", t, status);
                let full = round % 5 == 0 || etag.is_empty();
                let t = Instant::now();
                let mut req = c.get(format!("{base}/api/panel")).header("cookie", &cookie);
                if !full {
                    req = req.header("if-none-match", &etag);
                }
                let status = match req.send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        if let Some(e) = r.headers().get("etag").and_then(|v| v.to_str().ok()) {
                            etag = e.to_string();
                        }
                        let _ = r.bytes().await;
                        Some(s)
                    }
                    Err(_) => None,
                };
                record(
                    &stats,
                    if full {
                        "viewer: GET /api/panel (full)"
                    } else {
                        "viewer: GET /api/panel (If-None-Match)"
                    },
                    t,
                    status,
                );
            }
        }));
    }
    for f in 0..a.flooders {
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 2, (f + 1) as u8));
        let (c, base, stats) = (client(ip), base.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..100_000u64 {
                if Instant::now() >= deadline {
                    break;
                }
                let user = if n % 2 == 0 {
                    "tina".to_string()
                } else {
                    format!("guess{n}")
                };
                let t = Instant::now();
                let r = c
                    .post(format!("{base}/api/auth/login"))
                    .json(&serde_json::json!({"username": user, "password": "wrong guess wrong"}))
                    .send()
                    .await;
                let status = match r {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        Some(s)
                    }
                    Err(_) => None,
                };
                record(&stats, "flood: POST /api/auth/login (wrong)", t, status);
            }
        }));
    }

    // The trader, under load: sign in, run the cycle, approve (the paper broker executes).
    tokio::time::sleep(Duration::from_secs(a.seconds.min(10) / 4)).await;
    let (cookie, csrf, loaded_sign_in) = sign_in(&trader, &base, "tina").await?;
    let loaded = trade(&trader, &base, &cookie, &csrf).await?;
    // And again from a clean address, while the flood still hammers "tina".
    let (_, _, second_sign_in) = sign_in(
        &client(IpAddr::V4(Ipv4Addr::new(127, 0, 3, 1))),
        &base,
        "tina",
    )
    .await?;

    for t in tasks {
        t.await?;
    }
    let wall = started.elapsed();
    let _ = stop.send(());
    let _ = std::fs::remove_dir_all(&tmp);

    println!(
        "# load test: {} viewers, {} flooding addresses, {:.1} s on 127.0.0.1",
        a.viewers,
        a.flooders,
        wall.as_secs_f64()
    );
    println!();
    println!("| requests | served | p50 ms | p99 ms | max ms | answers | no answer |");
    println!("|---|---:|---:|---:|---:|---|---:|");
    for (kind, s) in stats.lock().unwrap().iter() {
        let answers: Vec<String> = s
            .by_status
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        println!(
            "| {kind} | {} | {:.1} | {:.1} | {:.1} | {} | {} |",
            s.latencies_ms.len(),
            s.pct(0.5),
            s.pct(0.99),
            s.pct(1.0),
            answers.join(", "),
            s.failed
        );
    }
    println!();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("| the trader | quiet | under load |");
    println!("|---|---:|---:|");
    println!(
        "| sign-in (127.0.0.1) | {:.0} ms | {:.0} ms |",
        ms(quiet_sign_in),
        ms(loaded_sign_in)
    );
    println!(
        "| sign-in from a clean address during the flood | | {:.0} ms |",
        ms(second_sign_in)
    );
    println!(
        "| run the cycle (POST /api/live/run) | {:.0} ms | {:.0} ms |",
        ms(quiet.propose),
        ms(loaded.propose)
    );
    println!(
        "| approve + execute on the paper broker | {:.0} ms | {:.0} ms |",
        ms(quiet.execute),
        ms(loaded.execute)
    );
    println!(
        "| 503s resumed with POST execute | {} | {} |",
        quiet.resumed.len(),
        loaded.resumed.len()
    );
    println!(
        "| plan status | {} | {} |",
        quiet.detail["summary"]["status"], loaded.detail["summary"]["status"]
    );
    let (q, l) = (fills(&quiet.detail), fills(&loaded.detail));
    println!(
        "| orders filled (symbol, status, units, price) | {} | {} — {} |",
        q.len(),
        l.len(),
        if q == l {
            "identical to the quiet run"
        } else {
            "DIFFERENT from the quiet run"
        }
    );
    for r in quiet.resumed.iter().chain(&loaded.resumed) {
        println!();
        println!("resumed after {r}");
    }
    if q != l || loaded.detail["summary"]["status"] != "done" {
        bail!("the plan executed under load differs from the quiet run");
    }
    Ok(())
}
