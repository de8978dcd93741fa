//! The scalar reference backend: docs/model.md's time step, written to be read. It is the oracle
//! every other backend is compared with, bit for bit.

use crate::backend::{Backend, BackendInfo, DeviceKind, HostState, InFlight, Recorder};
use crate::config::RefractoryInput;
use crate::connectivity::Network;
use crate::error::Result;
use crate::model::{Model, NEVER};
use crate::rng;

/// One thread, one neuron at a time, f64 throughout.
#[derive(Debug, Clone)]
pub struct ReferenceBackend {
    model: Model,
    network: Network,
    /// Membrane potentials (mV).
    v: Vec<f64>,
    /// Step of each neuron's last spike, or NEVER.
    last_spike: Vec<i64>,
    /// Arrivals of excitatory spikes: `arrivals_exc[slot][neuron]`, where the arrivals of
    /// step k are in slot k mod delay_steps.
    arrivals_exc: Vec<Vec<u32>>,
    /// Arrivals of inhibitory spikes, likewise.
    arrivals_inh: Vec<Vec<u32>>,
    /// Next step to simulate.
    step: u64,
    /// Spikes of the current step.
    spikes: Vec<u32>,
    /// Spikes of the last delay_steps steps, for [`Backend::state`].
    in_flight: InFlight,
}

impl ReferenceBackend {
    /// A network at rest: v = v_init everywhere, no spike yet, nothing in flight.
    pub fn new(model: &Model, network: &Network) -> ReferenceBackend {
        let n = model.n as usize;
        assert_eq!(network.n, model.n, "network and model disagree on N");
        let slots = model.delay_steps as usize;
        ReferenceBackend {
            model: model.clone(),
            network: network.clone(),
            v: vec![model.v_init; n],
            last_spike: vec![NEVER; n],
            arrivals_exc: vec![vec![0; n]; slots],
            arrivals_inh: vec![vec![0; n]; slots],
            step: 0,
            spikes: Vec::new(),
            in_flight: InFlight::new(model.delay_steps),
        }
    }

    /// One step, docs/model.md's order: state update, threshold, synapses, reset.
    fn advance(&mut self, recorder: &mut dyn Recorder) {
        let m = &self.model;
        let k = self.step;
        let slot = (k % m.delay_steps as u64) as usize;
        self.spikes.clear();
        for i in 0..m.n as usize {
            // 1. Refractoriness: not refractory before the first spike, and from ref_steps
            //    steps after the last one.
            let last = self.last_spike[i];
            let mut not_refractory = last == NEVER || k as i64 - last >= m.ref_steps as i64;
            // 2. State update, exact integration of dv/dt = -v/tau, only if not refractory.
            let mut v = self.v[i];
            if not_refractory {
                v *= m.decay;
            }
            // 3. Threshold, strict.
            let spiked = not_refractory && v > m.theta;
            if spiked {
                self.last_spike[i] = k as i64;
                not_refractory = false;
                self.spikes.push(i as u32);
            }
            // 4. Synapses: the external draw and the arrivals of this step. Arrivals are taken
            //    out of the ring whether or not they are used.
            let n_exc = std::mem::take(&mut self.arrivals_exc[slot][i]);
            let n_inh = std::mem::take(&mut self.arrivals_inh[slot][i]);
            let receives = match m.refractory_input {
                RefractoryInput::Discard => not_refractory,
                RefractoryInput::Accumulate => true,
            };
            if receives {
                let u = rng::external_uniform(m.key, i as u32, k);
                let x = m.external.sample(u);
                v += m.input(x, n_exc, n_inh);
            }
            // 5. Reset, after the input of this step.
            if spiked {
                v = m.v_reset;
            }
            self.v[i] = v;
        }
        // The spikes of step k arrive at step k + delay_steps, whose slot is this step's slot,
        // already emptied above.
        for &s in &self.spikes {
            let arrivals = if m.is_excitatory(s) {
                &mut self.arrivals_exc[slot]
            } else {
                &mut self.arrivals_inh[slot]
            };
            for &t in self.network.row(s) {
                arrivals[t as usize] += 1;
            }
        }
        recorder.record(k, &self.spikes);
        self.in_flight.push(k, &self.spikes);
        self.step += 1;
    }
}

impl Backend for ReferenceBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "reference".into(),
            device: "host CPU, one thread (scalar reference)".into(),
            device_kind: DeviceKind::Host,
            threads: 1,
            work_items: None,
            parts: None,
            ranks: None,
        }
    }

    fn run(&mut self, steps: u64, recorder: &mut dyn Recorder) -> Result<()> {
        for _ in 0..steps {
            self.advance(recorder);
        }
        Ok(())
    }

    fn state(&self) -> Result<HostState> {
        Ok(HostState {
            step: self.step,
            v: self.v.clone(),
            last_spike: self.last_spike.clone(),
            in_flight: self.in_flight.list(self.step),
        })
    }

    fn load_state(&mut self, state: &HostState) -> Result<()> {
        state.check(&self.model)?;
        self.v.copy_from_slice(&state.v);
        self.last_spike.copy_from_slice(&state.last_spike);
        self.step = state.step;
        for slot in self.arrivals_exc.iter_mut().chain(&mut self.arrivals_inh) {
            slot.fill(0);
        }
        // A spike of step k arrives at step k + delay_steps, in slot k mod delay_steps.
        let d = self.model.delay_steps as u64;
        for &(k, s) in &state.in_flight {
            let slot = (k % d) as usize;
            let arrivals = if self.model.is_excitatory(s) {
                &mut self.arrivals_exc[slot]
            } else {
                &mut self.arrivals_inh[slot]
            };
            for &t in self.network.row(s) {
                arrivals[t as usize] += 1;
            }
        }
        self.in_flight.load(&state.in_flight);
        Ok(())
    }

    fn step(&self) -> u64 {
        self.step
    }
}
