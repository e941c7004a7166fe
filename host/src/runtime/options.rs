//! How a job is run, and why one failed.

use std::path::PathBuf;
use std::sync::Arc;

use super::clock::{Clock, SystemClock};
use crate::operator::{FunctionError, NativeFunctions};
use crate::state::StateBackend;
use crate::wasm::default_cache_dir;

/// Where a run starts from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StartFrom {
    /// The job's latest complete checkpoint, if it has one (else from the start).
    #[default]
    Latest,
    /// A checkpoint or savepoint folder.
    Snapshot(PathBuf),
    /// From the start, setting the job's checkpoints aside.
    Fresh,
}

/// How to run a job.
#[derive(Clone)]
pub struct RunOptions {
    /// Processing time.
    pub clock: Arc<dyn Clock>,
    /// Native functions manifests may name as `native:<name>`.
    pub natives: NativeFunctions,
    /// Where compiled components are cached (none: not cached).
    pub cache_dir: Option<PathBuf>,
    /// Keep the working state when the job ends.
    pub keep_state: bool,
    /// Wraps every state backend the job opens: a seam for injecting storage faults in
    /// tests (a disk that fills up, a database that fails).
    pub backend_wrapper: Option<BackendWrapper>,
    /// Where the run starts from.
    pub start_from: StartFrom,
    /// Restore a snapshot even if it holds state no node of the manifest takes.
    pub allow_non_restored_state: bool,
    /// SHA-256 of the manifest text (recorded in snapshots).
    pub manifest_hash: String,
    /// Serve the control endpoint.
    pub control: bool,
}

/// See [`RunOptions::backend_wrapper`].
pub type BackendWrapper = Arc<dyn Fn(Arc<dyn StateBackend>) -> Arc<dyn StateBackend> + Send + Sync>;

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            natives: NativeFunctions::default(),
            cache_dir: default_cache_dir(),
            keep_state: false,
            backend_wrapper: None,
            start_from: StartFrom::Latest,
            allow_non_restored_state: false,
            manifest_hash: String::new(),
            control: false,
        }
    }
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A function failed on a record under the `fail` policy.
    #[error(transparent)]
    Function(FunctionError),
    /// The job could not start, or failed while running.
    #[error("{0:#}")]
    Failed(anyhow::Error),
    /// The job failed again and again, and its restart strategy gave up.
    #[error("{last}\nthe job failed {failures} times and its restart strategy gave up:\n{history}")]
    GaveUp {
        /// The last failure.
        last: Box<JobError>,
        /// How many failures.
        failures: usize,
        /// Each failure and what was decided.
        history: String,
    },
}

impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast_ref::<FunctionError>() {
            Some(f) => JobError::Function(f.clone()),
            None => JobError::Failed(e),
        }
    }
}

/// Lifts a function error out of the contexts it was wrapped in.
pub fn root_error(e: anyhow::Error) -> JobError {
    for cause in e.chain() {
        if let Some(f) = cause.downcast_ref::<FunctionError>() {
            return JobError::Function(f.clone());
        }
    }
    JobError::Failed(e)
}
