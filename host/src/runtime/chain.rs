//! The operators of one task in a row: each one's main output feeds the next, the last
//! one's main output and every side output go to the task's outlets.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::exchange::Outlet;
use super::message::{Barrier, Data, Message};
use super::metrics::NodeMetrics;
use crate::checkpoint::{InstanceState, KeyedSnapshot, Role};
use crate::manifest::Output;
use crate::operator::{
    Collector, Event, Finish, Input, Operator, OperatorReport, Side, SnapshotContext,
};
use crate::state::{KeyGroupRange, StateBackend};

/// One operator of a chain and the node it runs.
pub struct Link {
    /// Index of the node in the job.
    pub node: usize,
    /// Its name, for errors.
    pub name: String,
    /// The operator.
    pub op: Box<dyn Operator>,
    /// Who it is in snapshots.
    pub identity: Identity,
    /// Its keyed state, if its input is keyed.
    pub keyed: Option<KeyedHandle>,
    /// Its counters.
    pub metrics: Arc<NodeMetrics>,
    /// A new version of its function, waiting for its swap's barrier.
    pub staged: Option<Staged>,
    /// Mark its output records with the version of its function that made them.
    pub provenance: bool,
}

/// A new version of an operator's function, waiting for its swap's barrier.
pub struct Staged {
    /// The swap.
    pub swap: u64,
    /// The new instance.
    pub function: crate::operator::Function,
    /// Its content hash.
    pub hash: String,
    /// What the switch changes in the instance's states.
    pub states: Option<Box<super::swap::StateSwitch>>,
}

/// Who an instance is in snapshots.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Node uid.
    pub uid: String,
    /// What it is.
    pub role: Role,
    /// Which instance.
    pub subtask: u32,
    /// Of how many.
    pub parallelism: u32,
    /// SHA-256 of its function, if it runs one.
    pub component: Option<String>,
}

/// Keyed-state entries an operator held in memory at a barrier, to be written into the
/// snapshot's folder.
pub struct Overlay {
    /// The file.
    pub path: std::path::PathBuf,
    /// The entries, encoded.
    pub entries: Vec<u8>,
}

impl Overlay {
    /// Writes the file (synced).
    pub fn write(&self) -> Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&self.path)
            .with_context(|| format!("creating {}", self.path.display()))?;
        f.write_all(&self.entries)?;
        f.sync_all()
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// An instance's keyed state backend and the key groups it holds.
#[derive(Clone)]
pub struct KeyedHandle {
    /// The backend (one per instance).
    pub backend: Arc<dyn StateBackend>,
    /// Its key groups.
    pub groups: KeyGroupRange,
}

/// A task's operators and outlets.
pub struct Chain {
    /// The node whose output the first link reads (a source), if the task starts with one.
    source: Option<usize>,
    links: Vec<Link>,
    outlets: HashMap<(usize, Output), Vec<Outlet>>,
    /// The largest timestamp the first link emitted since it was last taken.
    first_link_max: Option<i64>,
}

impl Chain {
    /// A chain after `source` (if the task reads a source) through `links`.
    pub fn new(
        source: Option<usize>,
        links: Vec<Link>,
        outlets: HashMap<(usize, Output), Vec<Outlet>>,
    ) -> Self {
        Self {
            source,
            links,
            outlets,
            first_link_max: None,
        }
    }

    fn last_node(&self, before: usize) -> usize {
        if before == 0 {
            self.source
                .expect("a chain without links starts at a source")
        } else {
            self.links[before - 1].node
        }
    }

    /// Data arriving on the task's `input`: into the first link (or straight out, for a
    /// source task without operators).
    pub fn process(&mut self, input: Input, data: Data) -> Result<()> {
        self.deliver(0, Some(input), Event::Data(data))
    }

    /// The task's input watermark advanced.
    pub fn watermark(&mut self, wm: i64) -> Result<()> {
        self.deliver(0, None, Event::Watermark(wm))
    }

    fn deliver(&mut self, at: usize, input: Option<Input>, event: Event) -> Result<()> {
        if at == self.links.len() {
            let node = self.last_node(at);
            return self.send(node, Output::Main, event);
        }
        let mut out = Collector::default();
        let link = &mut self.links[at];
        match event {
            Event::Data(d) => link.op.process(input.unwrap_or(Input::Main), d, &mut out),
            Event::Watermark(w) => {
                link.metrics.live.set_watermark(w);
                link.op.on_watermark(w, &mut out)
            }
        }
        .with_context(|| format!("operator `{}`", link.name))?;
        self.route(at, out)
    }

    /// The largest timestamp the first operator emitted since the last call (what a
    /// source whose timestamps come from its function keeps its watermark by).
    pub fn take_first_link_max(&mut self) -> Option<i64> {
        self.first_link_max.take()
    }

    fn route(&mut self, at: usize, mut out: Collector) -> Result<()> {
        let node = self.links[at].node;
        if self.links[at].provenance {
            let l = &self.links[at];
            let mark = format!(
                "{}@{}",
                l.name,
                l.identity.component.as_deref().unwrap_or("-")
            );
            for e in &mut out.events {
                if let Event::Data(d) = e {
                    d.batch_mut()
                        .set_header_all(crate::manifest::PROVENANCE_HEADER, mark.as_bytes());
                }
            }
        }
        if at == 0 {
            for e in &out.events {
                if let Event::Data(d) = e {
                    let b = d.batch();
                    let max = (0..b.len())
                        .filter(|&i| b.flags[i] & crate::record::HAS_TIMESTAMP != 0)
                        .map(|i| b.timestamps[i])
                        .max();
                    if let Some(m) = max {
                        self.first_link_max = Some(self.first_link_max.map_or(m, |x| x.max(m)));
                    }
                }
            }
        }
        for (side, batch) in out.side {
            let output = match side {
                Side::DeadLetter => Output::DeadLetter,
                Side::Late => Output::Late,
            };
            self.send(node, output, Event::Data(Data::Records(batch)))?;
        }
        for e in out.events {
            self.deliver(at + 1, None, e)?;
        }
        Ok(())
    }

    fn send(&mut self, node: usize, output: Output, event: Event) -> Result<()> {
        let Some(outlets) = self.outlets.get_mut(&(node, output)) else {
            return Ok(());
        };
        match event {
            Event::Watermark(w) => {
                for o in outlets {
                    o.send_all(&Message::Watermark(w))?;
                }
            }
            Event::Data(d) => {
                let n = outlets.len();
                for (i, o) in outlets.iter_mut().enumerate() {
                    if i + 1 == n {
                        o.send_data(d)?;
                        break;
                    }
                    o.send_data(d.clone())?;
                }
            }
        }
        Ok(())
    }

    /// Processing time is `now_ms`.
    pub fn processing_time(&mut self, now_ms: i64) -> Result<()> {
        for at in 0..self.links.len() {
            let mut out = Collector::default();
            let link = &mut self.links[at];
            link.op
                .on_processing_time(now_ms, &mut out)
                .with_context(|| format!("operator `{}`", link.name))?;
            if !out.is_empty() {
                self.route(at, out)?;
            }
        }
        Ok(())
    }

    /// Every input is done: finishes each operator in order, then ends every outlet.
    pub fn finish(&mut self, how: Finish) -> Result<()> {
        for at in 0..self.links.len() {
            let mut out = Collector::default();
            let link = &mut self.links[at];
            link.op
                .finish(how, &mut out)
                .with_context(|| format!("operator `{}`", link.name))?;
            self.route(at, out)?;
        }
        self.control(match how {
            Finish::Drained => &Message::End,
            Finish::Stopped => &Message::Stopped,
        })
    }

    /// Sends a control message (idle, caught up, end) on every outlet.
    pub fn control(&mut self, message: &Message) -> Result<()> {
        for outlets in self.outlets.values_mut() {
            for o in outlets {
                o.send_all(message)?;
            }
        }
        Ok(())
    }

    /// Saves every operator's state at `barrier` (keyed state into the barrier's
    /// folder), in chain order. What operators hold in memory instead of their backend
    /// is returned to be written off the task's thread (the snapshot is complete only
    /// once it is).
    pub fn snapshot(&mut self, barrier: &Barrier) -> Result<(Vec<InstanceState>, Vec<Overlay>)> {
        let mut out = Vec::with_capacity(self.links.len());
        let mut overlays = Vec::new();
        for link in &mut self.links {
            let id = &link.identity;
            let prefix = format!("{}-{}", id.uid, id.subtask);
            let cached = link
                .op
                .prepare_snapshot()
                .with_context(|| format!("operator `{}`: preparing its snapshot", link.name))?;
            let keyed = match &link.keyed {
                Some(k) => {
                    let path = barrier.dir.join(&prefix);
                    k.backend
                        .snapshot(&path)
                        .with_context(|| format!("operator `{}`: saving keyed state", link.name))?;
                    let overlay = (!cached.is_empty()).then(|| format!("{prefix}.overlay"));
                    if let Some(o) = &overlay {
                        overlays.push(Overlay {
                            path: barrier.dir.join(o),
                            entries: cached,
                        });
                    }
                    Some(KeyedSnapshot {
                        backend: k.backend.name().to_owned(),
                        path: prefix.clone(),
                        first_group: k.groups.start,
                        last_group: k.groups.end,
                        overlay,
                    })
                }
                None => None,
            };
            let cx = SnapshotContext {
                id: barrier.id,
                dir: &barrier.dir,
                prefix: &prefix,
            };
            let state = link
                .op
                .snapshot(&cx)
                .with_context(|| format!("operator `{}`: saving state", link.name))?;
            out.push(InstanceState {
                node: link.name.clone(),
                uid: id.uid.clone(),
                role: id.role,
                subtask: id.subtask,
                parallelism: id.parallelism,
                component: id.component.clone(),
                keyed,
                state,
                counters: link.metrics.counts().to_map(),
                finished: false,
            });
        }
        Ok((out, overlays))
    }

    /// The final state of every operator (after [`finish`](Self::finish)).
    pub fn final_states(&mut self) -> Result<Vec<InstanceState>> {
        let mut out = Vec::with_capacity(self.links.len());
        for link in &mut self.links {
            let id = &link.identity;
            out.push(InstanceState {
                node: link.name.clone(),
                uid: id.uid.clone(),
                role: id.role,
                subtask: id.subtask,
                parallelism: id.parallelism,
                component: id.component.clone(),
                keyed: None,
                state: link.op.final_state()?,
                counters: link.metrics.counts().to_map(),
                finished: true,
            });
        }
        Ok(out)
    }

    /// Holds a new version of operator `node`'s function until swap `swap`'s barrier.
    pub fn stage(
        &mut self,
        node: usize,
        swap: u64,
        f: crate::operator::Function,
        hash: String,
        states: Option<Box<super::swap::StateSwitch>>,
    ) -> Result<()> {
        let link = self
            .links
            .iter_mut()
            .find(|l| l.node == node)
            .context("the swap's operator is not in this task")?;
        link.staged = Some(Staged {
            swap,
            function: f,
            hash,
            states,
        });
        Ok(())
    }

    /// Swap `swap`'s barrier: the operators holding its new version switch to it.
    pub fn switch(&mut self, swap: u64) -> Result<()> {
        for link in &mut self.links {
            if link.staged.as_ref().is_some_and(|s| s.swap == swap) {
                let staged = link.staged.take().expect("just seen");
                // The state first, as the new version reads it.
                if let Some(states) = staged.states {
                    let applied = states.apply().with_context(|| {
                        format!("operator `{}`: changing its states", link.name)
                    })?;
                    tracing::info!(
                        "operator `{}`: {} state value(s) migrated, {} removed by the migration",
                        link.name,
                        applied.migrated,
                        applied.removed
                    );
                }
                link.identity.component = Some(staged.hash);
                link.op
                    .replace_function(staged.function)
                    .with_context(|| format!("operator `{}`: switching versions", link.name))?;
            }
        }
        Ok(())
    }

    /// Snapshot `id` completed.
    pub fn checkpoint_complete(&mut self, id: u64) -> Result<()> {
        for link in &mut self.links {
            link.op
                .checkpoint_complete(id)
                .with_context(|| format!("operator `{}`: committing", link.name))?;
        }
        Ok(())
    }

    /// What each operator reports, by node.
    pub fn reports(&self) -> Vec<(usize, OperatorReport)> {
        self.links.iter().map(|l| (l.node, l.op.report())).collect()
    }
}
