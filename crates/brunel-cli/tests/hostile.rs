//! What a hostile user tried beside `brunel run`: outputs that name an input of the same command
//! (directly, through a symbolic or a hard link), FIFOs as inputs, and theory inputs that once
//! sent the Siegert solver spinning. Each must end promptly with a clear message and leave every
//! file as it was.

mod common;

use std::time::{Duration, Instant};

use common::{ok, stderr, Scratch, ACTIVE};

/// `brunel theory CONFIG --out CONFIG`, by the same name, through a symbolic link and through a
/// hard link, with and without `--grid`: refused, and the config is untouched.
#[test]
fn theory_never_writes_over_its_config() {
    let s = Scratch::new();
    s.write("c.toml", ACTIVE);
    std::os::unix::fs::symlink("c.toml", s.path("sym.toml")).expect("a symbolic link");
    std::fs::hard_link(s.path("c.toml"), s.path("hard.toml")).expect("a hard link");
    for out in ["c.toml", "./c.toml", "sym.toml", "hard.toml"] {
        for grid in [&[][..], &["--grid", "synapse.g=4,5"][..]] {
            let mut args = vec!["theory", "c.toml", "--out", out];
            args.extend_from_slice(grid);
            let o = s.brunel(&args);
            assert!(!o.status.success(), "--out {out} {grid:?} was accepted");
            assert!(
                stderr(&o).contains("name the same file"),
                "--out {out}: {}",
                stderr(&o)
            );
            assert_eq!(
                std::fs::read_to_string(s.path("c.toml")).expect("the config"),
                ACTIVE,
                "--out {out} {grid:?} changed the config"
            );
        }
    }
    // Another file is written as before.
    ok(
        &s.brunel(&["theory", "c.toml", "--out", "t.txt"]),
        "theory --out t.txt",
    );
    assert!(std::fs::read_to_string(s.path("t.txt"))
        .expect("the output")
        .contains("nu0"));
}

/// A FIFO as the config of `brunel theory` is refused at once instead of blocking on the read.
#[test]
fn theory_refuses_a_fifo_as_its_config() {
    let s = Scratch::new();
    let fifo = s.path("c.toml");
    let c = std::ffi::CString::new(fifo.to_str().expect("a UTF-8 path")).expect("no NUL");
    // SAFETY: mkfifo reads a NUL-terminated path and nothing else.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let t = Instant::now();
    let o = s.brunel(&["theory", "c.toml"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
}

/// Drives from 10⁻¹⁴ down to 10⁻³²⁰ of the threshold rate once never returned: now the theory
/// answers (a silent network) within seconds, alone and over a grid.
#[test]
fn theory_of_an_almost_silent_drive_finishes() {
    let s = Scratch::new();
    s.write("c.toml", ACTIVE);
    for ratio in ["1e-14", "1e-100", "1e-320"] {
        let t = Instant::now();
        let set = format!("input.ratio={ratio}");
        let out = ok(
            &s.brunel(&["theory", "c.toml", "--set", &set]),
            &format!("theory at {set}"),
        );
        assert!(out.contains("nu0 = 0.00 Hz"), "{set}: {out}");
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{set}: {:?}",
            t.elapsed()
        );
    }
    ok(
        &s.brunel(&[
            "theory",
            "c.toml",
            "--grid",
            "input.ratio=1e-300,1e-14,1e-3,1,2",
        ]),
        "the theory over a grid of tiny drives",
    );
}
