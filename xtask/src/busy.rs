//! `cargo xtask bench --busy`: the cpu backend on a machine that is not quiet. The same runs
//! (panel C, and the network scaled to N = 125 000) on one thread and on all cores, first on
//! the quiet machine, then with one competing busy process that the bench starts itself
//! (`sh -c 'while :; do :; done'`), once free to run on any core and once pinned to core 0
//! with `taskset -c 0`; the table puts the loads side by side. The busy process is bounded in
//! time (`timeout`) and ended by the bench as soon as its load's runs are done.
//!
//! Each figure is the run phase as `brunel run` times it (`run_seconds` of its `--summary`),
//! the median of `repeats` runs after one warm-up; under each load the 1-thread and the
//! all-cores runs alternate, so that both see the same machine.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::util;

/// The longest a busy process may live (seconds), whatever happens to the bench.
const BUSY_LIMIT_S: u32 = 1800;

/// A competing load.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Load {
    Quiet,
    /// One busy process, any core.
    Busy,
    /// One busy process on core 0.
    Pinned,
}

impl Load {
    fn label(self) -> &'static str {
        match self {
            Load::Quiet => "quiet",
            Load::Busy => "1 busy process",
            Load::Pinned => "1 busy process on core 0",
        }
    }
}

/// One simulation: a name and `brunel run` arguments.
struct Workload {
    name: String,
    config: &'static str,
    sets: Vec<String>,
}

/// One figure of the table.
struct Cell {
    workload: String,
    load: Load,
    threads: &'static str,
    runs: Vec<f64>,
    used: String,
}

/// `cargo xtask bench --busy [--quick] [--repeats N]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut quick = false;
    let mut repeats = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--repeats" => repeats = Some(util::repeats_value(&mut it)?),
            other => {
                return Err(format!(
                    "bench --busy: unknown option `{other}` (options: --quick, --repeats N)"
                ))
            }
        }
    }
    let repeats = repeats.unwrap_or(if quick { 2 } else { 3 });
    let brunel = util::release_brunel()?;
    let root = util::project_root();
    let scratch = root.join("out/bench-busy");
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        eprintln!("bench --busy: this machine has one core; the all-cores runs are 1-thread runs");
    }
    let mut loads = vec![Load::Quiet, Load::Busy];
    if has_taskset() {
        loads.push(Load::Pinned);
    } else {
        eprintln!("bench --busy: no `taskset` here (util-linux): the pinned load is left out");
    }
    let mut workloads = vec![Workload {
        name: format!("fig8_c {} ms", if quick { 300 } else { 1200 }),
        config: "configs/fig8_c.toml",
        sets: if quick {
            vec!["simulation.duration=300".into()]
        } else {
            vec![]
        },
    }];
    if !quick {
        workloads.push(Workload {
            name: "N=125000 300 ms".into(),
            config: "configs/fig8_c.toml",
            sets: vec![
                "network.n_e=100000".into(),
                "network.epsilon=0.01".into(),
                "simulation.duration=300".into(),
            ],
        });
    }

    let start_load = uptime();
    let mut cells = Vec::new();
    for &load in &loads {
        let busy = match load {
            Load::Quiet => None,
            Load::Busy => Some(Busy::start(false)?),
            Load::Pinned => Some(Busy::start(true)?),
        };
        for w in &workloads {
            eprintln!(
                "bench --busy: {} under load `{}` (1 + {repeats} runs each)",
                w.name,
                load.label()
            );
            let mut one = Vec::new();
            let mut all = Vec::new();
            let mut used = (String::new(), String::new());
            for i in 0..=repeats {
                for (threads, runs, used) in
                    [("1", &mut one, &mut used.0), ("0", &mut all, &mut used.1)]
                {
                    let s = measure(&brunel, &root, &scratch, w, threads)?;
                    if i > 0 {
                        runs.push(number(&s, "run_seconds")?);
                    }
                    *used = s.get("threads").cloned().unwrap_or_default();
                }
            }
            cells.push(Cell {
                workload: w.name.clone(),
                load,
                threads: "1",
                runs: one,
                used: used.0,
            });
            cells.push(Cell {
                workload: w.name.clone(),
                load,
                threads: "0",
                runs: all,
                used: used.1,
            });
        }
        drop(busy);
    }
    let end_load = uptime();

    let table = table(&cells, &workloads, &loads);
    println!("\n{table}");
    let date = capture(Command::new("date").args(["-u", "+%Y-%m-%d"]))
        .unwrap_or_else(|| "unknown-date".into());
    let dir = root.join("benches/results").join(format!(
        "{date}-{}-busy{}",
        slug(&cpu_model(), cores),
        if quick { "-quick" } else { "" }
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write(&dir.join("busy.csv"), &csv(&cells))?;
    let command = format!(
        "cargo xtask bench --busy{}",
        if quick { " --quick" } else { "" }
    );
    write(
        &dir.join("summary.md"),
        &format!(
            "# `{command}`, {date}\n\n{}, {cores} cores. Load before: `{start_load}`; after: `{end_load}`.\n\n\
             Run phase as timed by `brunel run` (`--backend cpu --record none`), median of {repeats} \
             runs after one warm-up, spread min to max; under each load the 1-thread and the \
             all-cores (`--threads 0`) runs alternate. The busy process is `sh -c 'while :; do :; done'`, \
             free or pinned with `taskset -c 0`.\n\n{table}\n",
            cpu_model()
        ),
    )?;
    eprintln!("bench --busy: results in {}", dir.display());
    Ok(())
}

/// The competing busy process; ended when dropped.
struct Busy {
    child: Child,
}

impl Busy {
    /// `timeout BUSY_LIMIT_S [taskset -c 0] sh -c 'while :; do :; done'`.
    fn start(pinned: bool) -> Result<Busy, String> {
        let mut cmd = Command::new("timeout");
        cmd.arg(BUSY_LIMIT_S.to_string());
        if pinned {
            cmd.args(["taskset", "-c", "0"]);
        }
        cmd.args(["sh", "-c", "while :; do :; done"])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        eprintln!(
            "$ timeout {BUSY_LIMIT_S} {}sh -c 'while :; do :; done' &",
            if pinned { "taskset -c 0 " } else { "" }
        );
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the busy process `{}`: {e}", util::show(&cmd)))?;
        Ok(Busy { child })
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        // SIGTERM to `timeout`, which passes it on to the loop (a SIGKILL would leave the loop
        // running until the time limit).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn has_taskset() -> bool {
    Command::new("taskset")
        .args(["-c", "0", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One `brunel run` of the cpu backend on `threads` threads; its summary.
fn measure(
    brunel: &Path,
    root: &Path,
    scratch: &Path,
    w: &Workload,
    threads: &str,
) -> Result<BTreeMap<String, String>, String> {
    let summary = scratch.join("summary.toml");
    let mut cmd = Command::new(brunel);
    cmd.current_dir(root)
        .args(["run", w.config, "--backend", "cpu", "--record", "none"])
        .args(["--force", "--quiet", "--threads", threads])
        .arg("--out")
        .arg(scratch.join("bench.h5"))
        .arg("--summary")
        .arg(&summary);
    for s in &w.sets {
        cmd.args(["--set", s]);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", util::show(&cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed: {}",
            util::show(&cmd),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = std::fs::read_to_string(&summary)
        .map_err(|e| format!("cannot read {}: {e}", summary.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect())
}

fn number(map: &BTreeMap<String, String>, key: &str) -> Result<f64, String> {
    map.get(key)
        .and_then(|v| v.parse().ok())
        .ok_or(format!("the summary has no number `{key}`"))
}

/// One row per workload and load: 1 thread, all cores, and their ratio.
fn table(cells: &[Cell], workloads: &[Workload], loads: &[Load]) -> String {
    let mut s = String::from(
        "| workload | load | cpu, 1 thread (s) | cpu, `--threads 0` (s) | threads used | `--threads 0` ÷ 1 thread |\n\
         |---|---|---|---|---|---|\n",
    );
    for w in workloads {
        for &load in loads {
            let find = |threads: &str| {
                cells
                    .iter()
                    .find(|c| c.workload == w.name && c.load == load && c.threads == threads)
            };
            let (Some(one), Some(all)) = (find("1"), find("0")) else {
                continue;
            };
            let spread = |c: &Cell| {
                let lo = c.runs.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = c.runs.iter().copied().fold(0.0, f64::max);
                format!("{:.3} ({lo:.3}–{hi:.3})", util::median(&c.runs))
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:.2} |",
                w.name,
                load.label(),
                spread(one),
                spread(all),
                all.used,
                util::median(&all.runs) / util::median(&one.runs)
            );
        }
    }
    s
}

fn csv(cells: &[Cell]) -> String {
    let mut s = String::from("workload,load,threads_asked,threads_used,run_s_median,runs\n");
    for c in cells {
        let _ = writeln!(
            s,
            "\"{}\",\"{}\",{},{},{:.6},\"{}\"",
            c.workload,
            c.load.label(),
            c.threads,
            c.used,
            util::median(&c.runs),
            c.runs
                .iter()
                .map(|x| format!("{x:.6}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    s
}

fn write(path: &PathBuf, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".into(), |(_, v)| v.trim().to_owned())
}

/// `intel-xeon-2c`: the CPU model's words in lower case (a few), and the core count.
fn slug(cpu: &str, cores: usize) -> String {
    let words: Vec<String> = cpu
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_lowercase)
        .filter(|w| !w.is_empty() && !["processor", "cpu", "r", "tm", "with"].contains(&w.as_str()))
        .take(4)
        .collect();
    format!("{}-{cores}c", words.join("-"))
}

/// The load averages, as `uptime` prints them.
fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().take(3).collect();
            format!("load average {}", f.join(", "))
        })
        .unwrap_or_else(|_| "load unknown".into())
}

fn capture(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
