//! The cross-backend equivalence suite: every backend of the registry (`brunel-backends`)
//! against the scalar reference, bit for bit: the spikes of every step (ids and steps), the
//! per-step counts, and the final state (every v to the bit, every last spike, the spikes in
//! flight, the step).
//!
//! The trials are stamped at run time from the registry (a custom harness, libtest-mimic):
//! `cpu::fig8_a_...`, `opencl::fig8_a_...`, and so for every backend the registry lists, so a
//! backend added there is tested without anyone naming it here; the trial
//! `registry::every_candidate_is_stamped` checks that. The suite first prints every backend
//! of the registry, present or skipped and why; under `BRUNEL_REQUIRE=cpu,opencl` a skip is a
//! failure.
//!
//! What it covers:
//! - the four Fig. 8 panels (`configs/fig8_*.toml`), full size (12 500 neurons, 15.6 M
//!   synapses), shortened to 300 ms, each on its own thread count and run in uneven pieces;
//! - thread counts 1, 2, 3 and 7 on a mid-size network, both connectivities and both
//!   refractory rules;
//! - the result does not depend on how the steps are split between `run` calls (single steps,
//!   pieces shorter and longer than the delay, empty calls);
//! - the state moves between backends: a run stopped at any step (during the first delay,
//!   mid-batch, just before a spike arrives) and continued on another backend, or on another
//!   thread count, from `state()` → `load_state()`, ends bit for bit as the uninterrupted run;
//! - random small networks (`proptest`): sizes, g, J, input ratio, the number of external
//!   inputs, dt, delays (whole steps >= 1), refractory periods (whole steps >= 0), initial
//!   potentials, both refractory rules, both connectivities, seeds, thread counts, splits.
//!
//! The random cases come from a fixed seed (reproducible in CI); `BRUNEL_PROPTEST_SEED=N`
//! draws another set and `BRUNEL_PROPTEST_CASES=N` changes their number.

use std::cell::Cell;
use std::sync::OnceLock;

use brunel_backends::Entry;
use brunel_core::{
    Backend, Config, Connectivity, Draw, Model, Network, Par, ReferenceBackend, RefractoryInput,
    SpikeRecorder, Storage,
};
use brunel_suite::{
    assert_same, candidates, compare, is_required, make, make_from_draw, mid_config, panel, passed,
    reference, run_in_pieces, skip, unavailable, Outcome, PANELS,
};
use libtest_mimic::{Arguments, Failed, Trial};
use proptest::prelude::*;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestRng, TestRunner,
};

/// Runs `backend` in `pieces`, panicking on a backend error.
fn run(backend: &mut dyn Backend, steps: u64, pieces: &[u64]) -> Outcome {
    run_in_pieces(backend, steps, pieces).expect("the backend runs")
}

/// Simulated time of the shortened panels (ms).
const PANEL_MS: f64 = 300.0;

/// Fig. 8 panel `i` (`configs/fig8_*.toml`), shortened.
fn panel_config(i: usize) -> Config {
    let mut config = panel(PANELS[i]);
    config.simulation.duration = PANEL_MS;
    config.validate().expect("panel config is valid");
    config
}

/// The full-size network: the same for every panel (g and the input do not change it; the
/// test checks that the panels agree on what does).
fn panel_network() -> &'static Network {
    static NETWORK: OnceLock<Network> = OnceLock::new();
    NETWORK.get_or_init(|| {
        let first = panel_config(0);
        for i in 1..4 {
            let c = panel_config(i);
            assert_eq!(
                (c.network.clone(), c.simulation.seed),
                (first.network.clone(), first.simulation.seed),
                "the panels must share one network"
            );
        }
        Network::build(&first, Par::threads(0))
    })
}

/// The reference's outcome of a panel, computed once for all backends.
fn panel_reference(i: usize) -> &'static Outcome {
    static OUTCOMES: [OnceLock<Outcome>; 4] = [const { OnceLock::new() }; 4];
    OUTCOMES[i].get_or_init(|| {
        let model = Model::new(&panel_config(i));
        reference(&model, panel_network(), model.steps)
    })
}

/// A Fig. 8 panel on `threads` threads, in uneven pieces (one step, less than a delay, more
/// than a delay, ...).
fn fig8(entry: &Entry, i: usize, threads: usize) -> String {
    let model = Model::new(&panel_config(i));
    let network = panel_network();
    let mut backend = make(entry, &model, network, threads);
    let got = run(
        backend.as_mut(),
        model.steps,
        &[1, 14, 15, 16, 7, 400, 1000],
    );
    let want = panel_reference(i);
    let spikes = want.spike_count();
    assert!(
        spikes > 1000,
        "panel {} produced only {spikes} spikes: not a test",
        PANELS[i]
    );
    assert_same(
        &format!("{} on {threads} thread(s), panel {}", entry.name, PANELS[i]),
        want,
        &got,
    );
    format!("{spikes} spikes")
}

/// Runs the mid-size network of both connectivities on each of `threads` (once, for a backend
/// that does not honour a thread count) against one reference run; `draw`: the backend is made
/// from the network not drawn yet. Returns the number of runs.
fn against_reference(entry: &Entry, threads: &[usize], draw: bool) -> usize {
    let mut runs = 0;
    for (connectivity, rule) in [
        (Connectivity::Bernoulli, RefractoryInput::Discard),
        (Connectivity::FixedIndegree, RefractoryInput::Accumulate),
    ] {
        let config = mid_config(connectivity, rule);
        let model = Model::new(&config);
        let network = Network::build(&config, Par::threads(2));
        let want = reference(&model, &network, model.steps);
        assert!(want.spikes.ids.len() > 100, "too few spikes to be a test");
        let undrawn = Draw::new(&config);
        for &threads in threads {
            let mut backend = if draw {
                make_from_draw(entry, &model, &undrawn, threads)
            } else {
                make(entry, &model, &network, threads)
            };
            let got = run(backend.as_mut(), model.steps, &[]);
            let from = if draw { " from the draw" } else { "" };
            let what = format!(
                "{}{from} on {threads} thread(s), {connectivity:?}, {rule:?}",
                entry.name
            );
            assert_same(&what, &want, &got);
            runs += 1;
            if !entry.honours.threads {
                break;
            }
        }
    }
    runs
}

/// Thread counts 1, 2, 3 and 7 against one reference run.
fn thread_counts(entry: &Entry) -> String {
    format!("{} runs", against_reference(entry, &[1, 2, 3, 7], false))
}

/// Made from the network not drawn yet (each backend draws what it keeps: its parts' cuts, or
/// the whole network), a backend runs the reference's network.
fn from_draw(entry: &Entry) -> String {
    format!("{} runs", against_reference(entry, &[1, 3], true))
}

/// `network.storage = "procedural"`, made from the network not drawn yet: a backend that
/// draws each spike's targets again (cpu) or keeps the network drawn (the others) runs the
/// stored network's spikes, bit for bit: the mid-size network (one target block), and one of
/// 150 000 neurons (three blocks of 65 536 targets, cut on block boundaries at 1 and 2
/// threads, straddling them at 3).
fn procedural(entry: &Entry) -> String {
    let mut runs = 0;
    let mid = mid_config(Connectivity::Bernoulli, RefractoryInput::Discard);
    let mut large = mid.clone();
    large.network.n_e = 120_000;
    large.network.epsilon = 0.0003;
    large.synapse.j = 1.0;
    large.simulation.duration = 30.0;
    large.validate().expect("valid");
    for mut config in [mid, large] {
        let model = Model::new(&config);
        let network = Network::build(&config, Par::threads(2));
        let want = reference(&model, &network, model.steps);
        assert!(want.spikes.ids.len() > 100, "too few spikes to be a test");
        config.network.storage = Storage::Procedural;
        config.validate().expect("valid");
        let model = Model::new(&config);
        let undrawn = Draw::new(&config);
        for threads in [1, 2, 3] {
            let mut backend = make_from_draw(entry, &model, &undrawn, threads);
            let got = run(backend.as_mut(), model.steps, &[0, 7, 30]);
            let what = format!(
                "{} procedural on {threads} thread(s), {} neurons",
                entry.name, model.n
            );
            assert_same(&what, &want, &got);
            runs += 1;
            if !entry.honours.threads {
                break;
            }
        }
    }
    format!("{runs} runs")
}

/// However the steps are split between `run` calls, the result is the same.
fn split_runs(entry: &Entry) -> String {
    let mut config = mid_config(Connectivity::Bernoulli, RefractoryInput::Discard);
    config.synapse.delay = 0.7; // 7 steps
    config.simulation.duration = 500.0; // 5 000 steps: one call spans several of cpu's sections
    let model = Model::new(&config);
    let network = Network::build(&config, Par::threads(2));
    let want = reference(&model, &network, model.steps);
    let splits: [&[u64]; 4] = [&[], &[1], &[0, 6, 8, 7, 0, 13, 1, 2], &[333, 1, 2500]];
    for pieces in splits {
        let mut backend = make(entry, &model, &network, 2);
        let got = run(backend.as_mut(), model.steps, pieces);
        assert_same(&format!("{} in pieces {pieces:?}", entry.name), &want, &got);
    }
    format!("{} splits", splits.len())
}

/// The steps of `outcome` from `from` on, as a recorder that started there would hold them.
fn tail(outcome: &Outcome, from: u64) -> SpikeRecorder {
    let s = &outcome.spikes;
    let first = s.steps.partition_point(|&k| k < from);
    SpikeRecorder {
        select: s.select,
        counts: s.counts[from as usize..].to_vec(),
        steps: s.steps[first..].to_vec(),
        ids: s.ids[first..].to_vec(),
    }
}

/// A run stopped at step `cut` on one backend and continued on another from `state()` →
/// `load_state()` ends as the uninterrupted reference run: reference → candidate (on another
/// thread count), and candidate → reference.
fn resume(entry: &Entry) -> String {
    let config = mid_config(Connectivity::Bernoulli, RefractoryInput::Discard);
    let model = Model::new(&config);
    let network = Network::build(&config, Par::threads(2));
    let d = model.delay_steps as u64;
    let want = reference(&model, &network, model.steps);
    // A step just before a spike arrives: one delay after the first spike, minus one.
    let first_spike = want
        .spikes
        .steps
        .first()
        .copied()
        .expect("the run has spikes");
    let cuts = [
        3,                   // during the first delay
        d + 7,               // mid-batch
        first_spike + d - 1, // the next step receives the first spike
        first_spike + d,     // the first spike arrives at this step
        model.steps / 2 + 1,
    ];
    for &cut in &cuts {
        assert!(cut < model.steps);
        // Reference → candidate.
        let mut head = ReferenceBackend::new(&model, &network);
        run(&mut head, cut, &[]);
        let state = head.state().expect("state");
        let mut backend = make(entry, &model, &network, 3);
        backend.load_state(&state).expect("load_state");
        let rest = run(backend.as_mut(), model.steps - cut, &[4, 11, 15]);
        let expected = Outcome {
            spikes: tail(&want, cut),
            state: want.state.clone(),
        };
        assert_same(
            &format!("reference → {} at step {cut}", entry.name),
            &expected,
            &rest,
        );
        // Candidate → reference, and candidate → candidate on another thread count.
        let mut head = make(entry, &model, &network, 2);
        run(head.as_mut(), cut, &[5]);
        let state = head.state().expect("state");
        let mut back = ReferenceBackend::new(&model, &network);
        back.load_state(&state).expect("load_state");
        let rest = run(&mut back, model.steps - cut, &[]);
        assert_same(
            &format!("{} → reference at step {cut}", entry.name),
            &expected,
            &rest,
        );
        let mut other = make(entry, &model, &network, 1);
        other.load_state(&state).expect("load_state");
        let rest = run(other.as_mut(), model.steps - cut, &[]);
        assert_same(
            &format!(
                "{} (2 threads) → {} (1 thread) at step {cut}",
                entry.name, entry.name
            ),
            &expected,
            &rest,
        );
    }
    format!("{} cut points, 3 directions", cuts.len())
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
fn random_networks(entry: &Entry) -> String {
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
        let mut backend = make(entry, &model, &network, case.threads);
        let got = run_in_pieces(backend.as_mut(), model.steps, &case.pieces)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        ran.set(ran.get() + 1);
        with_spikes.set(with_spikes.get() + u32::from(!want.spikes.ids.is_empty()));
        let what = format!("{} on {:?}", entry.name, case);
        compare(&what, &want, &got).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (with_spikes, ran) = (with_spikes.get(), ran.get());
    assert!(
        with_spikes * 4 >= ran,
        "only {with_spikes} of {ran} random cases had any spike: the cases test little"
    );
    format!("{ran} random cases, {with_spikes} with spikes")
}

/// The tests run on every candidate backend: (name, test). A test returns what it covered.
type Test = fn(&Entry) -> String;

fn tests() -> Vec<(&'static str, Test)> {
    vec![
        ("fig8_a_synchronous_regular_2_threads", |e| fig8(e, 0, 2)),
        ("fig8_b_fast_oscillation_3_threads", |e| fig8(e, 1, 3)),
        ("fig8_c_asynchronous_irregular_7_threads", |e| fig8(e, 2, 7)),
        ("fig8_d_slow_oscillation_1_thread", |e| fig8(e, 3, 1)),
        ("thread_counts_1_2_3_7", thread_counts),
        ("independent_of_how_steps_are_split", split_runs),
        ("made_from_the_network_not_drawn_yet", from_draw),
        ("procedural_storage_gives_the_stored_spikes", procedural),
        ("resume_from_a_state_on_another_backend", resume),
        ("random_small_networks", random_networks),
    ]
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let mut stamped = Vec::new();
    println!("equivalence suite: every backend of the registry against the reference");
    for entry in candidates() {
        let why = unavailable(entry);
        match &why {
            None => println!(
                "  {:<10} present: stamped {} trials",
                entry.name,
                tests().len()
            ),
            Some(reason) if is_required(entry.name) => {
                println!("  {:<10} REQUIRED but unavailable: {reason}", entry.name)
            }
            Some(reason) => {
                println!("  {:<10} SKIPPED: {reason}", entry.name);
                skip(entry.name, "equivalence suite", reason);
            }
        }
        stamped.push(entry.name);
        for (test, run) in tests() {
            let name = format!("{}::{test}", entry.name);
            let why = why.clone();
            let ignored = why.is_some() && !is_required(entry.name);
            let trial = Trial::test(name, move || -> Result<(), Failed> {
                if let Some(reason) = why {
                    return Err(format!(
                        "backend `{}` is required (BRUNEL_REQUIRE) but unavailable: {reason}",
                        entry.name
                    )
                    .into());
                }
                let detail = run(entry);
                passed(entry.name, test, &detail);
                Ok(())
            });
            trials.push(trial.with_ignored_flag(ignored));
        }
    }
    trials.push(Trial::test(
        "registry::every_candidate_is_stamped",
        move || {
            let registry: Vec<&str> = candidates().map(|e| e.name).collect();
            if registry != stamped || registry.is_empty() {
                return Err(format!("stamped {stamped:?}, registry lists {registry:?}").into());
            }
            Ok(())
        },
    ));
    libtest_mimic::run(&args, trials).exit();
}
