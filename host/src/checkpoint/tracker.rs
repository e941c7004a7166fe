//! The coordinator's bookkeeping, without threads or files: which snapshot is in flight,
//! which task instances have acknowledged it, and when it is complete. A task instance
//! that has finished (all its input ended) is part of every later snapshot with its
//! final state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::metadata::{InstanceState, SnapshotKind};

/// A snapshot in flight.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// Its id.
    pub id: u64,
    /// What for.
    pub kind: SnapshotKind,
    /// Where its files go.
    pub dir: PathBuf,
    /// When it was triggered (epoch milliseconds).
    pub taken_at_ms: i64,
    /// When it was triggered (the coordinator's clock, milliseconds).
    pub started_ms: u64,
    /// Task instances still to acknowledge it.
    pub waiting: BTreeSet<usize>,
    /// What the others saved.
    pub instances: Vec<InstanceState>,
    /// Stop the job once it completes (a savepoint with `stop`).
    pub stop: bool,
}

/// The coordinator's view of a job's task instances.
#[derive(Debug)]
pub struct Tracker {
    tasks: usize,
    finished: BTreeMap<usize, Vec<InstanceState>>,
    in_flight: Option<InFlight>,
}

impl Tracker {
    /// A job of `tasks` task instances.
    pub fn new(tasks: usize) -> Self {
        Self {
            tasks,
            finished: BTreeMap::new(),
            in_flight: None,
        }
    }

    /// The snapshot in flight.
    pub fn in_flight(&self) -> Option<&InFlight> {
        self.in_flight.as_ref()
    }

    /// Whether every task instance has finished.
    pub fn all_finished(&self) -> bool {
        self.finished.len() == self.tasks
    }

    /// Whether task instance `task` has finished.
    pub fn is_finished(&self, task: usize) -> bool {
        self.finished.contains_key(&task)
    }

    /// Starts a snapshot; fails if one is in flight.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        id: u64,
        kind: SnapshotKind,
        dir: PathBuf,
        taken_at_ms: i64,
        started_ms: u64,
        stop: bool,
    ) -> Result<(), u64> {
        if let Some(f) = &self.in_flight {
            return Err(f.id);
        }
        let waiting = (0..self.tasks)
            .filter(|t| !self.finished.contains_key(t))
            .collect();
        let instances = self.finished.values().flatten().cloned().collect();
        self.in_flight = Some(InFlight {
            id,
            kind,
            dir,
            taken_at_ms,
            started_ms,
            waiting,
            instances,
            stop,
        });
        Ok(())
    }

    /// Task instance `task` saved `instances` for snapshot `id`. Returns the snapshot if
    /// this completes it.
    pub fn ack(&mut self, task: usize, id: u64, instances: Vec<InstanceState>) -> Option<InFlight> {
        let f = self.in_flight.as_mut()?;
        if f.id != id || !f.waiting.remove(&task) {
            return None;
        }
        f.instances.extend(instances);
        self.take_if_complete()
    }

    /// Task instance `task` finished with `instances` as its final state. Returns the
    /// snapshot in flight if this completes it (the task will not see its barrier).
    pub fn finished(&mut self, task: usize, instances: Vec<InstanceState>) -> Option<InFlight> {
        self.finished.insert(task, instances.clone());
        let f = self.in_flight.as_mut()?;
        if f.waiting.remove(&task) {
            f.instances.extend(instances);
        }
        self.take_if_complete()
    }

    /// Gives up the snapshot in flight (timed out, or declined).
    pub fn abandon(&mut self) -> Option<InFlight> {
        self.in_flight.take()
    }

    /// The final states of every task instance (when all have finished), in task order.
    pub fn final_states(&self) -> Vec<InstanceState> {
        self.finished.values().flatten().cloned().collect()
    }

    fn take_if_complete(&mut self) -> Option<InFlight> {
        if self.in_flight.as_ref()?.waiting.is_empty() {
            self.in_flight.take()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::metadata::{OperatorState, Role};

    fn state(node: &str) -> InstanceState {
        InstanceState {
            node: node.into(),
            uid: node.into(),
            role: Role::Operator,
            subtask: 0,
            parallelism: 1,
            component: None,
            keyed: None,
            state: OperatorState::None,
            counters: Default::default(),
            finished: false,
        }
    }

    #[test]
    fn a_snapshot_completes_when_every_task_acknowledged_or_finished() {
        let mut t = Tracker::new(3);
        t.start(1, SnapshotKind::Checkpoint, "d".into(), 0, 0, false)
            .unwrap();
        assert_eq!(
            t.start(2, SnapshotKind::Checkpoint, "d".into(), 0, 0, false),
            Err(1)
        );
        assert!(t.ack(0, 1, vec![state("a")]).is_none());
        assert!(t.ack(0, 1, vec![state("a")]).is_none(), "twice counts once");
        assert!(
            t.ack(1, 7, vec![state("x")]).is_none(),
            "another snapshot's ack"
        );
        assert!(t.finished(2, vec![state("c")]).is_none());
        let done = t.ack(1, 1, vec![state("b")]).unwrap();
        let nodes: Vec<&str> = done.instances.iter().map(|i| i.node.as_str()).collect();
        assert_eq!(nodes, vec!["a", "c", "b"]);
        // The finished task is in the next one without acknowledging.
        t.start(2, SnapshotKind::Checkpoint, "d".into(), 0, 0, false)
            .unwrap();
        assert_eq!(t.in_flight().unwrap().waiting.len(), 2);
        assert!(
            t.in_flight()
                .unwrap()
                .instances
                .iter()
                .any(|i| i.node == "c")
        );
        t.finished(0, vec![state("a")]);
        let done = t.finished(1, vec![state("b")]).unwrap();
        assert_eq!(done.id, 2);
        assert!(t.all_finished());
        assert_eq!(t.final_states().len(), 3);
    }
}
