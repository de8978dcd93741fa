//! Fidelity to Brian2: the reference backend's four Fig. 8 panels, full size and full length,
//! against the seed-to-seed spread of docs/model.md's table (mean rates of E and I and the mean CV
//! of ISIs over the last 80 % of the run, all 12 500 neurons), for several seeds.
//!
//! What is asserted, for each statistic:
//! - the mean over the seeds lies inside the spread of Brian2 2.9's own runs: the envelope of
//!   docs/model.md's table and of the Brian2 runs measured for this project (docs/validation.md:
//!   seeds 1-8 and 4242 of panels C and D). docs/model.md's ranges alone are the extremes of about
//!   ten runs and are narrower than Brian2's spread: Brian2's seed 8 of panel D has CV 0.511,
//!   its seed 3 of panel C fires at 41.1 Hz;
//! - every single seed lies inside docs/model.md's range widened by its own width on either side, a
//!   check against a wrong regime (with the other refractory rule panel A fires at 500 Hz).
//!
//! The CV is docs/model.md's: ISIs of spikes in the last 80 %, neurons with at least two ISIs,
//! population standard deviation over mean, averaged over neurons (`NeuronStats::mean_cv`);
//! that definition was checked against Brian2 2.9's own spikes (docs/validation.md).

use brunel_core::{
    Backend, Config, Model, Network, NeuronStats, Par, ReferenceBackend, RefractoryInput,
};

struct Panel {
    /// The panel's letter: its config is `configs/fig8_<letter>.toml`.
    name: &'static str,
    rate_e: (f64, f64),
    rate_i: (f64, f64),
    cv: (f64, f64),
    /// Envelope of docs/model.md's range and Brian2's measured runs: rate E, rate I, CV.
    brian2: [(f64, f64); 3],
}

/// docs/model.md's table: panel, rate range (E and I), CV range (g, the input and the simulated time
/// are the panel's config file's).
// Brian2's measured CV 0.3927 (panel C, seed 3) is a measurement that happens to equal pi/8.
#[allow(clippy::approx_constant)]
const PANELS: [Panel; 4] = [
    Panel {
        name: "A",
        rate_e: (310.3, 311.0),
        rate_i: (310.2, 310.8),
        cv: (0.008, 0.010),
        brian2: [(310.3, 311.0), (310.2, 310.8), (0.008, 0.010)],
    },
    Panel {
        name: "B",
        rate_e: (54.7, 60.5),
        rate_i: (56.1, 59.8),
        cv: (0.58, 0.66),
        brian2: [(54.7, 60.5), (56.1, 59.8), (0.58, 0.66)],
    },
    Panel {
        name: "C",
        rate_e: (34.8, 39.2),
        rate_i: (35.7, 38.7),
        cv: (0.396, 0.405),
        brian2: [(34.8, 41.11), (35.7, 40.21), (0.3927, 0.405)],
    },
    Panel {
        name: "D",
        rate_e: (4.7, 6.3),
        rate_i: (4.8, 6.2),
        cv: (0.48, 0.50),
        brian2: [(4.7, 6.33), (4.8, 6.23), (0.4765, 0.5108)],
    },
];

/// Seeds of the test.
const SEEDS: [u64; 3] = [1, 2, 3];

fn simulate(config: &Config) -> (Model, NeuronStats) {
    let network = Network::build(config, Par::threads(0));
    let model = Model::new(config);
    let mut backend = ReferenceBackend::new(&model, &network);
    drop(network);
    let mut stats = NeuronStats::last_80_percent(model.n, model.steps);
    backend.run(model.steps, &mut stats).unwrap();
    (model, stats)
}

fn panel_config(p: &Panel, seed: u64) -> Config {
    let mut c = brunel_suite::panel(&p.name.to_lowercase());
    c.simulation.seed = seed;
    c
}

fn check_panel(p: &Panel) {
    let mut sums = [0.0; 3];
    for seed in SEEDS {
        let (m, stats) = simulate(&panel_config(p, seed));
        let values = [
            stats.mean_rate(0..m.n_e, m.dt),
            stats.mean_rate(m.n_e..m.n, m.dt),
            stats.mean_cv(),
        ];
        eprintln!(
            "panel {} seed {seed}: rate E {:.2} Hz, I {:.2} Hz, CV {:.4}",
            p.name, values[0], values[1], values[2]
        );
        for ((what, (lo, hi)), x) in statistics(p).into_iter().zip(values) {
            let slack = hi - lo;
            assert!(
                (lo - slack..=hi + slack).contains(&x),
                "panel {} seed {seed}: {what} = {x:.4} far outside docs/model.md's [{lo}, {hi}] (widened by {slack} each side)",
                p.name
            );
        }
        for (sum, x) in sums.iter_mut().zip(values) {
            *sum += x;
        }
    }
    for ((what, _), ((lo, hi), sum)) in statistics(p)
        .into_iter()
        .zip(p.brian2.into_iter().zip(sums))
    {
        let mean = sum / SEEDS.len() as f64;
        eprintln!(
            "panel {}: mean {what} over seeds {SEEDS:?} = {mean:.4}",
            p.name
        );
        assert!(
            (lo..=hi).contains(&mean),
            "panel {}: mean {what} over seeds {SEEDS:?} = {mean:.4} outside Brian2's spread [{lo}, {hi}]",
            p.name
        );
    }
}

fn statistics(p: &Panel) -> [(&'static str, (f64, f64)); 3] {
    [("rate E", p.rate_e), ("rate I", p.rate_i), ("CV", p.cv)]
}

#[test]
fn panel_a_synchronous_regular() {
    check_panel(&PANELS[0]);
}

#[test]
fn panel_b_fast_oscillation() {
    check_panel(&PANELS[1]);
}

#[test]
fn panel_c_asynchronous_irregular() {
    check_panel(&PANELS[2]);
}

#[test]
fn panel_d_slow_oscillation() {
    check_panel(&PANELS[3]);
}

/// With input accumulating during refractoriness, panel A fires at about 480-500 Hz instead of
/// 310 Hz (docs/model.md).
#[test]
fn panel_a_with_accumulating_refractory_input_fires_near_500_hz() {
    let mut c = panel_config(&PANELS[0], SEEDS[0]);
    c.neuron.refractory_input = RefractoryInput::Accumulate;
    let (m, stats) = simulate(&c);
    let rate_e = stats.mean_rate(0..m.n_e, m.dt);
    let rate_i = stats.mean_rate(m.n_e..m.n, m.dt);
    eprintln!("panel A accumulate: rate E {rate_e:.1} Hz, I {rate_i:.1} Hz");
    assert!((470.0..=510.0).contains(&rate_e), "rate E {rate_e}");
    assert!((470.0..=510.0).contains(&rate_i), "rate I {rate_i}");
}
