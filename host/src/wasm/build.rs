//! Building a function folder into a component, when a manifest names a folder instead
//! of a `.wasm` file: a Rust crate with cargo, a JavaScript or Python function with its
//! SDK's toolchain (see `languages`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::languages::{self, Language};

/// Builds the function in `dir` — a Rust crate (`Cargo.toml`), a JavaScript function
/// (`package.json`) or a Python function (`pyproject.toml`) — and returns the built
/// component. Unchanged sources are not built again (cargo's own caching for Rust, a
/// hash of the sources for JavaScript and Python).
pub fn build_crate(dir: &Path) -> Result<PathBuf> {
    match Language::detect(dir) {
        Some(Language::Rust) => build_rust(dir),
        Some(lang) => languages::build(lang, dir),
        None => bail!(
            "{} is not a function folder: it has no Cargo.toml (Rust), package.json (JavaScript) or pyproject.toml (Python)",
            dir.display()
        ),
    }
}

/// Runs `cargo build --release --target wasm32-wasip2` in `dir` and returns the built
/// component. Cargo's own caching makes this cheap when nothing changed.
fn build_rust(dir: &Path) -> Result<PathBuf> {
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
