//! A record as one JSON object — `{"key", "timestamp", "headers", "value"}` — for sinks
//! that keep more than values, and bytes as JSON (text when UTF-8, else hex).

use serde_json::{Map, Value, json};

use super::RecordRef;

/// Bytes as JSON: a string when they are UTF-8, else `{"hex": "..."}`.
pub fn bytes_json(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => json!(s),
        Err(_) => json!({ "hex": hex::encode(b) }),
    }
}

/// The headers of a record as a JSON object (a later header of a name wins).
pub fn headers_json(r: &RecordRef<'_>) -> Map<String, Value> {
    r.headers
        .iter()
        .map(|h| (h.name.clone(), bytes_json(&h.value)))
        .collect()
}

/// `r` as one line of JSON: key and timestamp (null when absent), headers, value.
pub fn envelope_line(r: &RecordRef<'_>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "key": r.key.map_or(Value::Null, bytes_json),
        "timestamp": r.timestamp,
        "headers": headers_json(r),
        "value": bytes_json(r.value),
    }))
    .expect("JSON values serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Batch, Header};

    #[test]
    fn an_envelope_keeps_key_timestamp_headers_and_value() {
        let mut b = Batch::default();
        b.push(Some(b"k"), b"{\"a\":1}", Some(7));
        b.push(None, &[0xff], None);
        b.headers.push(Header {
            record: 0,
            name: "weir-fn".into(),
            value: b"count@abc".to_vec(),
        });
        let e: Value = serde_json::from_slice(&envelope_line(&b.get(0))).unwrap();
        assert_eq!(
            e,
            json!({"key": "k", "timestamp": 7, "headers": {"weir-fn": "count@abc"}, "value": "{\"a\":1}"})
        );
        let e: Value = serde_json::from_slice(&envelope_line(&b.get(1))).unwrap();
        assert_eq!(
            e,
            json!({"key": null, "timestamp": null, "headers": {}, "value": {"hex": "ff"}})
        );
    }
}
