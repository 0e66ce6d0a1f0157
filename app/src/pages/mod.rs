//! One module per page of the dashboard.

pub mod backtest;
pub mod data;
pub mod overview;
pub mod parity;
pub mod portfolio;
pub mod sweep;
pub mod trades;
