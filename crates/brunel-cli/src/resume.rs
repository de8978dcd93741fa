//! `brunel resume FILE`: continues a checkpointed run, on any backend and thread count, to the
//! end of its config's duration (or a longer one); the result file is the one an uninterrupted
//! run writes, bit for bit (spikes, population rate, statistics, state).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use brunel_core::{Config, Model, Network};

use crate::choose::parse_backend;
use crate::run::{
    check_outputs, choose_and_plan, execute, probe_outputs, refuse_same_files, CheckpointPlan, Job,
};

/// The options of `brunel resume`.
#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// A checkpoint written by `brunel run --checkpoint FILE` (or by an earlier resume). The
    /// resumed run checkpoints into this same file as it goes (as the run did): FILE is
    /// replaced, its permissions kept; to keep a state, resume a copy. A read-only FILE is
    /// refused unless --force.
    #[arg(value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// Runs to this simulated time (ms) instead of the checkpointed config's duration (not
    /// shorter than what is done).
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Which backend continues: a name `brunel backends` lists, or `auto`.
    #[arg(long, default_value = "auto", value_name = "NAME", value_parser = parse_backend)]
    pub backend: String,
    /// Threads for the network build and the cpu backend; 0 = all cores (mpi: per rank, 0 = the
    /// cores shared among the ranks on this machine), as for `brunel run --threads`.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub threads: usize,
    /// Device of a backend that takes one (OpenCL), as `brunel backends` lists them.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub device: Option<usize>,
    /// The result file (a regular file only, as for `brunel run --out`). Default: the one the
    /// checkpointed run was to write.
    #[arg(long, short, value_name = "FILE.h5")]
    pub out: Option<PathBuf>,
    /// Replace an existing result file, and a read-only checkpoint FILE.
    #[arg(long)]
    pub force: bool,
    /// Also writes the summary as flat TOML to this file (a regular file only), as
    /// `brunel run --summary` does.
    #[arg(long, value_name = "FILE.toml")]
    pub summary: Option<PathBuf>,
    /// No progress bar and no summary on stdout.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Whether the file at `path` has no write permission (for anyone, or for this user).
fn read_only(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if meta.permissions().mode() & 0o222 == 0 {
        return true;
    }
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access reads a NUL-terminated path and nothing else.
    let denied = unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0;
    denied && std::io::Error::last_os_error().raw_os_error() == Some(libc::EACCES)
}

/// Continues the run of a checkpoint.
pub fn resume(args: &ResumeArgs) -> Result<()> {
    crate::choose::start_session(&args.backend)?;
    // Only rank 0 of an MPI job speaks and writes.
    let quiet = args.quiet || !brunel_backends::parallel::writes();
    let c = crate::checkpoint::read(&args.checkpoint)?;
    let mut overrides = Vec::new();
    if let Some(ms) = args.duration {
        if !ms.is_finite() {
            bail!("--duration must be a finite number of ms, got {ms}");
        }
        overrides.push(format!("simulation.duration={ms:?}"));
    }
    let original = Config::from_toml_with(&c.config, "the checkpoint's config", &[])?;
    let config = Config::from_toml_with(&c.config, "the checkpoint's config", &overrides)?;
    // Every rank of an MPI job must continue the same checkpoint to the same step.
    brunel_backends::parallel::agree(
        "the checkpoint (its config and step) or --duration",
        &format!("{}\nstep = {}", config.to_toml(), c.state.step),
    )?;
    let model = Model::new(&config);
    let done = c.state.step;
    let recorded: u64 = c.spikes.counts.iter().map(|&k| k as u64).sum();
    if c.spikes.counts.len() as u64 != done
        || c.stats.steps > done
        || (c.spikes.select == brunel_core::RecordSpikes::All
            && recorded != c.spikes.ids.len() as u64)
    {
        bail!(
            "{} is inconsistent: {} steps recorded for a state at step {done}",
            args.checkpoint.display(),
            c.spikes.counts.len()
        );
    }
    if model.steps < done {
        bail!(
            "--duration {} ms is shorter than the {} ms the checkpoint has already run",
            model.steps as f64 * model.dt,
            done as f64 * model.dt
        );
    }
    // The statistics cover the last 80 % of the run: another duration moves that window. It
    // is followed exactly when every spike was recorded (the statistics are replayed from
    // them) or when the new window starts at or after the checkpoint's step; otherwise the
    // spikes needed are not in the checkpoint.
    let window = brunel_core::NeuronStats::last_80_percent(model.n, model.steps).window_start;
    let stats = if window == c.stats.window_start {
        c.stats.clone()
    } else if c.spikes.select == brunel_core::RecordSpikes::All {
        let mut stats = brunel_core::NeuronStats::new(model.n, window);
        let mut at = 0;
        for (k, &count) in c.spikes.counts.iter().enumerate() {
            let ids = &c.spikes.ids[at..at + count as usize];
            brunel_core::Recorder::record(&mut stats, k as u64, ids);
            at += count as usize;
        }
        stats
    } else if window >= done {
        // Spikes before the new window count only in the totals.
        let mut stats = brunel_core::NeuronStats::new(model.n, window);
        stats.total = c.stats.total.clone();
        stats.steps = done;
        stats
    } else {
        bail!(
            "a run of {} ms takes its statistics from {} ms on, before the checkpoint's {} ms, and the checkpoint kept only the spikes of {}: resume to the checkpointed run's {} ms or to at least {} ms, or checkpoint a run that records all spikes (--record all)",
            model.steps as f64 * model.dt,
            window as f64 * model.dt,
            done as f64 * model.dt,
            c.spikes.select,
            original.steps() as f64 * original.simulation.dt,
            (done as f64 / 0.2).ceil() * model.dt
        );
    };
    let out = args.out.clone().unwrap_or_else(|| c.out.clone());
    let others: Vec<&std::path::Path> = args.summary.iter().map(PathBuf::as_path).collect();
    check_outputs(&out, &others, args.force)?;
    // No output may replace the checkpoint (it is checkpointed into again) or another output.
    let mut named = vec![
        ("the checkpoint", args.checkpoint.as_path()),
        ("--out", out.as_path()),
    ];
    named.extend(others.iter().map(|&p| ("--summary", p)));
    refuse_same_files(&named)?;
    // The checkpoint is written again as the run goes, over FILE: a file its owner made
    // read-only (to keep that state) is replaced only with --force.
    if !args.force && read_only(&args.checkpoint) {
        bail!(
            "{} is read-only, and brunel resume checkpoints into the file it continues (replacing it): resume a copy, give it write permission, or add --force to replace it anyway",
            args.checkpoint.display()
        );
    }
    // The checkpoint is written again as the run goes: its folder must be writable too.
    // Held until the run ends: another command writing one of its outputs is refused.
    let _claim = probe_outputs(
        [out.as_path(), args.checkpoint.as_path()]
            .into_iter()
            .chain(others),
    )?;
    let (chosen, build_par) = choose_and_plan(&args.backend, &config, args.threads, args.device)?;
    if !quiet {
        note!(
            "resuming at {} ms of {} ms: rebuilding the network ({} neurons, {} threads)",
            done as f64 * model.dt,
            model.steps as f64 * model.dt,
            model.n,
            build_par.count()
        );
    }
    let t = Instant::now();
    let network = Network::try_build(&config, build_par)?;
    crate::interrupt::check()?;
    let build_seconds = t.elapsed().as_secs_f64();
    if network.fingerprint() != c.fingerprint || network.n_synapses() != c.n_synapses {
        bail!(
            "the network drawn from the checkpoint's config ({} synapses) is not the one it was taken from ({} synapses): another version of the network generator",
            network.n_synapses(),
            c.n_synapses
        );
    }
    let out_degree = network.out_degrees();
    let mut backend = chosen.make(&model, &network)?;
    drop(network);
    crate::interrupt::check()?;
    backend
        .load_state(&c.state)
        .context("the checkpoint's state does not fit its network")?;
    execute(Job {
        spikes: c.spikes,
        stats,
        config,
        model,
        backend,
        backend_name: chosen.entry.name,
        reason: chosen.reason,
        out_degree,
        n_synapses: c.n_synapses,
        fingerprint: c.fingerprint,
        build_seconds: c.build_seconds + build_seconds,
        planned_peak: 0,
        run_seconds_before: c.run_seconds,
        checkpoint: Some(CheckpointPlan {
            path: args.checkpoint.clone(),
            every: c.every,
        }),
        out,
        force: args.force,
        quiet,
        summary: args.summary.clone(),
        plot: None,
    })
}
