//! Support shared by the cross-backend test suite (`tests/`) and the benchmarks (`benches/`):
//! the list of backends under test and how to make each one.
//!
//! The reference backend is the oracle; every candidate here is compared with it.

use brunel_core::{Backend, Model, Network, Par, Result};

/// A backend under test.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// Name as in `brunel run --backend NAME` and in `BRUNEL_REQUIRE`.
    pub name: &'static str,
    /// Makes the backend on `threads` threads (a thread count is ignored where it means nothing).
    pub make: fn(&Model, &Network, usize) -> Result<Box<dyn Backend>>,
}

fn make_cpu(model: &Model, network: &Network, threads: usize) -> Result<Box<dyn Backend>> {
    Ok(Box::new(brunel_cpu::CpuBackend::new(
        model,
        network,
        Par::threads(threads),
    )?))
}

#[cfg(feature = "opencl")]
fn make_opencl(model: &Model, network: &Network, _threads: usize) -> Result<Box<dyn Backend>> {
    Ok(Box::new(brunel_opencl::OpenClBackend::new(
        model, network, None,
    )?))
}

/// Every backend other than the reference that this build contains.
pub fn candidates() -> Vec<Candidate> {
    vec![
        Candidate {
            name: "cpu",
            make: make_cpu,
        },
        #[cfg(feature = "opencl")]
        Candidate {
            name: "opencl",
            make: make_opencl,
        },
    ]
}

/// Backends that must be present (`BRUNEL_REQUIRE=cpu,opencl`): a skip of one of these is a
/// failure.
pub fn required() -> Vec<String> {
    std::env::var("BRUNEL_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Makes `name`'s backend, or says why it is skipped. Panics (fails the test) when the backend
/// is unavailable but required by `BRUNEL_REQUIRE`.
pub fn make_or_skip(
    candidate: &Candidate,
    model: &Model,
    network: &Network,
    threads: usize,
) -> Option<Box<dyn Backend>> {
    match (candidate.make)(model, network, threads) {
        Ok(b) => Some(b),
        Err(e) => {
            if required().iter().any(|r| r == candidate.name) {
                panic!(
                    "backend `{}` is required (BRUNEL_REQUIRE) but unavailable: {e}",
                    candidate.name
                );
            }
            eprintln!("SKIPPED backend `{}`: {e}", candidate.name);
            None
        }
    }
}
