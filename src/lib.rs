//! Uptake: a usage and adoption dashboard for internal developer portals.
//! See `docs/ARCHITECTURE.md` for the map.

#[macro_use]
pub mod output;

pub mod admin;
pub mod bench;
pub mod calendar;
pub mod chart;
pub mod cli;
pub mod config;
pub mod dashboard_users;
pub mod demo;
pub mod event;
pub mod export;
pub mod generate;
pub mod import;
pub mod ingest;
pub mod keys;
pub mod metrics;
pub mod migrate;
pub mod net;
pub mod retention;
pub mod rollup;
pub mod sdk;
pub mod server;
pub mod store;
pub mod time;
pub mod web;
