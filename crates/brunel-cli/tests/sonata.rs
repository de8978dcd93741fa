//! libsonata (the SONATA reference reader) reads brunel's result files: a small network runs
//! through the binary, then `check_sonata.py` compares libsonata's spikes with the raw datasets
//! (h5py) and checks the attributes.
//!
//! Needs python3 with libsonata, h5py and numpy: `cargo xtask test` (or `cargo xtask setup
//! --test-tools`) installs them into the project's environment `target/python`, which this test
//! prefers. Without them the test is skipped visibly (brunel-testkit: printed and logged to
//! `BRUNEL_TEST_LOG`) and passes, unless `BRUNEL_REQUIRE` contains `sonata`.

mod common;

use std::process::Command;

use brunel_testkit::run_or_skip;
use common::{ok, python, Scratch, SMALL};

/// Whether python3 can import the checker's modules; the reason when not.
fn python_ready() -> Result<(), String> {
    let probe = Command::new(python())
        .args(["-c", "import libsonata, h5py, numpy"])
        .output()
        .map_err(|e| format!("python3 cannot be run: {e}"))?;
    if probe.status.success() {
        Ok(())
    } else {
        Err(format!(
            "python3 lacks libsonata, h5py or numpy (`cargo xtask setup --test-tools` installs them into target/python): {}",
            String::from_utf8_lossy(&probe.stderr).trim()
        ))
    }
}

fn check(s: &Scratch, file: &str, recorded: u32) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/check_sonata.py");
    let out = Command::new(python())
        .arg(script)
        .arg(s.path(file))
        .arg(recorded.to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "libsonata/h5py check of {file} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let said = format!("{file}: {}", String::from_utf8_lossy(&out.stdout).trim());
    println!("{said}");
    said
}

#[test]
fn libsonata_reads_the_result() {
    run_or_skip(
        "sonata",
        "libsonata_reads_the_result",
        python_ready(),
        reads_the_result,
    );
}

/// The body of [`libsonata_reads_the_result`]; returns what the checker said.
fn reads_the_result() -> String {
    let s = Scratch::new();
    s.write("small.toml", SMALL);
    // Every neuron's spikes: libsonata's spikes must be exactly the population rate's.
    ok(
        &s.brunel(&[
            "run",
            "small.toml",
            "--backend",
            "reference",
            "--record",
            "all",
            "-o",
            "all.h5",
        ]),
        "brunel run --record all",
    );
    let all = check(&s, "all.h5", u32::MAX);
    // Brian2's default, neurons 0..49.
    ok(
        &s.brunel(&[
            "run",
            "small.toml",
            "--backend",
            "reference",
            "-o",
            "first.h5",
        ]),
        "brunel run",
    );
    let first = check(&s, "first.h5", 50);
    format!("{all}; {first}")
}
