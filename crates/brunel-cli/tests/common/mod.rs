//! Running the `brunel` binary in a scratch folder.

#![allow(dead_code)] // each test file uses its own part of this module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A valid config small enough for a debug build: 50 neurons, 5 ms.
pub const TINY: &str = r#"
[network]
n_e = 40
[simulation]
duration = 5.0
seed = 3
[plot]
title = "tiny"
"#;

/// A few hundred neurons firing for 50 ms: enough spikes to check a file with.
pub const SMALL: &str = r#"
[network]
n_e = 400
[simulation]
duration = 50.0
seed = 11
[plot]
title = "small: g=5, ν_ext/ν_thr=2"
"#;

/// A scratch folder the binary runs in.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write a scratch file");
        p
    }

    /// Where `brunel` looks for the machine profile in these tests: a file of this folder that
    /// does not exist unless a test writes it, never the profile of whoever runs the tests.
    pub fn profile(&self) -> PathBuf {
        self.path("machine-profile.toml")
    }

    /// Runs `brunel ARGS` in the folder with extra environment variables. `BRUNEL_PROFILE` is
    /// [`Scratch::profile`] unless `env` sets it, so that `--backend auto` is hermetic.
    /// The command that runs the binary here with `args` (for tests that start and stop it).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brunel"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("BRUNEL_PROFILE", self.profile())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    }

    pub fn brunel_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brunel"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("BRUNEL_PROFILE", self.profile());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("the brunel binary runs")
    }

    pub fn brunel(&self, args: &[&str]) -> Output {
        self.brunel_env(args, &[])
    }

    /// Every file of the folder (recursively) with its contents.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut files = BTreeMap::new();
        collect(self.dir.path(), self.dir.path(), &mut files);
        files
    }
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).expect("list a scratch folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let rel = path
                .strip_prefix(root)
                .expect("inside the folder")
                .to_owned();
            files.insert(rel, std::fs::read(&path).unwrap_or_default());
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}
