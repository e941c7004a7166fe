//! Encoding of user keys (map-state and broadcast-state keys) into bytes.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// Something that names a key by its bytes without owning it: `&str` for `String`
/// keys, `&[u8]` for `Vec<u8>` keys, and every [`StateKey`] type itself.
pub trait KeyBytes {
    /// The key's bytes.
    fn key_bytes(&self) -> Cow<'_, [u8]>;
}

impl KeyBytes for str {
    fn key_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl KeyBytes for [u8] {
    fn key_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<K: StateKey> KeyBytes for K {
    fn key_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.to_key_bytes())
    }
}

/// A type usable as a map-state or broadcast-state key.
///
/// Strings and byte vectors are stored as they are, so other languages read the same
/// keys; integers as big-endian bytes (signed ones with the sign bit flipped), so
/// iteration order is numeric order.
pub trait StateKey: Sized {
    /// The key's bytes.
    fn to_key_bytes(&self) -> Vec<u8>;
    /// The key from its bytes.
    fn from_key_bytes(bytes: &[u8]) -> Result<Self>;
}

impl StateKey for String {
    fn to_key_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_key_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(std::str::from_utf8(bytes)?.to_owned())
    }
}

impl StateKey for Vec<u8> {
    fn to_key_bytes(&self) -> Vec<u8> {
        self.clone()
    }
    fn from_key_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(bytes.to_vec())
    }
}

macro_rules! int_key {
    ($($t:ty => $flip:expr),* $(,)?) => {$(
        impl StateKey for $t {
            fn to_key_bytes(&self) -> Vec<u8> {
                (*self ^ $flip).to_be_bytes().to_vec()
            }
            fn from_key_bytes(bytes: &[u8]) -> Result<Self> {
                let arr = bytes.try_into().map_err(|_| {
                    Error::msg(format_args!("a {} key needs {} bytes, got {}",
                        stringify!($t), std::mem::size_of::<$t>(), bytes.len()))
                })?;
                Ok(<$t>::from_be_bytes(arr) ^ $flip)
            }
        }
    )*};
}

int_key!(u32 => 0, u64 => 0, i32 => i32::MIN, i64 => i64::MIN);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_keys_sort_numerically() {
        let mut keys: Vec<Vec<u8>> = [-5i64, 3, -1, 0, i64::MAX, i64::MIN]
            .iter()
            .map(StateKey::to_key_bytes)
            .collect();
        keys.sort();
        let back: Vec<i64> = keys
            .iter()
            .map(|k| i64::from_key_bytes(k).unwrap())
            .collect();
        assert_eq!(back, vec![i64::MIN, -5, -1, 0, 3, i64::MAX]);
    }

    #[test]
    fn a_short_integer_key_is_an_error() {
        assert!(u64::from_key_bytes(b"abc").is_err());
    }
}
