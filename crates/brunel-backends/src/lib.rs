//! brunel-backends: the one registry of backends.
//!
//! [`all`] lists every backend brunel knows, compiled in or not, with its name (the
//! `--backend` value), what it honours (threads, device), how to probe it on this machine and
//! how to make it from the model, the network and one [`Setup`]. The CLI's choice, `brunel
//! backends`, the machine profile, the benchmarks, `cargo xtask bench` and the equivalence
//! suite all read this list; nothing else matches on a backend's name.
//!
//! Adding a backend means: its crate, one [`Entry`] in [`all`], and one cargo feature here
//! (and in `brunel-cli`, which forwards it).

#![warn(missing_docs)]

use brunel_core::memory::BackendFacts;
use brunel_core::{
    Backend, Config, DeviceKind, Error, Model, Network, Par, ReferenceBackend, Result, Synapses,
};

/// How a backend is to be set up: one value for every backend; each takes what it honours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Setup {
    /// Host threads (cpu); 0 = all cores.
    pub threads: usize,
    /// Device index (opencl), as `brunel backends` numbers them; `None`: the backend's default.
    pub device: Option<usize>,
}

/// What a backend takes from a [`Setup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Honours {
    /// The thread count.
    pub threads: bool,
    /// The device index.
    pub device: bool,
}

/// A device a backend can run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The `--device` index.
    pub index: usize,
    /// The device's name, as its driver gives it.
    pub name: String,
    /// The platform (driver) that offers it.
    pub platform: String,
    /// GPU, OpenCL CPU device or other.
    pub kind: DeviceKind,
    /// Whether it computes in f64 (required).
    pub fp64: bool,
    /// Compute units the driver reports (0 if it does not say).
    pub compute_units: u32,
}

/// What probing a backend on this machine found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `Ok(what it runs on)` or `Err(why it cannot run here)`.
    pub available: std::result::Result<String, String>,
    /// The devices it could use (for backends that honour a device).
    pub devices: Vec<Device>,
}

impl Probe {
    fn yes(what: impl Into<String>) -> Probe {
        Probe {
            available: Ok(what.into()),
            devices: Vec::new(),
        }
    }
}

/// One backend of the registry.
#[derive(Debug)]
pub struct Entry {
    /// The `--backend` value, and the name in `BRUNEL_REQUIRE` and in result files.
    pub name: &'static str,
    /// One line for `brunel backends` and `--help`.
    pub about: &'static str,
    /// The cargo feature that builds it in (`None`: always built in).
    pub feature: Option<&'static str>,
    /// Whether this build contains it.
    pub compiled: bool,
    /// What it takes from a [`Setup`].
    pub honours: Honours,
    /// Whether it is the oracle the others are compared with.
    pub oracle: bool,
    /// Whether it runs as one rank of an MPI job (`mpirun -np K brunel run ...`): the CLI then
    /// starts the job's session ([`parallel`]) first, lets only rank 0 write, and ends the
    /// whole job on an error of any rank.
    pub distributed: bool,
    /// Rank when `auto` has no GPU to use: lower first; `None`: auto takes it only for a GPU
    /// with fp64 among its devices.
    pub fallback: Option<u8>,
    /// Whether it keeps the whole network (the CLI then draws it first and hands it over as
    /// [`Synapses::Network`]); a backend that keeps only parts of it, or none (procedural
    /// storage), is handed [`Synapses::Draw`] and draws what it keeps itself.
    pub needs_network: bool,
    probe: fn(&Setup) -> Probe,
    make: fn(&Model, &Synapses, &Setup) -> Result<Box<dyn Backend>>,
    memory: fn(&Config, &Setup) -> BackendFacts,
}

impl Entry {
    /// What this backend finds on this machine (never panics).
    pub fn probe(&self, setup: &Setup) -> Probe {
        if !self.compiled {
            return Probe {
                available: Err(self.not_compiled_reason()),
                devices: Vec::new(),
            };
        }
        (self.probe)(setup)
    }

    /// Makes the backend for `model` and `network`: an error (never a panic) when it cannot
    /// run here or the setup does not suit it.
    pub fn make(
        &self,
        model: &Model,
        network: &Network,
        setup: &Setup,
    ) -> Result<Box<dyn Backend>> {
        self.make_from(model, &Synapses::Network(network), setup)
    }

    /// Makes the backend for `model` from `synapses`: the whole network, or the network not
    /// drawn yet (a backend that needs all of it draws it; see [`Entry::needs_network`]).
    pub fn make_from(
        &self,
        model: &Model,
        synapses: &Synapses,
        setup: &Setup,
    ) -> Result<Box<dyn Backend>> {
        if !self.compiled {
            return Err(self.not_compiled());
        }
        (self.make)(model, synapses, setup)
    }

    /// What the backend holds on the host for `config` (for the memory plan that `brunel run`
    /// checks before anything large is allocated).
    pub fn memory_facts(&self, config: &Config, setup: &Setup) -> BackendFacts {
        (self.memory)(config, setup)
    }

    /// The error of a backend this build lacks.
    pub fn not_compiled(&self) -> Error {
        Error::Unavailable {
            backend: self.name.into(),
            message: self.not_compiled_reason(),
        }
    }

    /// Why a backend this build lacks is unavailable (a probe's reason; [`Entry::check`] and
    /// [`Entry::not_compiled`] put the backend's name before it).
    fn not_compiled_reason(&self) -> String {
        format!(
            "not compiled into this build (rebuild with the cargo feature `{}`)",
            self.feature.unwrap_or(self.name)
        )
    }

    /// Checks, before anything large is built, that this backend can run with `setup`: an
    /// error naming what is missing (no platform, no such device, no fp64).
    pub fn check(&self, setup: &Setup) -> Result<Probe> {
        let probe = self.probe(setup);
        if let Err(why) = &probe.available {
            return Err(Error::Unavailable {
                backend: self.name.into(),
                message: why.clone(),
            });
        }
        if let (true, Some(i)) = (self.honours.device, setup.device) {
            match probe.devices.iter().find(|d| d.index == i) {
                None => {
                    return Err(Error::Unavailable {
                        backend: self.name.into(),
                        message: format!(
                            "there is no device {i} (devices: {}; see `brunel backends`)",
                            device_list(&probe.devices)
                        ),
                    })
                }
                Some(d) if !d.fp64 => {
                    return Err(Error::Unavailable {
                        backend: self.name.into(),
                        message: format!("device {i} ({}) has no fp64", d.name),
                    })
                }
                Some(_) => {}
            }
        }
        Ok(probe)
    }
}

fn device_list(devices: &[Device]) -> String {
    if devices.is_empty() {
        return "none".into();
    }
    devices
        .iter()
        .map(|d| format!("[{}] {}", d.index, d.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every backend brunel knows, in the order `brunel backends` lists them.
pub fn all() -> &'static [Entry] {
    &REGISTRY
}

/// The backend called `name`; an error listing the names otherwise.
pub fn find(name: &str) -> Result<&'static Entry> {
    all().iter().find(|e| e.name == name).ok_or_else(|| {
        Error::config(
            "backend",
            format!(
                "unknown backend `{name}` (known: {})",
                all().iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// The oracle (the reference backend).
pub fn oracle() -> &'static Entry {
    all()
        .iter()
        .find(|e| e.oracle)
        .expect("the registry has an oracle")
}

/// Every backend that is compared with the oracle.
pub fn candidates() -> impl Iterator<Item = &'static Entry> {
    all().iter().filter(|e| !e.oracle)
}

/// The choice `auto` makes without a machine profile, from what each backend's probe found:
/// a GPU with fp64 (the one with most compute units) of a backend that honours a device; else
/// the available backend of lowest [`Entry::fallback`] rank (cpu, then the reference). Never
/// an OpenCL CPU device over the native backend.
pub fn rule<'a>(probes: &[(&'a Entry, Probe)]) -> Option<(&'a Entry, Option<usize>)> {
    let gpu = probes
        .iter()
        .filter(|(_, p)| p.available.is_ok())
        .flat_map(|(e, p)| p.devices.iter().map(move |d| (*e, d)))
        .filter(|(_, d)| d.kind == DeviceKind::Gpu && d.fp64)
        .max_by_key(|(_, d)| (d.compute_units, std::cmp::Reverse(d.index)));
    if let Some((entry, device)) = gpu {
        return Some((entry, Some(device.index)));
    }
    probes
        .iter()
        .filter(|(e, p)| p.available.is_ok() && e.fallback.is_some())
        .min_by_key(|(e, _)| e.fallback)
        .map(|(e, _)| (*e, None))
}

static REGISTRY: [Entry; 4] = [
    Entry {
        name: "reference",
        about: "scalar, one thread: the model's time step written to be read; the oracle",
        feature: None,
        compiled: true,
        honours: Honours {
            threads: false,
            device: false,
        },
        oracle: true,
        distributed: false,
        fallback: Some(2),
        probe: |_| Probe::yes("the host CPU, one thread"),
        needs_network: true,
        make: |model, synapses, _| {
            let network = synapses.network(Par::Seq)?;
            Ok(Box::new(ReferenceBackend::new(model, &network)))
        },
        memory: |_, _| BackendFacts::reference(),
    },
    Entry {
        name: "cpu",
        about: "rayon, all cores, bit-identical to the reference: the everyday one",
        feature: None,
        compiled: true,
        honours: Honours {
            threads: true,
            device: false,
        },
        oracle: false,
        distributed: false,
        fallback: Some(1),
        probe: |setup| {
            Probe::yes(format!(
                "the host CPU, {} thread(s) (--threads N; 0 = all {} cores)",
                Par::threads(setup.threads).count(),
                Par::threads(0).count()
            ))
        },
        needs_network: false,
        make: |model, synapses, setup| {
            let par = Par::threads(setup.threads);
            Ok(Box::new(brunel_cpu::CpuBackend::from_synapses(
                model, synapses, par,
            )?))
        },
        memory: |config, setup| {
            brunel_cpu::CpuBackend::memory_facts_of(config, Par::threads(setup.threads))
        },
    },
    Entry {
        name: "opencl",
        about: "OpenCL kernels (any GPU; PoCL on a CPU), bit-identical to the reference",
        feature: Some("opencl"),
        compiled: cfg!(feature = "opencl"),
        honours: Honours {
            threads: false,
            device: true,
        },
        oracle: false,
        distributed: false,
        fallback: None,
        needs_network: true,
        probe: opencl::probe,
        make: opencl::make,
        // The host side of the OpenCL backend holds what the reference holds: the network staged
        // as u32 targets, v and last spike, the rings (in host memory on a CPU device).
        memory: |_, setup| BackendFacts {
            name: "opencl".into(),
            threads: Par::threads(setup.threads).count() as u64,
            ..BackendFacts::reference()
        },
    },
    Entry {
        name: "mpi",
        about: "MPI (Open MPI): the cpu engine on one part of the neurons per rank, `mpirun -np K`; bit-identical for any K",
        feature: Some("mpi"),
        compiled: cfg!(feature = "mpi"),
        honours: Honours {
            threads: true,
            device: false,
        },
        oracle: false,
        distributed: true,
        fallback: None,
        probe: mpi::probe,
        // Each rank draws only the synapses onto its own neurons.
        needs_network: false,
        make: mpi::make,
        // Each rank holds its share of the synapses in the cpu engine's layout (2 bytes each,
        // over the launcher's ranks); the plan still counts the whole network as drawn, which
        // a rank drawing its cut only never holds: an upper bound.
        memory: |config, setup| {
            // The cpu engine's facts (procedural storage: no synapses), each rank holding its
            // share of the synapses.
            let cpu = brunel_cpu::CpuBackend::memory_facts_of(
                config,
                Par::threads(mpi::threads(setup.threads)),
            );
            brunel_core::memory::BackendFacts {
                name: "mpi".into(),
                bytes_per_synapse: cpu.bytes_per_synapse / mpi::ranks() as f64,
                ..cpu
            }
        },
    },
];

#[cfg(feature = "opencl")]
mod opencl {
    use super::*;

    pub fn probe(_setup: &Setup) -> Probe {
        match brunel_opencl::probe() {
            Ok(found) => {
                let devices: Vec<Device> = found
                    .into_iter()
                    .map(|d| Device {
                        index: d.index,
                        name: d.name,
                        platform: d.platform,
                        kind: match d.kind {
                            brunel_opencl::DeviceKind::Gpu => DeviceKind::Gpu,
                            brunel_opencl::DeviceKind::Cpu => DeviceKind::OpenClCpu,
                            brunel_opencl::DeviceKind::Other => DeviceKind::Other,
                        },
                        fp64: d.fp64,
                        compute_units: d.compute_units,
                    })
                    .collect();
                let available = if devices.is_empty() {
                    Err("no OpenCL device found".into())
                } else if !devices.iter().any(|d| d.fp64) {
                    Err(format!(
                        "no OpenCL device with fp64 (devices: {})",
                        device_list(&devices)
                    ))
                } else {
                    Ok(format!("{} OpenCL device(s) (--device N)", devices.len()))
                };
                Probe { available, devices }
            }
            Err(e) => Probe {
                available: Err(e.to_string()),
                devices: Vec::new(),
            },
        }
    }

    pub fn make(model: &Model, synapses: &Synapses, setup: &Setup) -> Result<Box<dyn Backend>> {
        let network = synapses.network(Par::threads(setup.threads))?;
        Ok(Box::new(brunel_opencl::OpenClBackend::new(
            model,
            &network,
            setup.device,
        )?))
    }
}

#[cfg(not(feature = "opencl"))]
mod opencl {
    use super::*;

    pub fn probe(_setup: &Setup) -> Probe {
        unreachable!("the registry does not probe a backend it lacks")
    }

    pub fn make(_: &Model, _: &Synapses, _: &Setup) -> Result<Box<dyn Backend>> {
        unreachable!("the registry does not make a backend it lacks")
    }
}

/// The session of a distributed backend (MPI): what the CLI calls around a run. Without the
/// `mpi` feature, or for a backend that is not distributed, every call does nothing.
pub mod parallel {
    use super::*;

    /// Starts the job's session if `entry` is distributed (MPI_Init): before anything that can
    /// fail, so that a failure on any rank ends the whole job ([`abort`]).
    pub fn start(entry: &Entry) -> Result<()> {
        if !entry.distributed || !entry.compiled {
            return Ok(());
        }
        mpi::start()
    }

    /// Checks that `text` (`what`, e.g. the resolved config) is the same on every rank of a
    /// running session; an error naming the ranks that differ. Nothing without a session.
    pub fn agree(what: &str, text: &str) -> Result<()> {
        mpi::agree(what, text)
    }

    /// Whether this process writes results: rank 0 of a session, or a process without one.
    pub fn writes() -> bool {
        mpi::rank().is_none_or(|(rank, _)| rank == 0)
    }

    /// (rank, ranks) of a running session.
    pub fn rank() -> Option<(usize, usize)> {
        mpi::rank()
    }

    /// The signal (its number) that any rank of a running session received, given this
    /// rank's: a collective call, so that every rank stops at the same step (and checkpoints
    /// together) when the launcher or the batch system signals only some of them first.
    pub fn any_signal(mine: Option<i32>) -> Option<i32> {
        match mpi::max_over_ranks(mine.unwrap_or(0)) {
            0 => None,
            s => Some(s),
        }
    }

    /// Ends the session normally (every rank).
    pub fn finish() {
        mpi::finish()
    }

    /// Ends the whole job at once with exit code `code`, if a session runs; returns otherwise.
    pub fn abort(code: i32) {
        mpi::abort(code)
    }
}

#[cfg(feature = "mpi")]
mod mpi {
    use super::*;
    use brunel_mpi::session;

    /// Threads per rank: `0` means the machine's cores shared among the ranks on it.
    pub fn threads(asked: usize) -> usize {
        if asked > 0 {
            return asked;
        }
        (Par::threads(0).count() / session::local_ranks()).max(1)
    }

    /// Ranks of the job, as the launcher says (1 without one).
    pub fn ranks() -> usize {
        session::launcher().map_or(1, |(_, size)| size.max(1))
    }

    pub fn probe(setup: &Setup) -> Probe {
        let t = threads(setup.threads);
        match session::launcher() {
            Some((rank, size)) => Probe::yes(format!(
                "rank {rank} of {size} under an MPI launcher, {t} thread(s) per rank (--threads N)"
            )),
            None => Probe::yes(format!(
                "a single rank (no MPI launcher: start with `mpirun -np K` or `srun`), {t} thread(s)"
            )),
        }
    }

    pub fn make(model: &Model, synapses: &Synapses, setup: &Setup) -> Result<Box<dyn Backend>> {
        Ok(Box::new(brunel_mpi::MpiBackend::new(
            model,
            synapses,
            Par::threads(threads(setup.threads)),
        )?))
    }

    pub fn start() -> Result<()> {
        session::start()
    }

    pub fn agree(what: &str, text: &str) -> Result<()> {
        if session::rank().is_none() {
            return Ok(());
        }
        brunel_mpi::agree(what, text.as_bytes())
    }

    pub fn rank() -> Option<(usize, usize)> {
        session::rank()
    }

    pub fn max_over_ranks(x: i32) -> i32 {
        brunel_mpi::max_over_ranks(x)
    }

    pub fn finish() {
        session::finish()
    }

    pub fn abort(code: i32) {
        session::abort(code)
    }
}

#[cfg(not(feature = "mpi"))]
mod mpi {
    use super::*;

    pub fn threads(asked: usize) -> usize {
        asked
    }

    pub fn ranks() -> usize {
        1
    }

    pub fn probe(_setup: &Setup) -> Probe {
        unreachable!("the registry does not probe a backend it lacks")
    }

    pub fn make(_: &Model, _: &Synapses, _: &Setup) -> Result<Box<dyn Backend>> {
        unreachable!("the registry does not make a backend it lacks")
    }

    pub fn start() -> Result<()> {
        Ok(())
    }

    pub fn agree(_: &str, _: &str) -> Result<()> {
        Ok(())
    }

    pub fn rank() -> Option<(usize, usize)> {
        None
    }

    pub fn max_over_ranks(x: i32) -> i32 {
        x
    }

    pub fn finish() {}

    pub fn abort(_: i32) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(index: usize, kind: DeviceKind, fp64: bool, units: u32) -> Device {
        Device {
            index,
            name: format!("d{index}"),
            platform: "p".into(),
            kind,
            fp64,
            compute_units: units,
        }
    }

    fn probes(opencl_devices: Vec<Device>, cpu_ok: bool) -> Vec<(&'static Entry, Probe)> {
        all()
            .iter()
            .map(|e| {
                let p = match e.name {
                    "opencl" => Probe {
                        available: Ok("devices".into()),
                        devices: opencl_devices.clone(),
                    },
                    "cpu" if !cpu_ok => Probe {
                        available: Err("no".into()),
                        devices: vec![],
                    },
                    _ => Probe::yes("host"),
                };
                (e, p)
            })
            .collect()
    }

    #[test]
    fn names_are_unique_and_there_is_one_oracle() {
        let mut names: Vec<_> = all().iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all().len());
        assert_eq!(all().iter().filter(|e| e.oracle).count(), 1);
        assert!(find("cpu").is_ok());
        let e = find("nope").unwrap_err().to_string();
        assert!(e.contains("reference, cpu, opencl, mpi"), "{e}");
    }

    #[test]
    fn the_rule_takes_a_gpu_with_fp64_then_cpu_never_an_opencl_cpu() {
        let pick = |devices, cpu_ok| {
            let p = probes(devices, cpu_ok);
            rule(&p).map(|(e, d)| (e.name, d))
        };
        assert_eq!(pick(vec![], true), Some(("cpu", None)));
        assert_eq!(
            pick(vec![device(0, DeviceKind::OpenClCpu, true, 64)], true),
            Some(("cpu", None))
        );
        assert_eq!(
            pick(vec![device(0, DeviceKind::Gpu, false, 100)], true),
            Some(("cpu", None))
        );
        assert_eq!(
            pick(
                vec![
                    device(0, DeviceKind::OpenClCpu, true, 64),
                    device(1, DeviceKind::Gpu, true, 20),
                    device(2, DeviceKind::Gpu, true, 132),
                    device(3, DeviceKind::Gpu, false, 200),
                ],
                true
            ),
            Some(("opencl", Some(2)))
        );
        assert_eq!(pick(vec![], false), Some(("reference", None)));
    }

    #[test]
    fn a_missing_device_is_refused_before_anything_is_built() {
        let entry = find("opencl").unwrap();
        if !entry.compiled {
            return;
        }
        let e = entry
            .check(&Setup {
                threads: 0,
                device: Some(10_000),
            })
            .unwrap_err()
            .to_string();
        assert!(e.contains("opencl"), "{e}");
    }
}
