//! Runs one panel with the reference backend and prints its statistics:
//! `cargo run --release -p brunel-core --example panel -- G RATIO MS [SEED] [accumulate]`.
use brunel_core::*;
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let mut c = Config::default();
    c.synapse.g = a[1].parse().unwrap();
    c.input.ratio = a[2].parse().unwrap();
    c.simulation.duration = a[3].parse().unwrap();
    c.simulation.seed = a.get(4).map_or(1, |s| s.parse().unwrap());
    if a.get(5).map(String::as_str) == Some("accumulate") {
        c.neuron.refractory_input = RefractoryInput::Accumulate;
    }
    let t = Instant::now();
    let net = Network::build(&c, Par::threads(0));
    let build = t.elapsed().as_secs_f64();
    let m = Model::new(&c);
    let mut b = ReferenceBackend::new(&m, &net);
    let mut st = NeuronStats::last_80_percent(m.n, m.steps);
    let t = Instant::now();
    b.run(m.steps, &mut st).unwrap();
    let run = t.elapsed().as_secs_f64();
    println!(
        "synapses {} build {build:.3}s run {run:.3}s rateE {:.2} rateI {:.2} cv {:.3} events {}",
        net.n_synapses(),
        st.mean_rate(0..m.n_e, m.dt),
        st.mean_rate(m.n_e..m.n, m.dt),
        st.mean_cv(),
        st.synaptic_events(&net)
    );
}
