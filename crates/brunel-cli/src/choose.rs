//! Which backend runs a simulation: the one switch point from a name on the command line to a
//! `Box<dyn Backend>`. Everything below it is statically dispatched inside each backend.
//!
//! `auto` is resolved here, in [`choose_backend`], so that a later per-machine profile can be
//! added in one place.

use std::fmt;

use anyhow::Result;
use brunel_core::{Backend, Error, Model, Network, Par, ReferenceBackend};

/// The `--backend` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// The scalar reference: one thread, the oracle.
    Reference,
    /// The multi-threaded CPU backend (rayon).
    Cpu,
    /// The OpenCL backend (GPU, or PoCL on the CPU).
    #[value(name = "opencl")]
    OpenCl,
    /// The machine profile's choice (`cargo xtask bench` writes it), else: an OpenCL GPU
    /// with fp64, else cpu, else reference.
    Auto,
}

/// A backend that can actually be constructed: `auto` resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Reference,
    Cpu,
    OpenCl,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Reference => "reference",
            BackendKind::Cpu => "cpu",
            BackendKind::OpenCl => "opencl",
        })
    }
}

/// How a backend is to be set up.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Threads for the CPU backend (the reference always uses one).
    pub par: Par,
    /// OpenCL device index (`brunel backends` lists them); `None`: the backend's default.
    pub device: Option<usize>,
    /// Whether the command line set the thread count (a profile's count then does not apply).
    pub threads_given: bool,
}

/// The backend that will run, and why it was chosen (for `auto`).
pub struct Chosen {
    pub backend: Box<dyn Backend>,
    pub kind: BackendKind,
    /// Set when `auto` made the choice: which one and why.
    pub reason: Option<String>,
}

/// Makes the backend `choice` names for `model` and `network`.
///
/// An explicit choice that cannot run here is an error (the backend's own message); `auto`
/// takes the machine profile's choice for the network size, else the rule of [`rule`], and
/// says which and why.
pub fn choose_backend(
    choice: BackendChoice,
    model: &Model,
    network: &Network,
    setup: Setup,
) -> Result<Chosen> {
    let explicit = |kind| -> Result<Chosen> {
        Ok(Chosen {
            backend: make(kind, model, network, setup)?,
            kind,
            reason: None,
        })
    };
    match choice {
        BackendChoice::Reference => explicit(BackendKind::Reference),
        BackendChoice::Cpu => explicit(BackendKind::Cpu),
        BackendChoice::OpenCl => explicit(BackendKind::OpenCl),
        BackendChoice::Auto => auto(model, network, setup),
    }
}

/// `--backend auto`: the machine profile's choice for this network size, else the rule.
fn auto(model: &Model, network: &Network, setup: Setup) -> Result<Chosen> {
    let path = crate::profile::path();
    let loaded = path.as_deref().map(crate::profile::load).transpose();
    let why_no_profile = match loaded {
        Ok(Some(Some(profile))) => {
            let entry = profile.entry_for(model.n as u64);
            let path = path.as_deref().unwrap_or(std::path::Path::new("?"));
            match from_profile(entry, model, network, setup) {
                Ok((backend, kind)) => {
                    return Ok(Chosen {
                        backend,
                        kind,
                        reason: Some(format!(
                            "auto chose {} from the machine profile {} (fastest measured for networks of {} neurons{}, on {}); `cargo xtask bench` measures again",
                            if entry.label.is_empty() { &entry.backend } else { &entry.label },
                            path.display(),
                            entry.n,
                            if profile.created.is_empty() { String::new() } else { format!(", {}", profile.created) },
                            profile.machine
                        )),
                    })
                }
                Err(e) => format!("the machine profile {} names a backend that cannot run: {e}", path.display()),
            }
        }
        Ok(Some(None)) => format!(
            "no machine profile at {}",
            path.as_deref()
                .map_or("?".into(), |p| p.display().to_string())
        ),
        Ok(None) => {
            "no place for a machine profile (neither XDG_CACHE_HOME nor HOME is set)".into()
        }
        Err(e) => format!("{e:#}"),
    };
    rule(model, network, setup, &why_no_profile)
}

/// The profile entry's backend, with its threads and device unless the command line set them.
fn from_profile(
    entry: &crate::profile::Entry,
    model: &Model,
    network: &Network,
    setup: Setup,
) -> Result<(Box<dyn Backend>, BackendKind)> {
    let kind = match entry.backend.as_str() {
        "reference" => BackendKind::Reference,
        "cpu" => BackendKind::Cpu,
        "opencl" => BackendKind::OpenCl,
        other => anyhow::bail!("unknown backend `{other}`"),
    };
    let setup = Setup {
        par: if setup.threads_given {
            setup.par
        } else {
            entry.threads.map_or(setup.par, Par::threads)
        },
        device: setup.device.or(entry.device),
        threads_given: setup.threads_given,
    };
    Ok((make(kind, model, network, setup)?, kind))
}

/// The built-in rule without a profile: an OpenCL GPU with fp64 if there is one, else cpu
/// (never an OpenCL CPU device over the native backend), else the reference.
fn rule(model: &Model, network: &Network, setup: Setup, why: &str) -> Result<Chosen> {
    let hint = "run `cargo xtask bench` to measure this machine";
    if let Some(device) = gpu_with_fp64() {
        let gpu = Setup {
            device: setup.device.or(Some(device)),
            ..setup
        };
        if let Ok(backend) = make(BackendKind::OpenCl, model, network, gpu) {
            return Ok(Chosen {
                backend,
                kind: BackendKind::OpenCl,
                reason: Some(format!(
                    "auto chose opencl on GPU device {device}: {why}; the rule without one takes an OpenCL GPU with fp64 first ({hint})"
                )),
            });
        }
    }
    match make(BackendKind::Cpu, model, network, setup) {
        Ok(backend) => Ok(Chosen {
            backend,
            kind: BackendKind::Cpu,
            reason: Some(format!(
                "auto chose cpu ({} threads): {why}; the rule without one takes an OpenCL GPU with fp64, else cpu, never an OpenCL CPU device ({hint})",
                setup.par.count()
            )),
        }),
        Err(e) => Ok(Chosen {
            backend: make(BackendKind::Reference, model, network, setup)?,
            kind: BackendKind::Reference,
            reason: Some(format!("auto chose reference: cpu cannot run here ({e}); {why}")),
        }),
    }
}

/// The first OpenCL GPU with fp64, if any.
#[cfg(feature = "opencl")]
fn gpu_with_fp64() -> Option<usize> {
    brunel_opencl::probe()
        .ok()?
        .into_iter()
        .find(|d| d.kind == brunel_opencl::DeviceKind::Gpu && d.fp64)
        .map(|d| d.index)
}

#[cfg(not(feature = "opencl"))]
fn gpu_with_fp64() -> Option<usize> {
    None
}

/// Constructs one backend. The only place where a concrete backend becomes a `dyn Backend`.
pub fn make(
    kind: BackendKind,
    model: &Model,
    network: &Network,
    setup: Setup,
) -> brunel_core::Result<Box<dyn Backend>> {
    match kind {
        BackendKind::Reference => Ok(Box::new(ReferenceBackend::new(model, network))),
        BackendKind::Cpu => Ok(Box::new(brunel_cpu::CpuBackend::new(
            model, network, setup.par,
        )?)),
        BackendKind::OpenCl => make_opencl(model, network, setup.device),
    }
}

#[cfg(feature = "opencl")]
fn make_opencl(
    model: &Model,
    network: &Network,
    device: Option<usize>,
) -> brunel_core::Result<Box<dyn Backend>> {
    Ok(Box::new(brunel_opencl::OpenClBackend::new(
        model, network, device,
    )?))
}

#[cfg(not(feature = "opencl"))]
fn make_opencl(
    _model: &Model,
    _network: &Network,
    _device: Option<usize>,
) -> brunel_core::Result<Box<dyn Backend>> {
    Err(not_compiled())
}

/// The error of an OpenCL request in a build without the `opencl` feature.
#[cfg(not(feature = "opencl"))]
pub fn not_compiled() -> Error {
    Error::Unavailable {
        backend: "opencl".into(),
        message: "not compiled with OpenCL support (rebuild brunel-cli with the `opencl` feature)"
            .into(),
    }
}

/// Whether `kind` can be constructed on this machine: tried on a two-neuron network.
pub fn probe(kind: BackendKind, setup: Setup) -> std::result::Result<(), Error> {
    let mut config = brunel_core::Config::default();
    config.network.n_e = 1;
    config.network.gamma = 1.0;
    config.simulation.duration = 1.0;
    let model = Model::new(&config);
    let network = Network::from_rows(1, &[vec![1], vec![0]]);
    make(kind, &model, &network, setup).map(drop)
}
