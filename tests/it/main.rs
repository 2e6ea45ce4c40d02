//! Uptake's integration tests: real processes, real sockets, real files.

mod browser;
mod cli;
mod dashboard;
mod durability;
mod ingest;
mod rollups;
mod support;
mod widget_cases;
mod widgets;
