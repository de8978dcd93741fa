"""The Python package's overhead, measured in one sitting from one Python: `brunel.run` of a
Fig. 8 panel against the CLI's run of the same config (`brunel run`, its run phase and its
whole process), and Brian2 2.9 on the same panel, runtime device and cpp_standalone.

    python benches/python/overhead.py [--panel C] [--reps 3] [--threads 0] [--brunel PATH] [--no-brian2]

The interpreter needs the package (`pip install ./crates/brunel-py`) and, for the Brian2 rows,
`brian2==2.9.0` (benches/brian2/brunel2000_standalone.py runs with this same interpreter).
Prints one CSV line per measurement, `what,rep,seconds`, then a Markdown table of the best and
the median of the repetitions, each divided by the CLI's run phase. Needs Python >= 3.11
(tomllib reads the CLI's --summary).
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import brunel

ROOT = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--panel", default="C", choices=list("ABCD"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="brunel's threads (0: all cores)")
    ap.add_argument("--brunel", default=str(ROOT / "target/release/brunel"))
    ap.add_argument("--no-brian2", action="store_true")
    args = ap.parse_args()
    config = ROOT / "configs" / f"fig8_{args.panel.lower()}.toml"
    rows = {}

    def note(what, rep, seconds):
        rows.setdefault(what, []).append(seconds)
        print(f"{what},{rep},{seconds:.4f}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        out, summary = Path(tmp) / "run.h5", Path(tmp) / "summary.toml"
        cfg = brunel.Config.load(config)
        # The CLI and the package take turns, so that a change of the machine's load between
        # repetitions falls on both alike.
        for rep in range(args.reps):
            t = time.perf_counter()
            subprocess.run([args.brunel, "run", str(config), "--backend", "cpu", "--threads",
                            str(args.threads), "--out", str(out), "--force", "--quiet",
                            "--summary", str(summary)], check=True)
            wall = time.perf_counter() - t
            s = tomllib.loads(summary.read_text())
            note("cli run phase", rep, s["run_seconds"])
            note("cli build", rep, s["build_seconds"])
            note("cli process", rep, wall)
            t = time.perf_counter()
            r = brunel.run(cfg, backend="cpu", threads=args.threads, progress=False)
            wall = time.perf_counter() - t
            note("python run phase", rep, r.info["run_seconds"])
            note("python build", rep, r.info["build_seconds"])
            note("python brunel.run", rep, wall)
            t = time.perf_counter()
            r.save(out, force=True)
            note("python save", rep, time.perf_counter() - t)
        if not args.no_brian2:
            script = ROOT / "benches/brian2/brunel2000_standalone.py"
            for mode, extra in [("brian2 standalone run", []), ("brian2 runtime run", ["--runtime"])]:
                # One more repetition in runtime mode: the first compiles the code objects.
                reps = args.reps + (1 if extra else 0)
                p = subprocess.run([sys.executable, str(script), args.panel, "--reps", str(reps),
                                    "--dir", str(Path(tmp) / "brian2"), *extra],
                                   check=True, capture_output=True, text=True)
                for line in p.stdout.splitlines():
                    if line.startswith("#"):
                        print(line, flush=True)
                        continue
                    _, _, rep, run_s, binary_s, _, _ = line.split(",")
                    rep = int(rep)
                    if extra and rep == 0:
                        note("brian2 runtime first run (compiles)", rep, float(run_s))
                        continue
                    note(mode, rep, float(run_s))
                    if not extra:
                        note("brian2 standalone binary", rep, float(binary_s))
    best = {k: min(v) for k, v in rows.items()}
    median = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n| panel {args.panel} | best of {args.reps} (s) | ÷ the CLI's run phase | median (s) | ÷ |")
    print("|---|---|---|---|---|")
    for k in rows:
        print(f"| {k} | {best[k]:.3f} | {best[k] / best['cli run phase']:.2f} | "
              f"{median[k]:.3f} | {median[k] / median['cli run phase']:.2f} |")


if __name__ == "__main__":
    main()
