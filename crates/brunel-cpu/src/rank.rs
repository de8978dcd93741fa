//! The cpu engine on one contiguous range of the neurons, advanced one batch (at most one
//! delay) at a time, for a backend that runs the other neurons elsewhere (the ranks of an MPI
//! job, `brunel-mpi`).
//!
//! Between two batches the caller gathers every range's spikes and hands them all back
//! ([`RankEngine::arrive`]): the next batch delivers them, exactly as the cpu backend delivers
//! the spikes of its own parts. The range starts on a block of [`WIDTH`] neurons, so that its
//! parts are the cpu backend's parts shifted: every neuron's arithmetic (its external input's
//! Philox stream is that of its block of global ids) and therefore every bit is the same as
//! in one process, whatever the number of ranges.

use brunel_core::{
    BackendInfo, Cut, DeviceKind, Error, HostState, Model, Par, PartRange, Result, Synapses,
};

use crate::kernel::Arrival;
use crate::layout::{self, Targets};
use crate::philox::WIDTH;
use crate::{
    loop_words, parts_of, plan, procedural_draw, resolve, Kernel, Loop, Parts, Sim,
    PARTS_PER_THREAD,
};

/// The cpu engine on the neurons of one range (global ids), advanced a batch at a time.
pub struct RankEngine {
    range: PartRange,
    how: Loop,
    par: Par,
    asked: usize,
    sim: Sim,
    /// Out-degrees onto the range, counted when the parts were made (procedural parts keep no
    /// rows to count them in later).
    out_degree: Option<Vec<u32>>,
}

/// Captures the spikes of one batch, step by step (ids ascending).
struct Capture(Vec<Vec<u32>>);

impl brunel_core::Recorder for Capture {
    fn record(&mut self, _step: u64, spikes: &[u32]) {
        self.0.push(spikes.to_vec());
    }
}

impl RankEngine {
    /// The engine for the neurons of `range` on `par` threads; `cut` gives the synapses onto
    /// a sub-range (a part), each target stored as [`RankEngine::position`] of its index
    /// local to the part (e.g. `network.cut(r, |l| RankEngine::position(l, r.len()))`). It is
    /// called once per part, in parallel. `range.lo` must be a multiple of 32 (the external
    /// input's generator blocks).
    pub fn new(
        model: &Model,
        range: PartRange,
        par: Par,
        cut: impl Fn(PartRange) -> Result<Cut<u16>> + Sync,
    ) -> Result<RankEngine> {
        let parts = Parts {
            make: |r| {
                cut(r).map(Targets::Stored).map_err(|e| match e {
                    Error::Unavailable { message, .. } => Error::Unavailable {
                        backend: "cpu".into(),
                        message,
                    },
                    other => other,
                })
            },
            one_at_a_time: false,
            max_in_bound: None,
            degrees_of: None,
        };
        RankEngine::build(model, range, par, parts)
    }

    /// The engine for the neurons of `range` on `par` threads from `synapses`: the parts'
    /// cuts drawn directly (or cut from a whole network), or, with procedural storage
    /// ([`Model::storage`]) and the network not drawn yet, no synapses kept (each spike's
    /// targets in a part drawn again), as the cpu backend does.
    pub fn from_synapses(
        model: &Model,
        range: PartRange,
        par: Par,
        synapses: &Synapses,
    ) -> Result<RankEngine> {
        let procedural = procedural_draw(model, synapses)?;
        // Stored parts' out-degrees are counted from their rows later; procedural ones now.
        let parts = Parts {
            degrees_of: procedural.as_deref(),
            ..parts_of(synapses, &procedural)
        };
        RankEngine::build(model, range, par, parts)
    }

    fn build(
        model: &Model,
        range: PartRange,
        par: Par,
        parts: Parts<impl Fn(PartRange) -> Result<Targets> + Sync>,
    ) -> Result<RankEngine> {
        let bad = |message: String| Error::Backend {
            backend: "cpu".into(),
            message,
        };
        if range.hi > model.n || range.lo > range.hi {
            return Err(bad(format!(
                "neurons {}..{} are not a range of the network of {} neurons",
                range.lo, range.hi, model.n
            )));
        }
        if !(range.lo as usize).is_multiple_of(WIDTH) {
            return Err(bad(format!(
                "a range of neurons must start on a multiple of {WIDTH}, not at {}",
                range.lo
            )));
        }
        if model.delay_steps == 0 {
            return Err(Error::config(
                "synapse.delay",
                "must be at least one time step",
            ));
        }
        let how = resolve(Kernel::Auto)?;
        let asked = par.count();
        let (local, threads) = plan(range.len() as u32, par.count(), PARTS_PER_THREAD);
        let ranges = local
            .into_iter()
            .map(|r| PartRange {
                lo: r.lo + range.lo,
                hi: r.hi + range.lo,
            })
            .collect();
        let par = Par::threads(threads);
        let (sim, out_degree) = Sim::build_parts(model, ranges, par, parts, true)?;
        Ok(RankEngine {
            range,
            how,
            par,
            asked,
            sim,
            out_degree,
        })
    }

    /// Where the neuron of local index `i` of a part of `len` neurons is stored: what `cut`
    /// must map each target to.
    pub fn position(i: usize, len: usize) -> u16 {
        layout::position(i, len) as u16
    }

    /// The neurons this engine advances.
    pub fn range(&self) -> PartRange {
        self.range
    }

    /// The next step to run.
    pub fn step(&self) -> u64 {
        match &self.sim {
            Sim::Packed(e) => e.step,
            Sim::Wide(e) => e.step,
        }
    }

    /// Threads that advance the range.
    pub fn threads(&self) -> usize {
        self.par.count()
    }

    /// Bytes of synapses held.
    pub fn synapse_bytes(&self) -> usize {
        match &self.sim {
            Sim::Packed(e) => e.synapse_bytes(),
            Sim::Wide(e) => e.synapse_bytes(),
        }
    }

    /// The synapses from each of the `n` neurons of the network onto this range.
    pub fn out_degrees(&self) -> Vec<u32> {
        if let Some(counted) = &self.out_degree {
            return counted.clone();
        }
        let n = match &self.sim {
            Sim::Packed(e) => e.model.n,
            Sim::Wide(e) => e.model.n,
        } as usize;
        let mut degrees = vec![0u32; n];
        let mut add = |offsets: &[u32]| {
            for (d, w) in degrees.iter_mut().zip(offsets.windows(2)) {
                *d += w[1] - w[0];
            }
        };
        match &self.sim {
            Sim::Packed(e) => e.parts.iter().for_each(|p| add(p.synapses.offsets())),
            Sim::Wide(e) => e.parts.iter().for_each(|p| add(p.synapses.offsets())),
        }
        degrees
    }

    /// What the engine runs on, as the cpu backend describes itself.
    pub fn info(&self) -> BackendInfo {
        let capped = if self.asked > self.par.count() {
            format!(" ({} asked; the range has work for no more)", self.asked)
        } else {
            String::new()
        };
        BackendInfo {
            name: "cpu".into(),
            device: format!(
                "host CPU, {} thread(s){capped}{}, {}, {}",
                self.par.count(),
                self.sim.pinning(),
                loop_words(self.how),
                self.sim.counters()
            ),
            device_kind: DeviceKind::Host,
            threads: self.par.count(),
            work_items: None,
            parts: Some(self.sim.parts()),
            ranks: None,
        }
    }

    /// Advances one batch of `steps` steps (1 ..= the delay) from [`RankEngine::step`],
    /// delivering first the spikes handed to [`RankEngine::arrive`] (or loaded); returns the
    /// range's spikes of each step (global ids, ascending).
    pub fn advance(&mut self, steps: u64) -> Result<Vec<Vec<u32>>> {
        let d = match &self.sim {
            Sim::Packed(e) => e.model.delay_steps,
            Sim::Wide(e) => e.model.delay_steps,
        } as u64;
        if steps == 0 || steps > d {
            return Err(Error::Backend {
                backend: "cpu".into(),
                message: format!("a batch is 1 to {d} steps, not {steps}"),
            });
        }
        let mut capture = Capture(Vec::with_capacity(steps as usize));
        match &mut self.sim {
            Sim::Packed(e) => e.run(self.how, steps, &mut capture)?,
            Sim::Wide(e) => e.run(self.how, steps, &mut capture)?,
        }
        Ok(capture.0)
    }

    /// The spikes of every neuron (all ranges) in the batch just advanced, as (step, id): the
    /// next batch delivers them (in place of the range's own spikes, which are among them).
    pub fn arrive(&mut self, spikes: impl Iterator<Item = (u64, u32)>) {
        let set = |pending: &mut Vec<Arrival>, d: u64| {
            pending.clear();
            pending.extend(spikes.map(|(k, source)| Arrival {
                slot: (k % d) as u32,
                source,
            }));
        };
        match &mut self.sim {
            Sim::Packed(e) => set(&mut e.pending, e.model.delay_steps as u64),
            Sim::Wide(e) => set(&mut e.pending, e.model.delay_steps as u64),
        }
    }

    /// The potentials and last spikes of the range's neurons, in id order.
    pub fn local_state(&self) -> (Vec<f64>, Vec<i64>) {
        let state = match &self.sim {
            Sim::Packed(e) => e.state(),
            Sim::Wide(e) => e.state(),
        };
        (state.v, state.last_spike)
    }

    /// Continues from `state`, the whole network's: takes the range's neurons and delivers
    /// the spikes in flight (of all neurons) before the next batch.
    pub fn load_state(&mut self, state: &HostState) -> Result<()> {
        match &mut self.sim {
            Sim::Packed(e) => e.load_state(state),
            Sim::Wide(e) => e.load_state(state),
        }
    }
}
