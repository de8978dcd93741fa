//! Damaged checkpoints are refused with a message, never resumed into other spikes or a crash:
//! one bit flipped in any dataset is caught by the checksum, and values that make no sense for
//! the network (written with a valid checksum, as a faulty program would) by the semantic check.

mod common;

use std::path::Path;

use brunel_cli::checkpoint::{self, Checkpoint};
use common::{ok, stderr, Scratch, ACTIVE};

/// Runs `ACTIVE` to 20 ms with a checkpoint `good.ck` and returns the scratch folder.
fn checkpointed() -> Scratch {
    let s = Scratch::new();
    s.write("a.toml", ACTIVE);
    ok(
        &s.brunel(&[
            "run",
            "a.toml",
            "--backend",
            "cpu",
            "--threads",
            "2",
            "--duration",
            "20",
            "--out",
            "part.h5",
            "--checkpoint",
            "good.ck",
            "--quiet",
        ]),
        "the checkpointed run",
    );
    s
}

/// Flips the lowest bit of element `at` of the dataset `name` (an integer or f64 dataset) in
/// place, through HDF5, leaving every other byte as it was.
fn flip(path: &Path, name: &str, at: usize) {
    let file = hdf5::File::open_rw(path).expect("open the checkpoint");
    let ds = file.dataset(name).expect("the dataset");
    let t = ds.dtype().expect("its type");
    if t.is::<f64>() {
        let mut v: Vec<f64> = ds.read_raw().expect("read");
        v[at] = f64::from_bits(v[at].to_bits() ^ 1);
        ds.write_raw(&v).expect("write");
    } else if t.is::<u32>() {
        let mut v: Vec<u32> = ds.read_raw().expect("read");
        v[at] ^= 1;
        ds.write_raw(&v).expect("write");
    } else {
        let mut v: Vec<u64> = ds.read_raw().expect("read");
        v[at] ^= 1 << 40;
        ds.write_raw(&v).expect("write");
    }
}

/// Resumes `ck` and asserts a refusal that says the file is damaged and `why`, with exit code 1
/// (not a panic's 101) and no result file.
fn refused(s: &Scratch, ck: &str, why: &str) {
    let out = s.brunel(&[
        "resume",
        ck,
        "--backend",
        "reference",
        "--out",
        "resumed.h5",
        "--quiet",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{ck}: {err}");
    assert!(
        err.contains("is damaged") && err.contains(why),
        "{ck}: {err}"
    );
    assert!(!s.path("resumed.h5").exists(), "{ck}: a result was written");
}

#[test]
fn a_flipped_bit_in_any_dataset_is_refused() {
    let s = checkpointed();
    let good = s.path("good.ck");
    // The good checkpoint resumes (the damaged ones below differ from it in one bit).
    let c = checkpoint::read(&good).expect("the good checkpoint reads");
    assert!(
        !c.state.in_flight.is_empty() && !c.spikes.ids.is_empty(),
        "the test needs spikes in flight and recorded spikes"
    );
    for (i, dataset) in [
        "spikes/ids",
        "spikes/steps",
        "spikes/counts",
        "state/v",
        "state/in_flight_ids",
        "state/in_flight_steps",
        "stats/total",
        "stats/isi_sum",
    ]
    .into_iter()
    .enumerate()
    {
        let ck = format!("flip{i}.ck");
        std::fs::copy(&good, s.path(&ck)).expect("copy the checkpoint");
        flip(&s.path(&ck), dataset, 0);
        refused(&s, &ck, "do not match its checksum");
    }
}

/// Writes `c`, changed by `damage`, with a valid checksum, and asserts the resume refuses it.
fn rewritten(s: &Scratch, c: &Checkpoint, name: &str, damage: impl Fn(&mut Checkpoint), why: &str) {
    let mut bad = c.clone();
    damage(&mut bad);
    checkpoint::write(&s.path(name), &bad).expect("write the damaged checkpoint");
    refused(s, name, why);
}

#[test]
fn values_that_do_not_fit_the_network_are_refused_even_with_a_valid_checksum() {
    let s = checkpointed();
    let c = checkpoint::read(&s.path("good.ck")).expect("the good checkpoint reads");
    let n = c.stats.total.len() as u32;
    let done = c.state.step;
    rewritten(&s, &c, "id.ck", |c| c.spikes.ids[0] = n + 5, "neuron");
    rewritten(
        &s,
        &c,
        "step.ck",
        |c| c.spikes.steps[0] = 1_000_000_000_000,
        "step",
    );
    rewritten(
        &s,
        &c,
        "order.ck",
        |c| {
            let last = c.spikes.ids.len() - 1;
            c.spikes.steps.swap(0, last);
            c.spikes.ids.swap(0, last);
        },
        "order",
    );
    rewritten(&s, &c, "v.ck", |c| c.state.v[0] = f64::NAN, "not finite");
    rewritten(
        &s,
        &c,
        "flight.ck",
        |c| c.state.in_flight[0].1 = n,
        "spike in flight",
    );
    rewritten(
        &s,
        &c,
        "old.ck",
        |c| c.state.in_flight[0].0 = 0,
        "spike in flight",
    );
    rewritten(
        &s,
        &c,
        "counts.ck",
        |c| c.spikes.counts.pop().map(drop).unwrap_or(()),
        "steps",
    );
    rewritten(&s, &c, "stats.ck", |c| c.stats.total[0] += 1, "statistics");
    rewritten(
        &s,
        &c,
        "last.ck",
        |c| c.stats.last[0] = done + 3,
        "statistics of neuron 0",
    );
}

#[test]
fn the_checksum_covers_every_value_and_the_good_file_resumes() {
    let s = checkpointed();
    let c = checkpoint::read(&s.path("good.ck")).expect("the good checkpoint reads");
    let sum = checkpoint::checksum(&c);
    let mut other = c.clone();
    other.run_seconds += 1.0;
    assert_ne!(checkpoint::checksum(&other), sum, "run_seconds is summed");
    let mut other = c.clone();
    other.config.push(' ');
    assert_ne!(checkpoint::checksum(&other), sum, "the config is summed");
    let mut other = c.clone();
    other.stats.isi_sum_sq[0] ^= 1;
    assert_ne!(checkpoint::checksum(&other), sum, "isi_sum_sq is summed");
    ok(
        &s.brunel(&[
            "resume",
            "good.ck",
            "--backend",
            "reference",
            "--out",
            "resumed.h5",
            "--quiet",
        ]),
        "the good checkpoint",
    );
}
