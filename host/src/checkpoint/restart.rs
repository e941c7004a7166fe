//! Deciding whether, and after how long, a failed job restarts (Flink's restart
//! strategies). Pure: the caller tells the time.

use std::time::Duration;

use crate::manifest::RestartStrategy;

/// One failure and what was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Restart {
    /// When the failure happened (milliseconds since the job started).
    pub at_ms: u64,
    /// The error.
    pub error: String,
    /// The wait before restarting, or `None`: the strategy gave up.
    pub delay: Option<Duration>,
}

/// A restart strategy with its history.
#[derive(Debug, Clone)]
pub struct Restarter {
    strategy: RestartStrategy,
    failures: Vec<u64>,
    /// Failures counted towards `attempts` (exponential delay resets it).
    counted: u32,
    backoff_ms: f64,
    last_failure_ms: Option<u64>,
    /// A pseudo-random state for jitter (the same sequence every run).
    seed: u64,
    /// Every failure so far.
    pub history: Vec<Restart>,
}

impl Restarter {
    /// A fresh strategy.
    pub fn new(strategy: RestartStrategy) -> Self {
        let backoff_ms = match &strategy {
            RestartStrategy::ExponentialDelay { initial_ms, .. } => *initial_ms as f64,
            _ => 0.0,
        };
        Self {
            strategy,
            failures: Vec::new(),
            counted: 0,
            backoff_ms,
            last_failure_ms: None,
            seed: 0x2545_f491_4f6c_dd1d,
            history: Vec::new(),
        }
    }

    /// A failure at `now_ms` (since the job started): the wait before restarting, or
    /// `None` to give up.
    pub fn failed(&mut self, now_ms: u64, error: String) -> Option<Duration> {
        self.failures.push(now_ms);
        let delay = match self.strategy.clone() {
            RestartStrategy::None => None,
            RestartStrategy::FixedDelay { attempts, delay_ms } => {
                self.counted += 1;
                (self.counted <= attempts).then(|| Duration::from_millis(delay_ms))
            }
            RestartStrategy::FailureRate {
                max_failures,
                interval_ms,
                delay_ms,
            } => {
                let recent = self
                    .failures
                    .iter()
                    .filter(|&&t| now_ms.saturating_sub(t) < interval_ms)
                    .count();
                (recent <= max_failures as usize).then(|| Duration::from_millis(delay_ms))
            }
            RestartStrategy::ExponentialDelay {
                attempts,
                initial_ms,
                max_ms,
                multiplier,
                reset_after_ms,
                jitter,
            } => {
                if self
                    .last_failure_ms
                    .is_some_and(|last| now_ms.saturating_sub(last) >= reset_after_ms)
                {
                    self.backoff_ms = initial_ms as f64;
                    self.counted = 0;
                }
                self.counted += 1;
                if self.counted > attempts {
                    None
                } else {
                    let base = self.backoff_ms.min(max_ms as f64);
                    self.backoff_ms = (self.backoff_ms * multiplier).min(max_ms as f64);
                    let spread = base * jitter * (2.0 * self.random() - 1.0);
                    Some(Duration::from_millis((base + spread).max(0.0) as u64))
                }
            }
        };
        self.last_failure_ms = Some(now_ms);
        self.history.push(Restart {
            at_ms: now_ms,
            error,
            delay,
        });
        delay
    }

    /// What the history says, one line per failure.
    pub fn describe(&self) -> String {
        self.history
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let then = match r.delay {
                    Some(d) => format!("restarted after {} ms", d.as_millis()),
                    None => "gave up".to_owned(),
                };
                format!(
                    "  failure {} at {:.1}s ({then}): {}",
                    i + 1,
                    r.at_ms as f64 / 1000.0,
                    r.error.lines().next().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn random(&mut self) -> f64 {
        // xorshift64*
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        (self.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_delay_restarts_n_times_then_gives_up() {
        let mut r = Restarter::new(RestartStrategy::FixedDelay {
            attempts: 2,
            delay_ms: 50,
        });
        assert_eq!(r.failed(0, "a".into()), Some(Duration::from_millis(50)));
        assert_eq!(r.failed(10, "b".into()), Some(Duration::from_millis(50)));
        assert_eq!(r.failed(20, "c".into()), None);
        assert_eq!(r.history.len(), 3);
        assert!(r.describe().contains("gave up"));
    }

    #[test]
    fn exponential_delay_grows_to_its_maximum_and_resets_after_a_quiet_spell() {
        let mut r = Restarter::new(RestartStrategy::ExponentialDelay {
            attempts: 100,
            initial_ms: 100,
            max_ms: 1_000,
            multiplier: 2.0,
            reset_after_ms: 10_000,
            jitter: 0.0,
        });
        let waits: Vec<u128> = (0..6)
            .map(|i| r.failed(i, String::new()).unwrap().as_millis())
            .collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(
            r.failed(20_000, String::new()),
            Some(Duration::from_millis(100))
        );
    }

    #[test]
    fn exponential_delay_gives_up_after_its_attempts_and_jitters_within_bounds() {
        let mut r = Restarter::new(RestartStrategy::ExponentialDelay {
            attempts: 3,
            initial_ms: 1_000,
            max_ms: 1_000,
            multiplier: 1.5,
            reset_after_ms: 3_600_000,
            jitter: 0.1,
        });
        for i in 0..3 {
            let d = r.failed(i, String::new()).unwrap().as_millis();
            assert!((900..=1100).contains(&d), "{d}");
        }
        assert_eq!(r.failed(4, String::new()), None);
    }

    #[test]
    fn failure_rate_gives_up_when_too_many_failures_fall_in_the_interval() {
        let mut r = Restarter::new(RestartStrategy::FailureRate {
            max_failures: 2,
            interval_ms: 1_000,
            delay_ms: 10,
        });
        assert!(r.failed(0, String::new()).is_some());
        assert!(r.failed(100, String::new()).is_some());
        assert!(r.failed(200, String::new()).is_none());
        let mut r = Restarter::new(RestartStrategy::FailureRate {
            max_failures: 2,
            interval_ms: 1_000,
            delay_ms: 10,
        });
        for t in [0, 600, 1200, 1800, 2400] {
            assert!(r.failed(t, String::new()).is_some(), "at {t}");
        }
    }

    #[test]
    fn no_strategy_gives_up_at_once() {
        let mut r = Restarter::new(RestartStrategy::None);
        assert_eq!(r.failed(0, "x".into()), None);
    }
}
