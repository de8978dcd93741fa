//! The whole test suite: set-up (with the test tools), the repository check, a look at the
//! devices, then every test in release mode, and a summary of what passed and what was skipped.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{setup, tidy, util};

/// The log the suite's tests append to (env `BRUNEL_TEST_LOG`), under `target/`.
const LOG: &str = "target/brunel-test-log.tsv";

/// `cargo xtask test [extra cargo test arguments]`.
pub fn run(extra: &[String]) -> Result<(), String> {
    setup::run_for(setup::Tools::Test)?;
    // The repository check first; its failure is reported, and fails the task, after the tests.
    // It builds the release brunel to render the CLI reference: the build below is then a no-op.
    let tidy = tidy::run();
    if let Err(e) = &tidy {
        eprintln!("{e}");
    }
    // Say what this machine offers before testing it (wgpu's xtask does the same).
    let brunel = util::build_brunel()?;
    if let Err(e) = util::run(std::process::Command::new(&brunel).arg("backends")) {
        eprintln!("test: could not list backends: {e}");
    }
    match std::env::var("BRUNEL_REQUIRE") {
        Ok(r) if !r.is_empty() => eprintln!("test: required (a skip fails): {r}"),
        _ => eprintln!("test: BRUNEL_REQUIRE not set: absent backends are skipped with a reason"),
    }
    let log = util::project_root().join(LOG);
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&log, "").map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let tests = util::run(
        util::cargo()
            .args(["test", "--workspace", "--release"])
            .args(util::mpi_features(true))
            .args(extra)
            .env("BRUNEL_TEST_LOG", &log)
            // The unit tests write and read HDF5 files in one process, many threads at once: a
            // read has intermittently found the file it just wrote locked ("unable to lock
            // file, errno = 11") in a fresh-clone CI run. Until that is understood, the test
            // processes do not take HDF5's advisory file locks (the program itself still does).
            .env("HDF5_USE_FILE_LOCKING", "FALSE"),
    );
    let python = python_suite(&brunel, &log);
    // Printed whether the tests passed or not.
    match std::fs::read_to_string(&log) {
        Ok(text) => eprintln!("\n{}", summary(&text, &log)),
        Err(e) => eprintln!("\ntest: cannot read {}: {e}", log.display()),
    }
    tests?;
    python?;
    tidy.map_err(|_| "the tests passed, but the repository check (tidy) failed; see above".into())
}

/// The Python package's pytest suite (`crates/brunel-py/tests`), run with the project's
/// environment (where `setup --test-tools` installed the package), against the release
/// `brunel`. Without the package or pytest it skips under the name `python` (a failure when
/// BRUNEL_REQUIRE names `python`).
fn python_suite(brunel: &Path, log: &Path) -> Result<(), String> {
    let python = setup::venv().join("bin/python3");
    let ready = std::process::Command::new(&python)
        .args(["-c", "import brunel, pytest"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ready {
        let reason = format!(
            "{} lacks the package brunel or pytest (cargo xtask setup --test-tools installs them; see its messages)",
            python.display()
        );
        let required = std::env::var("BRUNEL_REQUIRE")
            .unwrap_or_default()
            .split(',')
            .any(|r| r.trim() == "python");
        if required {
            return Err(format!(
                "`python` is required (BRUNEL_REQUIRE) but the Python suite cannot run: {reason}"
            ));
        }
        eprintln!("SKIPPED python pytest suite: {reason}");
        let line = format!("skipped\tpython\tpytest suite\t{reason}\n");
        let _ = std::fs::OpenOptions::new()
            .append(true)
            .open(log)
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
        return Ok(());
    }
    eprintln!(
        "test: the Python package's suite (pytest, {})",
        python.display()
    );
    util::run(
        std::process::Command::new(&python)
            .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
            .arg(
                util::project_root()
                    .join(setup::PYTHON_PACKAGE)
                    .join("tests"),
            )
            .env("BRUNEL_TEST_LOG", log)
            .env("BRUNEL_BIN", brunel)
            .env("BRUNEL_CONFIGS", util::project_root().join("configs")),
    )
}

/// Per name (a backend such as `cpu`, a check such as `sonata`): tests passed and skipped.
#[derive(Debug, Default)]
struct Counts {
    passed: usize,
    skipped: usize,
}

/// The summary of the log's lines `passed|skipped<TAB>NAME<TAB>TEST<TAB>REASON`.
fn summary(text: &str, log: &Path) -> String {
    let mut counts: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut skips = Vec::new();
    let mut unreadable = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.splitn(4, '\t');
        let (status, name, test) = match (fields.next(), fields.next(), fields.next()) {
            (Some(s), Some(n), Some(t)) if !n.is_empty() => (s, n, t),
            _ => {
                unreadable.push(line);
                continue;
            }
        };
        let reason = fields.next().unwrap_or("").trim();
        match status {
            "passed" => counts.entry(name).or_default().passed += 1,
            "skipped" => {
                counts.entry(name).or_default().skipped += 1;
                skips.push((name, test, reason));
            }
            _ => unreadable.push(line),
        }
    }
    let mut out = format!("test: backends and checks ({}):\n", log.display());
    if counts.is_empty() {
        out.push_str("  no test reported to the log (BRUNEL_TEST_LOG)\n");
    }
    let width = counts.keys().map(|n| n.len()).max().unwrap_or(0);
    for (name, c) in &counts {
        out.push_str(&format!(
            "  {name:<width$}  {} passed, {} skipped\n",
            c.passed, c.skipped
        ));
    }
    if skips.is_empty() {
        if !counts.is_empty() {
            out.push_str("test: nothing was skipped\n");
        }
    } else {
        out.push_str(&format!("test: {} skipped:\n", skips.len()));
        for (name, test, reason) in &skips {
            let reason = if reason.is_empty() {
                "(no reason given)"
            } else {
                reason
            };
            out.push_str(&format!("  {name:<width$}  {test}: {reason}\n"));
        }
    }
    if !unreadable.is_empty() {
        out.push_str(&format!(
            "test: {} line(s) of the log are not `passed|skipped<TAB>NAME<TAB>TEST<TAB>REASON`:\n",
            unreadable.len()
        ));
        for l in &unreadable {
            out.push_str(&format!("  {l}\n"));
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_per_name_and_lists_every_skip() {
        let log = "passed\tcpu\tpanel_a\t\n\
                   passed\tcpu\tpanel_b\t\n\
                   skipped\topencl\tpanel_a\tno OpenCL device with fp64\n\
                   passed\topencl\ttime_step\t\n\
                   skipped\tsonata\tlibsonata_reads_the_result\tpython3 lacks libsonata\n";
        let s = summary(log, Path::new("log.tsv"));
        assert!(s.contains("cpu     2 passed, 0 skipped"), "{s}");
        assert!(s.contains("opencl  1 passed, 1 skipped"), "{s}");
        assert!(s.contains("sonata  0 passed, 1 skipped"), "{s}");
        assert!(s.contains("test: 2 skipped:"), "{s}");
        assert!(
            s.contains("opencl  panel_a: no OpenCL device with fp64"),
            "{s}"
        );
        assert!(
            s.contains("sonata  libsonata_reads_the_result: python3 lacks libsonata"),
            "{s}"
        );
        assert!(!s.contains("nothing was skipped"), "{s}");
    }

    #[test]
    fn nothing_skipped_and_an_empty_log_say_so() {
        let s = summary("passed\tcpu\tx\t\n", Path::new("log.tsv"));
        assert!(s.contains("test: nothing was skipped"), "{s}");
        let s = summary("", Path::new("log.tsv"));
        assert!(s.contains("no test reported to the log"), "{s}");
        assert!(!s.contains("nothing was skipped"), "{s}");
    }

    #[test]
    fn malformed_lines_are_shown_not_dropped() {
        let s = summary(
            "passed\tcpu\tx\t\nbogus line\nfailed\tcpu\ty\t\n",
            Path::new("l"),
        );
        assert!(s.contains("2 line(s) of the log"), "{s}");
        assert!(s.contains("  bogus line"), "{s}");
        assert!(s.contains("cpu  1 passed, 0 skipped"), "{s}");
    }
}
