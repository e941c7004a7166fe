//! Finding where a JSON string ends: the next `"` or `\`.
//!
//! Strings in events are short (ids, names, numbers in quotes), so what matters is the
//! cost of the first sixteen bytes, not the throughput on long ones. A library search
//! (`memchr`) pays a call and its setup for each string; here sixteen bytes are compared
//! inline (the step is in `block`), without a loop for the first forty-eight bytes. In
//! Wasm every call and every loop entered also costs an interruption check.

use crate::block::mask16;

/// The position of the first `"` or `\` in `b[from..]`, counted from the start of `b`
/// (`None` if there is none, or if `from` is past the end).
#[inline(always)]
pub(crate) fn quote_or_backslash(b: &[u8], from: usize) -> Option<usize> {
    search(b, from, mask16)
}

/// [`quote_or_backslash`] with the sixteen-byte step `mask` (a function item, so each
/// version is compiled inline; the tests pass each version).
///
/// The first sixteen bytes, then the next thirty-two, are looked at without a loop (most
/// strings end there); longer strings and the end of the document go to [`in_loop`].
#[inline(always)]
pub(crate) fn search<M: Fn(&[u8; 16]) -> u32 + Copy>(
    b: &[u8],
    from: usize,
    mask: M,
) -> Option<usize> {
    if from + 48 <= b.len() {
        let first = mask(block(b, from));
        if first != 0 {
            return Some(from + first.trailing_zeros() as usize);
        }
        let next = mask(block(b, from + 16)) | (mask(block(b, from + 32)) << 16);
        if next != 0 {
            return Some(from + 16 + next.trailing_zeros() as usize);
        }
        return in_loop(b, from + 48, mask);
    }
    in_loop(b, from, mask)
}

/// The sixteen bytes of `b` from `at`.
#[inline(always)]
fn block(b: &[u8], at: usize) -> &[u8; 16] {
    b[at..at + 16].try_into().expect("sixteen bytes")
}

/// [`search`] for what its first forty-eight bytes did not settle.
#[inline(never)]
fn in_loop<M: Fn(&[u8; 16]) -> u32 + Copy>(b: &[u8], from: usize, mask: M) -> Option<usize> {
    let mut i = from;
    while i + 16 <= b.len() {
        let m = mask(block(b, i));
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 16;
    }
    while i < b.len() {
        if matches!(b[i], b'"' | b'\\') {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{quote_or_backslash, search};
    use crate::block::versions;

    fn naive(b: &[u8], from: usize) -> Option<usize> {
        (from..b.len()).find(|&k| matches!(b[k], b'"' | b'\\'))
    }

    #[test]
    fn finds_the_first_quote_or_backslash_at_any_position() {
        for (name, mask) in versions() {
            for len in 0..100 {
                for at in 0..len {
                    for c in [b'"', b'\\'] {
                        let mut b = vec![b'x'; len];
                        b[at] = c;
                        if at + 3 < len {
                            b[at + 3] = b'"';
                        }
                        for from in 0..=at {
                            assert_eq!(
                                search(&b, from, mask),
                                Some(at),
                                "{name} {len} {at} {from}"
                            );
                        }
                        assert_eq!(
                            search(&b, at + 1, mask),
                            (at + 3 < len).then_some(at + 3),
                            "{name}"
                        );
                    }
                }
                assert_eq!(search(&vec![b'y'; len], 0, mask), None, "{name}");
                assert_eq!(search(&vec![b'"'; len], len, mask), None, "{name}");
                assert_eq!(search(&vec![b'"'; len], len + 1, mask), None, "{name}");
            }
        }
    }

    #[test]
    fn bytes_with_the_high_bit_are_not_matches() {
        let b = "éééééééééé\"".as_bytes();
        assert_eq!(quote_or_backslash(b, 0), Some(b.len() - 1));
        let b = [0xa2u8, 0xdc].repeat(40);
        for (name, mask) in versions() {
            assert_eq!(search(&b, 0, mask), None, "{name}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn every_version_agrees_with_a_byte_by_byte_search(
            b in prop::collection::vec(
                prop_oneof![
                    8 => Just(b'x'), 1 => Just(b'"'), 1 => Just(b'\\'),
                    1 => Just(0xa2u8), 1 => Just(0xdcu8), 2 => any::<u8>(),
                ],
                0..200,
            ),
            from in 0usize..210,
        ) {
            let want = naive(&b, from);
            for (name, mask) in versions() {
                prop_assert_eq!(search(&b, from, mask), want, "{}", name);
            }
        }
    }
}
