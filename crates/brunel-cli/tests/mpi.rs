//! `mpirun -np K brunel run CONFIG --backend mpi`: the result file of a single-process run
//! (spikes, population rate, statistics), written once by rank 0 with the ranks and threads
//! in its provenance; checkpoints taken on K ranks and resumed on others; a rank that fails or
//! is killed mid-run ends the job within seconds, non-zero, with no result file; a SIGTERM to
//! one rank stops all at one checkpoint; a config that differs between ranks is refused,
//! naming the rank.
//!
//! Needs the binary built with `--features mpi` and Open MPI's `mpirun`; skipped visibly
//! otherwise (a failure under `BRUNEL_REQUIRE=mpi`).

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{ok, output_within, same_results, same_state, stderr, Scratch, ACTIVE};

/// Whether this test can run: the binary has the mpi backend and `mpirun` runs.
fn ready() -> Result<(), String> {
    if !cfg!(feature = "mpi") {
        return Err(
            "brunel was built without the mpi backend (cargo test -p brunel-cli --features mpi)"
                .into(),
        );
    }
    brunel_testkit::mpirun_ready()
}

/// `mpirun --oversubscribe -np k brunel ARGS` in the scratch folder (and, after `:`, the
/// other programs of an MPMD launch), killed after two minutes.
fn mpirun(s: &Scratch, k: usize, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = brunel_testkit::mpirun(k);
    cmd.arg(env!("CARGO_BIN_EXE_brunel"))
        .args(args)
        .current_dir(s.dir.path())
        .env("BRUNEL_PROFILE", s.profile());
    for (k, v) in env {
        cmd.env(k, v);
    }
    output_within(cmd, Duration::from_secs(120))
}

/// The names in the scratch folder that start with `stem` (the result and any temporary).
fn files_like(s: &Scratch, stem: &str) -> Vec<String> {
    std::fs::read_dir(s.dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(stem))
        .collect()
}

fn attr_u64(path: &std::path::Path, name: &str) -> u64 {
    hdf5::File::open(path)
        .unwrap()
        .attr(name)
        .unwrap()
        .read_scalar()
        .unwrap()
}

#[test]
fn k_ranks_write_the_single_process_result_file() {
    brunel_testkit::run_or_skip("mpi", "cli_result_file", ready(), || {
        let s = Scratch::new();
        s.write("a.toml", ACTIVE);
        ok(
            &s.brunel(&[
                "run",
                "a.toml",
                "--backend",
                "cpu",
                "--out",
                "one.h5",
                "--quiet",
            ]),
            "the single-process run",
        );
        for (k, t) in [(1, 2), (2, 1), (3, 2)] {
            let out = format!("k{k}.h5");
            let o = mpirun(
                &s,
                k,
                &[
                    "run",
                    "a.toml",
                    "--backend",
                    "mpi",
                    "--threads",
                    &t.to_string(),
                    "--out",
                    &out,
                ],
                &[],
            );
            let text = ok(&o, &format!("mpirun -np {k}"));
            // Only rank 0 speaks: one summary.
            assert_eq!(text.matches("mean rate E / I").count(), 1, "{text}");
            same_results(&s.path("one.h5"), &s.path(&out), &format!("{k} rank(s)"));
            assert_eq!(attr_u64(&s.path(&out), "ranks"), k as u64);
            assert_eq!(attr_u64(&s.path(&out), "threads"), t as u64);
        }
        "K = 1, 2, 3 against the cpu backend's file".into()
    });
}

#[test]
fn a_checkpoint_of_k_ranks_resumes_on_other_ranks() {
    brunel_testkit::run_or_skip("mpi", "cli_checkpoint_resume", ready(), || {
        let s = Scratch::new();
        s.write("a.toml", ACTIVE);
        let whole = [
            "run",
            "a.toml",
            "--backend",
            "reference",
            "--out",
            "whole.h5",
            "--checkpoint",
            "whole.ck",
            "--quiet",
        ];
        ok(&s.brunel(&whole), "the whole run");
        // 2 ranks to 23.7 ms (mid-batch), then 3 ranks to the end.
        let o = mpirun(
            &s,
            2,
            &[
                "run",
                "a.toml",
                "--backend",
                "mpi",
                "--threads",
                "1",
                "--duration",
                "23.7",
                "--out",
                "part.h5",
                "--checkpoint",
                "part.ck",
                "--quiet",
            ],
            &[],
        );
        ok(&o, "2 ranks to 23.7 ms");
        let o = mpirun(
            &s,
            3,
            &[
                "resume",
                "part.ck",
                "--duration",
                "60",
                "--backend",
                "mpi",
                "--threads",
                "1",
                "--out",
                "resumed.h5",
                "--quiet",
            ],
            &[],
        );
        ok(&o, "3 ranks from the checkpoint");
        same_results(
            &s.path("whole.h5"),
            &s.path("resumed.h5"),
            "resumed on 3 ranks",
        );
        same_state(&s.path("whole.ck"), &s.path("part.ck"), "final checkpoint");
        "2 ranks, then 3".into()
    });
}

#[test]
fn a_rank_that_fails_or_is_killed_ends_the_job_without_a_result() {
    brunel_testkit::run_or_skip("mpi", "cli_rank_failure", ready(), || {
        let s = Scratch::new();
        s.write(
            "a.toml",
            &ACTIVE.replace("duration = 60.0", "duration = 5000.0"),
        );
        for how in ["kill", "error"] {
            let t = Instant::now();
            let o = mpirun(
                &s,
                3,
                &[
                    "run",
                    "a.toml",
                    "--backend",
                    "mpi",
                    "--threads",
                    "1",
                    "--out",
                    "f.h5",
                    "--quiet",
                ],
                &[("BRUNEL_TEST_MPI_FAIL", &format!("1:20:{how}"))],
            );
            let took = t.elapsed();
            assert!(!o.status.success(), "{how}: the job succeeded");
            assert!(
                took < Duration::from_secs(30),
                "{how}: the job took {took:?} to end"
            );
            let e = stderr(&o);
            if how == "error" {
                assert!(
                    e.contains("rank 1"),
                    "{how}: the message names no rank: {e}"
                );
            }
            assert!(
                files_like(&s, "f.h5").is_empty(),
                "{how}: files left: {:?}",
                files_like(&s, "f.h5")
            );
        }
        "a rank killed (SIGKILL) and a rank failing, after 20 batches of 3".into()
    });
}

#[test]
fn a_config_that_differs_between_ranks_is_refused() {
    brunel_testkit::run_or_skip("mpi", "cli_config_mismatch", ready(), || {
        let s = Scratch::new();
        s.write("a.toml", ACTIVE);
        let bin = env!("CARGO_BIN_EXE_brunel");
        let run = [
            "run",
            "a.toml",
            "--backend",
            "mpi",
            "--out",
            "m.h5",
            "--quiet",
        ];
        let mut args: Vec<&str> = run.to_vec();
        args.extend([":", "-np", "1", bin]);
        args.extend(run);
        args.extend(["--set", "synapse.g=6"]);
        let o = mpirun(&s, 1, &args, &[]);
        assert!(!o.status.success(), "the job succeeded");
        let e = stderr(&o);
        assert!(
            e.contains("differs") && e.contains("rank 1"),
            "the message names neither the difference nor the rank: {e}"
        );
        assert!(files_like(&s, "m.h5").is_empty());
        "rank 1 with another synapse.g".into()
    });
}

#[test]
fn a_signal_to_one_rank_stops_every_rank_at_one_checkpoint() {
    brunel_testkit::run_or_skip("mpi", "cli_signal_one_rank", ready(), || {
        let s = Scratch::new();
        let long = ACTIVE.replace("duration = 60.0", "duration = 4000.0");
        s.write("a.toml", &long);
        ok(
            &s.brunel(&[
                "run",
                "a.toml",
                "--backend",
                "cpu",
                "--out",
                "whole.h5",
                "--quiet",
            ]),
            "the whole run",
        );
        let marks = s.path("marks");
        std::fs::create_dir(&marks).unwrap();
        let mut cmd = brunel_testkit::mpirun(2);
        cmd.arg(env!("CARGO_BIN_EXE_brunel"))
            .args([
                "run",
                "a.toml",
                "--backend",
                "mpi",
                "--threads",
                "1",
                "--out",
                "cut.h5",
                "--checkpoint",
                "cut.ck",
                "--quiet",
            ])
            .current_dir(s.dir.path())
            .env("BRUNEL_PROFILE", s.profile())
            .env("BRUNEL_TEST_MARK", &marks)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().expect("mpirun starts");
        common::wait_for(&marks.join("running"), &mut child);
        // As a batch system may: SIGTERM to one rank only (the second child of mpirun).
        let ranks = Command::new("pgrep")
            .args(["-P", &child.id().to_string()])
            .output()
            .expect("pgrep runs");
        let pids: Vec<i32> = String::from_utf8_lossy(&ranks.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        assert_eq!(pids.len(), 2, "the ranks of mpirun: {pids:?}");
        // SAFETY: kill only sends a signal to a rank this test started.
        assert_eq!(unsafe { libc::kill(pids[1], libc::SIGTERM) }, 0);
        let t = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "the job did not end");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(!status.success(), "an interrupted job ends non-zero");
        assert!(
            !s.path("cut.h5").exists(),
            "no result from an interrupted run"
        );
        assert!(s.path("cut.ck").exists(), "rank 0 wrote the checkpoint");
        ok(
            &s.brunel(&["resume", "cut.ck", "--backend", "cpu", "--quiet"]),
            "resume on one process",
        );
        same_results(
            &s.path("whole.h5"),
            &s.path("cut.h5"),
            "SIGTERM to rank 1, resumed",
        );
        "SIGTERM to rank 1 of 2, checkpoint, resume".into()
    });
}

#[test]
fn sweep_refuses_the_mpi_backend() {
    // With or without MPI built in: a sweep runs its points in one process.
    let s = Scratch::new();
    s.write("a.toml", ACTIVE);
    let o = s.brunel(&[
        "sweep",
        "a.toml",
        "--grid",
        "synapse.g=4:5:1",
        "--backend",
        "mpi",
        "--out",
        "sw.h5",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("mpirun -np K brunel run"),
        "{}",
        stderr(&o)
    );
    assert!(files_like(&s, "sw").is_empty());
}
