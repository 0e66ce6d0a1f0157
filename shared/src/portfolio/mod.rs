//! From strategy targets to one portfolio: per-strategy targets with the calendar-anchored
//! rebalance hold ([`engine`]), the capital blend across strategies ([`blend`]), and the
//! per-strategy signal records a sweep shares across points ([`signals`]).

pub mod blend;
pub mod engine;
pub mod rebalance;
pub mod signals;
