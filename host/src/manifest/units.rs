//! Durations and byte sizes as manifests write them: `"10s"`, `"500ms"`, `"64MiB"`, or
//! plain integers (milliseconds, bytes).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A duration in milliseconds: an integer, or a string like `"1500ms"`, `"10s"`, `"5m"`,
/// `"2h"`, `"1d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millis(pub u64);

/// A size in bytes: an integer, or a string like `"512KiB"`, `"64MiB"`, `"1GiB"`, `"10MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let n: f64 = s[..end].parse().ok()?;
    Some((n, s[end..].trim()))
}

impl Millis {
    /// Parses `"10s"` and friends.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (n, unit) = split_number(s).ok_or_else(|| format!("`{s}` is not a duration"))?;
        let factor = match unit {
            "ms" => 1.0,
            "s" => 1e3,
            "m" | "min" => 60e3,
            "h" => 3600e3,
            "d" => 86400e3,
            "" => return Err(format!("`{s}` needs a unit (ms, s, m, h, d)")),
            other => {
                return Err(format!(
                    "unknown duration unit `{other}` (use ms, s, m, h, d)"
                ));
            }
        };
        Ok(Self((n * factor).round() as u64))
    }
}

impl ByteSize {
    /// Parses `"64MiB"` and friends.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (n, unit) = split_number(s).ok_or_else(|| format!("`{s}` is not a size"))?;
        let factor: f64 = match unit {
            "" | "B" => 1.0,
            "KiB" => 1024.0,
            "MiB" => 1024.0 * 1024.0,
            "GiB" => 1024.0 * 1024.0 * 1024.0,
            "KB" | "kB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            other => {
                return Err(format!(
                    "unknown size unit `{other}` (use B, KiB, MiB, GiB, KB, MB, GB)"
                ));
            }
        };
        Ok(Self((n * factor).round() as u64))
    }
}

macro_rules! deserialize_unit {
    ($ty:ident, $what:literal) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        u64::try_from(v)
                            .map($ty)
                            .map_err(|_| E::custom("must not be negative"))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        Ok($ty(v))
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
    "a duration such as \"10s\" or \"250ms\" (or milliseconds)"
);
deserialize_unit!(ByteSize, "a size such as \"64MiB\" (or bytes)");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(Millis::parse("10s"), Ok(Millis(10_000)));
        assert_eq!(Millis::parse("250ms"), Ok(Millis(250)));
        assert_eq!(Millis::parse("1.5m"), Ok(Millis(90_000)));
        assert!(Millis::parse("10").is_err());
        assert!(Millis::parse("10 fortnights").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("64MiB"), Ok(ByteSize(64 << 20)));
        assert_eq!(ByteSize::parse("1GB"), Ok(ByteSize(1_000_000_000)));
        assert_eq!(ByteSize::parse("100"), Ok(ByteSize(100)));
        assert!(ByteSize::parse("lots").is_err());
    }
}
