#!/bin/bash
# Round 2's second command (run by hand in the session, 18:19 UTC): the sweep with --jobs 2 again.
cd /work/wt/bench9
/usr/bin/time -f %e,%U,%S,%M -o /tmp/bench9/s2.time ./target/release/brunel sweep configs/fig8_c.toml \
    --grid synapse.g=0:8:0.5 --grid input.ratio=0.5:4:0.5 --duration 1000 --backend cpu --jobs 2 \
    --out /tmp/bench9/s/S2b.h5 --force --quiet
echo "2 round2,$(tail -1 /tmp/bench9/s2.time)" >> benches/results/2026-12-01-sweep/sweep.csv
