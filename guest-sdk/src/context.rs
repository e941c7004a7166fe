//! What a function instance receives when it starts, and where it declares its state.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi;
use crate::error::{Error, Result};
use crate::state::{
    AggregatingState, Aggregator, ListState, MapState, ReducingState, StateKey, StateKind,
    StateSpec, ValueState,
};

/// The start-up context of a function instance: its operator's config and files, its
/// place among the parallel instances, and the place to declare keyed state.
#[derive(Debug, Clone, Default)]
pub struct InitContext {
    /// Name of the operator in the job manifest.
    pub operator: String,
    /// The operator's `config` table as a JSON object.
    pub config: String,
    /// The files named in the operator's `files` table: name and contents.
    pub files: Vec<(String, Vec<u8>)>,
    /// Index of this parallel instance, from 0.
    pub subtask: u32,
    /// Number of parallel instances.
    pub parallelism: u32,
}

impl InitContext {
    /// The operator's `config` table deserialized into `T`.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.config)
            .map_err(|e| Error::msg(format_args!("operator config: {e}")))
    }

    /// The contents of the file the manifest names `name` in the operator's `files`.
    pub fn file(&self, name: &str) -> Result<&[u8]> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, data)| data.as_slice())
            .ok_or_else(|| {
                Error::msg(format_args!(
                    "no file named `{name}` in the operator's `files` table"
                ))
            })
    }

    /// Starts declaring a keyed state named `name`.
    pub fn state(&self, name: &str) -> StateBuilder {
        StateBuilder {
            name: name.to_owned(),
            ttl: None,
            per_window: false,
            type_tag: None,
        }
    }

    /// Declares a value state global to each key.
    pub fn value_state<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<ValueState<T>> {
        self.state(name).value()
    }

    /// Declares a list state global to each key.
    pub fn list_state<T: Serialize + DeserializeOwned>(&self, name: &str) -> Result<ListState<T>> {
        self.state(name).list()
    }

    /// Declares a map state global to each key.
    pub fn map_state<K: StateKey, V: Serialize + DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<MapState<K, V>> {
        self.state(name).map()
    }
}

/// The tag of values of type `T` as the SDK stores them (JSON).
fn json_tag<T: ?Sized>() -> String {
    format!("json:{}", std::any::type_name::<T>())
}

/// Options of a keyed state being declared.
#[derive(Debug, Clone)]
pub struct StateBuilder {
    name: String,
    ttl: Option<Duration>,
    per_window: bool,
    type_tag: Option<String>,
}

impl StateBuilder {
    /// Entries not written for `ttl` (processing time) read as absent.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// One state per key *and window* (process-window functions), instead of one per key.
    pub fn per_window(mut self) -> Self {
        self.per_window = true;
        self
    }

    /// Names the type of the state's values (and their serialisation) instead of the
    /// tag derived from the Rust type: keep a tag when a type is renamed but stored the
    /// same, or change it when a type keeps its name but is stored differently.
    ///
    /// The host keeps the tag with the state; a new version of the function that
    /// declares the state with another tag is refused, since it would misread what the
    /// running version wrote.
    pub fn type_tag(mut self, tag: impl Into<String>) -> Self {
        self.type_tag = Some(tag.into());
        self
    }

    fn declare(&self, kind: StateKind, derived: String) -> Result<u32> {
        let spec = StateSpec {
            name: self.name.clone(),
            kind,
            ttl_ms: self
                .ttl
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            type_tag: Some(self.type_tag.clone().unwrap_or(derived)),
        };
        abi::declare(&spec)
            .map_err(|e| Error::from(e).context(format_args!("state `{}`", self.name)))
    }

    /// Declares a value state.
    pub fn value<T: Serialize + DeserializeOwned>(self) -> Result<ValueState<T>> {
        Ok(ValueState::new(
            self.declare(StateKind::Value, json_tag::<T>())?,
            self.per_window,
        ))
    }

    /// Declares a list state.
    pub fn list<T: Serialize + DeserializeOwned>(self) -> Result<ListState<T>> {
        Ok(ListState::new(
            self.declare(StateKind::List, json_tag::<T>())?,
            self.per_window,
        ))
    }

    /// Declares a map state.
    pub fn map<K: StateKey, V: Serialize + DeserializeOwned>(self) -> Result<MapState<K, V>> {
        let tag = format!("key:{};{}", std::any::type_name::<K>(), json_tag::<V>());
        Ok(MapState::new(
            self.declare(StateKind::Map, tag)?,
            self.per_window,
        ))
    }

    /// Declares a reducing state folding added values with `reduce`.
    pub fn reducing<T, F>(self, reduce: F) -> Result<ReducingState<T, F>>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(T, T) -> T,
    {
        Ok(ReducingState::new(self.value()?, reduce))
    }

    /// Declares an aggregating state folding inputs with `aggregator`.
    pub fn aggregating<A: Aggregator>(self, aggregator: A) -> Result<AggregatingState<A>> {
        Ok(AggregatingState::new(self.value()?, aggregator))
    }
}
