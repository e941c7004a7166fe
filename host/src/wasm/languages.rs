//! JavaScript and Python function folders: which language a folder is written in, and
//! building one into a component with the toolchain its SDK pins.
//!
//! The build itself belongs to each SDK (`guest-sdk/js/build.mjs`, `guest-sdk/python/build.py`):
//! it bundles the function with the SDK, runs componentize-js or componentize-py against
//! `wit/`, and skips the build when a component of the same sources already exists (a
//! build takes 5–30 s). The host only finds the SDK and its installed toolchain, runs the
//! script and reads the component's path from its last line of output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The language of a function folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A Rust crate (`Cargo.toml`), built with cargo for `wasm32-wasip2`.
    Rust,
    /// A JavaScript function (`package.json` with a `"weir"` kind), built with componentize-js.
    JavaScript,
    /// A Python function (`pyproject.toml` with `[tool.weir]`), built with componentize-py.
    Python,
}

impl Language {
    /// The language of the function in `dir`, by the project file it holds.
    pub fn detect(dir: &Path) -> Option<Self> {
        if dir.join("Cargo.toml").is_file() {
            Some(Self::Rust)
        } else if dir.join("package.json").is_file() {
            Some(Self::JavaScript)
        } else if dir.join("pyproject.toml").is_file() {
            Some(Self::Python)
        } else {
            None
        }
    }

    /// The language's name, as messages and `weir new --lang` write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::JavaScript => "js",
            Self::Python => "python",
        }
    }
}

/// Where the SDKs are: `$WEIR_GUEST_SDK`, else the `guest-sdk` folder of the repository
/// this binary was built from.
pub fn guest_sdk_dir() -> PathBuf {
    match std::env::var_os("WEIR_GUEST_SDK") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk"),
    }
}

/// Where built JavaScript and Python components are kept: `builds/` in the component
/// cache (`$WEIR_CACHE_DIR`, else `~/.cache/weir`).
pub fn builds_dir() -> PathBuf {
    super::default_cache_dir()
        .unwrap_or_else(|| std::env::temp_dir().join("weir"))
        .join("builds")
}

/// Builds the JavaScript or Python function in `dir` (or finds it built) and returns the
/// component.
pub(super) fn build(lang: Language, dir: &Path) -> Result<PathBuf> {
    let sdk = guest_sdk_dir();
    let (mut cmd, setup) = match lang {
        Language::JavaScript => {
            let js = sdk.join("js");
            if !js
                .join("node_modules/@bytecodealliance/componentize-js")
                .is_dir()
            {
                bail!(
                    "the JavaScript toolchain is not installed in {}: run `npm ci` there (or `.ci/setup`)",
                    js.display()
                );
            }
            let mut cmd = Command::new("node");
            cmd.arg(js.join("build.mjs"));
            (cmd, "Node.js 20 or later (`node`)")
        }
        Language::Python => {
            let py = sdk.join("python");
            let python = py.join(".venv/bin/python");
            if !py.join(".venv/bin/componentize-py").is_file() {
                bail!(
                    "the Python toolchain is not installed in {}: run `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt` there (or `.ci/setup`)",
                    py.display()
                );
            }
            let mut cmd = Command::new(python);
            cmd.arg(py.join("build.py"));
            (cmd, "the SDK's Python environment")
        }
        Language::Rust => bail!("{} is a Rust crate: cargo builds it", dir.display()),
    };
    let dir = std::fs::canonicalize(dir).with_context(|| format!("{}", dir.display()))?;
    let out_dir = builds_dir().join(lang.name());
    tracing::info!("building the {} function in {}", lang.name(), dir.display());
    let output = cmd
        .arg(&dir)
        .arg(&out_dir)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {setup} to build {}", dir.display()))?;
    if !output.status.success() {
        bail!(
            "building the {} function in {} failed (its errors are above)",
            lang.name(),
            dir.display()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| PathBuf::from(l.trim()))
        .filter(|p| p.is_file())
        .with_context(|| {
            format!(
                "building {} printed no component path: {stdout}",
                dir.display()
            )
        })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::Language;

    #[test]
    fn folders_are_told_apart_by_their_project_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Language::detect(dir.path()), None);
        std::fs::write(dir.path().join("pyproject.toml"), "").unwrap();
        assert_eq!(Language::detect(dir.path()), Some(Language::Python));
        std::fs::write(dir.path().join("package.json"), "{}").unwrap();
        assert_eq!(Language::detect(dir.path()), Some(Language::JavaScript));
        std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
        assert_eq!(Language::detect(dir.path()), Some(Language::Rust));
    }
}
