#!/usr/bin/env python3
"""The cpu backend's run phase beside a busy process, for several brunel binaries side by side.

What it measures: the run phase (`run_seconds` of `brunel run --summary`) of panel C
(configs/fig8_c.toml, `--backend cpu --record none`), or with WORK = 125k the network scaled to
N = 125 000 (300 ms), for every binary on 1 thread and on all cores (`--threads 0`). Under each
load asked for in turn: quiet, busy (one `sh -c 'while :; do :; done'` free to run on any
core), pinned (the same, `taskset -c 0`). Under each load: one warm-up run a binary, then R
rounds, the binaries and thread counts taking turns; it prints the medians and each run. The
same measurement as `cargo xtask bench --busy`, for several binaries at once.

How to run it, from the repository root (or with BRUNEL_ROOT set to it):

    python3 benches/busy/compare_binaries.py NAME=BINARY,NAME=BINARY,... [R [LOADS [WORK]]]
    python3 benches/busy/compare_binaries.py before=BIN_A,after=BIN_B 3 quiet,busy,pinned c

R defaults to 3, LOADS to quiet,busy,pinned, WORK to c. BUSY_SAME_GROUP=1 keeps the busy
process in this script's session (so in its autogroup) instead of a session of its own.
Scratch files go to /tmp/bb/. The sittings that ran it: benches/results/2026-12-01-busy-redo/
and 2026-12-01-busy-finer/.
"""
import subprocess, sys, os, statistics, tomllib, time, itertools
bins = dict(a.split('=',1) for a in sys.argv[1].split(','))
R = int(sys.argv[2]) if len(sys.argv) > 2 else 3
loads = sys.argv[3].split(',') if len(sys.argv) > 3 else ['quiet','busy','pinned']
work = sys.argv[4] if len(sys.argv) > 4 else 'c'
root = os.environ.get('BRUNEL_ROOT', '.')  # the repository
os.makedirs('/tmp/bb', exist_ok=True)
# BUSY_SAME_GROUP=1: the busy loop stays in this script's session (so in its autogroup, where
# the kernel groups by session) instead of a session of its own.
own_session = os.environ.get('BUSY_SAME_GROUP') != '1'
def one(b, threads):
    args = [b, 'run', f'{root}/configs/fig8_c.toml', '--backend', 'cpu', '--threads', str(threads),
            '--record', 'none', '--quiet', '--force', '--out', '/tmp/bb/o.h5', '--summary', '/tmp/bb/s.toml']
    if work == '125k':
        args += ['--set', 'network.n_e=100000', '--set', 'network.epsilon=0.01', '--duration', '300']
    subprocess.run(args, check=True)
    return tomllib.load(open('/tmp/bb/s.toml','rb'))['run_seconds']
for load in loads:
    busy = None
    if load == 'busy':
        busy = subprocess.Popen(['timeout', '900', 'sh', '-c', 'while :; do :; done'], start_new_session=own_session)
    elif load == 'pinned':
        busy = subprocess.Popen(['timeout', '900', 'taskset', '-c', '0', 'sh', '-c', 'while :; do :; done'], start_new_session=own_session)
    time.sleep(0.5)
    res = {}
    for name, b in bins.items():
        one(b, 0)  # warm-up
    for r in range(R):
        for name, b in bins.items():
            for t in (1, 0):
                res.setdefault((name, t), []).append(one(b, t))
    if busy:
        import signal
        if own_session:
            os.killpg(busy.pid, signal.SIGKILL)
        else:
            busy.terminate()  # timeout passes it on to the loop
        busy.wait()
    print(f'load={load} load_avg={os.getloadavg()[0]:.2f}')
    for name in bins:
        m1 = statistics.median(res[(name,1)]); m0 = statistics.median(res[(name,0)])
        print(f'  {name:8s} 1 thread {m1:.3f}s  all {m0:.3f}s  ratio {m0/m1:.2f}  runs1={[round(x,3) for x in res[(name,1)]]} runs0={[round(x,3) for x in res[(name,0)]]}')
    sys.stdout.flush()
