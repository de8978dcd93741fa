//! Writes, locks and signals, as a hostile user found them going wrong: stdout written to a
//! full disk or beyond a file size limit, two commands writing one output at once, output names
//! of the longest length or naming a folder, a damaged sweep journal, a read-only checkpoint,
//! and a signal arriving after the result is written. Each test here failed before its fix.
//!
//! The full-disk case needs root (a tmpfs mount); elsewhere it skips visibly.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{ok, signal, stderr, wait_for, Scratch, SmallDisk, TINY};

/// Entries of the folder that are brunel's temporaries, lock files or claims.
fn litter(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list a folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.contains(".brunel-") || n.ends_with(".tmp"))
        .collect();
    v.sort();
    v
}

fn is_root() -> bool {
    // SAFETY: geteuid has no side effects.
    unsafe { libc::geteuid() == 0 }
}

/// `brunel ARGS` in the folder under a file size limit of `bytes` (`ulimit -f`), its stdout
/// into the file `stdout` of the folder when given.
fn limited(s: &Scratch, args: &[&str], bytes: u64, stdout: Option<&str>) -> std::process::Output {
    let mut cmd = s.command_with_file_limit(args, bytes);
    match stdout {
        None => common::output_within(cmd, common::TIMEOUT),
        Some(name) => {
            let file = std::fs::File::create(s.path(name)).expect("the stdout file");
            let child = cmd
                .stdin(Stdio::null())
                .stdout(file)
                .stderr(Stdio::piped())
                .spawn()
                .expect("brunel starts");
            finish_output(child)
        }
    }
}

/// Waits at most 120 s for `child` (stderr piped) and collects its stderr.
fn finish_output(mut child: Child) -> std::process::Output {
    use std::io::Read as _;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll brunel") {
            break status;
        }
        if start.elapsed() > common::TIMEOUT {
            let _ = child.kill();
            panic!("brunel did not end within {:?}", common::TIMEOUT);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut err = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut err);
    }
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: err,
    }
}

/// A theory grid long enough to pass any small limit.
const GRID: [&str; 4] = ["theory", "c.toml", "--grid", "synapse.g=0:8:0.05"];

/// What brunel prints on stdout beyond a file size limit fails the command in plain words
/// (it was killed by SIGXFSZ, or exited 0 with the output cut); a closed pipe stays quiet and
/// succeeds (`brunel theory c.toml | head -1`).
#[test]
fn stdout_write_errors_fail_the_command_and_a_closed_pipe_does_not() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let o = limited(&s, &GRID, 1000, Some("th.txt"));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot write the output (stdout): file too large"),
        "{}",
        stderr(&o)
    );
    // Through `say!`: the summary of a result file.
    ok(
        &s.brunel(&[
            "run",
            "c.toml",
            "--backend",
            "reference",
            "--quiet",
            "--out",
            "r.h5",
        ]),
        "the result",
    );
    let o = limited(&s, &["info", "r.h5"], 200, Some("info.txt"));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("(stdout): file too large"),
        "{}",
        stderr(&o)
    );

    // A reader that closed the pipe at once: exit 0, nothing on stderr.
    for args in [&GRID[..], &["info", "r.h5"][..]] {
        let mut child = s
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("brunel starts");
        drop(child.stdout.take());
        let o = finish_output(child);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{args:?}");
    }
}

/// `theory --out` and `profile write` beyond a file size limit fail with a message and leave
/// no temporary (they were killed by SIGXFSZ, leaving theirs).
#[test]
fn theory_and_profile_writes_beyond_a_file_size_limit_are_reported() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let mut args = GRID.to_vec();
    args.extend(["--out", "th.txt"]);
    let o = limited(&s, &args, 1000, None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("file too large"), "{}", stderr(&o));
    assert!(!s.path("th.txt").exists());
    let o = limited(
        &s,
        &["profile", "write", "--size", "n=1000,backend=reference"],
        0,
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("file too large"), "{}", stderr(&o));
    assert!(!s.profile().exists());
    assert!(
        litter(s.dir.path()).is_empty(),
        "{:?}",
        litter(s.dir.path())
    );
}

/// A run of a few seconds on the reference backend.
const LONG: &str = "[network]\nn_e = 2000\n[simulation]\nduration = 6000.0\nseed = 5\n";

/// Starts `brunel ARGS` in the folder with the test marks in `marks` and `env`; stderr piped.
fn start(s: &Scratch, args: &[&str], marks: &Path, env: &[(&str, &str)]) -> Child {
    let mut cmd = s.command(args);
    cmd.env("BRUNEL_TEST_MARK", marks)
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("brunel starts")
}

/// A second `run` to the --out of a run going on is refused at once, --force or not (it used
/// to run, write the result, and make the first lose its whole run); once the first has ended,
/// even killed, the output is free again.
#[test]
fn a_second_run_on_the_output_of_a_live_run_is_refused_at_once() {
    let s = Scratch::new();
    s.write("long.toml", LONG);
    s.write("tiny.toml", TINY);
    let long = [
        "run",
        "long.toml",
        "--backend",
        "reference",
        "--out",
        "r.h5",
        "--quiet",
    ];
    let tiny = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "tiny.toml",
            "--backend",
            "reference",
            "--out",
            "r.h5",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        s.brunel(&args)
    };
    for end in [libc::SIGTERM, libc::SIGKILL] {
        let marks = tempfile::tempdir().expect("a folder for the marks");
        let mut child = start(&s, &long, marks.path(), &[("BRUNEL_TEST_PAUSE", "running")]);
        wait_for(&marks.path().join("running"), &mut child);
        for extra in [&[][..], &["--force"][..]] {
            let t = Instant::now();
            let o = tiny(extra);
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert!(
                stderr(&o).contains("r.h5 is being written by another brunel command (process"),
                "{}",
                stderr(&o)
            );
            assert!(t.elapsed() < Duration::from_secs(20));
        }
        assert!(!s.path("r.h5").exists());
        signal(&child, end);
        let o = finish_output(child);
        if end == libc::SIGTERM {
            assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
        }
        // Ended, however: the next run writes r.h5 (a killed run's claim is stale).
        ok(&tiny(&["--force"]), "the run after the first ended");
        assert!(s.path("r.h5").is_file());
        assert!(
            litter(s.dir.path()).is_empty(),
            "{:?}",
            litter(s.dir.path())
        );
        std::fs::remove_file(s.path("r.h5")).unwrap();
    }
}

/// A second sweep on the --out of a sweep going on is refused at once, with --force too (both
/// used to run every point, appending to one journal, and one user's result vanished).
#[test]
fn a_second_sweep_on_the_output_of_a_live_sweep_is_refused() {
    let s = Scratch::new();
    s.write("long.toml", LONG);
    let args = [
        "sweep",
        "long.toml",
        "--grid",
        "synapse.g=4,5",
        "--backend",
        "reference",
        "--jobs",
        "1",
        "--quiet",
        "--out",
        "s.h5",
    ];
    let marks = tempfile::tempdir().expect("a folder for the marks");
    let mut first = start(&s, &args, marks.path(), &[]);
    let start_time = Instant::now();
    while !s.path(".s.h5.sweep").exists() {
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first sweep ended before its journal was written"
        );
        assert!(start_time.elapsed() < Duration::from_secs(60), "no journal");
        std::thread::sleep(Duration::from_millis(5));
    }
    for extra in [&[][..], &["--force"][..]] {
        let mut second = args.to_vec();
        second.extend_from_slice(extra);
        let o = s.brunel(&second);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("s.h5 is being written by another brunel command"),
            "{}",
            stderr(&o)
        );
    }
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first sweep ended too early for this test"
    );
    signal(&first, libc::SIGINT);
    let o = finish_output(first);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    // Its journal is kept for the same command to continue.
    assert!(s.path(".s.h5.sweep").is_file());
    assert!(
        litter(s.dir.path()).is_empty(),
        "{:?}",
        litter(s.dir.path())
    );
}

/// An output name of the longest legal length (255 bytes) is written: brunel's temporary
/// beside it used to be longer than a file name may be ("File name too long").
#[test]
fn outputs_with_the_longest_names_are_written() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let out = format!("{}.h5", "c".repeat(252));
    ok(
        &s.brunel(&[
            "run",
            "c.toml",
            "--backend",
            "reference",
            "--quiet",
            "--out",
            &out,
        ]),
        "a run to a 255-byte name",
    );
    assert!(s.path(&out).is_file());
    // A sweep too, whose journal's own name would be too long.
    let sweep = format!("{}.h5", "s".repeat(249));
    ok(
        &s.brunel(&[
            "sweep",
            "c.toml",
            "--grid",
            "synapse.g=4,5",
            "--backend",
            "reference",
            "--quiet",
            "--out",
            &sweep,
        ]),
        "a sweep to a 252-byte name",
    );
    assert!(s.path(&sweep).is_file());
    assert!(
        litter(s.dir.path()).is_empty(),
        "{:?}",
        litter(s.dir.path())
    );
}

/// `--out newdir/` names a folder: refused before the run (it used to run the whole
/// simulation, then fail to rename its result there).
#[test]
fn an_output_naming_a_folder_is_refused_before_any_work() {
    let s = Scratch::new();
    s.write("long.toml", LONG);
    let t = Instant::now();
    for args in [
        &[
            "run",
            "long.toml",
            "--backend",
            "reference",
            "--out",
            "newdir/",
        ][..],
        &["run", "long.toml", "--backend", "reference", "--out", "."][..],
        &[
            "sweep",
            "long.toml",
            "--grid",
            "synapse.g=4,5",
            "--out",
            "newdir/",
        ][..],
        &["theory", "long.toml", "--out", "newdir/"][..],
    ] {
        let o = s.brunel(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("names a folder"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("building"), "{}", stderr(&o));
    }
    assert!(t.elapsed() < Duration::from_secs(20), "it simulated first");
    assert!(!s.path("newdir").exists());
    assert!(
        litter(s.dir.path()).is_empty(),
        "{:?}",
        litter(s.dir.path())
    );
}

/// A damaged sweep journal: the refusal says how to get past it (--force, or deleting it),
/// and --force starts the sweep over (it used to refuse even with --force).
#[test]
fn a_damaged_sweep_journal_is_started_over_with_force() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    std::fs::write(s.path(".s.h5.sweep"), [0xffu8, 0xfe, 0x00, 0x80, 0x12]).unwrap();
    let sweep = |extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "c.toml",
            "--grid",
            "synapse.g=4,5",
            "--backend",
            "reference",
            "--quiet",
            "--out",
            "s.h5",
        ];
        args.extend_from_slice(extra);
        s.brunel(&args)
    };
    let o = sweep(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(".s.h5.sweep"), "{e}");
    assert!(e.contains("add --force to start the sweep over"), "{e}");
    ok(&sweep(&["--force"]), "sweep --force over a damaged journal");
    assert!(s.path("s.h5").is_file());
    assert!(!s.path(".s.h5.sweep").exists());
}

/// `brunel resume` checkpoints into its FILE: a read-only one is refused unless --force (it
/// used to be replaced silently), and a replaced one keeps its permissions.
#[test]
fn resume_refuses_a_read_only_checkpoint_and_keeps_its_mode() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    ok(
        &s.brunel(&[
            "run",
            "c.toml",
            "--backend",
            "reference",
            "--quiet",
            "--out",
            "a.h5",
            "--checkpoint",
            "ck",
        ]),
        "the checkpoint",
    );
    let mode = |m: u32| std::fs::set_permissions(s.path("ck"), std::fs::Permissions::from_mode(m));
    let mode_of = || {
        std::fs::metadata(s.path("ck"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    mode(0o444).unwrap();
    let before = std::fs::read(s.path("ck")).unwrap();
    let resume = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "resume",
            "ck",
            "--backend",
            "reference",
            "--quiet",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        s.brunel(&args)
    };
    let o = resume("b.h5", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("ck is read-only"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert!(std::fs::read(s.path("ck")).unwrap() == before);
    assert!(!s.path("b.h5").exists());
    ok(&resume("b.h5", &["--force"]), "resume --force");
    assert_eq!(mode_of(), 0o444);
    mode(0o640).unwrap();
    ok(&resume("c.h5", &[]), "resume of a writable checkpoint");
    assert_eq!(mode_of(), 0o640);
    assert!(
        litter(s.dir.path()).is_empty(),
        "{:?}",
        litter(s.dir.path())
    );
}

/// A signal after the result file is in place stops before the next output, keeps the result
/// and says what was written and what was not (exit 130/143 with it unsaid before); a signal
/// while the figure is drawn removes the figure's temporary (it used to be ignored, exit 0);
/// a signal after the last output changes nothing.
#[test]
fn a_signal_after_the_result_is_written_keeps_it_and_says_so() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let args = [
        "run",
        "c.toml",
        "--backend",
        "reference",
        "--quiet",
        "--out",
        "r.h5",
        "--summary",
        "r.toml",
        "--plot",
        "r.png",
        "--force",
    ];
    let cases = [
        (
            "written",
            libc::SIGINT,
            130,
            "interrupted by SIGINT (Ctrl-C) after r.h5 was written; r.toml and r.png were not",
            &["r.h5"][..],
        ),
        (
            "drawn",
            libc::SIGTERM,
            143,
            "interrupted by SIGTERM after r.h5 and r.toml were written; r.png was not",
            &["r.h5", "r.toml"][..],
        ),
    ];
    for (point, sig, code, said, kept) in cases {
        for f in ["r.h5", "r.toml", "r.png"] {
            let _ = std::fs::remove_file(s.path(f));
        }
        let marks = tempfile::tempdir().expect("a folder for the marks");
        let mut child = start(&s, &args, marks.path(), &[("BRUNEL_TEST_PAUSE", point)]);
        wait_for(&marks.path().join(point), &mut child);
        signal(&child, sig);
        let o = finish_output(child);
        assert_eq!(o.status.code(), Some(code), "{point}: {}", stderr(&o));
        assert!(stderr(&o).contains(said), "{point}: {}", stderr(&o));
        for f in ["r.h5", "r.toml", "r.png"] {
            assert_eq!(s.path(f).is_file(), kept.contains(&f), "{point}: {f}");
        }
        assert!(
            litter(s.dir.path()).is_empty(),
            "{:?}",
            litter(s.dir.path())
        );
    }
    ok(&s.brunel(&["info", "r.h5"]), "the kept result reads");
    // Nothing left to write: the run is done, the signal changes nothing.
    let marks = tempfile::tempdir().expect("a folder for the marks");
    let only_result = [&args[..7], &["--force"][..]].concat();
    let mut child = start(
        &s,
        &only_result,
        marks.path(),
        &[("BRUNEL_TEST_PAUSE", "written")],
    );
    wait_for(&marks.path().join("written"), &mut child);
    signal(&child, libc::SIGINT);
    let o = finish_output(child);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(s.path("r.h5").is_file());
}

/// On a full disk, stdout redirected there fails the command ("no space left"; it exited 0
/// with an empty file), and a sweep whose CSV cannot be written leaves no journal of no
/// finished run behind.
#[test]
fn a_full_disk_fails_stdout_and_leaves_no_empty_sweep_journal() {
    if !is_root() {
        brunel_testkit::skip(
            "root",
            "a_full_disk_fails_stdout_and_leaves_no_empty_sweep_journal",
            "mounting a small tmpfs needs root",
        );
        return;
    }
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let disk = SmallDisk::mount(&s.path("small"));
    // One page left: the journal fits, the CSV does not.
    disk.fill_to(4096);
    let o = s.brunel(&[
        "sweep",
        "c.toml",
        "--grid",
        "synapse.g=4,5",
        "--backend",
        "reference",
        "--quiet",
        "--out",
        "small/s2.h5",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no space left"), "{}", stderr(&o));
    assert!(!s.path("small/.s2.h5.sweep").exists(), "a journal was left");
    assert!(!s.path("small/s2.csv").exists());
    assert!(
        litter(&s.path("small")).is_empty(),
        "{:?}",
        litter(&s.path("small"))
    );
    disk.fill_to(0);
    let file = std::fs::File::create(s.path("small/th.txt")).expect("the stdout file");
    let child = s
        .command(&GRID)
        .stdout(file)
        .stderr(Stdio::piped())
        .spawn()
        .expect("brunel starts");
    let o = finish_output(child);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot write the output (stdout): no space left"),
        "{}",
        stderr(&o)
    );
    drop(disk);
}
