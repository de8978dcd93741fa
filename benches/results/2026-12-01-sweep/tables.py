import csv, statistics as st
R = '/work/wt/bench9/benches/results/2026-12-01-sweep/'
rd = lambda f: list(csv.DictReader(open(R + f)))
sw = {r['jobs_round']: r for r in rd('sweep.csv')}
loop = rd('run-loop.csv'); tot = float(rd('run-loop-total.csv')[0]['total_wall_s']) if False else float(open(R+'run-loop-total.csv').read().split(',')[1])
th = rd('theory.csv')
pts = rd('points.csv')
bs = sum(float(r['build_seconds']) for r in loop); rs = sum(float(r['run_seconds']) for r in loop)
pw = sum(float(r['wall_s']) for r in loop); pu = sum(float(r['user_s']) + float(r['sys_s']) for r in loop)
print("| what | wall s | CPU s (user+sys) | per point wall s |\n|---|---|---|---|")
for j, r in sorted(sw.items()):
    print(f"| `brunel sweep --jobs {j}` | {float(r['wall_s']):.1f} | {float(r['user_s'])+float(r['sys_s']):.1f} | {float(r['wall_s'])/136:.2f} |")
print(f"| loop of 136 `brunel run` | {tot:.1f} | {pu:.1f} | {tot/136:.2f} |")
print(f"\nloop: sum build_seconds {bs:.1f}, sum run_seconds {rs:.1f}, sum process wall {pw:.1f}, other (start, write, theory line) {pw-bs-rs:.1f}")
for j, r in sorted(sw.items()):
    w = float(r['wall_s']); c = float(r['user_s'])+float(r['sys_s'])
    print(f"ratio loop/sweep jobs{j}: wall {tot/w:.2f}, CPU {pu/c:.2f}")
print(f"theory: best {min(float(r['wall_s']) for r in th):.2f} s wall, CPU {min(float(r['user_s'])+float(r['sys_s']) for r in th):.2f}")
print("\n| (g, ratio) | Brian2 process s | Brian2 binary s | Brian2 run s | brunel run process s | brunel build s | brunel run s | run ratio | process ratio | process vs sweep point |\n|---|---|---|---|---|---|---|---|---|---|")
swp = float(sw['1 round2']['wall_s'])/136
b2 = {(r['g'], r['ratio']): r for r in pts if r['tool'] == 'brian2'}
bn = {(r['g'], r['ratio']): r for r in pts if r['tool'] == 'brunel'}
for k in b2:
    a, b = b2[k], bn[k]
    print(f"| ({k[0]}, {k[1]}) | {float(a['process_wall_s']):.1f} | {float(a['binary_s']):.2f} | {float(a['run_s']):.2f} | {float(b['process_wall_s']):.2f} | {float(b['build_s']):.2f} | {float(b['run_s']):.3f} | {float(a['run_s'])/float(b['run_s']):.1f} | {float(a['process_wall_s'])/float(b['process_wall_s']):.1f} | {float(a['process_wall_s'])/swp:.0f} |")
