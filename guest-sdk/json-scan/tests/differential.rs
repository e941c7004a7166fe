//! The scanner against serde_json on generated documents: every member's name and dotted
//! path, and absent ones, read with `FieldPath::find` and `fields`, must give what
//! serde_json reads (of duplicate names, the first: see `duplicates`).

mod common;

use common::{J, OValue, Style, check_document, check_field, object, parse, value};
use proptest::prelude::*;
use weir_json::{Field, FieldError, FieldPath};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Spelled by serde_json, compact and pretty (no duplicate names: its `Value` keeps
    /// one of each).
    #[test]
    fn documents_serde_json_writes(j in object()) {
        let v = j.to_serde();
        check_document(&serde_json::to_vec(&v).unwrap())?;
        check_document(&serde_json::to_vec_pretty(&v).unwrap())?;
    }

    /// Spelled with random whitespace and escapes (every escape form, `\u` in both cases,
    /// surrogate pairs, `\/`), duplicate names kept.
    #[test]
    fn documents_spelled_every_way(
        j in object(),
        seed in any::<u64>(),
        ws in prop_oneof![Just(0u64), Just(30), Just(100)],
        escape in prop_oneof![Just(0u64), Just(20), Just(100)],
    ) {
        let doc = Style::new(seed, ws, escape).document(&j);
        let oracle = parse(&doc);
        prop_assert!(oracle.is_some(), "serde_json rejects {:?}", common::text(&doc));
        check_document(&doc)?;
        // Numbers come back exactly as written.
        let J::Obj(members) = &j else { unreachable!() };
        for (name, _) in members {
            if name.contains('.') || name.is_empty() {
                continue;
            }
            if let Some(J::Num(n)) = j.member(name) {
                let found = FieldPath::parse(name).unwrap().find(&doc).unwrap();
                prop_assert_eq!(found, Field::Number(n.as_bytes()));
            }
        }
    }

    /// A document that is not an object is `NotAnObject` for both reads.
    #[test]
    fn values_that_are_not_objects(j in value(), seed in any::<u64>()) {
        prop_assume!(!matches!(j, J::Obj(_)));
        let doc = Style::new(seed, 30, 20).document(&j);
        prop_assert_eq!(FieldPath::parse("a").unwrap().find(&doc), Err(FieldError::NotAnObject));
        prop_assert_eq!(weir_json::fields(&doc, ["a"]), Err(FieldError::NotAnObject));
    }

    /// Of several members with the same name, both reads give the first (serde_json's
    /// `Value` keeps the last; the host has always read the first).
    #[test]
    fn duplicates(
        first in value(),
        between in prop::collection::vec((common::key(), value()), 0..4),
        last in value(),
        seed in any::<u64>(),
    ) {
        let mut members = vec![("dup".to_owned(), first.clone())];
        members.extend(between.into_iter().filter(|(k, _)| k != "dup"));
        members.push(("dup".to_owned(), last.clone()));
        let j = J::Obj(members);
        let doc = Style::new(seed, 30, 20).document(&j);
        let first_value = parse(&Style::new(seed, 0, 0).document(&first)).unwrap();
        let found = FieldPath::parse("dup").unwrap().find(&doc).unwrap();
        check_field(&found, &first_value)?;
        let [found] = weir_json::fields(&doc, ["dup"]).unwrap();
        check_field(&found.unwrap(), &first_value)?;
        // serde_json's `Value` keeps the last.
        let v: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        prop_assert_eq!(&v["dup"], &last.to_serde());
        // The oracle the other tests use keeps both, in order.
        let Some(OValue::Object(m)) = parse(&doc) else { unreachable!() };
        prop_assert_eq!(m.iter().filter(|(k, _)| k == "dup").count(), 2);
    }
}

/// A piece of a string's contents: an escape, valid or not, or plain text.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[a-zé😀/ ]{1,4}",
        2 => prop::sample::select(vec![
            r#"\""#, r"\\", r"\/", r"\b", r"\f", r"\n", r"\r", r"\t", r"\x", r"\U0041",
            r"\u", r"\u1", r"\u12", r"\u123", r"\u+123", r"\u-123", r"\u12g4",
        ])
        .prop_map(String::from),
        // Any code unit, surrogates most often, in either case.
        3 => prop_oneof![0xd800u32..0xe000, 0u32..0x10000]
            .prop_flat_map(|u| (Just(u), any::<bool>()))
            .prop_map(|(u, upper)| {
                let s = format!("{u:04x}");
                format!(r"\u{}", if upper { s.to_uppercase() } else { s })
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Strings of escapes, valid and invalid (lone and reversed surrogates, bad hex,
    /// unknown letters): the scanner reads a string exactly when serde_json does, and
    /// the same way.
    #[test]
    fn escapes_agree_with_serde_json(pieces in prop::collection::vec(piece(), 0..8)) {
        let doc = format!(r#"{{"a":"{}","b":1}}"#, pieces.concat());
        let doc = doc.as_bytes();
        let found = FieldPath::parse("a").unwrap().find(doc);
        let by_fields = weir_json::fields(doc, ["a"]);
        match parse(doc) {
            Some(v) => {
                let want = common::expected(&v, &["a"]).unwrap();
                check_field(&found.unwrap(), want)?;
                let [f] = by_fields.unwrap();
                check_field(&f.unwrap(), want)?;
            }
            None => {
                prop_assert!(matches!(found, Err(FieldError::Invalid(_))), "{:?}", found);
                prop_assert!(matches!(by_fields, Err(FieldError::Invalid(_))), "{:?}", by_fields);
            }
        }
    }
}
