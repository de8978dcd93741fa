//! Which backend runs a simulation: the `--backend` value resolved against the registry
//! (`brunel-backends`), `auto` included, before the network is built; then the backend made
//! from the registry entry once it is.

use anyhow::Result;
use brunel_backends::{Entry, Probe, Setup};
use brunel_core::{Backend, Model, Network};

/// The `--backend` values: every name of the registry, and `auto`.
pub fn backend_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = brunel_backends::all().iter().map(|e| e.name).collect();
    names.push("auto");
    names
}

/// `--backend` parser: a name of the registry or `auto`.
pub fn parse_backend(s: &str) -> std::result::Result<String, String> {
    if backend_names().contains(&s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "unknown backend `{s}` (one of: {})",
            backend_names().join(", ")
        ))
    }
}

/// Starts the session of a distributed backend named by `--backend` (MPI: `MPI_Init`) before
/// anything can fail, so that a failure on any rank ends the whole job; nothing otherwise.
pub fn start_session(name: &str) -> Result<()> {
    if let Ok(entry) = brunel_backends::find(name) {
        brunel_backends::parallel::start(entry)?;
    }
    Ok(())
}

/// A backend chosen and checked before the network is built.
#[derive(Debug)]
pub struct Chosen {
    /// The registry's entry of the backend, probed on this machine.
    pub entry: &'static Entry,
    /// The threads and device it is made with: the command line's, or the machine profile's
    /// where `auto` chose from the profile and the command line set none.
    pub setup: Setup,
    /// Set when `auto` made the choice: which one and why.
    pub reason: Option<String>,
}

impl Chosen {
    /// Makes the backend for the built network.
    pub fn make(&self, model: &Model, network: &Network) -> brunel_core::Result<Box<dyn Backend>> {
        self.entry.make(model, network, &self.setup)
    }

    /// Makes the backend from the network not drawn yet: it draws what it keeps.
    pub fn make_from_draw(
        &self,
        model: &Model,
        draw: &brunel_core::Draw,
    ) -> brunel_core::Result<Box<dyn Backend>> {
        self.entry
            .make_from(model, &brunel_core::Synapses::Draw(draw), &self.setup)
    }
}

/// Resolves `--backend NAME` with the command line's setup: the entry, probed on this machine
/// (so that a missing platform, device or fp64 is reported before anything is built).
/// `threads_given`: whether the command line set the thread count (a profile's count then does
/// not apply).
pub fn choose(name: &str, n: u64, setup: Setup, threads_given: bool) -> Result<Chosen> {
    if name == "auto" {
        return auto(n, setup, threads_given);
    }
    let entry = brunel_backends::find(name)?;
    if setup.device.is_some() && !entry.honours.device {
        anyhow::bail!(
            "--device selects a device; the {name} backend takes none (backends with devices: {})",
            with_devices()
        );
    }
    entry.check(&setup)?;
    Ok(Chosen {
        entry,
        setup,
        reason: None,
    })
}

fn with_devices() -> String {
    brunel_backends::all()
        .iter()
        .filter(|e| e.honours.device)
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--backend auto`: the machine profile's choice for this network size, else the rule.
fn auto(n: u64, setup: Setup, threads_given: bool) -> Result<Chosen> {
    if setup.device.is_some() {
        anyhow::bail!(
            "--device selects a device of a named backend ({}); it cannot be combined with --backend auto",
            with_devices()
        );
    }
    let path = crate::profile::path();
    let loaded = path.as_deref().map(crate::profile::load).transpose();
    let why_no_profile = match loaded {
        Ok(Some(Some(profile))) => {
            let entry = profile.entry_for(n);
            let path = path.as_deref().unwrap_or(std::path::Path::new("?"));
            match from_profile(entry, setup, threads_given) {
                Ok(chosen) => {
                    return Ok(Chosen {
                        reason: Some(format!(
                            "auto chose {} from the machine profile {} (fastest measured for networks of {} neurons{}, on {}); `cargo xtask bench` measures again",
                            if entry.label.is_empty() { &entry.backend } else { &entry.label },
                            path.display(),
                            entry.n,
                            if profile.created.is_empty() { String::new() } else { format!(", {}", profile.created) },
                            profile.machine
                        )),
                        ..chosen
                    })
                }
                Err(e) => format!(
                    "the machine profile {} names a backend that cannot run: {e:#}",
                    path.display()
                ),
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
    rule(setup, &why_no_profile)
}

/// The profile entry's backend, with its threads and device unless the command line set them.
fn from_profile(
    entry: &crate::profile::Entry,
    setup: Setup,
    threads_given: bool,
) -> Result<Chosen> {
    let backend = brunel_backends::find(&entry.backend)
        .map_err(|_| anyhow::anyhow!("unknown backend `{}`", entry.backend))?;
    let setup = Setup {
        threads: match (threads_given, entry.threads) {
            (false, Some(t)) => t,
            _ => setup.threads,
        },
        device: setup.device.or(entry.device),
    };
    backend.check(&setup)?;
    Ok(Chosen {
        entry: backend,
        setup,
        reason: None,
    })
}

/// The registry's rule without a profile ([`brunel_backends::rule`]), on this machine's
/// probes.
fn rule(setup: Setup, why: &str) -> Result<Chosen> {
    let hint = "run `cargo xtask bench` to measure this machine";
    let probes: Vec<(&'static Entry, Probe)> = brunel_backends::all()
        .iter()
        .map(|e| (e, e.probe(&setup)))
        .collect();
    let Some((entry, device)) = brunel_backends::rule(&probes) else {
        anyhow::bail!("no backend can run here: {why}");
    };
    let setup = Setup { device, ..setup };
    entry.check(&setup)?;
    let on = match device {
        Some(d) => format!(" on GPU device {d}"),
        None if entry.honours.threads => {
            format!(
                " ({} threads)",
                brunel_core::Par::threads(setup.threads).count()
            )
        }
        None => String::new(),
    };
    Ok(Chosen {
        entry,
        setup,
        reason: Some(format!(
            "auto chose {}{on}: {why}; the rule without one takes a GPU with fp64, else cpu, never an OpenCL CPU device ({hint})",
            entry.name
        )),
    })
}
