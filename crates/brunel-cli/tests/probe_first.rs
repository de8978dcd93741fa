//! The backend is chosen and probed before the network is built: an OpenCL backend without a
//! platform, or a device that does not exist, is refused at once, before a large network costs
//! seconds and gigabytes to build, and nothing is written.

mod common;

use std::time::{Duration, Instant};

use common::{stderr, Scratch};

/// 50 000 neurons: building this network takes seconds, so an answer in well under a second
/// shows it was not built.
const LARGE: &str = "[network]\nn_e = 40000\n[simulation]\nduration = 10.0\n";

fn refused_before_the_build(args: &[&str], env: &[(&str, &str)], message: &str) {
    let s = Scratch::new();
    s.write("large.toml", LARGE);
    let before = s.snapshot();
    let t = Instant::now();
    let out = s.brunel_env(args, env);
    let took = t.elapsed();
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(message), "{err}");
    assert!(!err.contains("building the network"), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}: {err}");
    assert_eq!(s.snapshot(), before, "nothing is written");
}

#[test]
fn an_opencl_run_without_a_platform_is_refused_before_the_network_is_built() {
    let s = Scratch::new();
    let vendors = s.path("no-vendors");
    refused_before_the_build(
        &["run", "large.toml", "--backend", "opencl"],
        &[("OCL_ICD_VENDORS", vendors.to_str().unwrap())],
        "opencl backend unavailable",
    );
}

#[test]
fn a_device_that_does_not_exist_is_refused_before_the_network_is_built() {
    refused_before_the_build(
        &["run", "large.toml", "--backend", "opencl", "--device", "3"],
        &[],
        "opencl backend unavailable",
    );
}
