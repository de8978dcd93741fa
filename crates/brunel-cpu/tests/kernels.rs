//! Each neuron loop of the cpu backend, and the wide counters, against the reference. (The
//! cross-backend suite in the workspace's `tests/` runs the default loop on many more cases.)

//!
//! A kernel this processor lacks (AVX2, AVX-512) is skipped visibly under the check name
//! `cpu-avx2` or `cpu-avx512` (which `BRUNEL_REQUIRE` may name); the portable kernels always
//! run, and each test that passes is logged under `cpu`.

use brunel_core::{Backend, Config, Connectivity, Model, Network, Par, RefractoryInput};
use brunel_cpu::{CpuBackend, Kernel};
use brunel_testkit::{assert_same, passed, reference, run_in_pieces, skip};

/// Whether this processor has what `kernel` needs (the same features the backend detects).
fn processor_has(kernel: Kernel) -> bool {
    match kernel {
        Kernel::Auto | Kernel::Generic | Kernel::Blocks => true,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("bmi1")
                && std::arch::is_x86_feature_detected!("bmi2")
                && std::arch::is_x86_feature_detected!("popcnt")
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => {
            processor_has(Kernel::Avx2)
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl")
        }
        #[cfg(not(target_arch = "x86_64"))]
        Kernel::Avx2 | Kernel::Avx512 => false,
    }
}

/// The check name of a kernel that not every processor has (`BRUNEL_REQUIRE` may name it), or
/// `None` for a portable one.
fn simd_check(kernel: Kernel) -> Option<&'static str> {
    match kernel {
        Kernel::Auto | Kernel::Generic | Kernel::Blocks => None,
        Kernel::Avx2 => Some("cpu-avx2"),
        Kernel::Avx512 => Some("cpu-avx512"),
    }
}

/// Runs `kernel` against the reference and asserts the same bits. A kernel this processor has
/// must construct and match (`true`); one it lacks must be refused as unavailable and is skipped
/// visibly (`false`). `test` names the test in the log.
#[must_use]
fn check(
    model: &Model,
    network: &Network,
    par: Par,
    kernel: Kernel,
    test: &str,
    what: &str,
) -> bool {
    let backend = match CpuBackend::with_kernel(model, network, par, kernel) {
        Ok(b) => b,
        Err(e) => {
            assert!(
                !processor_has(kernel),
                "{what}: kernel {kernel:?} failed to construct on a processor that has it: {e}"
            );
            assert!(
                matches!(e, brunel_core::Error::Unavailable { .. }),
                "{what}: kernel {kernel:?} refused with the wrong error: {e:?}"
            );
            let name = simd_check(kernel).expect("a portable kernel constructs everywhere");
            skip(name, test, &format!("{what}, {par:?}: {e}"));
            return false;
        }
    };
    assert!(
        processor_has(kernel),
        "{what}: kernel {kernel:?} constructed on a processor that lacks it"
    );
    let mut backend = backend;
    let want = reference(model, network, model.steps);
    let got = run_in_pieces(&mut backend, model.steps, &[]).expect("the cpu backend runs");
    assert!(want.spike_count() > 0, "{what}: no spikes, not a test");
    assert_same(&format!("{what}, {kernel:?}, {par:?}"), &want, &got);
    if let Some(name) = simd_check(kernel) {
        passed(name, test, &format!("{what}, {par:?}"));
    }
    true
}

#[test]
fn every_kernel_matches_the_reference() {
    const TEST: &str = "every_kernel_matches_the_reference";
    let mut runs = 0;
    for (connectivity, rule, ref_ms) in [
        (Connectivity::Bernoulli, RefractoryInput::Discard, 2.0),
        (
            Connectivity::FixedIndegree,
            RefractoryInput::Accumulate,
            0.0,
        ),
    ] {
        let mut config = Config::default();
        config.network.n_e = 1000;
        config.network.connectivity = connectivity;
        config.neuron.refractory_input = rule;
        config.neuron.tau_rp = ref_ms;
        config.synapse.j = 0.5;
        config.synapse.g = 4.0;
        config.synapse.delay = 0.3;
        config.simulation.duration = 50.0;
        config.validate().expect("valid");
        let model = Model::new(&config);
        let network = Network::build(&config, Par::Seq);
        let mut ran = 0;
        let mut expected = 0;
        for kernel in [
            Kernel::Auto,
            Kernel::Generic,
            Kernel::Blocks,
            Kernel::Avx2,
            Kernel::Avx512,
        ] {
            for par in [Par::Seq, Par::threads(3)] {
                ran += check(&model, &network, par, kernel, TEST, &format!("{rule:?}")) as u32;
                expected += processor_has(kernel) as u32;
            }
        }
        assert!(ran >= 6, "the portable kernels always run");
        assert_eq!(ran, expected, "every kernel this processor has ran");
        runs += ran;
    }
    passed("cpu", TEST, &format!("{runs} kernel runs"));
}

/// A long Binomial table (many external inputs at a high rate) takes the generic loop.
#[test]
fn long_binomial_tables() {
    const TEST: &str = "long_binomial_tables";
    let mut config = Config::default();
    config.network.n_e = 400;
    config.input.c_ext = Some(5000);
    config.input.ratio = 1.0;
    config.simulation.duration = 30.0;
    config.validate().expect("valid");
    let model = Model::new(&config);
    assert!(model.external.thresholds().len() > 64, "the table is long");
    let network = Network::build(&config, Par::Seq);
    assert!(check(
        &model,
        &network,
        Par::threads(2),
        Kernel::Auto,
        TEST,
        "long table",
    ));
    passed("cpu", TEST, "");
}

/// 70 000 excitatory and 70 000 inhibitory sources all onto neuron 0: the in-degrees do not
/// fit 16-bit counters, and the parts exceed 65 536 neurons, so the backend switches to wide
/// counters and cuts more parts than threads.
#[test]
fn in_degrees_above_65535() {
    const TEST: &str = "in_degrees_above_65535";
    let n_e = 70_000u32;
    let mut config = Config::default();
    config.network.n_e = n_e as u64;
    config.network.gamma = 1.0;
    config.network.epsilon = 0.001;
    config.neuron.tau_rp = 0.0;
    config.neuron.v_init = 25.0;
    config.synapse.g = 0.5;
    config.synapse.delay = 0.1;
    config.simulation.duration = 0.5;
    let model = Model::new(&config);
    let rows: Vec<Vec<u32>> = (0..2 * n_e).map(|s| vec![0, s]).collect();
    let network = Network::from_rows(n_e, &rows);
    let backend = CpuBackend::new(&model, &network, Par::Seq).expect("backend");
    assert!(
        backend.info().device.contains("32+32"),
        "{}",
        backend.info().device
    );
    for kernel in [Kernel::Auto, Kernel::Generic] {
        assert!(check(
            &model,
            &network,
            Par::Seq,
            kernel,
            TEST,
            "wide counters"
        ));
    }
    passed("cpu", TEST, "");
}

/// v = -0.0 (a reset potential of -0.0) must stay -0.0 bit for bit while refractory, and
/// become +0.0 where the reference adds a zero input to it.
#[test]
fn negative_zero_potentials() {
    const TEST: &str = "negative_zero_potentials";
    for rule in [RefractoryInput::Discard, RefractoryInput::Accumulate] {
        let mut config = Config::default();
        config.network.n_e = 800;
        config.neuron.refractory_input = rule;
        config.neuron.v_reset = -0.0;
        config.neuron.v_init = -0.0;
        config.neuron.theta = 0.5;
        config.synapse.j = 0.2;
        config.input.ratio = 200.0;
        config.simulation.duration = 20.0;
        config.validate().expect("valid");
        let model = Model::new(&config);
        let network = Network::build(&config, Par::Seq);
        let state = reference(&model, &network, model.steps).state;
        if rule == RefractoryInput::Discard {
            // Refractory neurons sit at V_r = -0.0 (with accumulation, input reaches them).
            assert!(
                state.v.iter().any(|v| v.to_bits() == (-0.0f64).to_bits()),
                "some neuron ends at -0.0, or the test tests nothing"
            );
        }
        for kernel in [Kernel::Auto, Kernel::Generic, Kernel::Blocks] {
            assert!(check(
                &model,
                &network,
                Par::threads(2),
                kernel,
                TEST,
                "negative zero"
            ));
        }
    }
    passed("cpu", TEST, "");
}
