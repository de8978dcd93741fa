//! The `brunel` program as a library: the run driver that the binary (`main.rs`) and the
//! Python package (`crates/brunel-py`) share, so that a config gives the same run, the same
//! checks and the same result file whichever of them starts it.
//!
//! A library caller uses:
//!
//! - [`embed`]: a config run into memory, [`embed::plan`] (the backend chosen and probed, the
//!   memory planned, as `brunel run` does before it builds anything) then [`embed::run`]
//!   (with a progress callback that may cancel); and [`embed::read_sweep`], a sweep file as
//!   arrays over its grid;
//! - [`output`]: result files, [`output::write_atomically`] and [`output::read`];
//! - the subcommands' modules, each with its arguments and entry point: [`run`], [`resume`]
//!   (from a [`checkpoint`]), [`network_file`], [`sweep`], [`theory`], [`plot`] and [`phase`],
//!   [`info`], [`profile`]; and what they share: [`choose`] (the `--backend` value resolved),
//!   [`files`] (every file written atomically), [`grid`] (`--grid`), [`interrupt`] (Ctrl-C
//!   and other signals);
//! - [`message`]: an error and its causes on one line, as the program prints it.
//!
//! A small network (1 000 neurons; Fig. 8 panel C's input) for 100 ms on the reference
//! backend, in memory, then written to a result file and read back:
//!
//! ```
//! use brunel_cli::{embed, output};
//! use brunel_core::Config;
//!
//! // Every key not given keeps its default (Brunel 2000, Fig. 8 panel C).
//! let config = Config::from_toml(
//!     "[network]\nn_e = 800\n[simulation]\nduration = 100.0\nseed = 7",
//! )?;
//! // The backend by its registry name (or `auto`), 1 thread, no device.
//! let planned = embed::plan(&config, "reference", 1, None)?;
//! // Called after every chunk of steps with (steps done, steps): `false` would cancel.
//! let finished = embed::run(&config, planned, |_done, _steps| true)?;
//!
//! let summary = &finished.results.summary;
//! assert_eq!((summary.n_neurons, summary.steps), (1000, 1000));
//! // Mean rates over the last 80 % of the run (Hz): the external input alone is twice the
//! // threshold's, so the neurons fire.
//! assert!(summary.mean_rate_exc > 1.0, "{} Hz", summary.mean_rate_exc);
//! assert_eq!(finished.stats.rate_exc_hz, summary.mean_rate_exc);
//! // The population rate has one value per step; the spikes of neurons 0..50 are recorded
//! // (`record.spikes` = first:50).
//! assert_eq!(finished.results.rate.len(), 1000);
//! let ids = &finished.results.node_ids;
//! assert!(!ids.is_empty() && ids.iter().all(|&id| id < 50));
//!
//! // The result file `brunel run` would write, here into a temporary folder.
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("panel_c.h5");
//! output::write_atomically(&path, &finished.results, false)?;
//! let back = output::read(&path)?;
//! assert_eq!(back.summary.spikes, summary.spikes);
//! assert_eq!(back.node_ids, finished.results.node_ids);
//! # Ok::<(), anyhow::Error>(())
//! ```

#![warn(missing_docs)]

/// `println!` that never panics: a closed stdout (`brunel info f.h5 | head -1`) is ignored;
/// any other write error (a full disk, a file size limit) is kept for [`stdout_result`],
/// which fails the command with it.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        $crate::say_line(format_args!($($arg)*));
    }};
}

/// The first error writing stdout other than a closed pipe.
static STDOUT_ERROR: std::sync::Mutex<Option<std::io::Error>> = std::sync::Mutex::new(None);

/// Keeps `e`, an error writing stdout, for [`stdout_result`], unless it is a closed pipe (the
/// reader took what it wanted: `brunel info f.h5 | head -1`) or an error is kept already.
pub fn keep_stdout_error(e: std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return;
    }
    let mut kept = STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
    kept.get_or_insert(e);
}

/// Writes `args` and a line break to stdout (what [`say!`] does).
#[doc(hidden)]
pub fn say_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        keep_stdout_error(e);
    }
}

/// Writes `bytes` to stdout, its errors handled as [`say!`]'s.
pub fn say_bytes(bytes: &[u8]) {
    use std::io::Write as _;
    if let Err(e) = std::io::stdout().lock().write_all(bytes) {
        keep_stdout_error(e);
    }
}

/// Flushes stdout and fails with the first error writing it other than a closed pipe, in
/// plain words: what the program checks before it exits, so that `brunel theory c.toml >
/// FILE` on a full disk fails instead of leaving an empty file behind exit 0.
pub fn stdout_result() -> anyhow::Result<()> {
    use std::io::Write as _;
    if let Err(e) = std::io::stdout().lock().flush() {
        keep_stdout_error(e);
    }
    let Some(e) = STDOUT_ERROR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    else {
        return Ok(());
    };
    let why = match e.raw_os_error() {
        Some(libc::ENOSPC) => "no space left on the device".to_owned(),
        Some(libc::EDQUOT) => "the disk quota is exhausted".to_owned(),
        Some(libc::EFBIG) => {
            "file too large (beyond the file size limit, `ulimit -f`, or the file system's)"
                .to_owned()
        }
        _ => e.to_string(),
    };
    anyhow::bail!("cannot write the output (stdout): {why}")
}

/// `eprintln!` that never panics.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod checkpoint;
pub mod choose;
pub mod embed;
pub mod files;
#[cfg(test)]
mod fuzz_read;
pub mod grid;
pub mod info;
pub mod interrupt;
pub mod network_file;
pub mod output;
pub mod phase;
pub mod plot;
pub mod profile;
pub mod reference;
pub mod resume;
pub mod run;
pub mod sweep;
pub mod theory;
pub mod time;

/// The most of an error message printed: messages echo input (a config's line, a key), which
/// must not flood the terminal.
pub const MAX_MESSAGE: usize = 4000;

/// The error and its causes on one line, `outer: inner: ...`, leaving out a cause whose text
/// the message already holds (core's errors print their source themselves).
pub fn message(e: &anyhow::Error) -> String {
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
    // A huge or tiny f64 prints as hundreds of digits: written as 1.000e300 instead.
    let text = brunel_core::config::short_numbers(&text);
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
