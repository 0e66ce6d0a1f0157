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
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
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
}

#[derive(Debug, Clone, clap::Parser)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Directory holding the compiled site (`pkg/` with the WASM bundle, CSS, public assets).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs::parse_from(["serve"])
    }
}

/// Parses the command line and runs the chosen command to completion.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    // The offline commands need no runtime and no database.
    match &cli.command {
        Some(Command::Backtest(args)) => {
            let r = crate::commands::backtest::run(args)?;
            let m = &r.metrics;
            eprintln!(
                "{} to {}: total return {:.4}, CAGR {:.4}, Sharpe {:.4}, max drawdown {:.4}",
                r.start, r.end, m.total_return, m.cagr, m.sharpe, m.max_drawdown
            );
            return Ok(());
        }
        Some(Command::Targets(args)) => {
            let out = crate::commands::targets::run(args)?;
            println!("{}", serde_json::to_string(&out)?);
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
            Command::Backtest(_) | Command::Targets(_) => unreachable!("handled above"),
        }
    })
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

async fn serve(database_url: &str, args: ServeArgs) -> anyhow::Result<()> {
    let store = crate::store::Store::connect(database_url)
        .await
        .with_context(|| {
            format!(
                "opening the store at {}",
                crate::store::redact(database_url)
            )
        })?;
    let state = crate::web::AppState::new(store, &args.site_root, args.addr);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let local = listener.local_addr()?;
    // The run command and the e2e suite read this line to find the server.
    println!("lockstep listening on http://{local}");
    axum::serve(listener, crate::web::router(state))
        .with_graceful_shutdown(shutdown_signal())
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
