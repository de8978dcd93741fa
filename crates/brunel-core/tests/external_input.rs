//! External input: the per-step counts drawn through the counter-based generator follow
//! Binomial(C_ext, nu_ext·dt) (chi-square goodness of fit), and the 32-bit uniforms are uniform
//! (Kolmogorov-Smirnov).

use brunel_core::binomial::BinomialTable;
use brunel_core::rng;

/// ln C(n, k) by sums of logarithms (independent of the table's recurrence).
fn ln_choose(n: u64, k: u64) -> f64 {
    let k = k.min(n - k);
    (0..k)
        .map(|i| ((n - i) as f64).ln() - ((i + 1) as f64).ln())
        .sum()
}

fn pmf(n: u64, p: f64, k: u64) -> f64 {
    (ln_choose(n, k) + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp()
}

/// Upper quantile of chi-square with `df` degrees of freedom (Wilson-Hilferty), at z.
fn chi2_quantile(df: f64, z: f64) -> f64 {
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

/// Chi-square statistic and degrees of freedom of `counts` against Binomial(n, p), with bins
/// merged so that every expected count is at least 5.
fn chi_square(counts: &[u64], total: u64, n: u64, p: f64) -> (f64, f64) {
    let mut stat = 0.0;
    let mut bins = 0;
    let (mut obs, mut exp) = (0.0, 0.0);
    let mut tail_exp = 1.0;
    for k in 0..=n {
        let e = pmf(n, p, k) * total as f64;
        tail_exp -= e / total as f64;
        obs += counts.get(k as usize).copied().unwrap_or(0) as f64;
        exp += e;
        if exp >= 5.0 && tail_exp * total as f64 >= 5.0 {
            stat += (obs - exp).powi(2) / exp;
            bins += 1;
            obs = 0.0;
            exp = 0.0;
        }
        if tail_exp * (total as f64) < 5.0 {
            // Everything from here on goes into one last bin.
            let rest: u64 = counts.iter().skip(k as usize + 1).sum();
            let e_rest = tail_exp.max(0.0) * total as f64;
            obs += rest as f64;
            exp += e_rest;
            stat += (obs - exp).powi(2) / exp;
            bins += 1;
            break;
        }
    }
    (stat, (bins - 1) as f64)
}

#[test]
fn per_step_counts_fit_the_binomial() {
    // Brunel's panels: C_ext = 1000, p = nu_ext·dt = 0.0018 (D), 0.002 (A, C), 0.004 (B); and a
    // case with a large mean.
    for (seed, n, p) in [
        (1u64, 1000u64, 0.0018),
        (2, 1000, 0.002),
        (3, 1000, 0.004),
        (4, 200, 0.3),
    ] {
        let table = BinomialTable::new(n, p);
        let key = rng::seed_key(seed);
        let mut counts = vec![0u64; n as usize + 1];
        let (neurons, steps) = (500u32, 400u64);
        for step in 0..steps {
            for neuron in 0..neurons {
                let x = table.sample(rng::external_uniform(key, neuron, step));
                counts[x as usize] += 1;
            }
        }
        let total = neurons as u64 * steps;
        let (stat, df) = chi_square(&counts, total, n, p);
        // z = 3.09: a 0.1 % test.
        let critical = chi2_quantile(df, 3.09);
        assert!(
            stat < critical,
            "n={n} p={p}: chi2 = {stat:.1} with {df} df > {critical:.1}"
        );
        let mean = counts
            .iter()
            .enumerate()
            .map(|(k, &c)| k as f64 * c as f64)
            .sum::<f64>()
            / total as f64;
        let se = (n as f64 * p * (1.0 - p) / total as f64).sqrt();
        assert!(
            (mean - n as f64 * p).abs() < 4.0 * se,
            "n={n} p={p}: mean {mean}"
        );
    }
}

#[test]
fn a_wrong_probability_is_rejected_by_the_same_test() {
    // The test has power: draws with p = 0.0021 do not pass for Binomial(1000, 0.002).
    let table = BinomialTable::new(1000, 0.0021);
    let key = rng::seed_key(9);
    let mut counts = vec![0u64; 1001];
    for step in 0..400u64 {
        for neuron in 0..500u32 {
            counts[table.sample(rng::external_uniform(key, neuron, step)) as usize] += 1;
        }
    }
    let (stat, df) = chi_square(&counts, 200_000, 1000, 0.002);
    assert!(
        stat > chi2_quantile(df, 3.09),
        "chi2 = {stat:.1} should reject"
    );
}

#[test]
fn the_uniforms_are_uniform() {
    let key = rng::seed_key(12345);
    let mut us: Vec<f64> = (0..50_000u32)
        .map(|i| rng::external_uniform(key, i % 997, (i / 997) as u64) as f64 / 4_294_967_296.0)
        .collect();
    us.sort_by(f64::total_cmp);
    let n = us.len() as f64;
    let d = us
        .iter()
        .enumerate()
        .map(|(i, &u)| ((i + 1) as f64 / n - u).max(u - i as f64 / n))
        .fold(0.0, f64::max);
    // Kolmogorov-Smirnov at the 0.1 % level: 1.95 / sqrt(n).
    assert!(d < 1.95 / n.sqrt(), "KS distance {d}");
}
