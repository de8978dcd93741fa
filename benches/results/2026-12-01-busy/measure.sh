#!/bin/bash
# Before/after table of issue 14, in one sitting: the cpu backend's run phase (`run_seconds`),
# panel C (1200 ms) and N = 125 000 (300 ms), on 1 thread and with --threads 0, quiet, beside
# one busy process free to run anywhere, and beside one pinned to core 0.
#   BASE=/path/to/brunel-before NEW=/path/to/brunel-after ROUNDS=3 ./measure.sh > runs.csv
# Each load: one warm-up round, then ROUNDS rounds; in every round before and after, 1 thread
# and --threads 0 alternate, so that all four see the same machine.
set -eu
cd "$(dirname "$0")/../../.."
ROUNDS=${ROUNDS:-3}
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
one() { # bin threads args...
  local bin=$1 th=$2; shift 2
  "$bin" run configs/fig8_c.toml --backend cpu --record none --summary "$SCRATCH/S.toml" \
    --out "$SCRATCH/X.h5" --force --quiet --threads "$th" "$@" >/dev/null
  sed -n 's/^run_seconds = //p' "$SCRATCH/S.toml"
}
echo "workload,load,binary,threads,round,run_seconds,loadavg"
for load in quiet busy pinned; do
  BP=
  case $load in
    busy) timeout 1800 sh -c 'while :; do :; done' & BP=$! ;;
    pinned) timeout 1800 taskset -c 0 sh -c 'while :; do :; done' & BP=$! ;;
  esac
  for w in fig8_c N125000; do
    if [ $w = N125000 ]; then set -- --set network.n_e=100000 --set network.epsilon=0.01 --duration 300; else set --; fi
    for r in $(seq 0 "$ROUNDS"); do
      for b in before after; do
        bin=$BASE; [ $b = after ] && bin=$NEW
        for th in 1 0; do
          t=$(one "$bin" $th "$@")
          echo "$w,$load,$b,$th,$r,$t,$(cut -d' ' -f1 /proc/loadavg)"
        done
      done
    done
  done
  [ -n "$BP" ] && kill -TERM $BP && wait $BP 2>/dev/null || true
done
