//! The oracle of the config fuzzing, shared by tests/fuzz_config.rs and the cargo-fuzz target
//! fuzz/fuzz_targets/config.rs: what is wrong with the outcome of parsing one input.

use std::panic::{catch_unwind, AssertUnwindSafe};

use brunel_core::{Config, Error, Model};

/// Every key of a config, as `section.key`.
pub const KEYS: &[&str] = &[
    "network.n_e",
    "network.gamma",
    "network.epsilon",
    "network.connectivity",
    "neuron.tau",
    "neuron.theta",
    "neuron.v_reset",
    "neuron.tau_rp",
    "neuron.v_init",
    "neuron.refractory_input",
    "synapse.j",
    "synapse.g",
    "synapse.delay",
    "input.ratio",
    "input.c_ext",
    "simulation.dt",
    "simulation.duration",
    "simulation.seed",
    "record.spikes",
    "plot.window",
    "plot.rate_max",
    "plot.title",
];

/// Whether `message` names a key in backticks (`` `synapse.g` ``, `` `taux` ``).
fn names_a_key(message: &str) -> bool {
    let mut parts = message.split('`');
    parts.next();
    parts.step_by(2).any(|k| !k.trim().is_empty())
}

/// The oracle: what is wrong with the outcome of one case, if anything.
pub fn judge(text: &str, overrides: &[String]) -> Option<String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        Config::from_toml_with(text, "fuzz", overrides)
    }));
    let result = match outcome {
        Err(_) => return Some("panicked while parsing".into()),
        Ok(r) => r,
    };
    match result {
        Ok(config) => {
            // The derived counts of an accepted config are in range and did not wrap.
            let n = config.network.n_e as u128 + config.n_i() as u128;
            if config.n() as u128 != n || n > u32::MAX as u128 {
                return Some(format!(
                    "N = {} (n_e {} + N_I {})",
                    config.n(),
                    config.network.n_e,
                    config.n_i()
                ));
            }
            if config.delay_steps() > u32::MAX as u64 || config.ref_steps() > u32::MAX as u64 {
                return Some("a step count above 2^32".into());
            }
            let steps = config.simulation.duration / config.simulation.dt;
            if (config.steps() as f64 - steps).abs() > 1e-6 * steps.max(1.0) + 0.5 {
                return Some(format!("steps {} for {steps}", config.steps()));
            }
            if config.c_e() == 0 || config.c_ext() > u32::MAX as u64 {
                return Some(format!(
                    "C_E = {}, C_ext = {}",
                    config.c_e(),
                    config.c_ext()
                ));
            }
            let after = catch_unwind(AssertUnwindSafe(|| {
                let back = Config::from_toml(&config.to_toml());
                let _ = Model::new(&config);
                let _ = brunel_core::memory::plan(
                    &config,
                    &brunel_core::memory::BackendFacts::reference(),
                );
                back
            }));
            match after {
                Err(_) => Some("an accepted config panicked in to_toml, Model::new or plan".into()),
                Ok(Ok(back)) if back == config => None,
                Ok(Ok(back)) => Some(format!("read back differently: {back:?}")),
                Ok(Err(e)) => Some(format!("does not read back: {e}")),
            }
        }
        Err(Error::Config { key, message }) => (!KEYS.contains(&key.as_str()))
            .then(|| format!("a Config error under `{key}`, not a key: {message}")),
        Err(Error::Parse { origin, message }) => {
            let syntax = message.contains("TOML parse error at line") && message.contains("column");
            let named = names_a_key(&message) || origin.starts_with("override `");
            (!(syntax || named)).then(|| format!("a message naming no key: {origin}: {message}"))
        }
        Err(other) => Some(format!("an unexpected error: {other}")),
    }
}
