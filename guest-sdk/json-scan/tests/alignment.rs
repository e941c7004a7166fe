//! Documents longer than the search's steps, with names and string contents starting at
//! every position modulo sixteen and ending at every distance from the document's end:
//! the sixteen-byte blocks, the first forty-eight bytes handled without a loop, the
//! byte-by-byte tail, and the word-wise name comparison near the end of the document.

mod common;

use common::check_document;
use weir_json::{Field, FieldPath};

/// A string's contents of `len` bytes, with `special` (a `"` or `\` to escape, or a
/// two-byte character) at `at`, if any.
fn contents(len: usize, at: Option<usize>, special: &str) -> String {
    let mut s: String = (0..len).map(|k| (b'a' + (k % 26) as u8) as char).collect();
    if let Some(at) = at.filter(|&a| a < len) {
        s.replace_range(at..at + 1, special);
    }
    s
}

#[test]
fn strings_and_names_at_every_alignment() {
    let mut checked = 0;
    for shift in 0..16 {
        let pad = "p".repeat(shift);
        for len in 0..=70usize {
            for at in [
                None,
                Some(0),
                Some(1),
                Some(7),
                Some(15),
                Some(16),
                Some(31),
            ]
            .into_iter()
            .chain([Some(47), Some(48), Some(63), Some(len.saturating_sub(1))])
            {
                for special in ["\"", "\\", "é"] {
                    let value = contents(len, at, special);
                    let name = contents(len % 21, None, "");
                    let doc = format!(
                        r#"{{"pad":{},{}:{},"z":1}}"#,
                        serde_json::to_string(&pad).unwrap(),
                        serde_json::to_string(&name).unwrap(),
                        serde_json::to_string(&value).unwrap(),
                    );
                    let doc = doc.as_bytes();
                    if !name.is_empty() && name != "pad" && name != "z" {
                        let found = FieldPath::parse(&name).unwrap().find(doc).unwrap();
                        assert_eq!(found.key_bytes(), value.as_bytes(), "{}", common::text(doc));
                        let [found] = weir_json::fields(doc, [name.as_str()]).unwrap();
                        assert_eq!(found.unwrap().key_bytes(), value.as_bytes());
                    }
                    let z = FieldPath::parse("z").unwrap().find(doc).unwrap();
                    assert_eq!(z, Field::Number(b"1"), "{}", common::text(doc));
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 10_000);
}

#[test]
fn names_near_the_end_of_the_document() {
    // The last member's name ends 0 to 20 bytes before the document does, so the words
    // of a name are sometimes read whole and sometimes byte by byte.
    for len in 1..=20 {
        let name = contents(len, None, "");
        for value_len in 0..20 {
            let value = "7".repeat(value_len.max(1));
            for other in [&name[..len - 1], &name[..], "x"] {
                let doc = format!(r#"{{"{other}":{value}}}"#);
                let found = FieldPath::parse(&name).unwrap().find(doc.as_bytes());
                if other == name {
                    assert_eq!(found, Ok(Field::Number(value.as_bytes())), "{doc}");
                } else {
                    assert!(found.is_err(), "{doc}");
                }
            }
        }
    }
}

#[test]
fn documents_at_every_address_alignment() {
    // The same document at sixteen addresses: the blocks are read unaligned.
    let doc = br#"{"a": "0123456789abcdef0123456789abcdef0123456789abcdef\"x", "event_time": 1700000000000, "user": {"id": "\ud83d\ude00"}}"#;
    let mut buf = vec![0u8; doc.len() + 32];
    for off in 0..16 {
        buf[off..off + doc.len()].copy_from_slice(doc);
        let d = &buf[off..off + doc.len()];
        let [t, a] = weir_json::fields(d, ["event_time", "a"]).unwrap();
        assert_eq!(t.unwrap().epoch_millis(), Ok(1_700_000_000_000));
        assert_eq!(
            a.unwrap().key_bytes(),
            b"0123456789abcdef0123456789abcdef0123456789abcdef\"x"
        );
        let id = FieldPath::parse("user.id").unwrap().find(d).unwrap();
        assert_eq!(id.key_bytes(), "😀".as_bytes());
        check_document(d).unwrap();
    }
}
