//! `GET /metrics`: the job's numbers in the Prometheus (OpenMetrics) text format, through
//! `prometheus-client`. Per operator instance (labels `job`, `operator`, `subtask`):
//! every count (`weir_operator_records_in_total`, ...), the input watermark, and the time
//! its task spent busy, back-pressured and idle — as counters of seconds and, as Flink's
//! reporter shows them, in milliseconds per second over the last ten seconds. Per job:
//! uptime, restarts, checkpoints and swaps.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::api::{Shared, error};
use super::observe::node_rates;
use crate::runtime::{Rates, Sample};

type Labels = Vec<(&'static str, String)>;

/// One scrape's numbers.
#[derive(Debug)]
struct Scrape {
    job: String,
    now: Sample,
    rates: Vec<(String, u32, Rates)>,
    uptime_s: f64,
    restarts: u64,
    checkpoints_completed: u64,
    checkpoints_abandoned: u64,
    checkpoints_failed: u64,
    last_checkpoint: Option<(u64, u64, f64)>,
    swaps: u64,
}

enum Kind {
    Counter,
    Gauge,
}

fn family(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: Kind,
    values: impl IntoIterator<Item = (Labels, f64)>,
) -> Result<(), std::fmt::Error> {
    let t = match kind {
        Kind::Counter => MetricType::Counter,
        Kind::Gauge => MetricType::Gauge,
    };
    let mut m = e.encode_descriptor(name, help, None, t)?;
    for (labels, v) in values {
        let f = m.encode_family(&labels)?;
        match kind {
            Kind::Counter => ConstCounter::new(v).encode(f)?,
            Kind::Gauge => ConstGauge::new(v).encode(f)?,
        }
    }
    Ok(())
}

impl Scrape {
    fn labels(&self, operator: &str, subtask: u32) -> Labels {
        vec![
            ("job", self.job.clone()),
            ("operator", operator.to_owned()),
            ("subtask", subtask.to_string()),
        ]
    }

    fn job_labels(&self) -> Labels {
        vec![("job", self.job.clone())]
    }

    fn instances(&self) -> impl Iterator<Item = (&str, &crate::runtime::InstanceSample)> {
        self.now
            .nodes
            .iter()
            .flat_map(|(n, s)| s.instances.iter().map(move |i| (n.as_str(), i)))
    }
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        // Every count, per instance.
        let names = crate::runtime::Counts::default().named();
        for (k, (name, help, _)) in names.iter().enumerate() {
            let values = self
                .instances()
                .map(|(n, i)| (self.labels(n, i.subtask), i.counts.named()[k].2 as f64));
            family(
                &mut e,
                &format!("weir_operator_{name}"),
                help.trim(),
                Kind::Counter,
                values,
            )?;
        }
        let watermarks = self
            .instances()
            .filter_map(|(n, i)| Some((self.labels(n, i.subtask), i.watermark? as f64)));
        family(
            &mut e,
            "weir_operator_watermark_ms",
            "The input watermark (event time, epoch ms); absent until the first.",
            Kind::Gauge,
            watermarks,
        )?;
        let secs = |f: fn(&crate::runtime::TimeReading) -> u64| {
            self.instances()
                .map(move |(n, i)| (self.labels(n, i.subtask), f(&i.time) as f64 / 1e9))
        };
        family(
            &mut e,
            "weir_task_busy_seconds",
            "Time the task worked.",
            Kind::Counter,
            secs(|t| t.busy_ns()),
        )?;
        family(
            &mut e,
            "weir_task_backpressured_seconds",
            "Time the task waited to send on a full channel.",
            Kind::Counter,
            secs(|t| t.blocked_ns),
        )?;
        family(
            &mut e,
            "weir_task_idle_seconds",
            "Time the task waited for input.",
            Kind::Counter,
            secs(|t| t.idle_ns),
        )?;
        let per_s = |f: fn(&Rates) -> f64| {
            self.rates
                .iter()
                .map(move |(n, s, r)| (self.labels(n, *s), f(r)))
        };
        family(
            &mut e,
            "weir_task_busy_time_ms_per_second",
            "Milliseconds per second the task worked (last ten seconds).",
            Kind::Gauge,
            per_s(|r| r.busy_ms_per_s),
        )?;
        family(
            &mut e,
            "weir_task_backpressured_time_ms_per_second",
            "Milliseconds per second the task was back-pressured (last ten seconds).",
            Kind::Gauge,
            per_s(|r| r.backpressured_ms_per_s),
        )?;
        family(
            &mut e,
            "weir_task_idle_time_ms_per_second",
            "Milliseconds per second the task waited for input (last ten seconds).",
            Kind::Gauge,
            per_s(|r| r.idle_ms_per_s),
        )?;
        family(
            &mut e,
            "weir_operator_records_in_per_second",
            "Records in per second (last ten seconds).",
            Kind::Gauge,
            per_s(|r| r.records_in_per_s),
        )?;
        family(
            &mut e,
            "weir_operator_records_out_per_second",
            "Records out per second (last ten seconds).",
            Kind::Gauge,
            per_s(|r| r.records_out_per_s),
        )?;
        let job = || self.job_labels();
        family(
            &mut e,
            "weir_job_uptime_seconds",
            "Time since the job started.",
            Kind::Gauge,
            [(job(), self.uptime_s)],
        )?;
        family(
            &mut e,
            "weir_job_restarts",
            "Restarts after failures.",
            Kind::Counter,
            [(job(), self.restarts as f64)],
        )?;
        family(
            &mut e,
            "weir_job_checkpoints_completed",
            "Checkpoints and savepoints completed.",
            Kind::Counter,
            [(job(), self.checkpoints_completed as f64)],
        )?;
        family(
            &mut e,
            "weir_job_checkpoints_abandoned",
            "Checkpoints abandoned (timed out).",
            Kind::Counter,
            [(job(), self.checkpoints_abandoned as f64)],
        )?;
        family(
            &mut e,
            "weir_job_checkpoints_failed",
            "Checkpoints that failed to complete.",
            Kind::Counter,
            [(job(), self.checkpoints_failed as f64)],
        )?;
        if let Some((duration_ms, bytes, sync_ms)) = self.last_checkpoint {
            family(
                &mut e,
                "weir_job_last_checkpoint_duration_ms",
                "Trigger to completion of the last completed checkpoint.",
                Kind::Gauge,
                [(job(), duration_ms as f64)],
            )?;
            family(
                &mut e,
                "weir_job_last_checkpoint_size_bytes",
                "Bytes the last completed checkpoint wrote.",
                Kind::Gauge,
                [(job(), bytes as f64)],
            )?;
            family(
                &mut e,
                "weir_job_last_checkpoint_sync_ms",
                "The longest a task was held up saving its state in the last checkpoint.",
                Kind::Gauge,
                [(job(), sync_ms)],
            )?;
        }
        family(
            &mut e,
            "weir_job_swaps",
            "Function swaps asked for (any outcome).",
            Kind::Counter,
            [(job(), self.swaps as f64)],
        )?;
        Ok(())
    }
}

/// `GET /metrics`.
pub async fn metrics(State(s): State<Shared>) -> Response {
    let now = s.metrics.sample();
    let before = s.samples.baseline(&now);
    let secs = before
        .as_ref()
        .map_or(0.0, |b| now.at.duration_since(b.at).as_secs_f64());
    let mut rates = Vec::new();
    for (name, n) in &now.nodes {
        let (_, per) = node_rates(n, before.as_ref().and_then(|b| b.nodes.get(name)), secs);
        for (i, r) in n.instances.iter().zip(per) {
            rates.push((name.clone(), i.subtask, r));
        }
    }
    let (completed, abandoned, failed, last) = {
        let st = s.stats.lock().expect("stats");
        let last = st
            .history
            .iter()
            .rev()
            .find(|h| h.status == "completed")
            .map(|h| (h.duration_ms, h.bytes, h.sync_ms));
        (st.completed, st.abandoned, st.failed, last)
    };
    let scrape = Scrape {
        job: s.job.name.clone(),
        now,
        rates,
        uptime_s: (crate::runtime::epoch_ms() - s.started_at_ms).max(0) as f64 / 1e3,
        restarts: s.restarts.lock().map_or(0, |r| r.len() as u64),
        checkpoints_completed: completed,
        checkpoints_abandoned: abandoned,
        checkpoints_failed: failed,
        last_checkpoint: last,
        swaps: s.swaps.lock().map_or(0, |l| l.len() as u64),
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics: {e}"),
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
