//! The words of the plan lifecycle, typed: a plan's status, an order's state and a plan line's
//! action. They live with the API types because the JSON carries them: each serialises to the
//! word the API, the store and the notifications have always used (those words are a contract),
//! so the server and the Trades page compare enums, never strings. [`PlanStatus::can_move_to`]
//! is the one table of which status may follow which: every transition the server's store
//! performs asks it first, and its compare-and-set UPDATE binds [`PlanStatus::as_str`]
//! (statuses are never spliced into SQL).

use serde::{Deserialize, Serialize};

/// Where a trade plan stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Made by the cycle, waiting for a trader.
    Proposed,
    /// A trader said yes; execution starts at once.
    Approved,
    /// A trader said no.
    Rejected,
    /// Newer data, a newer plan or its lifetime ended it before it executed.
    Expired,
    /// Orders are being sent under an execution lease.
    Executing,
    /// Every order filled.
    Done,
    /// Executed; some orders did not fill (each order says why).
    PartiallyFailed,
    /// An interrupted execution that may not be resumed (a newer plan, stale data, a risk limit
    /// against the account as it is now): closed with the reason, its orders reconciled.
    Abandoned,
}

impl PlanStatus {
    pub const ALL: [PlanStatus; 8] = [
        PlanStatus::Proposed,
        PlanStatus::Approved,
        PlanStatus::Rejected,
        PlanStatus::Expired,
        PlanStatus::Executing,
        PlanStatus::Done,
        PlanStatus::PartiallyFailed,
        PlanStatus::Abandoned,
    ];

    /// The word on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Proposed => "proposed",
            PlanStatus::Approved => "approved",
            PlanStatus::Rejected => "rejected",
            PlanStatus::Expired => "expired",
            PlanStatus::Executing => "executing",
            PlanStatus::Done => "done",
            PlanStatus::PartiallyFailed => "partially_failed",
            PlanStatus::Abandoned => "abandoned",
        }
    }

    /// The one table of allowed moves. `Executing → Executing` is a resume (the lease's
    /// holder changes, the status does not).
    pub fn can_move_to(self, to: PlanStatus) -> bool {
        use PlanStatus::*;
        matches!(
            (self, to),
            (Proposed, Approved | Rejected | Expired)
                | (Approved, Executing | Expired)
                | (Executing, Executing | Done | PartiallyFailed | Abandoned)
        )
    }

    /// No move leaves this status.
    pub fn is_final(self) -> bool {
        PlanStatus::ALL.iter().all(|to| !self.can_move_to(*to))
    }

    /// The audit action of arriving here (`plan.done`, ...).
    pub fn audit_action(self) -> &'static str {
        match self {
            PlanStatus::Proposed => "plan.propose",
            PlanStatus::Approved => "plan.approve",
            PlanStatus::Rejected => "plan.reject",
            PlanStatus::Expired => "plan.expire",
            PlanStatus::Executing => "plan.execute",
            PlanStatus::Done => "plan.done",
            PlanStatus::PartiallyFailed => "plan.partially_failed",
            PlanStatus::Abandoned => "plan.abandoned",
        }
    }
}

impl std::fmt::Display for PlanStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PlanStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PlanStatus::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown plan status {s:?}"))
    }
}

/// Where one order stands in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Written before sending (write-ahead); not known to have reached the venue.
    Pending,
    Filled,
    PartiallyFilled,
    /// The venue explicitly refused it: nothing filled.
    Rejected,
    /// Resting at the venue (not expected for IOC orders; reconciled later).
    Open,
    /// It may or may not have reached the venue (timeout, reset, an unreadable answer after the
    /// send): reconciled by client order id, never recorded as rejected.
    Unknown,
}

impl OrderState {
    pub const ALL: [OrderState; 6] = [
        OrderState::Pending,
        OrderState::Filled,
        OrderState::PartiallyFilled,
        OrderState::Rejected,
        OrderState::Open,
        OrderState::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Pending => "pending",
            OrderState::Filled => "filled",
            OrderState::PartiallyFilled => "partially_filled",
            OrderState::Rejected => "rejected",
            OrderState::Open => "open",
            OrderState::Unknown => "unknown",
        }
    }

    /// The venue's answer is not final yet: ask it by client order id before anything else.
    pub fn is_unsettled(self) -> bool {
        matches!(
            self,
            OrderState::Pending | OrderState::Unknown | OrderState::Open
        )
    }
}

impl std::fmt::Display for OrderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OrderState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderState::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown order state {s:?}"))
    }
}

/// What a plan line does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    Buy,
    Sell,
    Hold,
}

impl PlanAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanAction::Buy => "buy",
            PlanAction::Sell => "sell",
            PlanAction::Hold => "hold",
        }
    }

    /// The action of trading `units` (signed; zero holds).
    pub fn of_units(units: f64) -> PlanAction {
        if units > 0.0 {
            PlanAction::Buy
        } else if units < 0.0 {
            PlanAction::Sell
        } else {
            PlanAction::Hold
        }
    }
}

impl std::fmt::Display for PlanAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The word compares equal to its enum (`status == "done"` in tests and logs reads as the
/// wire does); code that decides compares enums.
macro_rules! eq_word {
    ($t:ty) => {
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
eq_word!(PlanStatus);
eq_word!(OrderState);
eq_word!(PlanAction);

impl std::str::FromStr for PlanAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [PlanAction::Buy, PlanAction::Sell, PlanAction::Hold]
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown plan action {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_through_serde_and_from_str() {
        for s in PlanStatus::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(s.as_str().parse::<PlanStatus>().unwrap(), s);
        }
        for s in OrderState::ALL {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
            assert_eq!(s.as_str().parse::<OrderState>().unwrap(), s);
        }
        assert_eq!(PlanAction::of_units(-1.0).as_str(), "sell");
        assert!("nonsense".parse::<PlanStatus>().is_err());
    }

    #[test]
    fn the_table_allows_only_the_lifecycle() {
        use PlanStatus::*;
        assert!(Proposed.can_move_to(Approved));
        assert!(Approved.can_move_to(Expired));
        assert!(Executing.can_move_to(Abandoned));
        assert!(!Done.can_move_to(Executing));
        assert!(!PartiallyFailed.can_move_to(Executing));
        assert!(!Proposed.can_move_to(Executing));
        assert!(!Abandoned.can_move_to(Executing));
        for s in [Rejected, Expired, Done, PartiallyFailed, Abandoned] {
            assert!(s.is_final(), "{s}");
        }
        for s in [Proposed, Approved, Executing] {
            assert!(!s.is_final(), "{s}");
        }
    }
}
