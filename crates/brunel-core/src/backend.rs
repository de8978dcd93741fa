//! The `Backend` contract every simulator implements, the state it hands out and takes back,
//! and the recorders it hands spikes to.

use std::collections::VecDeque;

use crate::error::{Error, Result};
use crate::model::{Model, NEVER};

/// What a recorder is told before the first step it will receive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordPlan {
    /// Neurons of the network.
    pub n: u32,
    /// The first step that will be recorded (0, or the step a resumed run continues from).
    pub first_step: u64,
    /// Steps that will be recorded from there.
    pub steps: u64,
    /// Time step (ms).
    pub dt: f64,
}

/// Receives the spikes of every step, in step order, through a lifecycle in the manner of
/// NEST's recording backends:
///
/// 1. [`Recorder::prepare`], once, by whoever drives the run, before the first step;
/// 2. per step, [`Recorder::record`] (all neurons' spikes, ids ascending) or
///    [`Recorder::record_parts`] (the spikes of each part of the neurons, for a backend whose
///    neurons live in several places); a backend that advances many steps per launch hands over
///    each step of the batch in order once the batch is done, then calls
///    [`Recorder::end_batch`];
/// 3. [`Recorder::finish`], once, by whoever drives the run, after the last step (a recorder
///    that writes a file flushes and closes it here).
///
/// Whatever the backend, the spikes that reach [`Recorder::record`] are in ascending id order
/// for each step, and steps come in ascending order without gaps.
pub trait Recorder {
    /// Called once before the first step.
    fn prepare(&mut self, _plan: &RecordPlan) -> Result<()> {
        Ok(())
    }

    /// The ids (ascending) of the neurons that spiked at `step` (possibly none).
    fn record(&mut self, step: u64, spikes: &[u32]);

    /// The spikes of `step` given per part: `parts[p]` holds ascending ids, and every id of
    /// part p is below every id of part p + 1. The default joins them and calls
    /// [`Recorder::record`].
    fn record_parts(&mut self, step: u64, parts: &[&[u32]]) {
        match parts {
            [] => self.record(step, &[]),
            [one] => self.record(step, one),
            _ => {
                let joined: Vec<u32> = parts.iter().flat_map(|p| p.iter().copied()).collect();
                self.record(step, &joined);
            }
        }
    }

    /// Every step before `next_step` has been handed over (the end of a backend's batch): a
    /// recorder that streams to a file may write out what it holds.
    fn end_batch(&mut self, _next_step: u64) -> Result<()> {
        Ok(())
    }

    /// Called once after the last step.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Hands every step to two recorders.
pub struct Tee<'a>(pub &'a mut dyn Recorder, pub &'a mut dyn Recorder);

impl Recorder for Tee<'_> {
    fn prepare(&mut self, plan: &RecordPlan) -> Result<()> {
        self.0.prepare(plan)?;
        self.1.prepare(plan)
    }

    fn record(&mut self, step: u64, spikes: &[u32]) {
        self.0.record(step, spikes);
        self.1.record(step, spikes);
    }

    fn record_parts(&mut self, step: u64, parts: &[&[u32]]) {
        self.0.record_parts(step, parts);
        self.1.record_parts(step, parts);
    }

    fn end_batch(&mut self, next_step: u64) -> Result<()> {
        self.0.end_batch(next_step)?;
        self.1.end_batch(next_step)
    }

    fn finish(&mut self) -> Result<()> {
        self.0.finish()?;
        self.1.finish()
    }
}

/// The whole state of a simulation, on the host: the common form in which backends are
/// compared, and what [`Backend::load_state`] takes to continue from (a checkpoint, a
/// hand-built test).
///
/// Besides every neuron's potential and last spike it holds the spikes still in flight: those
/// of the `delay_steps` steps before `step`, which arrive at `step` or later. With the network
/// (rebuilt from the seed) they determine every arrival counter, so the state is small and the
/// same whatever a backend's internal layout.
#[derive(Debug, Clone, PartialEq)]
pub struct HostState {
    /// Steps simulated so far; the next step to run.
    pub step: u64,
    /// Membrane potential of every neuron (mV).
    pub v: Vec<f64>,
    /// Step of every neuron's last spike, or [`crate::NEVER`].
    pub last_spike: Vec<i64>,
    /// The spikes of steps `step − delay_steps .. step` (those not yet arrived), as
    /// (step, neuron), ascending.
    pub in_flight: Vec<(u64, u32)>,
}

impl HostState {
    /// The state of a network at rest, before step 0: v = v_init everywhere, no spike yet.
    pub fn initial(model: &Model) -> HostState {
        HostState {
            step: 0,
            v: vec![model.v_init; model.n as usize],
            last_spike: vec![NEVER; model.n as usize],
            in_flight: Vec::new(),
        }
    }

    /// The index of the first neuron whose state differs bit for bit, if any.
    pub fn first_difference(&self, other: &HostState) -> Option<usize> {
        let n = self.v.len().max(other.v.len());
        (0..n).find(|&i| {
            self.v.get(i).map(|x| x.to_bits()) != other.v.get(i).map(|x| x.to_bits())
                || self.last_spike.get(i) != other.last_spike.get(i)
        })
    }

    /// Checks that this state fits `model` (sizes, the window of the spikes in flight, ids,
    /// last spikes), so that every backend can load it without further checks.
    pub fn check(&self, model: &Model) -> Result<()> {
        let bad = |message: String| Err(Error::State(message));
        let n = model.n as usize;
        if self.v.len() != n || self.last_spike.len() != n {
            return bad(format!(
                "the state holds {} potentials and {} last spikes for a network of {n} neurons",
                self.v.len(),
                self.last_spike.len()
            ));
        }
        if let Some(i) = self.v.iter().position(|v| !v.is_finite()) {
            return bad(format!("the potential of neuron {i} is not finite"));
        }
        if let Some(i) = self
            .last_spike
            .iter()
            .position(|&l| l != NEVER && (l < 0 || l as u64 >= self.step.max(1)))
        {
            return bad(format!(
                "neuron {i}'s last spike ({}) is not before step {}",
                self.last_spike[i], self.step
            ));
        }
        let from = self.step.saturating_sub(model.delay_steps as u64);
        let mut previous: Option<(u64, u32)> = None;
        for &(k, id) in &self.in_flight {
            if k < from || k >= self.step || id >= model.n {
                return bad(format!(
                    "a spike in flight (neuron {id} at step {k}) is not of a neuron of the network in steps {from}..{}",
                    self.step
                ));
            }
            if previous.is_some_and(|p| p >= (k, id)) {
                return bad(
                    "the spikes in flight are not in ascending (step, neuron) order".into(),
                );
            }
            previous = Some((k, id));
        }
        Ok(())
    }
}

/// The spikes of the last `delay` steps, kept by a backend so that [`Backend::state`] can say
/// which are still in flight.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    delay: u64,
    /// (step, ids ascending), the oldest first.
    steps: VecDeque<(u64, Vec<u32>)>,
}

impl InFlight {
    /// Keeps the spikes of the last `delay_steps` steps.
    pub fn new(delay_steps: u32) -> InFlight {
        InFlight {
            delay: delay_steps as u64,
            steps: VecDeque::new(),
        }
    }

    /// Notes the spikes of `step` (ascending ids), given per part as
    /// [`Recorder::record_parts`] receives them, and forgets those that have arrived.
    pub fn push_parts(&mut self, step: u64, parts: &[&[u32]]) {
        let mut ids = match self.steps.front() {
            Some((k, _)) if *k + self.delay <= step => self.steps.pop_front().map(|(_, v)| v),
            _ => None,
        }
        .unwrap_or_default();
        ids.clear();
        for part in parts {
            ids.extend_from_slice(part);
        }
        self.steps.push_back((step, ids));
        while self
            .steps
            .front()
            .is_some_and(|(k, _)| *k + self.delay <= step)
        {
            self.steps.pop_front();
        }
    }

    /// Notes the spikes of `step`.
    pub fn push(&mut self, step: u64, ids: &[u32]) {
        self.push_parts(step, &[ids]);
    }

    /// The spikes still in flight before step `next`, as [`HostState::in_flight`] holds them.
    pub fn list(&self, next: u64) -> Vec<(u64, u32)> {
        self.steps
            .iter()
            .filter(|(k, _)| *k + self.delay >= next && *k < next)
            .flat_map(|(k, ids)| ids.iter().map(move |&i| (*k, i)))
            .collect()
    }

    /// Starts again from a loaded state's spikes in flight.
    pub fn load(&mut self, in_flight: &[(u64, u32)]) {
        self.steps.clear();
        for &(k, id) in in_flight {
            match self.steps.back_mut() {
                Some((last, ids)) if *last == k => ids.push(id),
                _ => self.steps.push_back((k, vec![id])),
            }
        }
    }

    /// The loaded spikes grouped by step: (step, ids), ascending.
    pub fn by_step(&self) -> impl Iterator<Item = (u64, &[u32])> {
        self.steps.iter().map(|(k, ids)| (*k, ids.as_slice()))
    }
}

/// What kind of device a backend computes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// The host's processor, natively (the reference, the cpu backend).
    Host,
    /// A GPU.
    Gpu,
    /// An OpenCL CPU device (PoCL, Intel's CPU runtime).
    OpenClCpu,
    /// Another accelerator.
    Other,
}

impl DeviceKind {
    /// The word written into result files (`device_kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Host => "host",
            DeviceKind::Gpu => "gpu",
            DeviceKind::OpenClCpu => "opencl-cpu",
            DeviceKind::Other => "other",
        }
    }
}

/// What a backend says about itself (written into result files as provenance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// The registry's name: `reference`, `cpu`, `opencl`.
    pub name: String,
    /// The device it runs on, in words.
    pub device: String,
    /// What kind of device that is.
    pub device_kind: DeviceKind,
    /// Host threads that advance the neurons (1 for the reference and for a backend whose
    /// host only drives a device).
    pub threads: usize,
    /// Work-items in flight on a device per launch (OpenCL), if any.
    pub work_items: Option<usize>,
    /// Parts the neurons are cut into (each advanced as a whole by one thread or work-item
    /// group), if the backend cuts them.
    pub parts: Option<usize>,
    /// Processes (MPI ranks) the neurons are spread over, if more than one place runs them
    /// (`mpi`); `None`: one process.
    pub ranks: Option<usize>,
}

/// A simulator of the model: state that lives on some device, advanced many steps at a time.
///
/// A backend is made from a [`crate::Model`] and a [`crate::Network`] by its registry entry
/// (`brunel-backends`); from then on it owns its state. `run` may be called repeatedly: the
/// simulation continues where it stopped, and the result does not depend on how the steps
/// were split between calls. `state` and `load_state` move the whole state to and from the
/// host: `load_state(&other.state()?)` makes a backend continue exactly where `other` stands.
pub trait Backend: Send {
    /// Name, device and parallelism.
    fn info(&self) -> BackendInfo;

    /// Advances `steps` steps, handing the spikes of each step to `recorder`.
    fn run(&mut self, steps: u64, recorder: &mut dyn Recorder) -> Result<()>;

    /// Copies the whole state back to the host.
    fn state(&self) -> Result<HostState>;

    /// Replaces the whole state by `state` (checked with [`HostState::check`]); the next step
    /// run is `state.step`.
    fn load_state(&mut self, state: &HostState) -> Result<()>;

    /// Steps simulated so far.
    fn step(&self) -> u64;

    /// Waits until the device has finished all work queued so far (for honest timings).
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    /// The out-degree of every neuron, for a backend made from a network not drawn as a
    /// whole ([`crate::Synapses::Draw`]) that can add them up from what it holds (the cpu
    /// backend from its parts, or procedural, from every row drawn once more; the `mpi`
    /// backend: a collective call on every rank); `None`: ask the network.
    fn out_degrees(&self) -> Result<Option<Vec<u32>>> {
        Ok(None)
    }
}
