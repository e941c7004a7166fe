//! `weir swap`: a new version of a running operator's function.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::manifest::Override;

/// `weir swap` arguments.
#[derive(Debug, clap::Args)]
pub struct SwapArgs {
    /// The job manifest (it locates the running job).
    manifest: PathBuf,
    /// The operator.
    operator: String,
    /// The new version: a `.wasm` component, or a function's folder (built first).
    component: PathBuf,
    /// A new `config` for the function's `init`, as JSON (default: the manifest's).
    #[arg(long, value_name = "JSON")]
    config: Option<String>,
    /// Only check the new version (compile, world, `init` on every instance).
    #[arg(long)]
    dry_run: bool,
    /// Make the swap provisional until the new version has seen N records: rolled back
    /// (to the swap's checkpoint and the old version) if too many of them fail.
    #[arg(long, value_name = "N")]
    canary: Option<u64>,
    /// The largest share of the canary's records that may fail (default 0.01).
    #[arg(long, value_name = "SHARE", requires = "canary")]
    max_error_rate: Option<f64>,
    /// Judge the canary after this long with what it saw, if fewer records came.
    #[arg(long, value_name = "DURATION", requires = "canary")]
    canary_time: Option<String>,
    /// Drop this state of the operator at the switch: the new version starts it empty
    /// (it may declare it as another kind or type). Repeat for several.
    #[arg(long = "drop-state", value_name = "NAME")]
    drop_state: Vec<String>,
    /// Overrides a manifest value.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    overrides: Vec<Override>,
}

/// Runs `weir swap`.
pub fn main(a: SwapArgs) -> ExitCode {
    match swap(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn swap(a: &SwapArgs) -> Result<()> {
    let job = crate::manifest::load_file(&a.manifest, &a.overrides)
        .map_err(|d| anyhow::anyhow!("{d}"))?;
    let component = component_file(&a.component)?;
    let config = match &a.config {
        Some(c) => Some(
            serde_json::from_str::<serde_json::Value>(c)
                .with_context(|| format!("--config is not JSON: {c}"))?,
        ),
        None => None,
    };
    let canary = match a.canary {
        None => None,
        Some(records) => {
            let mut c = crate::runtime::swap::Canary::of(records);
            if let Some(r) = a.max_error_rate {
                c.max_error_rate = r;
            }
            if let Some(t) = &a.canary_time {
                let ms = crate::manifest::Millis::parse(t)
                    .map_err(|e| anyhow::anyhow!("--canary-time {t}: {e}"))?;
                c.time_ms = Some(ms.0);
            }
            c.check()?;
            Some(c)
        }
    };
    let answer = crate::control::client::call(
        &job,
        "POST",
        &format!("/v1/operators/{}/swap", a.operator),
        Some(serde_json::json!({
            "component": component,
            "config": config,
            "dry_run": a.dry_run,
            "canary": canary,
            "drop_state": a.drop_state,
        })),
    )?;
    let short = |h: &serde_json::Value| {
        let h = h.as_str().unwrap_or("?");
        h[..h.len().min(12)].to_owned()
    };
    println!(
        "operator `{}`: sha256:{} -> sha256:{}: {}{}",
        a.operator,
        short(&answer["old"]),
        short(&answer["new"]),
        answer["outcome"].as_str().unwrap_or("?"),
        match answer["pause_ms"].as_f64() {
            Some(p) => format!(" (records held back at most {p:.1} ms)"),
            None => String::new(),
        }
    );
    for change in answer["states"].as_array().into_iter().flatten() {
        println!("  {}", change.as_str().unwrap_or("?"));
    }
    Ok(())
}

/// The component file: as given, or built from a function's folder.
fn component_file(p: &Path) -> Result<PathBuf> {
    let file = if p.is_dir() {
        crate::wasm::build_crate(p)?
    } else {
        p.to_owned()
    };
    std::path::absolute(&file).with_context(|| format!("{}", file.display()))
}
