//! The `brunel` program as a library: every subcommand's module, for the binary (`main.rs`)
//! and for the Python package (`crates/brunel-py`), which runs configs through the same code.
//! [`embed`] holds what a library caller needs beyond the subcommands: a run into memory with a
//! progress and cancel callback.

/// `println!` that never panics: a closed stdout (`brunel info f.h5 | head -1`) is not an error
/// worth a panic, so write errors are ignored.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
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
