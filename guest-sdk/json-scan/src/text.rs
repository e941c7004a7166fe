//! Checking that bytes are UTF-8, eight ASCII bytes at a time.

use std::str::Utf8Error;

/// The high bit of each byte of a word.
const HI: u64 = 0x8080_8080_8080_8080;

/// `b` as text. ASCII, the common case, is checked eight bytes at a time; anything else
/// goes to the standard library's check.
#[inline]
pub fn utf8(b: &[u8]) -> Result<&str, Utf8Error> {
    let mut i = 0;
    while i + 8 <= b.len() {
        if u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes")) & HI != 0 {
            return std::str::from_utf8(b);
        }
        i += 8;
    }
    if b[i..].is_ascii() {
        // SAFETY: every byte was just checked to be ASCII, which is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(b) });
    }
    std::str::from_utf8(b)
}

#[cfg(test)]
mod tests {
    use super::utf8;

    #[test]
    fn accepts_utf8_and_rejects_the_rest() {
        assert_eq!(
            utf8("plain ascii, longer than eight".as_bytes()).unwrap(),
            "plain ascii, longer than eight"
        );
        assert_eq!(
            utf8("accentué après huit octets".as_bytes()).unwrap(),
            "accentué après huit octets"
        );
        assert!(utf8(b"abcdefgh\xff").is_err());
        assert!(utf8(b"\xffabcdefghijk").is_err());
        assert_eq!(utf8(b"").unwrap(), "");
    }

    #[test]
    fn agrees_with_the_standard_check_at_every_length_and_position() {
        for len in 0..40 {
            for at in 0..len {
                for bad in [0x80u8, 0xc3, 0xff, 0x7f] {
                    let mut b = vec![b'a'; len];
                    b[at] = bad;
                    assert_eq!(
                        utf8(&b).ok(),
                        std::str::from_utf8(&b).ok(),
                        "{len} {at} {bad}"
                    );
                }
                let mut b = "a".repeat(at) + "é";
                b.push_str(&"z".repeat(len - at));
                assert_eq!(utf8(b.as_bytes()).unwrap(), b);
            }
        }
    }
}
