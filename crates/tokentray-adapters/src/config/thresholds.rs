//! `thresholds = { orange = "3h", red = "1h" }`, at the top of the file and
//! per account: when the countdown turns orange and red.

use crate::duration;
use serde::Deserialize;
use tokentray_core::{Span, Thresholds};

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawThresholds {
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    orange: Option<Span>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    red: Option<Span>,
}

/// `raw` over `base`: what it leaves out, `base` says.
pub(crate) fn resolve(base: Thresholds, raw: &RawThresholds) -> Result<Thresholds, String> {
    let t = Thresholds { orange: raw.orange.unwrap_or(base.orange), red: raw.red.unwrap_or(base.red) };
    if t.red <= Span::zero() {
        return Err("red must be longer than zero".to_owned());
    }
    if t.orange <= t.red {
        return Err("orange must be longer than red (orange warns first)".to_owned());
    }
    Ok(t)
}
