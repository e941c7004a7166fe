//! The `weir` command line.
//!
//! - `run`: running a job (resuming from its latest checkpoint), `signals`: Ctrl-C and
//!   SIGTERM while it runs.
//! - `checkpoints`: listing and inspecting snapshots, savepoints, reading committed
//!   output.
//! - `build`, `new`: building function folders, and new ones from templates.
//! - `swap`: swapping a running operator's function.
//! - `status`: a running job's operators, and one key's state.

mod build;
mod checkpoints;
mod new;
mod run;
mod signals;
mod status;
mod swap;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::manifest::{Override, load_file};
use crate::runtime::{JobError, RunOptions};

/// weir: a stream processor whose user functions are WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a job to its end (or until Ctrl-C) and prints what went in and out. With
    /// checkpoints, resumes from the job's latest complete checkpoint.
    Run(run::RunArgs),
    /// Checks a manifest and reports every problem with its file, line and field, then
    /// loads every function as a run would.
    Validate {
        /// The job manifest (TOML).
        manifest: PathBuf,
        /// Overrides a manifest value, e.g. `--set job.parallelism=4`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        overrides: Vec<Override>,
    },
    /// Lists or inspects checkpoints and savepoints.
    #[command(subcommand)]
    Checkpoint(checkpoints::CheckpointCommand),
    /// Takes a savepoint of a running job (and stops it with `--stop`), or disposes of
    /// one (`--dispose PATH`).
    Savepoint {
        /// The job manifest (it locates the running job).
        manifest: Option<PathBuf>,
        /// Stop the job right after the savepoint.
        #[arg(long)]
        stop: bool,
        /// Where the savepoint goes (default: the job's checkpoint folder).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Deletes a savepoint folder.
        #[arg(long, value_name = "PATH", conflicts_with_all = ["manifest", "stop", "dir"])]
        dispose: Option<PathBuf>,
        /// Overrides a manifest value.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        overrides: Vec<Override>,
    },
    /// Builds a function folder (Rust, JavaScript or Python) into a component.
    Build(build::BuildArgs),
    /// Creates a function folder from a template: `weir new --lang js --kind map NAME`.
    New(new::NewArgs),
    /// Swaps a running operator's function for a new version, keeping its state.
    Swap(swap::SwapArgs),
    /// Shows a running job: status, checkpoints, and each operator's counts, rates,
    /// busy and back-pressured time, watermark lag and version.
    Status(status::StatusArgs),
    /// Reads the state of a running job.
    #[command(subcommand)]
    State(status::StateCommand),
    /// Prints a sink's committed output (the parts of its folder, in order).
    Output {
        /// The job manifest.
        manifest: PathBuf,
        /// The sink.
        sink: String,
        /// Overrides a manifest value.
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
        Command::Run(args) => run::run(args),
        Command::Build(args) => build::build(args),
        Command::New(args) => new::new(args),
        Command::Swap(args) => swap::main(args),
        Command::Status(args) => status::status(args),
        Command::State(c) => status::state(c),
        Command::Checkpoint(c) => checkpoints::main(c),
        Command::Savepoint {
            manifest,
            stop,
            dir,
            dispose,
            overrides,
        } => checkpoints::savepoint(manifest.as_deref(), &overrides, stop, dir, dispose),
        Command::Output {
            manifest,
            sink,
            overrides,
        } => checkpoints::output(&manifest, &overrides, &sink),
    }
}

fn fail(e: JobError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

/// Loads a manifest, printing its problems.
fn job_of(
    manifest: &std::path::Path,
    overrides: &[Override],
) -> Result<crate::manifest::Job, ExitCode> {
    load_file(manifest, overrides).map_err(|d| {
        eprint!("{d}");
        ExitCode::from(2)
    })
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
