//! The machine profile that `cargo xtask bench` writes and `--backend auto` reads: which backend
//! was measured fastest here, by network size.
//!
//! Location: `$BRUNEL_PROFILE` if set, else `$XDG_CACHE_HOME/brunel/profile.toml`, else
//! `~/.cache/brunel/profile.toml` (the xtask uses the same rule).
//!
//! ```toml
//! machine = "AMD EPYC 7B13, 2 cores"
//! created = "2026-11-26"
//! [[size]]
//! n = 12500            # network size measured
//! backend = "cpu"      # reference | cpu | opencl
//! threads = 2          # cpu: threads (optional)
//! device = 0           # opencl: device index (optional)
//! run_seconds = 0.31   # the measured run phase
//! label = "cpu 2 threads"
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// The file's content.
#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub machine: String,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub size: Vec<Entry>,
}

/// The fastest backend for one network size.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Entry {
    pub n: u64,
    pub backend: String,
    pub threads: Option<usize>,
    pub device: Option<usize>,
    pub run_seconds: Option<f64>,
    #[serde(default)]
    pub label: String,
}

/// Where the profile is, if a place can be named.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BRUNEL_PROFILE") {
        return Some(PathBuf::from(p));
    }
    // An empty or relative XDG_CACHE_HOME is to be ignored (XDG base directory spec).
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|base| base.join("brunel/profile.toml"))
}

/// Reads the profile at `path`: `Ok(None)` when there is none.
pub fn load(path: &Path) -> Result<Option<Profile>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let profile: Profile = toml::from_str(&text)
        .with_context(|| format!("{} is not a brunel machine profile", path.display()))?;
    if profile.size.is_empty() {
        bail!("{} lists no network sizes", path.display());
    }
    Ok(Some(profile))
}

impl Profile {
    /// The entry for a network of `n` neurons: the smallest measured size at or above `n`, else
    /// the largest measured.
    pub fn entry_for(&self, n: u64) -> &Entry {
        self.size
            .iter()
            .filter(|e| e.n >= n)
            .min_by_key(|e| e.n)
            .or_else(|| self.size.iter().max_by_key(|e| e.n))
            .expect("a loaded profile has entries")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        toml::from_str(
            r#"
            machine = "test"
            [[size]]
            n = 12500
            backend = "cpu"
            threads = 2
            [[size]]
            n = 125000
            backend = "opencl"
            device = 1
            "#,
        )
        .unwrap()
    }

    #[test]
    fn the_nearest_size_at_or_above_decides() {
        let p = profile();
        assert_eq!(p.entry_for(100).backend, "cpu");
        assert_eq!(p.entry_for(12_500).backend, "cpu");
        assert_eq!(p.entry_for(12_501).backend, "opencl");
        assert_eq!(p.entry_for(1_000_000).backend, "opencl");
        assert_eq!(p.entry_for(1_000_000).device, Some(1));
    }
}
