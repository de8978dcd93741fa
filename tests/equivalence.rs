//! The cross-backend equivalence suite: every candidate backend of `brunel_suite::candidates`
//! against the scalar reference, bit for bit: the spikes of every step (ids and steps), the
//! per-step counts, and the final state (every v to the bit, every last spike, the step).
//!
//! One suite, stamped once per backend by `suite!` below. A backend that is not present here
//! prints `SKIPPED backend ...: reason`; under `BRUNEL_REQUIRE=cpu,opencl` a skip fails.
//!
//! What it covers:
//! - the four Fig. 8 panels (MODEL.md's g and input ratio), full size (12 500 neurons, 15.6 M
//!   synapses), shortened to 300 ms, each on its own thread count and run in uneven pieces;
//! - thread counts 1, 2, 3 and 7 on a mid-size network, both connectivities and both
//!   refractory rules;
//! - the result does not depend on how the steps are split between `run` calls (single steps,
//!   pieces shorter and longer than the delay, empty calls);
//! - random small networks (`proptest`): sizes, g, J, input ratio, the number of external
//!   inputs, dt, delays (whole steps >= 1), refractory periods (whole steps >= 0), initial
//!   potentials, both refractory rules, both connectivities, seeds, thread counts, splits.
//!
//! The random cases come from a fixed seed (reproducible in CI); `BRUNEL_PROPTEST_SEED=N`
//! draws another set and `BRUNEL_PROPTEST_CASES=N` changes their number.

use std::cell::Cell;
use std::sync::OnceLock;

use brunel_core::{
    Backend, Config, Connectivity, HostState, Model, Network, Par, RecordSpikes, ReferenceBackend,
    RefractoryInput, SpikeRecorder,
};
use brunel_suite::{candidates, make_or_skip, required, Candidate};
use proptest::prelude::*;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestRng, TestRunner,
};

/// What a run produced: every spike and the final state.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    spikes: SpikeRecorder,
    state: HostState,
}

/// Runs `backend` for `steps` steps, in pieces of the sizes `pieces` (repeated; the last piece
/// is cut to what remains), from a fresh start.
fn run_in_pieces(backend: &mut dyn Backend, steps: u64, pieces: &[u64]) -> Outcome {
    let mut spikes = SpikeRecorder::new(RecordSpikes::All, steps);
    let mut done = 0;
    let mut i = 0;
    while done < steps {
        let piece = if pieces.is_empty() {
            steps
        } else {
            pieces[i % pieces.len()]
        };
        let piece = piece.min(steps - done);
        backend.run(piece, &mut spikes).expect("run");
        done += piece;
        i += 1;
    }
    let state = backend.state().expect("state");
    Outcome { spikes, state }
}

/// The reference's outcome, in one call.
fn reference(model: &Model, network: &Network, steps: u64) -> Outcome {
    let mut backend = ReferenceBackend::new(model, network);
    run_in_pieces(&mut backend, steps, &[])
}

/// Asserts that `got` is `want` bit for bit, saying where they first differ.
fn assert_same(what: &str, want: &Outcome, got: &Outcome) {
    if let Err(e) = compare(what, want, got) {
        panic!("{e}");
    }
}

/// Whether `got` is `want` bit for bit; if not, where they first differ.
fn compare(what: &str, want: &Outcome, got: &Outcome) -> Result<(), String> {
    let (w, g) = (&want.spikes, &got.spikes);
    if let Some(step) =
        (0..w.counts.len().max(g.counts.len())).find(|&s| w.counts.get(s) != g.counts.get(s))
    {
        return Err(format!(
            "{what}: the number of spikes first differs at step {step}: reference {:?}, backend {:?}",
            w.counts.get(step),
            g.counts.get(step)
        ));
    }
    if let Some(i) = (0..w.ids.len()).find(|&i| (w.steps[i], w.ids[i]) != (g.steps[i], g.ids[i])) {
        return Err(format!(
            "{what}: spike {i} differs: reference neuron {} at step {}, backend neuron {} at step {}",
            w.ids[i], w.steps[i], g.ids[i], g.steps[i]
        ));
    }
    if w != g {
        return Err(format!("{what}: spike records differ"));
    }
    let (ws, gs) = (&want.state, &got.state);
    if ws.step != gs.step {
        return Err(format!(
            "{what}: step counters differ: {} and {}",
            ws.step, gs.step
        ));
    }
    if ws.v.len() != gs.v.len() || ws.last_spike.len() != gs.last_spike.len() {
        return Err(format!("{what}: numbers of neurons differ"));
    }
    if let Some(i) = ws.first_difference(gs) {
        return Err(format!(
            "{what}: final state of neuron {i} differs: reference v = {:e} ({:#x}), last spike {}; \
             backend v = {:e} ({:#x}), last spike {}",
            ws.v[i],
            ws.v[i].to_bits(),
            ws.last_spike[i],
            gs.v[i],
            gs.v[i].to_bits(),
            gs.last_spike[i]
        ));
    }
    Ok(())
}

/// The candidate called `name`, or `None` (after saying why) when this build lacks it.
fn candidate(name: &str) -> Option<Candidate> {
    let found = candidates().into_iter().find(|c| c.name == name);
    if found.is_none() {
        if required().iter().any(|r| r == name) {
            panic!(
                "backend `{name}` is required (BRUNEL_REQUIRE) but not compiled into this build"
            );
        }
        eprintln!("SKIPPED backend `{name}`: not compiled into this build");
    }
    found
}

/// The Fig. 8 panels of MODEL.md: (name, g, nu_ext / nu_thr).
const PANELS: [(&str, f64, f64); 4] = [
    ("A", 3.0, 2.0),
    ("B", 6.0, 4.0),
    ("C", 5.0, 2.0),
    ("D", 4.5, 0.9),
];

/// Simulated time of the shortened panels (ms).
const PANEL_MS: f64 = 300.0;

fn panel_config(panel: usize) -> Config {
    let (_, g, ratio) = PANELS[panel];
    let mut config = Config::default();
    config.synapse.g = g;
    config.input.ratio = ratio;
    config.simulation.duration = PANEL_MS;
    config.validate().expect("panel config is valid");
    config
}

/// The full-size network (the same for every panel: g and the input do not change it).
fn panel_network() -> &'static Network {
    static NETWORK: OnceLock<Network> = OnceLock::new();
    NETWORK.get_or_init(|| Network::build(&panel_config(0), Par::threads(0)))
}

/// The reference's outcome of a panel, computed once for all backends.
fn panel_reference(panel: usize) -> &'static Outcome {
    static OUTCOMES: [OnceLock<Outcome>; 4] = [const { OnceLock::new() }; 4];
    OUTCOMES[panel].get_or_init(|| {
        let model = Model::new(&panel_config(panel));
        reference(&model, panel_network(), model.steps)
    })
}

/// A Fig. 8 panel on `threads` threads, in uneven pieces (one step, less than a delay, more
/// than a delay, ...).
fn fig8(candidate: Option<Candidate>, panel: usize, threads: usize) {
    let Some(candidate) = candidate else { return };
    let config = panel_config(panel);
    let model = Model::new(&config);
    let network = panel_network();
    let Some(mut backend) = make_or_skip(&candidate, &model, network, threads) else {
        return;
    };
    let got = run_in_pieces(
        backend.as_mut(),
        model.steps,
        &[1, 14, 15, 16, 7, 400, 1000],
    );
    let want = panel_reference(panel);
    let spikes: u64 = want.spikes.counts.iter().map(|&c| c as u64).sum();
    assert!(
        spikes > 1000,
        "panel {} produced only {spikes} spikes: not a test",
        PANELS[panel].0
    );
    assert_same(
        &format!(
            "{} on {threads} thread(s), panel {}",
            candidate.name, PANELS[panel].0
        ),
        want,
        &got,
    );
}

/// A mid-size network (2 500 neurons) in an active regime.
fn mid_config(connectivity: Connectivity, rule: RefractoryInput) -> Config {
    let mut config = Config::default();
    config.network.n_e = 2000;
    config.network.connectivity = connectivity;
    config.neuron.refractory_input = rule;
    config.synapse.j = 0.5;
    config.synapse.g = 4.0;
    config.input.ratio = 1.5;
    config.simulation.duration = 100.0;
    config.simulation.seed = 7;
    config.validate().expect("valid");
    config
}

/// Thread counts 1, 2, 3 and 7 against one reference run. A backend whose `info().threads`
/// does not follow the requested count (a GPU) is run once.
fn thread_counts(candidate: Option<Candidate>) {
    let Some(candidate) = candidate else { return };
    for (connectivity, rule) in [
        (Connectivity::Bernoulli, RefractoryInput::Discard),
        (Connectivity::FixedIndegree, RefractoryInput::Accumulate),
    ] {
        let config = mid_config(connectivity, rule);
        let model = Model::new(&config);
        let network = Network::build(&config, Par::threads(2));
        let want = reference(&model, &network, model.steps);
        assert!(want.spikes.ids.len() > 100, "too few spikes to be a test");
        for threads in [1, 2, 3, 7] {
            let Some(mut backend) = make_or_skip(&candidate, &model, &network, threads) else {
                return;
            };
            let got = run_in_pieces(backend.as_mut(), model.steps, &[]);
            let what = format!(
                "{} on {threads} thread(s), {connectivity:?}, {rule:?}",
                candidate.name
            );
            assert_same(&what, &want, &got);
            if backend.info().threads != threads {
                break;
            }
        }
    }
}

/// However the steps are split between `run` calls, the result is the same.
fn split_runs(candidate: Option<Candidate>) {
    let Some(candidate) = candidate else { return };
    let mut config = mid_config(Connectivity::Bernoulli, RefractoryInput::Discard);
    config.synapse.delay = 0.7; // 7 steps
    config.simulation.duration = 500.0; // 5 000 steps: one call spans several of cpu's sections
    let model = Model::new(&config);
    let network = Network::build(&config, Par::threads(2));
    let want = reference(&model, &network, model.steps);
    let splits: [&[u64]; 4] = [&[], &[1], &[0, 6, 8, 7, 0, 13, 1, 2], &[333, 1, 2500]];
    for pieces in splits {
        let Some(mut backend) = make_or_skip(&candidate, &model, &network, 2) else {
            return;
        };
        let got = run_in_pieces(backend.as_mut(), model.steps, pieces);
        assert_same(
            &format!("{} in pieces {pieces:?}", candidate.name),
            &want,
            &got,
        );
    }
}

/// One random small network and how it is run.
#[derive(Debug, Clone)]
struct Case {
    n_e: u64,
    gamma: f64,
    epsilon: f64,
    connectivity: Connectivity,
    rule: RefractoryInput,
    j: f64,
    g: f64,
    ratio: f64,
    c_ext: Option<u64>,
    dt: f64,
    delay_steps: u32,
    ref_steps: u32,
    v_init: f64,
    seed: u64,
    steps: u64,
    threads: usize,
    pieces: Vec<u64>,
}

impl Case {
    fn config(&self) -> Config {
        let mut c = Config::default();
        c.network.n_e = self.n_e;
        c.network.gamma = self.gamma;
        c.network.epsilon = self.epsilon;
        c.network.connectivity = self.connectivity;
        c.neuron.refractory_input = self.rule;
        c.neuron.tau_rp = self.ref_steps as f64 * self.dt;
        c.neuron.v_init = self.v_init;
        c.synapse.j = self.j;
        c.synapse.g = self.g;
        c.synapse.delay = self.delay_steps as f64 * self.dt;
        c.input.ratio = self.ratio;
        c.input.c_ext = self.c_ext;
        c.simulation.dt = self.dt;
        c.simulation.duration = self.steps as f64 * self.dt;
        c.simulation.seed = self.seed;
        c
    }
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let network = (
        100u64..1600,
        prop_oneof![Just(0.0), 0.05f64..0.5],
        0.05f64..0.3,
        prop_oneof![
            Just(Connectivity::Bernoulli),
            Just(Connectivity::FixedIndegree)
        ],
        prop_oneof![
            Just(RefractoryInput::Discard),
            Just(RefractoryInput::Accumulate)
        ],
    );
    let synapses = (
        0.1f64..0.8,
        0.0f64..8.0,
        0.5f64..3.0,
        // Mostly C_ext = C_E; sometimes many external inputs, whose Binomial table is long.
        prop_oneof![3 => Just(None), 1 => (1u64..3000).prop_map(Some)],
    );
    let time = (
        prop_oneof![Just(0.05), Just(0.1), Just(0.2)],
        1u32..25,
        prop_oneof![Just(0u32), 0u32..40],
        // Half the cases start above threshold: a synchronous first volley.
        prop_oneof![0.0f64..19.0, 21.0f64..30.0],
        any::<u64>(),
        50u64..500,
        prop::sample::select(vec![1usize, 2, 3, 7]),
        prop::collection::vec(0u64..40, 0..4),
    );
    (network, synapses, time).prop_map(
        |(
            (n_e, gamma, epsilon, connectivity, rule),
            (j, g, ratio, c_ext),
            (dt, delay_steps, ref_steps, v_init, seed, steps, threads, pieces),
        )| Case {
            n_e,
            gamma,
            epsilon,
            connectivity,
            rule,
            j,
            g,
            ratio,
            c_ext,
            dt,
            delay_steps,
            ref_steps,
            v_init,
            seed,
            steps,
            threads,
            pieces,
        },
    )
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

/// Random small networks against the reference.
fn random_networks(candidate: Option<Candidate>) {
    let Some(candidate) = candidate else { return };
    let cases = env_u64("BRUNEL_PROPTEST_CASES", 28) as u32;
    let seed = env_u64("BRUNEL_PROPTEST_SEED", 20_000);
    let config = ProptestConfig {
        cases,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let skipped = Cell::new(false);
    let with_spikes = Cell::new(0u32);
    let ran = Cell::new(0u32);
    let result = runner.run(&case_strategy(), |case| {
        let config = case.config();
        if let Err(e) = config.validate() {
            return Err(TestCaseError::reject(e.to_string()));
        }
        let model = Model::new(&config);
        let network = Network::build(&config, Par::threads(2));
        let want = reference(&model, &network, model.steps);
        let Some(mut backend) = make_or_skip(&candidate, &model, &network, case.threads) else {
            skipped.set(true);
            return Ok(());
        };
        let got = run_in_pieces(backend.as_mut(), model.steps, &case.pieces);
        ran.set(ran.get() + 1);
        with_spikes.set(with_spikes.get() + u32::from(!want.spikes.ids.is_empty()));
        let what = format!("{} on {:?}", candidate.name, case);
        compare(&what, &want, &got).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    if !skipped.get() {
        let (with_spikes, ran) = (with_spikes.get(), ran.get());
        assert!(
            with_spikes * 4 >= ran,
            "only {with_spikes} of {ran} random cases had any spike: the cases test little"
        );
    }
}

/// Stamps the suite once per backend.
macro_rules! suite {
    ($($backend:ident),* $(,)?) => {$(
        mod $backend {
            use super::*;

            fn this() -> Option<Candidate> {
                candidate(stringify!($backend))
            }

            #[test]
            fn fig8_a_synchronous_regular_2_threads() {
                fig8(this(), 0, 2);
            }

            #[test]
            fn fig8_b_fast_oscillation_3_threads() {
                fig8(this(), 1, 3);
            }

            #[test]
            fn fig8_c_asynchronous_irregular_7_threads() {
                fig8(this(), 2, 7);
            }

            #[test]
            fn fig8_d_slow_oscillation_1_thread() {
                fig8(this(), 3, 1);
            }

            #[test]
            fn thread_counts_1_2_3_7() {
                thread_counts(this());
            }

            #[test]
            fn independent_of_how_steps_are_split() {
                split_runs(this());
            }

            #[test]
            fn random_small_networks() {
                random_networks(this());
            }
        }
    )*};
}

suite!(cpu, opencl);
