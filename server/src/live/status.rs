//! The words of the plan lifecycle ([`PlanStatus`], [`OrderState`], [`PlanAction`]) are defined
//! with the API types in `app::api::status` — the JSON carries them, so the server and the
//! Trades page compare the same enums — and re-exported here for the live modules. What only
//! the server knows (a broker's report) is mapped here.

pub use app::api::status::{OrderState, PlanAction, PlanStatus};

/// The state a broker report records.
pub fn order_state_of(status: &crate::broker::OrderStatus) -> OrderState {
    use crate::broker::OrderStatus as S;
    match status {
        S::Filled => OrderState::Filled,
        S::PartiallyFilled => OrderState::PartiallyFilled,
        S::Rejected { .. } => OrderState::Rejected,
        S::Open => OrderState::Open,
        S::Unknown => OrderState::Unknown,
    }
}
