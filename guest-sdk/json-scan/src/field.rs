//! What a read returns: a field's value, and its conversions.

use std::borrow::Cow;

use crate::digits::integer;

/// A field's value.
///
/// Borrowed from the document, except a string with escapes, which is unescaped into an
/// owned buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<'a> {
    /// A string, unescaped. Its bytes are not checked to be UTF-8 (see [`utf8`](crate::utf8)).
    String(Cow<'a, [u8]>),
    /// A number, as written (a run of bytes starting with `-` or a digit).
    Number(&'a [u8]),
    /// `true`, `false` or `null`, as written (a run of bytes starting with `t`, `f` or `n`).
    Literal(&'a [u8]),
    /// An object or array, as written, from its opening bracket to its closing one.
    Composite(&'a [u8]),
}

impl Field<'_> {
    /// The bytes a key is made of: a string's contents (unescaped), anything else as
    /// written.
    #[inline]
    pub fn key_bytes(&self) -> &[u8] {
        match self {
            Field::String(s) => s,
            Field::Number(b) | Field::Literal(b) | Field::Composite(b) => b,
        }
    }

    /// The value as epoch milliseconds: an integer, or a string holding one (as Rust's
    /// `i64` parser reads it: an optional sign and decimal digits); otherwise a finite
    /// number (or a string holding one) whose magnitude is below 9.2e18, truncated toward
    /// zero. Anything else is an error, with a message naming the value.
    pub fn epoch_millis(&self) -> Result<i64, String> {
        let text = match self {
            Field::String(s) => std::str::from_utf8(s).map_err(|_| "not UTF-8".to_owned())?,
            Field::Number(n) => std::str::from_utf8(n).map_err(|_| "not UTF-8".to_owned())?,
            other => return Err(format!("{} is not a timestamp", show(other.key_bytes()))),
        };
        if let Some(v) = integer(text.as_bytes()) {
            return Ok(v);
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v.abs() < 9.2e18 => Ok(v.trunc() as i64),
            _ => Err(format!(
                "{} is not epoch milliseconds",
                show(text.as_bytes())
            )),
        }
    }
}

/// `b` quoted for a message, cut to forty bytes.
fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() > 40 {
        format!("{:?}…", &s[..s.floor_char_boundary(40)])
    } else {
        format!("{s:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bytes_are_contents_or_text() {
        assert_eq!(
            Field::String(Cow::Owned(b"a\"b".to_vec())).key_bytes(),
            b"a\"b"
        );
        assert_eq!(Field::Number(b"-1.5e3").key_bytes(), b"-1.5e3");
        assert_eq!(Field::Literal(b"null").key_bytes(), b"null");
        assert_eq!(Field::Composite(b"[1, 2]").key_bytes(), b"[1, 2]");
    }

    #[test]
    fn epoch_millis_from_integers_strings_and_floats() {
        let s = |t: &'static str| Field::String(Cow::Borrowed(t.as_bytes()));
        let n = |t: &'static str| Field::Number(t.as_bytes());
        assert_eq!(s("1700000000000").epoch_millis(), Ok(1_700_000_000_000));
        assert_eq!(n("1700000000000").epoch_millis(), Ok(1_700_000_000_000));
        assert_eq!(n("1700000000000.9").epoch_millis(), Ok(1_700_000_000_000));
        assert_eq!(n("-1.9").epoch_millis(), Ok(-1));
        assert_eq!(n("-5").epoch_millis(), Ok(-5));
        assert_eq!(n("1e3").epoch_millis(), Ok(1000));
        assert_eq!(s("+7").epoch_millis(), Ok(7));
        assert_eq!(s("12.5").epoch_millis(), Ok(12));
        assert_eq!(n("9223372036854775807").epoch_millis(), Ok(i64::MAX));
        assert_eq!(n("-9223372036854775808").epoch_millis(), Ok(i64::MIN));
        assert!(n("9223372036854775808").epoch_millis().is_err());
        assert!(n("9.2e18").epoch_millis().is_err());
        assert_eq!(n("9.1e18").epoch_millis(), Ok(9_100_000_000_000_000_000));
        assert!(n("1e400").epoch_millis().is_err());
        assert!(s("soon").epoch_millis().is_err());
        assert!(s("NaN").epoch_millis().is_err());
        assert!(s("inf").epoch_millis().is_err());
        assert_eq!(
            Field::String(Cow::Owned(vec![0xff])).epoch_millis(),
            Err("not UTF-8".into())
        );
        assert_eq!(
            Field::Composite(b"[1]").epoch_millis(),
            Err("\"[1]\" is not a timestamp".into())
        );
        assert_eq!(
            Field::Literal(b"true").epoch_millis(),
            Err("\"true\" is not a timestamp".into())
        );
        assert_eq!(
            s("soon").epoch_millis(),
            Err("\"soon\" is not epoch milliseconds".into())
        );
        let long = "é".repeat(30);
        let err = Field::String(Cow::Owned(long.into_bytes()))
            .epoch_millis()
            .unwrap_err();
        assert_eq!(
            err,
            format!("{:?}… is not epoch milliseconds", "é".repeat(20))
        );
    }
}
