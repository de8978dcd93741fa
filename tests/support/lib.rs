//! Support shared by the cross-backend test suite (`tests/`) and the benchmarks (`benches/`):
//! the backends under test, from the registry (`brunel-backends`), and how to make each one.
//!
//! The reference backend is the oracle; every other backend of the registry is a candidate
//! compared with it.

use brunel_backends::{Entry, Setup};
use brunel_core::{Backend, Draw, Model, Network, Synapses};

pub use brunel_backends::{all, candidates, oracle};
pub use brunel_testkit::{
    assert_same, compare, compare_states, is_required, log, mid_config, panel, passed, reference,
    required, run_in_pieces, skip, Outcome, PANELS, REGIMES,
};

/// Why `entry` cannot run here, or `None` when it can (probed once, before any network is
/// built).
pub fn unavailable(entry: &Entry) -> Option<String> {
    entry.check(&Setup::default()).err().map(|e| e.to_string())
}

/// Makes `entry`'s backend on `threads` threads (ignored by a backend that does not honour a
/// thread count). A backend that cannot be made is a failure: its absence was settled by
/// [`unavailable`] before the test started.
pub fn make(entry: &Entry, model: &Model, network: &Network, threads: usize) -> Box<dyn Backend> {
    entry
        .make(
            model,
            network,
            &Setup {
                threads,
                device: None,
            },
        )
        .unwrap_or_else(|e| panic!("backend `{}` could not be made: {e}", entry.name))
}

/// Makes `entry`'s backend from the network not drawn yet (`Synapses::Draw`): what `brunel run`
/// hands a backend that does not keep the whole network.
pub fn make_from_draw(
    entry: &Entry,
    model: &Model,
    draw: &Draw,
    threads: usize,
) -> Box<dyn Backend> {
    entry
        .make_from(
            model,
            &Synapses::Draw(draw),
            &Setup {
                threads,
                device: None,
            },
        )
        .unwrap_or_else(|e| panic!("backend `{}` could not be made: {e}", entry.name))
}
