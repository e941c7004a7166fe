//! Reading a few fields of a JSON object without parsing all of it.
//!
//! `record.json::<T>()` (serde) builds `T` from the whole document. When a function needs
//! three fields of a twenty-field event, [`fields`] is several times faster: it walks the
//! object once, skipping the values it does not need (with a SIMD search through
//! strings, in Wasm as natively: see `find`), and checks only what it reads.
//!
//! ```
//! let doc = br#"{"user":"u1","kind":"view","at":"1700000000000","extra":[1,2,{"x":"}"}]}"#;
//! let [kind, at] = weir_sdk::json::fields(doc, ["kind", "at"]).unwrap();
//! assert_eq!(kind.unwrap().as_str().unwrap(), "view");
//! assert_eq!(at.unwrap().as_i64().unwrap(), 1_700_000_000_000);
//! ```

use std::borrow::Cow;

use crate::error::{Error, Result};

mod digits;
mod find;

const HI: u64 = 0x8080_8080_8080_8080;

/// A field name asked for: its length and, for names of up to sixteen bytes, its bytes
/// as two little-endian words, so a name in the document is compared with two integer
/// comparisons (in Wasm, a `memcmp` or a short copy is a call, and names are short).
#[derive(Clone, Copy)]
struct Wanted<'n> {
    name: &'n [u8],
    words: Option<[u64; 2]>,
}

impl<'n> Wanted<'n> {
    #[inline]
    fn new(name: &'n str) -> Self {
        let name = name.as_bytes();
        let words = (name.len() <= 16).then(|| {
            let mut w = [0u64; 2];
            for (k, &c) in name.iter().enumerate() {
                w[k / 8] |= u64::from(c) << (8 * (k % 8));
            }
            w
        });
        Wanted { name, words }
    }

    /// Whether `doc[start..start + len]` is this name.
    #[inline]
    fn is_at(&self, doc: &[u8], start: usize, len: usize) -> bool {
        if len != self.name.len() {
            return false;
        }
        match self.words {
            Some(w) if start + 16 <= doc.len() => {
                let word = |at: usize, n: usize| {
                    let v = u64::from_le_bytes(doc[at..at + 8].try_into().expect("eight bytes"));
                    match n {
                        0 => 0,
                        1..=7 => v & ((1u64 << (8 * n)) - 1),
                        _ => v,
                    }
                };
                word(start, len.min(8)) == w[0] && word(start + 8, len.saturating_sub(8)) == w[1]
            }
            _ => &doc[start..start + len] == self.name,
        }
    }
}

/// `b` as text: ASCII is checked eight bytes at a time, anything else fully.
#[inline]
fn utf8(b: &[u8]) -> Result<&str> {
    let mut i = 0;
    while i + 8 <= b.len() {
        if u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes")) & HI != 0 {
            return Ok(std::str::from_utf8(b)?);
        }
        i += 8;
    }
    if b[i..].is_ascii() {
        // SAFETY: every byte was just checked to be ASCII, which is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(b) });
    }
    Ok(std::str::from_utf8(b)?)
}

/// A field's value: a string (unescaped) or any other value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<'a> {
    /// A JSON string's contents.
    Str(Cow<'a, str>),
    /// A number, `true`, `false`, `null`, an object or an array, as written.
    Raw(&'a [u8]),
}

impl<'a> Field<'a> {
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
        let text = match self {
            Field::Str(s) => s.as_ref(),
            Field::Raw(r) => std::str::from_utf8(r)?,
        };
        if let Some(v) = digits::parse(text.as_bytes()) {
            return Ok(v);
        }
        text.parse()
            .map_err(|_| Error::msg(format_args!("{text:?} is not an integer")))
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
pub fn fields<'a, const N: usize>(
    doc: &'a [u8],
    names: [&str; N],
) -> Result<[Option<Field<'a>>; N]> {
    let mut out: [Option<Field<'a>>; N] = std::array::from_fn(|_| None);
    let wanted = names.map(Wanted::new);
    let mut found = 0;
    let mut s = Scan { b: doc, i: 0 };
    s.ws();
    if s.peek() != Some(b'{') {
        return Err(Error::msg("invalid JSON: not an object"));
    }
    s.i += 1;
    s.ws();
    if s.peek() == Some(b'}') {
        return Ok(out);
    }
    loop {
        s.ws();
        if s.peek() != Some(b'"') {
            return Err(s.bad());
        }
        let name_start = s.i + 1;
        let (name, _) = s.string()?;
        s.ws();
        if s.peek() != Some(b':') {
            return Err(s.bad());
        }
        s.i += 1;
        s.ws();
        match wanted
            .iter()
            .position(|w| w.is_at(s.b, name_start, name.len()))
        {
            Some(k) if out[k].is_none() => {
                out[k] = Some(s.value()?);
                found += 1;
                if found == N {
                    return Ok(out);
                }
            }
            // Strings, the most common values, are passed over without a call.
            _ if s.peek() == Some(b'"') => drop(s.string()?),
            _ => s.skip()?,
        }
        s.ws();
        match s.peek() {
            Some(b',') => s.i += 1,
            Some(b'}') => return Ok(out),
            _ => return Err(s.bad()),
        }
    }
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips whitespace. Compact JSON has none between tokens, so the loop is kept out of
    /// line: in Wasm every loop entered costs an interruption check.
    #[inline(always)]
    fn ws(&mut self) {
        if let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.ws_loop();
        }
    }

    #[cold]
    #[inline(never)]
    fn ws_loop(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    fn bad(&self) -> Error {
        Error::msg(format_args!("invalid JSON at byte {}", self.i))
    }

    /// At `"`: the raw contents and whether they have escapes.
    #[inline(always)]
    fn string(&mut self) -> Result<(&'a [u8], bool)> {
        let start = self.i + 1;
        match find::quote_or_backslash(self.b, start) {
            Some(k) if self.b[k] == b'"' => {
                self.i = k + 1;
                Ok((&self.b[start..k], false))
            }
            Some(k) => self.escaped_string(start, k),
            None => Err(self.bad()),
        }
    }

    /// The rest of a string from its first backslash at `backslash`.
    #[cold]
    #[inline(never)]
    fn escaped_string(&mut self, start: usize, backslash: usize) -> Result<(&'a [u8], bool)> {
        let mut j = backslash + 2;
        loop {
            let k = find::quote_or_backslash(self.b, j).ok_or_else(|| self.bad())?;
            if self.b[k] == b'"' {
                self.i = k + 1;
                return Ok((&self.b[start..k], true));
            }
            j = k + 2;
        }
    }

    #[inline]
    fn value(&mut self) -> Result<Field<'a>> {
        let start = self.i;
        if self.peek() == Some(b'"') {
            let (raw, escaped) = self.string()?;
            if !escaped {
                return Ok(Field::Str(Cow::Borrowed(utf8(raw)?)));
            }
            let quoted = &self.b[start..self.i];
            let s: String = serde_json::from_slice(quoted)?;
            return Ok(Field::Str(Cow::Owned(s)));
        }
        self.skip()?;
        Ok(Field::Raw(&self.b[start..self.i]))
    }

    #[inline]
    fn skip(&mut self) -> Result<()> {
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
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_asked_for() {
        let doc =
            br#" { "a" : 1, "s": "x\"y", "n": {"deep": ["]", "}"]}, "b": true, "e": "\u00e9" } "#;
        let [b, s, a, e, missing] = fields(doc, ["b", "s", "a", "e", "zz"]).unwrap();
        assert_eq!(b, Some(Field::Raw(b"true")));
        assert_eq!(s.unwrap().as_str().unwrap(), "x\"y");
        assert_eq!(a.unwrap().as_i64().unwrap(), 1);
        assert_eq!(e.unwrap().as_str().unwrap(), "é");
        assert_eq!(missing, None);
    }

    #[test]
    fn rejects_what_is_not_an_object() {
        assert!(fields(b"[1]", ["a"]).is_err());
        assert!(fields(b"not json", ["a"]).is_err());
        assert!(fields(br#"{"a": "unterminated"#, ["a"]).is_err());
        assert!(fields(br#"{"a" 1}"#, ["a"]).is_err());
        assert_eq!(fields(b"{}", ["a"]).unwrap(), [None]);
    }

    #[test]
    fn names_compare_like_slices_anywhere_in_the_document() {
        let names = [
            "ad_id",
            "event_type",
            "event_time",
            "",
            "a",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnoq",
            "abcdefghijklmnopq",
        ];
        for asked in names {
            let wanted = Wanted::new(asked);
            for present in names {
                for padding in [0, 1, 7, 8, 20] {
                    // Near the end of the document the words cannot be read whole.
                    let doc = format!("{present}{}", "x".repeat(padding));
                    assert_eq!(
                        wanted.is_at(doc.as_bytes(), 0, present.len()),
                        asked == present,
                        "{asked:?} at {present:?} + {padding}"
                    );
                }
            }
        }
    }

    #[test]
    fn text_checks_accept_utf8_and_reject_the_rest() {
        assert_eq!(
            utf8("plain ascii, longer than eight".as_bytes()).unwrap(),
            "plain ascii, longer than eight"
        );
        assert_eq!(
            utf8("accentué après huit octets".as_bytes()).unwrap(),
            "accentué après huit octets"
        );
        assert!(utf8(b"abcdefgh\xff").is_err());
        assert!(utf8(b"\xffabcdefghijk").is_err());
    }

    #[test]
    fn invalid_utf8_in_a_read_string_is_an_error() {
        assert!(fields(b"{\"a\":\"\xff\"}", ["a"]).is_err());
    }
}
