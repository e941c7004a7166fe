//! Building a Rust guest crate into a component, when a manifest names a crate folder
//! instead of a `.wasm` file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Runs `cargo build --release --target wasm32-wasip2` in `dir` and returns the built
/// component. Cargo's own caching makes this cheap when nothing changed.
pub fn build_crate(dir: &Path) -> Result<PathBuf> {
    tracing::info!("building the component in {}", dir.display());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running cargo to build {}", dir.display()))?;
    if !output.status.success() {
        let hint = if String::from_utf8_lossy(&output.stdout).contains("wasm32-wasip2")
            || which_target_missing()
        {
            " (is the target installed? `rustup target add wasm32-wasip2`)"
        } else {
            ""
        };
        bail!("building the component in {} failed{hint}", dir.display());
    }
    let manifest = std::fs::canonicalize(dir.join("Cargo.toml"))?;
    let mut wasm = None;
    for msg in cargo_metadata::Message::parse_stream(output.stdout.as_slice()) {
        let Ok(cargo_metadata::Message::CompilerArtifact(a)) = msg else {
            continue;
        };
        if a.manifest_path.as_std_path() != manifest {
            continue;
        }
        if let Some(f) = a.filenames.iter().find(|f| f.extension() == Some("wasm")) {
            wasm = Some(f.clone().into_std_path_buf());
        }
    }
    wasm.with_context(|| {
        format!(
            "cargo built no .wasm for {} (is it a cdylib crate?)",
            dir.display()
        )
    })
}

fn which_target_missing() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| !String::from_utf8_lossy(&o.stdout).contains("wasm32-wasip2"))
        .unwrap_or(false)
}
