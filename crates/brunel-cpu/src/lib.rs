//! brunel-cpu: the multi-threaded backend, bit-identical to `brunel_core::ReferenceBackend`.
//!
//! Design (each point measured; see `benches/results/`):
//! - **Parts.** The neurons are cut into contiguous parts, one per thread (more when a part
//!   would exceed 65 536 neurons). Each part owns its neurons' state and arrival counters and
//!   the synapses *onto* its neurons as u16 local indices ([`layout`]), so a thread writes only
//!   its own memory: no atomics, no locks in the loop, 2 bytes per synapse.
//! - **Batches of one delay.** A spike at step k arrives at step k + D, so the arrivals of the
//!   steps k .. k + D − 1 are all known at step k. The backend advances every neuron by a whole
//!   batch of (up to) D steps between two exchanges of spikes, as NEST does with its minimum
//!   delay: one synchronisation per D steps. A batch is: deliver the previous batch's spikes
//!   into the counters, then advance the neurons.
//! - **Sections.** One call into the thread pool runs up to 2 048 steps of whole batches;
//!   the threads meet at a spinning barrier once per batch and publish each part's spikes of a
//!   batch once (`OnceLock`); the recorder receives them after the section, step by step.
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

use brunel_core::{
    Backend, BackendInfo, Error, HostState, Model, Network, Par, Recorder, Result, NEVER,
};
use rayon::prelude::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use kernel::{Arrival, Counter, Loop, PartView, NEVER_INTERNAL};
use layout::{PartSynapses, Range};

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
    par: Par,
    how: Loop,
    sim: Sim,
}

/// The simulation, with counters wide enough for the network's in-degrees.
enum Sim {
    Packed(Engine<u32>),
    Wide(Engine<u64>),
}

impl CpuBackend {
    /// Prepares the state and the backend's own layout of `network` for `par` threads. The
    /// backend keeps no reference to `network`: the caller may drop it.
    pub fn new(model: &Model, network: &Network, par: Par) -> Result<CpuBackend> {
        CpuBackend::with_kernel(model, network, par, Kernel::Auto)
    }

    /// Like [`CpuBackend::new`], with the neuron loop chosen by the caller; an error if the
    /// processor lacks what it needs.
    pub fn with_kernel(
        model: &Model,
        network: &Network,
        par: Par,
        kernel: Kernel,
    ) -> Result<CpuBackend> {
        if network.n != model.n || network.n_e != model.n_e {
            return Err(Error::Backend {
                backend: "cpu".into(),
                message: format!(
                    "the network has {} neurons ({} excitatory) but the model {} ({})",
                    network.n, network.n_e, model.n, model.n_e
                ),
            });
        }
        if model.delay_steps == 0 {
            return Err(Error::config(
                "synapse.delay",
                "must be at least one time step",
            ));
        }
        // Each part keeps a ring of delay_steps slots of SLOT counters (8 bytes at most): refuse
        // what cannot be allocated rather than abort in the allocator.
        let ring_bytes = par.count() as f64 * kernel::SLOT as f64 * model.delay_steps as f64 * 8.0;
        if let Some(total) = brunel_core::config::total_memory_bytes() {
            if ring_bytes > total as f64 / 2.0 {
                return Err(Error::Unavailable {
                    backend: "cpu".into(),
                    message: format!(
                        "a delay of {} steps on {} threads needs {:.1} GiB of arrival counters, more than half of this machine's {:.1} GiB (the reference and opencl backends need less)",
                        model.delay_steps,
                        par.count(),
                        ring_bytes / (1u64 << 30) as f64,
                        total as f64 / (1u64 << 30) as f64
                    ),
                });
            }
        }
        let how = resolve(kernel)?;
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
        let ranges = layout::partition(model.n, par.count());
        let build = || {
            ranges
                .par_iter()
                .map(|&r| PartSynapses::new(network, r))
                .collect::<Result<Vec<_>>>()
        };
        let synapses = match &pool {
            Some(pool) => pool.install(build)?,
            None => ranges
                .iter()
                .map(|&r| PartSynapses::new(network, r))
                .collect::<Result<Vec<_>>>()?,
        };
        let max_in = synapses
            .iter()
            .map(|s| s.max_in_exc.max(s.max_in_inh) as u64)
            .max()
            .unwrap_or(0);
        let sim = if max_in <= u32::LIMIT {
            Sim::Packed(Engine::new(model, ranges, synapses, pool))
        } else {
            Sim::Wide(Engine::new(model, ranges, synapses, pool))
        };
        Ok(CpuBackend { par, how, sim })
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

    /// Bytes of synapses held (the backend's own layout).
    pub fn synapse_bytes(&self) -> usize {
        match &self.sim {
            Sim::Packed(e) => e.synapse_bytes(),
            Sim::Wide(e) => e.synapse_bytes(),
        }
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
    synapses: PartSynapses,
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
    /// Part p is advanced by thread p mod threads (each locks its own: never contended).
    parts: Vec<Mutex<Part<C>>>,
    /// Spikes of the last batch run, not yet delivered.
    pending: Vec<Arrival>,
    step: u64,
}

impl<C: Counter> Engine<C> {
    fn new(
        model: &Model,
        ranges: Vec<Range>,
        synapses: Vec<PartSynapses>,
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
            pool,
            parts,
            pending: Vec::new(),
            step: 0,
        }
    }

    fn synapse_bytes(&self) -> usize {
        self.parts.iter().map(|p| lock(p).synapses.bytes()).sum()
    }

    fn run(&mut self, how: Loop, steps: u64, recorder: &mut dyn Recorder) {
        let d = self.model.delay_steps as u64;
        let mut done = 0;
        let mut merged = Vec::new();
        while done < steps {
            let now = (steps - done).min((STEPS_PER_SECTION / d).max(1) * d);
            let section = Section {
                how,
                model: &self.model,
                thresholds: &self.thresholds,
                parts: &self.parts,
                k0: self.step,
                steps: now,
                threads: self.pool.as_ref().map_or(1, |p| p.current_num_threads()),
                pending: &self.pending,
                spikes: (0..now.div_ceil(d) as usize * self.parts.len())
                    .map(|_| OnceLock::new())
                    .collect(),
                barrier: SpinBarrier::new(
                    self.pool.as_ref().map_or(1, |p| p.current_num_threads()),
                ),
            };
            match &self.pool {
                Some(pool) => {
                    pool.broadcast(|ctx| section.work(ctx.index()));
                }
                None => section.work(0),
            }
            // Hand the spikes to the recorder, step by step, all parts in ascending order.
            let parts = self.parts.len();
            let mut last_batch = Vec::new();
            for (bi, batch) in section.spikes.chunks(parts).enumerate() {
                let kb = self.step + bi as u64 * d;
                let lists: Vec<&Vec<Vec<u32>>> = batch
                    .iter()
                    .map(|s| s.get().expect("every part ran"))
                    .collect();
                for j in 0..lists[0].len() {
                    merged.clear();
                    for list in &lists {
                        merged.extend_from_slice(&list[j]);
                    }
                    recorder.record(kb + j as u64, &merged);
                }
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
        }
    }
}

impl Backend for CpuBackend {
    fn info(&self) -> BackendInfo {
        let how = match self.how {
            Loop::Generic => "generic loop",
            Loop::Blocks => "32-neuron blocks",
            #[cfg(target_arch = "x86_64")]
            Loop::Avx2 => "32-neuron blocks, AVX2",
            #[cfg(target_arch = "x86_64")]
            Loop::Avx512 => "32-neuron blocks, AVX-512",
        };
        let counters = match &self.sim {
            Sim::Packed(_) => "16+16-bit counters",
            Sim::Wide(_) => "32+32-bit counters",
        };
        BackendInfo {
            name: "cpu".into(),
            device: format!(
                "host CPU, {} thread(s), {how}, {counters}",
                self.par.count()
            ),
            threads: self.par.count(),
        }
    }

    fn run(&mut self, steps: u64, recorder: &mut dyn Recorder) -> Result<()> {
        match &mut self.sim {
            Sim::Packed(e) => e.run(self.how, steps, recorder),
            Sim::Wide(e) => e.run(self.how, steps, recorder),
        }
        Ok(())
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
}

/// Locks a part; a poisoned lock (a panic in another thread) is passed through, the panic
/// itself has already failed the run.
fn lock<C>(part: &Mutex<Part<C>>) -> MutexGuard<'_, Part<C>> {
    part.lock().unwrap_or_else(|e| e.into_inner())
}

/// One parallel section: `steps` steps from `k0`, in batches of up to one delay, every thread
/// advancing its own parts, one barrier per batch.
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
    /// by the thread that owns the part, read by all after the next barrier.
    spikes: Vec<OnceLock<Vec<Vec<u32>>>>,
    barrier: SpinBarrier,
}

impl<C: Counter> Section<'_, C> {
    /// What thread `t` does.
    fn work(&self, t: usize) {
        let d = self.model.delay_steps as u64;
        let n_parts = self.parts.len();
        let mut mine: Vec<(usize, MutexGuard<'_, Part<C>>)> = self
            .parts
            .iter()
            .enumerate()
            .filter(|(p, _)| p % self.threads == t)
            .map(|(p, part)| (p, lock(part)))
            .collect();
        let mut arrivals = self.pending.to_vec();
        let batches = self.steps.div_ceil(d) as usize;
        for bi in 0..batches {
            let kb = self.k0 + bi as u64 * d;
            let b = d.min(self.steps - bi as u64 * d) as usize;
            if bi > 0 {
                // Every part's spikes of the previous (full) batch are complete.
                self.barrier.wait();
                let previous: Vec<&Vec<Vec<u32>>> = self.spikes[(bi - 1) * n_parts..bi * n_parts]
                    .iter()
                    .map(|s| s.get().expect("set before the barrier"))
                    .collect();
                kernel::arrivals(&previous, kb - d, d, &mut arrivals);
            }
            for (p, part) in &mut mine {
                let part = &mut **part;
                kernel::deliver(&part.synapses, &mut part.ring, self.model.n_e, &arrivals);
                let mut out = vec![Vec::new(); b];
                let view = PartView {
                    lo: part.range.lo,
                    v: &mut part.v,
                    last: &mut part.last,
                    ring: &mut part.ring,
                };
                kernel::update(self.how, self.model, self.thresholds, view, kb, b, &mut out);
                self.spikes[bi * n_parts + *p]
                    .set(out)
                    .expect("each part's batch is set once");
            }
        }
    }
}

/// A barrier for the pool's threads that spins briefly, then yields (the machine may be shared).
struct SpinBarrier {
    threads: usize,
    /// Spins before yielding: none when there are more threads than cores (the thread waited
    /// for is then likely not running, and spinning only delays it).
    spins: u32,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn new(threads: usize) -> SpinBarrier {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        SpinBarrier {
            threads,
            spins: if threads <= cores { 4096 } else { 0 },
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
        }
    }

    fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if spins < self.spins {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}
