"""The Python package against the CLI: the same spikes bit for bit on every backend, the same
error messages, the same files; Ctrl-C; the GIL released; no copies of the spike arrays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import brunel
from conftest import cli, configs_dir, skip

PANEL_C = configs_dir() / "fig8_c.toml"
# A distributed backend (mpi) spreads one run over the ranks of `mpirun ... brunel run`; an
# embedding refuses it (crates/brunel-mpi and crates/brunel-cli/tests/mpi.rs test it).
BACKENDS = [b["name"] for b in brunel.backends() if not b["distributed"]]


def panel_c(ms: float = 300.0) -> brunel.Config:
    cfg = brunel.Config.load(PANEL_C)
    cfg["simulation.duration"] = ms
    return cfg


def need_backend(name: str) -> None:
    entry = next(b for b in brunel.backends() if b["name"] == name)
    if not entry["available"]:
        skip(name, entry["why"])


def h5py_or_skip():
    try:
        import h5py
    except ImportError:
        skip("python", f"{sys.executable} lacks h5py (cargo xtask setup --test-tools installs it)")
    return h5py


# --- configs --------------------------------------------------------------------------------


def test_config_defaults_keys_and_toml():
    cfg = brunel.Config()
    assert cfg["network.n_e"] == 10_000 and cfg["synapse.j"] == 0.1
    assert cfg["plot.window"] is None  # optional, not set
    assert "synapse.g" in cfg and "synapse.nope" not in cfg
    assert set(cfg.keys()) >= {"synapse.g", "input.ratio", "simulation.seed", "record.spikes"}
    cfg["synapse.g"] = 6  # an integer where a float is meant, as TOML allows
    assert cfg["synapse.g"] == 6.0 and isinstance(cfg["synapse.g"], float)
    cfg["record.spikes"] = "all"
    cfg["plot.window"] = [0, 100]
    cfg["simulation.seed"] = 2**64 - 1
    assert cfg["simulation.seed"] == 2**64 - 1
    again = brunel.Config.from_toml(cfg.to_toml())
    assert again == cfg and again["plot.window"] == [0.0, 100.0]
    assert "g = 6.0" in cfg.to_toml()
    with pytest.raises(KeyError):
        cfg["synapse.nope"]
    # A copy is independent.
    other = cfg.copy()
    other["synapse.g"] = 4
    assert cfg["synapse.g"] == 6.0


@pytest.mark.parametrize(
    "key, value",
    [
        ("synapse.gg", 1),  # unknown key
        ("neuron.tau", -1.0),  # a negative time constant
        ("synapse.delay", 1.55),  # not a whole number of steps
        ("network.n_e", 2**40),  # does not fit 32-bit neuron ids
        ("input.ratio", float("inf")),
        ("simulation.duration", "long"),  # wrong type
        ("record.spikes", "some"),
        ("nosuch.key", 1),  # unknown section
    ],
)
def test_bad_key_or_value_is_a_value_error_with_the_clis_message(key, value, tmp_path):
    cfg = brunel.Config.load(PANEL_C)
    with pytest.raises(ValueError) as e:
        cfg[key] = value
    literal = brunel._toml_value(key, value)
    p = cli("run", str(PANEL_C), "--set", f"{key}={literal}", "--out", str(tmp_path / "x.h5"),
            check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == f"error: {e.value}"
    assert cfg == brunel.Config.load(PANEL_C), "a refused value leaves the config as it was"


def test_bad_config_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[synapse]\ng = \n")
    for path in [bad, tmp_path / "missing.toml"]:
        with pytest.raises((ValueError, OSError)) as e:
            brunel.Config.load(path)
        p = cli("run", str(path), "--out", str(tmp_path / "x.h5"), check=False)
        assert p.stderr.strip() == f"error: {e.value}"
    with pytest.raises(ValueError, match="expected"):
        brunel.Config.load(bad)
    with pytest.raises(OSError):
        brunel.Config.load(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="section.key"):
        brunel.Config()["g"] = 1


def test_bad_run_options_are_value_errors():
    cfg = panel_c(10)
    with pytest.raises(ValueError, match="unknown backend `nope`"):
        brunel.run(cfg, backend="nope", progress=False)
    with pytest.raises(ValueError, match="threads"):
        brunel.run(cfg, threads=5000, progress=False)
    with pytest.raises(ValueError, match="takes none"):
        brunel.run(cfg, backend="reference", device=0, progress=False)
    with pytest.raises(ValueError, match="first:N"):
        brunel.run(cfg, record="some", progress=False)


# --- runs against the CLI -------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_gives_the_clis_spikes_bit_for_bit(backend, tmp_path):
    need_backend(backend)
    h5py = h5py_or_skip()
    out = tmp_path / "cli.h5"
    cli("run", str(PANEL_C), "--duration", "300", "--backend", backend, "--out", str(out),
        "--quiet")
    r = brunel.run(panel_c(300), backend=backend, progress=False)
    assert r.info["backend"] == backend
    with h5py.File(out, "r") as f:
        times = f["spikes/brunel/timestamps"][()]
        ids = f["spikes/brunel/node_ids"][()]
        rate = f["population_rate/rate"][()]
        attrs = dict(f.attrs)
    assert r.spikes.times.dtype == np.float64 and r.spikes.ids.dtype == np.uint64
    assert len(times) > 100, "panel C's first 50 neurons fire"
    assert r.spikes.times.tobytes() == times.tobytes()
    assert r.spikes.ids.tobytes() == ids.tobytes()
    assert r.rate.tobytes() == rate.tobytes()
    for key, stat in [("spikes", "spikes"), ("synaptic_events", "synaptic_events"),
                      ("mean_rate_exc", "rate_exc_hz"), ("mean_rate_inh", "rate_inh_hz"),
                      ("theory_rate_hz", "theory_rate_hz")]:
        assert attrs[key] == r.stats[stat], key
    assert r.stats["cv_isi"] == attrs["mean_cv"]
    assert len(r.t) == len(r.rate) == 3000 and r.t[1] == 0.1
    assert r.stats["regime"] == "AI"


def test_run_takes_a_path_and_record_options():
    from_path = brunel.run(str(PANEL_C), progress=False)
    assert from_path.stats["duration"] == 1200.0
    cfg = panel_c(50)
    none = brunel.run(cfg, record="none", progress=False)
    assert len(none.spikes) == 0 and none.rate.any()
    everyone = brunel.run(cfg, record="all", progress=False)
    first = brunel.run(cfg, progress=False)
    assert set(np.unique(first.spikes.ids)) <= set(range(50))
    mask = everyone.spikes.ids < 50
    assert np.array_equal(everyone.spikes.times[mask], first.spikes.times)
    assert everyone.rate.tobytes() == first.rate.tobytes()
    cfg["record.spikes"] = "first:10"
    assert set(brunel.run(cfg, record=None, progress=False).spikes.ids) <= set(range(10))


def test_progress_callback_sees_every_chunk():
    seen = []
    brunel.run(panel_c(300), progress=lambda done, total: seen.append((done, total)))
    assert seen == [(min(k * 600, 3000), 3000) for k in range(1, 6)]


def test_spike_arrays_are_views_not_copies():
    r = brunel.run(panel_c(100), progress=False)
    data = r._data
    # Every access is a view of the same Rust memory: nothing is copied.
    assert np.shares_memory(data.times, data.times) and np.shares_memory(data.ids, r.spikes.ids)
    assert r.spikes.times.base is data and not r.spikes.times.flags.writeable
    with pytest.raises(ValueError):
        r.spikes.times[0] = 1.0
    # The views keep the data alive after the Result is gone.
    times = r.spikes.times
    copy = times.copy()
    del r, data
    import gc

    gc.collect()
    assert np.array_equal(times, copy)


def test_the_gil_is_released_during_a_run():
    ticks = 0
    done = threading.Event()

    def run():
        brunel.run(panel_c(600), backend="reference", progress=False)
        done.set()

    t = threading.Thread(target=run)
    start = time.monotonic()
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    elapsed = time.monotonic() - start
    # With the GIL held, the main thread would tick about once per chunk of steps (when the
    # run takes it to check for signals): 10 times here, against up to 1000 a second (fewer on
    # a loaded machine, whose sleeps last longer).
    assert elapsed > 0.5 and ticks > 40 and ticks > 30 * elapsed, (ticks, elapsed)


# --- files ----------------------------------------------------------------------------------


def test_save_load_round_trip_is_the_clis_file(tmp_path):
    h5py = h5py_or_skip()
    r = brunel.run(panel_c(300), progress=False)
    path = tmp_path / "py.h5"
    r.save(path)
    back = brunel.load(path)
    assert back.spikes.times.tobytes() == r.spikes.times.tobytes()
    assert back.spikes.ids.tobytes() == r.spikes.ids.tobytes()
    assert back.rate.tobytes() == r.rate.tobytes()
    assert back.config == r.config
    for k, v in back.stats.items():
        assert v == r.stats[k] or (v != v and r.stats[k] != r.stats[k]), k
    for k in ["backend", "device", "threads", "seed", "synapses", "run_seconds", "created"]:
        assert back.info[k] == r.info[k], k
    # The same layout as the CLI's file: every attribute and dataset.
    cli_file = tmp_path / "cli.h5"
    cli("run", str(PANEL_C), "--duration", "300", "--out", str(cli_file), "--quiet")
    layout = {}
    for p in [path, cli_file]:
        with h5py.File(p, "r") as f:
            names = []
            f.visit(names.append)
            layout[p] = (sorted(f.attrs), sorted(names),
                         {n: sorted(f[n].attrs) for n in names})
    assert layout[path] == layout[cli_file]
    # The CLI reads it.
    assert r.info["backend"] in cli("info", str(path)).stdout
    # An existing file is replaced only with force; a folder never; nothing is left behind.
    with pytest.raises(FileExistsError, match="force=True"):
        r.save(path)
    r.save(path, force=True)
    with pytest.raises(OSError):
        r.save(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["cli.h5", "py.h5"]


@pytest.mark.brunel_name("sonata")
def test_libsonata_reads_the_saved_file(tmp_path):
    try:
        import libsonata
    except ImportError:
        skip("sonata", f"{sys.executable} lacks libsonata (cargo xtask setup --test-tools installs it)")
    r = brunel.run(panel_c(300), progress=False)
    path = tmp_path / "py.h5"
    r.save(path)
    pop = libsonata.SpikeReader(str(path))["brunel"]
    assert pop.sorting == "by_time"
    spikes = pop.get()
    ids = np.array([s[0] for s in spikes], dtype=np.uint64)
    times = np.array([s[1] for s in spikes])
    assert len(spikes) == len(r.spikes) > 100
    assert np.array_equal(ids, r.spikes.ids) and np.array_equal(times, r.spikes.times)


# --- Ctrl-C ---------------------------------------------------------------------------------

INTERRUPTED_RUN = """
import sys, time, brunel
cfg = brunel.Config.load(sys.argv[1])
cfg["simulation.duration"] = 100000.0
def progress(done, total):
    if done == 600:
        print("running", flush=True)
try:
    brunel.run(cfg, backend=sys.argv[2], progress=progress)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    # The process goes on: the next run works.
    cfg["simulation.duration"] = 10.0
    r = brunel.run(cfg, progress=False)
    print("again", r.stats["steps"], flush=True)
"""


def _readline(p: subprocess.Popen, timeout: float) -> str:
    """The child's next line of stdout, or an assertion error after `timeout` seconds (a run
    that Ctrl-C did not stop would otherwise hang the suite)."""
    import select

    ready, _, _ = select.select([p.stdout], [], [], timeout)
    assert ready, f"no line from the child in {timeout} s"
    return p.stdout.readline().strip()


def _start(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_stops_a_run_within_a_second(backend):
    need_backend(backend)
    p = _start(INTERRUPTED_RUN, str(PANEL_C), backend)
    try:
        assert _readline(p, 120) == "running"
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        line = _readline(p, 30)
        stopped = time.monotonic() - sent
        assert line == "interrupted", p.stderr.read()
        assert stopped < 1.0, f"stopped {stopped:.2f} s after Ctrl-C"
        assert _readline(p, 60).split() == ["again", "100"]
        assert p.wait(60) == 0
    finally:
        p.kill()


INTERRUPTED_SWEEP = """
import sys, brunel
try:
    s = brunel.sweep(sys.argv[1], {"synapse.g": "4:7.75:0.25"},
                     duration=300, backend="cpu", threads=1, jobs=1, out=sys.argv[2],
                     progress=False)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_stops_a_sweep_and_the_same_call_resumes_it(tmp_path):
    need_backend("cpu")
    out = tmp_path / "sweep.h5"
    journal = tmp_path / ".sweep.h5.sweep"
    p = _start(INTERRUPTED_SWEEP, str(PANEL_C), str(out))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            if journal.exists() and journal.read_text().partition("\n---\n")[2].strip():
                break  # a run is journaled
            time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        assert _readline(p, 60) == "interrupted"
        assert p.wait(60) == 0
    finally:
        p.kill()
    assert journal.exists() and not out.exists(), "the runs done are journaled, no result yet"
    s = brunel.sweep(PANEL_C, {"synapse.g": "4:7.75:0.25"}, duration=300,
                     backend="cpu", threads=1, jobs=1, out=out, progress=False)
    assert out.exists() and not journal.exists()
    assert s.shape == (16,) and np.isfinite(s["rate_exc_hz"]).all()


# --- sweep, theory, backends ----------------------------------------------------------------


def test_sweep_gives_the_clis_arrays(tmp_path):
    h5py = h5py_or_skip()
    grid = {"synapse.g": "4:6:1", "input.ratio": [2, 4]}
    cfg = brunel.Config.load(PANEL_C)
    s = brunel.sweep(cfg, grid, duration=200, progress=False)
    assert s.shape == (3, 2) and list(s.axes) == ["synapse.g", "input.ratio"]
    assert np.array_equal(s.axes["synapse.g"], [4.0, 5.0, 6.0])
    out = tmp_path / "cli.h5"
    cli("sweep", str(PANEL_C), "--grid", "synapse.g=4:6:1", "--grid", "input.ratio=2,4",
        "--duration", "200", "--out", str(out), "--quiet")
    with h5py.File(out, "r") as f:
        for name in ["rate_exc_hz", "cv_isi", "pop_cv", "peak_hz", "theory_rate_hz"]:
            assert np.array_equal(f[name][()], s[name], equal_nan=True), name
        assert [x.decode() if isinstance(x, bytes) else x for x in f["regime"][()].ravel()] == \
            list(s["regime"].ravel())
    assert s["regime"][1, 0] == "AI"  # g = 5, ratio 2: panel C
    frame = s.frame
    try:
        import pandas  # noqa: F401
    except ImportError:
        assert frame is None
    else:
        assert len(frame) == 6 and list(frame.columns[:2]) == ["synapse.g", "input.ratio"]
    # No file is left beside the config without out=.
    assert sorted(os.listdir(tmp_path)) == ["cli.csv", "cli.h5"]
    with pytest.raises(ValueError, match="nosuch"):
        brunel.sweep(cfg, {"synapse.nosuch": [1, 2]}, duration=10, progress=False)


def test_theory_gives_the_clis_numbers():
    try:
        import tomllib
    except ImportError:
        skip("python", "tomllib (Python >= 3.11) reads the CLI's TOML output")
    t = brunel.theory(PANEL_C)
    cli_t = tomllib.loads(cli("theory", str(PANEL_C), "--format", "toml").stdout)
    assert t["stable"] and abs(t["rate_hz"] - 37.95) < 0.01
    assert [s["rate_hz"] for s in t["states"]] == [s["rate_hz"] for s in cli_t["states"]]
    b = brunel.theory(PANEL_C, set={"synapse.g": 4.5})
    assert b["rate_hz"] != t["rate_hz"]
    grid = brunel.theory(PANEL_C, grid={"synapse.g": "3:6:0.5", "input.ratio": [1, 2, 4]})
    assert grid.shape == (7, 3)
    cli_g = tomllib.loads(cli("theory", str(PANEL_C), "--grid", "synapse.g=3:6:0.5",
                              "--grid", "input.ratio=1,2,4", "--format", "toml").stdout)
    assert [p["rate_hz"] for p in cli_g["points"]] == list(grid["rate_hz"].ravel())
    assert len(grid.boundaries) == len(cli_g["boundaries"]) > 0
    assert [b["value"] for b in grid.boundaries] == [b["value"] for b in cli_g["boundaries"]]
    with pytest.raises(ValueError):
        brunel.theory(PANEL_C, grid=["synapse.g=3:1:0"])
    with pytest.warns(UserWarning, match="discard"):
        brunel.theory(PANEL_C, set={"neuron.refractory_input": "accumulate"})


def test_a_distributed_backend_is_refused():
    with pytest.raises(Exception, match="mpirun -np K brunel run"):
        brunel.run(PANEL_C, backend="mpi")


def test_backends_are_the_registrys():
    try:
        import tomllib
    except ImportError:
        skip("python", "tomllib (Python >= 3.11) reads the CLI's TOML output")
    listed = tomllib.loads(cli("backends", "--format", "toml").stdout)["backend"]
    ours = brunel.backends()
    assert [b["name"] for b in ours] == [b["name"] for b in listed]
    # The package and the binary may be built with other features: the mpi backend is built
    # into the binary where Open MPI is installed, never into the package (which refuses it).
    local = [b for b in listed if not b["distributed"]]
    assert [b["available"] for b in ours if not b["distributed"]] == [
        b["available"] for b in local
    ]
    assert [b["distributed"] for b in ours] == [b["distributed"] for b in listed]
    assert any(b["available"] for b in ours)


def test_progress_bar_on_a_terminal_and_quiet_elsewhere(monkeypatch):
    import io

    from brunel import _progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    # Without tqdm: a line on a terminal, nothing elsewhere (a notebook's stderr is no terminal).
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert _progress.make_progress(True, 300.0) is None
    assert _progress.make_progress(False, 300.0) is None
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    monkeypatch.setattr(_progress, "QUIET_FOR", 0.0)
    bar = _progress.make_progress(True, 300.0)
    brunel.run(panel_c(300), progress=bar)
    bar.close()
    text = term.getvalue()
    assert "simulating 300 ms" in text and "100%" in text and text.endswith("\r\033[K")
    # A short run draws nothing (the CLI's rule: only runs longer than half a second).
    monkeypatch.setattr(_progress, "QUIET_FOR", 0.5)
    term.truncate(0)
    term.seek(0)
    brunel.run(panel_c(10))
    assert term.getvalue() == ""
