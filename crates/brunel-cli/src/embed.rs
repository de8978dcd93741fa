//! What a library caller (the Python package, `crates/brunel-py`) needs beyond the
//! subcommands: a config run into an in-memory [`Results`] — the backend chosen, planned and
//! probed as `brunel run` does, the same recorders, the same summary — with a callback after
//! every chunk of steps that reports progress and may cancel; and a sweep file read back as
//! arrays over its grid.
//!
//! Nothing here prints except the notes `brunel run` prints too (the choice of `auto`, memory
//! warnings), and nothing installs signal handlers: the caller decides what stops a run.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use brunel_core::{BackendInfo, Config, Model, Network, NeuronStats, SpikeRecorder, Tee};

use crate::output::{read_attr_str, Provenance, Results, Summary};
use crate::run::{choose_and_plan, out_of_memory, try_collect, CHUNK_STEPS};
use crate::sweep::RunStats;

/// A run cancelled by its progress callback (which returned `false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled {
    /// Steps simulated when it stopped.
    pub steps_done: u64,
}

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the run was cancelled after {} steps", self.steps_done)
    }
}

impl std::error::Error for Cancelled {}

/// A finished run: what `brunel run` writes, and the sweep's statistics of it.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Provenance, summary, recorded spikes and population rate: the contents of the result
    /// file `brunel run` would write.
    pub results: Results,
    /// The statistics a sweep point gets (rates, CVs, population statistics, regime).
    pub stats: RunStats,
    /// Why `auto` chose the backend, if it did.
    pub reason: Option<String>,
}

/// A run's backend chosen and probed, its memory planned: everything `brunel run` refuses
/// before it builds the network has been checked.
#[derive(Debug)]
pub struct Planned {
    chosen: crate::choose::Chosen,
    build_par: brunel_core::Par,
}

/// Checks what `brunel run` checks before it builds anything: `threads` (0: all cores), the
/// backend (`backend` a registry name or `auto`, `device`) probed on this machine, the memory
/// the run needs against what this process may use.
pub fn plan(
    config: &Config,
    backend: &str,
    threads: usize,
    device: Option<usize>,
) -> Result<Planned> {
    // The CLI's own check of --threads, with its message.
    crate::run::parse_threads(&threads.to_string()).map_err(anyhow::Error::msg)?;
    if let Some(e) = brunel_backends::find(backend)
        .ok()
        .filter(|e| e.distributed)
    {
        anyhow::bail!(
            "the {} backend spreads one run over MPI ranks: start it with `mpirun -np K brunel run CONFIG --backend {}`, not from an embedding",
            e.name,
            e.name
        );
    }
    let (chosen, build_par) = choose_and_plan(backend, config, threads, device)?;
    Ok(Planned { chosen, build_par })
}

/// Runs `config` as `brunel run` does on the backend `planned` ([`plan`]) and returns its
/// results in memory. `progress(done, steps)` is called after every chunk of [`CHUNK_STEPS`]
/// steps; returning `false` stops the run with [`Cancelled`].
pub fn run(
    config: &Config,
    planned: Planned,
    mut progress: impl FnMut(u64, u64) -> bool,
) -> Result<Finished> {
    let Planned { chosen, build_par } = planned;
    let model = Model::new(config);
    let t = Instant::now();
    let network = Network::try_build(config, build_par)?;
    let build_seconds = t.elapsed().as_secs_f64();
    let n_synapses = network.n_synapses();
    let out_degree = network.out_degrees();
    let mut backend = chosen.make(&model, &network)?;
    drop(network);
    let steps = model.steps;
    let mut spikes = SpikeRecorder::try_new(config.record.spikes, steps)
        .map_err(|_| out_of_memory("the population rate's spike counts", steps * 4))?;
    let mut stats = NeuronStats::last_80_percent(model.n, steps);
    let t = Instant::now();
    let done = {
        let mut tee = Tee(&mut spikes, &mut stats);
        brunel_core::run_in_chunks(
            backend.as_mut(),
            &model,
            steps,
            CHUNK_STEPS,
            &mut tee,
            |done| progress(done, steps),
        )
        .with_context(|| format!("the {} backend failed", chosen.entry.name))?
    };
    if done < steps {
        return Err(Cancelled { steps_done: done }.into());
    }
    backend.sync()?;
    let run_seconds = t.elapsed().as_secs_f64();
    let info = backend.info();
    let run_stats = crate::sweep::statistics(config, &model, &spikes, &stats);
    let results = results(
        config,
        &model,
        &spikes,
        &stats,
        &Ran {
            info: &info,
            out_degree: &out_degree,
            n_synapses,
            build_seconds,
            run_seconds,
        },
    )?;
    Ok(Finished {
        results,
        stats: run_stats,
        reason: chosen.reason,
    })
}

/// What a finished run knows beyond its recorders.
struct Ran<'a> {
    info: &'a BackendInfo,
    out_degree: &'a [u32],
    n_synapses: u64,
    build_seconds: f64,
    run_seconds: f64,
}

/// The result file's contents of a finished run, as `brunel run` writes them.
fn results(
    config: &Config,
    model: &Model,
    spikes: &SpikeRecorder,
    stats: &NeuronStats,
    ran: &Ran,
) -> Result<Results> {
    let steps = model.steps;
    let info = ran.info;
    Ok(Results {
        provenance: Provenance {
            brunel_version: env!("CARGO_PKG_VERSION").to_owned(),
            backend: info.name.clone(),
            device: info.device.clone(),
            threads: info.threads as u64,
            work_items: info.work_items.map(|w| w as u64),
            ranks: info.ranks.map(|r| r as u64),
            device_kind: info.device_kind.as_str().to_owned(),
            seed: config.simulation.seed,
            config: config.to_toml(),
            n_synapses: ran.n_synapses,
            build_seconds: ran.build_seconds,
            run_seconds: ran.run_seconds,
            created: crate::time::now_rfc3339(),
        },
        summary: Summary {
            n_neurons: model.n as u64,
            n_excitatory: model.n_e as u64,
            steps,
            dt: model.dt,
            duration: steps as f64 * model.dt,
            spikes: stats.total_spikes(),
            synaptic_events: stats.synaptic_events_by_degree(ran.out_degree),
            mean_rate_exc: stats.mean_rate(0..model.n_e, model.dt),
            mean_rate_inh: stats.mean_rate(model.n_e..model.n, model.dt),
            mean_cv: stats.mean_cv(),
            theory: crate::theory::SummaryLine::of(config),
        },
        timestamps: try_collect(
            spikes.steps.iter().map(|&k| k as f64 * model.dt),
            "spike times",
        )?,
        node_ids: try_collect(spikes.ids.iter().map(|&i| i as u64), "spike ids")?,
        rate: spikes
            .try_rate_hz(model.n, model.dt)
            .map_err(|_| out_of_memory("the population rate", steps * 8))?,
        dt: model.dt,
        start: 0.0,
    })
}

/// A grid axis of a sweep file: numbers, or the values as text (a key that takes strings).
#[derive(Debug, Clone, PartialEq)]
pub enum AxisValues {
    /// The values of a numeric key (`synapse.g`, `input.ratio`, ...), in grid order.
    Numbers(Vec<f64>),
    /// The values of a key that takes strings, in grid order.
    Text(Vec<String>),
}

/// A sweep file (`brunel sweep --out SWEEP.h5`) as arrays over its grid, in grid order (the
/// first axis varying slowest).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepTable {
    /// The grid keys and their values, in order.
    pub axes: Vec<(String, AxisValues)>,
    /// Every statistic (`rate_exc_hz`, its `_std`, ..., `theory_rate_hz`), one value per point.
    pub values: Vec<(String, Vec<f64>)>,
    /// The regime of every point.
    pub regime: Vec<String>,
    /// The base config (TOML).
    pub config: String,
    /// Every seed, as the file lists them.
    pub seeds: Vec<u64>,
    /// The registry name of the backend that ran every point.
    pub backend: String,
    /// Wall-clock time of the sweep invocation that finished it (s); runs of earlier,
    /// interrupted invocations are not counted.
    pub seconds: f64,
}

impl SweepTable {
    /// The grid's shape: the number of values of every axis.
    pub fn shape(&self) -> Vec<usize> {
        self.axes
            .iter()
            .map(|(_, v)| match v {
                AxisValues::Numbers(n) => n.len(),
                AxisValues::Text(t) => t.len(),
            })
            .collect()
    }
}

/// Reads a sweep file back: its axes, statistics and regimes.
pub fn read_sweep(path: &Path) -> Result<SweepTable> {
    crate::output::check_input(path)?;
    if !crate::phase::is_sweep(path) {
        bail!("{} is not a sweep file of brunel", path.display());
    }
    let file = hdf5::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let keys: Vec<String> = read_attr_str(&file, "axes")?
        .split(',')
        .map(str::to_owned)
        .collect();
    let group = file.group("axes")?;
    let mut axes = Vec::new();
    for key in keys {
        let ds = group
            .dataset(&key)
            .with_context(|| format!("the axis {key} is missing"))?;
        let values = match ds.read_raw::<f64>() {
            Ok(v) => AxisValues::Numbers(v),
            Err(_) => AxisValues::Text(
                ds.read_raw::<hdf5::types::VarLenUnicode>()
                    .with_context(|| format!("the axis {key} cannot be read"))?
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
            ),
        };
        axes.push((key, values));
    }
    let mut table = SweepTable {
        axes,
        values: Vec::new(),
        regime: Vec::new(),
        config: read_attr_str(&file, "config")?,
        seeds: read_attr_str(&file, "seeds")?
            .split(',')
            .map(|s| s.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .context("the sweep's seeds cannot be read")?,
        backend: read_attr_str(&file, "backend")?,
        seconds: crate::output::read_attr::<f64>(&file, "seconds")?,
    };
    let points: usize = table.shape().iter().product();
    let mut names: Vec<String> = Vec::new();
    for (name, _) in crate::sweep::STATS {
        names.push(name.to_owned());
        names.push(format!("{name}_std"));
    }
    names.push("theory_rate_hz".into());
    for name in names {
        let v: Vec<f64> = file
            .dataset(&name)
            .and_then(|d| d.read_raw::<f64>())
            .with_context(|| format!("the dataset {name} is missing"))?;
        if v.len() != points {
            bail!("the dataset {name} does not fit the grid");
        }
        table.values.push((name, v));
    }
    table.regime = file
        .dataset("regime")
        .and_then(|d| d.read_raw::<hdf5::types::VarLenUnicode>())
        .context("the dataset regime is missing")?
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    if table.regime.len() != points {
        bail!("the dataset regime does not fit the grid");
    }
    Ok(table)
}
