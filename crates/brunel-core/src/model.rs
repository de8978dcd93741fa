//! The model's constants, resolved once from a [`Config`]: what every backend's time step uses.

use crate::binomial::BinomialTable;
use crate::config::{Config, RefractoryInput, Storage};
use crate::rng;

/// Constants of one simulation, in the units of the time step (mV, steps).
///
/// Everything transcendental is evaluated here, once (`decay = exp(-dt/tau)`, the Binomial
/// table); the time step itself uses only +, * and comparisons, in the order that
/// [`Model::input`] fixes, so that every backend computes the same bits.
#[derive(Debug, Clone)]
pub struct Model {
    /// All neurons.
    pub n: u32,
    /// Excitatory neurons: ids 0..n_e; inhibitory: n_e..n.
    pub n_e: u32,
    /// v ← v · decay each non-refractory step.
    pub decay: f64,
    /// Threshold: spike when v > theta.
    pub theta: f64,
    /// Reset potential.
    pub v_reset: f64,
    /// Initial potential.
    pub v_init: f64,
    /// Jump of an excitatory (and external) input: +J.
    pub j_exc: f64,
    /// Jump of an inhibitory input: −g·J.
    pub j_inh: f64,
    /// Refractory period in steps: a neuron that spiked at step k can spike again at k + ref_steps.
    pub ref_steps: u32,
    /// Delay in steps: a spike at step k arrives at step k + delay_steps (>= 1).
    pub delay_steps: u32,
    /// Steps of the run.
    pub steps: u64,
    /// Time step (ms).
    pub dt: f64,
    /// Input during refractoriness.
    pub refractory_input: RefractoryInput,
    /// Key of the external input's generator.
    pub key: [u32; 2],
    /// Binomial(C_ext, nu_ext·dt) inversion table.
    pub external: BinomialTable,
    /// Whether the synapses are kept or drawn again at every spike (`network.storage`): a
    /// backend made from [`crate::Synapses::Draw`] that can draw rows again honours it.
    pub storage: Storage,
}

/// Marks a neuron that has not spiked yet in [`crate::HostState::last_spike`].
pub const NEVER: i64 = i64::MIN;

impl Model {
    /// Resolves a validated config.
    pub fn new(config: &Config) -> Model {
        let dt = config.simulation.dt;
        let p = (config.nu_ext() * dt / 1000.0).clamp(0.0, 1.0);
        Model {
            n: config.n() as u32,
            n_e: config.network.n_e as u32,
            decay: (-dt / config.neuron.tau).exp(),
            theta: config.neuron.theta,
            v_reset: config.neuron.v_reset,
            v_init: config.neuron.v_init,
            j_exc: config.synapse.j,
            j_inh: -config.synapse.g * config.synapse.j,
            ref_steps: config.ref_steps() as u32,
            delay_steps: config.delay_steps() as u32,
            steps: config.steps(),
            dt,
            refractory_input: config.neuron.refractory_input,
            key: rng::seed_key(config.simulation.seed),
            external: BinomialTable::new(config.c_ext(), p),
            storage: config.network.storage,
        }
    }

    /// The input that arrives at a neuron in one step, in mV: `x` external events, `n_exc`
    /// excitatory and `n_inh` inhibitory recurrent arrivals. The one order of floating-point
    /// operations every backend uses: `J·(x + n_exc) + (−gJ)·n_inh`, each count converted
    /// exactly to f64.
    #[inline(always)]
    pub fn input(&self, x: u32, n_exc: u32, n_inh: u32) -> f64 {
        self.j_exc * (x as f64 + n_exc as f64) + self.j_inh * n_inh as f64
    }

    /// Whether input reaches a neuron that is refractory, or that spiked at this step.
    #[inline(always)]
    pub fn accumulates(&self) -> bool {
        self.refractory_input == RefractoryInput::Accumulate
    }

    /// Whether `neuron` is excitatory.
    #[inline(always)]
    pub fn is_excitatory(&self, neuron: u32) -> bool {
        neuron < self.n_e
    }
}
