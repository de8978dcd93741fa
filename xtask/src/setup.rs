//! System packages: checked, and on Debian/Ubuntu installed with apt-get.

use std::process::Command;

use crate::util;

/// Debian packages the build and the tests need, with what each is for.
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
        "python3-venv",
        "a Python environment for the SONATA reader check, where system pip refuses",
    ),
];

/// Python packages of the SONATA reader check (tests read our HDF5 with libsonata).
pub const PYTHON_PACKAGES: &[&str] = &["libsonata", "h5py", "numpy"];

/// Checks and installs what is missing.
pub fn run() -> Result<(), String> {
    system_packages()?;
    python_packages();
    Ok(())
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

fn system_packages() -> Result<(), String> {
    if !is_debian() {
        let list: Vec<String> = PACKAGES
            .iter()
            .map(|(p, why)| format!("  {p}: {why}"))
            .collect();
        return Err(format!(
            "this is not Debian or Ubuntu, so xtask cannot install the system packages itself.\n\
             Install the equivalents of these Debian packages, then run again:\n{}",
            list.join("\n")
        ));
    }
    let missing: Vec<&str> = PACKAGES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        eprintln!("setup: system packages present: {}", names(PACKAGES));
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

/// Installs the Python packages of the SONATA check where Python is there: with pip into the
/// Python on PATH, or, where that pip refuses (Debian's externally managed Python, PEP 668),
/// into the project's own environment `target/python`, which the check prefers. Not fatal: the
/// check then skips (and fails only where BRUNEL_REQUIRE names `sonata`).
fn python_packages() {
    let venv = util::project_root().join("target/python");
    let venv_python = venv.join("bin/python3");
    let imports = |python: &std::path::Path| {
        Command::new(python)
            .args(["-c", "import libsonata, h5py, numpy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if imports(&venv_python) || imports(std::path::Path::new("python3")) {
        eprintln!(
            "setup: python packages present: {}",
            PYTHON_PACKAGES.join(", ")
        );
        return;
    }
    if no_install() {
        eprintln!(
            "setup: python packages missing ({}); not installing",
            PYTHON_PACKAGES.join(", ")
        );
        return;
    }
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "install", "--quiet"])
        .args(PYTHON_PACKAGES);
    if util::run(&mut pip).is_ok() && imports(std::path::Path::new("python3")) {
        return;
    }
    eprintln!(
        "setup: the system pip did not install them; using the environment {}",
        venv.display()
    );
    let made = util::run(Command::new("python3").arg("-m").arg("venv").arg(&venv)).and_then(|()| {
        let mut pip = Command::new(&venv_python);
        pip.args(["-m", "pip", "install", "--quiet"])
            .args(PYTHON_PACKAGES);
        util::run(&mut pip)
    });
    if let Err(e) = made {
        eprintln!("setup: could not install the python packages ({e}); the SONATA check will skip");
    }
}
