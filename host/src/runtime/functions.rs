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
use crate::wasm::bindings::{broadcast_function, map_function, window_function};

/// A function ready to instantiate per parallel instance.
pub enum PreparedFn {
    /// A map function component.
    Map(Arc<Prepared<map_function::Guest>>),
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

/// Loads, compiles and checks every function of `job`, by node index.
pub fn prepare_all(job: &Job, options: &RunOptions) -> Result<HashMap<usize, PreparedFn>> {
    let mut wasm = None;
    let mut out = HashMap::new();
    for (i, n) in job.nodes.iter().enumerate() {
        if let NodeKind::Operator(o) = &n.kind {
            out.insert(i, prepare(&mut wasm, options, n, o)?);
        }
    }
    Ok(out)
}

/// Loads, compiles and checks every function of `job` against its world, as a run
/// would, without running anything (what `weir validate` does after the manifest).
pub fn check_functions(job: &Job, options: &RunOptions) -> Result<(), JobError> {
    prepare_all(job, options)?;
    Ok(())
}

/// Loads, compiles and checks (against its world) the function of operator `n`.
fn prepare(
    wasm: &mut Option<WasmFunctions>,
    options: &RunOptions,
    n: &Node,
    o: &OperatorNode,
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
        config: o.config_json.clone(),
        files,
        subtask: 0,
        parallelism: n.parallelism,
    };
    let path = match &o.component {
        ComponentRef::Native(name) => return Ok(PreparedFn::Native(name.clone(), init)),
        ComponentRef::Wasm(p) => p.clone(),
    };
    if wasm.is_none() {
        *wasm = Some(WasmFunctions::new(options.cache_dir.clone())?);
    }
    let wasm = wasm.as_ref().expect("just made");
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
