//! Reading a manifest: TOML with positions, `--set` overrides, then the model types.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Diagnostics, Locator, OVERRIDE_BASE};
use super::job::Job;
use super::model::Manifest;
use super::resolve::resolve;

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
    if let Some((span, field)) = too_deep(text) {
        return Err(fail(
            Some(span),
            &field,
            format!("keys nested more than {MAX_DEPTH} levels deep are not supported"),
        ));
    }
    let mut root = DeTable::parse(text).map_err(|e| {
        let field = e
            .span()
            .map(|s| field_in_text(text, s.start))
            .unwrap_or_default();
        fail(e.span(), &field, e.message().to_owned())
    })?;
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

/// The deepest nesting of keys a manifest may use (far more than any manifest needs; the
/// TOML reader gives up, without saying where, somewhat past this).
const MAX_DEPTH: usize = 64;

/// The first line whose dotted key (or table header) nests past [`MAX_DEPTH`].
fn too_deep(text: &str) -> Option<(std::ops::Range<usize>, String)> {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let key = match trimmed.strip_prefix('[') {
            Some(h) => h.split(']').next().unwrap_or(""),
            None => trimmed.split('=').next().unwrap_or(""),
        };
        // Quoted keys may hold dots: count only those outside quotes.
        let mut depth = 1;
        let mut quote = None;
        for c in key.chars() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '.') => depth += 1,
                _ => {}
            }
        }
        if depth > MAX_DEPTH && !trimmed.starts_with('#') {
            let start = at + (line.len() - trimmed.len());
            let field: String = key.trim().chars().take(60).collect();
            return Some((start..start + 1, format!("{field}…")));
        }
        at += line.len();
    }
    None
}

/// The dotted field on the line of byte `at` of a manifest that did not parse: the table
/// header above it and the key the line sets (a plain reading of the text: the document
/// has no tree to ask).
fn field_in_text(text: &str, at: usize) -> String {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line = text[line_start..line_end].trim();
    let header = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().to_owned())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    let mut parts: Vec<String> = header.into_iter().collect();
    if let Some(k) = key {
        let k: String = k.chars().take(200).collect();
        parts.push(k);
    }
    parts.join(".")
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
