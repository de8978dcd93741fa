//! brunel-opencl: the OpenCL backend. (Interface fixed; implementation in progress.)

use brunel_core::{Backend, BackendInfo, Error, HostState, Model, Network, Recorder, Result};

/// Kind of an OpenCL device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Gpu,
    Cpu,
    Other,
}

/// One OpenCL device found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Index in the list `brunel backends` prints (the `--device` value).
    pub index: usize,
    pub platform: String,
    pub name: String,
    pub kind: DeviceKind,
    /// Whether the device supports f64 (required).
    pub fp64: bool,
    pub compute_units: u32,
}

/// Lists the OpenCL devices; an error (never a panic, never a 10 s stall) when there is no
/// platform.
pub fn probe() -> Result<Vec<DeviceInfo>> {
    Err(unavailable("not implemented yet"))
}

fn unavailable(message: &str) -> Error {
    Error::Unavailable {
        backend: "opencl".into(),
        message: message.into(),
    }
}

/// The OpenCL backend.
pub struct OpenClBackend {
    device: DeviceInfo,
}

impl OpenClBackend {
    /// Builds the kernels and uploads state and network to device `device` (index from
    /// [`probe`]; `None`: the default choice: the fastest non-CPU device, else the first).
    pub fn new(_model: &Model, _network: &Network, _device: Option<usize>) -> Result<OpenClBackend> {
        Err(unavailable("not implemented yet"))
    }
}

impl Backend for OpenClBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "opencl".into(),
            device: self.device.name.clone(),
            threads: self.device.compute_units as usize,
        }
    }
    fn run(&mut self, _steps: u64, _recorder: &mut dyn Recorder) -> Result<()> {
        unreachable!("OpenClBackend::new never succeeds yet")
    }
    fn state(&self) -> Result<HostState> {
        unreachable!("OpenClBackend::new never succeeds yet")
    }
    fn step(&self) -> u64 {
        0
    }
}
