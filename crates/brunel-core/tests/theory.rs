//! The mean-field theory (`brunel_core::theory`): its integral against direct quadrature, its
//! fixed points against their equation, its threshold integration against the Siegert formula
//! and against finite differences of it, and the Fig. 8 panels' known values (docs/model.md: the
//! theory gives 327, 56, 38 and 6.5 Hz; Brunel 2000's Fig. 2 puts panel C in the stable AI
//! region and A, B, D in the synchronous ones: SR, SI fast, SI slow).

use std::f64::consts::PI;

use brunel_core::theory::{
    self, erfcx, loop_gain, siegert_integral_scaled, stationary_rates, Linearised, Params,
    Stability, C64,
};
use brunel_core::Config;

fn config(g: f64, ratio: f64) -> Config {
    let mut c = Config::default();
    c.synapse.g = g;
    c.input.ratio = ratio;
    c
}

/// Composite Simpson on e^{u²}(1 + erf u) itself (no erfcx), accurate where the integrand is
/// moderate.
fn simpson(a: f64, b: f64) -> f64 {
    let f = |u: f64| (u * u).exp() * (1.0 + libm_erf(u));
    let n = 20_000;
    let h = (b - a) / n as f64;
    let mut s = f(a) + f(b);
    for k in 1..n {
        s += f(a + k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 };
    }
    s * h / 3.0
}

/// erf by its Taylor series (independent of the crate's erfcx; fine for |u| <= 3).
fn libm_erf(u: f64) -> f64 {
    let mut term = u;
    let mut sum = u;
    for n in 1..200 {
        term *= -u * u / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    2.0 / PI.sqrt() * sum
}

#[test]
fn the_siegert_integral_matches_direct_quadrature() {
    for (a, b) in [
        (-3.0, 1.0),
        (-1.0, 0.3),
        (0.2, 2.5),
        (-2.9, -0.5),
        (1.5, 2.9),
        (-0.4, 0.4),
    ] {
        let (m, s) = siegert_integral_scaled(a, b);
        let ours = m.exp() * s;
        let direct = simpson(a, b);
        assert!(
            (ours - direct).abs() <= 1e-10 * direct,
            "[{a}, {b}]: {ours} vs {direct}"
        );
    }
    // Far below threshold (b = 12): e^{b²}/(b) asymptotically, with no overflow in the scaled form.
    let (m, s) = siegert_integral_scaled(2.0, 12.0);
    assert_eq!(m, 144.0);
    let expected = 1.0 / 12.0 * (1.0 + 1.0 / (2.0 * 144.0) + 3.0 / (4.0 * 144.0 * 144.0));
    assert!((s - expected).abs() < 1e-5 * expected, "{s} vs {expected}");
    // Far above threshold: the integrand erfcx(|u|) ~ 1/(sqrt(pi)|u|).
    let (m, s) = siegert_integral_scaled(-2000.0, -1000.0);
    assert_eq!(m, 0.0);
    let expected = (2.0f64).ln() / PI.sqrt();
    assert!((s - expected).abs() < 1e-6 * expected, "{s} vs {expected}");
}

#[test]
fn erfcx_is_continuous_and_positive_everywhere() {
    let mut prev = erfcx(-26.0);
    let mut x = -26.0;
    while x < 60.0 {
        x += 0.01;
        let y = erfcx(x);
        assert!(y > 0.0 && y < prev, "erfcx decreases: x = {x}");
        prev = y;
    }
}

#[test]
fn stationary_rates_satisfy_their_equation() {
    for (g, ratio) in [
        (3.0, 2.0),
        (6.0, 4.0),
        (5.0, 2.0),
        (4.5, 0.9),
        (2.0, 0.8),
        (8.0, 0.5),
    ] {
        let p = Params::from_config(&config(g, ratio));
        let rates = stationary_rates(&p);
        assert!(!rates.is_empty(), "g = {g}, ratio = {ratio}");
        for nu in rates {
            let out = p.response(nu);
            assert!(
                (out - nu).abs() <= 1e-9 * nu,
                "g = {g}, ratio = {ratio}: Phi({nu}) = {out}"
            );
        }
    }
}

#[test]
fn the_four_panels_rates_are_the_known_ones() {
    // docs/model.md: "mean-field theory gives 327, 56, 38 and 6.5 Hz".
    for (g, ratio, rate) in [
        (3.0, 2.0, 327.0),
        (6.0, 4.0, 56.0),
        (5.0, 2.0, 38.0),
        (4.5, 0.9, 6.5),
    ] {
        let p = theory::predict(&config(g, ratio));
        assert_eq!(p.states.len(), 1, "g = {g}: {:?}", p.rates_hz());
        let got = p.rate_hz();
        assert!(
            (got - rate).abs() < 0.01 * rate,
            "g = {g}, ratio = {ratio}: {got} Hz, expected about {rate}"
        );
    }
}

#[test]
fn panel_c_is_stable_and_within_the_simulated_spread() {
    let p = theory::predict(&config(5.0, 2.0));
    assert!(p.stable());
    // docs/model.md's spread of simulated rates (E and I) of panel C over ten seeds: 34.8 - 39.2 Hz.
    assert!((34.8..=39.2).contains(&p.rate_hz()), "{}", p.rate_hz());
}

#[test]
fn panels_a_b_d_oscillate_at_their_regimes_frequencies() {
    // A: synchronous regular, a fast mode near 1/D; B: SI fast (about 180 Hz in the paper);
    // D: SI slow (tens of Hz).
    for (g, ratio, range) in [
        (3.0, 2.0, 500.0..800.0),
        (6.0, 4.0, 150.0..230.0),
        (4.5, 0.9, 10.0..60.0),
    ] {
        let p = theory::predict(&config(g, ratio));
        let s = p.lowest().unwrap();
        match s.stability {
            Stability::Unstable {
                frequency_hz,
                growth_per_s,
                ..
            } => {
                assert!(range.contains(&frequency_hz), "g = {g}: {frequency_hz} Hz");
                assert!(growth_per_s > 0.0, "g = {g}: growth {growth_per_s}");
                // The root is a root: 1 = G(λ).
                let lam = C64::new(growth_per_s, 2.0 * PI * frequency_hz);
                let params = Params::from_config(&config(g, ratio));
                let lin = Linearised::new(&params, s.rate_hz, 1.0);
                let gl = loop_gain(&params, &lin, &[lam])[0];
                assert!(
                    (gl - C64::new(1.0, 0.0)).norm() < 1e-6,
                    "g = {g}: G = {gl:?}"
                );
            }
            Stability::Stable => panic!("g = {g}, ratio = {ratio} should be unstable"),
        }
    }
}

#[test]
fn threshold_integration_agrees_with_the_siegert_formula() {
    for (g, ratio) in [(3.0, 2.0), (6.0, 4.0), (5.0, 2.0), (4.5, 0.9), (5.0, 1.2)] {
        let p = Params::from_config(&config(g, ratio));
        for nu in stationary_rates(&p) {
            let lin = Linearised::new(&p, nu, 1.0);
            // Its own steady-state rate against the Siegert formula's.
            assert!(
                (lin.rate_ti - nu).abs() < 1e-3 * nu,
                "g = {g}: {} vs {nu}",
                lin.rate_ti
            );
            let fine = Linearised::new(&p, nu, 4.0);
            assert!(
                (fine.rate_ti - nu).abs() < 1e-4 * nu,
                "g = {g}: {} vs {nu} (fine grid)",
                fine.rate_ti
            );
            // G(0) against the finite-difference slope of nu -> Phi(mu(nu), sigma(nu)).
            let h = 1e-5 * nu;
            let slope = (p.response(nu + h) - p.response(nu - h)) / (2.0 * h);
            // The scale of G(0) is that of its mean and variance parts, O(1) each, which
            // nearly cancel in panel D (G(0) = -0.004): the tolerance is absolute below 1.
            assert!(
                (lin.gain0() - slope).abs() < 2e-3 * slope.abs().max(1.0),
                "g = {g}, ratio = {ratio}: G(0) = {} vs slope {slope}",
                lin.gain0()
            );
            assert!(
                (fine.gain0() - slope).abs() < 3e-4 * slope.abs().max(1.0),
                "g = {g}, ratio = {ratio}: G(0) = {} vs slope {slope} (fine grid)",
                fine.gain0()
            );
            // Small frequencies continue G(0).
            let g_small = loop_gain(&p, &lin, &[C64::new(0.0, 2.0 * PI * 0.01)])[0];
            assert!(
                (g_small.re - lin.gain0()).abs() < 1e-3 * lin.gain0().abs().max(1.0),
                "g = {g}: {g_small:?} vs {}",
                lin.gain0()
            );
        }
    }
}

#[test]
fn the_response_converges_with_the_voltage_grid() {
    let p = Params::from_config(&config(5.0, 2.0));
    let nu = stationary_rates(&p)[0];
    let lambdas: Vec<C64> = [5.0, 50.0, 200.0, 700.0, 1500.0]
        .iter()
        .map(|&f| C64::new(0.0, 2.0 * PI * f))
        .collect();
    let coarse = Linearised::new(&p, nu, 1.0).response(&lambdas);
    let fine = Linearised::new(&p, nu, 8.0).response(&lambdas);
    for (c, f) in coarse.iter().zip(&fine) {
        assert!(
            (*c - *f).norm() < 2e-3 * f.norm().max(0.1),
            "{c:?} vs {f:?}"
        );
    }
}

#[test]
fn three_states_where_excitation_dominates_at_low_input() {
    // g = 2, nu_ext/nu_thr = 0.8: a quiet state, an unstable middle one (G(0) > 1, a rate
    // instability without oscillation) and a saturated one near 1/tau_rp.
    let p = theory::predict(&config(2.0, 0.8));
    assert_eq!(p.states.len(), 3, "{:?}", p.rates_hz());
    let [low, mid, high] = [p.states[0], p.states[1], p.states[2]];
    assert!(low.rate_hz < 0.1 && low.stability.is_stable());
    assert!(mid.gain0 > 1.0);
    assert_eq!(mid.stability.oscillation_hz(), Some(0.0));
    assert!(high.rate_hz > 300.0 && high.rate_hz < 500.0);
    assert!(!high.stability.is_stable());
    assert!(p.stable(), "the lowest state decides");
}

#[test]
fn no_input_and_no_refractoriness_are_handled() {
    // Without external input the only state is silence.
    let p = theory::predict(&config(5.0, 0.0));
    assert_eq!(p.rates_hz(), [0.0]);
    assert!(p.stable());
    // Without a refractory period rates are not capped at 1/tau_rp.
    let mut c = config(5.0, 2.0);
    c.neuron.tau_rp = 0.0;
    let p = theory::predict(&c);
    assert_eq!(p.states.len(), 1);
    assert!(p.rate_hz() > 30.0 && p.rate_hz() < 60.0, "{}", p.rate_hz());
}

#[test]
fn stability_changes_once_between_panels_a_and_c() {
    // Along g at nu_ext/nu_thr = 2: SR (unstable) at g = 3, AI (stable) from about g = 3.3 on.
    let stable: Vec<bool> = (0..=20)
        .map(|k| theory::predict(&config(3.0 + 0.1 * k as f64, 2.0)).stable())
        .collect();
    assert!(!stable[0] && stable[20]);
    let changes = stable.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(changes, 1, "{stable:?}");
}
