//! `[job.checkpoint]`, `[job.restart]` and `[job.control]`.

use toml::Spanned;

use super::{Checker, RestartWord};
use crate::manifest::job::*;
use crate::manifest::model::JobTable;

/// Shortest checkpoint interval: barriers more often than this cost more than they save.
const MIN_INTERVAL_MS: u64 = 10;
/// Restarts allowed by default when checkpoints are on (Flink's default strategy,
/// exponential delay, but bounded: a function that fails on one record every time ends
/// the job naming it instead of restarting forever).
pub const DEFAULT_RESTART_ATTEMPTS: u32 = 10;

pub(super) fn checkpoint(c: &mut Checker<'_>, job: &JobTable) -> Option<CheckpointConfig> {
    let t = job.checkpoint.as_ref()?.get_ref();
    let f = |s: &str| format!("job.checkpoint.{s}");
    let interval_ms = t.interval.get_ref().0;
    if interval_ms < MIN_INTERVAL_MS {
        c.report(
            Some(t.interval.span()),
            f("interval"),
            format!("must be at least {MIN_INTERVAL_MS}ms"),
        );
    }
    let retain = c.positive(&t.retain, &f("retain"), DEFAULT_RETAIN as u32) as usize;
    let mode = c.choice_or(&t.mode, &f("mode"), CheckpointMode::ExactlyOnce);
    let timeout_ms = t
        .timeout
        .as_ref()
        .map_or(DEFAULT_CHECKPOINT_TIMEOUT_MS, |m| m.get_ref().0);
    if timeout_ms == 0 {
        c.report(
            t.timeout.as_ref().map(Spanned::span),
            f("timeout"),
            "must be greater than zero",
        );
    }
    Some(CheckpointConfig {
        interval_ms,
        retain,
        mode,
        timeout_ms,
        min_pause_ms: t.min_pause.as_ref().map_or(0, |m| m.get_ref().0),
    })
}

pub(super) fn restart(c: &mut Checker<'_>, job: &JobTable, checkpoints: bool) -> RestartStrategy {
    let default_exponential = || RestartStrategy::ExponentialDelay {
        attempts: DEFAULT_RESTART_ATTEMPTS,
        initial_ms: 1_000,
        max_ms: 60_000,
        multiplier: 1.5,
        reset_after_ms: 3_600_000,
        jitter: 0.1,
    };
    let Some(t) = job.restart.as_ref().map(Spanned::get_ref) else {
        return if checkpoints {
            default_exponential()
        } else {
            RestartStrategy::None
        };
    };
    let f = |s: &str| format!("job.restart.{s}");
    let ms = |v: &Option<Spanned<crate::manifest::Millis>>, default: u64| {
        v.as_ref().map_or(default, |m| m.get_ref().0)
    };
    let word: Option<RestartWord> = c.choice(&t.strategy, &f("strategy"));
    // Each strategy takes only its own parameters.
    let allowed: &[&str] = match word {
        Some(RestartWord::None) | None => &[],
        Some(RestartWord::FixedDelay) => &["attempts", "delay"],
        Some(RestartWord::ExponentialDelay) => &[
            "attempts",
            "initial_backoff",
            "max_backoff",
            "backoff_multiplier",
            "reset_backoff_threshold",
            "jitter_factor",
        ],
        Some(RestartWord::FailureRate) => &[
            "max_failures_per_interval",
            "failure_rate_interval",
            "delay",
        ],
    };
    let given = [
        ("attempts", t.attempts.as_ref().map(Spanned::span)),
        ("delay", t.delay.as_ref().map(Spanned::span)),
        (
            "initial_backoff",
            t.initial_backoff.as_ref().map(Spanned::span),
        ),
        ("max_backoff", t.max_backoff.as_ref().map(Spanned::span)),
        (
            "backoff_multiplier",
            t.backoff_multiplier.as_ref().map(Spanned::span),
        ),
        (
            "reset_backoff_threshold",
            t.reset_backoff_threshold.as_ref().map(Spanned::span),
        ),
        ("jitter_factor", t.jitter_factor.as_ref().map(Spanned::span)),
        (
            "max_failures_per_interval",
            t.max_failures_per_interval.as_ref().map(Spanned::span),
        ),
        (
            "failure_rate_interval",
            t.failure_rate_interval.as_ref().map(Spanned::span),
        ),
    ];
    if word.is_some() {
        for (name, span) in given {
            if let Some(span) = span
                && !allowed.contains(&name)
            {
                c.report(
                    Some(span),
                    f(name),
                    format!("`{}` restarts have no `{name}`", t.strategy.get_ref()),
                );
            }
        }
    }
    match word {
        None => default_exponential(),
        Some(RestartWord::None) => RestartStrategy::None,
        Some(RestartWord::FixedDelay) => RestartStrategy::FixedDelay {
            attempts: t.attempts.as_ref().map_or(3, |a| *a.get_ref()),
            delay_ms: ms(&t.delay, 1_000),
        },
        Some(RestartWord::ExponentialDelay) => {
            let multiplier = t.backoff_multiplier.as_ref().map_or(1.5, |m| *m.get_ref());
            if !(1.0..=100.0).contains(&multiplier) {
                c.report(
                    t.backoff_multiplier.as_ref().map(Spanned::span),
                    f("backoff_multiplier"),
                    "must be between 1 and 100",
                );
            }
            let jitter = t.jitter_factor.as_ref().map_or(0.1, |m| *m.get_ref());
            if !(0.0..=1.0).contains(&jitter) {
                c.report(
                    t.jitter_factor.as_ref().map(Spanned::span),
                    f("jitter_factor"),
                    "must be between 0 and 1",
                );
            }
            RestartStrategy::ExponentialDelay {
                attempts: t
                    .attempts
                    .as_ref()
                    .map_or(DEFAULT_RESTART_ATTEMPTS, |a| *a.get_ref()),
                initial_ms: ms(&t.initial_backoff, 1_000),
                max_ms: ms(&t.max_backoff, 60_000),
                multiplier,
                reset_after_ms: ms(&t.reset_backoff_threshold, 3_600_000),
                jitter,
            }
        }
        Some(RestartWord::FailureRate) => RestartStrategy::FailureRate {
            max_failures: c.positive(
                &t.max_failures_per_interval,
                &f("max_failures_per_interval"),
                1,
            ),
            interval_ms: ms(&t.failure_rate_interval, 60_000),
            delay_ms: ms(&t.delay, 1_000),
        },
    }
}

pub(super) fn control(c: &mut Checker<'_>, job: &JobTable) -> ControlConfig {
    let t = job.control.as_ref().map(Spanned::get_ref);
    let bind = t
        .and_then(|t| t.bind.as_ref())
        .map_or_else(|| "127.0.0.1:0".to_owned(), |b| b.get_ref().clone());
    let token_env = t
        .and_then(|t| t.token_env.as_ref())
        .map(|e| e.get_ref().clone());
    match bind.parse::<std::net::SocketAddr>() {
        Ok(addr) if !addr.ip().is_loopback() && token_env.is_none() => c.report(
            t.and_then(|t| t.bind.as_ref()).map(Spanned::span),
            "job.control.bind",
            "off loopback the control endpoint needs a bearer token: set `token_env` to the environment variable holding it",
        ),
        Ok(_) => {}
        Err(e) => c.report(
            t.and_then(|t| t.bind.as_ref()).map(Spanned::span),
            "job.control.bind",
            format!("`{bind}` is not an address such as 127.0.0.1:8081: {e}"),
        ),
    }
    ControlConfig { bind, token_env }
}
