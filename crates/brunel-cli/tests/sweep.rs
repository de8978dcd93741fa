//! `brunel sweep`: the four Fig. 8 points come out SR, SI fast, AI and SI slow for two seeds;
//! a point of a sweep is exactly `brunel run` of the same config; a killed sweep resumes where
//! it stopped (no point runs twice) and ends as an uninterrupted one; bad grids are refused
//! before anything is written.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{ok, stderr, Scratch};

/// The CSV as rows of (column → value).
fn csv(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn panel_c(s: &Scratch) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/fig8_c.toml"
    ))
    .unwrap();
    s.write("c.toml", &text);
}

#[test]
fn the_four_fig8_points_are_labelled_sr_si_fast_ai_si_slow() {
    let s = Scratch::new();
    panel_c(&s);
    ok(
        &s.brunel(&[
            "sweep",
            "c.toml",
            "--grid",
            "synapse.g=3,4.5,5,6",
            "--grid",
            "input.ratio=0.9,2,4",
            "--seeds",
            "1,2",
            "--duration",
            "400",
            "--backend",
            "cpu",
            "--out",
            "s.h5",
            "--quiet",
        ]),
        "sweep",
    );
    let rows = csv(&std::fs::read_to_string(s.path("s.csv")).unwrap());
    assert_eq!(rows.len(), 12);
    let label = |g: &str, r: &str| -> String {
        rows.iter()
            .find(|row| row["synapse.g"] == g && row["input.ratio"] == r)
            .unwrap_or_else(|| panic!("no row g={g} ratio={r}"))["regime"]
            .clone()
    };
    assert_eq!(label("3", "2"), "SR", "panel A");
    assert_eq!(label("6", "4"), "SI-fast", "panel B");
    assert_eq!(label("5", "2"), "AI", "panel C");
    assert_eq!(label("4.5", "0.9"), "SI-slow", "panel D");
    for row in &rows {
        assert_eq!(row["seeds"], "2");
        for key in [
            "rate_exc_hz",
            "rate_inh_hz",
            "cv_isi",
            "peak_hz",
            "theory_rate_hz",
        ] {
            assert!(row.contains_key(key), "column {key}");
        }
    }
    // The theory's rate is near the simulated one in the AI state (panel C).
    let c = rows
        .iter()
        .find(|r| r["synapse.g"] == "5" && r["input.ratio"] == "2")
        .unwrap();
    let (sim, theory): (f64, f64) = (
        c["rate_exc_hz"].parse().unwrap(),
        c["theory_rate_hz"].parse().unwrap(),
    );
    assert!(
        (sim - theory).abs() / theory < 0.1,
        "simulated {sim}, theory {theory}"
    );
    // The HDF5 file holds the grid.
    let f = hdf5::File::open(s.path("s.h5")).unwrap();
    assert_eq!(f.dataset("rate_exc_hz").unwrap().shape(), vec![4, 3]);
    assert_eq!(
        f.dataset("axes/synapse.g")
            .unwrap()
            .read_raw::<f64>()
            .unwrap(),
        vec![3.0, 4.5, 5.0, 6.0]
    );
    assert_eq!(f.dataset("regime").unwrap().shape(), vec![4, 3]);
}

const SMALL_ACTIVE: &str =
    "[network]\nn_e = 1600\n[synapse]\nj = 0.4\n[simulation]\nduration = 200.0\nseed = 5\n";

#[test]
fn a_point_of_a_sweep_is_the_run_of_its_config() {
    let s = Scratch::new();
    s.write("a.toml", SMALL_ACTIVE);
    ok(
        &s.brunel(&[
            "sweep",
            "a.toml",
            "--grid",
            "synapse.g=4,6",
            "--out",
            "s.h5",
            "--quiet",
            "--backend",
            "cpu",
        ]),
        "sweep",
    );
    let rows = csv(&std::fs::read_to_string(s.path("s.csv")).unwrap());
    for row in rows {
        let g = &row["synapse.g"];
        ok(
            &s.brunel(&[
                "run",
                "a.toml",
                "--set",
                &format!("synapse.g={g}"),
                "--backend",
                "reference",
                "--out",
                "r.h5",
                "--force",
                "--quiet",
                "--summary",
                "r.toml",
            ]),
            "run",
        );
        let summary: toml::Table = std::fs::read_to_string(s.path("r.toml"))
            .unwrap()
            .parse()
            .unwrap();
        for (col, key) in [
            ("rate_exc_hz", "rate_exc_hz"),
            ("rate_inh_hz", "rate_inh_hz"),
            ("cv_isi", "mean_cv"),
        ] {
            let run = summary[key].as_float().unwrap();
            let swept: f64 = row[col].parse().unwrap();
            assert_eq!(
                swept.to_bits(),
                run.to_bits(),
                "g = {g}: {col} {swept} vs run {run}"
            );
        }
    }
}

#[test]
fn a_killed_sweep_resumes_without_running_a_point_twice() {
    let s = Scratch::new();
    s.write("a.toml", SMALL_ACTIVE);
    let args = [
        "sweep",
        "a.toml",
        "--grid",
        "synapse.g=3:6:0.5",
        "--seeds",
        "1,2",
        "--backend",
        "cpu",
        "--threads",
        "1",
        "--duration",
        "600",
        "--out",
        "s.h5",
        "--verbose",
    ];
    // The uninterrupted sweep, elsewhere.
    let whole = Scratch::new();
    whole.write("a.toml", SMALL_ACTIVE);
    ok(&whole.brunel(&args), "uninterrupted sweep");
    let want = std::fs::read_to_string(whole.path("s.csv")).unwrap();
    assert_eq!(csv(&want).len(), 7);
    // Killed once a few points are done.
    let mut child = s.command(&args).spawn().expect("brunel starts");
    let journal = s.path(".s.h5.sweep");
    let t = Instant::now();
    loop {
        let lines = std::fs::read_to_string(&journal).map_or(0, |j| {
            j.split("\n---\n").nth(1).map_or(0, |b| b.lines().count())
        });
        if lines >= 2 || t.elapsed() > Duration::from_secs(120) {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            panic!("the sweep ended before it could be killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!s.path("s.h5").exists(), "no result from a killed sweep");
    let before = std::fs::read_to_string(&journal).unwrap();
    let done_before = before.split("\n---\n").nth(1).unwrap().lines().count();
    assert!(
        (2..7).contains(&done_before),
        "{done_before} points done when killed"
    );
    // A changed command line is refused.
    let changed = s.brunel(&[
        "sweep",
        "a.toml",
        "--grid",
        "synapse.g=3:6:1",
        "--seeds",
        "1,2",
        "--out",
        "s.h5",
    ]);
    assert!(!changed.status.success());
    assert!(
        stderr(&changed).contains("another command line"),
        "{}",
        stderr(&changed)
    );
    // The same command resumes: only the points not done run.
    let resumed = s.brunel(&args);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains(&format!("resuming: {done_before} of 14 runs done")),
        "{}",
        stderr(&resumed)
    );
    // No run is done twice: the resumed sweep runs exactly the ones the journal lacks.
    let says = format!("{} runs in this invocation", 14 - done_before);
    assert!(
        common::stdout(&resumed).contains(&says),
        "{}",
        common::stdout(&resumed)
    );
    let again = s.brunel(&args);
    assert!(
        stderr(&again).contains("already exists"),
        "a finished sweep is not rerun"
    );
    let got = std::fs::read_to_string(s.path("s.csv")).unwrap();
    assert_eq!(
        got, want,
        "the resumed sweep's CSV is the uninterrupted one's"
    );
    assert!(
        !journal.exists(),
        "the journal is removed when the sweep is complete"
    );
}

#[test]
fn bad_grids_are_refused_before_anything_is_written() {
    let s = Scratch::new();
    s.write("a.toml", SMALL_ACTIVE);
    for (args, message) in [
        (vec!["--grid", "synapse.nope=1,2"], "nope"),
        (vec!["--grid", "synapse.g=5:3:1"], "synapse.g"),
        (vec!["--grid", "synapse.g=1:3:0"], "step"),
        (vec!["--grid", "synapse.g=a,b"], "synapse.g"),
        (
            vec!["--grid", "network.n_e=100,200", "--jobs", "2"],
            "changes the network",
        ),
        (
            vec!["--grid", "synapse.g=1,2", "--grid", "synapse.g=3"],
            "twice",
        ),
    ] {
        let mut all = vec!["sweep", "a.toml", "--out", "s.h5"];
        all.extend(args.iter().copied());
        let before = s.snapshot();
        let out = s.brunel(&all);
        assert!(!out.status.success(), "{all:?} was accepted");
        assert!(stderr(&out).contains(message), "{all:?}: {}", stderr(&out));
        assert_eq!(s.snapshot(), before, "{all:?} wrote something");
    }
}
