"""Brian2's example frompapers/Brunel_2000.py, one Fig. 8 panel, on the cpp_standalone device,
with the run phase timed apart from code generation and compilation.

    python3 benches/brian2/brunel2000_standalone.py PANEL [--reps N] [--threads T] [--dir DIR]
    python3 benches/brian2/brunel2000_standalone.py --g G --ratio R [--duration MS] [--reps N] ...
    python3 benches/brian2/brunel2000_standalone.py PANEL --runtime [--reps N]

The first form runs one Fig. 8 panel (its g, nu_ext/nu_thr and duration); the second, point
mode, any point of the phase plane (the sweep's points), for --duration ms (default 1000),
labelled `g=G;ratio=R` in the output. With --runtime the same network runs on Brian2's
default runtime device (Cython code objects) instead: each repetition is one more `run()` of
the duration, timed by the wall clock (repetition 0 includes code generation and Cython
compilation, unless Brian2's cache already holds them), printed as `brian2-runtime,...` with
run_s = binary_s = that time.

Prints one CSV line per repetition:
    brian2,PANEL,rep,run_s,binary_s,spikes,rate_hz
where run_s is Brian2's own measurement of the run (`device._last_run_time`: the simulation
loop inside the generated binary) and binary_s the wall time of the whole binary (loading the
arrays, the run, writing the results). The model is the example's, unchanged: N_E = 10 000,
gamma = 0.25, epsilon = 0.1, tau = 20 ms, theta = 20 mV, V_r = 10 mV, tau_rp = 2 ms,
J = 0.1 mV, D = 1.5 ms, dt = 0.1 ms, PoissonInput(N = C_ext, rate = ratio * nu_thr, weight = J),
PopulationRateMonitor(neurons) and SpikeMonitor(neurons[:50]).
"""

import argparse
import os
import time

from brian2 import (
    NeuronGroup,
    PoissonInput,
    PopulationRateMonitor,
    SpikeMonitor,
    Synapses,
    defaultclock,
    device,
    ms,
    mV,
    prefs,
    run,
    seed,
    set_device,
)

PANELS = {
    # panel: (g, nu_ext / nu_thr, simulated time in ms), docs/model.md's table
    "A": (3.0, 2.0, 600.0),
    "B": (6.0, 4.0, 1200.0),
    "C": (5.0, 2.0, 1200.0),
    "D": (4.5, 0.9, 1200.0),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("panel", nargs="?", choices=sorted(PANELS), help="a Fig. 8 panel (or --g and --ratio)")
    ap.add_argument("--g", type=float, default=None, help="point mode: relative inhibition g")
    ap.add_argument("--ratio", type=float, default=None, help="point mode: nu_ext / nu_thr")
    ap.add_argument("--duration", type=float, default=None, help="simulated ms (point mode: 1000; panel: the panel's)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="OpenMP threads (0: Brian2's default, one)")
    ap.add_argument("--dir", default=None, help="where the generated project goes")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--runtime", action="store_true", help="Brian2's runtime device instead of cpp_standalone")
    args = ap.parse_args()
    if args.panel is not None:
        if args.g is not None or args.ratio is not None:
            ap.error("give either a panel or --g and --ratio, not both")
        g, ratio, duration = PANELS[args.panel]
        label = args.panel
    else:
        if args.g is None or args.ratio is None:
            ap.error("give a panel (A, B, C, D) or both --g and --ratio")
        g, ratio, duration = args.g, args.ratio, 1000.0
        label = f"g={g:g};ratio={ratio:g}"
    if args.duration is not None:
        if not args.duration > 0:
            ap.error("--duration must be positive")
        duration = args.duration
    tag = label.replace("=", "").replace(";", "_")
    directory = args.dir or f"/tmp/brian2_brunel_{tag}"

    if not args.runtime:
        set_device("cpp_standalone", directory=directory, build_on_run=False)
    if args.threads > 0:
        prefs.devices.cpp_standalone.openmp_threads = args.threads
    seed(args.seed)

    N_E = 10000
    gamma = 0.25
    N_I = round(gamma * N_E)
    N = N_E + N_I
    epsilon = 0.1
    C_E = epsilon * N_E
    C_ext = C_E
    tau = 20 * ms
    theta = 20 * mV
    V_r = 10 * mV
    tau_rp = 2 * ms
    J = 0.1 * mV
    D = 1.5 * ms
    nu_thr = theta / (J * C_E * tau)
    defaultclock.dt = 0.1 * ms

    neurons = NeuronGroup(
        N,
        """dv/dt = -v/tau : volt (unless refractory)""",
        threshold="v > theta",
        reset="v = V_r",
        refractory=tau_rp,
        method="exact",
    )
    excitatory_neurons = neurons[:N_E]
    inhibitory_neurons = neurons[N_E:]
    exc_synapses = Synapses(excitatory_neurons, target=neurons, on_pre="v += J", delay=D)
    exc_synapses.connect(p=epsilon)
    inhib_synapses = Synapses(inhibitory_neurons, target=neurons, on_pre="v += -g*J", delay=D)
    inhib_synapses.connect(p=epsilon)
    nu_ext = ratio * nu_thr
    external_poisson_input = PoissonInput(target=neurons, target_var="v", N=C_ext, rate=nu_ext, weight=J)
    rate_monitor = PopulationRateMonitor(neurons)
    spike_monitor = SpikeMonitor(neurons[:50])
    # Every object is bound to a name: Brian2's magic network collects only referenced objects.
    assert external_poisson_input is not None and spike_monitor is not None
    if args.runtime:
        for rep in range(args.reps):
            before = len(rate_monitor.rate)
            t = time.perf_counter()
            run(duration * ms)
            run_s = time.perf_counter() - t
            mean_rate = float(rate_monitor.rate[before:].mean())
            spikes = int(round(mean_rate * N * duration / 1000.0))
            print(f"brian2-runtime,{label},{rep},{run_s:.4f},{run_s:.4f},{spikes},{mean_rate:.2f}", flush=True)
        return
    run(duration * ms)

    t = time.perf_counter()
    device.build(directory=directory, compile=True, run=False)
    compile_s = time.perf_counter() - t
    print(f"# {label}: code generation and compilation {compile_s:.1f} s", flush=True)
    for rep in range(args.reps):
        t = time.perf_counter()
        device.run(directory=directory, with_output=False, run_args=[])
        binary_s = time.perf_counter() - t
        run_s = device._last_run_time
        # Population rate in Hz (Brian2 returns it in 1/s), averaged over the run.
        mean_rate = float(rate_monitor.rate[:].mean())
        spikes = int(round(mean_rate * N * duration / 1000.0))
        print(f"brian2,{label},{rep},{run_s:.4f},{binary_s:.4f},{spikes},{mean_rate:.2f}", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
