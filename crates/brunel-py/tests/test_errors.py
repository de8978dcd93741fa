"""Errors at the Python boundary: an exception raised by a progress callback stops the run and
is raised, arguments of the wrong type or range are refused with TypeError/ValueError naming
the argument, and the refusals of the CLI apply (a sweep without axes, a sweep over its own
config, a config that is not a regular file)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import brunel


def small(ms: float = 120.0) -> brunel.Config:
    """A network small enough to run in a fraction of a second (1 000 neurons)."""
    cfg = brunel.Config()
    cfg.update({"network.n_e": 800, "simulation.duration": ms})
    return cfg


class Stop(Exception):
    pass


@pytest.mark.parametrize("exc", [Stop, SystemExit, KeyboardInterrupt])
def test_an_exception_in_the_progress_callback_is_raised_from_run(exc):
    # 120 ms at dt = 0.1 ms is two chunks of steps (600 and 600); 20 ms is one, which is also
    # the last: an exception raised at the last call must not be lost either.
    for ms, raise_at in [(120.0, 1), (120.0, 2), (20.0, 1)]:
        calls = []

        def progress(done, total):
            calls.append((done, total))
            if len(calls) == raise_at:
                raise exc("from the callback")

        with pytest.raises(exc, match="from the callback"):
            brunel.run(small(ms), backend="reference", progress=progress)
        assert len(calls) == raise_at, f"{ms} ms: the run went on after the callback raised"


def test_progress_must_be_a_bool_none_or_a_callable():
    for bad in ["yes", 1, 0.5, [print]]:
        with pytest.raises(TypeError, match="progress"):
            brunel.run(small(20), backend="reference", progress=bad)
        with pytest.raises(TypeError, match="progress"):
            brunel.sweep(small(20), {"synapse.g": [4, 5]}, progress=bad)
    # What is documented still works.
    for good in [None, False, True, lambda done, total: None]:
        brunel.run(small(20), backend="reference", progress=good)


def _save(**kw):
    brunel.run(small(20), backend="reference", progress=False).save(**kw)


# (what is called, arguments, the exception, the argument its message names)
ARGUMENTS = [
    (brunel.run, dict(cfg=5), TypeError, "cfg"),
    (brunel.run, dict(cfg=small(20), backend=3), TypeError, "backend"),
    (brunel.run, dict(cfg=small(20), threads="2"), TypeError, "threads"),
    (brunel.run, dict(cfg=small(20), threads=True), TypeError, "threads"),
    (brunel.run, dict(cfg=small(20), threads=1.0), TypeError, "threads"),
    (brunel.run, dict(cfg=small(20), threads=-1), ValueError, "threads"),
    (brunel.run, dict(cfg=small(20), threads=2**70), ValueError, "threads"),
    (brunel.run, dict(cfg=small(20), device="0"), TypeError, "device"),
    (brunel.run, dict(cfg=small(20), device=True), TypeError, "device"),
    (brunel.run, dict(cfg=small(20), device=-1), ValueError, "device"),
    (brunel.run, dict(cfg=small(20), record=5), TypeError, "record"),
    (brunel.sweep, dict(cfg=small(20), grid=5), TypeError, "grid"),
    (brunel.sweep, dict(cfg=small(20), grid=[5]), TypeError, "grid"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": 5}), TypeError, "synapse.g"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, seeds=3), TypeError, "seeds"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, seeds=[1.5]), TypeError,
     "seeds"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, seeds=[-1]), ValueError,
     "seeds"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, seeds=[2**64]), ValueError,
     "seeds"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, duration="10"), TypeError,
     "duration"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, duration=float("nan")),
     ValueError, "duration"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, duration=-5), ValueError,
     "duration"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, set=[("synapse.j", 1)]),
     TypeError, "set"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, backend=None), TypeError,
     "backend"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, threads="1"), TypeError,
     "threads"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, jobs=-1), ValueError, "jobs"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, out=5), TypeError, "out"),
    (brunel.sweep, dict(cfg=small(20), grid={"synapse.g": "4,5"}, force="no"), TypeError,
     "force"),
    (brunel.theory, dict(cfg=small(20), grid=5), TypeError, "grid"),
    (brunel.theory, dict(cfg=small(20), set="synapse.g=4"), TypeError, "set"),
    (brunel.load, dict(path=5), TypeError, "path"),
    (brunel.Config.load, dict(path=5), TypeError, "path"),
    (brunel.Config.from_toml, dict(text=b"[synapse]\ng = 4.0\n"), TypeError, "text"),
    (brunel.Config.from_toml, dict(text="", origin=3), TypeError, "origin"),
    (small(20).update, dict(values=[("synapse.g", 4.0)]), TypeError, "values"),
    (_save, dict(path=5), TypeError, "path"),
    (_save, dict(path="x.h5", force="yes"), TypeError, "force"),
]


def test_arguments_of_the_wrong_type_or_range_are_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wrong = []
    for f, kw, exc, name in ARGUMENTS:
        try:
            f(**kw)
        except exc as e:
            if f"`{name}`" not in str(e):
                wrong.append(f"{f.__qualname__}({kw}): {exc.__name__} without `{name}`: {e}")
        except Exception as e:  # noqa: BLE001 -- listed as what went wrong
            wrong.append(f"{f.__qualname__}({kw}): {type(e).__name__} {e}")
        else:
            wrong.append(f"{f.__qualname__}({kw}): accepted")
    assert not wrong, "\n".join(wrong)
    assert os.listdir(tmp_path) == [], "a refused call left files"


def test_a_grid_without_axes_is_refused(tmp_path):
    for grid in [{}, []]:
        with pytest.raises(ValueError, match="no axes") as e:
            brunel.sweep(small(20), grid, out=tmp_path / "s.h5", progress=False)
        assert "H5" not in str(e.value)
        with pytest.raises(ValueError, match="no axes"):
            brunel.theory(small(20), grid=grid)
    assert os.listdir(tmp_path) == []


def test_a_sweep_never_writes_over_its_config(tmp_path):
    toml = small(20).to_toml()
    (tmp_path / "c.toml").write_text(toml)
    (tmp_path / "x.csv").write_text(toml)  # a config named .csv: out x.h5 writes x.csv
    (tmp_path / "link.h5").symlink_to("c.toml")
    cases = [
        (brunel.Config.load(tmp_path / "c.toml"), tmp_path / "c.toml"),
        (tmp_path / "c.toml", tmp_path / "c.toml"),
        (brunel.Config.load(tmp_path / "c.toml"), tmp_path / "link.h5"),
        (brunel.Config.load(tmp_path / "x.csv"), tmp_path / "x.h5"),
        (tmp_path / "x.csv", tmp_path / "x.h5"),
    ]
    for cfg, out in cases:
        with pytest.raises(ValueError, match="same file"):
            brunel.sweep(cfg, {"synapse.g": [4, 5]}, out=out, force=True, progress=False)
        assert (tmp_path / "c.toml").read_text() == toml, f"{cfg!r}, out {out}"
        assert (tmp_path / "x.csv").read_text() == toml, f"{cfg!r}, out {out}"
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "link.h5", "x.csv"]


def test_a_fifo_as_a_config_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "c.toml"
    os.mkfifo(fifo)
    # In a child process, so that a read that blocks fails the test instead of hanging it.
    code = textwrap.dedent(
        f"""
        import brunel
        for call in [lambda: brunel.Config.load({str(fifo)!r}),
                     lambda: brunel.run({str(fifo)!r}, progress=False),
                     lambda: brunel.theory({str(fifo)!r}),
                     lambda: brunel.sweep({str(fifo)!r}, {{"synapse.g": [4, 5]}},
                                          progress=False),
                     lambda: brunel.load({str(fifo)!r})]:
            try:
                call()
            except OSError as e:
                assert "not a regular file" in str(e), e
            else:
                raise AssertionError("a FIFO was accepted")
        print("refused")
        """
    )
    try:
        p = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("reading a FIFO as a config blocked")
    assert p.returncode == 0 and p.stdout.strip() == "refused", p.stderr


def test_numpy_numbers_are_config_values_and_grid_values(tmp_path):
    import numpy as np

    cfg = small(20)
    for value in [np.float64(6.0), np.float32(6.0), np.int64(6), np.array(6.0)]:
        cfg["synapse.g"] = value
        assert cfg["synapse.g"] == 6.0, type(value)
    cfg["simulation.seed"] = np.uint64(7)
    assert cfg["simulation.seed"] == 7
    cfg["plot.window"] = np.array([10.0, 20.0])
    assert cfg["plot.window"] == [10.0, 20.0]
    cfg["plot.window"] = [np.float64(5), np.int64(15)]
    assert cfg["plot.window"] == [5.0, 15.0]
    cfg.update({"input.ratio": np.float64(2.5)})
    assert cfg["input.ratio"] == 2.5
    for grid in [{"synapse.g": np.linspace(4, 6, 3)}, {"synapse.g": [np.float64(4), 5.0, 6]}]:
        t = brunel.theory(cfg, grid=grid)
        assert t.shape == (3,)
        assert list(t.axes["synapse.g"]) == [4.0, 5.0, 6.0]
    t = brunel.theory(cfg, set={"synapse.g": np.float64(4.0)})
    assert math.isfinite(t["rate_hz"])
    s = brunel.sweep(
        cfg, {"synapse.g": np.linspace(4, 5, 2)}, out=tmp_path / "s.h5", progress=False
    )
    assert s.shape == (2,)


def test_a_seed_given_twice_is_refused(tmp_path):
    for seeds in [[1, 1], [3, 1, 3]]:
        with pytest.raises(ValueError, match="seed . is given twice"):
            brunel.sweep(
                small(20), {"synapse.g": [4]}, seeds=seeds, out=tmp_path / "s.h5", progress=False
            )
    assert os.listdir(tmp_path) == []
