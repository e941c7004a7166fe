//! Reading a manifest: TOML with positions, `--set` overrides, then the model types.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Diagnostics, Locator, OVERRIDE_BASE};
use super::model::Manifest;
use super::resolve::{Job, resolve};

/// A `--set dotted.path=value` override of a manifest value (as Flink's `-D`).
///
/// The value is read as a TOML value where it is one (`4`, `true`, `"text"`,
/// `{ a = 1 }`) and as a plain string otherwise, so `--set sources.in.path=/data/x` works
/// without quotes. Relative paths in overrides are relative to the working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The dotted path, e.g. `sources.events.path`.
    pub path: Vec<String>,
    /// The value as written.
    pub value: String,
    /// The whole override as written, for messages.
    pub text: String,
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (path, value) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not of the form dotted.path=value"))?;
        let path: Vec<String> = path
            .trim()
            .split('.')
            .map(|p| p.trim().to_owned())
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(format!("`{s}`: the path has an empty segment"));
        }
        Ok(Self {
            path,
            value: value.to_owned(),
            text: s.to_owned(),
        })
    }
}

/// Loads and validates the manifest at `path`, with overrides applied.
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Job, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| Diagnostics {
        problems: vec![super::Problem {
            location: path.display().to_string(),
            field: String::new(),
            message: format!("cannot read the manifest: {e}"),
        }],
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    load_str(&text, path, &base, overrides)
}

/// Loads and validates manifest text; `file` names it in messages and `base` is the
/// directory its relative paths start from.
pub fn load_str(
    text: &str,
    file: &Path,
    base: &Path,
    overrides: &[Override],
) -> Result<Job, Diagnostics> {
    let locator = Locator::new(
        file,
        text,
        overrides.iter().map(|o| o.text.clone()).collect(),
    );
    let fail = |span: Option<std::ops::Range<usize>>, field: &str, message: String| Diagnostics {
        problems: vec![locator.problem(span.as_ref(), field, message)],
    };
    let mut root = DeTable::parse(text).map_err(|e| fail(e.span(), "", e.message().to_owned()))?;
    for (i, o) in overrides.iter().enumerate() {
        apply(root.get_mut(), o, OVERRIDE_BASE * (i + 1)).map_err(|m| {
            fail(
                Some(OVERRIDE_BASE * (i + 1)..OVERRIDE_BASE * (i + 1) + 1),
                &o.path.join("."),
                m,
            )
        })?;
    }
    // Deserializing errors carry only a span: the tree finds the field it is in.
    let tree = root.get_ref().clone();
    let manifest: Manifest = serde::Deserialize::deserialize(toml::de::Deserializer::from(root))
        .map_err(|e| {
            let field = e
                .span()
                .map(|s| field_of_error(&tree, s.start, e.message()))
                .unwrap_or_default();
            fail(e.span(), &field, e.message().to_owned())
        })?;
    resolve(manifest, &locator, base)
}

/// The dotted field an error at byte `at` is about: the deepest key whose name or value
/// holds `at`, plus the field a "missing field" error names.
fn field_of_error(tree: &DeTable<'_>, at: usize, message: &str) -> String {
    let mut path = field_at(tree, at);
    if let Some(missing) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
    {
        path.push(missing.to_owned());
    }
    path.join(".")
}

fn field_at(table: &DeTable<'_>, at: usize) -> Vec<String> {
    let mut best = Vec::new();
    for (key, value) in table {
        let inner = match value.get_ref() {
            DeValue::Table(t) => field_at(t, at),
            DeValue::Array(a) => a
                .iter()
                .filter_map(|e| match e.get_ref() {
                    DeValue::Table(t) => Some(field_at(t, at)),
                    _ => None,
                })
                .max_by_key(Vec::len)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let here = key.span().contains(&at) || value.span().contains(&at);
        if !inner.is_empty() || here {
            let mut path = vec![key.get_ref().to_string()];
            path.extend(inner);
            if path.len() > best.len() {
                best = path;
            }
        }
    }
    best
}

/// Sets the override's value in the parsed document, creating tables on the way.
fn apply<'a>(root: &mut DeTable<'a>, o: &'a Override, at: usize) -> Result<(), String> {
    let span = at..at + 1;
    let value = parse_value(&o.value, at);
    let mut table = root;
    let (last, parents) = o.path.split_last().expect("paths are not empty");
    for (depth, seg) in parents.iter().enumerate() {
        if table.get(seg.as_str()).is_none() {
            table.insert(
                Spanned::new(span.clone(), seg.clone().into()),
                Spanned::new(span.clone(), DeValue::Table(DeTable::new())),
            );
        }
        match table.get_mut(seg.as_str()).map(Spanned::get_mut) {
            Some(DeValue::Table(t)) => table = t,
            _ => {
                return Err(format!(
                    "`{}` is not a table, so `{}` cannot be set",
                    o.path[..=depth].join("."),
                    o.path.join(".")
                ));
            }
        }
    }
    table.remove(last.as_str());
    table.insert(Spanned::new(span, last.clone().into()), value);
    Ok(())
}

/// A TOML value if the text is one, else the text as a string.
fn parse_value(text: &str, at: usize) -> Spanned<DeValue<'_>> {
    let parsed = DeValue::parse(text).ok().map(Spanned::into_inner);
    let value = parsed.unwrap_or_else(|| DeValue::String(text.into()));
    Spanned::new(at..at + 1, respan(value, at))
}

/// Gives every nested value of an override the override's span.
fn respan(value: DeValue<'_>, at: usize) -> DeValue<'_> {
    match value {
        DeValue::Table(t) => {
            let mut out = DeTable::new();
            for (k, v) in t {
                out.insert(
                    Spanned::new(at..at + 1, k.into_inner()),
                    Spanned::new(at..at + 1, respan(v.into_inner(), at)),
                );
            }
            DeValue::Table(out)
        }
        DeValue::Array(a) => DeValue::Array(
            a.into_iter()
                .map(|v| Spanned::new(at..at + 1, respan(v.into_inner(), at)))
                .collect(),
        ),
        other => other,
    }
}
