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
                println!(
                    "{}: job `{}` is valid ({} nodes, parallelism {})",
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
            let handle = match start(job, options) {
                Ok(h) => h,
                Err(e) => return fail(e),
            };
            let handle = std::sync::Arc::new(std::sync::Mutex::new(Some(handle)));
            watch_ctrl_c(handle.clone());
            let h = handle
                .lock()
                .expect("handle lock")
                .take()
                .expect("handle present");
            match h.wait() {
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

/// First Ctrl-C: stop (drain what was read); second: cancel.
fn watch_ctrl_c(handle: std::sync::Arc<std::sync::Mutex<Option<crate::runtime::JobHandle>>>) {
    let (stop, cancel) = {
        let guard = handle.lock().expect("handle lock");
        let h = guard.as_ref().expect("handle present");
        (h.stopper(), h.canceller())
    };
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping: finishing what was read (Ctrl-C again to cancel)");
                stop();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("cancelling");
                cancel();
            }
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
