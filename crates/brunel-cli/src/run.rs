//! `brunel run`: config → network → backend → recorders → HDF5 (→ PNG).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use brunel_core::{
    Backend, Config, Draw, Model, Network, NeuronStats, Par, RecordPlan, RecordSpikes, Recorder,
    SpikeRecorder, Tee,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::choose::{choose, parse_backend, Chosen};
use crate::output::{self, Provenance, Results, Summary};
use brunel_backends::Setup;

/// Steps per call of the backend: the progress bar's granularity (60 ms of simulated time at
/// dt = 0.1 ms). Each call ends a backend's batch of steps; 100-step calls cost the cpu backend
/// about 3 % of panel C's run time, 600-step calls under 1 %.
pub const CHUNK_STEPS: u64 = 600;

/// A run shorter than this shows no progress bar.
const QUIET_FOR: Duration = Duration::from_millis(500);

/// The options of `brunel run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The config file (TOML; see configs/reference.toml for every key).
    pub config: PathBuf,
    /// Which backend simulates: a name `brunel backends` lists (reference, cpu, opencl, mpi), or
    /// `auto`: the fastest measured here by `cargo xtask bench` (its machine profile), else a
    /// GPU with fp64, else cpu, else reference.
    ///
    /// The backend is chosen and probed before the network is built: a missing platform or
    /// device is refused at once. With a machine profile, `auto` takes the backend measured
    /// fastest for the nearest measured network size at or above the config's; without one it
    /// never prefers an OpenCL CPU device (such as PoCL) to the native cpu backend, and suggests
    /// running `cargo xtask bench`.
    #[arg(long, default_value = "auto", value_name = "NAME", value_parser = parse_backend)]
    pub backend: String,
    /// Threads for the network build and the cpu backend; 0 = all cores (mpi: per rank, 0 = the
    /// cores shared among the ranks on this machine). At most 1024; more than this machine's
    /// cores run on its cores (with a note): threads beyond them only wait for one another.
    ///
    /// The cpu backend starts no more threads than the network has work for (one per 32
    /// neurons) and says so in the summary's `device`. With one thread per usable
    /// CPU (the default) it pins each thread to a CPU of its own (`device` says "pinned"). The
    /// environment variable BRUNEL_CPU_PIN chooses: `auto` (the default) as just said, `0`
    /// never pins, `1` always pins, an MPI rank's threads too (which `auto` leaves to mpirun's
    /// binding).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: usize,
    /// OpenCL device index, as `brunel backends` lists them (with --backend opencl only;
    /// refused with a backend that takes no device and with `auto`).
    ///
    /// Default: $BRUNEL_OPENCL_DEVICE, else the non-CPU device with fp64 and the most compute
    /// units (GPUs before other accelerators), else the first device with fp64, else the first
    /// device (which is then refused for lacking fp64).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub device: Option<usize>,
    /// Overrides simulation.seed: any whole number from 0 to 18446744073709551615.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Overrides simulation.duration (ms).
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Overrides any config key, e.g. `--set synapse.g=6 --set neuron.refractory_input=accumulate`
    /// (the value is TOML; a bare word is a string). Repeatable; applied in order.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Whose spikes are written: `first:N` (neurons 0..N), `all` or `none`. Overrides
    /// record.spikes (default first:50, as Brian2's example).
    #[arg(long, value_name = "first:N|all|none", value_parser = parse_record)]
    pub record: Option<RecordSpikes>,
    /// The HDF5 result file (a regular file; never a folder, FIFO, socket or device, even with
    /// --force).
    ///
    /// Default: the config file's name up to its last dot, with `.h5`, in the current folder
    /// (`configs/fig8_a.toml` → `./fig8_a.h5`, `panel.v2.toml` → `./panel.v2.h5`).
    #[arg(long, short, value_name = "FILE.h5")]
    pub out: Option<PathBuf>,
    /// Also draws the panel into this PNG once the result is written (a regular file only,
    /// replaced if it exists).
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
    /// Replace an existing result file (a regular file only).
    #[arg(long)]
    pub force: bool,
    /// Also writes the summary as flat TOML (`key = value`) to this file, for scripts and
    /// `cargo xtask bench` (a regular file only, replaced if it exists).
    ///
    /// Beyond the printed figures it holds `build_seconds` (the network and the backend's
    /// layout), `run_seconds`, `run_cpu_seconds` (processor time of the run, all threads),
    /// `peak_rss_mb` (measured), `planned_peak_mb` (the memory plan's peak), `theory_rate_hz`,
    /// `theory_stable`, `theory_oscillation_hz` (when the state oscillates) and `choice` (why
    /// `auto` chose the backend).
    #[arg(long, value_name = "FILE.toml")]
    pub summary: Option<PathBuf>,
    /// No progress bar and no summary on stdout (errors and notes still go to stderr).
    #[arg(long, short)]
    pub quiet: bool,
    /// Writes a checkpoint to this file at the end of the run (and every --checkpoint-every
    /// ms): everything `brunel resume FILE` needs to continue, atomically replaced each time.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Also checkpoints every MS of simulated time (a whole number of steps; needs
    /// --checkpoint).
    #[arg(
        long,
        value_name = "MS",
        requires = "checkpoint",
        allow_negative_numbers = true
    )]
    pub checkpoint_every: Option<f64>,
}

/// The most threads `--threads` accepts: more than any machine's cores today, and few enough
/// that a pool of them can be started (a typo such as 100000 would otherwise start that many
/// operating-system threads).
const MAX_THREADS: usize = 1024;

/// `--threads` parser: a whole number of at most 1024, where 0 means all cores; the message
/// of a larger one says how many cores this machine has.
pub fn parse_threads(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number of threads"))?;
    if n > MAX_THREADS {
        return Err(format!(
            "{n} threads is more than the {MAX_THREADS} brunel accepts (0 = all {} cores of this machine)",
            Par::threads(0).count()
        ));
    }
    Ok(n)
}

/// Whether two paths name the same file (either may not exist yet).
pub fn same_file(a: &Path, b: &Path) -> bool {
    // Two names of one existing file (hard links, links, `a/../a`) share device and inode.
    if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        use std::os::unix::fs::MetadataExt as _;
        if ma.dev() == mb.dev() && ma.ino() == mb.ino() {
            return true;
        }
    }
    let resolve = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| {
            let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
            match (abs.parent(), abs.file_name()) {
                (Some(dir), Some(name)) => std::fs::canonicalize(dir)
                    .map(|d| d.join(name))
                    .unwrap_or(abs.clone()),
                _ => abs,
            }
        })
    };
    resolve(a) == resolve(b)
}

fn parse_record(s: &str) -> Result<RecordSpikes, String> {
    s.parse()
}

/// The default output file of `config`: its stem with `.h5`, in the current folder.
pub fn default_output(config: &Path) -> Result<PathBuf> {
    let stem = config
        .file_stem()
        .with_context(|| format!("{} has no file name", config.display()))?;
    // The stem is everything before the last dot: panel.v2.toml → panel.v2.h5.
    let mut name = stem.to_os_string();
    name.push(".h5");
    Ok(PathBuf::from(name))
}

/// The config with the command line's overrides applied: `--set` in order, then `--seed`,
/// `--duration` and `--record`, which win.
pub fn load_config(args: &RunArgs) -> Result<Config> {
    let mut overrides = args.set.clone();
    if let Some(seed) = args.seed {
        // As a string: TOML's integers stop at 2^63 - 1, seeds at 2^64 - 1.
        overrides.push(format!("simulation.seed=\"{seed}\""));
    }
    if let Some(ms) = args.duration {
        if !ms.is_finite() {
            bail!("--duration must be a finite number of ms, got {ms}");
        }
        overrides.push(format!("simulation.duration={ms:?}"));
    }
    if let Some(record) = args.record {
        overrides.push(format!("record.spikes=\"{record}\""));
    }
    Ok(Config::from_file_with(&args.config, &overrides)?)
}

/// Runs a simulation and writes its result file.
pub fn run(args: &RunArgs) -> Result<()> {
    crate::choose::start_session(&args.backend)?;
    // Only rank 0 of an MPI job speaks and writes.
    let quiet = args.quiet || !brunel_backends::parallel::writes();
    // Everything that can be refused is checked before the (possibly long) simulation.
    if let Some(png) = &args.plot {
        crate::plot::check_png(png)?;
    }
    let config = load_config(args)?;
    brunel_backends::parallel::agree("the resolved config", &config.to_toml())?;
    let out = match &args.out {
        Some(out) => out.clone(),
        None => default_output(&args.config)?,
    };
    let others: Vec<&Path> = args
        .plot
        .iter()
        .chain(&args.summary)
        .map(PathBuf::as_path)
        .collect();
    check_outputs(&out, &others, args.force)?;
    // No output may replace the config or another output of the same run.
    let mut named = vec![("the config", args.config.clone()), ("--out", out.clone())];
    if let Some(p) = &args.summary {
        named.push(("--summary", p.clone()));
    }
    if let Some(p) = &args.plot {
        named.push(("--plot", p.clone()));
    }
    // Held until the run ends: another command writing one of its outputs is refused.
    let mut claim = crate::files::Claim::default();
    if let Some(p) = &args.checkpoint {
        named.push(("--checkpoint", p.clone()));
        claim.join(check_checkpoint_target(p, args.force)?);
    }
    if let Some(ms) = args.checkpoint_every {
        check_checkpoint_every(ms, config.simulation.dt)?;
    }
    refuse_same_files(
        &named
            .iter()
            .map(|(a, p)| (*a, p.as_path()))
            .collect::<Vec<_>>(),
    )?;
    if args.plot.is_some() && config.steps() == 0 {
        bail!("a run of 0 ms has nothing to plot; give a --duration > 0 or leave out --plot");
    }
    if let (Some(_), Some([start, end])) = (&args.plot, config.plot.window) {
        let run_end = config.steps() as f64 * config.simulation.dt;
        if start >= run_end || end <= 0.0 {
            bail!(
                "plot.window [{start}, {end}] ms lies outside the run (0–{run_end} ms), so --plot would draw nothing"
            );
        }
    }
    claim.join(probe_outputs(std::iter::once(out.as_path()).chain(others))?);
    // A checkpoint records the network's fingerprint: such a run draws the whole network.
    let whole = |entry: &brunel_backends::Entry| entry.needs_network || args.checkpoint.is_some();
    let (chosen, build_par, plan) =
        choose_and_plan_drawing(&args.backend, &config, args.threads, args.device, whole)?;
    let model = Model::new(&config);
    let draws_whole = whole(chosen.entry);
    if !quiet {
        note!(
            "building the network: {} neurons, about {:.3e} synapses ({} threads{})",
            model.n,
            config.expected_synapses(),
            build_par.count(),
            match (draws_whole, config.network.storage) {
                (true, _) => "",
                (false, brunel_core::Storage::Stored) => ", each part drawn by the backend",
                (false, brunel_core::Storage::Procedural) => ", procedural: none kept",
            }
        );
    }
    let t = Instant::now();
    // Nothing is on disk yet: a signal during the build ends the run at once.
    let at_once = crate::interrupt::AtOnce::begin()?;
    let (backend, out_degree, n_synapses, fingerprint) = if draws_whole {
        let network = Network::try_build(&config, build_par)?;
        crate::interrupt::check()?;
        let n_synapses = network.n_synapses();
        // Out-degrees are all the summary needs from the network once the backend holds its
        // own copy.
        let out_degree = network.out_degrees();
        let fingerprint = if args.checkpoint.is_some() {
            network.fingerprint()
        } else {
            0
        };
        let backend = chosen.make(&model, &network)?;
        (backend, out_degree, n_synapses, fingerprint)
    } else {
        // The backend draws the parts it keeps (or none: procedural), never the whole: the
        // cpu backend its parts, each rank of an MPI job the synapses onto its neurons.
        let backend = chosen.make_from_draw(&model, &Draw::new(&config))?;
        let out_degree = backend.out_degrees()?.ok_or_else(|| {
            anyhow::anyhow!("the {} backend gives no out-degrees", chosen.entry.name)
        })?;
        let n_synapses = out_degree.iter().map(|&d| d as u64).sum();
        (backend, out_degree, n_synapses, 0)
    };
    drop(at_once);
    // The network and the backend's layout: the network build and the backend's own,
    // together (a backend drawing its parts does both).
    let build_seconds = t.elapsed().as_secs_f64();
    crate::interrupt::check()?;
    let steps = model.steps;
    let checkpoint = args.checkpoint.as_ref().map(|path| CheckpointPlan {
        path: path.clone(),
        every: args
            .checkpoint_every
            .map_or(0, |ms| (ms / model.dt).round() as u64),
    });
    execute(Job {
        spikes: SpikeRecorder::try_new(config.record.spikes, steps)
            .map_err(|_| out_of_memory("the population rate's spike counts", steps * 4))?,
        stats: NeuronStats::last_80_percent(model.n, steps),
        config,
        model,
        backend,
        backend_name: chosen.entry.name,
        reason: chosen.reason,
        out_degree,
        n_synapses,
        fingerprint,
        build_seconds,
        planned_peak: plan.peak().1,
        run_seconds_before: 0.0,
        checkpoint,
        out,
        force: args.force,
        quiet,
        summary: args.summary.clone(),
        plot: args.plot.clone(),
    })
}

/// Where and how often a run checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointPlan {
    /// The checkpoint file, replaced atomically each time.
    pub path: PathBuf,
    /// Steps between checkpoints; 0: only at the end.
    pub every: u64,
}

/// A run ready to go: the backend made (and, for a resumed run, loaded), the recorders as far
/// as they are, and where the results go.
pub struct Job {
    /// The resolved config: its duration is the run's end; it goes into the result file and
    /// any checkpoint.
    pub config: Config,
    /// The constants of the time step, resolved from `config`.
    pub model: Model,
    /// The backend holding the network's state: at step 0, or, resumed, at the checkpoint's
    /// step.
    pub backend: Box<dyn Backend>,
    /// The backend's registry name, for messages.
    pub backend_name: &'static str,
    /// Why `auto` chose the backend, if it did.
    pub reason: Option<String>,
    /// The spikes recorded so far (none for a fresh run; a checkpoint's for a resumed one).
    pub spikes: SpikeRecorder,
    /// The per-neuron spike statistics so far, for the summary's rates and CV.
    pub stats: NeuronStats,
    /// Out-degrees: all the summary needs from the network once the backend holds its copy.
    pub out_degree: Vec<u32>,
    /// Synapses of the network, for the result file and checkpoints.
    pub n_synapses: u64,
    /// The network's fingerprint (for checkpoints; 0 when none are written).
    pub fingerprint: u64,
    /// Wall-clock time spent building the network and the backend's layout (s); for a
    /// resumed run, summed over the run and every resume.
    pub build_seconds: f64,
    /// The memory plan's peak (bytes; `--summary`'s `planned_peak_mb`).
    pub planned_peak: u64,
    /// Run time already spent before a checkpoint (resumed runs).
    pub run_seconds_before: f64,
    /// Where and how often to checkpoint; `None`: never.
    pub checkpoint: Option<CheckpointPlan>,
    /// The HDF5 result file.
    pub out: PathBuf,
    /// Whether `out` may replace an existing file.
    pub force: bool,
    /// No progress bar and no summary on stdout (`--quiet`, and every MPI rank but 0).
    pub quiet: bool,
    /// Where to write the summary as flat TOML (`--summary`), if anywhere.
    pub summary: Option<PathBuf>,
    /// Where to draw the panel as PNG once the result is written (`--plot`), if anywhere.
    pub plot: Option<PathBuf>,
}

impl Job {
    /// Writes the checkpoint of the run as it stands.
    fn checkpoint(&self, plan: &CheckpointPlan, run_seconds: f64) -> Result<()> {
        let c = crate::checkpoint::Checkpoint {
            brunel_version: env!("CARGO_PKG_VERSION").to_owned(),
            config: self.config.to_toml(),
            out: std::path::absolute(&self.out).unwrap_or_else(|_| self.out.clone()),
            fingerprint: self.fingerprint,
            n_synapses: self.n_synapses,
            build_seconds: self.build_seconds,
            run_seconds,
            every: plan.every,
            state: self.backend.state()?,
            spikes: self.spikes.clone(),
            stats: self.stats.clone(),
        };
        // Every rank of an MPI job takes part in gathering the state; rank 0 writes it.
        if !brunel_backends::parallel::writes() {
            return Ok(());
        }
        crate::checkpoint::write(&plan.path, &c)
    }
}

/// Runs `job` from the backend's step to the end of its config's duration (checkpointing as
/// planned) and writes its results.
pub fn execute(mut job: Job) -> Result<()> {
    let model = job.model.clone();
    let steps = model.steps;
    let first = job.backend.step();
    let bar = progress_bar(steps, model.dt);
    bar.set_position(first);
    let show_bar = !job.quiet;
    let t = Instant::now();
    let cpu_start = cpu_seconds();
    let plan = job.checkpoint.clone();
    // A run that checkpoints keeps its recorded spikes in memory (a checkpoint holds them), and
    // so does an MPI job (every rank holds them; rank 0 writes the file at the end, so that a
    // rank killed mid-run leaves no file of any rank behind); any other streams them into the
    // result file as it goes.
    let mpi_job = brunel_backends::parallel::rank().is_some();
    let mut stream = match &plan {
        None if !mpi_job => Some(output::SpikeFile::create(
            &job.out,
            model.n,
            model.dt,
            job.spikes.select,
        )?),
        _ => None,
    };
    {
        let spikes: &mut dyn Recorder = match stream.as_mut() {
            Some(file) => file,
            None => &mut job.spikes,
        };
        let mut tee = Tee(spikes, &mut job.stats);
        tee.prepare(&RecordPlan {
            n: model.n,
            first_step: first,
            steps: steps - first,
            dt: model.dt,
        })?;
    }
    let mut done = first;
    // Chunks sized to take a fraction of a second each, so that a signal is acted on soon
    // even on a network that takes seconds per CHUNK_STEPS; fixed in an MPI job, whose ranks
    // must call the backend and exchange signals alike.
    let mut pace = crate::interrupt::Pace::new(
        CHUNK_STEPS,
        if mpi_job {
            CHUNK_STEPS
        } else {
            model.delay_steps as u64
        },
    );
    crate::interrupt::test_point("simulating");
    while done < steps {
        let mut now = pace.next(steps - done);
        let chunk_start = Instant::now();
        if let Some(p) = plan.as_ref().filter(|p| p.every > 0) {
            // End the chunk on the next checkpoint's step.
            let next = (done / p.every + 1) * p.every;
            now = now.min(next - done);
        }
        {
            let spikes: &mut dyn Recorder = match stream.as_mut() {
                Some(file) => file,
                None => &mut job.spikes,
            };
            let mut tee = Tee(spikes, &mut job.stats);
            job.backend
                .run(now, &mut tee)
                .with_context(|| format!("the {} backend failed", job.backend_name))?;
        }
        pace.took(now, chunk_start.elapsed());
        if let Some(file) = stream.as_mut() {
            file.check()?;
        }
        if done == first {
            crate::interrupt::test_point("running");
        }
        done += now;
        if show_bar && bar.is_hidden() && t.elapsed() > QUIET_FOR {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        bar.set_position(done);
        // Under MPI every rank learns of a signal any rank received, so that all stop here.
        let signal =
            brunel_backends::parallel::any_signal(crate::interrupt::received().map(|i| i.signal))
                .map(|signal| crate::interrupt::Interrupted { signal });
        if let Some(signal) = signal {
            // A cluster's wall-time signal loses nothing: the run as it stands is checkpointed
            // (a second signal exits at once, leaving the earlier checkpoint intact).
            bar.finish_and_clear();
            if let Some(p) = &plan {
                job.checkpoint(p, job.run_seconds_before + t.elapsed().as_secs_f64())?;
                if brunel_backends::parallel::writes() {
                    note!(
                        "{signal} at {} ms: checkpoint {} written; `brunel resume {}` continues",
                        done as f64 * model.dt,
                        p.path.display(),
                        p.path.display()
                    );
                }
            }
            return Err(signal.into());
        }
        if let Some(p) = plan
            .as_ref()
            .filter(|p| p.every > 0 && done.is_multiple_of(p.every) && done < steps)
        {
            job.checkpoint(p, job.run_seconds_before + t.elapsed().as_secs_f64())?;
        }
    }
    {
        let spikes: &mut dyn Recorder = match stream.as_mut() {
            Some(file) => file,
            None => &mut job.spikes,
        };
        Tee(spikes, &mut job.stats).finish()?;
    }
    job.backend.sync()?;
    let run_seconds = job.run_seconds_before + t.elapsed().as_secs_f64();
    let run_cpu_seconds = cpu_seconds() - cpu_start;
    bar.finish_and_clear();
    if let Some(p) = &plan {
        job.checkpoint(p, run_seconds)?;
    }
    if !brunel_backends::parallel::writes() {
        // Rank 0 of the MPI job holds every spike too and writes the results.
        return Ok(());
    }
    let info = job.backend.info();
    let Job {
        config,
        spikes,
        stats,
        out_degree,
        n_synapses,
        build_seconds,
        planned_peak,
        reason,
        out,
        force,
        quiet,
        summary,
        plot,
        ..
    } = job;

    let synaptic_events = stats.synaptic_events_by_degree(&out_degree);
    let summary_values = Summary {
        n_neurons: model.n as u64,
        n_excitatory: model.n_e as u64,
        steps,
        dt: model.dt,
        duration: steps as f64 * model.dt,
        spikes: stats.total_spikes(),
        synaptic_events,
        mean_rate_exc: stats.mean_rate(0..model.n_e, model.dt),
        mean_rate_inh: stats.mean_rate(model.n_e..model.n, model.dt),
        mean_cv: stats.mean_cv(),
        theory: crate::theory::SummaryLine::of(&config),
    };
    // Streamed, the spikes and the rate are in the file already (`spikes` recorded nothing):
    // the results in memory are the provenance and the summary.
    let streamed = stream.is_some();
    let results = Results {
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
            n_synapses,
            build_seconds,
            run_seconds,
            created: crate::time::now_rfc3339(),
        },
        summary: summary_values,
        timestamps: try_collect(
            spikes.steps.iter().map(|&k| k as f64 * model.dt),
            "spike times",
        )?,
        node_ids: try_collect(spikes.ids.iter().map(|&i| i as u64), "spike ids")?,
        rate: if streamed {
            Vec::new()
        } else {
            spikes
                .try_rate_hz(model.n, model.dt)
                .map_err(|_| out_of_memory("the population rate", steps * 8))?
        },
        dt: model.dt,
        start: 0.0,
    };
    match stream {
        Some(file) => file.finish(
            &results.provenance,
            &results.summary,
            results.dt,
            results.start,
            force,
        )?,
        None => output::write_atomically(&out, &results, force)?,
    }
    // The result is in place: a signal from here on stops before the next output, keeps
    // those written and names them (a signal after the last one changes nothing).
    let mut written: Vec<&Path> = vec![&out];
    let mut left: Vec<&Path> = summary.iter().chain(&plot).map(PathBuf::as_path).collect();
    crate::interrupt::test_point("written");
    crate::interrupt::check_after(&written, &left)?;
    if let Some(path) = &summary {
        let text = summary_toml(&results, reason.as_deref(), planned_peak, run_cpu_seconds);
        output::write_text_atomically(path, &text)
            .with_context(|| format!("cannot write the summary {}", path.display()))?;
        left.retain(|p| p != path);
        written.push(path);
        crate::interrupt::check_after(&written, &left)?;
    }
    if !quiet {
        crate::info::print_results(&results, Some(&out));
    }
    if let Some(png) = &plot {
        crate::plot::plot_files(std::slice::from_ref(&out), png)
            .map_err(|e| crate::interrupt::after_written(e, &written, &left))?;
        if !quiet {
            say!("{:<18}{}", "figure", png.display());
        }
    }
    Ok(())
}

/// Refuses two of `named` (what names it, the path) that are one file.
pub fn refuse_same_files(named: &[(&str, &Path)]) -> Result<()> {
    for (i, (a, pa)) in named.iter().enumerate() {
        for (b, pb) in &named[i + 1..] {
            if same_file(pa, pb) {
                bail!("{a} and {b} name the same file {}", pb.display());
            }
        }
    }
    Ok(())
}

/// Checks the outputs of a run before anything is computed: each is a regular file or absent
/// (never a device node, a FIFO or a folder, --force or not), and the result file `out` (or a
/// symbolic link there, even a dangling one) exists only with `force`.
pub fn check_outputs(out: &Path, others: &[&Path], force: bool) -> Result<()> {
    use crate::files::{check_output, Replace};
    for p in others {
        check_output(p, Replace::Always)?;
    }
    check_output(out, Replace::IfForced(force))
}

/// Proves that the outputs' folders exist and are writable (the probe files are removed at
/// once), removes temporary files that a killed brunel left beside them, and claims the
/// outputs (refused if another brunel command is writing one): keep the claim until the end.
pub fn probe_outputs<'a>(
    targets: impl IntoIterator<Item = &'a Path>,
) -> Result<crate::files::Claim> {
    let mut claim = crate::files::Claim::default();
    for target in targets {
        claim.join(crate::files::probe(target)?);
    }
    Ok(claim)
}

/// The backend `name` chosen and probed before the network is built (a missing platform,
/// device or fp64 costs no build), the memory plan checked against what this process may use,
/// and the parallelism of the network build.
pub fn choose_and_plan(
    name: &str,
    config: &Config,
    threads: usize,
    device: Option<usize>,
) -> Result<(Chosen, Par)> {
    let (chosen, par, _) = choose_and_plan_drawing(name, config, threads, device, |_| true)?;
    Ok((chosen, par))
}

/// `threads` (0: all cores) capped at this machine's cores, with a note when it was more:
/// threads beyond the cores only wait for one another (a run of 12 500 neurons on 1 024
/// threads of 2 cores took eight times as long as on 2, one of 125 000 a hundred times).
pub fn cap_threads(threads: usize, option: &str) -> usize {
    let cores = Par::threads(0).count();
    if threads > cores {
        if brunel_backends::parallel::writes() {
            note!("note: {option} {threads} is more than this machine's {cores} cores: {cores} threads");
        }
        return cores;
    }
    threads
}

/// Plans at or above this peak are printed before the run (on stderr).
const PRINT_PLAN_FROM: u64 = 1 << 30;

/// [`choose_and_plan`], for a run that draws the whole network first where `whole(entry)`
/// says so (else the backend draws its own parts); also gives the plan, which it prints when
/// its peak reaches 1 GiB, and which a refusal prints.
pub fn choose_and_plan_drawing(
    name: &str,
    config: &Config,
    threads: usize,
    device: Option<usize>,
    whole: impl Fn(&brunel_backends::Entry) -> bool,
) -> Result<(Chosen, Par, brunel_core::memory::Plan)> {
    // A distributed backend's ranks are placed by their launcher (mpirun binds a rank to a
    // core or a socket): what a rank may use is the launcher's to decide, not capped here.
    let distributed = brunel_backends::find(name).is_ok_and(|e| e.distributed);
    let threads = if distributed {
        threads
    } else {
        cap_threads(threads, "--threads")
    };
    let chosen = choose(name, config.n(), Setup { threads, device }, threads != 0)?;
    if let Some(reason) = &chosen.reason {
        note!("note: {reason}");
    }
    // The build gains nothing from more threads than cores, and many more than cores make it
    // far slower (each thread's share of the draw shrinks to its start-up cost). The cpu
    // backend caps its own threads.
    let build_par = Par::threads(Par::threads(threads).count().min(Par::threads(0).count()));
    // The one memory check: every large allocation of the run, against what this process
    // may use (physical memory, cgroup limit, ulimit -v), before anything is allocated.
    let facts = chosen.entry.memory_facts(config, &chosen.setup);
    let plan = brunel_core::memory::plan_for(config, &facts, whole(chosen.entry));
    let checked = plan
        .check(&brunel_core::memory::Limit::here())
        .map_err(|e| anyhow::anyhow!("{e}\n{}", plan.describe()))?;
    if plan.peak().1 >= PRINT_PLAN_FROM {
        note!("{}", plan.describe());
    }
    if let Some(warning) = checked {
        note!("note: {warning}");
    }
    Ok((chosen, build_par, plan))
}

/// A checkpoint file may be replaced only with --force, and must be a regular file; claimed
/// (see [`probe_outputs`]) when it may.
pub fn check_checkpoint_target(path: &Path, force: bool) -> Result<crate::files::Claim> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.is_file() {
            bail!(
                "--checkpoint {} exists and is not a regular file",
                path.display()
            );
        }
        if !force {
            bail!(
                "the checkpoint {} already exists; use --force to replace it (or `brunel resume {}` to continue it)",
                path.display(),
                path.display()
            );
        }
    }
    crate::files::check_output(path, crate::files::Replace::IfForced(force))?;
    // Its folder is writable, and the temporaries of a checkpoint write that was killed go.
    crate::files::probe(path)
}

/// `--checkpoint-every MS`: positive, finite, a whole number of steps.
pub fn check_checkpoint_every(ms: f64, dt: f64) -> Result<()> {
    let steps = ms / dt;
    if !ms.is_finite() || ms <= 0.0 || steps.round() < 1.0 || (steps - steps.round()).abs() > 1e-6 {
        bail!("--checkpoint-every {ms} ms is not a positive whole number of time steps of {dt} ms");
    }
    Ok(())
}

/// The summary as flat TOML: what `cargo xtask bench` reads.
fn summary_toml(
    r: &Results,
    choice: Option<&str>,
    planned_peak: u64,
    run_cpu_seconds: f64,
) -> String {
    let p = &r.provenance;
    let s = &r.summary;
    let mut t = toml::Table::new();
    let mut put = |k: &str, v: toml::Value| {
        t.insert(k.to_owned(), v);
    };
    put("backend", p.backend.clone().into());
    put("device", p.device.clone().into());
    put("threads", (p.threads as i64).into());
    if let Some(r) = p.ranks {
        put("ranks", (r as i64).into());
    }
    put(
        "choice",
        choice.unwrap_or("given on the command line").into(),
    );
    put("neurons", (s.n_neurons as i64).into());
    put("synapses", (p.n_synapses as i64).into());
    put("seed", toml::Value::String(p.seed.to_string()));
    put("steps", (s.steps as i64).into());
    put("simulated_ms", s.duration.into());
    put("build_seconds", p.build_seconds.into());
    put("run_seconds", p.run_seconds.into());
    put(
        "real_time_factor",
        (s.duration / 1000.0 / p.run_seconds).into(),
    );
    put("spikes", (s.spikes as i64).into());
    put("synaptic_events", (s.synaptic_events as i64).into());
    put(
        "synaptic_events_per_second",
        (s.synaptic_events as f64 / p.run_seconds).into(),
    );
    put("rate_exc_hz", s.mean_rate_exc.into());
    put("rate_inh_hz", s.mean_rate_inh.into());
    // `nan` (TOML's not-a-number) where the CV is undefined, as the result file's NaN and
    // the printed "undefined": no number that a CV could be.
    put("mean_cv", s.mean_cv.into());
    if let Some(t) = &s.theory {
        crate::theory::put_summary(t, &mut put);
    }
    put("peak_rss_mb", peak_rss_mb().into());
    // The processor time of this process's run (all threads, user and system): on a shared
    // machine, where the wall time also counts what the others take.
    put("run_cpu_seconds", run_cpu_seconds.into());
    // The plan's peak, where this run planned (a resumed run does not say).
    if planned_peak > 0 {
        put(
            "planned_peak_mb",
            (planned_peak as f64 / (1u64 << 20) as f64).into(),
        );
    }
    toml::to_string(&t).unwrap_or_default()
}

/// The error of an allocation that failed although the memory plan let it through.
pub fn out_of_memory(what: &str, bytes: u64) -> anyhow::Error {
    brunel_core::Error::Memory {
        message: format!(
            "cannot allocate {what} ({:.1} GiB)",
            brunel_core::memory::gib(bytes)
        ),
    }
    .into()
}

/// Collects `items` into a vector allocated up front: an error, not an abort, if it cannot be.
pub fn try_collect<T>(items: impl ExactSizeIterator<Item = T>, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    let bytes = (items.len() * std::mem::size_of::<T>()) as u64;
    v.try_reserve_exact(items.len())
        .map_err(|_| out_of_memory(what, bytes))?;
    v.extend(items);
    Ok(v)
}

/// Processor time (user and system, all threads) this process has used, in seconds; 0 where
/// the system does not say.
fn cpu_seconds() -> f64 {
    #[cfg(unix)]
    {
        // SAFETY: getrusage writes the struct it is given and nothing else.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } == 0 {
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            return tv(u.ru_utime) + tv(u.ru_stime);
        }
    }
    0.0
}

/// The process's peak resident memory (VmHWM) in MB, 0 where /proc does not say.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn progress_bar(steps: u64, dt: f64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::hidden());
    let style = ProgressStyle::with_template(
        "{spinner} simulating {msg} [{elapsed_precise}] {wide_bar} {percent:>3}% (eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(format!("{:.0} ms", steps as f64 * dt));
    bar
}
