//! With no OpenCL platform (the ICD loader pointed at an empty vendor directory), probing and
//! construction return a clear "unavailable" error at once: no panic, no 10 s retry. The check
//! runs in a child process (this test binary, re-invoked), so that the loader's state in other
//! tests is unaffected. It needs no device, so it never skips; its pass is logged under `opencl`.

use std::time::{Duration, Instant};

use brunel_core::{Config, Error, Model, Network, Par};
use brunel_testkit::{child_only, passed, run_child};

const CHILD: &str = "BRUNEL_OPENCL_NO_PLATFORM_CHILD";

#[test]
fn no_platform_is_a_clear_error_without_delay() {
    let vendors = std::env::temp_dir().join(format!("brunel-no-icd-{}", std::process::id()));
    std::fs::create_dir_all(&vendors).unwrap();
    let start = Instant::now();
    let text = run_child(
        "child_without_platform",
        CHILD,
        &[("OCL_ICD_VENDORS", vendors.as_os_str())],
        &["OPENCL_VENDOR_PATH"],
    );
    let elapsed = start.elapsed();
    let _ = std::fs::remove_dir(&vendors);
    assert!(
        text.contains("CHILD CHECKED"),
        "the child test did not run:\n{text}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "probing took {elapsed:?}: it must not retry"
    );
    passed(
        "opencl",
        "no_platform_is_a_clear_error_without_delay",
        &format!("refused in {elapsed:.2?}"),
    );
}

/// The child of [`no_platform_is_a_clear_error_without_delay`]: ignored in a normal run (it is no
/// test of its own), run by the parent with `--ignored --exact`.
#[test]
#[ignore = "runs only as a child of no_platform_is_a_clear_error_without_delay"]
fn child_without_platform() {
    child_only(
        CHILD,
        "child_without_platform",
        "no_platform_is_a_clear_error_without_delay",
    );
    let err = brunel_opencl::probe().expect_err("no platform in the child");
    let text = err.to_string();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(
        text.starts_with("opencl backend unavailable: no OpenCL platform found"),
        "{text}"
    );
    let mut c = Config::default();
    c.network.n_e = 40;
    let model = Model::new(&c);
    let network = Network::build(&c, Par::Seq);
    let err = brunel_opencl::OpenClBackend::new(&model, &network, None)
        .err()
        .expect("no backend without a platform");
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    println!("CHILD CHECKED: {text}");
}
