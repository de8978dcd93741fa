//! Result files: HDF5 with SONATA's spike report layout, the population rate, and provenance.
//!
//! ```text
//! /                          attributes: magic (u32 0x0A7A), version (u32 [0, 1]),
//!                            brunel_version, backend, device, device_kind, threads, work_items
//!                            (OpenCL), ranks (mpi), seed, config (resolved
//!                            TOML), n_synapses, build_seconds, run_seconds, created (RFC 3339
//!                            UTC), and the summary: n_neurons, n_excitatory, steps, dt,
//!                            duration, spikes, synaptic_events, mean_rate_exc, mean_rate_inh,
//!                            mean_cv (last 80 % of the run); the mean-field prediction
//!                            theory_rate_hz, theory_stable (u8 0/1), theory_oscillation_hz
//!                            (0: none), absent where the theory found no state
//! /spikes/brunel             attribute sorting: enum {none, by_id, by_time} = by_time
//! /spikes/brunel/timestamps  f64, ms, attribute units = "ms"
//! /spikes/brunel/node_ids    u64
//! /population_rate/rate      f64, Hz, one value per step; attributes dt (ms), start (ms),
//!                            units = "Hz"
//! ```
//!
//! Strings are variable-length UTF-8, which h5py reads as `str`. The file is written to a
//! temporary file beside the target and renamed into place only once complete.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use hdf5::types::VarLenUnicode;
use hdf5::H5Type;

/// SONATA's `magic` root attribute.
pub const SONATA_MAGIC: u32 = 0x0A7A;
/// SONATA's `version` root attribute.
pub const SONATA_VERSION: [u32; 2] = [0, 1];
/// The population name under `/spikes`.
pub const POPULATION: &str = "brunel";

/// SONATA's `sorting` attribute: an HDF5 enum, as libsonata reads it (base type `char`).
#[derive(H5Type, Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
#[allow(dead_code)] // the HDF5 type lists every member SONATA defines; we write by_time only
pub enum Sorting {
    /// The spikes are in no particular order.
    #[hdf5(rename = "none")]
    None = 0,
    /// The spikes are ordered by neuron id.
    #[hdf5(rename = "by_id")]
    ById = 1,
    /// The spikes are ordered by time (ties by id): what brunel writes.
    #[hdf5(rename = "by_time")]
    ByTime = 2,
}

/// Everything a result file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// Which version, backend, device, seed and config made it, and how long it took: the
    /// root attributes that let a result be reproduced.
    pub provenance: Provenance,
    /// The run's figures (sizes, spike counts, mean rates and CV, the theory's prediction).
    pub summary: Summary,
    /// Spike times (ms), in (time, id) order.
    pub timestamps: Vec<f64>,
    /// Spiking neurons.
    pub node_ids: Vec<u64>,
    /// Population rate of every step (Hz).
    pub rate: Vec<f64>,
    /// Time step of `rate` (ms).
    pub dt: f64,
    /// Time of `rate[0]` (ms).
    pub start: f64,
}

/// Where a result comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// The version of brunel that ran it.
    pub brunel_version: String,
    /// The registry name of the backend that ran it: `reference`, `cpu`, `opencl`, `mpi`.
    pub backend: String,
    /// The device it ran on, in words, as the backend describes it (the cpu backend says
    /// whether its threads were pinned).
    pub device: String,
    /// Host threads that advanced the neurons.
    pub threads: u64,
    /// Work-items per launch on a device (OpenCL), if any.
    pub work_items: Option<u64>,
    /// MPI ranks the neurons were spread over (the `mpi` backend), if more than one process.
    pub ranks: Option<u64>,
    /// `host`, `gpu`, `opencl-cpu` or `other`.
    pub device_kind: String,
    /// The seed that drew the network and the external input (`simulation.seed`): with the
    /// config it determines every spike, on every backend.
    pub seed: u64,
    /// The fully resolved config, as TOML.
    pub config: String,
    /// Synapses of the network drawn.
    pub n_synapses: u64,
    /// Wall-clock time spent building the network and the backend's layout (s); for a
    /// resumed run, summed over the run and every resume.
    pub build_seconds: f64,
    /// Wall-clock time spent stepping (s); for a resumed run, summed over the run and every
    /// resume.
    pub run_seconds: f64,
    /// RFC 3339, UTC.
    pub created: String,
}

/// What the run measured (also printed at its end).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Neurons of the network, excitatory and inhibitory (N).
    pub n_neurons: u64,
    /// Excitatory neurons (N_E): ids `0..n_excitatory`; the inhibitory ones follow.
    pub n_excitatory: u64,
    /// Time steps simulated.
    pub steps: u64,
    /// The time step (ms).
    pub dt: f64,
    /// Simulated time, `steps × dt` (ms).
    pub duration: f64,
    /// Spikes of all neurons over the whole run, recorded or not.
    pub spikes: u64,
    /// Spikes delivered to synapses: every spike times the out-degree of its neuron (the
    /// work a backend does, and the base of `--summary`'s `synaptic_events_per_second`).
    pub synaptic_events: u64,
    /// Mean rate of the excitatory neurons over the last 80 % of the run (Hz).
    pub mean_rate_exc: f64,
    /// Mean rate of the inhibitory neurons over the last 80 % of the run (Hz).
    pub mean_rate_inh: f64,
    /// Mean coefficient of variation of the interspike intervals over the last 80 % of the
    /// run, over the neurons with at least two intervals there (NaN if none has).
    pub mean_cv: f64,
    /// The mean-field theory's lowest stationary state (`brunel theory`).
    pub theory: Option<crate::theory::SummaryLine>,
}

/// Writes `results` to `target` through a temporary file in the same folder, renamed into place
/// on success (replacing an existing file only when `force`). Nothing is left behind on failure
/// or on Ctrl-C / SIGTERM (checked between datasets): the temporary file is removed and an
/// earlier `target` stays as it was.
pub fn write_atomically(target: &Path, results: &Results, force: bool) -> Result<()> {
    // The very writer a run streams into, fed from memory: both give the same file.
    let n = results.summary.n_neurons.max(1) as u32;
    let mut file = SpikeFile::create(target, n, results.dt, brunel_core::RecordSpikes::None)?;
    file.append_spikes(&results.timestamps, &results.node_ids)
        .and_then(|()| file.append_rate(&results.rate))
        .with_context(|| format!("cannot write HDF5 file {}", target.display()))?;
    file.finish(
        &results.provenance,
        &results.summary,
        results.dt,
        results.start,
        force,
    )
}

/// Writes `text` to `target` (replaced if it exists) through a temporary file beside it.
pub fn write_text_atomically(target: &Path, text: &str) -> Result<()> {
    check_target(target)?;
    crate::files::write_bytes(target, text.as_bytes(), crate::files::Replace::Always)
}

use crate::files::kind;

/// Refuses an output path that exists and is not a regular file (a folder, a FIFO, a device
/// node, a socket), whatever `--force` says: brunel replaces only regular files.
pub fn check_target(path: &Path) -> Result<()> {
    crate::files::check_output(path, crate::files::Replace::Always)
}

/// Refuses an input that is missing or not a regular file (a FIFO would block the reader).
pub fn check_input(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Err(_) => bail!("{} does not exist", path.display()),
        Ok(m) if !m.is_file() => bail!(
            "{} is not a regular file ({})",
            path.display(),
            kind(m.file_type())
        ),
        Ok(_) => Ok(()),
    }
}

/// Removes the temporaries an ended brunel left beside `target`: see [`crate::files`].
pub use crate::files::remove_stale_temps;

/// The folder of `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn string(s: &str) -> Result<VarLenUnicode> {
    s.parse::<VarLenUnicode>()
        .map_err(|e| anyhow::anyhow!("cannot store the string {s:?} in HDF5: {e}"))
}

pub(crate) fn attr_str(loc: &hdf5::Location, name: &str, value: &str) -> Result<()> {
    loc.new_attr::<VarLenUnicode>()
        .create(name)?
        .write_scalar(&string(value)?)?;
    Ok(())
}

pub(crate) fn attr<T: H5Type>(loc: &hdf5::Location, name: &str, value: T) -> Result<()> {
    loc.new_attr::<T>().create(name)?.write_scalar(&value)?;
    Ok(())
}

/// Elements per chunk of the spike and rate datasets (512 KiB of f64): HDF5's chunk index
/// stays small, and a reader of a few spikes reads little.
pub const CHUNK: usize = 1 << 16;

/// How the datasets are compressed: only with the filters that every HDF5 library has built
/// in, for libsonata's Python wheel carries an HDF5 without zlib and cannot read deflate
/// (`required filter 'deflate' is not registered`). The node ids go through HDF5's
/// scale-offset filter for integers with the fewest bits that hold them (lossless: neurons
/// below 2^24 take 3 bytes instead of 8); the times and the rate, f64, have no lossless
/// built-in filter and are stored as they are, chunked.
pub const NODE_ID_FILTER: hdf5::filters::Filter =
    hdf5::filters::Filter::ScaleOffset(hdf5::filters::ScaleOffset::Integer(0));

/// Spikes buffered before they are appended to the file.
const FLUSH_AT: usize = 1 << 20;

/// A result file written while the run goes: the spikes (SONATA's layout) and the population
/// rate are appended in chunks to chunked datasets, the node ids compressed ([`NODE_ID_FILTER`],
/// which every HDF5 reader has: h5py, libsonata), so that a run of many neurons never holds all its spikes
/// in memory; the attributes follow in [`SpikeFile::finish`], which also renames the
/// temporary file into place. Dropped before that (an error, Ctrl-C), it removes the
/// temporary file and leaves an earlier result as it was.
///
/// It is also a [`Recorder`](brunel_core::Recorder): given to a run, it keeps the spikes of
/// `select` and the count of every step (written as the rate in Hz).
pub struct SpikeFile {
    target: PathBuf,
    tmp: crate::files::Temp,
    file: hdf5::File,
    timestamps: hdf5::Dataset,
    node_ids: hdf5::Dataset,
    rate: hdf5::Dataset,
    select: brunel_core::RecordSpikes,
    /// Time step (ms) and Hz per spike of one step.
    dt: f64,
    scale: f64,
    buf_t: Vec<f64>,
    buf_id: Vec<u64>,
    buf_rate: Vec<f64>,
    /// Spikes and rate values in the file so far.
    spikes_written: usize,
    rate_written: usize,
    /// The first error of a write done inside [`Recorder::end_batch`]; [`SpikeFile::check`]
    /// reports it.
    failed: Option<anyhow::Error>,
}

impl SpikeFile {
    /// Starts the result file of `target` (checked as [`write_atomically`] checks it) for a
    /// network of `n` neurons and a step of `dt` ms, keeping the spikes of `select`.
    pub fn create(
        target: &Path,
        n: u32,
        dt: f64,
        select: brunel_core::RecordSpikes,
    ) -> Result<SpikeFile> {
        check_target(target)?;
        let tmp = crate::files::Temp::beside(target)?;
        let start = || -> Result<_> {
            let file = hdf5::File::create(tmp.path())?;
            let pop = file.create_group("spikes")?.create_group(POPULATION)?;
            let timestamps = extensible::<f64>(&pop, "timestamps", false)?;
            let node_ids = extensible::<u64>(&pop, "node_ids", true)?;
            let rate = extensible::<f64>(&file.create_group("population_rate")?, "rate", false)?;
            Ok((file, timestamps, node_ids, rate))
        };
        let (file, timestamps, node_ids, rate) = start()
            .with_context(|| format!("cannot write HDF5 file {}", target.display()))
            .map_err(|e| crate::files::explain(target, e))?;
        Ok(SpikeFile {
            target: target.to_owned(),
            tmp,
            file,
            timestamps,
            node_ids,
            rate,
            select,
            dt,
            scale: 1000.0 / (n as f64 * dt),
            buf_t: Vec::new(),
            buf_id: Vec::new(),
            buf_rate: Vec::new(),
            spikes_written: 0,
            rate_written: 0,
            failed: None,
        })
    }

    /// Appends spikes: times (ms) and neurons, in (time, id) order.
    pub fn append_spikes(&mut self, timestamps: &[f64], node_ids: &[u64]) -> Result<()> {
        if timestamps.len() != node_ids.len() {
            bail!(
                "{} spike times but {} node ids",
                timestamps.len(),
                node_ids.len()
            );
        }
        let at = self.spikes_written;
        append(&self.timestamps, at, timestamps)?;
        append(&self.node_ids, at, node_ids)?;
        self.spikes_written += timestamps.len();
        Ok(())
    }

    /// Appends population-rate values (Hz), one per step.
    pub fn append_rate(&mut self, rate: &[f64]) -> Result<()> {
        append(&self.rate, self.rate_written, rate)?;
        self.rate_written += rate.len();
        Ok(())
    }

    /// Writes out what the recorder side holds.
    fn flush(&mut self) -> Result<()> {
        let (t, id, rate) = (
            std::mem::take(&mut self.buf_t),
            std::mem::take(&mut self.buf_id),
            std::mem::take(&mut self.buf_rate),
        );
        self.append_spikes(&t, &id)?;
        self.append_rate(&rate)?;
        // The buffers are kept (emptied) for the next batch.
        (self.buf_t, self.buf_id, self.buf_rate) = (t, id, rate);
        self.buf_t.clear();
        self.buf_id.clear();
        self.buf_rate.clear();
        Ok(())
    }

    /// The error of a write during the run, if one failed.
    pub fn check(&mut self) -> Result<()> {
        match self.failed.take() {
            Some(e) => Err(crate::files::explain(
                &self.target,
                e.context(format!("cannot write HDF5 file {}", self.target.display())),
            )),
            None => Ok(()),
        }
    }

    /// Writes what is buffered, the attributes and the rate's `dt` and `start`, closes the
    /// file and renames it into place (replacing an existing file only when `force`).
    pub fn finish(
        mut self,
        provenance: &Provenance,
        summary: &Summary,
        dt: f64,
        start: f64,
        force: bool,
    ) -> Result<()> {
        self.check()?;
        let target = self.target.clone();
        let close = |mut this: SpikeFile| -> Result<(crate::files::Temp, usize, usize)> {
            this.flush()?;
            crate::interrupt::test_point("writing");
            crate::interrupt::check()?;
            write_attributes(&this.file, provenance, summary)?;
            attr(&this.file, "magic", SONATA_MAGIC)?;
            let pop = this.file.group(&format!("spikes/{POPULATION}"))?;
            attr(&pop, "sorting", Sorting::ByTime)?;
            attr_str(&this.timestamps, "units", "ms")?;
            attr_str(&this.rate, "units", "Hz")?;
            attr(&this.rate, "dt", dt)?;
            attr(&this.rate, "start", start)?;
            let SpikeFile {
                tmp,
                file,
                timestamps,
                node_ids,
                rate,
                spikes_written,
                rate_written,
                ..
            } = this;
            drop((timestamps, node_ids, rate, pop));
            crate::files::close_hdf5(file)?;
            Ok((tmp, spikes_written, rate_written))
        };
        let (tmp, spikes, steps) = close(self)
            .with_context(|| format!("cannot write HDF5 file {}", target.display()))
            .map_err(|e| crate::files::explain(&target, e))?;
        crate::interrupt::check()?;
        // Read back: a file the library failed to write in full is never renamed into place.
        crate::files::check_hdf5(&target, tmp.path(), |f| {
            let sizes = (
                f.dataset(&format!("spikes/{POPULATION}/node_ids"))?.size(),
                f.dataset("population_rate/rate")?.size(),
            );
            read_attr_str(f, "brunel_version")?;
            if sizes != (spikes, steps) {
                bail!("it holds {sizes:?} spikes and steps, not {spikes} and {steps}");
            }
            Ok(())
        })?;
        tmp.commit(crate::files::Replace::IfForced(force))
    }
}

impl brunel_core::Recorder for SpikeFile {
    fn record(&mut self, step: u64, spikes: &[u32]) {
        self.buf_rate.push(spikes.len() as f64 * self.scale);
        let kept = match self.select {
            brunel_core::RecordSpikes::None => &[][..],
            brunel_core::RecordSpikes::All => spikes,
            // Spikes are ascending: the kept ones are a prefix.
            brunel_core::RecordSpikes::First(limit) => {
                &spikes[..spikes.partition_point(|&s| s < limit)]
            }
        };
        let t = step as f64 * self.dt;
        self.buf_t.extend(std::iter::repeat_n(t, kept.len()));
        self.buf_id.extend(kept.iter().map(|&i| i as u64));
    }

    fn end_batch(&mut self, _next_step: u64) -> brunel_core::Result<()> {
        if self.failed.is_none() && (self.buf_t.len() >= FLUSH_AT || self.buf_rate.len() >= CHUNK) {
            if let Err(e) = self.flush() {
                self.failed = Some(e);
            }
        }
        Ok(())
    }
}

/// A one-dimensional dataset of `T` that grows, in chunks of [`CHUNK`] elements, through
/// [`NODE_ID_FILTER`] when `ids`.
fn extensible<T: H5Type>(group: &hdf5::Group, name: &str, ids: bool) -> Result<hdf5::Dataset> {
    let filters: &[hdf5::filters::Filter] = if ids { &[NODE_ID_FILTER] } else { &[] };
    Ok(group
        .new_dataset::<T>()
        .chunk(CHUNK)
        .set_filters(filters)
        .shape(0..)
        .create(name)?)
}

/// Writes `values` at `at..` of a dataset made by [`extensible`], growing it.
fn append<T: H5Type>(ds: &hdf5::Dataset, at: usize, values: &[T]) -> Result<()> {
    if values.is_empty() {
        return Ok(());
    }
    ds.resize(at + values.len())?;
    ds.write_slice(values, at..at + values.len())?;
    Ok(())
}

/// The root attributes: SONATA's version, the provenance and the summary.
fn write_attributes(file: &hdf5::File, p: &Provenance, s: &Summary) -> Result<()> {
    file.new_attr::<u32>()
        .shape(2)
        .create("version")?
        .write(&SONATA_VERSION)?;
    attr_str(file, "brunel_version", &p.brunel_version)?;
    attr_str(file, "backend", &p.backend)?;
    attr_str(file, "device", &p.device)?;
    attr(file, "threads", p.threads)?;
    if let Some(w) = p.work_items {
        attr(file, "work_items", w)?;
    }
    if let Some(r) = p.ranks {
        attr(file, "ranks", r)?;
    }
    attr_str(file, "device_kind", &p.device_kind)?;
    attr(file, "seed", p.seed)?;
    attr_str(file, "config", &p.config)?;
    attr(file, "n_synapses", p.n_synapses)?;
    attr(file, "build_seconds", p.build_seconds)?;
    attr(file, "run_seconds", p.run_seconds)?;
    attr_str(file, "created", &p.created)?;

    attr(file, "n_neurons", s.n_neurons)?;
    attr(file, "n_excitatory", s.n_excitatory)?;
    attr(file, "steps", s.steps)?;
    attr(file, "dt", s.dt)?;
    attr(file, "duration", s.duration)?;
    attr(file, "spikes", s.spikes)?;
    attr(file, "synaptic_events", s.synaptic_events)?;
    attr(file, "mean_rate_exc", s.mean_rate_exc)?;
    attr(file, "mean_rate_inh", s.mean_rate_inh)?;
    attr(file, "mean_cv", s.mean_cv)?;
    if let Some(t) = &s.theory {
        attr(file, "theory_rate_hz", t.rate_hz)?;
        attr(file, "theory_stable", u8::from(t.stable))?;
        attr(
            file,
            "theory_oscillation_hz",
            t.oscillation_hz.unwrap_or(0.0),
        )?;
    }
    Ok(())
}

/// Whether the file starts with HDF5's signature (at 0, 512, 1024, 2048... bytes, where a
/// user block may push it).
pub(crate) fn has_hdf5_signature(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let mut offset = 0u64;
    while offset + 8 <= len {
        let mut buf = [0u8; 8];
        if f.seek(SeekFrom::Start(offset)).is_err() || f.read_exact(&mut buf).is_err() {
            return false;
        }
        if &buf == SIGNATURE {
            return true;
        }
        offset = if offset == 0 { 512 } else { offset * 2 };
    }
    false
}

pub(crate) fn read_attr<T: H5Type>(loc: &hdf5::Location, name: &str) -> Result<T> {
    loc.attr(name)
        .with_context(|| format!("attribute `{name}` is missing"))?
        .read_scalar()
        .with_context(|| format!("attribute `{name}` has the wrong type"))
}

/// A string attribute, checked to be UTF-8: the hdf5 crate's `as_str` does not check, and a
/// damaged file's invalid UTF-8 then made the TOML parser panic (found by the fuzz test).
pub(crate) fn read_attr_str(loc: &hdf5::Location, name: &str) -> Result<String> {
    let v = read_attr::<VarLenUnicode>(loc, name)?;
    match std::str::from_utf8(v.as_bytes()) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => bail!("attribute `{name}` is not UTF-8 text"),
    }
}

/// The values of a one-dimensional dataset of `T`, refused when it declares more than the file
/// could hold (a damaged size made the reader ask for an impossible allocation and panic).
fn read_values<T: H5Type>(ds: &hdf5::Dataset, name: &str, file_len: u64) -> Result<Vec<T>> {
    let bytes = (ds.size() as u64).saturating_mul(std::mem::size_of::<T>() as u64);
    if bytes > file_len.saturating_mul(64).saturating_add(64 << 20) {
        bail!(
            "dataset {name} declares {} values, more than the file of {file_len} bytes holds",
            ds.size()
        );
    }
    ds.read_raw::<T>()
        .with_context(|| format!("dataset {name} cannot be read"))
}

/// The hidden subcommand that [`read_guarded`] runs: `brunel __check-result FILE`.
pub const CHECK_SUBCOMMAND: &str = "__check-result";

/// How long the guard's child may read before the file counts as one that hangs the reader
/// (the fuzz test found files on which the HDF5 library spins in its global-heap reader):
/// `BRUNEL_READ_TIMEOUT` seconds, default 60 (also when set empty); a value that is not a
/// number of seconds > 0 is refused, not replaced by the default without a word.
fn check_timeout() -> Result<std::time::Duration> {
    let secs = match std::env::var_os("BRUNEL_READ_TIMEOUT") {
        None => 60.0,
        Some(v) if v.is_empty() => 60.0,
        Some(v) => v
            .to_str()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "BRUNEL_READ_TIMEOUT={:?} is not a number of seconds > 0 (the time info and plot give a file to be read; default 60)",
                    v.to_string_lossy().chars().take(60).collect::<String>()
                )
            })?,
    };
    Ok(std::time::Duration::from_secs_f64(secs.min(1e6)))
}

/// Reads a result file that may come from anywhere, in two steps: a child process (this
/// program's hidden `__check-result` subcommand) reads it first, so that a damaged file that
/// crashes the HDF5 C library (the fuzz test found files that make its global-heap reader
/// segfault) or makes it hang gives an error here instead of taking this process down; then
/// the file is read here.
pub fn read_guarded(path: &Path) -> Result<Results> {
    check_input(path)?;
    if !has_hdf5_signature(path) {
        bail!("{} is not an HDF5 file", path.display());
    }
    let limit = check_timeout()?;
    let exe =
        std::env::current_exe().context("cannot find the brunel program to check the file")?;
    let mut child = std::process::Command::new(exe)
        .arg(CHECK_SUBCOMMAND)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("cannot start a process to check the file")?;
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{} is damaged: the HDF5 library did not finish reading it in {} s (BRUNEL_READ_TIMEOUT sets the limit)",
                path.display(),
                limit.as_secs_f64()
            );
        }
        if crate::interrupt::received().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            crate::interrupt::check()?;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    // A Ctrl-C reaches the child too: that is an interruption, not a damaged file.
    crate::interrupt::check()?;
    if status.code() == Some(101) {
        bail!(
            "{} is damaged: reading it failed inside the HDF5 bindings (a panic in the checking process)",
            path.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig @ (libc::SIGINT | libc::SIGTERM | libc::SIGKILL)) = status.signal() {
            bail!(
                "the process checking {} was stopped by signal {sig}",
                path.display()
            );
        }
    }
    if status.code().is_none() {
        bail!(
            "{} is damaged: the HDF5 library crashed reading it ({status})",
            path.display()
        );
    }
    // Exit 0 or 1: reading it here gives the same result (or the same error), without a crash.
    read(path)
}

/// Reads a result file written by [`write_atomically`]. A file of unknown origin should go
/// through [`read_guarded`]: the HDF5 library can crash on a damaged one.
pub fn read(path: &Path) -> Result<Results> {
    check_input(path)?;
    if !has_hdf5_signature(path) {
        bail!("{} is not an HDF5 file", path.display());
    }
    let file_len = std::fs::metadata(path).map_or(0, |m| m.len());
    let not_ours = || format!("{} is not a brunel result file", path.display());
    let file = hdf5::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // brunel's other HDF5 files are named for what they are, not called damaged.
    if read_attr_str(&file, "kind").is_ok_and(|k| k == "sweep") {
        bail!(
            "{} is the result of a sweep (`brunel sweep`), not of a run: `brunel plot {} -o PHASE.png` draws its phase diagram, and its CSV beside it holds every point",
            path.display(),
            path.display()
        );
    }
    if read_attr_str(&file, "format").is_ok_and(|f| f == "brunel-checkpoint") {
        bail!(
            "{} is a checkpoint (`brunel run --checkpoint`), not a result file: `brunel resume {}` continues its run and writes the result",
            path.display(),
            path.display()
        );
    }
    let version = read_attr_str(&file, "brunel_version").with_context(not_ours)?;
    let inner = || -> Result<Results> {
        let provenance = Provenance {
            brunel_version: version.clone(),
            backend: read_attr_str(&file, "backend")?,
            device: read_attr_str(&file, "device")?,
            threads: read_attr(&file, "threads")?,
            // Absent from files of brunel 0.1 before these attributes existed.
            work_items: file
                .attr("work_items")
                .ok()
                .and_then(|a| a.read_scalar().ok()),
            ranks: file.attr("ranks").ok().and_then(|a| a.read_scalar().ok()),
            device_kind: read_attr_str(&file, "device_kind").unwrap_or_default(),
            seed: read_attr(&file, "seed")?,
            config: read_attr_str(&file, "config")?,
            n_synapses: read_attr(&file, "n_synapses")?,
            build_seconds: read_attr(&file, "build_seconds")?,
            run_seconds: read_attr(&file, "run_seconds")?,
            created: read_attr_str(&file, "created")?,
        };
        let summary = Summary {
            n_neurons: read_attr(&file, "n_neurons")?,
            n_excitatory: read_attr(&file, "n_excitatory")?,
            steps: read_attr(&file, "steps")?,
            dt: read_attr(&file, "dt")?,
            duration: read_attr(&file, "duration")?,
            spikes: read_attr(&file, "spikes")?,
            synaptic_events: read_attr(&file, "synaptic_events")?,
            mean_rate_exc: read_attr(&file, "mean_rate_exc")?,
            mean_rate_inh: read_attr(&file, "mean_rate_inh")?,
            mean_cv: read_attr(&file, "mean_cv")?,
            // Files written before the theory line have none.
            theory: read_attr::<f64>(&file, "theory_rate_hz")
                .ok()
                .map(|rate_hz| crate::theory::SummaryLine {
                    rate_hz,
                    stable: read_attr::<u8>(&file, "theory_stable").is_ok_and(|s| s == 1),
                    oscillation_hz: read_attr::<f64>(&file, "theory_oscillation_hz")
                        .ok()
                        .filter(|&f| f > 0.0),
                }),
        };
        let pop = file
            .group(&format!("spikes/{POPULATION}"))
            .with_context(|| format!("group /spikes/{POPULATION} is missing"))?;
        let timestamps = read_values::<f64>(
            &pop.dataset("timestamps")
                .context("dataset timestamps is missing")?,
            "timestamps",
            file_len,
        )?;
        let node_ids = read_values::<u64>(
            &pop.dataset("node_ids")
                .context("dataset node_ids is missing")?,
            "node_ids",
            file_len,
        )?;
        let rate_ds = file
            .dataset("population_rate/rate")
            .context("dataset /population_rate/rate is missing")?;
        let rate = read_values::<f64>(&rate_ds, "/population_rate/rate", file_len)?;
        let dt = read_attr(&rate_ds, "dt")?;
        let start = read_attr(&rate_ds, "start")?;
        if timestamps.len() != node_ids.len() {
            bail!(
                "{} spike times but {} node ids",
                timestamps.len(),
                node_ids.len()
            );
        }
        check_values(&rate, dt, start, &timestamps)?;
        Ok(Results {
            provenance,
            summary,
            timestamps,
            node_ids,
            rate,
            dt,
            start,
        })
    };
    inner().with_context(|| format!("{} is damaged", path.display()))
}

/// The numbers that drawing and summing need, checked: a file from elsewhere (or damaged)
/// must give an error here, never a hang or a panic later.
fn check_values(rate: &[f64], dt: f64, start: f64, timestamps: &[f64]) -> Result<()> {
    if !(dt.is_finite() && dt > 0.0) {
        bail!("attribute `dt` of the population rate is {dt}, not a time step > 0");
    }
    if !start.is_finite() {
        bail!("attribute `start` of the population rate is {start}, not a finite time");
    }
    let end = start + rate.len() as f64 * dt;
    if !end.is_finite() {
        bail!("the population rate ends at {end} ms, not a finite time");
    }
    if let Some((k, r)) = rate
        .iter()
        .enumerate()
        .find(|(_, r)| !(r.is_finite() && **r >= 0.0))
    {
        bail!("the population rate at step {k} is {r}, not a finite rate >= 0");
    }
    if let Some((i, t)) = timestamps.iter().enumerate().find(|(_, t)| !t.is_finite()) {
        bail!("spike {i}'s time is {t}, not a finite time");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Results {
        Results {
            provenance: Provenance {
                brunel_version: "0.1.0".into(),
                backend: "reference".into(),
                device: "host ν".into(),
                threads: 1,
                work_items: Some(64),
                ranks: None,
                device_kind: "host".into(),
                seed: 7,
                config: "[synapse]\ng = 5.0\n".into(),
                n_synapses: 42,
                build_seconds: 0.5,
                run_seconds: 1.5,
                created: "2026-01-01T00:00:00Z".into(),
            },
            summary: Summary {
                n_neurons: 3,
                n_excitatory: 2,
                steps: 4,
                dt: 0.1,
                duration: 0.4,
                spikes: 3,
                synaptic_events: 9,
                mean_rate_exc: 1.0,
                mean_rate_inh: 2.0,
                mean_cv: f64::NAN,
                theory: Some(crate::theory::SummaryLine {
                    rate_hz: 37.9,
                    stable: false,
                    oscillation_hz: Some(190.0),
                }),
            },
            timestamps: vec![0.1, 0.1, 0.30000000000000004],
            node_ids: vec![0, 2, 1],
            rate: vec![0.0, 2.0 / 3.0 * 1e4, 0.0, 1.0 / 3.0 * 1e4],
            dt: 0.1,
            start: 0.0,
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.h5");
        let r = sample();
        write_atomically(&path, &r, false).unwrap();
        let back = read(&path).unwrap();
        assert!(back.summary.mean_cv.is_nan());
        let mut expected = r.clone();
        expected.summary.mean_cv = 0.0;
        let mut got = back.clone();
        got.summary.mean_cv = 0.0;
        assert_eq!(got, expected);
        // Only the result is left in the folder.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // A second write without force is refused, and the file stays.
        assert!(write_atomically(&path, &r, false).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_atomically(&path, &r, true).unwrap();
    }

    #[test]
    fn empty_spikes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.h5");
        let mut r = sample();
        r.timestamps.clear();
        r.node_ids.clear();
        write_atomically(&path, &r, false).unwrap();
        assert!(read(&path).unwrap().timestamps.is_empty());
    }

    /// The streaming writer, fed step by step as a run feeds it (several flushes), and
    /// [`write_atomically`] from memory give the same file; its datasets are chunked, the ids
    /// compressed.
    #[test]
    fn streamed_and_written_from_memory_agree() {
        use brunel_core::Recorder;
        let dir = tempfile::tempdir().unwrap();
        let n = 2000u32;
        let dt = 0.1;
        let steps = 3 * CHUNK as u64 + 17;
        let mut r = sample();
        r.summary.n_neurons = n as u64;
        r.timestamps.clear();
        r.node_ids.clear();
        r.rate.clear();
        let mut streamed = SpikeFile::create(
            &dir.path().join("s.h5"),
            n,
            dt,
            brunel_core::RecordSpikes::First(1500),
        )
        .unwrap();
        let scale = 1000.0 / (n as f64 * dt);
        for k in 0..steps {
            // A deterministic scatter of spikes, some above the recorded neurons.
            let ids: Vec<u32> = (0..(k % 7) as u32)
                .map(|j| (j * 311 + k as u32 * 7) % n)
                .collect();
            let mut ids = ids;
            ids.sort_unstable();
            ids.dedup();
            streamed.record(k, &ids);
            for &i in ids.iter().filter(|&&i| i < 1500) {
                r.timestamps.push(k as f64 * dt);
                r.node_ids.push(i as u64);
            }
            r.rate.push(ids.len() as f64 * scale);
            if k % 15 == 14 {
                streamed.end_batch(k + 1).unwrap();
            }
        }
        streamed
            .finish(&r.provenance, &r.summary, r.dt, r.start, false)
            .unwrap();
        write_atomically(&dir.path().join("m.h5"), &r, false).unwrap();
        let a = read(&dir.path().join("s.h5")).unwrap();
        let b = read(&dir.path().join("m.h5")).unwrap();
        assert!(a.timestamps.len() > CHUNK, "{}", a.timestamps.len());
        let nan_free = |mut x: Results| {
            x.summary.mean_cv = 0.0;
            x
        };
        assert_eq!(nan_free(a.clone()), nan_free(b));
        assert_eq!(nan_free(a), nan_free(r));
        let file = hdf5::File::open(dir.path().join("s.h5")).unwrap();
        for name in [
            "spikes/brunel/timestamps",
            "spikes/brunel/node_ids",
            "population_rate/rate",
        ] {
            let ds = file.dataset(name).unwrap();
            assert_eq!(ds.chunk(), Some(vec![CHUNK]), "{name}");
            let expected = if name.ends_with("node_ids") {
                vec![NODE_ID_FILTER]
            } else {
                vec![]
            };
            assert_eq!(ds.filters(), expected, "{name}");
        }
        // Ids below 2^11 take 11 bits, not 64.
        let ids = file.dataset("spikes/brunel/node_ids").unwrap();
        assert!(
            ids.storage_size() * 4 < ids.size() as u64 * 8,
            "{} bytes for {} ids",
            ids.storage_size(),
            ids.size()
        );
    }

    /// A streaming file dropped before `finish` (an error, Ctrl-C) leaves nothing behind.
    #[test]
    fn an_unfinished_stream_leaves_no_file() {
        use brunel_core::Recorder;
        let dir = tempfile::tempdir().unwrap();
        let mut f = SpikeFile::create(
            &dir.path().join("x.h5"),
            10,
            0.1,
            brunel_core::RecordSpikes::All,
        )
        .unwrap();
        f.record(0, &[1, 2]);
        f.end_batch(1).unwrap();
        // The temporary file and its lock file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        drop(f);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn not_hdf5() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.h5");
        std::fs::write(&path, "hello").unwrap();
        let e = format!("{:#}", read(&path).unwrap_err());
        assert!(e.contains("is not an HDF5 file"), "{e}");
    }
}
