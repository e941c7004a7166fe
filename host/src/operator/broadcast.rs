//! The broadcast operator: every instance receives the whole broadcast input (in the same
//! order) and its share of the main input.

use std::sync::Arc;

use anyhow::Result;

use super::dead_letter::ErrorHandler;
use super::function::BroadcastFunction;
use super::isolate::{count_isolation, host_failure, run_isolated};
use super::map::{emit_results, processable, reject_unkeyed};
use super::{Collector, Input, Operator, OperatorReport};
use crate::runtime::{Clock, Data, NodeMetrics};

/// Runs a broadcast-process function.
pub struct BroadcastOperator {
    function: Box<dyn BroadcastFunction>,
    errors: ErrorHandler,
    /// Failures on the broadcast side happen on every instance alike; one of them
    /// reports them, so a failed broadcast record is dead-lettered once.
    reports_broadcast_failures: bool,
    clock: Arc<dyn Clock>,
    metrics: Arc<NodeMetrics>,
}

impl BroadcastOperator {
    /// An operator calling `function`; instance `subtask`.
    pub fn new(
        function: Box<dyn BroadcastFunction>,
        errors: ErrorHandler,
        subtask: u32,
        clock: Arc<dyn Clock>,
        metrics: Arc<NodeMetrics>,
    ) -> Self {
        Self {
            function,
            errors,
            reports_broadcast_failures: subtask == 0,
            clock,
            metrics,
        }
    }
}

impl Operator for BroadcastOperator {
    fn replace_function(&mut self, f: super::Function) -> Result<()> {
        let super::Function::Broadcast(mut f) = f else {
            anyhow::bail!("a broadcast operator takes a broadcast-process function");
        };
        // The broadcast state is the operator's: it goes to the new version as it is.
        if let Some(state) = self.function.take_broadcast_state() {
            f.set_broadcast_state(state)?;
        }
        self.errors.relabel(f.label().clone());
        self.function = f;
        Ok(())
    }

    fn process(&mut self, input: Input, data: Data, out: &mut Collector) -> Result<()> {
        let now = self.clock.now_ms();
        let f = &mut self.function;
        let metrics = &self.metrics;
        match input {
            Input::Main => {
                metrics.records_in.add(data.len() as u64);
                reject_unkeyed(&data, &self.errors, out)?;
                let (batch, keys) = processable(data);
                if batch.is_empty() {
                    return Ok(());
                }
                let before = f.reinstantiations();
                let isolated = run_isolated(&batch, keys.as_ref(), |b, k| {
                    metrics.calls.add(1);
                    f.process_element(b, k, now)
                })
                .map_err(|e| host_failure(f.label(), e))?;
                count_isolation(metrics, &isolated, before, f.reinstantiations());
                emit_results(&batch, isolated, &self.errors, metrics, true, out)
            }
            Input::Broadcast => {
                let batch = match data {
                    Data::Records(b) => b,
                    Data::Keyed(k) => k.batch,
                };
                let before = f.reinstantiations();
                let isolated = run_isolated(&batch, None, |b, _| {
                    metrics.calls.add(1);
                    f.process_broadcast(b, now)
                })
                .map_err(|e| host_failure(f.label(), e))?;
                count_isolation(metrics, &isolated, before, f.reinstantiations());
                // Every instance applies every broadcast record; one of them counts them
                // and reports their failures, so each is accounted for once.
                if self.reports_broadcast_failures {
                    metrics.records_in.add(batch.len() as u64);
                    emit_results(&batch, isolated, &self.errors, metrics, true, out)
                } else {
                    let mut quiet = isolated;
                    quiet.failures.clear();
                    quiet.output.errors.clear();
                    emit_results(&batch, quiet, &self.errors, metrics, false, out)
                }
            }
        }
    }

    fn report(&self) -> OperatorReport {
        OperatorReport {
            broadcast_state: Some(self.function.broadcast_state()),
        }
    }

    fn snapshot(
        &mut self,
        cx: &super::SnapshotContext<'_>,
    ) -> Result<crate::checkpoint::OperatorState> {
        let name = format!("{}.broadcast", cx.prefix);
        let entries = self.function.save_broadcast_state(&cx.dir.join(&name))?;
        Ok(crate::checkpoint::OperatorState::Broadcast {
            path: name,
            entries,
        })
    }
}
