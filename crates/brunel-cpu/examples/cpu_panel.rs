//! Times one panel on the cpu backend (and optionally the reference) and checks they agree:
//! `cargo run --release -p brunel-cpu --example cpu_panel -- G RATIO MS THREADS [KERNEL] [check]`.
use brunel_core::*;
use brunel_cpu::{CpuBackend, Kernel};
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let mut c = Config::default();
    c.synapse.g = a[1].parse().unwrap();
    c.input.ratio = a[2].parse().unwrap();
    c.simulation.duration = a[3].parse().unwrap();
    let threads: usize = a[4].parse().unwrap();
    let kernel = match a.get(5).map(String::as_str) {
        Some("generic") => Kernel::Generic,
        Some("blocks") => Kernel::Blocks,
        Some("avx2") => Kernel::Avx2,
        Some("avx512") => Kernel::Avx512,
        _ => Kernel::Auto,
    };
    let check = a.iter().any(|s| s == "check");
    let t = Instant::now();
    let net = Network::build(&c, Par::threads(threads));
    let build = t.elapsed().as_secs_f64();
    eprintln!("peak resident memory after the build: {}", peak_rss());
    let m = Model::new(&c);
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let (mut run, mut cpu, mut setup) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let mut last = None;
    for _ in 0..reps {
        let t = Instant::now();
        let mut b = CpuBackend::with_kernel(&m, &net, Par::threads(threads), kernel).unwrap();
        setup = setup.min(t.elapsed().as_secs_f64());
        let mut rec = SpikeRecorder::new(RecordSpikes::All, m.steps);
        let t = Instant::now();
        let cpu0 = thread_cpu();
        // CHUNK=n: run in calls of n steps, as the CLI does (100).
        let chunk: u64 = std::env::var("CHUNK")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(m.steps);
        brunel_core::run_in_chunks(&mut b, &m, m.steps, chunk, &mut rec, |_| true).unwrap();
        run = run.min(t.elapsed().as_secs_f64());
        cpu = cpu.min(thread_cpu() - cpu0);
        last = Some((b, rec));
    }
    let (b, rec) = last.unwrap();
    // Without `check` the core network is not needed after the backend is made.
    let net = if check { Some(net) } else { None };
    let spikes: u64 = rec.counts.iter().map(|&c| c as u64).sum();
    println!(
        "{}: build {build:.3}s setup {setup:.3}s run {run:.3}s (calling thread on cpu {cpu:.3}s) spikes {spikes}",
        b.info().device
    );
    if check {
        let net = net.as_ref().unwrap();
        let mut r = ReferenceBackend::new(&m, net);
        let mut rr = SpikeRecorder::new(RecordSpikes::All, m.steps);
        let t = Instant::now();
        r.run(m.steps, &mut rr).unwrap();
        println!("reference run {:.3}s", t.elapsed().as_secs_f64());
        assert_eq!(rr, rec, "spikes differ");
        let (s1, s2) = (r.state().unwrap(), b.state().unwrap());
        assert_eq!(s1.first_difference(&s2), None, "state differs");
        assert_eq!(s1.step, s2.step);
        println!("identical");
    }
    println!("peak resident memory {}", peak_rss());
}

/// Seconds the calling thread has run on a CPU (Linux), to time single-threaded runs on a
/// machine shared with other work.
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns * 1e-9)
}

/// Peak resident set size (VmHWM) of this process.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l[6..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}
