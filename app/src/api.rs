//! Types of the JSON API under `/api`, shared by the server (which produces them) and the
//! browser (which consumes them), so the two can never disagree on a field name.

use serde::{Deserialize, Serialize};

/// `GET /api/health`: is the server up, is its database reachable, and what data does it hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// The `lockstep` binary's version.
    pub version: String,
    /// The strategy-kernel version the server computes targets with.
    pub kernel_version: String,
    pub database: DatabaseHealth,
    pub data: DataSummary,
}

/// Whether the store answered a trivial query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseHealth {
    /// `"ok"` or `"error"`.
    pub status: String,
    /// `"sqlite"` or `"postgres"`.
    pub backend: String,
    /// What went wrong, when `status` is `"error"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the store holds. An empty store has `symbols == 0` and no dates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// Distinct assets with at least one daily bar.
    pub symbols: u64,
    /// Number of stored daily bars.
    pub bars: u64,
    /// First and last day with a bar, `YYYY-MM-DD`.
    pub first_day: Option<String>,
    pub last_day: Option<String>,
}

/// The error body every `/api` endpoint returns on failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: String,
}
