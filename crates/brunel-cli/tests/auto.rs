//! `--backend auto` follows the machine profile that `cargo xtask bench` writes, and without
//! one follows the documented rule. The profiles here are written by the tests.

mod common;

use std::collections::BTreeMap;

use brunel_testkit::run_or_skip;
use common::{Scratch, TINY};

/// Runs TINY with `--backend auto` and the given profile (`None`: a path with no file) and
/// returns the summary's fields and stderr.
fn run_auto(profile: Option<&str>, extra: &[&str]) -> (BTreeMap<String, String>, String) {
    let s = Scratch::new();
    s.write("tiny.toml", TINY);
    let profile_path = s.path("profile.toml");
    if let Some(text) = profile {
        std::fs::write(&profile_path, text).unwrap();
    }
    let mut args = vec![
        "run",
        "tiny.toml",
        "--backend",
        "auto",
        "--summary",
        "summary.toml",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let out = s.brunel_env(&args, &[("BRUNEL_PROFILE", profile_path.to_str().unwrap())]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "brunel failed: {stderr}");
    let summary: toml::Table = std::fs::read_to_string(s.path("summary.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let fields = summary
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect();
    (fields, stderr)
}

#[test]
fn the_profile_entry_for_the_network_size_decides() {
    // TINY has 50 neurons: the entry for n = 1000 applies, not the one for 100 000.
    let profile = r#"
        machine = "test machine"
        created = "2026-11-26"
        [[size]]
        n = 1000
        backend = "reference"
        label = "reference"
        [[size]]
        n = 100000
        backend = "cpu"
        threads = 2
    "#;
    let (summary, stderr) = run_auto(Some(profile), &[]);
    assert_eq!(summary["backend"], "reference", "{stderr}");
    assert!(stderr.contains("from the machine profile"), "{stderr}");
    assert!(stderr.contains("networks of 1000 neurons"), "{stderr}");
    assert!(summary["choice"].contains("test machine"));
}

#[test]
fn the_largest_size_applies_above_every_measured_size_and_its_threads_are_used() {
    let profile = r#"
        machine = "test machine"
        [[size]]
        n = 10
        backend = "cpu"
        threads = 1
    "#;
    let (summary, stderr) = run_auto(Some(profile), &[]);
    assert_eq!(summary["backend"], "cpu", "{stderr}");
    assert_eq!(summary["threads"], "1", "{stderr}");
    // A thread count on the command line wins over the profile's.
    let (summary, _) = run_auto(Some(profile), &["--threads", "2"]);
    assert_eq!(summary["threads"], "2");
}

/// What the rule must choose on this machine, from what `brunel backends` lists: a GPU with
/// fp64 of a backend that honours a device, else cpu (never an OpenCL CPU device). The rule
/// itself is unit-tested on made-up machines in `brunel-backends`.
fn expected_by_the_rule() -> &'static str {
    let s = Scratch::new();
    let listing = s.brunel(&["backends", "--format", "toml"]);
    let listing: toml::Table = String::from_utf8_lossy(&listing.stdout).parse().unwrap();
    let gpu = listing
        .get("device")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .any(|d| {
            d.get("kind").and_then(|k| k.as_str()) == Some("gpu")
                && d.get("fp64").and_then(|f| f.as_bool()) == Some(true)
        });
    if gpu {
        "opencl"
    } else {
        "cpu"
    }
}

#[test]
fn without_a_profile_the_rule_applies_and_suggests_the_bench() {
    let (summary, stderr) = run_auto(None, &[]);
    assert_eq!(summary["backend"], expected_by_the_rule(), "{stderr}");
    assert!(stderr.contains("no machine profile at"), "{stderr}");
    assert!(stderr.contains("cargo xtask bench"), "{stderr}");
}

#[test]
fn a_profile_that_names_an_unknown_backend_falls_back_to_the_rule_and_says_so() {
    let profile = r#"
        [[size]]
        n = 1000
        backend = "quantum"
    "#;
    let (summary, stderr) = run_auto(Some(profile), &[]);
    assert_eq!(summary["backend"], expected_by_the_rule());
    assert!(
        stderr.contains("names a backend that cannot run: unknown backend `quantum`"),
        "{stderr}"
    );
}

#[test]
fn a_malformed_profile_is_reported_and_the_rule_applies() {
    let (summary, stderr) = run_auto(Some("size = 3\n[[[broken"), &[]);
    assert_eq!(summary["backend"], expected_by_the_rule());
    assert!(
        stderr.contains("is not a brunel machine profile"),
        "{stderr}"
    );
}

#[test]
fn a_profile_naming_an_opencl_device_runs_on_it() {
    let s = Scratch::new();
    let listing = s.brunel(&["backends", "--format", "toml"]);
    let listing = String::from_utf8_lossy(&listing.stdout);
    let ready = if listing.contains("[[device]]") {
        Ok(())
    } else {
        Err(format!(
            "`brunel backends` lists no OpenCL device:\n{listing}"
        ))
    };
    run_or_skip(
        "opencl",
        "a_profile_naming_an_opencl_device_runs_on_it",
        ready,
        || {
            let profile = r#"
                machine = "test machine"
                [[size]]
                n = 1000
                backend = "opencl"
                device = 0
                label = "opencl 0"
            "#;
            let (summary, stderr) = run_auto(Some(profile), &[]);
            assert_eq!(summary["backend"], "opencl", "{stderr}");
            assert!(
                stderr.contains("auto chose opencl 0 from the machine profile"),
                "{stderr}"
            );
            "--backend auto ran on OpenCL device 0".to_owned()
        },
    );
}
