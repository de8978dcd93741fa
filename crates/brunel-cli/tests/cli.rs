//! The happy path: a tiny network runs, its result file exists where it should, `info` reads
//! it, `plot` draws it, `--force` replaces it, `backends` lists what is here.

mod common;

use common::{ok, stderr, Scratch, SMALL, TINY};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn is_png(path: &std::path::Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(PNG_SIGNATURE) && b.len() > 1000)
}

#[test]
fn run_info_plot() {
    let s = Scratch::new();
    s.write("small.toml", SMALL);
    // Default output: the config's stem in the current folder. --threads 0 = all cores.
    let out = ok(
        &s.brunel(&[
            "run",
            "small.toml",
            "--backend",
            "reference",
            "--threads",
            "0",
        ]),
        "brunel run",
    );
    assert!(s.path("small.h5").is_file(), "no small.h5");
    for line in [
        "backend           reference",
        "neurons           500 (400 excitatory, 100 inhibitory)",
        "simulated         50 ms (500 steps of 0.1 ms)",
        "mean rate E / I",
        "mean CV of ISIs",
        "spikes",
        "synaptic events",
        "build time",
        "run time",
        "real-time factor",
        "events/s",
    ] {
        assert!(out.contains(line), "summary lacks {line:?}:\n{out}");
    }

    let info = ok(&s.brunel(&["info", "small.h5"]), "brunel info");
    for line in [
        "result            small.h5",
        "synapses",
        "seed              11",
        "model             g = 5.0, nu_ext/nu_thr = 2.0",
        "recorded spikes",
        "population rate",
        "created",
    ] {
        assert!(info.contains(line), "info lacks {line:?}:\n{info}");
    }

    ok(
        &s.brunel(&["plot", "small.h5", "-o", "small.png"]),
        "brunel plot",
    );
    assert!(is_png(&s.path("small.png")), "small.png is not a PNG");

    // Several panels side by side, and the PNG is replaced.
    ok(
        &s.brunel(&["plot", "small.h5", "small.h5", "-o", "small.png"]),
        "brunel plot of two files",
    );
    assert!(is_png(&s.path("small.png")));

    // --force replaces the result; --plot draws it.
    let before = std::fs::read(s.path("small.h5")).unwrap();
    ok(
        &s.brunel(&[
            "run",
            "small.toml",
            "--backend",
            "reference",
            "--seed",
            "12",
            "--force",
            "--plot",
            "again.png",
        ]),
        "brunel run --force --plot",
    );
    assert_ne!(std::fs::read(s.path("small.h5")).unwrap(), before);
    assert!(is_png(&s.path("again.png")));
    let info = ok(&s.brunel(&["info", "small.h5"]), "brunel info");
    assert!(info.contains("seed              12"), "{info}");

    // Only what was asked for is in the folder: no temporary file is left.
    let mut names: Vec<_> = s
        .snapshot()
        .into_keys()
        .map(|p| p.display().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["again.png", "small.h5", "small.png", "small.toml"]);
}

#[test]
fn overrides_reach_the_file() {
    let s = Scratch::new();
    s.write("t.toml", TINY);
    ok(
        &s.brunel(&[
            "run",
            "t.toml",
            "--backend",
            "reference",
            "--duration",
            "3",
            "--set",
            "synapse.g=6",
            "--set",
            "neuron.refractory_input=accumulate",
            "--record",
            "none",
            "--out",
            "o.h5",
        ]),
        "brunel run with overrides",
    );
    let file = hdf5::File::open(s.path("o.h5")).unwrap();
    let config: hdf5::types::VarLenUnicode = file.attr("config").unwrap().read_scalar().unwrap();
    let config = brunel_core::Config::from_toml(config.as_str()).unwrap();
    assert_eq!(config.synapse.g, 6.0);
    assert_eq!(config.simulation.duration, 3.0);
    assert_eq!(
        config.neuron.refractory_input,
        brunel_core::RefractoryInput::Accumulate
    );
    assert_eq!(config.record.spikes, brunel_core::RecordSpikes::None);
    let ids = file
        .dataset("spikes/brunel/node_ids")
        .unwrap()
        .read_raw::<u64>()
        .unwrap();
    assert!(ids.is_empty());
    let rate = file
        .dataset("population_rate/rate")
        .unwrap()
        .read_raw::<f64>()
        .unwrap();
    assert_eq!(rate.len(), 30);
}

#[test]
fn auto_says_what_it_chose() {
    let s = Scratch::new();
    s.write("t.toml", TINY);
    let run = s.brunel(&["run", "t.toml", "--backend", "auto"]);
    ok(&run, "brunel run --backend auto");
    let err = stderr(&run);
    assert!(err.contains("note: auto chose "), "{err}");
    // Hermetic: the profile looked for is the scratch folder's (absent), not the user's.
    let absent = format!("no machine profile at {}", s.profile().display());
    assert!(err.contains(&absent), "expected `{absent}` in:\n{err}");
}

#[test]
fn backends_lists_what_is_here() {
    let s = Scratch::new();
    let out = ok(&s.brunel(&["backends"]), "brunel backends");
    assert!(out.contains("reference  available"), "{out}");
    assert!(out.contains("cpu "), "{out}");
    assert!(out.contains("opencl "), "{out}");
}

/// Seeds take the whole documented u64 range, on the command line and in the config, and
/// come back the same from the file and the summary (printed as f64 they lost their low bits).
#[test]
fn seeds_above_two_to_the_63() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    for (i, seed) in ["9223372036854775808", "18446744073709551615"]
        .iter()
        .enumerate()
    {
        let out = format!("s{i}.h5");
        let summary = format!("s{i}.toml");
        ok(
            &s.brunel(&[
                "run",
                "c.toml",
                "--backend",
                "reference",
                "--seed",
                seed,
                "--out",
                &out,
                "--summary",
                &summary,
                "--quiet",
            ]),
            "brunel run --seed",
        );
        let info = ok(&s.brunel(&["info", &out]), "brunel info");
        assert!(
            info.contains(&format!("seed              {seed}")),
            "{info}"
        );
        let text = std::fs::read_to_string(s.path(&summary)).unwrap();
        assert!(text.contains(&format!("seed = \"{seed}\"")), "{text}");
        // The stored config reads back, and the same seed in the file gives the same spikes.
        let file = hdf5::File::open(s.path(&out)).unwrap();
        let config: hdf5::types::VarLenUnicode =
            file.attr("config").unwrap().read_scalar().unwrap();
        let back = brunel_config_seed(config.as_str());
        assert_eq!(back, *seed);
        let in_file = TINY.replace("seed = 3", &format!("seed = \"{seed}\""));
        s.write("f.toml", &in_file);
        let again = format!("f{i}.h5");
        ok(
            &s.brunel(&[
                "run",
                "f.toml",
                "--backend",
                "cpu",
                "--out",
                &again,
                "--quiet",
            ]),
            "brunel run with the seed in the file",
        );
        let read = |p: &str| -> Vec<u64> {
            hdf5::File::open(s.path(p))
                .unwrap()
                .dataset("spikes/brunel/node_ids")
                .unwrap()
                .read_raw()
                .unwrap()
        };
        assert_eq!(read(&out), read(&again));
    }
}

/// `seed = "..."` or `seed = N` in a resolved config.
fn brunel_config_seed(toml_text: &str) -> String {
    let t: toml::Table = toml_text.parse().unwrap();
    match &t["simulation"]["seed"] {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        other => panic!("seed is {other:?}"),
    }
}

/// The default output keeps everything before the last dot (`panel.v2.toml` → `panel.v2.h5`);
/// --quiet prints nothing on stdout, not even the figure's name.
#[test]
fn default_name_and_quiet() {
    let s = Scratch::new();
    s.write("panel.v2.toml", TINY);
    s.write("panel.v3.toml", TINY);
    for name in ["panel.v2.toml", "panel.v3.toml"] {
        let out = s.brunel(&[
            "run",
            name,
            "--backend",
            "reference",
            "--quiet",
            "--plot",
            "p.png",
        ]);
        let text = ok(&out, "brunel run --quiet --plot");
        assert_eq!(text, "", "--quiet printed {text:?}");
    }
    assert!(s.path("panel.v2.h5").is_file());
    assert!(s.path("panel.v3.h5").is_file());
    assert!(!s.path("panel.h5").exists());
}
