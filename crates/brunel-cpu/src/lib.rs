//! brunel-cpu: the multi-threaded backend, bit-identical to `brunel_core::ReferenceBackend`.
//!
//! Design (each point measured; see `benches/results/`):
//! - **Parts.** The neurons are cut into contiguous parts, one per thread
//!   ([`PARTS_PER_THREAD`]: finer parts were measured and did not pay), each of at least
//!   [`MIN_PART`] neurons, more parts when one would exceed 65 536 neurons. Each part owns its neurons' state and arrival counters and the
//!   synapses *onto* its neurons as u16 local indices ([`layout`]), so the thread running it
//!   writes only the part's own memory: no atomics, no locks in the loop, 2 bytes per synapse.
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
//!   [`Progress`]); waiting, it spins for up to [`SPIN`] (the threads' spread on a quiet
//!   machine), then sleeps on a condition variable, leaving its core to the thread it waits
//!   for. Threads the network has too little work for are not started: at most one per block
//!   of 32 neurons, and beyond the machine's cores one per [`MIN_PART`] neurons.
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

mod kernel;
mod layout;
mod philox;
mod rank;

pub use rank::RankEngine;

use brunel_core::{
    Backend, BackendInfo, Connectivity, DeviceKind, Draw, Error, HostState, InFlight, Model,
    Network, Par, Recorder, Result, Storage, Synapses, NEVER,
};
use rayon::prelude::*;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use kernel::{Arrival, Counter, Loop, PartView, NEVER_INTERNAL};
use layout::{Range, Targets};

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

    /// The engine over `ranges` (one part each) on `par` threads, with each part's [`Targets`]
    /// from `parts.make` (drawn in parallel, or one part after the other), and the out-degrees
    /// where `parts.degrees_of` asks for them.
    fn build_parts(
        model: &Model,
        ranges: Vec<Range>,
        par: Par,
        parts: Parts<impl Fn(Range) -> Result<Targets> + Sync>,
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
        let pool = match par {
            Par::Seq => None,
            Par::Rayon(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n.get())
                    .thread_name(|i| format!("brunel-cpu-{i}"))
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
        let sim = if max_in <= u32::LIMIT {
            Sim::Packed(Engine::new(model, ranges, targets, pool))
        } else {
            Sim::Wide(Engine::new(model, ranges, targets, pool))
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
        CpuBackend::build(model, synapses, par, Kernel::Auto, PARTS_PER_THREAD)
    }

    /// Like [`CpuBackend::new`], with the neuron loop chosen by the caller; an error if the
    /// processor lacks what it needs.
    pub fn with_kernel(
        model: &Model,
        network: &Network,
        par: Par,
        kernel: Kernel,
    ) -> Result<CpuBackend> {
        CpuBackend::build(
            model,
            &Synapses::Network(network),
            par,
            kernel,
            PARTS_PER_THREAD,
        )
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
            per_thread,
        )
    }

    fn build(
        model: &Model,
        synapses: &Synapses,
        par: Par,
        kernel: Kernel,
        per_thread: usize,
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
        let (sim, out_degree) = Sim::build_parts(model, ranges, par, parts)?;
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

    /// Tests and tuning: how many (part, batch) pairs each thread of the pool has run so far.
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
    /// [`brunel_core::memory::plan`]: u16 targets and u32 row offsets per part, v, last spike
    /// and in-degrees per neuron, a ring of slots of counters (8 bytes at most) per part.
    pub fn memory_facts(n: u32, par: Par) -> brunel_core::memory::BackendFacts {
        brunel_core::memory::BackendFacts {
            name: "cpu".into(),
            bytes_per_synapse: 2.0,
            parts: layout::partition(n, par.count()).len() as u64,
            bytes_per_neuron_and_part: 4.0,
            bytes_per_neuron: 24.0,
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

/// Parts per thread when there are several threads. Measured (see
/// `benches/results/2026-12-01-busy/`): finer parts cost more in delivering spikes (every part
/// looks up every spike's row) than they gained in balance on a shared 2-core machine; the
/// claims still let a thread that is on its core take the part of one that is not.
const PARTS_PER_THREAD: usize = 1;

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

/// One part: its synapses, neurons and counters.
struct Part<C> {
    range: Range,
    synapses: Targets,
    v: Vec<f64>,
    last: Vec<i64>,
    ring: Vec<C>,
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
    /// In each batch, a part is locked by the one thread that claimed it: never contended.
    parts: Vec<Mutex<Part<C>>>,
    /// Part batches run by each thread of the pool, since the start.
    runs: Vec<AtomicU64>,
    /// Tests only: one thread pauses this long at the start of each batch.
    test_delay: Option<(usize, Duration)>,
    /// Spikes of the last batch run, not yet delivered.
    pending: Vec<Arrival>,
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
    ) -> Engine<C> {
        let d = model.delay_steps as usize;
        let parts = ranges
            .into_iter()
            .zip(synapses)
            .map(|(range, synapses)| {
                Mutex::new(Part {
                    range,
                    synapses,
                    v: vec![model.v_init; range.len()],
                    last: vec![NEVER_INTERNAL; range.len()],
                    ring: vec![C::default(); kernel::SLOT * d],
                })
            })
            .collect();
        Engine {
            model: model.clone(),
            thresholds: model.external.thresholds_u32(),
            runs: (0..pool.as_ref().map_or(1, |p| p.current_num_threads()))
                .map(|_| AtomicU64::new(0))
                .collect(),
            pool,
            parts,
            test_delay: None,
            pending: Vec::new(),
            in_flight: InFlight::new(model.delay_steps),
            step: 0,
        }
    }

    fn synapse_bytes(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match &lock(p).synapses {
                Targets::Stored(s) => s.bytes(),
                Targets::Procedural(_) => 0,
            })
            .sum()
    }

    fn run(&mut self, how: Loop, steps: u64, recorder: &mut dyn Recorder) -> Result<()> {
        let d = self.model.delay_steps as u64;
        let mut done = 0;
        let threads = self.pool.as_ref().map_or(1, |p| p.current_num_threads());
        while done < steps {
            let now = (steps - done).min((STEPS_PER_SECTION / d).max(1) * d);
            let section = Section {
                how,
                model: &self.model,
                thresholds: &self.thresholds,
                parts: &self.parts,
                k0: self.step,
                steps: now,
                threads,
                pending: &self.pending,
                spikes: (0..now.div_ceil(d) as usize * self.parts.len())
                    .map(|_| OnceLock::new())
                    .collect(),
                claimed: (0..self.parts.len()).map(|_| AtomicUsize::new(0)).collect(),
                progress: Progress::new(threads),
                runs: &self.runs,
                test_delay: self.test_delay,
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
            // Hand the spikes to the recorder, step by step, all parts in ascending order.
            let parts = self.parts.len();
            let mut last_batch = Vec::new();
            let mut step_parts: Vec<&[u32]> = Vec::with_capacity(parts);
            for (bi, batch) in section.spikes.chunks(parts).enumerate() {
                let kb = self.step + bi as u64 * d;
                let lists: Vec<&Vec<Vec<u32>>> = batch
                    .iter()
                    .map(|s| s.get().expect("every part ran"))
                    .collect();
                for j in 0..lists[0].len() {
                    step_parts.clear();
                    step_parts.extend(lists.iter().map(|list| list[j].as_slice()));
                    recorder.record_parts(kb + j as u64, &step_parts);
                    self.in_flight.push_parts(kb + j as u64, &step_parts);
                }
                recorder.end_batch(kb + lists[0].len() as u64)?;
                last_batch = lists;
            }
            let k_last = self.step + (now.div_ceil(d) - 1) * d;
            let mut pending = Vec::new();
            kernel::arrivals(&last_batch, k_last, d, &mut pending);
            drop(section);
            self.pending = pending;
            self.step += now;
            done += now;
        }
        Ok(())
    }

    fn state(&self) -> HostState {
        let mut v = Vec::with_capacity(self.model.n as usize);
        let mut last_spike = Vec::with_capacity(self.model.n as usize);
        for part in &self.parts {
            let part = lock(part);
            let len = part.range.len();
            for i in 0..len {
                let p = layout::position(i, len);
                v.push(part.v[p]);
                let last = part.last[p];
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
            let mut part = lock(part);
            let part = &mut *part;
            let (lo, len) = (part.range.lo as usize, part.range.len());
            for i in 0..len {
                let p = layout::position(i, len);
                part.v[p] = state.v[lo + i];
                let last = state.last_spike[lo + i];
                part.last[p] = if last == NEVER { NEVER_INTERNAL } else { last };
            }
            part.ring.fill(C::default());
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
                "host CPU, {} thread(s){capped}, {how}, {counters}",
                self.par.count()
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

/// Locks a part; a poisoned lock (a panic in another thread) is passed through, the panic
/// itself has already failed the run.
fn lock<C>(part: &Mutex<Part<C>>) -> MutexGuard<'_, Part<C>> {
    part.lock().unwrap_or_else(|e| e.into_inner())
}

/// One parallel section: `steps` steps from `k0`, in batches of up to one delay. In every
/// batch each part is claimed by one thread, whichever comes first (a thread tries its own
/// parts first, then the others'), and a thread starts on a batch once every part of the
/// previous one is finished ([`Progress`]).
struct Section<'a, C> {
    how: Loop,
    model: &'a Model,
    thresholds: &'a [u32],
    parts: &'a [Mutex<Part<C>>],
    k0: u64,
    steps: u64,
    threads: usize,
    /// Spikes of the batch before the section.
    pending: &'a [Arrival],
    /// `spikes[batch * parts + part]`: that part's spikes of each step of the batch, set once
    /// by the thread that ran the part, read by all once the batch is finished.
    spikes: Vec<OnceLock<Vec<Vec<u32>>>>,
    /// `claimed[part]`: batches of the section that part has been claimed for; the thread
    /// that moves it from `b` to `b + 1` runs the part's batch `b`.
    claimed: Vec<AtomicUsize>,
    progress: Progress,
    /// Parts run by each thread (for tests and tuning).
    runs: &'a [AtomicU64],
    /// A pause at the start of each batch for one thread (tests only).
    test_delay: Option<(usize, Duration)>,
}

impl<C: Counter> Section<'_, C> {
    /// What the thread of pool index `t` does. Any number of calls, from any threads, finish
    /// the section together; a thread that arrives late finds its parts taken and returns.
    fn work(&self, t: usize) {
        let d = self.model.delay_steps as u64;
        let n_parts = self.parts.len();
        let order = claim_order(t % self.threads, self.threads, n_parts);
        let mut arrivals = Vec::new();
        let mut ran = 0;
        let batches = self.steps.div_ceil(d) as usize;
        for bi in 0..batches {
            let kb = self.k0 + bi as u64 * d;
            let b = d.min(self.steps - bi as u64 * d) as usize;
            if bi > 0 {
                // Every part's spikes of the previous (full) batch are complete.
                self.progress.wait_for(bi * n_parts);
            }
            if let Some((slow, pause)) = self.test_delay {
                if slow == t {
                    std::thread::sleep(pause);
                }
            }
            let mut have_arrivals = false;
            for &p in &order {
                if self.claimed[p]
                    .compare_exchange(bi, bi + 1, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
                if !have_arrivals {
                    if bi == 0 {
                        arrivals.clear();
                        arrivals.extend_from_slice(self.pending);
                    } else {
                        let previous: Vec<&Vec<Vec<u32>>> = self.spikes
                            [(bi - 1) * n_parts..bi * n_parts]
                            .iter()
                            .map(|s| s.get().expect("set before the batch was finished"))
                            .collect();
                        kernel::arrivals(&previous, kb - d, d, &mut arrivals);
                    }
                    have_arrivals = true;
                }
                let mut part = lock(&self.parts[p]);
                let part = &mut *part;
                kernel::deliver_to(
                    &part.synapses,
                    part.range,
                    &mut part.ring,
                    self.model.n_e,
                    &arrivals,
                );
                let mut out = vec![Vec::new(); b];
                let view = PartView {
                    lo: part.range.lo,
                    v: &mut part.v,
                    last: &mut part.last,
                    ring: &mut part.ring,
                };
                kernel::update(self.how, self.model, self.thresholds, view, kb, b, &mut out);
                self.spikes[bi * n_parts + p]
                    .set(out)
                    .expect("each part's batch is set once");
                ran += 1;
                self.progress.finished_one(n_parts);
            }
        }
        self.runs[t % self.runs.len()].fetch_add(ran, Ordering::Relaxed);
    }
}

/// The order in which thread `t` of `threads` tries the `parts` parts: its own contiguous
/// share first (the same parts every batch, so their memory stays in its caches), then the
/// other threads' shares, each from its far end, so that a thread helping another takes the
/// parts the owner would reach last.
fn claim_order(t: usize, threads: usize, parts: usize) -> Vec<usize> {
    let share = |u: usize| u * parts / threads..(u + 1) * parts / threads;
    let mut order: Vec<usize> = share(t).collect();
    for k in 1..threads {
        order.extend(share((t + k) % threads).rev());
    }
    order
}

/// How far a section has come: the parts finished, counted over all batches (batch `b` is
/// complete when `(b + 1) * parts` are). A thread waiting for a batch spins briefly and then
/// sleeps, so that on a shared machine it leaves its core to the thread it waits for.
struct Progress {
    finished: AtomicUsize,
    /// How long a waiter spins before it sleeps: zero when there are more threads than cores
    /// (the thread waited for is then likely not running, and spinning only delays it).
    spin: Duration,
    /// Threads asleep (or about to be) in [`Progress::wait_for`].
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

/// How long a thread waiting for a batch spins before it sleeps. Long enough to cover the
/// threads' usual spread on a quiet machine (a few to tens of microseconds at Fig. 8's size),
/// short beside the few milliseconds for which the scheduler takes a core away on a busy one.
const SPIN: Duration = Duration::from_micros(50);

impl Progress {
    fn new(threads: usize) -> Progress {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Progress {
            finished: AtomicUsize::new(0),
            spin: if threads <= cores {
                SPIN
            } else {
                Duration::ZERO
            },
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// One more part finished; wakes the sleepers when that completes a batch.
    fn finished_one(&self, parts: usize) {
        let now = self.finished.fetch_add(1, Ordering::SeqCst) + 1;
        // SeqCst on both sides: either the sleeper sees `now`, or this sees the sleeper.
        if now.is_multiple_of(parts) && self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_all();
        }
    }

    /// Returns once `target` parts are finished.
    fn wait_for(&self, target: usize) {
        if self.finished.load(Ordering::Acquire) >= target {
            return;
        }
        if !self.spin.is_zero() {
            let start = Instant::now();
            let mut spins = 0u32;
            while self.finished.load(Ordering::Acquire) < target {
                std::hint::spin_loop();
                spins += 1;
                if spins.is_multiple_of(64) && start.elapsed() >= self.spin {
                    break;
                }
            }
            if self.finished.load(Ordering::Acquire) >= target {
                return;
            }
        }
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        while self.finished.load(Ordering::SeqCst) < target {
            guard = self.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}
