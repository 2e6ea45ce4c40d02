//! What the rollups hold, independent of any engine: the cell each counted
//! event adds to ([`cells`]), each user's login summary and their logins
//! of one month ([`logins`]), and the settings all of it depends on
//! ([`RollupSettings`]).
//!
//! The store writes these into its tables (`store::write`) and reads them
//! back for reports (`store::report`); the reference reading of the raw
//! history (`metrics::history`) uses the same cell mapping, so the two
//! cannot disagree on what an event counts towards.

pub mod cells;
pub mod codec;
pub mod logins;
pub mod month_logins;
pub mod weeks;

use crate::calendar::Calendar;
use crate::config::{Config, Settings};

/// The settings the rollups are computed with; when they change, the
/// rollups are rebuilt from the events.
#[derive(Clone, Debug)]
pub struct RollupSettings {
    pub timezone: String,
    pub calendar: Calendar,
    pub activation_min_logins: u32,
    pub activation_min_weeks: u32,
}

impl RollupSettings {
    pub fn new(timezone: &str, settings: &Settings) -> anyhow::Result<RollupSettings> {
        Ok(RollupSettings {
            timezone: timezone.to_owned(),
            calendar: Calendar::new(timezone)?,
            activation_min_logins: settings.activation_min_logins,
            activation_min_weeks: settings.activation_min_weeks,
        })
    }

    pub fn from_config(config: &Config) -> anyhow::Result<RollupSettings> {
        RollupSettings::new(&config.company.timezone, &config.metrics)
    }

    /// What the stored rollups are compared with.
    pub fn fingerprint(&self) -> String {
        format!(
            "timezone={};activation_min_logins={};activation_min_weeks={}",
            self.timezone, self.activation_min_logins, self.activation_min_weeks
        )
    }
}
