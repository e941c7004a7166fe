//! `weir checkpoint list|inspect` and `weir output`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::job_of;
use crate::checkpoint::{CheckpointStore, KeyedPiece, OperatorState, load};
use crate::manifest::{NodeKind, Override, SinkKind};
use crate::runtime::time_of;

/// `weir checkpoint ...`.
#[derive(Debug, clap::Subcommand)]
pub enum CheckpointCommand {
    /// Lists a job's complete checkpoints, newest last.
    List {
        /// The job manifest.
        manifest: PathBuf,
        /// Overrides a manifest value.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        overrides: Vec<Override>,
    },
    /// Shows what a checkpoint or savepoint holds.
    Inspect {
        /// The checkpoint or savepoint folder.
        path: PathBuf,
    },
}

/// Runs a checkpoint command.
pub fn main(c: CheckpointCommand) -> ExitCode {
    let result = match c {
        CheckpointCommand::List {
            manifest,
            overrides,
        } => match job_of(&manifest, &overrides) {
            Ok(job) => list(&job.checkpoint_dir),
            Err(code) => return code,
        },
        CheckpointCommand::Inspect { path } => inspect(&path),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn list(dir: &Path) -> Result<()> {
    let store = CheckpointStore::new(dir);
    let ids = store.complete()?;
    if ids.is_empty() {
        match store.finished()? {
            Some(f) => println!(
                "{}: no checkpoints (the last run ran to its end at snapshot {}, {})",
                dir.display(),
                f.id,
                time_of(f.taken_at_ms)
            ),
            None => println!("{}: no checkpoints", dir.display()),
        }
        return Ok(());
    }
    println!(
        "{:>6}  {:<10}  {:<20}  {:>9}  {:>10}  path",
        "id", "kind", "taken", "took", "size"
    );
    for id in ids {
        let path = store.path_of(id);
        match load(&path) {
            Ok(f) => println!(
                "{:>6}  {:<10}  {:<20}  {:>7}ms  {:>10}  {}",
                id,
                format!("{:?}", f.metadata.kind).to_lowercase(),
                time_of(f.metadata.taken_at_ms),
                f.metadata.duration_ms,
                crate::wasm::bytes(disk_size(&f.base)),
                f.base.display()
            ),
            Err(e) => println!("{id:>6}  UNUSABLE: {e:#}"),
        }
    }
    Ok(())
}

fn inspect(path: &Path) -> Result<()> {
    let f = load(path)?;
    let m = &f.metadata;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:?} {} of job `{}`, taken {}, in {} ms; {} key groups; manifest sha256:{}",
        m.kind,
        m.id,
        m.job,
        time_of(m.taken_at_ms),
        m.duration_ms,
        m.max_parallelism,
        if m.manifest_hash.is_empty() {
            "?"
        } else {
            &m.manifest_hash[..m.manifest_hash.len().min(12)]
        }
    )?;
    writeln!(
        out,
        "  folder: {} ({} on disk)",
        f.base.display(),
        crate::wasm::bytes(disk_size(&f.base))
    )?;
    let mut by_uid: BTreeMap<&str, Vec<&crate::checkpoint::InstanceState>> = BTreeMap::new();
    for i in &m.instances {
        by_uid.entry(&i.uid).or_default().push(i);
    }
    for (uid, instances) in by_uid {
        let first = instances[0];
        write!(
            out,
            "  {:?} `{}` (uid `{uid}`), {} instance(s)",
            first.role,
            first.node,
            instances.len()
        )?;
        if let Some(c) = &first.component {
            write!(out, ", component sha256:{}", &c[..c.len().min(12)])?;
        }
        writeln!(out)?;
        let states: BTreeMap<u32, &str> = m
            .states
            .iter()
            .filter(|s| s.uid == uid)
            .map(|s| (s.id, s.name.as_str()))
            .collect();
        for i in instances {
            write!(out, "    [{}/{}]", i.subtask, i.parallelism)?;
            if i.finished {
                write!(out, " finished")?;
            }
            match &i.state {
                OperatorState::Source { splits } => {
                    writeln!(out)?;
                    for s in splits {
                        writeln!(
                            out,
                            "      {} bytes {}..{}: at {}{}, max event time {}",
                            s.path.display(),
                            s.start,
                            if s.end == u64::MAX {
                                "end".to_owned()
                            } else {
                                s.end.to_string()
                            },
                            s.position,
                            if s.done { " (done)" } else { "" },
                            if s.max_ts == i64::MIN {
                                "none".to_owned()
                            } else {
                                s.max_ts.to_string()
                            }
                        )?;
                    }
                }
                OperatorState::Window { watermark } => writeln!(out, " watermark {watermark}")?,
                OperatorState::Broadcast { entries, .. } => {
                    writeln!(out, " broadcast state: {entries} entries")?
                }
                OperatorState::Sink { pending } => writeln!(
                    out,
                    " {} part(s) pending ({} records)",
                    pending.len(),
                    pending.iter().map(|p| p.records).sum::<u64>()
                )?,
                OperatorState::KafkaSource { partitions } => {
                    writeln!(out)?;
                    for p in partitions {
                        writeln!(
                            out,
                            "      {}[{}]: at offset {}{}, max event time {}",
                            p.topic,
                            p.partition,
                            p.offset,
                            p.end.map(|e| format!(" of {e}")).unwrap_or_default(),
                            if p.max_ts == i64::MIN {
                                "none".to_owned()
                            } else {
                                p.max_ts.to_string()
                            }
                        )?;
                    }
                }
                OperatorState::KafkaSink { pending } => match pending {
                    Some(t) => writeln!(
                        out,
                        " transaction `{}` of checkpoint {} pending ({} records)",
                        t.transactional_id, t.checkpoint, t.records
                    )?,
                    None => writeln!(out, " no transaction pending")?,
                },
                OperatorState::None => writeln!(out)?,
            }
            if let Some(k) = &i.keyed {
                let counts = count_states(&KeyedPiece {
                    path: f.base.join(&k.path),
                    snapshot: k.clone(),
                    overlay: k.overlay.as_ref().map(|o| f.base.join(o)),
                })
                .unwrap_or_default();
                writeln!(
                    out,
                    "      keyed state ({}, key groups {}..={}):",
                    k.backend, k.first_group, k.last_group
                )?;
                for (id, (n, bytes)) in counts {
                    let name = states.get(&id).copied().unwrap_or("?");
                    writeln!(
                        out,
                        "        {name}: {n} entries, {}",
                        crate::wasm::bytes(bytes)
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// Entries and bytes per state id in a saved piece of keyed state.
fn count_states(piece: &KeyedPiece) -> Result<BTreeMap<u32, (u64, u64)>> {
    let counter = crate::state::MemoryBackend::default();
    crate::state::snapshot::copy_groups(
        piece,
        crate::state::KeyGroupRange {
            start: 0,
            end: u16::MAX,
        },
        &counter,
    )?;
    let mut out: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = crate::state::StateBackend::scan(&counter, &[], after.as_deref(), 10_000)?;
        for (k, v) in &page {
            if k.len() >= 4 {
                let id = u32::from_be_bytes(k[..4].try_into()?);
                let e = out.entry(id).or_default();
                e.0 += 1;
                e.1 += (k.len() + v.len()) as u64;
            }
        }
        match page.last() {
            Some((k, _)) if page.len() == 10_000 => after = Some(k.clone()),
            _ => break,
        }
    }
    Ok(out)
}

fn disk_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// `weir output JOB SINK`: the sink's committed output, in order.
pub fn output(manifest: &Path, overrides: &[Override], sink: &str) -> ExitCode {
    let job = match job_of(manifest, overrides) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let result = (|| -> Result<()> {
        let node = job
            .nodes
            .iter()
            .find(|n| n.name == sink)
            .with_context(|| format!("the job has no sink `{sink}`"))?;
        let NodeKind::Sink {
            kind: SinkKind::File { path, .. },
            ..
        } = &node.kind
        else {
            anyhow::bail!("`{sink}` is not a file sink");
        };
        let mut out = std::io::stdout().lock();
        if path.is_dir() {
            for part in crate::connector::committed_parts(path)? {
                let mut f = std::fs::File::open(&part)?;
                std::io::copy(&mut f, &mut out)?;
            }
        } else {
            let mut f = std::fs::File::open(path)
                .with_context(|| format!("{} has no committed output", path.display()))?;
            std::io::copy(&mut f, &mut out)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader has had enough (`weir output ... | head`): not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `weir savepoint`.
pub fn savepoint(
    manifest: Option<&Path>,
    overrides: &[Override],
    stop: bool,
    dir: Option<PathBuf>,
    dispose: Option<PathBuf>,
) -> ExitCode {
    let result = (|| -> Result<()> {
        if let Some(path) = dispose {
            let found = load(&path)?;
            if found.metadata.kind != crate::checkpoint::SnapshotKind::Savepoint {
                anyhow::bail!(
                    "{} is a {:?}, not a savepoint: only savepoints are disposed of this way",
                    path.display(),
                    found.metadata.kind
                );
            }
            std::fs::remove_dir_all(&found.base)
                .with_context(|| format!("deleting {}", found.base.display()))?;
            println!(
                "disposed of savepoint {} ({})",
                found.metadata.id,
                found.base.display()
            );
            return Ok(());
        }
        let manifest = manifest.context("name the job's manifest (or --dispose PATH)")?;
        let job =
            crate::manifest::load_file(manifest, overrides).map_err(|d| anyhow::anyhow!("{d}"))?;
        let dir = match dir {
            Some(d) => Some(std::path::absolute(&d)?),
            None => None,
        };
        let answer = crate::control::client::call(
            &job,
            "POST",
            "/v1/savepoints",
            Some(serde_json::json!({ "dir": dir, "stop": stop })),
        )?;
        println!(
            "savepoint {}{}",
            answer["path"].as_str().unwrap_or("?"),
            if stop { " (the job stops)" } else { "" }
        );
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
