//! Market data: where the panel's numbers come from.
//!
//! Today: the predecessor's CSV files (`csv.rs`) and symbol aliases (`symbols.rs`).

pub mod csv;
pub mod symbols;
