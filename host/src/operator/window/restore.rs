//! A window operator restored from a snapshot: its watermark, its timers rebuilt from the
//! windows its keyed state holds (a window with elements or an accumulator has not been
//! cleaned up; one recorded as fired waits only for late elements and its cleanup), and
//! its trigger's state with the periodic firings it had pending.

use anyhow::Result;

use super::WindowOperator;
use crate::time::{Timer, TimerKind, max_timestamp};

impl WindowOperator {
    /// Resumes from restored keyed state at `watermark`.
    pub fn restore(&mut self, watermark: i64) -> Result<()> {
        self.watermark = watermark;
        self.st.restored();
        let (windows, fired) = self.st.saved_windows()?;
        if let Some(a) = &mut self.aligned {
            // Aligned windows have no timers: their accumulators are read back as they fire.
            for (key, w) in windows {
                a.restored(&w, &key, self.st.keyed.group(&key));
            }
            return Ok(());
        }
        self.fired.extend(fired);
        let mut timers = Vec::with_capacity(2 * windows.len());
        let fires_at_end = self.spec.trigger.fires_at_end(self.event_time());
        for (key, w) in windows {
            let fire_at = max_timestamp(&w);
            if fires_at_end && !self.fired.contains(&(key.clone(), w)) {
                timers.push(Timer {
                    time: fire_at,
                    kind: TimerKind::Fire,
                    key: key.clone(),
                    window: w,
                });
            }
            timers.push(Timer {
                time: fire_at.saturating_add(self.spec.allowed_lateness),
                kind: TimerKind::Cleanup,
                key,
                window: w,
            });
        }
        self.timers.extend(timers);
        for ((key, w), st) in self.st.saved_triggers()? {
            // A window purged since its last firing holds nothing but its trigger state.
            let cleanup_at = max_timestamp(&w).saturating_add(self.spec.allowed_lateness);
            self.timers
                .register(cleanup_at, TimerKind::Cleanup, w, &key);
            if let Some(next) = st.next {
                self.register_periodic(&key, w, next);
            }
            self.trig.insert((key, w), st);
        }
        tracing::debug!(
            "window operator restored at watermark {watermark} with {} timers",
            self.timers.len()
        );
        Ok(())
    }
}
