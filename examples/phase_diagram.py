"""The phase diagram of Brunel (2000)'s Fig. 2 from Python: a sweep over relative inhibition g
and external drive nu_ext/nu_thr, the regime of every point, and the mean-field theory's
boundary where the stationary state loses stability.

Run it as a script (``python examples/phase_diagram.py [PHASE.png]``) or cell by cell in a
notebook (the ``# %%`` markers are Jupyter's and VS Code's cells). The grid is coarse and the
runs short so that it takes a minute on two cores; `brunel sweep` in the README draws the full
one. Needs matplotlib; pandas, when installed, gives the table.
"""

# %% The sweep: every point is panel C's config with g and the drive set, run 500 ms.
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import brunel

config = Path(__file__).resolve().parent.parent / "configs" / "fig8_c.toml"
grid = {"synapse.g": "2:8:1", "input.ratio": "1:4:1"}
sweep = brunel.sweep(config, grid, duration=500)
g, ratio = sweep.axes["synapse.g"], sweep.axes["input.ratio"]
print(sweep)

# %% The table (pandas), one row per point.
if sweep.frame is not None:
    print(sweep.frame[["synapse.g", "input.ratio", "rate_exc_hz", "cv_isi", "regime"]])

# %% The theory on a finer grid: where the stationary state's stability changes.
theory = brunel.theory(config, grid={"synapse.g": "2:8:0.1", "input.ratio": "1:4:0.1"})

# %% The picture: regimes as colours, the rate of E, the theory's boundary as black dots.
colours = {"SR": "tab:red", "AI": "tab:green", "SI-fast": "tab:blue", "SI-slow": "tab:orange",
           "quiescent": "lightgrey", "saturated": "black"}
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"wspace": 0.45})
for label, colour in colours.items():
    at = sweep["regime"] == label
    gi, ri = np.nonzero(at)
    left.scatter(g[gi], ratio[ri], s=300, marker="s", color=colour, label=label)
mesh = right.pcolormesh(g, ratio, sweep["rate_exc_hz"].T, shading="nearest", cmap="viridis")
fig.colorbar(mesh, ax=right, label="rate of E (Hz)")
for ax in (left, right):
    for b in theory.boundaries:
        x, y = (b["value"], b["at"]["input.ratio"]) if b["axis"] == "synapse.g" else (b["at"]["synapse.g"], b["value"])
        ax.plot(x, y, ".k", ms=3)
    ax.set(xlabel="g (relative inhibition)", ylabel="nu_ext / nu_thr")
left.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
left.set_title("regime")
right.set_title("rate of E")
out = sys.argv[1] if len(sys.argv) > 1 else "phase_diagram_py.png"
fig.savefig(out, dpi=100, bbox_inches="tight")
print(out)
