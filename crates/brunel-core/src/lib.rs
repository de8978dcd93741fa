//! brunel-core: the Brunel (2000) network of leaky integrate-and-fire neurons.
//!
//! - [`Config`]: every parameter, from TOML, validated;
//! - [`Model`]: the constants of the time step, resolved once;
//! - [`Network`]: the synapses, drawn once from the seed;
//! - [`Backend`]: what every simulator implements; [`ReferenceBackend`] is the oracle;
//! - [`rng`] and [`binomial`]: the counter-based external input every backend shares;
//! - [`record`]: population rate, spikes, per-neuron statistics.
//!
//! docs/model.md states the model and the time step this crate implements.
//!
//! A run goes config → model → network → backend → recorder. A small network (1 000 neurons,
//! the paper's proportions and Fig. 8 panel C's input) for 100 ms on the reference backend:
//!
//! ```
//! use brunel_core::{Config, Model, Network, Par, RecordSpikes, ReferenceBackend, SpikeRecorder};
//!
//! // Every key not given keeps its default (Brunel 2000, Fig. 8 panel C).
//! let config = Config::from_toml(
//!     "[network]\nn_e = 800\n[simulation]\nduration = 100.0\nseed = 7",
//! )?;
//! let model = Model::new(&config);
//! let network = Network::build(&config, Par::Seq);
//! let mut backend = ReferenceBackend::new(&model, &network);
//! // The spike count of every step, and the spikes of neurons 0..10.
//! let mut record = SpikeRecorder::new(RecordSpikes::First(10), model.steps);
//! let done = brunel_core::run_in_chunks(
//!     &mut backend, &model, model.steps, 250, &mut record, |_| true,
//! )?;
//! assert_eq!(done, 1000);
//! assert_eq!(record.counts.len(), 1000);
//!
//! // Mean rate per neuron (Hz): spikes / (N × 0.1 s). The external input alone is twice the
//! // threshold's, so the neurons fire.
//! let spikes: u32 = record.counts.iter().sum();
//! let rate = spikes as f64 / (model.n as f64 * 0.1);
//! assert!(rate > 1.0, "{rate} Hz");
//! # Ok::<(), brunel_core::Error>(())
//! ```
//!
//! Every other backend (`brunel-cpu`, `brunel-opencl`, `brunel-mpi`, made through
//! `brunel-backends`) gives these spikes bit for bit.

#![warn(missing_docs)]

pub mod backend;
pub mod binomial;
pub mod config;
pub mod connectivity;
pub mod error;
pub mod memory;
pub mod model;
pub mod part;
pub mod record;
pub mod reference;
pub mod regime;
pub mod rng;
pub mod theory;

use std::num::NonZeroUsize;

pub use backend::{
    Backend, BackendInfo, DeviceKind, HostState, InFlight, RecordPlan, Recorder, Tee,
};
pub use config::{Config, Connectivity, RecordSpikes, RefractoryInput, Storage};
pub use connectivity::{Draw, Network, Synapses, TARGET_BLOCK};
pub use error::{Error, Result};
pub use model::{Model, NEVER};
pub use part::{partition, Cut, PartRange};
pub use record::{NeuronStats, SpikeRecorder};
pub use reference::ReferenceBackend;

/// How much parallelism a piece of work may use: a value passed in, never a global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Par {
    /// The calling thread only.
    Seq,
    /// A rayon pool of this many threads.
    Rayon(NonZeroUsize),
}

impl Par {
    /// `threads` threads (1 means [`Par::Seq`]); 0 means all cores.
    pub fn threads(threads: usize) -> Par {
        let n = if threads == 0 {
            std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
        } else {
            threads
        };
        match NonZeroUsize::new(n) {
            Some(n) if n.get() > 1 => Par::Rayon(n),
            _ => Par::Seq,
        }
    }

    /// Number of threads.
    pub fn count(self) -> usize {
        match self {
            Par::Seq => 1,
            Par::Rayon(n) => n.get(),
        }
    }

    /// Runs `f` with rayon's parallel iterators confined to this many threads.
    pub fn install<R: Send>(self, f: impl FnOnce() -> R + Send) -> R {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.count())
            .build()
            .expect("a rayon thread pool can be built");
        pool.install(f)
    }
}

/// Runs `steps` steps in chunks of `chunk`, calling `progress(done)` after each chunk: the
/// recorder's whole lifecycle ([`Recorder::prepare`], the steps, [`Recorder::finish`]).
/// `progress` may stop the run early by returning `false` (an interruption); the recorder is
/// then still finished, and the steps done are returned.
pub fn run_in_chunks(
    backend: &mut dyn Backend,
    model: &Model,
    steps: u64,
    chunk: u64,
    recorder: &mut dyn Recorder,
    mut progress: impl FnMut(u64) -> bool,
) -> Result<u64> {
    recorder.prepare(&RecordPlan {
        n: model.n,
        first_step: backend.step(),
        steps,
        dt: model.dt,
    })?;
    let chunk = chunk.max(1);
    let mut done = 0;
    while done < steps {
        let now = chunk.min(steps - done);
        backend.run(now, recorder)?;
        done += now;
        if !progress(done) {
            break;
        }
    }
    recorder.finish()?;
    Ok(done)
}
