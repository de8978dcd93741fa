//! The machine profile that `--backend auto` reads: which backend was measured fastest here, by
//! network size. This module owns its format: `brunel profile write` (which `cargo xtask bench`
//! calls with its measurements) writes it, `brunel profile path|show` and `--backend auto` read
//! it.
//!
//! Location: `$BRUNEL_PROFILE` if set, else `$XDG_CACHE_HOME/brunel/profile.toml`, else
//! `~/.cache/brunel/profile.toml`.
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
use serde::{Deserialize, Serialize};

/// The file's content.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Profile {
    /// The machine measured, in words (processor, cores): `auto` names it when it chooses.
    #[serde(default)]
    pub machine: String,
    /// When it was measured (a date); empty if not said.
    #[serde(default)]
    pub created: String,
    /// Where the measurements are (a `benches/results/` folder).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub results: String,
    /// Whether they come from `cargo xtask bench --quick`.
    #[serde(default)]
    pub quick: bool,
    /// The fastest backend of every network size measured, in any order.
    #[serde(default)]
    pub size: Vec<Entry>,
}

/// The fastest backend for one network size.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Entry {
    /// The network size measured (neurons): `auto` takes the entry of the smallest size at or
    /// above a config's, else the largest ([`Profile::entry_for`]).
    pub n: u64,
    /// The registry name of the backend measured fastest: `reference`, `cpu`, `opencl`.
    pub backend: String,
    /// The thread count it was measured with (cpu), used unless `--threads` is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// The device index it was measured on (opencl), as `brunel backends` numbers them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<usize>,
    /// The measured run phase (s), kept for the reader: `auto` does not use it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_seconds: Option<f64>,
    /// The measured setup in words (`cpu 2 threads`): `auto` names it when it chooses, in
    /// place of the backend's name; empty if not said.
    #[serde(default)]
    pub label: String,
}

/// `brunel profile`.
#[derive(Debug, clap::Subcommand)]
pub enum ProfileCommand {
    /// Prints where the machine profile is (or would be).
    Path,
    /// Prints the machine profile.
    Show,
    /// Writes the machine profile (what `cargo xtask bench` calls): one `--size` per network
    /// size, the fastest backend measured for it.
    Write {
        /// The machine, in words.
        #[arg(long, default_value = "")]
        machine: String,
        /// When it was measured (a date).
        #[arg(long, default_value = "")]
        created: String,
        /// The folder of the measurements.
        #[arg(long, default_value = "")]
        results: String,
        /// The measurements are `cargo xtask bench --quick`'s.
        #[arg(long)]
        quick: bool,
        /// `n=N,backend=NAME[,threads=T][,device=D][,run_seconds=S][,label=TEXT]`; repeatable.
        #[arg(long = "size", value_name = "n=N,backend=NAME,...", value_parser = parse_entry, required = true)]
        sizes: Vec<Entry>,
    },
}

/// Parses `n=12500,backend=cpu,threads=2,run_seconds=0.25,label=cpu 2 threads`.
fn parse_entry(s: &str) -> std::result::Result<Entry, String> {
    let mut entry = Entry {
        n: 0,
        backend: String::new(),
        threads: None,
        device: None,
        run_seconds: None,
        label: String::new(),
    };
    let mut have_n = false;
    for part in s.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}` is not KEY=VALUE"))?;
        let num = |what: &str| format!("{k}: `{v}` is not {what}");
        match k.trim() {
            "n" => {
                entry.n = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&n: &u64| n > 0)
                    .ok_or_else(|| num("a neuron count > 0"))?;
                have_n = true;
            }
            "backend" => {
                entry.backend = brunel_backends::find(v.trim())
                    .map_err(|e| e.to_string())?
                    .name
                    .to_owned()
            }
            "threads" => entry.threads = Some(v.trim().parse().map_err(|_| num("a thread count"))?),
            "device" => entry.device = Some(v.trim().parse().map_err(|_| num("a device index"))?),
            "run_seconds" => {
                entry.run_seconds = Some(
                    v.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x >= 0.0)
                        .ok_or_else(|| num("a time in seconds"))?,
                )
            }
            "label" => entry.label = v.to_owned(),
            other => {
                return Err(format!(
                    "unknown field `{other}` (n, backend, threads, device, run_seconds, label)"
                ))
            }
        }
    }
    if !have_n || entry.backend.is_empty() {
        return Err(format!("`{s}` needs at least n=N and backend=NAME"));
    }
    Ok(entry)
}

/// Runs `brunel profile ...`.
pub fn command(cmd: &ProfileCommand) -> Result<()> {
    let path = path()
        .context("no place for a machine profile (neither XDG_CACHE_HOME nor HOME is set)")?;
    match cmd {
        ProfileCommand::Path => say!("{}", path.display()),
        ProfileCommand::Show => match load(&path)? {
            Some(_) => say!(
                "{}",
                brunel_core::config::read_regular(&path, MAX_PROFILE_BYTES)
                    .with_context(|| format!("cannot read {}", path.display()))?
                    .trim_end()
            ),
            None => bail!(
                "no machine profile at {} (`cargo xtask bench` writes one)",
                path.display()
            ),
        },
        ProfileCommand::Write {
            machine,
            created,
            results,
            quick,
            sizes,
        } => {
            // `auto` takes the first entry of a size: a second one would be kept but never used.
            for (i, e) in sizes.iter().enumerate() {
                if let Some(first) = sizes[..i].iter().find(|f| f.n == e.n) {
                    bail!(
                        "--size n={} is given twice (backend={} and backend={}); give each network size once",
                        e.n,
                        first.backend,
                        e.backend
                    );
                }
            }
            let profile = Profile {
                machine: machine.clone(),
                created: created.clone(),
                results: results.clone(),
                quick: *quick,
                size: sizes.clone(),
            };
            let text = format!(
                "# Which backend is fastest on this machine, by network size. Written by `brunel profile write`\n\
                 # (called by `cargo xtask bench`); read by `brunel run --backend auto`. Delete it to go back\n\
                 # to the built-in rule.\n{}",
                toml::to_string(&profile).context("cannot write the profile as TOML")?
            );
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            let _claim = crate::files::preflight(
                &[crate::files::Output::new(
                    "the machine profile",
                    &path,
                    crate::files::Replace::Always,
                )],
                &[],
            )?;
            crate::files::write_bytes(&path, text.as_bytes(), crate::files::Replace::Always)?;
            say!("{}", path.display());
        }
    }
    Ok(())
}

/// Where the profile is, if a place can be named.
pub fn path() -> Option<PathBuf> {
    // Set but empty counts as unset, as for XDG_CACHE_HOME below: "" names no file.
    if let Some(p) = std::env::var_os("BRUNEL_PROFILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    // An empty or relative XDG_CACHE_HOME is to be ignored (XDG base directory spec).
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|base| base.join("brunel/profile.toml"))
}

/// The largest profile read: one of every size and backend is a few kB.
const MAX_PROFILE_BYTES: u64 = 16 << 20;

/// Reads the profile at `path`: `Ok(None)` when there is none.
pub fn load(path: &Path) -> Result<Option<Profile>> {
    // A regular file only: a FIFO there would block every `--backend auto` run.
    let text = match brunel_core::config::read_regular(path, MAX_PROFILE_BYTES) {
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
    fn what_write_writes_load_reads() {
        let entry =
            parse_entry("n=12500,backend=cpu,threads=2,run_seconds=0.25,label=cpu 2 threads")
                .unwrap();
        assert_eq!(entry.threads, Some(2));
        assert_eq!(entry.label, "cpu 2 threads");
        let p = Profile {
            machine: "m".into(),
            size: vec![entry.clone()],
            ..Profile::default()
        };
        let back: Profile = toml::from_str(&toml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back.size, vec![entry]);
        assert!(parse_entry("n=1,backend=quantum")
            .unwrap_err()
            .contains("unknown backend"));
        assert!(parse_entry("backend=cpu").is_err());
        assert!(parse_entry("n=0,backend=cpu")
            .unwrap_err()
            .contains("a neuron count > 0"));
        assert!(parse_entry("n=1,backend=cpu,speed=3")
            .unwrap_err()
            .contains("unknown field"));
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
