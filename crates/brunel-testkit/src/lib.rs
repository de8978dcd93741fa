//! Support shared by every test crate of brunel (and the benchmarks):
//!
//! - [`required`] / [`skip`] / [`passed`]: `BRUNEL_REQUIRE` (backends and checks whose absence
//!   fails instead of skipping) and visible skips: every skip and pass of a suite test is
//!   appended to the file named by `BRUNEL_TEST_LOG`, which `cargo xtask test` prints at the
//!   end (libtest swallows the output of passing tests);
//! - [`Outcome`], [`run_in_pieces`], [`compare`]: a run's spikes and final state, compared
//!   with the reference's bit for bit;
//! - [`panel`]: the Fig. 8 panels, read from `configs/fig8_*.toml` (the one copy of their
//!   parameters).

use std::io::Write as _;
use std::path::PathBuf;

use brunel_core::{Backend, Config, HostState, RecordSpikes, SpikeRecorder};

/// Names in `BRUNEL_REQUIRE` (comma-separated): backends or checks that must not be skipped.
pub fn required() -> Vec<String> {
    std::env::var("BRUNEL_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether `name` is in `BRUNEL_REQUIRE`.
pub fn is_required(name: &str) -> bool {
    required().iter().any(|r| r == name)
}

/// Appends `status<TAB>name<TAB>test<TAB>detail` to the file `BRUNEL_TEST_LOG` names, if any.
pub fn log(status: &str, name: &str, test: &str, detail: &str) {
    let Some(path) = std::env::var_os("BRUNEL_TEST_LOG") else {
        return;
    };
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let line = format!(
        "{status}\t{}\t{}\t{}\n",
        clean(name),
        clean(test),
        clean(detail)
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Skips `test` of `name` (a backend or a check) for `reason`: printed, logged, and a panic (a
/// failure) when `BRUNEL_REQUIRE` names it.
pub fn skip(name: &str, test: &str, reason: &str) {
    if is_required(name) {
        panic!("`{name}` is required (BRUNEL_REQUIRE) but {test} cannot run: {reason}");
    }
    eprintln!("SKIPPED {name} {test}: {reason}");
    log("skipped", name, test, reason);
}

/// Notes that `test` of `name` ran and passed (`detail`: what it covered, e.g. a case count).
pub fn passed(name: &str, test: &str, detail: &str) {
    log("passed", name, test, detail);
}

/// What a run produced: every spike and the final state.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub spikes: SpikeRecorder,
    pub state: HostState,
}

impl Outcome {
    /// Spikes of the whole run.
    pub fn spike_count(&self) -> u64 {
        self.spikes.counts.iter().map(|&c| c as u64).sum()
    }
}

/// Runs `backend` for `steps` steps in pieces of the sizes `pieces` (repeated; the last piece
/// is cut to what remains; empty: one call), recording every spike.
pub fn run_in_pieces(
    backend: &mut dyn Backend,
    steps: u64,
    pieces: &[u64],
) -> brunel_core::Result<Outcome> {
    let mut spikes = SpikeRecorder::new(RecordSpikes::All, steps);
    let mut done = 0;
    let mut i = 0;
    while done < steps {
        let piece = if pieces.is_empty() {
            steps
        } else {
            pieces[i % pieces.len()]
        };
        let piece = piece.min(steps - done);
        backend.run(piece, &mut spikes)?;
        done += piece;
        i += 1;
    }
    let state = backend.state()?;
    Ok(Outcome { spikes, state })
}

/// Whether `got` is `want` bit for bit (every step's spike count, every spike, the final
/// potentials, last spikes, spikes in flight and step); if not, where they first differ.
pub fn compare(what: &str, want: &Outcome, got: &Outcome) -> Result<(), String> {
    let (w, g) = (&want.spikes, &got.spikes);
    if let Some(step) =
        (0..w.counts.len().max(g.counts.len())).find(|&s| w.counts.get(s) != g.counts.get(s))
    {
        return Err(format!(
            "{what}: the number of spikes first differs at step {step}: reference {:?}, backend {:?}",
            w.counts.get(step),
            g.counts.get(step)
        ));
    }
    if let Some(i) = (0..w.ids.len().min(g.ids.len()))
        .find(|&i| (w.steps[i], w.ids[i]) != (g.steps[i], g.ids[i]))
    {
        return Err(format!(
            "{what}: spike {i} differs: reference neuron {} at step {}, backend neuron {} at step {}",
            w.ids[i], w.steps[i], g.ids[i], g.steps[i]
        ));
    }
    if w != g {
        return Err(format!("{what}: spike records differ"));
    }
    compare_states(what, &want.state, &got.state)
}

/// Whether two states are the same bit for bit; if not, where they first differ.
pub fn compare_states(what: &str, ws: &HostState, gs: &HostState) -> Result<(), String> {
    if ws.step != gs.step {
        return Err(format!(
            "{what}: step counters differ: {} and {}",
            ws.step, gs.step
        ));
    }
    if ws.v.len() != gs.v.len() || ws.last_spike.len() != gs.last_spike.len() {
        return Err(format!("{what}: numbers of neurons differ"));
    }
    if let Some(i) = ws.first_difference(gs) {
        return Err(format!(
            "{what}: final state of neuron {i} differs: reference v = {:e} ({:#x}), last spike {}; \
             backend v = {:e} ({:#x}), last spike {}",
            ws.v[i],
            ws.v[i].to_bits(),
            ws.last_spike[i],
            gs.v[i],
            gs.v[i].to_bits(),
            gs.last_spike[i]
        ));
    }
    if ws.in_flight != gs.in_flight {
        let i = (0..ws.in_flight.len().max(gs.in_flight.len()))
            .find(|&i| ws.in_flight.get(i) != gs.in_flight.get(i))
            .unwrap_or(0);
        return Err(format!(
            "{what}: spikes in flight differ ({} and {}), first at {i}: {:?} and {:?}",
            ws.in_flight.len(),
            gs.in_flight.len(),
            ws.in_flight.get(i),
            gs.in_flight.get(i)
        ));
    }
    Ok(())
}

/// Panics with the difference unless `got` is `want` bit for bit.
pub fn assert_same(what: &str, want: &Outcome, got: &Outcome) {
    if let Err(e) = compare(what, want, got) {
        panic!("{e}");
    }
}

/// The folder of the shipped configs: `BRUNEL_CONFIGS` if set (a prepared GPU check runs the
/// test binaries away from the source tree), else the repository's `configs/`.
pub fn configs_dir() -> PathBuf {
    std::env::var_os("BRUNEL_CONFIGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs"))
}

/// The Fig. 8 panels, in order, by their letter.
pub const PANELS: [&str; 4] = ["a", "b", "c", "d"];

/// The regimes of the four panels, in order (Brunel 2000, Fig. 8).
pub const REGIMES: [&str; 4] = ["SR", "SI-fast", "AI", "SI-slow"];

/// Fig. 8 panel `letter` (`a`..`d`) as `configs/fig8_<letter>.toml` states it.
pub fn panel(letter: &str) -> Config {
    let path = configs_dir().join(format!("fig8_{letter}.toml"));
    Config::from_file_with(&path, &[])
        .unwrap_or_else(|e| panic!("the panel config {} cannot be read: {e}", path.display()))
}
