//! How much memory a run takes, phase by phase, and whether this process may have it: the one
//! memory check, made where the network is about to be built (a config is valid or not
//! whatever the machine; whether it fits depends on the machine, the backend and the limits
//! the process runs under).
//!
//! [`plan`] adds up every large allocation of a run (the network as drawn, with its
//! reservation; the backend's own layout, state and arrival rings; the recorders; the arrays
//! of the result file) in the four phases in which they live together, and [`Limit::here`]
//! reads what this process may use: physical memory, the cgroup's `memory.max`, and the
//! address-space limit (`ulimit -v`, RLIMIT_AS). [`Plan::check`] refuses a run whose peak
//! does not fit, naming the biggest item and what to change.
//!
//! The recorded spikes are the one item whose size is not known before the run: it is bounded
//! by every recorded neuron firing once per refractory period, which is far above any
//! regime of the model. That bound is reported (a note), never a refusal.

use crate::config::{Config, Connectivity, RecordSpikes};
use crate::error::{Error, Result};

/// What a backend holds on the host, for [`plan`].
#[derive(Debug, Clone, PartialEq)]
pub struct BackendFacts {
    /// `reference`, `cpu`, `opencl`.
    pub name: String,
    /// Bytes per synapse of the backend's own copy of the network.
    pub bytes_per_synapse: f64,
    /// Parts the network is cut into (1 for an uncut one).
    pub parts: u64,
    /// Bytes per neuron and part (row offsets kept by every part).
    pub bytes_per_neuron_and_part: f64,
    /// Bytes per neuron of state (v, last spike, in-degrees).
    pub bytes_per_neuron: f64,
    /// Bytes of arrival rings per neuron and step of delay.
    pub ring_bytes_per_neuron_and_step: f64,
    /// Bytes of arrival rings per part and step of delay (fixed-size slots).
    pub ring_bytes_per_part_and_step: f64,
    /// Threads the backend starts (each reserves address space: stack, allocator arena).
    pub threads: u64,
}

impl BackendFacts {
    /// The reference backend: a copy of the network (u32 targets, u64 offsets), v and the
    /// last spike (16 bytes a neuron), two u32 arrival counts per neuron and step of delay.
    pub fn reference() -> BackendFacts {
        BackendFacts {
            name: "reference".into(),
            bytes_per_synapse: 4.0,
            parts: 1,
            bytes_per_neuron_and_part: 8.0,
            bytes_per_neuron: 16.0,
            ring_bytes_per_neuron_and_step: 8.0,
            ring_bytes_per_part_and_step: 0.0,
            threads: 1,
        }
    }
}

/// One allocation of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// What it holds, in words (`"the network's synapses (6.25e9, 4 bytes each)"`).
    pub what: String,
    /// Its size.
    pub bytes: u64,
    /// What to change to make it smaller.
    pub hint: &'static str,
    /// Whether `bytes` is a bound that the run will usually stay far below.
    pub at_most: bool,
}

/// The allocations of a run, by phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// (phase, the items alive together in it).
    pub phases: Vec<(&'static str, Vec<Item>)>,
    /// Threads the run starts.
    pub threads: u64,
}

/// Bytes in GiB.
pub fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// A size as a person reads it: `1.5 GiB` from 1 GiB up, else `585.9 MiB`, `12.0 KiB` or
/// `512 bytes`, so that no size reads as "0.0 GiB" and sizes below 1 GiB keep their digits.
pub fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", gib(bytes))
    } else if b >= 0.1 * (1u64 << 20) as f64 {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    } else if bytes >= 1024 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}

fn bytes(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        x.min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// Synapses the network build reserves room for: the expected count plus six standard
/// deviations for Bernoulli connectivity (what [`crate::Network::build`] reserves), the exact
/// count for fixed in-degree.
pub fn reserved_synapses(config: &Config) -> f64 {
    let n = config.n() as f64;
    match config.network.connectivity {
        Connectivity::Bernoulli => {
            let p = config.network.epsilon;
            let mean = n * n * p;
            mean + 6.0 * (mean * (1.0 - p)).sqrt() + 1.0
        }
        Connectivity::FixedIndegree => config.expected_synapses(),
    }
}

/// Resident memory of the program before it allocates anything large: code, libraries, HDF5,
/// thread stacks (a run of 125 neurons peaks at 16 MB).
pub const PROGRAM_BYTES: u64 = 16 << 20;

/// The memory of a run of `config` on the backend `facts` describes, which is made from the
/// whole network, drawn first.
pub fn plan(config: &Config, facts: &BackendFacts) -> Plan {
    plan_for(config, facts, true)
}

/// [`plan`], for a backend made from the whole network drawn first (`whole_network`) or from
/// the network not drawn yet ([`crate::Synapses::Draw`]), which draws its own parts: the
/// whole network is then never held, and what lives beside the backend's layout while it is
/// built is the parts being drawn at once (one per thread).
pub fn plan_for(config: &Config, facts: &BackendFacts, whole_network: bool) -> Plan {
    let n = config.n() as f64;
    let steps = config.steps() as f64;
    let delay = config.delay_steps() as f64;
    let synapses = reserved_synapses(config);
    let item = |what: String, b: f64, hint: &'static str| Item {
        what,
        bytes: bytes(b),
        hint,
        at_most: false,
    };
    let smaller = SMALLER;
    let network = network_items(config);
    // Bernoulli rows are drawn a wave of 1024 at a time before they are appended; fixed
    // in-degree columns are all drawn, then transposed.
    let wave = match config.network.connectivity {
        Connectivity::Bernoulli => item(
            "the rows being drawn".into(),
            1024.0 * (n * config.network.epsilon * 1.1 + 8.0) * 4.0,
            smaller,
        ),
        Connectivity::FixedIndegree => item(
            "the columns being drawn".into(),
            synapses * 4.0 + n * 24.0,
            smaller,
        ),
    };
    let degrees = item("the out-degrees".into(), n * 4.0, smaller);
    let name = &facts.name;
    let backend = vec![
        item(
            format!(
                "the {name} backend's copy of the synapses ({} bytes each)",
                facts.bytes_per_synapse
            ),
            config.expected_synapses() * facts.bytes_per_synapse,
            "another backend (--backend) or a smaller network",
        ),
        item(
            format!("the {name} backend's row offsets ({} parts)", facts.parts),
            (n + 1.0) * facts.parts as f64 * facts.bytes_per_neuron_and_part,
            "fewer threads (--threads) or a smaller network",
        ),
        item(
            format!("the {name} backend's neuron state"),
            n * facts.bytes_per_neuron,
            smaller,
        ),
        item(
            format!(
                "the {name} backend's arrival rings (a delay of {} steps)",
                config.delay_steps()
            ),
            delay
                * (n * facts.ring_bytes_per_neuron_and_step
                    + facts.parts as f64 * facts.ring_bytes_per_part_and_step),
            "a shorter synapse.delay, a larger simulation.dt or fewer threads (--threads)",
        ),
    ];
    let shorter = "a shorter run (--duration) or a larger simulation.dt";
    let counts = item(
        format!(
            "the population rate's spike counts ({} steps, 4 bytes each)",
            config.steps()
        ),
        steps * 4.0,
        shorter,
    );
    let stats = item("the per-neuron spike statistics".into(), n * 36.0, smaller);
    // Recorded spikes: at most one per recorded neuron and refractory period (+ the step).
    let recorded = match config.record.spikes {
        RecordSpikes::None => 0.0,
        RecordSpikes::All => n,
        RecordSpikes::First(k) => (k as f64).min(n),
    };
    let max_spikes = recorded * steps / (config.ref_steps() as f64 + 1.0);
    let spikes = |what: &str, per: f64| Item {
        what: format!("{what} (at most {max_spikes:.3e} spikes, {per} bytes each)"),
        bytes: bytes(max_spikes * per),
        hint: "--record none or --record first:N",
        at_most: true,
    };
    let rate = item(
        format!(
            "the population rate written ({} steps, 8 bytes each)",
            config.steps()
        ),
        steps * 8.0,
        shorter,
    );
    // The program itself, measured: a run of 125 neurons peaks at 16 MB.
    let program = item(
        "the program (code, libraries, HDF5)".into(),
        PROGRAM_BYTES as f64,
        smaller,
    );
    let mut build = network.clone();
    build.push(wave);
    let mut construct = if whole_network {
        network
    } else {
        // Fixed in-degree: a part's synapses in the lists they are transposed through (4 bytes
        // a synapse, kept for the next part), next to the part's own cut (counted with the
        // backend's), and its row offsets as 8-byte numbers before they become the cut's, one
        // part at a time (each drawn on all threads). Bernoulli parts are drawn row by row
        // into their own arrays (reserved up front).
        let at_once = 1.0;
        let per_part = config.expected_synapses() / facts.parts.max(1) as f64;
        match config.network.connectivity {
            Connectivity::FixedIndegree if facts.bytes_per_synapse > 0.0 => vec![item(
                "a part's columns being drawn".into(),
                at_once * (per_part * 4.0 + n * 8.0),
                "fewer threads (--threads) or a smaller network",
            )],
            _ => Vec::new(),
        }
    };
    construct.push(degrees.clone());
    construct.extend(backend.iter().cloned());
    let mut run = backend;
    run.extend([
        degrees.clone(),
        stats.clone(),
        counts.clone(),
        spikes("the recorded spikes", 12.0),
    ]);
    let mut write = vec![
        degrees,
        stats,
        counts,
        spikes("the recorded spikes", 12.0),
        rate,
        spikes("the spikes written", 16.0),
    ];
    for items in [&mut build, &mut construct, &mut run, &mut write] {
        items.push(program.clone());
    }
    let mut phases = vec![
        ("drawing the network", build),
        ("building the backend", construct),
        ("running", run),
        ("writing the result", write),
    ];
    if !whole_network {
        phases.remove(0);
    }
    Plan {
        phases,
        threads: facts.threads,
    }
}

/// What to change when the network does not fit.
const SMALLER: &str = "a smaller network (network.n_e, network.epsilon)";

/// The whole network as drawn: its synapses (the reservation) and row offsets.
fn network_items(config: &Config) -> Vec<Item> {
    let synapses = reserved_synapses(config);
    let n = config.n() as f64;
    vec![
        Item {
            what: format!("the network's synapses ({synapses:.3e}, 4 bytes each)"),
            bytes: bytes(synapses * 4.0),
            hint: SMALLER,
            at_most: false,
        },
        Item {
            what: "the network's row offsets".into(),
            bytes: bytes((n + 1.0) * 8.0),
            hint: SMALLER,
            at_most: false,
        },
    ]
}

/// Bytes of each buffer through which `brunel network` writes a column of its files.
pub const WRITE_BUFFER_BYTES: u64 = 8 << 20;

/// The memory of `brunel network`: the whole network drawn (as a run draws it), then kept
/// while its files are written through buffers of [`WRITE_BUFFER_BYTES`]; `threads` draw it.
pub fn plan_network_file(config: &Config, threads: u64) -> Plan {
    let drawing = plan_for(config, &BackendFacts::reference(), true)
        .phases
        .swap_remove(0);
    let mut writing = network_items(config);
    writing.push(Item {
        what: "the index of each source's edges".into(),
        bytes: bytes(config.n() as f64 * 32.0),
        hint: SMALLER,
        at_most: false,
    });
    writing.push(Item {
        what: "the buffers the files are written through".into(),
        bytes: 2 * WRITE_BUFFER_BYTES,
        hint: SMALLER,
        at_most: false,
    });
    writing.push(Item {
        what: "the program (code, libraries, HDF5)".into(),
        bytes: PROGRAM_BYTES,
        hint: SMALLER,
        at_most: false,
    });
    Plan {
        phases: vec![drawing, ("writing the network", writing)],
        threads,
    }
}

/// The memory of `brunel sweep` for the points of `config`'s size: the network drawn once
/// and kept while `jobs` points run on it side by side, each with the backend `facts`
/// describes, the population rate's counts and the per-neuron statistics (no spikes are
/// recorded), and at its end the population rate and its 1 ms bins for the statistics.
pub fn plan_sweep(config: &Config, facts: &BackendFacts, jobs: u64) -> Plan {
    let mut quiet = config.clone();
    quiet.record.spikes = RecordSpikes::None;
    let mut one = plan_for(&quiet, facts, true);
    let drawing = one.phases.swap_remove(0);
    let running = one
        .phases
        .into_iter()
        .find(|(phase, _)| *phase == "running")
        .map(|(_, items)| items)
        .unwrap_or_default();
    let jobs = jobs.max(1);
    let per_job = |i: &Item| Item {
        what: if jobs > 1 {
            format!("{} × {jobs} points at once", i.what)
        } else {
            i.what.clone()
        },
        bytes: i.bytes.saturating_mul(jobs),
        hint: if jobs > 1 { "fewer --jobs" } else { i.hint },
        at_most: i.at_most,
    };
    let mut items = network_items(config);
    for i in running
        .iter()
        .filter(|i| !i.what.starts_with("the program"))
    {
        items.push(per_job(i));
    }
    items.push(per_job(&Item {
        what: format!(
            "the population rate and its 1 ms bins ({} steps, 9 bytes each)",
            config.steps()
        ),
        bytes: bytes(config.steps() as f64 * 9.0),
        hint: "a shorter run (--duration) or a larger simulation.dt",
        at_most: false,
    }));
    items.extend(
        running
            .into_iter()
            .filter(|i| i.what.starts_with("the program")),
    );
    Plan {
        phases: vec![drawing, ("running the points", items)],
        threads: facts.threads.saturating_mul(jobs),
    }
}

impl Plan {
    /// The plan in words: each phase's total and its largest items (bounds marked), a line
    /// each, the peak first.
    pub fn describe(&self) -> String {
        let (peak_phase, peak) = self.peak();
        let mut out = format!("memory plan: {} at its peak ({peak_phase})", size(peak));
        for (phase, items) in &self.phases {
            out.push_str(&format!("\n  {phase}: {}", size(certain(items))));
            let mut sorted: Vec<&Item> = items.iter().filter(|i| i.bytes > 0).collect();
            sorted.sort_by_key(|i| std::cmp::Reverse(i.bytes));
            for i in sorted.iter().take(4) {
                out.push_str(&format!(
                    "\n    {:>10}{} {}",
                    size(i.bytes),
                    if i.at_most { " at most" } else { "" },
                    i.what
                ));
            }
        }
        out
    }

    /// The phase whose certain items (bounds left out) take the most, with their sum.
    pub fn peak(&self) -> (&'static str, u64) {
        self.phases
            .iter()
            .map(|(phase, items)| (*phase, certain(items)))
            .max_by_key(|&(_, b)| b)
            .unwrap_or(("", 0))
    }

    /// The peak with the bounds included (the most the run could take).
    pub fn peak_at_most(&self) -> u64 {
        self.phases
            .iter()
            .map(|(_, items)| {
                items
                    .iter()
                    .map(|i| i.bytes)
                    .fold(0u64, u64::saturating_add)
            })
            .max()
            .unwrap_or(0)
    }

    /// Refuses the run if its peak does not fit `limit`: the message names the phase, the
    /// biggest item and what to change. `Ok(Some(note))` when only the bound of the recorded
    /// spikes would not fit.
    pub fn check(&self, limit: &Limit) -> Result<Option<String>> {
        let (phase, peak) = self.peak();
        let room = limit.room(self.threads);
        if peak > room {
            let items = &self
                .phases
                .iter()
                .find(|(p, _)| *p == phase)
                .expect("the peak is one of the phases")
                .1;
            let biggest = items
                .iter()
                .filter(|i| !i.at_most)
                .max_by_key(|i| i.bytes)
                .expect("a phase has items");
            return Err(Error::Memory {
                message: format!(
                    "{phase} needs {}, of which {} take {}, but {}; try {}",
                    size(peak),
                    biggest.what,
                    size(biggest.bytes),
                    limit.describe(self.threads),
                    biggest.hint
                ),
            });
        }
        let most = self.peak_at_most();
        if most > room {
            return Ok(Some(format!(
                "if every recorded neuron fired at its highest rate, the recorded spikes would need up to {} and {} (--record none or first:N record less)",
                size(most),
                limit.describe(self.threads)
            )));
        }
        Ok(None)
    }
}

fn certain(items: &[Item]) -> u64 {
    items
        .iter()
        .filter(|i| !i.at_most)
        .map(|i| i.bytes)
        .fold(0u64, u64::saturating_add)
}

/// The memory this process may use.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// Physical memory (/proc/meminfo's MemTotal).
    pub physical: Option<u64>,
    /// The cgroup's memory.max, if one is set.
    pub cgroup: Option<u64>,
    /// RLIMIT_AS (`ulimit -v`), if one is set.
    pub address_space: Option<u64>,
    /// Address space in use now (VmSize), which RLIMIT_AS counts too.
    pub address_space_used: u64,
}

/// Address space each thread reserves beyond what the plan counts: its stack and the C
/// allocator's arena (64 MiB on 64-bit glibc).
const PER_THREAD_ADDRESS_SPACE: u64 = 72 << 20;
/// Address space kept free for everything small (libraries, HDF5's buffers, the allocator).
const ADDRESS_SPACE_SLACK: u64 = 192 << 20;

impl Limit {
    /// The limits of this process, where this system says (Linux: /proc and /sys/fs/cgroup,
    /// read only); `None` fields where it does not.
    pub fn here() -> Limit {
        Limit {
            physical: crate::config::total_memory_bytes(),
            cgroup: cgroup_max(),
            address_space: rlimit_as(),
            address_space_used: vm_size().unwrap_or(0),
        }
    }

    /// No limit at all (for tests and for systems that say nothing).
    pub fn none() -> Limit {
        Limit {
            physical: None,
            cgroup: None,
            address_space: None,
            address_space_used: 0,
        }
    }

    /// Bytes a run with `threads` threads may allocate.
    pub fn room(&self, threads: u64) -> u64 {
        let (physical, cgroup, address_space) = self.rooms(threads);
        physical.min(cgroup).min(address_space)
    }

    /// The room each limit leaves (u64::MAX: no such limit).
    fn rooms(&self, threads: u64) -> (u64, u64, u64) {
        let address_space = self.address_space.map_or(u64::MAX, |a| {
            a.saturating_sub(self.address_space_used)
                .saturating_sub(ADDRESS_SPACE_SLACK)
                .saturating_sub(threads.saturating_mul(PER_THREAD_ADDRESS_SPACE))
        });
        (
            self.physical.unwrap_or(u64::MAX),
            self.cgroup.unwrap_or(u64::MAX),
            address_space,
        )
    }

    /// Which limit binds, in words.
    pub fn describe(&self, threads: u64) -> String {
        let (physical, cgroup, address_space) = self.rooms(threads);
        if address_space <= physical && address_space <= cgroup && self.address_space.is_some() {
            // What the limit is spent on: the mappings the process has already (libraries,
            // thread stacks, ...) and the reserve for its threads and small allocations.
            let reserve = ADDRESS_SPACE_SLACK
                .saturating_add(threads.saturating_mul(PER_THREAD_ADDRESS_SPACE));
            format!(
                "the address-space limit (ulimit -v) of {} leaves {}: the program's address space already takes {}, and {} is kept for its {threads} thread(s) and small allocations",
                size(self.address_space.unwrap_or(0)),
                size(address_space),
                size(self.address_space_used),
                size(reserve)
            )
        } else if cgroup <= physical && self.cgroup.is_some() {
            format!("the cgroup's memory limit (memory.max) is {}", size(cgroup))
        } else {
            format!("this machine has {}", size(physical))
        }
    }
}

/// RLIMIT_AS's soft limit, if finite.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere
fn rlimit_as() -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given and nothing else.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut r) } == 0;
    (ok && r.rlim_cur != libc::RLIM_INFINITY).then_some(r.rlim_cur as u64)
}

#[cfg(not(unix))]
fn rlimit_as() -> Option<u64> {
    None
}

/// The address space in use (VmSize of /proc/self/status).
fn vm_size() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmSize:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The cgroup's memory limit: v2's memory.max, else v1's memory.limit_in_bytes (a value of
/// 2^62 or more there means none).
fn cgroup_max() -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    if let Some(text) = read("/sys/fs/cgroup/memory.max") {
        return text.trim().parse().ok();
    }
    read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        .and_then(|t| t.trim().parse::<u64>().ok())
        .filter(|&b| b < 1 << 62)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_toml(text).unwrap()
    }

    #[test]
    fn the_network_dominates_a_large_network() {
        let c = config("[network]\nn_e = 200000\n[simulation]\nduration = 20.0\n");
        let p = plan(&c, &BackendFacts::reference());
        let (phase, peak) = p.peak();
        assert_eq!(phase, "building the backend");
        // Synapses in the network (4 bytes) and in the reference's copy (4 bytes).
        let syn = c.expected_synapses();
        assert!(peak as f64 > 8.0 * syn, "{peak} {syn}");
        let limit = Limit {
            physical: Some(24 << 30),
            ..Limit::none()
        };
        let e = p.check(&limit).unwrap_err().to_string();
        assert!(
            e.contains("not enough memory: building the backend needs"),
            "{e}"
        );
        assert!(e.contains("synapses"), "{e}");
        assert!(e.contains("this machine has 24.0 GiB"), "{e}");
    }

    #[test]
    fn a_long_run_is_refused_for_its_rate() {
        let c = config("[network]\nn_e = 1000\n[simulation]\nduration = 500000000.0\n");
        let p = plan(&c, &BackendFacts::reference());
        assert_eq!(p.peak().0, "writing the result");
        let limit = Limit {
            physical: Some(24 << 30),
            ..Limit::none()
        };
        let e = p.check(&limit).unwrap_err().to_string();
        assert!(e.contains("population rate"), "{e}");
        assert!(e.contains("--duration"), "{e}");
    }

    #[test]
    fn the_address_space_limit_binds() {
        let c = config("[network]\nn_e = 40000\n");
        let p = plan(&c, &BackendFacts::reference());
        let limit = Limit {
            physical: Some(24 << 30),
            cgroup: None,
            address_space: Some(1 << 30),
            address_space_used: 100 << 20,
        };
        let e = p.check(&limit).unwrap_err().to_string();
        assert!(e.contains("ulimit -v"), "{e}");
        assert!(Limit::none().room(8) == u64::MAX);
    }

    #[test]
    fn small_sizes_are_not_written_as_zero_gib() {
        assert_eq!(size(24 << 30), "24.0 GiB");
        assert_eq!(size(3 << 29), "1.5 GiB");
        assert_eq!(size(600 << 20), "600.0 MiB");
        assert_eq!(size(50 << 20), "50.0 MiB");
        assert_eq!(size(12 << 10), "12.0 KiB");
        assert_eq!(size(0), "0 bytes");
        // A default network under `ulimit -v 600000`: every figure is small, none reads 0.0 GiB.
        let c = config("[network]\nn_e = 10000\n");
        let p = plan(&c, &BackendFacts::reference());
        let limit = Limit {
            physical: Some(24 << 30),
            cgroup: None,
            address_space: Some(600_000 << 10),
            address_space_used: 570 << 20,
        };
        let e = p.check(&limit).unwrap_err().to_string();
        assert!(!e.contains("0.0 GiB"), "{e}");
        assert!(e.contains("MiB"), "{e}");
        assert!(e.contains("ulimit -v) of 585.9 MiB"), "{e}");
        assert!(e.contains("already takes 570.0 MiB"), "{e}");
        let d = p.describe();
        assert!(!d.contains("0.0 GiB") && !d.contains("0.00 GiB"), "{d}");
    }

    #[test]
    fn a_small_run_fits_and_the_spike_bound_only_notes() {
        let c = config("[network]\nn_e = 1000\n[record]\nspikes = \"all\"\n");
        let p = plan(&c, &BackendFacts::reference());
        let limit = Limit {
            physical: Some(1 << 30),
            ..Limit::none()
        };
        assert_eq!(p.check(&limit).unwrap(), None);
        // 1250 neurons · 12 000 steps / 21 ≈ 7e5 spikes · 28 bytes: 20 MB; a machine of the
        // program's 16 MB and 12 MB more holds the run but not that bound.
        let tight = Limit {
            physical: Some(PROGRAM_BYTES + (12 << 20)),
            ..Limit::none()
        };
        let note = p.check(&tight).unwrap().expect("a note");
        assert!(note.contains("recorded spikes"), "{note}");
    }
}
