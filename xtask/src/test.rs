//! The whole test suite: set-up, a look at the devices, then every test in release mode.

use crate::{setup, util};

/// `cargo xtask test [extra cargo test arguments]`.
pub fn run(extra: &[String]) -> Result<(), String> {
    setup::run()?;
    // Say what this machine offers before testing it (wgpu's xtask does the same).
    util::run(util::cargo().args(["build", "--release", "-p", "brunel-cli"]))?;
    let brunel = util::project_root().join("target/release/brunel");
    if let Err(e) = util::run(std::process::Command::new(brunel).arg("backends")) {
        eprintln!("test: could not list backends: {e}");
    }
    match std::env::var("BRUNEL_REQUIRE") {
        Ok(r) if !r.is_empty() => eprintln!("test: required (a skip fails): {r}"),
        _ => eprintln!("test: BRUNEL_REQUIRE not set: absent backends are skipped with a reason"),
    }
    util::run(
        util::cargo()
            .args(["test", "--workspace", "--release"])
            .args(extra),
    )
}
