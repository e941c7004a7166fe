//! Broadcast-process operators end to end: enrichment from a broadcast stream, removals,
//! the read-only element side, identical broadcast state on every instance, bootstrap,
//! and the Yahoo Streaming Benchmark with its ad→campaign table broadcast.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};
use weir::manifest::{Override, load_file};
use weir::runtime::JobReport;
use weir_tests::{Harness, canonical, guests, manifest, read_lines, repo, ysb};

/// What the SDK's read-only error says (the probe reports it as its `write` field).
const READ_ONLY: &str = "broadcast state is read-only while processing the main input \
                         (write it from process_broadcast)";

/// A deterministic sequence of numbers (SplitMix64).
struct Seq(u64);

impl Seq {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// The (digest, entries) of each instance of `op`, after checking that there are
/// `instances` of them and that they are all equal.
fn identical_state(report: &JobReport, op: &str, instances: usize) -> (u64, usize) {
    let states = &report.broadcast_states[op];
    assert_eq!(states.len(), instances, "{states:?}");
    assert!(
        states.iter().all(|s| *s == states[0]),
        "broadcast state differs between instances: {states:?}"
    );
    states[0]
}

// ----- goods enrichment -----

/// The goods table after `updates` and what the job should write for `orders`, computed
/// without weir: enriched orders, and the number of dead letters (bad updates and bad
/// orders).
struct Enrichment {
    table: BTreeMap<String, String>,
    enriched: Vec<String>,
    dead_letters: usize,
}

fn enrichment(updates: &[String], orders: &[String]) -> Enrichment {
    let mut table = BTreeMap::new();
    let mut dead_letters = 0;
    for u in updates {
        let v: Value = serde_json::from_str(u).unwrap();
        let id = v["goods_id"].as_str().unwrap().to_owned();
        match (v["op"].as_str(), v["name"].as_str()) {
            (Some("upsert"), Some(name)) => {
                table.insert(id, name.to_owned());
            }
            (Some("remove"), _) => {
                table.remove(&id);
            }
            _ => dead_letters += 1,
        }
    }
    let mut enriched = Vec::new();
    for o in orders {
        match serde_json::from_str::<Value>(o) {
            Ok(Value::Object(mut order)) => {
                let Some(id) = order.get("goods_id").and_then(Value::as_str) else {
                    dead_letters += 1;
                    continue;
                };
                let name = table.get(id).map_or(Value::Null, |n| json!(n));
                order.insert("goods_name".into(), name);
                enriched.push(Value::Object(order).to_string());
            }
            _ => dead_letters += 1,
        }
    }
    Enrichment {
        table,
        enriched,
        dead_letters,
    }
}

/// The goods-enrich example reading `goods` and `orders` (written into `dir`).
fn goods_job(
    dir: &Path,
    goods: &[String],
    orders: &[String],
    more: &[&str],
) -> weir::manifest::Job {
    let goods_path = dir.join("in/goods.jsonl");
    let orders_path = dir.join("in/orders.jsonl");
    write_lines(&goods_path, goods);
    write_lines(&orders_path, orders);
    let mut o = vec![
        format!("sources.goods.path={}", goods_path.display()),
        format!("sources.orders.path={}", orders_path.display()),
    ];
    o.extend(more.iter().map(|s| s.to_string()));
    let o: Vec<&str> = o.iter().map(String::as_str).collect();
    manifest(repo().join("examples/jobs/goods-enrich/job.toml"), &o)
}

/// Goods updates: every goods upserted, then renames, removals and re-additions, plus a
/// few updates the function rejects.
fn goods_updates(goods: u64, changes: usize, seq: &mut Seq) -> Vec<String> {
    let mut out: Vec<String> = (0..goods)
        .map(|g| {
            json!({"op": "upsert", "goods_id": format!("g{g:03}"), "name": format!("goods {g}")})
                .to_string()
        })
        .collect();
    for i in 0..changes {
        let id = format!("g{:03}", seq.below(goods + 5));
        let u = match seq.below(10) {
            0..=4 => json!({"op": "upsert", "goods_id": id, "name": format!("{id} renamed {i}")}),
            5..=8 => json!({"op": "remove", "goods_id": id}),
            _ => json!({"op": "upsert", "goods_id": id}),
        };
        out.push(u.to_string());
    }
    out
}

/// Orders for goods ids (some unknown), plus an order without a goods id and a line
/// that is not JSON.
fn orders_for(n: usize, goods: u64, seq: &mut Seq) -> Vec<String> {
    let mut out: Vec<String> = (0..n)
        .map(|i| {
            let g = seq.below(goods + 10);
            json!({"order_id": format!("o{i:05}"), "goods_id": format!("g{g:03}"), "quantity": 1 + seq.below(9)}).to_string()
        })
        .collect();
    out.insert(
        n / 3,
        json!({"order_id": "no-goods", "quantity": 1}).to_string(),
    );
    out.insert(n / 2, "not an order".to_owned());
    out
}

fn check_enrichment(h: &Harness, report: &JobReport, expected: &Enrichment, instances: usize) {
    assert_eq!(
        canonical(&h.output("enriched")),
        canonical(&expected.enriched)
    );
    assert_eq!(h.output("rejected").len(), expected.dead_letters);
    assert_eq!(report.dead_letters as usize, expected.dead_letters);
    let (_, entries) = identical_state(report, "enrich", instances);
    assert_eq!(entries, expected.table.len());
    let summary = report.to_string();
    let line = format!(
        "broadcast state of enrich: {} entries, identical on {instances} instances",
        expected.table.len()
    );
    assert!(summary.contains(&line), "{summary}");
}

#[test]
fn the_goods_enrich_example_runs_on_its_shipped_data() {
    let dir = repo().join("examples/jobs/goods-enrich");
    let goods = read_lines(&dir.join("data/goods.jsonl"));
    let orders = read_lines(&dir.join("data/orders.jsonl"));
    let expected = enrichment(&goods, &orders);
    // The data shows removals: some goods were upserted and later removed.
    let upserted: BTreeSet<String> = goods
        .iter()
        .map(|u| serde_json::from_str::<Value>(u).unwrap())
        .filter(|u| u["op"] == "upsert" && u["name"].is_string())
        .map(|u| u["goods_id"].to_string())
        .collect();
    assert!(expected.table.len() < upserted.len());
    assert!(expected.dead_letters > 0);

    let h = Harness::new();
    let job = manifest(dir.join("job.toml"), &[]);
    assert_eq!(job.parallelism, 2);
    let report = h.run(job).expect("the job runs");
    check_enrichment(&h, &report, &expected, 2);
}

#[test]
fn with_bootstrap_every_order_is_enriched_with_the_final_names() {
    let mut seq = Seq(11);
    let goods = goods_updates(80, 600, &mut seq);
    let orders = orders_for(2_000, 80, &mut seq);
    let expected = enrichment(&goods, &orders);
    for parallelism in [1, 3] {
        let h = Harness::new();
        let p = format!("job.parallelism={parallelism}");
        let job = goods_job(h.dir.path(), &goods, &orders, &[&p]);
        let report = h.run(job).expect("the job runs");
        check_enrichment(&h, &report, &expected, parallelism);
    }
}

#[test]
fn removed_goods_read_as_null_and_leave_the_state() {
    let mut seq = Seq(5);
    let upserts = goods_updates(40, 0, &mut seq);
    let removed: Vec<u64> = (0..40).filter(|g| g % 3 == 1).collect();
    let mut with_removals = upserts.clone();
    with_removals.extend(
        removed
            .iter()
            .map(|g| json!({"op": "remove", "goods_id": format!("g{g:03}")}).to_string()),
    );
    let orders: Vec<String> = (0..40)
        .map(|g| json!({"order_id": format!("o{g}"), "goods_id": format!("g{g:03}")}).to_string())
        .collect();

    let mut entries = Vec::new();
    for (removals, goods) in [(false, &upserts), (true, &with_removals)] {
        let h = Harness::new();
        let report = h
            .run(goods_job(h.dir.path(), goods, &orders, &[]))
            .expect("the job runs");
        entries.push(identical_state(&report, "enrich", 2).1);
        for line in h.output("enriched") {
            let v: Value = serde_json::from_str(&line).unwrap();
            let g: u64 = v["goods_id"].as_str().unwrap()[1..].parse().unwrap();
            if removals && removed.contains(&g) {
                assert!(v["goods_name"].is_null(), "{line}");
            } else {
                assert_eq!(v["goods_name"], json!(format!("goods {g}")), "{line}");
            }
        }
        assert_eq!(h.output("enriched").len(), orders.len());
    }
    assert_eq!(entries, vec![40, 40 - removed.len()]);
}

#[test]
fn a_broadcast_input_runs_as_one_instance() {
    let path = repo().join("examples/jobs/goods-enrich/job.toml");
    let job = manifest(&path, &["job.parallelism=3"]);
    let parallelism = |name: &str| {
        job.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap()
            .parallelism
    };
    assert_eq!(parallelism("goods"), 1);
    assert_eq!(parallelism("orders"), 3);
    assert_eq!(parallelism("enrich"), 3);

    let set: Override = "sources.goods.parallelism=2".parse().unwrap();
    let err = load_file(&path, &[set]).expect_err("a parallel broadcast input is refused");
    let message = err.to_string();
    assert!(message.contains("sources.goods.parallelism"), "{message}");
    assert!(message.contains("broadcast input of `enrich`"), "{message}");
}

// ----- the probe: read-only element side, identical state, bootstrap -----

/// A change of the probe's table, as a broadcast record.
enum Change {
    Put(String, String),
    Remove(String),
    Clear,
}

impl Change {
    fn line(&self) -> String {
        match self {
            Change::Put(k, v) => json!({"put": k, "value": v}),
            Change::Remove(k) => json!({"remove": k}),
            Change::Clear => json!({"clear": true}),
        }
        .to_string()
    }
}

fn apply(changes: &[Change]) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    for c in changes {
        match c {
            Change::Put(k, v) => {
                t.insert(k.clone(), v.clone());
            }
            Change::Remove(k) => {
                t.remove(k);
            }
            Change::Clear => t.clear(),
        }
    }
    t
}

/// `n` changes over `keys` keys: mostly puts, some removals, one clear a third of the way.
fn changes(n: usize, keys: u64, seq: &mut Seq) -> Vec<Change> {
    (0..n)
        .map(|i| {
            let k = format!("k{:04}", seq.below(keys));
            if i == n / 3 {
                Change::Clear
            } else if seq.below(5) == 0 {
                Change::Remove(k)
            } else {
                Change::Put(k, format!("v{i}"))
            }
        })
        .collect()
}

/// A job of the probe over `keys` (main input) and `changes` (broadcast input).
fn probe_job(
    dir: &Path,
    keys: &[String],
    changes: &[Change],
    parallelism: u32,
    bootstrap: bool,
) -> weir::manifest::Job {
    let input = dir.join("in");
    write_lines(&input.join("keys.txt"), keys);
    let lines: Vec<String> = changes.iter().map(Change::line).collect();
    write_lines(&input.join("changes.jsonl"), &lines);
    let toml = format!(
        r#"
[job]
name = "probe"
parallelism = {parallelism}

[sources.keys]
kind = "file"
path = "keys.txt"
format = "text-lines"

[sources.changes]
kind = "file"
path = "changes.jsonl"
format = "json-lines"

[operators.probe]
kind = "broadcast"
input = "keys"
broadcast = "changes"
bootstrap = {bootstrap}
component = {component:?}

[sinks.out]
kind = "file"
input = "probe"
path = "out.jsonl"
"#,
        component = guests::BROADCAST_PROBE,
    );
    let path = input.join("job.toml");
    std::fs::write(&path, toml).unwrap();
    manifest(path, &[])
}

/// The probe's output by key; checks that every element-side write was refused.
fn lookups(h: &Harness) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for line in h.output("out") {
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["write"], READ_ONLY, "{line}");
        out.insert(v["key"].as_str().unwrap().to_owned(), v["value"].clone());
    }
    out
}

fn all_keys(n: u64) -> Vec<String> {
    (0..n).map(|k| format!("k{k:04}")).collect()
}

#[test]
fn element_side_writes_are_refused_and_change_nothing() {
    let mut seq = Seq(3);
    let changes = changes(300, 50, &mut seq);
    let table = apply(&changes);

    let without_elements = Harness::new();
    let report = without_elements
        .run(probe_job(
            without_elements.dir.path(),
            &[],
            &changes,
            2,
            true,
        ))
        .expect("the job runs");
    let untouched = identical_state(&report, "probe", 2);

    let h = Harness::new();
    let keys = all_keys(60);
    let report = h
        .run(probe_job(h.dir.path(), &keys, &changes, 2, true))
        .expect("the job runs");
    assert_eq!(report.dead_letters, 0);
    // Each element tried to write its key: the state is what the broadcast input made it.
    assert_eq!(identical_state(&report, "probe", 2), untouched);
    assert_eq!(untouched.1, table.len());
    let found = lookups(&h);
    assert_eq!(found.len(), keys.len());
    for k in &keys {
        let expected = table.get(k).map_or(Value::Null, |v| json!(v));
        assert_eq!(found[k], expected, "{k}");
    }
}

#[test]
fn three_instances_hold_the_same_state_after_thousands_of_updates() {
    let mut seq = Seq(17);
    let changes = changes(6_000, 800, &mut seq);
    let table = apply(&changes);
    let keys = all_keys(800);
    let h = Harness::new();
    let mut job = probe_job(h.dir.path(), &keys, &changes, 3, true);
    // Small batches: the broadcast input reaches the instances in many messages.
    job.batch_size = 64;
    let report = h.run(job).expect("the job runs");
    let (_, entries) = identical_state(&report, "probe", 3);
    assert_eq!(entries, table.len());
    let found = lookups(&h);
    assert_eq!(found.len(), keys.len());
    for k in &keys {
        let expected = table.get(k).map_or(Value::Null, |v| json!(v));
        assert_eq!(found[k], expected, "{k}");
    }
}

#[test]
fn without_bootstrap_the_job_runs_and_ends_with_the_same_state() {
    let mut seq = Seq(23);
    let changes = changes(3_000, 400, &mut seq);
    let table = apply(&changes);
    // Every value a key ever had: without bootstrap a lookup may see any of them, or none.
    let mut seen: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for c in &changes {
        if let Change::Put(k, v) = c {
            seen.entry(k).or_default().insert(v);
        }
    }
    let keys = all_keys(400);
    let h = Harness::new();
    let report = h
        .run(probe_job(h.dir.path(), &keys, &changes, 2, false))
        .expect("the job runs");
    let (_, entries) = identical_state(&report, "probe", 2);
    assert_eq!(entries, table.len());
    let found = lookups(&h);
    assert_eq!(found.len(), keys.len());
    for (k, v) in &found {
        if let Some(v) = v.as_str() {
            assert!(seen[k.as_str()].contains(v), "{k}: {v}");
        } else {
            assert!(v.is_null(), "{k}: {v}");
        }
    }
}

#[test]
fn the_golden_clear_case_leaves_the_same_state_on_every_instance() {
    // tests/golden.rs checks the case's output; this checks its broadcast state.
    let case = repo().join("tests/jobs/broadcast-clear");
    let changes: Vec<Change> = read_lines(&case.join("changes.jsonl"))
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            match (v["put"].as_str(), v["remove"].as_str()) {
                (Some(k), _) => Change::Put(k.into(), v["value"].as_str().unwrap().into()),
                (_, Some(k)) => Change::Remove(k.into()),
                _ => {
                    assert_eq!(v["clear"], true, "{l}");
                    Change::Clear
                }
            }
        })
        .collect();
    assert!(changes.iter().any(|c| matches!(c, Change::Clear)));
    let h = Harness::new();
    let report = h
        .run(manifest(case.join("job.toml"), &["job.parallelism=3"]))
        .expect("the job runs");
    assert_eq!(
        identical_state(&report, "probe", 3).1,
        apply(&changes).len()
    );
    assert_eq!(lookups(&h).len(), read_lines(&case.join("keys.txt")).len());
}

// ----- YSB with the campaigns broadcast -----

#[test]
fn ysb_with_the_broadcast_join_counts_what_an_independent_computation_counts() {
    let data_dir = tempfile::tempdir().unwrap();
    let spec = ysb::Spec {
        events: 30_000,
        campaigns: 20,
        ads_per_campaign: 5,
        rate: 500,
        ..ysb::Spec::default()
    };
    let data = ysb::generate(data_dir.path(), &spec).unwrap();
    let expected = ysb::expected_counts(&data).unwrap();
    assert!(
        expected
            .keys()
            .map(|(_, w)| w)
            .collect::<BTreeSet<_>>()
            .len()
            >= 5
    );
    for parallelism in [1, 2] {
        let h = Harness::new();
        let job = manifest(
            repo().join("examples/jobs/ysb-broadcast/job.toml"),
            &[
                &format!("sources.events.path={}", data.events.display()),
                &format!("sources.campaigns.path={}", data.campaigns.display()),
                &format!("job.parallelism={parallelism}"),
            ],
        );
        let report = h.run(job).expect("the job runs");
        assert_eq!(
            ysb::output_counts(&h.output("out")),
            expected,
            "parallelism {parallelism}"
        );
        assert_eq!(h.output("late").len(), 0);
        let (_, entries) = identical_state(&report, "join", parallelism);
        assert_eq!(entries, spec.campaigns * spec.ads_per_campaign);
    }
}

#[test]
fn the_ysb_broadcast_example_runs_on_its_shipped_sample() {
    let dir = repo().join("examples/jobs/ysb-broadcast");
    let data = ysb::Data {
        dir: dir.join("data"),
        events: dir.join("data/events.jsonl"),
        campaigns: dir.join("data/campaigns.jsonl"),
    };
    let expected = ysb::expected_counts(&data).unwrap();
    let h = Harness::new();
    let report = h
        .run(manifest(dir.join("job.toml"), &[]))
        .expect("the job runs");
    assert_eq!(ysb::output_counts(&h.output("out")), expected);
    let campaigns = read_lines(&data.campaigns).len();
    assert_eq!(identical_state(&report, "join", 2).1, campaigns);
}

#[test]
fn bootstrap_with_both_inputs_from_one_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.toml");
    let toml = format!(
        r#"
[job]
name = "same-source"

[sources.changes]
kind = "file"
path = "changes.jsonl"

[operators.probe]
kind = "broadcast"
input = "changes"
broadcast = "changes"
bootstrap = true
component = {component:?}

[sinks.out]
kind = "file"
input = "probe"
path = "out.jsonl"
"#,
        component = guests::BROADCAST_PROBE,
    );
    std::fs::write(&path, toml).unwrap();
    std::fs::write(dir.path().join("changes.jsonl"), "").unwrap();
    // The source would block on the main input `probe` does not read yet, before the
    // broadcast input caught up: the job would hang, so it is refused.
    let err = load_file(&path, &[]).expect_err("both inputs from `changes` are refused");
    let message = err.to_string();
    assert!(message.contains("operators.probe.bootstrap"), "{message}");
    assert!(message.contains("both come from `changes`"), "{message}");
    // Without bootstrap nothing holds either input back, so the job is allowed.
    let set: Override = "operators.probe.bootstrap=false".parse().unwrap();
    load_file(&path, &[set]).expect("allowed without bootstrap");
}
