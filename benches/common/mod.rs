//! What the benchmarks share: the Fig. 8 panels and the backends to time.

#![allow(dead_code)] // each bench target uses a part of it

use brunel_backends::Setup;
use brunel_core::{Backend, Config, Model, Network, NeuronStats, Par, Result};

/// The Fig. 8 panels, as `configs/fig8_*.toml` name them (upper case for the tables).
pub const PANELS: [&str; 4] = ["A", "B", "C", "D"];

/// The config of a panel as `configs/fig8_<panel>.toml` states it (full size, full length;
/// `BRUNEL_BENCH_MS` shortens every panel to that many ms).
pub fn panel_config(panel: usize) -> Config {
    let mut c = brunel_suite::panel(brunel_suite::PANELS[panel]);
    if let Some(ms) = std::env::var("BRUNEL_BENCH_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        c.simulation.duration = ms;
    }
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

/// Every backend of the registry that this build has, the ones that honour a thread count on
/// 1 and 2 threads; the run-time availability is checked when it is made.
pub fn contenders() -> Vec<Contender> {
    let mut out = Vec::new();
    for entry in brunel_suite::all() {
        let threads: &[usize] = if entry.honours.threads { &[1, 2] } else { &[0] };
        for &t in threads {
            let name = if entry.honours.threads {
                format!("{}-{t}t", entry.name)
            } else {
                entry.name.to_owned()
            };
            out.push(Contender {
                name,
                make: Box::new(move |m, n| {
                    entry.make(
                        m,
                        n,
                        &Setup {
                            threads: t,
                            device: None,
                        },
                    )
                }),
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
