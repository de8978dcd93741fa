//! `cargo xtask`: the project's tasks (an alias in `.cargo/config.toml`).
//!
//! - `cargo xtask setup`: checks the system packages the build needs and installs the missing
//!   ones (Debian/Ubuntu, apt-get);
//! - `cargo xtask fig8`: the main job, the four panels of Brunel (2000) Fig. 8;
//! - `cargo xtask test`: the whole test suite.
//!
//! Few dependencies (std only), so that the tasks compile in seconds.

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

environment:
  BRUNEL_REQUIRE=cpu,opencl,sonata   backends/checks whose absence fails the tests instead of skipping
  XTASK_NO_INSTALL=1                 only check system packages, never install";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(),
        Some("fig8") => fig8::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
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
