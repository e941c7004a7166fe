//! `memcmp` and `bcmp` for Wasm guests, eight bytes at a time.
//!
//! Every comparison of strings or byte slices (`==` on `String`, `HashMap<String, _>`
//! lookups) ends in `memcmp`. The C library linked into `wasm32-wasip2` programs compares
//! a byte per loop iteration, and in a Wasm sandbox every iteration also pays an
//! interruption check; comparing 36-byte ids this way showed up as 4% of a whole job.
//! Defining the symbols here keeps the library's versions out of a guest's link.

use core::ffi::c_int;

/// `a` against `b` (of equal length) as `memcmp` orders them: the sign of the first
/// differing byte's difference, or 0.
#[inline]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn compare(a: &[u8], b: &[u8]) -> c_int {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8"));
    let first_difference = |x: u64, y: u64| {
        // Little-endian: the lowest differing byte is the first in memory.
        let shift = (x ^ y).trailing_zeros() & !7;
        c_int::from((x >> shift) as u8) - c_int::from((y >> shift) as u8)
    };
    let mut i = 0;
    while i + 8 <= n {
        let (x, y) = (word(a, i), word(b, i));
        if x != y {
            return first_difference(x, y);
        }
        i += 8;
    }
    if i < n && n >= 8 {
        // The last eight bytes, overlapping ones already found equal.
        let (x, y) = (word(a, n - 8), word(b, n - 8));
        return if x == y { 0 } else { first_difference(x, y) };
    }
    while i < n {
        if a[i] != b[i] {
            return c_int::from(a[i]) - c_int::from(b[i]);
        }
        i += 1;
    }
    0
}

/// `compare` over raw parts.
///
/// # Safety
///
/// `a` and `b` must be readable for `n` bytes.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
unsafe fn compare_raw(a: *const u8, b: *const u8, n: usize) -> c_int {
    if n == 0 {
        return 0;
    }
    // SAFETY: the caller vouches for `n` readable bytes at each.
    let (a, b) = unsafe {
        (
            core::slice::from_raw_parts(a, n),
            core::slice::from_raw_parts(b, n),
        )
    };
    compare(a, b)
}

/// Compares `n` bytes at `a` and `b`, as C's `memcmp`.
///
/// # Safety
///
/// `a` and `b` must be readable for `n` bytes.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> c_int {
    // SAFETY: the same contract.
    unsafe { compare_raw(a, b, n) }
}

/// Whether `n` bytes at `a` and `b` differ (non-zero if they do), as `bcmp`.
///
/// # Safety
///
/// `a` and `b` must be readable for `n` bytes.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> c_int {
    // SAFETY: the same contract.
    unsafe { compare_raw(a, b, n) }
}

#[cfg(test)]
mod tests {
    use super::compare;

    #[test]
    fn orders_like_slices_for_every_length_and_position() {
        for n in 0..40 {
            let a: Vec<u8> = (0..n as u8).map(|k| k.wrapping_mul(37)).collect();
            assert_eq!(compare(&a, &a), 0);
            for at in 0..n {
                for delta in [1u8, 200] {
                    let mut b = a.clone();
                    b[at] = b[at].wrapping_add(delta);
                    if at + 1 < n {
                        // A later difference the other way must not decide.
                        b[at + 1] = b[at + 1].wrapping_sub(1);
                    }
                    let got = compare(&a, &b).signum();
                    let want = a.cmp(&b) as i32;
                    assert_eq!(got, want, "n {n} at {at} delta {delta}");
                    assert_eq!(compare(&b, &a).signum(), -want);
                }
            }
        }
    }
}
