//! `brunel`: runs the Brunel (2000) network, writes SONATA HDF5 result files, draws Fig. 8.
//!
//! ```text
//! brunel run CONFIG [--backend NAME|auto] [--threads N] [--device N] [--seed N] [--duration MS]
//!            [--set key=value]... [--record first:50|all|none] [--out FILE.h5] [--plot FILE.png]
//!            [--force] [--summary FILE.toml] [--quiet] [--checkpoint FILE [--checkpoint-every MS]]
//! brunel resume FILE [--duration MS] [--backend NAME|auto] [--out FILE.h5] ...
//! brunel sweep CONFIG --grid KEY=START:STOP:STEP... [--seeds S1,S2] --out SWEEP.h5 ...
//! brunel network CONFIG --out NETDIR [--set key=value]... [--seed N] [--force]
//! brunel plot FILE.h5 [FILE.h5 ...] -o FIG.png
//! brunel info FILE.h5
//! brunel backends [--format text|toml]
//! brunel profile path|show|write --size n=N,backend=NAME,...
//! brunel theory CONFIG [--set key=value]... [--format text|toml] [--grid KEY=START:STOP:STEP]...
//! ```
//!
//! Every option, with its whole help: docs/reference/cli.md (and the man page
//! docs/reference/brunel.1), which `cargo xtask docs` renders from the definitions below through
//! the hidden command `brunel __reference`.

use brunel_cli::{
    info, interrupt, message, network_file, note, output, phase, plot, profile, reference, resume,
    run, say, sweep, theory,
};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

/// The closing line of `brunel -h`; `brunel --help` (and the reference) add the environment.
macro_rules! exit_status {
    () => {
        "Exit status: 0 done, 1 refused or failed (one message on stderr), 2 a bad command line, 130 / 143 stopped by Ctrl-C (SIGINT) / SIGTERM, with no partial file left behind (an output completed before the signal is kept, and the message names it; a signal after the last output changes nothing)."
    };
}

/// Brunel (2000)'s network of 12 500 leaky integrate-and-fire neurons, as Brian2's example
/// runs it.
#[derive(Debug, Parser)]
#[command(
    name = "brunel",
    version,
    propagate_version = true,
    after_help = exit_status!(),
    after_long_help = concat!(
        exit_status!(),
        "\n\n",
        "Environment:\n",
        "- BRUNEL_OPENCL_DEVICE: the OpenCL device index that --device defaults to.\n",
        "- BRUNEL_PROFILE: the machine profile's file (default $XDG_CACHE_HOME/brunel/profile.toml, else ~/.cache/brunel/profile.toml).\n",
        "- BRUNEL_CPU_PIN: auto (default), 1 or 0: whether the cpu backend pins its threads to CPUs (see run --threads).\n",
        "- BRUNEL_READ_TIMEOUT: seconds (default 60) that info and plot let the child process that first reads a result file take before it counts as damaged.\n",
        "- BRUNEL_MPI_STATS=1: each MPI rank says on stderr how its time went.\n",
        "- BRUNEL_MPI_EXCHANGE=sizes: the MPI ranks exchange spikes in two rounds (sizes, then spikes) instead of fixed slots; for measurements."
    )
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulates the network of a config file and writes an HDF5 result file (SONATA spikes,
    /// population rate, provenance), then prints a summary.
    Run(run::RunArgs),
    /// Runs a config over a grid of config keys and seeds: per point the rates, ISI CV,
    /// population statistics, spectral peak, regime and the theory's rate (SWEEP.h5 and
    /// SWEEP.csv); rerunning the same command resumes an interrupted sweep.
    Sweep(sweep::SweepArgs),
    /// Writes the network of a config as a SONATA circuit (nodes.h5, edges.h5, the type CSVs,
    /// circuit_config.json) into a folder.
    Network(network_file::NetworkArgs),
    /// Continues a run from a checkpoint (`brunel run --checkpoint FILE`), on any backend and
    /// thread count; the result file is the one an uninterrupted run writes.
    Resume(resume::ResumeArgs),
    /// Draws result files as Fig. 8's panels (raster of neurons 0..50 above the population
    /// rate), side by side; a single sweep file (`brunel sweep`'s SWEEP.h5) as its phase
    /// diagram instead.
    Plot {
        /// Result files written by `brunel run`, one panel each, left to right (or one sweep
        /// file).
        #[arg(required = true, value_name = "FILE.h5")]
        files: Vec<PathBuf>,
        /// The PNG to write (a regular file, not one of the inputs; replaced if it exists).
        #[arg(short, long, value_name = "FIG.png")]
        out: PathBuf,
    },
    /// Prints the summary of a result file: provenance, rates, spikes, timings.
    Info {
        /// A result file written by `brunel run`.
        #[arg(value_name = "FILE.h5")]
        file: PathBuf,
    },
    /// The machine profile that `--backend auto` reads (`cargo xtask bench` writes it).
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Reads a result file and exits 0 (readable) or 1: the child process through which
    /// `info` and `plot` read files of unknown origin (a crash here is not theirs).
    #[command(name = "__check-result", hide = true)]
    CheckResult {
        #[arg(value_name = "FILE.h5")]
        file: PathBuf,
    },
    /// Lists every backend brunel knows: present here or not and why, and its devices.
    Backends {
        /// `text` for people, `toml` for scripts.
        #[arg(long, value_enum, default_value_t = info::BackendsFormat::Text)]
        format: info::BackendsFormat,
    },
    /// Prints the mean-field theory's prediction (Brunel 2000): every stationary rate and its
    /// linear stability (stable, or the frequency of the growing oscillation); over a grid of
    /// configs with --grid, with the phase boundaries.
    Theory(theory::TheoryArgs),
    /// Prints the command-line reference rendered from these definitions (what
    /// `cargo xtask docs` writes to docs/reference/ and `cargo xtask tidy` compares).
    #[command(name = "__reference", hide = true)]
    Reference {
        #[arg(value_enum)]
        format: ReferenceFormat,
    },
}

/// The forms of the command-line reference.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReferenceFormat {
    /// Markdown (docs/reference/cli.md).
    Markdown,
    /// A man page (docs/reference/brunel.1).
    Man,
}

/// Prints the command-line reference of [`Cli`] in `format` to stdout.
fn print_reference(format: ReferenceFormat) -> anyhow::Result<()> {
    use std::io::Write as _;
    let bytes = match format {
        ReferenceFormat::Markdown => reference::markdown(&Cli::command()).into_bytes(),
        ReferenceFormat::Man => reference::man(Cli::command())?,
    };
    std::io::stdout().write_all(&bytes)?;
    Ok(())
}

fn main() -> ExitCode {
    // Before anything is written (the help too): a file size limit fails a write instead of
    // killing the process.
    interrupt::ignore_file_size_signal();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // The help and the version go to stdout: a write error there fails the command.
            if let Err(w) = e.print() {
                if !e.use_stderr() {
                    brunel_cli::keep_stdout_error(w);
                }
            }
            if let Err(w) = brunel_cli::stdout_result() {
                note!("error: {}", message(&w));
                return ExitCode::FAILURE;
            }
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let result = match &cli.command {
        Command::Run(args) => interrupt::install().and_then(|()| run::run(args)),
        Command::Resume(args) => interrupt::install().and_then(|()| resume::resume(args)),
        Command::Network(args) => interrupt::install().and_then(|()| network_file::network(args)),
        Command::Sweep(args) => interrupt::install().and_then(|()| sweep::sweep(args)),
        Command::Plot { files, out } if files.len() == 1 && phase::is_sweep(&files[0]) => {
            interrupt::install()
                .and_then(|()| phase::plot(&files[0], out))
                .map(|()| {
                    say!("figure {}", out.display());
                })
        }
        Command::Plot { files, out } => interrupt::install()
            .and_then(|()| plot::plot_files(files, out))
            .map(|()| {
                say!("figure {}", out.display());
            }),
        Command::Info { file } => info::info(file),
        Command::Backends { format } => info::backends(*format),
        Command::Profile(cmd) => profile::command(cmd),
        Command::Theory(args) => theory::theory(args),
        Command::CheckResult { file } => output::read(file).map(drop),
        Command::Reference { format } => print_reference(*format),
    };
    // What was printed on stdout must have reached it (a closed pipe aside).
    match result.and_then(|()| brunel_cli::stdout_result()) {
        Ok(()) => {
            // Every rank of an MPI job ends together (MPI_Finalize); nothing without one.
            brunel_backends::parallel::finish();
            ExitCode::SUCCESS
        }
        Err(e) => {
            let rank = match brunel_backends::parallel::rank() {
                Some((rank, ranks)) if ranks > 1 => format!(" (MPI rank {rank} of {ranks})"),
                _ => String::new(),
            };
            note!("error{rank}: {}", message(&e));
            // Stopped by a signal: its exit code, also where the stop surfaced as another
            // error (a write cut short, a cause wrapped in a file's words).
            let code = match e
                .chain()
                .find_map(|c| c.downcast_ref::<interrupt::Interrupted>().copied())
                .or_else(interrupt::received)
            {
                Some(i) => i.exit_code(),
                None => 1,
            };
            // A failure on one rank of an MPI job ends the whole job at once (MPI_Abort).
            brunel_backends::parallel::abort(code as i32);
            ExitCode::from(code)
        }
    }
}
