//! `cargo xtask`: the project's tasks (an alias in `.cargo/config.toml`).
//!
//! - `cargo xtask setup`: checks the system packages the build needs and installs the missing
//!   ones (Debian/Ubuntu, apt-get);
//! - `cargo xtask fig8`: the main job, the four panels of Brunel (2000) Fig. 8;
//! - `cargo xtask test`: the whole test suite;
//! - `cargo xtask bench`: every backend side by side, and the machine's choice of backend;
//!   `cargo xtask bench --busy`: the cpu backend quiet and beside a competing busy process.
//!
//! Few dependencies (std only), so that the tasks compile in seconds.

mod bench;
mod busy;
mod fig8;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup   check the system packages (libhdf5, OpenCL loader, PoCL) and install missing ones
  fig8    run the four panels of Fig. 8 and draw them: out/fig8/fig8_{a,b,c,d}.h5, out/fig8/fig8.png
  test    set up, then run the whole test suite (release build)
  bench   time every backend and device on the Fig. 8 panels and on networks of 12 500, 50 000
          and 125 000 neurons; write benches/results/<date>-<machine>/ and the machine profile
          that `brunel run --backend auto` reads
          options: --quick (a short version, under 2 minutes), --repeats N, --no-profile
          --busy: the cpu backend on 1 thread and on all cores, quiet and with one competing
          busy process (free, and pinned to core 0); writes benches/results/<date>-<machine>-busy/

environment:
  BRUNEL_REQUIRE=cpu,opencl,sonata   backends/checks whose absence fails the tests instead of skipping
  XTASK_NO_INSTALL=1                 only check system packages, never install";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(),
        Some("fig8") => fig8::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
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
