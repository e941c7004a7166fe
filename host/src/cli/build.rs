//! `weir build DIR`: builds a function folder (Rust, JavaScript or Python) into a
//! component, as a run does when a manifest names the folder.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::wasm::{Language, build_crate};

/// Arguments of `weir build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The function folder (with Cargo.toml, package.json or pyproject.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// Builds the folder and prints the component's path and size.
pub fn build(args: BuildArgs) -> ExitCode {
    let Some(lang) = Language::detect(&args.dir) else {
        eprintln!(
            "error: {} has no Cargo.toml (Rust), package.json (JavaScript) or pyproject.toml (Python)",
            args.dir.display()
        );
        return ExitCode::from(2);
    };
    match build_crate(&args.dir) {
        Ok(wasm) => {
            let size = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
            println!(
                "{} ({} function, {})",
                wasm.display(),
                lang.name(),
                bytesize::ByteSize::b(size)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
