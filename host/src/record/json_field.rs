//! Reads one field out of a JSON document without parsing the rest of it.
//!
//! Keys (`key_by = { field = ... }`) and event timestamps (`event_time.field`) come from a
//! field of each record's JSON value. Parsing every record into a tree to read one field
//! would cost more than the rest of the host's work on it, so the scanner walks the
//! document once, skipping the values it does not need. It is the `weir-json` crate,
//! which guest functions read their fields with too (through `weir_sdk::json`): its tests
//! check it against serde_json.
//!
//! - [`FieldPath`]: a dotted path (`"user.id"`), parsed once; [`FieldPath::find`] reads it.
//! - [`Field`]: what was read (a string unescaped, anything else as written), with
//!   [`Field::key_bytes`] and [`Field::epoch_millis`].
//! - [`FieldError`]: why it could not be read.

pub use weir_json::{Field, FieldError, FieldPath};

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    // The scanner's own tests are in `weir-json`; these pin what the host shows and
    // matches on.

    #[test]
    fn keys_and_timestamps_read_through_the_shared_scanner() {
        let path = FieldPath::parse("user.id").unwrap();
        assert_eq!(path.as_str(), "user.id");
        let doc: &[u8] = br#"{"t": "1700000000000", "user": {"id": "u\u00e9"}, "n": 7}"#;
        let found: Result<Field<'_>, FieldError> = path.find(doc);
        assert_eq!(
            found,
            Ok(Field::String(Cow::Owned("ué".as_bytes().to_vec())))
        );
        let t = FieldPath::parse("t").unwrap().find(doc).unwrap();
        assert_eq!(t.epoch_millis(), Ok(1_700_000_000_000));
        let n = FieldPath::parse("n").unwrap().find(doc).unwrap();
        assert_eq!(n, Field::Number(b"7"));
        assert_eq!(n.key_bytes(), b"7");
    }

    #[test]
    fn errors_read_as_before() {
        assert!(FieldPath::parse("a..b").is_err());
        let find =
            |path: &str, doc: &'static str| FieldPath::parse(path).unwrap().find(doc.as_bytes());
        assert_eq!(find("a", "[1]"), Err(FieldError::NotAnObject));
        assert_eq!(find("a", "{}"), Err(FieldError::Missing));
        assert!(matches!(
            find("a", r#"{"a" 1}"#),
            Err(FieldError::Invalid(_))
        ));
        assert_eq!(
            FieldError::NotAnObject.to_string(),
            "the value is not a JSON object"
        );
        assert_eq!(FieldError::Missing.to_string(), "the field is missing");
        assert_eq!(
            FieldError::Invalid(3).to_string(),
            "the value is not valid JSON (at byte 3)"
        );
        let e: &dyn std::error::Error = &FieldError::Missing;
        assert_eq!(e.to_string(), "the field is missing");
    }
}
