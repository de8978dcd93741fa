//! The backend: state and network on the device, `delay_steps` steps per launch.

use brunel_core::{
    Backend, BackendInfo, HostState, InFlight, Model, Network, Recorder, Result, NEVER,
};
use ocl::{flags, Buffer, Event, Kernel, Queue};

use crate::cache::ProgramCache;
use crate::device::{self, kernel_source, DeviceInfo, DeviceKind};
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
    /// `propagate`: `groups` work-groups of `local` work-items, each work-group delivering one
    /// spike at a time, integer atomics (GPUs).
    Atomic {
        /// Work-items per work-group: they share out one spike's row.
        local: usize,
        /// Work-groups per launch: they share out the spikes.
        groups: usize,
    },
    /// `propagate_owned`: `parts` work-items, each the only writer of a range of targets, plain
    /// increments (CPUs, where a locked add costs many plain ones).
    Owned {
        /// Work-items, one per range of targets (by default one per compute unit).
        parts: usize,
    },
}

impl Tuning {
    /// An error unless every size is usable.
    pub fn check(&self) -> Result<()> {
        let ok = matches!(self.neurons_per_item, 1 | 4)
            && self.advance_local > 0
            && match self.delivery {
                Delivery::Atomic { local, groups } => local > 0 && groups > 0,
                Delivery::Owned { parts } => parts > 0,
            };
        if ok {
            Ok(())
        } else {
            Err(brunel_core::Error::Backend {
                backend: "opencl".into(),
                message: format!(
                    "unusable work split {self:?}: neurons_per_item must be 1 or 4 and every \
                     size at least 1"
                ),
            })
        }
    }

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
                delivery: Delivery::Atomic {
                    local: 128,
                    groups: 16 * device.compute_units.max(1) as usize,
                },
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
    /// Spike flags of the last launch, `flags[b * n + i]`.
    flags: Buffer<u8>,
    /// Global work size of `advance`.
    advance_global: usize,
    /// Parts of `propagate_owned` (0 with atomic delivery).
    parts: u32,
    /// Steps per launch: the delay, at most [`MAX_BATCH`].
    max_batch: u32,
    step: u64,
    n: usize,
    /// Host copies of the flags of two launches: one being read from the device while the
    /// other is handed to the recorder. Never resized while a read is in flight.
    host_flags: [Vec<u8>; 2],
    /// The launch whose flags are still being read: (first step, steps, host buffer, event).
    pending: Option<Pending>,
    /// Spikes of one step, handed to the recorder.
    host_step: Vec<u32>,
    /// Spikes of the last delay steps, for `state`.
    in_flight: InFlight,
    /// The model (for `load_state`).
    model: Model,
    arr_exc: Buffer<u32>,
    arr_inh: Buffer<u32>,
    spike_list: Buffer<u64>,
}

/// A launch whose spike flags are on their way to the host.
struct Pending {
    k0: u64,
    batch: u32,
    buffer: usize,
    read: Event,
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
        tuning.check()?;
        let (propagate_name, parts) = match tuning.delivery {
            Delivery::Atomic { .. } => ("propagate", None),
            Delivery::Owned { parts } => (
                "propagate_owned",
                Some(parts.min(model.n as usize).max(1) as u32),
            ),
        };
        let (context, program) = cache.get(&found, kernel_source(), BUILD_OPTIONS)?;
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
        let spike_flags = Buffer::<u8>::builder()
            .queue(queue.clone())
            .len(max_batch as usize * n.max(1))
            .build()
            .map_err(buf_err("allocating the spike flags"))?;

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
            .arg(&spike_flags)
            .arg(model.n)
            .arg(delay)
            .arg_named("k0", 0u64)
            .arg_named("batch", 0u32)
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
            .arg(&spike_count)
            .arg(model.n)
            .arg(model.n_e)
            .arg(delay)
            .arg_named("k0", 0u64);
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
            flags: spike_flags,
            advance_global,
            parts: parts.unwrap_or(0),
            max_batch,
            step: 0,
            n,
            host_flags: [
                vec![0; max_batch as usize * n.max(1)],
                vec![0; max_batch as usize * n.max(1)],
            ],
            pending: None,
            host_step: Vec::new(),
            in_flight: InFlight::new(model.delay_steps),
            model: model.clone(),
            arr_exc,
            arr_inh,
            spike_list,
        })
    }

    /// Queues one launch of `batch` (<= delay) steps, the delivery of their spikes and the read
    /// of their flags; then hands the previous launch's spikes to `recorder` while the device
    /// works. The host waits only for the flags of the launch before.
    fn launch(&mut self, batch: u32, recorder: &mut dyn Recorder) -> ocl::Result<()> {
        let k0 = self.step;
        self.spike_count.cmd().fill(0u32, None).enq()?;
        self.advance.set_arg("k0", k0)?;
        self.advance.set_arg("batch", batch)?;
        // SAFETY: every buffer argument was set at construction and lives in `self`; the
        // kernel reads and writes within the lengths the arguments give.
        unsafe {
            self.advance
                .cmd()
                .global_work_size(self.advance_global)
                .local_work_size(self.tuning.advance_local)
                .enq()?;
        }
        self.enqueue_propagate(k0)?;
        let buffer = match &self.pending {
            Some(p) => 1 - p.buffer,
            None => 0,
        };
        let len = batch as usize * self.n;
        let mut read = Event::empty();
        // SAFETY: the host buffer is neither resized nor dropped before `read` completes:
        // `finish_pending` waits for it, and `Drop` finishes the queue.
        unsafe {
            self.flags
                .read(&mut self.host_flags[buffer][..len])
                .block(false)
                .enew(&mut read)
                .enq()?;
        }
        self.queue.flush()?;
        self.step += batch as u64;
        // The new read is recorded as pending before the previous launch is handed over, so
        // that no read in flight is ever forgotten.
        let previous = self.pending.replace(Pending {
            k0,
            batch,
            buffer,
            read,
        });
        self.hand_over(previous, recorder)
    }

    /// Waits for the flags of the pending launch, if any, and hands its spikes to `recorder`.
    fn finish_pending(&mut self, recorder: &mut dyn Recorder) -> ocl::Result<()> {
        let pending = self.pending.take();
        self.hand_over(pending, recorder)
    }

    /// Waits for the flags of launch `p` and hands its spikes to `recorder`, step by step, ids
    /// ascending.
    fn hand_over(&mut self, p: Option<Pending>, recorder: &mut dyn Recorder) -> ocl::Result<()> {
        let Some(p) = p else {
            return Ok(());
        };
        p.read.wait_for()?;
        let n = self.n;
        for b in 0..p.batch as usize {
            let flags = &self.host_flags[p.buffer][b * n..(b + 1) * n];
            self.host_step.clear();
            let mut base = 0;
            for chunk in flags.chunks(8) {
                if chunk.iter().any(|&f| f != 0) {
                    for (j, &f) in chunk.iter().enumerate() {
                        if f != 0 {
                            self.host_step.push((base + j) as u32);
                        }
                    }
                }
                base += chunk.len();
            }
            recorder.record(p.k0 + b as u64, &self.host_step);
            self.in_flight.push(p.k0 + b as u64, &self.host_step);
        }
        Ok(())
    }
}

impl OpenClBackend {
    /// Queues the delivery of the spike list's entries (batch offsets from `k0`) into the ring.
    fn enqueue_propagate(&mut self, k0: u64) -> ocl::Result<()> {
        self.propagate.set_arg("k0", k0)?;
        let (global, local) = match self.tuning.delivery {
            Delivery::Atomic { local, groups } => (groups * local, local),
            // One work-item per part, each in its own work-group, so that they spread over the
            // device's threads.
            Delivery::Owned { .. } => (self.parts as usize, 1),
        };
        // SAFETY: every buffer argument was set at construction and lives in `self`; the
        // kernel reads and writes within the lengths the arguments give.
        unsafe {
            self.propagate
                .cmd()
                .global_work_size(global)
                .local_work_size(local)
                .enq()
        }
    }

    /// Writes v and the last spikes, empties the arrival rings and delivers the spikes in
    /// flight with the delivery kernel, one step's spikes per launch.
    fn load(&mut self, state: &HostState) -> ocl::Result<()> {
        self.queue.finish()?;
        self.v.write(&state.v).enq()?;
        self.last_spike.write(&state.last_spike).enq()?;
        self.arr_exc.cmd().fill(0u32, None).enq()?;
        self.arr_inh.cmd().fill(0u32, None).enq()?;
        let mut grouped = InFlight::new(self.model.delay_steps);
        grouped.load(&state.in_flight);
        for (k, ids) in grouped.by_step() {
            // Entries of batch offset 0 at k0 = k: slot k mod D, as the kernel computes it.
            let entries: Vec<u64> = ids.iter().map(|&i| i as u64).collect();
            self.spike_list.write(&entries).len(entries.len()).enq()?;
            self.spike_count.write(&[entries.len() as u32][..]).enq()?;
            self.enqueue_propagate(k)?;
            self.queue.finish()?;
        }
        self.queue.finish()
    }
}

impl Drop for OpenClBackend {
    fn drop(&mut self) {
        // A read may still be writing into `host_flags`.
        let _ = self.queue.finish();
    }
}

impl Backend for OpenClBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "opencl".into(),
            device: format!("{} ({})", self.device.name, self.device.platform),
            device_kind: match self.device.kind {
                DeviceKind::Gpu => brunel_core::DeviceKind::Gpu,
                DeviceKind::Cpu => brunel_core::DeviceKind::OpenClCpu,
                DeviceKind::Other => brunel_core::DeviceKind::Other,
            },
            threads: 1,
            work_items: Some(self.advance_global),
            parts: (self.parts > 0).then_some(self.parts as usize),
            ranks: None,
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
        self.finish_pending(recorder)
            .map_err(|e| failed(&format!("reading the spikes before step {}", self.step), e))?;
        recorder.end_batch(self.step)
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
            in_flight: self.in_flight.list(self.step),
        })
    }

    fn load_state(&mut self, state: &HostState) -> Result<()> {
        state.check(&self.model)?;
        self.load(state)
            .map_err(|e| failed("loading the state onto the device", e))?;
        self.in_flight.load(&state.in_flight);
        self.step = state.step;
        Ok(())
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
            assert!(t.check().is_ok(), "{t:?}");
        }
    }

    #[test]
    fn unusable_splits_are_errors() {
        let good = Tuning {
            neurons_per_item: 4,
            advance_local: 64,
            delivery: Delivery::Owned { parts: 2 },
        };
        assert!(good.check().is_ok());
        for bad in [
            Tuning {
                neurons_per_item: 3,
                ..good
            },
            Tuning {
                advance_local: 0,
                ..good
            },
            Tuning {
                delivery: Delivery::Owned { parts: 0 },
                ..good
            },
            Tuning {
                delivery: Delivery::Atomic {
                    local: 0,
                    groups: 1,
                },
                ..good
            },
        ] {
            let text = bad.check().unwrap_err().to_string();
            assert!(text.contains("unusable work split"), "{text}");
        }
    }

    #[test]
    fn the_kernels_keep_fp_contraction_off() {
        let source = kernel_source();
        assert!(source.starts_with("#pragma OPENCL FP_CONTRACT OFF"));
        assert!(source.contains("cl_khr_fp64 : enable"));
        // The constants come from core, once; the kernel file holds no copy.
        assert!(
            source.contains("#define PHILOX_M0 0xD2511F53u"),
            "{}",
            &source[..400]
        );
        assert!(source.contains("#define NEVER (-9223372036854775807L - 1L)"));
        assert!(!device::KERNEL_BODY.contains("0xD2511F53"));
        assert!(!BUILD_OPTIONS.contains("mad-enable") && !BUILD_OPTIONS.contains("relaxed"));
    }
}
