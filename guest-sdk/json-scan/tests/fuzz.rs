//! Fuzz-style: arbitrary bytes, and valid documents broken (truncated, bytes flipped,
//! inserted or removed). Nothing may panic or return bytes from outside the document;
//! whenever serde_json still reads the result, the scanner must read it the same way.

mod common;

use common::{Style, check_document, object};
use proptest::prelude::*;

/// Bytes weighted toward JSON's own, so the scanner gets deep into its states.
fn json_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => prop::sample::select(b"{}[]\":,\\ \t\n0123456789-+.eEtruefalsn/abu".to_vec()),
        1 => any::<u8>(),
    ]
}

/// A way to break a document.
#[derive(Debug, Clone)]
enum Mutation {
    /// Set the byte at (this modulo the length) to the value.
    Set(usize, u8),
    /// Insert the byte there.
    Insert(usize, u8),
    /// Remove the byte there.
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), json_byte()).prop_map(|(at, b)| Mutation::Set(at, b)),
        (any::<usize>(), json_byte()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn apply(doc: &mut Vec<u8>, m: &Mutation) {
    if doc.is_empty() {
        return;
    }
    match *m {
        Mutation::Set(at, b) => {
            let n = doc.len();
            doc[at % n] = b;
        }
        Mutation::Insert(at, b) => {
            let n = doc.len() + 1;
            doc.insert(at % n, b);
        }
        Mutation::Remove(at) => {
            let n = doc.len();
            doc.remove(at % n);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes(doc in prop::collection::vec(json_byte(), 0..120)) {
        check_document(&doc)?;
        let mut braced = b"{\"a\":".to_vec();
        braced.extend_from_slice(&doc);
        check_document(&braced)?;
    }

    #[test]
    fn arbitrary_bytes_of_any_value(doc in prop::collection::vec(any::<u8>(), 0..80)) {
        check_document(&doc)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn mutated_documents(
        j in object(),
        seed in any::<u64>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut doc = Style::new(seed, 30, 20).document(&j);
        for m in &mutations {
            apply(&mut doc, m);
        }
        check_document(&doc)?;
    }

    #[test]
    fn every_truncation(j in object(), seed in any::<u64>()) {
        let doc = Style::new(seed, 30, 20).document(&j);
        for cut in 0..doc.len() {
            // A copy of exactly that length, so reading past it would be out of bounds.
            let prefix = doc[..cut].to_vec();
            check_document(&prefix)?;
        }
    }
}
