//! The shipped configs: `configs/reference.toml` is exactly the default config, and the four
//! panels of Fig. 8 have docs/model.md's parameters.

use brunel_core::{Config, RecordSpikes};
use brunel_testkit::configs_dir;

fn config(name: &str) -> Config {
    let path = configs_dir().join(name);
    Config::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn reference_is_the_default() {
    assert_eq!(config("reference.toml"), Config::default());
}

#[test]
fn fig8_panels() {
    // (file, g, nu_ext/nu_thr, simulated ms, plotted window, rate axis top)
    let panels = [
        ("fig8_a.toml", 3.0, 2.0, 600.0, [500.0, 600.0], 6000.0),
        ("fig8_b.toml", 6.0, 4.0, 1200.0, [1000.0, 1200.0], 400.0),
        ("fig8_c.toml", 5.0, 2.0, 1200.0, [1000.0, 1200.0], 200.0),
        ("fig8_d.toml", 4.5, 0.9, 1200.0, [1000.0, 1200.0], 250.0),
    ];
    for (file, g, ratio, duration, window, rate_max) in panels {
        let c = config(file);
        let mut expected = Config::default();
        expected.synapse.g = g;
        expected.input.ratio = ratio;
        expected.simulation.duration = duration;
        expected.record.spikes = RecordSpikes::First(50);
        expected.plot.window = Some(window);
        expected.plot.rate_max = Some(rate_max);
        expected.plot.title = c.plot.title.clone();
        assert_eq!(c, expected, "{file}");
        let panel = file[5..6].to_uppercase();
        assert!(
            c.plot.title.starts_with(&format!("{panel}: g=")),
            "{file}: {}",
            c.plot.title
        );
    }
}
