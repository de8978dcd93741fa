//! Compiled programs, kept per (device, source, options).
//!
//! PoCL compiles a program in seconds, and the test suite makes this backend many times over;
//! a cache object holds one context and one program per key. [`ProgramCache::global`] is the
//! one the plain constructor uses; a caller that wants its own passes one to
//! [`crate::OpenClBackend::with_cache`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use brunel_core::{Error, Result};
use ocl::core::ClDeviceIdPtr;
use ocl::{Context, Program};

use crate::device::Found;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    /// `cl_device_id`, as an address: stable for the life of the process.
    device: usize,
    source: String,
    options: String,
}

/// Contexts and built programs by (device, source, build options).
#[derive(Debug, Default)]
pub struct ProgramCache {
    entries: Mutex<HashMap<Key, (Context, Program)>>,
    builds: AtomicUsize,
}

impl ProgramCache {
    /// An empty cache.
    pub fn new() -> ProgramCache {
        ProgramCache::default()
    }

    /// The process-wide cache that [`crate::OpenClBackend::new`] uses.
    pub fn global() -> &'static ProgramCache {
        static GLOBAL: OnceLock<ProgramCache> = OnceLock::new();
        GLOBAL.get_or_init(ProgramCache::new)
    }

    /// Number of programs this cache has compiled (successfully or not).
    pub fn builds(&self) -> usize {
        self.builds.load(Ordering::Relaxed)
    }

    /// Compiles `source` with `options` on device `device` (as [`crate::OpenClBackend::new`]
    /// chooses it) through this cache: the error of a failed build carries the build log.
    pub fn check_source(&self, device: Option<usize>, source: &str, options: &str) -> Result<()> {
        let found = crate::device::resolve(device)?;
        self.get(&found, source, options).map(drop)
    }

    /// The context and program of `source` on `found`, compiled on first use.
    pub(crate) fn get(
        &self,
        found: &Found,
        source: &str,
        options: &str,
    ) -> Result<(Context, Program)> {
        let key = Key {
            device: found.device.as_core().as_ptr() as usize,
            source: source.to_owned(),
            options: options.to_owned(),
        };
        // Holding the lock while compiling: a second caller waits for the first build rather
        // than compiling the same program again.
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = entries.get(&key) {
            return Ok(hit.clone());
        }
        let context = Context::builder()
            .platform(found.platform)
            .devices(found.device)
            .build()
            .map_err(|e| crate::failed(&format!("creating a context on {}", found.info.name), e))?;
        self.builds.fetch_add(1, Ordering::Relaxed);
        let program = Program::builder()
            .devices(found.device)
            .source(source)
            .cmplr_opt(options)
            .build(&context)
            .map_err(|e| Error::Backend {
                backend: "opencl".into(),
                message: format!(
                    "kernel build failed on {} (options `{options}`); build log:\n{e}",
                    found.info.name
                ),
            })?;
        entries.insert(key, (context.clone(), program.clone()));
        Ok((context, program))
    }
}
