//! `weir status` and `weir state get`: what a running job is doing, and one key's state.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::Value;

use crate::manifest::Override;

/// `weir status` arguments.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The job manifest (it locates the running job).
    manifest: PathBuf,
    /// Print the endpoint's answers as JSON.
    #[arg(long)]
    json: bool,
    /// Overrides a manifest value.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    overrides: Vec<Override>,
}

/// `weir state` commands.
#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Reads one key's state of a running operator.
    Get {
        /// The job manifest.
        manifest: PathBuf,
        /// The operator.
        operator: String,
        /// The state (as the function declared it).
        state: String,
        /// The key: its text (a string field, or the record key).
        key: String,
        /// The key is a JSON value as it appears in records (`--json-key 42` for a
        /// number field).
        #[arg(long)]
        json_key: bool,
        /// Overrides a manifest value.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        overrides: Vec<Override>,
    },
}

fn exit(r: Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `weir status`.
pub fn status(a: StatusArgs) -> ExitCode {
    exit((|| {
        let job = crate::manifest::load_file(&a.manifest, &a.overrides)
            .map_err(|d| anyhow::anyhow!("{d}"))?;
        let info = crate::control::client::call(&job, "GET", "/v1/job", None)?;
        let ops = crate::control::client::call(&job, "GET", "/v1/operators", None)?;
        let cps = crate::control::client::call(&job, "GET", "/v1/checkpoints", None)?;
        if a.json {
            let all = serde_json::json!({ "job": info, "operators": ops, "checkpoints": cps });
            println!("{}", serde_json::to_string_pretty(&all)?);
            return Ok(());
        }
        print!("{}", render(&info, &ops, &cps));
        Ok(())
    })())
}

/// The status as text.
fn render(info: &Value, ops: &Value, cps: &Value) -> String {
    let mut out = String::new();
    let uptime_s = (crate::runtime::epoch_ms() - info["started_at_ms"].as_i64().unwrap_or(0)).max(0)
        as f64
        / 1e3;
    out.push_str(&format!(
        "job `{}`: {}, up {}, restarts {}\n",
        info["name"].as_str().unwrap_or("?"),
        info["status"].as_str().unwrap_or("?"),
        humantime::format_duration(std::time::Duration::from_secs(uptime_s as u64)),
        info["restarts"].as_array().map_or(0, Vec::len)
    ));
    if info["checkpoints"].is_object() {
        let last = cps["history"]
            .as_array()
            .and_then(|h| h.iter().rev().find(|c| c["status"] == "completed"));
        out.push_str(&format!(
            "checkpoints: {} completed, {} abandoned{}\n",
            cps["completed"],
            cps["abandoned"],
            match last {
                Some(c) => format!(
                    "; last {} in {} ms, {}",
                    c["id"],
                    c["duration_ms"],
                    bytesize::ByteSize(c["bytes"].as_u64().unwrap_or(0))
                ),
                None => String::new(),
            }
        ));
    }
    out.push_str(&format!(
        "{:<20} {:<9} {:>3} {:>12} {:>12} {:>10} {:>10} {:>8} {:>6} {:>6} {:>10}  {}\n",
        "operator",
        "kind",
        "par",
        "in",
        "out",
        "in/s",
        "out/s",
        "dead",
        "busy",
        "bp",
        "wm lag",
        "version"
    ));
    for o in ops["operators"].as_array().into_iter().flatten() {
        let c = &o["counts"];
        let r = &o["rates"];
        let lag = o["watermark_lag_ms"]
            .as_i64()
            .map_or("-".to_owned(), lag_text);
        let pct = |v: &Value| format!("{:.0}%", v.as_f64().unwrap_or(0.0) / 10.0);
        let version = o["version"].as_str().map_or(String::new(), |h| {
            format!("sha256:{}", &h[..h.len().min(12)])
        });
        out.push_str(&format!(
            "{:<20} {:<9} {:>3} {:>12} {:>12} {:>10.0} {:>10.0} {:>8} {:>6} {:>6} {:>10}  {}\n",
            o["name"].as_str().unwrap_or("?"),
            o["kind"].as_str().unwrap_or("?"),
            o["parallelism"].as_u64().unwrap_or(0),
            c["records_in"].as_u64().unwrap_or(0),
            c["records_out"].as_u64().unwrap_or(0),
            r["records_in_per_s"].as_f64().unwrap_or(0.0),
            r["records_out_per_s"].as_f64().unwrap_or(0.0),
            c["dead_letters"].as_u64().unwrap_or(0),
            pct(&r["busy_ms_per_s"]),
            pct(&r["backpressured_ms_per_s"]),
            lag,
            version
        ));
    }
    out
}

/// A watermark's lag, short.
fn lag_text(ms: i64) -> String {
    let s = ms as f64 / 1e3;
    match s {
        s if s < 100.0 => format!("{s:.1}s"),
        s if s < 3600.0 * 2.0 => format!("{:.0}m", s / 60.0),
        s if s < 86400.0 * 2.0 => format!("{:.0}h", s / 3600.0),
        s => format!("{:.0}d", s / 86400.0),
    }
}

/// Runs `weir state ...`.
pub fn state(c: StateCommand) -> ExitCode {
    let StateCommand::Get {
        manifest,
        operator,
        state,
        key,
        json_key,
        overrides,
    } = c;
    exit((|| {
        let job = crate::manifest::load_file(&manifest, &overrides)
            .map_err(|d| anyhow::anyhow!("{d}"))?;
        let param = if json_key { "key_json" } else { "key" };
        let answer = crate::control::client::get(
            &job,
            &format!("/v1/state/{operator}/{state}"),
            &[(param, key.as_str())],
        )?;
        println!("{}", serde_json::to_string_pretty(&answer)?);
        Ok(())
    })())
}
