//! Durations as people write them, in the config and on the command line:
//! `90s`, `45m`, `3h`, `1h30m`, `7d`. One parser, so both accept the same text.

use serde::{Deserialize, Deserializer};
use tokentray_core::Span;

pub fn parse(text: &str) -> Result<Span, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration: write e.g. `3h`, `45m`, `1h30m`".to_owned());
    }
    let mut total = Span::zero();
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| format!("`{text}`: a number must come before `{c}`"))?;
        digits.clear();
        let part = match c {
            'd' => Span::try_days(n),
            'h' => Span::try_hours(n),
            'm' => Span::try_minutes(n),
            's' => Span::try_seconds(n),
            _ => return Err(format!("`{text}`: unknown unit `{c}` (use d, h, m or s)")),
        };
        let too_long = || format!("`{text}` is too long");
        total = part.and_then(|p| total.checked_add(&p)).ok_or_else(too_long)?;
    }
    if !digits.is_empty() {
        return Err(format!("`{text}`: the last number has no unit (use d, h, m or s)"));
    }
    Ok(total)
}

/// A duration that must be longer than zero (a timeout, a grace period).
pub fn parse_positive(text: &str) -> Result<Span, String> {
    let span = parse(text)?;
    if span <= Span::zero() {
        return Err(format!("`{}` must be longer than zero", text.trim()));
    }
    Ok(span)
}

/// A positive duration as the standard library's type, for command-line flags.
pub fn parse_std(text: &str) -> Result<std::time::Duration, String> {
    let span = parse_positive(text)?;
    span.to_std().map_err(|_| format!("`{}` is too long", text.trim()))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Span>, D::Error> {
    deserialize(d).map(Some)
}

/// For settings that must be longer than zero: the error then points at the value.
pub fn deserialize_positive_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Span>, D::Error> {
    let text = String::deserialize(d)?;
    parse_positive(&text).map(Some).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse("3h"), Ok(Span::hours(3)));
        assert_eq!(parse("1h30m"), Ok(Span::minutes(90)));
        assert_eq!(parse("7d"), Ok(Span::days(7)));
        assert_eq!(parse("90s"), Ok(Span::seconds(90)));
        assert!(parse("3").unwrap_err().contains("no unit"));
        assert!(parse("3x").unwrap_err().contains("unknown unit"));
        assert!(parse("h").is_err());
        assert_eq!(parse_std("1d"), Ok(std::time::Duration::from_secs(86_400)));
        assert!(parse_std("0s").unwrap_err().contains("longer than zero"));
    }

    #[test]
    fn absurd_durations_are_refused_not_panicked_on() {
        let huge = format!("{}s{}s", i64::MAX / 1000, i64::MAX / 1000);
        assert!(parse(&huge).unwrap_err().contains("too long"), "two parts that overflow when added");
        assert!(parse("106751991167300d").unwrap_err().contains("too long"));
        assert!(parse("99999999999999999999s").is_err(), "a number too big for i64");
    }
}
