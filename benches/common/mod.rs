//! What the benchmarks share: the Fig. 8 panels and the backends to time.

#![allow(dead_code)] // each bench target uses a part of it

use brunel_core::{Backend, Config, Model, Network, NeuronStats, Par, ReferenceBackend, Result};
use brunel_suite::candidates;

/// MODEL.md's Fig. 8 panels: name, g, nu_ext / nu_thr, simulated time (ms).
pub const PANELS: [(&str, f64, f64, f64); 4] = [
    ("A", 3.0, 2.0, 600.0),
    ("B", 6.0, 4.0, 1200.0),
    ("C", 5.0, 2.0, 1200.0),
    ("D", 4.5, 0.9, 1200.0),
];

/// The config of a panel (full size, full length; `BRUNEL_BENCH_MS` shortens every panel to
/// that many ms).
pub fn panel_config(panel: usize) -> Config {
    let (_, g, ratio, ms) = PANELS[panel];
    let mut c = Config::default();
    c.synapse.g = g;
    c.input.ratio = ratio;
    c.simulation.duration = std::env::var("BRUNEL_BENCH_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ms);
    c.validate().expect("panel config is valid");
    c
}

/// Makes a backend from a model and a network.
pub type Make = Box<dyn Fn(&Model, &Network) -> Result<Box<dyn Backend>>>;

/// A backend to time: a name for the tables and how to make it.
pub struct Contender {
    pub name: String,
    pub make: Make,
}

/// reference, cpu on 1 and 2 threads, and every other candidate of the suite (opencl) that
/// this build has; the run-time availability is checked when it is made.
pub fn contenders() -> Vec<Contender> {
    let mut out = vec![Contender {
        name: "reference".into(),
        make: Box::new(|m, n| Ok(Box::new(ReferenceBackend::new(m, n)) as Box<dyn Backend>)),
    }];
    for candidate in candidates() {
        let threads: &[usize] = if candidate.name == "cpu" {
            &[1, 2]
        } else {
            &[0]
        };
        for &t in threads {
            let make = candidate.make;
            let name = if candidate.name == "cpu" {
                format!("cpu-{t}t")
            } else {
                candidate.name.to_owned()
            };
            out.push(Contender {
                name,
                make: Box::new(move |m, n| make(m, n, t)),
            });
        }
    }
    out
}

/// Spikes and synaptic events (spikes times out-degree) of a panel, from one cpu run.
pub fn panel_work(model: &Model, network: &Network) -> (u64, u64) {
    let mut backend = brunel_cpu::CpuBackend::new(model, network, Par::threads(0)).expect("cpu");
    let mut stats = NeuronStats::new(model.n, 0);
    backend.run(model.steps, &mut stats).expect("run");
    (stats.total_spikes(), stats.synaptic_events(network))
}
