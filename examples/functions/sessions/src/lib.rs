//! Summarises user sessions (session windows keyed by user): when a session closes, emits
//! `{"user","start","end","events","pages"}` with the number of distinct pages seen.
//!
//! It also keeps, in keyed state, how many sessions each user has had so far, and puts it
//! in the summary as `"session"` (1 for a user's first session).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use weir_sdk::{FiredWindow, InitContext, Output, ProcessWindow, Result, ValueState};

#[derive(Deserialize)]
struct Click<'a> {
    page: &'a str,
}

#[derive(Serialize)]
struct Summary<'a> {
    user: &'a str,
    start: i64,
    end: i64,
    events: usize,
    pages: usize,
    session: u64,
    update: bool,
}

/// The function: a per-user session counter.
pub struct Sessions {
    sessions: ValueState<u64>,
}

impl ProcessWindow for Sessions {
    fn init(ctx: &InitContext) -> Result<Self> {
        Ok(Sessions {
            sessions: ctx.value_state("sessions")?,
        })
    }

    fn process(&mut self, w: &FiredWindow<'_>, out: &mut Output) -> Result<()> {
        let mut pages = BTreeSet::new();
        for e in w.elements.iter() {
            pages.insert(e.json::<Click>()?.page);
        }
        // A re-firing (late clicks) updates a session already counted.
        let session = if w.update {
            self.sessions.get()?.unwrap_or(1)
        } else {
            self.sessions.update(|n| n.unwrap_or(0) + 1)?
        };
        out.emit_json(&Summary {
            user: w.key_str()?,
            start: w.window.start,
            end: w.window.end,
            events: w.elements.len(),
            pages: pages.len(),
            session,
            update: w.update,
        })
    }
}

weir_sdk::export_window!(Sessions);
