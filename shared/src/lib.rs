//! Lockstep strategy kernels.
//!
//! This crate is the only implementation of the strategies. The backtest, the live trader and the
//! browser all call the same functions, so their results cannot drift apart. It is pure on
//! purpose: no filesystem, no network, no clock, no async runtime. Everything comes in as
//! arguments, which is what makes "backtest = live" provable and the WebAssembly build small.

pub mod backtest;
pub mod calendar;
pub mod config;
pub mod error;
pub mod math;
pub mod metrics;
pub mod panel;
pub mod panel_codec;
pub mod portfolio;
pub mod research;
pub mod sim;
pub mod stats;
pub mod strategies;
pub use research::sweep;
pub mod synth;
pub mod universe;
pub mod venue;

pub use calendar::Day;
pub use panel::{Field, Panel, PanelError};

/// Version of the kernel semantics, independent of the crate version: stored plans, backtest
/// results and shared links record it so they can tell which kernel produced their numbers.
///
/// Bump it (the number after `k`) in the same change as anything that can alter a target weight,
/// a simulated number or an attribution for the same config and data: a strategy definition,
/// a default, the blend, the rebalance policy, the simulator's accounting, or the floating-point
/// order of an existing computation (even last-bit changes). Do not bump it for speed-ups that
/// keep every output bit for bit (the parity and window tests say whether they do), for new
/// optional keys whose default keeps the old behaviour, or for docs. History (docs/strategies.md,
/// "Kernel version"): k1 = `0.1.0`, the first kernel; k2 = breakout entries only from flat,
/// attribution by own target × asset return, long-only short_allocation rejected,
/// `volatility_floor`, libm transcendentals and two-pass volatility; k3 = `dilution`'s supply
/// window may start before the data (rows before the data are missing rows like any other).
pub const KERNEL_VERSION: &str = "k3";

/// How many cases the property tests that feed outside bytes to a decoder run: their default
/// (thousands, in `./x test`), or `LOCKSTEP_FUZZ_CASES` for a longer run (docs/security.md).
#[cfg(test)]
pub(crate) mod fuzz {
    pub fn cases(default: u32) -> u32 {
        std::env::var("LOCKSTEP_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}
