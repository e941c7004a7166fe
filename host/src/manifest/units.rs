//! Durations and byte sizes as manifests write them: `"10s"`, `"1h 30m"`, `"500ms"`,
//! `"64MiB"`, or plain integers (milliseconds, bytes). Parsing is `humantime`'s and
//! `bytesize`'s; the bounds are weir's.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// The longest duration a manifest may give: 100 years. Window sizes, gaps, offsets and
/// lateness stay far from `i64` overflow when added to any supported timestamp (see
/// [`MAX_TIMESTAMP`](crate::time::MAX_TIMESTAMP)).
pub const MAX_DURATION_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// A duration in milliseconds: an integer, or a string like `"1500ms"`, `"10s"`, `"5m"`,
/// `"2h"`, `"1d"`, `"1h 30m"`. At most [`MAX_DURATION_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millis(pub u64);

/// A size in bytes: an integer, or a string like `"512KiB"`, `"64MiB"`, `"1GiB"`, `"10MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl Millis {
    /// Parses `"10s"` and friends.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{s}` needs a unit (ms, s, m, h, d)"));
        }
        let d = match humantime::parse_duration(t) {
            Ok(d) => d,
            Err(humantime::DurationError::NumberOverflow) => {
                return Err(format!(
                    "`{s}` is longer than the longest duration weir takes (100 years, {MAX_DURATION_MS} ms)"
                ));
            }
            Err(e) => return Err(format!("`{s}` is not a duration: {e}")),
        };
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if d.subsec_nanos() % 1_000_000 != 0 {
            return Err(format!("`{s}`: durations are whole milliseconds"));
        }
        Self::checked(ms)
    }

    /// `ms`, if it is at most the maximum.
    pub fn checked(ms: u64) -> Result<Self, String> {
        if ms > MAX_DURATION_MS {
            return Err(format!(
                "{ms} ms is longer than the longest duration weir takes (100 years, {MAX_DURATION_MS} ms)"
            ));
        }
        Ok(Self(ms))
    }

    /// The duration as a signed number of milliseconds (always fits: see the maximum).
    pub fn signed(self) -> i64 {
        self.0 as i64
    }
}

impl ByteSize {
    /// Parses `"64MiB"` and friends.
    pub fn parse(s: &str) -> Result<Self, String> {
        s.trim()
            .parse::<bytesize::ByteSize>()
            .map(|b| Self(b.as_u64()))
            .map_err(|e| format!("`{s}` is not a size such as \"64MiB\": {e}"))
    }
}

macro_rules! deserialize_unit {
    ($ty:ident, $what:literal, $check:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        let v = u64::try_from(v).map_err(|_| E::custom("must not be negative"))?;
                        self.visit_u64(v)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        let check: fn(u64) -> Result<$ty, String> = $check;
                        check(v).map_err(E::custom)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        $ty::parse(v).map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

deserialize_unit!(
    Millis,
    "a duration such as \"10s\" or \"250ms\" (or milliseconds)",
    Millis::checked
);
deserialize_unit!(ByteSize, "a size such as \"64MiB\" (or bytes)", |v| Ok(
    ByteSize(v)
));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(Millis::parse("10s"), Ok(Millis(10_000)));
        assert_eq!(Millis::parse("250ms"), Ok(Millis(250)));
        assert_eq!(Millis::parse("1m 30s"), Ok(Millis(90_000)));
        assert_eq!(Millis::parse("1d"), Ok(Millis(86_400_000)));
        assert!(Millis::parse("10").is_err());
        assert!(Millis::parse("10 fortnights").is_err());
        assert!(Millis::parse("1500us").is_err(), "not whole milliseconds");
    }

    #[test]
    fn durations_past_the_maximum_are_refused_not_wrapped() {
        assert!(Millis::parse("100y").is_ok() || Millis::parse("36500d").is_ok());
        assert!(Millis::parse("101y").is_err());
        assert!(Millis::parse("18446744073709551615ms").is_err());
        assert!(Millis::parse("99999999999999999999999d").is_err());
        assert!(Millis::checked(u64::MAX).is_err());
        assert_eq!(
            Millis::checked(MAX_DURATION_MS),
            Ok(Millis(MAX_DURATION_MS))
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("64MiB"), Ok(ByteSize(64 << 20)));
        assert_eq!(ByteSize::parse("64 MiB"), Ok(ByteSize(64 << 20)));
        assert_eq!(ByteSize::parse("1GB"), Ok(ByteSize(1_000_000_000)));
        assert_eq!(ByteSize::parse("100"), Ok(ByteSize(100)));
        assert!(ByteSize::parse("lots").is_err());
    }
}
