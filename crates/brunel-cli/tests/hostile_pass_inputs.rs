//! Inputs a hostile user gave the subcommands, and what each must do: grid values holding
//! commas, a seed given twice, negative numbers as option values, a 0-ms run with `--plot`,
//! bad or empty environment variables, contradictory profile sizes, infinite and huge values,
//! a quoted key in `--set`, a regular file or a socket where another kind of path is expected.
//!
//! Every refusal is made before anything is computed or written, with a message that names
//! the real fault.

mod common;

use std::process::Output;

use common::{ok, stderr, stdout, Scratch, TINY};

/// Asserts a refusal: exit code `code`, no panic, the message holding every one of `words`.
fn refused_with(o: &Output, code: i32, words: &[&str], what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{what}: {}\n{err}", o.status);
    assert!(!err.contains("panicked"), "{what}: {err}");
    for w in words {
        assert!(err.contains(w), "{what}: no `{w}` in: {err}");
    }
}

fn refused(o: &Output, words: &[&str], what: &str) {
    refused_with(o, 1, words, what);
}

/// The longest run of digits in `text`.
fn longest_digits(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[test]
fn grid_lists_keep_the_commas_inside_strings_and_arrays() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let out = ok(
        &s.brunel(&[
            "theory",
            "c.toml",
            "--grid",
            r#"plot.title="a,b","c""#,
            "--format",
            "toml",
        ]),
        "a grid of two quoted titles",
    );
    let table: toml::Table = out.parse().expect("theory --format toml is TOML");
    let text = format!("{table:?}");
    assert!(text.contains("a,b"), "{out}");
    assert!(!text.contains("\"\\\"a\""), "a title kept its quote: {out}");
    let points = out.matches("[[points]]").count();
    assert_eq!(points, 2, "two titles, two points: {out}");
    // A quote that does not close is refused, not taken into the string.
    let before = s.snapshot();
    for spec in [r#"plot.title="a,b"#, r#"plot.title="a","b"#] {
        refused(
            &s.brunel(&["theory", "c.toml", "--grid", spec]),
            &["not a TOML value"],
            spec,
        );
    }
    refused(
        &s.brunel(&["run", "c.toml", "--set", r#"plot.title="abc"#]),
        &["override", "not a TOML value"],
        "--set with an unclosed quote",
    );
    assert_eq!(s.snapshot(), before);
}

#[test]
fn a_seed_given_twice_is_refused() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let before = s.snapshot();
    let o = s.brunel(&[
        "sweep",
        "c.toml",
        "--grid",
        "synapse.g=4",
        "--seeds",
        "1,2,1",
        "--out",
        "s.h5",
        "-q",
    ]);
    refused(&o, &["--seeds", "seed 1 is given twice"], "--seeds 1,2,1");
    assert_eq!(s.snapshot(), before, "nothing written");
}

#[test]
fn negative_numbers_reach_the_checks_of_their_option() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let before = s.snapshot();
    let o = s.brunel(&["run", "c.toml", "--duration", "-10"]);
    refused(
        &o,
        &["simulation.duration", "must be >= 0, got -10"],
        "--duration -10",
    );
    let o = s.brunel(&[
        "sweep",
        "c.toml",
        "--grid",
        "synapse.g=4",
        "--duration",
        "-10",
        "--out",
        "s.h5",
    ]);
    refused(&o, &["must be >= 0, got -10"], "sweep --duration -10");
    // clap's own refusal of a value that is no thread count, not "unexpected argument".
    for args in [
        &["run", "c.toml", "--threads", "-1"][..],
        &["run", "c.toml", "--seed", "-5"],
        &[
            "sweep",
            "c.toml",
            "--grid",
            "synapse.g=4",
            "--seeds",
            "-1",
            "--out",
            "s.h5",
        ],
    ] {
        let o = s.brunel(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("invalid value '-"), "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
    assert_eq!(s.snapshot(), before);
}

#[test]
fn a_run_of_zero_ms_with_plot_is_refused_before_it_runs() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let before = s.snapshot();
    let o = s.brunel(&[
        "run",
        "c.toml",
        "--duration",
        "0",
        "--out",
        "y.h5",
        "--plot",
        "y.png",
    ]);
    refused(&o, &["0 ms", "nothing to plot"], "run --duration 0 --plot");
    assert!(!stderr(&o).contains("plot.window"), "{}", stderr(&o));
    assert_eq!(s.snapshot(), before, "nothing written");
    // A 0-ms result file (which a run without --plot writes) is refused by `plot` the same way.
    ok(
        &s.brunel(&["run", "c.toml", "--duration", "0", "--out", "y.h5", "-q"]),
        "a 0-ms run",
    );
    let o = s.brunel(&["plot", "y.h5", "-o", "y.png"]);
    refused(&o, &["0 ms long", "nothing to plot"], "plot of a 0-ms run");
    assert!(!stderr(&o).contains("plot.window"), "{}", stderr(&o));
    assert!(!s.path("y.png").exists());
}

#[test]
fn a_bad_read_timeout_is_refused_by_name() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    ok(
        &s.brunel(&["run", "c.toml", "--out", "x.h5", "-q"]),
        "a tiny run",
    );
    for bad in ["abc", "0", "-5", "nan", "inf"] {
        let o = s.brunel_env(&["info", "x.h5"], &[("BRUNEL_READ_TIMEOUT", bad)]);
        refused(
            &o,
            &["BRUNEL_READ_TIMEOUT", bad, "not a number of seconds > 0"],
            bad,
        );
    }
    // Empty is unset: the default.
    ok(
        &s.brunel_env(&["info", "x.h5"], &[("BRUNEL_READ_TIMEOUT", "")]),
        "an empty BRUNEL_READ_TIMEOUT",
    );
    ok(
        &s.brunel_env(&["info", "x.h5"], &[("BRUNEL_READ_TIMEOUT", "30")]),
        "BRUNEL_READ_TIMEOUT=30",
    );
}

#[test]
fn an_empty_profile_variable_counts_as_unset() {
    let s = Scratch::new();
    let cache = s.path("cache");
    let cache = cache.to_str().expect("a UTF-8 scratch path");
    let env = [("BRUNEL_PROFILE", ""), ("XDG_CACHE_HOME", cache)];
    let out = ok(&s.brunel_env(&["profile", "path"], &env), "profile path");
    assert_eq!(out.trim(), format!("{cache}/brunel/profile.toml"));
    ok(
        &s.brunel_env(
            &["profile", "write", "--size", "n=1000,backend=reference"],
            &env,
        ),
        "profile write",
    );
    assert!(s.path("cache/brunel/profile.toml").is_file());
}

#[test]
fn profile_sizes_of_zero_neurons_or_given_twice_are_refused() {
    let s = Scratch::new();
    let before = s.snapshot();
    let o = s.brunel(&["profile", "write", "--size", "n=0,backend=reference"]);
    refused_with(&o, 2, &["a neuron count > 0"], "n=0");
    let o = s.brunel(&[
        "profile",
        "write",
        "--size",
        "n=1000,backend=cpu",
        "--size",
        "n=1000,backend=reference",
    ]);
    refused(&o, &["n=1000 is given twice"], "n=1000 twice");
    assert_eq!(s.snapshot(), before, "no profile written");
}

#[test]
fn infinite_values_are_refused_as_not_finite() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    for (set, says) in [
        (
            "synapse.g=inf",
            "`synapse.g`: must be a finite number >= 0, got inf",
        ),
        (
            "neuron.tau=inf",
            "`neuron.tau`: must be a finite number > 0, got inf",
        ),
    ] {
        refused(&s.brunel(&["run", "c.toml", "--set", set]), &[says], set);
    }
}

#[test]
fn theory_writes_huge_numbers_in_exponent_form() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let out = ok(
        &s.brunel(&["theory", "c.toml", "--set", "synapse.g=1e308"]),
        "theory of g = 1e308",
    );
    assert!(longest_digits(&out) <= 20, "{out}");
    assert!(out.contains("g = 1.000e308"), "{out}");
    let out = ok(
        &s.brunel(&[
            "theory",
            "c.toml",
            "--grid",
            "synapse.g=1e308:1.79e308:1e307",
        ]),
        "theory over huge g",
    );
    assert!(longest_digits(&out) <= 20, "{out}");
}

#[test]
fn a_quoted_key_in_set_is_blamed_on_the_override() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let o = s.brunel(&["run", "c.toml", "--set", r#""synapse.g"=6"#]);
    refused(&o, &["override", "no section `\"synapse`"], "a quoted key");
    assert!(!stderr(&o).contains("config c.toml"), "{}", stderr(&o));
    let o = s.brunel(&["run", "c.toml", "--set", "synapse.gee=6"]);
    refused(
        &o,
        &["override `synapse.gee=6`", "unknown field `gee`"],
        "an unknown key",
    );
}

#[test]
fn network_out_on_a_regular_file_says_so() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    s.write("F", "keep\n");
    let o = s.brunel(&["network", "c.toml", "--out", "F", "--force"]);
    refused(
        &o,
        &["F exists and is not a folder (a regular file)"],
        "--out F",
    );
    assert_eq!(std::fs::read_to_string(s.path("F")).unwrap(), "keep\n");
}

#[test]
fn a_socket_as_the_config_is_named_as_one() {
    let s = Scratch::new();
    let _listener =
        std::os::unix::net::UnixListener::bind(s.path("sock.toml")).expect("bind a socket");
    for args in [
        &["run", "sock.toml"][..],
        &["theory", "sock.toml"],
        &[
            "sweep",
            "sock.toml",
            "--grid",
            "synapse.g=4,5",
            "--out",
            "s.h5",
        ],
    ] {
        let o = s.brunel(args);
        refused(&o, &["not a regular file (a socket)"], &format!("{args:?}"));
        assert!(!stdout(&o).contains("No such device"));
    }
}
