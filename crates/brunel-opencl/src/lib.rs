//! brunel-opencl: the OpenCL backend (any GPU; PoCL on the CPU), bit-identical to
//! [`brunel_core::ReferenceBackend`].
//!
//! - [`probe`] lists the devices; it never panics and never stalls, and "no platform" is an
//!   [`Error::Unavailable`];
//! - [`OpenClBackend`] runs the model: every launch of `advance_*` moves every neuron up to
//!   `delay_steps` steps ahead from arrivals already in a ring of `delay_steps` slots, and one
//!   launch of `propagate` delivers the spikes of those steps (integer atomics on GPUs, one
//!   writer per range of targets on CPUs: [`Delivery`]); the host reads one byte per
//!   (step, neuron) back, one launch behind, and hands each step's ids, ascending, to the
//!   recorder;
//! - device choice: `Some(index)` into [`probe`]'s list, else [`DEVICE_ENV`]
//!   (`BRUNEL_OPENCL_DEVICE`), else [`default_device`] (the largest GPU with f64, else the
//!   first device: PoCL on a machine without GPU); a device without f64 is refused;
//! - [`ProgramCache`] keeps the compiled program per (device, source, options) so that a process
//!   that makes many backends compiles once (PoCL compiles slowly).
//!
//! Kernel source: `src/kernels/brunel.cl` (FP contraction off, f64 state).

#![warn(missing_docs)]

mod backend;
mod cache;
mod device;

pub use backend::{Delivery, OpenClBackend, Tuning};
pub use cache::ProgramCache;
pub use device::{
    default_device, device_from_env, kernel_source, probe, DeviceInfo, DeviceKind, DEVICE_ENV,
    KERNEL_BODY,
};

use brunel_core::Error;

/// `Error::Unavailable` for this backend.
pub(crate) fn unavailable(message: impl Into<String>) -> Error {
    Error::Unavailable {
        backend: "opencl".into(),
        message: message.into(),
    }
}

/// `Error::Backend` for this backend: what was being done, and OpenCL's error.
pub(crate) fn failed(what: &str, err: impl std::fmt::Display) -> Error {
    Error::Backend {
        backend: "opencl".into(),
        message: format!("{what}: {err}"),
    }
}
