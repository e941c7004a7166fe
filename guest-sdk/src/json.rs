//! Reading a few fields of a JSON object without parsing all of it.
//!
//! `record.json::<T>()` (serde) builds `T` from the whole document. When a function needs
//! three fields of a twenty-field event, [`fields`] is several times faster: it walks the
//! object once, skipping the values it does not need (with a SIMD search through
//! strings, in Wasm as natively), and checks only what it reads. The scanner is the
//! `weir-json` crate, which the host uses too.
//!
//! ```
//! let doc = br#"{"user":"u1","kind":"view","at":"1700000000000","extra":[1,2,{"x":"}"}]}"#;
//! let [kind, at] = weir_sdk::json::fields(doc, ["kind", "at"]).unwrap();
//! assert_eq!(kind.unwrap().as_str().unwrap(), "view");
//! assert_eq!(at.unwrap().as_i64().unwrap(), 1_700_000_000_000);
//! ```

use std::borrow::Cow;

use weir_json::FieldError;

use crate::error::{Error, Result};

/// A field's value: a string (unescaped) or any other value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<'a> {
    /// A JSON string's contents.
    Str(Cow<'a, str>),
    /// A number, `true`, `false`, `null`, an object or an array, as written.
    Raw(&'a [u8]),
}

impl<'a> Field<'a> {
    /// The scanner's field as text: a string must be UTF-8.
    #[inline]
    fn from_scanned(f: weir_json::Field<'a>) -> Result<Self> {
        Ok(match f {
            weir_json::Field::String(Cow::Borrowed(b)) => {
                Field::Str(Cow::Borrowed(weir_json::utf8(b)?))
            }
            weir_json::Field::String(Cow::Owned(v)) => Field::Str(Cow::Owned(
                String::from_utf8(v).map_err(|e| e.utf8_error())?,
            )),
            weir_json::Field::Number(r)
            | weir_json::Field::Literal(r)
            | weir_json::Field::Composite(r) => Field::Raw(r),
        })
    }

    /// The string, if the value is one.
    #[inline]
    pub fn as_str(&self) -> Result<&str> {
        match self {
            Field::Str(s) => Ok(s),
            Field::Raw(r) => Err(Error::msg(format_args!(
                "expected a string, found {}",
                String::from_utf8_lossy(r)
            ))),
        }
    }

    /// The value as an integer: a JSON integer, or a string holding one.
    #[inline]
    pub fn as_i64(&self) -> Result<i64> {
        if let Some(v) = weir_json::integer(self.as_bytes()) {
            return Ok(v);
        }
        let text = match self {
            Field::Str(s) => s.as_ref(),
            Field::Raw(r) => std::str::from_utf8(r)?,
        };
        Err(Error::msg(format_args!("{text:?} is not an integer")))
    }

    /// The value as written in the document (strings without their quotes, unescaped).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Field::Str(s) => s.as_bytes(),
            Field::Raw(r) => r,
        }
    }
}

/// `field`, or an error naming the missing field.
#[inline]
pub fn required<'a>(field: Option<Field<'a>>, name: &str) -> Result<Field<'a>> {
    field.ok_or_else(|| Error::msg(format_args!("the field `{name}` is missing")))
}

/// The top-level fields `names` of the JSON object `doc`, in the order asked (`None` for
/// an absent field). Errors if `doc` is not an object or is malformed where it is read.
/// Of several members with the same name, the first is read.
pub fn fields<'a, const N: usize>(
    doc: &'a [u8],
    names: [&str; N],
) -> Result<[Option<Field<'a>>; N]> {
    // Strings become text as they are read, into the one array returned.
    weir_json::fields_with(doc, names, |f| Field::from_scanned(f).map_err(Failed::Text))
        .map_err(Failed::into_error)
}

/// Why [`fields`] failed: the scanner could not read the document, or a string it read is
/// not text.
enum Failed {
    Scan(FieldError),
    Text(Error),
}

impl From<FieldError> for Failed {
    fn from(e: FieldError) -> Self {
        Failed::Scan(e)
    }
}

impl Failed {
    #[cold]
    fn into_error(self) -> Error {
        match self {
            Failed::Scan(FieldError::NotAnObject) => Error::msg("invalid JSON: not an object"),
            Failed::Scan(FieldError::Invalid(at)) => {
                Error::msg(format_args!("invalid JSON at byte {at}"))
            }
            Failed::Scan(e @ FieldError::Missing) => Error::msg(e),
            Failed::Text(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_asked_for() {
        let doc =
            br#" { "a" : 1, "s": "x\"y", "n": {"deep": ["]", "}"]}, "b": true, "e": "\u00e9" } "#;
        let [b, s, a, e, n, missing] = fields(doc, ["b", "s", "a", "e", "n", "zz"]).unwrap();
        assert_eq!(b, Some(Field::Raw(b"true")));
        assert_eq!(s.unwrap().as_str().unwrap(), "x\"y");
        assert_eq!(a.unwrap().as_i64().unwrap(), 1);
        assert_eq!(e.unwrap().as_str().unwrap(), "é");
        assert_eq!(n.unwrap().as_bytes(), br#"{"deep": ["]", "}"]}"#);
        assert_eq!(missing, None);
    }

    #[test]
    fn rejects_what_is_not_an_object() {
        assert!(fields(b"[1]", ["a"]).is_err());
        assert!(fields(b"not json", ["a"]).is_err());
        assert!(fields(br#"{"a": "unterminated"#, ["a"]).is_err());
        assert!(fields(br#"{"a" 1}"#, ["a"]).is_err());
        assert_eq!(fields(b"{}", ["a"]).unwrap(), [None]);
        assert_eq!(
            fields(b"[1]", ["a"]).unwrap_err().message(),
            "invalid JSON: not an object"
        );
        assert_eq!(
            fields(br#"{"a" 1}"#, ["a"]).unwrap_err().message(),
            "invalid JSON at byte 5"
        );
    }

    #[test]
    fn invalid_utf8_in_a_read_string_is_an_error() {
        assert!(fields(b"{\"a\":\"\xff\"}", ["a"]).is_err());
        assert!(fields(b"{\"a\":\"\\n\xff\"}", ["a"]).is_err());
        // A skipped string is not checked.
        assert_eq!(
            fields(b"{\"b\":\"\xff\",\"a\":1}", ["a"]).unwrap(),
            [Some(Field::Raw(b"1"))]
        );
    }

    #[test]
    fn integers_from_numbers_and_strings() {
        let doc = br#"{"n": -12, "s": "1700000000000", "f": 1.5, "t": "soon", "o": [1]}"#;
        let [n, s, f, t, o] = fields(doc, ["n", "s", "f", "t", "o"]).unwrap();
        assert_eq!(n.unwrap().as_i64().unwrap(), -12);
        assert_eq!(s.unwrap().as_i64().unwrap(), 1_700_000_000_000);
        assert_eq!(
            f.unwrap().as_i64().unwrap_err().message(),
            "\"1.5\" is not an integer"
        );
        assert!(t.unwrap().as_i64().is_err());
        assert!(o.clone().unwrap().as_i64().is_err());
        assert_eq!(
            o.unwrap().as_str().unwrap_err().message(),
            "expected a string, found [1]"
        );
    }

    #[test]
    fn required_names_the_missing_field() {
        assert_eq!(
            required(None, "at").unwrap_err().message(),
            "the field `at` is missing"
        );
        assert_eq!(
            required(Some(Field::Raw(b"1")), "at").unwrap(),
            Field::Raw(b"1")
        );
    }
}
