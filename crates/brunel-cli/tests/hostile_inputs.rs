//! What a hostile user tried on the subcommands beside `brunel run`'s happy path: inputs that
//! are FIFOs, networks and sweeps that cannot fit in memory, signals while a network is drawn
//! or written, absurd thread counts, and the lesser slips (a line break in `--set`, an
//! undefined CV in `--summary`, `info` on a sweep or a checkpoint, 300-digit numbers in
//! messages, an empty sweep journal, a bad `--set` value blamed on the config file).
//!
//! Each case must end promptly (a hang is a failure, not a stuck test) with the exit code and
//! message promised, and leave the folder as it was.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{ok, output_within, signal, stderr, wait_for, Scratch, TINY};

/// How long a refusal may take: it is made before anything is computed.
const PROMPT: Duration = Duration::from_secs(15);

/// How long a signalled command may take to end.
const STOP_WITHIN: Duration = Duration::from_secs(2);

/// Makes a FIFO `name` in the scratch folder.
fn fifo(s: &Scratch, name: &str) {
    let path = std::ffi::CString::new(s.path(name).into_os_string().into_encoded_bytes())
        .expect("a path without NUL");
    // SAFETY: mkfifo reads the NUL-terminated path and nothing else.
    let r = unsafe { libc::mkfifo(path.as_ptr(), 0o600) };
    assert_eq!(r, 0, "mkfifo {name}");
}

/// Runs `brunel ARGS` in the folder with `env`, killed after `limit`.
fn brunel_within(s: &Scratch, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brunel"));
    cmd.args(args)
        .current_dir(s.dir.path())
        .env("BRUNEL_PROFILE", s.profile());
    for (k, v) in env {
        cmd.env(k, v);
    }
    output_within(cmd, limit)
}

/// Asserts a refusal: exit code 1, no panic, the message holding every one of `words`.
fn refused(o: &Output, words: &[&str], what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{what}: {}\n{err}", o.status);
    assert!(!err.contains("panicked"), "{what}: {err}");
    for w in words {
        assert!(err.contains(w), "{what}: no `{w}` in: {err}");
    }
}

/// The folder's names (every file, recursively), for "left as it was".
fn names(s: &Scratch) -> Vec<String> {
    s.snapshot()
        .keys()
        .map(|k| k.display().to_string())
        .collect()
}

/// Whether `text` holds a run of more than `n` digits.
fn long_digits(text: &str, n: usize) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run > n {
            return true;
        }
    }
    false
}

/// Starts `brunel ARGS` with the test hooks marking into `marks` (pausing at `pause`), stderr
/// piped.
fn start(s: &Scratch, args: &[&str], marks: &Path, pause: Option<&str>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brunel"));
    cmd.args(args)
        .current_dir(s.dir.path())
        .env("BRUNEL_PROFILE", s.profile())
        .env("BRUNEL_TEST_MARK", marks)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = pause {
        cmd.env("BRUNEL_TEST_PAUSE", p);
    }
    cmd.spawn().expect("brunel starts")
}

/// Sends `sig` to `child` and waits for its end: its exit code, stderr and how long it took
/// (killed, and a failure, after 30 s).
fn stop(mut child: Child, sig: i32) -> (Option<i32>, String, Duration) {
    use std::io::Read;
    let t = Instant::now();
    signal(&child, sig);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll brunel") {
            break status;
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("brunel did not stop within 30 s of signal {sig}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = t.elapsed();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status.code(), err, took)
}

/// `brunel network` and `brunel sweep` of a network of 3.75 million neurons (5 TiB of
/// synapses) are refused with the memory plan before anything is drawn, not by a panic of the
/// draw's allocation; the sweep leaves no journal and no CSV.
#[test]
fn a_network_that_cannot_fit_is_refused_with_the_plan() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let before = names(&s);
    let big = "network.n_e=3000000";
    let o = brunel_within(
        &s,
        &["network", "c.toml", "--out", "net", "--set", big],
        &[],
        PROMPT,
    );
    refused(
        &o,
        &["not enough memory", "memory plan", "synapses"],
        "network",
    );
    assert_eq!(names(&s), before, "network left files");
    let o = brunel_within(
        &s,
        &[
            "sweep",
            "c.toml",
            "--grid",
            "synapse.g=4,5",
            "--set",
            big,
            "--out",
            "s.h5",
        ],
        &[],
        PROMPT,
    );
    refused(
        &o,
        &["not enough memory", "memory plan", "synapses"],
        "sweep",
    );
    assert_eq!(names(&s), before, "sweep left files");
}

/// A sweep whose points record 10^12 steps (4 bytes of spike counts each) is refused with the
/// plan, not aborted by the allocation, and leaves no journal and no CSV.
#[test]
fn a_sweep_too_long_for_memory_is_refused_with_the_plan() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let before = names(&s);
    let o = brunel_within(
        &s,
        &[
            "sweep",
            "c.toml",
            "--grid",
            "synapse.g=4,5",
            "--duration",
            "1e11",
            "--set",
            "network.n_e=200",
            "--out",
            "s.h5",
        ],
        &[],
        PROMPT,
    );
    refused(
        &o,
        &["not enough memory", "memory plan", "spike counts"],
        "sweep --duration 1e11",
    );
    assert_eq!(names(&s), before, "the sweep left files");
}

/// A FIFO where any subcommand reads an input (the config of run, theory, network and sweep,
/// the machine profile, a sweep's journal and CSV, a checkpoint, a result file) is refused at
/// once as not a regular file: nothing blocks waiting for a writer, and the FIFO stays.
#[test]
fn a_fifo_as_an_input_is_refused_at_once() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    for name in ["f.toml", "p.toml", "f.ck", "f.h5"] {
        fifo(&s, name);
    }
    let before = names(&s);
    let cases: [&[&str]; 6] = [
        &["run", "f.toml", "--out", "r.h5"],
        &["theory", "f.toml"],
        &["network", "f.toml", "--out", "net"],
        &[
            "sweep",
            "f.toml",
            "--grid",
            "synapse.g=4,5",
            "--out",
            "s.h5",
        ],
        &["resume", "f.ck", "--out", "r.h5"],
        &["info", "f.h5"],
    ];
    for args in cases {
        let o = brunel_within(&s, args, &[], PROMPT);
        refused(&o, &["not a regular file", "FIFO"], &args.join(" "));
        assert_eq!(names(&s), before, "{args:?} changed the folder");
    }
    // The machine profile: `profile show` refuses it, and `--backend auto` chooses without it.
    let profile = s.path("p.toml");
    let env = [("BRUNEL_PROFILE", profile.to_str().expect("a UTF-8 path"))];
    let o = brunel_within(&s, &["profile", "show"], &env, PROMPT);
    refused(&o, &["not a regular file", "FIFO"], "profile show");
    let o = brunel_within(
        &s,
        &["run", "c.toml", "--out", "r.h5", "--quiet"],
        &env,
        PROMPT,
    );
    ok(&o, "run --backend auto with a FIFO as the profile");
    assert!(stderr(&o).contains("FIFO"), "{}", stderr(&o));
    std::fs::remove_file(s.path("r.h5")).expect("the result");
    // A sweep's journal and CSV.
    for name in [".s.h5.sweep", "s.csv"] {
        fifo(&s, name);
        let o = brunel_within(
            &s,
            &[
                "sweep",
                "c.toml",
                "--grid",
                "synapse.g=4,5",
                "--out",
                "s.h5",
            ],
            &[],
            PROMPT,
        );
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains("FIFO"), "{name}: {}", stderr(&o));
        let kind = std::fs::symlink_metadata(s.path(name)).expect("still there");
        assert!(
            std::os::unix::fs::FileTypeExt::is_fifo(&kind.file_type()),
            "{name} was replaced"
        );
        assert!(!s.path("s.h5").exists(), "{name}: a result was written");
        std::fs::remove_file(s.path(name)).expect("remove the FIFO");
    }
}

/// SIGTERM, SIGINT and SIGHUP stop `brunel network` within a second or two, while it draws
/// (20 000 neurons, 4·10^7 synapses: a second or so) and while it writes the edges (paused
/// there by the test hook), with the signal's exit code and no folder, temporary or not.
#[test]
fn a_signal_stops_brunel_network_at_once() {
    let s = Scratch::new();
    s.write("big.toml", "[network]\nn_e = 16000\n");
    s.write("small.toml", "[network]\nn_e = 2000\n");
    let marks = tempfile::tempdir().expect("a folder for the marks");
    let before = names(&s);
    // While drawing: no hook pauses it, the draw itself is stopped.
    let child = {
        let mut child = start(
            &s,
            &["network", "big.toml", "--out", "net", "--threads", "1"],
            marks.path(),
            None,
        );
        wait_for(&marks.path().join("drawing"), &mut child);
        std::thread::sleep(Duration::from_millis(200));
        child
    };
    let (code, err, took) = stop(child, libc::SIGTERM);
    assert_eq!(code, Some(143), "while drawing: {err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert!(took < STOP_WITHIN, "while drawing: took {took:?}");
    assert_eq!(names(&s), before, "while drawing: left files");
    // While writing the edges, temporary folder and all.
    for (sig, code) in [
        (libc::SIGTERM, 143),
        (libc::SIGINT, 130),
        (libc::SIGHUP, 129),
    ] {
        let marks = tempfile::tempdir().expect("a folder for the marks");
        let mut child = start(
            &s,
            &["network", "small.toml", "--out", "net"],
            marks.path(),
            Some("writing"),
        );
        wait_for(&marks.path().join("writing"), &mut child);
        assert!(
            names(&s).iter().any(|n| n.starts_with(".net.")),
            "no temporary folder while writing: {:?}",
            names(&s)
        );
        let (status, err, took) = stop(child, sig);
        assert_eq!(status, Some(code), "signal {sig} while writing: {err}");
        assert!(err.contains("interrupted by"), "{err}");
        assert!(
            took < STOP_WITHIN,
            "signal {sig} while writing: took {took:?}"
        );
        assert_eq!(names(&s), before, "signal {sig} while writing: left files");
    }
}

/// `--threads 100000` is refused by network and sweep as by run (at most 1 024), at once; a
/// thread count above the cores is capped at the cores with a note: a run of 12 500 neurons
/// (procedural) with `--threads 1024` ran on 48 threads of 2 cores, eight times slower, and
/// saw a SIGTERM only at its end. Now it runs on the cores and stops within a second or two.
#[test]
fn thread_counts_are_capped_and_a_run_on_them_stops_at_once() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let before = names(&s);
    for args in [
        &["network", "c.toml", "--out", "net", "--threads", "100000"][..],
        &[
            "sweep",
            "c.toml",
            "--grid",
            "synapse.g=4,5",
            "--out",
            "s.h5",
            "--threads",
            "100000",
        ][..],
    ] {
        let o = brunel_within(&s, args, &[], PROMPT);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("1024"), "{args:?}: {}", stderr(&o));
        assert_eq!(names(&s), before, "{args:?} left files");
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    if cores < 1024 {
        let o = brunel_within(
            &s,
            &["network", "c.toml", "--out", "net", "--threads", "1024"],
            &[],
            PROMPT,
        );
        ok(&o, "network --threads 1024");
        assert!(stderr(&o).contains("cores"), "{}", stderr(&o));
    }
    let config =
        "[network]\nn_e = 10000\nstorage = \"procedural\"\n[simulation]\nduration = 20.0\n";
    s.write("p.toml", config);
    let o = brunel_within(
        &s,
        &[
            "run",
            "p.toml",
            "--backend",
            "cpu",
            "--threads",
            "1024",
            "--out",
            "p.h5",
            "--summary",
            "p.sum",
            "--quiet",
        ],
        &[],
        Duration::from_secs(120),
    );
    ok(&o, "run --threads 1024");
    let summary: toml::Table = std::fs::read_to_string(s.path("p.sum"))
        .expect("the summary")
        .parse()
        .expect("TOML");
    let threads = summary["threads"].as_integer().expect("threads") as usize;
    assert!(threads <= cores, "{threads} threads on {cores} cores");
    // A long run of it is stopped within a second or two of the signal.
    s.write("long.toml", &config.replace("20.0", "20000.0"));
    let marks = tempfile::tempdir().expect("a folder for the marks");
    let mut child = start(
        &s,
        &[
            "run",
            "long.toml",
            "--backend",
            "cpu",
            "--threads",
            "1024",
            "--out",
            "long.h5",
            "--quiet",
        ],
        marks.path(),
        None,
    );
    wait_for(&marks.path().join("simulating"), &mut child);
    std::thread::sleep(Duration::from_millis(300));
    let (code, err, took) = stop(child, libc::SIGTERM);
    assert_eq!(code, Some(143), "{err}");
    assert!(took < STOP_WITHIN, "took {took:?}: {err}");
    assert!(!s.path("long.h5").exists());
    assert!(
        !names(&s).iter().any(|n| n.contains(".tmp")),
        "{:?}",
        names(&s)
    );
}

/// `--set` with a line break in its value would set a second key TOML reads after it, which
/// was dropped without a word: refused, naming the override.
#[test]
fn a_line_break_in_a_set_value_is_refused() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let before = names(&s);
    for args in [
        &[
            "run",
            "c.toml",
            "--set",
            "synapse.g=6\nj=0.5",
            "--out",
            "r.h5",
        ][..],
        &["theory", "c.toml", "--set", "synapse.g=6\r\nj=0.5"][..],
    ] {
        let o = brunel_within(&s, args, &[], PROMPT);
        refused(&o, &["override", "line break"], &format!("{args:?}"));
        assert_eq!(names(&s), before, "{args:?} left files");
    }
}

/// An undefined CV (no neuron has two intervals in a 5 ms run) is NaN in the result file,
/// "undefined" in the printed summary, and `nan` in `--summary`'s TOML: never -1.
#[test]
fn an_undefined_cv_is_nan_in_the_summary_file() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let o = s.brunel(&[
        "run",
        "c.toml",
        "--backend",
        "reference",
        "--out",
        "r.h5",
        "--summary",
        "s.toml",
    ]);
    let printed = ok(&o, "run");
    assert!(printed.contains("undefined"), "{printed}");
    let text = std::fs::read_to_string(s.path("s.toml")).expect("the summary");
    let table: toml::Table = text.parse().expect("the summary is TOML");
    let cv = table["mean_cv"].as_float().expect("mean_cv is a float");
    assert!(cv.is_nan(), "mean_cv = {cv}");
    let file = hdf5::File::open(s.path("r.h5")).expect("the result");
    let attr: f64 = file.attr("mean_cv").unwrap().read_scalar().unwrap();
    assert!(attr.is_nan(), "the result file's mean_cv = {attr}");
}

/// `brunel info` on a sweep's result and on a checkpoint says what the file is and what reads
/// it, instead of calling it damaged.
#[test]
fn info_names_a_sweep_result_and_a_checkpoint() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    ok(
        &s.brunel(&[
            "sweep",
            "c.toml",
            "--grid",
            "synapse.g=4,5",
            "--out",
            "s.h5",
            "--backend",
            "reference",
            "--quiet",
        ]),
        "sweep",
    );
    ok(
        &s.brunel(&[
            "run",
            "c.toml",
            "--backend",
            "reference",
            "--out",
            "r.h5",
            "--checkpoint",
            "r.ck",
            "--quiet",
        ]),
        "run --checkpoint",
    );
    for (file, words) in [
        ("s.h5", &["sweep", "brunel plot s.h5"][..]),
        ("r.ck", &["checkpoint", "brunel resume r.ck"][..]),
    ] {
        let o = s.brunel(&["info", file]);
        refused(&o, words, &format!("info {file}"));
        assert!(
            !stderr(&o).contains("damaged"),
            "info {file}: {}",
            stderr(&o)
        );
    }
}

/// Huge values (1e300) in a config key of the wrong type, in plot.window and in a sweep's grid
/// are printed in scientific notation, never as 300 digits.
#[test]
fn messages_never_print_hundreds_of_digits() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    for args in [
        &["run", "c.toml", "--set", "network.n_e=1e300"][..],
        &["run", "c.toml", "--set", "input.c_ext=1e300"][..],
        &[
            "run",
            "c.toml",
            "--plot",
            "p.png",
            "--set",
            "plot.window=[1e300,2e300]",
        ][..],
        &[
            "sweep",
            "c.toml",
            "--grid",
            "synapse.g=1e300,2e300",
            "--duration",
            "1e300",
            "--out",
            "s.h5",
        ][..],
        &["run", "c.toml", "--set", "simulation.dt=1e-300"][..],
    ] {
        let o = brunel_within(&s, args, &[], PROMPT);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(!long_digits(&err, 24), "{args:?}: {err}");
        assert!(
            err.contains("e300") || err.contains("e-300"),
            "{args:?}: {err}"
        );
    }
}

/// An empty sweep journal (one cut short as it was begun) holds no run: the sweep starts over,
/// saying so, instead of calling it a journal of another command line.
#[test]
fn an_empty_journal_is_started_over() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    for text in ["", "config = \"c.toml\"\nbase = "] {
        s.write(".s.h5.sweep", text);
        let o = s.brunel(&[
            "sweep",
            "c.toml",
            "--grid",
            "synapse.g=4,5",
            "--out",
            "s.h5",
            "--backend",
            "reference",
            "--force",
        ]);
        ok(&o, "sweep over an empty journal");
        assert!(
            !stderr(&o).contains("another command line"),
            "{}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("starting over"), "{}", stderr(&o));
        assert!(s.path("s.h5").is_file() && s.path("s.csv").is_file());
        assert!(!s.path(".s.h5.sweep").exists(), "the journal stayed");
    }
}

/// A bad value given with `--set` is reported as the override's error, not the config file's.
#[test]
fn a_bad_set_value_is_blamed_on_the_override() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    for args in [
        &["run", "c.toml", "--set", "synapse.g=abc"][..],
        &["theory", "c.toml", "--set", "synapse.g=abc"][..],
        &[
            "network",
            "c.toml",
            "--out",
            "net",
            "--set",
            "plot.window=[1,\"x\"]",
        ][..],
    ] {
        let o = brunel_within(&s, args, &[], PROMPT);
        refused(&o, &["override `"], &format!("{args:?}"));
        assert!(
            !stderr(&o).contains("config c.toml"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    // A bad value in the file is still the file's.
    s.write("bad.toml", "[synapse]\ng = \"abc\"\n");
    let o = brunel_within(&s, &["run", "bad.toml"], &[], PROMPT);
    refused(
        &o,
        &["config bad.toml", "synapse.g"],
        "a bad value in the file",
    );
}
