//! The MPI backend against the reference, bit for bit, for K = 1, 2, 3, 4 ranks
//! (`mpirun --oversubscribe -np K`; at K = 3 with the other exchange, `BRUNEL_MPI_EXCHANGE=sizes`)
//! and T = 1, 2 threads per rank: the four Fig. 8 panels
//! (full size, shortened) in both connectivities and both refractory rules, a mid-size network
//! in all four combinations, each rank drawing only its own cut (`Synapses::Draw`) or cutting
//! a whole network (`Synapses::Network`), run in uneven pieces; and a state taken from the
//! reference mid-run and continued on K ranks.
//!
//! Each K is one `mpirun` of this test binary's `#[ignore]`d child test; rank 0 computes the
//! reference and compares (brunel-testkit's `compare`); any difference fails the job. Without
//! `mpirun` the test is skipped visibly (a failure under `BRUNEL_REQUIRE=mpi`).
//! `BRUNEL_MPI_MS` sets the panels' duration (default 50 ms).

#[cfg(not(feature = "mpi"))]
#[test]
fn any_ranks_and_threads_give_the_reference_bits() {
    brunel_testkit::skip(
        "mpi",
        "ranks_against_reference",
        "brunel-mpi was built without its feature `mpi` (cargo test -p brunel-mpi --features mpi)",
    );
}

#[cfg(feature = "mpi")]
mod with_mpi {
    use std::time::Instant;

    use brunel_core::{
        Backend, Config, Connectivity, Draw, Model, Network, Par, RefractoryInput, Synapses,
    };
    use brunel_mpi::MpiBackend;
    use brunel_testkit::{
        compare, mid_config, panel, reference, run_in_pieces, run_or_skip, PANELS,
    };

    const MARKER: &str = "BRUNEL_MPI_CHILD";

    /// `mpirun --oversubscribe -np k` of this test binary's child test `child`, with `env`.
    /// Returns (success, output).
    pub fn mpirun_child(k: usize, child: &str, env: &[(&str, &str)]) -> (bool, String) {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut cmd = brunel_testkit::mpirun(k);
        cmd.arg(exe)
            .args([
                child,
                "--ignored",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(MARKER, "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("mpirun starts");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    #[test]
    fn any_ranks_and_threads_give_the_reference_bits() {
        run_or_skip(
            "mpi",
            "ranks_against_reference",
            brunel_testkit::mpirun_ready(),
            || {
                let mut covered = Vec::new();
                for k in 1..=4 {
                    let t = Instant::now();
                    // The padded exchange (one MPI_Allgather a batch) but at K = 3, where the
                    // lengths go first (MPI_Allgather, then MPI_Allgatherv).
                    let env: Vec<(&str, &str)> = if k == 3 {
                        vec![("BRUNEL_MPI_EXCHANGE", "sizes")]
                    } else {
                        vec![]
                    };
                    let (ok, text) = mpirun_child(k, "with_mpi::child_against_reference", &env);
                    assert!(
                        ok,
                        "mpirun -np {k}: a run differs from the reference:\n{text}"
                    );
                    let cases = text.matches("SAME ").count();
                    assert_eq!(cases, 18, "mpirun -np {k}: cases compared:\n{text}");
                    eprintln!(
                        "{k} rank(s): {cases} cases the same, {:.1} s",
                        t.elapsed().as_secs_f64()
                    );
                    covered.push(format!("K={k}: {cases} cases"));
                }
                covered.join(", ")
            },
        );
    }

    const VARIANTS: [(Connectivity, RefractoryInput); 4] = [
        (Connectivity::Bernoulli, RefractoryInput::Discard),
        (Connectivity::Bernoulli, RefractoryInput::Accumulate),
        (Connectivity::FixedIndegree, RefractoryInput::Discard),
        (Connectivity::FixedIndegree, RefractoryInput::Accumulate),
    ];

    /// Runs `config` on this job's ranks with `threads` threads per rank and compares with the
    /// reference on rank 0 (panics there on a difference: the job fails).
    fn check(what: &str, config: &Config, threads: usize, draw: bool) {
        let model = Model::new(config);
        let drawn = Draw::new(config);
        let network = (!draw).then(|| Network::build(config, Par::threads(0)));
        let synapses = match &network {
            Some(net) => Synapses::Network(net),
            None => Synapses::Draw(&drawn),
        };
        let mut backend = MpiBackend::new(&model, &synapses, Par::threads(threads))
            .unwrap_or_else(|e| panic!("{what}: the mpi backend cannot be made: {e}"));
        let ranks = backend.ranks();
        let got = run_in_pieces(&mut backend, model.steps, &[100, 7, 15, 1, 31])
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        if backend.rank() == 0 {
            let network = network.unwrap_or_else(|| Network::build(config, Par::threads(0)));
            let want = reference(&model, &network, model.steps);
            let what = format!(
                "{what} on {ranks} rank(s) × {threads} thread(s), {}",
                if draw { "cuts drawn" } else { "network cut" }
            );
            compare(&what, &want, &got).unwrap_or_else(|e| panic!("{e}"));
            println!("SAME {what}: {} spikes", got.spike_count());
        }
    }

    #[test]
    #[ignore = "a child of any_ranks_and_threads_give_the_reference_bits, under mpirun"]
    fn child_against_reference() {
        brunel_testkit::child_only(
            MARKER,
            "child_against_reference",
            "any_ranks_and_threads_give_the_reference_bits",
        );
        let ms: f64 = std::env::var("BRUNEL_MPI_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50.0);
        for threads in [1, 2] {
            for (i, letter) in PANELS.iter().enumerate() {
                let mut config = panel(letter);
                config.simulation.duration = ms;
                // Each panel as configured and in the other connectivity and refractory rule.
                let (connectivity, rule) = VARIANTS[if (i + threads).is_multiple_of(2) {
                    0
                } else {
                    3
                }];
                config.network.connectivity = connectivity;
                config.neuron.refractory_input = rule;
                config.validate().expect("valid");
                check(
                    &format!("panel {letter} ({connectivity:?}, {rule:?})"),
                    &config,
                    threads,
                    true,
                );
            }
            for (i, (connectivity, rule)) in VARIANTS.into_iter().enumerate() {
                check(
                    &format!("mid-size ({connectivity:?}, {rule:?})"),
                    &mid_config(connectivity, rule),
                    threads,
                    (i + threads) % 2 == 0,
                );
            }
        }
        // A state taken from the reference mid-batch, continued on this job's ranks.
        for (connectivity, rule) in [VARIANTS[0], VARIANTS[3]] {
            let config = mid_config(connectivity, rule);
            let model = Model::new(&config);
            let network = Network::build(&config, Par::threads(0));
            let want = reference(&model, &network, model.steps);
            let mut first = brunel_core::ReferenceBackend::new(&model, &network);
            let half = run_in_pieces(&mut first, 487, &[]).expect("the reference runs");
            let mut backend =
                MpiBackend::new(&model, &Synapses::Network(&network), Par::threads(2))
                    .expect("the mpi backend");
            backend.load_state(&half.state).expect("the state loads");
            let rest = run_in_pieces(&mut backend, model.steps - 487, &[40])
                .expect("the mpi backend runs");
            // Both halves' spikes: the reference's first 487 steps, then the ranks'.
            let mut spikes = half.spikes.clone();
            spikes.counts.extend_from_slice(&rest.spikes.counts);
            spikes.steps.extend_from_slice(&rest.spikes.steps);
            spikes.ids.extend_from_slice(&rest.spikes.ids);
            let got = brunel_testkit::Outcome {
                spikes,
                state: rest.state,
            };
            if backend.rank() == 0 {
                let what = format!(
                    "mid-size ({connectivity:?}, {rule:?}) resumed at step 487 on {} rank(s)",
                    backend.ranks()
                );
                compare(&what, &want, &got).unwrap_or_else(|e| panic!("{e}"));
                println!("SAME {what}");
            }
        }
        brunel_mpi::session::finish();
    }
}
