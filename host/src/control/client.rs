//! The CLI's side of the control endpoint: a job is named by its manifest, which locates
//! its state directory, where the running job wrote its address.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::Address;
use crate::manifest::Job;
use crate::runtime::control_file;

/// The address of `job`'s running endpoint.
pub fn address(job: &Job) -> Result<Address> {
    let file = control_file(&job.state_dir);
    let bytes = std::fs::read(&file).map_err(|_| {
        anyhow::anyhow!(
            "job `{}` is not running (no control endpoint recorded in {})",
            job.name,
            file.display()
        )
    })?;
    serde_json::from_slice(&bytes).with_context(|| format!("reading {}", file.display()))
}

/// Calls `method path` on `job`'s endpoint (with `body` as JSON) and returns its JSON
/// answer; a 4xx or 5xx answer is an error with the endpoint's message.
pub fn call(job: &Job, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
    request(job, method, path, &[], body)
}

/// `GET path?query` on `job`'s endpoint (the query's values are encoded here).
pub fn get(job: &Job, path: &str, query: &[(&str, &str)]) -> Result<Value> {
    request(job, "GET", path, query, None)
}

fn request(
    job: &Job,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) -> Result<Value> {
    let a = address(job)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    let url = format!("{}{path}", a.url);
    let token = match &a.token_env {
        Some(var) => Some(std::env::var(var).with_context(|| {
            format!("the endpoint needs the bearer token in the environment variable {var}")
        })?),
        None => None,
    };
    let auth = token.map(|t| format!("Bearer {t}"));
    // Who asks, as the swap log records it.
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let agent_name = format!("weir {} (user {user})", env!("CARGO_PKG_VERSION"));
    let mut resp = match (method, body) {
        ("GET", _) => {
            let mut r = agent
                .get(&url)
                .query_pairs(query.iter().copied())
                .header("User-Agent", &agent_name);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        (_, body) => {
            let mut r = agent.post(&url).header("User-Agent", &agent_name);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.send_json(body.unwrap_or(Value::Null))
        }
    }
    .with_context(|| format!("calling {url} (is job `{}` still running?)", job.name))?;
    let status = resp.status();
    let answer: Value = resp
        .body_mut()
        .read_json()
        .with_context(|| format!("reading the answer of {url}"))?;
    if !status.is_success() {
        bail!(
            "{}",
            answer["error"]
                .as_str()
                .map_or_else(|| answer.to_string(), str::to_owned)
        );
    }
    Ok(answer)
}
