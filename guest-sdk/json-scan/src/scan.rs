//! The cursor both reads walk a document with: whitespace, strings, values, skips, and
//! the members of an object (`empty`, then `key`, the value read or `pass`ed, `more`).

use std::borrow::Cow;

use crate::error::FieldError;
use crate::field::Field;
use crate::find::quote_or_backslash;
use crate::name::Name;
use crate::unescape::unescape;

/// A position in a document.
pub(crate) struct Scan<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) i: usize,
}

/// A member's name as it is in the document (without its quotes).
pub(crate) struct Key {
    start: usize,
    len: usize,
    escaped: bool,
}

impl Key {
    /// Which of `names` this is (the first that matches), if any, in the document `doc`
    /// it was read from. Errors if the name has an invalid escape.
    #[inline(always)]
    pub(crate) fn position(
        &self,
        doc: &[u8],
        names: &[Name<'_>],
    ) -> Result<Option<usize>, FieldError> {
        if !self.escaped {
            return Ok(names
                .iter()
                .position(|n| n.is_at(doc, self.start, self.len)));
        }
        self.position_escaped(doc, names)
    }

    /// [`position`](Self::position) for a name with escapes: unescaped, then compared.
    #[cold]
    #[inline(never)]
    fn position_escaped(
        &self,
        doc: &[u8],
        names: &[Name<'_>],
    ) -> Result<Option<usize>, FieldError> {
        let name = unescape(&doc[self.start..self.start + self.len])
            .ok_or(FieldError::Invalid(self.start))?;
        Ok(names.iter().position(|n| n.bytes == name.as_slice()))
    }
}

impl<'a> Scan<'a> {
    /// At the start of `b`.
    #[inline]
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Scan { b, i: 0 }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips whitespace. Compact JSON has none between tokens, so the loop is kept out of
    /// line: in Wasm every loop entered costs an interruption check.
    #[inline(always)]
    pub(crate) fn ws(&mut self) {
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

    /// The document is invalid here.
    #[cold]
    pub(crate) fn bad(&self) -> FieldError {
        FieldError::Invalid(self.i)
    }

    /// At `"`: past the string; its raw contents and whether they have escapes. Escapes
    /// are passed over (a `\` and the byte after it), not checked.
    #[inline(always)]
    pub(crate) fn string(&mut self) -> Result<(&'a [u8], bool), FieldError> {
        let start = self.i + 1;
        match quote_or_backslash(self.b, start) {
            Some(k) if self.b[k] == b'"' => {
                self.i = k + 1;
                Ok((&self.b[start..k], false))
            }
            Some(k) => self.escaped_string(start, k),
            None => Err(FieldError::Invalid(self.b.len())),
        }
    }

    /// The rest of a string from its first backslash at `backslash`.
    #[cold]
    #[inline(never)]
    fn escaped_string(
        &mut self,
        start: usize,
        backslash: usize,
    ) -> Result<(&'a [u8], bool), FieldError> {
        let mut j = backslash + 2;
        loop {
            let k = quote_or_backslash(self.b, j).ok_or(FieldError::Invalid(self.b.len()))?;
            if self.b[k] == b'"' {
                self.i = k + 1;
                return Ok((&self.b[start..k], true));
            }
            j = k + 2;
        }
    }

    /// At a value: past it, and the value (a string unescaped).
    #[inline]
    pub(crate) fn value(&mut self) -> Result<Field<'a>, FieldError> {
        let start = self.i;
        match self.peek() {
            Some(b'"') => {
                let (raw, escaped) = self.string()?;
                if !escaped {
                    return Ok(Field::String(Cow::Borrowed(raw)));
                }
                unescape(raw)
                    .map(|s| Field::String(Cow::Owned(s)))
                    .ok_or(FieldError::Invalid(start + 1))
            }
            Some(b'{' | b'[') => {
                self.skip()?;
                Ok(Field::Composite(&self.b[start..self.i]))
            }
            Some(b't' | b'f' | b'n') => {
                self.skip()?;
                Ok(Field::Literal(&self.b[start..self.i]))
            }
            Some(b'-' | b'0'..=b'9') => {
                self.skip()?;
                Ok(Field::Number(&self.b[start..self.i]))
            }
            _ => Err(self.bad()),
        }
    }

    /// At a value: past it. Objects and arrays end where their brackets balance; other
    /// values at the next `,`, `}`, `]` or whitespace.
    #[inline]
    pub(crate) fn skip(&mut self) -> Result<(), FieldError> {
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

    /// Just past an object's `{`: whether the object is empty (then past its `}`).
    #[inline(always)]
    pub(crate) fn empty(&mut self) -> bool {
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return true;
        }
        false
    }

    /// At a member (or whitespace before it): its name, with the cursor past the `:` and
    /// at the value.
    #[inline(always)]
    pub(crate) fn key(&mut self) -> Result<Key, FieldError> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.bad());
        }
        let start = self.i + 1;
        let (name, escaped) = self.string()?;
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.bad());
        }
        self.i += 1;
        self.ws();
        Ok(Key {
            start,
            len: name.len(),
            escaped,
        })
    }

    /// At a member's value that is not wanted: past it.
    #[inline(always)]
    pub(crate) fn pass(&mut self) -> Result<(), FieldError> {
        // Strings, the most common values, are passed over without a call.
        if self.peek() == Some(b'"') {
            return self.string().map(drop);
        }
        self.skip()
    }

    /// Past a member's value: whether another member follows (then past the `,`), or the
    /// object ends (then past its `}`).
    #[inline(always)]
    pub(crate) fn more(&mut self) -> Result<bool, FieldError> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(true)
            }
            Some(b'}') => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(self.bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skipped(doc: &str) -> Result<usize, FieldError> {
        let mut s = Scan::new(doc.as_bytes());
        s.skip().map(|()| s.i)
    }

    #[test]
    fn skips_values_to_their_end() {
        assert_eq!(skipped(r#""a\"b" x"#), Ok(6));
        assert_eq!(skipped(r#"{"a": ["]", "}", {"b": "\\"}]} x"#), Ok(30));
        assert_eq!(skipped("-1.5e3,"), Ok(6));
        assert_eq!(skipped("true}"), Ok(4));
        assert_eq!(skipped("null"), Ok(4));
        assert!(skipped(",").is_err());
        assert!(skipped("").is_err());
        assert!(skipped("[1, 2").is_err());
        assert!(skipped(r#"["a\"]"#).is_err());
        assert!(skipped(r#""\"#).is_err());
    }

    #[test]
    fn strings_end_at_their_unescaped_quote() {
        for (doc, end, escaped) in [
            (r#""""#, 2, false),
            (r#""abc" "#, 5, false),
            (r#""a\\" "#, 5, true),
            (r#""a\\\"" "#, 7, true),
            (r#""\u0022" "#, 8, true),
        ] {
            let mut s = Scan::new(doc.as_bytes());
            let (raw, e) = s.string().unwrap();
            assert_eq!((s.i, e), (end, escaped), "{doc}");
            assert_eq!(raw, &doc.as_bytes()[1..end - 1]);
        }
    }
}
