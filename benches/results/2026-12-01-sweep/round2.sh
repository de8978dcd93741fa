#!/bin/bash
set -u
cd /work/wt/bench9
B=$PWD/target/release/brunel
R=$PWD/benches/results/2026-12-01-sweep
S=/tmp/bench9/s
T="/usr/bin/time -f %e,%U,%S,%M"
LOAD=$R/load.csv
ld() { echo "$1,$2,$(date -u +%H:%M:%S),$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ',')" >> $LOAD; }
ld run-loop-2 before
echo "g,ratio,wall_s,user_s,sys_s,maxrss_kb,build_seconds,run_seconds" > $R/run-loop-2.csv
t0=$(date +%s.%N)
for g in $(seq 0 0.5 8); do for r in $(seq 0.5 0.5 4); do
  $T -o /tmp/bench9/r.time $B run configs/fig8_c.toml --set synapse.g=$g --set input.ratio=$r --duration 1000 --backend cpu --record none --out $S/X.h5 --force --quiet --summary $S/X.toml
  bs=$(grep '^build_seconds' $S/X.toml | cut -d= -f2 | tr -d ' '); rs=$(grep '^run_seconds' $S/X.toml | cut -d= -f2 | tr -d ' ')
  echo "$g,$r,$(tail -1 /tmp/bench9/r.time),$bs,$rs" >> $R/run-loop-2.csv
done; done
t1=$(date +%s.%N)
echo "total_wall_s,$(echo "$t1 - $t0" | bc)" > $R/run-loop-2-total.csv
ld run-loop-2 after
ld sweep-jobs1-2 before
$T -o /tmp/bench9/s.time $B sweep configs/fig8_c.toml --grid synapse.g=0:8:0.5 --grid input.ratio=0.5:4:0.5 --duration 1000 --backend cpu --jobs 1 --out $S/S1b.h5 --force --quiet
echo "1 (round 2),$(tail -1 /tmp/bench9/s.time)" >> $R/sweep.csv
ld sweep-jobs1-2 after
echo done
