//! The `lockstep` binary. Kept thin: everything lives in the library so tests can drive it.
//!
//! One thing belongs to the binary's edge: what happens when stdout is closed early
//! (`lockstep live | head`, `lockstep data status | grep -m1 ...`). A C tool dies of SIGPIPE
//! there; Rust ignores SIGPIPE, so the write fails with `BrokenPipe` instead, and `println!`
//! turns that failure into a panic (a backtrace hint and exit status 101). Lockstep does what
//! ripgrep does: the reader has gone, the output is no longer wanted, so the process exits
//! quietly with status 0 — both for `println!` (its panic, recognised in a panic hook) and for
//! commands that write with `?` (an `io::Error` of kind `BrokenPipe` as the returned error).
//!
//! Why not reset SIGPIPE to its default instead: the process would die *by a signal* (status
//! 141 in a shell with `pipefail`), it needs `unsafe` libc calls, and the disposition is
//! inherited by everything the process runs. The hook changes nothing but that one panic.

use std::io;

fn main() -> anyhow::Result<()> {
    exit_quietly_when_stdout_closes();
    match server::cli::run() {
        Err(e) if is_closed_output(&e) => Ok(()),
        other => other,
    }
}

/// Installs a panic hook that ends the process with status 0, printing nothing, when the panic
/// is `println!`/`print!` failing on a closed stdout; every other panic goes to the default
/// hook as before.
fn exit_quietly_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if msg.is_some_and(is_stdout_broken_pipe) {
            std::process::exit(0);
        }
        default(info)
    }));
}

/// Whether a panic message is std's `print!` failing with a broken pipe. std panics with
/// `failed printing to stdout: {io::Error}`, and an OS error displays as `... (os error N)`;
/// the code, not the platform's wording, decides (EPIPE on Unix, ERROR_NO_DATA on Windows).
fn is_stdout_broken_pipe(msg: &str) -> bool {
    msg.strip_prefix("failed printing to stdout: ")
        .and_then(|e| e.strip_suffix(')'))
        .and_then(|e| e.rsplit_once("(os error "))
        .and_then(|(_, code)| code.parse::<i32>().ok())
        .is_some_and(|code| io::Error::from_raw_os_error(code).kind() == io::ErrorKind::BrokenPipe)
}

/// Whether a command failed because its output's reader went away: the error it returned (under
/// any `.context`) is itself an `io::Error` of kind `BrokenPipe`. An `io::Error` that is only
/// the *source* of another error (a database or HTTP connection that broke) does not count:
/// that failure is reported as usual.
fn is_closed_output(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn only_a_broken_pipe_on_stdout_is_quiet() {
        let epipe = io::Error::from(io::ErrorKind::BrokenPipe);
        // What std's `print_to` panics with, whatever the OS calls the error.
        #[cfg(unix)]
        let os = io::Error::from_raw_os_error(32);
        #[cfg(windows)]
        let os = io::Error::from_raw_os_error(232);
        assert_eq!(os.kind(), io::ErrorKind::BrokenPipe);
        assert!(is_stdout_broken_pipe(&format!(
            "failed printing to stdout: {os}"
        )));
        // A full disk, a closed stderr, a formatter error or any other panic is not.
        let full = io::Error::from(io::ErrorKind::StorageFull);
        assert!(!is_stdout_broken_pipe(&format!(
            "failed printing to stdout: {full}"
        )));
        assert!(!is_stdout_broken_pipe(&format!(
            "failed printing to stderr: {os}"
        )));
        assert!(!is_stdout_broken_pipe(
            "failed printing to stdout: formatter error"
        ));
        assert!(!is_stdout_broken_pipe("index out of bounds"));

        let returned = anyhow::Error::from(epipe).context("writing the report");
        assert!(is_closed_output(&returned));
        #[derive(Debug, thiserror::Error)]
        #[error("database connection lost")]
        struct Db(#[source] io::Error);
        let wrapped = anyhow::Error::from(Db(io::Error::from(io::ErrorKind::BrokenPipe)));
        assert!(!is_closed_output(&wrapped));
        assert!(!is_closed_output(&anyhow::anyhow!("no data")));
        let other: anyhow::Result<()> =
            Err(io::Error::from(io::ErrorKind::NotFound)).context("reading x");
        assert!(!is_closed_output(&other.unwrap_err()));
    }
}
