//! Running the example functions natively inside the host: the same Rust code as the
//! Wasm components, called through the same operators, with the same state, but without
//! the Wasm boundary. This is what the benchmarks measure Wasm against.

use weir::manifest::{ComponentRef, Job, NodeKind};
use weir::operator::{
    BroadcastFunction, FunctionLabel, MapFunction, NativeFunctions, WindowFunction,
};
use weir::record::{Batch, Header, KeyTable, Values};
use weir::state::KeyedState;
use weir::wasm::bindings::broadcast_state::Host as _;
use weir::wasm::bindings::keyed_state::{self, Host as _};
use weir::wasm::bindings::types::{InitContext, Output, RecordError, TimeWindow};
use weir::wasm::bindings::window_function::{FiredWindow, Fold, FoldOutput};
use weir::wasm::{BroadcastHost, Failure, KeyedHost};
use weir_sdk::batch::{BatchView, KeyTableView, Values as SdkValues};
use weir_sdk::broadcast::BroadcastError;
use weir_sdk::native::NativeHost;
use weir_sdk::state::{Entries, Mutation, Op, Scope, StateError, StateKind, StateSpec};
use weir_sdk::{BroadcastProcess, Map, ProcessWindow};

/// Registers the example functions as natives named after their crates.
pub fn register(natives: &mut NativeFunctions) {
    natives.map("ad-filter", map::<ad_filter::AdFilter>);
    natives.map("anonymize", map::<anonymize::Anonymize>);
    natives.map("ysb-campaign", map::<ysb_campaign::YsbCampaign>);
    natives.window("ysb-window", window::<ysb_window::YsbWindow>);
    natives.window("sessions", window::<::sessions::Sessions>);
    natives.broadcast("ysb-broadcast", broadcast::<ysb_broadcast::YsbBroadcast>);
    natives.broadcast("goods-enrich", broadcast::<goods_enrich::GoodsEnrich>);
}

/// Points every operator of `job` whose component is an example crate at its native twin.
pub fn use_natives(job: &mut Job) {
    for n in &mut job.nodes {
        if let NodeKind::Operator(o) = &mut n.kind
            && let ComponentRef::Wasm(p) = &o.component
            && let Some(name) = p.file_name()
        {
            o.component = ComponentRef::Native(name.to_string_lossy().into_owned());
        }
    }
}

/// A native map function instance by name (for measuring a function alone).
pub fn map_by_name(name: &str, init: &InitContext) -> Box<dyn MapFunction> {
    match name {
        "ad-filter" => map::<ad_filter::AdFilter>(init, None),
        "anonymize" => map::<anonymize::Anonymize>(init, None),
        "ysb-campaign" => map::<ysb_campaign::YsbCampaign>(init, None),
        other => panic!("no native map function {other}"),
    }
    .expect("the native function starts")
}

/// Points every operator of `job` at the native function `name`.
pub fn use_natives_named(job: &mut Job, name: &str) {
    for n in &mut job.nodes {
        if let NodeKind::Operator(o) = &mut n.kind {
            o.component = ComponentRef::Native(name.to_owned());
        }
    }
}

/// The host side of the SDK's imports: the same keyed and broadcast state hosts the Wasm
/// functions use.
struct Bridge {
    keyed: KeyedHost,
    broadcast: BroadcastHost,
}

fn sdk_state_error(e: keyed_state::StateError) -> StateError {
    use keyed_state::StateError as E;
    match e {
        E::UnknownState(id) => StateError::UnknownState(id),
        E::WrongKind(id) => StateError::WrongKind(id),
        E::NotKeyed => StateError::NotKeyed,
        E::NoSuchKey(k) => StateError::NoSuchKey(k),
        E::NoSuchWindow => StateError::NoSuchWindow,
        E::DeclareOutsideInit => StateError::DeclareOutsideInit,
        E::InvalidName(n) => StateError::InvalidName(n),
        E::TooLarge(n) => StateError::TooLarge(n),
        E::Backend(m) => StateError::Backend(m),
    }
}

fn sdk_broadcast_error(e: weir::wasm::bindings::broadcast_state::BroadcastError) -> BroadcastError {
    use weir::wasm::bindings::broadcast_state::BroadcastError as E;
    match e {
        E::ReadOnly => BroadcastError::ReadOnly,
        E::TooLarge(n) => BroadcastError::TooLarge(n),
        E::Backend(m) => BroadcastError::Backend(m),
    }
}

fn scope(s: Scope) -> keyed_state::Scope {
    keyed_state::Scope {
        key: s.key,
        window: s.window.map(|w| TimeWindow {
            start: w.start,
            end: w.end,
        }),
    }
}

fn sdk_values(v: Values) -> SdkValues {
    SdkValues {
        data: v.data,
        ends: v.ends,
        present: v.present,
    }
}

impl NativeHost for Bridge {
    fn declare(&mut self, spec: &StateSpec) -> Result<u32, StateError> {
        let kind = match spec.kind {
            StateKind::Value => keyed_state::StateKind::Value,
            StateKind::List => keyed_state::StateKind::List,
            StateKind::Map => keyed_state::StateKind::Map,
        };
        let wit = keyed_state::StateSpec {
            name: spec.name.clone(),
            kind,
            ttl_ms: spec.ttl_ms,
        };
        match &spec.type_tag {
            None => self.keyed.declare(wit).map_err(sdk_state_error),
            Some(tag) => self
                .keyed
                .declare_typed(wit, tag.clone())
                .map_err(|e| match e {
                    keyed_state::DeclareError::State(s) => sdk_state_error(s),
                    keyed_state::DeclareError::Conflict(m) => StateError::Conflict(m),
                }),
        }
    }

    fn get_values(&mut self, state: u32, scopes: &[Scope]) -> Result<SdkValues, StateError> {
        let scopes = scopes.iter().copied().map(scope).collect();
        self.keyed
            .get_values(state, scopes)
            .map(sdk_values)
            .map_err(sdk_state_error)
    }

    fn get_list(&mut self, state: u32, s: Scope) -> Result<SdkValues, StateError> {
        self.keyed
            .get_list(state, scope(s))
            .map(sdk_values)
            .map_err(sdk_state_error)
    }

    fn get_entries(
        &mut self,
        state: u32,
        s: Scope,
        user_keys: &[Vec<u8>],
    ) -> Result<SdkValues, StateError> {
        self.keyed
            .get_entries(state, scope(s), user_keys.to_vec())
            .map(sdk_values)
            .map_err(sdk_state_error)
    }

    fn scan_entries(
        &mut self,
        state: u32,
        s: Scope,
        start_after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Entries, StateError> {
        self.keyed
            .scan_entries(state, scope(s), start_after.map(<[u8]>::to_vec), limit)
            .map(|e| Entries {
                data: e.data,
                ends: e.ends,
                more: e.more,
            })
            .map_err(sdk_state_error)
    }

    fn apply(&mut self, mutations: &[Mutation], data: &[u8]) -> Result<(), StateError> {
        let mutations = mutations
            .iter()
            .map(|m| keyed_state::Mutation {
                op: match m.op {
                    Op::SetValue => keyed_state::Op::SetValue,
                    Op::AddToList => keyed_state::Op::AddToList,
                    Op::PutEntry => keyed_state::Op::PutEntry,
                    Op::RemoveEntry => keyed_state::Op::RemoveEntry,
                    Op::Clear => keyed_state::Op::Clear,
                },
                state: m.state,
                scope: scope(m.scope),
                user_key_len: m.user_key_len,
                value_len: m.value_len,
            })
            .collect();
        self.keyed
            .apply(mutations, data.to_vec())
            .map_err(sdk_state_error)
    }

    fn broadcast_get(
        &mut self,
        state: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, BroadcastError> {
        self.broadcast
            .get(state.to_owned(), key.to_vec())
            .map_err(sdk_broadcast_error)
    }

    fn broadcast_scan(
        &mut self,
        state: &str,
        start_after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Entries, BroadcastError> {
        self.broadcast
            .scan(state.to_owned(), start_after.map(<[u8]>::to_vec), limit)
            .map(|e| Entries {
                data: e.data,
                ends: e.ends,
                more: e.more,
            })
            .map_err(sdk_broadcast_error)
    }

    fn broadcast_len(&mut self, state: &str) -> Result<u64, BroadcastError> {
        self.broadcast
            .len(state.to_owned())
            .map_err(sdk_broadcast_error)
    }

    fn broadcast_put(
        &mut self,
        state: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), BroadcastError> {
        self.broadcast
            .put(state.to_owned(), key.to_vec(), value.to_vec())
            .map_err(sdk_broadcast_error)
    }

    fn broadcast_remove(&mut self, state: &str, key: &[u8]) -> Result<(), BroadcastError> {
        self.broadcast
            .remove(state.to_owned(), key.to_vec())
            .map_err(sdk_broadcast_error)
    }

    fn broadcast_clear(&mut self, state: &str) -> Result<(), BroadcastError> {
        self.broadcast
            .clear(state.to_owned())
            .map_err(sdk_broadcast_error)
    }
}

/// A native function and the host it calls.
struct Native<F> {
    f: F,
    host: Bridge,
    label: FunctionLabel,
}

fn start<F>(
    init: &InitContext,
    keyed: Option<KeyedState>,
    make: impl FnOnce(&weir_sdk::InitContext) -> weir_sdk::Result<F>,
) -> anyhow::Result<Native<F>> {
    let ctx = weir_sdk::InitContext {
        operator: init.operator.clone(),
        config: init.config.clone(),
        files: init.files.clone(),
        subtask: init.subtask,
        parallelism: init.parallelism,
    };
    let mut host = Bridge {
        keyed: KeyedHost::new(keyed),
        broadcast: BroadcastHost::default(),
    };
    host.keyed.begin_init();
    let f = weir_sdk::native::with_host(&mut host, || make(&ctx))
        .map_err(|e| anyhow::anyhow!("init: {e}"))?;
    host.keyed.abort();
    Ok(Native {
        f,
        host,
        label: FunctionLabel {
            operator: init.operator.clone(),
            function: format!("native function {}", std::any::type_name::<F>()),
        },
    })
}

fn map<M: Map + Send>(
    init: &InitContext,
    keyed: Option<KeyedState>,
) -> anyhow::Result<Box<dyn MapFunction>> {
    Ok(Box::new(start(init, keyed, M::init)?))
}

fn window<W: ProcessWindow + Send>(
    init: &InitContext,
    keyed: Option<KeyedState>,
) -> anyhow::Result<Box<dyn WindowFunction>> {
    Ok(Box::new(start(init, keyed, W::init)?))
}

fn broadcast<B: BroadcastProcess + Send>(
    init: &InitContext,
    keyed: Option<KeyedState>,
) -> anyhow::Result<Box<dyn BroadcastFunction>> {
    Ok(Box::new(start(init, keyed, B::init)?))
}

fn sdk_headers(b: &Batch) -> Vec<weir_sdk::record::Header> {
    b.headers
        .iter()
        .map(|h| weir_sdk::record::Header {
            record: h.record,
            name: h.name.clone(),
            value: h.value.clone(),
        })
        .collect()
}

fn view<'a>(b: &'a Batch, headers: &'a [weir_sdk::record::Header]) -> BatchView<'a> {
    BatchView {
        data: &b.data,
        ends: &b.ends,
        flags: &b.flags,
        timestamps: &b.timestamps,
        headers,
    }
}

fn keys_view(k: &KeyTable) -> KeyTableView<'_> {
    KeyTableView {
        data: &k.data,
        ends: &k.ends,
        of_record: &k.of_record,
    }
}

fn host_output(mut out: weir_sdk::Output) -> Output {
    let (b, origins, errors) = out.take();
    Output {
        records: Batch {
            data: b.data,
            ends: b.ends,
            flags: b.flags,
            timestamps: b.timestamps,
            headers: b
                .headers
                .into_iter()
                .map(|h| Header {
                    record: h.record,
                    name: h.name,
                    value: h.value,
                })
                .collect(),
        },
        origins,
        errors: errors
            .into_iter()
            .map(|e| RecordError {
                index: e.index,
                message: e.message,
            })
            .collect(),
    }
}

impl<F> Native<F> {
    /// One call of a record-batch function (map, or either side of broadcast-process):
    /// the host side set up as the Wasm host sets it up, then `call` on `input`.
    fn call_batch(
        &mut self,
        input: &Batch,
        keys: Option<&KeyTable>,
        broadcast_writable: bool,
        now_ms: i64,
        call: impl FnOnce(&mut F, BatchView<'_>, Option<KeyTableView<'_>>, &mut weir_sdk::Output),
    ) -> Result<Output, Failure> {
        self.host.keyed.begin_call(keys, Vec::new(), now_ms);
        self.host.broadcast.begin_call(broadcast_writable);
        let headers = sdk_headers(input);
        let mut out = weir_sdk::Output::default();
        let f = &mut self.f;
        weir_sdk::native::with_host(&mut self.host, || {
            call(f, view(input, &headers), keys.map(keys_view), &mut out)
        });
        self.finish(out)
    }

    fn finish(&mut self, out: weir_sdk::Output) -> Result<Output, Failure> {
        self.host.broadcast.commit();
        self.host
            .keyed
            .commit()
            .map_err(|e| Failure::Host(format!("{e:#}")))?;
        Ok(host_output(out))
    }
}

impl<M: Map + Send> MapFunction for Native<M> {
    fn label(&self) -> &FunctionLabel {
        &self.label
    }

    fn process(
        &mut self,
        input: &Batch,
        keys: Option<&KeyTable>,
        now_ms: i64,
    ) -> Result<Output, Failure> {
        self.call_batch(input, keys, false, now_ms, weir_sdk::map::process_batch)
    }
}

impl<W: ProcessWindow + Send> WindowFunction for Native<W> {
    fn label(&self) -> &FunctionLabel {
        &self.label
    }

    fn set_panes(&mut self, panes: Vec<weir::time::Timing>) {
        self.host.keyed.set_panes(panes);
    }

    fn process(
        &mut self,
        keys: &KeyTable,
        windows: &[FiredWindow],
        elements: &Batch,
        now_ms: i64,
    ) -> Result<Output, Failure> {
        let scopes = windows
            .iter()
            .enumerate()
            .map(|(i, w)| (keys.of_record[i], w.window))
            .collect();
        self.host.keyed.begin_call(Some(keys), scopes, now_ms);
        self.host.broadcast.begin_call(false);
        let specs: Vec<weir_sdk::window::WindowSpec> = windows
            .iter()
            .enumerate()
            .map(|(i, w)| weir_sdk::window::WindowSpec {
                window: weir_sdk::TimeWindow {
                    start: w.window.start,
                    end: w.window.end,
                },
                first: w.first,
                count: w.count,
                update: w.update,
                timing: match self.host.keyed.panes().get(i) {
                    Some(weir::time::Timing::Early) => weir_sdk::Timing::Early,
                    Some(weir::time::Timing::Late) => weir_sdk::Timing::Late,
                    _ => weir_sdk::Timing::OnTime,
                },
            })
            .collect();
        let headers = sdk_headers(elements);
        let mut out = weir_sdk::Output::default();
        let f = &mut self.f;
        weir_sdk::native::with_host(&mut self.host, || {
            weir_sdk::window::process_windows(
                f,
                keys_view(keys),
                &specs,
                view(elements, &headers),
                &mut out,
            )
        });
        self.finish(out)
    }

    fn aggregate(
        &mut self,
        _: &KeyTable,
        _: &[Fold],
        _: &Values,
        _: &Batch,
    ) -> Result<FoldOutput, Failure> {
        Err(Failure::Malformed(
            "the native functions have no incremental aggregate".into(),
        ))
    }

    fn merge(&mut self, _: &Values, _: &[u32]) -> Result<Values, Failure> {
        Err(Failure::Malformed(
            "the native functions have no incremental aggregate".into(),
        ))
    }
}

impl<B: BroadcastProcess + Send> BroadcastFunction for Native<B> {
    fn label(&self) -> &FunctionLabel {
        &self.label
    }

    fn process_element(
        &mut self,
        input: &Batch,
        keys: Option<&KeyTable>,
        now_ms: i64,
    ) -> Result<Output, Failure> {
        self.call_batch(
            input,
            keys,
            false,
            now_ms,
            weir_sdk::broadcast::process_elements,
        )
    }

    fn process_broadcast(&mut self, input: &Batch, now_ms: i64) -> Result<Output, Failure> {
        self.call_batch(input, None, true, now_ms, |f, input, _, out| {
            weir_sdk::broadcast::process_broadcasts(f, input, out)
        })
    }

    fn broadcast_state(&self) -> (u64, usize) {
        (self.host.broadcast.digest(), self.host.broadcast.entries())
    }
}
