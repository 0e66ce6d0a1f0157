//! From strategy targets to one portfolio: per-strategy targets with the calendar-anchored
//! rebalance hold ([`engine`]), the capital blend across strategies ([`blend`]).

pub mod blend;
pub mod engine;
pub mod rebalance;
