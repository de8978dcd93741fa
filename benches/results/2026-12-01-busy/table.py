#!/usr/bin/env python3
"""The table of runs.csv (written by measure.sh): medians of the measured rounds (round 0 is
the warm-up), min–max in brackets, and the ratios."""
import csv
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
loads = defaultdict(list)
for row in csv.DictReader(open(sys.argv[1] if len(sys.argv) > 1 else "runs.csv")):
    if row["round"] == "0":
        continue
    key = (row["workload"], row["load"], row["binary"], row["threads"])
    runs[key].append(float(row["run_seconds"]))
    loads[(row["workload"], row["load"])].append(float(row["loadavg"]))

def med(k):
    return statistics.median(runs[k])

def cell(k):
    r = runs[k]
    return f"{statistics.median(r):.3f} ({min(r):.3f}–{max(r):.3f})"

label = {"quiet": "quiet", "busy": "1 busy loop", "pinned": "1 busy loop on core 0"}
print("| workload | load (1-min load avg) | before: 1 thread | before: `--threads 0` | before: 0 ÷ 1 "
      "| after: 1 thread | after: `--threads 0` | after: 0 ÷ 1 | `--threads 0` after ÷ before |")
print("|---|---|---|---|---|---|---|---|---|")
for w in ["fig8_c", "N125000"]:
    for load in ["quiet", "busy", "pinned"]:
        k = lambda b, t: (w, load, b, t)
        if not runs[k("before", "1")]:
            continue
        la = loads[(w, load)]
        print(f"| {'panel C, 1200 ms' if w == 'fig8_c' else 'N = 125 000, 300 ms'} "
              f"| {label[load]} ({min(la):.1f}–{max(la):.1f}) "
              f"| {cell(k('before', '1'))} | {cell(k('before', '0'))} "
              f"| {med(k('before', '0')) / med(k('before', '1')):.2f} "
              f"| {cell(k('after', '1'))} | {cell(k('after', '0'))} "
              f"| {med(k('after', '0')) / med(k('after', '1')):.2f} "
              f"| {med(k('after', '0')) / med(k('before', '0')):.2f} |")
