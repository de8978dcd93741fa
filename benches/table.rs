//! The benchmark table of `benches/results/`: per Fig. 8 panel and backend, the run phase's
//! wall time over a few repetitions (the backend made outside the timed region; Brian2's
//! example's recorders), and the network build time. Plain timings as CSV on stdout, for the
//! results folder; criterion's statistics are in `benches/backends.rs`.
//!
//! `cargo bench --bench table > raw.csv` (`BRUNEL_BENCH_REPS`, default 3; `BRUNEL_BENCH_ONLY`
//! = a comma-separated list of backend names, e.g. `cpu-2t,cpu-1t`).
//!
//! CSV columns: kind, backend, panel, rep, seconds, spikes, synaptic_events.

mod common;

use std::time::Instant;

use brunel_core::{Model, Network, Par, RecordSpikes, SpikeRecorder};

use common::{contenders, panel_config, panel_work, PANELS};

fn main() {
    // `cargo bench` passes `--bench`; there are no options to parse.
    let reps: usize = std::env::var("BRUNEL_BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let only: Option<Vec<String>> = std::env::var("BRUNEL_BENCH_ONLY")
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().to_owned()).collect());
    println!("kind,backend,panel,rep,seconds,spikes,synaptic_events");

    let config = panel_config(0);
    for threads in [1, 2] {
        for rep in 0..reps {
            let start = Instant::now();
            let network = Network::build(&config, Par::threads(threads));
            let secs = start.elapsed().as_secs_f64();
            println!(
                "build,network-{threads}t,-,{rep},{secs:.4},-,{}",
                network.n_synapses()
            );
        }
    }
    let network = Network::build(&config, Par::threads(0));
    let model = Model::new(&panel_config(2));
    for threads in [1, 2] {
        for rep in 0..reps {
            let start = Instant::now();
            let backend = brunel_cpu::CpuBackend::new(&model, &network, Par::threads(threads));
            let secs = start.elapsed().as_secs_f64();
            drop(backend.expect("cpu backend"));
            println!("build,cpu-layout-{threads}t,-,{rep},{secs:.4},-,-");
        }
    }

    for panel in 0..PANELS.len() {
        let name = PANELS[panel];
        let model = Model::new(&panel_config(panel));
        let (spikes, events) = panel_work(&model, &network);
        for contender in contenders() {
            if only.as_ref().is_some_and(|o| !o.contains(&contender.name)) {
                continue;
            }
            for rep in 0..reps {
                let mut backend = match (contender.make)(&model, &network) {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("SKIPPED backend `{}`: {e}", contender.name);
                        break;
                    }
                };
                let mut recorder = SpikeRecorder::new(RecordSpikes::First(50), model.steps);
                let start = Instant::now();
                backend.run(model.steps, &mut recorder).expect("run");
                backend.sync().expect("sync");
                let secs = start.elapsed().as_secs_f64();
                let got: u64 = recorder.counts.iter().map(|&c| c as u64).sum();
                assert_eq!(
                    got, spikes,
                    "{} differs from cpu on panel {name}",
                    contender.name
                );
                println!(
                    "run,{},{name},{rep},{secs:.4},{spikes},{events}",
                    contender.name
                );
                eprintln!(
                    "panel {name} {:>10} rep {rep}: {secs:.3} s, {:.2e} events/s",
                    contender.name,
                    events as f64 / secs
                );
            }
        }
    }
}
