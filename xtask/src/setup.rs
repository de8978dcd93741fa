//! System packages: checked, and on Debian/Ubuntu installed with apt-get.

use std::process::Command;

use crate::util;

/// Debian packages the build and the main job need, with what each is for.
pub const PACKAGES: &[(&str, &str)] = &[
    ("pkg-config", "finding libhdf5"),
    (
        "libhdf5-dev",
        "HDF5 output (hdf5-metno links the system libhdf5)",
    ),
    (
        "ocl-icd-opencl-dev",
        "the OpenCL loader (the ocl crate links -lOpenCL)",
    ),
    (
        "pocl-opencl-icd",
        "PoCL: OpenCL on the CPU, where the OpenCL backend is tested",
    ),
    ("clinfo", "listing OpenCL devices"),
    (
        "libopenmpi-dev",
        "Open MPI, for the mpi backend (built in when MPI is installed)",
    ),
    (
        "openmpi-bin",
        "mpirun, which starts the mpi backend's ranks",
    ),
    ("libclang-dev", "rsmpi's bindings to MPI (bindgen)"),
];

/// Debian packages of the test tools only (`cargo xtask test`, `setup --test-tools`).
pub const TEST_PACKAGES: &[(&str, &str)] = &[(
    "python3-venv",
    "the project's Python environment target/python, for the SONATA reader check",
)];

/// Python packages of the SONATA reader check (tests read our HDF5 with libsonata) and of the
/// Python package's test suite (pytest; maturin builds the package), installed only into the
/// project's environment [`venv`].
pub const PYTHON_PACKAGES: &[&str] = &["libsonata", "h5py", "numpy", "pytest", "maturin"];

/// The version range of maturin: the one `crates/brunel-py/pyproject.toml` builds with.
const MATURIN: &str = "maturin>=1.9,<2";

/// The Python package, built from source into [`venv`] by every `setup --test-tools`.
pub const PYTHON_PACKAGE: &str = "crates/brunel-py";

/// What to set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tools {
    /// What the build and the main job need: system packages only, no Python.
    Build,
    /// Also the test tools: `python3-venv` and the Python packages, in `target/python`.
    Test,
}

/// `cargo xtask setup [--test-tools]`.
pub fn command(args: &[String]) -> Result<(), String> {
    let tools = match args {
        [] => Tools::Build,
        [a] if a == "--test-tools" => Tools::Test,
        _ => {
            return Err(format!(
                "setup takes one option, --test-tools (got: {})",
                args.join(" ")
            ))
        }
    };
    run_for(tools)
}

/// The set-up of the build and the main job (`fig8`, `bench`): system packages, no Python.
pub fn run() -> Result<(), String> {
    run_for(Tools::Build)
}

/// Checks and installs what is missing. Python is touched only for [`Tools::Test`], and only
/// inside the project's environment.
pub fn run_for(tools: Tools) -> Result<(), String> {
    let mut packages = PACKAGES.to_vec();
    if tools == Tools::Test {
        packages.extend_from_slice(TEST_PACKAGES);
    }
    system_packages(&packages)?;
    if tools == Tools::Test {
        python_packages();
        python_package();
    }
    Ok(())
}

/// The project's Python environment, `target/python`: the only place xtask installs Python
/// packages (the SONATA check, `crates/brunel-cli/tests/sonata.rs`, prefers it).
pub fn venv() -> std::path::PathBuf {
    util::project_root().join("target/python")
}

fn is_debian() -> bool {
    std::path::Path::new("/etc/debian_version").exists()
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn system_packages(packages: &[(&str, &str)]) -> Result<(), String> {
    if !is_debian() {
        let list: Vec<String> = packages
            .iter()
            .map(|(p, why)| format!("  {p}: {why}"))
            .collect();
        return Err(format!(
            "this is not Debian or Ubuntu, so xtask cannot install the system packages itself.\n\
             Install the equivalents of these Debian packages, then run again:\n{}",
            list.join("\n")
        ));
    }
    let missing: Vec<&str> = packages
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        eprintln!("setup: system packages present: {}", names(packages));
        return Ok(());
    }
    if no_install() {
        return Err(format!(
            "missing system packages: {} (XTASK_NO_INSTALL is set, so not installing)",
            missing.join(" ")
        ));
    }
    let sudo = !is_root();
    eprintln!(
        "setup: installing missing system packages: {}",
        missing.join(" ")
    );
    // `sudo env ...` because sudo's env_reset drops variables set on the sudo process itself;
    // `sudo -n` fails at once instead of waiting for a password nobody can type.
    let apt = |args: &[&str]| {
        let mut cmd = if sudo {
            let mut c = Command::new("sudo");
            c.args(["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
            c
        } else {
            let mut c = Command::new("apt-get");
            c.env("DEBIAN_FRONTEND", "noninteractive");
            c
        };
        cmd.args(args);
        cmd
    };
    let hint = |e: String| {
        format!(
            "{e}\nInstall the missing packages yourself and run again: apt-get install {}",
            missing.join(" ")
        )
    };
    util::run(&mut apt(&["update", "-qq"])).map_err(hint)?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    util::run(&mut install).map_err(hint)
}

/// `XTASK_NO_INSTALL` set to anything but empty or `0`.
fn no_install() -> bool {
    std::env::var("XTASK_NO_INSTALL").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn names(list: &[(&str, &str)]) -> String {
    list.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", ")
}

/// Installs the Python packages of the SONATA check into the project's environment
/// `target/python` (made with `python3 -m venv` if it is not there): never into the system's
/// Python, whatever its pip would allow. Not fatal: the check then skips (and fails only where
/// BRUNEL_REQUIRE names `sonata`).
fn python_packages() {
    let venv = venv();
    let venv_python = venv.join("bin/python3");
    let imports = Command::new(&venv_python)
        .args(["-c", "import libsonata, h5py, numpy, pytest, maturin"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if imports {
        eprintln!(
            "setup: python packages present in {}: {}",
            venv.display(),
            PYTHON_PACKAGES.join(", ")
        );
        return;
    }
    if no_install() {
        eprintln!(
            "setup: python packages missing in {} ({}); not installing (XTASK_NO_INSTALL)",
            venv.display(),
            PYTHON_PACKAGES.join(", ")
        );
        return;
    }
    eprintln!(
        "setup: installing {} into the project's environment {}",
        PYTHON_PACKAGES.join(", "),
        venv.display()
    );
    let made = if venv_python.exists() {
        Ok(())
    } else {
        util::run(Command::new("python3").arg("-m").arg("venv").arg(&venv))
    };
    let installed = made.and_then(|()| {
        let mut pip = pip_install(&venv_python);
        pip.args(
            PYTHON_PACKAGES
                .iter()
                .map(|p| if *p == "maturin" { MATURIN } else { p }),
        );
        util::run(&mut pip)
    });
    if let Err(e) = installed {
        eprintln!(
            "setup: could not install the python packages into {} ({e}); the SONATA check will skip",
            venv.display()
        );
    }
}

/// `PYTHON -m pip install --quiet --disable-pip-version-check`, to be given what to install.
fn pip_install(python: &std::path::Path) -> Command {
    let mut pip = Command::new(python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]);
    pip
}

/// Builds and installs the Python package `brunel` (crates/brunel-py, with maturin, in release
/// mode: cargo reuses the workspace's build) into [`venv`], so that its pytest suite tests this
/// tree's code. Not fatal: where it fails, the package is uninstalled, so that the suite skips
/// (saying why) instead of testing an older build.
fn python_package() {
    let venv = venv();
    let python = venv.join("bin/python3");
    if !python.exists() {
        return;
    }
    eprintln!(
        "setup: building the Python package {PYTHON_PACKAGE} into {}",
        venv.display()
    );
    // maturin is found on PATH: the environment's bin first.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![venv.join("bin")];
    dirs.extend(std::env::split_paths(&path));
    let mut pip = pip_install(&python);
    pip.args(["--no-build-isolation", "--no-deps", "--force-reinstall"])
        .arg(util::project_root().join(PYTHON_PACKAGE))
        .env("PATH", std::env::join_paths(dirs).unwrap_or(path.clone()));
    if let Err(e) = util::run(&mut pip) {
        eprintln!("setup: could not build the Python package ({e}); its tests will skip");
        let _ = Command::new(&python)
            .args(["-m", "pip", "uninstall", "--quiet", "-y", "brunel"])
            .status();
    }
}
