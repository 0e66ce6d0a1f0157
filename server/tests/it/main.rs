//! The server's integration tests, one binary (each `tests/*.rs` file would link its own copy of
//! the server, ~700 MB and a minute of linking apiece). Modules are named for what they test.

mod api;
mod attack;
mod auth;
mod calibrated_costs;
mod cli_output;
mod common;
mod consistency;
mod consistency_scenario;
mod crash;
mod daily;
mod data_api;
mod exchange;
mod exchange_faults;
mod execution;
mod fuzz;
mod hl_mock;
mod hl_scenario;
mod import_graph;
mod links;
mod listings;
mod live;
mod notify;
mod parity;
mod parity_checks;
mod research_rows;
mod sources;
mod store;
mod venue_panel;
mod venue_rules;
mod venues;
