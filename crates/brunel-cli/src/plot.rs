//! `brunel plot`: one panel per result file, as Brian2's example draws Fig. 8: a raster of
//! neurons 0..50 over the plotted window on top, the population rate below over the same
//! window. Several files are drawn side by side.
//!
//! The window, the rate axis and the title come from each file's `[plot]` config: window
//! default the last 200 ms of the run, rate axis default the highest rate in the window (see
//! brunel-core's config.rs).

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{anyhow, bail, Context, Result};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::output::{self, Results};

/// DejaVu Sans (Bitstream Vera licence, see assets/DejaVuSans-LICENSE.txt), embedded so that
/// no system font is needed.
static DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
pub(crate) const FONT: &str = "DejaVu Sans";

/// Neurons shown in the raster: 0..RASTER_NEURONS, as Brian2's `SpikeMonitor(neurons[:50])`.
const RASTER_NEURONS: u64 = 50;
/// Pixels of one panel.
const PANEL_WIDTH: u32 = 560;
const PANEL_HEIGHT: u32 = 720;
/// Default plotted window: the last this many ms of the run.
const DEFAULT_WINDOW_MS: f64 = 200.0;

pub(crate) fn register_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS)
            .map_err(|_| anyhow!("the embedded DejaVu Sans font cannot be loaded"));
    });
    result
}

/// What one panel shows.
pub(crate) struct Panel {
    results: Results,
    window: [f64; 2],
    rate_max: f64,
    title: String,
}

impl Panel {
    pub(crate) fn from_file(path: &Path) -> Result<Panel> {
        let results = output::read_guarded(path)?;
        // Parsed without validation: a file made on a larger machine must still plot here.
        let config: brunel_core::Config = toml::from_str(&results.provenance.config)
            .with_context(|| format!("{}: the stored config cannot be read", path.display()))?;
        let end = results.start + results.rate.len() as f64 * results.dt;
        if results.rate.is_empty() {
            bail!(
                "{}: the run is 0 ms long, so there is nothing to plot",
                path.display()
            );
        }
        let window = config
            .plot
            .window
            .unwrap_or([(end - DEFAULT_WINDOW_MS).max(results.start), end]);
        // The stored config is not validated (see above), so its plot keys are checked here:
        // an infinite window or rate axis would never finish drawing.
        if !(window[0].is_finite() && window[1].is_finite() && window[0] < window[1]) {
            bail!(
                "{}: plot.window [{}, {}] is not a finite interval [start, end]",
                path.display(),
                window[0],
                window[1]
            );
        }
        if let Some(r) = config.plot.rate_max {
            if !(r.is_finite() && r > 0.0) {
                bail!(
                    "{}: plot.rate_max = {r} is not a finite rate > 0",
                    path.display()
                );
            }
        }
        if window[0] >= end || window[1] <= results.start {
            bail!(
                "{}: plot.window [{}, {}] ms lies outside the run ({}–{} ms)",
                path.display(),
                window[0],
                window[1],
                results.start,
                end
            );
        }
        let rate_max = match config.plot.rate_max {
            Some(r) => r,
            None => {
                let highest = in_window(&results, window)
                    .map(|(_, r)| r)
                    .fold(0.0, f64::max);
                if highest > 0.0 {
                    highest * 1.05
                } else {
                    1.0
                }
            }
        };
        let title = if config.plot.title.is_empty() {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            config.plot.title.clone()
        };
        Ok(Panel {
            results,
            window,
            rate_max,
            title,
        })
    }
}

/// (time, rate) of the steps inside `window`.
fn in_window(r: &Results, window: [f64; 2]) -> impl Iterator<Item = (f64, f64)> + '_ {
    r.rate
        .iter()
        .enumerate()
        .map(move |(k, &rate)| (r.start + k as f64 * r.dt, rate))
        .filter(move |&(t, _)| t >= window[0] && t <= window[1])
}

/// Figures are PNG files: refuses any other name before anything is computed.
pub fn check_png(out: &Path) -> Result<()> {
    match out.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("png") => Ok(()),
        _ => bail!("{}: the figure must be a .png file", out.display()),
    }
}

/// Draws one panel per file, side by side, into the PNG `out` (replaced if it exists).
pub fn plot_files(files: &[PathBuf], out: &Path) -> Result<()> {
    if files.is_empty() {
        bail!("no result file to plot");
    }
    check_png(out)?;
    output::check_target(out)?;
    if let Some(input) = files.iter().find(|f| crate::run::same_file(f, out)) {
        bail!(
            "-o names the input {}; the figure must go to another file",
            input.display()
        );
    }
    let inputs: Vec<(&str, &Path)> = files.iter().map(|f| ("a result", f.as_path())).collect();
    let _claim = crate::files::preflight(
        &[crate::files::Output::new(
            "-o",
            out,
            crate::files::Replace::Always,
        )],
        &inputs,
    )?;
    let panels = files
        .iter()
        .map(|f| Panel::from_file(f))
        .collect::<Result<Vec<_>>>()?;
    register_font()?;
    let tmp = crate::files::Temp::beside(out)?;
    draw(&panels, tmp.path())
        .with_context(|| format!("cannot write the figure {}", out.display()))
        .map_err(|e| crate::files::explain(out, e))?;
    // The drawing has no place to look at the flag: a signal during it stops here, and the
    // temporary goes.
    crate::interrupt::test_point("drawn");
    crate::interrupt::check()?;
    tmp.commit(crate::files::Replace::Always)
}

pub(crate) fn draw(panels: &[Panel], png: &Path) -> Result<()> {
    let size = (PANEL_WIDTH * panels.len() as u32, PANEL_HEIGHT);
    let root = BitMapBackend::new(png, size).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
        draw_panel(area, panel)?;
    }
    root.present()
        .map_err(plot_error)
        .with_context(|| format!("cannot write {}", png.display()))
}

pub(crate) fn plot_error<E: std::error::Error + Send + Sync + 'static>(
    e: DrawingAreaErrorKind<E>,
) -> anyhow::Error {
    anyhow!("drawing failed: {e}")
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    panel: &Panel,
) -> Result<()> {
    let [t0, t1] = panel.window;
    let area = area.margin(8, 8, 8, 12);
    let area = area
        .titled(&panel.title, (FONT, 21).into_font().color(&BLACK))
        .map_err(plot_error)?;
    let (_, height) = area.dim_in_pixel();
    let (top, bottom) = area.split_vertically(height * 62 / 100);
    let label_font = (FONT, 16).into_font();
    let tick_font = (FONT, 13).into_font();

    // Raster: neurons 0..50 inside the window.
    let mut raster = ChartBuilder::on(&top)
        .margin_right(10)
        .margin_top(4)
        .x_label_area_size(8)
        .y_label_area_size(58)
        .build_cartesian_2d(t0..t1, -0.5..(RASTER_NEURONS as f64 - 0.5))
        .map_err(plot_error)?;
    raster
        .configure_mesh()
        .disable_mesh()
        .x_labels(6)
        .x_label_formatter(&|_| String::new())
        .y_labels(6)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc("Neuron index")
        .axis_desc_style(label_font.clone())
        .label_style(tick_font.clone())
        .draw()
        .map_err(plot_error)?;
    frame(&raster, [t0, t1], [-0.5, RASTER_NEURONS as f64 - 0.5])?;
    let spikes = panel
        .results
        .timestamps
        .iter()
        .zip(&panel.results.node_ids)
        .filter(|&(&t, &id)| id < RASTER_NEURONS && t >= t0 && t <= t1);
    raster
        .draw_series(spikes.map(|(&t, &id)| Circle::new((t, id as f64), 1.6, BLACK.filled())))
        .map_err(plot_error)?;

    // Population rate over the same window.
    let mut rate = ChartBuilder::on(&bottom)
        .margin_right(10)
        .margin_top(6)
        .x_label_area_size(44)
        .y_label_area_size(58)
        .build_cartesian_2d(t0..t1, 0.0..panel.rate_max)
        .map_err(plot_error)?;
    rate.configure_mesh()
        .disable_mesh()
        .x_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_labels(4)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_desc("Time (ms)")
        .y_desc("Rate (Hz)")
        .axis_desc_style(label_font)
        .label_style(tick_font)
        .draw()
        .map_err(plot_error)?;
    frame(&rate, [t0, t1], [0.0, panel.rate_max])?;
    let max = panel.rate_max;
    rate.draw_series(LineSeries::new(
        in_window(&panel.results, panel.window).map(|(t, r)| (t, r.min(max))),
        BLACK.stroke_width(1),
    ))
    .map_err(plot_error)?;
    Ok(())
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Closes the axes into a box (top and right edges), as a matplotlib figure draws them.
fn frame(chart: &Chart<'_, '_>, x: [f64; 2], y: [f64; 2]) -> Result<()> {
    chart
        .plotting_area()
        .draw(&PathElement::new(
            vec![(x[0], y[1]), (x[1], y[1]), (x[1], y[0])],
            BLACK.stroke_width(1),
        ))
        .map_err(plot_error)
}
