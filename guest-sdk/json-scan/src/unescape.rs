//! A JSON string's escapes.

/// The contents of a string (between its quotes) with its escapes replaced, or `None` if
/// an escape is not valid JSON: an unknown letter, a `\u` without four hex digits, or a
/// surrogate (`\ud800`–`\udfff`) that is not a high one followed by a low one. Bytes
/// other than escapes are copied as they are.
#[cold]
#[inline(never)]
pub(crate) fn unescape(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(k) = raw[i..].iter().position(|&c| c == b'\\') {
        out.extend_from_slice(&raw[i..i + k]);
        i += k;
        let c = *raw.get(i + 1)?;
        i += 2;
        match c {
            b'"' | b'\\' | b'/' => out.push(c),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let mut cp = hex4(raw.get(i..i + 4)?)?;
                i += 4;
                if (0xD800..0xDC00).contains(&cp) {
                    if raw.get(i..i + 2)? != b"\\u" {
                        return None;
                    }
                    let lo = hex4(raw.get(i + 2..i + 6)?)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                // A low surrogate alone is not a `char`.
                let ch = char::from_u32(cp)?;
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
            }
            _ => return None,
        }
    }
    out.extend_from_slice(&raw[i..]);
    Some(out)
}

/// Four hex digits (either case) as their value.
fn hex4(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0, |v, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        Some(v << 4 | u32::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::unescape;

    fn un(raw: &str) -> Option<String> {
        unescape(raw.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn every_escape() {
        assert_eq!(
            un(r#"a\"b\\c\/d\be\ff\ng\rh\ti"#).unwrap(),
            "a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti"
        );
        assert_eq!(un(r"\u00e9\u00E9").unwrap(), "éé");
        assert_eq!(un(r"\ud83d\ude00!").unwrap(), "😀!");
        assert_eq!(un(r"\uD83D\uDE00").unwrap(), "😀");
        assert_eq!(un(r"\u0000").unwrap(), "\0");
        assert_eq!(un("plain é").unwrap(), "plain é");
        assert_eq!(un("").unwrap(), "");
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        for raw in [
            r"\",
            r"\x",
            r"\u12",
            r"\u12g4",
            r"\u+123",
            r"\u-123",
            r"\ud800",
            r"\ud800x",
            r"\ud800\n",
            r"\ud800\u0041",
            r"\ud800\ue000",
            r"\ud800\ud800",
            r"\udc00",
            r"\U00e9",
        ] {
            assert_eq!(un(raw), None, "{raw}");
            let quoted = format!("\"{raw}\"");
            assert!(serde_json::from_str::<String>(&quoted).is_err(), "{raw}");
        }
    }
}
