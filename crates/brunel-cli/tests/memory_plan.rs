//! The memory plan against what a run really takes: `brunel run` prints the plan's peak in
//! `--summary` (`planned_peak_mb`) beside the measured peak resident memory (`peak_rss_mb`,
//! VmHWM); at two sizes, stored and procedural, recording nothing and everything, they agree
//! within 20 %. And a run that would not fit is refused at once, the plan printed, nothing
//! written.

mod common;

use std::time::Instant;

use common::{ok, stderr, Scratch};

/// A short run of panel C's parameters at `n_e` excitatory neurons (about 1 000 inputs a
/// neuron), on the cpu backend, 2 threads.
fn measure(s: &Scratch, n_e: u64, connectivity: &str, storage: &str, record: &str) -> (f64, f64) {
    let epsilon = 1000.0 / n_e as f64;
    let name = format!("{n_e}_{connectivity}_{storage}_{record}");
    let out = s.path(&format!("{name}.h5"));
    let summary = s.path(&format!("{name}.toml"));
    ok(
        &s.brunel(&[
            "run",
            "c.toml",
            "--backend",
            "cpu",
            "--threads",
            "2",
            "--set",
            &format!("network.n_e={n_e}"),
            "--set",
            &format!("network.epsilon={epsilon}"),
            "--set",
            &format!("network.storage=\"{storage}\""),
            "--set",
            &format!("network.connectivity=\"{connectivity}\""),
            "--record",
            record,
            "--duration",
            "20",
            "--quiet",
            "-o",
            out.to_str().expect("utf-8"),
            "--summary",
            summary.to_str().expect("utf-8"),
        ]),
        &name,
    );
    let table: toml::Table = std::fs::read_to_string(&summary)
        .expect("the summary")
        .parse()
        .expect("TOML");
    let get = |k: &str| {
        table
            .get(k)
            .and_then(|v| v.as_float())
            .unwrap_or_else(|| panic!("{name}: no {k} in {table:?}"))
    };
    (get("planned_peak_mb"), get("peak_rss_mb"))
}

#[test]
fn the_plan_is_within_20_percent_of_the_peak_resident_memory() {
    let s = Scratch::new();
    s.write("c.toml", "[synapse]\ng = 5.0\n[input]\nratio = 2.0\n");
    let mut report = Vec::new();
    for (n_e, connectivity, storage, records) in [
        (100_000u64, "bernoulli", "stored", &["none", "all"][..]),
        (100_000, "fixed_indegree", "stored", &["none"][..]),
        (400_000, "bernoulli", "stored", &["none", "all"][..]),
        (400_000, "bernoulli", "procedural", &["none", "all"][..]),
    ] {
        for &record in records {
            let (planned, measured) = measure(&s, n_e, connectivity, storage, record);
            let off = (planned - measured) / measured;
            report.push(format!(
                "{n_e} E, {connectivity}, {storage}, --record {record}: planned {planned:.0} MB, measured {measured:.0} MB ({:+.1} %)",
                off * 100.0
            ));
            assert!(
                off.abs() <= 0.2,
                "the plan is off by more than 20 %:\n{}",
                report.join("\n")
            );
        }
    }
    println!("{}", report.join("\n"));
}

#[test]
fn a_run_that_does_not_fit_is_refused_at_once_with_the_plan() {
    let s = Scratch::new();
    s.write("c.toml", "[synapse]\ng = 5.0\n");
    let t = Instant::now();
    let o = s.brunel(&[
        "run",
        "c.toml",
        "--backend",
        "cpu",
        "--set",
        "network.n_e=100000000",
        "--set",
        "network.epsilon=0.01",
        "-o",
        "big.h5",
    ]);
    let took = t.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("not enough memory"), "{err}");
    assert!(err.contains("memory plan:"), "{err}");
    assert!(err.contains("synapses"), "{err}");
    assert!(took.as_secs_f64() < 1.0, "refused after {took:?}");
    let left: Vec<_> = std::fs::read_dir(s.path("."))
        .expect("the folder")
        .map(|e| e.expect("an entry").file_name())
        .filter(|n| n != "c.toml")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
