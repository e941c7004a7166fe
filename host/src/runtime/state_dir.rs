//! A job's state directory, held by one run at a time.
//!
//! ```text
//! <state_dir>/
//!   lock          held (an OS file lock) while a run is alive; holds its pid
//!   work/         the live state backends of the run (removed when it ends)
//!   checkpoints/  completed checkpoints (the default `[job.checkpoint] dir`)
//!   control.json  where the running job's control endpoint listens
//! ```
//!
//! The lock is taken before anything in the directory is touched, so a second run of the
//! same job is refused instead of deleting the first one's live state.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// A locked state directory.
#[derive(Debug)]
pub struct StateDir {
    root: PathBuf,
    _lock: File,
}

impl StateDir {
    /// Locks `root` (creating it) for this run, or fails naming the run that holds it.
    pub fn lock(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("creating the state directory {}", root.display()))?;
        let path = root.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                bail!(
                    "another run of this job (pid {}) holds its state directory {}: stop it first, or give this run another `job.state_dir`",
                    pid.trim(),
                    root.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(Self {
            root: root.to_owned(),
            _lock: file,
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the live state backends of this run go: emptied first (the lock is held,
    /// so nothing else uses it).
    pub fn fresh_work(&self) -> Result<PathBuf> {
        let work = self.work();
        if work.exists() {
            std::fs::remove_dir_all(&work)
                .with_context(|| format!("clearing {}", work.display()))?;
        }
        std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        Ok(work)
    }

    /// The live state of this run.
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    /// The default checkpoint directory.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// Where the control endpoint's address is written.
    pub fn control_file(&self) -> PathBuf {
        control_file(&self.root)
    }
}

/// Where the control endpoint's address of the job with state directory `root` is.
pub fn control_file(root: &Path) -> PathBuf {
    root.join("control.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateDir::lock(dir.path()).unwrap();
        let work = first.fresh_work().unwrap();
        std::fs::write(work.join("live"), "x").unwrap();
        let err = StateDir::lock(dir.path()).unwrap_err().to_string();
        assert!(err.contains("another run"), "{err}");
        assert!(
            err.contains(&std::process::id().to_string()),
            "names the pid: {err}"
        );
        assert!(work.join("live").exists(), "the live state is untouched");
        drop(first);
        let second = StateDir::lock(dir.path()).unwrap();
        second.fresh_work().unwrap();
        assert!(!work.join("live").exists());
    }
}
