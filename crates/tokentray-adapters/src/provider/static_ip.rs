//! The static IPs a broker has registered for the app, where it lets a
//! program read them. Since 1 April 2026 Indian brokers take API orders only
//! from these (SEBI's retail algo framework). Upstox's `GET /v2/user/ip`
//! and Dhan's `GET /v2/ip/getIP` are documented (`docs/providers/upstox.md`
//! and `dhan.md` cite them); the others expose nothing a program can read.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What the broker says is registered, and what it says of the weekly change lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredIps {
    pub primary: Option<String>,
    pub secondary: Option<String>,
    /// The lock on changing them, in the broker's own terms (Dhan: the
    /// date from which a change is allowed; Upstox: when they last changed,
    /// one change per calendar week).
    pub change_lock: ChangeLock,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeLock {
    /// Dhan's `modifyDatePrimary`: the first day a change is allowed.
    AllowedFrom {
        date: chrono::NaiveDate,
    },
    /// Upstox's `primary_ip_updated_at` (the server's time, as written):
    /// one change per calendar week.
    LastChanged {
        at: String,
    },
    Unknown,
}

impl RegisteredIps {
    /// The registered addresses, as written.
    pub fn addresses(&self) -> Vec<String> {
        self.primary.iter().chain(self.secondary.iter()).cloned().collect()
    }

    /// Whether `egress` is one of them (IPv6 compared as addresses, not as text).
    pub fn admits(&self, egress: IpAddr) -> bool {
        self.addresses().iter().any(|ip| ip.trim().parse::<IpAddr>().is_ok_and(|ip| ip == egress))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_compared_as_an_address() {
        let ips = RegisteredIps {
            primary: Some("2001:db8::1".into()),
            secondary: Some("203.0.113.7".into()),
            change_lock: ChangeLock::Unknown,
        };
        assert!(ips.admits("2001:0db8:0000::0001".parse().unwrap()));
        assert!(ips.admits("203.0.113.7".parse().unwrap()));
        assert!(!ips.admits("203.0.113.8".parse().unwrap()));
        let none = RegisteredIps { primary: None, secondary: None, change_lock: ChangeLock::Unknown };
        assert!(!none.admits("203.0.113.7".parse().unwrap()));
    }
}
