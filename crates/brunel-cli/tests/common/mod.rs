//! Running the `brunel` binary in a scratch folder.

#![allow(dead_code)] // each test file uses its own part of this module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long one run of the binary may take in a test before it counts as a hang.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `cmd` (stdin closed) and collects its output; kills it after `limit` and then says so
/// in its stderr (the status is then the kill's: no exit code).
pub fn output_within(mut cmd: Command, limit: Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the brunel binary runs");
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_thread = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_thread = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for brunel") {
            break status;
        }
        if start.elapsed() > limit {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for the killed brunel");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out_thread.join().unwrap_or_default();
    let mut stderr = err_thread.join().unwrap_or_default();
    if timed_out {
        stderr.extend_from_slice(
            format!("\n[test: killed after {} s: it hung]\n", limit.as_secs()).as_bytes(),
        );
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

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

/// 2 500 neurons in an active regime (spikes from the first milliseconds on), every spike
/// recorded.
pub const ACTIVE: &str = "[network]\nn_e = 2000\n[synapse]\nj = 0.5\ng = 4.0\n[input]\nratio = 1.5\n[simulation]\nduration = 60.0\nseed = 3\n[record]\nspikes = \"all\"\n";

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

    /// Runs `brunel ARGS` in the folder with extra environment variables (`BRUNEL_PROFILE` is
    /// [`Scratch::profile`] unless `env` sets it, so that `--backend auto` is hermetic); killed
    /// after [`TIMEOUT`] (a hang is a failure, not a stuck test).
    pub fn brunel_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brunel"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("BRUNEL_PROFILE", self.profile());
        for (k, v) in env {
            cmd.env(k, v);
        }
        output_within(cmd, TIMEOUT)
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
        let rel = path
            .strip_prefix(root)
            .expect("inside the folder")
            .to_owned();
        // Never opened unless it is a regular file: reading a FIFO would block.
        let kind = std::fs::symlink_metadata(&path).map(|m| m.file_type());
        match kind {
            Ok(t) if t.is_dir() => {
                files.insert(rel, b"<folder>".to_vec());
                collect(root, &path, files);
            }
            Ok(t) if t.is_file() => {
                files.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
            Ok(t) => {
                files.insert(rel, format!("<{t:?}>").into_bytes());
            }
            Err(_) => {}
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

/// The Python that runs the SONATA checks: the project's environment `target/python` where
/// `cargo xtask test` or `cargo xtask setup --test-tools` made one, else `python3` from PATH.
pub fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/python/bin/python3");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// Sends signal `sig` to a child process.
pub fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: kill only sends a signal to our own child.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(r, 0, "kill failed");
}

/// Waits (at most 120 s) until `path` exists; a failure if the child ends first.
pub fn wait_for(path: &Path, child: &mut std::process::Child) {
    let start = Instant::now();
    while !path.exists() {
        if let Some(status) = child.try_wait().expect("poll brunel") {
            panic!("brunel ended ({status}) before {}", path.display());
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A dataset of a result file or checkpoint, as f64.
pub fn read_f64(file: &hdf5::File, name: &str) -> Vec<f64> {
    file.dataset(name).unwrap().read_raw::<f64>().unwrap()
}

/// A dataset, as u64.
pub fn read_u64(file: &hdf5::File, name: &str) -> Vec<u64> {
    file.dataset(name).unwrap().read_raw::<u64>().unwrap()
}

/// Asserts that two result files hold the same spikes, rate, statistics and config.
pub fn same_results(a: &Path, b: &Path, what: &str) {
    let (fa, fb) = (hdf5::File::open(a).unwrap(), hdf5::File::open(b).unwrap());
    for name in ["spikes/brunel/timestamps", "population_rate/rate"] {
        let (x, y) = (read_f64(&fa, name), read_f64(&fb, name));
        assert!(!x.is_empty(), "{what}: {name} is empty");
        assert!(
            x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits()),
            "{what}: {name} differs"
        );
    }
    assert_eq!(
        read_u64(&fa, "spikes/brunel/node_ids"),
        read_u64(&fb, "spikes/brunel/node_ids"),
        "{what}: node ids"
    );
    for attr in ["mean_rate_exc", "mean_rate_inh", "mean_cv"] {
        let x: f64 = fa.attr(attr).unwrap().read_scalar().unwrap();
        let y: f64 = fb.attr(attr).unwrap().read_scalar().unwrap();
        assert_eq!(x.to_bits(), y.to_bits(), "{what}: {attr}");
    }
    for attr in ["spikes", "synaptic_events", "steps"] {
        let x: u64 = fa.attr(attr).unwrap().read_scalar().unwrap();
        let y: u64 = fb.attr(attr).unwrap().read_scalar().unwrap();
        assert_eq!(x, y, "{what}: {attr}");
    }
    let config = |f: &hdf5::File| -> String {
        f.attr("config")
            .unwrap()
            .read_scalar::<hdf5::types::VarLenUnicode>()
            .unwrap()
            .as_str()
            .to_owned()
    };
    assert_eq!(config(&fa), config(&fb), "{what}: config");
}

/// Asserts that two checkpoints hold the same state.
pub fn same_state(a: &Path, b: &Path, what: &str) {
    let (fa, fb) = (hdf5::File::open(a).unwrap(), hdf5::File::open(b).unwrap());
    let v = |f: &hdf5::File| {
        read_f64(f, "state/v")
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(v(&fa), v(&fb), "{what}: v");
    let last = |f: &hdf5::File| {
        f.dataset("state/last_spike")
            .unwrap()
            .read_raw::<i64>()
            .unwrap()
    };
    assert_eq!(last(&fa), last(&fb), "{what}: last spikes");
    assert_eq!(
        read_u64(&fa, "state/in_flight_steps"),
        read_u64(&fb, "state/in_flight_steps"),
        "{what}: spikes in flight"
    );
}

/// A 2 MiB tmpfs mounted at `dir` (made), unmounted when dropped, even after a failure.
pub struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    pub fn mount(dir: &Path) -> SmallDisk {
        std::fs::create_dir(dir).expect("the mount point");
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(st.success(), "mount -t tmpfs failed");
        SmallDisk {
            dir: dir.to_owned(),
        }
    }

    /// Fills the disk until about `free` bytes are left.
    pub fn fill_to(&self, free: u64) {
        let c = std::ffi::CString::new(self.dir.to_str().expect("UTF-8")).expect("no NUL");
        // SAFETY: statvfs writes the struct it is given.
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
        let avail = s.f_bavail * s.f_frsize;
        let fill = avail.saturating_sub(free) as usize;
        let name = format!(
            "fill{}",
            std::fs::read_dir(&self.dir).expect("list the disk").count()
        );
        std::fs::write(self.dir.join(name), vec![1u8; fill]).expect("fill the disk");
    }

    pub fn remount_read_only(&self) {
        let st = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.dir)
            .status()
            .expect("mount runs");
        assert!(st.success(), "remount read-only failed");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

impl Scratch {
    /// The command that runs `brunel ARGS` in the folder under a file size limit of `bytes`
    /// (`ulimit -f`), its output not yet redirected.
    pub fn command_with_file_limit(&self, args: &[&str], bytes: u64) -> Command {
        use std::os::unix::process::CommandExt as _;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brunel"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("BRUNEL_PROFILE", self.profile());
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }
}
