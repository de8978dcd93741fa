//! `cargo xtask bench`: every backend and device present, the same workloads on each, one table;
//! the results with the machine's description under `benches/results/<date>-<machine>/`; and the
//! machine's choice of backend per network size in a profile that `brunel run --backend auto`
//! reads.
//!
//! Each measurement is a whole `brunel run` process; the figures are the run phase as the
//! program itself times it (network build and file output excluded, the wait for the device
//! included), taken from its `--summary` file. Every workload runs once as a warm-up and then
//! `repeats` times; the table gives the median and the spread (min to max).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::util;

/// One simulation to time.
struct Workload {
    name: String,
    config: String,
    overrides: Vec<String>,
    /// Neurons (for the profile's sizes).
    n: u64,
    /// Whether the reference backend runs it (it is slow on the largest networks).
    reference: bool,
    /// A network at scale (1.25 M stored, 12.5 M procedural): timed once, without a warm-up,
    /// on the cpu backend with all cores only (the others lack the memory or the storage), and
    /// left out of the machine profile.
    at_scale: bool,
}

/// A backend to time: `brunel run` arguments and a label.
#[derive(Clone)]
struct Target {
    label: String,
    backend: String,
    /// The registry's oracle (the reference): slow, the other rows are compared with it.
    oracle: bool,
    args: Vec<String>,
    /// For the profile: OpenCL device index.
    device: Option<usize>,
    threads: Option<usize>,
}

/// One row of the table.
struct Row {
    workload: String,
    n: u64,
    target: String,
    backend: String,
    oracle: bool,
    device_name: String,
    device: Option<usize>,
    threads: Option<usize>,
    simulated_ms: f64,
    runs: Vec<f64>,
    events: f64,
    peak_rss_mb: f64,
    /// The network and the backend's layout, as `brunel run` times it (the last run).
    build_seconds: f64,
    /// Of a workload at scale (not in the machine profile).
    at_scale: bool,
}

impl Row {
    fn median(&self) -> f64 {
        util::median(&self.runs)
    }
    fn min(&self) -> f64 {
        self.runs.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn max(&self) -> f64 {
        self.runs.iter().copied().fold(0.0, f64::max)
    }
}

/// `cargo xtask bench [--quick] [--repeats N] [--no-profile]`; `--busy`: [`crate::busy`].
pub fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "--busy") {
        let rest: Vec<String> = args.iter().filter(|a| *a != "--busy").cloned().collect();
        return crate::busy::run(&rest);
    }
    let mut quick = false;
    let mut repeats = None;
    let mut profile = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--no-profile" => profile = false,
            "--repeats" => repeats = Some(util::repeats_value(&mut it)?),
            other => {
                return Err(format!(
                    "bench: unknown option `{other}` (options: --quick, --repeats N, --no-profile)"
                ))
            }
        }
    }
    let repeats = repeats.unwrap_or(if quick { 2 } else { 3 });
    let brunel = util::release_brunel()?;
    let root = util::project_root();
    let machine = Machine::describe(&brunel);
    eprintln!("bench: {}", machine.one_line());
    let targets = targets(&brunel, machine.cores)?;
    eprintln!(
        "bench: backends: {}",
        targets
            .iter()
            .map(|t| t.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let scratch = root.join("out/bench");
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;

    let mut rows = Vec::new();
    for w in workloads(quick) {
        for t in &targets {
            if t.oracle && !w.reference {
                continue;
            }
            if w.at_scale && !(t.backend == "cpu" && t.threads == Some(machine.cores)) {
                continue;
            }
            // A network at scale takes minutes and gigabytes: one run, no warm-up.
            let (warm_ups, timed) = if w.at_scale { (0, 1) } else { (1, repeats) };
            eprintln!(
                "bench: {} on {} ({warm_ups} + {timed} runs)",
                w.name, t.label
            );
            let mut runs = Vec::new();
            let mut last = BTreeMap::new();
            for i in 0..warm_ups + timed {
                let summary = measure(&brunel, &root, &scratch, &w, t)?;
                if i >= warm_ups {
                    runs.push(number(&summary, "run_seconds")?);
                }
                last = summary;
            }
            rows.push(Row {
                workload: w.name.clone(),
                n: w.n,
                target: t.label.clone(),
                backend: t.backend.clone(),
                oracle: t.oracle,
                device_name: text(&last, "device"),
                device: t.device,
                threads: t.threads,
                simulated_ms: number(&last, "simulated_ms")?,
                runs,
                events: number(&last, "synaptic_events")?,
                peak_rss_mb: number(&last, "peak_rss_mb")?,
                build_seconds: number(&last, "build_seconds")?,
                at_scale: w.at_scale,
            });
        }
    }

    let table = table(&rows);
    println!("\n{table}");
    let dir = root.join("benches/results").join(format!(
        "{}-{}{}",
        machine.date,
        machine.slug(),
        if quick { "-quick" } else { "" }
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write(&dir.join("bench.csv"), &csv(&rows))?;
    write(&dir.join("machine.txt"), &machine.text)?;
    let command = format!("cargo xtask bench{}", if quick { " --quick" } else { "" });
    write(
        &dir.join("summary.md"),
        &format!(
            "# `{command}`, {}\n\n{}\n\nRun phase as timed by `brunel run` (build and output excluded), \
             median of {repeats} runs after one warm-up (the networks at scale: one run, \
             no warm-up, cpu on all cores only); spread is min to max; build is the network \
             and the backend's layout (the last run's). Ratios are measured in this one \
             run.\n\n{table}\n",
            machine.date,
            machine.one_line()
        ),
    )?;
    eprintln!("bench: results in {}", dir.display());
    if profile {
        let path = write_profile(&brunel, &rows, &machine, &dir, quick)?;
        eprintln!("bench: machine profile written to {path} (read by `brunel run --backend auto`)");
    }
    Ok(())
}

/// The four panels and the network scaled in size with the in-degree held at C_E = 1000
/// (panel C's input, so the three sizes share a regime).
/// `configs/fig8_*.toml`, sorted.
fn panel_configs() -> Vec<String> {
    let dir = util::project_root().join("configs");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("fig8_") && n.ends_with(".toml"))
                .map(|n| format!("configs/{n}"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

fn workloads(quick: bool) -> Vec<Workload> {
    let mut w = Vec::new();
    // The panels are the shipped configs (`configs/fig8_*.toml`), at their own length (300 ms
    // and panel C only with --quick).
    for config in panel_configs() {
        // `configs/fig8_c.toml` → `c`.
        let panel = config
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .trim_start_matches("fig8_")
            .trim_end_matches(".toml")
            .to_owned();
        if quick && panel != "c" {
            continue;
        }
        w.push(Workload {
            name: if quick {
                format!("fig8_{panel} 300 ms")
            } else {
                format!("fig8_{panel}")
            },
            config,
            overrides: if quick {
                vec!["simulation.duration=300".into()]
            } else {
                vec![]
            },
            n: 12_500,
            reference: true,
            at_scale: false,
        });
    }
    let sizes: &[u64] = if quick {
        &[12_500, 50_000]
    } else {
        &[12_500, 50_000, 125_000]
    };
    let ms = if quick { 50.0 } else { 200.0 };
    for &n in sizes {
        let n_e = n * 4 / 5;
        w.push(Workload {
            name: format!("N={n} {ms} ms"),
            config: "configs/fig8_c.toml".into(),
            overrides: vec![
                format!("network.n_e={n_e}"),
                format!("network.epsilon={}", 1000.0 / n_e as f64),
                format!("simulation.duration={ms}"),
            ],
            n,
            reference: !quick || n <= 12_500,
            at_scale: false,
        });
    }
    if !quick {
        // 100 and 1 000 times the paper's network with the paper's in-degree C_E = 1000
        // (epsilon shrinks as N grows, so a neuron's input stays the same): stored at
        // 1.25 M neurons (1.56e9 synapses), procedural at 12.5 M (1.56e10, none kept).
        for (n, storage, ms) in [
            (1_250_000u64, "stored", 50.0),
            (12_500_000, "procedural", 20.0),
        ] {
            let n_e = n * 4 / 5;
            w.push(Workload {
                name: format!("N={n} {storage} {ms} ms"),
                config: "configs/fig8_c.toml".into(),
                overrides: vec![
                    format!("network.n_e={n_e}"),
                    format!("network.epsilon={}", 1000.0 / n_e as f64),
                    format!("network.storage=\"{storage}\""),
                    format!("simulation.duration={ms}"),
                ],
                n,
                reference: false,
                at_scale: true,
            });
        }
    }
    w
}

/// The backends and devices present: reference, cpu on all cores and on one, and every OpenCL
/// device with fp64.
fn targets(brunel: &Path, cores: usize) -> Result<Vec<Target>, String> {
    // The backends are the registry's, as `brunel backends --format toml` lists them: each
    // available one on 1 and all threads if it honours a thread count, on each fp64 device if
    // it honours a device, else once.
    let out = Command::new(brunel)
        .args(["backends", "--format", "toml"])
        .output()
        .map_err(|e| format!("cannot run brunel backends: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`brunel backends --format toml` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let devices = tables(&listing, "device");
    let mut t = Vec::new();
    for backend in tables(&listing, "backend") {
        let name = text(&backend, "name");
        let oracle = text(&backend, "oracle") == "true";
        if text(&backend, "available") != "true" {
            eprintln!("bench: skipping backend {name}: {}", text(&backend, "why"));
            continue;
        }
        if text(&backend, "distributed") == "true" {
            // Its ranks start under mpirun; one rank is the cpu engine (docs/large-networks.md
            // measures K ranks), and `auto` never takes it.
            eprintln!(
                "bench: skipping backend {name}: it runs under mpirun (docs/large-networks.md)"
            );
            continue;
        }
        if text(&backend, "honours_threads") == "true" {
            let mut counts = vec![1];
            if cores > 1 {
                counts.push(cores);
            }
            for threads in counts {
                t.push(Target {
                    label: format!(
                        "{name} {threads} thread{}",
                        if threads == 1 { "" } else { "s" }
                    ),
                    backend: name.clone(),
                    oracle,
                    args: vec!["--threads".into(), threads.to_string()],
                    device: None,
                    threads: Some(threads),
                });
            }
        } else if text(&backend, "honours_device") == "true" {
            for device in devices.iter().filter(|d| text(d, "backend") == name) {
                if text(device, "fp64") != "true" {
                    eprintln!(
                        "bench: skipping {name} device {} (no fp64)",
                        text(device, "name")
                    );
                    continue;
                }
                let index: usize = text(device, "index")
                    .parse()
                    .map_err(|_| "bad device index".to_owned())?;
                t.push(Target {
                    label: format!(
                        "{name} {index}: {} ({})",
                        text(device, "name"),
                        text(device, "kind")
                    ),
                    backend: name.clone(),
                    oracle,
                    args: vec!["--device".into(), index.to_string()],
                    device: Some(index),
                    threads: None,
                });
            }
        } else {
            t.push(Target {
                label: name.clone(),
                backend: name.clone(),
                oracle,
                args: vec![],
                device: None,
                threads: Some(1),
            });
        }
    }
    Ok(t)
}

/// One `brunel run`; its summary.
fn measure(
    brunel: &Path,
    root: &Path,
    scratch: &Path,
    w: &Workload,
    t: &Target,
) -> Result<BTreeMap<String, String>, String> {
    let summary = scratch.join("summary.toml");
    let mut cmd = Command::new(brunel);
    cmd.current_dir(root)
        .args([
            "run",
            &w.config,
            "--backend",
            &t.backend,
            "--record",
            "none",
            "--force",
            "--quiet",
        ])
        .arg("--out")
        .arg(scratch.join("bench.h5"))
        .arg("--summary")
        .arg(&summary)
        .args(&t.args);
    for o in &w.overrides {
        cmd.args(["--set", o]);
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
    Ok(parse_flat(&text))
}

/// `key = value` lines of a flat TOML file (strings unquoted).
fn parse_flat(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

/// `[[device]]` tables of `brunel backends --format toml`.
/// The `[[name]]` tables of a flat TOML listing.
fn tables(text: &str, name: &str) -> Vec<BTreeMap<String, String>> {
    let mut found = Vec::new();
    for block in text.split(&format!("[[{name}]]")).skip(1) {
        let end = block.find("\n[").unwrap_or(block.len());
        found.push(parse_flat(&block[..end]));
    }
    found
}

fn text(map: &BTreeMap<String, String>, key: &str) -> String {
    map.get(key).cloned().unwrap_or_default()
}

fn number(map: &BTreeMap<String, String>, key: &str) -> Result<f64, String> {
    map.get(key)
        .and_then(|v| v.parse().ok())
        .ok_or(format!("the summary has no number `{key}`"))
}

fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| workload | backend | build (s) | run (s), median | spread (s) | real-time factor | synaptic events/s | peak memory (MB) | vs reference | vs fastest |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let same: Vec<&Row> = rows.iter().filter(|o| o.workload == r.workload).collect();
        let fastest = same
            .iter()
            .map(|o| o.median())
            .fold(f64::INFINITY, f64::min);
        let reference = same.iter().find(|o| o.oracle).map(|o| o.median());
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} | {:.3} | {:.3}–{:.3} | {:.2} | {:.3e} | {:.0} | {} | {:.2}x |",
            r.workload,
            r.target,
            r.build_seconds,
            r.median(),
            r.min(),
            r.max(),
            r.simulated_ms / 1000.0 / r.median(),
            r.events / r.median(),
            r.peak_rss_mb,
            reference.map_or("–".into(), |t| format!("{:.1}x faster", t / r.median())),
            r.median() / fastest,
        );
    }
    s
}

fn csv(rows: &[Row]) -> String {
    let mut s = String::from(
        "workload,n,backend,target,device,threads,simulated_ms,run_s_median,run_s_min,run_s_max,runs,synaptic_events,events_per_s,peak_rss_mb,build_s\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "\"{}\",{},{},\"{}\",\"{}\",{},{},{:.6},{:.6},{:.6},\"{}\",{},{:.6e},{:.1},{:.3}",
            r.workload,
            r.n,
            r.backend,
            r.target,
            r.device_name,
            r.threads.map_or(String::new(), |t| t.to_string()),
            r.simulated_ms,
            r.median(),
            r.min(),
            r.max(),
            r.runs
                .iter()
                .map(|x| format!("{x:.6}"))
                .collect::<Vec<_>>()
                .join(" "),
            r.events,
            r.events / r.median(),
            r.peak_rss_mb,
            r.build_seconds
        );
    }
    s
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The fastest backend for each network size, from the scaled-size workloads (and the panels,
/// which are N = 12 500).
fn write_profile(
    brunel: &Path,
    rows: &[Row],
    machine: &Machine,
    dir: &Path,
    quick: bool,
) -> Result<String, String> {
    let mut best: BTreeMap<u64, &Row> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.workload.starts_with("N=") && !r.at_scale)
    {
        let better = best.get(&r.n).is_none_or(|b| r.median() < b.median());
        if better {
            best.insert(r.n, r);
        }
    }
    // The CLI owns the profile's format: it writes the file.
    let mut cmd = Command::new(brunel);
    cmd.args(["profile", "write", "--machine"])
        .arg(machine.one_line())
        .arg("--created")
        .arg(&machine.date)
        .arg("--results")
        .arg(dir.display().to_string());
    if quick {
        cmd.arg("--quick");
    }
    for (n, r) in best {
        let mut size = format!("n={n},backend={}", r.backend);
        if let Some(d) = r.device {
            let _ = write!(size, ",device={d}");
        }
        if let Some(t) = r.threads {
            let _ = write!(size, ",threads={t}");
        }
        let _ = write!(
            size,
            ",run_seconds={:.6},label={}",
            r.median(),
            r.target.replace(',', ";")
        );
        cmd.arg("--size").arg(size);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run brunel profile write: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`brunel profile write` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// What this machine is.
struct Machine {
    date: String,
    cpu: String,
    cores: usize,
    text: String,
}

impl Machine {
    fn describe(brunel: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown CPU".into(), |(_, v)| v.trim().to_owned());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let date = capture(Command::new("date").args(["-u", "+%Y-%m-%d"]))
            .unwrap_or_else(|| "unknown-date".into());
        let mem = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal"))
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|o| {
                o.lines()
                    .find(|l| l.starts_with("PRETTY_NAME"))
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let rustc = capture(Command::new("rustc").arg("-V")).unwrap_or_default();
        let backends = capture(Command::new(brunel).arg("backends")).unwrap_or_default();
        let when =
            capture(Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])).unwrap_or_default();
        let text = format!(
            "date: {when}\ncpu: {cpu}\ncores: {cores}\n{mem}\n{os}\n{rustc}\nbrunel {}\n\n$ brunel backends\n{backends}\n",
            env!("CARGO_PKG_VERSION")
        );
        Machine {
            date,
            cpu,
            cores,
            text,
        }
    }

    fn one_line(&self) -> String {
        format!("{}, {} cores", self.cpu, self.cores)
    }

    /// `amd-epyc-7b13-2c`: the CPU model in lower case, letters and digits, and the core count.
    fn slug(&self) -> String {
        let mut s = String::new();
        for word in self.cpu.split(|c: char| !c.is_ascii_alphanumeric()) {
            let w = word.to_ascii_lowercase();
            if w.is_empty()
                || [
                    "processor",
                    "core",
                    "cpu",
                    "with",
                    "radeon",
                    "graphics",
                    "r",
                    "tm",
                ]
                .contains(&w.as_str())
            {
                continue;
            }
            if !s.is_empty() {
                s.push('-');
            }
            s.push_str(&w);
            if s.len() > 24 {
                break;
            }
        }
        format!("{s}-{}c", self.cores)
    }
}

fn capture(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
