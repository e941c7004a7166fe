//! Bindings generated from `wit/` (Wasm targets only). The three worlds share the
//! generated types of `types`, `log` and `keyed-state`.

#![allow(missing_docs, clippy::all)]

/// The `broadcast-process` world, which also generates the shared imports.
pub mod broadcast {
    wit_bindgen::generate!({
        world: "weir:udf/broadcast-process",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "weir_sdk::__private::bindings::broadcast",
    });
}

/// The `map` world.
pub mod map {
    wit_bindgen::generate!({
        world: "weir:udf/%map",
        path: "../wit",
        with: {
            "weir:udf/types@0.1.3": crate::abi::bindings::broadcast::weir::udf::types,
            "weir:udf/log@0.1.3": crate::abi::bindings::broadcast::weir::udf::log,
            "weir:udf/keyed-state@0.1.3": crate::abi::bindings::broadcast::weir::udf::keyed_state,
        },
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "weir_sdk::__private::bindings::map",
    });
}

/// The `process-window` world.
pub mod window {
    wit_bindgen::generate!({
        world: "weir:udf/process-window",
        path: "../wit",
        with: {
            "weir:udf/types@0.1.3": crate::abi::bindings::broadcast::weir::udf::types,
            "weir:udf/log@0.1.3": crate::abi::bindings::broadcast::weir::udf::log,
            "weir:udf/keyed-state@0.1.3": crate::abi::bindings::broadcast::weir::udf::keyed_state,
        },
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "weir_sdk::__private::bindings::window",
    });
}

/// The `migrating` world: the `state-migration` export a function adds to its own.
pub mod migrating {
    wit_bindgen::generate!({
        world: "weir:udf/migrating",
        path: "../wit",
        with: {
            "weir:udf/types@0.1.3": crate::abi::bindings::broadcast::weir::udf::types,
        },
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "weir_sdk::__private::bindings::migrating",
    });
}

/// The `timed` world: the timers a map function adds to its own world.
pub mod timed {
    wit_bindgen::generate!({
        world: "weir:udf/timed",
        path: "../wit",
        with: {
            "weir:udf/types@0.1.3": crate::abi::bindings::broadcast::weir::udf::types,
        },
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "weir_sdk::__private::bindings::timed",
    });
}
