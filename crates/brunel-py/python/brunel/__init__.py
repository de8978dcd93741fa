"""brunel: Brunel (2000)'s sparse network of 12 500 integrate-and-fire neurons, simulated in Rust.

The same simulator as the ``brunel`` command line (same code, same spikes bit for bit), with
results as numpy arrays::

    import brunel
    cfg = brunel.Config.load("configs/fig8_c.toml")
    cfg["synapse.g"] = 6
    result = brunel.run(cfg)
    result.spikes.times, result.spikes.ids   # ms (float64), neuron ids (uint64)
    result.t, result.rate                    # the population rate of every step (Hz)
    result.save("fig8_c.h5")                 # the SONATA file `brunel run` writes

The GIL is released while Rust simulates; Ctrl-C (KeyboardInterrupt) stops a run after the
chunk of 600 steps in progress.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _brunel
from ._progress import make_progress

__all__ = [
    "Config",
    "Result",
    "Spikes",
    "SweepResult",
    "TheoryGrid",
    "backends",
    "load",
    "run",
    "sweep",
    "theory",
    "__version__",
]

__version__: str = _brunel.__version__

PathLike = Union[str, "os.PathLike[str]"]
Progress = Union[bool, Callable[[int, int], Any], None]


def _toml_value(key: str, value: Any) -> str:
    """A Python value as the TOML text of a ``--set key=value``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # TOML's integers stop at 2^63 - 1; the seed (up to 2^64 - 1) is also read as a string.
        return str(value) if -(2**63) <= value < 2**63 else json.dumps(str(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return _toml_value(key, value.item())
    if isinstance(value, str):
        # A JSON string is a TOML basic string (same escapes).
        return json.dumps(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_toml_value(key, v) for v in value) + "]"
    raise ValueError(
        f"config key `{key}`: cannot set a value of type {type(value).__name__} "
        "(numbers, booleans, strings and lists of them)"
    )


def _check_key(key: Any) -> str:
    if not isinstance(key, str):
        raise ValueError(f"config keys are strings such as 'synapse.g', not {type(key).__name__}")
    if "=" in key or "\n" in key or key.count(".") != 1:
        raise ValueError(
            f"override `{key}`: the key must be `section.key`, e.g. `synapse.g`"
        )
    return key


class Config:
    """A simulation config: every key of ``configs/reference.toml``, by dotted key.

    ``Config()`` is the default (Brunel's values, panel A's drive); ``Config.load(path)`` reads
    a TOML file as ``brunel run`` does. ``cfg["synapse.g"] = 6`` sets a key, validated at once:
    a bad key or value raises ValueError with the message the CLI prints for ``--set``.
    """

    __slots__ = ("_text", "_origin")

    def __init__(self) -> None:
        self._text: str = _brunel.config_default()
        self._origin: str = "defaults"

    @classmethod
    def load(cls, path: PathLike) -> "Config":
        """Reads and validates a config file (TOML), as ``brunel run CONFIG`` does."""
        cfg = cls.__new__(cls)
        cfg._text = _brunel.config_load(os.fspath(path))
        cfg._origin = os.fspath(path)
        return cfg

    @classmethod
    def from_toml(cls, text: str, origin: str = "text") -> "Config":
        """Parses and validates TOML text (``origin`` names it in error messages)."""
        cfg = cls.__new__(cls)
        cfg._text = _brunel.config_resolve(text, origin, [])
        cfg._origin = origin
        return cfg

    def to_toml(self) -> str:
        """The fully resolved config as TOML: every key, defaults included."""
        return self._text

    def to_dict(self) -> Dict[str, Dict[str, Any]]:
        """The config as nested dicts: ``{"synapse": {"g": 5.0, ...}, ...}``."""
        return _brunel.config_table(self._text)

    def copy(self) -> "Config":
        cfg = Config.__new__(Config)
        cfg._text = self._text
        cfg._origin = self._origin
        return cfg

    def update(self, values: Mapping[str, Any]) -> None:
        """Sets several keys at once (all validated together)."""
        overrides = [f"{_check_key(k)}={_toml_value(k, v)}" for k, v in values.items()]
        self._text = _brunel.config_resolve(self._text, self._origin, overrides)

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __getitem__(self, key: str) -> Any:
        _check_key(key)
        section, name = key.split(".")
        table = self.to_dict()
        if section in table and name in table[section]:
            return table[section][name]
        if key in _brunel.config_keys():
            return None  # an optional key that is not set (plot.window, input.c_ext, ...)
        raise KeyError(f"no config key `{key}` (configs/reference.toml lists every key)")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in _brunel.config_keys()

    def keys(self) -> List[str]:
        """Every key a config has (optional ones included), ``section.key``."""
        return list(_brunel.config_keys())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and other._text == self._text

    def __repr__(self) -> str:
        t = self.to_dict()
        return (
            f"<brunel.Config {self._origin}: g={t['synapse']['g']}, "
            f"ratio={t['input']['ratio']}, {t['simulation']['duration']} ms, "
            f"seed={t['simulation']['seed']}>"
        )


def _as_config(cfg: Union[Config, PathLike]) -> Config:
    if isinstance(cfg, Config):
        return cfg
    return Config.load(cfg)


class Spikes:
    """Recorded spikes in (time, id) order: ``times`` (ms, float64) and ``ids`` (uint64).

    Both are read-only numpy views of the simulator's own arrays (no copy).
    """

    __slots__ = ("times", "ids")

    def __init__(self, times: np.ndarray, ids: np.ndarray) -> None:
        self.times = times
        self.ids = ids

    def __len__(self) -> int:
        return len(self.times)

    def __repr__(self) -> str:
        return f"<brunel.Spikes: {len(self)} spikes>"


class Result:
    """A finished run, or a result file read back with :func:`load`.

    ``spikes``: the recorded spikes; ``rate``: the population rate of every step (Hz) at
    times ``t`` (ms); ``stats``: mean rates of E and I, CV of ISIs (last 80 % of the run),
    spikes, synaptic events, the theory's rate, and after a run the population statistics and
    the regime; ``info``: backend, device, threads, timings, seed; ``config``: the resolved
    config.
    """

    __slots__ = ("_data", "spikes", "rate", "stats", "info", "config")

    def __init__(self, data: "_brunel.RunData") -> None:
        self._data = data
        self.spikes = Spikes(data.times, data.ids)
        self.rate: np.ndarray = data.rate
        self.stats: Dict[str, Any] = data.stats
        self.info: Dict[str, Any] = data.info
        self.config: Config = Config.from_toml(data.config, "the run's config")

    @property
    def t(self) -> np.ndarray:
        """The time of every value of ``rate`` (ms): step k at k·dt."""
        return self._data.start + np.arange(len(self.rate)) * self._data.dt

    @property
    def dt(self) -> float:
        return self._data.dt

    def save(self, path: PathLike, force: bool = False) -> None:
        """Writes the SONATA result file ``brunel run`` writes (HDF5: spikes, population rate,
        provenance), atomically; an existing file is replaced only with ``force=True``."""
        self._data.save(os.fspath(path), force)

    def __repr__(self) -> str:
        s = self.stats
        return (
            f"<brunel.Result: {s['duration']} ms on {self.info['backend']}, "
            f"E {s['rate_exc_hz']:.2f} Hz, I {s['rate_inh_hz']:.2f} Hz, CV {s['cv_isi']:.3f}, "
            f"{len(self.spikes)} spikes recorded>"
        )


def run(
    cfg: Union[Config, PathLike],
    backend: str = "auto",
    threads: int = 0,
    device: Optional[int] = None,
    record: Optional[str] = "first:50",
    progress: Progress = True,
) -> Result:
    """Simulates a config as ``brunel run`` does and returns its results in memory.

    ``cfg``: a :class:`Config` or a config file's path. ``backend``: a name ``backends()``
    lists (``reference``, ``cpu``, ``opencl``) or ``"auto"``. ``threads``: threads of the build
    and the cpu backend, 0 = all cores. ``device``: the OpenCL device (``backends()`` lists
    them). ``record``: whose spikes are kept, ``"first:N"``, ``"all"`` or ``"none"``
    (``None``: the config's ``record.spikes``). ``progress``: a bar on a terminal (tqdm's when
    tqdm is installed, which also draws in notebooks; nothing on a non-terminal without it),
    ``False`` for none, or a callable ``f(done_steps, total_steps)``.

    Raises ValueError for a bad config or option (the CLI's message), KeyboardInterrupt on
    Ctrl-C (within one chunk of 600 steps).
    """
    cfg = _as_config(cfg)
    if record is not None:
        cfg = cfg.copy()
        cfg["record.spikes"] = record
    if not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be a whole number ≥ 0 (0 = all cores), got {threads!r}")
    if device is not None and (not isinstance(device, int) or device < 0):
        raise ValueError(f"device must be a device index ≥ 0, got {device!r}")
    table = cfg.to_dict()
    bar = make_progress(progress, table["simulation"]["duration"])
    try:
        data = _brunel.run(cfg.to_toml(), backend, threads, device, bar)
    finally:
        if bar is not None and hasattr(bar, "close"):
            bar.close()
    return Result(data)


def load(path: PathLike) -> Result:
    """Reads a result file written by ``brunel run`` or :meth:`Result.save`."""
    return Result(_brunel.load(os.fspath(path)))


def backends() -> List[Dict[str, Any]]:
    """Every backend brunel knows: ``name``, ``available`` (and ``about`` or ``why``), its
    ``devices``; as ``brunel backends`` lists them."""
    return list(_brunel.backends())


def _axis_spec(key: str, values: Any) -> str:
    if isinstance(values, str):
        return f"{key}={values}"
    if isinstance(values, range):
        values = list(values)
    return f"{key}=" + ",".join(_toml_value(key, v) for v in values)


def _grid_specs(grid: Union[Mapping[str, Any], Sequence[str]]) -> List[str]:
    if isinstance(grid, Mapping):
        return [_axis_spec(_check_key(k), v) for k, v in grid.items()]
    if isinstance(grid, str):
        return [grid]
    return list(grid)


def _set_specs(set: Optional[Mapping[str, Any]]) -> List[str]:
    if not set:
        return []
    return [f"{_check_key(k)}={_toml_value(k, v)}" for k, v in set.items()]


class _Grid:
    """Arrays over a grid: ``axes`` (key → values, first axis varying slowest) and ``shape``."""

    axes: Dict[str, Any]
    shape: tuple
    _columns: Dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        """The values of a statistic over the grid, shaped as the grid."""
        return self._columns[name]

    def keys(self) -> List[str]:
        return list(self._columns)

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def _points(self) -> Dict[str, np.ndarray]:
        """One column per axis key: every point's value (flattened grid order)."""
        grids = np.meshgrid(*[np.asarray(v) for v in self.axes.values()], indexing="ij")
        return {k: g.ravel() for k, g in zip(self.axes, grids)}

    @property
    def frame(self) -> Any:
        """A pandas DataFrame, one row per point (axis keys, then the statistics); None when
        pandas is not installed."""
        try:
            import pandas as pd
        except ImportError:
            return None
        cols: Dict[str, Any] = dict(self._points())
        for name, v in self._columns.items():
            cols[name] = np.asarray(v).ravel()
        return pd.DataFrame(cols)


class SweepResult(_Grid):
    """What ``brunel sweep`` writes, as numpy arrays shaped as the grid: ``rate_exc_hz``,
    ``rate_inh_hz``, ``cv_isi``, ``pop_cv``, ``synchrony``, ``sync_cv``, ``peak_hz``,
    ``peak_prominence`` (each with ``_std`` over seeds), ``theory_rate_hz`` and ``regime``
    (strings); ``result["cv_isi"]``; ``result.frame`` is the CSV's table (pandas)."""

    def __init__(self, raw: Dict[str, Any], out: Optional[str]) -> None:
        self.shape = tuple(raw["shape"])
        self.axes = {k: v for k, v in raw["axes"]}
        self._columns = {k: np.asarray(v).reshape(self.shape) for k, v in raw["values"].items()}
        self._columns["regime"] = np.array(raw["regime"], dtype=object).reshape(self.shape)
        self.config = Config.from_toml(raw["config"], "the sweep's config")
        self.seeds: List[int] = list(raw["seeds"])
        self.backend: str = raw["backend"]
        self.seconds: float = raw["seconds"]
        self.out = out

    def __repr__(self) -> str:
        axes = ", ".join(f"{k} ({len(v)})" for k, v in self.axes.items())
        return f"<brunel.SweepResult: {axes}; {len(self.seeds)} seed(s)>"


def sweep(
    cfg: Union[Config, PathLike],
    grid: Union[Mapping[str, Any], Sequence[str]],
    seeds: Optional[Sequence[int]] = None,
    duration: Optional[float] = None,
    set: Optional[Mapping[str, Any]] = None,
    backend: str = "auto",
    threads: int = 0,
    jobs: int = 0,
    out: Optional[PathLike] = None,
    force: bool = False,
    progress: bool = True,
) -> SweepResult:
    """Runs a config over a grid of config keys, as ``brunel sweep`` does (the same code).

    ``grid``: ``{"synapse.g": "0:8:0.5", "input.ratio": [1, 2, 4]}`` — the CLI's
    ``START:STOP:STEP`` (STOP included when on the grid) or a list of values — or the CLI's
    ``["synapse.g=0:8:0.5", ...]``; the first axis varies slowest. ``seeds``, ``duration``,
    ``set`` (a dict of other keys), ``backend``, ``threads``, ``jobs``: as the CLI's options.
    ``out``: also keep ``SWEEP.h5`` and ``SWEEP.csv`` there; the same call again resumes an
    interrupted sweep (Ctrl-C stops it after the runs in progress; those done are journaled).
    Without ``out`` the files go to a temporary folder. ``progress``: the CLI's bar on a
    terminal.
    """
    specs = _grid_specs(grid)
    with tempfile.TemporaryDirectory(prefix="brunel-sweep-") as tmp:
        target = Path(out) if out is not None else Path(tmp) / "sweep.h5"
        if isinstance(cfg, Config):
            # The config as a file beside the result, so that the same call resumes.
            config_path = target.parent / f".{target.name}.config.toml"
            config_path.write_text(cfg.to_toml())
        else:
            config_path = Path(cfg)
        quiet = not (progress and sys.stderr.isatty())
        try:
            raw = _brunel.sweep(
                os.fspath(config_path),
                specs,
                os.fspath(target),
                list(seeds or []),
                None if duration is None else float(duration),
                _set_specs(set),
                backend,
                threads,
                jobs,
                force,
                quiet,
            )
        finally:
            if isinstance(cfg, Config) and not (target.parent / f".{target.name}.sweep").exists():
                config_path.unlink(missing_ok=True)
        return SweepResult(raw, None if out is None else os.fspath(out))


class TheoryGrid(_Grid):
    """The mean-field theory over a grid: ``rate_hz`` (the lowest stationary rate), ``stable``,
    ``oscillation_hz`` (NaN where stable), ``n_states``, shaped as the grid; ``boundaries``:
    where the lowest state's stability changes between neighbours (bisected)."""

    def __init__(self, raw: Dict[str, Any]) -> None:
        self.shape = tuple(raw["shape"])
        self.axes = {k: v for k, v in raw["axes"]}
        self._columns = {
            k: np.asarray(raw[k]).reshape(self.shape)
            for k in ("rate_hz", "stable", "oscillation_hz", "n_states")
        }
        self.boundaries: List[Dict[str, Any]] = list(raw["boundaries"])

    def __repr__(self) -> str:
        axes = ", ".join(f"{k} ({len(v)})" for k, v in self.axes.items())
        return f"<brunel.TheoryGrid: {axes}; {len(self.boundaries)} boundary points>"


def theory(
    cfg: Union[Config, PathLike],
    grid: Union[Mapping[str, Any], Sequence[str], None] = None,
    set: Optional[Mapping[str, Any]] = None,
) -> Union[Dict[str, Any], TheoryGrid]:
    """The mean-field prediction (Brunel 2000), as ``brunel theory`` computes it.

    Without ``grid``: a dict with ``rate_hz`` (the lowest stationary rate, NaN if none),
    ``stable``, ``oscillation_hz`` and ``states`` (every stationary state: ``rate_hz``, ``mu``,
    ``sigma``, ``gain0``, ``stable``, ``oscillation_hz``). With ``grid`` (as :func:`sweep`'s):
    a :class:`TheoryGrid` of arrays over the grid and the phase boundaries.
    """
    cfg = _as_config(cfg)
    sets = _set_specs(set)
    resolved = cfg.copy()
    resolved.update(set or {})
    if resolved["neuron.refractory_input"] != "discard":
        # The CLI's note, as a Python warning.
        warnings.warn(
            'the theory assumes neuron.refractory_input = "discard" (input lost while '
            "refractory); this config accumulates it",
            stacklevel=2,
        )
    if grid is None:
        raw = _brunel.theory(cfg.to_toml(), cfg._origin, sets, [])
        states = raw["states"]
        lowest = states[0] if states else None
        return {
            "rate_hz": lowest["rate_hz"] if lowest else float("nan"),
            "stable": bool(lowest and lowest["stable"]),
            "oscillation_hz": lowest["oscillation_hz"] if lowest else None,
            "states": states,
        }
    return TheoryGrid(_brunel.theory(cfg.to_toml(), cfg._origin, sets, _grid_specs(grid)))
