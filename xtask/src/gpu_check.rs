//! `cargo xtask gpu-check`: the OpenCL backend on a GPU, prepared here and run there.
//!
//! - `cargo xtask gpu-check --prepare DIR` builds here (x86-64, release) and gathers into DIR,
//!   under 64 MiB: the `brunel` binary and the OpenCL test binaries (stripped), the shared
//!   libraries they need that a bare machine may lack (`lib/bundled/`), the Debian OpenCL loader
//!   (`ocl-icd-libopencl1`, unpacked into `opencl-loader/`), the configs, and `run.sh`, which on
//!   the GPU machine runs the check without building anything (see `gpu_check.sh`).
//! - `cargo xtask gpu-check [run.sh options]` prepares into `target/gpu-check` and runs it here,
//!   writing the results under `benches/results/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util;

/// The script the prepared folder runs (written as `DIR/run.sh`).
const RUN_SH: &str = include_str!("gpu_check.sh");

/// The most a prepared folder may weigh.
const MAX_BYTES: u64 = 64 << 20;

/// Test targets of the root package (`brunel-suite`) that exercise the OpenCL backend.
const SUITE_TESTS: &[&str] = &["equivalence", "time_step"];

/// Libraries every glibc system has; the rest of what `ldd` lists is bundled.
const SYSTEM_LIBS: &[&str] = &[
    "linux-vdso.so",
    "ld-linux-x86-64.so",
    "libc.so",
    "libm.so",
    "libdl.so",
    "librt.so",
    "libpthread.so",
    "libresolv.so",
    "libgcc_s.so",
    "libOpenCL.so", // comes from the loader package instead
];

/// `cargo xtask gpu-check [--prepare DIR | run.sh options]`.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(at) = args.iter().position(|a| a == "--prepare") {
        let dir = args
            .get(at + 1)
            .filter(|d| !d.starts_with("--"))
            .ok_or("--prepare needs a folder: cargo xtask gpu-check --prepare DIR")?;
        if args.len() != 2 {
            return Err("--prepare DIR takes no other options (give them to DIR/run.sh)".into());
        }
        let dir = absolute(Path::new(dir))?;
        prepare(&dir)?;
        eprintln!(
            "\ngpu-check: prepared {} ({}). On the GPU machine: {}/run.sh   (options: --allow-cpu, --results DIR, --repeats N)",
            dir.display(),
            size_text(dir_size(&dir)),
            dir.display()
        );
        return Ok(());
    }
    let root = util::project_root();
    let dir = root.join("target/gpu-check");
    prepare(&dir)?;
    let mut cmd = Command::new(dir.join("run.sh"));
    if !args.iter().any(|a| a == "--results") {
        cmd.arg("--results").arg(root.join("benches/results"));
    }
    cmd.args(args);
    util::run(&mut cmd)
}

fn absolute(p: &Path) -> Result<PathBuf, String> {
    if p.is_absolute() {
        Ok(p.to_owned())
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .map_err(|e| format!("cannot read the current folder: {e}"))
    }
}

/// Builds and gathers everything into `dir` (emptied first if it is an earlier prepared folder).
fn prepare(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        let earlier = dir.join("run.sh").exists() && dir.join("MANIFEST.txt").exists();
        let empty = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .next()
            .is_none();
        if !earlier && !empty {
            return Err(format!(
                "{} exists and is not an earlier prepared folder (no run.sh and MANIFEST.txt); give an empty or new folder",
                dir.display()
            ));
        }
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot empty {}: {e}", dir.display()))?;
    }
    let root = util::project_root();
    for sub in ["bin", "tests", "lib/bundled", "configs"] {
        mkdir(&dir.join(sub))?;
    }

    // The binaries, built here.
    copy_stripped(&util::build_brunel()?, &dir.join("bin/brunel"))?;
    let tests = test_binaries()?;
    if !tests
        .iter()
        .any(|(name, _)| name.starts_with("brunel-opencl."))
    {
        return Err("cargo built no test binary of brunel-opencl".into());
    }
    let mut names = Vec::new();
    for (name, exe) in &tests {
        copy_stripped(exe, &dir.join("tests").join(name))?;
        names.push(name.clone());
    }

    // Shared libraries a bare machine may lack.
    let mut bundled = Vec::new();
    let mut binaries = vec![dir.join("bin/brunel")];
    binaries.extend(names.iter().map(|n| dir.join("tests").join(n)));
    for bin in &binaries {
        for (soname, path) in ldd(bin)? {
            if SYSTEM_LIBS.iter().any(|s| soname.starts_with(s)) || bundled.contains(&soname) {
                continue;
            }
            let target = dir.join("lib/bundled").join(&soname);
            std::fs::copy(&path, &target)
                .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
            bundled.push(soname);
        }
    }

    // The OpenCL loader, from Debian's package.
    let loader = opencl_loader(dir)?;

    // The configs the test binaries and the timings read (BRUNEL_CONFIGS).
    for entry in std::fs::read_dir(root.join("configs")).map_err(|e| format!("configs: {e}"))? {
        let path = entry.map_err(|e| format!("configs: {e}"))?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let to = dir
                .join("configs")
                .join(path.file_name().expect("a file name"));
            std::fs::copy(&path, &to).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }

    // The script.
    let script = dir.join("run.sh");
    std::fs::write(&script, RUN_SH).map_err(|e| format!("{}: {e}", script.display()))?;
    set_executable(&script)?;

    let commit = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let dirty = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    let manifest = format!(
        "brunel GPU check, prepared by `cargo xtask gpu-check --prepare`\n\
         commit = {commit}{}\n\
         prepared on = {}\n\
         loader = {loader}\n\
         test binaries = {}\n\
         bundled libraries = {}\n",
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        },
        host(),
        names.join(" "),
        bundled.join(" ")
    );
    std::fs::write(dir.join("MANIFEST.txt"), manifest).map_err(|e| format!("MANIFEST.txt: {e}"))?;

    let size = dir_size(dir);
    if size > MAX_BYTES {
        return Err(format!(
            "the prepared folder {} weighs {}, more than the 64 MiB it may",
            dir.display(),
            size_text(size)
        ));
    }
    eprintln!(
        "gpu-check: {} test binaries ({}), {} bundled libraries, {}",
        names.len(),
        names.join(", "),
        bundled.len(),
        size_text(size)
    );
    Ok(())
}

fn mkdir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("cannot create {}: {e}", p.display()))
}

fn set_executable(p: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", p.display()))
}

/// Copies `from` to `to` without debug information (`strip`), else as it is.
fn copy_stripped(from: &Path, to: &Path) -> Result<(), String> {
    let stripped = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(to)
        .arg(from)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        eprintln!(
            "gpu-check: strip failed or is missing; copying {} as it is",
            from.display()
        );
        std::fs::copy(from, to).map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
    }
    set_executable(to)
}

/// `(name, executable)` of the OpenCL test binaries: every test binary of brunel-opencl, and
/// [`SUITE_TESTS`] of the root package. Names are `package.target`.
fn test_binaries() -> Result<Vec<(String, PathBuf)>, String> {
    let root = util::project_root();
    let mut cmd = util::cargo();
    cmd.args([
        "test",
        "--release",
        "--no-run",
        "--message-format=json",
        "-p",
        "brunel-suite",
        "-p",
        "brunel-opencl",
    ]);
    eprintln!("$ {}", util::show(&cmd));
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err("`cargo test --release --no-run` failed".into());
    }
    let suite_manifest = root.join("Cargo.toml");
    let opencl_manifest = root.join("crates/brunel-opencl/Cargo.toml");
    let mut found = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(artifact) = Artifact::parse(line) else {
            continue;
        };
        let manifest = Path::new(&artifact.manifest);
        let package = if manifest == suite_manifest {
            if artifact.kind != "test" || !SUITE_TESTS.contains(&artifact.name.as_str()) {
                continue;
            }
            "brunel-suite"
        } else if manifest == opencl_manifest {
            if artifact.kind != "test" && artifact.kind != "lib" {
                continue;
            }
            "brunel-opencl"
        } else {
            continue;
        };
        found.push((
            format!("{package}.{}", artifact.name),
            PathBuf::from(artifact.executable),
        ));
    }
    found.sort();
    Ok(found)
}

/// The fields of one `compiler-artifact` line of cargo's JSON that name a test executable.
#[derive(Debug, PartialEq)]
struct Artifact {
    manifest: String,
    kind: String,
    name: String,
    executable: String,
}

impl Artifact {
    /// A test executable's artifact; `None` for any other line. (A string search: cargo writes
    /// these fields without spaces, and paths here need no escapes.)
    fn parse(line: &str) -> Option<Artifact> {
        if !line.contains("\"reason\":\"compiler-artifact\"") {
            return None;
        }
        let profile = line.split("\"profile\":{").nth(1)?.split('}').next()?;
        if !profile.contains("\"test\":true") {
            return None;
        }
        let target = line.split("\"target\":{").nth(1)?;
        Some(Artifact {
            manifest: string_field(line, "manifest_path")?,
            kind: target
                .split("\"kind\":[\"")
                .nth(1)?
                .split('"')
                .next()?
                .to_owned(),
            name: string_field(target, "name")?,
            executable: string_field(line, "executable")?,
        })
    }
}

/// The string value of the first `"key":"value"` in `json`.
fn string_field(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let rest = &json[at..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// `(soname, path)` of the shared libraries `ldd` finds for `bin`.
fn ldd(bin: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| format!("cannot run ldd: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut libs = Vec::new();
    for line in text.lines() {
        if let Some((soname, rest)) = line.trim().split_once(" => ") {
            if rest.starts_with("not found") {
                return Err(format!(
                    "{} needs {soname}, which is not installed here",
                    bin.display()
                ));
            }
            if let Some(path) = rest
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/'))
            {
                libs.push((soname.to_owned(), PathBuf::from(path)));
            }
        }
    }
    Ok(libs)
}

/// Downloads Debian's `ocl-icd-libopencl1` and unpacks it into `dir/opencl-loader`; returns
/// what was put there.
fn opencl_loader(dir: &Path) -> Result<String, String> {
    let debs = dir.join("opencl-loader/deb");
    mkdir(&debs)?;
    let downloaded = Command::new("apt-get")
        .args(["download", "-qq", "ocl-icd-libopencl1"])
        .current_dir(&debs)
        .status()
        .is_ok_and(|s| s.success());
    let deb = std::fs::read_dir(&debs)
        .map_err(|e| format!("{}: {e}", debs.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"));
    let (true, Some(deb)) = (downloaded, deb) else {
        // Offline: this machine's own loader, if it has one.
        let system = Path::new("/usr/lib/x86_64-linux-gnu/libOpenCL.so.1");
        if system.exists() {
            let to = dir.join("opencl-loader/usr/lib/x86_64-linux-gnu");
            mkdir(&to)?;
            std::fs::copy(system, to.join("libOpenCL.so.1"))
                .map_err(|e| format!("cannot copy {}: {e}", system.display()))?;
            eprintln!(
                "gpu-check: `apt-get download ocl-icd-libopencl1` failed; carrying this machine's {} instead",
                system.display()
            );
            return Ok(format!(
                "{} (this machine's; apt-get download failed)",
                system.display()
            ));
        }
        return Err(
            "`apt-get download ocl-icd-libopencl1` failed and this machine has no libOpenCL.so.1: the GPU machine may have no OpenCL loader, so the prepared folder must carry one (on Debian/Ubuntu: `apt-get update`, or install ocl-icd-libopencl1)".into(),
        );
    };
    util::run(
        Command::new("dpkg")
            .arg("-x")
            .arg(&deb)
            .arg(dir.join("opencl-loader")),
    )?;
    let lib = dir.join("opencl-loader/usr/lib/x86_64-linux-gnu/libOpenCL.so.1");
    if !lib.exists() {
        return Err(format!(
            "{} does not hold usr/lib/x86_64-linux-gnu/libOpenCL.so.1",
            deb.display()
        ));
    }
    Ok(deb
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default())
}

fn host() -> String {
    let name = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_owned())
            })
        })
        .unwrap_or_else(|| "unknown system".into());
    format!("{name}, {}", std::env::consts::ARCH)
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

fn size_text(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_executable_is_read_from_cargo_json() {
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///r/crates/brunel-opencl#0.1.0","manifest_path":"/r/crates/brunel-opencl/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"reference","src_path":"/r/crates/brunel-opencl/tests/reference.rs","edition":"2021","doc":false,"doctest":false,"test":true},"profile":{"opt_level":"3","debuginfo":"line-tables-only","debug_assertions":false,"overflow_checks":false,"test":true},"features":[],"filenames":["/r/target/release/deps/reference-3120"],"executable":"/r/target/release/deps/reference-3120","fresh":true}"#;
        assert_eq!(
            Artifact::parse(line),
            Some(Artifact {
                manifest: "/r/crates/brunel-opencl/Cargo.toml".into(),
                kind: "test".into(),
                name: "reference".into(),
                executable: "/r/target/release/deps/reference-3120".into(),
            })
        );
        // An example (profile.test false) and a line without an executable are not tests.
        let example = line.replace(
            r#""overflow_checks":false,"test":true}"#,
            r#""overflow_checks":false,"test":false}"#,
        );
        assert_eq!(Artifact::parse(&example), None);
        assert_eq!(
            Artifact::parse(r#"{"reason":"build-finished","success":true}"#),
            None
        );
    }

    /// The script handed to the GPU machine is valid shell.
    #[test]
    fn run_sh_parses() {
        let dir = std::env::temp_dir().join(format!("xtask-run-sh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("run.sh");
        std::fs::write(&script, RUN_SH).unwrap();
        let status = Command::new("bash").arg("-n").arg(&script).status();
        let _ = std::fs::remove_dir_all(&dir);
        match status {
            Ok(s) => assert!(s.success(), "bash -n run.sh failed"),
            Err(e) => eprintln!("bash not here ({e}); run.sh not parsed"),
        }
    }
}
