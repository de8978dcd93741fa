//! `brunel info` (the summary of a result file, also printed at the end of a run) and
//! `brunel backends` (what can run on this machine).

use std::path::Path;

use anyhow::Result;
use brunel_core::Par;

use crate::output::{self, Results};
use brunel_backends::Setup;

/// Prints the summary of a result file.
pub fn info(path: &Path) -> Result<()> {
    let r = output::read_guarded(path)?;
    print_results(&r, Some(path));
    let p = &r.provenance;
    let config: Option<toml::Table> = p.config.parse().ok();
    let get = |section: &str, key: &str| -> String {
        config
            .as_ref()
            .and_then(|c| c.get(section))
            .and_then(|s| s.get(key))
            .map_or_else(
                || "?".to_owned(),
                |v| v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
    };
    row(
        "model",
        format!(
            "g = {}, nu_ext/nu_thr = {}, refractory input {}, connectivity {}",
            get("synapse", "g"),
            get("input", "ratio"),
            get("neuron", "refractory_input"),
            get("network", "connectivity"),
        ),
    );
    let title = get("plot", "title");
    if !title.is_empty() {
        row("title", title);
    }
    row(
        "recorded spikes",
        format!(
            "{} ({}), times {}",
            count(r.timestamps.len() as u64),
            get("record", "spikes"),
            match (r.timestamps.first(), r.timestamps.last()) {
                (Some(a), Some(b)) => format!("{a:.1}–{b:.1} ms"),
                _ => "none".into(),
            }
        ),
    );
    let mean_rate = if r.rate.is_empty() {
        0.0
    } else {
        r.rate.iter().sum::<f64>() / r.rate.len() as f64
    };
    row(
        "population rate",
        format!(
            "{mean_rate:.2} Hz mean over the whole run, {:.1} Hz at most in one step",
            r.rate.iter().copied().fold(0.0, f64::max)
        ),
    );
    row("created", p.created.clone());
    row("brunel version", p.brunel_version.clone());
    Ok(())
}

/// One `label value` line; control characters of the value (a title or a device name read
/// from a file may hold a terminal's escape sequences) are printed escaped, `\u{1b}`.
fn row(label: &str, value: impl std::fmt::Display) {
    say!("{label:<18}{}", escape_controls(&value.to_string()));
}

/// `s` with every control character written as Rust escapes it (`\u{1b}`, `\n`).
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `1234567` → `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The summary of a run: what `brunel run` prints at its end.
pub fn print_results(r: &Results, out: Option<&Path>) {
    let p = &r.provenance;
    let s = &r.summary;
    if let Some(out) = out {
        row("result", out.display());
    }
    row(
        "backend",
        format!(
            "{}, {} thread{}",
            p.backend,
            p.threads,
            if p.threads == 1 { "" } else { "s" }
        ),
    );
    row("device", &p.device);
    row(
        "neurons",
        format!(
            "{} ({} excitatory, {} inhibitory)",
            count(s.n_neurons),
            count(s.n_excitatory),
            count(s.n_neurons.saturating_sub(s.n_excitatory))
        ),
    );
    row("synapses", count(p.n_synapses));
    row("seed", p.seed);
    row(
        "simulated",
        format!(
            "{} ms ({} steps of {} ms)",
            s.duration,
            count(s.steps),
            s.dt
        ),
    );
    row(
        "mean rate E / I",
        format!(
            "{:.2} Hz / {:.2} Hz (last 80 % of the run, from {} ms)",
            s.mean_rate_exc,
            s.mean_rate_inh,
            (s.steps as f64 * 0.2).round() * s.dt
        ),
    );
    if let Some(t) = &s.theory {
        row("theory", t.text());
    }
    row(
        "mean CV of ISIs",
        if s.mean_cv.is_nan() {
            "undefined (no neuron has two intervals in the window)".to_owned()
        } else {
            format!("{:.3}", s.mean_cv)
        },
    );
    row("spikes", count(s.spikes));
    row("synaptic events", count(s.synaptic_events));
    row(
        "build time",
        format!("{:.3} s (network and backend layout)", p.build_seconds),
    );
    row("run time", format!("{:.3} s", p.run_seconds));
    let simulated_s = s.duration / 1000.0;
    if p.run_seconds > 0.0 {
        row(
            "real-time factor",
            format!(
                "{:.3} (simulated time / run time; > 1 is faster than real time)",
                simulated_s / p.run_seconds
            ),
        );
        row(
            "events/s",
            format!(
                "{:.3e} synaptic events per second",
                s.synaptic_events as f64 / p.run_seconds
            ),
        );
    }
}

/// Lists every backend of the registry: available here or not and why, and its devices.
pub fn backends(format: BackendsFormat) -> Result<()> {
    let setup = Setup::default();
    let probes: Vec<_> = brunel_backends::all()
        .iter()
        .map(|e| (e, e.probe(&setup)))
        .collect();
    if format == BackendsFormat::Toml {
        say!("cores = {}", Par::threads(0).count());
        for (e, p) in &probes {
            say!(
                "\n[[backend]]\nname = {:?}\navailable = {}\n{} = {:?}\ncompiled = {}\noracle = {}\nhonours_threads = {}\nhonours_device = {}\ndistributed = {}",
                e.name,
                p.available.is_ok(),
                if p.available.is_ok() { "about" } else { "why" },
                match &p.available {
                    Ok(what) => what,
                    Err(why) => why,
                },
                e.compiled,
                e.oracle,
                e.honours.threads,
                e.honours.device,
                e.distributed
            );
        }
        for (e, p) in &probes {
            for d in &p.devices {
                say!(
                    "\n[[device]]\nbackend = {:?}\nindex = {}\nname = {:?}\nplatform = {:?}\nkind = \"{}\"\nfp64 = {}\ncompute_units = {}",
                    e.name,
                    d.index,
                    d.name,
                    d.platform,
                    d.kind.as_str(),
                    d.fp64,
                    d.compute_units
                );
            }
        }
        return Ok(());
    }
    for (e, p) in &probes {
        match &p.available {
            Ok(what) => say!("{:<10} available: {what} — {}", e.name, e.about),
            Err(why) => say!("{:<10} not available: {why}", e.name),
        }
        for d in &p.devices {
            say!(
                "  [{}] {} — {} ({}, {} compute units{})",
                d.index,
                d.name,
                d.platform,
                d.kind.as_str(),
                d.compute_units,
                if d.fp64 {
                    ", fp64"
                } else {
                    ", no fp64: cannot run brunel"
                }
            );
        }
    }
    Ok(())
}

/// How `brunel backends` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendsFormat {
    /// For people.
    Text,
    /// For scripts: `cores = N`, one `[[backend]]` table per backend of the registry and one
    /// `[[device]]` table per device.
    Toml,
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands() {
        assert_eq!(super::count(0), "0");
        assert_eq!(super::count(999), "999");
        assert_eq!(super::count(1000), "1,000");
        assert_eq!(super::count(15_625_123), "15,625,123");
    }
}
