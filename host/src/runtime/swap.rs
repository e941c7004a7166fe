//! Swapping a running operator's function for a new version.
//!
//! Off the hot path, the new component is compiled, linked (its imports must be ones the
//! sandbox grants), checked against the operator's world, and instantiated with `init`
//! run for every parallel instance, against the operator's keyed state. Only then does
//! the coordinator stage the new instances in the tasks and inject a swap barrier (always
//! aligned; a checkpoint of its own when the job has checkpoints): each task switches when
//! the barrier passes it, so every record is processed by exactly one version. A swap
//! that fails before the switch leaves the old version running and says why. Each swap
//! is logged (`swaps.jsonl` in the state directory) with the content hashes of both
//! versions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::{Job, NodeKind, OperatorKind};
use crate::operator::{Function, WasmFunctions};
use crate::state::{Applied, KeyedState, StateChange, SwapStates};
use crate::wasm::bindings::types::InitContext;
use crate::wasm::bindings::{broadcast_function, window_function};
use crate::wasm::{Exports, Migrator, Prepared};

/// A request to swap an operator's function.
#[derive(Debug, Clone)]
pub struct SwapRequest {
    /// The operator (by name).
    pub operator: String,
    /// The new component: a `.wasm` file or its bytes.
    pub component: ComponentSource,
    /// A new `config` for `init`, as JSON (default: the operator's).
    pub config: Option<String>,
    /// Only check: compile, world, `init`, state — change nothing.
    pub dry_run: bool,
    /// Who or what asked (for the log).
    pub requested_by: String,
    /// Make the swap provisional: decided by how the new version does.
    pub canary: Option<Canary>,
    /// States of the operator to drop at the switch (the new version starts them empty,
    /// whatever it declares them as).
    pub drop_states: Vec<String>,
}

/// A provisional swap. Once switched, the new version runs while the job takes no
/// checkpoint (so nothing it produced is committed by an exactly-once sink); when it has
/// seen `records` records (or `time_ms` passed, or the input ended) its share of failed
/// records (rejected by the function: errors, traps, deadlines) decides: at most
/// `max_error_rate`, the swap is applied and checkpoints go on; more, the job rolls back
/// to the swap's checkpoint with the old version, which processes every record after it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    /// Records the new version must see before it is judged.
    pub records: u64,
    /// The largest share of those that may fail (0 to 1).
    #[serde(default = "default_max_error_rate")]
    pub max_error_rate: f64,
    /// Judge by then with what it saw, if fewer records came (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
}

fn default_max_error_rate() -> f64 {
    0.01
}

impl Canary {
    /// A canary of `records` records and the default error rate (1%).
    pub fn of(records: u64) -> Self {
        Self {
            records,
            max_error_rate: default_max_error_rate(),
            time_ms: None,
        }
    }

    /// Why it cannot be used, if it cannot.
    pub fn check(&self) -> Result<()> {
        if self.records == 0 {
            bail!("a canary needs at least one record");
        }
        if !(0.0..=1.0).contains(&self.max_error_rate) {
            bail!(
                "the canary's max_error_rate is a share between 0 and 1, not {}",
                self.max_error_rate
            );
        }
        Ok(())
    }
}

/// Where a new component comes from.
#[derive(Debug, Clone)]
pub enum ComponentSource {
    /// A `.wasm` file.
    Path(PathBuf),
    /// The component's bytes.
    Bytes(Vec<u8>),
}

impl ComponentSource {
    /// The component's bytes.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        match self {
            ComponentSource::Path(p) => {
                std::fs::read(p).with_context(|| format!("reading {}", p.display()))
            }
            ComponentSource::Bytes(b) => Ok(b.clone()),
        }
    }

    /// The component's content hash, if it can be read.
    pub fn hash(&self) -> Option<String> {
        Some(hex::encode(Sha256::digest(self.bytes().ok()?)))
    }
}

/// One operator instance a swap must reach.
#[derive(Clone)]
pub struct Target {
    /// Its task instance.
    pub task: usize,
    /// Which instance.
    pub subtask: u32,
    /// Its keyed state (the new version's instance shares it).
    pub keyed: Option<KeyedState>,
}

/// What a swap needs from the running job.
pub struct SwapContext {
    /// The job.
    pub job: Job,
    /// The engine, loader and linker.
    pub wasm: Arc<WasmFunctions>,
    /// Every instance of every operator, by node index.
    pub targets: HashMap<usize, Vec<Target>>,
    /// The version each operator runs now: content hash and component file.
    pub running: std::sync::Mutex<HashMap<usize, (String, PathBuf)>>,
    /// Where swapped-in components are kept (so a restore can load them).
    pub components: PathBuf,
    /// The job's counts (a canary is judged by them).
    pub metrics: Arc<super::Metrics>,
}

/// A swap ready to apply: the new instances, one per parallel instance.
pub struct PreparedSwap {
    /// The operator's node index.
    pub node: usize,
    /// The new instances, with the task instance each goes to and what its switch
    /// changes in its states.
    pub functions: Vec<(usize, Function, Option<Box<StateSwitch>>)>,
    /// What the switch changes in the operator's states.
    pub changes: Vec<StateChange>,
    /// The new version's content hash.
    pub hash: String,
    /// Where its component is kept.
    pub path: PathBuf,
}

/// One swap, as the log keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SwapRecord {
    /// When it was asked for (epoch ms).
    pub at_ms: i64,
    /// The operator.
    pub operator: String,
    /// The running version's content hash.
    pub old: String,
    /// The new version's content hash (empty if it could not be read).
    pub new: String,
    /// Who or what asked.
    pub requested_by: String,
    /// `applied`, `checked` (a dry run), or `refused: <why>`.
    pub outcome: String,
    /// The barrier that switched it (applied swaps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barrier: Option<u64>,
    /// The longest time a task held records back for the switch (alignment included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_ms: Option<f64>,
    /// What the switch changes in the operator's states (dropped, migrated).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
}

/// What one task's switch changes in its instance's states: the operator's state
/// changes, applied to the instance's key groups, with the new version's migrations.
pub struct StateSwitch {
    keyed: KeyedState,
    changes: Arc<Vec<StateChange>>,
    migrator: Option<Migrator>,
}

impl StateSwitch {
    /// Applies the changes (at the switch, before the new version runs).
    pub fn apply(mut self) -> Result<Applied> {
        let keyed = self.keyed;
        let migrator = &mut self.migrator;
        crate::state::apply_changes(&keyed, keyed.registry(), &self.changes, |s, from, v| {
            match migrator {
                Some(m) => m.migrate(s, from, v),
                None => bail!("state `{s}` needs a migration and the new version has none"),
            }
        })
    }
}

/// The migrations a new version offers.
fn offered<E: Exports>(p: &Prepared<E>) -> Result<Vec<(String, String)>> {
    match p.migrator()? {
        Some(mut m) => m.migrations(),
        None => Ok(Vec::new()),
    }
}

impl SwapContext {
    /// The node index of operator `name`.
    pub fn node(&self, name: &str) -> Result<usize> {
        let (i, n) = self
            .job
            .nodes
            .iter()
            .enumerate()
            .find(|(_, n)| n.name == name)
            .with_context(|| format!("the job has no operator `{name}`"))?;
        if !matches!(n.kind, NodeKind::Operator(_)) {
            bail!("`{name}` is not an operator: only operators run functions");
        }
        Ok(i)
    }

    /// Compiles, links and checks the new component, and starts an instance of it (with
    /// `init`) for every parallel instance of the operator. Nothing running changes.
    pub fn prepare(&self, req: &SwapRequest) -> Result<PreparedSwap> {
        let node = self.node(&req.operator)?;
        let n = &self.job.nodes[node];
        let NodeKind::Operator(o) = &n.kind else {
            unreachable!("checked by node()")
        };
        let bytes = req.component.bytes()?;
        let hash = hex::encode(Sha256::digest(&bytes));
        std::fs::create_dir_all(&self.components)?;
        let path = self.components.join(format!("{hash}.wasm"));
        if !path.exists() {
            crate::checkpoint::store::write_atomically(&path, &bytes)?;
        }
        let config = match &req.config {
            Some(c) => {
                let v: serde_json::Value = serde_json::from_str(c)
                    .with_context(|| format!("the new config is not JSON: {c}"))?;
                if !v.is_object() {
                    bail!("the new config must be a JSON object");
                }
                c.clone()
            }
            None => o.config_json.clone(),
        };
        let mut files = Vec::new();
        for (name, p) in &o.files {
            files.push((
                name.clone(),
                std::fs::read(p)
                    .with_context(|| format!("reading file `{name}` ({})", p.display()))?,
            ));
        }
        let init = InitContext {
            operator: n.name.clone(),
            config,
            files,
            subtask: 0,
            parallelism: n.parallelism,
        };
        let targets = self.targets.get(&node).cloned().unwrap_or_default();
        let registry = targets
            .iter()
            .find_map(|t| t.keyed.as_ref())
            .map(|k| k.registry());
        if registry.is_none() && !req.drop_states.is_empty() {
            bail!("operator `{}` has no keyed state to drop", n.name);
        }
        // The new instances declare their states through `swap`, which accepts what
        // the swap drops or the new version migrates.
        let with_swap =
            |swap: &Arc<SwapStates>, t: &Target| t.keyed.as_ref().map(|k| k.for_swap(swap.clone()));
        let mut functions = Vec::with_capacity(targets.len());
        let prepared_states = |offered: Vec<(String, String)>| {
            Arc::new(SwapStates::new(&n.uid, req.drop_states.clone(), offered))
        };
        let swap;
        let migrator: Box<dyn Fn() -> Result<Option<Migrator>>>;
        match o.kind {
            OperatorKind::Map => {
                let (_, running) = self.running(node);
                let p = self.wasm.prepare::<crate::wasm::MapExports>(
                    &n.name,
                    &path,
                    o.limits,
                    init.clone(),
                )?;
                if !running.as_os_str().is_empty() {
                    let old = self
                        .wasm
                        .prepare::<crate::wasm::MapExports>(&n.name, &running, o.limits, init)?;
                    // The operator's timer service is made at start, for a function
                    // with timers: a version that adds or drops them needs a restart.
                    if old.has_timers() != p.has_timers() {
                        let why = if old.has_timers() {
                            "has timers (world `timed-map`) and the new one does not: its pending timers would never fire"
                        } else {
                            "has no timers (world `timed-map`) and the new one does: the operator runs without a timer service"
                        };
                        bail!(
                            "the running version {why}; stop with a savepoint and start the job with the new version"
                        );
                    }
                }
                swap = prepared_states(offered(&p)?);
                for t in &targets {
                    let f = WasmFunctions::map(&p, t.subtask, with_swap(&swap, t))?;
                    functions.push((t.task, Function::Map(f)));
                }
                migrator = Box::new(move || p.migrator());
            }
            OperatorKind::Window { .. } => {
                let p = self
                    .wasm
                    .prepare::<window_function::Guest>(&n.name, &path, o.limits, init)?;
                swap = prepared_states(offered(&p)?);
                for t in &targets {
                    let f = WasmFunctions::window(&p, t.subtask, with_swap(&swap, t))?;
                    functions.push((t.task, Function::Window(f)));
                }
                migrator = Box::new(move || p.migrator());
            }
            OperatorKind::Broadcast { .. } => {
                let p = self
                    .wasm
                    .prepare::<broadcast_function::Guest>(&n.name, &path, o.limits, init)?;
                swap = prepared_states(offered(&p)?);
                for t in &targets {
                    // `init` sees no broadcast state: the running version's is handed over
                    // at the switch.
                    let f = WasmFunctions::broadcast(&p, t.subtask, with_swap(&swap, t), None)?;
                    functions.push((t.task, Function::Broadcast(f)));
                }
                migrator = Box::new(move || p.migrator());
            }
        }
        let changes = match registry {
            Some(r) => swap.changes(r)?,
            None => Vec::new(),
        };
        let shared = Arc::new(changes.clone());
        let migrates = changes
            .iter()
            .any(|c| matches!(c.action, crate::state::Action::Migrate { .. }));
        let mut staged = Vec::with_capacity(functions.len());
        for ((task, f), t) in functions.into_iter().zip(targets) {
            let states = match t.keyed.filter(|_| !shared.is_empty()) {
                Some(keyed) => Some(Box::new(StateSwitch {
                    keyed,
                    changes: shared.clone(),
                    migrator: if migrates { migrator()? } else { None },
                })),
                None => None,
            };
            staged.push((task, f, states));
        }
        let functions = staged;
        Ok(PreparedSwap {
            node,
            functions,
            changes,
            hash,
            path,
        })
    }

    /// The version operator `node` runs now.
    pub fn running(&self, node: usize) -> (String, PathBuf) {
        self.running
            .lock()
            .expect("running versions")
            .get(&node)
            .cloned()
            .unwrap_or_default()
    }

    /// Operator `node` runs another version now.
    pub fn set_running(&self, node: usize, hash: String, path: PathBuf) {
        self.running
            .lock()
            .expect("running versions")
            .insert(node, (hash, path));
    }
}

/// Appends a record to the swap log in `dir`.
pub fn log(dir: &Path, r: &SwapRecord) {
    use std::io::Write;
    let line = match serde_json::to_string(r) {
        Ok(l) => l,
        Err(_) => return,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("swaps.jsonl"));
    match file {
        Ok(mut f) => {
            let _ = writeln!(f, "{line}");
            let _ = f.sync_data();
        }
        Err(e) => tracing::warn!("cannot write the swap log in {}: {e}", dir.display()),
    }
}

/// The swap log in `dir`, oldest first.
pub fn read_log(dir: &Path) -> Vec<SwapRecord> {
    std::fs::read_to_string(dir.join("swaps.jsonl"))
        .map(|s| {
            s.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}
