//! A job's functions, loaded, compiled and checked against their worlds once per run
//! (every restart instantiates them again from these).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::options::{JobError, RunOptions};
use crate::manifest::{ComponentRef, Job, Node, NodeKind, OperatorKind, OperatorNode};
use crate::operator::WasmFunctions;
use crate::wasm::Prepared;
use crate::wasm::bindings::types::InitContext;
use crate::wasm::bindings::{broadcast_function, window_function};

/// A function ready to instantiate per parallel instance.
#[derive(Clone)]
pub enum PreparedFn {
    /// A map function component.
    Map(Arc<Prepared<crate::wasm::MapExports>>),
    /// A process-window function component.
    Window(Arc<Prepared<window_function::Guest>>),
    /// A broadcast-process function component.
    Broadcast(Arc<Prepared<broadcast_function::Guest>>),
    /// A native function registered by name, and what its `init` gets.
    Native(String, InitContext),
}

impl PreparedFn {
    /// SHA-256 of the component, if it is one.
    pub fn hash(&self) -> Option<String> {
        match self {
            PreparedFn::Map(p) => Some(p.info.component.hash.clone()),
            PreparedFn::Window(p) => Some(p.info.component.hash.clone()),
            PreparedFn::Broadcast(p) => Some(p.info.component.hash.clone()),
            PreparedFn::Native(..) => None,
        }
    }
}

/// Loads, compiles and checks every function of `job`, by node index; with the engine
/// they were prepared with (swaps prepare new versions with it).
pub fn prepare_all(
    job: &Job,
    options: &RunOptions,
) -> Result<(HashMap<usize, PreparedFn>, Arc<WasmFunctions>)> {
    let wasm = Arc::new(WasmFunctions::new(options.cache_dir.clone())?);
    let mut out = HashMap::new();
    for (i, n) in job.nodes.iter().enumerate() {
        if let NodeKind::Operator(o) = &n.kind {
            out.insert(i, prepare(&wasm, n, o, None)?);
        }
    }
    Ok((out, wasm))
}

/// Prepares operator `n` with the version a snapshot recorded (swapped in).
pub fn prepare_version(
    wasm: &WasmFunctions,
    n: &Node,
    o: &OperatorNode,
    v: &crate::checkpoint::metadata::Version,
) -> Result<PreparedFn> {
    prepare(wasm, n, o, Some((&v.component, &v.config)))
}

/// Loads, compiles and checks every function of `job` against its world, as a run
/// would, without running anything (what `weir validate` does after the manifest).
pub fn check_functions(job: &Job, options: &RunOptions) -> Result<(), JobError> {
    prepare_all(job, options)?;
    Ok(())
}

/// The component file and content hash of a prepared function.
pub fn version_of(p: &PreparedFn) -> Option<(String, std::path::PathBuf)> {
    let info = match p {
        PreparedFn::Map(p) => &p.info,
        PreparedFn::Window(p) => &p.info,
        PreparedFn::Broadcast(p) => &p.info,
        PreparedFn::Native(..) => return None,
    };
    Some((info.component.hash.clone(), info.component.path.clone()))
}

/// Loads, compiles and checks (against its world) the function of operator `n` (or
/// another component and config, when given).
fn prepare(
    wasm: &WasmFunctions,
    n: &Node,
    o: &OperatorNode,
    version: Option<(&std::path::PathBuf, &String)>,
) -> Result<PreparedFn> {
    let mut files = Vec::new();
    for (name, path) in &o.files {
        let data = std::fs::read(path).with_context(|| {
            format!(
                "operator `{}`: reading file `{name}` ({})",
                n.name,
                path.display()
            )
        })?;
        files.push((name.clone(), data));
    }
    let init = InitContext {
        operator: n.name.clone(),
        config: version.map_or_else(|| o.config_json.clone(), |(_, c)| c.clone()),
        files,
        subtask: 0,
        parallelism: n.parallelism,
    };
    let path = match (&o.component, version) {
        (_, Some((p, _))) => p.clone(),
        (ComponentRef::Native(name), None) => {
            return Ok(PreparedFn::Native(name.clone(), init));
        }
        (ComponentRef::Wasm(p), None) => p.clone(),
    };
    Ok(match o.kind {
        OperatorKind::Map => PreparedFn::Map(wasm.prepare(&n.name, &path, o.limits, init)?),
        OperatorKind::Window { .. } => {
            PreparedFn::Window(wasm.prepare(&n.name, &path, o.limits, init)?)
        }
        OperatorKind::Broadcast { .. } => {
            PreparedFn::Broadcast(wasm.prepare(&n.name, &path, o.limits, init)?)
        }
    })
}

/// What instance `sub`'s `init` gets.
pub fn subtask_init(init: &InitContext, sub: u32) -> InitContext {
    let mut i = init.clone();
    i.subtask = sub;
    i
}
