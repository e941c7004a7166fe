//! Clicks of many users for the sessions example (session windows keyed by user),
//! generated deterministically, and its sessions computed independently of weir: a
//! user's clicks less than the gap apart are one session, `[first, last + gap)`.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

/// The sessions example's inactivity gap.
pub const GAP_MS: i64 = 30_000;

/// Time of the first click.
const START_MS: i64 = 1_700_000_000_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Clicks in all.
    pub events: usize,
    /// Users (each click is a random user's).
    pub users: usize,
    /// Clicks per simulated second.
    pub rate: u64,
    /// Files (`clicks/part-NNN.jsonl`), each in time order.
    pub shards: usize,
    /// Seed.
    pub seed: u64,
}

/// The clicks' folder.
pub fn clicks(dir: &Path) -> PathBuf {
    dir.join("clicks")
}

/// Writes the clicks into `dir`.
pub fn generate(dir: &Path, spec: &Spec) -> Result<()> {
    let folder = clicks(dir);
    std::fs::create_dir_all(&folder)?;
    let mut files = (0..spec.shards)
        .map(|s| {
            let f = std::fs::File::create(folder.join(format!("part-{s:03}.jsonl")))?;
            Ok(BufWriter::new(f))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut x = spec.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for i in 0..spec.events {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let user = r % spec.users as u64;
        let page = (r >> 40) % 20;
        let ts = START_MS + (i as u64 * 1000 / spec.rate) as i64;
        writeln!(
            files[i % spec.shards],
            "{{\"user\":\"user-{user:07}\",\"page\":\"/p{page}\",\"ts\":{ts}}}"
        )?;
    }
    for mut f in files {
        f.flush()?;
    }
    Ok(())
}

/// Sessions by (user, start): (end, clicks), from the clicks in `dir`.
pub fn expected(dir: &Path) -> Result<BTreeMap<(String, i64), (i64, u64)>> {
    #[derive(Deserialize)]
    struct Click<'a> {
        user: &'a str,
        ts: i64,
    }
    let mut by_user: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for f in std::fs::read_dir(clicks(dir))? {
        let path = f?.path();
        let text = std::fs::read_to_string(&path)?;
        for line in text.lines() {
            let c: Click<'_> =
                serde_json::from_str(line).with_context(|| format!("{}", path.display()))?;
            by_user.entry(c.user.to_owned()).or_default().push(c.ts);
        }
    }
    let mut out = BTreeMap::new();
    for (user, mut ts) in by_user {
        ts.sort_unstable();
        let (mut start, mut last, mut n) = (ts[0], ts[0], 0);
        for t in ts {
            // Windows that touch merge (Flink's `TimeWindow.intersects` is inclusive): clicks
            // exactly the gap apart are one session.
            if t - last > GAP_MS {
                out.insert((user.clone(), start), (last + GAP_MS, n));
                (start, n) = (t, 0);
            }
            last = t;
            n += 1;
        }
        out.insert((user, start), (last + GAP_MS, n));
    }
    Ok(out)
}

/// Sessions by (user, start): (end, clicks), from the example's output lines.
pub fn output(lines: &[String]) -> BTreeMap<(String, i64), (i64, u64)> {
    #[derive(Deserialize)]
    struct Summary<'a> {
        user: &'a str,
        start: i64,
        end: i64,
        events: u64,
        update: bool,
    }
    let mut out = BTreeMap::new();
    for l in lines {
        let s: Summary<'_> = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(
            !s.update,
            "no click is late, so no session fires twice: {l}"
        );
        let prev = out.insert((s.user.to_owned(), s.start), (s.end, s.events));
        assert!(prev.is_none(), "session reported twice: {l}");
    }
    out
}

/// The sessions job on the clicks in `data` (parallelism 2), writing `out` and `late`
/// into `dir`, with `extra` (a `[job.checkpoint]` table, say) after the job table.
pub fn bench_manifest(data: &Path, dir: &Path, extra: &str) -> String {
    format!(
        r#"
[job]
name = "sessions"
parallelism = 2
{extra}

[sources.clicks]
kind = "file"
path = {clicks:?}

[sources.clicks.event_time]
field = "ts"
max_out_of_orderness = "2s"

[operators.sessions]
kind = "window"
input = "clicks"
key_by = {{ field = "user" }}
window = {{ type = "session", gap = "{gap}ms" }}
component = {component:?}

[sinks.out]
kind = "file"
input = "sessions"
path = {out:?}

[sinks.late]
kind = "file"
input = "sessions.late"
path = {late:?}
"#,
        clicks = clicks(data).display().to_string(),
        gap = GAP_MS,
        component = crate::guests::SESSIONS,
        out = dir.join("out").display().to_string(),
        late = dir.join("late").display().to_string(),
    )
}
