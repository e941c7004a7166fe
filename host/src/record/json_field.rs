//! Reads one field out of a JSON document without parsing the rest of it.
//!
//! Keys (`key_by = { field = ... }`) and event timestamps (`event_time.field`) come from a
//! field of each record's JSON value. Parsing every record into a tree to read one field
//! would cost more than the rest of the host's work on it, so this scanner walks the
//! document once, skipping the values it does not need.

use std::borrow::Cow;

use memchr::memchr2;

/// A dotted path into nested objects, e.g. `"user.id"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    segments: Vec<Vec<u8>>,
    text: String,
}

impl FieldPath {
    /// Parses `"a.b.c"`. An empty path or an empty segment is an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("a field path cannot be empty".into());
        }
        let segments: Vec<Vec<u8>> = text.split('.').map(|s| s.as_bytes().to_vec()).collect();
        if segments.iter().any(Vec::is_empty) {
            return Err(format!("field path `{text}` has an empty segment"));
        }
        Ok(Self {
            segments,
            text: text.to_owned(),
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Finds the field in `doc`.
    pub fn find<'a>(&self, doc: &'a [u8]) -> Result<Field<'a>, FieldError> {
        let mut s = Scanner { b: doc, i: 0 };
        for (depth, seg) in self.segments.iter().enumerate() {
            s.ws();
            if s.peek() != Some(b'{') {
                return Err(if depth == 0 {
                    FieldError::NotAnObject
                } else {
                    FieldError::Missing
                });
            }
            s.i += 1;
            if !s.find_key(seg)? {
                return Err(FieldError::Missing);
            }
        }
        s.ws();
        s.value()
    }
}

/// A field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<'a> {
    /// A string, unescaped.
    String(Cow<'a, [u8]>),
    /// A number, as written.
    Number(&'a [u8]),
    /// `true`, `false` or `null`, as written.
    Literal(&'a [u8]),
    /// An object or array, as written.
    Composite(&'a [u8]),
}

impl Field<'_> {
    /// The bytes a key is made of: a string's contents, anything else as written.
    pub fn key_bytes(&self) -> &[u8] {
        match self {
            Field::String(s) => s,
            Field::Number(b) | Field::Literal(b) | Field::Composite(b) => b,
        }
    }

    /// The value as epoch milliseconds: an integer, or a string of one. A number with a
    /// fraction is truncated toward zero.
    pub fn epoch_millis(&self) -> Result<i64, String> {
        let text = match self {
            Field::String(s) => std::str::from_utf8(s).map_err(|_| "not UTF-8".to_owned())?,
            Field::Number(n) => std::str::from_utf8(n).map_err(|_| "not UTF-8".to_owned())?,
            other => return Err(format!("{} is not a timestamp", show(other.key_bytes()))),
        };
        if let Ok(v) = text.parse::<i64>() {
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

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() > 40 {
        format!("{:?}…", &s[..s.floor_char_boundary(40)])
    } else {
        format!("{s:?}")
    }
}

/// Why a field could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The document is not a JSON object.
    #[error("the value is not a JSON object")]
    NotAnObject,
    /// The field is not there.
    #[error("the field is missing")]
    Missing,
    /// The document is not valid JSON where the scanner looked.
    #[error("the value is not valid JSON (at byte {0})")]
    Invalid(usize),
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn bad(&self) -> FieldError {
        FieldError::Invalid(self.i)
    }

    fn expect(&mut self, c: u8) -> Result<(), FieldError> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.bad())
        }
    }

    /// Inside an object (after `{`): advances to the value of `key`, or to past the `}`.
    fn find_key(&mut self, key: &[u8]) -> Result<bool, FieldError> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(false);
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.bad());
            }
            let name = self.string()?;
            self.expect(b':')?;
            self.ws();
            if name.as_ref() == key {
                return Ok(true);
            }
            self.skip_value()?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(false);
                }
                _ => return Err(self.bad()),
            }
        }
    }

    /// At a `"`: reads the string, unescaping only if it has escapes.
    fn string(&mut self) -> Result<Cow<'a, [u8]>, FieldError> {
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            let k = memchr2(b'"', b'\\', &self.b[j..]).ok_or(FieldError::Invalid(j))?;
            if self.b[j + k] == b'"' {
                j += k;
                break;
            }
            escaped = true;
            j += k + 2;
            if j > self.b.len() {
                return Err(FieldError::Invalid(self.b.len()));
            }
        }
        self.i = j + 1;
        let raw = &self.b[start..j];
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        unescape(raw)
            .map(Cow::Owned)
            .ok_or(FieldError::Invalid(start))
    }

    fn value(&mut self) -> Result<Field<'a>, FieldError> {
        let start = self.i;
        match self.peek() {
            Some(b'"') => self.string().map(Field::String),
            Some(b'{' | b'[') => {
                self.skip_value()?;
                Ok(Field::Composite(&self.b[start..self.i]))
            }
            Some(b't' | b'f' | b'n') => {
                self.skip_value()?;
                Ok(Field::Literal(&self.b[start..self.i]))
            }
            Some(b'-' | b'0'..=b'9') => {
                self.skip_value()?;
                Ok(Field::Number(&self.b[start..self.i]))
            }
            _ => Err(self.bad()),
        }
    }

    fn skip_value(&mut self) -> Result<(), FieldError> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        Some(b'{' | b'[') => {
                            depth += 1;
                            self.i += 1;
                        }
                        Some(b'}' | b']') => {
                            depth -= 1;
                            self.i += 1;
                            if depth == 0 {
                                return Ok(());
                            }
                        }
                        Some(b'"') => {
                            self.string()?;
                        }
                        Some(_) => self.i += 1,
                        None => return Err(self.bad()),
                    }
                }
            }
            Some(_) => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.i += 1;
                }
                if self.i == start {
                    Err(self.bad())
                } else {
                    Ok(())
                }
            }
            None => Err(self.bad()),
        }
    }
}

fn unescape(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let c = *raw.get(i + 1)?;
        i += 2;
        match c {
            b'"' | b'\\' | b'/' => out.push(c),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let mut cp = hex4(raw.get(i..i + 4)?)?;
                i += 4;
                if (0xD800..0xDC00).contains(&cp) {
                    if raw.get(i..i + 2)? != b"\\u" {
                        return None;
                    }
                    let lo = hex4(raw.get(i + 2..i + 6)?)?;
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo.checked_sub(0xDC00)?);
                }
                let ch = char::from_u32(cp)?;
                let mut buf = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            _ => return None,
        }
    }
    Some(out)
}

fn hex4(b: &[u8]) -> Option<u32> {
    u32::from_str_radix(std::str::from_utf8(b).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(path: &str, doc: &str) -> Result<Field<'static>, FieldError> {
        let doc: &'static [u8] = Box::leak(doc.as_bytes().to_vec().into_boxed_slice());
        FieldPath::parse(path).unwrap().find(doc)
    }

    #[test]
    fn finds_top_level_fields_of_each_kind() {
        let doc = r#"{"a": "x", "b": 12.5, "c": true, "d": {"e": [1, "}"]}, "f": null}"#;
        assert_eq!(find("a", doc).unwrap().key_bytes(), b"x");
        assert_eq!(find("b", doc).unwrap(), Field::Number(b"12.5"));
        assert_eq!(find("c", doc).unwrap(), Field::Literal(b"true"));
        assert_eq!(
            find("d", doc).unwrap(),
            Field::Composite(br#"{"e": [1, "}"]}"#)
        );
        assert_eq!(find("f", doc).unwrap(), Field::Literal(b"null"));
        assert_eq!(find("g", doc), Err(FieldError::Missing));
    }

    #[test]
    fn follows_nested_paths_and_skips_tricky_strings() {
        let doc = r#"{"s": "a \"quoted\" {brace}", "user": {"name": "n", "id": "u\u00e9\n"}}"#;
        assert_eq!(find("user.id", doc).unwrap().key_bytes(), "ué\n".as_bytes());
        assert_eq!(find("user.missing", doc), Err(FieldError::Missing));
        assert_eq!(find("s.x", doc), Err(FieldError::Missing));
    }

    #[test]
    fn surrogate_pairs_unescape() {
        assert_eq!(
            find("a", r#"{"a":"\ud83d\ude00"}"#).unwrap().key_bytes(),
            "😀".as_bytes()
        );
    }

    #[test]
    fn rejects_what_is_not_an_object_or_not_json() {
        assert_eq!(find("a", "[1]"), Err(FieldError::NotAnObject));
        assert_eq!(find("a", "not json"), Err(FieldError::NotAnObject));
        assert!(matches!(
            find("b", r#"{"a": "unterminated}"#),
            Err(FieldError::Invalid(_))
        ));
        assert!(matches!(
            find("b", r#"{"a" 1}"#),
            Err(FieldError::Invalid(_))
        ));
        assert!(FieldPath::parse("a..b").is_err());
    }

    #[test]
    fn timestamps_from_numbers_and_strings() {
        assert_eq!(
            find("t", r#"{"t": "1700000000000"}"#)
                .unwrap()
                .epoch_millis(),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            find("t", r#"{"t": 1700000000000.9}"#)
                .unwrap()
                .epoch_millis(),
            Ok(1_700_000_000_000)
        );
        assert_eq!(find("t", r#"{"t": -5}"#).unwrap().epoch_millis(), Ok(-5));
        assert!(
            find("t", r#"{"t": "soon"}"#)
                .unwrap()
                .epoch_millis()
                .is_err()
        );
        assert!(find("t", r#"{"t": [1]}"#).unwrap().epoch_millis().is_err());
    }
}
