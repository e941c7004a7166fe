//! The sixteen-byte step of the string search: a bit per byte that is `"` or `\`.
//!
//! Three versions of one function: `simd128` (Wasm's 128-bit SIMD, which guests are
//! built with), `sse2` (every x86_64 target) and `scalar` (everywhere else, and Wasm
//! without `+simd128`). `mask16` is the one this target uses. Natively, under
//! `cfg(test)`, all that can compile do: `simd128` over `wasm32_emulated`, a lane-by-lane
//! model of the four Wasm instructions it uses, so the tests run the same function body
//! a guest runs and check every version against the others.

/// The version of the sixteen-byte step this target uses.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) use simd128 as mask16;

/// The version of the sixteen-byte step this target uses.
#[cfg(all(
    target_arch = "x86_64",
    not(all(target_arch = "wasm32", target_feature = "simd128"))
))]
pub(crate) use sse2 as mask16;

/// The version of the sixteen-byte step this target uses.
#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
)))]
pub(crate) use scalar as mask16;

/// A bit per byte of `chunk`, in Wasm SIMD: set where the byte is `"` or `\`.
#[cfg(any(all(target_arch = "wasm32", target_feature = "simd128"), test))]
#[inline(always)]
pub(crate) fn simd128(chunk: &[u8; 16]) -> u32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    use core::arch::wasm32::{i8x16_bitmask, i8x16_eq, u8x16_splat, v128, v128_or};

    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    use wasm32_emulated::{i8x16_bitmask, i8x16_eq, u8x16_splat, v128, v128_or};

    // SAFETY: `chunk` is sixteen readable bytes, the size of a `v128`; the read is
    // unaligned.
    let v = unsafe { core::ptr::read_unaligned(chunk.as_ptr().cast::<v128>()) };
    let hits = v128_or(
        i8x16_eq(v, u8x16_splat(b'"')),
        i8x16_eq(v, u8x16_splat(b'\\')),
    );
    u32::from(i8x16_bitmask(hits))
}

/// A bit per byte of `chunk`, in SSE2: set where the byte is `"` or `\`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn sse2(chunk: &[u8; 16]) -> u32 {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86_64 target; `chunk` is sixteen readable bytes and
    // the load is unaligned.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let hits = _mm_or_si128(
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
        );
        _mm_movemask_epi8(hits) as u32
    }
}

/// A bit per byte of `chunk`, a byte at a time: set where the byte is `"` or `\`.
#[cfg(any(
    test,
    not(any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        target_arch = "x86_64"
    ))
))]
#[inline(always)]
pub(crate) fn scalar(chunk: &[u8; 16]) -> u32 {
    chunk.iter().enumerate().fold(0, |m, (k, &c)| {
        m | (u32::from(matches!(c, b'"' | b'\\')) << k)
    })
}

/// The Wasm SIMD instructions `simd128` uses, lane by lane, with the signatures of
/// `core::arch::wasm32` (as the Wasm specification defines them: `eq` sets a lane to all
/// ones or all zeros, `bitmask` gathers the top bit of each lane, lane 0 lowest).
#[cfg(all(test, not(all(target_arch = "wasm32", target_feature = "simd128"))))]
#[allow(non_camel_case_types)]
pub(crate) mod wasm32_emulated {
    /// A 128-bit vector as sixteen byte lanes, lane 0 at the lowest address.
    #[derive(Clone, Copy)]
    #[repr(C, align(16))]
    pub struct v128([u8; 16]);

    /// Every lane `a`.
    pub fn u8x16_splat(a: u8) -> v128 {
        v128([a; 16])
    }

    /// Lanes of all ones where `a` and `b` are equal, of zeros elsewhere.
    pub fn i8x16_eq(a: v128, b: v128) -> v128 {
        v128(std::array::from_fn(
            |k| if a.0[k] == b.0[k] { 0xff } else { 0 },
        ))
    }

    /// The bitwise or.
    pub fn v128_or(a: v128, b: v128) -> v128 {
        v128(std::array::from_fn(|k| a.0[k] | b.0[k]))
    }

    /// The top bit of each lane, lane `k` as bit `k`.
    pub fn i8x16_bitmask(a: v128) -> u16 {
        (0..16).fold(0, |m, k| m | (u16::from(a.0[k] >> 7) << k))
    }
}

/// A version of the sixteen-byte step.
#[cfg(test)]
pub(crate) type Mask = fn(&[u8; 16]) -> u32;

/// Every version of the step this target can run, by name (the Wasm one emulated off
/// Wasm).
#[cfg(test)]
pub(crate) fn versions() -> Vec<(&'static str, Mask)> {
    vec![
        ("mask16", |c| mask16(c)),
        ("simd128", |c| simd128(c)),
        ("scalar", |c| scalar(c)),
        #[cfg(target_arch = "x86_64")]
        ("sse2", |c| sse2(c)),
    ]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn naive(chunk: &[u8; 16]) -> u32 {
        let mut m = 0;
        for (k, &c) in chunk.iter().enumerate() {
            if c == b'"' || c == b'\\' {
                m |= 1 << k;
            }
        }
        m
    }

    #[test]
    fn every_byte_value_at_every_lane() {
        for lane in 0..16 {
            for c in 0..=255u8 {
                let mut chunk = [b'a'; 16];
                chunk[lane] = c;
                for (name, f) in versions() {
                    assert_eq!(f(&chunk), naive(&chunk), "{name}: {c:#x} in lane {lane}");
                }
            }
        }
    }

    #[test]
    fn every_set_of_lanes() {
        for bits in 0..=0xffffu32 {
            let chunk: [u8; 16] = std::array::from_fn(|k| match (bits >> k & 1, k % 3) {
                (0, 0) => 0xdc, // `\` with the high bit set
                (0, 1) => 0xa2, // `"` with the high bit set
                (0, _) => b'x',
                (_, 0) => b'\\',
                _ => b'"',
            });
            for (name, f) in versions() {
                assert_eq!(f(&chunk), bits, "{name}: {bits:#06x}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn versions_agree_on_any_chunk(
            chunk in prop::array::uniform16(prop_oneof![
                Just(b'"'), Just(b'\\'), Just(0xa2u8), Just(0xdcu8), any::<u8>()
            ]),
        ) {
            for (name, f) in versions() {
                prop_assert_eq!(f(&chunk), naive(&chunk), "{}", name);
            }
        }
    }
}
