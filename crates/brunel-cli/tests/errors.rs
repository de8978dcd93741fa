//! Bad configs and bad command lines: each gives a clear message on stderr and a non-zero exit,
//! never a panic, and leaves the folder exactly as it was (no half-written file, an existing
//! result untouched).

mod common;

use common::{stderr, stdout, Scratch, TINY};

/// Sets up the scratch folder beyond the case's files.
#[derive(Debug, Clone, Copy)]
enum Setup {
    /// An HDF5 file `other.h5` that is not a brunel result.
    ForeignHdf5,
    /// A FIFO of this name (`mkfifo`).
    Fifo(&'static str),
    /// A character device node of this name, the numbers of /dev/null (`mknod NAME c 1 3`;
    /// needs root: the case is skipped, and says so, without it).
    DeviceNode(&'static str),
    /// An empty folder of this name.
    Folder(&'static str),
    /// A valid result file of this name, from `brunel run` of the tiny config.
    Result(&'static str),
    /// A valid result file of this name, damaged afterwards.
    Damaged(&'static str, Damage),
    /// A config file of this name with this many bytes of unknown keys.
    Big(&'static str, usize),
    /// A config file of this name whose one line (an unterminated string) is this long.
    LongLine(&'static str, usize),
}

/// How [`Setup::Damaged`] damages a result file.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// Every value of the population rate is +inf.
    InfiniteRate,
    /// The rate's `start` attribute is NaN.
    NanStart,
    /// The rate's `dt` attribute is 0.
    ZeroDt,
    /// The stored config's title holds ANSI escapes (a terminal's control sequences).
    AnsiTitle,
}

/// Environment of the run.
#[derive(Debug, Clone, Copy)]
enum Env {
    Inherit,
    /// `OCL_ICD_VENDORS` pointing to an empty folder: the OpenCL loader finds no platform.
    NoOpenClVendors,
    /// `BRUNEL_OPENCL_DEVICE` set to this.
    OpenClDevice(&'static str),
    /// Run under `ulimit -v` of this many KiB (through `sh -c`).
    AddressSpaceKib(u64),
}

struct Case {
    what: &'static str,
    /// Files written into the folder first: (name, contents).
    files: &'static [(&'static str, &'static str)],
    setup: Vec<Setup>,
    env: Env,
    args: &'static [&'static str],
    /// Every one of these must appear in stderr.
    expect: &'static [&'static str],
    /// None of these may appear in stderr (a message that blames the wrong thing).
    forbid: &'static [&'static str],
    /// At most this many bytes of stderr.
    max_stderr: usize,
}

fn case(
    what: &'static str,
    files: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    expect: &'static [&'static str],
) -> Case {
    Case {
        what,
        files,
        setup: Vec::new(),
        env: Env::Inherit,
        args,
        expect,
        forbid: &[],
        max_stderr: 4096,
    }
}

impl Case {
    fn setup(mut self, setup: Setup) -> Case {
        self.setup.push(setup);
        self
    }
    fn env(self, env: Env) -> Case {
        Case { env, ..self }
    }
    fn forbid(self, forbid: &'static [&'static str]) -> Case {
        Case { forbid, ..self }
    }
    fn max_stderr(self, max_stderr: usize) -> Case {
        Case { max_stderr, ..self }
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
            "procedural storage with fixed in-degree",
            cfg!("[network]\nconnectivity = \"fixed_indegree\"\nstorage = \"procedural\"\n"),
            &["run", "c.toml"],
            &[
                "network.storage",
                "needs network.connectivity = \"bernoulli\"",
            ],
        ),
        case(
            "unknown storage",
            cfg!("[network]\nstorage = \"disk\"\n"),
            &["run", "c.toml"],
            &["unknown variant `disk`", "stored", "procedural"],
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
                "unknown backend `gpu` (one of: reference, cpu, opencl, mpi, auto)",
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
            setup: Vec::new(),
            env: Env::NoOpenClVendors,
            args: &["run", "c.toml", "--backend", "opencl"],
            expect: OPENCL_UNAVAILABLE,
            forbid: &[],
            max_stderr: 4096,
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
            setup: vec![Setup::ForeignHdf5],
            env: Env::Inherit,
            args: &["plot", "other.h5", "-o", "f.png"],
            expect: &[
                "other.h5 is not a brunel result file",
                "attribute `brunel_version` is missing",
            ],
            forbid: &[],
            max_stderr: 4096,
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
            setup: vec![Setup::ForeignHdf5],
            env: Env::Inherit,
            args: &["info", "other.h5"],
            expect: &["other.h5 is not a brunel result file"],
            forbid: &[],
            max_stderr: 4096,
        },
    ]
    .into_iter()
    .chain(hostile_cases())
    .collect()
}

/// What a hostile user tried against `brunel run`: one row (or more) each.
fn hostile_cases() -> Vec<Case> {
    vec![
        // 1: outputs that exist and are not regular files, even with --force.
        case(
            "--out a FIFO with --force",
            TINY_CFG,
            &["run", "c.toml", "--out", "pipe.h5", "--force"],
            &["pipe.h5 exists and is not a regular file"],
        )
        .setup(Setup::Fifo("pipe.h5")),
        case(
            "--out a device node with --force",
            TINY_CFG,
            &["run", "c.toml", "--out", "fakenull", "--force"],
            &["fakenull exists and is not a regular file"],
        )
        .setup(Setup::DeviceNode("fakenull")),
        case(
            "--summary a FIFO",
            TINY_CFG,
            &["run", "c.toml", "--summary", "pipe.toml"],
            &["pipe.toml exists and is not a regular file"],
        )
        .setup(Setup::Fifo("pipe.toml")),
        case(
            "--plot a device node",
            TINY_CFG,
            &["run", "c.toml", "--plot", "null.png"],
            &["null.png exists and is not a regular file"],
        )
        .setup(Setup::DeviceNode("null.png")),
        case(
            "plot -o a FIFO",
            &[],
            &["plot", "r.h5", "-o", "pipe.png"],
            &["pipe.png exists and is not a regular file"],
        )
        .setup(Setup::Result("r.h5"))
        .setup(Setup::Fifo("pipe.png")),
        // 2: derived counts checked, not cast.
        case(
            "huge gamma wraps the neuron count",
            cfg!("[network]\nn_e = 1000\ngamma = 1e30\n[simulation]\nduration = 50.0\n"),
            &["run", "c.toml"],
            &["config key `network.gamma`", "neurons"],
        )
        .forbid(&["building the network"]),
        case(
            "huge n_e",
            TINY_CFG,
            &["run", "c.toml", "--set", "network.n_e=9223372036854775807"],
            &["config key `network.n_e`"],
        ),
        case(
            "huge c_ext",
            TINY_CFG,
            &["run", "c.toml", "--set", "input.c_ext=9223372036854775807", "--set", "input.ratio=0"],
            &["config key `input.c_ext`"],
        ),
        case(
            "huge duration in steps",
            TINY_CFG,
            &["run", "c.toml", "--set", "simulation.duration=1e300"],
            &["config key `simulation.duration`", "steps"],
        )
        .forbid(&["18446744073709551615"]),
        // 3: finite values, in configs and in the files read.
        case(
            "plot.window with inf",
            TINY_CFG,
            &["run", "c.toml", "--set", "plot.window=[0.0, inf]", "--plot", "w.png"],
            &["config key `plot.window`", "finite"],
        ),
        case(
            "plot.window with nan",
            TINY_CFG,
            &["run", "c.toml", "--set", "plot.window=[nan, 3.0]"],
            &["config key `plot.window`"],
        ),
        case(
            "plot.rate_max inf",
            TINY_CFG,
            &["run", "c.toml", "--set", "plot.rate_max=inf"],
            &["config key `plot.rate_max`"],
        ),
        case(
            "plot of a file whose rate is inf",
            &[],
            &["plot", "r.h5", "-o", "f.png"],
            &["r.h5 is damaged", "population rate", "not a finite"],
        )
        .setup(Setup::Damaged("r.h5", Damage::InfiniteRate)),
        case(
            "info of a file whose rate is inf",
            &[],
            &["info", "r.h5"],
            &["r.h5 is damaged", "not a finite"],
        )
        .setup(Setup::Damaged("r.h5", Damage::InfiniteRate)),
        case(
            "plot of a file whose start is NaN",
            &[],
            &["plot", "r.h5", "-o", "f.png"],
            &["r.h5 is damaged", "attribute `start`"],
        )
        .setup(Setup::Damaged("r.h5", Damage::NanStart)),
        case(
            "plot of a file whose dt is 0",
            &[],
            &["plot", "r.h5", "-o", "f.png"],
            &["r.h5 is damaged", "attribute `dt`"],
        )
        .setup(Setup::Damaged("r.h5", Damage::ZeroDt)),
        // 4: memory, every large allocation, the limits of the process.
        case(
            "a run whose population rate does not fit in memory",
            TINY_CFG,
            &["run", "c.toml", "--set", "network.n_e=1000", "--duration", "500000000"],
            &["not enough memory", "population rate", "--duration"],
        ),
        case(
            "a network that does not fit under ulimit -v",
            TINY_CFG,
            &["run", "c.toml", "--set", "network.n_e=60000", "--backend", "cpu", "--threads", "2"],
            &["not enough memory", "synapses", "ulimit -v"],
        )
        .env(Env::AddressSpaceKib(1_000_000)),
        case(
            "a long run under ulimit -v",
            TINY_CFG,
            &["run", "c.toml", "--set", "network.n_e=1000", "--duration", "50000000"],
            &["not enough memory", "population rate", "ulimit -v"],
        )
        .env(Env::AddressSpaceKib(1_000_000)),
        // 6: a seed out of the u64 range.
        case(
            "seed above 2^64",
            TINY_CFG,
            &["run", "c.toml", "--set", "simulation.seed=18446744073709551616"],
            &["`simulation.seed`", "0 to 18446744073709551615"],
        ),
        case(
            "negative seed",
            cfg!("[simulation]\nseed = -1\n"),
            &["run", "c.toml"],
            &["`simulation.seed`", "0 to 18446744073709551615"],
        ),
        // 9: an output that names an input.
        case(
            "plot over its input",
            &[],
            &["plot", "r.png", "-o", "./r.png"],
            &["-o names the input r.png"],
        )
        .setup(Setup::Result("r.png")),
        // 10: folders where files go, refused before the simulation.
        case(
            "--plot a folder",
            TINY_CFG,
            &["run", "c.toml", "--plot", "adir.png"],
            &["adir.png exists and is not a regular file (a folder)"],
        )
        .setup(Setup::Folder("adir.png")),
        case(
            "--summary a folder",
            TINY_CFG,
            &["run", "c.toml", "--summary", "sdir"],
            &["sdir exists and is not a regular file (a folder)"],
        )
        .setup(Setup::Folder("sdir")),
        case(
            "--out a folder with --force",
            TINY_CFG,
            &["run", "c.toml", "--out", "odir", "--force"],
            &["odir exists and is not a regular file (a folder)"],
        )
        .setup(Setup::Folder("odir")),
        // 11: files that would block the reader.
        case(
            "info of a FIFO",
            &[],
            &["info", "pipe.h5"],
            &["pipe.h5 is not a regular file (a FIFO)"],
        )
        .setup(Setup::Fifo("pipe.h5")),
        case(
            "plot of a FIFO",
            &[],
            &["plot", "pipe.h5", "-o", "f.png"],
            &["pipe.h5 is not a regular file (a FIFO)"],
        )
        .setup(Setup::Fifo("pipe.h5")),
        case(
            "info of a folder",
            &[],
            &["info", "d.h5"],
            &["d.h5 is not a regular file (a folder)"],
        )
        .setup(Setup::Folder("d.h5")),
        // 12: bounded input, bounded echo.
        case(
            "a config file above 1 MiB",
            &[],
            &["run", "big.toml"],
            &["big.toml is larger than 1 MiB"],
        )
        .setup(Setup::Big("big.toml", 3 << 20)),
        case(
            "a syntax error on a long line",
            &[],
            &["run", "long.toml"],
            &["config long.toml", "line 2"],
        )
        .setup(Setup::LongLine("long.toml", 600_000))
        .max_stderr(2048),
        case(
            "deep nesting",
            cfg!("[network]\nn_e = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"),
            &["run", "c.toml"],
            &["config c.toml"],
        )
        .max_stderr(2048),
        case(
            "an unknown key 100 kB long",
            &[],
            &["run", "long.toml"],
            &["config long.toml", "unknown field"],
        )
        .setup(Setup::Big("long.toml", 100_000))
        .max_stderr(2048),
        // 13: messages that blame the right thing.
        case(
            "one excitatory neuron: C_E = 0",
            TINY_CFG,
            &["run", "c.toml", "--set", "network.n_e=1"],
            &["config key `network.n_e`", "C_E"],
        )
        .forbid(&["synapse.j"]),
        case(
            "a tiny membrane time constant",
            TINY_CFG,
            &["run", "c.toml", "--set", "neuron.tau=1e-300"],
            &["config key `neuron.tau`"],
        )
        .forbid(&["config key `input.ratio`", "00000000000000000000"])
        .max_stderr(600),
        case(
            "a tiny time step",
            TINY_CFG,
            &["run", "c.toml", "--set", "simulation.dt=1e-300"],
            &["config key `simulation.dt`"],
        )
        .forbid(&["18446744073709551615", "a delay of"])
        .max_stderr(600),
        #[cfg(feature = "opencl")]
        case(
            "BRUNEL_OPENCL_DEVICE not a number",
            TINY_CFG,
            &["run", "c.toml", "--backend", "opencl"],
            &["BRUNEL_OPENCL_DEVICE", "`abc` is not a device index"],
        )
        .env(Env::OpenClDevice("abc"))
        .forbid(&["config key"]),
    ]
}

/// Whether this process runs as root (mknod needs it).
fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn sh(command: &str, dir: &std::path::Path) {
    let status = std::process::Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .status()
        .expect("sh runs");
    assert!(status.success(), "`{command}` failed");
}

/// A result file from `brunel run` of the tiny config.
fn result_file(s: &Scratch, name: &str) {
    s.write("tiny-src.toml", TINY);
    common::ok(
        &s.brunel(&[
            "run",
            "tiny-src.toml",
            "--backend",
            "reference",
            "--out",
            name,
            "--quiet",
        ]),
        "brunel run for a result file",
    );
    std::fs::remove_file(s.path("tiny-src.toml")).expect("remove the source config");
}

fn damage(path: &std::path::Path, how: Damage) {
    let file = hdf5::File::open_rw(path).expect("open the result read-write");
    let rate = file.dataset("population_rate/rate").expect("the rate");
    let set_attr = |name: &str, value: f64| {
        rate.delete_attr(name).expect("delete the attribute");
        rate.new_attr::<f64>()
            .create(name)
            .expect("create the attribute")
            .write_scalar(&value)
            .expect("write the attribute");
    };
    match how {
        Damage::InfiniteRate => {
            let n = rate.size();
            rate.write_raw(&vec![f64::INFINITY; n]).expect("write inf");
        }
        Damage::NanStart => set_attr("start", f64::NAN),
        Damage::ZeroDt => set_attr("dt", 0.0),
        Damage::AnsiTitle => {
            let config = file.attr("config").expect("the config attribute");
            let text: hdf5::types::VarLenUnicode = config.read_scalar().expect("read the config");
            let text = text.as_str().replace(
                "title = \"tiny\"",
                "title = \"\\u001b[31mred\\u001b]0;owned\\u0007\"",
            );
            drop(config);
            file.delete_attr("config").expect("delete the config");
            file.new_attr::<hdf5::types::VarLenUnicode>()
                .create("config")
                .expect("create the config")
                .write_scalar(
                    &text
                        .parse::<hdf5::types::VarLenUnicode>()
                        .expect("a string"),
                )
                .expect("write the config");
        }
    }
}

/// Prepares `setup`; false if the case cannot run here (and says why).
fn prepare(s: &Scratch, setup: Setup, what: &str) -> bool {
    match setup {
        Setup::ForeignHdf5 => foreign_hdf5(&s.path("other.h5")),
        Setup::Fifo(name) => sh(&format!("mkfifo {name}"), s.dir.path()),
        Setup::DeviceNode(name) => {
            if !is_root() {
                eprintln!("skipped: {what}: mknod needs root");
                return false;
            }
            sh(&format!("mknod -m 666 {name} c 1 3"), s.dir.path());
        }
        Setup::Folder(name) => std::fs::create_dir(s.path(name)).expect("a folder"),
        Setup::Result(name) => result_file(s, name),
        Setup::Damaged(name, how) => {
            result_file(s, name);
            damage(&s.path(name), how);
        }
        Setup::Big(name, bytes) => {
            let mut text = String::from("[network]\n");
            let key = "k".repeat(bytes.min(1 << 20) - 16);
            while text.len() < bytes {
                text.push_str(&key[..key.len().min(bytes - text.len() + 4)]);
                text.push_str(" = 1\n");
            }
            s.write(name, &text);
        }
        Setup::LongLine(name, bytes) => {
            s.write(name, &format!("[plot]\ntitle = \"{}\n", "x".repeat(bytes)));
        }
    }
    true
}

/// At most 2000 characters of `s`, for a readable failure report.
fn clip(s: &str) -> String {
    match s.char_indices().nth(2000) {
        Some((i, _)) => format!("{}… ({} bytes)", &s[..i], s.len()),
        None => s.to_owned(),
    }
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
        if !c.setup.iter().all(|&setup| prepare(&s, setup, c.what)) {
            continue;
        }
        let empty = tempfile::tempdir().expect("a temporary folder");
        let env: Vec<(&str, &str)> = match c.env {
            Env::Inherit | Env::AddressSpaceKib(_) => vec![],
            Env::NoOpenClVendors => vec![(
                "OCL_ICD_VENDORS",
                empty.path().to_str().expect("a UTF-8 path"),
            )],
            Env::OpenClDevice(value) => vec![("BRUNEL_OPENCL_DEVICE", value)],
        };
        let before = s.snapshot();
        let out = match c.env {
            Env::AddressSpaceKib(kib) => {
                let mut cmd = std::process::Command::new("sh");
                cmd.arg("-c")
                    .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_brunel"))
                    .args(c.args)
                    .current_dir(s.dir.path());
                common::output_within(cmd, common::TIMEOUT)
            }
            _ => s.brunel_env(c.args, &env),
        };
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
        for f in c.forbid {
            if err.contains(f) {
                problems.push(format!("stderr holds {f:?}"));
            }
        }
        if err.len() > c.max_stderr {
            problems.push(format!(
                "{} bytes of stderr, more than {}",
                err.len(),
                c.max_stderr
            ));
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
                clip(stdout(&out).trim()),
                clip(err.trim())
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

/// A title with ANSI escapes in a result file is printed escaped by `info`: the terminal gets
/// no control character from a file.
#[test]
fn info_escapes_control_characters() {
    let s = Scratch::new();
    result_file(&s, "r.h5");
    damage(&s.path("r.h5"), Damage::AnsiTitle);
    let out = s.brunel(&["info", "r.h5"]);
    let text = common::ok(&out, "brunel info");
    assert!(
        !text.bytes().any(|b| b == 0x1b || b == 0x07),
        "info printed control characters raw:\n{text:?}"
    );
    assert!(text.contains("\\u{1b}[31mred"), "{text}");
}
