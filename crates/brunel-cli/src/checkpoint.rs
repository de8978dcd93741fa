//! Checkpoints: everything a run needs to continue, in one HDF5 file written atomically.
//!
//! ```text
//! /            attributes: format = "brunel-checkpoint", format_version, brunel_version,
//!              config (the resolved TOML of the run), out (the result file it will write),
//!              step (the next step to run), fingerprint (of the network, see
//!              Network::fingerprint), n_synapses, build_seconds, run_seconds (so far),
//!              checkpoint_every (steps; 0: only at the end), created, checksum
//! /state       v (f64), last_spike (i64), in_flight_steps (u64), in_flight_ids (u32)
//! /spikes      counts (u32 per step so far), steps (u64), ids (u32): the recorded spikes
//! /stats       total, in_window, isi_count (u32), last, isi_sum, isi_sum_sq (u64);
//!              attributes window_start, steps
//! ```
//!
//! The network is not stored: it is drawn again from the config's seed and must have the
//! recorded fingerprint.
//!
//! A checkpoint is checked twice on reading, so that a damaged file is refused with a message
//! instead of resuming into other spikes or a crash:
//! - `checksum` is a CRC-32 over every value above except `created`, in a fixed order
//!   ([`checksum`]): a flipped bit anywhere in a dataset or attribute is caught;
//! - the values must make sense for the network of the checkpoint's config ([`check`]): ids
//!   below N, steps before the checkpoint's step and in order, spikes in flight within the last
//!   delay, finite potentials, statistics that fit the spikes counted.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use brunel_core::{Config, HostState, Model, NeuronStats, SpikeRecorder};
use hdf5::H5Type;

use crate::output::{attr, attr_str, has_hdf5_signature, read_attr, read_attr_str};

const FORMAT: &str = "brunel-checkpoint";
// 2: the checksum attribute.
const FORMAT_VERSION: u32 = 2;

/// A run stopped at `state.step`.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The brunel version that wrote it: only the same version resumes it, since another may
    /// draw another network or step differently.
    pub brunel_version: String,
    /// The resolved config of the run (its duration is the run's end).
    pub config: String,
    /// The result file the run writes at its end.
    pub out: PathBuf,
    /// The network's fingerprint (`Network::fingerprint`): the network is not stored but drawn
    /// again from the config's seed, and a resumed run refuses one that differs.
    pub fingerprint: u64,
    /// Synapses of the network, checked with the fingerprint and carried into the result file.
    pub n_synapses: u64,
    /// Wall-clock time spent building the network and the backend's layout (s), summed over
    /// the run and every resume so far.
    pub build_seconds: f64,
    /// Wall-clock time spent stepping (s), summed over the run and every resume so far.
    pub run_seconds: f64,
    /// Steps between checkpoints (0: only at the end).
    pub every: u64,
    /// The backend's state at the checkpoint: potentials, last spikes, spikes in flight, and
    /// the next step to run.
    pub state: HostState,
    /// The spikes recorded so far (counts of every step run, the chosen neurons' spikes).
    pub spikes: SpikeRecorder,
    /// The per-neuron spike statistics so far, continued by the resumed run.
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

/// Writes `c` to `path`, atomically: a temporary file beside it, read back (its checksum
/// checked, so that a file a full disk cut short is never committed), renamed when complete.
/// An earlier checkpoint of the same name stays intact until then.
pub fn write(path: &Path, c: &Checkpoint) -> Result<()> {
    let tmp = crate::files::Temp::beside(path)?;
    write_to(tmp.path(), c)
        .with_context(|| format!("cannot write the checkpoint {}", path.display()))
        .map_err(|e| crate::files::explain(path, e))?;
    crate::files::check_hdf5(path, tmp.path(), |file| {
        // Every value read back and summed as written.
        let (back, stored) = read_open(tmp.path(), file)?;
        let sum = checksum(c);
        if stored != sum || checksum(&back) != sum {
            bail!("what was read back differs from what was written");
        }
        Ok(())
    })
    .with_context(|| format!("cannot write the checkpoint {}", path.display()))?;
    // The checkpoint replaced keeps its permissions (a rename would give the temporary's).
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.is_file() {
            std::fs::set_permissions(tmp.path(), meta.permissions())
                .with_context(|| format!("cannot write the checkpoint {}", path.display()))?;
        }
    }
    // A checkpoint is replaced each time the run checkpoints (`--force` was checked first).
    tmp.commit(crate::files::Replace::Always)
}

fn write_to(path: &Path, c: &Checkpoint) -> Result<()> {
    let file = hdf5::File::create(path)?;
    write_contents(&file, c)?;
    // Every group is closed by now: the file is closed for good, its errors reported.
    crate::files::close_hdf5(file)
}

fn write_contents(file: &hdf5::File, c: &Checkpoint) -> Result<()> {
    attr_str(file, "format", FORMAT)?;
    attr(file, "format_version", FORMAT_VERSION)?;
    attr_str(file, "brunel_version", &c.brunel_version)?;
    attr_str(file, "config", &c.config)?;
    attr_str(file, "out", &c.out.to_string_lossy())?;
    attr(file, "step", c.state.step)?;
    attr(file, "fingerprint", c.fingerprint)?;
    attr(file, "n_synapses", c.n_synapses)?;
    attr(file, "build_seconds", c.build_seconds)?;
    attr(file, "run_seconds", c.run_seconds)?;
    attr(file, "checkpoint_every", c.every)?;
    attr_str(file, "created", &crate::time::now_rfc3339())?;
    attr(file, "checksum", checksum(c))?;

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
    Ok(())
}

/// Reads a checkpoint (the recorded spikes' selection is its config's `record.spikes`). A file of
/// another format or another version of brunel is refused.
pub fn read(path: &Path) -> Result<Checkpoint> {
    let (c, stored) = read_stored(path)?;
    let damaged = |what: String| {
        anyhow::anyhow!(
            "{} is damaged: {what}; it cannot be resumed (write a new checkpoint with `brunel run --checkpoint`)",
            path.display()
        )
    };
    let computed = checksum(&c);
    if computed != stored {
        return Err(damaged(format!(
            "its contents do not match its checksum (stored {stored:#010x}, computed {computed:#010x})"
        )));
    }
    let config = Config::from_toml_with(&c.config, "the checkpoint's config", &[])?;
    check(&c, &Model::new(&config)).map_err(damaged)?;
    Ok(c)
}

/// A checkpoint as stored and its stored checksum, not yet compared.
fn read_stored(path: &Path) -> Result<(Checkpoint, u32)> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the checkpoint {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file ({})",
            path.display(),
            brunel_core::config::file_kind(meta.file_type())
        );
    }
    if !has_hdf5_signature(path) {
        bail!(
            "{} is not a brunel checkpoint (not an HDF5 file)",
            path.display()
        );
    }
    let file = hdf5::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    read_open(path, &file)
}

/// [`read_stored`] of the checkpoint `path`, open as `file`.
fn read_open(path: &Path, file: &hdf5::File) -> Result<(Checkpoint, u32)> {
    let not_ours = || format!("{} is not a brunel checkpoint", path.display());
    let format = read_attr_str(file, "format").with_context(not_ours)?;
    if format != FORMAT {
        bail!("{}: format `{format}`", not_ours());
    }
    let version: u32 = read_attr(file, "format_version").with_context(not_ours)?;
    let brunel_version = read_attr_str(file, "brunel_version").with_context(not_ours)?;
    let ours = env!("CARGO_PKG_VERSION");
    if version != FORMAT_VERSION || brunel_version != ours {
        bail!(
            "{} was written by brunel {brunel_version} (checkpoint format {version}); this is brunel {ours} (format {FORMAT_VERSION}): a run can only be resumed by the version that checkpointed it",
            path.display()
        );
    }
    let inner = || -> Result<(Checkpoint, u32)> {
        let config: String = read_attr_str(file, "config")?;
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
        let stored: u32 = read_attr(file, "checksum")?;
        let c = Checkpoint {
            brunel_version: brunel_version.clone(),
            out: PathBuf::from(read_attr_str(file, "out")?),
            fingerprint: read_attr(file, "fingerprint")?,
            n_synapses: read_attr(file, "n_synapses")?,
            build_seconds: read_attr(file, "build_seconds")?,
            run_seconds: read_attr(file, "run_seconds")?,
            every: read_attr(file, "checkpoint_every")?,
            state: HostState {
                step: read_attr(file, "step")?,
                v: read_data(&state, "v")?,
                last_spike: read_data(&state, "last_spike")?,
                in_flight: in_flight_steps.into_iter().zip(in_flight_ids).collect(),
            },
            spikes,
            stats,
            config,
        };
        Ok((c, stored))
    };
    inner().with_context(not_ours)
}

/// CRC-32 over every value of `c`, each preceded by its name and byte length, in a fixed order:
/// what [`write()`] stores and [`read()`] compares.
pub fn checksum(c: &Checkpoint) -> u32 {
    let mut sum = Sum(crc32fast::Hasher::new());
    sum.bytes("brunel_version", c.brunel_version.as_bytes());
    sum.bytes("config", c.config.as_bytes());
    sum.bytes("out", c.out.to_string_lossy().as_bytes());
    sum.numbers("fingerprint", &[c.fingerprint], u64::to_le_bytes);
    sum.numbers("n_synapses", &[c.n_synapses], u64::to_le_bytes);
    sum.numbers("build_seconds", &[c.build_seconds], f64::to_le_bytes);
    sum.numbers("run_seconds", &[c.run_seconds], f64::to_le_bytes);
    sum.numbers("checkpoint_every", &[c.every], u64::to_le_bytes);
    let s = &c.state;
    sum.numbers("step", &[s.step], u64::to_le_bytes);
    sum.numbers("v", &s.v, f64::to_le_bytes);
    sum.numbers("last_spike", &s.last_spike, i64::to_le_bytes);
    sum.numbers("in_flight", &s.in_flight, |(k, id)| {
        let mut b = [0; 12];
        b[..8].copy_from_slice(&k.to_le_bytes());
        b[8..].copy_from_slice(&id.to_le_bytes());
        b
    });
    sum.numbers("spikes/counts", &c.spikes.counts, u32::to_le_bytes);
    sum.numbers("spikes/steps", &c.spikes.steps, u64::to_le_bytes);
    sum.numbers("spikes/ids", &c.spikes.ids, u32::to_le_bytes);
    let t = &c.stats;
    sum.numbers("stats/window_start", &[t.window_start], u64::to_le_bytes);
    sum.numbers("stats/steps", &[t.steps], u64::to_le_bytes);
    sum.numbers("stats/total", &t.total, u32::to_le_bytes);
    sum.numbers("stats/in_window", &t.in_window, u32::to_le_bytes);
    sum.numbers("stats/last", &t.last, u64::to_le_bytes);
    sum.numbers("stats/isi_count", &t.isi_count, u32::to_le_bytes);
    sum.numbers("stats/isi_sum", &t.isi_sum, u64::to_le_bytes);
    sum.numbers("stats/isi_sum_sq", &t.isi_sum_sq, u64::to_le_bytes);
    sum.0.finalize()
}

/// The checksum's running state: named byte strings and arrays of numbers, little-endian.
struct Sum(crc32fast::Hasher);

impl Sum {
    fn bytes(&mut self, name: &str, bytes: &[u8]) {
        self.0.update(name.as_bytes());
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// Feeds `values` through a buffer, so that large states cost one update per 64 KiB.
    fn numbers<T: Copy, const W: usize>(&mut self, name: &str, values: &[T], le: fn(T) -> [u8; W]) {
        self.0.update(name.as_bytes());
        self.0.update(&((values.len() * W) as u64).to_le_bytes());
        let mut buffer = Vec::with_capacity(65_536);
        for chunk in values.chunks((65_536 / W).max(1)) {
            buffer.clear();
            for &x in chunk {
                buffer.extend_from_slice(&le(x));
            }
            self.0.update(&buffer);
        }
    }
}

/// Checks that the values of `c` make sense for `model`, the network of its config: what a
/// checksum cannot tell (a file written by a faulty program, or damaged and re-summed) must
/// still not crash a resume or feed it impossible input. The message says what is wrong.
pub fn check(c: &Checkpoint, model: &Model) -> std::result::Result<(), String> {
    let done = c.state.step;
    let n = model.n;
    c.state.check(model).map_err(|e| e.to_string())?;
    let spikes = &c.spikes;
    if spikes.counts.len() as u64 != done {
        return Err(format!(
            "it holds the spike counts of {} steps for a state at step {done}",
            spikes.counts.len()
        ));
    }
    if spikes.steps.len() != spikes.ids.len() {
        return Err("its recorded spikes have more steps than ids or the reverse".into());
    }
    // Spikes in (step, id) order, of neurons the selection keeps, no more at a step than the
    // step's count of all spikes (exactly as many when every neuron is recorded).
    let mut previous: Option<(u64, u32)> = None;
    let mut at_step = 0u64;
    for (&k, &id) in spikes.steps.iter().zip(&spikes.ids) {
        if id >= n || !spikes.select.includes(id) {
            return Err(format!(
                "a recorded spike is of neuron {id}, which the run does not record (network of {n} neurons, recording {})",
                spikes.select
            ));
        }
        if k >= done {
            return Err(format!(
                "a recorded spike is at step {k}, not before the checkpoint's step {done}"
            ));
        }
        if previous.is_some_and(|p| p >= (k, id)) {
            return Err("its recorded spikes are not in (step, neuron) order".into());
        }
        at_step = if previous.is_some_and(|p| p.0 == k) {
            at_step + 1
        } else {
            1
        };
        if at_step > spikes.counts[k as usize] as u64 {
            return Err(format!(
                "it records more spikes at step {k} than the step's count ({})",
                spikes.counts[k as usize]
            ));
        }
        previous = Some((k, id));
    }
    let counted: u64 = spikes.counts.iter().map(|&x| x as u64).sum();
    if spikes.select == brunel_core::RecordSpikes::All && counted != spikes.ids.len() as u64 {
        return Err(format!(
            "it records {} spikes of all neurons but counts {counted}",
            spikes.ids.len()
        ));
    }
    let stats = &c.stats;
    if stats.total.len() != n as usize {
        return Err(format!(
            "its statistics are of {} neurons, the network has {n}",
            stats.total.len()
        ));
    }
    if stats.steps > done {
        return Err(format!(
            "its statistics cover {} steps, more than the {done} run",
            stats.steps
        ));
    }
    let total: u64 = stats.total.iter().map(|&x| x as u64).sum();
    let counted_by_stats: u64 = spikes.counts[..stats.steps as usize]
        .iter()
        .map(|&x| x as u64)
        .sum();
    if total != counted_by_stats {
        return Err(format!(
            "its statistics count {total} spikes, its spike counts {counted_by_stats}"
        ));
    }
    for i in 0..n as usize {
        let last = stats.last[i];
        if stats.in_window[i] > stats.total[i]
            || stats.isi_count[i] > stats.in_window[i]
            || (last != u64::MAX && (last >= done || last < stats.window_start))
            || (stats.in_window[i] > 0) != (last != u64::MAX)
        {
            return Err(format!("the statistics of neuron {i} do not fit together"));
        }
    }
    Ok(())
}
