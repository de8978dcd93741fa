//! Pinning the pool's threads to CPUs, one each.
//!
//! Why (runs beside a busy process are in `benches/results/`): on a machine shared with another
//! busy process, threads that are free to move end up on the same CPU (the waits between
//! batches make them look light to the scheduler), and the run gets one core in all whatever
//! the threads do; pinned, each keeps a core of its own and shares it only with what the
//! scheduler puts beside it. On a quiet machine pinning changes nothing measurable.
//!
//! `BRUNEL_CPU_PIN` chooses: `auto` (the default) pins when the pool has one thread for every
//! CPU the process may run on (the default `--threads 0`), and at least two: a run that takes
//! fewer threads leaves the choice of CPUs to the system (several runs side by side, say);
//! `1` (or `on`) pins in any case, thread i to the i-th CPU the process may use (wrapping
//! round); `0` (or `off`) never pins. An MPI rank's threads are pinned only with `1`: several
//! ranks may share the machine, and their own binding (`mpirun --bind-to`) decides.

use brunel_core::{Error, Result};

/// The variable that chooses.
pub(crate) const VARIABLE: &str = "BRUNEL_CPU_PIN";

/// The CPUs to pin the pool's `threads` threads to (thread i to `cpus[i % len]`), or none:
/// as `BRUNEL_CPU_PIN` asks, on the CPUs this process may run on. Without `auto`, `auto` means
/// never (an MPI rank's threads: several ranks may share the CPUs).
pub(crate) fn plan(threads: usize, auto: bool) -> Result<Option<Vec<usize>>> {
    let setting = std::env::var(VARIABLE).ok();
    decide(setting.as_deref(), threads, &allowed(), auto)
}

/// [`plan`] for a `setting` of the variable, the `allowed` CPUs and whether `auto` may pin.
pub(crate) fn decide(
    setting: Option<&str>,
    threads: usize,
    allowed: &[usize],
    auto: bool,
) -> Result<Option<Vec<usize>>> {
    let always = match setting.map(str::trim) {
        None | Some("") | Some("auto") if !auto => return Ok(None),
        None | Some("") | Some("auto") => false,
        Some("1" | "on") => true,
        Some("0" | "off") => return Ok(None),
        Some(other) => {
            return Err(Error::Backend {
                backend: "cpu".into(),
                message: format!(
                    "{VARIABLE}={other:?}: expected auto (pin when there is one thread per CPU), 1 or on (always), 0 or off (never)"
                ),
            })
        }
    };
    if threads < 2 || allowed.is_empty() || !(always || allowed.len() == threads) {
        return Ok(None);
    }
    Ok(Some(allowed.to_vec()))
}

/// The CPUs this process may run on (its affinity), ascending; empty where unknown.
#[cfg(target_os = "linux")]
fn allowed() -> Vec<usize> {
    // SAFETY: sched_getaffinity writes at most `size_of::<cpu_set_t>()` bytes into the zeroed
    // set owned here; CPU_ISSET reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

#[cfg(not(target_os = "linux"))]
fn allowed() -> Vec<usize> {
    Vec::new()
}

/// Pins the calling thread to `cpu` (where the system refuses, the thread stays free).
#[cfg(target_os = "linux")]
pub(crate) fn pin(cpu: usize) {
    // SAFETY: CPU_SET writes one bit of the zeroed set owned here (`cpu` < CPU_SETSIZE: it
    // came from `allowed`); sched_setaffinity reads the set.
    unsafe {
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn pin(_cpu: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_pins_one_thread_per_allowed_cpu_only() {
        let cpus = [0, 1, 4, 5];
        assert_eq!(decide(None, 4, &cpus, true).unwrap(), Some(cpus.to_vec()));
        assert_eq!(
            decide(Some("auto"), 4, &cpus, true).unwrap(),
            Some(cpus.to_vec())
        );
        // Fewer threads than CPUs (runs side by side), more (oversubscribed), or one: free.
        assert_eq!(decide(None, 2, &cpus, true).unwrap(), None);
        assert_eq!(decide(None, 5, &cpus, true).unwrap(), None);
        assert_eq!(decide(None, 1, &[0], true).unwrap(), None);
        // Affinity unknown: free.
        assert_eq!(decide(None, 2, &[], true).unwrap(), None);
    }

    #[test]
    fn the_variable_forces_or_forbids() {
        let cpus = [2, 3];
        assert_eq!(decide(Some("1"), 3, &cpus, true).unwrap(), Some(vec![2, 3]));
        assert_eq!(
            decide(Some("on"), 2, &cpus, true).unwrap(),
            Some(vec![2, 3])
        );
        assert_eq!(decide(Some("0"), 2, &cpus, true).unwrap(), None);
        assert_eq!(decide(Some("off"), 2, &cpus, true).unwrap(), None);
        // Never a single thread.
        assert_eq!(decide(Some("1"), 1, &cpus, true).unwrap(), None);
        // Where `auto` may not pin (an MPI rank's threads), only `1` pins.
        assert_eq!(decide(None, 2, &cpus, false).unwrap(), None);
        assert_eq!(decide(Some("auto"), 2, &cpus, false).unwrap(), None);
        assert_eq!(
            decide(Some("1"), 2, &cpus, false).unwrap(),
            Some(vec![2, 3])
        );
        assert!(decide(Some("sometimes"), 2, &cpus, false).is_err());
        let err = decide(Some("yes please"), 2, &cpus, true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(VARIABLE) && err.contains("yes please"),
            "{err}"
        );
    }
}
