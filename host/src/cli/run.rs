//! `weir run`.

use std::path::PathBuf;
use std::process::ExitCode;

use sha2::{Digest, Sha256};

use super::signals::{part_files, watch_signals};
use super::{fail, job_of};
use crate::manifest::{NodeKind, Override, SinkKind};
use crate::runtime::{RunOptions, StartFrom, start};

/// `weir run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The job manifest (TOML).
    manifest: PathBuf,
    /// Overrides a manifest value, e.g. `--set sources.events.path=/data/x`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    overrides: Vec<Override>,
    /// Keep the job's working state when it ends.
    #[arg(long)]
    keep_state: bool,
    /// Start from this checkpoint or savepoint folder.
    #[arg(long, value_name = "PATH", conflicts_with = "fresh")]
    from: Option<PathBuf>,
    /// Start from the beginning, setting the job's checkpoints aside.
    #[arg(long)]
    fresh: bool,
    /// Restore a snapshot even if it holds state of operators the manifest no longer
    /// has (that state is dropped).
    #[arg(long)]
    allow_non_restored_state: bool,
}

/// Runs a job and prints its summary.
pub fn run(a: RunArgs) -> ExitCode {
    let job = match job_of(&a.manifest, &a.overrides) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let manifest_hash = std::fs::read(&a.manifest)
        .map(|b| hex::encode(Sha256::digest(b)))
        .unwrap_or_default();
    let options = RunOptions {
        keep_state: a.keep_state,
        start_from: match (a.from, a.fresh) {
            (Some(p), _) => StartFrom::Snapshot(p),
            (None, true) => StartFrom::Fresh,
            (None, false) => StartFrom::Latest,
        },
        allow_non_restored_state: a.allow_non_restored_state,
        manifest_hash,
        control: true,
        ..RunOptions::default()
    };
    // Without checkpoints a file sink writes one file under a temporary name: a cancel
    // removes it.
    let single_files: Vec<PathBuf> = if job.checkpoint.is_none() {
        job.nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Sink {
                    kind: SinkKind::File { path, .. },
                    ..
                } => Some(path.clone()),
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    let handle = match start(job, options) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    watch_signals(&handle, part_files(&single_files));
    match handle.wait() {
        Ok(report) => {
            eprint!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
