//! The regime classifier (`brunel_core::regime`) on the four Fig. 8 panels, seeds 1-3 at a
//! reduced duration: A, B, C, D must come out SR, SI-fast, AI, SI-slow for every seed. And on
//! hand-made population rates: quiescent and saturated.
//!
//! `REGIME_DURATION_MS` (default 400) and `REGIME_SEEDS` (default 1,2,3) change what is run,
//! for measuring the statistics the thresholds are chosen from (`--nocapture` prints them).

use brunel_core::regime::{self, Regime};
use brunel_core::{Backend, Config, Model, Network, NeuronStats, Par, SpikeRecorder, Tee};
use brunel_cpu::CpuBackend;

const PANELS: [(&str, f64, f64, Regime); 4] = [
    ("A", 3.0, 2.0, Regime::Sr),
    ("B", 6.0, 4.0, Regime::SiFast),
    ("C", 5.0, 2.0, Regime::Ai),
    ("D", 4.5, 0.9, Regime::SiSlow),
];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn the_four_panels_are_labelled_as_in_the_paper() {
    let duration: f64 = env_or("REGIME_DURATION_MS", 400.0);
    let seeds: Vec<u64> = std::env::var("REGIME_SEEDS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 3]);
    let mut wrong = Vec::new();
    for &seed in &seeds {
        let mut base = Config::default();
        base.simulation.seed = seed;
        base.simulation.duration = duration;
        base.record.spikes = brunel_core::RecordSpikes::None;
        // The network depends only on N, epsilon, connectivity and seed: one for all panels.
        let network = Network::build(&base, Par::threads(2));
        for (name, g, ratio, expected) in PANELS {
            let mut c = base.clone();
            c.synapse.g = g;
            c.input.ratio = ratio;
            let model = Model::new(&c);
            let mut backend = CpuBackend::new(&model, &network, Par::threads(2)).unwrap();
            let mut spikes = SpikeRecorder::new(c.record.spikes, model.steps);
            let mut stats = NeuronStats::last_80_percent(model.n, model.steps);
            backend
                .run(model.steps, &mut Tee(&mut spikes, &mut stats))
                .unwrap();
            let s = regime::statistics(&spikes.rate_hz(model.n, model.dt), model.dt, &stats);
            let label = regime::classify(&s, c.neuron.tau_rp);
            eprintln!(
                "panel {name} seed {seed} {duration} ms: rate {:.2} Hz, CV {:.3}, pop CV {:.3}, synchrony {:.2}, sync CV {:.3}, peak {:.1} Hz (prominence {:.1}) -> {label}",
                s.rate_hz, s.cv_isi, s.pop_cv, s.synchrony, s.sync_cv, s.peak_hz, s.peak_prominence
            );
            if label != expected {
                wrong.push(format!(
                    "panel {name} seed {seed}: {label}, expected {expected}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
}

/// Feeds hand-made spikes to the statistics: neuron `i` fires at the steps `spikes(i)`.
fn hand_made(
    n: u32,
    steps: u64,
    dt: f64,
    spikes: impl Fn(u32) -> Vec<u64>,
) -> (Vec<f64>, NeuronStats) {
    let mut by_step: Vec<Vec<u32>> = vec![Vec::new(); steps as usize];
    for i in 0..n {
        for k in spikes(i) {
            if k < steps {
                by_step[k as usize].push(i);
            }
        }
    }
    let mut rec = SpikeRecorder::new(brunel_core::RecordSpikes::None, steps);
    let mut stats = NeuronStats::last_80_percent(n, steps);
    for (k, ids) in by_step.iter().enumerate() {
        let mut tee = Tee(&mut rec, &mut stats);
        brunel_core::Recorder::record(&mut tee, k as u64, ids);
    }
    (rec.rate_hz(n, dt), stats)
}

/// A deterministic pseudo-random step in 0..m (the trace must not depend on an unseeded RNG).
fn hash(i: u64, j: u64, m: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ j.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    x % m
}

#[test]
fn hand_made_traces_quiescent_saturated_and_asynchronous() {
    let (n, steps, dt, tau_rp) = (2000u32, 10_000u64, 0.1, 2.0);
    // Quiescent: one spike per neuron in 1 s at most (0.05 Hz on average).
    let (rate, stats) = hand_made(n, steps, dt, |i| {
        if i % 20 == 0 {
            vec![hash(i as u64, 0, steps)]
        } else {
            vec![]
        }
    });
    let s = regime::statistics(&rate, dt, &stats);
    assert!(s.rate_hz < 0.1, "{s:?}");
    assert_eq!(regime::classify(&s, tau_rp), Regime::Quiescent);
    // Saturated: every neuron fires every 21 steps (476 Hz, 0.95 / tau_rp), phases spread.
    let (rate, stats) = hand_made(n, steps, dt, |i| {
        let phase = hash(i as u64, 1, 21);
        (0..)
            .map(|k| phase + 21 * k)
            .take_while(|&k| k < steps)
            .collect()
    });
    let s = regime::statistics(&rate, dt, &stats);
    assert!((s.rate_hz - 476.2).abs() < 1.0, "{s:?}");
    assert_eq!(regime::classify(&s, tau_rp), Regime::Saturated);
    // Asynchronous irregular: independent irregular neurons at 20 Hz (one spike in each 50 ms
    // slot, anywhere in it): synchrony about 1, no correlated population fluctuations.
    let (rate, stats) = hand_made(n, steps, dt, |i| {
        (0..steps / 500)
            .map(|slot| slot * 500 + hash(i as u64, slot, 500))
            .collect()
    });
    let s = regime::statistics(&rate, dt, &stats);
    assert!((s.synchrony - 1.0).abs() < 0.2, "{s:?}");
    assert!(s.sync_cv < 0.2, "{s:?}");
    assert_eq!(regime::classify(&s, tau_rp), Regime::Ai);
    // Synchronous irregular: a 20 Hz cycle (500 steps); each neuron fires in a random third of
    // the cycles, near the cycle's peak: irregular, about 7 Hz, synchronous and slow. The same
    // at 200 Hz (50 steps) in a random tenth of the cycles: fast.
    let (rate, stats) = hand_made(n, steps, dt, |i| {
        (0..steps / 500)
            .filter(|&c| hash(i as u64, c, 3) == 0)
            .map(|c| c * 500 + hash(i as u64, c + 1_000_000, 30))
            .collect()
    });
    let s = regime::statistics(&rate, dt, &stats);
    assert!(s.sync_cv > 1.0 && (s.peak_hz - 20.0).abs() < 5.0, "{s:?}");
    assert!(s.cv_isi > 0.5, "{s:?}");
    assert_eq!(regime::classify(&s, tau_rp), Regime::SiSlow);
    let (rate, stats) = hand_made(n, steps, dt, |i| {
        (0..steps / 50)
            .filter(|&c| hash(i as u64, c, 10) == 0)
            .map(|c| c * 50 + hash(i as u64, c + 1_000_000, 8))
            .collect()
    });
    let s = regime::statistics(&rate, dt, &stats);
    assert!(s.sync_cv > 1.0 && (s.peak_hz - 200.0).abs() < 10.0, "{s:?}");
    assert!(s.cv_isi > 0.5, "{s:?}");
    assert_eq!(regime::classify(&s, tau_rp), Regime::SiFast);
}
