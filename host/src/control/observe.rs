//! What the job is doing: `GET /v1/operators` (counts, rates, watermarks, time shares),
//! `GET /v1/operators/{name}/dead-letter` (the latest dead letters) and
//! `GET /v1/state/{operator}/{state}?key=...` (queryable state). Rates are over the last
//! ten seconds, from samples taken every second.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::api::{Shared, error};
use crate::manifest::{NodeKind, OperatorKind};
use crate::runtime::query::{QueryError, StateAnswer};
use crate::runtime::{Rates, Sample};
use crate::state::StateRead;

/// How often the endpoint samples the job's numbers.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How far back rates look.
const WINDOW: Duration = Duration::from_secs(10);

/// Samples of the job's numbers, newest last.
#[derive(Default)]
pub struct Samples(std::sync::Mutex<VecDeque<Sample>>);

impl Samples {
    /// Keeps `s`, forgetting what is older than the window.
    pub fn push(&self, s: Sample) {
        let mut q = self.0.lock().expect("samples");
        while q
            .front()
            .is_some_and(|f| s.at.duration_since(f.at) > WINDOW + SAMPLE_EVERY)
        {
            q.pop_front();
        }
        q.push_back(s);
    }

    /// The oldest sample kept that is at least a second before `now`.
    pub fn baseline(&self, now: &Sample) -> Option<Sample> {
        self.0
            .lock()
            .expect("samples")
            .iter()
            .find(|s| now.at.duration_since(s.at) >= SAMPLE_EVERY)
            .cloned()
    }
}

/// Samples the job every second while the endpoint runs.
pub async fn sample_forever(s: Shared) {
    let mut every = tokio::time::interval(SAMPLE_EVERY);
    loop {
        every.tick().await;
        s.samples.push(s.metrics.sample());
    }
}

/// Each instance's rates in `now` since `before`, and the node's: records summed,
/// time shares the worst instance's (as Flink shows back-pressure).
pub fn node_rates(
    now: &crate::runtime::NodeSample,
    before: Option<&crate::runtime::NodeSample>,
    secs: f64,
) -> (Rates, Vec<Rates>) {
    let per: Vec<Rates> = now
        .instances
        .iter()
        .map(|i| {
            let earlier = before.and_then(|b| b.instances.iter().find(|e| e.subtask == i.subtask));
            i.rates_since(earlier, secs)
        })
        .collect();
    let mut node = Rates::default();
    for r in &per {
        node.records_in_per_s += r.records_in_per_s;
        node.records_out_per_s += r.records_out_per_s;
        node.busy_ms_per_s = node.busy_ms_per_s.max(r.busy_ms_per_s);
        node.backpressured_ms_per_s = node.backpressured_ms_per_s.max(r.backpressured_ms_per_s);
        node.idle_ms_per_s = node.idle_ms_per_s.max(r.idle_ms_per_s);
    }
    (node, per)
}

fn kind_of(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Source { .. } => "source",
        NodeKind::Sink { .. } => "sink",
        NodeKind::Operator(o) => match o.kind {
            OperatorKind::Map => "map",
            OperatorKind::Window { .. } => "window",
            OperatorKind::Broadcast { .. } => "broadcast",
        },
    }
}

/// `GET /v1/operators`.
pub async fn operators(State(s): State<Shared>) -> Response {
    let now = s.metrics.sample();
    let before = s.samples.baseline(&now);
    let secs = before
        .as_ref()
        .map_or(0.0, |b| now.at.duration_since(b.at).as_secs_f64());
    let now_ms = crate::runtime::epoch_ms();
    let versions = s.versions();
    let ops: Vec<Value> = s
        .job
        .nodes
        .iter()
        .map(|n| {
            let empty = crate::runtime::NodeSample::default();
            let sample = now.nodes.get(&n.name).unwrap_or(&empty);
            let earlier = before.as_ref().and_then(|b| b.nodes.get(&n.name));
            let (rates, per) = node_rates(sample, earlier, secs);
            // An instance without a watermark holds the node's back.
            let watermark = if sample.instances.iter().all(|i| i.watermark.is_some()) {
                sample.instances.iter().filter_map(|i| i.watermark).min()
            } else {
                None
            };
            let counts: serde_json::Map<String, Value> = sample
                .total
                .named()
                .into_iter()
                .map(|(k, _, v)| (k.to_owned(), json!(v)))
                .collect();
            let instances: Vec<Value> = sample
                .instances
                .iter()
                .zip(&per)
                .map(|(i, r)| {
                    json!({
                        "subtask": i.subtask,
                        "records_in": i.counts.records_in,
                        "records_out": i.counts.records_out,
                        "watermark_ms": i.watermark,
                        "rates": r,
                    })
                })
                .collect();
            json!({
                "name": n.name,
                "kind": kind_of(&n.kind),
                "parallelism": n.parallelism,
                "version": versions.get(&n.name),
                "counts": counts,
                "rates": rates,
                "watermark_ms": watermark,
                "watermark_lag_ms": watermark.map(|w| now_ms.saturating_sub(w).max(0)),
                "instances": instances,
            })
        })
        .collect();
    axum::Json(json!({
        "rates_over_s": secs,
        "operators": ops,
    }))
    .into_response()
}

/// `GET /v1/operators/{name}/dead-letter?limit=N`: the latest dead letters, newest
/// first (each instance keeps its last 100).
pub async fn dead_letters(
    State(s): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !s.job.nodes.iter().any(|n| n.name == name) {
        return error(StatusCode::NOT_FOUND, format!("no operator `{name}`"));
    }
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "limit must be a whole number of records",
            );
        }
    };
    let entries = s.metrics.dead_letters(&name, limit);
    let total = s.metrics.node(&name).dead_letters;
    axum::Json(json!({ "operator": name, "total": total, "latest": entries })).into_response()
}

/// The key of a query: `key` is the key's text (a string field, or the record key);
/// `key_json` a JSON value as it appears in records (a number keys as its JSON text).
fn query_key(q: &HashMap<String, String>) -> Result<Vec<u8>, String> {
    match (q.get("key"), q.get("key_json")) {
        (Some(k), None) => Ok(k.as_bytes().to_vec()),
        (None, Some(j)) => match serde_json::from_str::<Value>(j) {
            Ok(Value::String(s)) => Ok(s.into_bytes()),
            Ok(_) => {
                let mut k = vec![crate::runtime::NON_STRING_KEY];
                k.extend_from_slice(j.trim().as_bytes());
                Ok(k)
            }
            Err(e) => Err(format!("key_json is not JSON: {e}")),
        },
        (Some(_), Some(_)) => Err("give key or key_json, not both".into()),
        (None, None) => Err("the key is missing: ?key=<text> or ?key_json=<JSON value>".into()),
    }
}

/// A stored value as JSON: itself if it is JSON (the SDKs store JSON), else its text,
/// else its bytes in hex.
pub fn shown(bytes: &[u8]) -> Value {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return v;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => json!(s),
        Err(_) => json!({ "hex": hex::encode(bytes) }),
    }
}

fn shown_key(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => json!(s),
        Err(_) => json!({ "hex": hex::encode(bytes) }),
    }
}

/// The answer to a state query, as JSON.
pub fn answer_json(operator: &str, state: &str, a: &StateAnswer) -> Value {
    let mut out = json!({
        "operator": operator,
        "state": state,
        "kind": a.kind,
        "subtask": a.subtask,
        "key_group": a.key_group,
    });
    match &a.read {
        StateRead::Value(v) => out["value"] = v.as_deref().map_or(Value::Null, shown),
        StateRead::List(l) => out["list"] = l.iter().map(|e| shown(e)).collect(),
        StateRead::Map(entries, more) => {
            out["entries"] = entries
                .iter()
                .map(|(k, v)| json!({ "key": shown_key(k), "value": shown(v) }))
                .collect();
            out["truncated"] = json!(more);
        }
    }
    out
}

/// `GET /v1/state/{operator}/{state}?key=...`.
pub async fn state(
    State(s): State<Shared>,
    Path((operator, state)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let key = match query_key(&q) {
        Ok(k) => k,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let running = s.running.clone();
    let (op, st) = (operator.clone(), state.clone());
    let read = tokio::task::spawn_blocking(move || {
        crate::runtime::query::read_state(&running, &op, &st, &key)
    })
    .await;
    match read {
        Ok(Ok(a)) => axum::Json(answer_json(&operator, &state, &a)).into_response(),
        Ok(Err(e)) => {
            let status = match e {
                QueryError::NoOperator { .. } | QueryError::NoState { .. } => StatusCode::NOT_FOUND,
                QueryError::NotKeyed(_) => StatusCode::BAD_REQUEST,
                QueryError::NotRunning => StatusCode::SERVICE_UNAVAILABLE,
                QueryError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, e.to_string())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
