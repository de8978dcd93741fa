//! Run time of the four panels of Fig. 8 on the OpenCL backend and on the reference backend.
//!
//! ```text
//! cargo run --release -p brunel-opencl --example panels -- [--panels ABCD] [--ms T] [--device N]
//!     [--no-reference] [--repeat R] [--tuning ITEMS,LOCAL,atomic:LxG|owned:P]
//! ```
//!
//! With `--repeat R` every backend runs each panel R times and the best run time is printed
//! (for shared machines); every run is checked bit for bit.
//!
//! `--tuning` overrides the device's default work split (see `brunel_opencl::Tuning`), e.g.
//! `--tuning 4,64,owned:4` or `--tuning 1,128,atomic:128x64` (work-group size x groups).
//!
//! Each panel is built from `Config::default()` with g and nu_ext/nu_thr of docs/model.md's table
//! and its full length (600 ms for A, 1200 ms for the others) unless `--ms` shortens it. The
//! run phase is timed (network drawing, upload and kernel build excluded), with the wait for
//! the device included; both backends' spike counts are compared step by step. Prints a
//! Markdown table.

use std::time::Instant;

use brunel_core::{
    Backend, Config, Model, Network, Par, RecordSpikes, ReferenceBackend, SpikeRecorder,
};
use brunel_opencl::{Delivery, OpenClBackend, ProgramCache, Tuning};

fn bad(s: &str) -> ! {
    panic!("--tuning {s}: expected ITEMS,LOCAL,atomic:LxG or ITEMS,LOCAL,owned:P")
}

fn parse_tuning(s: &str) -> Tuning {
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() != 3 {
        bad(s);
    }
    let delivery = match parts[2].split_once(':') {
        Some(("atomic", lg)) => {
            let (l, g) = lg.split_once('x').unwrap_or_else(|| bad(s));
            Delivery::Atomic {
                local: l.parse().unwrap_or_else(|_| bad(s)),
                groups: g.parse().unwrap_or_else(|_| bad(s)),
            }
        }
        Some(("owned", p)) => Delivery::Owned {
            parts: p.parse().unwrap_or_else(|_| bad(s)),
        },
        _ => bad(s),
    };
    Tuning {
        neurons_per_item: parts[0].parse().unwrap_or_else(|_| bad(s)),
        advance_local: parts[1].parse().unwrap_or_else(|_| bad(s)),
        delivery,
    }
}

fn main() {
    let mut panels = "ABCD".to_owned();
    let mut ms: Option<f64> = None;
    let mut device: Option<usize> = None;
    let mut reference = true;
    let mut tuning: Option<Tuning> = None;
    let mut repeat = 1;
    let mut device_name = String::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--panels" => panels = args.next().expect("--panels ABCD"),
            "--ms" => ms = Some(args.next().and_then(|s| s.parse().ok()).expect("--ms T")),
            "--device" => {
                device = Some(
                    args.next()
                        .and_then(|s| s.parse().ok())
                        .expect("--device N"),
                )
            }
            "--no-reference" => reference = false,
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&r: &u32| r > 0)
                    .expect("--repeat R (>= 1)")
            }
            "--tuning" => tuning = Some(parse_tuning(&args.next().expect("--tuning SPLIT"))),
            _ => panic!("unknown argument {a}; see the example's documentation"),
        }
    }
    println!("| panel | g | ratio | simulated (ms) | spikes | opencl build+upload (s) | opencl run (s) | reference run (s) | speed-up | identical |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for p in panels.chars() {
        assert!("ABCD".contains(p), "panel {p} is not one of A B C D");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
            "../../configs/fig8_{}.toml",
            p.to_ascii_lowercase()
        ));
        let mut c = Config::from_file(&path).expect("the panel's config file");
        let (g, ratio) = (c.synapse.g, c.input.ratio);
        if let Some(ms) = ms {
            c.simulation.duration = ms;
        }
        c.validate().expect("valid panel");
        let steps = c.steps();
        let model = Model::new(&c);
        let network = Network::build(&c, Par::threads(0));

        // Best of `repeat` runs of each backend (the machine may be shared); every run is
        // checked against the first reference run.
        let mut setup = f64::INFINITY;
        let mut run = f64::INFINITY;
        let mut got = SpikeRecorder::new(RecordSpikes::None, steps);
        let mut got_state = None;
        for _ in 0..repeat {
            let t = Instant::now();
            let mut gpu =
                OpenClBackend::with_cache(&model, &network, device, tuning, ProgramCache::global())
                    .expect("OpenCL backend");
            gpu.sync().unwrap();
            setup = setup.min(t.elapsed().as_secs_f64());
            got = SpikeRecorder::new(RecordSpikes::None, steps);
            let t = Instant::now();
            gpu.run(steps, &mut got).unwrap();
            gpu.sync().unwrap();
            run = run.min(t.elapsed().as_secs_f64());
            let state = gpu.state().unwrap();
            if let Some(first) = &got_state {
                assert_eq!(&state, first, "OpenCL runs differ");
            }
            got_state = Some(state);
            device_name = format!("{}, {:?}", gpu.info().device, gpu.tuning());
        }
        let spikes: u64 = got.counts.iter().map(|&c| c as u64).sum();

        let (ref_run, speed_up, same) = if reference {
            let mut best = f64::INFINITY;
            let mut same = true;
            for _ in 0..repeat {
                let mut cpu = ReferenceBackend::new(&model, &network);
                let mut want = SpikeRecorder::new(RecordSpikes::None, steps);
                let t = Instant::now();
                cpu.run(steps, &mut want).unwrap();
                best = best.min(t.elapsed().as_secs_f64());
                same &= want.counts == got.counts && Some(cpu.state().unwrap()) == got_state;
            }
            (
                format!("{best:.2}"),
                format!("{:.1}x", best / run),
                if same { "yes" } else { "NO" },
            )
        } else {
            ("-".into(), "-".into(), "-")
        };
        println!(
            "| {p} | {g} | {ratio} | {} | {spikes} | {setup:.2} | {run:.2} | {ref_run} | {speed_up} | {same} |",
            c.simulation.duration
        );
    }
    eprintln!("device: {device_name}");
}
