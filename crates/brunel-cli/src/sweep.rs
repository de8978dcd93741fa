//! `brunel sweep`: the same config over a grid of any config keys and several seeds; per point
//! the mean and spread over seeds of the rates, the ISI CV, the population rate's statistics
//! and spectral peak, and the regime; the mean-field theory's rate beside them.
//!
//! The network depends only on the `network.*` keys and the seed, so it is drawn once per
//! (network, seed) and reused by every point that shares it; a point's run is exactly the one
//! `brunel run` makes of the same config (same backend contract, same recorders).
//!
//! Files: `SWEEP.h5` (one dataset per statistic over the grid, the axes, the base config,
//! provenance) and `SWEEP.csv` beside it (one row per point). While the sweep runs, every
//! finished point is appended to `SWEEP.csv` and to a journal `.SWEEP.h5.sweep` beside it
//! (per-seed results and the command's signature); running the same command again skips the
//! finished points. A different command line is refused unless `--force`. When all points are
//! done, `SWEEP.h5` and the final `SWEEP.csv` are written atomically and the journal removed.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use brunel_backends::Setup;
use brunel_core::{
    Config, Model, Network, NeuronStats, Par, RecordSpikes, Recorder as _, SpikeRecorder, Tee,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::choose::{choose, parse_backend};
use crate::grid::{parse_axes, Axis};
use brunel_core::regime::Regime;

/// The options of `brunel sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// The base config (TOML); every point is this config with the grid's keys set.
    pub config: PathBuf,
    /// A grid axis: `KEY=START:STOP:STEP` (STOP included when it falls on the grid) or
    /// `KEY=v1,v2,...`; any config key. Repeatable: the grid is their product, the first axis
    /// varying slowest.
    ///
    /// As for `brunel theory --grid`: STOP counts as on the grid when it lies within 1e-9 of a
    /// step of a grid point; a negative STEP counts down; values are rounded to the decimals
    /// written in START and STEP; `v1,v2,...` are TOML values (a bare word is a string); a key
    /// given twice, an empty range and a zero step are refused. A sweep has at most 100 000
    /// points.
    #[arg(
        long = "grid",
        value_name = "KEY=START:STOP:STEP|KEY=v1,v2,...",
        required = true
    )]
    pub grid: Vec<String>,
    /// Seeds to run each point with (network and input); the statistics are their mean and
    /// spread. Default: the config's seed.
    #[arg(
        long,
        value_name = "S1,S2,...",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub seeds: Vec<u64>,
    /// Overrides simulation.duration (ms) of every point.
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Overrides any other config key of every point (TOML value); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Which backend runs the points: a name `brunel backends` lists, or `auto`.
    #[arg(long, default_value = "auto", value_name = "NAME", value_parser = parse_backend)]
    pub backend: String,
    /// Threads in all; 0 = all cores. The cpu backend pins them as `brunel run --threads`
    /// says (BRUNEL_CPU_PIN).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = crate::run::parse_threads, allow_negative_numbers = true)]
    pub threads: usize,
    /// Points run at once, each on threads / jobs threads. 0 (the default): as many as there
    /// are threads when the grid leaves the network alone (whole points side by side keep every
    /// thread busy, where one point's short runs would not), else 1. More than one job needs a grid
    /// without a `network.*` axis.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub jobs: usize,
    /// The sweep's result file; SWEEP.csv is written beside it.
    #[arg(long, short, value_name = "SWEEP.h5")]
    pub out: PathBuf,
    /// Also draws the phase diagram into this PNG.
    #[arg(long, value_name = "PHASE.png")]
    pub plot: Option<PathBuf>,
    /// Replace an existing result, or start over a journal written by another command line (or
    /// a damaged one).
    #[arg(long)]
    pub force: bool,
    /// A line per finished point.
    #[arg(long, short)]
    pub verbose: bool,
    /// No progress bar (by default one shows, with the time left) and no summary.
    #[arg(long, short, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// Most points a sweep accepts.
const MAX_POINTS: usize = 100_000;

/// What one run of one point gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunStats {
    /// Mean rate of the excitatory neurons over the last 80 % of the run (Hz).
    pub rate_exc_hz: f64,
    /// Mean rate of the inhibitory neurons over the last 80 % of the run (Hz).
    pub rate_inh_hz: f64,
    /// Mean CV of the interspike intervals over the last 80 % of the run, over the neurons
    /// with at least two intervals there (NaN if none has).
    pub cv_isi: f64,
    /// CV of the population's spike count in 1 ms bins.
    pub pop_cv: f64,
    /// Variance of that count over the variance of independent neurons.
    pub synchrony: f64,
    /// The global activity's relative fluctuation beyond finite-size noise.
    pub sync_cv: f64,
    /// Frequency of the population rate's highest spectral peak (Hz); 0 when the run is too
    /// short for a spectrum.
    pub peak_hz: f64,
    /// That peak's power over the mean power of the band searched.
    pub peak_prominence: f64,
    /// Brunel (2000)'s label for these statistics: quiescent, saturated, SR, AI, SI-fast or
    /// SI-slow (`brunel_core::regime`).
    pub regime: Regime,
}

/// The statistics of the grid's CSV and HDF5 file, in order: name, value of a run.
pub type Stat = (&'static str, fn(&RunStats) -> f64);

/// Every statistic a sweep writes per point, its mean and `_std` over seeds, in the column
/// order of SWEEP.csv (the regime and the theory's rate follow them).
pub const STATS: [Stat; 8] = [
    ("rate_exc_hz", |s| s.rate_exc_hz),
    ("rate_inh_hz", |s| s.rate_inh_hz),
    ("cv_isi", |s| s.cv_isi),
    ("pop_cv", |s| s.pop_cv),
    ("synchrony", |s| s.synchrony),
    ("sync_cv", |s| s.sync_cv),
    ("peak_hz", |s| s.peak_hz),
    ("peak_prominence", |s| s.peak_prominence),
];

/// One grid point: its values, one per axis, as TOML text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Point {
    index: usize,
    values: Vec<String>,
}

/// The grid: axes and their product.
struct Grid {
    axes: Vec<Axis>,
}

impl Grid {
    fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// Point `index`, the first axis varying slowest.
    fn point(&self, index: usize) -> Point {
        let mut rest = index;
        let mut values = vec![String::new(); self.axes.len()];
        for (i, axis) in self.axes.iter().enumerate().rev() {
            let n = axis.values.len();
            values[i] = axis.values[rest % n].to_string();
            rest /= n;
        }
        Point { index, values }
    }

    /// `synapse.g = 5, input.ratio = 2`.
    fn describe(&self, point: &Point) -> String {
        self.axes
            .iter()
            .zip(&point.values)
            .map(|(a, v)| format!("{} = {v}", a.key))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn shape(&self) -> Vec<usize> {
        self.axes.iter().map(|a| a.values.len()).collect()
    }
}

/// The config of a point for `seed`.
fn point_config(args: &SweepArgs, grid: &Grid, point: &Point, seed: Option<u64>) -> Result<Config> {
    let mut overrides = args.set.clone();
    for (axis, value) in grid.axes.iter().zip(&point.values) {
        overrides.push(format!("{}={value}", axis.key));
    }
    if let Some(ms) = args.duration {
        overrides.push(format!("simulation.duration={ms:?}"));
    }
    if let Some(seed) = seed {
        overrides.push(format!("simulation.seed={seed}"));
    }
    Config::from_file_with(&args.config, &overrides)
        .with_context(|| format!("grid point {}", grid.describe(point)))
}

/// The text that identifies a sweep: a changed one is refused when a journal exists.
fn signature(args: &SweepArgs, base: &str) -> String {
    format!(
        "config = {:?}\nbase = {:?}\ngrid = {:?}\nseeds = {:?}\nduration = {:?}\nset = {:?}\nversion = {:?}\n",
        args.config.display().to_string(),
        base,
        args.grid,
        args.seeds,
        args.duration,
        args.set,
        env!("CARGO_PKG_VERSION")
    )
}

/// Runs one config on the backend chosen, with `network` (built for its seed), `threads`
/// threads; the statistics of the run.
fn run_point(
    config: &Config,
    network: &Network,
    entry: &'static brunel_backends::Entry,
    setup: Setup,
) -> Result<RunStats> {
    let model = Model::new(config);
    let mut backend = entry.make(&model, network, &setup)?;
    let mut spikes = SpikeRecorder::new(RecordSpikes::None, model.steps);
    let mut stats = NeuronStats::last_80_percent(model.n, model.steps);
    {
        let mut tee = Tee(&mut spikes, &mut stats);
        let failed = || format!("the {} backend failed", entry.name);
        tee.prepare(&brunel_core::RecordPlan {
            n: model.n,
            first_step: backend.step(),
            steps: model.steps,
            dt: model.dt,
        })
        .with_context(failed)?;
        // In chunks of a fraction of a second, so that a signal stops a long point soon.
        let mut pace =
            crate::interrupt::Pace::new(crate::run::CHUNK_STEPS, model.delay_steps as u64);
        let mut done = 0;
        while done < model.steps {
            crate::interrupt::check()?;
            let now = pace.next(model.steps - done);
            let t = Instant::now();
            backend.run(now, &mut tee).with_context(failed)?;
            pace.took(now, t.elapsed());
            done += now;
        }
        tee.finish().with_context(failed)?;
    }
    Ok(statistics(config, &model, &spikes, &stats))
}

/// The statistics of a finished run.
pub fn statistics(
    config: &Config,
    model: &Model,
    spikes: &SpikeRecorder,
    stats: &NeuronStats,
) -> RunStats {
    let rate = spikes.rate_hz(model.n, model.dt);
    let r = brunel_core::regime::statistics(&rate, model.dt, stats);
    RunStats {
        rate_exc_hz: stats.mean_rate(0..model.n_e, model.dt),
        rate_inh_hz: stats.mean_rate(model.n_e..model.n, model.dt),
        cv_isi: r.cv_isi,
        pop_cv: r.pop_cv,
        synchrony: r.synchrony,
        sync_cv: r.sync_cv,
        peak_hz: r.peak_hz,
        peak_prominence: r.peak_prominence,
        regime: brunel_core::regime::classify(&r, config.neuron.tau_rp),
    }
}

/// Mean and population standard deviation (NaN values ignored; NaN when none is left).
fn mean_std(values: &[f64]) -> (f64, f64) {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64;
    (mean, var.sqrt())
}

/// The regime of a point over its seeds: the most frequent label (ties: the first seed's).
fn majority(labels: &[Regime]) -> Regime {
    let mut best = labels[0];
    let mut best_count = 0;
    for &l in labels {
        let c = labels.iter().filter(|&&m| m == l).count();
        if c > best_count {
            best = l;
            best_count = c;
        }
    }
    best
}

/// A finished point: every seed's statistics and the theory's rate.
#[derive(Debug, Clone)]
struct Done {
    point: Point,
    runs: Vec<RunStats>,
    theory_rate_hz: f64,
}

/// The journal beside the output: the signature, then one line per finished point.
/// `.NAME.sweep`, with NAME shortened where the whole would be longer than a file name may be.
fn journal_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = crate::files::fit_name(&name, crate::files::NAME_MAX - ".".len() - ".sweep".len());
    crate::output::parent_dir(out).join(format!(".{name}.sweep"))
}

/// The CSV a sweep writes beside its HDF5 file `out`.
pub fn csv_path(out: &Path) -> PathBuf {
    out.with_extension("csv")
}

/// One journal line per run: point index, seed index, the statistics and the regime.
fn journal_line(index: usize, seed: usize, r: &RunStats) -> String {
    let mut line = format!("{index}\t{seed}");
    for (_, f) in STATS {
        line.push_str(&format!("\t{:?}", f(r)));
    }
    line.push_str(&format!("\t{}", r.regime.name()));
    line
}

/// A journal line back: (point, seed, statistics); `None` for a line cut short by a kill.
fn parse_journal_line(line: &str, points: usize, seeds: usize) -> Option<(usize, usize, RunStats)> {
    let mut parts = line.split('\t');
    let index: usize = parts.next()?.parse().ok()?;
    let seed: usize = parts.next()?.parse().ok()?;
    if index >= points || seed >= seeds {
        return None;
    }
    let mut v = [0.0; 8];
    for x in &mut v {
        *x = parts.next()?.parse().ok()?;
    }
    let regime: Regime = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((
        index,
        seed,
        RunStats {
            rate_exc_hz: v[0],
            rate_inh_hz: v[1],
            cv_isi: v[2],
            pop_cv: v[3],
            synchrony: v[4],
            sync_cv: v[5],
            peak_hz: v[6],
            peak_prominence: v[7],
            regime,
        },
    ))
}

/// The CSV header: a column per grid key, then the statistics (mean, and `_std` spread).
fn csv_header(grid: &Grid) -> String {
    let mut cols: Vec<String> = grid.axes.iter().map(|a| a.key.clone()).collect();
    for (name, _) in STATS {
        cols.push(name.to_owned());
        cols.push(format!("{name}_std"));
    }
    cols.push("regime".into());
    cols.push("theory_rate_hz".into());
    cols.push("seeds".into());
    cols.join(",")
}

fn csv_row(d: &Done) -> String {
    let mut cols: Vec<String> = d.point.values.iter().map(|v| csv_field(v)).collect();
    for (_, f) in STATS {
        let values: Vec<f64> = d.runs.iter().map(f).collect();
        let (m, s) = mean_std(&values);
        cols.push(number(m));
        cols.push(number(s));
    }
    let labels: Vec<_> = d.runs.iter().map(|r| r.regime).collect();
    cols.push(majority(&labels).name().to_owned());
    cols.push(number(d.theory_rate_hz));
    cols.push(d.runs.len().to_string());
    cols.join(",")
}

fn number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        // pandas reads an empty field as NaN.
        String::new()
    }
}

/// A CSV field: TOML strings lose their quotes; anything with a comma or quote is quoted.
fn csv_field(v: &str) -> String {
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v);
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// Runs a sweep.
pub fn sweep(args: &SweepArgs) -> Result<()> {
    if let Some(e) = brunel_backends::find(&args.backend)
        .ok()
        .filter(|e| e.distributed)
    {
        bail!(
            "brunel sweep runs its points in one process; the {} backend spreads one network over MPI ranks (`mpirun -np K brunel run CONFIG --backend {}`): choose another --backend",
            e.name,
            e.name
        );
    }
    let axes: Vec<Axis> = parse_axes(&args.grid, MAX_POINTS)?;
    for (i, a) in axes.iter().enumerate() {
        if axes[..i].iter().any(|b| b.key == a.key) {
            bail!("--grid names {} twice", a.key);
        }
        if a.key == "simulation.seed" {
            bail!("--grid simulation.seed: give seeds with --seeds S1,S2,...");
        }
    }
    // A seed given twice would count one run twice in the mean and fake a spread of zero.
    for (i, s) in args.seeds.iter().enumerate() {
        if args.seeds[..i].contains(s) {
            bail!("--seeds: seed {s} is given twice; each seed is one sample of the spread over seeds");
        }
    }
    let grid = Grid { axes };
    let changes_network = grid.axes.iter().any(|a| a.key.starts_with("network."));
    if changes_network && args.jobs > 1 {
        bail!(
            "--jobs {} runs points side by side on one network per seed, but the grid changes the network ({}); use --jobs 1",
            args.jobs,
            grid.axes.iter().filter(|a| a.key.starts_with("network.")).map(|a| a.key.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(png) = &args.plot {
        crate::plot::check_png(png)?;
    }
    // Every point's config must be valid before anything runs.
    let seeds: Vec<Option<u64>> = if args.seeds.is_empty() {
        vec![None]
    } else {
        args.seeds.iter().map(|&s| Some(s)).collect()
    };
    // configs[point][seed], read once.
    let configs: Vec<Vec<Config>> = (0..grid.len())
        .map(|i| {
            seeds
                .iter()
                .map(|&seed| point_config(args, &grid, &grid.point(i), seed))
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let base = configs[0][0].clone();
    let csv = csv_path(&args.out);
    let journal = journal_path(&args.out);
    // Held for the whole sweep (its journal too): another sweep or run on --out is refused.
    let _claim = {
        use crate::files::{preflight, Output, Replace};
        // A journal beside --out means that an earlier run of a sweep there wrote the CSV:
        // continuing rewrites it (another sweep's journal is refused below without --force).
        let continuing = std::fs::symlink_metadata(&journal).is_ok_and(|m| m.is_file());
        let mut outputs = vec![
            Output::new("--out", &args.out, Replace::IfForced(args.force)),
            Output::new("its CSV", &csv, Replace::IfForced(args.force || continuing)),
            Output::new("its journal", &journal, Replace::Always),
        ];
        if let Some(png) = &args.plot {
            outputs.push(Output::new("--plot", png, Replace::Always));
        }
        preflight(&outputs, &[("the config", &args.config)])?
    };

    // The journal: resume or start.
    let sig = signature(args, &base.to_toml());
    // Runs done, by point: one slot per seed.
    let mut runs: BTreeMap<usize, Vec<Option<RunStats>>> = BTreeMap::new();
    let mut journal_text = format!("{sig}---\n");
    match brunel_core::config::read_regular(&journal, MAX_JOURNAL_BYTES) {
        // A journal without its whole signature was cut short as it was begun (by a kill or
        // a full disk): it holds no finished run, so this sweep starts over.
        Ok(text) if !text.contains("\n---\n") => {
            if !args.quiet {
                note!(
                    "note: {} holds no finished run (it was cut short as it was begun): starting over",
                    journal.display()
                );
            }
        }
        Ok(text) => {
            let (head, body) = text.split_once("\n---\n").unwrap_or((&text, ""));
            if head.trim_end() != sig.trim_end() && !args.force {
                bail!(
                    "{} holds an unfinished sweep of another command line (its config, grid, seeds, duration or --set differ); run that command again to finish it, or add --force to start this one over",
                    journal.display()
                );
            }
            if head.trim_end() == sig.trim_end() {
                for line in body.lines() {
                    // A line cut by a kill is incomplete: that run is done again.
                    if let Some((i, k, r)) = parse_journal_line(line, grid.len(), seeds.len()) {
                        let slots = runs.entry(i).or_insert_with(|| vec![None; seeds.len()]);
                        if slots[k].is_none() {
                            slots[k] = Some(r);
                            journal_text.push_str(line);
                            journal_text.push('\n');
                        }
                    }
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // Damaged (not text, too large, unreadable): --force starts over, the journal rewritten.
        Err(e) if args.force => {
            if !args.quiet {
                note!(
                    "note: {} cannot be read ({e}): --force starts the sweep over",
                    journal.display()
                );
            }
        }
        Err(e) => bail!(
            "cannot read {}: {e}; it is the journal of an unfinished sweep to {}: add --force to start the sweep over (or delete {})",
            journal.display(),
            args.out.display(),
            journal.display()
        ),
    }
    let complete = |slots: &Vec<Option<RunStats>>| slots.iter().all(Option::is_some);
    let theory_of = |i: usize| -> Result<f64> {
        Ok(crate::theory::SummaryLine::of(&configs[i][0]).map_or(f64::NAN, |t| t.rate_hz))
    };
    let mut done: BTreeMap<usize, Done> = BTreeMap::new();
    for (&i, slots) in runs.iter().filter(|(_, s)| complete(s)) {
        done.insert(
            i,
            Done {
                point: grid.point(i),
                runs: slots.iter().flatten().copied().collect(),
                theory_rate_hz: theory_of(i)?,
            },
        );
    }
    let threads = crate::run::cap_threads(args.threads, "--threads");
    let chosen = choose(
        &args.backend,
        base.n(),
        Setup {
            threads,
            device: None,
        },
        threads != 0,
    )?;
    if let Some(reason) = &chosen.reason {
        if !args.quiet {
            note!("note: {reason}");
        }
    }
    let todo: Vec<usize> = (0..grid.len()).filter(|i| !done.contains_key(i)).collect();
    let total_threads = Par::threads(threads).count();
    // More points at once than threads would start a thread per point beyond the cores.
    let jobs = match args.jobs {
        0 if changes_network => 1,
        0 => total_threads,
        n => n.min(total_threads),
    }
    .min(todo.len().max(1));
    let per_job = (total_threads / jobs).max(1);
    // The largest point's memory, with `jobs` of them side by side, must fit before the
    // journal or the CSV is written and anything is allocated.
    check_memory(&configs, &todo, chosen.entry, per_job, jobs)?;
    // Rewrite the journal (without cut lines) and the CSV of the finished points, then append
    // as runs and points finish.
    {
        let mut rows = format!("{}\n", csv_header(&grid));
        for d in done.values() {
            rows.push_str(&csv_row(d));
            rows.push('\n');
        }
        // Through a temporary renamed into place: a link there is replaced, never written
        // through.
        use crate::files::{write_bytes, Replace};
        write_bytes(&journal, journal_text.as_bytes(), Replace::Always)?;
        if let Err(e) = write_bytes(&csv, rows.as_bytes(), Replace::Always) {
            // A journal of no finished run would only be litter: the sweep never began.
            if runs.is_empty() {
                let _ = std::fs::remove_file(&journal);
            }
            return Err(e);
        }
    }
    let runs_done = runs.values().flatten().filter(|r| r.is_some()).count();
    if !args.quiet && !runs.is_empty() {
        note!(
            "resuming: {runs_done} of {} runs done, {} of {} points complete ({})",
            grid.len() * seeds.len(),
            done.len(),
            grid.len(),
            journal.display()
        );
    }
    let ran = AtomicUsize::new(0);
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(
            Some((grid.len() * seeds.len()) as u64),
            ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} sweep [{elapsed_precise}] {wide_bar} {pos}/{len} runs (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(runs_done as u64);
        bar
    };
    let t = Instant::now();
    let state = Mutex::new((
        append_to(&journal)?,
        append_to(&csv)?,
        runs,
        Vec::<Done>::new(),
    ));
    // A run finished: journal it; a point whose every seed is done goes into the CSV.
    let finish = |i: usize, k: usize, r: RunStats| -> Result<()> {
        let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
        let (j, c, runs, list) = &mut *guard;
        writeln!(j, "{}", journal_line(i, k, &r))
            .and_then(|_| j.flush())
            .map_err(|e| crate::files::explain(&journal, e.into()))?;
        ran.fetch_add(1, Ordering::Relaxed);
        bar.inc(1);
        let slots = runs.entry(i).or_insert_with(|| vec![None; seeds.len()]);
        slots[k] = Some(r);
        if !complete(slots) {
            return Ok(());
        }
        let d = Done {
            point: grid.point(i),
            runs: slots.iter().flatten().copied().collect(),
            theory_rate_hz: theory_of(i)?,
        };
        writeln!(c, "{}", csv_row(&d))
            .and_then(|_| c.flush())
            .map_err(|e| crate::files::explain(&csv, e.into()))?;
        if args.verbose {
            let (e, _) = mean_std(&d.runs.iter().map(|r| r.rate_exc_hz).collect::<Vec<_>>());
            let (cv, _) = mean_std(&d.runs.iter().map(|r| r.cv_isi).collect::<Vec<_>>());
            bar.suspend(|| {
                note!(
                    "point {}/{}: {}: rate E {e:.2} Hz, CV {cv:.3}, {}",
                    d.point.index + 1,
                    grid.len(),
                    grid.describe(&d.point),
                    majority(&d.runs.iter().map(|r| r.regime).collect::<Vec<_>>()).name()
                )
            });
        }
        list.push(d);
        Ok(())
    };
    let is_done = |i: usize, k: usize| -> bool {
        let guard = state.lock().unwrap_or_else(|e| e.into_inner());
        guard.2.get(&i).is_some_and(|slots| slots[k].is_some())
    };

    // Runs by seed: one network per (network keys, seed), reused by the points sharing it.
    let errors: Mutex<Vec<anyhow::Error>> = Mutex::new(Vec::new());
    for k in 0..seeds.len() {
        let mut by_network: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &i in todo.iter().filter(|&&i| !is_done(i, k)) {
            let c = &configs[i][k];
            let key = format!("{:?}|{}", c.network, c.simulation.seed);
            by_network.entry(key).or_default().push(i);
        }
        for indices in by_network.values() {
            // Every finished run is in the journal already: a signal during the draw ends the
            // sweep at once, and the same command continues it.
            let at_once = crate::interrupt::AtOnce::begin()?;
            let network = Network::try_build(&configs[indices[0]][k], Par::threads(total_threads))?;
            drop(at_once);
            let next = AtomicUsize::new(0);
            std::thread::scope(|scope| {
                for _ in 0..jobs {
                    scope.spawn(|| loop {
                        let at = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&i) = indices.get(at) else { break };
                        if !errors.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
                            || crate::interrupt::received().is_some()
                        {
                            break;
                        }
                        let run = run_point(
                            &configs[i][k],
                            &network,
                            chosen.entry,
                            Setup {
                                threads: per_job,
                                device: chosen.setup.device,
                            },
                        )
                        .and_then(|r| finish(i, k, r));
                        if let Err(e) = run {
                            errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                        }
                    });
                }
            });
            if let Some(e) = errors.lock().unwrap_or_else(|e| e.into_inner()).pop() {
                return Err(e);
            }
            // Ctrl-C: the runs done are journaled; the same command continues.
            crate::interrupt::check()?;
        }
    }
    bar.finish_and_clear();
    let (_, _, _, list) = state.into_inner().unwrap_or_else(|e| e.into_inner());
    for d in list {
        done.insert(d.point.index, d);
    }
    if done.len() != grid.len() {
        bail!(
            "the sweep ended with {} of {} points done",
            done.len(),
            grid.len()
        );
    }
    let seconds = t.elapsed().as_secs_f64();
    write_results(
        args,
        &grid,
        &done,
        &base,
        &seeds,
        seconds,
        chosen.entry.name,
    )?;
    let _ = std::fs::remove_file(&journal);
    if !args.quiet {
        say!(
            "sweep: {} points × {} seed(s), {} runs in this invocation, in {seconds:.1} s → {} and {}",
            grid.len(),
            seeds.len(),
            ran.load(Ordering::Relaxed),
            args.out.display(),
            csv.display()
        );
    }
    if let Some(png) = &args.plot {
        crate::phase::plot(&args.out, png).map_err(|e| {
            crate::interrupt::after_written(e, &[&args.out, &csv], &[png.as_path()])
        })?;
        if !args.quiet {
            say!("{:<18}{}", "figure", png.display());
        }
    }
    Ok(())
}

/// The largest journal read: a line per run of at most 100 000 points and a few seeds.
const MAX_JOURNAL_BYTES: u64 = 1 << 30;

/// Refuses a sweep whose largest point (of those `todo`), `jobs` at a time on `threads`
/// threads each, would not fit in the memory this process may use, with the plan's words.
fn check_memory(
    configs: &[Vec<Config>],
    todo: &[usize],
    entry: &'static brunel_backends::Entry,
    threads: usize,
    jobs: usize,
) -> Result<()> {
    let setup = Setup {
        threads,
        device: None,
    };
    let limit = brunel_core::memory::Limit::here();
    let mut worst: Option<brunel_core::memory::Plan> = None;
    for &i in todo {
        // Seeds change no size: the first seed's config stands for the point.
        let config = &configs[i][0];
        let plan = brunel_core::memory::plan_sweep(
            config,
            &entry.memory_facts(config, &setup),
            jobs as u64,
        );
        if worst.as_ref().is_none_or(|w| plan.peak().1 > w.peak().1) {
            worst = Some(plan);
        }
    }
    if let Some(plan) = worst {
        plan.check(&limit)
            .map_err(|e| anyhow::anyhow!("{e}\n{}", plan.describe()))?;
    }
    Ok(())
}

/// The journal or the CSV, just written by this sweep, opened to append to (never through a
/// link that replaced it since).
fn append_to(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes SWEEP.h5 and the final SWEEP.csv, each atomically.
fn write_results(
    args: &SweepArgs,
    grid: &Grid,
    done: &BTreeMap<usize, Done>,
    base: &Config,
    seeds: &[Option<u64>],
    seconds: f64,
    backend: &str,
) -> Result<()> {
    use crate::output::{attr, attr_str};
    let shape = grid.shape();
    let tmp = crate::files::Temp::beside(&args.out)?;
    // Every group and dataset is closed when this returns, so that closing the file reports
    // what the library failed to write.
    let contents = |file: &hdf5::File| -> Result<()> {
        attr_str(file, "brunel_version", env!("CARGO_PKG_VERSION"))?;
        attr_str(file, "kind", "sweep")?;
        attr_str(file, "config", &base.to_toml())?;
        attr_str(file, "backend", backend)?;
        attr_str(file, "created", &crate::time::now_rfc3339())?;
        attr(file, "seconds", seconds)?;
        attr_str(
            file,
            "seeds",
            &seeds
                .iter()
                .map(|s| s.map_or_else(|| base.simulation.seed.to_string(), |s| s.to_string()))
                .collect::<Vec<_>>()
                .join(","),
        )?;
        attr_str(
            file,
            "axes",
            &grid
                .axes
                .iter()
                .map(|a| a.key.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )?;
        let axes = file.create_group("axes")?;
        for a in &grid.axes {
            match a.numbers() {
                Some(n) => {
                    axes.new_dataset_builder()
                        .with_data(n.as_slice())
                        .create(a.key.as_str())?;
                }
                None => {
                    let text: Vec<hdf5::types::VarLenUnicode> = a
                        .values
                        .iter()
                        .map(|v| csv_field(&v.to_string()).parse().unwrap_or_default())
                        .collect();
                    axes.new_dataset_builder()
                        .with_data(text.as_slice())
                        .create(a.key.as_str())?;
                }
            }
        }
        let ordered: Vec<&Done> = done.values().collect();
        for (name, f) in STATS {
            let mut mean = Vec::with_capacity(ordered.len());
            let mut std = Vec::with_capacity(ordered.len());
            for d in &ordered {
                let (m, s) = mean_std(&d.runs.iter().map(f).collect::<Vec<_>>());
                mean.push(m);
                std.push(s);
            }
            let arr = ndarray::Array::from_shape_vec(shape.clone(), mean)?;
            file.new_dataset_builder().with_data(&arr).create(name)?;
            let arr = ndarray::Array::from_shape_vec(shape.clone(), std)?;
            file.new_dataset_builder()
                .with_data(&arr)
                .create(format!("{name}_std").as_str())?;
        }
        let theory: Vec<f64> = ordered.iter().map(|d| d.theory_rate_hz).collect();
        let arr = ndarray::Array::from_shape_vec(shape.clone(), theory)?;
        file.new_dataset_builder()
            .with_data(&arr)
            .create("theory_rate_hz")?;
        let regimes: Vec<hdf5::types::VarLenUnicode> = ordered
            .iter()
            .map(|d| {
                majority(&d.runs.iter().map(|r| r.regime).collect::<Vec<_>>())
                    .name()
                    .parse()
                    .unwrap_or_default()
            })
            .collect();
        let arr = ndarray::Array::from_shape_vec(shape.clone(), regimes)?;
        file.new_dataset_builder()
            .with_data(&arr)
            .create("regime")?;
        Ok(())
    };
    let write = || -> Result<()> {
        let file = hdf5::File::create(tmp.path())?;
        contents(&file)?;
        crate::files::close_hdf5(file)
    };
    write()
        .with_context(|| format!("cannot write {}", args.out.display()))
        .map_err(|e| crate::files::explain(&args.out, e))?;
    crate::files::check_hdf5(&args.out, tmp.path(), |f| {
        crate::output::read_attr_str(f, "kind").map(drop)
    })?;
    let mut rows = format!("{}\n", csv_header(grid));
    for d in done.values() {
        rows.push_str(&csv_row(d));
        rows.push('\n');
    }
    let csv = csv_path(&args.out);
    let mut tmp_csv = crate::files::Temp::beside(&csv)?;
    tmp_csv.write_all(rows.as_bytes())?;
    // --force (or a fresh target) was checked before the sweep began.
    tmp.commit(crate::files::Replace::Always)?;
    tmp_csv.commit(crate::files::Replace::Always)
}
