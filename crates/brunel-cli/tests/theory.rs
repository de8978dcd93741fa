//! `brunel theory`: its outputs (text, TOML, a grid with its boundaries, --out), its errors,
//! and the theory line of `brunel run`'s summary.

mod common;

use common::{ok, stderr, Scratch, TINY};

/// The repository's config of panel `p`.
fn panel(p: &str) -> String {
    format!("{}/../../configs/fig8_{p}.toml", env!("CARGO_MANIFEST_DIR"))
}

fn toml_of(text: &str) -> toml::Table {
    text.parse()
        .unwrap_or_else(|e| panic!("not TOML ({e}):\n{text}"))
}

#[test]
fn one_config_as_text_and_toml() {
    let s = Scratch::new();
    let out = ok(&s.brunel(&["theory", &panel("c")]), "theory C");
    assert!(out.contains("nu0 = 37.95 Hz (stable)"), "{out}");
    let t = toml_of(&ok(
        &s.brunel(&["theory", &panel("c"), "--format", "toml"]),
        "theory C toml",
    ));
    let rate = t["rate_hz"].as_float().unwrap();
    assert!((rate - 37.95).abs() < 0.01, "{rate}");
    assert_eq!(t["rates_hz"].as_array().unwrap().len(), 1);
    assert_eq!(t["stable"].as_bool(), Some(true));
    assert!(!t.contains_key("oscillation_hz"));
    // Panel B: unstable, a fast oscillation; --set changes the config like `brunel run`.
    let t = toml_of(&ok(
        &s.brunel(&[
            "theory",
            &panel("c"),
            "--set",
            "synapse.g=6",
            "--set",
            "input.ratio=4",
            "--format",
            "toml",
        ]),
        "theory B",
    ));
    assert_eq!(t["stable"].as_bool(), Some(false));
    let f = t["oscillation_hz"].as_float().unwrap();
    assert!((150.0..230.0).contains(&f), "{f}");
    // Three states at g = 2, nu_ext/nu_thr = 0.8: rate_hz is the lowest.
    let t = toml_of(&ok(
        &s.brunel(&[
            "theory",
            &panel("c"),
            "--set",
            "synapse.g=2",
            "--set",
            "input.ratio=0.8",
            "--format",
            "toml",
        ]),
        "theory three states",
    ));
    let rates = t["rates_hz"].as_array().unwrap();
    assert_eq!(rates.len(), 3);
    assert_eq!(t["rate_hz"].as_float(), rates[0].as_float());
    assert_eq!(t["states"].as_array().unwrap().len(), 3);
}

#[test]
fn a_grid_with_its_boundary() {
    let s = Scratch::new();
    let t = toml_of(&ok(
        &s.brunel(&[
            "theory",
            &panel("c"),
            "--grid",
            "synapse.g=3:5:1",
            "--grid",
            "input.ratio=2,4",
            "--format",
            "toml",
        ]),
        "theory grid",
    ));
    let points = t["points"].as_array().unwrap();
    assert_eq!(points.len(), 6);
    // The first axis varies slowest.
    let g: Vec<f64> = points
        .iter()
        .map(|p| {
            p["synapse.g"]
                .as_float()
                .or(p["synapse.g"].as_integer().map(|i| i as f64))
                .unwrap()
        })
        .collect();
    assert_eq!(g, [3.0, 3.0, 4.0, 4.0, 5.0, 5.0]);
    // SR at g = 3 (unstable), AI at g = 4 and 5 with ratio 2 (stable).
    let stable: Vec<bool> = points
        .iter()
        .map(|p| p["stable"].as_bool().unwrap())
        .collect();
    assert_eq!(
        &stable[..],
        &[false, false, true, true, true, true][..],
        "{t:?}"
    );
    let b = t["boundaries"].as_array().unwrap();
    let along_g: Vec<_> = b
        .iter()
        .filter(|x| x["axis"].as_str() == Some("synapse.g"))
        .collect();
    assert_eq!(along_g.len(), 2, "{b:?}");
    for x in along_g {
        let v = x["value"].as_float().unwrap();
        assert!((3.0..4.0).contains(&v), "{v}");
        assert_eq!(x["stable_below"].as_bool(), Some(false));
        assert!(x["oscillation_hz"].as_float().unwrap() > 400.0);
    }
    // The text table and --out.
    let out = ok(
        &s.brunel(&[
            "theory",
            &panel("c"),
            "--grid",
            "synapse.g=3,5",
            "--out",
            "grid.txt",
        ]),
        "theory --out",
    );
    assert!(out.is_empty(), "{out}");
    let text = std::fs::read_to_string(s.path("grid.txt")).unwrap();
    assert!(text.starts_with("synapse.g"), "{text}");
    assert!(text.contains("boundaries: 1"), "{text}");
}

#[test]
fn bad_grids_and_keys_are_refused_clearly() {
    let s = Scratch::new();
    for (args, says) in [
        (&["--grid", "synapse.gx=1,2"][..], "unknown field `gx`"),
        (&["--grid", "synapse.g=5:3:1"], "range is empty"),
        (&["--grid", "synapse.g=1:3:0"], "step is zero"),
        (&["--grid", "synapse.g=a,b"], "invalid type: string \"a\""),
        (&["--grid", "synapse.g=1:b:1"], "STOP `b` is not a number"),
        (
            &["--grid", "synapse.g=1,2", "--grid", "synapse.g=3"],
            "given twice",
        ),
        (&["--set", "synapse.g=-1"], "config key `synapse.g`"),
        (&["--grid", "nokey=1,2"], "section.key"),
    ] {
        let mut all = vec!["theory", "c.toml"];
        all.extend_from_slice(args);
        s.write("c.toml", "");
        let o = s.brunel(&all);
        assert!(!o.status.success(), "{args:?} succeeded");
        let e = stderr(&o);
        assert!(e.contains(says), "{args:?}: {e}");
        assert!(!e.contains("panicked"), "{args:?}: {e}");
    }
}

#[test]
fn the_run_summary_has_the_theory() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let out = ok(
        &s.brunel(&[
            "run",
            "c.toml",
            "--summary",
            "s.toml",
            "--backend",
            "reference",
        ]),
        "run",
    );
    assert!(out.contains("theory            nu0 = "), "{out}");
    let t = toml_of(&std::fs::read_to_string(s.path("s.toml")).unwrap());
    assert!(t["theory_rate_hz"].as_float().is_some(), "{t:?}");
    assert!(t["theory_stable"].as_bool().is_some(), "{t:?}");
    // brunel info reads it back from the file.
    let info = ok(&s.brunel(&["info", "c.h5"]), "info");
    assert!(info.contains("theory            nu0 = "), "{info}");
}
