//! Named crash points for tests of recovery: `WEIR_CRASH_AT=<name>[:<n>]` kills the
//! process with SIGKILL (no clean-up, as `kill -9`) the `n`-th time (default: first) the
//! named point is reached. Points: `part-pending` (a sink's part has become pending at a
//! barrier), `metadata-written` (a checkpoint's metadata is written, its completion not
//! yet announced), `commit-part` (between committing two parts), `restore` (keyed state
//! restored, tasks not started), `swap-switched` (a task switched to a swap's new version
//! at its barrier, before acknowledging it), `swap-metadata-written` (the metadata of a
//! swap's checkpoint is written, its completion not yet announced).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static SPEC: OnceLock<Option<(String, u64)>> = OnceLock::new();
static SEEN: AtomicU64 = AtomicU64::new(0);

/// Reaches crash point `name`.
pub fn crash_point(name: &str) {
    let spec = SPEC.get_or_init(|| {
        let v = std::env::var("WEIR_CRASH_AT").ok()?;
        let (n, count) = match v.split_once(':') {
            Some((n, c)) => (n.to_owned(), c.parse().unwrap_or(1)),
            None => (v, 1),
        };
        Some((n, count))
    });
    if let Some((n, count)) = spec
        && n == name
        && SEEN.fetch_add(1, Ordering::SeqCst) + 1 == *count
    {
        eprintln!("crash point `{name}` reached: killing the process");
        // SAFETY: raising a signal in our own process; SIGKILL is not caught.
        unsafe {
            libc::raise(libc::SIGKILL);
        }
    }
}
