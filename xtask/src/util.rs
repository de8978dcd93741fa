//! Running commands and finding the project.

use std::path::PathBuf;
use std::process::Command;

/// The workspace root.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_owned()
}

/// Runs `cmd`, printing it first; an error if it fails.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("$ {}", show(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", show(cmd)))
    }
}

/// The command as a shell line.
pub fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `cargo` command (the one running this xtask).
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(project_root());
    cmd
}

/// The median of `runs` (the mean of the middle two for an even count).
pub fn median(runs: &[f64]) -> f64 {
    let mut r = runs.to_vec();
    r.sort_by(f64::total_cmp);
    let m = r.len() / 2;
    if r.len() % 2 == 1 {
        r[m]
    } else {
        (r[m - 1] + r[m]) / 2.0
    }
}

/// The value of `--repeats N` from the argument iterator: a positive whole number.
pub fn repeats_value<'a>(it: &mut impl Iterator<Item = &'a String>) -> Result<usize, String> {
    let v = it.next().ok_or("--repeats needs a number")?;
    v.parse::<usize>()
        .ok()
        .filter(|&r| r > 0)
        .ok_or(format!("--repeats: `{v}` is not a positive whole number"))
}

/// Builds the release `brunel`; its path.
pub fn build_brunel() -> Result<PathBuf, String> {
    run(cargo()
        .args(["build", "--release", "-p", "brunel-cli"])
        .args(mpi_features(false)))?;
    Ok(project_root().join("target/release/brunel"))
}

/// Whether Open MPI is installed (its compiler wrapper, which rsmpi's build asks, and
/// `mpirun`): the mpi backend is then built in.
pub fn mpi_installed() -> bool {
    let works = |program: &str, arg: &str| {
        std::process::Command::new(program)
            .arg(arg)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    works("mpicc", "--showme:version") && works("mpirun", "--version")
}

/// The cargo arguments that build the mpi backend in where Open MPI is installed: for the
/// binary alone (`-p brunel-cli`), or for the whole workspace (the binary, the suite and
/// brunel-mpi's own tests); none elsewhere, where its tests are skipped with that reason.
pub fn mpi_features(workspace: bool) -> Vec<&'static str> {
    match (mpi_installed(), workspace) {
        (false, _) => Vec::new(),
        (true, false) => vec!["--features", "mpi"],
        (true, true) => vec![
            "--features",
            "brunel-cli/mpi,brunel-mpi/mpi,brunel-suite/mpi",
        ],
    }
}

/// Sets up the system packages (no Python) and builds the release `brunel`; its path.
pub fn release_brunel() -> Result<PathBuf, String> {
    crate::setup::run()?;
    build_brunel()
}
