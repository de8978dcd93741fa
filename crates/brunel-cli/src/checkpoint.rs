//! Checkpoints: everything a run needs to continue, in one HDF5 file written atomically.
//!
//! ```text
//! /            attributes: format = "brunel-checkpoint", format_version, brunel_version,
//!              config (the resolved TOML of the run), out (the result file it will write),
//!              step (the next step to run), fingerprint (of the network, see
//!              Network::fingerprint), n_synapses, build_seconds, run_seconds (so far),
//!              checkpoint_every (steps; 0: only at the end), created
//! /state       v (f64), last_spike (i64), in_flight_steps (u64), in_flight_ids (u32)
//! /spikes      counts (u32 per step so far), steps (u64), ids (u32): the recorded spikes
//! /stats       total, in_window, isi_count (u32), last, isi_sum, isi_sum_sq (u64);
//!              attributes window_start, steps
//! ```
//!
//! The network is not stored: it is drawn again from the config's seed and must have the
//! recorded fingerprint.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use brunel_core::{Config, HostState, NeuronStats, SpikeRecorder};
use hdf5::H5Type;

use crate::output::{attr, attr_str, has_hdf5_signature, read_attr, read_attr_str};

const FORMAT: &str = "brunel-checkpoint";
const FORMAT_VERSION: u32 = 1;

/// A run stopped at `state.step`.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub brunel_version: String,
    /// The resolved config of the run (its duration is the run's end).
    pub config: String,
    /// The result file the run writes at its end.
    pub out: PathBuf,
    pub fingerprint: u64,
    pub n_synapses: u64,
    pub build_seconds: f64,
    pub run_seconds: f64,
    /// Steps between checkpoints (0: only at the end).
    pub every: u64,
    pub state: HostState,
    pub spikes: SpikeRecorder,
    pub stats: NeuronStats,
}

fn data<T: H5Type>(group: &hdf5::Group, name: &str, values: &[T]) -> Result<()> {
    group
        .new_dataset_builder()
        .with_data(values)
        .create(name)
        .with_context(|| format!("cannot write the dataset {name}"))?;
    Ok(())
}

fn read_data<T: H5Type>(group: &hdf5::Group, name: &str) -> Result<Vec<T>> {
    group
        .dataset(name)
        .with_context(|| format!("the dataset {name} is missing"))?
        .read_raw::<T>()
        .with_context(|| format!("the dataset {name} has the wrong type"))
}

/// Writes `c` to `path`, atomically: a temporary file beside it, renamed when complete. An
/// earlier checkpoint of the same name stays intact until then.
pub fn write(path: &Path, c: &Checkpoint) -> Result<()> {
    let tmp = crate::output::temp_beside(path)?;
    write_to(tmp.path(), c)
        .with_context(|| format!("cannot write the checkpoint {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write the checkpoint {}", path.display()))?;
    Ok(())
}

fn write_to(path: &Path, c: &Checkpoint) -> Result<()> {
    let file = hdf5::File::create(path)?;
    attr_str(&file, "format", FORMAT)?;
    attr(&file, "format_version", FORMAT_VERSION)?;
    attr_str(&file, "brunel_version", &c.brunel_version)?;
    attr_str(&file, "config", &c.config)?;
    attr_str(&file, "out", &c.out.to_string_lossy())?;
    attr(&file, "step", c.state.step)?;
    attr(&file, "fingerprint", c.fingerprint)?;
    attr(&file, "n_synapses", c.n_synapses)?;
    attr(&file, "build_seconds", c.build_seconds)?;
    attr(&file, "run_seconds", c.run_seconds)?;
    attr(&file, "checkpoint_every", c.every)?;
    attr_str(&file, "created", &crate::time::now_rfc3339())?;

    let state = file.create_group("state")?;
    data(&state, "v", &c.state.v)?;
    data(&state, "last_spike", &c.state.last_spike)?;
    let (steps, ids): (Vec<u64>, Vec<u32>) = c.state.in_flight.iter().copied().unzip();
    data(&state, "in_flight_steps", &steps)?;
    data(&state, "in_flight_ids", &ids)?;

    let spikes = file.create_group("spikes")?;
    data(&spikes, "counts", &c.spikes.counts)?;
    data(&spikes, "steps", &c.spikes.steps)?;
    data(&spikes, "ids", &c.spikes.ids)?;

    let s = &c.stats;
    let stats = file.create_group("stats")?;
    attr(&stats, "window_start", s.window_start)?;
    attr(&stats, "steps", s.steps)?;
    data(&stats, "total", &s.total)?;
    data(&stats, "in_window", &s.in_window)?;
    data(&stats, "last", &s.last)?;
    data(&stats, "isi_count", &s.isi_count)?;
    data(&stats, "isi_sum", &s.isi_sum)?;
    data(&stats, "isi_sum_sq", &s.isi_sum_sq)?;
    file.close()?;
    Ok(())
}

/// Reads a checkpoint (the recorded spikes' selection is its config's `record.spikes`). A file of
/// another format or another version of brunel is refused.
pub fn read(path: &Path) -> Result<Checkpoint> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the checkpoint {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    if !has_hdf5_signature(path) {
        bail!(
            "{} is not a brunel checkpoint (not an HDF5 file)",
            path.display()
        );
    }
    let not_ours = || format!("{} is not a brunel checkpoint", path.display());
    let file = hdf5::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let format = read_attr_str(&file, "format").with_context(not_ours)?;
    if format != FORMAT {
        bail!("{}: format `{format}`", not_ours());
    }
    let version: u32 = read_attr(&file, "format_version").with_context(not_ours)?;
    let brunel_version = read_attr_str(&file, "brunel_version").with_context(not_ours)?;
    let ours = env!("CARGO_PKG_VERSION");
    if version != FORMAT_VERSION || brunel_version != ours {
        bail!(
            "{} was written by brunel {brunel_version} (checkpoint format {version}); this is brunel {ours} (format {FORMAT_VERSION}): a run can only be resumed by the version that checkpointed it",
            path.display()
        );
    }
    let inner = || -> Result<Checkpoint> {
        let config: String = read_attr_str(&file, "config")?;
        let state = file.group("state").context("the group /state is missing")?;
        let in_flight_steps: Vec<u64> = read_data(&state, "in_flight_steps")?;
        let in_flight_ids: Vec<u32> = read_data(&state, "in_flight_ids")?;
        if in_flight_steps.len() != in_flight_ids.len() {
            bail!("the spikes in flight are inconsistent");
        }
        let spikes = file
            .group("spikes")
            .context("the group /spikes is missing")?;
        let stats = file.group("stats").context("the group /stats is missing")?;
        let spikes = SpikeRecorder {
            select: Config::from_toml_with(&config, "the checkpoint's config", &[])?
                .record
                .spikes,
            counts: read_data(&spikes, "counts")?,
            steps: read_data(&spikes, "steps")?,
            ids: read_data(&spikes, "ids")?,
        };
        if spikes.steps.len() != spikes.ids.len() {
            bail!("the recorded spikes are inconsistent");
        }
        let stats = NeuronStats {
            window_start: read_attr(&stats, "window_start")?,
            steps: read_attr(&stats, "steps")?,
            total: read_data(&stats, "total")?,
            in_window: read_data(&stats, "in_window")?,
            last: read_data(&stats, "last")?,
            isi_count: read_data(&stats, "isi_count")?,
            isi_sum: read_data(&stats, "isi_sum")?,
            isi_sum_sq: read_data(&stats, "isi_sum_sq")?,
        };
        let n = stats.total.len();
        if [
            stats.in_window.len(),
            stats.last.len(),
            stats.isi_count.len(),
            stats.isi_sum.len(),
            stats.isi_sum_sq.len(),
        ]
        .iter()
        .any(|&l| l != n)
        {
            bail!("the per-neuron statistics are inconsistent");
        }
        Ok(Checkpoint {
            brunel_version: brunel_version.clone(),
            out: PathBuf::from(read_attr_str(&file, "out")?),
            fingerprint: read_attr(&file, "fingerprint")?,
            n_synapses: read_attr(&file, "n_synapses")?,
            build_seconds: read_attr(&file, "build_seconds")?,
            run_seconds: read_attr(&file, "run_seconds")?,
            every: read_attr(&file, "checkpoint_every")?,
            state: HostState {
                step: read_attr(&file, "step")?,
                v: read_data(&state, "v")?,
                last_spike: read_data(&state, "last_spike")?,
                in_flight: in_flight_steps.into_iter().zip(in_flight_ids).collect(),
            },
            spikes,
            stats,
            config,
        })
    };
    inner().with_context(not_ours)
}
