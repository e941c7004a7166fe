//! Reading integers, and a run of 8 to 16 decimal digits (epoch milliseconds, ids)
//! without a loop per digit: eight digits are checked and combined at once in a 64-bit
//! word. In Wasm every loop iteration costs an interruption check, and a timestamp has
//! thirteen digits.

/// The integer `text` holds, as Rust's `i64` parser reads it (an optional `+` or `-`,
/// then decimal digits), or `None` (anything else, or out of range). Runs of 8 to 16
/// digits, the common case, are read eight digits at a time.
#[inline]
pub fn integer(text: &[u8]) -> Option<i64> {
    if let Some(v) = parse(text) {
        return Some(v);
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

const ZEROS: u64 = 0x3030_3030_3030_3030;
const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;

/// Powers of ten up to 10^8.
const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The value of `t` if it is 8 to 16 ASCII digits; `None` for anything else (the caller
/// falls back to a general parser).
#[inline]
pub(crate) fn parse(t: &[u8]) -> Option<i64> {
    let len = t.len();
    if !(8..=16).contains(&len) {
        return None;
    }
    let head = eight(word(t, 0))?;
    let tail = eight(word(t, len - 8))?;
    // The last eight digits overlap the first eight when there are fewer than sixteen;
    // the digits past the first eight are the low `len - 8` digits of `tail`.
    let rest = len - 8;
    Some((head * POW10[rest] + tail % POW10[rest]) as i64)
}

#[inline(always)]
fn word(t: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(t[at..at + 8].try_into().expect("eight bytes"))
}

/// Eight ASCII digits (first digit in the lowest byte) as their value.
#[inline(always)]
fn eight(w: u64) -> Option<u64> {
    let digits = w & HIGH_NIBBLES == ZEROS
        && (w.wrapping_add(0x0606_0606_0606_0606)) & HIGH_NIBBLES == ZEROS;
    if !digits {
        return None;
    }
    let mut v = w - ZEROS;
    v = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((v * 10_000 + (v >> 32)) & 0xFFFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::{integer, parse};

    #[test]
    fn agrees_with_the_standard_parser() {
        for text in [
            "12345678",
            "00000000",
            "99999999",
            "1700000000000",
            "1700000000123",
            "123456789",
            "9999999999999999",
            "1000000000000000",
            "0000000000000001",
        ] {
            assert_eq!(
                parse(text.as_bytes()),
                Some(text.parse().unwrap()),
                "{text}"
            );
        }
    }

    #[test]
    fn leaves_everything_else_to_the_caller() {
        for text in [
            "",
            "1234567",
            "12345678901234567",
            "-1234567890",
            "12345a78",
            "1234567/",
            "123456789:",
            "1234 5678",
            "+12345678",
        ] {
            assert_eq!(parse(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn integers_read_as_rust_reads_them() {
        for text in [
            "0",
            "-0",
            "+0",
            "7",
            "-7",
            "+7",
            "12345678",
            "-12345678",
            "1700000000000",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "",
            "-",
            "+",
            "1.5",
            "1e3",
            " 1",
            "1 ",
            "0x10",
            "١٢٣٤٥٦٧٨",
            "00000000000000000001",
        ] {
            assert_eq!(integer(text.as_bytes()), text.parse().ok(), "{text:?}");
        }
        assert_eq!(integer(b"1234567\xff"), None);
    }
}
