//! The `Backend` trait every simulator implements, and what it hands out.

use crate::error::Result;

/// Receives the spikes of every step, in step order.
///
/// `record` is called once per simulated step, with the ids of the neurons that spiked at that
/// step in ascending order (possibly none). Backends that advance many steps per launch call it
/// for each step of the batch, in order, once the batch is done.
pub trait Recorder {
    fn record(&mut self, step: u64, spikes: &[u32]);
}

/// A recorder that keeps nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullRecorder;

impl Recorder for NullRecorder {
    fn record(&mut self, _step: u64, _spikes: &[u32]) {}
}

/// Hands every step to two recorders.
pub struct Tee<'a>(pub &'a mut dyn Recorder, pub &'a mut dyn Recorder);

impl Recorder for Tee<'_> {
    fn record(&mut self, step: u64, spikes: &[u32]) {
        self.0.record(step, spikes);
        self.1.record(step, spikes);
    }
}

/// The simulation's state, copied to the host: the common form in which backends are compared.
#[derive(Debug, Clone, PartialEq)]
pub struct HostState {
    /// Steps simulated so far; the next step to run.
    pub step: u64,
    /// Membrane potential of every neuron (mV).
    pub v: Vec<f64>,
    /// Step of every neuron's last spike, or [`crate::NEVER`].
    pub last_spike: Vec<i64>,
}

impl HostState {
    /// The index of the first neuron whose state differs bit for bit, if any.
    pub fn first_difference(&self, other: &HostState) -> Option<usize> {
        let n = self.v.len().max(other.v.len());
        (0..n).find(|&i| {
            self.v.get(i).map(|x| x.to_bits()) != other.v.get(i).map(|x| x.to_bits())
                || self.last_spike.get(i) != other.last_spike.get(i)
        })
    }
}

/// What a backend says about itself (written into result files as provenance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// `reference`, `cpu`, `opencl`.
    pub name: String,
    /// The device it runs on, in words.
    pub device: String,
    /// Threads (CPU) or work-items in flight (GPU) it uses.
    pub threads: usize,
}

/// A simulator of the model: state that lives on some device, advanced many steps at a time.
///
/// A backend is made from a [`crate::Model`] and a [`crate::Network`] by its crate's
/// constructor; from then on it owns its state. `run` may be called repeatedly: the
/// simulation continues where it stopped, and the result does not depend on how the steps were
/// split between calls.
pub trait Backend {
    /// Name, device and parallelism.
    fn info(&self) -> BackendInfo;

    /// Advances `steps` steps, handing the spikes of each step to `recorder`.
    fn run(&mut self, steps: u64, recorder: &mut dyn Recorder) -> Result<()>;

    /// Copies the state back to the host.
    fn state(&self) -> Result<HostState>;

    /// Steps simulated so far.
    fn step(&self) -> u64;

    /// Waits until the device has finished all work queued so far (for honest timings).
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}
