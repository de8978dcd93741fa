#!/usr/bin/env python3
"""Side-by-side: run phase of panel C (and optionally N=125k) for several brunel binaries,
threads 1 and 0, quiet / one busy loop / one busy loop pinned to core 0. Median of R."""
import subprocess, sys, os, statistics, tomllib, time, itertools
bins = dict(a.split('=',1) for a in sys.argv[1].split(','))
R = int(sys.argv[2]) if len(sys.argv) > 2 else 3
loads = sys.argv[3].split(',') if len(sys.argv) > 3 else ['quiet','busy','pinned']
work = sys.argv[4] if len(sys.argv) > 4 else 'c'
root = os.environ.get('BRUNEL_ROOT', '.')  # the repository
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
