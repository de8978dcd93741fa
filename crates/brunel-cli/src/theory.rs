//! `brunel theory`: the mean-field prediction of a config (Brunel 2000's stationary rates and
//! their linear stability), for one point or over a `--grid`, with the phase boundaries.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use brunel_core::theory::{self, Prediction, Stability};
use brunel_core::{Config, RefractoryInput};
use rayon::prelude::*;

use crate::grid::{self, Axis};

/// The options of `brunel theory`.
#[derive(Debug, clap::Args)]
pub struct TheoryArgs {
    /// The config file (TOML; see configs/reference.toml for every key).
    pub config: PathBuf,
    /// Overrides any config key, as `brunel run --set`. Repeatable; applied in order, before
    /// the grid's values.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// `text` for people, `toml` for scripts.
    ///
    /// The TOML holds `rate_hz` (the lowest stationary rate), `rates_hz` (all of them),
    /// `stable`, and when that state is unstable `oscillation_hz` and `growth_per_s`, then one
    /// `[[states]]` table per stationary state (`rate_hz`, `mu_mv`, `sigma_mv`, `gain0`,
    /// `stable`, ...). With --grid: one `[[points]]` table per point (the grid's keys, then
    /// those fields) and one `[[boundaries]]` table per phase boundary (`axis`, `value`, the
    /// other keys, `stable_below`, `oscillation_hz`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// An axis of a grid of configs: `KEY=START:STOP:STEP` (STOP included when on the grid) or
    /// `KEY=v1,v2,...`, over any config key. Repeatable: the grid is the product, the first
    /// axis varying slowest. Prints one row per point and the phase boundaries.
    ///
    /// STOP counts as on the grid when it lies within 1e-9 of a step of a grid point; a
    /// negative STEP counts down; values are rounded to the decimals written in START and STEP
    /// (`0:8:0.05` gives 0.15, not 0.15000000000000002); `v1,v2,...` are TOML values (a bare
    /// word is a string). A key given twice, an empty range and a zero step are refused; the
    /// grid has at most 1 000 000 points.
    #[arg(long = "grid", value_name = "KEY=START:STOP:STEP|KEY=v1,v2,...")]
    pub grid: Vec<String>,
    /// Writes the output to this file instead of stdout (replaced if it exists).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// How `brunel theory` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Labelled rows for people; with --grid a table of the points, then the boundaries.
    Text,
    /// TOML for scripts: the prediction's keys; with --grid a table per point and per boundary.
    Toml,
}

/// Most points `--grid` accepts.
pub const MAX_POINTS: usize = 1_000_000;

/// Bisection steps of a boundary between two grid points (2^-12 of the step).
const BISECTIONS: u32 = 12;

/// The one-line prediction of `brunel run`'s summary: the lowest stationary rate and whether
/// it is stable.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryLine {
    /// The lowest stationary firing rate (Hz), to compare with the run's mean rates.
    pub rate_hz: f64,
    /// Whether that state is linearly stable: if not, the network is expected to oscillate
    /// around it (a synchronous state) rather than fire asynchronously.
    pub stable: bool,
    /// The frequency of the growing oscillation of an unstable state (Hz; 0 when it grows
    /// without oscillating); `None` when the state is stable.
    pub oscillation_hz: Option<f64>,
}

impl SummaryLine {
    /// The prediction for a config (None when the theory finds no stationary state, and for a
    /// config whose input accumulates during refractoriness, which the theory does not
    /// describe).
    pub fn of(config: &Config) -> Option<SummaryLine> {
        if config.neuron.refractory_input != RefractoryInput::Discard {
            return None;
        }
        let p = theory::predict(config);
        let s = p.lowest()?;
        Some(SummaryLine {
            rate_hz: s.rate_hz,
            stable: s.stability.is_stable(),
            oscillation_hz: s.stability.oscillation_hz(),
        })
    }

    /// `nu0 = 37.95 Hz (stable)`, `nu0 = 55.84 Hz (unstable: 190 Hz oscillation)`.
    pub fn text(&self) -> String {
        format!(
            "nu0 = {} Hz ({})",
            rate_text(self.rate_hz),
            stability_words(self.stable, self.oscillation_hz)
        )
    }
}

/// The summary TOML's keys: `theory_rate_hz`, `theory_stable` and, when unstable with an
/// oscillation, `theory_oscillation_hz`.
pub fn put_summary(t: &SummaryLine, put: &mut impl FnMut(&str, toml::Value)) {
    put("theory_rate_hz", t.rate_hz.into());
    put("theory_stable", t.stable.into());
    if let Some(f) = t.oscillation_hz {
        put("theory_oscillation_hz", f.into());
    }
}

fn stability_words(stable: bool, oscillation_hz: Option<f64>) -> String {
    match (stable, oscillation_hz) {
        (true, _) => "stable".into(),
        (false, Some(f)) if f > 0.0 => format!("unstable: {f:.0} Hz oscillation"),
        (false, _) => "unstable: grows without oscillating".into(),
    }
}

fn rate_text(r: f64) -> String {
    if r == 0.0 || (0.01..1e5).contains(&r) {
        format!("{r:.2}")
    } else {
        format!("{r:.3e}")
    }
}

/// Runs `brunel theory`.
pub fn theory(args: &TheoryArgs) -> Result<()> {
    // A FIFO or device as the config would block the read: regular files only.
    crate::output::check_input(&args.config)?;
    if let Some(out) = &args.out {
        // The output must never replace the config it was computed from.
        crate::output::check_target(out)?;
        crate::run::refuse_same_files(&[("the config", &args.config), ("--out", out)])?;
    }
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let origin = args.config.display().to_string();
    let base = Config::from_toml_with(&text, &origin, &args.set)?;
    if base.neuron.refractory_input == RefractoryInput::Accumulate {
        note!("note: the theory assumes neuron.refractory_input = \"discard\" (input lost while refractory); this config accumulates it");
    }
    if let Some(out) = &args.out {
        let _claim = crate::files::preflight(
            &[crate::files::Output::new(
                "--out",
                out,
                crate::files::Replace::Always,
            )],
            &[("the config", &args.config)],
        )?;
    }
    let output = if args.grid.is_empty() {
        let p = theory::predict(&base);
        match args.format {
            Format::Text => single_text(&base, &origin, &p),
            Format::Toml => single_toml(&p),
        }
    } else {
        let axes = grid::parse_axes(&args.grid, MAX_POINTS)?;
        let g = Grid::compute(&text, &origin, &args.set, axes)?;
        match args.format {
            Format::Text => g.text(),
            Format::Toml => g.toml(),
        }
    };
    match &args.out {
        None => crate::say_bytes(output.as_bytes()),
        Some(path) => write_file(path, &output)?,
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    crate::files::write_bytes(path, text.as_bytes(), crate::files::Replace::Always)
}

fn single_text(c: &Config, origin: &str, p: &Prediction) -> String {
    let mut s = String::new();
    let mut row = |label: &str, value: String| {
        s.push_str(&format!("{label:<18}{value}\n"));
    };
    row(
        "config",
        format!(
            "{origin}: g = {}, nu_ext/nu_thr = {}",
            c.synapse.g, c.input.ratio
        ),
    );
    row(
        "input",
        format!(
            "C_E = {}, C_I = {}, C_ext = {}, J = {} mV, D = {} ms, nu_thr = {:.4} Hz, nu_ext = {:.4} Hz",
            c.c_e(),
            c.c_i(),
            c.c_ext(),
            c.synapse.j,
            c.synapse.delay,
            c.nu_thr(),
            c.nu_ext()
        ),
    );
    row("stationary states", p.states.len().to_string());
    for st in &p.states {
        let stab = match st.stability {
            Stability::Stable => "stable".to_owned(),
            Stability::Unstable {
                frequency_hz,
                growth_per_s,
                ..
            } => {
                let growth = if growth_per_s.is_finite() {
                    format!(", grows by e in {:.1} ms", 1000.0 / growth_per_s)
                } else {
                    String::new()
                };
                if frequency_hz > 0.0 {
                    format!("unstable: {frequency_hz:.1} Hz oscillation{growth}")
                } else {
                    format!("unstable: grows without oscillating{growth}")
                }
            }
        };
        row(
            "",
            format!(
                "nu0 = {} Hz   mu = {:.3} mV   sigma = {:.3} mV   G(0) = {:.4}   {stab}",
                rate_text(st.rate_hz),
                st.mu,
                st.sigma,
                st.gain0
            ),
        );
    }
    match p.lowest() {
        Some(st) => row(
            "prediction",
            format!(
                "nu0 = {} Hz ({}), the lowest state",
                rate_text(st.rate_hz),
                stability_words(st.stability.is_stable(), st.stability.oscillation_hz())
            ),
        ),
        None => row("prediction", "no stationary state found".into()),
    }
    // `{}` writes 1e308 in its 309 digits (and `{:.3}` a huge mu as many): such numbers are
    // written 1.000e308.
    brunel_core::config::short_numbers(&s)
}

/// Fields of one prediction, flat: what `--format toml` prints per point.
fn prediction_table(p: &Prediction) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert("rate_hz".into(), p.rate_hz().into());
    t.insert(
        "rates_hz".into(),
        toml::Value::Array(p.rates_hz().into_iter().map(toml::Value::from).collect()),
    );
    t.insert("stable".into(), p.stable().into());
    if let Some(st) = p.lowest() {
        if let Stability::Unstable {
            frequency_hz,
            growth_per_s,
            ..
        } = st.stability
        {
            t.insert("oscillation_hz".into(), frequency_hz.into());
            if growth_per_s.is_finite() {
                t.insert("growth_per_s".into(), growth_per_s.into());
            }
        }
    }
    t
}

fn single_toml(p: &Prediction) -> String {
    let mut t = prediction_table(p);
    let states: Vec<toml::Value> = p
        .states
        .iter()
        .map(|st| {
            let mut s = toml::Table::new();
            s.insert("rate_hz".into(), st.rate_hz.into());
            s.insert("mu_mv".into(), st.mu.into());
            s.insert("sigma_mv".into(), st.sigma.into());
            s.insert("gain0".into(), st.gain0.into());
            s.insert("stable".into(), st.stability.is_stable().into());
            if let Stability::Unstable {
                frequency_hz,
                growth_per_s,
                ..
            } = st.stability
            {
                s.insert("oscillation_hz".into(), frequency_hz.into());
                if growth_per_s.is_finite() {
                    s.insert("growth_per_s".into(), growth_per_s.into());
                }
            }
            toml::Value::Table(s)
        })
        .collect();
    t.insert("states".into(), toml::Value::Array(states));
    toml::to_string(&t).unwrap_or_default()
}

/// Where the lowest state's stability changes between two neighbours of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundary {
    /// The axis along which it lies.
    pub axis: usize,
    /// The point on the lower-index side.
    pub from: Vec<usize>,
    /// The boundary's value on that axis (bisected; the midpoint on a non-float axis).
    pub value: f64,
    /// Whether the lowest state is stable at the lower-index side.
    pub stable_before: bool,
    /// Frequency of the oscillation on the unstable side next to the boundary (0: none).
    pub oscillation_hz: f64,
}

/// A grid of predictions.
#[derive(Debug)]
pub struct Grid {
    /// The `--grid` axes, the first varying slowest.
    pub axes: Vec<Axis>,
    /// The prediction of every point of the axes' product, in grid order.
    pub points: Vec<Prediction>,
    /// Every place where the lowest state's stability changes between two neighbouring
    /// points, located by bisection.
    pub boundaries: Vec<Boundary>,
}

impl Grid {
    /// Predicts every point of the product of `axes` over the config `text` with `set`, and
    /// locates the phase boundaries.
    pub fn compute(text: &str, origin: &str, set: &[String], axes: Vec<Axis>) -> Result<Grid> {
        let n = grid::point_count(&axes);
        let config_at = |overrides: &[String]| -> Result<Config> {
            let mut all = set.to_vec();
            all.extend_from_slice(overrides);
            Config::from_toml_with(text, origin, &all)
                .with_context(|| format!("the grid point {}", overrides.join(" ")))
        };
        // Every point's config first: a bad key or value is refused before any work. The
        // error named is the first bad point in grid order, whichever thread found an error
        // first (rayon's short-circuiting collect would name whichever it met first).
        let configs: Vec<Result<Config>> = (0..n)
            .into_par_iter()
            .map(|k| config_at(&grid::assignments(&axes, &grid::point_index(&axes, k))))
            .collect();
        let configs: Vec<Config> = configs.into_iter().collect::<Result<_>>()?;
        let points: Vec<Prediction> = configs.par_iter().map(theory::predict).collect();
        // Neighbour pairs whose lowest state's stability differs.
        let mut pairs = Vec::new();
        for k in 0..n {
            let idx = grid::point_index(&axes, k);
            for (a, axis) in axes.iter().enumerate() {
                if idx[a] + 1 >= axis.values.len() {
                    continue;
                }
                let mut next = idx.clone();
                next[a] += 1;
                let k2 = grid::point_number(&axes, &next);
                if points[k].stable() != points[k2].stable()
                    && !points[k].states.is_empty()
                    && !points[k2].states.is_empty()
                {
                    pairs.push((a, idx.clone(), k, k2));
                }
            }
        }
        let boundaries: Vec<Boundary> = pairs
            .par_iter()
            .map(|(a, idx, k, k2)| {
                let axis = &axes[*a];
                let stable_before = points[*k].stable();
                // Bisected on any numeric axis; a key that takes whole numbers only refuses the
                // first midpoint and keeps the midpoint between the two points.
                let nums = axis.numbers();
                let float_axis = nums.is_some();
                let (mut lo, mut hi) = match &nums {
                    Some(v) => (v[idx[*a]], v[idx[*a] + 1]),
                    None => (f64::NAN, f64::NAN),
                };
                let osc = |p: &Prediction| {
                    p.lowest()
                        .and_then(|s| s.stability.oscillation_hz())
                        .unwrap_or(0.0)
                };
                let mut unstable_osc = if stable_before {
                    osc(&points[*k2])
                } else {
                    osc(&points[*k])
                };
                if float_axis {
                    let mut overrides = grid::assignments(&axes, idx);
                    for _ in 0..BISECTIONS {
                        let mid = 0.5 * (lo + hi);
                        overrides[*a] = format!("{}={mid:?}", axis.key);
                        let Ok(c) = config_at(&overrides) else {
                            break;
                        };
                        let p = theory::predict(&c);
                        if p.states.is_empty() {
                            break;
                        }
                        if !p.stable() {
                            unstable_osc = osc(&p);
                        }
                        if p.stable() == stable_before {
                            lo = mid;
                        } else {
                            hi = mid;
                        }
                    }
                }
                Boundary {
                    axis: *a,
                    from: idx.clone(),
                    value: 0.5 * (lo + hi),
                    stable_before,
                    oscillation_hz: unstable_osc,
                }
            })
            .collect();
        Ok(Grid {
            axes,
            points,
            boundaries,
        })
    }

    fn coords(&self, idx: &[usize]) -> Vec<String> {
        self.axes
            .iter()
            .zip(idx)
            .map(|(a, &i)| a.values[i].to_string())
            .collect()
    }

    /// A table, one row per point, then the boundaries.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let width: Vec<usize> = self.axes.iter().map(|a| a.key.len().max(8)).collect();
        for (a, w) in self.axes.iter().zip(&width) {
            s.push_str(&format!("{:<w$}  ", a.key));
        }
        s.push_str(&format!(
            "{:>12}  {:<8}  {:>14}  rates_hz\n",
            "rate_hz", "stable", "oscillation_hz"
        ));
        for (k, p) in self.points.iter().enumerate() {
            let idx = grid::point_index(&self.axes, k);
            for (v, w) in self.coords(&idx).iter().zip(&width) {
                s.push_str(&format!("{v:<w$}  "));
            }
            let osc = p
                .lowest()
                .and_then(|st| st.stability.oscillation_hz())
                .map_or_else(|| "-".to_owned(), |f| format!("{f:.1}"));
            let rates: Vec<String> = p.rates_hz().iter().map(|&r| rate_text(r)).collect();
            s.push_str(&format!(
                "{:>12}  {:<8}  {:>14}  {}\n",
                rate_text(p.rate_hz()),
                if p.states.is_empty() {
                    "-"
                } else if p.stable() {
                    "yes"
                } else {
                    "no"
                },
                osc,
                rates.join(", ")
            ));
        }
        s.push_str(&format!(
            "\nboundaries: {} (where the lowest state's stability changes between neighbours; bisected to 1/{} of a step)\n",
            self.boundaries.len(),
            1u32 << BISECTIONS
        ));
        for b in &self.boundaries {
            let axis = &self.axes[b.axis];
            let others: Vec<String> = self
                .axes
                .iter()
                .zip(&b.from)
                .enumerate()
                .filter(|(a, _)| *a != b.axis)
                .map(|(_, (ax, &i))| format!("{} = {}", ax.key, ax.values[i]))
                .collect();
            let kind = if b.oscillation_hz > 0.0 {
                format!("{:.1} Hz oscillation", b.oscillation_hz)
            } else {
                "no oscillation (a rate instability)".into()
            };
            s.push_str(&format!(
                "  {} = {:.4}{}{}: {} below, {} above; {kind}\n",
                axis.key,
                b.value,
                if others.is_empty() { "" } else { " at " },
                others.join(", "),
                if b.stable_before {
                    "stable"
                } else {
                    "unstable"
                },
                if b.stable_before {
                    "unstable"
                } else {
                    "stable"
                },
            ));
        }
        // Grid values and rates of huge configs in 1.000e308 form, not in 309 digits.
        brunel_core::config::short_numbers(&s)
    }

    /// `[[points]]` (the grid keys, then the prediction) and `[[boundaries]]`.
    pub fn toml(&self) -> String {
        let points: Vec<toml::Value> = self
            .points
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let idx = grid::point_index(&self.axes, k);
                let mut t = toml::Table::new();
                for (a, &i) in self.axes.iter().zip(&idx) {
                    t.insert(a.key.clone(), a.values[i].clone());
                }
                t.extend(prediction_table(p));
                toml::Value::Table(t)
            })
            .collect();
        let boundaries: Vec<toml::Value> = self
            .boundaries
            .iter()
            .map(|b| {
                let mut t = toml::Table::new();
                t.insert("axis".into(), self.axes[b.axis].key.clone().into());
                t.insert("value".into(), b.value.into());
                for (a, (ax, &i)) in self.axes.iter().zip(&b.from).enumerate() {
                    if a != b.axis {
                        t.insert(ax.key.clone(), ax.values[i].clone());
                    }
                }
                t.insert("stable_below".into(), b.stable_before.into());
                t.insert("oscillation_hz".into(), b.oscillation_hz.into());
                toml::Value::Table(t)
            })
            .collect();
        let mut t = toml::Table::new();
        t.insert("points".into(), toml::Value::Array(points));
        t.insert("boundaries".into(), toml::Value::Array(boundaries));
        toml::to_string(&t).unwrap_or_default()
    }
}
