//! The `lockstep` binary. Kept thin: everything lives in the library so tests can drive it.

fn main() -> anyhow::Result<()> {
    server::cli::run()
}
