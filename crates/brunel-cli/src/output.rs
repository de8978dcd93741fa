//! Result files: HDF5 with SONATA's spike report layout, the population rate, and provenance.
//!
//! ```text
//! /                          attributes: magic (u32 0x0A7A), version (u32 [0, 1]),
//!                            brunel_version, backend, device, device_kind, threads, work_items
//!                            (OpenCL), seed, config (resolved
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
    #[hdf5(rename = "none")]
    None = 0,
    #[hdf5(rename = "by_id")]
    ById = 1,
    #[hdf5(rename = "by_time")]
    ByTime = 2,
}

/// Everything a result file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    pub provenance: Provenance,
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
    pub brunel_version: String,
    pub backend: String,
    pub device: String,
    /// Host threads that advanced the neurons.
    pub threads: u64,
    /// Work-items per launch on a device (OpenCL), if any.
    pub work_items: Option<u64>,
    /// `host`, `gpu`, `opencl-cpu` or `other`.
    pub device_kind: String,
    pub seed: u64,
    /// The fully resolved config, as TOML.
    pub config: String,
    pub n_synapses: u64,
    pub build_seconds: f64,
    pub run_seconds: f64,
    /// RFC 3339, UTC.
    pub created: String,
}

/// What the run measured (also printed at its end).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub n_neurons: u64,
    pub n_excitatory: u64,
    pub steps: u64,
    pub dt: f64,
    pub duration: f64,
    pub spikes: u64,
    pub synaptic_events: u64,
    /// Mean rates (Hz) and mean CV of ISIs over the last 80 % of the run.
    pub mean_rate_exc: f64,
    pub mean_rate_inh: f64,
    pub mean_cv: f64,
    /// The mean-field theory's lowest stationary state (`brunel theory`).
    pub theory: Option<crate::theory::SummaryLine>,
}

/// Writes `results` to `target` through a temporary file in the same folder, renamed into place
/// on success (replacing an existing file only when `force`). Nothing is left behind on failure.
pub fn write_atomically(target: &Path, results: &Results, force: bool) -> Result<()> {
    let tmp = temp_beside(target)?;
    write(tmp.path(), results)
        .with_context(|| format!("cannot write HDF5 file {}", tmp.path().display()))?;
    if force {
        tmp.persist(target)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot move the result into {}", target.display()))?;
    } else {
        tmp.persist_noclobber(target)
            .map_err(|e| e.error)
            .with_context(|| {
                format!(
                    "cannot move the result into {} (use --force to replace an existing file)",
                    target.display()
                )
            })?;
    }
    Ok(())
}

/// A temporary file beside `target` (same folder, so the final rename is atomic); it is removed
/// when dropped without being persisted.
pub fn temp_beside(target: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = parent_dir(target);
    if !dir.is_dir() {
        bail!(
            "cannot write {}: the folder {} does not exist",
            target.display(),
            dir.display()
        );
    }
    let stem = target
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Ends like the target (`.tmp.png`), for writers that pick the format from the extension.
    let suffix = match target.extension() {
        Some(ext) => format!(".tmp.{}", ext.to_string_lossy()),
        None => ".tmp".to_owned(),
    };
    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{stem}.");
    builder.prefix(&prefix).suffix(&suffix);
    // tempfile's private 0600 would stick to the result after the rename; use the usual
    // 0666 less the umask instead.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
        .tempfile_in(&dir)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", target.display(), e.kind()))
}

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

fn write(path: &Path, r: &Results) -> Result<()> {
    if r.timestamps.len() != r.node_ids.len() {
        bail!(
            "{} spike times but {} node ids",
            r.timestamps.len(),
            r.node_ids.len()
        );
    }
    let file = hdf5::File::create(path)?;
    attr(&file, "magic", SONATA_MAGIC)?;
    file.new_attr::<u32>()
        .shape(2)
        .create("version")?
        .write(&SONATA_VERSION)?;

    let p = &r.provenance;
    attr_str(&file, "brunel_version", &p.brunel_version)?;
    attr_str(&file, "backend", &p.backend)?;
    attr_str(&file, "device", &p.device)?;
    attr(&file, "threads", p.threads)?;
    if let Some(w) = p.work_items {
        attr(&file, "work_items", w)?;
    }
    attr_str(&file, "device_kind", &p.device_kind)?;
    attr(&file, "seed", p.seed)?;
    attr_str(&file, "config", &p.config)?;
    attr(&file, "n_synapses", p.n_synapses)?;
    attr(&file, "build_seconds", p.build_seconds)?;
    attr(&file, "run_seconds", p.run_seconds)?;
    attr_str(&file, "created", &p.created)?;

    let s = &r.summary;
    attr(&file, "n_neurons", s.n_neurons)?;
    attr(&file, "n_excitatory", s.n_excitatory)?;
    attr(&file, "steps", s.steps)?;
    attr(&file, "dt", s.dt)?;
    attr(&file, "duration", s.duration)?;
    attr(&file, "spikes", s.spikes)?;
    attr(&file, "synaptic_events", s.synaptic_events)?;
    attr(&file, "mean_rate_exc", s.mean_rate_exc)?;
    attr(&file, "mean_rate_inh", s.mean_rate_inh)?;
    attr(&file, "mean_cv", s.mean_cv)?;
    if let Some(t) = &s.theory {
        attr(&file, "theory_rate_hz", t.rate_hz)?;
        attr(&file, "theory_stable", u8::from(t.stable))?;
        attr(
            &file,
            "theory_oscillation_hz",
            t.oscillation_hz.unwrap_or(0.0),
        )?;
    }

    let pop = file.create_group("spikes")?.create_group(POPULATION)?;
    attr(&pop, "sorting", Sorting::ByTime)?;
    let ts = pop
        .new_dataset_builder()
        .with_data(r.timestamps.as_slice())
        .create("timestamps")?;
    attr_str(&ts, "units", "ms")?;
    pop.new_dataset_builder()
        .with_data(r.node_ids.as_slice())
        .create("node_ids")?;

    let rate = file
        .create_group("population_rate")?
        .new_dataset_builder()
        .with_data(r.rate.as_slice())
        .create("rate")?;
    attr_str(&rate, "units", "Hz")?;
    attr(&rate, "dt", r.dt)?;
    attr(&rate, "start", r.start)?;
    file.close()?;
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

pub(crate) fn read_attr_str(loc: &hdf5::Location, name: &str) -> Result<String> {
    Ok(read_attr::<VarLenUnicode>(loc, name)?.as_str().to_owned())
}

/// Reads a result file written by [`write_atomically`].
pub fn read(path: &Path) -> Result<Results> {
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    if !has_hdf5_signature(path) {
        bail!("{} is not an HDF5 file", path.display());
    }
    let not_ours = || format!("{} is not a brunel result file", path.display());
    let file = hdf5::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
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
        let timestamps = pop
            .dataset("timestamps")
            .context("dataset timestamps is missing")?
            .read_raw::<f64>()?;
        let node_ids = pop
            .dataset("node_ids")
            .context("dataset node_ids is missing")?
            .read_raw::<u64>()?;
        let rate_ds = file
            .dataset("population_rate/rate")
            .context("dataset /population_rate/rate is missing")?;
        let rate = rate_ds.read_raw::<f64>()?;
        let dt = read_attr(&rate_ds, "dt")?;
        let start = read_attr(&rate_ds, "start")?;
        if timestamps.len() != node_ids.len() {
            bail!(
                "{} spike times but {} node ids",
                timestamps.len(),
                node_ids.len()
            );
        }
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

    #[test]
    fn not_hdf5() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.h5");
        std::fs::write(&path, "hello").unwrap();
        let e = format!("{:#}", read(&path).unwrap_err());
        assert!(e.contains("is not an HDF5 file"), "{e}");
    }
}
