//! The mean-field theory always finishes: drives from almost nothing (10⁻³²⁰ of the threshold
//! rate) to enormous, and tiny or huge couplings, each give an answer within seconds, and the
//! Siegert integral's far-above-threshold series joins its quadrature smoothly.

use std::sync::mpsc;
use std::time::Duration;

use brunel_core::theory::{self, siegert_integral_scaled};
use brunel_core::Config;

/// Runs `theory::predict` on a thread and fails if it has not answered within 30 s (a hang
/// would otherwise stall the whole suite).
fn predict_within(c: Config, what: &str) -> theory::Prediction {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(theory::predict(&c));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("the theory of {what} did not finish within 30 s"))
}

#[test]
fn tiny_and_huge_drives_finish() {
    for ratio in [
        1e-320, 1e-300, 1e-100, 1e-30, 1e-14, 1e-10, 1e-6, 1e3, 1e8, 1e30,
    ] {
        let mut c = Config::default();
        c.input.ratio = ratio;
        let p = predict_within(c, &format!("input.ratio = {ratio:e}"));
        for s in &p.states {
            assert!(
                s.rate_hz.is_finite() && s.rate_hz >= 0.0,
                "ratio {ratio:e}: rate {}",
                s.rate_hz
            );
        }
        if ratio <= 1e-6 {
            // With almost no drive the network is silent: its lowest state is (nearly) 0 Hz.
            assert!(
                p.rate_hz() < 1e-3,
                "ratio {ratio:e}: lowest rate {} Hz",
                p.rate_hz()
            );
        }
    }
}

#[test]
fn tiny_and_huge_couplings_finish() {
    for j in [1e-300, 1e-12, 1e-6, 50.0, 1e6, 1e8, 1e150] {
        let mut c = Config::default();
        c.synapse.j = j;
        let p = predict_within(c, &format!("synapse.j = {j:e}"));
        for s in &p.states {
            assert!(s.rate_hz.is_finite(), "j {j:e}: rate {}", s.rate_hz);
        }
    }
}

#[test]
fn the_far_above_series_joins_the_quadrature() {
    // Just below 10⁴ σ the quadrature runs, just above it the series: both scaled sums are
    // (1 + 1/(2b²))/b. The quadrature is good to about 10⁻⁸ there: u² − b² cancels the
    // digits of u² ≈ 10⁸, so the two agree to that.
    for a in [-3.0, 0.5, 9_000.0] {
        let (b1, b2) = (9_999.999_999, 10_000.000_001);
        let (_, s1) = siegert_integral_scaled(a, b1);
        let (_, s2) = siegert_integral_scaled(a, b2);
        assert!(
            (s1 * b1 - s2 * b2).abs() < 1e-7,
            "a = {a}: b·sum {} against {}",
            s1 * b1,
            s2 * b2
        );
    }
    // Far out the sum is 1/b (to f64 precision) and finite.
    for b in [1e5, 1e10, 1e100, 1e200] {
        let (_, s) = siegert_integral_scaled(b * 0.5, b);
        assert!(((s * b) - 1.0).abs() < 1e-9, "b = {b:e}: b·sum = {}", s * b);
    }
}

#[test]
fn extreme_networks_finish() {
    type Case = (&'static str, fn(&mut Config));
    let cases: [Case; 6] = [
        ("g = 0", |c| c.synapse.g = 0.0),
        ("g = 1e6", |c| c.synapse.g = 1e6),
        ("epsilon = 1", |c| c.network.epsilon = 1.0),
        ("tau_rp = 0", |c| c.neuron.tau_rp = 0.0),
        ("v_reset just below theta", |c| {
            c.neuron.v_reset = 19.999_999
        }),
        ("a long delay", |c| c.synapse.delay = 500.0),
    ];
    for (what, set) in cases {
        let mut c = Config::default();
        set(&mut c);
        let p = predict_within(c, what);
        for s in &p.states {
            assert!(
                s.rate_hz.is_finite() && s.rate_hz >= 0.0,
                "{what}: rate {}",
                s.rate_hz
            );
        }
    }
}
