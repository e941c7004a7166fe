//! Problems found in a manifest, with where they are.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `file:line:column`, or the `--set` override it came from.
    pub location: String,
    /// The dotted field path, e.g. `operators.count.window.size`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.location, self.message)
        } else {
            write!(f, "{}: {}: {}", self.location, self.field, self.message)
        }
    }
}

/// Every problem found in a manifest. Its `Display` lists them one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics {
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "the manifest has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// Maps byte spans of the manifest text (and of `--set` overrides, whose spans start past
/// the end of the text) to human locations.
#[derive(Debug, Clone)]
pub(crate) struct Locator {
    file: PathBuf,
    line_starts: Vec<usize>,
    text_len: usize,
    overrides: Vec<String>,
}

/// Spans of override `i` start at `OVERRIDE_BASE * (i + 1)` past the text.
pub(crate) const OVERRIDE_BASE: usize = 1 << 40;

impl Locator {
    pub(crate) fn new(file: &Path, text: &str, overrides: Vec<String>) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            file: file.to_owned(),
            line_starts,
            text_len: text.len(),
            overrides,
        }
    }

    /// The `--set` override a span belongs to, if any.
    pub(crate) fn override_of(&self, span: &Range<usize>) -> Option<&str> {
        if span.start < OVERRIDE_BASE {
            return None;
        }
        self.overrides
            .get(span.start / OVERRIDE_BASE - 1)
            .map(String::as_str)
    }

    /// `file:line:column` of a span's start (or the override it came from).
    pub(crate) fn locate(&self, span: Option<&Range<usize>>) -> String {
        let Some(span) = span else {
            return self.file.display().to_string();
        };
        if let Some(o) = self.override_of(span) {
            return format!("--set {o}");
        }
        let at = span.start.min(self.text_len);
        let line = self.line_starts.partition_point(|&s| s <= at);
        let col = at - self.line_starts[line - 1] + 1;
        format!("{}:{line}:{col}", self.file.display())
    }

    pub(crate) fn problem(
        &self,
        span: Option<&Range<usize>>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            location: self.locate(span),
            field: field.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_map_to_lines_and_overrides() {
        let l = Locator::new(
            Path::new("job.toml"),
            "a = 1\nbb = 2\n",
            vec!["x.y=1".into()],
        );
        assert_eq!(l.locate(Some(&(0..1))), "job.toml:1:1");
        assert_eq!(l.locate(Some(&(9..10))), "job.toml:2:4");
        assert_eq!(
            l.locate(Some(&(OVERRIDE_BASE..OVERRIDE_BASE + 1))),
            "--set x.y=1"
        );
    }
}
