//! Finding OpenCL devices without panicking or stalling, and choosing one.

use std::ptr;
use std::sync::Mutex;

use brunel_core::{Error, Result};
use ocl::core::PlatformId;
use ocl::enums::{DeviceInfo as ClDeviceInfo, DeviceInfoResult};
use ocl::flags::DeviceType;
use ocl::{Device, Platform};

use crate::unavailable;

/// The kernels as written (`kernels/brunel.cl`), embedded at compile time; the constants they
/// use come from [`kernel_source`]'s generated header.
pub const KERNEL_BODY: &str = include_str!("kernels/brunel.cl");

/// The program the backend compiles: the kernels' two leading pragmas, the header generated
/// from brunel-core's constants (Philox, NEVER), then the kernels.
pub fn kernel_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let pragmas_end = KERNEL_BODY
            .match_indices('\n')
            .nth(1)
            .map_or(0, |(i, _)| i + 1);
        let (pragmas, rest) = KERNEL_BODY.split_at(pragmas_end);
        format!("{pragmas}{}{rest}", brunel_core::rng::opencl_header())
    })
}

/// Environment variable naming the default device: an index into [`probe`]'s list (the list
/// `brunel backends` prints). Used when no device is given explicitly (see [`device_from_env`]).
pub const DEVICE_ENV: &str = "BRUNEL_OPENCL_DEVICE";

/// Kind of an OpenCL device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// `CL_DEVICE_TYPE_GPU`: spikes are delivered with atomics ([`crate::Delivery::Atomic`]).
    Gpu,
    /// `CL_DEVICE_TYPE_CPU` (PoCL, Intel's runtime): one writer per range of targets
    /// ([`crate::Delivery::Owned`]); the default device only where no other has f64.
    Cpu,
    /// Any other type (an accelerator): launched as a GPU is.
    Other,
}

/// One OpenCL device found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Index in the list `brunel backends` prints (the `--device` value).
    pub index: usize,
    /// The platform's name (`Portable Computing Language`, `NVIDIA CUDA`), trimmed.
    pub platform: String,
    /// The device's name, trimmed.
    pub name: String,
    /// GPU, CPU or other, from `CL_DEVICE_TYPE`.
    pub kind: DeviceKind,
    /// Whether the device supports f64 (required).
    pub fp64: bool,
    /// `CL_DEVICE_MAX_COMPUTE_UNITS` (0 if the driver does not say): sizes the launches.
    pub compute_units: u32,
}

impl std::fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] {} ({}, {:?}, {} compute units{})",
            self.index,
            self.name,
            self.platform,
            self.kind,
            self.compute_units,
            if self.fp64 { "" } else { ", no fp64" }
        )
    }
}

/// A device with its OpenCL handles.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub info: DeviceInfo,
    pub platform: Platform,
    pub device: Device,
}

/// `CL_PLATFORM_NOT_FOUND_KHR`: what the ICD loader answers when it finds no platform.
const CL_PLATFORM_NOT_FOUND_KHR: i32 = -1001;

/// The platforms, asked once of `clGetPlatformIDs` (never through `ocl`'s `Platform::list`,
/// which panics, or `ocl::core::get_platform_ids`, which retries for 10 s).
fn platform_ids() -> Result<Vec<PlatformId>> {
    let mut count: u32 = 0;
    // SAFETY: asks only for the number of platforms; `count` outlives the call.
    let status = unsafe { ocl::ffi::clGetPlatformIDs(0, ptr::null_mut(), &mut count) };
    if status == CL_PLATFORM_NOT_FOUND_KHR || (status == 0 && count == 0) {
        return Err(unavailable(
            "no OpenCL platform found (the ICD loader lists none; install an OpenCL driver, \
             e.g. `pocl-opencl-icd` on Debian/Ubuntu, or check OCL_ICD_VENDORS)",
        ));
    }
    if status != 0 {
        return Err(unavailable(format!(
            "clGetPlatformIDs failed with OpenCL status {status}"
        )));
    }
    let mut raw = vec![ptr::null_mut(); count as usize];
    let mut got: u32 = 0;
    // SAFETY: `raw` has room for `count` ids.
    let status = unsafe { ocl::ffi::clGetPlatformIDs(count, raw.as_mut_ptr(), &mut got) };
    if status != 0 {
        return Err(unavailable(format!(
            "clGetPlatformIDs failed with OpenCL status {status}"
        )));
    }
    raw.truncate(got.min(count) as usize);
    // SAFETY: the ids come from the driver just now.
    Ok(raw
        .into_iter()
        .map(|p| unsafe { PlatformId::from_raw(p) })
        .collect())
}

fn describe(index: usize, platform: &Platform, device: &Device) -> DeviceInfo {
    let kind = match device.info(ClDeviceInfo::Type) {
        Ok(DeviceInfoResult::Type(t)) if t.contains(DeviceType::GPU) => DeviceKind::Gpu,
        Ok(DeviceInfoResult::Type(t)) if t.contains(DeviceType::CPU) => DeviceKind::Cpu,
        _ => DeviceKind::Other,
    };
    let compute_units = match device.info(ClDeviceInfo::MaxComputeUnits) {
        Ok(DeviceInfoResult::MaxComputeUnits(c)) => c,
        _ => 0,
    };
    let fp64 = match device.info(ClDeviceInfo::Extensions) {
        Ok(DeviceInfoResult::Extensions(e)) => e.split_whitespace().any(|x| x == "cl_khr_fp64"),
        _ => false,
    };
    DeviceInfo {
        index,
        platform: platform
            .name()
            .unwrap_or_else(|_| "unknown platform".into())
            .trim()
            .to_owned(),
        name: device
            .name()
            .unwrap_or_else(|_| "unknown device".into())
            .trim()
            .to_owned(),
        kind,
        fp64,
        compute_units,
    }
}

/// Serialises device discovery within the process: PoCL 3.1 initialises its devices in the first
/// `clGetDeviceIDs` and answers `clGetDeviceInfo` from another thread before that is finished
/// (a crash in `strlen`, seen when tests probe in parallel).
static DISCOVERY: Mutex<()> = Mutex::new(());

pub(crate) fn probe_found() -> Result<Vec<Found>> {
    let _guard = DISCOVERY.lock().unwrap_or_else(|e| e.into_inner());
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for id in platform_ids()? {
        let platform = Platform::new(id);
        match Device::list_all(platform) {
            Ok(devices) => {
                for device in devices {
                    let info = describe(found.len(), &platform, &device);
                    found.push(Found {
                        info,
                        platform,
                        device,
                    });
                }
            }
            Err(e) => problems.push(format!(
                "platform {}: {e}",
                platform.name().unwrap_or_default()
            )),
        }
    }
    if found.is_empty() {
        return Err(unavailable(format!(
            "OpenCL platforms found but no device{}",
            if problems.is_empty() {
                String::new()
            } else {
                format!(" ({})", problems.join("; "))
            }
        )));
    }
    Ok(found)
}

/// Lists the OpenCL devices; an error (never a panic, never a 10 s stall) when there is no
/// platform.
pub fn probe() -> Result<Vec<DeviceInfo>> {
    Ok(probe_found()?.into_iter().map(|f| f.info).collect())
}

/// The device index in [`DEVICE_ENV`] (`BRUNEL_OPENCL_DEVICE`), if set; an error if it is not
/// a number. The CLI calls this when `--device` is not given; [`crate::OpenClBackend::new`]
/// with `None` does the same.
pub fn device_from_env() -> Result<Option<usize>> {
    match std::env::var(DEVICE_ENV) {
        Ok(s) if s.trim().is_empty() => Ok(None),
        Ok(s) => s.trim().parse().map(Some).map_err(|_| Error::Unavailable {
            backend: "opencl".into(),
            message: format!(
                "the environment variable {DEVICE_ENV}=`{}` is not a device index (see `brunel backends`)",
                s.chars().take(40).flat_map(char::escape_default).collect::<String>()
            ),
        }),
        Err(_) => Ok(None),
    }
}

/// The default choice among `devices`: the non-CPU device with f64 and the most compute units
/// (GPUs before other accelerators), else the first device with f64, else the first device
/// (refused later with a message about f64).
pub fn default_device(devices: &[DeviceInfo]) -> Option<usize> {
    let rank = |d: &DeviceInfo| match d.kind {
        DeviceKind::Gpu => 2,
        DeviceKind::Other => 1,
        DeviceKind::Cpu => 0,
    };
    devices
        .iter()
        .filter(|d| d.fp64 && d.kind != DeviceKind::Cpu)
        .max_by_key(|d| (rank(d), d.compute_units, std::cmp::Reverse(d.index)))
        .or_else(|| devices.iter().find(|d| d.fp64))
        .or_else(|| devices.first())
        .map(|d| d.index)
}

fn list(devices: &[Found]) -> String {
    devices
        .iter()
        .map(|f| f.info.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The device `index` (or the default: [`DEVICE_ENV`], else [`default_device`]), checked for
/// f64.
pub(crate) fn resolve(index: Option<usize>) -> Result<Found> {
    let devices = probe_found()?;
    let index = match index.map_or_else(device_from_env, |i| Ok(Some(i)))? {
        Some(i) => i,
        None => {
            let infos: Vec<DeviceInfo> = devices.iter().map(|f| f.info.clone()).collect();
            default_device(&infos).expect("probe_found returns at least one device")
        }
    };
    let Some(found) = devices.get(index) else {
        return Err(unavailable(format!(
            "device index {index} is out of range: {} device(s) found: {}",
            devices.len(),
            list(&devices)
        )));
    };
    check_fp64(&found.info)?;
    Ok(found.clone())
}

/// Refuses a device without f64.
pub(crate) fn check_fp64(info: &DeviceInfo) -> Result<()> {
    if info.fp64 {
        Ok(())
    } else {
        Err(unavailable(format!(
            "device {info} does not support double precision (cl_khr_fp64), which the \
             bit-identical f64 state requires; choose another device with --device or {DEVICE_ENV}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(index: usize, kind: DeviceKind, fp64: bool, compute_units: u32) -> DeviceInfo {
        DeviceInfo {
            index,
            platform: "p".into(),
            name: format!("d{index}"),
            kind,
            fp64,
            compute_units,
        }
    }

    #[test]
    fn default_prefers_the_largest_gpu_with_fp64() {
        let devices = [
            dev(0, DeviceKind::Cpu, true, 64),
            dev(1, DeviceKind::Gpu, true, 20),
            dev(2, DeviceKind::Gpu, false, 200),
            dev(3, DeviceKind::Gpu, true, 132),
        ];
        assert_eq!(default_device(&devices), Some(3));
        assert_eq!(default_device(&devices[..1]), Some(0));
        assert_eq!(
            default_device(&[
                dev(0, DeviceKind::Gpu, false, 8),
                dev(1, DeviceKind::Cpu, true, 2)
            ]),
            Some(1)
        );
        assert_eq!(default_device(&[]), None);
    }

    #[test]
    fn a_device_without_fp64_is_refused_with_a_message() {
        let err = check_fp64(&dev(0, DeviceKind::Gpu, false, 8)).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("opencl backend unavailable"), "{text}");
        assert!(text.contains("double precision"), "{text}");
        assert!(check_fp64(&dev(0, DeviceKind::Gpu, true, 8)).is_ok());
    }
}
