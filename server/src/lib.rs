//! The Lockstep server: the only crate that does I/O.
//!
//! It owns the store (SQLite by default, PostgreSQL for teams), talks to exchanges and data
//! vendors, computes live targets with the `shared` kernels and serves the dashboard (the `app`
//! crate, rendered with Leptos SSR and hydrated in the browser) and the JSON API under `/api`.

#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod broker;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod error;
pub mod http;
pub mod ids;
pub mod links;
pub mod live;
pub mod market_data;
pub mod notify;
pub mod parity;
pub mod progress;
pub mod state;
pub mod store;
pub mod web;

pub use state::{AppState, WebConfig};
pub use web::router;
