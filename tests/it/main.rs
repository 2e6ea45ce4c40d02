//! Uptake's integration tests: real processes, real sockets, real files.

mod cli;
mod durability;
mod ingest;
mod rollups;
mod support;
mod widget_cases;
mod widgets;
