//! brunel-cpu: the multi-threaded backend. (Interface fixed; implementation in progress.)

use brunel_core::{Backend, BackendInfo, Error, HostState, Model, Network, Par, Recorder, Result};

/// The rayon backend.
pub struct CpuBackend {
    par: Par,
}

impl CpuBackend {
    /// Prepares the state and the backend's own layout of `network` for `par` threads.
    pub fn new(_model: &Model, _network: &Network, par: Par) -> Result<CpuBackend> {
        let _ = CpuBackend { par };
        Err(Error::Unavailable {
            backend: "cpu".into(),
            message: "not implemented yet".into(),
        })
    }
}

impl Backend for CpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "cpu".into(),
            device: "host CPU".into(),
            threads: self.par.count(),
        }
    }
    fn run(&mut self, _steps: u64, _recorder: &mut dyn Recorder) -> Result<()> {
        unreachable!("CpuBackend::new never succeeds yet")
    }
    fn state(&self) -> Result<HostState> {
        unreachable!("CpuBackend::new never succeeds yet")
    }
    fn step(&self) -> u64 {
        0
    }
}
