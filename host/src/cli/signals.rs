//! Ctrl-C and SIGTERM while a job runs.

use std::path::PathBuf;

/// The part files file sinks write until the job ends well.
pub fn part_files(sinks: &[PathBuf]) -> Vec<PathBuf> {
    sinks
        .iter()
        .filter_map(|p| crate::connector::part_path(p))
        .collect()
}

/// SIGINT (Ctrl-C) and SIGTERM do the same. The first stops the job: sources stop
/// reading, what was read is processed and written out, windows that have not ended are
/// left unfired (the summary counts them). The second cancels: tasks stop where they
/// are, output that was not committed is removed, and the process exits at once (after
/// at most a short grace period, even if a sink is blocked).
pub fn watch_signals(handle: &crate::runtime::JobHandle, parts: Vec<PathBuf>) {
    let (stop, cancel) = (handle.stopper(), handle.canceller());
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            let next = async |int: &mut tokio::signal::unix::Signal,
                              term: &mut tokio::signal::unix::Signal| {
                tokio::select! {
                    _ = int.recv() => ("SIGINT", 130),
                    _ = term.recv() => ("SIGTERM", 143),
                }
            };
            let (name, _) = next(&mut int, &mut term).await;
            eprintln!(
                "{name}: stopping — sources stop reading, what was read is written out, windows that have not ended are not emitted (signal again to cancel)"
            );
            stop();
            let (name, code) = next(&mut int, &mut term).await;
            eprintln!("{name}: cancelling — output that was not committed is removed");
            cancel();
            // Tasks see the cancellation within milliseconds unless one is blocked (in a
            // write to a full pipe, say): then leave without it.
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            for p in &parts {
                let _ = std::fs::remove_file(p);
            }
            eprintln!("error: the job was cancelled by {name}");
            std::process::exit(code);
        });
    });
}
