//! `brunel._brunel`: the Rust half of the Python package `brunel` (the Python half, in
//! `python/brunel`, is the API people use). Every function here runs the CLI's own code
//! (`brunel-cli` as a library): configs are parsed and validated by brunel-core with the CLI's
//! messages, runs go through [`brunel_cli::embed::run`], files through the CLI's writer and
//! reader, sweeps through `brunel sweep` itself, the theory through `brunel theory`'s grid.
//!
//! The GIL is released while Rust works. A run calls back into Python after every chunk of
//! steps (600 steps, 60 ms of simulated time): `Python::check_signals` there turns a Ctrl-C
//! into KeyboardInterrupt within a chunk's wall time, and the progress callback is called.

use std::path::PathBuf;
use std::time::Duration;

use brunel_cli::embed::{self, AxisValues, Cancelled, Finished};
use brunel_cli::output::{self, Results};
use brunel_core::Config;
use numpy::ndarray::ArrayView1;
use numpy::PyArray1;
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// An error of the CLI's code as the Python exception that fits it, with the message the CLI
/// prints (`brunel_cli::message`): a bad config → ValueError; a file that cannot be read or
/// written → OSError; anything else → RuntimeError.
fn py_err(e: anyhow::Error) -> PyErr {
    let text = brunel_cli::message(&e);
    if e.chain().any(|c| {
        matches!(
            c.downcast_ref::<brunel_core::Error>(),
            Some(brunel_core::Error::Config { .. } | brunel_core::Error::Parse { .. })
        ) || c.is::<brunel_cli::grid::GridError>()
    }) {
        return PyValueError::new_err(text);
    }
    if e.chain().any(|c| c.is::<std::io::Error>())
        || e.chain()
            .any(|c| matches!(c.downcast_ref(), Some(brunel_core::Error::Read { .. })))
    {
        return PyOSError::new_err(text);
    }
    PyRuntimeError::new_err(text)
}

fn core_err(e: brunel_core::Error) -> PyErr {
    py_err(e.into())
}

/// Refuses, as an OSError, an input that exists and is not a regular file, before anything
/// opens it: opening a FIFO would block until a writer comes. A missing file is left to the
/// reader, whose message is the CLI's.
fn regular_input(path: &std::path::Path) -> PyResult<()> {
    if path.exists() {
        output::check_input(path).map_err(|e| PyOSError::new_err(brunel_cli::message(&e)))?;
    }
    Ok(())
}

// --- configs ---------------------------------------------------------------------------------

/// `Config.load(path)`: the file read, validated, resolved (every key): its TOML.
#[pyfunction]
fn config_load(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    regular_input(&path)?;
    py.detach(|| Config::from_file(&path).map(|c| c.to_toml()))
        .map_err(core_err)
}

/// TOML `text` (named `origin` in messages) with `overrides` (`key=value`, the CLI's `--set`)
/// applied and validated: the resolved TOML.
#[pyfunction]
#[pyo3(signature = (text, origin, overrides = Vec::new()))]
fn config_resolve(text: &str, origin: &str, overrides: Vec<String>) -> PyResult<String> {
    Config::from_toml_with(text, origin, &overrides)
        .map(|c| c.to_toml())
        .map_err(core_err)
}

/// The default config's resolved TOML.
#[pyfunction]
fn config_default() -> String {
    Config::default().to_toml()
}

/// A TOML value as Python: tables as dicts, arrays as lists.
fn toml_to_py<'py>(py: Python<'py>, v: &toml::Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        toml::Value::String(s) => s.into_pyobject(py)?.into_any(),
        toml::Value::Integer(i) => i.into_pyobject(py)?.into_any(),
        toml::Value::Float(f) => f.into_pyobject(py)?.into_any(),
        toml::Value::Boolean(b) => b.into_pyobject(py)?.to_owned().into_any(),
        toml::Value::Datetime(d) => d.to_string().into_pyobject(py)?.into_any(),
        toml::Value::Array(a) => {
            let list = PyList::empty(py);
            for x in a {
                list.append(toml_to_py(py, x)?)?;
            }
            list.into_any()
        }
        toml::Value::Table(t) => {
            let dict = PyDict::new(py);
            for (k, x) in t {
                dict.set_item(k, toml_to_py(py, x)?)?;
            }
            dict.into_any()
        }
    })
}

/// The resolved config as nested dicts (`{"synapse": {"g": 5.0, ...}, ...}`); the seed, which
/// TOML keeps as a string above 2⁶³ − 1, as an int.
#[pyfunction]
fn config_table<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let config = Config::from_toml_with(text, "config", &[]).map_err(core_err)?;
    let table = toml::Table::try_from(&config)
        .map_err(|e| PyRuntimeError::new_err(format!("the config cannot be listed: {e}")))?;
    let dict = toml_to_py(py, &toml::Value::Table(table))?;
    dict.get_item("simulation")?
        .set_item("seed", config.simulation.seed)?;
    Ok(dict)
}

/// Every key a config can have, `section.key`, optional ones included.
#[pyfunction]
fn config_keys() -> Vec<String> {
    let mut keys = Vec::new();
    for (section, v) in brunel_core::config::schema() {
        if let toml::Value::Table(t) = v {
            keys.extend(t.keys().map(|k| format!("{section}.{k}")));
        }
    }
    keys
}

// --- runs ------------------------------------------------------------------------------------

/// A finished run or a result file read back: what `brunel run` writes, held in Rust; its
/// arrays are handed to numpy without a copy (read-only views whose base is this object).
#[pyclass(module = "brunel._brunel", frozen)]
struct RunData {
    results: Results,
    /// The sweep's statistics of a run (absent for a file read back).
    stats: Option<brunel_cli::sweep::RunStats>,
    reason: Option<String>,
}

/// A read-only numpy view of `data`, kept alive by `owner` (which holds it and never changes
/// it: [`RunData`] is frozen).
fn view<'py, T: numpy::Element>(
    owner: &Bound<'py, RunData>,
    data: &[T],
) -> PyResult<Bound<'py, PyArray1<T>>> {
    // SAFETY: `data` lives inside `owner`'s Rust value, which is immutable (a frozen pyclass)
    // and is kept alive by the array's base object reference for as long as the array lives.
    let array =
        unsafe { PyArray1::borrow_from_array(&ArrayView1::from(data), owner.clone().into_any()) };
    array.getattr("flags")?.setattr("writeable", false)?;
    Ok(array)
}

#[pymethods]
impl RunData {
    /// Spike times (ms), in (time, id) order.
    #[getter]
    fn times<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        view(slf, &slf.get().results.timestamps)
    }

    /// The neuron of every spike.
    #[getter]
    fn ids<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyArray1<u64>>> {
        view(slf, &slf.get().results.node_ids)
    }

    /// The population rate of every step (Hz).
    #[getter]
    fn rate<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        view(slf, &slf.get().results.rate)
    }

    /// The time step of the run and of `rate` (ms).
    #[getter]
    fn dt(&self) -> f64 {
        self.results.dt
    }

    /// The time of `rate`'s first value (ms).
    #[getter]
    fn start(&self) -> f64 {
        self.results.start
    }

    /// The resolved config (TOML).
    #[getter]
    fn config(&self) -> String {
        self.results.provenance.config.clone()
    }

    /// The summary's statistics, and after a run the sweep's per-run statistics.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = &self.results.summary;
        let d = PyDict::new(py);
        d.set_item("rate_exc_hz", s.mean_rate_exc)?;
        d.set_item("rate_inh_hz", s.mean_rate_inh)?;
        d.set_item("cv_isi", s.mean_cv)?;
        d.set_item("spikes", s.spikes)?;
        d.set_item("synaptic_events", s.synaptic_events)?;
        d.set_item("neurons", s.n_neurons)?;
        d.set_item("excitatory", s.n_excitatory)?;
        d.set_item("steps", s.steps)?;
        d.set_item("dt", s.dt)?;
        d.set_item("duration", s.duration)?;
        d.set_item("theory_rate_hz", s.theory.as_ref().map(|t| t.rate_hz))?;
        d.set_item("theory_stable", s.theory.as_ref().map(|t| t.stable))?;
        d.set_item(
            "theory_oscillation_hz",
            s.theory.as_ref().and_then(|t| t.oscillation_hz),
        )?;
        if let Some(r) = &self.stats {
            d.set_item("pop_cv", r.pop_cv)?;
            d.set_item("synchrony", r.synchrony)?;
            d.set_item("sync_cv", r.sync_cv)?;
            d.set_item("peak_hz", r.peak_hz)?;
            d.set_item("peak_prominence", r.peak_prominence)?;
            d.set_item("regime", r.regime.name())?;
        }
        Ok(d)
    }

    /// Provenance: backend, device, threads, timings, seed, versions.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = &self.results.provenance;
        let d = PyDict::new(py);
        d.set_item("backend", &p.backend)?;
        d.set_item("device", &p.device)?;
        d.set_item("device_kind", &p.device_kind)?;
        d.set_item("threads", p.threads)?;
        d.set_item("work_items", p.work_items)?;
        d.set_item("choice", self.reason.as_deref())?;
        d.set_item("seed", p.seed)?;
        d.set_item("synapses", p.n_synapses)?;
        d.set_item("build_seconds", p.build_seconds)?;
        d.set_item("run_seconds", p.run_seconds)?;
        d.set_item(
            "real_time_factor",
            self.results.summary.duration / 1000.0 / p.run_seconds,
        )?;
        d.set_item("brunel_version", &p.brunel_version)?;
        d.set_item("created", &p.created)?;
        Ok(d)
    }

    /// Writes the result file `brunel run` writes (atomically: a temporary file beside `path`,
    /// renamed when complete); an existing file is replaced only with `force`.
    #[pyo3(signature = (path, force = false))]
    fn save(&self, py: Python<'_>, path: PathBuf, force: bool) -> PyResult<()> {
        // A target that is not a regular file (a folder, a FIFO, a device node) is refused.
        output::check_target(&path).map_err(|e| PyOSError::new_err(brunel_cli::message(&e)))?;
        if path.exists() && !force {
            return Err(pyo3::exceptions::PyFileExistsError::new_err(format!(
                "{} already exists; use force=True to replace it",
                path.display()
            )));
        }
        py.detach(|| output::write_atomically(&path, &self.results, force))
            .map_err(py_err)
    }
}

/// Runs the config `text` as `brunel run` does (`backend` a name or "auto", `threads` 0 = all
/// cores, `device`); `progress(done, steps)` is called after every chunk of steps. Ctrl-C
/// raises KeyboardInterrupt after the chunk in progress; an exception `progress` raises stops
/// the run and is raised.
#[pyfunction]
#[pyo3(signature = (text, backend = "auto", threads = 0, device = None, progress = None))]
fn run(
    py: Python<'_>,
    text: &str,
    backend: &str,
    threads: usize,
    device: Option<usize>,
    progress: Option<Py<PyAny>>,
) -> PyResult<RunData> {
    let config = Config::from_toml_with(text, "config", &[]).map_err(core_err)?;
    // What `brunel run` refuses before it builds anything is a bad argument here.
    let planned = py
        .detach(|| embed::plan(&config, backend, threads, device))
        .map_err(|e| PyValueError::new_err(brunel_cli::message(&e)))?;
    let mut stopped: Option<PyErr> = None;
    let result = py.detach(|| {
        embed::run(&config, planned, |done, steps| {
            Python::attach(|py| {
                let step = py.check_signals().and_then(|()| match &progress {
                    Some(f) => f.call1(py, (done, steps)).map(drop),
                    None => Ok(()),
                });
                match step {
                    Ok(()) => true,
                    Err(e) => {
                        stopped = Some(e);
                        false
                    }
                }
            })
        })
    });
    // An exception of the callback (or a Ctrl-C seen with it) is raised whatever the run did
    // afterwards: at the last chunk the run has finished and would otherwise drop it.
    if let Some(e) = stopped {
        return Err(e);
    }
    match result {
        Ok(Finished {
            results,
            stats,
            reason,
        }) => Ok(RunData {
            results,
            stats: Some(stats),
            reason,
        }),
        Err(e) if e.is::<Cancelled>() => Err(PyKeyboardInterrupt::new_err(e.to_string())),
        Err(e) => Err(py_err(e)),
    }
}

/// Reads a result file written by `brunel run` or `Result.save`.
#[pyfunction]
fn load(py: Python<'_>, path: PathBuf) -> PyResult<RunData> {
    // A missing file or one that is not a regular file is an OSError, as for a config.
    output::check_input(&path).map_err(|e| PyOSError::new_err(brunel_cli::message(&e)))?;
    let results = py.detach(|| output::read(&path)).map_err(py_err)?;
    Ok(RunData {
        results,
        stats: None,
        reason: None,
    })
}

// --- sweeps, theory, backends ----------------------------------------------------------------

/// Runs `f` on its own thread with the GIL released, checking Python's signals every 50 ms: a
/// KeyboardInterrupt stops `f` as the CLI's Ctrl-C does (through `brunel_cli::interrupt`), and
/// is raised once `f` has stopped.
fn interruptible<T: Send + 'static>(
    py: Python<'_>,
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> PyResult<T> {
    brunel_cli::interrupt::clear();
    let handle = std::thread::spawn(f);
    let mut interrupted: Option<PyErr> = None;
    while !handle.is_finished() {
        py.detach(|| std::thread::sleep(Duration::from_millis(50)));
        if interrupted.is_none() {
            if let Err(e) = py.check_signals() {
                brunel_cli::interrupt::request(2);
                interrupted = Some(e);
            }
        }
    }
    let result = py.detach(|| handle.join());
    brunel_cli::interrupt::clear();
    if let Some(e) = interrupted {
        return Err(e);
    }
    match result {
        Ok(r) => r.map_err(py_err),
        Err(_) => Err(PyRuntimeError::new_err("the sweep's thread panicked")),
    }
}

/// `brunel sweep CONFIG --grid ... --out OUT ...` (the CLI's own code), then the sweep file
/// read back as a dict: `shape`, `axes` (`(key, values)` pairs), `values` (a flat array per
/// statistic), `regime`, `config`, `seeds`, `backend`, `seconds`. `source` is the file the
/// config came from when `config` is a copy of it: neither `out` nor its CSV may be that file.
#[pyfunction]
#[pyo3(signature = (config, grid, out, seeds = Vec::new(), duration = None, set = Vec::new(),
    backend = "auto".to_owned(), threads = 0, jobs = 0, force = false, quiet = true, verbose = false,
    source = None))]
#[allow(clippy::too_many_arguments)]
fn sweep<'py>(
    py: Python<'py>,
    config: PathBuf,
    grid: Vec<String>,
    out: PathBuf,
    seeds: Vec<u64>,
    duration: Option<f64>,
    set: Vec<String>,
    backend: String,
    threads: usize,
    jobs: usize,
    force: bool,
    quiet: bool,
    verbose: bool,
    source: Option<PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    brunel_cli::choose::parse_backend(&backend).map_err(PyValueError::new_err)?;
    if grid.is_empty() {
        return Err(PyValueError::new_err(
            "the grid has no axes: give at least one key and its values",
        ));
    }
    // Only a regular file is read as the config (a FIFO would block the sweep), and the sweep
    // writes neither its file nor its CSV over the config, --force or not, as the CLI refuses.
    regular_input(&config)?;
    let csv = brunel_cli::sweep::csv_path(&out);
    brunel_cli::run::refuse_same_files(&[
        ("the config", source.as_deref().unwrap_or(&config)),
        ("`out`", &out),
        ("the CSV beside `out`", &csv),
    ])
    .map_err(|e| PyValueError::new_err(brunel_cli::message(&e)))?;
    let args = brunel_cli::sweep::SweepArgs {
        config,
        grid,
        seeds,
        duration,
        set,
        backend,
        threads,
        jobs,
        out: out.clone(),
        plot: None,
        force,
        verbose: verbose && !quiet,
        quiet,
    };
    let table = interruptible(py, move || {
        brunel_cli::sweep::sweep(&args)?;
        embed::read_sweep(&args.out)
    })?;
    let d = PyDict::new(py);
    d.set_item("shape", table.shape())?;
    let axes = PyList::empty(py);
    for (key, values) in &table.axes {
        let v = match values {
            AxisValues::Numbers(n) => PyArray1::from_slice(py, n).into_any(),
            AxisValues::Text(t) => PyList::new(py, t)?.into_any(),
        };
        axes.append((key, v))?;
    }
    d.set_item("axes", axes)?;
    let values = PyDict::new(py);
    for (name, v) in table.values {
        values.set_item(name, PyArray1::from_vec(py, v))?;
    }
    d.set_item("values", values)?;
    d.set_item("regime", PyList::new(py, &table.regime)?)?;
    d.set_item("config", &table.config)?;
    d.set_item("seeds", &table.seeds)?;
    d.set_item("backend", &table.backend)?;
    d.set_item("seconds", table.seconds)?;
    Ok(d)
}

/// One stationary state as a dict.
fn state_dict<'py>(
    py: Python<'py>,
    s: &brunel_core::theory::State,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("rate_hz", s.rate_hz)?;
    d.set_item("mu", s.mu)?;
    d.set_item("sigma", s.sigma)?;
    d.set_item("gain0", s.gain0)?;
    d.set_item("stable", s.stability.is_stable())?;
    d.set_item("oscillation_hz", s.stability.oscillation_hz())?;
    if let brunel_core::theory::Stability::Unstable { growth_per_s, .. } = s.stability {
        d.set_item("growth_per_s", growth_per_s)?;
    }
    Ok(d)
}

/// `brunel theory`: without `grid`, every stationary state of the config (`states`); with it,
/// `axes`, `shape`, flat arrays over the grid (`rate_hz`, `stable`, `oscillation_hz`,
/// `n_states`) and the phase boundaries (`boundaries`).
#[pyfunction]
#[pyo3(signature = (text, origin, set = Vec::new(), grid = Vec::new()))]
fn theory<'py>(
    py: Python<'py>,
    text: String,
    origin: String,
    set: Vec<String>,
    grid: Vec<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let base = Config::from_toml_with(&text, &origin, &set).map_err(core_err)?;
    let d = PyDict::new(py);
    if grid.is_empty() {
        let p = py.detach(|| brunel_core::theory::predict(&base));
        let states = PyList::empty(py);
        for s in &p.states {
            states.append(state_dict(py, s)?)?;
        }
        d.set_item("states", states)?;
        return Ok(d);
    }
    let g = py
        .detach(|| -> anyhow::Result<_> {
            let axes = brunel_cli::grid::parse_axes(&grid, brunel_cli::theory::MAX_POINTS)?;
            brunel_cli::theory::Grid::compute(&text, &origin, &set, axes)
        })
        .map_err(py_err)?;
    let axes = PyList::empty(py);
    for a in &g.axes {
        let v = match a.numbers() {
            Some(n) => PyArray1::from_vec(py, n).into_any(),
            None => PyList::new(py, a.values.iter().map(|v| v.to_string()))?.into_any(),
        };
        axes.append((&a.key, v))?;
    }
    d.set_item("axes", axes)?;
    let shape: Vec<usize> = g.axes.iter().map(|a| a.values.len()).collect();
    d.set_item("shape", shape)?;
    let rate: Vec<f64> = g.points.iter().map(|p| p.rate_hz()).collect();
    let stable: Vec<bool> = g.points.iter().map(|p| p.stable()).collect();
    let osc: Vec<f64> = g
        .points
        .iter()
        .map(|p| {
            p.lowest()
                .and_then(|s| s.stability.oscillation_hz())
                .unwrap_or(f64::NAN)
        })
        .collect();
    let n_states: Vec<u64> = g.points.iter().map(|p| p.states.len() as u64).collect();
    d.set_item("rate_hz", PyArray1::from_vec(py, rate))?;
    d.set_item("stable", PyArray1::from_vec(py, stable))?;
    d.set_item("oscillation_hz", PyArray1::from_vec(py, osc))?;
    d.set_item("n_states", PyArray1::from_vec(py, n_states))?;
    let boundaries = PyList::empty(py);
    for b in &g.boundaries {
        let bd = PyDict::new(py);
        bd.set_item("axis", &g.axes[b.axis].key)?;
        bd.set_item("value", b.value)?;
        let at = PyDict::new(py);
        for (a, (ax, &i)) in g.axes.iter().zip(&b.from).enumerate() {
            if a != b.axis {
                at.set_item(&ax.key, toml_to_py(py, &ax.values[i])?)?;
            }
        }
        bd.set_item("at", at)?;
        bd.set_item("stable_below", b.stable_before)?;
        bd.set_item("oscillation_hz", b.oscillation_hz)?;
        boundaries.append(bd)?;
    }
    d.set_item("boundaries", boundaries)?;
    Ok(d)
}

/// Every backend of the registry: present here or not and why, and its devices.
#[pyfunction]
fn backends(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let setup = brunel_backends::Setup::default();
    let list = PyList::empty(py);
    for e in brunel_backends::all() {
        let p = py.detach(|| e.probe(&setup));
        let d = PyDict::new(py);
        d.set_item("name", e.name)?;
        d.set_item("available", p.available.is_ok())?;
        match &p.available {
            Ok(what) => d.set_item("about", what)?,
            Err(why) => d.set_item("why", why)?,
        }
        d.set_item("description", e.about)?;
        d.set_item("compiled", e.compiled)?;
        d.set_item("oracle", e.oracle)?;
        d.set_item("honours_threads", e.honours.threads)?;
        d.set_item("honours_device", e.honours.device)?;
        d.set_item("distributed", e.distributed)?;
        let devices = PyList::empty(py);
        for dev in &p.devices {
            let dd = PyDict::new(py);
            dd.set_item("index", dev.index)?;
            dd.set_item("name", &dev.name)?;
            dd.set_item("platform", &dev.platform)?;
            dd.set_item("kind", dev.kind.as_str())?;
            dd.set_item("fp64", dev.fp64)?;
            dd.set_item("compute_units", dev.compute_units)?;
            devices.append(dd)?;
        }
        d.set_item("devices", devices)?;
        list.append(d)?;
    }
    Ok(list)
}

/// The module `brunel._brunel`.
#[pymodule]
#[pyo3(name = "_brunel")]
fn brunel_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<RunData>()?;
    m.add_function(wrap_pyfunction!(config_load, m)?)?;
    m.add_function(wrap_pyfunction!(config_resolve, m)?)?;
    m.add_function(wrap_pyfunction!(config_default, m)?)?;
    m.add_function(wrap_pyfunction!(config_table, m)?)?;
    m.add_function(wrap_pyfunction!(config_keys, m)?)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(theory, m)?)?;
    m.add_function(wrap_pyfunction!(backends, m)?)?;
    Ok(())
}
