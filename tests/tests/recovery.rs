//! Restoring checkpoints and savepoints: at another parallelism, into a changed job,
//! past a corrupt checkpoint; and restart strategies.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use weir::manifest::{Job, load_str};
use weir::runtime::{JobError, JobHandle, RunOptions, StartFrom, start};
use weir::state::{StateBackend, WriteOp};
use weir_tests::crash::write_lines;
use weir_tests::{Harness, guests, read_lines};

/// A keyed job over two files with keys of their own (every key's records in file order
/// through one reader): a keyed count and event-time windows.
fn manifest(parallelism: u32, interval: &str, extra: &str) -> String {
    format!(
        r#"[job]
name = "recover"
parallelism = {parallelism}
batch_size = 32

[job.checkpoint]
interval = "{interval}"
{extra}
{restart}
[sources.in]
kind = "file"
path = "in"

[sources.in.event_time]
field = "t"

[operators.count]
kind = "map"
input = "in"
key_by = {{ field = "k" }}
component = {counter:?}

[operators.win]
kind = "window"
input = "in"
key_by = {{ field = "k" }}
window = {{ type = "tumbling", size = "1s" }}
aggregate = "function"
component = {collect:?}

# A purging count trigger: a key's records are 500 ms apart, so each of its 1 s windows
# fires once, at its 2nd element; a restore between the two must keep the count.
[operators.pairs]
kind = "window"
input = "in"
key_by = {{ field = "k" }}
window = {{ type = "tumbling", size = "1s" }}
trigger = {{ type = "count", count = 2, purging = true }}
component = {pairs:?}

[sinks.paired]
kind = "file"
input = "pairs"
path = "pairs"

[sinks.paired-late]
kind = "file"
input = "pairs.late"
path = "pairs-late"

# A timer per record, all due after the input's last timestamp: each fires once, at the
# end, so the alerts show every timer registered before a checkpoint was restored.
[operators.timers]
kind = "map"
input = "in"
key_by = {{ field = "k" }}
component = {alert:?}
config = {{ gap_ms = 1000000, every_record = true }}

[sinks.alerts]
kind = "file"
input = "timers"
path = "alerts"

[sinks.counts]
kind = "file"
input = "count"
path = "counts"

[sinks.windows]
kind = "file"
input = "win"
path = "windows"

[sinks.late]
kind = "file"
input = "win.late"
path = "late"
"#,
        counter = guests::KEYED_COUNTER,
        collect = guests::WINDOW_SUM,
        alert = guests::INACTIVITY_ALERT,
        pairs = guests::WINDOW_COLLECT,
        restart = if extra.contains("[job.restart]") {
            ""
        } else {
            "[job.restart]\nstrategy = \"none\"\n"
        },
    )
}

fn inputs(h: &Harness, n: u32) {
    let dir = h.dir.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    for (f, first) in [("a.jsonl", 0u32), ("b.jsonl", 50)] {
        write_lines(
            &dir.join(f),
            (0..n).map(|i| {
                format!(
                    "{{\"k\":\"k{}\",\"t\":{},\"n\":1}}",
                    first + (i * 31) % 50,
                    i64::from(i) * 10
                )
            }),
        );
    }
}

fn load(h: &Harness, text: &str) -> Job {
    let mut job = load_str(text, &h.dir.path().join("job.toml"), h.dir.path(), &[])
        .unwrap_or_else(|d| panic!("{d}"));
    job.state_dir = h.dir.path().join("state");
    job.checkpoint_dir = h.dir.path().join("state/checkpoints");
    job
}

fn options(h: &Harness, from: StartFrom) -> RunOptions {
    RunOptions {
        start_from: from,
        ..h.options()
    }
}

fn committed(h: &Harness, sinks: &[&str]) -> Vec<Vec<String>> {
    sinks
        .iter()
        .map(|s| {
            let mut l = read_lines(&h.dir.path().join(s));
            l.sort();
            l
        })
        .collect()
}

/// Starts `job` and cancels it once `checkpoints` checkpoints have completed.
fn run_until_checkpoints(job: Job, options: RunOptions, checkpoints: u64) -> JobHandle {
    let handle = start(job, options).expect("the job starts");
    let t = Instant::now();
    while handle.checkpoint_stats().lock().unwrap().completed < checkpoints {
        assert!(
            !handle.is_finished(),
            "the job ended before its checkpoints"
        );
        assert!(t.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(1));
    }
    handle.cancel();
    handle
}

const SINKS: [&str; 6] = ["counts", "windows", "late", "alerts", "pairs", "pairs-late"];

#[test]
fn a_checkpoint_restores_at_another_parallelism_to_the_same_output() {
    let clean = Harness::new();
    inputs(&clean, 10_000);
    weir::runtime::run(load(&clean, &manifest(2, "20ms", "")), clean.options()).unwrap();
    let want = committed(&clean, &SINKS);
    assert!(!want[0].is_empty() && !want[1].is_empty());
    assert_eq!(
        want[3].len(),
        20_000,
        "one alert per record (a timer each, all fire)"
    );
    // 100 keys, each with a record every 500 ms over 100 s: 100 windows of 2 per key.
    assert_eq!(want[4].len(), 100 * 100, "one firing per key and second");
    assert!(want[5].is_empty());
    // To 1: with a window cache of a few accumulators, so windows' state is written
    // back to RocksDB before the snapshots and read back after the restore.
    for (to, cache) in [(3, ""), (1, "window_cache = \"2KiB\"\n")] {
        let with_cache = |p: u32| {
            manifest(p, "20ms", "").replacen(
                "batch_size = 32\n",
                &format!("batch_size = 32\n{cache}"),
                1,
            )
        };
        let h = Harness::new();
        inputs(&h, 10_000);
        let handle =
            run_until_checkpoints(load(&h, &with_cache(2)), options(&h, StartFrom::Latest), 3);
        assert!(handle.wait().is_err(), "cancelled");
        let report =
            weir::runtime::run(load(&h, &with_cache(to)), options(&h, StartFrom::Latest)).unwrap();
        let (_, read) = report.resumed.expect("it resumed");
        assert!(read > 0 && read < 20_000, "resumed mid-input: {read}");
        report.check_accounts().unwrap();
        assert_eq!(committed(&h, &SINKS), want, "2 -> {to}");
    }
}

#[test]
fn a_savepoint_refuses_a_job_missing_its_operators_unless_allowed() {
    let h = Harness::new();
    inputs(&h, 40_000);
    let sp = h.dir.path().join("savepoints");
    let handle = start(
        load(&h, &manifest(2, "1h", "")),
        options(&h, StartFrom::Latest),
    )
    .unwrap();
    let at = handle
        .savepoint(Some(sp.clone()), true)
        .expect("a savepoint");
    assert!(at.starts_with(&sp) && at.join("_metadata").is_file());
    let report = handle.wait().expect("stopped");
    assert!(report.stopped);
    // The savepoint stands alone: no file shared with checkpoints.
    for e in walk(&at) {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&e).unwrap().nlink(), 1, "{}", e.display());
    }
    // Without the window operator (and its sinks) the savepoint holds state of `win`
    // that nothing takes.
    let without = manifest(2, "1h", "")
        .split("[operators.win]")
        .next()
        .unwrap()
        .to_owned()
        + "[sinks.counts]\nkind = \"file\"\ninput = \"count\"\npath = \"counts\"\n";
    let refused = match start(
        load(&h, &without),
        options(&h, StartFrom::Snapshot(at.clone())),
    ) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("restored a savepoint with state no operator takes"),
    };
    assert!(
        refused.contains("win") && refused.contains("--allow-non-restored-state"),
        "{refused}"
    );
    let report = weir::runtime::run(
        load(&h, &without),
        RunOptions {
            allow_non_restored_state: true,
            ..options(&h, StartFrom::Snapshot(at))
        },
    )
    .unwrap();
    assert!(report.resumed.is_some());
    report.check_accounts().unwrap();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_corrupt_latest_checkpoint_falls_back_to_the_one_before() {
    let clean = Harness::new();
    inputs(&clean, 10_000);
    weir::runtime::run(load(&clean, &manifest(1, "20ms", "")), clean.options()).unwrap();
    let want = committed(&clean, &SINKS);

    let h = Harness::new();
    inputs(&h, 10_000);
    let job = load(&h, &manifest(1, "20ms", "retain = 3"));
    let store = weir::checkpoint::CheckpointStore::new(&job.checkpoint_dir);
    let handle = run_until_checkpoints(job, options(&h, StartFrom::Latest), 3);
    assert!(handle.wait().is_err());
    let ids = store.complete().unwrap();
    let newest = *ids.last().unwrap();
    let meta = store.path_of(newest).join("_metadata");
    let text = std::fs::read(&meta).unwrap();
    std::fs::write(&meta, &text[..text.len() / 2]).unwrap();
    let report = weir::runtime::run(
        load(&h, &manifest(1, "20ms", "")),
        options(&h, StartFrom::Latest),
    )
    .unwrap();
    let (id, _) = report.resumed.expect("resumed");
    assert!(id < newest, "resumed from {id}, not the corrupt {newest}");
    // Nothing is lost. (What the corrupt checkpoint had committed is produced again:
    // falling back past a completed checkpoint repeats its output.)
    for (w, g) in want.iter().zip(committed(&h, &SINKS)) {
        let missing: Vec<&String> = w.iter().filter(|l| g.binary_search(l).is_err()).collect();
        assert!(missing.is_empty(), "{} lines lost", missing.len());
    }
}

/// A backend whose writes fail a few times after the job has run a while.
struct Flaky {
    inner: Arc<dyn StateBackend>,
    writes: Arc<AtomicUsize>,
}

impl StateBackend for Flaky {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        self.inner.multi_get(keys)
    }
    fn scan(&self, p: &[u8], a: Option<&[u8]>, l: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan(p, a, l)
    }
    fn write(&self, ops: Vec<WriteOp>) -> Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        if (300..302).contains(&n) {
            bail!("injected write failure");
        }
        self.inner.write(ops)
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn snapshot(&self, path: &Path) -> Result<()> {
        self.inner.snapshot(path)
    }
}

#[test]
fn a_failing_task_restarts_from_the_latest_checkpoint_and_the_output_is_exact() {
    let clean = Harness::new();
    inputs(&clean, 10_000);
    weir::runtime::run(load(&clean, &manifest(2, "20ms", "")), clean.options()).unwrap();
    let want = committed(&clean, &SINKS);

    let h = Harness::new();
    inputs(&h, 10_000);
    let writes = Arc::new(AtomicUsize::new(0));
    let w = writes.clone();
    let options = RunOptions {
        backend_wrapper: Some(Arc::new(move |inner| {
            Arc::new(Flaky {
                inner,
                writes: w.clone(),
            }) as Arc<dyn StateBackend>
        })),
        ..options(&h, StartFrom::Latest)
    };
    let restart = "\n[job.restart]\nstrategy = \"fixed-delay\"\nattempts = 3\ndelay = \"10ms\"\n";
    let text = manifest(2, "20ms", restart);
    let report = weir::runtime::run(load(&h, &text), options).unwrap();
    assert!(report.restarts >= 1, "{report}");
    assert_eq!(committed(&h, &SINKS), want);
}

#[test]
fn a_function_failing_on_a_record_ends_the_job_after_its_restarts_with_the_history() {
    let h = Harness::new();
    write_lines(
        &h.dir.path().join("in.txt"),
        (0..200).map(|i| {
            if i == 150 {
                "trap".into()
            } else {
                format!("r{i}")
            }
        }),
    );
    let text = format!(
        r#"[job]
name = "failing"
batch_size = 16

[job.checkpoint]
interval = "10ms"

[job.restart]
strategy = "fixed-delay"
attempts = 2
delay = "10ms"

[sources.in]
kind = "file"
path = "in.txt"
format = "text-lines"

[operators.m]
kind = "map"
input = "in"
component = {c:?}

[sinks.out]
kind = "file"
input = "m"
path = "out"
"#,
        c = guests::MISBEHAVE
    );
    let err = match weir::runtime::run(load(&h, &text), h.options()) {
        Err(e @ JobError::GaveUp { .. }) => e.to_string(),
        Err(e) => panic!("expected the restart strategy to give up: {e}"),
        Ok(r) => panic!("the job succeeded:\n{r}"),
    };
    assert!(err.contains("value \"trap\""), "names the record: {err}");
    assert!(err.contains("failed 3 times"), "{err}");
    assert_eq!(err.matches("restarted after 10 ms").count(), 2, "{err}");
    assert!(err.contains("gave up"), "{err}");
}
