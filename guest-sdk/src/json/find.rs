//! Finding where a JSON string ends: the next `"` or `\`.
//!
//! Strings in events are short (ids, names, numbers in quotes), so what matters is the
//! cost of the first sixteen bytes, not the throughput on long ones. A library search
//! (`memchr`) pays a call and its setup for each string; here sixteen bytes are compared
//! inline, with Wasm's 128-bit SIMD (guests are built with `+simd128`) or SSE2 natively,
//! without a loop for the first forty-eight bytes. In Wasm every call and every loop
//! entered also costs an interruption check.

/// The position of the first `"` or `\` in `b[from..]`, counted from the start of `b`.
///
/// The first sixteen bytes, then the next thirty-two, are looked at without a loop (most
/// strings end there); longer strings and the end of the document go to [`in_loop`].
#[inline(always)]
pub(super) fn quote_or_backslash(b: &[u8], from: usize) -> Option<usize> {
    if from + 48 <= b.len() {
        let first = mask16(&b[from..from + 16]);
        if first != 0 {
            return Some(from + first.trailing_zeros() as usize);
        }
        let next = mask16(&b[from + 16..from + 32]) | (mask16(&b[from + 32..from + 48]) << 16);
        if next != 0 {
            return Some(from + 16 + next.trailing_zeros() as usize);
        }
        return in_loop(b, from + 48);
    }
    in_loop(b, from)
}

/// [`quote_or_backslash`] for what its first forty-eight bytes did not settle.
#[inline(never)]
fn in_loop(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 16 <= b.len() {
        let mask = mask16(&b[i..i + 16]);
        if mask != 0 {
            return Some(i + mask.trailing_zeros() as usize);
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

/// A bit per byte of `chunk` (sixteen bytes): set where the byte is `"` or `\`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn mask16(chunk: &[u8]) -> u32 {
    use core::arch::wasm32::{i8x16_bitmask, i8x16_eq, u8x16_splat, v128, v128_or};
    debug_assert_eq!(chunk.len(), 16);
    // SAFETY: `chunk` holds sixteen readable bytes; Wasm loads need no alignment.
    let v = unsafe { core::ptr::read_unaligned(chunk.as_ptr().cast::<v128>()) };
    let hits = v128_or(
        i8x16_eq(v, u8x16_splat(b'"')),
        i8x16_eq(v, u8x16_splat(b'\\')),
    );
    u32::from(i8x16_bitmask(hits))
}

/// A bit per byte of `chunk` (sixteen bytes): set where the byte is `"` or `\`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn mask16(chunk: &[u8]) -> u32 {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    debug_assert_eq!(chunk.len(), 16);
    // SAFETY: SSE2 is part of every x86_64 target; `chunk` holds sixteen readable bytes
    // and the load is unaligned.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let hits = _mm_or_si128(
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
        );
        _mm_movemask_epi8(hits) as u32
    }
}

/// A bit per byte of `chunk` (sixteen bytes): set where the byte is `"` or `\`.
#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
)))]
#[inline(always)]
fn mask16(chunk: &[u8]) -> u32 {
    chunk.iter().enumerate().fold(0, |m, (k, &c)| {
        m | (u32::from(matches!(c, b'"' | b'\\')) << k)
    })
}

#[cfg(test)]
mod tests {
    use super::quote_or_backslash;

    #[test]
    fn finds_the_first_quote_or_backslash_at_any_position() {
        for len in 0..100 {
            for at in 0..len {
                for c in [b'"', b'\\'] {
                    let mut b = vec![b'x'; len];
                    b[at] = c;
                    if at + 3 < len {
                        b[at + 3] = b'"';
                    }
                    for from in 0..=at {
                        assert_eq!(quote_or_backslash(&b, from), Some(at), "{len} {at} {from}");
                    }
                    assert_eq!(
                        quote_or_backslash(&b, at + 1),
                        (at + 3 < len).then_some(at + 3)
                    );
                }
            }
            assert_eq!(quote_or_backslash(&vec![b'y'; len], 0), None);
        }
    }

    #[test]
    fn bytes_with_the_high_bit_are_not_matches() {
        let b = "éééééééééé\"".as_bytes();
        assert_eq!(quote_or_backslash(b, 0), Some(b.len() - 1));
    }
}
