//! `POST /v1/operators/{name}/swap`: a new version of an operator's function, from a
//! path or from the component's bytes in the body; `?dry_run=true` only checks it, and
//! `?canary=N[&max_error_rate=R]` (or `"canary": {...}` in the body) makes it provisional
//! (the answer comes when the canary is judged).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::api::{Shared, error};
use crate::runtime::Request;
use crate::runtime::swap::{Canary, ComponentSource, SwapRequest};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    component: std::path::PathBuf,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    canary: Option<Canary>,
    #[serde(default)]
    drop_state: Vec<String>,
}

/// Swaps an operator's function (or checks the new version, with `dry_run`).
pub async fn swap(
    State(s): State<Shared>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let wasm = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/wasm"));
    let dry_query = query
        .get("dry_run")
        .is_some_and(|v| v == "true" || v == "1");
    let canary_query = match query.get("canary").map(|n| n.parse::<u64>()) {
        None => None,
        Some(Ok(records)) => {
            let mut c = Canary::of(records);
            match query.get("max_error_rate").map(|r| r.parse::<f64>()) {
                None => {}
                Some(Ok(r)) => c.max_error_rate = r,
                Some(Err(_)) => {
                    return error(StatusCode::BAD_REQUEST, "`max_error_rate` must be a number");
                }
            }
            Some(c)
        }
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "`canary` must be a number of records",
            );
        }
    };
    // `?drop_state=a,b` (or `"drop_state": ["a", "b"]` in the body).
    let drop_query: Vec<String> = query
        .get("drop_state")
        .map(|v| {
            v.split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let (component, config, dry_run, canary, drop_states) = if wasm {
        let config = match query.get("config") {
            Some(c) => match serde_json::from_str::<Value>(c) {
                Ok(v) if v.is_object() => Some(v.to_string()),
                _ => return error(StatusCode::BAD_REQUEST, "`config` must be a JSON object"),
            },
            None => None,
        };
        (
            ComponentSource::Bytes(body.to_vec()),
            config,
            dry_query,
            canary_query,
            drop_query,
        )
    } else {
        match serde_json::from_slice::<Body>(&body) {
            Ok(b) => {
                let config = match b.config {
                    Some(v) if v.is_object() => Some(v.to_string()),
                    Some(_) => {
                        return error(StatusCode::BAD_REQUEST, "`config` must be a JSON object");
                    }
                    None => None,
                };
                (
                    ComponentSource::Path(b.component),
                    config,
                    b.dry_run || dry_query,
                    b.canary.or(canary_query),
                    if b.drop_state.is_empty() {
                        drop_query
                    } else {
                        b.drop_state
                    },
                )
            }
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "send the component's bytes (Content-Type: application/wasm) or {{\"component\": \"/path.wasm\", \"config\": {{...}}, \"dry_run\": false, \"canary\": {{\"records\": 1000, \"max_error_rate\": 0.01}}, \"drop_state\": [\"name\"]}}: {e}"
                    ),
                );
            }
        }
    };
    let req = SwapRequest {
        operator: name,
        component,
        config,
        dry_run,
        canary,
        drop_states,
        requested_by: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| "http".to_owned(), |a| format!("http ({a})")),
    };
    let (reply, answer) = crossbeam_channel::bounded(1);
    if s.requests.send(Request::Swap { req, reply }).is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the job has ended");
    }
    let answer = tokio::task::spawn_blocking(move || answer.recv()).await;
    match answer {
        Ok(Ok(Ok(record))) => axum::Json(record).into_response(),
        Ok(Ok(Err(why))) => error(StatusCode::UNPROCESSABLE_ENTITY, why),
        Ok(Err(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the job ended before the swap",
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
