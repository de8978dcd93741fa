//! Checkpoints and `brunel resume`: a run stopped at a checkpoint and resumed, on another
//! backend and thread count, ends with the result file of a run that was never stopped: the
//! same spikes, population rate and statistics, and (in its final checkpoint) the same state.
//! The cut points: during the first delay, mid-batch, just before a spike arrives.

mod common;

use common::{ok, same_results, same_state, signal, stderr, wait_for, Scratch, ACTIVE};

#[test]
fn a_resumed_run_ends_as_one_that_was_never_stopped() {
    let s = Scratch::new();
    s.write("a.toml", ACTIVE);
    ok(
        &s.brunel(&[
            "run",
            "a.toml",
            "--backend",
            "reference",
            "--out",
            "whole.h5",
            "--checkpoint",
            "whole.ck",
            "--quiet",
        ]),
        "the whole run",
    );
    // Cuts (the delay is 15 steps): 0.3 ms, during the first delay; 2.2 ms, in the middle of
    // the cpu backend's second batch; 1.4 ms, the last step of the first batch, just before
    // the spikes of step 0 would arrive; 33.3 ms, late, with spikes in flight.
    for (i, (cut, backend, threads)) in [
        ("0.3", "cpu", "3"),
        ("2.2", "opencl", "0"),
        ("1.4", "cpu", "1"),
        ("33.3", "reference", "0"),
    ]
    .into_iter()
    .enumerate()
    {
        let ck = format!("cut{i}.ck");
        let part = format!("part{i}.h5");
        let done = format!("resumed{i}.h5");
        ok(
            &s.brunel(&[
                "run",
                "a.toml",
                "--backend",
                "cpu",
                "--threads",
                "2",
                "--duration",
                cut,
                "--out",
                &part,
                "--checkpoint",
                &ck,
                "--quiet",
            ]),
            "the first part",
        );
        let resumed = s.brunel(&[
            "resume",
            &ck,
            "--duration",
            "60",
            "--backend",
            backend,
            "--threads",
            threads,
            "--out",
            &done,
            "--quiet",
        ]);
        if backend == "opencl"
            && !resumed.status.success()
            && stderr(&resumed).contains("opencl backend unavailable")
        {
            brunel_testkit::skip("opencl", "resume on opencl", &stderr(&resumed));
            continue;
        }
        ok(&resumed, "the resumed part");
        let what = format!("cut at {cut} ms, resumed on {backend}");
        same_results(&s.path("whole.h5"), &s.path(&done), &what);
        same_state(&s.path("whole.ck"), &s.path(&ck), &what);
    }
}

#[test]
fn checkpoints_of_another_version_or_network_are_refused() {
    let s = Scratch::new();
    s.write("a.toml", ACTIVE);
    ok(
        &s.brunel(&[
            "run",
            "a.toml",
            "--duration",
            "5",
            "--out",
            "p.h5",
            "--checkpoint",
            "p.ck",
            "--quiet",
        ]),
        "run",
    );
    // Another version.
    std::fs::copy(s.path("p.ck"), s.path("old.ck")).unwrap();
    {
        let f = hdf5::File::open_rw(s.path("old.ck")).unwrap();
        f.delete_attr("brunel_version").unwrap();
        f.new_attr::<hdf5::types::VarLenUnicode>()
            .create("brunel_version")
            .unwrap()
            .write_scalar(&"0.0.1".parse::<hdf5::types::VarLenUnicode>().unwrap())
            .unwrap();
    }
    let out = s.brunel(&["resume", "old.ck", "--out", "x.h5"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("was written by brunel 0.0.1"),
        "{}",
        stderr(&out)
    );
    // Another network: the fingerprint does not match. Written through the checkpoint writer,
    // so that its checksum holds and the fingerprint is what is refused (a file changed in
    // place is refused earlier, as damaged: tests/checkpoint_damage.rs).
    {
        let mut c = brunel_cli::checkpoint::read(&s.path("p.ck")).unwrap();
        c.fingerprint = 7;
        brunel_cli::checkpoint::write(&s.path("net.ck"), &c).unwrap();
    }
    let out = s.brunel(&["resume", "net.ck", "--out", "x.h5"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not the one it was taken from"),
        "{}",
        stderr(&out)
    );
    // Not a checkpoint at all.
    let out = s.brunel(&["resume", "p.h5", "--out", "x.h5"]);
    assert!(
        stderr(&out).contains("is not a brunel checkpoint"),
        "{}",
        stderr(&out)
    );
    assert!(!s.path("x.h5").exists());
    // Outputs are checked as `brunel run` checks them: never over the checkpoint, never a
    // FIFO, and nothing is written.
    let out = s.brunel(&["resume", "p.ck", "--out", "p.ck", "--force"]);
    assert!(
        stderr(&out).contains("name the same file"),
        "{}",
        stderr(&out)
    );
    let fifo = s.path("fifo.h5");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let out = s.brunel(&["resume", "p.ck", "--out", "fifo.h5", "--force"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    assert!(!s.path("x.h5").exists());
    // A shorter duration than what is done.
    let out = s.brunel(&["resume", "p.ck", "--duration", "2", "--out", "x.h5"]);
    assert!(stderr(&out).contains("shorter than"), "{}", stderr(&out));
}

/// SIGTERM (a cluster's wall-time signal) during a run with `--checkpoint` writes a last
/// checkpoint before exiting with 143 and no result; `brunel resume` on another backend then
/// writes the uninterrupted run's result. The run is held just after its first chunk of steps
/// by the test hook `BRUNEL_TEST_PAUSE=running` (crates/brunel-cli/src/interrupt.rs) so that
/// the signal lands mid-run.
#[test]
fn sigterm_during_a_checkpointed_run_loses_nothing() {
    let s = Scratch::new();
    // 200 ms = 2 000 steps: the signal comes after the first chunk (one delay, 15 steps: a run
    // looks at the flag often enough to stop within a fraction of a second).
    s.write(
        "a.toml",
        &ACTIVE.replace("duration = 60.0", "duration = 200.0"),
    );
    ok(
        &s.brunel(&[
            "run",
            "a.toml",
            "--backend",
            "reference",
            "--out",
            "whole.h5",
            "--quiet",
        ]),
        "the whole run",
    );
    let marks = s.path("marks");
    std::fs::create_dir(&marks).unwrap();
    let mut child = s.command(&[
        "run",
        "a.toml",
        "--backend",
        "cpu",
        "--out",
        "cut.h5",
        "--checkpoint",
        "cut.ck",
        "--quiet",
    ]);
    let mut child = child
        .env("BRUNEL_TEST_MARK", &marks)
        .env("BRUNEL_TEST_PAUSE", "running")
        .spawn()
        .expect("brunel starts");
    wait_for(&marks.join("running"), &mut child);
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "SIGTERM's exit code");
    assert!(
        !s.path("cut.h5").exists(),
        "no result from an interrupted run"
    );
    assert!(s.path("cut.ck").exists(), "the last checkpoint is written");
    let step: u64 = hdf5::File::open(s.path("cut.ck"))
        .unwrap()
        .attr("step")
        .unwrap()
        .read_scalar()
        .unwrap();
    assert!(
        (15..2000).contains(&step),
        "checkpointed mid-run, at step {step}"
    );
    let resumed = s.brunel(&["resume", "cut.ck", "--backend", "reference", "--quiet"]);
    ok(&resumed, "resume");
    same_results(&s.path("whole.h5"), &s.path("cut.h5"), "SIGTERM, resumed");
    // No temporary file is left beside the outputs.
    let litter: Vec<String> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(litter.is_empty(), "{litter:?}");
}
