//! The routes of the control endpoint (one router): the job, its operators, checkpoints,
//! savepoints, swaps, state and metrics.
//! Answers are JSON; failures are `{"error": "..."}` with a 4xx (the request) or 5xx (the
//! job) status, never a crash.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::checkpoint::CheckpointStore;
use crate::manifest::{ComponentRef, Job, NodeKind, OperatorKind};
use crate::runtime::{CheckpointStats, Metrics, Request as CoordinatorRequest};

/// What the endpoint reads and asks of the running job.
pub struct ControlState {
    /// The job.
    pub job: Job,
    /// Savepoint requests to its coordinator.
    pub requests: crossbeam_channel::Sender<CoordinatorRequest>,
    /// Its counters.
    pub metrics: Arc<Metrics>,
    /// Its checkpoint history.
    pub stats: Arc<Mutex<CheckpointStats>>,
    /// Its restarts (errors).
    pub restarts: Arc<Mutex<Vec<String>>>,
    /// When it started (epoch ms).
    pub started_at_ms: i64,
    /// The bearer token every request must carry, if any.
    pub token: Option<String>,
    /// Every swap of the run (and of earlier runs, from the log).
    pub swaps: Arc<Mutex<Vec<crate::runtime::swap::SwapRecord>>>,
    /// The running attempt (for its state and versions).
    pub running: Arc<crate::runtime::query::Running>,
    /// Samples of the job's numbers (for rates).
    pub samples: super::observe::Samples,
}

impl ControlState {
    /// The content hash of the version each operator runs now, by operator name (none
    /// while the job restarts).
    pub fn versions(&self) -> std::collections::BTreeMap<String, String> {
        let Some(ctx) = self.running.lock().expect("running attempt").upgrade() else {
            return Default::default();
        };
        let running = ctx.running.lock().expect("running versions");
        running
            .iter()
            .map(|(&i, (hash, _))| (self.job.nodes[i].name.clone(), hash.clone()))
            .collect()
    }

    /// Whether an attempt is running now.
    pub fn is_running(&self) -> bool {
        self.running.lock().expect("running attempt").strong_count() > 0
    }
}

/// The endpoint's shared state.
pub type Shared = Arc<ControlState>;

/// The router of the control endpoint.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/v1/job", get(job))
        .route("/v1/checkpoints", get(checkpoints))
        .route("/v1/savepoints", post(savepoint))
        .route("/v1/swaps", get(swaps))
        .route("/v1/operators", get(super::observe::operators))
        .route(
            "/v1/operators/{name}/dead-letter",
            get(super::observe::dead_letters),
        )
        .route("/v1/operators/{name}/swap", post(super::swap_api::swap))
        .route("/v1/state/{operator}/{state}", get(super::observe::state))
        .route("/metrics", get(super::prometheus::metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

/// An error answer.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

async fn authorize(
    State(s): State<Shared>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    if let Some(token) = &s.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "this endpoint needs `Authorization: Bearer <token>`",
            );
        }
    }
    next.run(req).await
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such route (see /v1/job, /v1/operators, /v1/checkpoints, /v1/savepoints, /v1/swaps, /v1/state/{operator}/{state}?key=..., /metrics)",
    )
}

/// The job's graph, as the manifest made it.
pub fn graph(job: &Job) -> Value {
    let nodes: Vec<Value> = job
        .nodes
        .iter()
        .map(|n| {
            let (kind, inputs, component) = match &n.kind {
                NodeKind::Source { .. } => ("source", Vec::new(), None),
                NodeKind::Sink { input, .. } => ("sink", vec![input.to_string()], None),
                NodeKind::Operator(o) => {
                    let kind = match o.kind {
                        OperatorKind::Map => "map",
                        OperatorKind::Window { .. } => "window",
                        OperatorKind::Broadcast { .. } => "broadcast",
                    };
                    let component = match &o.component {
                        ComponentRef::Wasm(p) => p.display().to_string(),
                        ComponentRef::Native(n) => format!("native:{n}"),
                    };
                    let inputs = n.kind.inputs().iter().map(|r| r.to_string()).collect();
                    (kind, inputs, Some(component))
                }
            };
            let key_by = match &n.kind {
                NodeKind::Operator(o) => o.key_by.as_ref().map(|k| format!("{k:?}")),
                _ => None,
            };
            json!({
                "name": n.name,
                "uid": n.uid,
                "kind": kind,
                "parallelism": n.parallelism,
                "inputs": inputs,
                "key_by": key_by,
                "component": component,
            })
        })
        .collect();
    json!(nodes)
}

async fn job(State(s): State<Shared>) -> Response {
    let restarts = s.restarts.lock().map(|r| r.clone()).unwrap_or_default();
    axum::Json(json!({
        "name": s.job.name,
        "status": if s.is_running() { "running" } else { "restarting" },
        "versions": s.versions(),
        "started_at_ms": s.started_at_ms,
        "parallelism": s.job.parallelism,
        "checkpoints": s.job.checkpoint.as_ref().map(|c| json!({
            "interval_ms": c.interval_ms,
            "mode": format!("{:?}", c.mode),
            "retain": c.retain,
            "timeout_ms": c.timeout_ms,
        })),
        "restarts": restarts,
        "nodes": graph(&s.job),
    }))
    .into_response()
}

async fn swaps(State(s): State<Shared>) -> Response {
    let log = s.swaps.lock().map(|l| l.clone()).unwrap_or_default();
    axum::Json(json!({ "swaps": log })).into_response()
}

async fn checkpoints(State(s): State<Shared>) -> Response {
    let store = CheckpointStore::new(&s.job.checkpoint_dir);
    let retained = store.complete().unwrap_or_default();
    let stats = s.stats.lock().expect("stats");
    axum::Json(json!({
        "completed": stats.completed,
        "abandoned": stats.abandoned,
        "retained": retained,
        "history": stats.history,
    }))
    .into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SavepointBody {
    dir: Option<PathBuf>,
    #[serde(default)]
    stop: bool,
}

async fn savepoint(State(s): State<Shared>, body: Bytes) -> Response {
    let req: SavepointBody = if body.is_empty() {
        SavepointBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not {{\"dir\": \"...\", \"stop\": true|false}}: {e}"),
                );
            }
        }
    };
    if s.job.checkpoint.is_none() {
        return error(
            StatusCode::CONFLICT,
            "savepoints need [job.checkpoint] (sinks commit their output with them)",
        );
    }
    let requests = s.requests.clone();
    let answer = tokio::task::spawn_blocking(move || {
        crate::runtime::savepoint(&requests, req.dir, req.stop)
    })
    .await;
    match answer {
        Ok(Ok(path)) => axum::Json(json!({ "path": path })).into_response(),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
