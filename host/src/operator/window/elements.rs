//! How window elements are stored in list state: one record each, with its key,
//! timestamp and headers.

use anyhow::{Result, bail};

use crate::record::{Batch, Header, RecordRef};

const HAS_TIMESTAMP: u8 = 1;
const HAS_KEY: u8 = 2;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &[u8], at: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let Some(&byte) = b.get(*at) else {
            bail!("window element truncated")
        };
        *at += 1;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    bail!("bad varint in window element")
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn get_bytes<'a>(b: &'a [u8], at: &mut usize) -> Result<&'a [u8]> {
    let len = get_varint(b, at)? as usize;
    let end = at.checked_add(len).filter(|&e| e <= b.len());
    let Some(end) = end else {
        bail!("window element truncated")
    };
    let s = &b[*at..end];
    *at = end;
    Ok(s)
}

/// One element as stored.
pub fn encode(r: &RecordRef<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(r.value.len() + 16);
    let flags = if r.timestamp.is_some() {
        HAS_TIMESTAMP
    } else {
        0
    } | if r.key.is_some() { HAS_KEY } else { 0 };
    out.push(flags);
    if let Some(t) = r.timestamp {
        out.extend_from_slice(&t.to_be_bytes());
    }
    if let Some(k) = r.key {
        put_bytes(&mut out, k);
    }
    put_bytes(&mut out, r.value);
    put_varint(&mut out, r.headers.len() as u64);
    for h in r.headers {
        put_bytes(&mut out, h.name.as_bytes());
        put_bytes(&mut out, &h.value);
    }
    out
}

/// Appends a stored element to `batch`.
pub fn decode_into(bytes: &[u8], batch: &mut Batch) -> Result<()> {
    let Some(&flags) = bytes.first() else {
        bail!("empty window element")
    };
    let mut at = 1;
    let timestamp = if flags & HAS_TIMESTAMP != 0 {
        let Some(t) = bytes.get(1..9) else {
            bail!("window element truncated")
        };
        at = 9;
        Some(i64::from_be_bytes(t.try_into()?))
    } else {
        None
    };
    let key = if flags & HAS_KEY != 0 {
        Some(get_bytes(bytes, &mut at)?)
    } else {
        None
    };
    let value = get_bytes(bytes, &mut at)?;
    let headers = get_varint(bytes, &mut at)?;
    let index = batch.len() as u32;
    batch.push(key, value, timestamp);
    for _ in 0..headers {
        let name = String::from_utf8_lossy(get_bytes(bytes, &mut at)?).into_owned();
        let value = get_bytes(bytes, &mut at)?.to_vec();
        batch.headers.push(Header {
            record: index,
            name,
            value,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_round_trip() {
        let mut b = Batch::default();
        b.push(Some(b"k"), b"value", Some(-7));
        b.push(None, b"", None);
        b.headers.push(Header {
            record: 1,
            name: "h".into(),
            value: b"x".to_vec(),
        });
        let mut back = Batch::default();
        for r in b.iter() {
            decode_into(&encode(&r), &mut back).unwrap();
        }
        assert_eq!(back, b);
        assert!(decode_into(&encode(&b.get(0))[..5], &mut back).is_err());
    }
}
