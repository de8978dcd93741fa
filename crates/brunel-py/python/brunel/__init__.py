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
    # NumPy scalars first, as plain Python numbers: `np.float64` is a `float` whose repr is
    # `np.float64(6.0)` in NumPy 2, and `np.int64` / `np.bool_` are no `int` / `bool` at all.
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return _toml_value(key, value.item())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # TOML's integers stop at 2^63 - 1; the seed (up to 2^64 - 1) is also read as a string.
        value = int(value)
        return str(value) if -(2**63) <= value < 2**63 else json.dumps(str(value))
    if isinstance(value, float):
        value = float(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string (same escapes).
        return json.dumps(value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return _toml_value(key, value.item())
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_toml_value(key, v) for v in value) + "]"
    raise ValueError(
        f"config key `{key}`: cannot set a value of type {type(value).__name__} "
        "(numbers, booleans, strings and lists of them)"
    )


def _check_key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"config keys are strings such as 'synapse.g', not {type(key).__name__}")
    if "=" in key or "\n" in key or key.count(".") != 1:
        raise ValueError(
            f"override `{key}`: the key must be `section.key`, e.g. `synapse.g`"
        )
    return key


# Checks of the public functions' arguments: a wrong type is a TypeError, a value out of range
# a ValueError, each naming the argument, before anything is read, written or run.


def _path_arg(name: str, value: Any) -> str:
    """A path argument (``str``, ``bytes`` or path-like) as a ``str``."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"`{name}` must be a path (str or os.PathLike), not {type(value).__name__}")
    path = os.fsdecode(os.fspath(value))
    if not path or "\0" in path:
        raise ValueError(f"`{name}` must name a file, got {path!r}")
    return path


def _int_arg(name: str, value: Any, what: str) -> int:
    """A whole number ≥ 0 (``what`` says what it counts); bools are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int ({what}), not {type(value).__name__}")
    value = int(value)
    if value < 0:
        raise ValueError(f"`{name}` must be ≥ 0 ({what}), got {value}")
    if value > sys.maxsize:
        raise ValueError(f"`{name}` is far more than brunel accepts ({what}), got {value:.3g}")
    return value


def _bool_arg(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False, not {type(value).__name__}")
    return bool(value)


def _str_arg(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a str, not {type(value).__name__}")
    return value


def _mapping_arg(name: str, value: Any) -> Mapping[str, Any]:
    """A ``{"section.key": value}`` argument; None is an empty one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"`{name}` must be a dict of config keys and values, {{\"section.key\": value}}, "
            f"not {type(value).__name__}"
        )
    return value


def _seeds_arg(seeds: Any) -> List[int]:
    """A sweep's ``seeds``: None, or a sequence of seeds (ints in 0 .. 2**64 - 1)."""
    if seeds is None:
        return []
    if isinstance(seeds, (str, bytes, Mapping)) or not isinstance(
        seeds, (Sequence, np.ndarray, range)
    ):
        raise TypeError(f"`seeds` must be a list of ints, not {type(seeds).__name__}")
    out = []
    for s in seeds:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"`seeds` must be a list of ints, not of {type(s).__name__}")
        if not 0 <= int(s) < 2**64:
            raise ValueError(f"`seeds`: a seed is an int in 0 .. 2**64 - 1, got {int(s):.4g}")
        if int(s) in out:
            # Counted twice, one run would fake a second sample with no spread.
            raise ValueError(
                f"`seeds`: seed {int(s)} is given twice; each seed is one sample of the spread"
            )
        out.append(int(s))
    return out


class Config:
    """A simulation config: every key of ``configs/reference.toml``, by dotted key.

    ``Config()`` is the default: Brunel (2000)'s network with the inhibition ``g = 5`` and the
    input ratio 2 of Fig. 8 panel C, 1 200 ms, seed 1. ``Config.load(path)`` reads a TOML file
    as ``brunel run`` does, ``Config.from_toml(text)`` parses text. Keys are ``section.key``
    strings (``"synapse.g"``); every value set is validated at once, with the rest of the
    config, by the simulator's own parser, so a ``Config`` is always valid.

    Raises:
        ValueError: on setting a key that does not exist, or a value out of range or of the
            wrong type; the message is the one ``brunel run --set`` prints, and the config is
            left as it was.

    Example::

        cfg = brunel.Config.load("configs/fig8_c.toml")
        cfg["synapse.g"] = 6
        cfg.update({"input.ratio": 4, "simulation.duration": 300})
        cfg["synapse.g"]        # 6.0
        "plot.window" in cfg    # True: a key, though not set
    """

    # `_path`: the file a loaded config was read from (absolute), which a sweep must not write.
    __slots__ = ("_text", "_origin", "_path")

    def __init__(self) -> None:
        """The default config (Fig. 8 panel C's g and input, 1 200 ms, seed 1)."""
        self._text: str = _brunel.config_default()
        self._origin: str = "defaults"
        self._path: Optional[str] = None

    @classmethod
    def load(cls, path: PathLike) -> "Config":
        """Reads and validates a config file (TOML), as ``brunel run CONFIG`` does.

        Args:
            path: the file (``str`` or path-like); keys it leaves out keep their defaults.

        Returns:
            The config, which names ``path`` in later error messages.

        Raises:
            TypeError: ``path`` is not a path.
            OSError: the file cannot be read (missing, not a regular file: a FIFO or a
                folder is refused without reading it, not UTF-8 text).
            ValueError: it is not valid TOML, has an unknown key, a bad value, or is larger
                than 1 MiB.
        """
        path = _path_arg("path", path)
        cfg = cls.__new__(cls)
        cfg._text = _brunel.config_load(path)
        cfg._origin = path
        cfg._path = os.path.abspath(path)
        return cfg

    @classmethod
    def from_toml(cls, text: str, origin: str = "text") -> "Config":
        """Parses and validates TOML text, as :meth:`load` does a file.

        Args:
            text: the TOML of a config; keys it leaves out keep their defaults.
            origin: what to call the text in error messages.

        Returns:
            The config.

        Raises:
            TypeError: ``text`` or ``origin`` is not a str.
            ValueError: invalid TOML, an unknown key or a bad value.

        Example::

            cfg = brunel.Config.from_toml("[synapse]\\ng = 6.0")
        """
        cfg = cls.__new__(cls)
        cfg._text = _brunel.config_resolve(_str_arg("text", text), _str_arg("origin", origin), [])
        cfg._origin = origin
        cfg._path = None
        return cfg

    def to_toml(self) -> str:
        """The fully resolved config as TOML: every key, defaults included.

        Returns:
            Text that :meth:`from_toml` reads back to an equal config, and that ``brunel run``
            takes as a file.
        """
        return self._text

    def to_dict(self) -> Dict[str, Dict[str, Any]]:
        """The config as nested dicts, one per section.

        Returns:
            ``{"synapse": {"g": 5.0, ...}, ...}``, a new dict at every call (changing it does
            not change the config). Optional keys that are not set are absent; the seed is an
            ``int`` even above 2**63 - 1.
        """
        return _brunel.config_table(self._text)

    def copy(self) -> "Config":
        """An independent copy: setting keys on one leaves the other as it is."""
        cfg = Config.__new__(Config)
        cfg._text = self._text
        cfg._origin = self._origin
        cfg._path = self._path
        return cfg

    def update(self, values: Mapping[str, Any]) -> None:
        """Sets several keys at once, validated together: either all are set or none.

        Args:
            values: ``{"section.key": value}``; values are numbers, booleans, strings, or
                lists of them (``"plot.window": [1000, 1200]``), numpy scalars included.

        Raises:
            TypeError: ``values`` is not a mapping, or a key is not a str.
            ValueError: a key that is not ``section.key`` or does not exist, a value of
                another type, or out of range (the config is then unchanged).
        """
        values = _mapping_arg("values", values)
        overrides = [f"{_check_key(k)}={_toml_value(k, v)}" for k, v in values.items()]
        self._text = _brunel.config_resolve(self._text, self._origin, overrides)

    def __setitem__(self, key: str, value: Any) -> None:
        """``cfg["synapse.g"] = 6``: :meth:`update` with one key."""
        self.update({key: value})

    def __getitem__(self, key: str) -> Any:
        """``cfg["synapse.g"]``: the value of a key, or None for an optional key not set.

        Raises:
            TypeError: ``key`` is not a str.
            ValueError: ``key`` is not of the form ``section.key``.
            KeyError: no config has that key.
        """
        _check_key(key)
        section, name = key.split(".")
        table = self.to_dict()
        if section in table and name in table[section]:
            return table[section][name]
        if key in _brunel.config_keys():
            return None  # an optional key that is not set (plot.window, input.c_ext, ...)
        raise KeyError(f"no config key `{key}` (configs/reference.toml lists every key)")

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is a config key (set or not)."""
        return isinstance(key, str) and key in _brunel.config_keys()

    def keys(self) -> List[str]:
        """Every key a config has, ``section.key``, optional ones included (the same for
        every config)."""
        return list(_brunel.config_keys())

    def __iter__(self) -> Iterator[str]:
        """Iterates over :meth:`keys`."""
        return iter(self.keys())

    def __eq__(self, other: object) -> bool:
        """Whether ``other`` is a config with the same value for every key."""
        return isinstance(other, Config) and other._text == self._text

    def __repr__(self) -> str:
        t = self.to_dict()
        return (
            f"<brunel.Config {self._origin}: g={t['synapse']['g']}, "
            f"ratio={t['input']['ratio']}, {t['simulation']['duration']} ms, "
            f"seed={t['simulation']['seed']}>"
        )


def _as_config(cfg: Union[Config, PathLike]) -> Config:
    """``cfg``: a :class:`Config`, or a config file's path (read)."""
    if isinstance(cfg, Config):
        return cfg
    if not isinstance(cfg, (str, bytes, os.PathLike)):
        raise TypeError(
            f"`cfg` must be a brunel.Config or a config file's path, not {type(cfg).__name__}"
        )
    return Config.load(cfg)


class Spikes:
    """Recorded spikes in (time, id) order: ``times`` (ms, float64) and ``ids`` (uint64).

    Both are read-only numpy views of the simulator's own arrays (no copy), of equal length;
    ``len(spikes)`` is the number of spikes recorded (which neurons' spikes were recorded is
    ``run``'s ``record``).

    Example::

        r = brunel.run("configs/fig8_c.toml", record="first:50")
        plt.plot(r.spikes.times, r.spikes.ids, ".")   # a raster plot
    """

    __slots__ = ("times", "ids")

    def __init__(self, times: np.ndarray, ids: np.ndarray) -> None:
        """Spikes of the given arrays (a :class:`Result` makes them)."""
        self.times = times
        self.ids = ids

    def __len__(self) -> int:
        """The number of spikes recorded."""
        return len(self.times)

    def __repr__(self) -> str:
        return f"<brunel.Spikes: {len(self)} spikes>"


class Result:
    """A finished run (:func:`run`), or a result file read back (:func:`load`).

    Attributes:
        spikes: the recorded spikes (:class:`Spikes`).
        rate: the population rate of every step (Hz, float64, read-only), at times ``t``.
        stats: ``rate_exc_hz``, ``rate_inh_hz`` and ``cv_isi`` (over the last 80 % of the
            run), ``spikes``, ``synaptic_events``, ``neurons``, ``excitatory``, ``steps``,
            ``dt``, ``duration``, the theory's ``theory_rate_hz``, ``theory_stable`` and
            ``theory_oscillation_hz``; after a run also ``pop_cv``, ``synchrony``,
            ``sync_cv``, ``peak_hz``, ``peak_prominence`` and the ``regime`` label (``"AI"``,
            ``"SI-fast"``, ...), which a file does not hold.
        info: provenance: ``backend``, ``device``, ``device_kind``, ``threads``,
            ``work_items``, ``choice`` (why ``"auto"`` chose the backend; None when named),
            ``seed``, ``synapses``, ``build_seconds``, ``run_seconds``,
            ``real_time_factor``, ``brunel_version``, ``created``.
        config: the resolved :class:`Config` of the run.

    Example::

        r = brunel.run("configs/fig8_c.toml")
        r.stats["rate_exc_hz"], r.stats["regime"]
        plt.plot(r.t, r.rate)
    """

    __slots__ = ("_data", "spikes", "rate", "stats", "info", "config")

    def __init__(self, data: "_brunel.RunData") -> None:
        """Wraps the extension's data (:func:`run` and :func:`load` make results)."""
        self._data = data
        self.spikes = Spikes(data.times, data.ids)
        self.rate: np.ndarray = data.rate
        self.stats: Dict[str, Any] = data.stats
        self.info: Dict[str, Any] = data.info
        self.config: Config = Config.from_toml(data.config, "the run's config")

    @property
    def t(self) -> np.ndarray:
        """The time of every value of ``rate`` (ms): step k at ``start + k·dt``, float64."""
        return self._data.start + np.arange(len(self.rate)) * self._data.dt

    @property
    def dt(self) -> float:
        """The time step of the run and of ``rate`` (ms)."""
        return self._data.dt

    def save(self, path: PathLike, force: bool = False) -> None:
        """Writes the SONATA result file ``brunel run`` writes (HDF5: spikes, population
        rate, summary, provenance and config).

        The file is written beside ``path`` under another name and renamed when complete, so
        an interrupted save leaves no partial file.

        Args:
            path: the file to write (``str`` or path-like).
            force: replace an existing file.

        Raises:
            TypeError: ``path`` is not a path, or ``force`` not a bool.
            FileExistsError: ``path`` exists and ``force`` is false.
            OSError: ``path`` is not a regular file (a folder, say) or cannot be written.
        """
        self._data.save(_path_arg("path", path), _bool_arg("force", force))

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

    The same code as the CLI: the same spikes, bit for bit, whatever the backend. The GIL is
    released while the simulator runs.

    Args:
        cfg: a :class:`Config`, or a config file's path.
        backend: a name :func:`backends` lists (``"reference"``, ``"cpu"``, ``"opencl"``), or
            ``"auto"`` for the one the CLI would choose.
        threads: threads of the network's build and of the cpu backend; 0 = all cores.
        device: the OpenCL device's index (:func:`backends` lists them); None = the default.
        record: whose spikes are kept: ``"first:N"``, ``"all"`` or ``"none"``; None = the
            config's ``record.spikes``. The population rate is always recorded.
        progress: True for a bar (tqdm's when tqdm is installed, which also draws in
            notebooks; else a line on a terminal's stderr, nothing elsewhere), False for none,
            or a callable ``f(done_steps, total_steps)`` called after every chunk of steps.

    Returns:
        The :class:`Result`.

    Raises:
        TypeError: an argument of the wrong type (``progress`` neither a bool, None nor
            callable; ``threads`` or ``device`` not an int; ...), named in the message.
        ValueError: a bad config, option or backend name, a backend that is not available
            here or is distributed (``mpi``: run ``mpirun -np K brunel run``), or a run that
            does not fit in memory (the CLI's message).
        KeyboardInterrupt: Ctrl-C, after the chunk of 600 steps in progress; an exception
            raised by a ``progress`` callable (any, ``SystemExit`` included, even at the last
            chunk) stops the run likewise and is raised.
        RuntimeError: the backend failed while running.

    Example::

        cfg = brunel.Config.load("configs/fig8_c.toml")
        cfg["simulation.duration"] = 300
        r = brunel.run(cfg, backend="cpu", record="all", progress=False)
        r.stats["rate_exc_hz"]   # about 36 Hz: panel C's asynchronous irregular state
    """
    backend = _str_arg("backend", backend)
    threads = _int_arg("threads", threads, "0 = all cores")
    if device is not None:
        device = _int_arg("device", device, "a device index")
    if record is not None:
        _str_arg("record", record)
    if isinstance(progress, np.bool_):
        progress = bool(progress)
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise TypeError(
            "`progress` must be True (a bar), False or None (none), or a callable "
            f"f(done_steps, total_steps), not {type(progress).__name__}"
        )
    cfg = _as_config(cfg)
    if record is not None:
        cfg = cfg.copy()
        cfg["record.spikes"] = record
    table = cfg.to_dict()
    bar = make_progress(progress, table["simulation"]["duration"])
    try:
        data = _brunel.run(cfg.to_toml(), backend, threads, device, bar)
    finally:
        if bar is not None and hasattr(bar, "close"):
            bar.close()
    return Result(data)


def load(path: PathLike) -> Result:
    """Reads a result file written by ``brunel run`` or :meth:`Result.save`.

    Args:
        path: the SONATA (HDF5) file.

    Returns:
        A :class:`Result` without the statistics that only a run computes (``pop_cv``,
        ``synchrony``, ``regime``, ...).

    Raises:
        TypeError: ``path`` is not a path.
        OSError: the file cannot be read (or is not a regular file).
        RuntimeError: it is not a result file of brunel's layout.

    Example::

        r = brunel.load("fig8_c.h5")
        r.config["synapse.g"], len(r.spikes)
    """
    return Result(_brunel.load(_path_arg("path", path)))


def backends() -> List[Dict[str, Any]]:
    """Every backend brunel knows, as ``brunel backends`` lists them, probed on this machine.

    Returns:
        One dict per backend: ``name`` (the ``backend=`` value), ``available``, and ``about``
        (what it runs on) when available or ``why`` not; ``description``, ``compiled`` (into
        this package), ``oracle`` (the reference), ``honours_threads``, ``honours_device``,
        ``distributed`` (needs ``mpirun``), and ``devices``: dicts of ``index`` (the
        ``device=`` value), ``name``, ``platform``, ``kind``, ``fp64``, ``compute_units``.

    Example::

        [b["name"] for b in brunel.backends() if b["available"]]   # ['reference', 'cpu', ...]
    """
    return list(_brunel.backends())


def _axis_spec(key: str, values: Any) -> str:
    if isinstance(values, str):
        return f"{key}={values}"
    if isinstance(values, range):
        values = list(values)
    if not isinstance(values, (list, tuple, np.ndarray)):
        raise TypeError(
            f"`grid`: the values of `{key}` must be a str such as \"0:8:0.5\" or a list of "
            f"values, not {type(values).__name__}"
        )
    return f"{key}=" + ",".join(_toml_value(key, v) for v in values)


def _grid_specs(grid: Union[Mapping[str, Any], Sequence[str]]) -> List[str]:
    """The CLI's ``--grid`` strings of a grid argument; a grid without axes is refused."""
    if isinstance(grid, Mapping):
        specs = [_axis_spec(_check_key(k), v) for k, v in grid.items()]
    elif isinstance(grid, str):
        specs = [grid]
    elif isinstance(grid, (list, tuple)):
        specs = list(grid)
        for spec in specs:
            if not isinstance(spec, str):
                raise TypeError(
                    f"`grid` as a list holds the CLI's --grid strings (\"synapse.g=0:8:0.5\"), "
                    f"not {type(spec).__name__}"
                )
    else:
        raise TypeError(
            "`grid` must be a dict {\"section.key\": values} or a list of --grid strings, "
            f"not {type(grid).__name__}"
        )
    if not specs:
        raise ValueError(
            "`grid` has no axes: give at least one key and its values, "
            "e.g. {\"synapse.g\": \"3:6:1\"}"
        )
    return specs


def _set_specs(set: Optional[Mapping[str, Any]]) -> List[str]:
    set = _mapping_arg("set", set)
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
        """The names of the statistics, for ``grid[name]``."""
        return list(self._columns)

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is one of the statistics."""
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
    """What ``brunel sweep`` writes, as numpy arrays shaped as the grid (:func:`sweep`).

    ``result[name]`` is a statistic over the grid: ``rate_exc_hz``, ``rate_inh_hz``,
    ``cv_isi``, ``pop_cv``, ``synchrony``, ``sync_cv``, ``peak_hz``, ``peak_prominence`` (the
    mean over the seeds, each with ``NAME_std``, their spread), ``theory_rate_hz``, and
    ``regime`` (strings: the label most of the seeds' runs got, ties going to the first seed).

    Attributes:
        axes: ``{key: values}`` in the grid's order, the first varying slowest.
        shape: the grid's shape, one length per axis.
        config: the sweep's base :class:`Config` (with ``set`` applied).
        seeds: the seeds run at every point.
        backend: the backend that ran the points.
        seconds: wall time of the sweep (s).
        out: the path of ``SWEEP.h5`` when kept, else None.
        frame: the CSV's table as a pandas DataFrame (None without pandas).
    """

    def __init__(self, raw: Dict[str, Any], out: Optional[str]) -> None:
        """Wraps the extension's sweep table (:func:`sweep` makes it)."""
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

    Args:
        cfg: a :class:`Config`, or a config file's path.
        grid: ``{"synapse.g": "0:8:0.5", "input.ratio": [1, 2, 4]}``: per key the CLI's
            ``START:STOP:STEP`` (STOP included when on the grid) or a list (or range) of
            values; or the CLI's ``--grid`` strings, ``["synapse.g=0:8:0.5", ...]``. The first
            axis varies slowest.
        seeds: the seeds run at every point; None = the config's seed.
        duration: simulated time of every run (ms); None = the config's.
        set: other keys to set first, ``{"section.key": value}`` (``--set``).
        backend: as :func:`run`'s (``--backend``).
        threads: threads in all, shared by the jobs; 0 = all cores.
        jobs: points run at once; 0 = one per thread when no axis is a ``network.*`` key,
            else 1.
        out: the sweep's HDF5 file, kept, with its CSV beside it (the same name, ``.csv``);
            None = files in a temporary folder, removed afterwards.
        force: replace an existing ``out``, or start over a journal of another sweep.
        progress: the CLI's bar on stderr when it is a terminal.

    Returns:
        The :class:`SweepResult`.

    Raises:
        TypeError: an argument of the wrong type, named in the message.
        ValueError: a bad config, grid (one without axes included), key, value, seed,
            duration or backend; ``out`` or the CSV beside it is the config's file (refused
            even with ``force``, as ``brunel sweep`` refuses it).
        OSError: a file cannot be read or written, or the config's path is not a regular
            file.
        RuntimeError: ``out`` exists (without ``force``), or holds the journal of another
            sweep; a run failed.
        KeyboardInterrupt: Ctrl-C, once the runs in progress have stopped. With ``out``, the
            runs done are journaled beside it and the same call again resumes the sweep.

    Example::

        s = brunel.sweep("configs/fig8_c.toml",
                         {"synapse.g": "3:6:1", "input.ratio": [2, 4]}, duration=300)
        s.shape            # (4, 2)
        s["regime"][2, 0]  # 'AI': g = 5, ratio 2 is panel C
    """
    specs = _grid_specs(grid)
    sets = _set_specs(set)
    seed_list = _seeds_arg(seeds)
    if duration is not None:
        if isinstance(duration, (bool, np.bool_)) or not isinstance(
            duration, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"`duration` must be a number of ms, not {type(duration).__name__}")
        duration = float(duration)
        if not (math.isfinite(duration) and duration >= 0):
            raise ValueError(f"`duration` must be a finite number of ms ≥ 0, got {duration}")
    backend = _str_arg("backend", backend)
    threads = _int_arg("threads", threads, "0 = all cores")
    jobs = _int_arg("jobs", jobs, "0 = one per thread")
    if out is not None:
        out = _path_arg("out", out)
    force = _bool_arg("force", force)
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(
            "`progress` of a sweep must be True (the CLI's bar) or False, "
            f"not {type(progress).__name__}"
        )
    if not isinstance(cfg, (Config, str, bytes, os.PathLike)):
        raise TypeError(
            f"`cfg` must be a brunel.Config or a config file's path, not {type(cfg).__name__}"
        )
    with tempfile.TemporaryDirectory(prefix="brunel-sweep-") as tmp:
        target = Path(out) if out is not None else Path(tmp) / "sweep.h5"
        if isinstance(cfg, Config):
            # The config as a file beside the result, so that the same call resumes.
            config_path = target.parent / f".{target.name}.config.toml"
            config_path.write_text(cfg.to_toml())
        else:
            config_path = Path(_path_arg("cfg", cfg))
        quiet = not (progress and sys.stderr.isatty())
        try:
            raw = _brunel.sweep(
                os.fspath(config_path),
                specs,
                os.fspath(target),
                seed_list,
                duration,
                sets,
                backend,
                threads,
                jobs,
                force,
                quiet,
                # The file a loaded Config came from: a sweep never writes over it either.
                source=cfg._path if isinstance(cfg, Config) else None,
            )
        finally:
            if isinstance(cfg, Config) and not (target.parent / f".{target.name}.sweep").exists():
                config_path.unlink(missing_ok=True)
        return SweepResult(raw, None if out is None else os.fspath(out))


class TheoryGrid(_Grid):
    """The mean-field theory over a grid (:func:`theory` with ``grid``).

    ``grid[name]`` is an array shaped as the grid: ``rate_hz`` (the lowest stationary rate,
    NaN where there is none), ``stable`` (bool), ``oscillation_hz`` (NaN where stable),
    ``n_states``.

    Attributes:
        axes: ``{key: values}`` in the grid's order, the first varying slowest.
        shape: the grid's shape.
        boundaries: where the lowest state's stability changes between two neighbouring
            points, bisected along that ``axis``: dicts of ``axis``, ``value`` (the key's
            value at the change), ``at`` (the other axes' values), ``stable_below`` and
            ``oscillation_hz``.
        frame: a pandas DataFrame of the points (None without pandas).
    """

    def __init__(self, raw: Dict[str, Any]) -> None:
        """Wraps the extension's theory grid (:func:`theory` makes it)."""
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

    Stationary rates from the diffusion approximation, and their linear stability
    (docs/theory.md). The theory assumes ``neuron.refractory_input = "discard"``.

    Args:
        cfg: a :class:`Config`, or a config file's path.
        grid: None for one config, or a grid as :func:`sweep` takes it.
        set: keys to set first, ``{"section.key": value}``.

    Returns:
        Without ``grid``, a dict: ``rate_hz`` (the lowest stationary rate, NaN if none),
        ``stable``, ``oscillation_hz`` (None when stable) and ``states``, every stationary
        state lowest first: dicts of ``rate_hz``, ``mu`` and ``sigma`` (mV), ``gain0``,
        ``stable``, ``oscillation_hz``, and for an unstable one ``growth_per_s``. With
        ``grid``, a :class:`TheoryGrid`.

    Raises:
        TypeError: ``cfg``, ``grid`` or ``set`` of the wrong type.
        ValueError: a bad config, key, value or grid (one without axes included).

    Warns:
        UserWarning: the config accumulates input while refractory, which the theory does
        not model.

    Example::

        t = brunel.theory("configs/fig8_c.toml")
        t["rate_hz"], t["stable"]   # about 38 Hz, True
    """
    sets = _set_specs(set)
    specs = None if grid is None else _grid_specs(grid)
    cfg = _as_config(cfg)
    resolved = cfg.copy()
    resolved.update(set or {})
    if resolved["neuron.refractory_input"] != "discard":
        # The CLI's note, as a Python warning.
        warnings.warn(
            'the theory assumes neuron.refractory_input = "discard" (input lost while '
            "refractory); this config accumulates it",
            stacklevel=2,
        )
    if specs is None:
        raw = _brunel.theory(cfg.to_toml(), cfg._origin, sets, [])
        states = raw["states"]
        lowest = states[0] if states else None
        return {
            "rate_hz": lowest["rate_hz"] if lowest else float("nan"),
            "stable": bool(lowest and lowest["stable"]),
            "oscillation_hz": lowest["oscillation_hz"] if lowest else None,
            "states": states,
        }
    return TheoryGrid(_brunel.theory(cfg.to_toml(), cfg._origin, sets, specs))
