//! Configuration: defaults, overrides, and one message per kind of bad value, naming the key.

use brunel_core::{Config, Connectivity, RecordSpikes, RefractoryInput};

#[test]
fn an_empty_file_is_brunels_network_with_panel_c_input() {
    let c = Config::from_toml("").unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(
        (c.n(), c.n_i(), c.c_e(), c.c_ext()),
        (12_500, 2_500, 1_000, 1_000)
    );
    assert!((c.nu_thr() - 10.0).abs() < 1e-12, "nu_thr = {}", c.nu_thr());
    assert_eq!(c.steps(), 12_000);
    assert_eq!(c.neuron.refractory_input, RefractoryInput::Discard);
    assert_eq!(c.network.connectivity, Connectivity::Bernoulli);
    assert_eq!(c.record.spikes, RecordSpikes::First(50));
}

#[test]
fn the_resolved_toml_reads_back_to_the_same_config() {
    let c = Config::from_toml_with(
        "[synapse]\ng = 6\n[plot]\nwindow = [1000, 1200]\nrate_max = 400",
        "text",
        &[
            "input.ratio=4".into(),
            "record.spikes=all".into(),
            "network.connectivity=\"fixed_indegree\"".into(),
        ],
    )
    .unwrap();
    assert_eq!(c.synapse.g, 6.0);
    assert_eq!(c.input.ratio, 4.0);
    assert_eq!(c.record.spikes, RecordSpikes::All);
    assert_eq!(c.network.connectivity, Connectivity::FixedIndegree);
    assert_eq!(c.plot.window, Some([1000.0, 1200.0]));
    assert_eq!(Config::from_toml(&c.to_toml()).unwrap(), c);
}

/// Seeds take the whole u64 range: an integer up to 2^63 - 1, a string above, and both forms
/// read back from `to_toml`, and the bare number works as an override.
#[test]
fn every_u64_seed_round_trips() {
    for seed in [0u64, 1, i64::MAX as u64, 1 << 63, u64::MAX - 1, u64::MAX] {
        for form in [format!("{seed}"), format!("\"{seed}\"")] {
            if form.parse::<i64>().is_err() && !form.starts_with('"') {
                // TOML integers stop at 2^63 - 1: only the string form exists above.
                assert!(Config::from_toml(&format!("[simulation]\nseed = {form}")).is_err());
                continue;
            }
            let c = Config::from_toml(&format!("[simulation]\nseed = {form}")).unwrap();
            assert_eq!(c.simulation.seed, seed, "{form}");
            let text = c.to_toml();
            assert_eq!(Config::from_toml(&text).unwrap(), c, "{text}");
            // An override with the bare number (not valid TOML above 2^63 - 1) works too.
            let o =
                Config::from_toml_with("", "text", &[format!("simulation.seed={seed}")]).unwrap();
            assert_eq!(o.simulation.seed, seed);
        }
    }
}

/// A config larger than [`brunel_core::config::MAX_CONFIG_BYTES`] is refused, and an error
/// about a long value, key or override quotes it clipped (under 2 000 bytes), not whole.
#[test]
fn big_input_is_refused_and_not_echoed() {
    let big = format!("# {}\n", "x".repeat(brunel_core::config::MAX_CONFIG_BYTES));
    let e = Config::from_toml(&big).unwrap_err().to_string();
    assert!(e.contains("a config may be at most 1 MiB"), "{e}");
    let long = format!("[plot]\ntitle = \"{}", "y".repeat(100_000));
    let e = Config::from_toml(&long).unwrap_err().to_string();
    assert!(e.len() < 2000, "{} bytes: {e}", e.len());
    let key = format!("[network]\n{} = 1", "k".repeat(100_000));
    let e = Config::from_toml(&key).unwrap_err().to_string();
    assert!(e.len() < 2000 && e.contains("unknown field"), "{e}");
    let o = format!("synapse.{}=1", "g".repeat(100_000));
    let e = Config::from_toml_with("", "text", &[o])
        .unwrap_err()
        .to_string();
    assert!(e.len() < 2000, "{e}");
}

#[test]
fn bad_values_are_refused_with_the_key_named() {
    let cases: &[(&str, &str)] = &[
        (
            "[neuron]\ntau = -20.0",
            "config key `neuron.tau`: must be > 0, got -20",
        ),
        (
            "[neuron]\ntau = 0",
            "config key `neuron.tau`: must be > 0, got 0",
        ),
        (
            "[simulation]\ndt = 0.0",
            "config key `simulation.dt`: must be > 0",
        ),
        (
            "[network]\nepsilon = 1.5",
            "config key `network.epsilon`: must lie in (0, 1], got 1.5",
        ),
        (
            "[network]\nepsilon = 0.0",
            "config key `network.epsilon`: must lie in (0, 1]",
        ),
        (
            "[synapse]\ndelay = 1.55",
            "config key `synapse.delay`: 1.55 ms is not a whole number of time steps",
        ),
        (
            "[synapse]\ndelay = 0.0",
            "config key `synapse.delay`: 0 ms must be at least 1 time step(s)",
        ),
        (
            "[neuron]\ntau_rp = 2.05",
            "config key `neuron.tau_rp`: 2.05 ms is not a whole number of time steps",
        ),
        (
            "[simulation]\nduration = 10.05",
            "config key `simulation.duration`",
        ),
        (
            "[neuron]\nv_reset = 25.0",
            "config key `neuron.v_reset`: the reset (25) must lie below the threshold",
        ),
        (
            "[synapse]\ng = -1.0",
            "config key `synapse.g`: must be >= 0",
        ),
        (
            "[input]\nratio = 1e9",
            "config key `input.ratio`: nu_ext * dt",
        ),
        (
            "[network]\nn_e = 0",
            "config key `network.n_e`: must be at least 1",
        ),
        (
            "[network]\nn_e = 5000000000",
            "config key `network.n_e`: 5000000000 excitatory neurons do not fit 32-bit neuron ids",
        ),
        (
            "[network]\nn_e = 4000000000",
            "config key `network.gamma`: N_I = round(gamma * n_e) = 1000000000 inhibitory neurons make N = 5000000000 neurons",
        ),
        (
            "[input]\nc_ext = 100000000",
            "config key `input.c_ext`: C_ext * nu_ext * dt = 200000",
        ),
        // Memory is not the config's business (crate::memory plans it where a run starts), but
        // counts that overflow their integers are.
        (
            "[simulation]\nduration = 1e16",
            "config key `simulation.duration`: 1.000e16 ms at dt = 0.1 ms is 1.000e17 steps; at most 2^53",
        ),
        (
            "[synapse]\ndelay = 1e9",
            "config key `synapse.delay`: 1000000000 ms at dt = 0.1 ms is 10000000000 steps; at most 2^32 - 1",
        ),
        (
            "[neuron]\ntau_rp = 1e12",
            "config key `neuron.tau_rp`: 1000000000000 ms at dt = 0.1 ms is 10000000000000 steps",
        ),
        (
            "[simulation]\ndt = 1e-300",
            "config key `simulation.dt`: dt = 1.000e-300 ms makes neuron.tau_rp = 2 ms last 2.000e300 steps",
        ),
        (
            "[network]\nn_e = 1",
            "config key `network.n_e`: C_E = round(epsilon * n_e) = round(0.1 * 1) = 0",
        ),
        (
            "[neuron]\ntau = 1e-300",
            "config key `neuron.tau`: nu_ext * dt",
        ),
        (
            "[synapse]\nj = 1e-300",
            "config key `synapse.j`: nu_ext * dt",
        ),
        // Found by the fuzz campaign: J * C_E * tau underflows to 0, nu_thr is infinite, and
        // at input.ratio = 0 the external rate was 0 * inf = NaN (a panic in Model::new).
        (
            "[synapse]\nj = 5e-324\n[input]\nratio = 0",
            "config key `synapse.j`: nu_ext * dt",
        ),
        (
            "neuron.tau = 1e-308\n[input]\nratio = 0\n",
            "config key `neuron.tau`: nu_ext * dt",
        ),
        (
            "[plot]\nwindow = [0.0, inf]",
            "config key `plot.window`: [0, inf] must hold finite numbers",
        ),
        (
            "[simulation]\nseed = -3",
            "`simulation.seed`: must be a whole number from 0 to 18446744073709551615",
        ),
        (
            "[simulation]\nseed = \"x1\"",
            "`simulation.seed`: must be a whole number from 0 to 18446744073709551615",
        ),
        (
            "[plot]\nwindow = [300.0, 200.0]",
            "config key `plot.window`",
        ),
        (
            "[neuron]\ntaux = 3.0",
            "`neuron.taux`: unknown field `taux`",
        ),
        ("[neurons]\ntau = 3.0", "unknown field `neurons`"),
        (
            "[neuron]\ntau = \"fast\"",
            "`neuron.tau`: invalid type: string \"fast\", expected f64",
        ),
        (
            "[record]\nspikes = \"some\"",
            "`some` is not one of `first:N`, `all`, `none`",
        ),
        (
            "[neuron]\nrefractory_input = \"keep\"",
            "unknown variant `keep`",
        ),
        (
            "[network]\nconnectivity = \"random\"",
            "`network.connectivity`: unknown variant `random`",
        ),
        ("[neuron\ntau = 3.0", "config text:"),
    ];
    for (toml, want) in cases {
        let err = Config::from_toml(toml).expect_err(toml).to_string();
        assert!(
            err.contains(want),
            "for {toml:?}\n  got: {err}\n want: {want}"
        );
    }
}

#[test]
fn bad_overrides_are_refused() {
    for (set, want) in [
        ("synapse.g", "expected key=value"),
        ("g=6", "the key must be `section.key`"),
        ("synapse.gee=6", "`synapse.gee`: unknown field `gee`"),
        ("neuron.tau=-1", "config key `neuron.tau`: must be > 0"),
    ] {
        let err = Config::from_toml_with("", "text", &[set.to_owned()])
            .expect_err(set)
            .to_string();
        assert!(
            err.contains(want),
            "for {set:?}\n  got: {err}\n want: {want}"
        );
    }
}

#[test]
fn a_missing_file_names_the_path() {
    let err = Config::from_file(std::path::Path::new("/no/such/brunel.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("cannot read /no/such/brunel.toml"), "{err}");
}
