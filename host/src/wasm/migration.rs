//! A new version's `state-migration` export: which changes of a state's type it
//! offers, and the rewriting of the state's values at a swap's switch.

use anyhow::{Result, bail};
use wasmtime::Store;

use super::bindings::state_migration::Guest;
use super::bindings::types::Values;
use super::engine::WasmEngine;
use super::failure::classify;
use super::instance::{FunctionInfo, INIT_DEADLINE_MS};
use super::store::StoreData;

/// Time one `migrate` call may take, however many values it has.
const MIGRATE_DEADLINE_MS: u64 = 60_000;

/// An instance of a component's `state-migration` export.
pub struct Migrator {
    store: Store<StoreData>,
    exports: Guest,
    info: FunctionInfo,
}

impl Migrator {
    pub(super) fn new(store: Store<StoreData>, exports: Guest, info: FunctionInfo) -> Self {
        Self {
            store,
            exports,
            info,
        }
    }

    /// The migrations the component offers: (state, the type tag it migrates from).
    pub fn migrations(&mut self) -> Result<Vec<(String, String)>> {
        self.store
            .set_epoch_deadline(WasmEngine::deadline_ticks(INIT_DEADLINE_MS));
        self.store.data().log.log.begin_call();
        let r = self.exports.call_migrations(&mut self.store);
        self.store.data().log.log.flush();
        match r {
            Ok(list) => Ok(list.into_iter().map(|m| (m.state, m.from_type)).collect()),
            Err(e) => bail!(
                "{}: `migrations` failed: {}",
                self.info,
                classify(e, self.store.data(), INIT_DEADLINE_MS)
            ),
        }
    }

    /// Rewrites `values` of state `state` from type tag `from`: one result per value,
    /// `None` to remove it.
    pub fn migrate(
        &mut self,
        state: &str,
        from: &str,
        values: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let mut input = Values::default();
        for v in values {
            input.data.extend_from_slice(v);
            input.ends.push(input.data.len() as u32);
            input.present.push(true);
        }
        self.store.data_mut().limiter.reset();
        self.store
            .set_epoch_deadline(WasmEngine::deadline_ticks(MIGRATE_DEADLINE_MS));
        self.store.data().log.log.begin_call();
        let r = self
            .exports
            .call_migrate(&mut self.store, state, from, &input);
        self.store.data().log.log.flush();
        let out = match r {
            Ok(Ok(out)) => out,
            Ok(Err(message)) => bail!(
                "{}: migrating state `{state}` from `{from}` failed: {message}",
                self.info
            ),
            Err(e) => bail!(
                "{}: migrating state `{state}` from `{from}` failed: {}",
                self.info,
                classify(e, self.store.data(), MIGRATE_DEADLINE_MS)
            ),
        };
        if out.ends.len() != values.len() || out.present.len() != values.len() {
            bail!(
                "{}: migrating state `{state}` returned {} values for {}",
                self.info,
                out.ends.len(),
                values.len()
            );
        }
        let mut start = 0usize;
        let mut result = Vec::with_capacity(values.len());
        for (&end, &present) in out.ends.iter().zip(&out.present) {
            let end = end as usize;
            if end < start || end > out.data.len() {
                bail!(
                    "{}: migrating state `{state}` returned malformed values",
                    self.info
                );
            }
            result.push(present.then(|| out.data[start..end].to_vec()));
            start = end;
        }
        Ok(result)
    }
}
