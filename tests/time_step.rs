//! The time step of the model (docs/model.md) on tiny hand-built networks, against answers
//! worked out by hand, on every backend of the registry: the reference and each candidate
//! (stamped at run time, as the equivalence suite is). Potentials are set through
//! `Backend::load_state`.

use brunel_backends::Entry;
use brunel_core::{
    Config, HostState, Model, Network, RecordSpikes, RefractoryInput, SpikeRecorder, NEVER,
};
use brunel_suite::{all, is_required, make, passed, skip, unavailable};
use libtest_mimic::{Arguments, Failed, Trial};

/// A config for `n` excitatory neurons with no external input, J = `j`, delay `delay` ms.
fn tiny(n: u64, j: f64, delay: f64) -> Config {
    let mut c = Config::default();
    c.network.n_e = n;
    c.network.gamma = 0.0;
    c.network.epsilon = 1.0;
    c.synapse.j = j;
    c.synapse.delay = delay;
    c.input.ratio = 0.0;
    c.simulation.duration = 10.0;
    c
}

/// Runs `steps` steps from potentials `v0` on backend `b` and returns the spikes as
/// (step, id) and the final state.
fn run(
    b: &Entry,
    model: &Model,
    network: &Network,
    v0: &[f64],
    steps: u64,
) -> (Vec<(u64, u32)>, HostState) {
    let mut backend = make(b, model, network, 2);
    let mut start = HostState::initial(model);
    start.v.copy_from_slice(v0);
    backend.load_state(&start).expect("load_state");
    let mut rec = SpikeRecorder::new(RecordSpikes::All, steps);
    backend.run(steps, &mut rec).unwrap();
    let spikes = rec
        .steps
        .iter()
        .copied()
        .zip(rec.ids.iter().copied())
        .collect();
    (spikes, backend.state().unwrap())
}

fn a_spike_arrives_exactly_round_d_over_dt_steps_later(b: &Entry) {
    for (delay_ms, delay_steps) in [(1.5, 15u64), (0.1, 1), (0.3, 3)] {
        let c = tiny(2, 5.0, delay_ms);
        let m = Model::new(&c);
        assert_eq!(m.delay_steps as u64, delay_steps);
        // Neuron 0 starts above threshold and spikes at step 0; neuron 1 sits at 0 mV, where
        // decay leaves it, until the spike arrives at step `delay_steps`.
        let net = Network::from_rows(2, &[vec![1], vec![]]);
        let v0 = [25.0, 0.0];
        let (spikes, before) = run(b, &m, &net, &v0, delay_steps);
        assert_eq!(spikes, vec![(0, 0)]);
        assert_eq!(
            before.v[1], 0.0,
            "delay {delay_ms} ms: nothing arrived before step {delay_steps}"
        );
        let (_, after) = run(b, &m, &net, &v0, delay_steps + 1);
        assert_eq!(
            after.v[1], 5.0,
            "delay {delay_ms} ms: J arrived at step {delay_steps}"
        );
    }
}

fn the_threshold_is_strict(b: &Entry) {
    let c = tiny(1, 0.1, 1.5);
    let m = Model::new(&c);
    let net = Network::from_rows(1, &[vec![]]);
    // The float whose decayed value is exactly theta does not spike; the next one up does.
    let mut at = m.theta / m.decay;
    while at * m.decay > m.theta {
        at = f64::from_bits(at.to_bits() - 1);
    }
    while at * m.decay < m.theta {
        at = f64::from_bits(at.to_bits() + 1);
    }
    assert_eq!(at * m.decay, m.theta);
    let (spikes, _) = run(b, &m, &net, &[at], 1);
    assert!(spikes.is_empty(), "v == theta must not spike");
    let above = f64::from_bits(at.to_bits() + 1);
    assert!(above * m.decay > m.theta);
    let (spikes, state) = run(b, &m, &net, &[above], 1);
    assert_eq!(spikes, vec![(0, 0)]);
    assert_eq!(state.last_spike, vec![0]);
    assert_eq!(state.v, vec![m.v_reset]);
}

/// One neuron under external drive so strong (1000 inputs, each firing every step, +100 mV a
/// step) that it fires as soon as it is allowed to.
fn driven(variant: RefractoryInput) -> (Config, Model, Network) {
    let mut c = tiny(2, 0.1, 1.5);
    c.input.c_ext = Some(1000);
    // nu_thr = theta / (J C_E tau) = 20 / (0.1 * 2 * 20 ms) = 5 kHz: ratio 2 is 10 kHz, p = 1.
    c.input.ratio = 2.0;
    c.neuron.refractory_input = variant;
    c.validate().unwrap();
    let m = Model::new(&c);
    assert_eq!(m.external.sample(0), 1000);
    (c.clone(), m, Network::from_rows(2, &[vec![], vec![]]))
}

fn discard_holds_v_at_reset_and_loses_input_during_refractoriness(b: &Entry) {
    let (_, m, net) = driven(RefractoryInput::Discard);
    assert_eq!(m.ref_steps, 20);
    // Step 0: v = 0, no spike, +100. Step 1: decayed 100 spikes; reset. Steps 2..=20:
    // refractory, v held at V_r. Step 21: decays from V_r, no spike, +100. Step 22: spikes.
    let (spikes, _) = run(b, &m, &net, &[0.0, 0.0], 44);
    let own: Vec<u64> = spikes.iter().filter(|s| s.1 == 0).map(|s| s.0).collect();
    assert_eq!(own, vec![1, 22, 43]);
    for steps in 2..=21 {
        let (_, st) = run(b, &m, &net, &[0.0, 0.0], steps);
        assert_eq!(
            st.v[0],
            m.v_reset,
            "after step {} v must sit at V_r",
            steps - 1
        );
    }
    let (_, st) = run(b, &m, &net, &[0.0, 0.0], 22);
    assert_eq!(st.v[0], m.v_reset * m.decay + 100.0);
}

fn accumulate_adds_input_during_refractoriness_and_fires_again_after_exactly_ref_steps(b: &Entry) {
    let (_, m, net) = driven(RefractoryInput::Accumulate);
    // Spike at step 1 (reset overwrites that step's input); steps 2..=20 add +100 each
    // without decay; step 21 = 1 + ref_steps is the first allowed, and it fires.
    let (spikes, _) = run(b, &m, &net, &[0.0, 0.0], 42);
    let own: Vec<u64> = spikes.iter().filter(|s| s.1 == 0).map(|s| s.0).collect();
    assert_eq!(own, vec![1, 21, 41]);
    for steps in 3..=21 {
        let (_, st) = run(b, &m, &net, &[0.0, 0.0], steps);
        let refractory_steps_done = (steps - 2) as f64;
        assert_eq!(st.v[0], m.v_reset + 100.0 * refractory_steps_done);
    }
}

fn the_reset_overwrites_input_of_the_spike_step(b: &Entry) {
    for variant in [RefractoryInput::Discard, RefractoryInput::Accumulate] {
        let (_, m, net) = driven(variant);
        // Step 1 spikes and receives +100 in the same step; the reset wins.
        let (spikes, st) = run(b, &m, &net, &[0.0, 0.0], 2);
        assert_eq!(spikes[0], (1, 0));
        assert_eq!(st.v[0], m.v_reset, "{variant:?}");
        assert_eq!(st.last_spike[0], 1);
    }
}

fn a_neuron_can_fire_again_at_k_plus_ref_steps_at_the_earliest(b: &Entry) {
    // Accumulate, refractory 0.5 ms = 5 steps: spikes 5 steps apart, never closer.
    let (mut c, _, net) = driven(RefractoryInput::Accumulate);
    c.neuron.tau_rp = 0.5;
    let m = Model::new(&c);
    let (spikes, _) = run(b, &m, &net, &[0.0, 0.0], 30);
    let own: Vec<u64> = spikes.iter().filter(|s| s.1 == 0).map(|s| s.0).collect();
    assert_eq!(own.len(), 6, "spikes at 1, 6, ..., 26: {own:?}");
    assert!(own.windows(2).all(|w| w[1] - w[0] == 5), "{own:?}");
    // No refractory period: the neuron may fire at any step, but the reset overwrites the
    // input of its spike step, so the step after a spike starts from V_r (decayed, below
    // theta) and only the next one fires: every other step.
    c.neuron.tau_rp = 0.0;
    let m = Model::new(&c);
    let (spikes, _) = run(b, &m, &net, &[0.0, 0.0], 8);
    let own: Vec<u64> = spikes.iter().filter(|s| s.1 == 0).map(|s| s.0).collect();
    assert_eq!(own, vec![1, 3, 5, 7]);
}

fn recurrent_input_reaching_a_refractory_neuron_is_lost_under_discard_kept_under_accumulate(
    b: &Entry,
) {
    for (variant, expect) in [
        (RefractoryInput::Discard, 10.0),
        (RefractoryInput::Accumulate, 10.0 + 3.0),
    ] {
        let mut c = tiny(2, 3.0, 0.5);
        c.neuron.refractory_input = variant;
        let m = Model::new(&c);
        // Both spike at step 0; 0 -> 1 arrives at step 5, while 1 is refractory (until 20).
        let net = Network::from_rows(2, &[vec![1], vec![]]);
        let (spikes, st) = run(b, &m, &net, &[25.0, 25.0], 6);
        assert_eq!(spikes, vec![(0, 0), (0, 1)]);
        assert_eq!(st.v[1], expect, "{variant:?}");
    }
}

fn inhibitory_sources_add_minus_g_j_per_synapse_and_multiplicity_counts(b: &Entry) {
    let mut c = tiny(3, 0.5, 0.1);
    c.network.gamma = 0.5; // n_i = round(0.5 * 3) = 2 inhibitory neurons: ids 3 and 4
    c.synapse.g = 4.0;
    let m = Model::new(&c);
    assert_eq!((m.n, m.n_e), (5, 3));
    // Neurons 0 (E) and 3 (I) and 4 (I) spike at step 0; each projects onto neuron 1.
    let net = Network::from_rows(3, &[vec![1], vec![], vec![], vec![1], vec![1]]);
    let (_, st) = run(b, &m, &net, &[25.0, 0.0, 0.0, 25.0, 25.0], 2);
    // Arrival at step 1: +J - 2 g J = 0.5 - 4.0 = -3.5 (J·(0+1) + (−gJ)·2).
    assert_eq!(st.v[1], m.input(0, 1, 2));
    assert_eq!(st.v[1], -3.5);
    assert_eq!(st.last_spike, vec![0, NEVER, NEVER, 0, 0]);
}

fn splitting_a_run_into_calls_changes_nothing(b: &Entry) {
    let mut c = Config::default();
    c.network.n_e = 400;
    c.network.epsilon = 0.2;
    c.input.ratio = 3.0;
    c.simulation.duration = 50.0;
    let m = Model::new(&c);
    let net = Network::build(&c, brunel_core::Par::Seq);
    let mut whole = make(b, &m, &net, 2);
    let mut a = SpikeRecorder::new(RecordSpikes::All, m.steps);
    whole.run(m.steps, &mut a).unwrap();
    let mut split = make(b, &m, &net, 3);
    let mut b = SpikeRecorder::new(RecordSpikes::All, m.steps);
    for chunk in [1, 7, 15, 100, 377] {
        split.run(chunk, &mut b).unwrap();
    }
    assert_eq!(split.step(), m.steps);
    assert!(
        a.ids.len() > 100,
        "the network must be active for this test to mean anything"
    );
    assert_eq!(a, b);
    assert_eq!(whole.state().unwrap(), split.state().unwrap());
}

type Test = fn(&Entry);

fn tests() -> Vec<(&'static str, Test)> {
    vec![
        ("a_spike_arrives_exactly_round_d_over_dt_steps_later", a_spike_arrives_exactly_round_d_over_dt_steps_later),
        ("the_threshold_is_strict", the_threshold_is_strict),
        ("discard_holds_v_at_reset_and_loses_input_during_refractoriness", discard_holds_v_at_reset_and_loses_input_during_refractoriness),
        ("accumulate_adds_input_during_refractoriness_and_fires_again_after_exactly_ref_steps", accumulate_adds_input_during_refractoriness_and_fires_again_after_exactly_ref_steps),
        ("the_reset_overwrites_input_of_the_spike_step", the_reset_overwrites_input_of_the_spike_step),
        ("a_neuron_can_fire_again_at_k_plus_ref_steps_at_the_earliest", a_neuron_can_fire_again_at_k_plus_ref_steps_at_the_earliest),
        ("recurrent_input_reaching_a_refractory_neuron_is_lost_under_discard_kept_under_accumulate", recurrent_input_reaching_a_refractory_neuron_is_lost_under_discard_kept_under_accumulate),
        ("inhibitory_sources_add_minus_g_j_per_synapse_and_multiplicity_counts", inhibitory_sources_add_minus_g_j_per_synapse_and_multiplicity_counts),
        ("splitting_a_run_into_calls_changes_nothing", splitting_a_run_into_calls_changes_nothing),
    ]
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for entry in all() {
        let why = unavailable(entry);
        if let Some(reason) = &why {
            if !is_required(entry.name) {
                skip(entry.name, "time-step tests", reason);
            }
        }
        for (test, f) in tests() {
            let why = why.clone();
            let ignored = why.is_some() && !is_required(entry.name);
            let trial = Trial::test(
                format!("{}::{test}", entry.name),
                move || -> Result<(), Failed> {
                    if let Some(reason) = why {
                        return Err(format!(
                            "`{}` is required but unavailable: {reason}",
                            entry.name
                        )
                        .into());
                    }
                    f(entry);
                    passed(entry.name, test, "");
                    Ok(())
                },
            );
            trials.push(trial.with_ignored_flag(ignored));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
