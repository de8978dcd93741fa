"""Turns one benchmark session's raw CSV files into the Markdown table of benches/results/.

    python3 benches/summarize.py rust.csv brian2.csv > summary-table.md

rust.csv is `cargo bench --bench table` output, brian2.csv the lines of
benches/brian2/brunel2000_standalone.py. Every figure is the best (minimum) of the repetitions;
the medians are given too, since the machine may be shared.
"""

import csv
import statistics
import sys
from collections import defaultdict


def main():
    rust_path, brian2_path = sys.argv[1], sys.argv[2]
    runs = defaultdict(list)  # (backend, panel) -> seconds
    events = {}
    spikes = {}
    builds = defaultdict(list)
    with open(rust_path) as f:
        for row in csv.DictReader(f):
            if row["kind"] == "run":
                runs[(row["backend"], row["panel"])].append(float(row["seconds"]))
                events[row["panel"]] = int(row["synaptic_events"])
                spikes[row["panel"]] = int(row["spikes"])
            elif row["kind"] == "build":
                builds[row["backend"]].append(float(row["seconds"]))
    brian2 = defaultdict(list)
    brian2_binary = defaultdict(list)
    with open(brian2_path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            _, panel, _, run_s, binary_s, _, _ = line.strip().split(",")
            brian2[panel].append(float(run_s))
            brian2_binary[panel].append(float(binary_s))

    backends = [b for b in ["reference", "cpu-1t", "cpu-2t", "opencl"] if any(k[0] == b for k in runs)]
    print("Run phase, wall time in seconds (best of the repetitions; median in parentheses):\n")
    head = "| panel | synaptic events | Brian2 2.9 run | " + " | ".join(backends) + " | Brian2 / cpu-1t | Brian2 / cpu-2t |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for panel in sorted(events):
        b2 = brian2.get(panel)
        cells = [panel, f"{events[panel] / 1e9:.2f} G", f"{min(b2):.2f} ({statistics.median(b2):.2f})" if b2 else "-"]
        for b in backends:
            t = runs.get((b, panel))
            cells.append(f"{min(t):.3f} ({statistics.median(t):.3f})" if t else "-")
        for b in ["cpu-1t", "cpu-2t"]:
            t = runs.get((b, panel))
            cells.append(f"{min(b2) / min(t):.1f}x" if (t and b2) else "-")
        print("| " + " | ".join(cells) + " |")
    print("\nSynaptic events per second (best run):\n")
    head = "| panel | " + " | ".join(backends) + " | cpu-2t per core |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for panel in sorted(events):
        cells = [panel]
        for b in backends:
            t = runs.get((b, panel))
            cells.append(f"{events[panel] / min(t):.2e}" if t else "-")
        t = runs.get(("cpu-2t", panel))
        cells.append(f"{events[panel] / min(t) / 2:.2e}" if t else "-")
        print("| " + " | ".join(cells) + " |")
    print("\nNetwork build (15.6 M synapses) and the cpu backend's layout, seconds (best, median):\n")
    print("| what | best | median |")
    print("|---|---|---|")
    for name, t in builds.items():
        print(f"| {name} | {min(t):.3f} | {statistics.median(t):.3f} |")
    print("\nBrian2's whole generated binary (loading, run, writing results), seconds (best):\n")
    print("| panel | binary |")
    print("|---|---|")
    for panel in sorted(brian2_binary):
        print(f"| {panel} | {min(brian2_binary[panel]):.2f} |")


if __name__ == "__main__":
    main()
