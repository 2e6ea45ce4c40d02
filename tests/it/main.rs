//! Uptake's integration tests: real processes, real sockets, real files.

#[macro_use]
mod support;

mod abuse;
mod backstage;
mod browser;
mod cli;
mod dashboard;
mod durability;
mod glance;
mod ingest;
mod people;
mod postgres;
mod rollups;
mod sdk;
mod widget_cases;
mod widgets;
