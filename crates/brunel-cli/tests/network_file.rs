//! `brunel network CONFIG --out NETDIR` writes the network in SONATA's circuit format, and
//! libsonata (the SONATA reference reader) reads it back: the edge count, a sample of edges
//! (source, target) and whole rows (the source-to-target index) match the network drawn in
//! memory from the same config. Needs python3 with libsonata, h5py and numpy (`cargo xtask
//! test` installs them into target/python); skipped visibly without them unless
//! `BRUNEL_REQUIRE` names `sonata`.

mod common;

use std::fmt::Write as _;
use std::process::Command;

use brunel_core::{Config, Network, Par};
use common::{ok, python, stderr, Scratch};

const NET: &str =
    "[network]\nn_e = 800\nepsilon = 0.05\n[synapse]\ng = 4.0\n[simulation]\nseed = 11\n";

#[test]
fn libsonata_reads_the_network_that_brunel_draws() {
    for connectivity in ["bernoulli", "fixed_indegree"] {
        let s = Scratch::new();
        let cfg = s.write("net.toml", NET);
        let set = format!("network.connectivity=\"{connectivity}\"");
        ok(
            &s.brunel(&["network", "net.toml", "--set", &set, "--out", "net"]),
            "brunel network",
        );
        let config = Config::from_file_with(&cfg, &[set]).unwrap();
        let network = Network::build(&config, Par::threads(2));
        let m = network.n_synapses() as usize;
        assert!(m > 10_000, "a network worth checking");
        let mut expected = format!("{} {} {m}\n", network.n, network.n_e);
        // Edges are stored by source, then target, as the network's rows are.
        let mut sources = Vec::with_capacity(m);
        for src in 0..network.n {
            sources.extend(std::iter::repeat_n(src, network.row(src).len()));
        }
        for e in [0, 1, 2, m / 3, m / 2, m - 2, m - 1]
            .into_iter()
            .chain((0..40).map(|i| (i * 7919 + 13) % m))
        {
            let _ = writeln!(expected, "{e} {} {}", sources[e], network.targets[e]);
        }
        for src in [0, 1, network.n_e - 1, network.n_e, network.n - 1] {
            let (a, b) = (
                network.offsets[src as usize],
                network.offsets[src as usize + 1],
            );
            let _ = writeln!(expected, "row {src} {a} {b}");
        }
        s.write("expected.txt", &expected);
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/check_network.py");
        let probe = Command::new(python())
            .args(["-c", "import libsonata, h5py, numpy"])
            .output();
        if !probe.is_ok_and(|p| p.status.success()) {
            brunel_testkit::skip(
                "sonata",
                "network file read by libsonata",
                "python3 lacks libsonata, h5py or numpy (`cargo xtask setup --test-tools` installs them into target/python)",
            );
            return;
        }
        let out = Command::new(python())
            .arg(script)
            .arg(s.path("net"))
            .arg(s.path("expected.txt"))
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "{connectivity}: libsonata check failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        brunel_testkit::passed("sonata", "network file read by libsonata", connectivity);
    }
}

#[test]
fn an_existing_folder_is_kept_without_force_and_a_file_is_never_replaced() {
    let s = Scratch::new();
    s.write("net.toml", NET);
    s.write("afile", "x");
    let out = s.brunel(&["network", "net.toml", "--out", "afile", "--force"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not a folder"), "{}", stderr(&out));
    std::fs::create_dir(s.path("other")).unwrap();
    s.write("other/keep.txt", "mine");
    let out = s.brunel(&["network", "net.toml", "--out", "other", "--force"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a network folder"),
        "{}",
        stderr(&out)
    );
    assert!(s.path("other/keep.txt").exists());
    ok(&s.brunel(&["network", "net.toml", "--out", "net"]), "first");
    let again = s.brunel(&["network", "net.toml", "--out", "net"]);
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    ok(
        &s.brunel(&["network", "net.toml", "--out", "net", "--force"]),
        "forced",
    );
    // No temporary folder is left beside it.
    let litter: Vec<_> = std::fs::read_dir(s.path("."))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(litter.is_empty(), "{litter:?}");
}
