//! Progress bars for long command-line work (`import`, `fetch`, `backtest`, `parity`, `demo`),
//! and the log writer that keeps them and the log lines apart.
//!
//! A bar is drawn only when the command line switched progress on ([`enable`], done by
//! `cli::run` for every command but `serve`) **and** stderr is a terminal: piped or redirected
//! output stays free of carriage returns and escape codes, and the server (whose fetch and live
//! cycle call the same code) never draws one. Every bar belongs to one [`MultiProgress`], and the
//! log writer ([`LogWriter`]) prints each log line with the bars suspended, so a warning in the
//! middle of an import is not torn by a redraw.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Every visible bar is drawn by this one set (so several bars stack and logs can pause them).
fn multi() -> &'static MultiProgress {
    static MULTI: OnceLock<MultiProgress> = OnceLock::new();
    MULTI.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)))
}

/// Switches progress bars on for this process (the command line; never the server).
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Whether a bar would be drawn now: switched on and stderr is a terminal.
pub fn visible() -> bool {
    ENABLED.load(Ordering::SeqCst) && std::io::stderr().is_terminal()
}

/// A bar counting `len` items of `what` (hidden when [`visible`] is false); it clears itself
/// when dropped, so an early return leaves no half-drawn bar.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if !visible() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{bar:30}] {pos}/{len} {msg} ({elapsed}, ~{eta} left)",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    multi().add(
        ProgressBar::new(len)
            .with_style(style)
            .with_prefix(what.to_string())
            .with_finish(ProgressFinish::AndClear),
    )
}

/// A spinner for work of unknown length (loading a panel, a shadow backtest).
pub fn spinner(what: &str) -> ProgressBar {
    if !visible() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{prefix:>12} {spinner} {msg} ({elapsed})")
        .expect("a valid template");
    let pb = multi().add(
        ProgressBar::new_spinner()
            .with_style(style)
            .with_prefix(what.to_string())
            .with_finish(ProgressFinish::AndClear),
    );
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

/// The tracing writer: stderr, with the bars suspended while a line is written. Logs never go
/// to stdout, where the machine output (`--json`, `--out -`, `targets`) is.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if visible() {
            multi().suspend(|| std::io::stderr().write_all(buf))?;
        } else {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        LogWriter
    }
}

/// Installs the log subscriber: `RUST_LOG` (default `info,sqlx=warn`) to stderr, with colours
/// only when stderr is a terminal (and `NO_COLOR` is unset).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter)
        .with_ansi(colour)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_hidden_unless_switched_on_and_on_a_terminal() {
        // Tests run with stderr captured or piped: never a bar, switched on or not.
        assert!(bar(10, "test").is_hidden());
        enable();
        if !std::io::stderr().is_terminal() {
            assert!(!visible());
            assert!(bar(10, "test").is_hidden());
            assert!(spinner("test").is_hidden());
        }
    }
}
