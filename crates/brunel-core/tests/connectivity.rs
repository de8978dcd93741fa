//! Connectivity: statistics against theory, exact in-degrees, determinism.

use brunel_core::{Config, Connectivity, Network, Par};

fn config(n_e: u64, epsilon: f64, connectivity: Connectivity, seed: u64) -> Config {
    let mut c = Config::default();
    c.network.n_e = n_e;
    c.network.epsilon = epsilon;
    c.network.connectivity = connectivity;
    c.simulation.seed = seed;
    c
}

fn rows_are_strictly_ascending(net: &Network) -> bool {
    (0..net.n).all(|s| net.row(s).windows(2).all(|w| w[0] < w[1]))
}

fn mean_var(xs: &[u32]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

#[test]
fn bernoulli_in_degrees_match_binomial_mean_and_variance() {
    let c = config(4000, 0.1, Connectivity::Bernoulli, 7);
    let net = Network::build(&c, Par::threads(2));
    assert_eq!(net.n, 5000);
    assert!(
        rows_are_strictly_ascending(&net),
        "at most one synapse per ordered pair"
    );
    let (exc, inh) = net.in_degrees();
    for (what, degrees, sources) in [("E", &exc, 4000.0), ("I", &inh, 1000.0)] {
        let (p, n): (f64, f64) = (0.1, sources);
        let (mean, var) = mean_var(degrees);
        let theory_var = n * p * (1.0 - p);
        // Standard errors of the sample mean and variance over 5000 neurons.
        let se_mean = (theory_var / 5000.0).sqrt();
        let se_var = theory_var * (2.0 / 4999.0f64).sqrt();
        assert!(
            (mean - n * p).abs() < 5.0 * se_mean,
            "{what}: mean {mean} vs {}",
            n * p
        );
        assert!(
            (var - theory_var).abs() < 5.0 * se_var,
            "{what}: var {var} vs {theory_var}"
        );
    }
    // Self-connections are allowed, as in Brian2 (expected about N·epsilon = 500 of them).
    let autapses = (0..net.n).filter(|&s| net.row(s).contains(&s)).count();
    assert!(
        (350..650).contains(&autapses),
        "{autapses} self-connections"
    );
}

#[test]
fn fixed_indegree_is_exact() {
    let c = config(2000, 0.1, Connectivity::FixedIndegree, 11);
    let net = Network::build(&c, Par::threads(2));
    let (exc, inh) = net.in_degrees();
    assert!(
        exc.iter().all(|&d| d as u64 == c.c_e()),
        "every neuron has C_E = {}",
        c.c_e()
    );
    assert!(
        inh.iter().all(|&d| d as u64 == c.c_i()),
        "every neuron has C_I = {}",
        c.c_i()
    );
    assert_eq!(net.n_synapses(), c.n() * (c.c_e() + c.c_i()));
    assert!(
        rows_are_strictly_ascending(&net),
        "sources of a target are distinct"
    );
}

#[test]
fn the_same_seed_gives_the_same_network_whatever_the_thread_count() {
    for connectivity in [Connectivity::Bernoulli, Connectivity::FixedIndegree] {
        let c = config(1500, 0.2, connectivity, 3);
        let one = Network::build(&c, Par::Seq);
        for threads in [2, 3, 7] {
            assert_eq!(
                one,
                Network::build(&c, Par::threads(threads)),
                "{connectivity:?}, {threads} threads"
            );
        }
        let other = Network::build(&config(1500, 0.2, connectivity, 4), Par::Seq);
        assert_ne!(
            one.targets, other.targets,
            "{connectivity:?}: another seed, another network"
        );
    }
}

#[test]
fn epsilon_one_connects_every_pair() {
    let c = config(40, 1.0, Connectivity::Bernoulli, 1);
    let net = Network::build(&c, Par::Seq);
    assert_eq!(net.n_synapses(), 50 * 50);
}

#[test]
fn the_fig8_network_has_about_15_6_million_synapses() {
    let c = Config::default();
    let net = Network::build(&c, Par::threads(0));
    let expected = 12_500f64 * 12_500.0 * 0.1;
    let sd = (12_500f64 * 12_500.0 * 0.1 * 0.9).sqrt();
    let got = net.n_synapses() as f64;
    assert!(
        (got - expected).abs() < 5.0 * sd,
        "{got} synapses, expected {expected} ± {sd}"
    );
}
