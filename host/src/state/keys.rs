//! How keyed state is laid out in the backend's key space.
//!
//! ```text
//! state key  = state id (u32 BE) · key group (u16 BE) · varint len · key · namespace
//! namespace  = 0x00                                    (global to the key)
//!            | 0x01 · start (i64, order-preserving BE) · end (i64, same)   (a window)
//! map entry  = state key · user key
//! list value = (varint len · element)*                 (appended by merge)
//! ```
//!
//! State id and key group lead, so one key group of one state is one contiguous range
//! (what redistribution on a parallelism change reads). Windows sort by start within a
//! key.

use anyhow::{Result, bail};

/// The namespace of a state entry within its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    /// Global to the key.
    Global,
    /// One window of the key.
    Window {
        /// Window start.
        start: i64,
        /// Window end.
        end: i64,
    },
}

/// The encoded prefix of one (state, key group, key, namespace): a value or list lives
/// under exactly this key; map entries under it followed by their user key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateKeyPrefix(pub Vec<u8>);

impl StateKeyPrefix {
    /// Encodes a prefix.
    pub fn new(state: u32, group: u16, key: &[u8], ns: Namespace) -> Self {
        let mut out = Vec::with_capacity(4 + 2 + 5 + key.len() + 17);
        Self::encode_into(&mut out, state, group, key, ns);
        Self(out)
    }

    /// Appends the encoding of a prefix to `out` (building many keys in one buffer).
    pub fn encode_into(out: &mut Vec<u8>, state: u32, group: u16, key: &[u8], ns: Namespace) {
        out.extend_from_slice(&state.to_be_bytes());
        out.extend_from_slice(&group.to_be_bytes());
        put_varint(out, key.len() as u64);
        out.extend_from_slice(key);
        match ns {
            Namespace::Global => out.push(0),
            Namespace::Window { start, end } => {
                out.push(1);
                out.extend_from_slice(&ordered(start));
                out.extend_from_slice(&ordered(end));
            }
        }
    }

    /// The key of a map entry under this prefix.
    pub fn entry(&self, user_key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.0.len() + user_key.len());
        k.extend_from_slice(&self.0);
        k.extend_from_slice(user_key);
        k
    }

    /// The prefix of everything one state holds in one key group.
    pub fn group_prefix(state: u32, group: u16) -> Vec<u8> {
        let mut out = state.to_be_bytes().to_vec();
        out.extend_from_slice(&group.to_be_bytes());
        out
    }

    /// Decodes the key and namespace back out of an encoded prefix (as it starts a
    /// scanned key), with the length of the prefix.
    pub fn decode(bytes: &[u8]) -> Result<(u32, u16, &[u8], Namespace, usize)> {
        if bytes.len() < 7 {
            bail!("state key too short");
        }
        let state = u32::from_be_bytes(bytes[0..4].try_into()?);
        let group = u16::from_be_bytes(bytes[4..6].try_into()?);
        let (len, n) = get_varint(&bytes[6..])?;
        let key_start = 6 + n;
        let key_end = key_start + len as usize;
        let Some(&tag) = bytes.get(key_end) else {
            bail!("state key truncated");
        };
        let key = &bytes[key_start..key_end];
        match tag {
            0 => Ok((state, group, key, Namespace::Global, key_end + 1)),
            1 if bytes.len() >= key_end + 17 => {
                let start = unordered(bytes[key_end + 1..key_end + 9].try_into()?);
                let end = unordered(bytes[key_end + 9..key_end + 17].try_into()?);
                Ok((
                    state,
                    group,
                    key,
                    Namespace::Window { start, end },
                    key_end + 17,
                ))
            }
            _ => bail!("bad namespace in state key"),
        }
    }
}

fn ordered(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

fn unordered(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// Appends a length as list elements encode it.
pub(crate) fn put_len(out: &mut Vec<u8>, len: usize) {
    put_varint(out, len as u64);
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &[u8]) -> Result<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    bail!("bad varint in state")
}

/// One list element as stored (length-prefixed, so appends concatenate).
pub fn encode_list_element(element: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(element.len() + 5);
    put_varint(&mut out, element.len() as u64);
    out.extend_from_slice(element);
    out
}

/// The elements of a stored list.
pub fn decode_list(mut bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, n) = get_varint(bytes)?;
        let end = n + len as usize;
        if end > bytes.len() {
            bail!("list state truncated");
        }
        out.push(&bytes[n..end]);
        bytes = &bytes[end..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_round_trip() {
        for ns in [Namespace::Global, Namespace::Window { start: -5, end: 10 }] {
            let p = StateKeyPrefix::new(3, 77, b"campaign", ns);
            let entry = p.entry(b"user");
            let (state, group, key, back, len) = StateKeyPrefix::decode(&entry).unwrap();
            assert_eq!(
                (state, group, key, back, len),
                (3, 77, &b"campaign"[..], ns, p.0.len())
            );
        }
    }

    #[test]
    fn windows_sort_by_start_and_keys_do_not_prefix_each_other() {
        let w = |s| {
            StateKeyPrefix::new(
                1,
                0,
                b"k",
                Namespace::Window {
                    start: s,
                    end: s + 10,
                },
            )
        };
        assert!(w(-20) < w(-10) && w(-10) < w(0) && w(0) < w(10));
        let a = StateKeyPrefix::new(1, 0, b"a", Namespace::Global);
        let ab = StateKeyPrefix::new(1, 0, b"ab", Namespace::Global);
        assert!(!ab.0.starts_with(&a.0));
    }

    #[test]
    fn lists_concatenate() {
        let mut bytes = encode_list_element(b"one");
        bytes.extend(encode_list_element(&[7; 300]));
        let list = decode_list(&bytes).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].len(), 300);
        assert!(decode_list(&bytes[..bytes.len() - 1]).is_err());
    }
}
