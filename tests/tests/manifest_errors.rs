//! Manifest mistakes are reported with the line and the dotted field they are about, all
//! of them at once; a valid manifest resolves into the job it describes, and `--set`
//! overrides apply.

use std::path::{Path, PathBuf};

use weir::manifest::{
    ComponentRef, Diagnostics, ErrorPolicy, Evictor, EvictorKind, Job, KeyBy, NodeKind,
    OperatorKind, Override, SinkKind, SourceKind, TimeDomain, TimestampFrom, Trigger, TriggerKind,
    WindowKind, load_str,
};
use weir_tests::guests;

/// A folder holding the files the manifests name.
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in.jsonl"), "{\"user\":\"u1\",\"t\":1}\n").unwrap();
        Self { dir }
    }

    fn base(&self) -> &Path {
        self.dir.path()
    }

    fn load(&self, text: &str, overrides: &[&str]) -> Result<Job, Diagnostics> {
        let overrides: Vec<Override> = overrides.iter().map(|o| o.parse().unwrap()).collect();
        load_str(text, Path::new("job.toml"), self.base(), &overrides)
    }

    /// The problems of a manifest that must not load, one `Display` line each.
    fn problems(&self, text: &str, overrides: &[&str]) -> Vec<String> {
        match self.load(text, overrides) {
            Ok(_) => panic!("the manifest loaded:\n{text}"),
            Err(d) => d.problems.iter().map(ToString::to_string).collect(),
        }
    }
}

/// A valid manifest: a map with a dead-letter output into an event-time window.
fn valid() -> String {
    format!(
        r#"[job]
name = "checks"
parallelism = 2

[sources.events]
kind = "file"
path = "in.jsonl"
[sources.events.event_time]
field = "t"
max_out_of_orderness = "2s"

[operators.parse]
kind = "map"
input = "events"
component = {map:?}
on_error = "dead-letter"
limits = {{ deadline = "250ms", memory = "32MiB" }}

[operators.count]
kind = "window"
input = "parse"
key_by = {{ field = "user" }}
window = {{ type = "tumbling", size = "10s" }}
component = {window:?}
allowed_lateness = "1s"

[sinks.out]
kind = "file"
input = "count"
path = "out/counts.jsonl"

[sinks.late]
kind = "file"
input = "count.late"
path = "out/late.jsonl"

[sinks.failed]
kind = "stdout"
input = "parse.dead-letter"
"#,
        map = guests::MISBEHAVE,
        window = guests::WINDOW_COLLECT,
    )
}

/// `valid()` with `from` replaced by `to` (which must occur exactly once).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "`{from}` is not unique");
    text.replacen(from, to, 1)
}

/// The 1-based line of the text's only line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "`{needle}` is not on exactly one line");
    lines[0]
}

/// The 1-based line of the first line containing `needle` after the line `section`.
fn line_in(text: &str, section: &str, needle: &str) -> usize {
    let start = line_of(text, section);
    text.lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("no `{needle}` after `{section}`"))
}

/// Asserts a problem is at `job.toml:<line>:`, about `field`, saying `says`.
fn assert_problem(problems: &[String], line: usize, field: &str, says: &str) {
    let at = format!("job.toml:{line}:");
    let about = format!(": {field}: ");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with(&at) && p.contains(&about) && p.contains(says)),
        "no problem at {at} about `{field}` saying `{says}` in:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_valid_manifest_resolves_into_its_job() {
    let d = Dir::new();
    let job = d.load(&valid(), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(job.name, "checks");
    assert_eq!(job.parallelism, 2);
    let names: Vec<&str> = job.nodes.iter().map(|n| n.name.as_str()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(pos("events") < pos("parse") && pos("parse") < pos("count"));
    assert!(pos("count") < pos("out") && pos("count") < pos("late"));
    assert!(pos("parse") < pos("failed"));

    let node = |n: &str| &job.nodes[pos(n)];
    match &node("events").kind {
        NodeKind::Source {
            kind: SourceKind::File { path, .. },
            event_time: Some(et),
        } => {
            assert_eq!(path, &d.base().join("in.jsonl"));
            assert!(matches!(&et.from, TimestampFrom::Field(f) if f.as_str() == "t"));
            assert_eq!(et.max_out_of_orderness_ms, 2_000);
        }
        other => panic!("{other:?}"),
    }
    match &node("parse").kind {
        NodeKind::Operator(o) => {
            assert_eq!(o.kind, OperatorKind::Map);
            assert_eq!(o.on_error, ErrorPolicy::DeadLetter);
            assert_eq!(o.limits.deadline_ms, 250);
            assert_eq!(o.limits.memory_bytes, 32 << 20);
            assert_eq!(
                o.component,
                ComponentRef::Wasm(PathBuf::from(guests::MISBEHAVE))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(node("parse").parallelism, 2);
    match &node("count").kind {
        NodeKind::Operator(o) => {
            assert!(matches!(&o.key_by, Some(KeyBy::Field(f)) if f.as_str() == "user"));
            assert_eq!(
                o.kind,
                OperatorKind::Window {
                    window: WindowKind::Tumbling {
                        size_ms: 10_000,
                        offset_ms: 0
                    },
                    time: TimeDomain::Event,
                    aggregate: None,
                    allowed_lateness_ms: 1_000,
                    trigger: Trigger::default_for(true),
                    pane_header: false,
                    evictor: None,
                }
            );
            assert_eq!(o.input.to_string(), "parse");
        }
        other => panic!("{other:?}"),
    }
    match &node("out").kind {
        NodeKind::Sink {
            kind: SinkKind::File { path, .. },
            ..
        } => assert_eq!(path, &d.base().join("out/counts.jsonl")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &node("failed").kind,
        NodeKind::Sink { kind: SinkKind::Stdout, input, .. } if input.to_string() == "parse.dead-letter"
    ));
}

#[test]
fn overrides_replace_values_and_their_paths_start_at_the_working_directory() {
    let d = Dir::new();
    // Integration tests run in the package folder, where `build.rs` is.
    assert!(Path::new("build.rs").is_file());
    let job = d
        .load(
            &valid(),
            &[
                "job.parallelism=3",
                "sources.events.path=build.rs",
                "sinks.out.path=elsewhere/counts.jsonl",
                "operators.parse.limits.deadline=2s",
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(job.parallelism, 3);
    for n in &job.nodes {
        match &n.kind {
            NodeKind::Source {
                kind: SourceKind::File { path, .. },
                ..
            } => assert_eq!(path, Path::new("build.rs")),
            NodeKind::Sink {
                kind: SinkKind::File { path, .. },
                ..
            } if n.name == "out" => assert_eq!(path, Path::new("elsewhere/counts.jsonl")),
            NodeKind::Operator(o) => {
                assert_eq!(n.parallelism, 3);
                if n.name == "parse" {
                    assert_eq!(o.limits.deadline_ms, 2_000);
                    // The rest of the table is kept.
                    assert_eq!(o.limits.memory_bytes, 32 << 20);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn an_unknown_field_is_named() {
    let text = edit(&valid(), "parallelism = 2", "paralelism = 2");
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "paralelism"),
        "job.paralelism",
        "unknown field",
    );
}

#[test]
fn an_unknown_field_in_a_nested_table_is_named() {
    let text = edit(
        &valid(),
        "allowed_lateness = \"1s\"",
        "alowed_lateness = \"1s\"",
    );
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "alowed_lateness"),
        "operators.count.alowed_lateness",
        "unknown field",
    );
}

#[test]
fn a_value_of_the_wrong_type_is_named() {
    let text = edit(&valid(), "parallelism = 2", "parallelism = \"two\"");
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "\"two\""),
        "job.parallelism",
        "invalid type",
    );
}

#[test]
fn a_missing_input_is_named() {
    let text = edit(&valid(), "input = \"parse\"\n", "");
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "[operators.count]"),
        "operators.count.input",
        "missing field `input`",
    );
}

#[test]
fn an_input_naming_nothing_is_named() {
    let text = edit(&valid(), "input = \"parse\"\n", "input = \"prase\"\n");
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "\"prase\""),
        "operators.count.input",
        "nothing is named `prase`",
    );
}

#[test]
fn a_window_operator_needs_key_by() {
    let text = edit(&valid(), "key_by = { field = \"user\" }\n", "");
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "[operators.count]"),
        "operators.count.key_by",
        "need `key_by`",
    );
}

#[test]
fn an_unknown_window_type_is_named() {
    let text = edit(&valid(), "type = \"tumbling\"", "type = \"hopping\"");
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "hopping"),
        "operators.count.window.type",
        "`hopping` is not one of",
    );
}

#[test]
fn a_zero_window_size_is_refused() {
    let text = edit(&valid(), "size = \"10s\"", "size = \"0s\"");
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "\"0s\""),
        "operators.count.window.size",
        "greater than zero",
    );
}

#[test]
fn a_bad_duration_unit_is_named() {
    let text = edit(&valid(), "size = \"10s\"", "size = \"10 parsecs\"");
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "parsecs"),
        "operators.count.window.size",
        "unknown time unit \"parsecs\"",
    );
    // The same mistake in a field TOML reading itself checks.
    let text = edit(
        &valid(),
        "deadline = \"250ms\"",
        "deadline = \"250 jiffies\"",
    );
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "jiffies"),
        "operators.parse.limits.deadline",
        "unknown time unit \"jiffies\"",
    );
}

#[test]
fn a_dead_letter_output_nothing_reads_is_refused() {
    let text = edit(
        &valid(),
        "\n[sinks.failed]\nkind = \"stdout\"\ninput = \"parse.dead-letter\"\n",
        "",
    );
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "[operators.parse]"),
        "operators.parse.on_error",
        "parse.dead-letter",
    );
}

#[test]
fn an_output_nothing_reads_is_refused() {
    let text = edit(
        &valid(),
        "[sinks.out]\nkind = \"file\"\ninput = \"count\"\npath = \"out/counts.jsonl\"\n",
        "",
    );
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "[operators.count]"),
        "operators.count",
        "nothing reads the output of `count`",
    );
}

#[test]
fn an_event_time_window_needs_a_source_with_event_time() {
    let text = edit(
        &valid(),
        "[sources.events.event_time]\nfield = \"t\"\nmax_out_of_orderness = \"2s\"\n",
        "",
    );
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "[operators.count]"),
        "operators.count.time",
        "source `events` has no [sources.events.event_time]",
    );
}

#[test]
fn a_cycle_is_refused() {
    let text = edit(&valid(), "input = \"events\"", "input = \"count\"");
    let p = Dir::new().problems(&text, &[]);
    let cycle = p
        .iter()
        .find(|p| p.contains("cycle"))
        .unwrap_or_else(|| panic!("no cycle reported:\n{}", p.join("\n")));
    assert!(
        cycle.contains("count") && cycle.contains("parse"),
        "{cycle}"
    );
    // Only the nodes on the cycle, not those reading it.
    assert!(cycle.ends_with("cycle: count, parse"), "{cycle}");
    let parse = line_in(&text, "[operators.parse]", "input = ");
    let count = line_in(&text, "[operators.count]", "input = ");
    assert!(
        cycle.starts_with(&format!("job.toml:{parse}:"))
            && cycle.contains(": operators.parse.input: ")
            || cycle.starts_with(&format!("job.toml:{count}:"))
                && cycle.contains(": operators.count.input: "),
        "{cycle}"
    );
}

#[test]
fn a_name_used_in_two_sections_is_refused() {
    let text = valid() + "\n[sinks.parse]\nkind = \"stdout\"\ninput = \"count\"\n";
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "[sinks.parse]"),
        "sinks.parse",
        "also used in [operators]",
    );
    // The second use is left out, so nothing else is reported about it.
    assert_eq!(p.len(), 1, "{}", p.join("\n"));
}

#[test]
fn a_missing_component_file_is_named() {
    let text = edit(
        &valid(),
        &format!("component = {:?}", guests::MISBEHAVE),
        "component = \"functions/missing.wasm\"",
    );
    let d = Dir::new();
    let p = d.problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "missing.wasm"),
        "operators.parse.component",
        &format!(
            "{} does not exist",
            d.base().join("functions/missing.wasm").display()
        ),
    );
}

#[test]
fn override_problems_name_the_override() {
    let d = Dir::new();
    let cases = [
        ("job.parallelism=zero", "job.parallelism", "invalid type"),
        ("job.parallelism=0", "job.parallelism", "at least 1"),
        (
            "sources.events.path=no/such/file.jsonl",
            "sources.events.path",
            "does not exist",
        ),
        (
            "operators.count.window.size=0s",
            "operators.count.window.size",
            "greater than zero",
        ),
        (
            "operators.count.input=nowhere",
            "operators.count.input",
            "nothing is named",
        ),
    ];
    for (set, field, says) in cases {
        let p = d.problems(&valid(), &[set]);
        let at = format!("--set {set}: {field}: ");
        assert!(
            p.iter().any(|p| p.starts_with(&at) && p.contains(says)),
            "no problem `{at}...{says}` in:\n{}",
            p.join("\n")
        );
    }
    let p = d.problems(&valid(), &["job.name.first=x"]);
    assert!(
        p.iter()
            .any(|p| p.starts_with("--set job.name.first=x: ") && p.contains("not a table")),
        "{}",
        p.join("\n")
    );
}

#[test]
fn several_problems_are_reported_together_in_file_order() {
    let mut text = edit(&valid(), "parallelism = 2", "parallelism = 0");
    text = edit(&text, "size = \"10s\"", "size = \"0s\"");
    text = edit(
        &text,
        &format!("component = {:?}", guests::MISBEHAVE),
        "component = \"missing.wasm\"",
    );
    let d = Dir::new();
    let diagnostics = d.load(&text, &[]).expect_err("three problems");
    let p: Vec<String> = diagnostics
        .problems
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(p.len(), 3, "{}", p.join("\n"));
    assert_problem(
        &p,
        line_of(&text, "parallelism = 0"),
        "job.parallelism",
        "at least 1",
    );
    assert_problem(
        &p,
        line_of(&text, "missing.wasm"),
        "operators.parse.component",
        "does not exist",
    );
    assert_problem(
        &p,
        line_of(&text, "\"0s\""),
        "operators.count.window.size",
        "greater than zero",
    );
    let lines: Vec<usize> = diagnostics
        .problems
        .iter()
        .map(|p| p.location.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(lines.is_sorted(), "{lines:?}");
    assert!(
        diagnostics
            .to_string()
            .starts_with("the manifest has 3 problems:")
    );
}

#[test]
fn watermarks_carried_by_records_are_checked_against_the_other_event_time_fields() {
    // Both a field's watermark and a bound on out-of-orderness: one or the other.
    let both = edit(
        &valid(),
        "max_out_of_orderness = \"2s\"\n",
        "max_out_of_orderness = \"2s\"\nwatermark_field = \"wm\"\n",
    );
    let p = Dir::new().problems(&both, &[]);
    assert_problem(
        &p,
        line_of(&both, "max_out_of_orderness"),
        "sources.events.event_time.max_out_of_orderness",
        "give one or the other",
    );
    // Markers without the field that marks them.
    let markers = edit(
        &valid(),
        "max_out_of_orderness = \"2s\"\n",
        "watermark_markers = true\n",
    );
    let p = Dir::new().problems(&markers, &[]);
    assert_problem(
        &p,
        line_of(&markers, "watermark_markers"),
        "sources.events.event_time.watermark_markers",
        "give that field",
    );
    // A valid one resolves into the rule.
    let ok = edit(
        &valid(),
        "max_out_of_orderness = \"2s\"\n",
        "watermark_field = \"meta.wm\"\nwatermark_markers = true\n",
    );
    let job = Dir::new().load(&ok, &[]).unwrap();
    let et = job
        .nodes
        .iter()
        .find_map(|n| match &n.kind {
            NodeKind::Source { event_time, .. } => event_time.clone(),
            _ => None,
        })
        .expect("the source has event time");
    let rw = et.record_watermarks.expect("watermarks from records");
    assert!(rw.markers);
    assert_eq!(
        rw.field
            .find(br#"{"meta":{"wm":42}}"#)
            .unwrap()
            .epoch_millis()
            .unwrap(),
        42
    );
}

#[test]
fn triggers_and_evictors_are_checked_against_the_window_they_fire() {
    let window = "window = { type = \"tumbling\", size = \"10s\" }\n";
    let with = |extra: &str| edit(&valid(), window, &format!("{window}{extra}"));
    let cases = [
        (
            "trigger = { type = \"count\" }\n",
            "operators.count.trigger.count",
            "needs `count`",
        ),
        (
            "trigger = { type = \"continuous-event-time\" }\n",
            "operators.count.trigger.interval",
            "needs `interval`",
        ),
        (
            "trigger = \"processing-time\"\n",
            "operators.count.trigger",
            "use `time = \"processing\"`",
        ),
        (
            "trigger = { type = \"sometimes\" }\n",
            "operators.count.trigger.type",
            "unknown trigger `sometimes`",
        ),
        (
            "evictor = { type = \"count\", count = 0 }\n",
            "operators.count.evictor.count",
            "a positive number",
        ),
        (
            "evictor = { type = \"time\" }\n",
            "operators.count.evictor.keep",
            "needs `keep`",
        ),
        (
            "aggregate = \"count\"\nevictor = { type = \"count\", count = 2 }\n",
            "operators.count.evictor",
            "cannot be used with `aggregate`",
        ),
    ];
    for (extra, field, message) in cases {
        let text = with(extra);
        let p = Dir::new().problems(&text, &[]);
        let line = line_of(&text, extra.lines().last().unwrap());
        assert_problem(&p, line, field, message);
    }
    // A global window never ends: it needs a trigger, and not a continuous event-time one.
    let global = "window = { type = \"global\" }\n";
    let text = edit(&valid(), window, global);
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "type = \"global\""),
        "operators.count.trigger",
        "give one",
    );
    let text = edit(
        &valid(),
        window,
        &format!("{global}trigger = {{ type = \"continuous-event-time\", interval = \"1s\" }}\n"),
    );
    let p = Dir::new().problems(&text, &[]);
    assert_problem(
        &p,
        line_of(&text, "trigger = "),
        "operators.count.trigger",
        "end of time",
    );
    // A valid one resolves into the trigger and evictor it names.
    let ok = with(
        "trigger = { type = \"continuous-event-time\", interval = \"1m\", purging = true }\nevictor = { type = \"time\", keep = \"5s\", after = true }\npane_header = true\n",
    );
    let job = Dir::new().load(&ok, &[]).unwrap();
    let kind = job
        .nodes
        .iter()
        .find_map(|n| match &n.kind {
            NodeKind::Operator(o) if n.name == "count" => Some(o.kind.clone()),
            _ => None,
        })
        .unwrap();
    let OperatorKind::Window {
        trigger,
        evictor,
        pane_header,
        ..
    } = kind
    else {
        panic!("{kind:?}");
    };
    assert_eq!(
        trigger,
        Trigger {
            kind: TriggerKind::ContinuousEventTime(60_000),
            purging: true
        }
    );
    assert_eq!(
        evictor,
        Some(Evictor {
            kind: EvictorKind::Time(5_000),
            after: true
        })
    );
    assert!(pane_header);
}
