//! Support shared by every test crate of brunel (and the benchmarks):
//!
//! - [`required`] / [`skip`] / [`passed`]: `BRUNEL_REQUIRE` (backends and checks whose absence
//!   fails instead of skipping) and visible skips: every skip and pass of a suite test is
//!   appended to the file named by `BRUNEL_TEST_LOG`, which `cargo xtask test` prints at the
//!   end (libtest swallows the output of passing tests); [`run_or_skip`] wraps a test that
//!   needs something this machine may lack;
//! - [`Outcome`], [`run_in_pieces`], [`reference()`], [`compare`]: a run's spikes and final
//!   state, compared with the reference's bit for bit;
//! - [`run_child`], [`child_only`]: a check that must run in a process of its own (one that sets
//!   an environment variable the rest of the tests must not see) as an `#[ignore]`d child test
//!   of the same test binary;
//! - [`panel`]: the Fig. 8 panels, read from `configs/fig8_*.toml` (the one copy of their
//!   parameters).

#![warn(missing_docs)]

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::PathBuf;

use brunel_core::{
    Backend, Config, HostState, Model, Network, RecordSpikes, ReferenceBackend, SpikeRecorder,
};

/// Names in `BRUNEL_REQUIRE` (comma-separated): backends or checks that must not be skipped.
pub fn required() -> Vec<String> {
    std::env::var("BRUNEL_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether `name` is in `BRUNEL_REQUIRE`.
pub fn is_required(name: &str) -> bool {
    required().iter().any(|r| r == name)
}

/// Appends `status<TAB>name<TAB>test<TAB>detail` to the file `BRUNEL_TEST_LOG` names, if any.
pub fn log(status: &str, name: &str, test: &str, detail: &str) {
    let Some(path) = std::env::var_os("BRUNEL_TEST_LOG") else {
        return;
    };
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let line = format!(
        "{status}\t{}\t{}\t{}\n",
        clean(name),
        clean(test),
        clean(detail)
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Skips `test` of `name` (a backend or a check) for `reason`: printed, logged, and a panic (a
/// failure) when `BRUNEL_REQUIRE` names it.
pub fn skip(name: &str, test: &str, reason: &str) {
    if is_required(name) {
        panic!("`{name}` is required (BRUNEL_REQUIRE) but {test} cannot run: {reason}");
    }
    eprintln!("SKIPPED {name} {test}: {reason}");
    log("skipped", name, test, reason);
}

/// Notes that `test` of `name` ran and passed (`detail`: what it covered, e.g. a case count).
pub fn passed(name: &str, test: &str, detail: &str) {
    log("passed", name, test, detail);
}

/// Runs `test` of `name` if `ready` is `Ok`, else skips it with the reason ([`skip`]: a failure
/// under `BRUNEL_REQUIRE`). `body` panics on failure and returns what it covered (e.g. a spike
/// count), logged with [`passed`] when it returns.
///
/// ```no_run
/// fn device() -> Result<(), String> { Err("no device here".into()) }
/// brunel_testkit::run_or_skip("opencl", "my_test", device(), || {
///     // ... assertions ...
///     "1234 spikes".to_owned()
/// });
/// ```
pub fn run_or_skip(
    name: &str,
    test: &str,
    ready: Result<(), String>,
    body: impl FnOnce() -> String,
) {
    match ready {
        Ok(()) => {
            let detail = body();
            passed(name, test, &detail);
        }
        Err(reason) => skip(name, test, &reason),
    }
}

/// What a run produced: every spike and the final state.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Every spike (recorded with [`RecordSpikes::All`]) and the count of every step.
    pub spikes: SpikeRecorder,
    /// The state after the last step.
    pub state: HostState,
}

impl Outcome {
    /// Spikes of the whole run.
    pub fn spike_count(&self) -> u64 {
        self.spikes.counts.iter().map(|&c| c as u64).sum()
    }
}

/// Runs `backend` for `steps` steps in pieces of the sizes `pieces` (repeated; the last piece
/// is cut to what remains; empty: one call), recording every spike.
pub fn run_in_pieces(
    backend: &mut dyn Backend,
    steps: u64,
    pieces: &[u64],
) -> brunel_core::Result<Outcome> {
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
        backend.run(piece, &mut spikes)?;
        done += piece;
        i += 1;
    }
    let state = backend.state()?;
    Ok(Outcome { spikes, state })
}

/// The reference backend's outcome of `steps` steps (one call), the oracle of [`compare`].
pub fn reference(model: &Model, network: &Network, steps: u64) -> Outcome {
    let mut backend = ReferenceBackend::new(model, network);
    run_in_pieces(&mut backend, steps, &[]).expect("the reference backend runs")
}

/// Whether `got` is `want` bit for bit (every step's spike count, every spike, the final
/// potentials, last spikes, spikes in flight and step); if not, where they first differ.
pub fn compare(what: &str, want: &Outcome, got: &Outcome) -> Result<(), String> {
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
    if let Some(i) = (0..w.ids.len().min(g.ids.len()))
        .find(|&i| (w.steps[i], w.ids[i]) != (g.steps[i], g.ids[i]))
    {
        return Err(format!(
            "{what}: spike {i} differs: reference neuron {} at step {}, backend neuron {} at step {}",
            w.ids[i], w.steps[i], g.ids[i], g.steps[i]
        ));
    }
    if w != g {
        return Err(format!("{what}: spike records differ"));
    }
    compare_states(what, &want.state, &got.state)
}

/// Whether two states are the same bit for bit; if not, where they first differ.
pub fn compare_states(what: &str, ws: &HostState, gs: &HostState) -> Result<(), String> {
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
    if ws.in_flight != gs.in_flight {
        let i = (0..ws.in_flight.len().max(gs.in_flight.len()))
            .find(|&i| ws.in_flight.get(i) != gs.in_flight.get(i))
            .unwrap_or(0);
        return Err(format!(
            "{what}: spikes in flight differ ({} and {}), first at {i}: {:?} and {:?}",
            ws.in_flight.len(),
            gs.in_flight.len(),
            ws.in_flight.get(i),
            gs.in_flight.get(i)
        ));
    }
    Ok(())
}

/// Panics with the difference unless `got` is `want` bit for bit.
pub fn assert_same(what: &str, want: &Outcome, got: &Outcome) {
    if let Err(e) = compare(what, want, got) {
        panic!("{e}");
    }
}

/// Runs the `#[ignore]`d test `child` of this test binary in a child process (`child --ignored
/// --exact --nocapture`) with the environment variable `marker` set to `1` (the child checks it
/// with [`child_only`]), the variables of `env` set and those of `remove` removed. Panics unless
/// the child ran exactly that one test and it passed; returns its stdout and stderr together.
pub fn run_child(child: &str, marker: &str, env: &[(&str, &OsStr)], remove: &[&str]) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = std::process::Command::new(exe);
    cmd.args([child, "--ignored", "--exact", "--nocapture"])
        .env(marker, "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    let out = cmd.output().expect("the test binary runs as a child");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child test {child} failed:\n{text}");
    assert!(
        text.contains("test result: ok. 1 passed"),
        "child test {child} did not run (no such #[ignore]d test?):\n{text}"
    );
    text
}

/// Panics unless this test runs as a child started by [`run_child`] with `marker`: an
/// `#[ignore]`d child test is no test of its own, and `cargo test -- --ignored` must not pass it
/// by accident.
pub fn child_only(marker: &str, child: &str, parent: &str) {
    assert!(
        std::env::var_os(marker).is_some(),
        "{child} runs only as a child of {parent} (run_child sets {marker})"
    );
}

/// Whether Open MPI's `mpirun` runs here; why not otherwise (for the mpi backend's tests).
pub fn mpirun_ready() -> Result<(), String> {
    match std::process::Command::new("mpirun")
        .arg("--version")
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`mpirun --version` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!(
            "no `mpirun` here ({e}); install Open MPI (`cargo xtask setup`)"
        )),
    }
}

/// `mpirun --oversubscribe -np k` (more ranks than cores on a small machine), allowed to run
/// as root as CI does; the caller adds the program and its arguments.
pub fn mpirun(k: usize) -> std::process::Command {
    let mut cmd = std::process::Command::new("mpirun");
    cmd.args(["--oversubscribe", "-np", &k.to_string()])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    cmd
}

/// The folder of the shipped configs: `BRUNEL_CONFIGS` if set (a prepared GPU check runs the
/// test binaries away from the source tree), else the repository's `configs/`.
pub fn configs_dir() -> PathBuf {
    std::env::var_os("BRUNEL_CONFIGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs"))
}

/// A mid-size network (2 500 neurons) in an active regime, of `connectivity` and `rule`, 100 ms:
/// what the equivalence suites run every backend on.
pub fn mid_config(
    connectivity: brunel_core::Connectivity,
    rule: brunel_core::RefractoryInput,
) -> Config {
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

/// The Fig. 8 panels, in order, by their letter.
pub const PANELS: [&str; 4] = ["a", "b", "c", "d"];

/// The regimes of the four panels, in order (Brunel 2000, Fig. 8).
pub const REGIMES: [&str; 4] = ["SR", "SI-fast", "AI", "SI-slow"];

/// Fig. 8 panel `letter` (`a`..`d`) as `configs/fig8_<letter>.toml` states it.
pub fn panel(letter: &str) -> Config {
    let path = configs_dir().join(format!("fig8_{letter}.toml"));
    Config::from_file_with(&path, &[])
        .unwrap_or_else(|e| panic!("the panel config {} cannot be read: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use brunel_core::Par;

    /// A small, active network's reference outcome.
    fn small_outcome() -> Outcome {
        let mut config = Config::default();
        config.network.n_e = 200;
        config.synapse.j = 0.5;
        config.simulation.duration = 20.0;
        config.validate().expect("valid");
        let model = Model::new(&config);
        let network = Network::build(&config, Par::Seq);
        reference(&model, &network, model.steps)
    }

    #[test]
    fn compare_accepts_the_same_bits_and_names_the_first_difference() {
        let want = small_outcome();
        assert!(want.spike_count() > 0, "the network is active");
        assert_eq!(compare("same", &want, &want.clone()), Ok(()));

        // One spike moved to another neuron: the counts agree, the spike does not.
        let mut got = want.clone();
        got.spikes.ids[0] ^= 1;
        let e = compare("moved", &want, &got).unwrap_err();
        assert!(e.starts_with("moved: spike 0 differs"), "{e}");

        // One spike dropped from its step's count.
        let mut got = want.clone();
        let step = got.spikes.counts.iter().position(|&c| c > 0).unwrap();
        got.spikes.counts[step] -= 1;
        let e = compare("dropped", &want, &got).unwrap_err();
        assert!(e.contains(&format!("first differs at step {step}")), "{e}");

        // The last bit of one potential, and -0.0 against +0.0.
        let mut got = want.clone();
        got.state.v[7] = f64::from_bits(got.state.v[7].to_bits() ^ 1);
        let e = compare("v", &want, &got).unwrap_err();
        assert!(e.contains("final state of neuron 7 differs"), "{e}");
        let (mut a, mut b) = (want.clone(), want.clone());
        a.state.v[3] = 0.0;
        b.state.v[3] = -0.0;
        assert!(compare("zero", &a, &b).is_err(), "-0.0 is not +0.0");

        // A spike in flight, and the step counter.
        let mut got = want.clone();
        got.state.in_flight.push((u64::MAX, 0));
        let e = compare("flight", &want, &got).unwrap_err();
        assert!(e.contains("spikes in flight differ"), "{e}");
        let mut got = want.clone();
        got.state.step += 1;
        let e = compare("step", &want, &got).unwrap_err();
        assert!(e.contains("step counters differ"), "{e}");
    }

    #[test]
    fn run_in_pieces_gives_the_same_outcome_as_one_call() {
        let mut config = Config::default();
        config.network.n_e = 200;
        config.synapse.j = 0.5;
        config.simulation.duration = 20.0;
        let model = Model::new(&config);
        let network = Network::build(&config, Par::Seq);
        let whole = reference(&model, &network, model.steps);
        let mut backend = ReferenceBackend::new(&model, &network);
        let pieces = run_in_pieces(&mut backend, model.steps, &[1, 7, 50]).unwrap();
        assert_same("pieces", &whole, &pieces);
        assert_eq!(pieces.state.step, model.steps);
    }

    /// The only test of this crate that reads or changes the environment (tests run on threads
    /// of one process); it restores what it changed.
    #[test]
    fn skips_are_logged_and_fail_when_required() {
        let saved: Vec<_> = ["BRUNEL_REQUIRE", "BRUNEL_TEST_LOG"]
            .map(|k| (k, std::env::var_os(k)))
            .into();
        let log_path =
            std::env::temp_dir().join(format!("brunel-testkit-log-{}.tsv", std::process::id()));
        let _ = std::fs::remove_file(&log_path);
        std::env::set_var("BRUNEL_TEST_LOG", &log_path);
        std::env::set_var("BRUNEL_REQUIRE", " sonata , opencl,");
        assert_eq!(required(), ["sonata", "opencl"]);
        assert!(is_required("opencl") && !is_required("cpu") && !is_required(""));

        let mut ran = false;
        run_or_skip("cpu", "t1", Err("no cpu\there".into()), || {
            ran = true;
            String::new()
        });
        assert!(!ran, "a skipped body does not run");
        run_or_skip("cpu", "t2", Ok(()), || "12 spikes".into());
        let required_skip = std::panic::catch_unwind(|| {
            run_or_skip("opencl", "t3", Err("no device".into()), || {
                unreachable!("a skipped body does not run")
            })
        });
        let message = required_skip.expect_err("a required skip fails");
        let message = message
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(message.contains("`opencl` is required"), "{message}");
        assert!(message.contains("no device"), "{message}");

        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let _ = std::fs::remove_file(&log_path);
        for (k, v) in saved {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
        assert_eq!(
            log, "skipped\tcpu\tt1\tno cpu here\npassed\tcpu\tt2\t12 spikes\n",
            "a required skip is a failure, not a log line"
        );
    }

    const CHILD: &str = "BRUNEL_TESTKIT_CHILD";

    #[test]
    fn run_child_runs_the_ignored_child_with_its_environment() {
        let text = run_child(
            "tests::child_prints_its_environment",
            CHILD,
            &[("BRUNEL_TESTKIT_VALUE", "x y".as_ref())],
            &[],
        );
        assert!(text.contains("CHILD VALUE=x y"), "{text}");
        let missing =
            std::panic::catch_unwind(|| run_child("tests::no_such_child", CHILD, &[], &[]));
        assert!(
            missing.is_err(),
            "a child test that does not exist is a failure"
        );
    }

    #[test]
    #[ignore = "runs only as a child of run_child_runs_the_ignored_child_with_its_environment"]
    fn child_prints_its_environment() {
        child_only(
            CHILD,
            "child_prints_its_environment",
            "run_child_runs_the_ignored_child_with_its_environment",
        );
        let value = std::env::var("BRUNEL_TESTKIT_VALUE").unwrap_or_default();
        println!("CHILD VALUE={value}");
    }
}
