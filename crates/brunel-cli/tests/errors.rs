//! Bad configs and bad command lines: each gives a clear message on stderr and a non-zero exit,
//! never a panic, and leaves the folder exactly as it was (no half-written file, an existing
//! result untouched).

mod common;

use common::{stderr, stdout, Scratch, TINY};

/// Sets up the scratch folder beyond the case's files.
#[derive(Debug, Clone, Copy)]
enum Setup {
    Nothing,
    /// An HDF5 file `other.h5` that is not a brunel result.
    ForeignHdf5,
}

/// Environment of the run.
#[derive(Debug, Clone, Copy)]
enum Env {
    Inherit,
    /// `OCL_ICD_VENDORS` pointing to an empty folder: the OpenCL loader finds no platform.
    NoOpenClVendors,
}

struct Case {
    what: &'static str,
    /// Files written into the folder first: (name, contents).
    files: &'static [(&'static str, &'static str)],
    setup: Setup,
    env: Env,
    args: &'static [&'static str],
    /// Every one of these must appear in stderr.
    expect: &'static [&'static str],
}

const fn case(
    what: &'static str,
    files: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    expect: &'static [&'static str],
) -> Case {
    Case {
        what,
        files,
        setup: Setup::Nothing,
        env: Env::Inherit,
        args,
        expect,
    }
}

/// A config with one section changed.
macro_rules! cfg {
    ($text:literal) => {
        &[("c.toml", $text)]
    };
}

const TINY_CFG: &[(&str, &str)] = &[("c.toml", TINY)];

#[cfg(feature = "opencl")]
const OPENCL_UNAVAILABLE: &[&str] = &["opencl backend unavailable"];
#[cfg(not(feature = "opencl"))]
const OPENCL_UNAVAILABLE: &[&str] = &["not compiled with OpenCL support"];

fn cases() -> Vec<Case> {
    vec![
        // Config files.
        case(
            "missing config file",
            &[],
            &["run", "missing.toml"],
            &["cannot read missing.toml", "No such file or directory"],
        ),
        case(
            "TOML syntax error",
            cfg!("[neuron\ntau = 20.0\n"),
            &["run", "c.toml"],
            &["config c.toml", "invalid table header"],
        ),
        case(
            "unknown key",
            cfg!("[neuron]\ntaux = 3.0\n"),
            &["run", "c.toml"],
            &["config c.toml", "unknown field `taux`"],
        ),
        case(
            "unknown section",
            cfg!("[neurons]\ntau = 3.0\n"),
            &["run", "c.toml"],
            &["unknown field `neurons`"],
        ),
        case(
            "wrong type",
            cfg!("[synapse]\ng = \"big\"\n"),
            &["run", "c.toml"],
            &["config c.toml", "invalid type: string \"big\""],
        ),
        case(
            "negative tau",
            cfg!("[neuron]\ntau = -20.0\n"),
            &["run", "c.toml"],
            &["config key `neuron.tau`", "must be > 0, got -20"],
        ),
        case(
            "zero tau",
            cfg!("[neuron]\ntau = 0\n"),
            &["run", "c.toml"],
            &["config key `neuron.tau`", "must be > 0"],
        ),
        case(
            "epsilon above 1",
            cfg!("[network]\nepsilon = 1.5\n"),
            &["run", "c.toml"],
            &[
                "config key `network.epsilon`",
                "must lie in (0, 1], got 1.5",
            ],
        ),
        case(
            "epsilon zero",
            cfg!("[network]\nepsilon = 0.0\n"),
            &["run", "c.toml"],
            &["config key `network.epsilon`", "must lie in (0, 1]"],
        ),
        case(
            "delay not a whole number of steps",
            cfg!("[synapse]\ndelay = 1.55\n"),
            &["run", "c.toml"],
            &[
                "config key `synapse.delay`",
                "1.55 ms is not a whole number of time steps (dt = 0.1 ms)",
            ],
        ),
        case(
            "delay shorter than a step",
            cfg!("[synapse]\ndelay = 0.0\n"),
            &["run", "c.toml"],
            &["config key `synapse.delay`", "at least 1 time step"],
        ),
        case(
            "tau_rp not a whole number of steps",
            cfg!("[neuron]\ntau_rp = 2.05\n"),
            &["run", "c.toml"],
            &[
                "config key `neuron.tau_rp`",
                "not a whole number of time steps",
            ],
        ),
        case(
            "v_reset at theta",
            cfg!("[neuron]\nv_reset = 20.0\n"),
            &["run", "c.toml"],
            &["config key `neuron.v_reset`", "below the threshold"],
        ),
        case(
            "v_reset above theta",
            cfg!("[neuron]\nv_reset = 25.0\ntheta = 20.0\n"),
            &["run", "c.toml"],
            &["config key `neuron.v_reset`", "below the threshold"],
        ),
        case(
            "bad record.spikes in the file",
            cfg!("[record]\nspikes = \"some\"\n"),
            &["run", "c.toml"],
            &["`some` is not one of `first:N`, `all`, `none`"],
        ),
        // --set
        case(
            "--set without =",
            TINY_CFG,
            &["run", "c.toml", "--set", "synapse.g"],
            &["override `synapse.g`", "expected key=value"],
        ),
        case(
            "--set without a section",
            TINY_CFG,
            &["run", "c.toml", "--set", "g=3"],
            &["override `g=3`", "the key must be `section.key`"],
        ),
        case(
            "--set of an unknown key",
            TINY_CFG,
            &["run", "c.toml", "--set", "synapse.gg=3"],
            &["unknown field `gg`"],
        ),
        case(
            "--set of a bad value",
            TINY_CFG,
            &["run", "c.toml", "--set", "neuron.tau=-1"],
            &["config key `neuron.tau`", "must be > 0"],
        ),
        // Other options.
        case(
            "bad --record",
            TINY_CFG,
            &["run", "c.toml", "--record", "first:x"],
            &[
                "invalid value 'first:x' for '--record",
                "`first:x` is not one of `first:N`, `all`, `none`",
            ],
        ),
        case(
            "--record word",
            TINY_CFG,
            &["run", "c.toml", "--record", "some"],
            &["invalid value 'some' for '--record"],
        ),
        case(
            "unknown backend",
            TINY_CFG,
            &["run", "c.toml", "--backend", "gpu"],
            &[
                "invalid value 'gpu' for '--backend",
                "unknown backend `gpu` (one of: reference, cpu, opencl, auto)",
            ],
        ),
        case(
            "--threads not a number",
            TINY_CFG,
            &["run", "c.toml", "--threads=many"],
            &["invalid value 'many' for '--threads <N>'"],
        ),
        case(
            "--threads absurdly many",
            TINY_CFG,
            &["run", "c.toml", "--threads=100000"],
            &["100000 threads is more than the 1024 brunel accepts"],
        ),
        case(
            "--threads negative",
            TINY_CFG,
            &["run", "c.toml", "--threads=-1"],
            &["invalid value '-1' for '--threads <N>'"],
        ),
        case(
            "--duration not a whole number of steps",
            TINY_CFG,
            &["run", "c.toml", "--duration", "0.05"],
            &[
                "config key `simulation.duration`",
                "not a whole number of time steps",
            ],
        ),
        case(
            "--duration negative",
            TINY_CFG,
            &["run", "c.toml", "--duration=-5"],
            &["config key `simulation.duration`", "must be >= 0"],
        ),
        case(
            "--seed not a number",
            TINY_CFG,
            &["run", "c.toml", "--seed", "x"],
            &["invalid value 'x' for '--seed <N>'"],
        ),
        case(
            "--device with auto",
            TINY_CFG,
            &["run", "c.toml", "--backend", "auto", "--device", "0"],
            &["--device selects a device of a named backend (opencl); it cannot be combined with --backend auto"],
        ),
        case(
            "output over the config",
            TINY_CFG,
            &["run", "c.toml", "--out", "c.toml", "--force"],
            &["the config and --out name the same file"],
        ),
        case(
            "summary over the output",
            TINY_CFG,
            &["run", "c.toml", "--out", "r.h5", "--summary", "./r.h5"],
            &["--out and --summary name the same file"],
        ),
        case(
            "summary in a missing folder",
            TINY_CFG,
            &["run", "c.toml", "--summary", "no/such/dir/s.toml"],
            &["no/such/dir"],
        ),
        case(
            "--device without opencl",
            TINY_CFG,
            &["run", "c.toml", "--backend", "reference", "--device", "0"],
            &["--device selects a device; the reference backend takes none (backends with devices: opencl)"],
        ),
        case(
            "output folder missing",
            TINY_CFG,
            &["run", "c.toml", "-o", "nowhere/r.h5"],
            &["cannot write nowhere/r.h5: the folder nowhere does not exist"],
        ),
        case(
            "--plot not a PNG",
            TINY_CFG,
            &["run", "c.toml", "--plot", "fig.jpg"],
            &["fig.jpg: the figure must be a .png file"],
        ),
        case(
            "unknown subcommand",
            &[],
            &["simulate", "c.toml"],
            &["unrecognized subcommand 'simulate'"],
        ),
        // Existing output: refused before anything runs, and left as it was.
        case(
            "existing default output without --force",
            &[("c.toml", TINY), ("c.h5", "precious")],
            &["run", "c.toml"],
            &["c.h5 already exists; use --force to replace it"],
        ),
        case(
            "existing --out without --force",
            &[("c.toml", TINY), ("mine.h5", "precious")],
            &["run", "c.toml", "--out", "mine.h5"],
            &["mine.h5 already exists; use --force to replace it"],
        ),
        Case {
            what: "opencl unavailable (no OpenCL platform)",
            files: TINY_CFG,
            setup: Setup::Nothing,
            env: Env::NoOpenClVendors,
            args: &["run", "c.toml", "--backend", "opencl"],
            expect: OPENCL_UNAVAILABLE,
        },
        // plot and info
        case(
            "plot of a missing file",
            &[],
            &["plot", "missing.h5", "-o", "f.png"],
            &["missing.h5 does not exist"],
        ),
        case(
            "plot of a file that is not HDF5",
            &[("x.h5", "hello, not HDF5")],
            &["plot", "x.h5", "-o", "f.png"],
            &["x.h5 is not an HDF5 file"],
        ),
        Case {
            what: "plot of an HDF5 file that is not a brunel result",
            files: &[],
            setup: Setup::ForeignHdf5,
            env: Env::Inherit,
            args: &["plot", "other.h5", "-o", "f.png"],
            expect: &[
                "other.h5 is not a brunel result file",
                "attribute `brunel_version` is missing",
            ],
        },
        case(
            "plot without files",
            &[],
            &["plot", "-o", "f.png"],
            &["the following required arguments were not provided"],
        ),
        case(
            "plot into a non-PNG file",
            &[("x.h5", "hello")],
            &["plot", "x.h5", "-o", "f.svg"],
            &["f.svg: the figure must be a .png file"],
        ),
        case(
            "info of a missing file",
            &[],
            &["info", "missing.h5"],
            &["missing.h5 does not exist"],
        ),
        case(
            "info of a file that is not HDF5",
            &[("x.h5", "hello, not HDF5")],
            &["info", "x.h5"],
            &["x.h5 is not an HDF5 file"],
        ),
        Case {
            what: "info of an HDF5 file that is not a brunel result",
            files: &[],
            setup: Setup::ForeignHdf5,
            env: Env::Inherit,
            args: &["info", "other.h5"],
            expect: &["other.h5 is not a brunel result file"],
        },
    ]
}

fn foreign_hdf5(path: &std::path::Path) {
    let file = hdf5::File::create(path).expect("create an HDF5 file");
    file.new_dataset_builder()
        .with_data(&[1.0f64, 2.0, 3.0])
        .create("data")
        .expect("write a dataset");
}

#[test]
fn every_bad_input_has_its_message() {
    let mut failures = Vec::new();
    for c in cases() {
        let s = Scratch::new();
        for (name, text) in c.files {
            s.write(name, text);
        }
        match c.setup {
            Setup::Nothing => {}
            Setup::ForeignHdf5 => foreign_hdf5(&s.path("other.h5")),
        }
        let empty = tempfile::tempdir().expect("a temporary folder");
        let env: Vec<(&str, &str)> = match c.env {
            Env::Inherit => vec![],
            Env::NoOpenClVendors => vec![(
                "OCL_ICD_VENDORS",
                empty.path().to_str().expect("a UTF-8 path"),
            )],
        };
        let before = s.snapshot();
        let out = s.brunel_env(c.args, &env);
        let err = stderr(&out);
        let mut problems = Vec::new();
        match out.status.code() {
            Some(0) => problems.push("exited with status 0".to_owned()),
            Some(101) => problems.push("exited with status 101 (a panic)".to_owned()),
            None => problems.push("killed by a signal".to_owned()),
            Some(_) => {}
        }
        if err.contains("panicked") {
            problems.push("panicked".to_owned());
        }
        for e in c.expect {
            if !err.contains(e) {
                problems.push(format!("stderr lacks {e:?}"));
            }
        }
        let after = s.snapshot();
        if after != before {
            let names = |m: &std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>| {
                m.keys()
                    .map(|k| k.display().to_string())
                    .collect::<Vec<_>>()
            };
            problems.push(format!(
                "the folder changed: before {:?}, after {:?}",
                names(&before),
                names(&after)
            ));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{} (brunel {}): {}\n  stdout: {}\n  stderr: {}",
                c.what,
                c.args.join(" "),
                problems.join("; "),
                stdout(&out).trim(),
                err.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A plotted window outside the run is refused by `plot`, and no figure is left behind.
#[test]
fn plot_window_outside_the_run() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let run = s.brunel(&[
        "run",
        "c.toml",
        "--backend",
        "reference",
        "--set",
        "plot.window=[500, 600]",
    ]);
    common::ok(&run, "brunel run");
    let before = s.snapshot();
    let plot = s.brunel(&["plot", "c.h5", "-o", "f.png"]);
    assert!(!plot.status.success());
    let err = stderr(&plot);
    assert!(
        err.contains("plot.window [500, 600] ms lies outside the run (0–5 ms)"),
        "{err}"
    );
    assert_eq!(s.snapshot(), before, "plot left a file behind");
}
