#!/bin/bash
# One sitting: theory, sweep --jobs 1/2, loop of brunel run, Brian2 vs brunel run points.
set -u
cd /work/wt/bench9
B=$PWD/target/release/brunel
PY=/tmp/brian2-venv/bin/python
R=$PWD/benches/results/2026-12-01-sweep
S=/tmp/bench9/s; mkdir -p $S
T="/usr/bin/time -f %e,%U,%S,%M"
LOAD=$R/load.csv
echo "block,when,utc,load1,load5,load15" > $LOAD
ld() { echo "$1,$2,$(date -u +%H:%M:%S),$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ',')" >> $LOAD; uptime; }
lscpu | head -20 > $R/machine.txt; free -g >> $R/machine.txt; uname -a >> $R/machine.txt
$B --version >> $R/machine.txt; $PY -c "import brian2; print('brian2', brian2.__version__)" >> $R/machine.txt; g++ --version | head -1 >> $R/machine.txt

# 4. theory, best of 3
ld theory before
echo "rep,wall_s,user_s,sys_s,maxrss_kb" > $R/theory.csv
for i in 1 2 3; do
  $T -o /tmp/bench9/t.time $B theory configs/fig8_c.toml --grid synapse.g=0:8:0.05 --grid input.ratio=0.5:4:0.05 --out $S/T.toml > /dev/null
  echo "$i,$(tail -1 /tmp/bench9/t.time)" >> $R/theory.csv
done
ld theory after

# 1. sweep, --jobs 1 then 2
echo "jobs,wall_s,user_s,sys_s,maxrss_kb" > $R/sweep.csv
for j in 1 2; do
  ld sweep-jobs$j before
  $T -o /tmp/bench9/s.time $B sweep configs/fig8_c.toml --grid synapse.g=0:8:0.5 --grid input.ratio=0.5:4:0.5 --duration 1000 --backend cpu --jobs $j --out $S/S$j.h5 --force --quiet
  echo "$j,$(tail -1 /tmp/bench9/s.time)" >> $R/sweep.csv
  cp $S/S$j.csv $R/sweep-jobs$j-points.csv
  ld sweep-jobs$j after
done

# 2. loop of brunel run processes
ld run-loop before
echo "g,ratio,wall_s,user_s,sys_s,maxrss_kb,build_seconds,run_seconds" > $R/run-loop.csv
t0=$(date +%s.%N)
for g in $(seq 0 0.5 8); do for r in $(seq 0.5 0.5 4); do
  $T -o /tmp/bench9/r.time $B run configs/fig8_c.toml --set synapse.g=$g --set input.ratio=$r --duration 1000 --backend cpu --record none --out $S/X.h5 --force --quiet --summary $S/X.toml
  bs=$(grep '^build_seconds' $S/X.toml | cut -d= -f2 | tr -d ' '); rs=$(grep '^run_seconds' $S/X.toml | cut -d= -f2 | tr -d ' ')
  echo "$g,$r,$(tail -1 /tmp/bench9/r.time),$bs,$rs" >> $R/run-loop.csv
done; done
t1=$(date +%s.%N)
echo "total_wall_s,$(echo "$t1 - $t0" | bc)" > $R/run-loop-total.csv
ld run-loop after

# 3. Brian2 on five points, interleaved with brunel run of the same point
ld brian2 before
echo "tool,g,ratio,process_wall_s,run_s,binary_s,build_s,spikes,rate_hz" > $R/points.csv
for p in "3 2" "4 1" "5 2" "6 4" "8 3"; do
  set -- $p; g=$1; r=$2
  rm -rf /tmp/bench9/b2_${g}_$r
  $T -o /tmp/bench9/b.time $PY benches/brian2/brunel2000_standalone.py --g $g --ratio $r --duration 1000 --reps 1 --dir /tmp/bench9/b2_${g}_$r > /tmp/bench9/b.out 2>/tmp/bench9/b.err
  line=$(grep '^brian2,' /tmp/bench9/b.out | tail -1)
  IFS=, read -r _ _ _ run_s bin_s spikes rate <<< "$line"
  echo "brian2,$g,$r,$(tail -1 /tmp/bench9/b.time | cut -d, -f1),$run_s,$bin_s,,$spikes,$rate" >> $R/points.csv
  grep '^#' /tmp/bench9/b.out >> $R/brian2-log.txt
  $T -o /tmp/bench9/r.time $B run configs/fig8_c.toml --set synapse.g=$g --set input.ratio=$r --duration 1000 --backend cpu --record none --out $S/P.h5 --force --quiet --summary $S/P.toml
  cp $S/P.toml $R/brunel-run-g${g}-r${r}.toml
  bs=$(grep '^build_seconds' $S/P.toml | cut -d= -f2 | tr -d ' '); rs=$(grep '^run_seconds' $S/P.toml | cut -d= -f2 | tr -d ' ')
  echo "brunel,$g,$r,$(tail -1 /tmp/bench9/r.time | cut -d, -f1),$rs,,$bs,," >> $R/points.csv
done
ld brian2 after
echo done
