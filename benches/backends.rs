//! Criterion benchmarks: per backend and Fig. 8 panel, the wall time of the run phase (the
//! backend is made outside the timed region; the recorders are Brian2's example's: the spike
//! count of every step and the spikes of neurons 0..49) with synaptic events per second as
//! throughput; and the build time of the Fig. 8 network (15.6 M synapses) on 1 and 2 threads.
//!
//! `cargo bench --bench backends`; `cargo bench --bench backends -- 'run/C'` for one panel.
//! Runs take seconds, so the sample counts are criterion's minimum.

mod common;

use std::time::{Duration, Instant};

use brunel_core::{Model, Network, Par, RecordSpikes, SpikeRecorder};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use common::{contenders, panel_config, panel_work, PANELS};

fn run_phase(c: &mut Criterion) {
    let network = Network::build(&panel_config(0), Par::threads(0));
    for panel in 0..PANELS.len() {
        let model = Model::new(&panel_config(panel));
        let (_, events) = panel_work(&model, &network);
        let mut group = c.benchmark_group(format!("run/{}", PANELS[panel]));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(100));
        group.measurement_time(Duration::from_secs(5));
        group.throughput(Throughput::Elements(events));
        for contender in contenders() {
            match (contender.make)(&model, &network) {
                Ok(_) => {}
                Err(e) => {
                    eprintln!("SKIPPED backend `{}`: {e}", contender.name);
                    continue;
                }
            }
            group.bench_function(BenchmarkId::from_parameter(&contender.name), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut backend = (contender.make)(&model, &network).expect("backend");
                        let mut recorder = SpikeRecorder::new(RecordSpikes::First(50), model.steps);
                        let start = Instant::now();
                        backend.run(model.steps, &mut recorder).expect("run");
                        backend.sync().expect("sync");
                        total += start.elapsed();
                        std::hint::black_box(&recorder);
                    }
                    total
                });
            });
        }
        group.finish();
    }
}

fn build(c: &mut Criterion) {
    let config = panel_config(2);
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(100));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(config.expected_synapses() as u64));
    for threads in [1, 2] {
        group.bench_function(BenchmarkId::new("network", format!("{threads}t")), |b| {
            b.iter(|| Network::build(&config, Par::threads(threads)))
        });
    }
    let network = Network::build(&config, Par::threads(0));
    let model = Model::new(&config);
    for threads in [1, 2] {
        group.bench_function(BenchmarkId::new("cpu-layout", format!("{threads}t")), |b| {
            b.iter(|| brunel_cpu::CpuBackend::new(&model, &network, Par::threads(threads)))
        });
    }
    group.finish();
}

criterion_group!(benches, run_phase, build);
criterion_main!(benches);
