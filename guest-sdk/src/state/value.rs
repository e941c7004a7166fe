//! Value state, and the reducing and aggregating states built on it.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::cache::with_call;
use super::{decode, encode};
use crate::error::Result;

/// One value of type `T` per key (or per key and window), stored as JSON.
#[derive(Debug)]
pub struct ValueState<T> {
    id: u32,
    per_window: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for ValueState<T> {
    fn clone(&self) -> Self {
        Self::new(self.id, self.per_window)
    }
}

impl<T> ValueState<T> {
    pub(crate) fn new(id: u32, per_window: bool) -> Self {
        Self {
            id,
            per_window,
            _t: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> ValueState<T> {
    /// The current key's value, if it has one.
    pub fn get(&self) -> Result<Option<T>> {
        with_call(|c| {
            let scope = c.scope(self.per_window)?;
            c.value(self.id, scope)?.map(decode).transpose()
        })
    }

    /// Sets the current key's value.
    pub fn set(&self, value: &T) -> Result<()> {
        let bytes = encode(value)?;
        with_call(|c| {
            let scope = c.scope(self.per_window)?;
            c.set_value(self.id, scope, Some(bytes));
            Ok(())
        })
    }

    /// Removes the current key's value.
    pub fn clear(&self) -> Result<()> {
        with_call(|c| {
            let scope = c.scope(self.per_window)?;
            c.set_value(self.id, scope, None);
            Ok(())
        })
    }

    /// Replaces the current key's value with `f(old)` and returns the new value.
    pub fn update(&self, f: impl FnOnce(Option<T>) -> T) -> Result<T> {
        let new = f(self.get()?);
        self.set(&new)?;
        Ok(new)
    }
}

/// A value state that folds each added value into the stored one with a reduce function
/// (Flink's `ReducingState`).
pub struct ReducingState<T, F> {
    value: ValueState<T>,
    reduce: F,
}

impl<T, F> ReducingState<T, F>
where
    T: Serialize + DeserializeOwned,
    F: Fn(T, T) -> T,
{
    pub(crate) fn new(value: ValueState<T>, reduce: F) -> Self {
        Self { value, reduce }
    }

    /// Folds `value` into the current key's value (or stores it, if there is none).
    pub fn add(&self, value: T) -> Result<()> {
        let new = match self.value.get()? {
            Some(old) => (self.reduce)(old, value),
            None => value,
        };
        self.value.set(&new)
    }

    /// The current key's reduced value.
    pub fn get(&self) -> Result<Option<T>> {
        self.value.get()
    }

    /// Removes the current key's value.
    pub fn clear(&self) -> Result<()> {
        self.value.clear()
    }
}

/// How an [`AggregatingState`] folds inputs into an accumulator (Flink's
/// `AggregateFunction`).
pub trait Aggregator {
    /// What is added.
    type Input;
    /// What is stored.
    type Acc: Serialize + DeserializeOwned;
    /// What is read.
    type Output;
    /// The accumulator of a key with nothing added yet.
    fn create(&self) -> Self::Acc;
    /// Adds one input to an accumulator.
    fn add(&self, acc: &mut Self::Acc, input: Self::Input);
    /// The result of an accumulator.
    fn result(&self, acc: &Self::Acc) -> Self::Output;
}

/// A state that folds inputs into a stored accumulator and reads out a result.
pub struct AggregatingState<A: Aggregator> {
    acc: ValueState<A::Acc>,
    aggregator: A,
}

impl<A: Aggregator> AggregatingState<A> {
    pub(crate) fn new(acc: ValueState<A::Acc>, aggregator: A) -> Self {
        Self { acc, aggregator }
    }

    /// Adds an input to the current key's accumulator.
    pub fn add(&self, input: A::Input) -> Result<()> {
        let mut acc = self.acc.get()?.unwrap_or_else(|| self.aggregator.create());
        self.aggregator.add(&mut acc, input);
        self.acc.set(&acc)
    }

    /// The current key's result, if anything was added.
    pub fn get(&self) -> Result<Option<A::Output>> {
        Ok(self.acc.get()?.map(|acc| self.aggregator.result(&acc)))
    }

    /// Removes the current key's accumulator.
    pub fn clear(&self) -> Result<()> {
        self.acc.clear()
    }
}
