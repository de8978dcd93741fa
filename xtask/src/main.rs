//! `cargo xtask`: the project's tasks (an alias in `.cargo/config.toml`).
//!
//! - `cargo xtask setup [--test-tools]`: checks the system packages the build needs and installs
//!   the missing ones (Debian/Ubuntu, apt-get); with `--test-tools` also the Python packages of
//!   the SONATA check and of the Python package's tests, and that package itself, into the
//!   project's environment `target/python` only;
//! - `cargo xtask fig8`: the main job, the four panels of Brunel (2000) Fig. 8;
//! - `cargo xtask test`: the whole test suite, with a summary of what passed and was skipped;
//! - `cargo xtask bench`: every backend side by side, and the machine's choice of backend;
//! - `cargo xtask docs`: writes the generated references under `docs/reference/` (the CLI's
//!   from the clap definitions, the config's from configs/reference.toml);
//! - `cargo xtask tidy`: checks of the repository itself (no link to a missing path, generated
//!   references up to date, no by-products under `benches/results/`);
//! - `cargo xtask gpu-check [--prepare DIR]`: the OpenCL backend on a GPU, here or prepared for
//!   a machine without Rust;
//! - `cargo xtask bench --busy`: the cpu backend quiet and beside a competing busy process.
//!
//! Few dependencies (std only), so that the tasks compile in seconds.

mod bench;
mod busy;
mod config_doc;
mod docs;
mod fig8;
mod gpu_check;
mod setup;
mod test;
mod tidy;
mod util;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup   check the system packages (libhdf5, OpenCL loader, PoCL, Open MPI) and install
          missing ones
          options: --test-tools (also python3-venv; libsonata, h5py, numpy, pytest, maturin
          and the Python package crates/brunel-py into the project's environment
          target/python; never into the system's Python)
  fig8    run the four panels of Fig. 8 and draw them: out/fig8/fig8_{a,b,c,d}.h5, out/fig8/fig8.png
          (needs and installs no Python)
  test    set up with the test tools, check the repository (tidy), run the whole test suite
          (release build), then summarise per backend and check what passed and what was
          skipped, and why (the tests append to target/brunel-test-log.tsv, BRUNEL_TEST_LOG)
  bench   time every backend and device on the Fig. 8 panels and on networks of 12 500, 50 000
          and 125 000 neurons; write benches/results/<date>-<machine>/ and the machine profile
          that `brunel run --backend auto` reads
          options: --quick (a short version, under 2 minutes), --repeats N, --no-profile
          --busy: the cpu backend on 1 thread and on all cores, quiet and with one competing
          busy process (free, and pinned to core 0); writes benches/results/<date>-<machine>-busy/
  docs    write the generated references: docs/reference/cli.md and docs/reference/brunel.1
          (every command and option, from the clap definitions; builds the release brunel) and
          docs/reference/config.md (every config key, from configs/reference.toml)
  tidy    check the repository: no tracked file links to or names a path it does not have; the
          files under docs/reference/ are what `cargo xtask docs` writes (builds the release
          brunel, as `test` does); no *.pyc, __pycache__/ or *.patch under benches/results/
  gpu-check
          the OpenCL backend on a GPU: report the platform and device, run the OpenCL tests with
          BRUNEL_REQUIRE=opencl, time the four panels on opencl and cpu; results in
          benches/results/<date>-gpu-check/. options are run.sh's: --allow-cpu (a CPU OpenCL
          device such as PoCL will do), --results DIR, --repeats N
          --prepare DIR: build here and gather into DIR (under 64 MiB) the binaries, the OpenCL
          loader and DIR/run.sh, which runs the check on a machine without Rust

environment:
  BRUNEL_REQUIRE=cpu,opencl,sonata   backends/checks whose absence fails the tests instead of skipping
  XTASK_NO_INSTALL=1                 only check system packages, never install";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::command(&args[1..]),
        Some("fig8") => fig8::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("docs") => docs::run(&args[1..]),
        Some("tidy") => tidy::run(),
        Some("gpu-check") => gpu_check::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
