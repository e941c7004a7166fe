//! The export macros: one per function kind, turning a type into a Wasm component's
//! exports. On non-Wasm targets they expand to nothing, so a function crate also builds
//! (and unit-tests) natively.

/// Exports a [`Map`](crate::Map) implementation as the component's map function; with
/// `, timers` also its [`OnTimer`](crate::OnTimer) (world `timed-map`: the function may
/// register [`timers`](crate::timers) of its keys).
///
/// ```
/// use weir_sdk::{InitContext, Map, Output, Record, Result};
///
/// struct Echo;
///
/// impl Map for Echo {
///     fn init(_: &InitContext) -> Result<Self> {
///         Ok(Echo)
///     }
///     fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
///         out.emit(record.value);
///         Ok(())
///     }
/// }
///
/// weir_sdk::export_map!(Echo);
/// ```
#[macro_export]
macro_rules! export_map {
    (@with $ty:ty, { $($extra:tt)* }) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__private::bindings::map::exports::weir::udf::map_function as wit;
            use $crate::__private::wit as types;

            struct WeirMapExport;

            ::std::thread_local! {
                static INSTANCE: $crate::__private::Slot<$ty> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            impl wit::Guest for WeirMapExport {
                fn init(
                    ctx: types::InitContext,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    INSTANCE.with(|s| $crate::__private::init(s, ctx, <$ty as $crate::Map>::init))
                }
                fn process(
                    input: types::Batch,
                    keys: ::core::option::Option<types::KeyTable>,
                ) -> types::Output {
                    INSTANCE.with(|s| $crate::__private::map_process(s, input, keys))
                }
            }

            $crate::__private::bindings::map::export_world!(
                WeirMapExport with_types_in $crate::__private::bindings::map
            );

            $($extra)*
        };
    };
    ($ty:ty, timers) => {
        $crate::export_map!(@with $ty, {
            use $crate::__private::bindings::timed::exports::weir::udf::timer_function as tf;

            impl tf::Guest for WeirMapExport {
                fn on_timer(
                    keys: types::KeyTable,
                    timers: ::std::vec::Vec<tf::FiredTimer>,
                ) -> types::Output {
                    INSTANCE.with(|s| $crate::__private::map_on_timer(s, keys, timers))
                }
            }

            $crate::__private::bindings::timed::export_world!(
                WeirMapExport with_types_in $crate::__private::bindings::timed
            );
        });
    };
    ($ty:ty) => {
        $crate::export_map!(@with $ty, {});
    };
}

/// Exports a [`ProcessWindow`](crate::ProcessWindow) implementation as the component's
/// process-window function; with `, aggregate` also its
/// [`WindowAggregate`](crate::WindowAggregate) for incremental aggregation.
///
/// ```
/// use weir_sdk::{FiredWindow, InitContext, Output, ProcessWindow, Record, Result, WindowAggregate};
///
/// /// Counts each window's elements incrementally.
/// struct Counter;
///
/// impl ProcessWindow for Counter {
///     fn init(_: &InitContext) -> Result<Self> {
///         Ok(Counter)
///     }
///     fn process(&mut self, w: &FiredWindow<'_>, out: &mut Output) -> Result<()> {
///         let n: u64 = w.elements.accumulator()?;
///         out.emit(format!("{} {}..{}: {n}", w.key_str()?, w.window.start, w.window.end));
///         Ok(())
///     }
/// }
///
/// impl WindowAggregate for Counter {
///     type Acc = u64;
///     fn add(&self, acc: &mut u64, _: &Record<'_>) -> Result<()> {
///         *acc += 1;
///         Ok(())
///     }
///     fn merge(&self, acc: &mut u64, other: u64) {
///         *acc += other;
///     }
/// }
///
/// weir_sdk::export_window!(Counter, aggregate);
/// ```
#[macro_export]
macro_rules! export_window {
    ($ty:ty) => {
        $crate::export_window!(@impl $ty,
            aggregate(_s, folds, accs, _el) => $crate::__private::no_aggregate(folds, accs),
            merge(_s, _accs, _groups) => $crate::__private::no_merge());
    };
    ($ty:ty, aggregate) => {
        $crate::export_window!(@impl $ty,
            aggregate(s, folds, accs, el) => $crate::__private::window_aggregate(s, folds, accs, el),
            merge(s, accs, groups) => $crate::__private::window_merge(s, accs, groups));
    };
    (@impl $ty:ty,
        aggregate($s:ident, $folds:ident, $accs:ident, $el:ident) => $agg:expr,
        merge($ms:ident, $maccs:ident, $groups:ident) => $merge:expr) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__private::bindings::window::exports::weir::udf::window_function as wit;
            use $crate::__private::wit as types;

            struct WeirWindowExport;

            ::std::thread_local! {
                static INSTANCE: $crate::__private::Slot<$ty> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            impl wit::Guest for WeirWindowExport {
                fn init(ctx: types::InitContext) -> ::core::result::Result<(), ::std::string::String> {
                    INSTANCE.with(|s| {
                        $crate::__private::init(s, ctx, <$ty as $crate::ProcessWindow>::init)
                    })
                }
                fn process(
                    keys: types::KeyTable,
                    windows: ::std::vec::Vec<wit::FiredWindow>,
                    elements: types::Batch,
                ) -> types::Output {
                    INSTANCE.with(|s| $crate::__private::window_process(s, keys, windows, elements))
                }
                fn aggregate(
                    _keys: types::KeyTable,
                    $folds: ::std::vec::Vec<wit::Fold>,
                    $accs: types::Values,
                    $el: types::Batch,
                ) -> wit::FoldOutput {
                    INSTANCE.with(|$s| $agg)
                }
                fn merge(
                    $maccs: types::Values,
                    $groups: ::std::vec::Vec<u32>,
                ) -> ::core::result::Result<types::Values, ::std::string::String> {
                    INSTANCE.with(|$ms| $merge)
                }
            }

            $crate::__private::bindings::window::export_world!(
                WeirWindowExport with_types_in $crate::__private::bindings::window
            );
        };
    };
}

/// Exports a [`BroadcastProcess`](crate::BroadcastProcess) implementation as the
/// component's broadcast-process function.
///
/// ```
/// use weir_sdk::{BroadcastProcess, BroadcastState, InitContext, Output, Record, Result};
///
/// /// Tags records with the label the broadcast input last gave their key.
/// struct Labels {
///     labels: BroadcastState<String, String>,
/// }
///
/// impl BroadcastProcess for Labels {
///     fn init(_: &InitContext) -> Result<Self> {
///         Ok(Labels { labels: BroadcastState::new("labels") })
///     }
///     fn process_element(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
///         let label = self.labels.get(record.text()?)?.unwrap_or_default();
///         out.emit(format!("{} {label}", record.text()?));
///         Ok(())
///     }
///     fn process_broadcast(&mut self, record: &Record<'_>, _: &mut Output) -> Result<()> {
///         let (key, label) = record.text()?.split_once('=').unwrap_or_default();
///         self.labels.put(&key.to_owned(), &label.to_owned())?;
///         Ok(())
///     }
/// }
///
/// weir_sdk::export_broadcast!(Labels);
/// ```
#[macro_export]
macro_rules! export_broadcast {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__private::bindings::broadcast::exports::weir::udf::broadcast_function as wit;
            use $crate::__private::wit as types;

            struct WeirBroadcastExport;

            ::std::thread_local! {
                static INSTANCE: $crate::__private::Slot<$ty> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            impl wit::Guest for WeirBroadcastExport {
                fn init(ctx: types::InitContext) -> ::core::result::Result<(), ::std::string::String> {
                    INSTANCE.with(|s| {
                        $crate::__private::init(s, ctx, <$ty as $crate::BroadcastProcess>::init)
                    })
                }
                fn process_element(
                    input: types::Batch,
                    keys: ::core::option::Option<types::KeyTable>,
                ) -> types::Output {
                    INSTANCE.with(|s| $crate::__private::broadcast_element(s, input, keys))
                }
                fn process_broadcast(input: types::Batch) -> types::Output {
                    INSTANCE.with(|s| $crate::__private::broadcast_broadcast(s, input))
                }
            }

            $crate::__private::bindings::broadcast::export_world!(
                WeirBroadcastExport with_types_in $crate::__private::bindings::broadcast
            );
        };
    };
}

/// Exports a [`Migrate`](crate::Migrate) implementation as the component's
/// `state-migration` interface, next to its function (see [`migrate`](crate::migrate)).
///
/// ```
/// use weir_sdk::{Migrate, Migration};
///
/// struct Counter;
///
/// impl Migrate for Counter {
///     fn migrations() -> Vec<Migration> {
///         vec![Migration::json("count", "json:u32", |n: u32| Ok(Some(u64::from(n))))]
///     }
/// }
///
/// weir_sdk::export_migrations!(Counter);
/// ```
#[macro_export]
macro_rules! export_migrations {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__private::bindings::migrating::exports::weir::udf::state_migration as wit;
            use $crate::__private::wit as types;

            struct WeirMigrationExport;

            impl wit::Guest for WeirMigrationExport {
                fn migrations() -> ::std::vec::Vec<wit::Migration> {
                    $crate::__private::migrations::<$ty>()
                }
                fn migrate(
                    state: ::std::string::String,
                    from_type: ::std::string::String,
                    values: types::Values,
                ) -> ::core::result::Result<types::Values, ::std::string::String> {
                    $crate::__private::migrate::<$ty>(state, from_type, values)
                }
            }

            $crate::__private::bindings::migrating::export_world!(
                WeirMigrationExport with_types_in $crate::__private::bindings::migrating
            );
        };
    };
}
