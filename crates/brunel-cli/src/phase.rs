//! The phase diagram of a sweep (`brunel plot SWEEP.h5 -o PHASE.png`, `brunel sweep --plot`),
//! drawn as Brunel (2000) draws Fig. 2: relative inhibition g on x, nu_ext/nu_thr on y. Three
//! panels: the regime of every point, the excitatory rate and the ISI CV as heatmaps; on each,
//! the mean-field theory's boundary where the stationary state loses stability (black line),
//! computed on a grid four times finer than the sweep's.

use std::path::Path;

use anyhow::{bail, Context, Result};
use brunel_core::Config;
use plotters::prelude::*;

use crate::output::{has_hdf5_signature, read_attr_str};
use crate::plot::{plot_error, register_font, FONT};

/// Whether `path` is a sweep file (`kind = "sweep"`).
pub fn is_sweep(path: &Path) -> bool {
    if !path.is_file() || !has_hdf5_signature(path) {
        return false;
    }
    hdf5::File::open(path)
        .ok()
        .and_then(|f| read_attr_str(&f, "kind").ok())
        .is_some_and(|k| k == "sweep")
}

/// What a sweep file holds for the picture.
struct Sweep {
    config: Config,
    /// (key, values) of the x axis and of the y axis (one value if the sweep has one axis).
    x: (String, Vec<f64>),
    y: (String, Vec<f64>),
    /// Values at (ix, iy).
    regime: Vec<Vec<String>>,
    rate: Vec<Vec<f64>>,
    cv: Vec<Vec<f64>>,
}

fn read(path: &Path) -> Result<Sweep> {
    let file = hdf5::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let keys: Vec<String> = read_attr_str(&file, "axes")?
        .split(',')
        .map(str::to_owned)
        .collect();
    if keys.is_empty() || keys.len() > 2 {
        bail!(
            "{} has {} grid axes; the phase diagram draws one or two",
            path.display(),
            keys.len()
        );
    }
    let config: Config = toml::from_str(&read_attr_str(&file, "config")?)
        .context("the sweep's config cannot be read")?;
    let axes = file.group("axes")?;
    let values = |key: &str| -> Result<Vec<f64>> {
        let v: Vec<f64> = axes
            .dataset(key)
            .and_then(|d| d.read_raw::<f64>())
            .with_context(|| format!("the axis {key} is not numeric: it cannot be drawn"))?;
        if v.iter().any(|x| !x.is_finite()) {
            bail!("the axis {key} holds a value that is not finite");
        }
        Ok(v)
    };
    // g on x when the sweep has it (Fig. 2), else the last axis.
    let x_index = keys
        .iter()
        .position(|k| k == "synapse.g")
        .unwrap_or(keys.len() - 1);
    let x_key = keys[x_index].clone();
    let x_values = values(&x_key)?;
    let (y_key, y_values) = if keys.len() == 2 {
        let k = keys[1 - x_index].clone();
        let v = values(&k)?;
        (k, v)
    } else {
        ("".into(), vec![0.0])
    };
    let (nx, ny) = (x_values.len(), y_values.len());
    // Datasets are stored in grid order: axis 0 slowest.
    let at = |ix: usize, iy: usize| -> usize {
        if keys.len() == 1 {
            ix
        } else if x_index == 0 {
            ix * ny + iy
        } else {
            iy * nx + ix
        }
    };
    let floats = |name: &str| -> Result<Vec<Vec<f64>>> {
        let flat: Vec<f64> = file
            .dataset(name)
            .and_then(|d| d.read_raw::<f64>())
            .with_context(|| format!("the dataset {name} is missing"))?;
        if flat.len() != nx * ny {
            bail!("the dataset {name} does not fit the grid");
        }
        Ok((0..nx)
            .map(|ix| (0..ny).map(|iy| flat[at(ix, iy)]).collect())
            .collect())
    };
    let regime_flat: Vec<String> = file
        .dataset("regime")
        .and_then(|d| d.read_raw::<hdf5::types::VarLenUnicode>())
        .context("the dataset regime is missing")?
        .into_iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    if regime_flat.len() != nx * ny {
        bail!("the dataset regime does not fit the grid");
    }
    Ok(Sweep {
        regime: (0..nx)
            .map(|ix| (0..ny).map(|iy| regime_flat[at(ix, iy)].clone()).collect())
            .collect(),
        rate: floats("rate_exc_hz")?,
        cv: floats("cv_isi")?,
        config,
        x: (x_key, x_values),
        y: (y_key, y_values),
    })
}

/// The colour of a regime in the map.
fn regime_color(label: &str) -> RGBColor {
    match label {
        "SR" => RGBColor(214, 39, 40),
        "AI" => RGBColor(44, 160, 44),
        "SI-fast" => RGBColor(31, 119, 180),
        "SI-slow" => RGBColor(255, 127, 14),
        "quiescent" => RGBColor(200, 200, 200),
        "saturated" => RGBColor(90, 20, 20),
        _ => RGBColor(255, 255, 255),
    }
}

/// A colour for `t` in [0, 1] (dark blue → yellow).
fn heat(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        return RGBColor(255, 255, 255);
    };
    let stops = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let s = t * (stops.len() - 1) as f64;
    let i = (s.floor() as usize).min(stops.len() - 2);
    let f = s - i as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * f) as u8;
    RGBColor(
        mix(stops[i].0, stops[i + 1].0),
        mix(stops[i].1, stops[i + 1].1),
        mix(stops[i].2, stops[i + 1].2),
    )
}

/// Cell edges around sorted grid values (midpoints; the ends extend by half a step).
fn edges(values: &[f64]) -> Vec<f64> {
    if values.len() == 1 {
        return vec![values[0] - 0.5, values[0] + 0.5];
    }
    let mut e = Vec::with_capacity(values.len() + 1);
    e.push(values[0] - (values[1] - values[0]) / 2.0);
    for w in values.windows(2) {
        e.push((w[0] + w[1]) / 2.0);
    }
    let n = values.len();
    e.push(values[n - 1] + (values[n - 1] - values[n - 2]) / 2.0);
    e
}

/// Segments of the theory's stability boundary on a grid 4× finer than the sweep's.
fn theory_boundary(s: &Sweep) -> Vec<[(f64, f64); 2]> {
    let ex = edges(&s.x.1);
    let ey = edges(&s.y.1);
    let fine = |e: &[f64], n: usize| -> Vec<f64> {
        let (a, b) = (e[0], e[e.len() - 1]);
        (0..=n).map(|i| a + (b - a) * i as f64 / n as f64).collect()
    };
    let xs = fine(&ex, 4 * s.x.1.len());
    let ys = if s.y.0.is_empty() {
        vec![0.0]
    } else {
        fine(&ey, 4 * s.y.1.len())
    };
    let stable = |x: f64, y: f64| -> Option<bool> {
        let mut c = s.config.clone();
        set(&mut c, &s.x.0, x)?;
        if !s.y.0.is_empty() {
            set(&mut c, &s.y.0, y)?;
        }
        crate::theory::SummaryLine::of(&c).map(|t| t.stable)
    };
    let grid: Vec<Vec<Option<bool>>> = xs
        .iter()
        .map(|&x| ys.iter().map(|&y| stable(x, y)).collect())
        .collect();
    let mut segments = Vec::new();
    for i in 0..xs.len() {
        for j in 0..ys.len() {
            let here = grid[i][j];
            if i + 1 < xs.len()
                && here.is_some()
                && grid[i + 1][j].is_some()
                && here != grid[i + 1][j]
            {
                let xm = (xs[i] + xs[i + 1]) / 2.0;
                let (y0, y1) = half_cell(&ys, j);
                segments.push([(xm, y0), (xm, y1)]);
            }
            if j + 1 < ys.len()
                && here.is_some()
                && grid[i][j + 1].is_some()
                && here != grid[i][j + 1]
            {
                let ym = (ys[j] + ys[j + 1]) / 2.0;
                let (x0, x1) = half_cell(&xs, i);
                segments.push([(x0, ym), (x1, ym)]);
            }
        }
    }
    segments
}

fn half_cell(v: &[f64], i: usize) -> (f64, f64) {
    let lo = if i == 0 {
        v[0]
    } else {
        (v[i - 1] + v[i]) / 2.0
    };
    let hi = if i + 1 == v.len() {
        v[i]
    } else {
        (v[i] + v[i + 1]) / 2.0
    };
    (lo, hi)
}

/// Sets a numeric config key given as `section.key`.
fn set(c: &mut Config, key: &str, value: f64) -> Option<()> {
    let mut table: toml::Table = toml::from_str(&c.to_toml()).ok()?;
    let (section, name) = key.split_once('.')?;
    table
        .get_mut(section)?
        .as_table_mut()?
        .insert(name.to_owned(), toml::Value::Float(value));
    *c = toml::Value::Table(table).try_into().ok()?;
    Some(())
}

/// Draws the phase diagram of the sweep file `sweep` into the PNG `out`.
pub fn plot(sweep: &Path, out: &Path) -> Result<()> {
    crate::plot::check_png(out)?;
    let _claim = crate::files::preflight(
        &[crate::files::Output::new(
            "the figure",
            out,
            crate::files::Replace::Always,
        )],
        &[("the sweep", sweep)],
    )?;
    let s = read(sweep)?;
    register_font()?;
    let boundary = theory_boundary(&s);
    let tmp = crate::files::Temp::beside(out)?;
    let draw = || -> Result<()> {
        let root = BitMapBackend::new(tmp.path(), (1500, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let panels = root.split_evenly((1, 3));
        let rate_max = s
            .rate
            .iter()
            .flatten()
            .copied()
            .filter(|x| x.is_finite())
            .fold(0.0, f64::max)
            .max(1.0);
        let cv_max =
            s.cv.iter()
                .flatten()
                .copied()
                .filter(|x| x.is_finite())
                .fold(0.0, f64::max)
                .max(0.1);
        let titles = [
            "Regime (SR red, AI green, SI fast blue, SI slow orange)".to_owned(),
            format!("Rate of E (Hz, 0–{rate_max:.0})"),
            format!("ISI CV (0–{cv_max:.2})"),
        ];
        let ex = edges(&s.x.1);
        let ey = edges(&s.y.1);
        for (p, area) in panels.iter().enumerate() {
            let area = area.margin(8, 8, 8, 8);
            let area = area
                .titled(&titles[p], (FONT, 15).into_font().color(&BLACK))
                .map_err(plot_error)?;
            let mut chart = ChartBuilder::on(&area)
                .margin_right(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(ex[0]..ex[ex.len() - 1], ey[0]..ey[ey.len() - 1])
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc(if s.x.0 == "synapse.g" {
                    "g".to_owned()
                } else {
                    s.x.0.clone()
                })
                .y_desc(if s.y.0 == "input.ratio" {
                    "ν_ext/ν_thr".to_owned()
                } else {
                    s.y.0.clone()
                })
                .axis_desc_style((FONT, 15).into_font())
                .label_style((FONT, 12).into_font())
                .draw()
                .map_err(plot_error)?;
            let cells = (0..s.x.1.len()).flat_map(|ix| (0..s.y.1.len()).map(move |iy| (ix, iy)));
            chart
                .draw_series(cells.map(|(ix, iy)| {
                    let color = match p {
                        0 => regime_color(&s.regime[ix][iy]),
                        1 => heat(s.rate[ix][iy] / rate_max),
                        _ => heat(s.cv[ix][iy] / cv_max),
                    };
                    Rectangle::new([(ex[ix], ey[iy]), (ex[ix + 1], ey[iy + 1])], color.filled())
                }))
                .map_err(plot_error)?;
            chart
                .draw_series(
                    boundary
                        .iter()
                        .map(|seg| PathElement::new(seg.to_vec(), BLACK.stroke_width(2))),
                )
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
        Ok(())
    };
    draw()
        .with_context(|| format!("cannot write the figure {}", out.display()))
        .map_err(|e| crate::files::explain(out, e))?;
    // A signal during the drawing stops here, and the temporary goes.
    crate::interrupt::check()?;
    tmp.commit(crate::files::Replace::Always)
}
