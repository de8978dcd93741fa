#!/bin/bash
# The cpu backend's network build at 1.25 M neurons, for several brunel binaries.
#
# What it measures: `build_seconds` of `brunel run --summary` (the network and the cpu
# backend's layout) for panel C (configs/fig8_c.toml) scaled to 1 250 000 neurons, Bernoulli,
# stored (network.n_e = 1 000 000, network.epsilon = 0.001), 1 ms simulated, `--threads 2
# --record none`; the binaries take turns, REPS rounds. Prints one line a run: the binary,
# `build_seconds` and `synapses`.
#
# How to run it (binaries built with `cargo build --release -p brunel-cli` at the commits to
# compare; any working folder):
#
#   benches/build/buildtime.sh REPS BIN...
#   benches/build/buildtime.sh 4 OLD NEW
#
# Scratch files: /tmp/bt.h5, /tmp/bt.toml. The sitting that ran it:
# benches/results/2026-12-07-amd-epyc-2c/build-bounded.md.
root=$(cd "$(dirname "$0")/../.." && pwd)
reps=$1; shift
for r in $(seq $reps); do for b in "$@"; do
  $b run "$root/configs/fig8_c.toml" --backend cpu --threads 2 --record none --force --out /tmp/bt.h5 --quiet --summary /tmp/bt.toml --set network.n_e=1000000 --set network.epsilon=0.001 --set simulation.duration=1 >/dev/null 2>&1
  echo "$b $(grep -E '^(build_seconds|synapses)' /tmp/bt.toml | tr '\n' ' ')"
done; done
