//! List state.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::cache::with_call;
use super::types::Op;
use super::{decode, encode};
use crate::error::Result;

/// An ordered list of `T` per key (or per key and window), each element stored as JSON.
/// Adding does not read the list.
#[derive(Debug)]
pub struct ListState<T> {
    id: u32,
    per_window: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for ListState<T> {
    fn clone(&self) -> Self {
        Self::new(self.id, self.per_window)
    }
}

impl<T> ListState<T> {
    pub(crate) fn new(id: u32, per_window: bool) -> Self {
        Self {
            id,
            per_window,
            _t: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> ListState<T> {
    /// Appends `value` to the current key's list.
    pub fn add(&self, value: &T) -> Result<()> {
        let bytes = encode(value)?;
        with_call(|c| {
            let scope = c.scope(self.per_window)?;
            c.log(Op::AddToList, self.id, scope, &[], &bytes);
            c.list(self.id, scope, false)?.appended.push(bytes);
            Ok(())
        })
    }

    /// The current key's list.
    pub fn get(&self) -> Result<Vec<T>> {
        with_call(|c| {
            let scope = c.scope(self.per_window)?;
            let slot = c.list(self.id, scope, true)?;
            let base = if slot.cleared {
                &[][..]
            } else {
                slot.base.as_deref().unwrap_or(&[])
            };
            base.iter()
                .chain(&slot.appended)
                .map(|b| decode(b))
                .collect()
        })
    }

    /// Replaces the current key's list.
    pub fn update(&self, values: &[T]) -> Result<()> {
        self.clear()?;
        values.iter().try_for_each(|v| self.add(v))
    }

    /// Empties the current key's list.
    pub fn clear(&self) -> Result<()> {
        with_call(|c| {
            let scope = c.scope(self.per_window)?;
            c.log(Op::Clear, self.id, scope, &[], &[]);
            let slot = c.list(self.id, scope, false)?;
            slot.cleared = true;
            slot.base = None;
            slot.appended.clear();
            Ok(())
        })
    }
}
