"""Share of the sweep's synaptic events (and, from the run loop, of run time) per regime."""
import csv, sys
from collections import defaultdict
rows = list(csv.DictReader(open(sys.argv[1])))
ev = lambda r: 10000 * float(r['rate_exc_hz']) + 2500 * float(r['rate_inh_hz'])
tot = sum(ev(r) for r in rows)
by = defaultdict(lambda: [0, 0.0])
for r in rows:
    by[r['regime']][0] += 1; by[r['regime']][1] += ev(r)
print("regime,points,event_share")
for k, (n, e) in sorted(by.items(), key=lambda x: -x[1][1]):
    print(f"{k},{n},{e/tot:.3f}")
sr = [r for r in rows if r['regime'] == 'SR']
print("SR g range", min(float(r['synapse.g']) for r in sr), max(float(r['synapse.g']) for r in sr))
srl = [r for r in sr if float(r['synapse.g']) < 3.5]
print(f"SR with g<3.5: {len(srl)} points, event share {sum(ev(r) for r in srl)/tot:.3f}")
print(f"mean rate of SR points {sum(float(r['rate_exc_hz']) for r in sr)/len(sr):.1f} Hz; others {sum(float(r['rate_exc_hz']) for r in rows if r['regime']!='SR')/(len(rows)-len(sr)):.1f} Hz")
if len(sys.argv) > 2:
    loop = {(float(r['g']), float(r['ratio'])): r for r in csv.DictReader(open(sys.argv[2]))}
    rt = defaultdict(float); tt = 0.0
    for r in rows:
        l = loop.get((float(r['synapse.g']), float(r['input.ratio'])))
        if l is None: continue
        rt[r['regime']] += float(l['run_seconds']); tt += float(l['run_seconds'])
    print("regime,run_seconds_share (brunel run loop)")
    for k, v in sorted(rt.items(), key=lambda x: -x[1]): print(f"{k},{v/tt:.3f}")
    srt = sum(float(loop[(float(r['synapse.g']), float(r['input.ratio']))]['run_seconds']) for r in srl if (float(r['synapse.g']), float(r['input.ratio'])) in loop)
    print(f"SR with g<3.5: run_seconds share {srt/tt:.3f}")
