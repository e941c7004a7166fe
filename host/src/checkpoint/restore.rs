//! Which saved state each new instance takes, at the same or another parallelism.
//!
//! State is matched to the manifest by uid. Keyed state is addressed by key group: a new
//! instance takes, from every old instance whose key groups overlap its own, the entries
//! of its key groups. A source's splits (each with its position) are dealt out again. A
//! broadcast operator's instances all hold the same state; each new one takes an old
//! one's.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};

use super::metadata::{
    InstanceState, KafkaTxn, KeyedSnapshot, Metadata, OperatorState, PartitionState, Role,
    SplitState,
};
use super::store::Found;
use crate::manifest::{Job, NodeKind};
use crate::state::KeyGroupRange;

/// A snapshot to start from, read for the instances of a job.
#[derive(Debug, Clone)]
pub struct Restore {
    /// The snapshot.
    pub found: Found,
}

/// Saved keyed state to read one instance's key groups from.
#[derive(Debug, Clone)]
pub struct KeyedPiece {
    /// The old instance's files.
    pub path: PathBuf,
    /// How they are kept.
    pub snapshot: KeyedSnapshot,
    /// Entries it held in memory at the barrier (newer than its files).
    pub overlay: Option<PathBuf>,
}

impl Restore {
    /// Checks that the snapshot can start `job`: the same number of key groups, state of
    /// every uid it holds has a node of the same role (unless `allow_non_restored`, which
    /// drops state nothing takes). Returns the uids whose state is dropped.
    pub fn check(&self, job: &Job, allow_non_restored: bool) -> Result<Vec<String>> {
        let m = &self.found.metadata;
        if m.max_parallelism != job.max_parallelism {
            bail!(
                "the snapshot has {} key groups (job.max_parallelism) and the job {}: keyed state cannot be spread over a different number",
                m.max_parallelism,
                job.max_parallelism
            );
        }
        let mut missing = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for i in &m.instances {
            if !seen.insert(i.uid.clone()) {
                continue;
            }
            match job.nodes.iter().find(|n| n.uid == i.uid) {
                None => {
                    if has_state(m, &i.uid) {
                        missing.push(i.uid.clone());
                    }
                }
                Some(n) => {
                    let role = role_of(&n.kind);
                    if role != i.role {
                        bail!(
                            "the snapshot holds state of uid `{}` as a {:?}, but in the manifest `{}` is a {:?}",
                            i.uid,
                            i.role,
                            n.name,
                            role
                        );
                    }
                }
            }
        }
        if !missing.is_empty() && !allow_non_restored {
            bail!(
                "the snapshot holds state of {} that no node of the manifest takes (by uid): {}. Restore anyway, dropping it, with --allow-non-restored-state",
                if missing.len() == 1 {
                    "an operator"
                } else {
                    "operators"
                },
                missing.join(", ")
            );
        }
        Ok(missing)
    }

    fn instances<'a>(&'a self, uid: &'a str) -> impl Iterator<Item = &'a InstanceState> {
        self.found.metadata.instances_of(uid)
    }

    /// Whether the snapshot has any instance of `uid`.
    pub fn has(&self, uid: &str) -> bool {
        self.instances(uid).next().is_some()
    }

    /// The old keyed state holding any of `groups` of node `uid`.
    pub fn keyed(&self, uid: &str, groups: KeyGroupRange) -> Vec<KeyedPiece> {
        self.instances(uid)
            .filter_map(|i| i.keyed.as_ref())
            .filter(|k| k.first_group <= groups.end && groups.start <= k.last_group)
            .map(|k| KeyedPiece {
                path: self.found.base.join(&k.path),
                snapshot: k.clone(),
                overlay: k.overlay.as_ref().map(|o| self.found.base.join(o)),
            })
            .collect()
    }

    /// The watermark a window operator instance over `groups` resumes with: the lowest
    /// of the old instances that held any of them.
    pub fn window_watermark(&self, uid: &str, groups: KeyGroupRange) -> Option<i64> {
        self.instances(uid)
            .filter(|i| {
                i.keyed
                    .as_ref()
                    .is_none_or(|k| k.first_group <= groups.end && groups.start <= k.last_group)
            })
            .filter_map(|i| match i.state {
                OperatorState::Window { watermark } => Some(watermark),
                _ => None,
            })
            .min()
    }

    /// The broadcast state file instance `subtask` takes (old instance `subtask` modulo
    /// their number: all hold the same state).
    pub fn broadcast(&self, uid: &str, subtask: u32) -> Option<PathBuf> {
        let old: Vec<&InstanceState> = self.instances(uid).collect();
        if old.is_empty() {
            return None;
        }
        let pick = old
            .iter()
            .find(|i| i.subtask == subtask % old[0].parallelism.max(1))
            .or(old.first())?;
        match &pick.state {
            OperatorState::Broadcast { path, .. } => Some(self.found.base.join(path)),
            _ => None,
        }
    }

    /// The splits reader `subtask` of `parallelism` takes: at the same parallelism, the
    /// old reader's own; otherwise all splits dealt out in turn. `None` if the snapshot
    /// has no state of this source.
    pub fn splits(&self, uid: &str, subtask: u32, parallelism: u32) -> Option<Vec<SplitState>> {
        let old: Vec<&InstanceState> = self.instances(uid).collect();
        if old.is_empty() {
            return None;
        }
        let splits_of = |i: &InstanceState| match &i.state {
            OperatorState::Source { splits } => splits.clone(),
            _ => Vec::new(),
        };
        if old.iter().all(|i| i.parallelism == parallelism) {
            return Some(
                old.iter()
                    .filter(|i| i.subtask == subtask)
                    .flat_map(|i| splits_of(i))
                    .collect(),
            );
        }
        let mut all: Vec<SplitState> = old.iter().flat_map(|i| splits_of(i)).collect();
        all.sort_by(|a, b| (&a.path, a.start).cmp(&(&b.path, b.start)));
        Some(
            all.into_iter()
                .enumerate()
                .filter(|(k, _)| *k as u32 % parallelism == subtask)
                .map(|(_, s)| s)
                .collect(),
        )
    }

    /// Every Kafka partition the old readers of source `uid` read, with where each was:
    /// a new reader takes the ones it owns at the new parallelism. `None` if the
    /// snapshot has no state of this source.
    pub fn kafka_partitions(&self, uid: &str) -> Option<Vec<PartitionState>> {
        let old: Vec<&InstanceState> = self.instances(uid).collect();
        if old.is_empty() {
            return None;
        }
        let mut all: Vec<PartitionState> = old
            .iter()
            .flat_map(|i| match &i.state {
                OperatorState::KafkaSource { partitions } => partitions.clone(),
                _ => Vec::new(),
            })
            .collect();
        all.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Some(all)
    }

    /// The Kafka transactions the old instances of sink `uid` left pending.
    pub fn kafka_txns(&self, uid: &str) -> Vec<KafkaTxn> {
        self.instances(uid)
            .filter_map(|i| match &i.state {
                OperatorState::KafkaSink { pending } => pending.clone(),
                _ => None,
            })
            .collect()
    }

    /// How many instances node `uid` had.
    pub fn parallelism_of(&self, uid: &str) -> Option<u32> {
        self.instances(uid).map(|i| i.parallelism).max()
    }

    /// Every file any old reader of source `uid` had a split of.
    pub fn split_paths(&self, uid: &str) -> std::collections::BTreeSet<PathBuf> {
        self.instances(uid)
            .flat_map(|i| match &i.state {
                OperatorState::Source { splits } => splits.iter().map(|s| s.path.clone()).collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// Counters per node name (of the manifest), summed over the old instances.
    pub fn counters(&self, job: &Job) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for n in &job.nodes {
            for i in self.instances(&n.uid) {
                let total = out.entry(n.name.clone()).or_default();
                for (k, v) in &i.counters {
                    *total.entry(k.clone()).or_default() += v;
                }
            }
        }
        out
    }
}

fn has_state(m: &Metadata, uid: &str) -> bool {
    m.instances_of(uid)
        .any(|i| i.keyed.is_some() || !matches!(i.state, OperatorState::None))
}

/// The role of a manifest node.
pub fn role_of(kind: &NodeKind) -> Role {
    match kind {
        NodeKind::Source { .. } => Role::Source,
        NodeKind::Operator(_) => Role::Operator,
        NodeKind::Sink { .. } => Role::Sink,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::metadata::{FORMAT, SnapshotKind};

    fn split(path: &str, position: u64) -> SplitState {
        SplitState {
            path: path.into(),
            start: 0,
            end: u64::MAX,
            position,
            max_ts: 0,
            done: false,
        }
    }

    fn restore(instances: Vec<InstanceState>) -> Restore {
        Restore {
            found: Found {
                metadata: Metadata {
                    format: FORMAT,
                    id: 1,
                    kind: SnapshotKind::Checkpoint,
                    job: "j".into(),
                    manifest_hash: String::new(),
                    taken_at_ms: 0,
                    duration_ms: 0,
                    max_parallelism: 128,
                    states: Vec::new(),
                    instances,
                    finished: false,
                    external: None,
                    versions: Default::default(),
                },
                base: "/chk".into(),
            },
        }
    }

    fn instance(
        sub: u32,
        p: u32,
        state: OperatorState,
        groups: Option<(u16, u16)>,
    ) -> InstanceState {
        InstanceState {
            node: "n".into(),
            uid: "n".into(),
            role: Role::Operator,
            subtask: sub,
            parallelism: p,
            component: None,
            keyed: groups.map(|(a, b)| KeyedSnapshot {
                backend: "rocksdb".into(),
                path: format!("n-{sub}"),
                first_group: a,
                last_group: b,
                overlay: None,
            }),
            state,
            counters: BTreeMap::new(),
            finished: false,
        }
    }

    #[test]
    fn keyed_state_comes_from_every_old_instance_that_held_the_groups() {
        let r = restore(vec![
            instance(0, 2, OperatorState::Window { watermark: 10 }, Some((0, 63))),
            instance(
                1,
                2,
                OperatorState::Window { watermark: 7 },
                Some((64, 127)),
            ),
        ]);
        let three = |s| crate::state::key_groups_of(s, 3, 128);
        let pieces: Vec<Vec<String>> = (0..3)
            .map(|s| {
                r.keyed("n", three(s))
                    .iter()
                    .map(|p| p.path.display().to_string())
                    .collect()
            })
            .collect();
        assert_eq!(pieces[0], vec!["/chk/n-0"]);
        assert_eq!(pieces[1], vec!["/chk/n-0", "/chk/n-1"]);
        assert_eq!(pieces[2], vec!["/chk/n-1"]);
        assert_eq!(r.window_watermark("n", three(0)), Some(10));
        assert_eq!(r.window_watermark("n", three(1)), Some(7));
        let one = crate::state::key_groups_of(0, 1, 128);
        assert_eq!(r.keyed("n", one).len(), 2);
    }

    #[test]
    fn splits_stay_with_their_reader_or_are_dealt_out_again() {
        let r = restore(vec![
            instance(
                0,
                2,
                OperatorState::Source {
                    splits: vec![split("a", 5), split("c", 0)],
                },
                None,
            ),
            instance(
                1,
                2,
                OperatorState::Source {
                    splits: vec![split("b", 9)],
                },
                None,
            ),
        ]);
        let paths = |v: Vec<SplitState>| {
            v.into_iter()
                .map(|s| s.path.display().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(r.splits("n", 1, 2).unwrap()), vec!["b"]);
        assert_eq!(paths(r.splits("n", 0, 3).unwrap()), vec!["a"]);
        assert_eq!(paths(r.splits("n", 1, 3).unwrap()), vec!["b"]);
        assert_eq!(paths(r.splits("n", 2, 3).unwrap()), vec!["c"]);
        assert_eq!(paths(r.splits("n", 0, 1).unwrap()), vec!["a", "b", "c"]);
        assert!(r.splits("other", 0, 1).is_none());
    }
}
