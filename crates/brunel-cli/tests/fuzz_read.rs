//! Fuzz-style test of `brunel info` and `brunel plot` on damaged result files, through the
//! binary (the HDF5 C library can crash on a damaged file; the program must survive that): a
//! small valid result with bits flipped, 64-byte blocks zeroed, or cut short. Each case runs
//! with a timeout. Asserted: exit 0 or 1, never a crash, a panic or a hang, and an error names
//! the file. The files that earlier campaigns found (tests/damaged/) are checked first, each
//! for its message. The structural cases (missing datasets, wrong types, NaN attributes) are in
//! src/fuzz_read.rs, in process.
//!
//! `BRUNEL_FUZZ_READ_CASES` sets the number of cases (default 200), `BRUNEL_FUZZ_READ_SEED`
//! the generator's seed (default 13); the count is printed and
//! appended as `passed<TAB>fuzz<TAB>result-file<TAB>N cases` to `BRUNEL_TEST_LOG`.

mod common;

use std::time::Duration;

use common::{Scratch, SMALL};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

#[test]
fn damaged_result_files_give_errors_not_crashes() {
    let cases: usize = std::env::var("BRUNEL_FUZZ_READ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let s = Scratch::new();
    s.write("small.toml", SMALL);
    common::ok(
        &s.brunel(&[
            "run",
            "small.toml",
            "--backend",
            "reference",
            "--out",
            "good.h5",
            "--quiet",
        ]),
        "brunel run",
    );
    let bytes = std::fs::read(s.path("good.h5")).expect("the result");
    let seed = std::env::var("BRUNEL_FUZZ_READ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(13);
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut failures = Vec::new();
    let mut crashes_survived = 0;
    // What earlier campaigns found, kept as files: each must give its error.
    let damaged = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/damaged");
    for (name, expect) in [
        // The HDF5 C library segfaults in H5HG_read (the global heap of strings).
        ("hdf5_segfault.h5", "the HDF5 library crashed reading it"),
        // A string attribute that is not UTF-8 (the TOML parser panicked on it).
        ("config_not_utf8.h5", "attribute `config` is not UTF-8 text"),
        // A dataset whose size was flipped to 2^61 values (a capacity-overflow panic).
        ("huge_rate_size.h5", "declares 2305843009213694452 values"),
        // The HDF5 C library spins in H5HG_read: the checking child is stopped.
        ("hdf5_hang.h5", "did not finish reading it in 2 s"),
    ] {
        std::fs::copy(damaged.join(name), s.path(name)).expect("copy a damaged file");
        for args in [vec!["info", name], vec!["plot", name, "-o", "d.png"]] {
            let out = s.brunel_env(&args, &[("BRUNEL_READ_TIMEOUT", "2")]);
            let err = common::stderr(&out);
            if out.status.code() != Some(1) || !err.contains(expect) || err.contains("panicked") {
                failures.push(format!(
                    "{name} (brunel {}): {:?}: {}",
                    args.join(" "),
                    out.status.code(),
                    err.trim()
                ));
            }
        }
    }
    for case in 0..cases {
        let mut b = bytes.clone();
        let what = match case % 5 {
            0 => {
                let len = rng.random_range(0..b.len());
                b.truncate(len);
                format!("cut at {len}")
            }
            1 => {
                let at = rng.random_range(0..b.len());
                let end = (at + 64).min(b.len());
                b[at..end].fill(0);
                format!("zeroed {at}..{end}")
            }
            _ => {
                let flips = rng.random_range(1..16);
                for _ in 0..flips {
                    let at = rng.random_range(0..b.len());
                    b[at] ^= 1 << rng.random_range(0..8);
                }
                format!("{flips} bits flipped")
            }
        };
        std::fs::write(s.path("bad.h5"), &b).expect("write the case");
        let args: &[&str] = if case % 4 == 0 {
            &["plot", "bad.h5", "-o", "bad.png"]
        } else {
            &["info", "bad.h5"]
        };
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_brunel"));
        cmd.args(args).current_dir(s.dir.path());
        let out = common::output_within(cmd, Duration::from_secs(90));
        let err = common::stderr(&out);
        let problem = match out.status.code() {
            None => Some("killed by a signal (a crash or a hang)".to_owned()),
            Some(101) => Some("a panic".to_owned()),
            Some(0) | Some(1) if err.contains("panicked") => Some("a panic".to_owned()),
            Some(0) => None,
            Some(1) if err.contains("bad.h5") => {
                if err.contains("crashed reading it") {
                    crashes_survived += 1;
                }
                None
            }
            Some(c) => Some(format!("exit {c}")),
        };
        if let Some(p) = problem {
            let kept = format!("case{case}.h5");
            let _ = std::fs::copy(s.path("bad.h5"), std::env::temp_dir().join(&kept));
            failures.push(format!(
                "case {case} ({what}, brunel {}): {p}: {}",
                args.join(" "),
                err.trim()
            ));
        }
        let _ = std::fs::remove_file(s.path("bad.png"));
    }
    eprintln!(
        "fuzz result-file: {cases} cases through the binary ({crashes_survived} on which the HDF5 library crashed in the checking child)"
    );
    brunel_testkit::log(
        if failures.is_empty() {
            "passed"
        } else {
            "failed"
        },
        "fuzz",
        "result-file",
        &format!("{cases} cases"),
    );
    assert!(
        failures.is_empty(),
        "{} failures (files kept in the temporary folder):\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
