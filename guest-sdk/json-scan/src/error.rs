//! Why a field could not be read.

use std::fmt;

/// Why a field could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    /// The document is not a JSON object.
    NotAnObject,
    /// The field is not there: a name of the path is absent, or names a value that is not
    /// an object while the path goes on. ([`fields`](crate::fields()) returns `None` for an
    /// absent field instead.)
    Missing,
    /// The document is not valid JSON where the scanner looked, at this byte.
    Invalid(usize),
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::NotAnObject => f.write_str("the value is not a JSON object"),
            FieldError::Missing => f.write_str("the field is missing"),
            FieldError::Invalid(at) => write!(f, "the value is not valid JSON (at byte {at})"),
        }
    }
}

impl std::error::Error for FieldError {}

#[cfg(test)]
mod tests {
    use super::FieldError;

    #[test]
    fn messages() {
        assert_eq!(
            FieldError::NotAnObject.to_string(),
            "the value is not a JSON object"
        );
        assert_eq!(FieldError::Missing.to_string(), "the field is missing");
        assert_eq!(
            FieldError::Invalid(7).to_string(),
            "the value is not valid JSON (at byte 7)"
        );
    }
}
