//! Dividing a file source among its parallel readers.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A byte range of one file; the split owns the lines that start inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The file.
    pub path: PathBuf,
    /// First byte.
    pub start: u64,
    /// One past the last byte (`u64::MAX`: to the end, however long the file grows).
    pub end: u64,
}

/// The files of a source: the file itself, or the regular, non-hidden files of a folder
/// in name order. What a folder holds besides (subfolders, hidden files) is not read, and
/// named in a warning.
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    let mut ignored = Vec::new();
    for e in std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
        let p = e
            .with_context(|| format!("listing {}", path.display()))?
            .path();
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if p.is_file() && !hidden {
            files.push(p);
        } else {
            ignored.push(p);
        }
    }
    files.sort();
    if !ignored.is_empty() {
        ignored.sort();
        let names: Vec<String> = ignored
            .iter()
            .map(|p| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        tracing::warn!(
            "{}: not reading {} entr{} (subfolders and hidden files are not inputs): {}",
            path.display(),
            ignored.len(),
            if ignored.len() == 1 { "y" } else { "ies" },
            names.join(", ")
        );
    }
    Ok(files)
}

/// Splits the files for `parallelism` readers: one split per file when there are enough
/// files, otherwise large files are cut into line-aligned byte ranges so every reader
/// has work. Files that keep growing (`follow`) are never cut.
pub fn plan_splits(path: &Path, parallelism: usize, follow: bool) -> Result<Vec<Split>> {
    let files = if follow && !path.exists() {
        Vec::new()
    } else {
        list_files(path)?
    };
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .map(|m| m.len())
                .with_context(|| format!("reading {}", f.display()))
        })
        .collect::<Result<_>>()?;
    let whole = |f: &PathBuf| Split {
        path: f.clone(),
        start: 0,
        end: u64::MAX,
    };
    if follow || files.len() >= parallelism {
        return Ok(files.iter().map(whole).collect());
    }
    let total: u64 = sizes.iter().sum();
    let target = total.div_ceil(parallelism as u64).max(1);
    let mut splits = Vec::new();
    for (f, &size) in files.iter().zip(&sizes) {
        let pieces = size.div_ceil(target).max(1);
        let step = size.div_ceil(pieces).max(1);
        for k in 0..pieces {
            let start = k * step;
            let end = if k + 1 == pieces {
                u64::MAX
            } else {
                (k + 1) * step
            };
            splits.push(Split {
                path: f.clone(),
                start,
                end,
            });
        }
    }
    Ok(splits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_file_is_cut_for_parallel_readers() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.jsonl");
        std::fs::write(&f, "x\n".repeat(1000)).unwrap();
        let s = plan_splits(&f, 4, false).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].start, 0);
        assert_eq!(s[3].end, u64::MAX);
        for w in s.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert_eq!(
            plan_splits(&f, 4, true).unwrap().len(),
            1,
            "growing files are not cut"
        );
    }

    #[test]
    fn folders_give_one_split_per_file_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["b", "a", ".hidden"] {
            std::fs::write(dir.path().join(n), "1\n").unwrap();
        }
        let s = plan_splits(dir.path(), 2, false).unwrap();
        let names: Vec<String> = s
            .iter()
            .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a", "b"]);
    }
}
