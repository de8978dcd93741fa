//! Fuzz-style test of the result-file reader behind `brunel info` and `brunel plot`, in
//! process: files written with the `hdf5` crate that lack datasets or attributes, hold the
//! wrong types, or NaN and infinite values, or a stored config with a hostile [plot] section.
//! Asserted: never a panic, an error names the file, what is read has finite values, and the
//! panel is made and drawn. Byte-level damage (flipped bits, cut files) is fuzzed through the
//! binary in tests/fuzz_read.rs: the HDF5 C library can crash on such files, which only a
//! separate process survives (see `output::read_guarded`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use hdf5::types::VarLenUnicode;

use crate::output::{self, Provenance, Results, Summary};
use crate::plot::{self, Panel};

fn sample() -> Results {
    let config = brunel_core::Config::default();
    let steps = 40;
    Results {
        provenance: Provenance {
            brunel_version: "0.1.0".into(),
            backend: "reference".into(),
            device: "host".into(),
            threads: 1,
            work_items: None,
            ranks: None,
            device_kind: "host".into(),
            seed: 7,
            config: config.to_toml(),
            n_synapses: 42,
            build_seconds: 0.5,
            run_seconds: 1.5,
            created: "2026-01-01T00:00:00Z".into(),
        },
        summary: Summary {
            n_neurons: 60,
            n_excitatory: 50,
            steps,
            dt: 0.1,
            duration: 4.0,
            spikes: 5,
            synaptic_events: 9,
            mean_rate_exc: 1.0,
            mean_rate_inh: 2.0,
            mean_cv: f64::NAN,
            theory: None,
        },
        timestamps: vec![0.1, 0.1, 0.3, 1.2, 3.9],
        node_ids: vec![0, 2, 1, 49, 7],
        rate: (0..steps).map(|k| (k % 7) as f64 * 100.0).collect(),
        dt: 0.1,
        start: 0.0,
    }
}

/// What is wrong with reading (and drawing) `path`, if anything.
fn judge(path: &Path, draw: bool) -> Option<String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<bool, String> {
        let r = match output::read(path) {
            Ok(r) => r,
            Err(e) => {
                let m = format!("{e:#}");
                return if m.contains(&path.display().to_string()) {
                    Ok(false)
                } else {
                    Err(format!("an error that does not name the file: {m}"))
                };
            }
        };
        let finite = r.rate.iter().chain(&r.timestamps).all(|x| x.is_finite())
            && r.dt.is_finite()
            && r.dt > 0.0
            && r.start.is_finite();
        if !finite {
            return Err("read values that are not finite".into());
        }
        if let Ok(panel) = Panel::from_file(path) {
            if draw {
                let png = path.with_extension("png");
                let _ = plot::draw(std::slice::from_ref(&panel), &png);
                let _ = std::fs::remove_file(png);
            }
        }
        Ok(true)
    }));
    match outcome {
        Err(_) => Some("panicked".into()),
        Ok(Err(e)) => Some(e),
        Ok(Ok(_)) => None,
    }
}

/// A structural change made with the hdf5 crate to a valid file.
fn restructure(path: &Path, how: usize) -> String {
    let f = hdf5::File::open_rw(path).expect("open the sample");
    let rate = || f.dataset("population_rate/rate").expect("the rate");
    let set_f64 = |loc: &hdf5::Location, name: &str, v: f64| {
        let _ = loc.delete_attr(name);
        loc.new_attr::<f64>()
            .create(name)
            .and_then(|a| a.write_scalar(&v))
            .expect("an f64 attribute");
    };
    let set_str = |loc: &hdf5::Location, name: &str, v: &str| {
        let _ = loc.delete_attr(name);
        loc.new_attr::<VarLenUnicode>()
            .create(name)
            .and_then(|a| a.write_scalar(&v.parse::<VarLenUnicode>().expect("a string")))
            .expect("a string attribute");
    };
    let config_with = |extra: &str| {
        let mut c = brunel_core::Config::default().to_toml();
        c = c.replace("[plot]\n", &format!("[plot]\n{extra}\n"));
        if !c.contains(extra) {
            c.push_str(&format!("\n[plot]\n{extra}\n"));
        }
        c
    };
    let what = match how {
        0 => {
            f.unlink("population_rate/rate").expect("unlink");
            "no rate"
        }
        1 => {
            f.unlink("spikes/brunel/timestamps").expect("unlink");
            "no timestamps"
        }
        2 => {
            f.unlink("spikes/brunel/node_ids").expect("unlink");
            "no node_ids"
        }
        3 => {
            f.unlink("spikes").expect("unlink");
            "no spikes group"
        }
        4 => {
            set_f64(&rate(), "dt", f64::NAN);
            "NaN dt"
        }
        5 => {
            set_f64(&rate(), "start", f64::NAN);
            "NaN start"
        }
        6 => {
            set_f64(&rate(), "dt", -0.1);
            "negative dt"
        }
        7 => {
            set_f64(&rate(), "start", f64::INFINITY);
            "inf start"
        }
        8 => {
            set_f64(&rate(), "dt", 1e-320);
            "subnormal dt"
        }
        9 => {
            set_f64(&rate(), "start", 1e308);
            "huge start"
        }
        10 => {
            let r = rate();
            let n = r.size();
            let mut v = vec![1.0; n];
            v[n / 2] = f64::NAN;
            r.write_raw(&v).expect("write");
            "NaN in the rate"
        }
        11 => {
            let r = rate();
            r.write_raw(&vec![1e308; r.size()]).expect("write");
            "huge rates"
        }
        12 => {
            f.unlink("population_rate/rate").expect("unlink");
            f.group("population_rate")
                .and_then(|g| {
                    g.new_dataset_builder()
                        .with_data(&[1i32, 2, 3])
                        .create("rate")
                })
                .expect("an i32 rate");
            "rate of integers"
        }
        13 => {
            f.unlink("population_rate/rate").expect("unlink");
            let s: Vec<VarLenUnicode> = vec!["a".parse().unwrap(); 3];
            f.group("population_rate")
                .and_then(|g| g.new_dataset_builder().with_data(&s).create("rate"))
                .expect("a string rate");
            "rate of strings"
        }
        14 => {
            f.unlink("population_rate/rate").expect("unlink");
            let a = ndarray_2d();
            f.group("population_rate")
                .and_then(|g| g.new_dataset_builder().with_data(&a).create("rate"))
                .expect("a 2-D rate");
            "rate of pairs"
        }
        15 => {
            f.unlink("spikes/brunel/node_ids").expect("unlink");
            f.group("spikes/brunel")
                .and_then(|g| {
                    g.new_dataset_builder()
                        .with_data(&[1u64])
                        .create("node_ids")
                })
                .expect("short node_ids");
            "fewer ids than times"
        }
        16 => {
            f.unlink("spikes/brunel/timestamps").expect("unlink");
            f.group("spikes/brunel")
                .and_then(|g| {
                    g.new_dataset_builder()
                        .with_data(&[f64::NAN, 1.0, 2.0, 3.0, f64::INFINITY])
                        .create("timestamps")
                })
                .expect("NaN times");
            "NaN spike times"
        }
        17 => {
            f.delete_attr("seed").expect("delete");
            set_str(&f, "seed", "seven");
            "seed as a string"
        }
        18 => {
            f.delete_attr("threads").expect("delete");
            "no threads attribute"
        }
        19 => {
            set_str(&f, "config", "[plot\nwindow = ");
            "config not TOML"
        }
        20 => {
            set_str(&f, "config", &config_with("window = [0.0, inf]"));
            "window to inf"
        }
        21 => {
            set_str(&f, "config", &config_with("window = [nan, 3.0]"));
            "NaN window"
        }
        22 => {
            set_str(&f, "config", &config_with("rate_max = nan"));
            "NaN rate_max"
        }
        23 => {
            set_str(&f, "config", &config_with("rate_max = -1.0"));
            "negative rate_max"
        }
        24 => {
            set_str(&f, "config", &config_with("window = [1e300, 1e301]"));
            "window far outside"
        }
        25 => {
            f.delete_attr("n_neurons").expect("delete");
            f.new_attr::<u64>()
                .create("n_neurons")
                .and_then(|a| a.write_scalar(&1))
                .expect("n_neurons");
            "fewer neurons than excitatory ones"
        }
        26 => {
            set_str(&f, "config", &config_with("title = \"\\u001b[2J\\u0007\""));
            "control characters in the title"
        }
        27 => {
            set_f64(&f, "duration", f64::NAN);
            set_f64(&f, "mean_rate_exc", f64::INFINITY);
            "NaN summary"
        }
        _ => {
            f.delete_attr("brunel_version").expect("delete");
            "not ours"
        }
    };
    what.to_owned()
}

fn ndarray_2d() -> Vec<[f64; 2]> {
    vec![[1.0, 2.0], [3.0, 4.0]]
}

/// Number of structural mutations in [`restructure`].
const STRUCTURAL: usize = 29;

#[test]
fn damaged_result_files_never_panic() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let good = dir.path().join("good.h5");
    output::write_atomically(&good, &sample(), false).expect("write the sample");
    assert_eq!(judge(&good, true), None, "the sample itself");
    let mut failures = Vec::new();

    for how in 0..STRUCTURAL {
        let path = dir.path().join(format!("s{how}.h5"));
        std::fs::copy(&good, &path).expect("copy");
        let what = restructure(&path, how);
        if let Some(problem) = judge(&path, true) {
            failures.push(format!("{what}: {problem}"));
        }
    }

    let total = STRUCTURAL;
    eprintln!("fuzz result-file: {total} structural cases in process");
    brunel_testkit::log(
        if failures.is_empty() {
            "passed"
        } else {
            "failed"
        },
        "fuzz",
        "result-structure",
        &format!("{total} cases"),
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
