//! One module per page of the dashboard.

pub mod overview;
