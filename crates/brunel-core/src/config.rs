//! The configuration: every parameter of docs/model.md, read from TOML, validated with messages that
//! name the key.
//!
//! Units: times in ms, potentials in mV, rates in Hz. Every key has a default (Brunel 2000's
//! values, with g and the input ratio of Fig. 8 panel C), so an empty file is a valid config.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A whole simulation: model, run and recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[network]`: population sizes, connection probability, how synapses are drawn and kept.
    pub network: NetworkConfig,
    /// `[neuron]`: the leaky integrate-and-fire neuron shared by both populations.
    pub neuron: NeuronConfig,
    /// `[synapse]`: the jumps J and −gJ and the delay D.
    pub synapse: SynapseConfig,
    /// `[input]`: the external Poisson input.
    pub input: InputConfig,
    /// `[simulation]`: time step, duration and seed.
    pub simulation: SimulationConfig,
    /// `[record]`: which neurons' spikes are kept.
    pub record: RecordConfig,
    /// `[plot]`: how the CLI draws the panel; no effect on the simulation.
    pub plot: PlotConfig,
}

/// Population sizes and connectivity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Number of excitatory neurons (indices 0..n_e).
    pub n_e: u64,
    /// N_I = round(gamma * n_e) inhibitory neurons (indices n_e..N).
    pub gamma: f64,
    /// Connection probability; C_E = round(epsilon * n_e).
    pub epsilon: f64,
    /// How synapses are drawn.
    pub connectivity: Connectivity,
    /// Whether the synapses are kept in memory or drawn again at every spike.
    pub storage: Storage,
}

/// Where a backend keeps the network's synapses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// Drawn once and kept (the backend's own layout).
    Stored,
    /// Not kept: when a neuron spikes, its targets are drawn again from the very generators
    /// that draw the stored network (Knight & Nowotny 2021's procedural connectivity), so the
    /// spikes are the same. Bernoulli connectivity only; the cpu backend draws them again,
    /// the others keep the network drawn (the same spikes).
    Procedural,
}

/// How the network's synapses are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connectivity {
    /// Brian2's `connect(p=epsilon)`: every ordered pair independently with probability epsilon.
    Bernoulli,
    /// The paper's: exactly C_E excitatory and C_I = round(gamma * C_E) inhibitory inputs per neuron.
    FixedIndegree,
}

/// Leaky integrate-and-fire neuron.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NeuronConfig {
    /// Membrane time constant (ms).
    pub tau: f64,
    /// Threshold (mV); a neuron spikes when v > theta.
    pub theta: f64,
    /// Reset potential V_r (mV).
    pub v_reset: f64,
    /// Absolute refractory period (ms); a whole number of steps.
    pub tau_rp: f64,
    /// Initial membrane potential of every neuron (mV).
    pub v_init: f64,
    /// What happens to input that arrives during the refractory period.
    pub refractory_input: RefractoryInput,
}

/// What happens to input that arrives while a neuron is refractory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefractoryInput {
    /// Brian2 2.9's generated code, the paper, NEST's default: v is held at V_r, input is lost.
    Discard,
    /// Input adds to v during refractoriness; v leaves the refractory period at V_r plus all of it.
    Accumulate,
}

/// Synapses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynapseConfig {
    /// Excitatory jump J (mV); external input uses the same J.
    pub j: f64,
    /// Relative inhibition: the inhibitory jump is -g * J.
    pub g: f64,
    /// Synaptic delay D (ms), the same for every synapse; a whole number (>= 1) of steps.
    pub delay: f64,
}

/// External Poisson input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    /// nu_ext / nu_thr, where nu_thr = theta / (J * C_E * tau).
    pub ratio: f64,
    /// Number of external inputs per neuron; defaults to C_E.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub c_ext: Option<u64>,
}

/// Time stepping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationConfig {
    /// Time step (ms).
    pub dt: f64,
    /// Simulated time (ms); a whole number of steps.
    pub duration: f64,
    /// Seed of the network and of the external input: any u64. TOML integers stop at 2^63 − 1,
    /// so a larger seed is written as a string, `seed = "18446744073709551615"`; both forms
    /// are read.
    #[serde(with = "seed_form")]
    pub seed: u64,
}

/// The seed's two TOML forms: an integer up to 2^63 − 1, else a string of the u64.
mod seed_form {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(seed: &u64, s: S) -> Result<S::Ok, S::Error> {
        if i64::try_from(*seed).is_ok() {
            s.serialize_u64(*seed)
        } else {
            s.collect_str(seed)
        }
    }

    pub const RANGE: &str = "must be a whole number from 0 to 18446744073709551615 (above 9223372036854775807 as a string: seed = \"18446744073709551615\")";

    struct Seed;

    impl Visitor<'_> for Seed {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(RANGE)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format!("{RANGE}, got {v}")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.trim()
                .parse()
                .map_err(|_| E::custom(format!("{RANGE}, got \"{}\"", super::clip_line(v, 40))))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            Err(E::custom(format!("{RANGE}, got {}", super::num(v))))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(Seed)
    }
}

/// What is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordConfig {
    /// Whose spikes are kept: `"first:50"` (Brian2's example), `"all"` or `"none"`.
    pub spikes: RecordSpikes,
}

/// Plotting of a panel as Brian2's example draws it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlotConfig {
    /// Plotted window [start, end] (ms); defaults to the last 200 ms of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<[f64; 2]>,
    /// Upper end of the rate axis (Hz); defaults to the highest rate in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_max: Option<f64>,
    /// Panel title.
    pub title: String,
}

/// Whose spikes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSpikes {
    /// No neuron's (`"none"`): only the population rate is recorded.
    None,
    /// Every neuron's (`"all"`).
    All,
    /// Those of neurons `0..n` (`"first:n"`), all of them excitatory while n ≤ N_E.
    First(u32),
}

impl RecordSpikes {
    /// Whether neuron `id`'s spikes are kept.
    pub fn includes(self, id: u32) -> bool {
        match self {
            RecordSpikes::None => false,
            RecordSpikes::All => true,
            RecordSpikes::First(n) => id < n,
        }
    }
}

impl fmt::Display for RecordSpikes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordSpikes::None => f.write_str("none"),
            RecordSpikes::All => f.write_str("all"),
            RecordSpikes::First(n) => write!(f, "first:{n}"),
        }
    }
}

impl std::str::FromStr for RecordSpikes {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "none" => Ok(RecordSpikes::None),
            "all" => Ok(RecordSpikes::All),
            _ => s
                .strip_prefix("first:")
                .and_then(|n| n.parse().ok())
                .map(RecordSpikes::First)
                .ok_or_else(|| format!("`{s}` is not one of `first:N`, `all`, `none`")),
        }
    }
}

impl Serialize for RecordSpikes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordSpikes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            n_e: 10_000,
            gamma: 0.25,
            epsilon: 0.1,
            connectivity: Connectivity::Bernoulli,
            storage: Storage::Stored,
        }
    }
}

impl Default for NeuronConfig {
    fn default() -> Self {
        NeuronConfig {
            tau: 20.0,
            theta: 20.0,
            v_reset: 10.0,
            tau_rp: 2.0,
            v_init: 0.0,
            refractory_input: RefractoryInput::Discard,
        }
    }
}

impl Default for SynapseConfig {
    fn default() -> Self {
        SynapseConfig {
            j: 0.1,
            g: 5.0,
            delay: 1.5,
        }
    }
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            ratio: 2.0,
            c_ext: None,
        }
    }
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            dt: 0.1,
            duration: 1200.0,
            seed: 1,
        }
    }
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            spikes: RecordSpikes::First(50),
        }
    }
}

#[allow(clippy::derivable_impls)] // spelled out beside the other sections' defaults
impl Default for PlotConfig {
    fn default() -> Self {
        PlotConfig {
            window: None,
            rate_max: None,
            title: String::new(),
        }
    }
}

#[allow(clippy::derivable_impls)] // spelled out so that every section's default is in one place
impl Default for Config {
    fn default() -> Self {
        Config {
            network: NetworkConfig::default(),
            neuron: NeuronConfig::default(),
            synapse: SynapseConfig::default(),
            input: InputConfig::default(),
            simulation: SimulationConfig::default(),
            record: RecordConfig::default(),
            plot: PlotConfig::default(),
        }
    }
}

/// The largest config file (and TOML text) read: 1 MiB. A config of every key is 2 kB; the
/// bound keeps a wrong file (a log, a data set) from taking seconds and gigabytes to refuse.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Neurons have 32-bit ids.
const MAX_NEURONS: f64 = u32::MAX as f64;
/// Delays and refractory periods are held in 32-bit step counts.
const MAX_STEPS_32: f64 = u32::MAX as f64;
/// A run's step count must be exact in f64 (times are step · dt): at most 2^53 steps.
const MAX_RUN_STEPS: f64 = (1u64 << 53) as f64;

impl Config {
    /// Reads and validates a TOML file.
    pub fn from_file(path: &Path) -> Result<Config> {
        Self::from_file_with(path, &[])
    }

    /// Reads a TOML file, applies `key=value` overrides (dotted keys, TOML values), validates.
    /// A file above [`MAX_CONFIG_BYTES`] is refused.
    pub fn from_file_with(path: &Path, overrides: &[String]) -> Result<Config> {
        use std::io::Read;
        let read_error = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let file = open_regular(path).map_err(read_error)?;
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(Error::Parse {
                origin: path.display().to_string(),
                message: format!(
                    "{} is larger than 1 MiB, the most a config may be (a config of every key is 2 kB)",
                    path.display()
                ),
            });
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            read_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
            ))
        })?;
        Self::from_toml_with(&text, &path.display().to_string(), overrides)
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Config> {
        Self::from_toml_with(text, "text", &[])
    }

    /// Parses TOML text (`origin` names it in messages), applies overrides, validates.
    pub fn from_toml_with(text: &str, origin: &str, overrides: &[String]) -> Result<Config> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(Error::Parse {
                origin: clip_line(origin, 200),
                message: format!(
                    "{} bytes of TOML; a config may be at most 1 MiB",
                    text.len()
                ),
            });
        }
        let origin = &clip_line(origin, 200);
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::Parse {
            origin: origin.to_owned(),
            message: clip(e.to_string().trim_end()),
        })?;
        for o in overrides {
            apply_override(&mut table, o)?;
        }
        let defaults = schema();
        coerce_integers(&mut table, &defaults);
        // The path of the offending key leads the message: `synapse.g: invalid type ...`.
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let path = e.path().to_string();
                let message = short_numbers(e.into_inner().message().trim_end());
                // A value an override set is the override's fault, not the file's.
                let origin = overrides
                    .iter()
                    .rev()
                    .find(|o| {
                        o.split_once('=').is_some_and(|(k, _)| {
                            let k = k.trim().replace(' ', "");
                            path == k
                                || path.starts_with(&format!("{k}."))
                                || path.starts_with(&format!("{k}["))
                        })
                    })
                    .map_or_else(
                        || origin.to_owned(),
                        |o| format!("override `{}`", clip_line(o, 120)),
                    );
                Error::Parse {
                    origin,
                    message: clip(&if path.is_empty() || path == "." {
                        message
                    } else {
                        format!("`{path}`: {message}")
                    }),
                }
            })?;
        config.validate()?;
        Ok(config)
    }

    /// The fully resolved config as TOML (every key, defaults included).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }

    /// N_I = round(gamma · n_e) as a float: the count before any cast, for checks.
    fn n_i_exact(&self) -> f64 {
        (self.network.gamma * self.network.n_e as f64).round()
    }

    /// Number of inhibitory neurons. The derived counts saturate instead of wrapping; a
    /// validated config keeps them in range (N < 2^32, steps < 2^53).
    pub fn n_i(&self) -> u64 {
        (self.network.gamma * self.network.n_e as f64).round() as u64
    }

    /// All neurons.
    pub fn n(&self) -> u64 {
        self.network.n_e.saturating_add(self.n_i())
    }

    /// Mean excitatory in-degree C_E = round(epsilon * N_E).
    pub fn c_e(&self) -> u64 {
        (self.network.epsilon * self.network.n_e as f64).round() as u64
    }

    /// Inhibitory in-degree C_I = round(gamma * C_E) (fixed in-degree connectivity).
    pub fn c_i(&self) -> u64 {
        (self.network.gamma * self.c_e() as f64).round() as u64
    }

    /// Number of external inputs per neuron.
    pub fn c_ext(&self) -> u64 {
        self.input.c_ext.unwrap_or_else(|| self.c_e())
    }

    /// nu_thr = theta / (J * C_E * tau), in Hz.
    pub fn nu_thr(&self) -> f64 {
        self.neuron.theta / (self.synapse.j * self.c_e() as f64 * self.neuron.tau) * 1000.0
    }

    /// Rate of each external input, in Hz.
    pub fn nu_ext(&self) -> f64 {
        self.input.ratio * self.nu_thr()
    }

    /// Number of time steps of the run.
    pub fn steps(&self) -> u64 {
        (self.simulation.duration / self.simulation.dt).round() as u64
    }

    /// The synaptic delay in steps.
    pub fn delay_steps(&self) -> u64 {
        (self.synapse.delay / self.simulation.dt).round() as u64
    }

    /// The refractory period in steps.
    pub fn ref_steps(&self) -> u64 {
        (self.neuron.tau_rp / self.simulation.dt).round() as u64
    }

    /// Expected number of synapses.
    pub fn expected_synapses(&self) -> f64 {
        let n = self.n() as f64;
        match self.network.connectivity {
            Connectivity::Bernoulli => n * n * self.network.epsilon,
            Connectivity::FixedIndegree => n * (self.c_e() + self.c_i()) as f64,
        }
    }

    /// Checks every value; the error names the first bad key. Every derived count (N_I, N,
    /// C_E, C_I, C_ext, the step counts) is checked as a number before it is used as an
    /// integer. Memory is not checked here (a config is valid whatever the machine):
    /// [`crate::memory::plan`] sizes a run where the network is about to be built.
    pub fn validate(&self) -> Result<()> {
        let dt = self.simulation.dt;
        positive("simulation.dt", dt)?;
        positive("neuron.tau", self.neuron.tau)?;
        finite("neuron.theta", self.neuron.theta)?;
        finite("neuron.v_reset", self.neuron.v_reset)?;
        finite("neuron.v_init", self.neuron.v_init)?;
        finite("synapse.j", self.synapse.j)?;
        non_negative("synapse.g", self.synapse.g)?;
        non_negative("input.ratio", self.input.ratio)?;
        non_negative("network.gamma", self.network.gamma)?;
        non_negative("simulation.duration", self.simulation.duration)?;
        if self.neuron.v_reset >= self.neuron.theta {
            return Err(Error::config(
                "neuron.v_reset",
                format!(
                    "the reset ({}) must lie below the threshold neuron.theta ({})",
                    num(self.neuron.v_reset),
                    num(self.neuron.theta)
                ),
            ));
        }
        let eps = self.network.epsilon;
        if !(eps > 0.0 && eps <= 1.0) {
            return Err(Error::config(
                "network.epsilon",
                format!("must lie in (0, 1], got {}", num(eps)),
            ));
        }
        if self.network.n_e == 0 {
            return Err(Error::config("network.n_e", "must be at least 1"));
        }
        let n_e = self.network.n_e as f64;
        if n_e > MAX_NEURONS {
            return Err(Error::config(
                "network.n_e",
                format!(
                    "{} excitatory neurons do not fit 32-bit neuron ids (at most {} neurons in all)",
                    self.network.n_e,
                    u32::MAX
                ),
            ));
        }
        let n = n_e + self.n_i_exact();
        if n > MAX_NEURONS {
            return Err(Error::config(
                "network.gamma",
                format!(
                    "N_I = round(gamma * n_e) = {} inhibitory neurons make N = {} neurons, which do not fit 32-bit neuron ids (at most {})",
                    num(self.n_i_exact()),
                    num(n),
                    u32::MAX
                ),
            ));
        }
        whole_steps(
            "neuron.tau_rp",
            self.neuron.tau_rp,
            dt,
            0,
            MAX_STEPS_32,
            2.0,
        )?;
        whole_steps(
            "synapse.delay",
            self.synapse.delay,
            dt,
            1,
            MAX_STEPS_32,
            1.5,
        )?;
        whole_steps(
            "simulation.duration",
            self.simulation.duration,
            dt,
            0,
            MAX_RUN_STEPS,
            1200.0,
        )?;
        if self.c_e() == 0 {
            let (key, value) = if eps < 0.1 {
                ("network.epsilon", num(eps))
            } else {
                ("network.n_e", self.network.n_e.to_string())
            };
            return Err(Error::config(
                key,
                format!(
                    "C_E = round(epsilon * n_e) = round({} * {}) = 0 excitatory inputs per neuron, so nu_thr = theta / (J * C_E * tau) is undefined ({key} = {value}; raise network.n_e or network.epsilon)",
                    num(eps),
                    self.network.n_e
                ),
            ));
        }
        if self.synapse.j == 0.0 {
            return Err(Error::config(
                "synapse.j",
                "J is zero, so nu_thr = theta / (J * C_E * tau) is undefined",
            ));
        }
        if let Some(c) = self.input.c_ext {
            if c > u32::MAX as u64 {
                return Err(Error::config(
                    "input.c_ext",
                    format!("{c} external inputs per neuron; at most {}", u32::MAX),
                ));
            }
        }
        self.check_external_rate()?;
        let p = self.nu_ext() * dt / 1000.0;
        let mean = self.c_ext() as f64 * p;
        if mean > crate::binomial::MAX_MEAN {
            return Err(Error::config(
                "input.c_ext",
                format!(
                    "C_ext * nu_ext * dt = {} external events per neuron and step on average; at most {} are supported",
                    num(mean),
                    crate::binomial::MAX_MEAN
                ),
            ));
        }
        if self.network.storage == Storage::Procedural {
            crate::Draw::new(self).supports_rows()?;
        }
        if self.network.connectivity == Connectivity::FixedIndegree && self.c_i() > self.n_i() {
            return Err(Error::config(
                "network.gamma",
                format!(
                    "fixed in-degree needs C_I = {} inhibitory inputs but there are only {} inhibitory neurons",
                    self.c_i(),
                    self.n_i()
                ),
            ));
        }
        if let Some([a, b]) = self.plot.window {
            if !(a.is_finite() && b.is_finite()) {
                return Err(Error::config(
                    "plot.window",
                    format!("[{}, {}] must hold finite numbers (ms)", num(a), num(b)),
                ));
            }
            if !(a >= 0.0 && b > a) {
                return Err(Error::config(
                    "plot.window",
                    format!(
                        "[{}, {}] is not an interval [start, end] with 0 <= start < end",
                        num(a),
                        num(b)
                    ),
                ));
            }
        }
        if let Some(r) = self.plot.rate_max {
            positive("plot.rate_max", r)?;
        }
        Ok(())
    }

    /// nu_ext · dt must be a probability. When nu_thr alone already exceeds one event per step
    /// and input, input.ratio is not to blame: the factor of nu_thr = theta / (J · C_E · tau)
    /// farthest from its default is named.
    fn check_external_rate(&self) -> Result<()> {
        let dt = self.simulation.dt;
        let ratio = self.input.ratio;
        let nu_thr = self.nu_thr();
        let per_step = nu_thr * dt / 1000.0;
        // An infinite nu_thr is refused even at input.ratio = 0 (0 · inf is NaN, no rate).
        if ratio == 0.0 && per_step.is_finite() {
            return Ok(());
        }
        let p = ratio * per_step;
        if p.is_finite() && (0.0..=1.0).contains(&p) {
            return Ok(());
        }
        let explain = format!(
            "nu_ext * dt = input.ratio * theta / (J * C_E * tau) * dt = {} * {} / ({} * {} * {}) * {} = {} is not a probability",
            num(ratio),
            num(self.neuron.theta),
            num(self.synapse.j),
            self.c_e(),
            num(self.neuron.tau),
            num(dt / 1000.0),
            num(p)
        );
        if per_step.is_finite() && (0.0..=1.0).contains(&per_step) {
            return Err(Error::config(
                "input.ratio",
                format!(
                    "{explain}; at this nu_thr input.ratio may be at most {}",
                    num(1.0 / per_step)
                ),
            ));
        }
        // nu_thr itself is out of range: blame its factor farthest from Brunel's value.
        let key = if self.neuron.theta < 0.0 {
            "neuron.theta"
        } else if self.synapse.j < 0.0 {
            "synapse.j"
        } else {
            let d = Config::default();
            let factors = [
                ("neuron.theta", self.neuron.theta / d.neuron.theta),
                ("synapse.j", d.synapse.j / self.synapse.j),
                ("network.n_e", d.c_e() as f64 / self.c_e() as f64),
                ("neuron.tau", d.neuron.tau / self.neuron.tau),
                ("simulation.dt", dt / d.simulation.dt),
            ];
            factors
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or("neuron.tau", |f| f.0)
        };
        Err(Error::config(
            key,
            format!("{explain} (nu_thr = {} Hz)", num(nu_thr)),
        ))
    }
}

/// A number as a person reads it: plain when moderate (or a whole number below 10^16),
/// `1.500e300` when huge or tiny.
pub(crate) fn num(x: f64) -> String {
    let a = x.abs();
    let plain =
        !x.is_finite() || a == 0.0 || (1e-4..1e9).contains(&a) || (x.fract() == 0.0 && a < 1e16);
    if plain {
        format!("{x}")
    } else {
        format!("{x:.3e}")
    }
}

/// `text` with every decimal number of more than 20 digits written as `num` writes it
/// (`1.000e300`): Rust and serde print an f64 in full, 301 digits for 1e300, which would
/// flood a message. Numbers of up to 20 digits (every u64) are left as they are.
pub fn short_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        // A number starts at a digit that does not continue a word (`x123`, `0x1f`).
        let starts = chars[i].is_ascii_digit()
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
        if !starts {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut end = i;
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
        }
        if end + 1 < chars.len() && chars[end] == '.' && chars[end + 1].is_ascii_digit() {
            end += 1;
            while end < chars.len() && chars[end].is_ascii_digit() {
                end += 1;
            }
        }
        let word: String = chars[i..end].iter().collect();
        let digits = word.chars().filter(char::is_ascii_digit).count();
        // A number cut short (`123…`) is not a number: its value is unknown.
        let cut = chars
            .get(end)
            .is_some_and(|&c| c == '…' || c.is_alphanumeric());
        match word.parse::<f64>() {
            Ok(x) if digits > 20 && !cut => out.push_str(&num(x)),
            _ => out.push_str(&word),
        }
        i = end;
    }
    out
}

/// At most `max` characters of `s` on one line (control characters escaped); a run of
/// letters or of spaces (an echoed key, a TOML error's caret line) longer than 48 characters
/// keeps its first 40, and `…` marks every cut.
pub(crate) fn clip_line(s: &str, max: usize) -> String {
    let mut runs: Vec<String> = Vec::new();
    let mut run = String::new();
    let mut run_len = 0usize;
    let flush = |run: &mut String, len: usize, runs: &mut Vec<String>| {
        if len > 48 {
            let head: String = run.chars().take(40).collect();
            runs.push(format!("{head}… ({len} characters)"));
        } else {
            runs.push(std::mem::take(run));
        }
        run.clear();
    };
    let mut last_space = None;
    for c in s.chars() {
        let space = c == ' ';
        if last_space.is_some_and(|l| l != space) {
            flush(&mut run, run_len, &mut runs);
            run_len = 0;
        }
        last_space = Some(space);
        if c.is_control() {
            run.extend(c.escape_default());
        } else {
            run.push(c);
        }
        run_len += 1;
    }
    flush(&mut run, run_len, &mut runs);
    let joined = runs.concat();
    match joined.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    }
}

/// A message of echoed input, bounded: each line at most 400 characters, at most 12 lines.
pub(crate) fn clip(message: &str) -> String {
    let lines: Vec<&str> = message.lines().collect();
    let mut out: Vec<String> = lines.iter().take(12).map(|l| clip_line(l, 400)).collect();
    if lines.len() > 12 {
        out.push(format!("… ({} more lines)", lines.len() - 12));
    }
    out.join("\n")
}

fn finite(key: &str, x: f64) -> Result<()> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!("must be a finite number, got {}", num(x)),
        ))
    }
}

/// "a finite number " where the rule `x` broke is finiteness (inf is > 0, NaN is nothing).
fn finite_rule(x: f64) -> &'static str {
    if x.is_finite() {
        ""
    } else {
        "a finite number "
    }
}

fn positive(key: &str, x: f64) -> Result<()> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!("must be {}> 0, got {}", finite_rule(x), num(x)),
        ))
    }
}

fn non_negative(key: &str, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!("must be {}>= 0, got {}", finite_rule(x), num(x)),
        ))
    }
}

/// `x / dt` must be a whole number of steps, from `min` to `max`. When there are too many
/// steps although `x` is no longer than its default, the time step is to blame, and named.
fn whole_steps(key: &str, x: f64, dt: f64, min: u64, max: f64, default: f64) -> Result<()> {
    non_negative(key, x)?;
    let steps = x / dt;
    if steps.round() > max {
        let limit = if max == MAX_RUN_STEPS {
            "2^53".to_owned()
        } else {
            "2^32 - 1".to_owned()
        };
        let (blame, what) = if x <= default {
            (
                "simulation.dt",
                format!("dt = {} ms makes {key} = {} ms last", num(dt), num(x)),
            )
        } else {
            (key, format!("{} ms at dt = {} ms is", num(x), num(dt)))
        };
        return Err(Error::config(
            blame,
            format!("{what} {} steps; at most {limit}", num(steps.round())),
        ));
    }
    if (steps - steps.round()).abs() > 1e-6 * steps.max(1.0) {
        return Err(Error::config(
            key,
            format!(
                "{} ms is not a whole number of time steps (dt = {} ms)",
                num(x),
                num(dt)
            ),
        ));
    }
    if (steps.round() as u64) < min {
        return Err(Error::config(
            key,
            format!(
                "{} ms must be at least {min} time step(s) of {} ms",
                num(x),
                num(dt)
            ),
        ));
    }
    Ok(())
}

/// Opens `path` for reading if it is a regular file; anything else (a FIFO, a socket, a
/// device, a folder) is refused without blocking. Every input brunel reads goes through here:
/// the file is opened with O_NONBLOCK, so that opening a FIFO that no one writes returns at
/// once, and the check is made on the descriptor opened (fstat), so that a file swapped for a
/// FIFO after a check cannot slip through. The error says what the path is.
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let not_regular = |t: std::fs::FileType| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", file_kind(t)),
        )
    };
    // The type first, as far as it can be known before opening: opening a socket fails with
    // "No such device or address", and opening a device may do something. The check on the
    // descriptor below still decides.
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() {
            return Err(not_regular(meta.file_type()));
        }
    }
    #[cfg(unix)]
    let file = {
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?
    };
    #[cfg(not(unix))]
    let file = std::fs::File::open(path)?;
    let file_type = file.metadata()?.file_type();
    if !file_type.is_file() {
        return Err(not_regular(file_type));
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd as _;
        // Reads of a regular file never block; the flag goes all the same, so that the file
        // reads as any other.
        // SAFETY: fcntl on a descriptor this function owns, with no pointers.
        unsafe {
            let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
        }
    }
    Ok(file)
}

/// What a path that is not a regular file is, in words.
pub fn file_kind(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return "a FIFO";
        } else if t.is_socket() {
            return "a socket";
        } else if t.is_char_device() {
            return "a character device";
        } else if t.is_block_device() {
            return "a block device";
        }
    }
    if t.is_dir() {
        "a folder"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a file"
    }
}

/// Reads the text of the regular file `path` ([`open_regular`]), at most `max` bytes: a
/// longer file is an error, as is text that is not UTF-8.
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read as _;
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than the {max} bytes expected"),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

/// Physical memory, from /proc/meminfo where there is one.
pub fn total_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Applies one `section.key=value` override; the value is TOML (`6`, `"all"`, `[1000, 1200]`),
/// or a bare word taken as a string.
fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<()> {
    let shown = clip_line(assignment, 120);
    let (key, value) = assignment.split_once('=').ok_or_else(|| Error::Parse {
        origin: format!("override `{shown}`"),
        message: "expected key=value".into(),
    })?;
    let key = key.trim();
    let value = value.trim();
    // One override sets one key: a line break would let TOML read a second assignment after
    // it, which was then dropped without a word.
    if value.contains(['\n', '\r']) {
        return Err(Error::Parse {
            origin: format!("override `{shown}`"),
            message: "the value holds a line break; give each key its own override (`--set KEY=VALUE`, one line each)".into(),
        });
    }
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .filter(|t| t.len() == 1)
        .and_then(|mut t| t.remove("v"));
    let parsed: toml::Value = match parsed {
        Some(v) => v,
        // A bare word is a string; a quote or bracket that does not parse (`"abc`) is a typo,
        // not part of a string.
        None if value.contains(['"', '\'', '[', ']', '{', '}']) => {
            return Err(Error::Parse {
                origin: format!("override `{shown}`"),
                message: "the value is not a TOML value (a quoted string, a number, true or false, or an array)".into(),
            });
        }
        None => toml::Value::String(value.to_owned()),
    };
    let parts: Vec<&str> = key.split('.').collect();
    if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(Error::Parse {
            origin: format!("override `{shown}`"),
            message: "the key must be `section.key`, e.g. `synapse.g`".into(),
        });
    }
    // The key must be one of the schema's, checked here so that a bad key (`"synapse.g"`,
    // `synapse.gee`) is blamed on the override, not on the config file it is applied to.
    let defaults = schema();
    let expected = |t: &toml::Table| {
        t.keys()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match defaults.get(parts[0]) {
        Some(toml::Value::Table(keys)) if !keys.contains_key(parts[1]) => {
            return Err(Error::Parse {
                origin: format!("override `{shown}`"),
                message: format!(
                    "`{}`: unknown field `{}`, expected one of {}",
                    clip_line(key, 120),
                    clip_line(parts[1], 60),
                    expected(keys)
                ),
            });
        }
        Some(toml::Value::Table(_)) => {}
        _ => {
            return Err(Error::Parse {
                origin: format!("override `{shown}`"),
                message: format!(
                    "no section `{}`, expected one of {}",
                    clip_line(parts[0], 60),
                    expected(&defaults)
                ),
            });
        }
    }
    let section = table
        .entry(parts[0])
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match section {
        toml::Value::Table(t) => {
            t.insert(parts[1].to_owned(), parsed);
            Ok(())
        }
        _ => Err(Error::Parse {
            origin: format!("override `{shown}`"),
            message: format!("`{}` is not a section", clip_line(parts[0], 60)),
        }),
    }
}

/// The default config with every optional key present: the type of every key, for coercion.
pub fn schema() -> toml::Table {
    let mut full = Config::default();
    full.plot.window = Some([0.0, 1.0]);
    full.plot.rate_max = Some(1.0);
    full.input.c_ext = Some(1);
    toml::Table::try_from(full).expect("default config serialises")
}

/// Lets `g = 6` stand for `g = 6.0`: integers become floats wherever the default is a float.
fn coerce_integers(table: &mut toml::Table, defaults: &toml::Table) {
    for (key, value) in table.iter_mut() {
        match (value, defaults.get(key)) {
            (toml::Value::Table(t), Some(toml::Value::Table(d))) => coerce_integers(t, d),
            (v @ toml::Value::Integer(_), Some(toml::Value::Float(_))) => {
                if let toml::Value::Integer(i) = *v {
                    *v = toml::Value::Float(i as f64);
                }
            }
            (toml::Value::Array(items), Some(toml::Value::Array(_))) => {
                for item in items {
                    if let toml::Value::Integer(i) = *item {
                        *item = toml::Value::Float(i as f64);
                    }
                }
            }
            _ => {}
        }
    }
}
