"""Fig. 8 of Brunel (2000): the network's four regimes, as Brian2's example Brunel_2000.py draws
them — the spikes of neurons 0-49 above, the population rate below, one column per panel.

    python examples/fig8.py [FIG.png]        (needs: pip install ./crates/brunel-py matplotlib)
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt

import brunel

configs = Path(__file__).resolve().parent.parent / "configs"
fig, axes = plt.subplots(2, 4, figsize=(16, 6), sharex="col", gridspec_kw={"height_ratios": [2, 1]})
for col, panel in enumerate("abcd"):
    cfg = brunel.Config.load(configs / f"fig8_{panel}.toml")
    result = brunel.run(cfg)
    start, end = cfg["plot.window"]
    shown = (result.spikes.times >= start) & (result.spikes.times < end)
    axes[0, col].plot(result.spikes.times[shown], result.spikes.ids[shown], ".k", ms=2)
    axes[0, col].set_title(cfg["plot.title"])
    window = (result.t >= start) & (result.t < end)
    axes[1, col].plot(result.t[window], result.rate[window], "k", lw=0.5)
    axes[1, col].set(ylim=(0, cfg["plot.rate_max"]), xlabel="time (ms)")
axes[0, 0].set_ylabel("neuron")
axes[1, 0].set_ylabel("rate (Hz)")
out = sys.argv[1] if len(sys.argv) > 1 else "fig8_py.png"
fig.savefig(out, dpi=100, bbox_inches="tight")
print(out)
