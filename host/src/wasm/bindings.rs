//! Host bindings generated from `wit/`: one world that includes the three function
//! worlds, so the types of `weir:udf/types` are generated once and shared.

#![allow(missing_docs, clippy::all)]

wasmtime::component::bindgen!({
    inline: "
        package weir:host;

        world engine {
            include weir:udf/timed-map@0.1.3;
            include weir:udf/process-window@0.1.3;
            include weir:udf/broadcast-process@0.1.3;
            include weir:udf/migrating@0.1.3;
        }
    ",
    path: "../wit",
    world: "weir:host/engine",
    additional_derives: [PartialEq],
});

pub use self::exports::weir::udf::{
    broadcast_function, map_function, state_migration, timer_function, window_function,
};
pub use self::weir::udf::{broadcast_state, keyed_state, log, panes, timers, types};

impl Default for types::Batch {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            ends: Vec::new(),
            flags: Vec::new(),
            timestamps: Vec::new(),
            headers: Vec::new(),
        }
    }
}

impl Default for types::Values {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            ends: Vec::new(),
            present: Vec::new(),
        }
    }
}

impl Default for types::KeyTable {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            ends: Vec::new(),
            of_record: Vec::new(),
        }
    }
}

impl Default for types::Output {
    fn default() -> Self {
        Self {
            records: types::Batch::default(),
            origins: Vec::new(),
            errors: Vec::new(),
        }
    }
}
