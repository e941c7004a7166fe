//! Migrating state written by an earlier version of a function.
//!
//! A new version that stores a state as another type (its type tag changes, so the
//! host would refuse the swap) implements [`Migrate`] and exports it with
//! [`export_migrations!`](crate::export_migrations). Before the swap the host asks which
//! migrations it offers; at the switch it hands every value of the state (of every key
//! and window) to the migration, in batches, before the new version sees any record.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use weir_sdk::{Migrate, Migration};
//!
//! /// What the earlier version stored: a bare count.
//! type OldTally = u64;
//!
//! /// What this version stores.
//! #[derive(Serialize, Deserialize)]
//! struct Tally {
//!     clicks: u64,
//!     first_seen: Option<i64>,
//! }
//!
//! struct Counter;
//!
//! impl Migrate for Counter {
//!     fn migrations() -> Vec<Migration> {
//!         // The tag is the one the refused swap names (the old version's).
//!         vec![Migration::json("tally", "json:u64", |old: OldTally| {
//!             Ok(Some(Tally { clicks: old, first_seen: None }))
//!         })]
//!     }
//! }
//!
//! weir_sdk::export_migrations!(Counter);
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

/// Rewrites one stored value: the new bytes, or `None` to remove the entry.
type Rewrite = Box<dyn Fn(&[u8]) -> Result<Option<Vec<u8>>>>;

/// A change of one state's type: values written with the type tag `from_type` become
/// what this version stores.
pub struct Migration {
    state: String,
    from_type: String,
    rewrite: Rewrite,
}

impl Migration {
    /// Values of `state` stored as JSON of `Old` (tag `from_type`) become JSON of `New`;
    /// `Ok(None)` removes the entry (or list element).
    pub fn json<Old, New>(
        state: &str,
        from_type: &str,
        f: impl Fn(Old) -> Result<Option<New>> + 'static,
    ) -> Self
    where
        Old: DeserializeOwned,
        New: Serialize,
    {
        Self::bytes(state, from_type, move |bytes| {
            let old: Old = crate::state::decode(bytes)?;
            f(old)?.map(|n| crate::state::encode(&n)).transpose()
        })
    }

    /// Values of `state` written with the tag `from_type`, rewritten byte for byte.
    pub fn bytes(
        state: &str,
        from_type: &str,
        f: impl Fn(&[u8]) -> Result<Option<Vec<u8>>> + 'static,
    ) -> Self {
        Self {
            state: state.to_owned(),
            from_type: from_type.to_owned(),
            rewrite: Box::new(f),
        }
    }

    /// The state it migrates.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The type tag it migrates from.
    pub fn from_type(&self) -> &str {
        &self.from_type
    }

    /// Rewrites one value.
    pub fn apply(&self, value: &[u8]) -> Result<Option<Vec<u8>>> {
        (self.rewrite)(value)
    }
}

/// A function version that migrates state written by earlier versions.
pub trait Migrate {
    /// The migrations it offers. Must not depend on anything but the code.
    fn migrations() -> Vec<Migration>;
}

/// Rewrites `values` of `state` from `from_type` with the migration `M` offers for it.
pub fn migrate_values<'a>(
    migrations: &[Migration],
    state: &str,
    from_type: &str,
    values: impl Iterator<Item = &'a [u8]>,
) -> std::result::Result<Vec<Option<Vec<u8>>>, String> {
    let m = migrations
        .iter()
        .find(|m| m.state == state && m.from_type == from_type)
        .ok_or_else(|| format!("no migration of state `{state}` from `{from_type}`"))?;
    values
        .enumerate()
        .map(|(i, v)| {
            m.apply(v)
                .map_err(|e| format!("value {i} of state `{state}`: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_migrations_rewrite_and_remove() {
        let ms = vec![Migration::json("n", "json:u64", |old: u64| {
            Ok((old > 0).then(|| format!("{old}!")))
        })];
        let out = migrate_values(&ms, "n", "json:u64", [&b"3"[..], b"0"].into_iter()).unwrap();
        assert_eq!(out, vec![Some(b"\"3!\"".to_vec()), None]);
        let e = migrate_values(&ms, "n", "json:i64", [&b"3"[..]].into_iter()).unwrap_err();
        assert!(
            e.contains("no migration of state `n` from `json:i64`"),
            "{e}"
        );
        let e = migrate_values(&ms, "n", "json:u64", [&b"\"x\""[..]].into_iter()).unwrap_err();
        assert!(e.contains("value 0 of state `n`"), "{e}");
    }
}
