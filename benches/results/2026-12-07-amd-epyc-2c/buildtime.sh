#!/bin/bash
# usage: buildtime.sh REPS BIN...
reps=$1; shift
for r in $(seq $reps); do for b in "$@"; do
  $b run /work/main/configs/fig8_c.toml --backend cpu --threads 2 --record none --force --out /tmp/bt.h5 --quiet --summary /tmp/bt.toml --set network.n_e=1000000 --set network.epsilon=0.001 --set simulation.duration=1 >/dev/null 2>&1
  echo "$b $(grep -E '^(build_seconds|synapses)' /tmp/bt.toml | tr '\n' ' ')"
done; done
