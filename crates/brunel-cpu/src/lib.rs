//! brunel-cpu: the multi-threaded backend, bit-identical to `brunel_core::ReferenceBackend`.
//!
//! Design (`benches/results/` holds the measurements behind each point):
//! - **Parts.** The neurons are cut into contiguous parts: one per thread while a thread has
//!   at most 8 192 neurons, beyond that parts of about 8 192 neurons, up to 8 a thread
//!   (`parts_per_thread`; procedural storage one a thread), each of at least `MIN_PART`
//!   neurons, more parts when one would exceed 65 536 neurons. Each part owns its neurons'
//!   state and arrival counters and the synapses *onto* its neurons as u16 local indices
//!   (`layout`), so the thread running it writes only the part's own memory: no atomics, no
//!   locks in the loop, 2 bytes per synapse.
//!   The cut depends on the thread count only for speed: no neuron's arithmetic depends on the
//!   part it is in, nor on the thread that runs it.
//! - **Batches of one delay.** A spike at step k arrives at step k + D, so the arrivals of the
//!   steps k .. k + D − 1 are all known at step k. The backend advances every neuron by a whole
//!   batch of (up to) D steps between two exchanges of spikes, as NEST does with its minimum
//!   delay: one synchronisation per D steps. A batch is: deliver the previous batch's spikes
//!   into the counters, then advance the neurons.
//! - **Parts claimed, not assigned.** In every batch each part is claimed (a compare-and-swap
//!   of its batch count) by whichever thread gets to it first: a thread tries its own share
//!   first (the same parts every batch, warm in its caches), then the other threads' shares
//!   from their far ends. On a shared machine a thread that the system keeps off its core when
//!   a batch begins does not hold the others up: one of them takes its part. A thread
//!   starts a batch once every part of the previous one is finished (a count of finished parts,
//!   `Progress`). Threads the network has too little work for are not started: at most one
//!   per block of 32 neurons, and beyond the machine's cores one per `MIN_PART` neurons.
//! - **Overtaking a held-up part.** A thread taken off its core in the middle of a part would
//!   hold every other thread at the end of the batch for the scheduler's slice (milliseconds,
//!   several batches). So a part's batch reads its committed state and writes a state of its
//!   own; while running it moves its thread's `Beat` (every block of neurons, every 8 spikes
//!   delivered). A thread that has nothing left to claim and sees the beat of a part's thread
//!   stand still for `STALL` runs that part's batch again, from the same committed state,
//!   into a ring of counters of its own: the first of the two runs to finish commits the state
//!   and the spikes, the other stops at its next beat and clears its counters. Both compute the
//!   same bits, so who commits changes nothing. A batch shorter than a delay (or the first
//!   after one) carries counts in its part's ring that another ring lacks: no one runs it twice,
//!   and its claimant advances the state in place. An MPI rank's engine never runs a batch
//!   twice (its ranks may share the cores). Waiting, a thread spins (up to
//!   `SPIN_MAX`; not with more threads than cores, then it sleeps and looks again every
//!   `STALL`): a thread that sleeps gives its core to whatever else runs, and gets it back a
//!   slice later. The claims, beats, second runs, commits and waits are one module
//!   (`protocol`), on `std`'s atomics or, built with `--cfg loom`, loom's:
//!   `tests/loom_protocol.rs` explores its interleavings. A panic in a part's batch poisons
//!   the section: the threads waiting for that part leave, and the caller gets the panic.
//! - **One CPU per thread.** With one thread per CPU the process may use (the default
//!   `--threads 0`), each thread is pinned to a CPU of its own (`pinning`;
//!   `BRUNEL_CPU_PIN`): free to move, the threads were seen sharing one CPU beside another
//!   busy process (their waits make them look light), and the run then had one core in all.
//! - **Sections.** One call into the thread pool runs up to 2 048 steps of whole batches, as one
//!   task per thread (not a call on every thread: a thread that gets no core during a section is
//!   not waited for, its task finds nothing left); each part's spikes of a batch are published
//!   once (`OnceLock`); the recorder receives them after the section, step by step.
//! - **Packed counters.** One u32 per neuron and step holds the excitatory count (low 16 bits)
//!   and the inhibitory count (high 16 bits): one scattered add per synapse (unrolled by four,
//!   rows prefetched ahead). When an in-degree exceeds 65 535 the counters are u64 (32 + 32
//!   bits) and the generic loop runs.
//! - **Blocks.** Neurons are advanced in blocks of 32, stored in the order the Philox lanes
//!   produce them, over the whole batch with their state in registers; the external counts of
//!   four steps are drawn at once (four interleaved 8-lane Philox generators, Binomial
//!   inversion against the table bounded by the largest uniform), with AVX-512 or AVX2
//!   intrinsics where the processor has them (detected at run time), portable code elsewhere.

#![warn(missing_docs)]

mod kernel;
mod layout;
mod philox;
mod pinning;
// Public to the loom model (`tests/loom_protocol.rs`) only.
#[cfg(loom)]
#[doc(hidden)]
pub mod protocol;
#[cfg(not(loom))]
mod protocol;
mod rank;

pub use rank::RankEngine;

use brunel_core::{
    Backend, BackendInfo, Connectivity, DeviceKind, Draw, Error, HostState, InFlight, Model,
    Network, Par, Recorder, Result, Storage, Synapses, NEVER,
};
use rayon::prelude::*;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kernel::{Arrival, Counter, Loop, PartView, NEVER_INTERNAL};
use layout::{Range, Targets};
use protocol::{lock, Beat, Claims, Commit, Mutex, Progress, Role, Schedule, Wall};

/// Which neuron loop the backend runs. All give the same bits; they differ in speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// The fastest the processor supports.
    Auto,
    /// One neuron at a time, as the reference does (kept for tests and odd parameters).
    Generic,
    /// Blocks of 32 neurons, compiled for the target's baseline instruction set.
    Blocks,
    /// Blocks, AVX2.
    Avx2,
    /// Blocks, AVX-512.
    Avx512,
}

/// The multi-threaded CPU backend.
pub struct CpuBackend {
    /// The threads used: those asked for, at most one per part.
    par: Par,
    /// The threads asked for.
    asked: usize,
    how: Loop,
    sim: Sim,
    /// The out-degrees, when made from the network not drawn yet.
    out_degree: Option<Vec<u32>>,
}

/// The simulation, with counters wide enough for the network's in-degrees.
enum Sim {
    Packed(Engine<u32>),
    Wide(Engine<u64>),
}

impl Sim {
    /// The counters, in words (for `info`).
    fn counters(&self) -> &'static str {
        match self {
            Sim::Packed(_) => "16+16-bit counters",
            Sim::Wide(_) => "32+32-bit counters",
        }
    }

    /// Parts the neurons are cut into.
    fn parts(&self) -> usize {
        match self {
            Sim::Packed(e) => e.parts.len(),
            Sim::Wide(e) => e.parts.len(),
        }
    }

    /// The threads' pinning, in words (for `info`): empty when they are not pinned.
    fn pinning(&self) -> &'static str {
        let pinned = match self {
            Sim::Packed(e) => e.pinned,
            Sim::Wide(e) => e.pinned,
        };
        if pinned {
            ", one per CPU (pinned)"
        } else {
            ""
        }
    }

    /// The engine over `ranges` (one part each) on `par` threads, with each part's [`Targets`]
    /// from `parts.make` (drawn in parallel, or one part after the other), and the out-degrees
    /// where `parts.degrees_of` asks for them.
    /// `ranked`: the engine of one MPI rank, whose ranks may share the machine's cores: its
    /// threads are not pinned unless `BRUNEL_CPU_PIN=1`, never run a part's batch a second
    /// time, and wait by spinning for [`protocol::SPIN`], then asleep, so as not to take a core from
    /// another rank: ranks that share cores and overtake and spin as the cpu backend's
    /// threads do hold each other up.
    fn build_parts(
        model: &Model,
        ranges: Vec<Range>,
        par: Par,
        parts: Parts<impl Fn(Range) -> Result<Targets> + Sync>,
        ranked: bool,
    ) -> Result<(Sim, Option<Vec<u32>>)> {
        let threads = par.count();
        // Each part keeps a ring of delay_steps slots of SLOT counters (8 bytes at most): refuse
        // what cannot be allocated rather than abort in the allocator.
        let ring_bytes = ranges.len() as f64 * kernel::SLOT as f64 * model.delay_steps as f64 * 8.0;
        if let Some(total) = brunel_core::config::total_memory_bytes() {
            if ring_bytes > total as f64 / 2.0 {
                return Err(Error::Unavailable {
                    backend: "cpu".into(),
                    message: format!(
                        "a delay of {} steps on {} threads needs {:.1} GiB of arrival counters, more than half of this machine's {:.1} GiB (the reference and opencl backends need less)",
                        model.delay_steps,
                        threads,
                        ring_bytes / (1u64 << 30) as f64,
                        total as f64 / (1u64 << 30) as f64
                    ),
                });
            }
        }
        let pins = pinning::plan(threads, !ranked)?;
        let pinned = pins.is_some();
        let pool = match par {
            Par::Seq => None,
            Par::Rayon(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n.get())
                    .thread_name(|i| format!("brunel-cpu-{i}"))
                    .start_handler(move |i| {
                        if let Some(cpus) = &pins {
                            pinning::pin(cpus[i % cpus.len()]);
                        }
                    })
                    .build()
                    .map_err(|e| Error::Backend {
                        backend: "cpu".into(),
                        message: format!("cannot start {n} threads: {e}"),
                    })?,
            ),
        };
        let make = &parts.make;
        let build = || -> Result<Vec<Targets>> {
            if parts.one_at_a_time {
                ranges.iter().map(|&r| make(r)).collect()
            } else {
                ranges.par_iter().map(|&r| make(r)).collect()
            }
        };
        let targets = match &pool {
            Some(pool) => pool.install(build)?,
            None => ranges
                .iter()
                .map(|&r| make(r))
                .collect::<Result<Vec<_>>>()?,
        };
        // The out-degrees, for the caller's count of synaptic events: the parts' rows added
        // up (procedural: every row drawn once more, counted, not kept).
        let out_degree = parts.degrees_of.map(|draw| {
            let count = || layout::out_degrees(draw, &ranges, &targets);
            match &pool {
                Some(pool) => pool.install(count),
                None => count(),
            }
        });
        let max_in = parts.max_in_bound.unwrap_or_else(|| {
            targets
                .iter()
                .filter_map(Targets::stored)
                .map(|s| s.max_in_exc.max(s.max_in_inh) as u64)
                .max()
                .unwrap_or(0)
        });
        // One thread has no one to run a held-up part again.
        let overtake = !ranked && threads > 1;
        let sim = if max_in <= u32::LIMIT {
            Sim::Packed(Engine::new(model, ranges, targets, pool, pinned, overtake))
        } else {
            Sim::Wide(Engine::new(model, ranges, targets, pool, pinned, overtake))
        };
        Ok((sim, out_degree))
    }
}

/// How [`Sim::build_parts`] makes the parts.
pub(crate) struct Parts<'d, F> {
    /// A part's synapses (or none, procedural).
    pub(crate) make: F,
    /// Parts made one after the other (each may use every thread), not in parallel.
    pub(crate) one_at_a_time: bool,
    /// The largest in-degree, where the parts cannot say (procedural).
    pub(crate) max_in_bound: Option<u64>,
    /// The network the out-degrees are counted in, if the caller wants them.
    pub(crate) degrees_of: Option<&'d Draw>,
}

/// The parts of `synapses`: each part's cut drawn (or cut from the whole network), fixed
/// in-degree parts one after the other (each on all threads: the lists of synapses they are
/// transposed through, 4 bytes a synapse, then live for one part at a time); with `procedural`
/// ([`procedural_draw`]) no synapses kept. Counts no out-degrees (`degrees_of` is the caller's).
pub(crate) fn parts_of<'a>(
    synapses: &'a Synapses<'a>,
    procedural: &'a Option<Arc<Draw>>,
) -> Parts<'a, impl Fn(Range) -> Result<Targets> + Sync + 'a> {
    let fixed =
        matches!(synapses, Synapses::Draw(d) if d.connectivity() == Connectivity::FixedIndegree);
    Parts {
        make: move |r| match procedural {
            Some(draw) => Ok(Targets::Procedural(draw.clone())),
            None => layout::cut(synapses, r).map(Targets::Stored),
        },
        one_at_a_time: fixed,
        max_in_bound: procedural.as_deref().map(Draw::max_in_degree_bound),
        degrees_of: None,
    }
}

/// Procedural storage ([`Model::storage`]) from the network not drawn yet: the draw itself,
/// kept (its rows are drawn again at every spike); `None` for stored parts (and whenever the
/// whole network is given: its cut gives the same spikes).
fn procedural_draw(model: &Model, synapses: &Synapses) -> Result<Option<Arc<Draw>>> {
    match synapses {
        Synapses::Draw(draw) if model.storage == Storage::Procedural => {
            draw.supports_rows().map_err(|e| Error::Unavailable {
                backend: "cpu".into(),
                message: e.to_string(),
            })?;
            Ok(Some(Arc::new((*draw).clone())))
        }
        _ => Ok(None),
    }
}

impl CpuBackend {
    /// Prepares the state and the backend's own layout of `network` for `par` threads. The
    /// backend keeps no reference to `network`: the caller may drop it.
    pub fn new(model: &Model, network: &Network, par: Par) -> Result<CpuBackend> {
        CpuBackend::with_kernel(model, network, par, Kernel::Auto)
    }

    /// Prepares the backend from `synapses`. Given the network not drawn yet
    /// ([`Synapses::Draw`]), each part draws its own layout directly, in parallel (the whole
    /// network is never held), or, with `network.storage = "procedural"` ([`Model::storage`]),
    /// keeps no synapses at all and draws each spike's targets in the part again when it
    /// delivers it. Given the whole network, it keeps its cut of it, whatever the storage
    /// (the same spikes).
    pub fn from_synapses(model: &Model, synapses: &Synapses, par: Par) -> Result<CpuBackend> {
        CpuBackend::build(model, synapses, par, Kernel::Auto, None)
    }

    /// Like [`CpuBackend::new`], with the neuron loop chosen by the caller; an error if the
    /// processor lacks what it needs.
    pub fn with_kernel(
        model: &Model,
        network: &Network,
        par: Par,
        kernel: Kernel,
    ) -> Result<CpuBackend> {
        CpuBackend::build(model, &Synapses::Network(network), par, kernel, None)
    }

    /// Tests and tuning: like [`CpuBackend::new`], with `per_thread` parts per thread (at
    /// least [`MIN_PART`] neurons each) instead of the default.
    #[doc(hidden)]
    pub fn with_parts_per_thread(
        model: &Model,
        network: &Network,
        par: Par,
        per_thread: usize,
    ) -> Result<CpuBackend> {
        CpuBackend::build(
            model,
            &Synapses::Network(network),
            par,
            Kernel::Auto,
            Some(per_thread),
        )
    }

    fn build(
        model: &Model,
        synapses: &Synapses,
        par: Par,
        kernel: Kernel,
        per_thread: Option<usize>,
    ) -> Result<CpuBackend> {
        if synapses.n() != model.n || synapses.n_e() != model.n_e {
            return Err(Error::Backend {
                backend: "cpu".into(),
                message: format!(
                    "the network has {} neurons ({} excitatory) but the model {} ({})",
                    synapses.n(),
                    synapses.n_e(),
                    model.n,
                    model.n_e
                ),
            });
        }
        let procedural = procedural_draw(model, synapses)?;
        if model.delay_steps == 0 {
            return Err(Error::config(
                "synapse.delay",
                "must be at least one time step",
            ));
        }
        let how = resolve(kernel)?;
        let per_thread = per_thread.unwrap_or(match procedural {
            Some(_) => PARTS_PER_THREAD,
            None => parts_per_thread(model.n, par.count()),
        });
        let (ranges, threads) = plan(model.n, par.count(), per_thread);
        let asked = par.count();
        let par = Par::threads(threads);
        // Each part's layout drawn (or cut) by itself, the parts in parallel; procedural
        // parts keep nothing. Fixed in-degree parts are drawn one after the other, each on all
        // threads (its columns in parallel): the columns and the slots they are transposed
        // through (8 bytes a synapse) then live for one part at a time.
        // The caller holds no network to count the out-degrees in when it hands the draw.
        let parts = Parts {
            degrees_of: match synapses {
                Synapses::Draw(draw) => Some(*draw),
                Synapses::Network(_) => None,
            },
            ..parts_of(synapses, &procedural)
        };
        let (sim, out_degree) = Sim::build_parts(model, ranges, par, parts, false)?;
        Ok(CpuBackend {
            par,
            asked,
            how,
            sim,
            out_degree,
        })
    }

    /// Tests only: the thread of pool index `thread` pauses for `pause` at the start of every
    /// batch, so that the others take over its parts (the result must not change).
    #[doc(hidden)]
    pub fn with_test_delay(mut self, thread: usize, pause: Duration) -> CpuBackend {
        match &mut self.sim {
            Sim::Packed(e) => e.test_delay = Some((thread, pause)),
            Sim::Wide(e) => e.test_delay = Some((thread, pause)),
        }
        self
    }

    /// Tests only: the thread of pool index `thread` pauses for `pause` in the middle of every
    /// part it claims (after delivering its spikes), so that another thread, finding it not
    /// moving, runs the part's batch again and commits it first (the result must not change).
    #[doc(hidden)]
    pub fn with_test_stall(mut self, thread: usize, pause: Duration) -> CpuBackend {
        match &mut self.sim {
            Sim::Packed(e) => e.test_stall = Some((thread, pause)),
            Sim::Wide(e) => e.test_stall = Some((thread, pause)),
        }
        self
    }

    /// Tests only: every run of part `part`'s batch that holds step `step` panics in its middle
    /// (after delivering its spikes, holding its ring), whichever thread runs it, as a bug in
    /// the part's arithmetic would. The run must end in that panic on the caller, not hang;
    /// later runs return an error until a state is loaded.
    #[doc(hidden)]
    pub fn with_test_panic(mut self, part: usize, step: u64) -> CpuBackend {
        match &mut self.sim {
            Sim::Packed(e) => e.test_panic = Some((part, step)),
            Sim::Wide(e) => e.test_panic = Some((part, step)),
        }
        self
    }

    /// Tests and tuning: part batches committed by a thread that ran them a second time
    /// because the thread that claimed them was held up.
    #[doc(hidden)]
    pub fn overtakes(&self) -> u64 {
        match &self.sim {
            Sim::Packed(e) => e.overtakes.load(Ordering::Relaxed),
            Sim::Wide(e) => e.overtakes.load(Ordering::Relaxed),
        }
    }

    /// Tests and tuning: how many (part, batch) pairs each thread of the pool has committed so far.
    #[doc(hidden)]
    pub fn part_runs(&self) -> Vec<u64> {
        let runs = match &self.sim {
            Sim::Packed(e) => &e.runs,
            Sim::Wide(e) => &e.runs,
        };
        runs.iter().map(|r| r.load(Ordering::Relaxed)).collect()
    }

    /// Parts the neurons are cut into.
    #[doc(hidden)]
    pub fn parts(&self) -> usize {
        self.sim.parts()
    }

    /// What this backend holds on the host for `n` neurons on `par` threads, for
    /// [`brunel_core::memory::plan`]: u16 targets and u32 row offsets per part; per neuron its
    /// in-degrees and v and last spike twice (the committed state and the one a batch writes);
    /// a ring of slots of counters (8 bytes at most) per part. (A thread that runs a held-up
    /// part's batch a second time makes a ring of its own the first time: not counted.)
    pub fn memory_facts(n: u32, par: Par) -> brunel_core::memory::BackendFacts {
        brunel_core::memory::BackendFacts {
            name: "cpu".into(),
            bytes_per_synapse: 2.0,
            parts: plan(n, par.count(), parts_per_thread(n, par.count()))
                .0
                .len() as u64,
            bytes_per_neuron_and_part: 4.0,
            bytes_per_neuron: 40.0,
            ring_bytes_per_neuron_and_step: 0.0,
            ring_bytes_per_part_and_step: kernel::SLOT as f64 * 8.0,
            threads: par.count() as u64,
        }
    }

    /// [`CpuBackend::memory_facts`] for `config`, counting the memory touched: procedural
    /// storage keeps no synapses and no row offsets; the ring's counters are those of the
    /// part's neurons (not the whole slot reserved), 4 bytes where the in-degrees allow them (for
    /// Bernoulli, the bound [`Draw::max_in_degree_bound`] uses, a little above the largest
    /// in-degree a stored network has: its counters may then be 4 bytes where this says 8).
    pub fn memory_facts_of(
        config: &brunel_core::Config,
        par: Par,
    ) -> brunel_core::memory::BackendFacts {
        let mut facts = CpuBackend::memory_facts(config.n() as u32, par);
        if config.network.storage == Storage::Procedural {
            facts.bytes_per_synapse = 0.0;
            facts.bytes_per_neuron_and_part = 0.0;
        }
        let max_in = match config.network.connectivity {
            brunel_core::Connectivity::FixedIndegree => config.c_e().max(config.c_i()) as f64,
            brunel_core::Connectivity::Bernoulli => {
                let mu = config.n() as f64 * config.network.epsilon;
                mu + 40.0 * mu.sqrt() + 40.0
            }
        };
        // A part touches the first counters of each slot only, one per neuron (the rest of
        // the slot is never mapped): so many bytes per neuron and step of delay.
        facts.ring_bytes_per_part_and_step = 0.0;
        facts.ring_bytes_per_neuron_and_step = if max_in <= u32::LIMIT as f64 {
            4.0
        } else {
            8.0
        };
        // With several threads, a thread that runs a held-up part again does so on a ring of
        // its own, as large as the part's and kept once used ([`protocol::ring`]). The plan
        // counts threads − 1 of them, those of the threads that overtake while one is held up
        // (a quiet run allocates none, a long run on a busy machine may come to allocate all:
        // both within the plan's margin). Procedural storage has one part a thread.
        let threads = par.count() as f64;
        if threads > 1.0 {
            let parts = match config.network.storage {
                Storage::Procedural => threads * PARTS_PER_THREAD as f64,
                Storage::Stored => facts.parts.max(1) as f64,
            };
            facts.ring_bytes_per_neuron_and_step *= 1.0 + (threads - 1.0) / parts;
        }
        facts
    }

    /// Bytes of synapses held (the backend's own layout).
    pub fn synapse_bytes(&self) -> usize {
        match &self.sim {
            Sim::Packed(e) => e.synapse_bytes(),
            Sim::Wide(e) => e.synapse_bytes(),
        }
    }
}

/// Parts per thread of procedural storage (each part draws every spike's targets in it again,
/// so finer parts cost a seeding each), and of the MPI ranks' engines.
const PARTS_PER_THREAD: usize = 1;

/// Stored, with several threads, parts of at most about this many neurons (up to
/// [`MAX_PARTS_PER_THREAD`] a thread). The size trades two costs. Small parts: a part's
/// counters (a delay's 15 steps, 4 bytes each) and state (16 bytes) take about 600 KB, near a
/// core's L2 (512 KiB is common), and its batch is short beside the scheduler's slice, so that
/// on a shared machine a thread kept off its core holds up little, and the part it holds is
/// cheap to run again ([`protocol::work`]). Few parts: every part looks up the row of every
/// spike, so finer parts cost time on a quiet machine: a thread of at most this many neurons
/// (Fig. 8's 12 500 on two threads) keeps one part. Beyond [`MAX_PARTS_PER_THREAD`] parts a
/// thread the parts grow instead, up to the u16 limit of 65 536 neurons. `benches/results/`
/// holds the runs, quiet and beside a busy process, that chose the size.
const PART_NEURONS: usize = 8192;

/// The most parts a thread gets from [`PART_NEURONS`].
const MAX_PARTS_PER_THREAD: usize = 8;

/// Parts per thread for `n` neurons on `threads` threads, stored ([`PART_NEURONS`]).
fn parts_per_thread(n: u32, threads: usize) -> usize {
    if threads <= 1 {
        return 1;
    }
    (n as usize)
        .div_ceil(threads * PART_NEURONS)
        .clamp(1, MAX_PARTS_PER_THREAD)
}

/// Neurons per useful thread: with more threads than the machine has cores, a thread gets at
/// least this many neurons (8 blocks of 32), or is not started.
const MIN_PART: usize = 256;

/// How the `n` neurons are cut for `threads` threads, `per_thread` parts each: the parts, and
/// how many of the threads are useful. A thread is useful if it has a part of its own (a
/// block of 32 neurons at least) and, beyond the machine's cores, [`MIN_PART`] neurons. The
/// cut depends on the thread count only for speed: no neuron's arithmetic depends on its part.
fn plan(n: u32, threads: usize, per_thread: usize) -> (Vec<Range>, usize) {
    let n = n as usize;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let blocks = n.div_ceil(philox::WIDTH).max(1);
    let useful = threads.min(blocks).min(cores.max(n / MIN_PART)).max(1);
    let wanted = if useful == 1 {
        1
    } else {
        (useful * per_thread.max(1)).min(blocks)
    };
    let ranges = layout::partition(n as u32, wanted);
    (ranges, useful)
}

/// The neuron loop, in words (for `info`).
fn loop_words(how: Loop) -> &'static str {
    match how {
        Loop::Generic => "generic loop",
        Loop::Blocks => "32-neuron blocks",
        #[cfg(target_arch = "x86_64")]
        Loop::Avx2 => "32-neuron blocks, AVX2",
        #[cfg(target_arch = "x86_64")]
        Loop::Avx512 => "32-neuron blocks, AVX-512",
    }
}

/// The loop for `kernel` on this processor.
fn resolve(kernel: Kernel) -> Result<Loop> {
    let missing = |what: &str| Error::Unavailable {
        backend: "cpu".into(),
        message: format!("the {what} kernel needs a processor feature this one lacks"),
    };
    match kernel {
        Kernel::Generic => Ok(Loop::Generic),
        Kernel::Blocks => Ok(Loop::Blocks),
        Kernel::Avx2 => {
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                return Ok(Loop::Avx2);
            }
            Err(missing("AVX2"))
        }
        Kernel::Avx512 => {
            #[cfg(target_arch = "x86_64")]
            if has_avx512() {
                return Ok(Loop::Avx512);
            }
            Err(missing("AVX-512"))
        }
        Kernel::Auto => {
            #[cfg(target_arch = "x86_64")]
            {
                if has_avx512() {
                    return Ok(Loop::Avx512);
                }
                if has_avx2() {
                    return Ok(Loop::Avx2);
                }
            }
            Ok(Loop::Blocks)
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("bmi2")
        && std::arch::is_x86_feature_detected!("popcnt")
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    has_avx2()
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

/// One part: its synapses, its neurons' committed state and its counters.
struct Part<C> {
    range: Range,
    synapses: Targets,
    /// The committed state and states to write the next batches into, and the step the state
    /// stands at (the first step of the part's next batch): a run of the batch that starts at
    /// `k` is void once this has moved past `k`.
    commit: Commit<Committed>,
    /// The part's counters: `delay_steps` slots of [`kernel::SLOT`], the first `range.len()` of
    /// each in use. All zero between two batches of a delay each (a batch delivers the spikes
    /// that arrive within it, and its steps take the counts out again); a batch shorter than a
    /// delay leaves the counts of the steps it did not reach for the next. Locked by the thread
    /// running the part; a thread that finds it locked (by a run overtaken and not yet
    /// stopped) uses a ring of its own ([`Engine::rings`]).
    ring: Mutex<Vec<C>>,
}

/// A part's neurons after a batch: potentials and last spikes, in the part's order.
struct State {
    v: Vec<f64>,
    last: Vec<i64>,
}

/// A part's committed state and spare states.
struct Committed {
    state: Arc<State>,
    /// States to write a batch into: the one a commit replaces comes back here (its readers
    /// hold it only to copy it), so there are one or two.
    spare: Vec<Arc<State>>,
}

impl Committed {
    /// A state nobody else holds, to write a batch into.
    fn take_spare(&mut self, len: usize) -> Arc<State> {
        match self.spare.iter().position(|s| Arc::strong_count(s) == 1) {
            Some(i) => self.spare.swap_remove(i),
            None => Arc::new(State {
                v: vec![0.0; len],
                last: vec![0; len],
            }),
        }
    }
}

/// Steps per parallel section (rounded down to whole batches, at least one): the spikes of a
/// section are kept until it ends and then handed to the recorder, so this bounds that memory,
/// and a section costs one wake-up of the pool (about 130 batches of Fig. 8's 15 steps).
const STEPS_PER_SECTION: u64 = 2048;

struct Engine<C> {
    model: Model,
    /// The Binomial table as u32 thresholds (X = number of thresholds <= u).
    thresholds: Vec<u32>,
    pool: Option<rayon::ThreadPool>,
    /// Whether each thread of the pool is pinned to a CPU of its own ([`pinning`]).
    pinned: bool,
    /// Whether a thread may run a held-up part's batch a second time (several threads, not in
    /// an MPI rank).
    overtake: bool,
    parts: Vec<Part<C>>,
    /// Part batches committed by each thread of the pool, since the start.
    runs: Vec<AtomicU64>,
    /// Part batches committed by a thread that ran them because their claimant was held up.
    overtakes: AtomicU64,
    /// A ring of counters per thread of the pool, for a part batch run while the part's own
    /// ring is held by another run of it (made when first needed; all zero between runs).
    rings: Vec<Mutex<Vec<C>>>,
    /// One per thread of the pool.
    beats: Vec<Beat>,
    /// Tests only: one thread pauses this long at the start of each batch.
    test_delay: Option<(usize, Duration)>,
    /// Tests only: one thread pauses this long in the middle of each part it claims.
    test_stall: Option<(usize, Duration)>,
    /// Tests only: every run of this part's batch that holds this step panics.
    test_panic: Option<(usize, u64)>,
    /// A section ended in a panic (a run of a part's batch panicked): the parts stand at
    /// different steps, and the engine runs no more until a state is loaded.
    broken: bool,
    /// Spikes of the last batch run, not yet delivered.
    pending: Vec<Arrival>,
    /// Whether the last batch was a whole delay (or none ran since the state was set): the
    /// rings are all zero, and the next batch may be run again by another thread.
    clean: bool,
    /// Spikes of the last delay steps, for `state`.
    in_flight: InFlight,
    step: u64,
}

impl<C: Counter> Engine<C> {
    fn new(
        model: &Model,
        ranges: Vec<Range>,
        synapses: Vec<Targets>,
        pool: Option<rayon::ThreadPool>,
        pinned: bool,
        overtake: bool,
    ) -> Engine<C> {
        let d = model.delay_steps as usize;
        let parts = ranges
            .into_iter()
            .zip(synapses)
            .map(|(range, synapses)| Part {
                range,
                synapses,
                commit: Commit::new(
                    0,
                    Committed {
                        state: Arc::new(State {
                            v: vec![model.v_init; range.len()],
                            last: vec![NEVER_INTERNAL; range.len()],
                        }),
                        spare: Vec::new(),
                    },
                ),
                ring: Mutex::new(vec![C::default(); kernel::SLOT * d]),
            })
            .collect();
        let threads = pool.as_ref().map_or(1, |p| p.current_num_threads());
        Engine {
            model: model.clone(),
            thresholds: model.external.thresholds_u32(),
            runs: (0..threads).map(|_| AtomicU64::new(0)).collect(),
            overtakes: AtomicU64::new(0),
            rings: (0..threads).map(|_| Mutex::new(Vec::new())).collect(),
            beats: (0..threads).map(|_| Beat::default()).collect(),
            pool,
            pinned,
            overtake,
            parts,
            test_delay: None,
            test_stall: None,
            test_panic: None,
            broken: false,
            pending: Vec::new(),
            clean: true,
            in_flight: InFlight::new(model.delay_steps),
            step: 0,
        }
    }

    fn synapse_bytes(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match &p.synapses {
                Targets::Stored(s) => s.bytes(),
                Targets::Procedural(_) => 0,
            })
            .sum()
    }

    fn run(&mut self, how: Loop, steps: u64, recorder: &mut dyn Recorder) -> Result<()> {
        let d = self.model.delay_steps as u64;
        let mut done = 0;
        let threads = self.pool.as_ref().map_or(1, |p| p.current_num_threads());
        if self.broken {
            return Err(Error::Backend {
                backend: "cpu".into(),
                message: "an earlier run panicked in the middle of a batch: the state is lost \
                          (load a state to go on)"
                    .into(),
            });
        }
        while done < steps {
            let now = (steps - done).min((STEPS_PER_SECTION / d).max(1) * d);
            // Until the section is over: a panic in it (passed on to the caller by the pool's
            // scope) leaves the parts at different steps.
            self.broken = true;
            let section = Section {
                how,
                model: &self.model,
                thresholds: &self.thresholds,
                parts: &self.parts,
                k0: self.step,
                steps: now,
                threads,
                overtake: self.overtake,
                clean: self.clean,
                pending: &self.pending,
                spikes: (0..now.div_ceil(d) as usize * self.parts.len())
                    .map(|_| OnceLock::new())
                    .collect(),
                claims: Claims::new(self.parts.len()),
                progress: Progress::new(threads, self.parts.len()),
                runs: &self.runs,
                overtakes: &self.overtakes,
                rings: &self.rings,
                beats: &self.beats,
                test_delay: self.test_delay,
                test_stall: self.test_stall,
                test_panic: self.test_panic,
            };
            match &self.pool {
                // One task per thread, not one call on each (`broadcast`): a thread that the
                // system keeps off its core for the whole section is then not waited for, its
                // task runs on another thread once that one is done and finds nothing left.
                Some(pool) => pool.scope(|scope| {
                    for _ in 0..threads {
                        scope.spawn(|_| section.work(rayon::current_thread_index().unwrap_or(0)));
                    }
                }),
                None => section.work(0),
            }
            self.broken = false;
            // Hand the spikes to the recorder, step by step, all parts in ascending order. The
            // engine takes the section in whatever the recorder says (the parts have
            // committed it): after a recorder's error the engine stands at the section's end.
            let parts = self.parts.len();
            let mut last_batch = Vec::new();
            let mut step_parts: Vec<&[u32]> = Vec::with_capacity(parts);
            let mut failed = None;
            for (bi, batch) in section.spikes.chunks(parts).enumerate() {
                let kb = self.step + bi as u64 * d;
                let lists: Vec<&Vec<Vec<u32>>> = batch
                    .iter()
                    .map(|s| s.get().expect("every part ran"))
                    .collect();
                for j in 0..lists[0].len() {
                    step_parts.clear();
                    step_parts.extend(lists.iter().map(|list| list[j].as_slice()));
                    if failed.is_none() {
                        recorder.record_parts(kb + j as u64, &step_parts);
                    }
                    self.in_flight.push_parts(kb + j as u64, &step_parts);
                }
                if failed.is_none() {
                    failed = recorder.end_batch(kb + lists[0].len() as u64).err();
                }
                last_batch = lists;
            }
            let k_last = self.step + (now.div_ceil(d) - 1) * d;
            let mut pending = Vec::new();
            kernel::arrivals(&last_batch, k_last, d, &mut pending);
            drop(section);
            self.pending = pending;
            self.clean = now.is_multiple_of(d);
            self.step += now;
            done += now;
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(())
    }

    fn state(&self) -> HostState {
        let mut v = Vec::with_capacity(self.model.n as usize);
        let mut last_spike = Vec::with_capacity(self.model.n as usize);
        for part in &self.parts {
            let committed = part.commit.lock();
            let state = &committed.state;
            let len = part.range.len();
            for i in 0..len {
                let p = layout::position(i, len);
                v.push(state.v[p]);
                let last = state.last[p];
                last_spike.push(if last < 0 { NEVER } else { last });
            }
        }
        HostState {
            step: self.step,
            v,
            last_spike,
            in_flight: self.in_flight.list(self.step),
        }
    }

    fn load_state(&mut self, state: &HostState) -> Result<()> {
        state.check(&self.model)?;
        for part in &self.parts {
            let (lo, len) = (part.range.lo as usize, part.range.len());
            let mut loaded = State {
                v: vec![0.0; len],
                last: vec![0; len],
            };
            for i in 0..len {
                let p = layout::position(i, len);
                loaded.v[p] = state.v[lo + i];
                let last = state.last_spike[lo + i];
                loaded.last[p] = if last == NEVER { NEVER_INTERNAL } else { last };
            }
            let mut committed = part.commit.lock();
            committed.state = Arc::new(loaded);
            committed.set_at(state.step);
            drop(committed);
            lock(&part.ring).fill(C::default());
        }
        for ring in &self.rings {
            lock(ring).fill(C::default());
        }
        // The spikes in flight are delivered before the next batch, into the slots of their
        // arrival steps (a spike of step k arrives at k + D, in slot k mod D).
        let d = self.model.delay_steps as u64;
        self.pending = state
            .in_flight
            .iter()
            .map(|&(k, source)| Arrival {
                slot: (k % d) as u32,
                source,
            })
            .collect();
        self.in_flight.load(&state.in_flight);
        self.clean = true;
        self.broken = false;
        self.step = state.step;
        Ok(())
    }
}

impl Backend for CpuBackend {
    fn info(&self) -> BackendInfo {
        let how = loop_words(self.how);
        let counters = self.sim.counters();
        let parts = self.sim.parts();
        let capped = if self.asked > self.par.count() {
            format!(" ({} asked; the network has work for no more)", self.asked)
        } else {
            String::new()
        };
        BackendInfo {
            name: "cpu".into(),
            device: format!(
                "host CPU, {} thread(s){capped}{}, {how}, {counters}",
                self.par.count(),
                self.sim.pinning()
            ),
            device_kind: DeviceKind::Host,
            threads: self.par.count(),
            work_items: None,
            parts: Some(parts),
            ranks: None,
        }
    }

    fn run(&mut self, steps: u64, recorder: &mut dyn Recorder) -> Result<()> {
        match &mut self.sim {
            Sim::Packed(e) => e.run(self.how, steps, recorder),
            Sim::Wide(e) => e.run(self.how, steps, recorder),
        }
    }

    fn load_state(&mut self, state: &HostState) -> Result<()> {
        match &mut self.sim {
            Sim::Packed(e) => e.load_state(state),
            Sim::Wide(e) => e.load_state(state),
        }
    }

    fn state(&self) -> Result<HostState> {
        Ok(match &self.sim {
            Sim::Packed(e) => e.state(),
            Sim::Wide(e) => e.state(),
        })
    }

    fn step(&self) -> u64 {
        match &self.sim {
            Sim::Packed(e) => e.step,
            Sim::Wide(e) => e.step,
        }
    }

    fn out_degrees(&self) -> Result<Option<Vec<u32>>> {
        Ok(self.out_degree.clone())
    }
}

/// One parallel section: `steps` steps from `k0`, in batches of up to one delay. In every
/// batch each part is claimed by one thread, whichever comes first (a thread tries its own
/// parts first, then the others'), and a thread starts on a batch once every part of the
/// previous one is finished ([`Progress`]). A thread that has nothing left to claim and waits
/// for a part whose thread has stopped moving (off its core) runs that part's batch itself,
/// from the same committed state: the first of the two runs to finish commits it, the other
/// stops ([`Section::run_part`]). The claims, beats, second runs, commits and waits are
/// [`protocol`]'s; a panic in a run poisons the section, and every thread leaves it.
struct Section<'a, C> {
    how: Loop,
    model: &'a Model,
    thresholds: &'a [u32],
    parts: &'a [Part<C>],
    k0: u64,
    steps: u64,
    threads: usize,
    /// Whether a part's batch may be run a second time ([`Engine::overtake`]).
    overtake: bool,
    /// Whether the rings are all zero before the first batch ([`Engine::clean`]).
    clean: bool,
    /// Spikes of the batch before the section.
    pending: &'a [Arrival],
    /// `spikes[batch * parts + part]`: that part's spikes of each step of the batch, set once
    /// by the run that committed the part's batch, read by all once the batch is finished.
    spikes: Vec<OnceLock<Vec<Vec<u32>>>>,
    /// Who runs each part's batches, and who runs them a second time.
    claims: Claims,
    progress: Progress,
    runs: &'a [AtomicU64],
    overtakes: &'a AtomicU64,
    rings: &'a [Mutex<Vec<C>>],
    beats: &'a [Beat],
    test_delay: Option<(usize, Duration)>,
    test_stall: Option<(usize, Duration)>,
    test_panic: Option<(usize, u64)>,
}

/// The arrivals a thread holds: those of batch `batch` of the section.
#[derive(Default)]
struct Held {
    batch: Option<usize>,
    arrivals: Vec<Arrival>,
}

impl<C: Counter> Section<'_, C> {
    /// The first step of batch `bi` and its steps.
    fn batch(&self, bi: usize) -> (u64, usize) {
        let d = self.model.delay_steps as u64;
        let from = bi as u64 * d;
        (self.k0 + from, d.min(self.steps - from) as usize)
    }

    /// Whether a part's batch `bi` may be run by a second thread: the engine overtakes, and the
    /// batch starts with every ring zero and is a whole delay (then it delivers every count it
    /// takes, into any zero ring).
    fn twice(&self, bi: usize) -> bool {
        self.overtake
            && self.batch(bi).1 == self.model.delay_steps as usize
            && (bi > 0 || self.clean)
    }

    /// The arrivals of batch `bi` in `held`: the spikes of the batch before.
    fn arrivals(&self, bi: usize, held: &mut Held) {
        if held.batch == Some(bi) {
            return;
        }
        if bi == 0 {
            held.arrivals.clear();
            held.arrivals.extend_from_slice(self.pending);
        } else {
            let n_parts = self.parts.len();
            let d = self.model.delay_steps as u64;
            let previous: Vec<&Vec<Vec<u32>>> = self.spikes[(bi - 1) * n_parts..bi * n_parts]
                .iter()
                .map(|s| s.get().expect("set before the batch was finished"))
                .collect();
            kernel::arrivals(&previous, self.batch(bi).0 - d, d, &mut held.arrivals);
        }
        held.batch = Some(bi);
    }

    /// Runs part `p`'s batch `bi` on thread `t` from the part's committed state, into a state
    /// of its own, and commits it unless another run of the batch did first (or does while
    /// this one runs: it then stops). True if this run committed it.
    fn run_part(&self, p: usize, bi: usize, t: usize, role: Role, arrivals: &[Arrival]) -> bool {
        let part = &self.parts[p];
        let (kb, b) = self.batch(bi);
        let twice = self.twice(bi);
        // A batch that no other thread may run is advanced in place: the committed state is
        // taken out (a spare stands in for it until the commit, read by nobody). Otherwise the
        // batch reads the committed state (each block copies its own into the new state just
        // before advancing it), which stays for another run of the batch.
        let (input, mut next) = {
            let mut committed = part.commit.lock();
            if committed.at() != kb {
                return false;
            }
            let spare = committed.take_spare(part.range.len());
            if !twice && Arc::strong_count(&committed.state) == 1 {
                (None, std::mem::replace(&mut committed.state, spare))
            } else {
                (Some(committed.state.clone()), spare)
            }
        };
        let beat = &self.beats[t];
        let go = || {
            beat.beat();
            part.commit.stands_at(kb)
        };
        let state = Arc::get_mut(&mut next).expect("a spare state is held by nobody else");
        let mut ring = protocol::ring(&part.ring, &self.rings[t], role, twice);
        if ring.is_empty() {
            ring.resize(kernel::SLOT * self.model.delay_steps as usize, C::default());
        }
        let mut out = vec![Vec::new(); b];
        let finished = kernel::deliver_to(
            &part.synapses,
            part.range,
            &mut ring,
            self.model.n_e,
            arrivals,
            &go,
        ) && {
            if let Some((slow, pause)) = self.test_stall {
                if slow == t && role == Role::Claimant {
                    std::thread::sleep(pause);
                }
            }
            if let Some((broken, step)) = self.test_panic {
                if broken == p && (kb..kb + b as u64).contains(&step) {
                    panic!("test: part {p}'s batch from step {kb} panics");
                }
            }
            let view = PartView {
                lo: part.range.lo,
                v: &mut state.v,
                last: &mut state.last,
                from: input.as_deref().map(|s| (&s.v[..], &s.last[..])),
                ring: &mut ring,
            };
            kernel::update(
                self.how,
                self.model,
                self.thresholds,
                view,
                kb,
                b,
                &mut out,
                &go,
            )
        };
        drop(input);
        if !finished {
            // Overtaken: the counters are partly delivered, partly taken.
            let len = part.range.len();
            for slot in ring.chunks_mut(kernel::SLOT) {
                slot[..len].fill(C::default());
            }
        }
        drop(ring);
        let mut committed = part.commit.lock();
        if !finished || committed.at() != kb {
            committed.spare.push(next);
            return false;
        }
        let old = std::mem::replace(&mut committed.state, next);
        committed.spare.push(old);
        self.spikes[bi * self.parts.len() + p]
            .set(out)
            .expect("each part's batch is committed once");
        self.runs[t].fetch_add(1, Ordering::Relaxed);
        if role == Role::Overtaker {
            self.overtakes.fetch_add(1, Ordering::Relaxed);
        }
        committed.commit(kb + b as u64, &self.progress);
        true
    }

    /// What the thread of pool index `t` does ([`protocol::work`]). Any number of calls, from
    /// any threads, finish the section together; a thread that arrives late finds its parts
    /// taken and returns. Nothing in here may call into rayon (`join`, parallel iterators): a
    /// thread blocked there could start another task of the section, with the same `t`, whose
    /// beat and ring are this one's.
    fn work(&self, t: usize) {
        let t = t % self.threads;
        let order = protocol::claim_order(t, self.threads, self.parts.len());
        let mut held = Held::default();
        let mut clock = Wall::new(self.beats.len());
        // `Err`: a run of a part's batch panicked, and this thread left the section; the pool's
        // scope passes that panic on to the caller once every thread has.
        let _poisoned = protocol::work(self, t, &order, &mut held, &mut clock);
    }
}

/// The cpu backend's section, to the overtaking protocol.
impl<C: Counter> Schedule for Section<'_, C> {
    type Held = Held;

    fn claims(&self) -> &Claims {
        &self.claims
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn beat(&self, t: usize) -> &Beat {
        &self.beats[t]
    }

    fn parts(&self) -> usize {
        self.parts.len()
    }

    fn batches(&self) -> usize {
        self.steps.div_ceil(self.model.delay_steps as u64) as usize
    }

    fn overtakes(&self) -> bool {
        self.overtake
    }

    fn overtakable(&self, bi: usize) -> bool {
        self.twice(bi)
    }

    fn start(&self, bi: usize) -> u64 {
        self.batch(bi).0
    }

    fn at(&self, p: usize) -> u64 {
        self.parts[p].commit.at()
    }

    fn prepare(&self, bi: usize, t: usize, held: &mut Held) {
        if let Some((slow, pause)) = self.test_delay {
            if slow == t {
                std::thread::sleep(pause);
            }
        }
        // The arrivals first: a claimed part's thread is watched from its claim on.
        self.arrivals(bi, held);
    }

    fn run(&self, p: usize, bi: usize, t: usize, role: Role, held: &mut Held) -> bool {
        self.arrivals(bi, held);
        self.run_part(p, bi, t, role, &held.arrivals)
    }
}
