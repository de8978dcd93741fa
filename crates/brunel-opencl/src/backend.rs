//! The backend: state and network on the device, `delay_steps` steps per launch.

use brunel_core::{Backend, BackendInfo, HostState, Model, Network, Recorder, Result, NEVER};
use ocl::{flags, Buffer, Kernel, Queue};

use crate::cache::ProgramCache;
use crate::device::{self, DeviceInfo, DeviceKind, KERNEL_SOURCE};
use crate::failed;

/// Build options of the program: none beyond the defaults. Model constants are kernel
/// arguments, so one compiled program serves every model; `-cl-mad-enable` and
/// `-cl-fast-relaxed-math` would break bit-identity and are never passed.
const BUILD_OPTIONS: &str = "";

/// Upper bound on the steps of one launch (the spike list holds `batch · N` entries).
const MAX_BATCH: u32 = 64;

/// How the work is split into work-items: a matter of speed only, the results are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Neurons per work-item of the step kernel: 1 (`advance_neurons`: most work-items, for
    /// GPUs) or 4 (`advance_blocks`: one Philox call serves four neurons, for CPUs).
    pub neurons_per_item: u32,
    /// Work-group size of the step kernel.
    pub advance_local: usize,
    /// How spikes are delivered to the arrival counters.
    pub delivery: Delivery,
}

/// How the spikes of a launch are delivered to the arrival counters; both give the same counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// `propagate`: one work-group of `local` work-items per spike, integer atomics (GPUs).
    Atomic { local: usize },
    /// `propagate_owned`: `parts` work-items, each the only writer of a range of targets, plain
    /// increments (CPUs, where a locked add costs many plain ones).
    Owned { parts: usize },
}

impl Tuning {
    /// The default split for a device: on CPUs four neurons per work-item and one delivery part
    /// per compute unit (more parts cost more binary searches and gained nothing on PoCL); on
    /// GPUs one neuron per work-item and atomic delivery.
    pub fn for_device(device: &DeviceInfo) -> Tuning {
        match device.kind {
            DeviceKind::Cpu => Tuning {
                neurons_per_item: 4,
                advance_local: 64,
                delivery: Delivery::Owned {
                    parts: device.compute_units.max(1) as usize,
                },
            },
            DeviceKind::Gpu | DeviceKind::Other => Tuning {
                neurons_per_item: 1,
                advance_local: 128,
                delivery: Delivery::Atomic { local: 128 },
            },
        }
    }
}

/// The OpenCL backend.
pub struct OpenClBackend {
    device: DeviceInfo,
    tuning: Tuning,
    queue: Queue,
    advance: Kernel,
    propagate: Kernel,
    v: Buffer<f64>,
    last_spike: Buffer<i64>,
    spike_count: Buffer<u32>,
    spike_list: Buffer<u64>,
    /// Global work size of `advance`.
    advance_global: usize,
    /// Parts of `propagate_owned` (0 with atomic delivery).
    parts: u32,
    /// Steps per launch: the delay, at most [`MAX_BATCH`].
    max_batch: u32,
    step: u64,
    /// Host copy of the spike list of the last launch.
    host_list: Vec<u64>,
    /// Spikes of one step, handed to the recorder.
    host_step: Vec<u32>,
}

impl OpenClBackend {
    /// Builds the kernels and uploads state and network to device `device` (index from
    /// [`crate::probe`]; `None`: the index in `BRUNEL_OPENCL_DEVICE` if set, else the default
    /// choice: the fastest non-CPU device, else the first).
    pub fn new(model: &Model, network: &Network, device: Option<usize>) -> Result<OpenClBackend> {
        let found = device::resolve(device)?;
        let tuning = Tuning::for_device(&found.info);
        Self::build(model, network, found, tuning, ProgramCache::global())
    }

    /// Like [`OpenClBackend::new`], with an explicit work split and program cache.
    pub fn with_cache(
        model: &Model,
        network: &Network,
        device: Option<usize>,
        tuning: Option<Tuning>,
        cache: &ProgramCache,
    ) -> Result<OpenClBackend> {
        let found = device::resolve(device)?;
        let tuning = tuning.unwrap_or_else(|| Tuning::for_device(&found.info));
        Self::build(model, network, found, tuning, cache)
    }

    /// The device it runs on.
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }

    /// The work split in use.
    pub fn tuning(&self) -> Tuning {
        self.tuning
    }

    fn build(
        model: &Model,
        network: &Network,
        found: device::Found,
        tuning: Tuning,
        cache: &ProgramCache,
    ) -> Result<OpenClBackend> {
        if network.n != model.n || network.n_e != model.n_e {
            return Err(brunel_core::Error::Backend {
                backend: "opencl".into(),
                message: format!(
                    "network ({} neurons, {} excitatory) and model ({}, {}) disagree",
                    network.n, network.n_e, model.n, model.n_e
                ),
            });
        }
        assert!(
            matches!(tuning.neurons_per_item, 1 | 4),
            "neurons_per_item must be 1 or 4"
        );
        let (propagate_name, parts) = match tuning.delivery {
            Delivery::Atomic { local } => {
                assert!(local > 0, "an empty work-group");
                ("propagate", None)
            }
            Delivery::Owned { parts } => {
                assert!(parts > 0, "no part");
                (
                    "propagate_owned",
                    Some(parts.min(model.n as usize).max(1) as u32),
                )
            }
        };
        assert!(tuning.advance_local > 0, "an empty work-group");
        let (context, program) = cache.get(&found, KERNEL_SOURCE, BUILD_OPTIONS)?;
        let queue = Queue::new(&context, found.device, None)
            .map_err(|e| failed("creating a command queue", e))?;
        let n = model.n as usize;
        let delay = model.delay_steps.max(1);
        let max_batch = delay
            .min(MAX_BATCH)
            .min((u32::MAX as u64 / model.n.max(1) as u64).max(1) as u32);

        let buf_err = |what: &'static str| move |e: ocl::Error| failed(what, e);
        let v = Buffer::<f64>::builder()
            .queue(queue.clone())
            .len(n)
            .fill_val(model.v_init)
            .build()
            .map_err(buf_err("allocating v"))?;
        let last_spike = Buffer::<i64>::builder()
            .queue(queue.clone())
            .len(n)
            .fill_val(NEVER)
            .build()
            .map_err(buf_err("allocating last_spike"))?;
        let ring = |what: &'static str| {
            Buffer::<u32>::builder()
                .queue(queue.clone())
                .len(delay as usize * n)
                .fill_val(0u32)
                .build()
                .map_err(buf_err(what))
        };
        let arr_exc = ring("allocating the excitatory arrival ring")?;
        let arr_inh = ring("allocating the inhibitory arrival ring")?;
        let table = model.external.thresholds_u32();
        let n_thresholds = table.len() as u32;
        let table = if table.is_empty() { vec![0] } else { table };
        let thresholds = Buffer::<u32>::builder()
            .queue(queue.clone())
            .flags(flags::MEM_READ_ONLY)
            .len(table.len())
            .copy_host_slice(&table)
            .build()
            .map_err(buf_err("uploading the Binomial table"))?;
        let offsets = Buffer::<u64>::builder()
            .queue(queue.clone())
            .flags(flags::MEM_READ_ONLY)
            .len(network.offsets.len())
            .copy_host_slice(&network.offsets)
            .build()
            .map_err(buf_err("uploading the synapse offsets"))?;
        let dummy = [0u32];
        let targets_host: &[u32] = if network.targets.is_empty() {
            &dummy
        } else {
            &network.targets
        };
        let targets = Buffer::<u32>::builder()
            .queue(queue.clone())
            .flags(flags::MEM_READ_ONLY)
            .len(targets_host.len())
            .copy_host_slice(targets_host)
            .build()
            .map_err(buf_err("uploading the synapse targets"))?;
        let spike_count = Buffer::<u32>::builder()
            .queue(queue.clone())
            .len(1)
            .fill_val(0u32)
            .build()
            .map_err(buf_err("allocating the spike counter"))?;
        let spike_list = Buffer::<u64>::builder()
            .queue(queue.clone())
            .len(max_batch as usize * n.max(1))
            .build()
            .map_err(buf_err("allocating the spike list"))?;

        let advance_name = if tuning.neurons_per_item == 4 {
            "advance_blocks"
        } else {
            "advance_neurons"
        };
        let items = n.div_ceil(tuning.neurons_per_item as usize);
        let advance_global = items.div_ceil(tuning.advance_local) * tuning.advance_local;
        let advance = Kernel::builder()
            .program(&program)
            .name(advance_name)
            .queue(queue.clone())
            .arg(&v)
            .arg(&last_spike)
            .arg(&arr_exc)
            .arg(&arr_inh)
            .arg(&thresholds)
            .arg(n_thresholds)
            .arg(&spike_count)
            .arg(&spike_list)
            .arg(model.n)
            .arg(delay)
            .arg(0u64) // k0
            .arg(0u32) // batch
            .arg(model.decay)
            .arg(model.theta)
            .arg(model.v_reset)
            .arg(model.j_exc)
            .arg(model.j_inh)
            .arg(model.ref_steps)
            .arg(model.accumulates() as u32)
            .arg(model.key[0])
            .arg(model.key[1])
            .build()
            .map_err(|e| failed("creating kernel advance", e))?;
        let mut propagate = Kernel::builder();
        propagate
            .program(&program)
            .name(propagate_name)
            .queue(queue.clone())
            .arg(&offsets)
            .arg(&targets)
            .arg(&arr_exc)
            .arg(&arr_inh)
            .arg(&spike_list)
            .arg(0u32) // n_spikes
            .arg(model.n)
            .arg(model.n_e)
            .arg(delay)
            .arg(0u64); // k0
        if let Some(parts) = parts {
            propagate.arg(parts);
        }
        let propagate = propagate
            .build()
            .map_err(|e| failed("creating kernel propagate", e))?;
        queue
            .finish()
            .map_err(|e| failed("uploading the network", e))?;
        Ok(OpenClBackend {
            device: found.info,
            tuning,
            queue,
            advance,
            propagate,
            v,
            last_spike,
            spike_count,
            spike_list,
            advance_global,
            parts: parts.unwrap_or(0),
            max_batch,
            step: 0,
            host_list: Vec::new(),
            host_step: Vec::new(),
        })
    }

    /// One launch of `batch` (<= delay) steps, then the launch that propagates their spikes;
    /// the spikes are handed to `recorder` step by step while the device propagates.
    fn launch(&mut self, batch: u32, recorder: &mut dyn Recorder) -> ocl::Result<()> {
        let k0 = self.step;
        self.spike_count.cmd().fill(0u32, None).enq()?;
        self.advance.set_arg(10, k0)?;
        self.advance.set_arg(11, batch)?;
        // SAFETY: every buffer argument was set at construction and lives in `self`; the
        // kernel reads and writes within the lengths the arguments give.
        unsafe {
            self.advance
                .cmd()
                .global_work_size(self.advance_global)
                .local_work_size(self.tuning.advance_local)
                .enq()?;
        }
        let mut count = [0u32];
        self.spike_count.read(&mut count[..]).enq()?;
        let count = count[0] as usize;
        self.host_list.clear();
        self.host_list.resize(count, 0);
        if count > 0 {
            self.spike_list
                .read(&mut self.host_list[..])
                .len(count)
                .enq()?;
            self.propagate.set_arg(5, count as u32)?;
            self.propagate.set_arg(9, k0)?;
            let (global, local) = match self.tuning.delivery {
                // Work-group e delivers spike e < count.
                Delivery::Atomic { local } => (count * local, local),
                // One work-item per part, each in its own work-group, so that they spread
                // over the device's threads.
                Delivery::Owned { .. } => (self.parts as usize, 1),
            };
            // SAFETY: as above.
            unsafe {
                self.propagate
                    .cmd()
                    .global_work_size(global)
                    .local_work_size(local)
                    .enq()?;
            }
            self.queue.flush()?;
        }
        // (step offset << 32 | id): sorting gives step order, ids ascending within a step.
        self.host_list.sort_unstable();
        let mut at = 0;
        for b in 0..batch as u64 {
            self.host_step.clear();
            while at < count && self.host_list[at] >> 32 == b {
                self.host_step.push(self.host_list[at] as u32);
                at += 1;
            }
            recorder.record(k0 + b, &self.host_step);
        }
        self.step += batch as u64;
        Ok(())
    }
}

impl Backend for OpenClBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "opencl".into(),
            device: format!("{} ({})", self.device.name, self.device.platform),
            threads: self.advance_global,
        }
    }

    fn run(&mut self, steps: u64, recorder: &mut dyn Recorder) -> Result<()> {
        let mut done = 0;
        while done < steps {
            let batch = (steps - done).min(self.max_batch as u64) as u32;
            self.launch(batch, recorder)
                .map_err(|e| failed(&format!("running steps from {}", self.step), e))?;
            done += batch as u64;
        }
        Ok(())
    }

    fn state(&self) -> Result<HostState> {
        let n = self.v.len();
        let mut v = vec![0.0; n];
        let mut last_spike = vec![0i64; n];
        self.v
            .read(&mut v)
            .enq()
            .map_err(|e| failed("reading v", e))?;
        self.last_spike
            .read(&mut last_spike)
            .enq()
            .map_err(|e| failed("reading last_spike", e))?;
        Ok(HostState {
            step: self.step,
            v,
            last_spike,
        })
    }

    fn step(&self) -> u64 {
        self.step
    }

    fn sync(&mut self) -> Result<()> {
        self.queue
            .finish()
            .map_err(|e| failed("waiting for the device", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_valid_split() {
        for kind in [DeviceKind::Gpu, DeviceKind::Cpu, DeviceKind::Other] {
            let t = Tuning::for_device(&DeviceInfo {
                index: 0,
                platform: "p".into(),
                name: "d".into(),
                kind,
                fp64: true,
                compute_units: 0,
            });
            assert!(matches!(t.neurons_per_item, 1 | 4));
            assert!(t.advance_local > 0);
            match t.delivery {
                Delivery::Atomic { local } => assert!(local > 0),
                Delivery::Owned { parts } => assert!(parts > 0),
            }
        }
    }

    #[test]
    fn the_kernels_keep_fp_contraction_off() {
        assert!(KERNEL_SOURCE.starts_with("#pragma OPENCL FP_CONTRACT OFF"));
        assert!(KERNEL_SOURCE.contains("cl_khr_fp64 : enable"));
        assert!(!BUILD_OPTIONS.contains("mad-enable") && !BUILD_OPTIONS.contains("relaxed"));
    }
}
