//! What the differential tests share: serde_json as the oracle (with members kept in
//! order, duplicates included), generators of JSON values, and a writer that spells
//! them in many ways.

#![allow(dead_code)]

use std::fmt;

use proptest::prelude::*;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use weir_json::{Field, FieldError, FieldPath};

// ---------------------------------------------------------------------------------------
// The oracle

/// A JSON value as serde_json reads it, with an object's members in document order and
/// duplicate names kept (serde_json's own `Value` keeps only the last).
#[derive(Debug, Clone, PartialEq)]
pub enum OValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<OValue>),
    Object(Vec<(String, OValue)>),
}

impl<'de> Deserialize<'de> for OValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OVisitor)
    }
}

struct OVisitor;

impl<'de> Visitor<'de> for OVisitor {
    type Value = OValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<OValue, E> {
        Ok(OValue::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<OValue, E> {
        Ok(OValue::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<OValue, E> {
        Ok(OValue::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<OValue, E> {
        serde_json::Number::from_f64(v)
            .map(OValue::Number)
            .ok_or_else(|| E::custom("not a finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<OValue, E> {
        Ok(OValue::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<OValue, E> {
        Ok(OValue::String(v))
    }

    fn visit_unit<E>(self) -> Result<OValue, E> {
        Ok(OValue::Null)
    }

    fn visit_none<E>(self) -> Result<OValue, E> {
        Ok(OValue::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OValue, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(OValue::Array(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OValue, A::Error> {
        let mut v = Vec::new();
        while let Some((k, x)) = map.next_entry::<String, OValue>()? {
            v.push((k, x));
        }
        Ok(OValue::Object(v))
    }
}

/// `doc` as serde_json reads it, if it does.
pub fn parse(doc: &[u8]) -> Option<OValue> {
    serde_json::from_slice(doc).ok()
}

/// What reading `path` in `doc` should give: the first member of each name.
pub fn expected<'v>(doc: &'v OValue, path: &[&str]) -> Result<&'v OValue, FieldError> {
    let OValue::Object(_) = doc else {
        return Err(FieldError::NotAnObject);
    };
    let mut cur = doc;
    for seg in path {
        let OValue::Object(members) = cur else {
            return Err(FieldError::Missing);
        };
        cur = members
            .iter()
            .find(|(k, _)| k == seg)
            .map(|(_, v)| v)
            .ok_or(FieldError::Missing)?;
    }
    Ok(cur)
}

/// Checks that `found` is `want`: strings equal after unescaping, numbers parse to the same
/// number, literals are the same text, composites re-parse to the same value. Also checks
/// `epoch_millis` against the value.
pub fn check_field(found: &Field<'_>, want: &OValue) -> Result<(), TestCaseError> {
    match (found, want) {
        (Field::String(s), OValue::String(w)) => {
            prop_assert_eq!(s.as_ref(), w.as_bytes());
        }
        (Field::Number(raw), OValue::Number(_)) => {
            prop_assert_eq!(parse(raw), Some(want.clone()), "{:?}", text(raw));
        }
        (Field::Literal(raw), OValue::Bool(b)) => {
            prop_assert_eq!(*raw, if *b { &b"true"[..] } else { b"false" });
        }
        (Field::Literal(raw), OValue::Null) => prop_assert_eq!(*raw, b"null"),
        (Field::Composite(raw), OValue::Array(_) | OValue::Object(_)) => {
            prop_assert_eq!(parse(raw), Some(want.clone()), "{:?}", text(raw));
        }
        _ => prop_assert!(false, "found {:?}, expected {:?}", found, want),
    }
    check_epoch_millis(found, want)
}

/// `epoch_millis` against the value serde_json read.
fn check_epoch_millis(found: &Field<'_>, want: &OValue) -> Result<(), TestCaseError> {
    let got = found.epoch_millis();
    match want {
        OValue::Number(n) => {
            if let Some(i) = n.as_i64() {
                prop_assert_eq!(got, Ok(i));
            } else if n.is_u64() {
                // Above i64::MAX, so above 9.2e18.
                prop_assert!(got.is_err());
            } else {
                // serde_json's float parsing may differ from Rust's by an ulp: allow it.
                let f = n.as_f64().unwrap();
                let slack = 1.0f64.max(f.abs() * 1e-15);
                match got {
                    Ok(v) => prop_assert!(
                        (v as f64 - f.trunc()).abs() <= slack && f.abs() < 9.2e18 + slack,
                        "{} for {}",
                        v,
                        f
                    ),
                    Err(_) => prop_assert!(f.abs() >= 9.2e18 - slack, "{}", f),
                }
            }
        }
        OValue::String(s) => {
            let want = s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && v.abs() < 9.2e18)
                    .map(|v| v.trunc() as i64)
            });
            prop_assert_eq!(got.ok(), want, "{:?}", s);
        }
        _ => prop_assert!(got.is_err()),
    }
    Ok(())
}

/// Bytes for a message.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Checks that a borrowed field lies inside `doc`.
pub fn check_inside(found: &Field<'_>, doc: &[u8]) -> Result<(), TestCaseError> {
    let inside = |b: &[u8]| {
        let r = doc.as_ptr_range();
        b.is_empty() || (r.start <= b.as_ptr() && b.as_ptr_range().end <= r.end)
    };
    match found {
        Field::String(std::borrow::Cow::Borrowed(b))
        | Field::Number(b)
        | Field::Literal(b)
        | Field::Composite(b) => prop_assert!(inside(b)),
        Field::String(std::borrow::Cow::Owned(_)) => {}
    }
    Ok(())
}

/// The dotted paths worth asking of `doc`: every member's name reachable through objects
/// (to depth four), names that are absent, and paths through non-objects.
pub fn paths(doc: &OValue) -> Vec<String> {
    fn walk(v: &OValue, prefix: &str, depth: usize, out: &mut Vec<String>) {
        let OValue::Object(members) = v else { return };
        for (k, x) in members {
            if k.is_empty() || k.contains('.') {
                continue;
            }
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if !out.contains(&p) {
                out.push(p.clone());
                // One step into whatever is there, object or not.
                out.push(format!("{p}.a"));
            }
            if depth < 4 {
                walk(x, &p, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(doc, "", 0, &mut out);
    for absent in [
        "zz",
        "a",
        "id",
        "abcdefghijklmnop",
        "abcdefghijklmnopq",
        "é",
    ] {
        out.push(absent.to_owned());
    }
    out
}

/// The top-level names worth asking of `doc` with `fields`: all of them (dots and empty
/// names included), and absent ones.
pub fn names(doc: &OValue) -> Vec<String> {
    let mut out = Vec::new();
    if let OValue::Object(members) = doc {
        for (k, _) in members {
            if !out.contains(k) {
                out.push(k.clone());
            }
        }
    }
    out.extend(["zz", "a", "", "abcdefghijklmnopq"].map(String::from));
    out
}

/// Reads every path and name of `names`/`paths` in `doc`, checking each against serde_json
/// when it reads `doc` as an object (and that nothing read lies outside `doc` in any
/// case).
pub fn check_document(doc: &[u8]) -> Result<(), TestCaseError> {
    let oracle = parse(doc);
    let (paths, names) = match &oracle {
        Some(v) => (paths(v), names(v)),
        None => (
            ["a", "a.b", "id", "zz"].map(String::from).to_vec(),
            ["a", "b", "", "id"].map(String::from).to_vec(),
        ),
    };
    for p in &paths {
        let path = FieldPath::parse(p).unwrap();
        let found = path.find(doc);
        if let Ok(f) = &found {
            check_inside(f, doc)?;
        }
        let Some(v) = &oracle else { continue };
        let segments: Vec<&str> = p.split('.').collect();
        match (found, expected(v, &segments)) {
            (Ok(f), Ok(w)) => check_field(&f, w)?,
            (got, want) => prop_assert_eq!(got.map(|_| ()), want.map(|_| ()), "path {}", p),
        }
    }
    for chunk in names.chunks(4) {
        let ask: [&str; 4] = std::array::from_fn(|k| chunk.get(k).map_or("zz", |s| s.as_str()));
        let found = weir_json::fields(doc, ask);
        if let Ok(fs) = &found {
            for f in fs.iter().flatten() {
                check_inside(f, doc)?;
            }
        }
        let Some(v) = &oracle else { continue };
        if !matches!(v, OValue::Object(_)) {
            prop_assert_eq!(found, Err(FieldError::NotAnObject));
            continue;
        }
        let found = found.map_err(|e| TestCaseError::fail(format!("{e} for {ask:?}")))?;
        for (name, f) in ask.iter().zip(&found) {
            match (f, expected(v, &[name])) {
                (Some(f), Ok(w)) => check_field(f, w)?,
                (None, Err(FieldError::Missing)) => {}
                (f, w) => prop_assert!(false, "{:?}: found {:?}, expected {:?}", name, f, w),
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Generators

/// A JSON value as generated: numbers keep the text they are written with, objects keep
/// duplicate names.
#[derive(Debug, Clone)]
pub enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

/// Numbers of every shape: signs, zero, fractions, exponents of both cases and signs,
/// integers beyond i64 and u64, and some edge cases.
pub fn number() -> impl Strategy<Value = String> {
    let shaped = (
        any::<bool>(),
        prop_oneof![Just("0".to_owned()), "[1-9][0-9]{0,24}"],
        prop::option::of("[0-9]{1,20}"),
        prop::option::of(("[eE]", "[+-]?", "[0-9]{1,2}")),
    )
        .prop_map(|(neg, int, frac, exp)| {
            let mut s = String::new();
            if neg {
                s.push('-');
            }
            s.push_str(&int);
            if let Some(f) = frac {
                s.push('.');
                s.push_str(&f);
            }
            if let Some((e, sign, digits)) = exp {
                s.push_str(&e);
                s.push_str(&sign);
                s.push_str(&digits);
            }
            s
        });
    prop_oneof![
        4 => shaped,
        1 => prop::sample::select(vec![
            "0", "-0", "0.0", "-0.0", "1E+00", "1e-99", "9223372036854775807",
            "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
            "18446744073709551615", "18446744073709551616", "1700000000000",
            "1700000000000.999", "9.2e18", "-9.1e18", "12345678", "1234567890123456",
        ])
        .prop_map(String::from),
    ]
}

/// Characters for strings: mostly plain, with quotes, backslashes, control characters,
/// slashes, structural characters and all of Unicode.
pub fn character() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => prop::char::range('a', 'z'),
        1 => Just('"'),
        1 => Just('\\'),
        1 => prop::char::range('\0', '\u{1f}'),
        2 => prop::sample::select(vec![
            '/', '{', '}', '[', ']', ':', ',', ' ', 'é', '€', '😀', '\u{2028}', '\u{7f}',
            '\u{ffff}', '\u{10ffff}', '\u{d7ff}', '\u{e000}',
        ]),
        2 => any::<char>(),
    ]
}

/// Strings: short, long (past the sixteen- and forty-eight-byte steps), and ones holding
/// numbers (timestamps as strings).
pub fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(character(), 0..20).prop_map(|c| c.into_iter().collect()),
        2 => prop::collection::vec(character(), 20..120).prop_map(|c| c.into_iter().collect()),
        1 => "-?[0-9]{1,19}",
        1 => "[0-9]{8,16}",
        1 => "-?[0-9]{1,5}\\.[0-9]{1,4}",
        1 => prop::sample::select(vec!["1700000000000", "+5", "soon", "", "1e3", "inf"])
            .prop_map(String::from),
    ]
}

/// Member names: mostly from a small set (so names repeat, and collide with the names
/// asked for), sometimes any string.
pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "a", "b", "c", "id", "ab", "user", "event_time", "ad_id", "é", "a.b", "",
            "abcdefgh", "abcdefghi", "abcdefghijklmnop", "abcdefghijklmnopq", "k\"q", "x\\y",
            "😀", "\0", "zz",
        ])
        .prop_map(String::from),
        1 => string(),
    ]
}

/// Any value, nested up to four deep.
pub fn value() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        number().prop_map(J::Num),
        string().prop_map(J::Str),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(J::Arr),
            prop::collection::vec((key(), inner), 0..6).prop_map(J::Obj),
        ]
    })
}

/// A document: an object of up to twelve members.
pub fn object() -> impl Strategy<Value = J> {
    prop::collection::vec((key(), value()), 0..12).prop_map(J::Obj)
}

impl J {
    /// This value as serde_json's `Value` (of duplicate names, the last).
    pub fn to_serde(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Num(n) => serde_json::from_str(n).expect("generated numbers are in range"),
            J::Str(s) => Value::String(s.clone()),
            J::Arr(v) => Value::Array(v.iter().map(J::to_serde).collect()),
            J::Obj(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_serde())).collect()),
        }
    }

    /// The first member named `name`, if this is an object that has one.
    pub fn member(&self, name: &str) -> Option<&J> {
        match self {
            J::Obj(m) => m.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The writer

/// How a document is spelled: where whitespace goes, which characters are escaped and
/// how. Its choices come from a seeded generator, so a failing case replays.
pub struct Style {
    state: u64,
    /// Percent of token boundaries with whitespace.
    pub ws: u64,
    /// Percent of characters escaped when they need not be.
    pub escape: u64,
}

impl Style {
    /// A style from a seed, with the given whitespace and escape rates (percent).
    pub fn new(seed: u64, ws: u64, escape: u64) -> Self {
        Style {
            state: seed,
            ws,
            escape,
        }
    }

    /// The next pseudo-random number (splitmix64).
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// Whitespace, sometimes.
    fn space(&mut self, out: &mut Vec<u8>) {
        if self.chance(self.ws) {
            for _ in 0..1 + self.next() % 4 {
                out.push([b' ', b'\t', b'\n', b'\r'][(self.next() % 4) as usize]);
            }
        }
    }

    /// `\u` and four hex digits, in either case.
    fn hex(&mut self, out: &mut Vec<u8>, unit: u32) {
        let s = format!("\\u{unit:04x}");
        if self.chance(50) {
            out.extend_from_slice(s.as_bytes());
        } else {
            out.extend_from_slice(s.to_uppercase().replace("\\U", "\\u").as_bytes());
        }
    }

    /// `s` as a JSON string, quotes included.
    pub fn string(&mut self, s: &str, out: &mut Vec<u8>) {
        out.push(b'"');
        for c in s.chars() {
            let free = self.chance(self.escape);
            match c {
                '"' | '\\' if !free => {
                    out.push(b'\\');
                    out.push(c as u8);
                }
                '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' if !free => {
                    out.push(b'\\');
                    out.push(match c {
                        '\u{8}' => b'b',
                        '\u{c}' => b'f',
                        '\n' => b'n',
                        '\r' => b'r',
                        _ => b't',
                    });
                }
                '/' if free => out.extend_from_slice(b"\\/"),
                c if free || (c as u32) < 0x20 || c == '"' || c == '\\' => {
                    let mut units = [0u16; 2];
                    for &u in c.encode_utf16(&mut units).iter() {
                        self.hex(out, u32::from(u));
                    }
                }
                c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        out.push(b'"');
    }

    /// `j` as JSON.
    pub fn write(&mut self, j: &J, out: &mut Vec<u8>) {
        match j {
            J::Null => out.extend_from_slice(b"null"),
            J::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            J::Num(n) => out.extend_from_slice(n.as_bytes()),
            J::Str(s) => self.string(s, out),
            J::Arr(v) => {
                out.push(b'[');
                for (k, x) in v.iter().enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    self.space(out);
                    self.write(x, out);
                    self.space(out);
                }
                out.push(b']');
            }
            J::Obj(m) => {
                out.push(b'{');
                self.space(out);
                for (k, (name, x)) in m.iter().enumerate() {
                    if k > 0 {
                        out.push(b',');
                        self.space(out);
                    }
                    self.string(name, out);
                    self.space(out);
                    out.push(b':');
                    self.space(out);
                    self.write(x, out);
                    self.space(out);
                }
                out.push(b'}');
            }
        }
    }

    /// `j` as a document: with zero to fifteen bytes of whitespace before it (so what
    /// follows lands at every position modulo sixteen) and some after.
    pub fn document(&mut self, j: &J) -> Vec<u8> {
        let mut out = vec![b' '; (self.next() % 16) as usize];
        self.write(j, &mut out);
        self.space(&mut out);
        out
    }
}
