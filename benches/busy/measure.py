#!/usr/bin/env python3
"""The cpu backend's run phase beside a busy process, for several variants of brunel.

What it measures: the run phase (`run_seconds` and `run_cpu_seconds` of `brunel run
--summary`) of panel C (configs/fig8_c.toml, `--backend cpu --record none`), changed by any
`--set KEY=VALUE` given, for each variant: a binary, a thread count and environment variables.
Under three loads in turn: quiet, one busy process (`sh -c 'while :; do :; done'`) free to run
on any core, and one pinned to core 0 (`taskset -c 0`). Under each load the variants take
turns, one warm-up round and then REPS rounds; it prints the medians.

How to run it, from the repository root (binaries built with `cargo build --release -p
brunel-cli` at the commits to compare):

    python3 benches/busy/measure.py REPS [--set KEY=VALUE ...] NAME=BINARY:THREADS[:VAR=VALUE,...] ...
    python3 benches/busy/measure.py 5 main1=MAIN:1 main2=MAIN:2 new2=NEW:2:BRUNEL_CPU_PIN=0

Output, CSV on stdout: load,variant,median_run_s,median_cpu_s,runs. The sittings that ran it:
benches/results/2026-12-06-busy-overtake/, 2026-12-07-busy/, 2026-12-07-busy-heartbeat/.
"""
import os, statistics, subprocess, sys, tempfile, tomllib

reps = int(sys.argv[1])
args = sys.argv[2:]
sets, variants = [], []
while args:
    a = args.pop(0)
    if a == "--set":
        sets += ["--set", args.pop(0)]
        continue
    name, spec = a.split("=", 1)
    parts = spec.split(":")
    env = dict(kv.split("=", 1) for kv in parts[2].split(",")) if len(parts) > 2 else {}
    variants.append((name, parts[0], parts[1], env))
scratch = tempfile.mkdtemp()


def run(binary, threads, env):
    summary = os.path.join(scratch, "s.toml")
    subprocess.run([binary, "run", "configs/fig8_c.toml", *sets, "--backend", "cpu", "--record",
                    "none", "--quiet", "--force", "--out", os.path.join(scratch, "x.h5"),
                    "--summary", summary, "--threads", threads], check=True,
                   env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    with open(summary, "rb") as f:
        d = tomllib.load(f)
    return d["run_seconds"], d["run_cpu_seconds"]


print("load,variant,median_run_s,median_cpu_s,runs")
for load in ["quiet", "busy", "pinned"]:
    busy = None
    if load != "quiet":
        cmd = ["timeout", "1200", "sh", "-c", "while :; do :; done"]
        if load == "pinned":
            cmd = ["taskset", "-c", "0"] + cmd
        busy = subprocess.Popen(cmd)
    times = {v[0]: [] for v in variants}
    for _ in range(reps + 1):
        for name, binary, threads, env in variants:
            times[name].append(run(binary, threads, env))
    if busy:
        busy.terminate()  # timeout passes SIGTERM on to the loop
        busy.wait()
    for name, ts in times.items():
        ts = ts[1:]
        print(f"{load},{name},{statistics.median(t[0] for t in ts):.3f},"
              f"{statistics.median(t[1] for t in ts):.3f},"
              + " ".join(f"{t[0]:.3f}" for t in ts), flush=True)
