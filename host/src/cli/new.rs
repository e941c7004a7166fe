//! `weir new`: a new function folder from a template, in Rust, JavaScript or Python, of
//! any of the three kinds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::wasm::guest_sdk_dir;

/// The language of a new function.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Lang {
    /// A Rust crate using `weir-sdk`.
    Rust,
    /// A JavaScript module using the `weir-sdk` package (guest-sdk/js).
    Js,
    /// A Python module using the `weir` package (guest-sdk/python).
    Python,
}

/// The kind of a new function.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// A map (flat-map) function.
    Map,
    /// A process-window function.
    Window,
    /// A broadcast-process function.
    Broadcast,
}

/// Arguments of `weir new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The language.
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
    /// The function kind.
    #[arg(long, value_enum, default_value = "map")]
    kind: Kind,
    /// The new folder (its last component names the function).
    name: PathBuf,
}

/// The files of a new function: (relative path, contents with placeholders).
fn template(lang: Lang, kind: Kind) -> Vec<(&'static str, &'static str)> {
    match (lang, kind) {
        (Lang::Rust, kind) => vec![
            ("Cargo.toml", include_str!("templates/rust-Cargo.toml")),
            (
                ".cargo/config.toml",
                include_str!("templates/rust-config.toml"),
            ),
            (
                "src/lib.rs",
                match kind {
                    Kind::Map => include_str!("templates/rust-map.rs"),
                    Kind::Window => include_str!("templates/rust-window.rs"),
                    Kind::Broadcast => include_str!("templates/rust-broadcast.rs"),
                },
            ),
        ],
        (Lang::Js, kind) => vec![
            (
                "package.json",
                include_str!("../../../guest-sdk/js/templates/package.json"),
            ),
            (
                "index.js",
                match kind {
                    Kind::Map => include_str!("../../../guest-sdk/js/templates/map.js"),
                    Kind::Window => include_str!("../../../guest-sdk/js/templates/window.js"),
                    Kind::Broadcast => {
                        include_str!("../../../guest-sdk/js/templates/broadcast.js")
                    }
                },
            ),
        ],
        (Lang::Python, kind) => vec![
            (
                "pyproject.toml",
                include_str!("../../../guest-sdk/python/templates/pyproject.toml"),
            ),
            (
                "app.py",
                match kind {
                    Kind::Map => include_str!("../../../guest-sdk/python/templates/map.py"),
                    Kind::Window => {
                        include_str!("../../../guest-sdk/python/templates/window.py")
                    }
                    Kind::Broadcast => {
                        include_str!("../../../guest-sdk/python/templates/broadcast.py")
                    }
                },
            ),
        ],
    }
}

/// `my-filter` → `MyFilter`.
fn class_name(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Function");
    }
    out
}

/// Writes the template into `dir`; refuses a folder that exists and is not empty.
pub fn create(dir: &Path, lang: Lang, kind: Kind) -> Result<(), String> {
    if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!("{} exists and is not empty", dir.display()));
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("{} does not name a folder", dir.display()))?;
    let sdk = std::fs::canonicalize(guest_sdk_dir()).unwrap_or_else(|_| guest_sdk_dir());
    let kind_name = match kind {
        Kind::Map => "map",
        Kind::Window => "window",
        Kind::Broadcast => "broadcast",
    };
    for (file, text) in template(lang, kind) {
        let text = text
            .replace("__NAME__", &name)
            .replace("__CLASS__", &class_name(&name))
            .replace("__KIND__", kind_name)
            .replace("__SDK__", &sdk.display().to_string());
        let path = dir.join(file);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        written.map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Creates the folder and says what to do next.
pub fn new(args: NewArgs) -> ExitCode {
    if let Err(e) = create(&args.name, args.lang, args.kind) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    println!(
        "created {} ({:?} {:?} function). Build it with `weir build {0}`, or name the folder as an operator's `component` in a job manifest.",
        args.name.display(),
        args.lang,
        args.kind
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::class_name;

    #[test]
    fn class_names_are_camel_case_identifiers() {
        assert_eq!(class_name("my-filter"), "MyFilter");
        assert_eq!(class_name("ad_filter2"), "AdFilter2");
        assert_eq!(class_name("9lives"), "Function9lives");
        assert_eq!(class_name("--"), "Function");
    }
}
