//! Killing a real `weir` process with SIGKILL at random moments and running it again until
//! its job ends: what it committed must be exactly what a run without failures commits.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir::checkpoint::{CheckpointStore, OperatorState, load};

/// A job to crash: its manifest in a folder of its own.
pub struct CrashJob {
    /// The folder (manifest, inputs, outputs, state).
    pub dir: PathBuf,
    /// The manifest.
    pub manifest: PathBuf,
    /// Its file sinks' folders, by sink name.
    pub sinks: Vec<(String, PathBuf)>,
    /// Extra `--set` overrides.
    pub overrides: Vec<String>,
}

/// What the kills of one job did.
#[derive(Debug, Default, Clone)]
pub struct Kills {
    /// Kills that landed (after a completed checkpoint, before the end).
    pub landed: usize,
    /// Of those, kills between a checkpoint's metadata and the commit of its parts.
    pub mid_commit: usize,
    /// Runs in all, the last one included.
    pub runs: usize,
    /// Whether the last run resumed (read less than the whole input).
    pub last_resumed: bool,
    /// Its summary.
    pub last_summary: String,
}

/// One run of [`CrashJob::kill_once`].
#[derive(Debug)]
pub enum Attempt {
    /// The job ended before the kill (its summary).
    Ended(String),
    /// The kill landed.
    Killed {
        /// Between a checkpoint's metadata and the commit of its parts.
        mid_commit: bool,
    },
}

/// A small deterministic random source (xorshift), seeded per test.
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

impl CrashJob {
    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(crate::weir_bin());
        c.arg("run").arg(&self.manifest);
        for o in &self.overrides {
            c.arg("--set").arg(o);
        }
        c.args(extra)
            .current_dir(&self.dir)
            .env("WEIR_CACHE_DIR", self.dir.join("../component-cache"))
            .env("WEIR_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    }

    /// The job's checkpoints.
    pub fn store(&self) -> CheckpointStore {
        CheckpointStore::new(
            &self
                .dir
                .join(".weir")
                .join(self.job_name())
                .join("checkpoints"),
        )
    }

    fn job_name(&self) -> String {
        let text = std::fs::read_to_string(&self.manifest).expect("the manifest");
        text.lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
            .map(|n| n.trim_matches('"').to_owned())
            .expect("a job name")
    }

    /// Runs the job to its end without failures; returns its summary.
    pub fn run_clean(&self) -> String {
        let out = self.command(&[]).output().expect("running weir");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "the clean run failed:\n{stderr}");
        stderr
    }

    /// Every line the job's sinks committed, sorted, by sink.
    pub fn committed(&self) -> Vec<(String, Vec<String>)> {
        self.sinks
            .iter()
            .map(|(name, dir)| {
                let mut lines = crate::read_lines(dir);
                lines.sort();
                (name.clone(), lines)
            })
            .collect()
    }

    /// Removes outputs and state (for a second series in the same folder).
    pub fn reset(&self) {
        for (_, d) in &self.sinks {
            let _ = std::fs::remove_dir_all(d);
        }
        let _ = std::fs::remove_dir_all(self.dir.join(".weir"));
    }

    /// Starts a run and kills it after a checkpoint of the run completed, unless the
    /// job ends first. Returns what happened.
    pub fn kill_once(&self, rng: &mut Rng) -> Attempt {
        let before = self.latest_id();
        let mut child = self.command(&[]).spawn().expect("starting weir");
        let waited = Instant::now();
        let mut finished = false;
        loop {
            if child.try_wait().expect("polling weir").is_some() {
                finished = true;
                break;
            }
            if self.latest_id() > before {
                break;
            }
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "no checkpoint completed in a minute"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        if !finished {
            std::thread::sleep(Duration::from_millis(rng.below(120)));
            finished = child.try_wait().expect("polling weir").is_some();
        }
        if finished {
            let out = child.wait_with_output().expect("weir's output");
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "a run failed:\n{stderr}");
            return Attempt::Ended(stderr);
        }
        kill(&mut child);
        if self.finished_marker() {
            // Killed after the job's last snapshot retired its checkpoints: it had ended.
            return Attempt::Ended("killed after the end".into());
        }
        Attempt::Killed {
            mid_commit: self.mid_commit(),
        }
    }

    /// Runs the job, killing it `kills` times, each after a checkpoint of that run
    /// completed and before the job ended, then lets the last run finish.
    pub fn run_with_kills(&self, kills: usize, rng: &mut Rng) -> Kills {
        let mut k = Kills::default();
        let deadline = Instant::now() + Duration::from_secs(300);
        while k.landed < kills {
            assert!(Instant::now() < deadline, "kills took too long: {k:?}");
            k.runs += 1;
            match self.kill_once(rng) {
                Attempt::Ended(stderr) => {
                    k.last_resumed = stderr.contains("resumed:      from snapshot");
                    k.last_summary = stderr;
                    return k;
                }
                Attempt::Killed { mid_commit } => {
                    k.landed += 1;
                    k.mid_commit += usize::from(mid_commit);
                }
            }
        }
        k.runs += 1;
        let out = self.command(&[]).output().expect("running weir");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "the last run failed:\n{stderr}");
        k.last_resumed = stderr.contains("resumed:      from snapshot");
        k.last_summary = stderr;
        k
    }

    fn latest_id(&self) -> u64 {
        self.store()
            .complete()
            .ok()
            .and_then(|v| v.last().copied())
            .unwrap_or(0)
    }

    fn finished_marker(&self) -> bool {
        self.store().dir().join("finished.json").exists()
    }

    /// Whether the latest complete checkpoint has parts still pending: the kill came
    /// after its metadata and before (or during) its commit.
    fn mid_commit(&self) -> bool {
        let store = self.store();
        let Some(&id) = store
            .complete()
            .ok()
            .and_then(|v| v.last().copied())
            .as_ref()
        else {
            return false;
        };
        let Ok(found) = load(&store.path_of(id)) else {
            return false;
        };
        found.metadata.instances.iter().any(|i| match &i.state {
            OperatorState::Sink { pending } => pending.iter().any(|p| p.pending.exists()),
            _ => false,
        })
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Writes `lines` to `path`.
pub fn write_lines(path: &Path, lines: impl IntoIterator<Item = String>) {
    let mut text = String::new();
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    std::fs::write(path, text).expect("writing input");
}
