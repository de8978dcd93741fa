#!/usr/bin/env python3
"""Run phase of one workload for several (binary, threads, environment) variants, quiet and
beside one busy process (free, and pinned to core 0), the variants alternating; medians of
REPS after one warm-up. Run from the repository root.

usage: measure.py REPS [--set KEY=VALUE ...] NAME=BINARY:THREADS[:VAR=VALUE,...] ...

Panel C (configs/fig8_c.toml) with the `--set`s given; prints CSV:
load,variant,median_run_s,median_cpu_s,runs.
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
