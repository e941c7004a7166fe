//! Exactly-once under `kill -9`: real `weir` processes, real RocksDB, killed with SIGKILL
//! at seeded random moments (each after a checkpoint of its run completed, before the job
//! ended) and run again until the job ends. The committed output must be exactly what a
//! run without failures commits: nothing lost, nothing twice. The last run must have
//! resumed from a checkpoint. Also: named crash points inside the commit path.
//!
//! `WEIR_CRASH_KILLS=<n>` kills each job `n` times (default 3; a soak runs hundreds).

use std::path::Path;

use weir_tests::crash::{CrashJob, Rng, write_lines};
use weir_tests::guests;

fn kills_per_job() -> usize {
    std::env::var("WEIR_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// A folder for one job, next to a component cache shared by all.
fn job_dir(root: &Path, name: &str) -> std::path::PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const CHECKPOINTS: &str =
    "\n[job.checkpoint]\ninterval = \"30ms\"\n\n[job.restart]\nstrategy = \"none\"\n";

/// Keyed state: a count per key, the last values, values per distinct value. Two files
/// with keys of their own, read by as many readers as the job has instances: every key's
/// records come through one reader in file order, and the keyed operator aligns barriers
/// from several senders.
fn keyed_job(root: &Path, parallelism: u32) -> CrashJob {
    let dir = job_dir(root, &format!("keyed-{parallelism}"));
    std::fs::create_dir_all(dir.join("in")).unwrap();
    for (f, keys) in [("a.txt", 0..150u32), ("b.txt", 150..300)] {
        let n = keys.len() as u32;
        let first = keys.start;
        write_lines(
            &dir.join("in").join(f),
            (0..60_000u32).map(|i| format!("k{}:v{}", first + (i * 7919) % n, i % 13)),
        );
    }
    let manifest = dir.join("job.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"[job]
name = "keyed"
parallelism = {parallelism}
batch_size = 64
{CHECKPOINTS}
[sources.in]
kind = "file"
path = "in"
format = "text-lines"

[operators.split]
kind = "map"
input = "in"
component = {split:?}

[operators.count]
kind = "map"
input = "split"
key_by = "key"
component = {counter:?}

[sinks.out]
kind = "file"
input = "count"
path = "out"
"#,
            split = guests::KEY_SPLIT,
            counter = guests::KEYED_COUNTER
        ),
    )
    .unwrap();
    CrashJob {
        sinks: vec![("out".into(), dir.join("out"))],
        manifest,
        dir,
        overrides: Vec::new(),
    }
}

/// Event-time windows with allowed lateness: late elements fire windows again, later
/// ones go to the late output.
fn window_job(root: &Path, parallelism: u32) -> CrashJob {
    let dir = job_dir(root, &format!("window-{parallelism}"));
    let mut rng = Rng::new(7);
    write_lines(
        &dir.join("in.jsonl"),
        (0..60_000i64).map(|i| {
            let t = i * 10;
            // One element in twenty arrives up to 3 s late.
            let t = if rng.below(20) == 0 {
                t - rng.below(3_000) as i64
            } else {
                t
            };
            format!("{{\"k\":\"k{}\",\"t\":{t},\"i\":{i}}}", i % 40)
        }),
    );
    let manifest = dir.join("job.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"[job]
name = "windows"
parallelism = {parallelism}
batch_size = 64
{CHECKPOINTS}
[sources.in]
kind = "file"
path = "in.jsonl"
parallelism = 1

[sources.in.event_time]
field = "t"
max_out_of_orderness = "500ms"

[operators.win]
kind = "window"
input = "in"
key_by = {{ field = "k" }}
window = {{ type = "tumbling", size = "1s" }}
allowed_lateness = "1s"
component = {collect:?}

[sinks.out]
kind = "file"
input = "win"
path = "out"

[sinks.late]
kind = "file"
input = "win.late"
path = "late"
"#,
            collect = guests::WINDOW_COLLECT
        ),
    )
    .unwrap();
    CrashJob {
        sinks: vec![
            ("out".into(), dir.join("out")),
            ("late".into(), dir.join("late")),
        ],
        manifest,
        dir,
        overrides: Vec::new(),
    }
}

/// Session windows with keyed state in the window function (a session count per user).
fn sessions_job(root: &Path, parallelism: u32) -> CrashJob {
    let dir = job_dir(root, &format!("sessions-{parallelism}"));
    let mut rng = Rng::new(11);
    let mut t = 0i64;
    write_lines(
        &dir.join("clicks.jsonl"),
        (0..60_000u32).map(|_| {
            t += rng.below(400) as i64;
            format!(
                "{{\"user\":\"u{}\",\"ts\":{t},\"page\":\"/p{}\"}}",
                rng.below(200),
                rng.below(9)
            )
        }),
    );
    let manifest = dir.join("job.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"[job]
name = "sessions"
parallelism = {parallelism}
batch_size = 64
{CHECKPOINTS}
[sources.clicks]
kind = "file"
path = "clicks.jsonl"
parallelism = 1

[sources.clicks.event_time]
field = "ts"
max_out_of_orderness = "2s"

[operators.sessions]
kind = "window"
input = "clicks"
key_by = {{ field = "user" }}
window = {{ type = "session", gap = "30s" }}
allowed_lateness = "10s"
component = {sessions:?}

[sinks.out]
kind = "file"
input = "sessions"
path = "out"

[sinks.late]
kind = "file"
input = "sessions.late"
path = "late"
"#,
            sessions = guests::SESSIONS
        ),
    )
    .unwrap();
    CrashJob {
        sinks: vec![
            ("out".into(), dir.join("out")),
            ("late".into(), dir.join("late")),
        ],
        manifest,
        dir,
        overrides: Vec::new(),
    }
}

/// Orders enriched from a broadcast table of goods (read first, then changed while
/// orders flow is not possible with bootstrap: the table is the whole goods file).
fn broadcast_job(root: &Path, parallelism: u32) -> CrashJob {
    let dir = job_dir(root, &format!("broadcast-{parallelism}"));
    write_lines(
        &dir.join("goods.jsonl"),
        (0..500u32).map(|g| {
            if g % 50 == 49 {
                format!("{{\"op\":\"remove\",\"goods_id\":\"g{}\"}}", g - 1)
            } else {
                format!("{{\"op\":\"upsert\",\"goods_id\":\"g{g}\",\"name\":\"goods {g}\"}}")
            }
        }),
    );
    write_lines(
        &dir.join("orders.jsonl"),
        (0..300_000u32).map(|o| {
            format!(
                "{{\"order_id\":\"o{o}\",\"goods_id\":\"g{}\",\"quantity\":{}}}",
                (o * 31) % 520,
                o % 7 + 1
            )
        }),
    );
    let manifest = dir.join("job.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"[job]
name = "enrich"
parallelism = {parallelism}
batch_size = 16
{CHECKPOINTS}
[sources.orders]
kind = "file"
path = "orders.jsonl"
parallelism = 1

[sources.goods]
kind = "file"
path = "goods.jsonl"

[operators.enrich]
kind = "broadcast"
input = "orders"
broadcast = "goods"
bootstrap = true
component = {enrich:?}
on_error = "dead-letter"

[sinks.enriched]
kind = "file"
input = "enrich"
path = "enriched"

[sinks.rejected]
kind = "file"
input = "enrich.dead-letter"
path = "rejected"
"#,
            enrich = guests::GOODS_ENRICH
        ),
    )
    .unwrap();
    CrashJob {
        sinks: vec![
            ("enriched".into(), dir.join("enriched")),
            ("rejected".into(), dir.join("rejected")),
        ],
        manifest,
        dir,
        overrides: Vec::new(),
    }
}

/// Runs a job cleanly, then again with kills, and compares what each committed.
fn crash(job: CrashJob, kills: usize, seed: u64) -> (usize, usize) {
    job.run_clean();
    let want = job.committed();
    assert!(
        want.iter().any(|(_, lines)| !lines.is_empty()),
        "the clean run committed nothing"
    );
    job.reset();
    let mut rng = Rng::new(seed);
    let k = job.run_with_kills(kills, &mut rng);
    let got = job.committed();
    for ((sink, w), (_, g)) in want.iter().zip(&got) {
        if w != g {
            let missing = w.iter().filter(|l| !g.contains(l)).count();
            let extra = g.len() as i64 - w.len() as i64;
            panic!(
                "{}: sink `{sink}` committed {} lines, a run without failures {} ({missing} missing, {extra} more than expected) after {k:?}",
                job.dir.display(),
                g.len(),
                w.len()
            );
        }
    }
    assert_eq!(k.landed, kills, "every kill landed before the end: {k:?}");
    assert!(
        k.last_resumed,
        "the last run resumed from a checkpoint: {}",
        k.last_summary
    );
    println!(
        "{}: {} kills ({} between a checkpoint's metadata and its commit), {} runs",
        job.dir.file_name().unwrap().to_string_lossy(),
        k.landed,
        k.mid_commit,
        k.runs
    );
    (k.landed, k.mid_commit)
}

#[test]
fn exactly_once_output_under_kill_9() {
    let root = tempfile::tempdir().unwrap();
    let kills = kills_per_job();
    let mut total = (0, 0);
    let mut seed = 1;
    for p in [1, 2] {
        for make in [keyed_job, window_job, sessions_job, broadcast_job] {
            seed += 1;
            let (k, m) = crash(make(root.path(), p), kills, seed);
            total.0 += k;
            total.1 += m;
        }
    }
    println!(
        "kill -9: {} kills landed, {} of them between a checkpoint's metadata and its commit",
        total.0, total.1
    );
    assert!(total.0 >= 20, "at least 20 kills: {}", total.0);
}

#[test]
fn named_crash_points_recover_to_the_same_output() {
    let root = tempfile::tempdir().unwrap();
    for (i, point) in [
        "part-pending:6",
        "metadata-written:5",
        "commit-part:4",
        "restore:1",
    ]
    .iter()
    .enumerate()
    {
        let job = keyed_job(&root.path().join(format!("p{i}")), 2);
        job.run_clean();
        let want = job.committed();
        job.reset();
        // `restore` is reached when a run starts: crash the start of a run that has a
        // checkpoint to restore.
        if point.starts_with("restore") {
            let mut rng = Rng::new(3);
            assert!(matches!(
                job.kill_once(&mut rng),
                weir_tests::crash::Attempt::Killed { .. }
            ));
        }
        let out = std::process::Command::new(weir_tests::weir_bin())
            .arg("run")
            .arg(&job.manifest)
            .current_dir(&job.dir)
            .env("WEIR_CACHE_DIR", root.path().join("component-cache"))
            .env("WEIR_CRASH_AT", point)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("crash point") && !out.status.success(),
            "{point}: the crash point was not reached:\n{stderr}"
        );
        let summary = job.run_clean();
        let got = job.committed();
        for ((sink, w), (_, g)) in want.iter().zip(&got) {
            let missing = w.iter().filter(|l| !g.contains(l)).count();
            assert!(
                w == g,
                "{point}: sink `{sink}` committed {} lines, a run without failures {} ({missing} missing)\n{summary}",
                g.len(),
                w.len()
            );
        }
    }
}
