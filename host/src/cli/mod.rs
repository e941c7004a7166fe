//! The `weir` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::manifest::{Override, load_file};
use crate::runtime::{JobError, RunOptions, start};

/// weir: a stream processor whose user functions are WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a job to its end (or until Ctrl-C) and prints what went in and out.
    Run {
        /// The job manifest (TOML).
        manifest: PathBuf,
        /// Overrides a manifest value, e.g. `--set sources.events.path=/data/x`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        overrides: Vec<Override>,
        /// Keep the state directory when the job ends.
        #[arg(long)]
        keep_state: bool,
    },
    /// Checks a manifest and reports every problem with its file, line and field.
    Validate {
        /// The job manifest (TOML).
        manifest: PathBuf,
        /// Overrides a manifest value, e.g. `--set job.parallelism=4`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        overrides: Vec<Override>,
    },
}

/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Validate {
            manifest,
            overrides,
        } => match load_file(&manifest, &overrides) {
            Ok(job) => {
                // The functions are checked as a run would load them (compiled code is
                // cached, so a run after this does not compile again).
                if let Err(e) = crate::runtime::check_functions(&job, &RunOptions::default()) {
                    eprintln!("{}: {e}", manifest.display());
                    return ExitCode::from(2);
                }
                println!(
                    "{}: job `{}` is valid ({} nodes, parallelism {}; every function loads and exports its world)",
                    manifest.display(),
                    job.name,
                    job.nodes.len(),
                    job.parallelism
                );
                ExitCode::SUCCESS
            }
            Err(d) => {
                eprint!("{d}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            manifest,
            overrides,
            keep_state,
        } => {
            let job = match load_file(&manifest, &overrides) {
                Ok(job) => job,
                Err(d) => {
                    eprint!("{d}");
                    return ExitCode::from(2);
                }
            };
            let options = RunOptions {
                keep_state,
                ..RunOptions::default()
            };
            let job_sinks: Vec<PathBuf> = job
                .nodes
                .iter()
                .filter_map(|n| match &n.kind {
                    crate::manifest::NodeKind::Sink {
                        kind: crate::manifest::SinkKind::File { path },
                        ..
                    } => Some(path.clone()),
                    _ => None,
                })
                .collect();
            let handle = match start(job, options) {
                Ok(h) => h,
                Err(e) => return fail(e),
            };
            watch_signals(&handle, part_files(&job_sinks));
            match handle.wait() {
                Ok(report) => {
                    eprint!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

fn fail(e: JobError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

/// The part files file sinks write until the job ends well.
fn part_files(sinks: &[PathBuf]) -> Vec<PathBuf> {
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
fn watch_signals(handle: &crate::runtime::JobHandle, parts: Vec<PathBuf>) {
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

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("WEIR_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
