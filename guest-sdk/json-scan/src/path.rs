//! One dotted path into nested objects, and reading it.

use crate::error::FieldError;
use crate::field::Field;
use crate::name::{Name, Words};
use crate::scan::Scan;

/// A dotted path into nested objects, e.g. `"user.id"`: each segment names a member of
/// the object the previous one named. (A name with a `.` in it cannot be reached.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    segments: Vec<Segment>,
    text: String,
}

/// One name of a path, with its words for the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    bytes: Vec<u8>,
    words: Words,
}

impl FieldPath {
    /// Parses `"a.b.c"`. An empty path or an empty segment is an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("a field path cannot be empty".into());
        }
        let segments: Vec<Segment> = text
            .split('.')
            .map(|s| Segment {
                bytes: s.as_bytes().to_vec(),
                words: Words::of(s.as_bytes()),
            })
            .collect();
        if segments.iter().any(|s| s.bytes.is_empty()) {
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

    /// Finds the field in `doc`: [`FieldError::NotAnObject`] if `doc` is not an object,
    /// [`FieldError::Missing`] if a segment is absent or a segment before the last names
    /// something other than an object. The first of several members with the same name
    /// is the one read.
    pub fn find<'a>(&self, doc: &'a [u8]) -> Result<Field<'a>, FieldError> {
        let mut s = Scan::new(doc);
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
            let name = [Name {
                bytes: &seg.bytes,
                words: seg.words,
            }];
            if s.empty() {
                return Err(FieldError::Missing);
            }
            loop {
                if s.key()?.position(s.b, &name)?.is_some() {
                    break;
                }
                s.pass()?;
                if !s.more()? {
                    return Err(FieldError::Missing);
                }
            }
        }
        s.value()
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn find<'a>(path: &str, doc: &'a str) -> Result<Field<'a>, FieldError> {
        FieldPath::parse(path).unwrap().find(doc.as_bytes())
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
        assert_eq!(find("user.name.x", doc), Err(FieldError::Missing));
    }

    #[test]
    fn strings_borrow_unless_they_have_escapes() {
        let doc = r#"{"plain": "abc", "escaped": "a\tb"}"#;
        assert!(matches!(
            find("plain", doc).unwrap(),
            Field::String(Cow::Borrowed(b"abc"))
        ));
        assert_eq!(
            find("escaped", doc).unwrap(),
            Field::String(Cow::Owned(b"a\tb".to_vec()))
        );
    }

    #[test]
    fn surrogate_pairs_unescape() {
        assert_eq!(
            find("a", r#"{"a":"\ud83d\ude00"}"#).unwrap().key_bytes(),
            "😀".as_bytes()
        );
    }

    #[test]
    fn names_with_escapes_match_their_unescaped_text() {
        let doc = r#"{"\u0061": 1, "b\"c": 2, "d\\": 3, "\ud83d\ude00": 4}"#;
        assert_eq!(find("a", doc), Ok(Field::Number(b"1")));
        assert_eq!(find("b\"c", doc), Ok(Field::Number(b"2")));
        assert_eq!(find("d\\", doc), Ok(Field::Number(b"3")));
        assert_eq!(find("😀", doc), Ok(Field::Number(b"4")));
        assert!(matches!(
            find("x", r#"{"\u00zz": 1}"#),
            Err(FieldError::Invalid(_))
        ));
    }

    #[test]
    fn the_first_of_duplicate_names_wins() {
        let doc = r#"{"a": 1, "u": {"x": "first"}, "a": 2, "u": {"x": "second", "y": 3}}"#;
        assert_eq!(find("a", doc), Ok(Field::Number(b"1")));
        assert_eq!(find("u.x", doc).unwrap().key_bytes(), b"first");
        // The path does not look into the second `u`.
        assert_eq!(find("u.y", doc), Err(FieldError::Missing));
    }

    #[test]
    fn rejects_what_is_not_an_object_or_not_json() {
        assert_eq!(find("a", "[1]"), Err(FieldError::NotAnObject));
        assert_eq!(find("a", "not json"), Err(FieldError::NotAnObject));
        assert_eq!(find("a", ""), Err(FieldError::NotAnObject));
        assert_eq!(find("a", "  "), Err(FieldError::NotAnObject));
        assert!(matches!(
            find("b", r#"{"a": "unterminated}"#),
            Err(FieldError::Invalid(_))
        ));
        assert!(matches!(
            find("b", r#"{"a" 1}"#),
            Err(FieldError::Invalid(_))
        ));
        assert!(matches!(
            find("a", r#"{"a": }"#),
            Err(FieldError::Invalid(_))
        ));
        assert!(matches!(
            find("a", r#"{"a": x}"#),
            Err(FieldError::Invalid(_))
        ));
        assert!(matches!(
            find("a", r#"{"a": "\x"}"#),
            Err(FieldError::Invalid(7))
        ));
        assert!(matches!(
            find("b", r#"{"a": 1,}"#),
            Err(FieldError::Invalid(_))
        ));
        assert!(matches!(
            find("b", r#"{"a": 1"#),
            Err(FieldError::Invalid(_))
        ));
        assert_eq!(find("a", " {} "), Err(FieldError::Missing));
    }

    #[test]
    fn paths_parse_into_segments() {
        assert!(FieldPath::parse("a..b").is_err());
        assert!(FieldPath::parse("").is_err());
        assert!(FieldPath::parse(".a").is_err());
        assert!(FieldPath::parse("a.").is_err());
        let p = FieldPath::parse("user.id").unwrap();
        assert_eq!(p.as_str(), "user.id");
        assert_eq!(p, FieldPath::parse("user.id").unwrap());
        assert_ne!(p, FieldPath::parse("user.ids").unwrap());
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
