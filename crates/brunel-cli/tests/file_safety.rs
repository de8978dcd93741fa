//! Every file brunel writes goes through one layer (src/files.rs): regular files only, never
//! through a link, never over an input of the same command, `--force` to replace, written to a
//! temporary beside the target that a later command can tell from a live writer's (a lock, not a
//! process id), and write errors said in plain words with the old file kept. Each test here is a
//! case a hostile user found that went wrong before.
//!
//! The full-disk and PID-namespace cases need root (a tmpfs mount, `unshare -p`); elsewhere they
//! skip visibly.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ok, signal, stderr, wait_for, Scratch, SmallDisk, TINY};

/// Names of the folder's entries (not recursive), sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list a folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

/// Entries of the folder that are brunel's temporaries or their lock files.
fn litter(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.contains(".brunel-") || n.ends_with(".tmp"))
        .collect()
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().expect("a UTF-8 path")).expect("no NUL");
    // SAFETY: mkfifo reads a NUL-terminated path and nothing else.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no side effects.
    unsafe { libc::geteuid() == 0 }
}

/// `brunel sweep` never replaces an existing CSV beside its --out without --force, never writes
/// through a symbolic or hard link at the CSV's name, and never writes its CSV over its config.
#[test]
fn sweep_keeps_an_existing_csv_links_and_its_config() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    let sweep = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "c.toml",
            "--grid",
            "synapse.g=4,5",
            "--backend",
            "reference",
            "--quiet",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        s.brunel(&args)
    };
    // An existing CSV: refused without --force, kept.
    s.write("s.csv", "mine\n");
    let o = sweep("s.h5", &[]);
    assert!(!o.status.success(), "an existing s.csv was overwritten");
    assert!(
        stderr(&o).contains("s.csv already exists"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(s.path("s.csv")).unwrap(), "mine\n");
    assert!(!s.path("s.h5").exists());
    ok(&sweep("s.h5", &["--force"]), "sweep --force");
    assert!(std::fs::read_to_string(s.path("s.csv"))
        .unwrap()
        .starts_with("synapse.g,"));

    // A symbolic link at the CSV's name: the link is replaced (with --force), its target kept.
    s.write("precious.txt", "keep me\n");
    std::os::unix::fs::symlink("precious.txt", s.path("l.csv")).unwrap();
    let o = sweep("l.h5", &[]);
    assert!(
        !o.status.success(),
        "a link at l.csv was replaced without --force"
    );
    ok(&sweep("l.h5", &["--force"]), "sweep over a link, --force");
    assert_eq!(
        std::fs::read_to_string(s.path("precious.txt")).unwrap(),
        "keep me\n"
    );
    assert!(std::fs::symlink_metadata(s.path("l.csv"))
        .unwrap()
        .file_type()
        .is_file());

    // A hard link of another file: that file is never written.
    s.write("other.txt", "other\n");
    std::fs::hard_link(s.path("other.txt"), s.path("h.csv")).unwrap();
    ok(
        &sweep("h.h5", &["--force"]),
        "sweep over a hard link, --force",
    );
    assert_eq!(
        std::fs::read_to_string(s.path("other.txt")).unwrap(),
        "other\n"
    );

    // A hard link of the config, and the config itself as the CSV: refused even with --force.
    std::fs::hard_link(s.path("c.toml"), s.path("k.csv")).unwrap();
    let o = sweep("k.h5", &["--force"]);
    assert!(!o.status.success(), "the config's hard link was replaced");
    assert!(stderr(&o).contains("name the same file"), "{}", stderr(&o));
    s.write("x.csv", TINY);
    let o = s.brunel(&[
        "sweep",
        "x.csv",
        "--grid",
        "synapse.g=4,5",
        "--backend",
        "reference",
        "--quiet",
        "--out",
        "x.h5",
        "--force",
    ]);
    assert!(!o.status.success(), "sweep x.csv --out x.h5 was accepted");
    assert!(stderr(&o).contains("name the same file"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(s.path("x.csv")).unwrap(), TINY);
    assert_eq!(std::fs::read_to_string(s.path("c.toml")).unwrap(), TINY);
    assert!(litter(s.dir.path()).is_empty(), "{:?}", names(s.dir.path()));
}

/// `brunel network --force` replaces only a folder that `brunel network` wrote and that holds
/// nothing else: another tool's circuit folder and a folder with a user's file added are
/// refused, naming the foreign files, and nothing in them is deleted.
#[test]
fn network_force_replaces_only_its_own_folder() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    // Another tool's circuit.
    std::fs::create_dir_all(s.path("theirs/biophys")).unwrap();
    s.write("theirs/circuit_config.json", "{}\n");
    s.write("theirs/my_model.py", "print('mine')\n");
    s.write("theirs/biophys/cell.json", "{}\n");
    let before = s.snapshot();
    let o = s.brunel(&["network", "c.toml", "--out", "theirs", "--force"]);
    assert!(!o.status.success(), "another tool's folder was replaced");
    assert!(
        stderr(&o).contains("not a network folder written by `brunel network`"),
        "{}",
        stderr(&o)
    );
    assert_eq!(s.snapshot(), before, "another tool's folder changed");

    // Brunel's own folder, with a user's file added.
    ok(&s.brunel(&["network", "c.toml", "--out", "net"]), "network");
    s.write("net/notes.txt", "my notes\n");
    let o = s.brunel(&["network", "c.toml", "--out", "net", "--force"]);
    assert!(!o.status.success(), "a user's file was deleted");
    assert!(
        stderr(&o).contains("did not write (notes.txt)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(s.path("net/notes.txt")).unwrap(),
        "my notes\n"
    );
    // Without it, --force replaces brunel's folder, and nothing is left beside it.
    std::fs::remove_file(s.path("net/notes.txt")).unwrap();
    ok(
        &s.brunel(&[
            "network", "c.toml", "--out", "net", "--force", "--seed", "9",
        ]),
        "network --force",
    );
    assert!(s.path("net/.brunel-network").is_file());
    assert!(litter(s.dir.path()).is_empty(), "{:?}", names(s.dir.path()));
}

/// On a nearly full disk, a checkpoint over a good one and a result file fail with "no space
/// left" in plain words; the good checkpoint is kept byte for byte and no temporary is left.
/// (The checkpoint's write used to end with exit 0 and a truncated file.)
#[test]
fn a_full_disk_keeps_the_old_checkpoint_and_says_so() {
    if !is_root() {
        brunel_testkit::skip(
            "root",
            "a_full_disk_keeps_the_old_checkpoint_and_says_so",
            "mounting a small tmpfs needs root",
        );
        return;
    }
    let s = Scratch::new();
    s.write("c.toml", common::SMALL);
    let disk = SmallDisk::mount(&s.path("small"));
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "c.toml", "--backend", "reference", "--quiet"];
        args.extend_from_slice(extra);
        s.brunel(&args)
    };
    ok(
        &run(&[
            "--checkpoint",
            "small/ck",
            "--out",
            "r.h5",
            "--record",
            "all",
        ]),
        "the good checkpoint",
    );
    let good = std::fs::read(s.path("small/ck")).unwrap();
    disk.fill_to(20_000);
    let o = run(&[
        "--checkpoint",
        "small/ck",
        "--force",
        "--out",
        "r2.h5",
        "--record",
        "all",
    ]);
    assert!(
        !o.status.success(),
        "a checkpoint on a full disk was accepted"
    );
    let e = stderr(&o);
    assert!(
        e.contains("no space left on the device holding small"),
        "{e}"
    );
    assert!(
        std::fs::read(s.path("small/ck")).unwrap() == good,
        "the checkpoint changed"
    );
    assert!(
        litter(&s.path("small")).is_empty(),
        "{:?}",
        names(&s.path("small"))
    );

    // A result file: the same words, not the HDF5 library's.
    let o = run(&["--out", "small/r.h5", "--record", "all"]);
    assert!(!o.status.success(), "a result on a full disk was accepted");
    let e = stderr(&o);
    assert!(
        e.contains("no space left on the device holding small"),
        "{e}"
    );
    assert!(!e.contains("errno") && !e.contains("H5"), "{e}");
    assert!(!s.path("small/r.h5").exists());
    assert!(
        litter(&s.path("small")).is_empty(),
        "{:?}",
        names(&s.path("small"))
    );
    drop(disk);
}

/// A run of a few seconds on the reference backend.
const LONG: &str = "[network]\nn_e = 2000\n[simulation]\nduration = 6000.0\nseed = 5\n";

/// Starts `brunel run long.toml --out OUT --force` (with the test marks in `marks`), through
/// `wrap` (e.g. `unshare`) when given; stderr piped.
fn start_run(s: &Scratch, marks: &Path, out: &str, env: &[(&str, &str)]) -> Child {
    s.write("long.toml", LONG);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brunel"));
    cmd.args([
        "run",
        "long.toml",
        "--backend",
        "reference",
        "--out",
        out,
        "--force",
        "--quiet",
    ])
    .current_dir(s.dir.path())
    .env("BRUNEL_PROFILE", s.profile())
    .env("BRUNEL_TEST_MARK", marks)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("brunel starts")
}

/// Waits at most 120 s for the child; its exit code (None: killed by a signal) and stderr.
fn finish(mut child: Child) -> (Option<i32>, String) {
    use std::io::Read;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll brunel") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("brunel did not end within 120 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status.code(), err)
}

/// A run in another PID namespace to the same --out as a run going on here must not take the
/// running one's temporary file for a dead process's (a process id means nothing across PID
/// namespaces): the running one's lock is seen there too, so the second is refused at once
/// and the first finishes.
#[test]
fn a_run_in_another_pid_namespace_leaves_a_live_temporary_alone() {
    if !is_root() {
        brunel_testkit::skip(
            "root",
            "a_run_in_another_pid_namespace_leaves_a_live_temporary_alone",
            "unshare -p needs root",
        );
        return;
    }
    let s = Scratch::new();
    s.write("tiny.toml", TINY);
    let marks = tempfile::tempdir().expect("a folder for the marks");
    let mut long = start_run(&s, marks.path(), "r2.h5", &[]);
    wait_for(&marks.path().join("running"), &mut long);
    let live: Vec<String> = litter(s.dir.path())
        .into_iter()
        .filter(|n| n.ends_with(".tmp.h5"))
        .collect();
    assert_eq!(live.len(), 1, "{:?}", names(s.dir.path()));
    let o = common::output_within(
        {
            let mut cmd = Command::new("unshare");
            cmd.args(["-p", "-f"])
                .arg(env!("CARGO_BIN_EXE_brunel"))
                .args([
                    "run",
                    "tiny.toml",
                    "--backend",
                    "reference",
                    "--out",
                    "r2.h5",
                    "--force",
                    "--quiet",
                ])
                .current_dir(s.dir.path())
                .env("BRUNEL_PROFILE", s.profile());
            cmd
        },
        common::TIMEOUT,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("r2.h5 is being written by another brunel command"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("removed"), "{}", stderr(&o));
    assert!(
        s.path(&live[0]).exists(),
        "the live run's temporary file was removed"
    );
    assert!(
        long.try_wait().expect("poll").is_none(),
        "the long run ended too early for this test"
    );
    let (code, err) = finish(long);
    assert_eq!(code, Some(0), "the long run failed: {err}");
    assert!(litter(s.dir.path()).is_empty(), "{:?}", names(s.dir.path()));
}

/// What a killed checkpoint write and a killed network write leave behind is removed by the
/// next command writing there: temporaries whose lock nobody holds.
#[test]
fn temporaries_of_killed_checkpoint_and_network_writes_are_removed() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    // A checkpoint write killed (SIGKILL) mid-way: its temporary file and its lock file, which
    // nobody holds; and an older brunel's temporary, without a lock file, of a process that no
    // longer runs.
    s.write(".ck.brunel-4000000.AbCdEfGh.lock", "");
    s.write(".ck.brunel-4000000.AbCdEfGh.tmp", "half a checkpoint");
    s.write(".ck.brunel-4000001.XyZwXyZw.tmp", "half a checkpoint");
    let o = s.brunel(&[
        "run",
        "c.toml",
        "--backend",
        "reference",
        "--checkpoint",
        "ck",
        "--quiet",
    ]);
    ok(&o, "run --checkpoint");
    assert!(
        stderr(&o).contains("a temporary file left by brunel process 4000000"),
        "{}",
        stderr(&o)
    );
    assert!(litter(s.dir.path()).is_empty(), "{:?}", names(s.dir.path()));

    // A network write killed with SIGKILL while its folder is being written.
    let big = "[network]\nn_e = 6000\n[simulation]\nseed = 2\n";
    s.write("big.toml", big);
    let mut child = s
        .command(&["network", "big.toml", "--out", "net"])
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if names(s.dir.path())
            .iter()
            .any(|n| n.starts_with(".net.") && n.ends_with(".tmp"))
        {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "brunel network ended before its folder was written"
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no temporary folder appeared"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    assert!(
        !litter(s.dir.path()).is_empty(),
        "nothing was left to clean up"
    );
    let o = s.brunel(&["network", "c.toml", "--out", "net"]);
    ok(&o, "the next network");
    assert!(litter(s.dir.path()).is_empty(), "{:?}", names(s.dir.path()));
}

/// SIGHUP (a closed terminal) stops `brunel run` as SIGTERM does: a message, exit 129, no
/// temporary file, the earlier result kept.
#[test]
fn sighup_stops_a_run_cleanly() {
    let s = Scratch::new();
    s.write("tiny.toml", TINY);
    ok(
        &s.brunel(&[
            "run",
            "tiny.toml",
            "--backend",
            "reference",
            "--out",
            "r.h5",
            "--quiet",
        ]),
        "the earlier result",
    );
    let earlier = std::fs::read(s.path("r.h5")).unwrap();
    let marks = tempfile::tempdir().expect("a folder for the marks");
    let mut child = start_run(
        &s,
        marks.path(),
        "r.h5",
        &[("BRUNEL_TEST_PAUSE", "running")],
    );
    wait_for(&marks.path().join("running"), &mut child);
    signal(&child, libc::SIGHUP);
    let (code, err) = finish(child);
    assert_eq!(code, Some(129), "{err}");
    assert!(err.contains("SIGHUP"), "{err}");
    assert!(std::fs::read(s.path("r.h5")).unwrap() == earlier);
    assert!(litter(s.dir.path()).is_empty(), "{:?}", names(s.dir.path()));
}

/// Runs `brunel ARGS` in the folder under a file size limit of `bytes` (`ulimit -f`).
fn with_file_limit(s: &Scratch, args: &[&str], bytes: u64) -> std::process::Output {
    common::output_within(s.command_with_file_limit(args, bytes), common::TIMEOUT)
}

/// A file size limit (`ulimit -f`) below what a run writes used to kill it (SIGXFSZ) with no
/// message, leaving its temporary file; now the write fails, is reported in plain words, and
/// nothing is left; the earlier result and checkpoint are kept.
#[test]
fn a_file_size_limit_is_reported_and_leaves_nothing() {
    let s = Scratch::new();
    s.write("c.toml", common::ACTIVE);
    // The streamed result file.
    let o = with_file_limit(
        &s,
        &[
            "run",
            "c.toml",
            "--backend",
            "reference",
            "--out",
            "r.h5",
            "--quiet",
        ],
        60_000,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("file too large"), "{}", stderr(&o));
    assert!(!s.path("r.h5").exists());
    assert!(litter(s.dir.path()).is_empty(), "{:?}", names(s.dir.path()));
    // A checkpoint over a good one.
    ok(
        &s.brunel(&[
            "run",
            "c.toml",
            "--backend",
            "reference",
            "--out",
            "a.h5",
            "--checkpoint",
            "ck",
            "--quiet",
        ]),
        "the good checkpoint",
    );
    let good = std::fs::read(s.path("ck")).unwrap();
    let o = with_file_limit(
        &s,
        &[
            "run",
            "c.toml",
            "--backend",
            "reference",
            "--out",
            "b.h5",
            "--checkpoint",
            "ck",
            "--force",
            "--quiet",
        ],
        good.len() as u64 / 2,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("file too large"), "{}", stderr(&o));
    assert!(
        std::fs::read(s.path("ck")).unwrap() == good,
        "the checkpoint changed"
    );
    assert!(litter(s.dir.path()).is_empty(), "{:?}", names(s.dir.path()));
}

/// `brunel resume` refuses before rebuilding anything when its checkpoint's folder is not
/// writable (it checkpoints there again) or when --out is a dangling symbolic link without
/// --force.
#[test]
fn resume_refuses_unwritable_outputs_before_building() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    // Root writes into a folder of mode 0555: a read-only mount stands in for it there.
    let disk = is_root().then(|| SmallDisk::mount(&s.path("ro")));
    if disk.is_none() {
        std::fs::create_dir(s.path("ro")).unwrap();
    }
    ok(
        &s.brunel(&[
            "run",
            "c.toml",
            "--backend",
            "reference",
            "--out",
            "a.h5",
            "--checkpoint",
            "ro/ck",
            "--quiet",
        ]),
        "the checkpoint",
    );
    match &disk {
        Some(d) => d.remount_read_only(),
        None => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(s.path("ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
        }
    }
    let o = s.brunel(&["resume", "ro/ck", "--out", "b.h5", "--backend", "reference"]);
    assert!(!o.status.success(), "resume into a read-only folder ran");
    let e = stderr(&o);
    assert!(
        !e.contains("resuming at"),
        "it rebuilt the network first: {e}"
    );
    assert!(e.contains("ro/ck"), "{e}");
    assert!(!s.path("b.h5").exists());
    if disk.is_none() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(s.path("ro"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    drop(disk);

    // --out a dangling symbolic link, without --force.
    ok(
        &s.brunel(&[
            "run",
            "c.toml",
            "--backend",
            "reference",
            "--out",
            "c.h5",
            "--checkpoint",
            "ck",
            "--quiet",
        ]),
        "a checkpoint in a writable folder",
    );
    std::os::unix::fs::symlink("nowhere/x.h5", s.path("dangling.h5")).unwrap();
    let o = s.brunel(&[
        "resume",
        "ck",
        "--out",
        "dangling.h5",
        "--backend",
        "reference",
    ]);
    assert!(!o.status.success(), "resume over a dangling link ran");
    let e = stderr(&o);
    assert!(e.contains("dangling.h5 already exists"), "{e}");
    assert!(
        !e.contains("resuming at"),
        "it rebuilt the network first: {e}"
    );
    assert!(std::fs::symlink_metadata(s.path("dangling.h5"))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// A FIFO or a socket where brunel writes a figure, the machine profile or the theory's output
/// is refused and left as it was, never replaced by a regular file.
#[test]
fn special_files_are_never_replaced() {
    let s = Scratch::new();
    s.write("c.toml", TINY);
    ok(
        &s.brunel(&[
            "run",
            "c.toml",
            "--backend",
            "reference",
            "--out",
            "r.h5",
            "--quiet",
        ]),
        "a result",
    );
    mkfifo(&s.path("fifo.png"));
    let refused = |o: &std::process::Output, what: &str| {
        assert!(!o.status.success(), "{what} was accepted");
        assert!(
            stderr(o).contains("not a regular file"),
            "{what}: {}",
            stderr(o)
        );
        assert!(
            is_fifo(&s.path("fifo.png")),
            "{what}: the FIFO was replaced"
        );
    };
    refused(
        &s.brunel(&["plot", "r.h5", "-o", "fifo.png"]),
        "plot -o fifo.png",
    );
    let o = s.brunel(&[
        "sweep",
        "c.toml",
        "--grid",
        "synapse.g=4,5",
        "--backend",
        "reference",
        "--quiet",
        "--out",
        "s.h5",
        "--plot",
        "fifo.png",
    ]);
    refused(&o, "sweep --plot fifo.png");
    assert!(!s.path("s.h5").exists(), "the sweep ran before refusing");
    let o = s.brunel_env(
        &["profile", "write", "--size", "n=1000,backend=reference"],
        &[("BRUNEL_PROFILE", "fifo.png")],
    );
    refused(&o, "profile write to a FIFO");
    refused(
        &s.brunel(&["theory", "c.toml", "--out", "fifo.png"]),
        "theory --out a FIFO",
    );
    let _socket = std::os::unix::net::UnixListener::bind(s.path("sock.txt")).expect("a socket");
    let o = s.brunel(&["theory", "c.toml", "--out", "sock.txt"]);
    assert!(!o.status.success(), "theory --out a socket was accepted");
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(s.path("sock.txt"))
        .unwrap()
        .file_type()
        .is_socket());
}
