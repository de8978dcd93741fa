//! `brunel`: runs the Brunel (2000) network, writes SONATA HDF5 result files, draws Fig. 8.
//!
//! ```text
//! brunel run CONFIG [--backend reference|cpu|opencl|auto] [--threads N] [--device N]
//!            [--seed N] [--duration MS] [--set key=value]... [--record first:50|all|none]
//!            [--out FILE.h5] [--plot FILE.png] [--force]
//! brunel plot FILE.h5 [FILE.h5 ...] -o FIG.png
//! brunel info FILE.h5
//! brunel backends [--format text|toml]
//! ```

/// `println!` that never panics: a closed stdout (`brunel info f.h5 | head -1`) is not an error
/// worth a panic, so write errors are ignored.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that never panics.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod choose;
#[cfg(test)]
mod fuzz_read;
mod info;
mod interrupt;
mod output;
mod plot;
mod profile;
mod run;
mod time;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Brunel (2000)'s network of 12 500 leaky integrate-and-fire neurons, as Brian2's example
/// runs it.
#[derive(Debug, Parser)]
#[command(
    name = "brunel",
    version,
    propagate_version = true,
    after_help = "Exit status: 0 done, 1 refused or failed (one message on stderr), 2 a bad command line, 130 / 143 stopped by Ctrl-C (SIGINT) / SIGTERM, with no file left behind."
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
    /// Draws result files as Fig. 8's panels (raster of neurons 0..50 above the population
    /// rate), side by side.
    Plot {
        /// Result files written by `brunel run`, one panel each, left to right.
        #[arg(required = true, value_name = "FILE.h5")]
        files: Vec<PathBuf>,
        /// The PNG to write (replaced if it exists).
        #[arg(short, long, value_name = "FIG.png")]
        out: PathBuf,
    },
    /// Prints the summary of a result file: provenance, rates, spikes, timings.
    Info {
        /// A result file written by `brunel run`.
        #[arg(value_name = "FILE.h5")]
        file: PathBuf,
    },
    /// Reads a result file and exits 0 (readable) or 1: the child process through which
    /// `info` and `plot` read files of unknown origin (a crash here is not theirs).
    #[command(name = "__check-result", hide = true)]
    CheckResult {
        #[arg(value_name = "FILE.h5")]
        file: PathBuf,
    },
    /// Lists the backends and OpenCL devices present on this machine.
    Backends {
        /// `text` for people, `toml` for scripts.
        #[arg(long, value_enum, default_value_t = info::BackendsFormat::Text)]
        format: info::BackendsFormat,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => interrupt::install().and_then(|()| run::run(args)),
        Command::Plot { files, out } => interrupt::install()
            .and_then(|()| plot::plot_files(files, out))
            .map(|()| {
                say!("figure {}", out.display());
            }),
        Command::Info { file } => info::info(file),
        Command::Backends { format } => info::backends(*format),
        Command::CheckResult { file } => output::read(file).map(drop),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            note!("error: {}", message(&e));
            match e.downcast_ref::<interrupt::Interrupted>() {
                Some(i) => ExitCode::from(i.exit_code()),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// The most of an error message printed: messages echo input (a config's line, a key), which
/// must not flood the terminal.
const MAX_MESSAGE: usize = 4000;

/// The error and its causes on one line, `outer: inner: ...`, leaving out a cause whose text
/// the message already holds (core's errors print their source themselves).
fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    // Control characters of echoed input are escaped (line breaks and tabs of a TOML error's
    // layout are kept), and the whole is bounded.
    let mut out = String::new();
    for c in text.chars() {
        if out.len() >= MAX_MESSAGE {
            out.push_str(" … (message cut)");
            break;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
