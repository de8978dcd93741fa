//! Ctrl-C (SIGINT) and SIGTERM at any moment of `brunel run`, the simulation or the writing of
//! the result: no temporary file is left, an earlier result of the same name is kept as it
//! was, the exit code is 128 + the signal. A second Ctrl-C exits at once, and SIGKILL cannot
//! be caught: the temporary file they leave is removed by the next run.
//!
//! The exact moments are reached with the binary's test hooks (`BRUNEL_TEST_MARK`,
//! `BRUNEL_TEST_PAUSE`, see src/interrupt.rs); one test signals a run without them.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{signal, wait_for, Scratch, TINY};

/// A run of a few seconds on the reference backend.
const LONG: &str = r#"
[network]
n_e = 2000
[simulation]
duration = 4000.0
seed = 5
[record]
spikes = "all"
"#;

/// The earlier result that an interrupted run must keep: made by a tiny run.
fn earlier_result(s: &Scratch) -> Vec<u8> {
    s.write("tiny.toml", TINY);
    common::ok(
        &s.brunel(&[
            "run",
            "tiny.toml",
            "--backend",
            "reference",
            "--out",
            "r.h5",
            "--quiet",
        ]),
        "brunel run (the earlier result)",
    );
    std::fs::read(s.path("r.h5")).expect("the earlier result")
}

/// Starts `brunel run long.toml --out r.h5 --force` with the test hooks.
fn start(s: &Scratch, marks: &Path, pause: Option<&str>) -> Child {
    s.write("long.toml", LONG);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brunel"));
    cmd.args([
        "run",
        "long.toml",
        "--backend",
        "reference",
        "--out",
        "r.h5",
        "--force",
        "--quiet",
    ])
    .current_dir(s.dir.path())
    .env("BRUNEL_TEST_MARK", marks)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Some(p) = pause {
        cmd.env("BRUNEL_TEST_PAUSE", p);
    }
    cmd.spawn().expect("brunel starts")
}

/// Waits at most 60 s for the child; its exit code and stderr.
fn finish(mut child: Child) -> (Option<i32>, String) {
    use std::io::Read;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll brunel") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("brunel did not stop within 60 s of the signal");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status.code(), err)
}

/// The folder's files, less the configs.
fn files(s: &Scratch) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut f = s.snapshot();
    f.remove(Path::new("long.toml"));
    f.remove(Path::new("tiny.toml"));
    f
}

fn assert_clean(s: &Scratch, earlier: &[u8], what: &str) {
    let f = files(s);
    let names: Vec<_> = f.keys().map(|k| k.display().to_string()).collect();
    assert_eq!(names, ["r.h5"], "{what}: the folder holds {names:?}");
    assert!(
        f[Path::new("r.h5")] == earlier,
        "{what}: the earlier r.h5 was changed"
    );
}

/// SIGTERM and SIGINT during the simulation and during the writing.
#[test]
fn a_signal_leaves_no_litter_and_keeps_the_earlier_result() {
    for (point, sig, code) in [
        ("running", libc::SIGTERM, 143),
        ("running", libc::SIGINT, 130),
        ("writing", libc::SIGTERM, 143),
        ("writing", libc::SIGINT, 130),
    ] {
        let what = format!("signal {sig} while {point}");
        let s = Scratch::new();
        let marks = tempfile::tempdir().expect("a folder for the marks");
        let earlier = earlier_result(&s);
        let mut child = start(&s, marks.path(), Some(point));
        wait_for(&marks.path().join(point), &mut child);
        if point == "writing" {
            // The temporary result is there, half written.
            assert!(
                files(&s)
                    .keys()
                    .any(|k| k.display().to_string().contains(".tmp.h5")),
                "{what}: no temporary file while writing: {:?}",
                files(&s).keys().collect::<Vec<_>>()
            );
        }
        signal(&child, sig);
        let (status, err) = finish(child);
        assert_eq!(status, Some(code), "{what}: {err}");
        assert!(err.contains("interrupted by"), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_clean(&s, &earlier, &what);
    }
}

/// Without hooks: a run signalled while it simulates stops within a chunk of steps.
#[test]
fn sigterm_stops_a_plain_run() {
    let s = Scratch::new();
    let earlier = earlier_result(&s);
    let marks = tempfile::tempdir().expect("a folder for the marks");
    let mut child = start(&s, marks.path(), None);
    wait_for(&marks.path().join("running"), &mut child);
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    signal(&child, libc::SIGTERM);
    let (status, err) = finish(child);
    assert_eq!(status, Some(143), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    assert_clean(&s, &earlier, "SIGTERM during a plain run");
}

/// A second Ctrl-C exits at once, and SIGKILL cannot be caught: both may leave the temporary
/// file, which the next run of the same target removes, saying so.
#[test]
fn the_next_run_removes_what_a_killed_run_left() {
    for (how, signals) in [
        ("a second Ctrl-C", &[libc::SIGINT, libc::SIGINT][..]),
        ("SIGKILL", &[libc::SIGKILL][..]),
    ] {
        let s = Scratch::new();
        let marks = tempfile::tempdir().expect("a folder for the marks");
        let earlier = earlier_result(&s);
        // Held in the writer even after the first Ctrl-C: only the second ends the run.
        let mut child = start(&s, marks.path(), Some("writing-hold"));
        wait_for(&marks.path().join("writing"), &mut child);
        for &sig in signals {
            signal(&child, sig);
            std::thread::sleep(Duration::from_millis(100));
        }
        let t = Instant::now();
        let (status, err) = finish(child);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{how}: no exit at once"
        );
        if signals[0] == libc::SIGINT {
            assert_eq!(status, Some(130), "{how}: {err}");
        } else {
            assert_eq!(status, None, "{how}: killed by a signal");
        }
        let stale: Vec<_> = files(&s)
            .into_keys()
            .filter(|k| k.display().to_string().contains(".brunel-"))
            .collect();
        assert!(!stale.is_empty(), "{how}: nothing was left to clean up");
        assert!(
            files(&s)[Path::new("r.h5")] == earlier,
            "{how}: r.h5 changed"
        );
        // The next run (tiny) into the same target removes it.
        let out = s.brunel(&[
            "run",
            "tiny.toml",
            "--backend",
            "reference",
            "--out",
            "r.h5",
            "--force",
            "--quiet",
        ]);
        common::ok(&out, "the next run");
        let note = common::stderr(&out);
        assert!(
            note.contains("a temporary file left by brunel process"),
            "{how}: {note}"
        );
        let left: Vec<_> = files(&s)
            .into_keys()
            .map(|k| k.display().to_string())
            .collect();
        assert_eq!(left, ["r.h5"], "{how}");
    }
}
