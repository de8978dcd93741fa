//! The OpenCL backend against the reference backend, bit for bit, on whatever OpenCL device
//! this machine has (PoCL in CI). Without a device every test is skipped visibly (brunel-testkit:
//! printed and logged to `BRUNEL_TEST_LOG`), and fails if `BRUNEL_REQUIRE` contains `opencl`.

use brunel_core::{Backend, Config, Connectivity, Model, Network, Par, RefractoryInput};
use brunel_opencl::{Delivery, OpenClBackend, ProgramCache, Tuning};
use brunel_testkit::{assert_same, child_only, reference, run_child, run_in_pieces, run_or_skip};

/// `Ok` when an OpenCL device with fp64 is here, else why not.
fn device() -> Result<(), String> {
    match brunel_opencl::probe() {
        Ok(devices) if devices.iter().any(|d| d.fp64) => Ok(()),
        Ok(devices) => Err(format!("no OpenCL device with fp64 among {devices:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs `body` (the test `test`) when an OpenCL device is here, else skips it visibly (a failure
/// when `BRUNEL_REQUIRE` contains `opencl`); a pass is logged with what `body` returns.
fn opencl_test(test: &str, body: impl FnOnce() -> String) {
    run_or_skip("opencl", test, device(), body);
}

/// A small network of `n_e` excitatory neurons, strongly coupled so that recurrent input
/// matters.
fn small(n_e: u64, connectivity: Connectivity, refractory: RefractoryInput) -> Config {
    let mut c = Config::default();
    c.network.n_e = n_e;
    c.network.connectivity = connectivity;
    c.neuron.refractory_input = refractory;
    c.synapse.j = 0.3;
    c.simulation.seed = 20260;
    c
}

/// Runs the reference and the OpenCL backend for `steps` steps, the OpenCL one in calls of
/// `chunks` steps (cycled), and asserts identical spikes, counts and final state. Returns the
/// number of spikes.
fn compare(config: &Config, steps: u64, chunks: &[u64], tuning: Option<Tuning>) -> u64 {
    config.validate().expect("valid config");
    let model = Model::new(config);
    let network = Network::build(config, Par::threads(0));
    let want = reference(&model, &network, steps);
    let mut opencl =
        OpenClBackend::with_cache(&model, &network, None, tuning, ProgramCache::global())
            .expect("OpenCL backend");
    let what = format!("opencl, tuning {:?}", opencl.tuning());
    let got = run_in_pieces(&mut opencl, steps, chunks).expect("the OpenCL backend runs");
    assert_eq!(opencl.step(), steps);
    assert_same(&what, &want, &got);
    want.spike_count()
}

/// Work splits tried on whatever device is here: the CPU default's shape first, the GPU
/// default's shape (one neuron per work-item, atomic delivery) last.
const SPLITS: [Tuning; 5] = [
    Tuning {
        neurons_per_item: 4,
        advance_local: 64,
        delivery: Delivery::Owned { parts: 16 },
    },
    Tuning {
        neurons_per_item: 4,
        advance_local: 8,
        delivery: Delivery::Owned { parts: 1 },
    },
    Tuning {
        neurons_per_item: 4,
        advance_local: 64,
        delivery: Delivery::Atomic {
            local: 1,
            groups: 3,
        },
    },
    Tuning {
        neurons_per_item: 1,
        advance_local: 32,
        delivery: Delivery::Owned { parts: 7 },
    },
    Tuning {
        neurons_per_item: 1,
        advance_local: 128,
        delivery: Delivery::Atomic {
            local: 128,
            groups: 64,
        },
    },
];

#[test]
fn bernoulli_discard_is_bit_identical() {
    opencl_test("bernoulli_discard_is_bit_identical", || {
        let c = small(400, Connectivity::Bernoulli, RefractoryInput::Discard);
        let spikes = compare(&c, 600, &[600], None);
        assert!(
            spikes > 1000,
            "the network should be active: {spikes} spikes"
        );
        format!("{spikes} spikes")
    });
}

#[test]
fn fixed_indegree_accumulate_is_bit_identical() {
    opencl_test("fixed_indegree_accumulate_is_bit_identical", || {
        let c = small(
            402,
            Connectivity::FixedIndegree,
            RefractoryInput::Accumulate,
        );
        let spikes = compare(&c, 600, &[600], None);
        assert!(
            spikes > 1000,
            "the network should be active: {spikes} spikes"
        );
        format!("{spikes} spikes")
    });
}

#[test]
fn every_work_split_and_odd_chunks_give_the_same_bits() {
    opencl_test("every_work_split_and_odd_chunks_give_the_same_bits", || {
        // 501 neurons: not a multiple of 4 nor of any work-group size.
        let mut c = small(401, Connectivity::Bernoulli, RefractoryInput::Discard);
        c.input.ratio = 3.0;
        for tuning in SPLITS {
            let spikes = compare(&c, 500, &[1, 7, 15, 16, 3, 40], Some(tuning));
            assert!(spikes > 1000, "{spikes} spikes");
        }
        format!("{} work splits", SPLITS.len())
    });
}

#[test]
fn delay_of_one_step_and_no_refractory_period() {
    opencl_test("delay_of_one_step_and_no_refractory_period", || {
        for refractory in [RefractoryInput::Discard, RefractoryInput::Accumulate] {
            let mut c = small(300, Connectivity::Bernoulli, refractory);
            c.synapse.delay = 0.1;
            c.neuron.tau_rp = 0.0;
            c.synapse.g = 4.0;
            let spikes = compare(&c, 400, &[400], None);
            assert!(spikes > 1000, "{spikes} spikes");
            for tuning in SPLITS {
                compare(&c, 100, &[3, 1, 50], Some(tuning));
            }
        }
        format!("both refractory rules, {} work splits", SPLITS.len())
    });
}

#[test]
fn long_delay_and_long_refractory_period() {
    opencl_test("long_delay_and_long_refractory_period", || {
        // 80 steps of delay: more than one launch's maximum batch.
        let mut c = small(200, Connectivity::FixedIndegree, RefractoryInput::Discard);
        c.synapse.delay = 8.0;
        c.neuron.tau_rp = 5.0;
        let spikes = compare(&c, 500, &[500], None);
        assert!(spikes > 100, "{spikes} spikes");
        format!("{spikes} spikes")
    });
}

/// Panel C of Fig. 8 at full size (12 500 neurons, 15.6 M synapses), 100 ms.
#[test]
fn full_size_panel_c_100_ms_is_bit_identical() {
    opencl_test("full_size_panel_c_100_ms_is_bit_identical", || {
        let mut c = Config::default();
        c.simulation.duration = 100.0;
        // The device's default split, and the GPU split (one neuron per work-item, atomics).
        for tuning in [None, Some(SPLITS[4])] {
            let spikes = compare(&c, c.steps(), &[c.steps()], tuning);
            assert!(spikes > 10_000, "{spikes} spikes");
        }
        "the default and the GPU split".to_owned()
    });
}

#[test]
fn a_device_index_out_of_range_is_refused_with_the_list() {
    opencl_test(
        "a_device_index_out_of_range_is_refused_with_the_list",
        || {
            let c = small(40, Connectivity::Bernoulli, RefractoryInput::Discard);
            let model = Model::new(&c);
            let network = Network::build(&c, Par::Seq);
            let err = OpenClBackend::new(&model, &network, Some(999))
                .err()
                .expect("index 999 is out of range");
            let text = err.to_string();
            assert!(text.contains("device index 999 is out of range"), "{text}");
            assert!(
                text.contains("[0] "),
                "the message lists the devices: {text}"
            );
            String::new()
        },
    );
}

#[test]
fn the_program_is_compiled_once_per_cache() {
    opencl_test("the_program_is_compiled_once_per_cache", || {
        let cache = ProgramCache::new();
        let c = small(40, Connectivity::Bernoulli, RefractoryInput::Discard);
        let model = Model::new(&c);
        let network = Network::build(&c, Par::Seq);
        for _ in 0..3 {
            OpenClBackend::with_cache(&model, &network, None, None, &cache).unwrap();
        }
        assert_eq!(cache.builds(), 1);
        String::new()
    });
}

#[test]
fn a_kernel_build_failure_carries_the_build_log() {
    opencl_test("a_kernel_build_failure_carries_the_build_log", || {
        let cache = ProgramCache::new();
        let err = cache
            .check_source(
                None,
                "__kernel void broken(__global int *x) { x[0] = undeclared_name; }",
                "",
            )
            .expect_err("the source does not compile");
        let text = err.to_string();
        assert!(text.contains("kernel build failed"), "{text}");
        assert!(
            text.contains("undeclared_name"),
            "the build log names the error: {text}"
        );
        String::new()
    });
}

const ENV_CHILD: &str = "BRUNEL_OPENCL_ENV_CHILD";

/// `BRUNEL_OPENCL_DEVICE` chooses the default device; checked in a child process (this test
/// binary, re-invoked) so that the variable does not leak into other tests.
#[test]
fn the_device_environment_variable_is_honoured() {
    opencl_test("the_device_environment_variable_is_honoured", || {
        for (value, expect) in [
            ("0", "CHILD OK"),
            ("999", "device index 999 is out of range"),
            ("gpu", "is not a device index"),
        ] {
            let text = run_child(
                "child_with_device_env",
                ENV_CHILD,
                &[(brunel_opencl::DEVICE_ENV, value.as_ref())],
                &[],
            );
            assert!(
                text.contains("CHILD RESULT"),
                "the child test did not run:\n{text}"
            );
            assert!(
                text.contains(expect),
                "{value}: expected `{expect}` in:\n{text}"
            );
        }
        "BRUNEL_OPENCL_DEVICE = 0, 999, gpu".to_owned()
    });
}

/// The child of [`the_device_environment_variable_is_honoured`]: ignored in a normal run (it is
/// no test of its own), run by the parent with `--ignored --exact`.
#[test]
#[ignore = "runs only as a child of the_device_environment_variable_is_honoured"]
fn child_with_device_env() {
    child_only(
        ENV_CHILD,
        "child_with_device_env",
        "the_device_environment_variable_is_honoured",
    );
    let c = small(40, Connectivity::Bernoulli, RefractoryInput::Discard);
    let model = Model::new(&c);
    let network = Network::build(&c, Par::Seq);
    match OpenClBackend::new(&model, &network, None) {
        Ok(b) => {
            assert_eq!(b.device().index, 0);
            println!("CHILD RESULT: CHILD OK");
        }
        Err(e) => println!("CHILD RESULT: {e}"),
    }
}

/// No external input (an empty threshold table): activity only from v_init above threshold.
#[test]
fn no_external_input_and_v_init_above_threshold() {
    opencl_test("no_external_input_and_v_init_above_threshold", || {
        let mut c = small(300, Connectivity::Bernoulli, RefractoryInput::Accumulate);
        c.input.ratio = 0.0;
        c.neuron.v_init = 25.0;
        c.synapse.g = 0.5;
        c.synapse.j = 2.1;
        assert!(Model::new(&c).external.thresholds_u32().is_empty());
        let spikes = compare(&c, 300, &[300], None);
        assert!(spikes > 375, "beyond the first volley: {spikes} spikes");
        format!("{spikes} spikes")
    });
}
