//! Data in the shape of the Yahoo Streaming Benchmark, generated deterministically, and
//! the benchmark's answer computed independently of weir: the number of `view` events
//! per campaign and 10 s event-time window.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

const AD_TYPES: [&str; 5] = ["banner", "modal", "sponsored-search", "mail", "mobile"];
const EVENT_TYPES: [&str; 3] = ["view", "click", "purchase"];

/// Window length of the benchmark.
pub const WINDOW_MS: i64 = 10_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Events in all.
    pub events: usize,
    /// Campaigns.
    pub campaigns: usize,
    /// Ads per campaign.
    pub ads_per_campaign: usize,
    /// Events per simulated second.
    pub rate: u64,
    /// Largest delay of an event behind its place in time.
    pub disorder_ms: u64,
    /// Event files (`events/part-NNN.jsonl`); 1 writes `events.jsonl`.
    pub shards: usize,
    /// Seed.
    pub seed: u64,
    /// Time of the first event.
    pub start_ms: i64,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            events: 100_000,
            campaigns: 100,
            ads_per_campaign: 10,
            rate: 10_000,
            disorder_ms: 500,
            shards: 1,
            seed: 7,
            start_ms: 1_700_000_000_000,
        }
    }
}

/// A small, fast, deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

/// Where generated data is.
#[derive(Debug, Clone)]
pub struct Data {
    /// The folder.
    pub dir: PathBuf,
    /// `events.jsonl` or the `events` folder.
    pub events: PathBuf,
    /// `campaigns.jsonl`.
    pub campaigns: PathBuf,
}

/// Data generated earlier into `dir` (`ysb_gen.py`'s layout: `campaigns.jsonl`, and an
/// `events` folder or `events.jsonl`).
pub fn existing(dir: &Path) -> Data {
    let events = if dir.join("events").is_dir() {
        dir.join("events")
    } else {
        dir.join("events.jsonl")
    };
    Data {
        campaigns: dir.join("campaigns.jsonl"),
        events,
        dir: dir.to_owned(),
    }
}

/// The YSB job the benchmarks run on `data` (file join, parallelism 2), writing its
/// outputs `out` and `late` into `dir`, with `extra` (a `[job.checkpoint]` table, say)
/// after the job table.
pub fn bench_manifest(data: &Data, dir: &Path, extra: &str) -> String {
    format!(
        r#"
[job]
name = "ysb"
parallelism = 2
{extra}

[sources.events]
kind = "file"
path = {events:?}

[sources.events.event_time]
from = "function"
max_out_of_orderness = "1s"

[operators.campaign]
kind = "map"
input = "events"
component = {campaign:?}
files = {{ campaigns = {campaigns:?} }}

[operators.count]
kind = "window"
input = "campaign"
key_by = "key"
window = {{ type = "tumbling", size = "10s" }}
aggregate = "count"
component = {window:?}

[sinks.out]
kind = "file"
input = "count"
path = {out:?}

[sinks.late]
kind = "file"
input = "count.late"
path = {late:?}
"#,
        events = data.events.display().to_string(),
        campaigns = data.campaigns.display().to_string(),
        campaign = crate::guests::YSB_CAMPAIGN,
        window = crate::guests::YSB_WINDOW,
        out = dir.join("out").display().to_string(),
        late = dir.join("late").display().to_string(),
    )
}

/// Writes campaigns and events into `dir`.
pub fn generate(dir: &Path, spec: &Spec) -> Result<Data> {
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng(spec.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let campaigns_path = dir.join("campaigns.jsonl");
    let mut ads = Vec::new();
    let mut w = BufWriter::new(std::fs::File::create(&campaigns_path)?);
    for _ in 0..spec.campaigns {
        let c = rng.uuid();
        for _ in 0..spec.ads_per_campaign {
            let ad = rng.uuid();
            writeln!(w, "{{\"ad_id\": \"{ad}\", \"campaign_id\": \"{c}\"}}")?;
            ads.push(ad);
        }
    }
    w.flush()?;
    let users: Vec<String> = (0..1000).map(|_| rng.uuid()).collect();
    let pages: Vec<String> = (0..1000).map(|_| rng.uuid()).collect();
    let (events, paths) = if spec.shards > 1 {
        let d = dir.join("events");
        std::fs::create_dir_all(&d)?;
        let paths = (0..spec.shards)
            .map(|k| d.join(format!("part-{k:03}.jsonl")))
            .collect();
        (d, paths)
    } else {
        let p = dir.join("events.jsonl");
        (p.clone(), vec![p])
    };
    let mut files = paths
        .iter()
        .map(|p| std::fs::File::create(p).map(|f| BufWriter::with_capacity(1 << 20, f)))
        .collect::<std::io::Result<Vec<_>>>()?;
    for i in 0..spec.events {
        let base = spec.start_ms + (i as i64 * 1000) / spec.rate as i64;
        let t = (base - rng.below(spec.disorder_ms + 1) as i64).max(spec.start_ms);
        let user = &users[rng.below(users.len() as u64) as usize];
        let page = &pages[rng.below(pages.len() as u64) as usize];
        let ad = &ads[rng.below(ads.len() as u64) as usize];
        let ad_type = AD_TYPES[rng.below(AD_TYPES.len() as u64) as usize];
        let event_type = EVENT_TYPES[rng.below(EVENT_TYPES.len() as u64) as usize];
        let shard = i % files.len();
        writeln!(
            files[shard],
            "{{\"user_id\":\"{user}\",\"page_id\":\"{page}\",\"ad_id\":\"{ad}\",\"ad_type\":\"{ad_type}\",\"event_type\":\"{event_type}\",\"event_time\":\"{t}\",\"ip_address\":\"1.2.3.4\"}}"
        )?;
    }
    for f in &mut files {
        f.flush()?;
    }
    Ok(Data {
        dir: dir.to_owned(),
        events,
        campaigns: campaigns_path,
    })
}

/// The benchmark's answer computed without weir: views per (campaign, window start).
pub fn expected_counts(data: &Data) -> Result<BTreeMap<(String, i64), u64>> {
    let mut campaign_of = BTreeMap::new();
    for line in std::fs::read_to_string(&data.campaigns)?.lines() {
        let v: Value = serde_json::from_str(line)?;
        campaign_of.insert(
            v["ad_id"].as_str().context("ad_id")?.to_owned(),
            v["campaign_id"].as_str().context("campaign_id")?.to_owned(),
        );
    }
    let files = if data.events.is_dir() {
        let mut f: Vec<PathBuf> = std::fs::read_dir(&data.events)?
            .map(|e| Ok(e?.path()))
            .collect::<Result<_>>()?;
        f.sort();
        f
    } else {
        vec![data.events.clone()]
    };
    let mut counts = BTreeMap::new();
    for f in files {
        for line in std::fs::read_to_string(&f)?.lines() {
            let v: Value = serde_json::from_str(line)?;
            if v["event_type"] != "view" {
                continue;
            }
            let Some(c) = campaign_of.get(v["ad_id"].as_str().context("ad_id")?) else {
                continue;
            };
            let t: i64 = v["event_time"].as_str().context("event_time")?.parse()?;
            let start = t - t.rem_euclid(WINDOW_MS);
            *counts.entry((c.clone(), start)).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

/// A YSB job's output (`{"campaign_id","window_start","window_end","count"}` lines) as
/// counts per (campaign, window start); panics on a malformed line or a duplicate window.
pub fn output_counts(lines: &[String]) -> BTreeMap<(String, i64), u64> {
    let mut out = BTreeMap::new();
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        let start = v["window_start"].as_i64().expect("window_start");
        assert_eq!(v["window_end"].as_i64(), Some(start + WINDOW_MS), "{l}");
        let key = (
            v["campaign_id"].as_str().expect("campaign_id").to_owned(),
            start,
        );
        let prev = out.insert(key, v["count"].as_u64().expect("count"));
        assert!(prev.is_none(), "window reported twice: {l}");
    }
    out
}
