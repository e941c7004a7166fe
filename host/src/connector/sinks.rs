//! Sinks: each record as one line (its value, or an envelope with key, timestamp and
//! headers).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::manifest::SinkFormat;
use crate::operator::{Collector, Finish, Input, Operator};
use crate::runtime::{Data, NodeMetrics};

/// Writes record values, one per line, to a file. The file appears under its name only
/// when the job ends well: until then it is written as `.<name>.part` beside it.
pub struct FileSink {
    path: PathBuf,
    part: PathBuf,
    out: Option<BufWriter<File>>,
    format: SinkFormat,
    metrics: Arc<NodeMetrics>,
}

impl FileSink {
    /// A sink writing `path` in `format`.
    pub fn create(path: &Path, format: SinkFormat, metrics: Arc<NodeMetrics>) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let part =
            part_path(path).with_context(|| format!("{} is not a file name", path.display()))?;
        let file = File::create(&part).with_context(|| format!("creating {}", part.display()))?;
        Ok(Self {
            path: path.to_owned(),
            part,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            format,
            metrics,
        })
    }
}

/// Writes each record of `data` as one line in `format`.
pub fn write_records(out: &mut impl Write, data: &Data, format: SinkFormat) -> std::io::Result<()> {
    for r in data.batch().iter() {
        match format {
            SinkFormat::Values => out.write_all(r.value)?,
            SinkFormat::Envelope => out.write_all(&crate::record::envelope::envelope_line(&r))?,
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

impl Operator for FileSink {
    fn process(&mut self, _input: Input, data: Data, _out: &mut Collector) -> Result<()> {
        let out = self.out.as_mut().context("the sink is closed")?;
        write_records(out, &data, self.format)
            .with_context(|| format!("writing {}", self.part.display()))?;
        self.metrics.records_in.add(data.len() as u64);
        Ok(())
    }

    fn on_processing_time(&mut self, _now_ms: i64, _out: &mut Collector) -> Result<()> {
        // Hand what is buffered to the part file once per tick (a no-op when nothing
        // is), so the output of a job that keeps running can be watched.
        if let Some(out) = self.out.as_mut() {
            out.flush()
                .with_context(|| format!("writing {}", self.part.display()))?;
        }
        Ok(())
    }

    fn finish(&mut self, _how: Finish, _out: &mut Collector) -> Result<()> {
        if let Some(out) = self.out.take() {
            let file = out
                .into_inner()
                .map_err(|e| e.into_error())
                .with_context(|| format!("writing {}", self.part.display()))?;
            file.sync_all()?;
            std::fs::rename(&self.part, &self.path)
                .with_context(|| format!("moving {} into place", self.path.display()))?;
        }
        Ok(())
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // A sink that did not finish (the job failed or was cancelled) leaves no part
        // file behind: without checkpoints there is nothing to resume it from.
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// The part file a file sink writes `path` under until the job ends well.
pub fn part_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    Some(path.with_file_name(format!(".{}.part", name.to_string_lossy())))
}

/// Writes records, one per line, to standard output.
pub struct StdoutSink {
    format: SinkFormat,
    metrics: Arc<NodeMetrics>,
}

impl StdoutSink {
    /// A sink writing standard output in `format`.
    pub fn new(format: SinkFormat, metrics: Arc<NodeMetrics>) -> Self {
        Self { format, metrics }
    }
}

impl Operator for StdoutSink {
    fn process(&mut self, _input: Input, data: Data, _out: &mut Collector) -> Result<()> {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        write_records(&mut lock, &data, self.format)?;
        lock.flush()?;
        self.metrics.records_in.add(data.len() as u64);
        Ok(())
    }
}
