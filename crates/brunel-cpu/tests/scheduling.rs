//! The cpu backend's scheduling: whichever thread runs a part of the network in a batch, the
//! bits are the reference's; and threads beyond one per part are not started.

use std::time::Duration;

use brunel_core::{Backend, Config, Error, Model, Network, Par, Recorder, ReferenceBackend};
use brunel_cpu::CpuBackend;
use brunel_testkit::{assert_same, run_in_pieces, Outcome};

/// 3 000 neurons in an active regime.
fn config() -> Config {
    let mut config = Config::default();
    config.network.n_e = 2400;
    config.synapse.j = 0.5;
    config.synapse.g = 4.0;
    config.input.ratio = 1.5;
    config.simulation.duration = 60.0;
    config.simulation.seed = 11;
    config.validate().expect("valid");
    config
}

/// Runs `steps` steps in calls of the given lengths (the rest in one call at the end).
fn run(backend: &mut dyn Backend, steps: u64, pieces: &[u64]) -> Outcome {
    let mut all = pieces.to_vec();
    all.push(steps - pieces.iter().sum::<u64>());
    run_in_pieces(backend, steps, &all).expect("run")
}

/// The backend on `threads` threads, `per_thread` parts each (1: the default cut).
fn backend(model: &Model, network: &Network, threads: usize, per_thread: usize) -> CpuBackend {
    if per_thread == 1 {
        CpuBackend::new(model, network, Par::threads(threads))
    } else {
        CpuBackend::with_parts_per_thread(model, network, Par::threads(threads), per_thread)
    }
    .expect("backend")
}

/// The (part, batch) pairs of a whole run in calls of the lengths `pieces` and the rest: each
/// call starts a new batch.
fn part_batches(model: &Model, pieces: &[u64], parts: usize) -> u64 {
    let mut calls = pieces.to_vec();
    calls.push(model.steps - pieces.iter().sum::<u64>());
    calls
        .iter()
        .map(|&c| c.div_ceil(model.delay_steps as u64))
        .sum::<u64>()
        * parts as u64
}

/// One thread of the pool pauses at the start of every batch, so the other threads take most
/// of its parts: a different assignment of parts to threads from batch to batch, with one part
/// per thread (the default) and with several, and the reference's spikes (every step) and final
/// state all the same.
#[test]
fn a_slow_thread_changes_who_runs_what_but_not_the_bits() {
    let config = config();
    let model = Model::new(&config);
    let network = Network::build(&config, Par::threads(2));
    let steps = model.steps;
    let want = run(&mut ReferenceBackend::new(&model, &network), steps, &[]);
    assert!(want.spikes.ids.len() > 1000, "too few spikes to be a test");
    let batches = steps.div_ceil(model.delay_steps as u64);

    for (threads, per_thread, slow, pieces) in [
        (3, 1, 0, vec![]),
        (3, 3, 2, vec![7, 100]),
        (2, 1, 1, vec![15]),
        (2, 4, 0, vec![]),
    ] {
        let backend = backend(&model, &network, threads, per_thread);
        assert_eq!(backend.info().threads, threads);
        let parts = backend.parts();
        assert_eq!(parts, threads * per_thread, "parts on {threads} threads");
        // The pause is longer than a scheduler's slice (1.5-3 ms), so that on a loaded machine
        // the other threads being taken off their cores for a slice does not leave the slow
        // thread most of the parts (400 us was seen to fail so once, under load 4).
        let mut backend = backend.with_test_delay(slow, Duration::from_millis(4));
        let what =
            format!("{threads} threads, {parts} parts, thread {slow} slow, pieces {pieces:?}");
        let got = run(&mut backend, steps, &pieces);
        assert_same(&what, &want, &got);

        let runs = backend.part_runs();
        let part_batches = part_batches(&model, &pieces, parts);
        assert!(part_batches >= batches * parts as u64);
        assert_eq!(
            runs.iter().sum::<u64>(),
            part_batches,
            "{what}: every part runs once per batch ({runs:?})"
        );
        let fair = part_batches / threads as u64;
        assert!(
            runs[slow] < fair / 2,
            "{what}: the slow thread ran {} of {part_batches} part batches ({runs:?}), so the \
             others did not take its parts",
            runs[slow]
        );
    }
}

/// One thread of the pool stops in the middle of every part it claims (after delivering the
/// part's spikes, before advancing its neurons), for longer than a scheduler's slice: the other
/// threads see it not moving, run those parts' batches again from the committed state, and
/// commit them first; the stopped thread's runs are then dropped. The reference's spikes and
/// final state all the same, with calls that cut batches short (which no thread runs twice).
#[test]
fn a_thread_stopped_inside_its_part_is_overtaken_and_the_bits_stay() {
    let config = config();
    let model = Model::new(&config);
    let network = Network::build(&config, Par::threads(2));
    let steps = model.steps;
    let want = run(&mut ReferenceBackend::new(&model, &network), steps, &[]);

    for (threads, per_thread, slow, pieces) in [
        (2, 1, 0, vec![]),
        (2, 1, 1, vec![15, 7]),
        (3, 2, 1, vec![100]),
    ] {
        let backend = backend(&model, &network, threads, per_thread);
        let parts = backend.parts();
        let mut backend = backend.with_test_stall(slow, Duration::from_millis(4));
        let what = format!(
            "{threads} threads, {parts} parts, thread {slow} stopped inside its parts, pieces {pieces:?}"
        );
        let got = run(&mut backend, steps, &pieces);
        assert_same(&what, &want, &got);

        let runs = backend.part_runs();
        let part_batches = part_batches(&model, &pieces, parts);
        assert_eq!(
            runs.iter().sum::<u64>(),
            part_batches,
            "{what}: every part batch is committed once ({runs:?})"
        );
        let overtaken = backend.overtakes();
        assert!(
            overtaken > 0,
            "{what}: no part batch was run again by another thread ({runs:?})"
        );
        assert!(
            runs[slow] < part_batches / threads as u64,
            "{what}: the stopped thread committed {} of {part_batches} part batches ({runs:?}, \
             {overtaken} overtaken)",
            runs[slow]
        );
    }
}

/// Records nothing, and fails at the end of its first batch.
struct Failing(bool);

impl Recorder for Failing {
    fn record(&mut self, _step: u64, _spikes: &[u32]) {}
    fn end_batch(&mut self, _next_step: u64) -> brunel_core::Result<()> {
        if std::mem::replace(&mut self.0, true) {
            Ok(())
        } else {
            Err(Error::Backend {
                backend: "test".into(),
                message: "the recorder failed".into(),
            })
        }
    }
}

/// A recorder's error ends the call, but the backend stands where its threads got to (the end
/// of the call's steps): a later call goes on from there to the reference's state, instead of
/// running the same steps again (which no part would take: the engine would hang) or on a
/// state half moved on.
#[test]
fn after_a_recorder_error_the_backend_goes_on_from_where_it_stands() {
    let config = config();
    let model = Model::new(&config);
    let network = Network::build(&config, Par::threads(2));
    let steps = model.steps;
    let want = run(&mut ReferenceBackend::new(&model, &network), steps, &[]);
    let mut backend = CpuBackend::new(&model, &network, Par::threads(2)).expect("backend");
    let first = 100;
    let err = backend
        .run(first, &mut Failing(false))
        .expect_err("the recorder's error is passed on");
    assert!(err.to_string().contains("the recorder failed"), "{err}");
    assert_eq!(backend.step(), first);
    backend
        .run(steps - first, &mut Failing(true))
        .expect("the rest");
    let got = backend.state().expect("state");
    assert_eq!(got.step, want.state.step);
    assert_eq!(got.v, want.state.v, "potentials after the error");
    assert_eq!(got.last_spike, want.state.last_spike);
    assert_eq!(got.in_flight, want.state.in_flight);
}

/// Asked for 1 024 threads on a small network, the backend starts no more threads than the
/// network has work for (beyond the cores, one per 256 neurons; never more than parts) and
/// notes the number asked in its device description: surplus threads would only wait on each
/// other at every batch.
#[test]
fn threads_beyond_one_per_part_are_not_started() {
    let config = config();
    let model = Model::new(&config);
    let network = Network::build(&config, Par::threads(2));
    let mut backend = CpuBackend::new(&model, &network, Par::threads(1024)).expect("backend");
    let info = backend.info();
    assert!(info.threads <= backend.parts(), "{info:?}");
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    assert!(info.threads <= cores.max(3000 / 256), "{info:?}");
    assert!(info.threads > 1, "{info:?}");
    assert!(
        info.device.contains("1024 asked"),
        "the cap is noted: {}",
        info.device
    );
    assert_eq!(backend.part_runs().len(), info.threads);
    let want = run(
        &mut ReferenceBackend::new(&model, &network),
        model.steps,
        &[],
    );
    let got = run(&mut backend, model.steps, &[]);
    assert_same("1024 threads asked", &want, &got);

    // Not capped: as many threads as asked, and no note.
    let backend = CpuBackend::new(&model, &network, Par::threads(3)).expect("backend");
    assert_eq!(backend.info().threads, 3);
    assert!(!backend.info().device.contains("asked"));
}

/// A panic inside a part's batch (a bug in its arithmetic, say) ends the run with that panic on
/// the caller, within seconds: the threads waiting for the part, which will never be committed,
/// see the section poisoned and leave it, whether the batch may be run twice (the second run
/// panics too) or not (the others asleep until woken), on one thread or several. The backend
/// then refuses to run on from parts left at different steps, until a state is loaded.
#[test]
fn a_panic_inside_a_part_reaches_the_caller_instead_of_hanging() {
    let config = config();
    let model = Model::new(&config);
    let network = Network::build(&config, Par::threads(2));
    let d = model.delay_steps as u64;
    let steps = model.steps;
    // (threads, parts per thread, the part that panics, the step it panics in, pieces)
    for (threads, per_thread, part, step, pieces) in [
        // A whole batch in the middle of the run: other threads may run it a second time.
        (2, 1, 1, 6 * d + 3, vec![]),
        // A short first call: its one batch may not be run twice, the others sleep.
        (3, 2, 4, 3, vec![7]),
        // Several parts a thread, the last part, in a whole batch of a call after a short one.
        (2, 3, 5, 7 + d + 2, vec![7]),
        // One thread: the panic reaches the caller directly.
        (1, 1, 0, 2 * d, vec![]),
    ] {
        let backend = backend(&model, &network, threads, per_thread);
        let what = format!(
            "{threads} threads, {} parts, part {part} panics at step {step}, pieces {pieces:?}",
            backend.parts()
        );
        let mut backend = backend.with_test_panic(part, step);
        let (tx, rx) = std::sync::mpsc::channel();
        // On a thread of its own, so that a run that hangs fails the test instead of hanging it.
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(&mut backend, steps, &pieces);
            }));
            let message = outcome.err().map(|payload| {
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            });
            let later = backend.run(d, &mut Failing(true)).err();
            tx.send((message, later.map(|e| e.to_string()))).ok();
        });
        let (message, later) = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{what}: the run hangs after a part panicked"));
        let message = message.unwrap_or_else(|| panic!("{what}: the run did not panic"));
        assert!(
            message.contains(&format!("test: part {part}'s batch")),
            "{what}: the caller got another panic: {message}"
        );
        let later = later.unwrap_or_else(|| panic!("{what}: the backend ran on after the panic"));
        assert!(later.contains("panicked"), "{what}: {later}");
    }
}
