//! Several top-level fields of an object, read in one pass.

use crate::error::FieldError;
use crate::field::Field;
use crate::name::Name;
use crate::scan::Scan;

/// The top-level fields `names` of the JSON object `doc`, in the order asked (`None` for
/// an absent field).
///
/// The walk stops as soon as every name was found. The first of several members with the
/// same name is the one read; a name asked for twice reads the same field twice. Errors
/// with [`FieldError::NotAnObject`] if `doc` is not an object, [`FieldError::Invalid`]
/// if it is malformed where it is read (never [`FieldError::Missing`]).
///
/// ```
/// let doc = br#"{"user":"u1","kind":"view","at":"1700000000000","extra":[1,2,{"x":"}"}]}"#;
/// let [kind, at, none] = weir_json::fields(doc, ["kind", "at", "none"]).unwrap();
/// assert_eq!(kind.unwrap().key_bytes(), b"view");
/// assert_eq!(at.unwrap().epoch_millis(), Ok(1_700_000_000_000));
/// assert_eq!(none, None);
/// ```
pub fn fields<'a, const N: usize>(
    doc: &'a [u8],
    names: [&str; N],
) -> Result<[Option<Field<'a>>; N], FieldError> {
    fields_with(doc, names, Ok)
}

/// [`fields`], each field converted by `convert` as it is read (as the SDK turns strings
/// into text), into one array: no second pass over the fields. An error of `convert`
/// ends the read.
///
/// ```
/// let doc = br#"{"a": "x", "b": 2}"#;
/// let [a, b] = weir_json::fields_with(doc, ["a", "b"], |f| {
///     Ok::<_, weir_json::FieldError>(f.key_bytes().len())
/// })
/// .unwrap();
/// assert_eq!((a, b), (Some(1), Some(1)));
/// ```
#[inline]
pub fn fields_with<'a, T: Clone, E: From<FieldError>, const N: usize>(
    doc: &'a [u8],
    names: [&str; N],
    mut convert: impl FnMut(Field<'a>) -> Result<T, E>,
) -> Result<[Option<T>; N], E> {
    let mut out: [Option<T>; N] = std::array::from_fn(|_| None);
    let wanted = names.map(|n| Name::new(n.as_bytes()));
    let mut found = 0;
    let mut s = Scan::new(doc);
    s.ws();
    if s.peek() != Some(b'{') {
        return Err(FieldError::NotAnObject.into());
    }
    s.i += 1;
    if !s.empty() {
        loop {
            let key = s.key()?;
            match key.position(s.b, &wanted)? {
                Some(k) if out[k].is_none() => {
                    out[k] = Some(convert(s.value()?)?);
                    found += 1;
                    if found == N {
                        return Ok(out);
                    }
                }
                _ => s.pass()?,
            }
            if !s.more()? {
                break;
            }
        }
    }
    same_name_twice(&names, &mut out);
    Ok(out)
}

/// Fills the field of a name asked for twice from its first ask, which is the one the
/// walk reads. (Only a walk that did not find every name can have asked twice, so the
/// common path never comes here.)
#[cold]
#[inline(never)]
fn same_name_twice<T: Clone>(names: &[&str], out: &mut [Option<T>]) {
    for k in 0..names.len() {
        if out[k].is_none()
            && let Some(j) = (0..k).find(|&j| names[j] == names[k])
        {
            out[k] = out[j].clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    #[test]
    fn reads_the_fields_asked_for() {
        let doc =
            br#" { "a" : 1, "s": "x\"y", "n": {"deep": ["]", "}"]}, "b": true, "e": "\u00e9" } "#;
        let [b, s, a, e, n, missing] = fields(doc, ["b", "s", "a", "e", "n", "zz"]).unwrap();
        assert_eq!(b, Some(Field::Literal(b"true")));
        assert_eq!(s, Some(Field::String(Cow::Owned(b"x\"y".to_vec()))));
        assert_eq!(a, Some(Field::Number(b"1")));
        assert_eq!(e.unwrap().key_bytes(), "é".as_bytes());
        assert_eq!(n, Some(Field::Composite(br#"{"deep": ["]", "}"]}"#)));
        assert_eq!(missing, None);
    }

    #[test]
    fn rejects_what_is_not_an_object() {
        assert_eq!(fields(b"[1]", ["a"]), Err(FieldError::NotAnObject));
        assert_eq!(fields(b"not json", ["a"]), Err(FieldError::NotAnObject));
        assert_eq!(fields(b"", ["a"]), Err(FieldError::NotAnObject));
        assert!(matches!(
            fields(br#"{"a": "unterminated"#, ["a"]),
            Err(FieldError::Invalid(_))
        ));
        assert!(matches!(
            fields(br#"{"a" 1}"#, ["a"]),
            Err(FieldError::Invalid(_))
        ));
        assert_eq!(fields(b"{}", ["a"]), Ok([None]));
        assert_eq!(fields(b"{}", []), Ok([]));
    }

    #[test]
    fn stops_once_everything_is_found() {
        // What follows the last field asked for is not read.
        let [a] = fields(br#"{"a": 1, this is not JSON"#, ["a"]).unwrap();
        assert_eq!(a, Some(Field::Number(b"1")));
        assert!(fields(br#"{"a": 1, this is not JSON"#, ["a", "b"]).is_err());
    }

    #[test]
    fn an_error_of_the_conversion_ends_the_read() {
        let doc = br#"{"a": 1, "b": "x", "c": 3}"#;
        let read = |f: Field<'_>| match f {
            Field::String(_) => Err(FieldError::Invalid(0)),
            other => Ok(other.key_bytes().len()),
        };
        assert_eq!(fields_with(doc, ["a", "c"], read), Ok([Some(1), Some(1)]));
        assert_eq!(
            fields_with(doc, ["a", "b", "c"], read),
            Err(FieldError::Invalid(0))
        );
    }

    #[test]
    fn duplicates_read_their_first_occurrence() {
        let doc = br#"{"a": 1, "b": 2, "a": 3}"#;
        assert_eq!(
            fields(doc, ["a", "b", "a", "c"]).unwrap(),
            [
                Some(Field::Number(b"1")),
                Some(Field::Number(b"2")),
                Some(Field::Number(b"1")),
                None
            ]
        );
        assert_eq!(
            fields(doc, ["a", "a"]).unwrap(),
            [Some(Field::Number(b"1")), Some(Field::Number(b"1"))]
        );
    }
}
