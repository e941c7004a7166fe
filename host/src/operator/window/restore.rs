//! A window operator restored from a snapshot: its watermark, and its timers rebuilt from
//! the windows its keyed state holds (a window with elements or an accumulator has not
//! been cleaned up; one recorded as fired waits only for late elements and its cleanup).

use anyhow::Result;

use super::WindowOperator;
use crate::time::{Timer, TimerKind, max_timestamp};

impl WindowOperator {
    /// Resumes from restored keyed state at `watermark`.
    pub fn restore(&mut self, watermark: i64) -> Result<()> {
        self.watermark = watermark;
        self.st.restored();
        let (windows, fired) = self.st.saved_windows()?;
        self.fired.extend(fired);
        let mut timers = Vec::with_capacity(2 * windows.len());
        for (key, w) in windows {
            let fire_at = max_timestamp(&w);
            let kinds: &[(TimerKind, i64)] = if self.fired.contains(&(key.clone(), w)) {
                &[(TimerKind::Cleanup, self.spec.allowed_lateness)]
            } else if self.event_time() {
                &[
                    (TimerKind::Fire, 0),
                    (TimerKind::Cleanup, self.spec.allowed_lateness),
                ]
            } else {
                &[(TimerKind::Fire, 0)]
            };
            for &(kind, after) in kinds {
                if kind == TimerKind::Cleanup && !self.event_time() {
                    continue;
                }
                timers.push(Timer {
                    time: fire_at.saturating_add(after),
                    kind,
                    key: key.clone(),
                    window: w,
                });
            }
        }
        self.timers.extend(timers);
        tracing::debug!(
            "window operator restored at watermark {watermark} with {} timers",
            self.timers.len()
        );
        Ok(())
    }
}
