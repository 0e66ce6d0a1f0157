//! Command-line entry point: `lockstep [serve|...]`. `serve` is the default.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Lockstep: one implementation of the strategies for backtest and live trading.
#[derive(Debug, Parser)]
#[command(name = "lockstep", version, about)]
pub struct Cli {
    /// Database URL: `sqlite://PATH` (the default, a file under `data/`) or `postgres://...`.
    /// Its value from the environment is never printed (it may hold a password).
    #[arg(
        long,
        alias = "db",
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://data/lockstep.db"
    )]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard and the JSON API (the default).
    Serve(ServeArgs),
    /// Backtest a strategy config on CSV data and write the result as JSON.
    Backtest(crate::commands::backtest::BacktestArgs),
    /// Print the live path's blended target weights for one date as JSON.
    Targets(crate::commands::targets::TargetsArgs),
    /// Sweep a grid (`--axis PATH=FROM:TO:STEP`, repeatable) or a seeded random search
    /// (`--random N --seed S`, `--axis PATH=LO:HI`) on every core; write the rows, the deflated
    /// Sharpe ratio, PBO and the out-of-sample results as CSV or JSON.
    Sweep(crate::commands::sweep::SweepArgs),
    /// Manage dashboard users: `lockstep user add NAME --role viewer|trader`, `list`, `passwd`,
    /// `role`, `remove`.
    #[command(subcommand)]
    User(crate::commands::user::UserCommand),
    /// Import the predecessor's CSV files (files or directories) into the store.
    Import(crate::commands::import::ImportArgs),
    /// Inspect the stored market data (`lockstep data status`).
    #[command(subcommand)]
    Data(crate::commands::data::DataCommand),
    /// Fetch market data from the live sources (Hyperliquid, CoinMarketCap, Coinalyze) into
    /// the store, incrementally, and print a summary per source.
    Fetch(crate::commands::fetch::FetchArgs),
    /// Run one live cycle: fresh data → targets → trade plan (stored as `proposed`, or executed
    /// at once with `auto_approve`).
    Live(crate::commands::live::LiveArgs),
    /// The consistency report: live plans recomputed on the data they saw and on today's, the
    /// live config's parameters against the backtest's, the shadow backtest and where the gap
    /// comes from, and the four parity checks. Exits 3 on a signal alarm or a failed check.
    Parity(crate::commands::parity::ParityArgs),
    /// A simulated paper history for a first start: the live cycle day by day over the last N
    /// stored days (`--days`, default 90) on the paper broker with auto-approval, labelled as
    /// simulated wherever it appears. Refuses a store that already has live plans.
    Demo(crate::commands::demo::DemoArgs),
}

#[derive(Debug, Clone, clap::Parser)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Directory holding the compiled site (`pkg/` with the WASM bundle, CSS, public assets).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// How long a dashboard sign-in lasts, in hours.
    #[arg(long, env = "LOCKSTEP_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u64,
    /// Mark session cookies `Secure` on every response, not only on requests that arrived
    /// over HTTPS (directly or with `X-Forwarded-Proto: https`).
    #[arg(long, env = "LOCKSTEP_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Behind a reverse proxy: rate-limit sign-ins by the last `X-Forwarded-For` address instead
    /// of the proxy's.
    #[arg(long, env = "LOCKSTEP_TRUST_X_FORWARDED_FOR")]
    pub trust_x_forwarded_for: bool,
    /// Let visitors who are not signed in see the pages, team links (`/s/ID`), the market data
    /// (`/api/panel`, `/api/data/status`) and `/api/openapi.json`. Off by default: then only
    /// `/api/health` and the sign-in page are public. The book (portfolio, plans, audit log,
    /// parity, links list) always needs a sign-in.
    #[arg(long, env = "LOCKSTEP_PUBLIC_READ")]
    pub public_read: bool,
    /// Seconds a request may take before it gets 408 (trader actions such as executing a plan
    /// are not cut off).
    #[arg(long, env = "LOCKSTEP_REQUEST_TIMEOUT", default_value_t = 60)]
    pub request_timeout_secs: u64,
    /// Requests handled at once; more wait for a free slot.
    #[arg(long, env = "LOCKSTEP_MAX_CONCURRENT_REQUESTS", default_value_t = 256)]
    pub max_concurrent_requests: usize,
    /// Scheduled market-data refresh (off unless `--refresh-every`/`--refresh-at` is given).
    #[command(flatten)]
    pub refresh: crate::commands::fetch::RefreshArgs,
    /// The live trader: broker, strategy config, settings (schedule, risk limits).
    #[command(flatten)]
    pub live: crate::commands::live::ServeLiveArgs,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs::parse_from(["serve"])
    }
}

/// Parses the command line and runs the chosen command to completion.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    crate::progress::init_logging();
    if !matches!(cli.command, None | Some(Command::Serve(_))) {
        crate::progress::enable();
    }
    // The offline commands need no runtime and no database.
    match &cli.command {
        Some(Command::Backtest(args)) => {
            let r = crate::commands::backtest::run(args, &cli.database_url)?;
            let m = &r.metrics;
            eprintln!(
                "{} to {}: total return {:.4}, CAGR {:.4}, Sharpe {:.4}, max drawdown {:.4}",
                r.start, r.end, m.total_return, m.cagr, m.sharpe, m.max_drawdown
            );
            return Ok(());
        }
        Some(Command::Targets(args)) => {
            let out = crate::commands::targets::run(args, &cli.database_url)?;
            eprintln!("universe: {} ({})", out.universe.summary, out.universe.note);
            println!("{}", serde_json::to_string(&out)?);
            return Ok(());
        }
        Some(Command::Sweep(args)) => {
            let out = crate::commands::sweep::run(args, &cli.database_url)?;
            if let Some(c) = &out.chosen {
                let sharpe = |m: &Option<shared::metrics::Metrics>| {
                    m.map_or("-".to_string(), |m| format!("{:.3}", m.sharpe))
                };
                eprintln!(
                    "chosen point {} {:?}: Sharpe {} in sample, {} out of sample",
                    c.index,
                    c.values,
                    sharpe(&c.in_sample),
                    sharpe(&c.out_of_sample)
                );
            }
            eprintln!("{}", out.summary.reading);
            return Ok(());
        }
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
            Command::Serve(args) => serve(&cli.database_url, args).await,
            Command::User(cmd) => {
                let store = open_store(&cli.database_url).await?;
                crate::commands::user::run(&store, &cmd).await
            }
            Command::Import(args) => {
                let store = open_store(&cli.database_url).await?;
                if !crate::commands::import::run(&store, &args).await? {
                    anyhow::bail!(
                        "some rows or files were rejected (see above); the good rows were imported"
                    );
                }
                Ok(())
            }
            Command::Data(cmd) => {
                let store = open_store(&cli.database_url).await?;
                crate::commands::data::run(&store, &cmd).await
            }
            Command::Fetch(args) => {
                let store = open_store(&cli.database_url).await?;
                crate::commands::fetch::run(&store, &args).await
            }
            Command::Live(args) => {
                let store = open_store(&cli.database_url).await?;
                crate::commands::live::run(store, &args).await
            }
            Command::Parity(args) => {
                let store = open_store(&cli.database_url).await?;
                let report = crate::commands::parity::run(store, &args).await?;
                if crate::commands::parity::has_findings(&report) {
                    // Findings are not errors: the report said what they are; the status lets
                    // a scheduler tell them from a failure to report (exit 1).
                    std::process::exit(crate::commands::parity::FINDINGS_EXIT_CODE);
                }
                Ok(())
            }
            Command::Demo(args) => {
                let store = open_store(&cli.database_url).await?;
                crate::commands::demo::run(store, &args).await
            }
            Command::Backtest(_) | Command::Targets(_) | Command::Sweep(_) => {
                unreachable!("handled above")
            }
        }
    })
}

/// Opens the store at `database_url`, naming it (without its password) on failure.
async fn open_store(database_url: &str) -> anyhow::Result<crate::store::Store> {
    crate::store::Store::connect(database_url)
        .await
        .with_context(|| {
            format!(
                "opening the store at {}",
                crate::store::redact(database_url)
            )
        })
}

async fn serve(database_url: &str, args: ServeArgs) -> anyhow::Result<()> {
    let store = open_store(database_url).await?;
    crate::commands::first_start::ensure_data(&store).await?;
    let web = crate::state::WebConfig {
        public_read: args.public_read,
        request_timeout: std::time::Duration::from_secs(args.request_timeout_secs.max(1)),
        max_concurrent_requests: args.max_concurrent_requests.max(1),
        ..crate::state::WebConfig::default()
    };
    let header_timeout = web.header_timeout;
    if web.public_read {
        tracing::info!("--public-read: pages and market data are visible without signing in");
    }
    let state = crate::state::AppState::new(store, &args.site_root, args.addr)
        .with_web(web)
        .with_auth(crate::auth::AuthConfig {
            session_ttl: std::time::Duration::from_secs(args.session_hours.max(1) * 3600),
            secure_cookies: if args.secure_cookies {
                crate::auth::SecureCookies::Always
            } else {
                crate::auth::SecureCookies::Auto
            },
            trust_forwarded_for: args.trust_x_forwarded_for,
            ..crate::auth::AuthConfig::default()
        });
    // The first unknown-user sign-in then costs what every other one does.
    tokio::task::spawn_blocking(crate::auth::password::warm_up);
    // The refresh task logs its failures and keeps going; it never takes the server down.
    let _refresh = crate::commands::fetch::spawn_refresh(
        state.store.clone(),
        &args.refresh,
        crate::live::lease::process_holder(),
    );
    // The live trader: its daily cycle (and `POST /api/live/run`) on the configured broker.
    let live = crate::commands::live::build(
        state.store.clone(),
        args.live.broker,
        args.live.config.as_deref(),
        args.live.settings.as_deref(),
        Some(&args.refresh.sources),
    )?;
    // Notifications link to the address people open; by default the one served here.
    let notifier = crate::commands::live::notifier(
        state.store.clone(),
        &live.settings,
        Some(&format!("http://{}", args.addr)),
    )?;
    let live = std::sync::Arc::new(live.with_notifier(notifier));
    let state = state.with_live(live.clone());
    // Plans whose executor crashed (lease lapsed) are reconciled by client order id: now, and
    // once more after a lease's lifetime (one held by the process that just died lapses then).
    let recovering = live.clone();
    tokio::spawn(async move {
        for wait_ms in [0, recovering.lease_ms() + 5_000] {
            tokio::time::sleep(std::time::Duration::from_millis(wait_ms as u64)).await;
            match recovering.recover_interrupted("recovery").await {
                Ok(lines) => {
                    for l in lines {
                        tracing::info!("start-up recovery: {l}");
                    }
                }
                Err(e) => tracing::error!(error = %e, "start-up recovery failed"),
            }
        }
    });
    let _live_scheduler = crate::live::scheduler::spawn(live);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let local = listener.local_addr()?;
    // The run command and the e2e suite read this line to find the server.
    println!("lockstep listening on http://{local}");
    // Peer addresses feed the per-address sign-in rate limit; slow clients are cut off.
    crate::http::serve::serve(
        listener,
        crate::web::router(state),
        header_timeout,
        shutdown_signal(),
    )
    .await
    .context("serving HTTP")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
