//! Lockstep strategy kernels.
//!
//! This crate is the only implementation of the strategies. The backtest, the live trader and the
//! browser all call the same functions, so their results cannot drift apart. It is pure on
//! purpose: no filesystem, no network, no clock, no async runtime. Everything comes in as
//! arguments, which is what makes "backtest = live" provable and the WebAssembly build small.

pub mod backtest;
pub mod calendar;
pub mod config;
pub mod math;
pub mod metrics;
pub mod panel;
pub mod panel_codec;
pub mod portfolio;
pub mod sim;
pub mod stats;
pub mod strategies;
pub mod sweep;
pub mod synth;

pub use calendar::Day;
pub use panel::{Field, Panel, PanelError};

/// Version of the kernel semantics. Bump it whenever a change can alter any target weight or
/// simulated number, so stored plans and shared links can tell which kernel produced them.
pub const KERNEL_VERSION: &str = env!("CARGO_PKG_VERSION");
