//! Wanted names, compared with the names in a document as words.
//!
//! A name of up to sixteen bytes is kept as two little-endian words, so a name in the
//! document is compared with two integer comparisons: in Wasm a `memcmp` or a short copy
//! is a call, and names are short.

/// A name's bytes as two little-endian words, zero past its end, if it has at most
/// sixteen bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Words(Option<[u64; 2]>);

impl Words {
    /// The words of `name`.
    #[inline]
    pub(crate) fn of(name: &[u8]) -> Self {
        Words((name.len() <= 16).then(|| {
            let mut w = [0u64; 2];
            for (k, &c) in name.iter().enumerate() {
                w[k / 8] |= u64::from(c) << (8 * (k % 8));
            }
            w
        }))
    }
}

/// A name asked for: its bytes and their [`Words`].
#[derive(Clone, Copy)]
pub(crate) struct Name<'n> {
    pub(crate) bytes: &'n [u8],
    pub(crate) words: Words,
}

impl<'n> Name<'n> {
    /// `bytes` as a name, its words computed.
    #[inline]
    pub(crate) fn new(bytes: &'n [u8]) -> Self {
        Name {
            bytes,
            words: Words::of(bytes),
        }
    }

    /// Whether `doc[start..start + len]` (a name in the document, without escapes) is
    /// this name.
    #[inline]
    pub(crate) fn is_at(&self, doc: &[u8], start: usize, len: usize) -> bool {
        if len != self.bytes.len() {
            return false;
        }
        match self.words.0 {
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
            _ => &doc[start..start + len] == self.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Name;

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
            "é",
            "\0",
        ];
        for asked in names {
            let wanted = Name::new(asked.as_bytes());
            for present in names {
                for before in [0, 3, 16] {
                    for padding in [0, 1, 7, 8, 15, 16, 20] {
                        // Near the end of the document the words cannot be read whole.
                        let doc = format!("{}{present}{}", "y".repeat(before), "x".repeat(padding));
                        assert_eq!(
                            wanted.is_at(doc.as_bytes(), before, present.len()),
                            asked == present,
                            "{asked:?} at {present:?} + {padding}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn bytes_past_the_name_do_not_count() {
        // The words read past the name's end: those bytes must be masked off.
        let wanted = Name::new(b"ab");
        for tail in 0..=255u8 {
            let mut doc = b"ab".to_vec();
            doc.extend(std::iter::repeat_n(tail, 20));
            assert!(wanted.is_at(&doc, 0, 2), "{tail}");
        }
        let wanted = Name::new(b"");
        assert!(wanted.is_at(&[0xff; 20], 3, 0));
    }
}
