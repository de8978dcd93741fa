//! Ctrl-C (SIGINT) and SIGTERM: the first sets a flag that the run loop and the writer check,
//! so that the command stops at the next chunk of steps or the next dataset, removes its
//! temporary file, keeps any earlier result of the same name and exits with 128 + the signal
//! (130, 143); a second signal exits at once with that code (its temporary file is then
//! removed by the next run, see [`crate::output::remove_stale_temps`]).
//!
//! Test hooks (the signal tests use them; nobody else needs them): with `BRUNEL_TEST_MARK=DIR`
//! the program creates `DIR/running` after the first chunk of steps and `DIR/writing` in the
//! middle of writing the result; `BRUNEL_TEST_PAUSE=running` or `writing` makes it wait there
//! (until a signal, at most 60 s), so that a test can signal it at that very point;
//! `writing-hold` waits there even after a first signal (the test of the second Ctrl-C).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Result;

/// Set by the first SIGINT or SIGTERM.
static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// The number of the last signal received.
static WHICH: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// A command stopped by a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted {
    pub signal: i32,
}

impl Interrupted {
    /// The shell's convention: 128 + the signal's number.
    pub fn exit_code(self) -> u8 {
        (128 + self.signal).clamp(0, 255) as u8
    }

    fn name(self) -> &'static str {
        match self.signal {
            signal_hook::consts::SIGINT => "SIGINT (Ctrl-C)",
            signal_hook::consts::SIGTERM => "SIGTERM",
            _ => "a signal",
        }
    }
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", self.name())
    }
}

impl std::error::Error for Interrupted {}

/// Installs the handlers (once; later calls do nothing).
pub fn install() -> Result<()> {
    if FLAG.get().is_some() {
        return Ok(());
    }
    let flag = Arc::new(AtomicBool::new(false));
    let which = Arc::new(AtomicUsize::new(0));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it sees the flag as the earlier signal left it: the second
        // signal exits at once.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&flag))?;
        signal_hook::flag::register_usize(sig, Arc::clone(&which), sig as usize)?;
        signal_hook::flag::register(sig, Arc::clone(&flag))?;
    }
    let _ = FLAG.set(flag);
    let _ = WHICH.set(which);
    Ok(())
}

/// The signal received, if any.
pub fn received() -> Option<Interrupted> {
    let flag = FLAG.get()?;
    if !flag.load(Ordering::SeqCst) {
        return None;
    }
    let signal = WHICH.get().map_or(0, |w| w.load(Ordering::SeqCst)) as i32;
    Some(Interrupted { signal })
}

/// Stops the command in progress as a first `signal` would, without any handler installed: how
/// a library caller (the Python package, on its own KeyboardInterrupt) stops a sweep running on
/// another thread. [`clear`] undoes it before the caller's next command.
pub fn request(signal: i32) {
    WHICH
        .get_or_init(|| Arc::new(AtomicUsize::new(0)))
        .store(signal as usize, Ordering::SeqCst);
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
        .store(true, Ordering::SeqCst);
}

/// Forgets a signal received or requested, so that the next command runs.
pub fn clear() {
    if let Some(flag) = FLAG.get() {
        flag.store(false, Ordering::SeqCst);
    }
}

/// An error if a signal was received.
pub fn check() -> Result<()> {
    match received() {
        Some(i) => Err(i.into()),
        None => Ok(()),
    }
}

/// A test hook point: see the module's documentation.
pub fn test_point(name: &str) {
    let Some(dir) = std::env::var_os("BRUNEL_TEST_MARK") else {
        return;
    };
    let _ = std::fs::write(std::path::Path::new(&dir).join(name), b"");
    let pause = std::env::var("BRUNEL_TEST_PAUSE").unwrap_or_default();
    // `NAME-hold` waits even after a first signal: only a second one (or SIGKILL) ends it.
    let hold = pause == format!("{name}-hold");
    if pause == name || hold {
        let start = Instant::now();
        while (hold || received().is_none()) && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
