//! Ctrl-C (SIGINT), SIGTERM and SIGHUP: the first sets a flag that the run loop and the writer
//! check, so that the command stops at the next chunk of steps or the next dataset, removes its
//! temporary file, keeps any earlier result of the same name and exits with 128 + the signal
//! (130, 143, 129); a second signal exits at once with that code (its temporary file is then
//! removed by the next run, see [`crate::files::remove_stale_temps`]). SIGXFSZ is ignored, so
//! that a file size limit makes a write fail (reported) instead of killing the process.
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

/// How many [`AtOnce`] guards are alive: while any is, a signal ends the process at once.
static AT_ONCE: AtomicUsize = AtomicUsize::new(0);

/// Set by the first SIGINT or SIGTERM.
static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// The number of the last signal received.
static WHICH: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// A command stopped by a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted {
    /// The signal's number (SIGINT 2, SIGHUP 1, SIGTERM 15): the exit code is 128 + it.
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
            signal_hook::consts::SIGHUP => "SIGHUP (the terminal closed)",
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
    // A file size limit (`ulimit -f`) would kill the process mid-write with SIGXFSZ, leaving
    // its temporary file: ignored, the write fails with EFBIG instead, which is reported and
    // cleaned up like any failed write.
    ignore_file_size_signal();
    // A closed terminal (SIGHUP) stops a command as SIGTERM does.
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        // While nothing is on disk that a stop must tidy (see `AtOnce`), the first signal
        // ends the process here, in the handler: the work in progress (a network being
        // drawn) has no place where it looks at the flag.
        let message = match sig {
            signal_hook::consts::SIGINT => "error: interrupted by SIGINT (Ctrl-C)\n",
            signal_hook::consts::SIGTERM => "error: interrupted by SIGTERM\n",
            _ => "error: interrupted by SIGHUP (the terminal closed)\n",
        };
        // SAFETY: the action only loads atomics, removes files (unlink), writes to stderr and
        // calls _exit, all async-signal-safe.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                if AT_ONCE.load(Ordering::SeqCst) > 0 {
                    // The command's claims on its outputs go with it.
                    crate::files::remove_claims_now();
                    libc::write(2, message.as_ptr().cast(), message.len());
                    libc::_exit(128 + sig);
                }
            })?;
        }
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

/// `e`, the error of a command that had written the outputs `written` (complete, and kept)
/// when it stopped: a stop by a signal is said with them named, and those not written
/// (`left`); any other error is returned as it is. The exit code stays the signal's.
pub fn after_written(
    e: anyhow::Error,
    written: &[&std::path::Path],
    left: &[&std::path::Path],
) -> anyhow::Error {
    let Some(i) = e
        .chain()
        .find_map(|c| c.downcast_ref::<Interrupted>().copied())
    else {
        return e;
    };
    let list = |paths: &[&std::path::Path]| -> String {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    };
    let was = |n: usize| if n == 1 { "was" } else { "were" };
    let mut text = format!("{i} after {} {} written", list(written), was(written.len()));
    if !left.is_empty() {
        text.push_str(&format!("; {} {} not", list(left), was(left.len())));
    }
    anyhow::Error::new(i).context(text)
}

/// [`check`], for a command that has written `written` and not yet `left`: see
/// [`after_written`]. With nothing left the command is done, and a signal changes nothing.
pub fn check_after(written: &[&std::path::Path], left: &[&std::path::Path]) -> Result<()> {
    if left.is_empty() {
        return Ok(());
    }
    check().map_err(|e| after_written(e, written, left))
}

/// Ignores SIGXFSZ, so that a write beyond the file size limit (`ulimit -f`) fails with EFBIG
/// (reported, its temporary removed) instead of killing the process: for every command, those
/// writing only to stdout too. (Part of [`install`].)
pub fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN runs no code of ours in the handler.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
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

/// While alive, the first signal ends the process at once, with its exit code and the usual
/// message (once [`install`]ed): for work that has no place to look at the flag (drawing a
/// network, building a backend) and leaves nothing on disk if it stops anywhere. Not in an MPI
/// job of several ranks, whose ranks must stop together at a chunk's end.
pub struct AtOnce {
    active: bool,
}

impl AtOnce {
    /// Starts such a stretch of work; a signal already received ends it at once.
    pub fn begin() -> Result<AtOnce> {
        let ranks = brunel_backends::parallel::rank().map_or(1, |(_, ranks)| ranks);
        if ranks > 1 {
            return Ok(AtOnce { active: false });
        }
        AT_ONCE.fetch_add(1, Ordering::SeqCst);
        let guard = AtOnce { active: true };
        check()?;
        Ok(guard)
    }
}

impl Drop for AtOnce {
    fn drop(&mut self) {
        if self.active {
            AT_ONCE.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Wall time one call of a backend may take between two looks at the flag.
const PACE_TARGET: Duration = Duration::from_millis(200);

/// The sizes of the chunks of steps a run hands its backend: as large as `max` (few calls
/// cost less), but small enough that a call takes about 200 ms (`PACE_TARGET`), so that a
/// signal is acted on within a fraction of a second even on a network that takes seconds per
/// `max` steps. The first chunk is `align` steps (one delay: the backend's batch) and later ones
/// follow the measured time per step, in whole multiples of `align`. The chunks change
/// nothing in the run's results, only how often it looks at the flag.
#[derive(Debug, Clone)]
pub struct Pace {
    max: u64,
    align: u64,
    next: u64,
}

impl Pace {
    /// Chunks of at most `max` steps (the run's chunk size), in multiples of `align` steps;
    /// both are taken as at least 1 and `align` as at most `max`.
    pub fn new(max: u64, align: u64) -> Pace {
        let align = align.clamp(1, max.max(1));
        Pace {
            max: max.max(1),
            align,
            next: align,
        }
    }

    /// The next chunk, at most `left` steps.
    pub fn next(&self, left: u64) -> u64 {
        self.next.min(left).max(1)
    }

    /// Records that `steps` steps took `took`, and sizes the next chunk from it.
    pub fn took(&mut self, steps: u64, took: Duration) {
        if steps == 0 {
            return;
        }
        let per_step = took.as_secs_f64() / steps as f64;
        let fit = if per_step > 0.0 {
            (PACE_TARGET.as_secs_f64() / per_step).min(self.max as f64) as u64
        } else {
            self.max
        };
        // Grow at most fourfold a call (a first chunk may run before the caches are warm).
        let fit = fit.min(self.next.saturating_mul(4));
        self.next = (fit / self.align * self.align).clamp(self.align, self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_follows_the_time_per_step() {
        let mut p = Pace::new(600, 15);
        assert_eq!(p.next(1000), 15);
        assert_eq!(p.next(4), 4);
        // Fast steps: grows fourfold a call up to the maximum.
        p.took(15, Duration::from_micros(15));
        assert_eq!(p.next(1000), 60);
        for _ in 0..5 {
            p.took(60, Duration::from_micros(60));
        }
        assert_eq!(p.next(1000), 600);
        // Slow steps (10 ms each): 20 steps would take the target; a whole batch is 15.
        p.took(600, Duration::from_secs(6));
        assert_eq!(p.next(1000), 15);
        // Slower than a batch per target: still a whole batch.
        p.took(15, Duration::from_secs(3));
        assert_eq!(p.next(1000), 15);
    }
}
