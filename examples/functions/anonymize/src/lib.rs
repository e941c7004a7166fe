//! Pseudonymises ad events: replaces `user_id` with a keyed hash and masks the last
//! octet of `ip_address`. Every other field passes through unchanged.
//!
//! Config: `salt` (string) keys the hash, so ids cannot be recovered by hashing guesses.

use serde::Deserialize;
use serde_json::{Map as JsonMap, Value};
use weir_sdk::{Context, InitContext, Map, Output, Record, Result, bail};

#[derive(Deserialize)]
struct Config {
    salt: String,
}

/// The function.
pub struct Anonymize {
    salt: u64,
}

/// FNV-1a, continued from `seed`: stable across runs and languages.
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn mask_ip(ip: &str) -> Result<String> {
    match ip.rsplit_once('.') {
        Some((head, _)) if head.split('.').count() == 3 => Ok(format!("{head}.0")),
        _ => bail!("ip_address {ip:?} is not an IPv4 address"),
    }
}

impl Map for Anonymize {
    fn init(ctx: &InitContext) -> Result<Self> {
        let config: Config = ctx.config().context("anonymize needs config.salt")?;
        Ok(Anonymize {
            salt: fnv1a(0xcbf2_9ce4_8422_2325, config.salt.as_bytes()),
        })
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let mut event: JsonMap<String, Value> = record.json()?;
        if let Some(Value::String(user)) = event.get_mut("user_id") {
            *user = format!("u{:016x}", fnv1a(self.salt, user.as_bytes()));
        }
        if let Some(Value::String(ip)) = event.get("ip_address") {
            let masked = mask_ip(ip)?;
            event.insert("ip_address".into(), Value::String(masked));
        }
        out.emit_json(&event)
    }
}

weir_sdk::export_map!(Anonymize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_last_octet() {
        assert_eq!(mask_ip("10.1.2.3").unwrap(), "10.1.2.0");
        assert!(mask_ip("::1").is_err());
    }
}
