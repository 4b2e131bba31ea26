//! Which years the calendar does not list for the exchanges the accounts
//! follow: reminders then come on every weekday, and `status` says so.

use crate::Engine;
use tokentray_core::{add_span, Span};

impl Engine {
    /// What the calendar does not know for the exchanges the accounts
    /// follow: a year (this one, or the next within 30 days of it) whose
    /// holidays are not listed, so reminders come on every weekday then.
    pub fn calendar_gaps(&self) -> Vec<String> {
        let now = self.now();
        self.with_config(|config| gaps(config, now))
    }
}

fn gaps(config: &tokentray_adapters::config::Config, now: tokentray_core::Instant) -> Vec<String> {
    let mut names: Vec<&str> = config.accounts.iter().filter_map(|a| a.market.exchange.as_deref()).collect();
    names.sort_unstable();
    names.dedup();
    let years = [now, add_span(now, Span::days(30))].map(|t| chrono::Datelike::year(&t));
    let mut gaps = Vec::new();
    for exchange in names.into_iter().filter_map(|n| config.calendar.exchange(n)) {
        for year in years.into_iter().collect::<std::collections::BTreeSet<_>>() {
            if !exchange.lists(year) {
                gaps.push(format!(
                    "{}'s holidays for {year} are not listed: reminders come on every weekday then; \
                         add them in your calendar file ([market] calendar)",
                    exchange.name
                ));
            }
        }
    }
    gaps
}
