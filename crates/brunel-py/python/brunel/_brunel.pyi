"""Typed stubs of the Rust extension ``brunel._brunel``, in step with ``src/lib.rs``.

The API people use is the package ``brunel``, which wraps these; every function here runs the
CLI's own code. Errors: a bad config, key or option raises ValueError, a file that cannot be
read or written OSError, anything else RuntimeError, each with the CLI's message.
"""

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

class RunData:
    """A finished run or a result file read back, held in Rust (frozen; made by :func:`run`
    and :func:`load` only). Its arrays are read-only numpy views of its own memory."""

    @property
    def times(self) -> npt.NDArray[np.float64]:
        """Spike times (ms), read-only view, (time, id) order."""
    @property
    def ids(self) -> npt.NDArray[np.uint64]:
        """Neuron of every spike, read-only view."""
    @property
    def rate(self) -> npt.NDArray[np.float64]:
        """Population rate of every step (Hz), read-only view."""
    @property
    def dt(self) -> float:
        """The time step of the run and of ``rate`` (ms)."""
    @property
    def start(self) -> float:
        """The time of ``rate``'s first value (ms)."""
    @property
    def config(self) -> str:
        """The resolved config (TOML)."""
    @property
    def stats(self) -> Dict[str, Any]:
        """The summary's statistics (a new dict), and after a run the per-run statistics and
        ``regime`` of ``brunel sweep``."""
    @property
    def info(self) -> Dict[str, Any]:
        """Provenance (a new dict): backend, device, threads, timings, seed, version."""
    def save(self, path: str, force: bool = False) -> None:
        """Writes the SONATA result file of ``brunel run``, atomically; FileExistsError if
        ``path`` exists and not ``force``."""

def config_load(path: str) -> str:
    """The config file read and validated: its resolved TOML (every key). OSError, before
    opening it, for a path that is not a regular file (a FIFO would block)."""
def config_resolve(text: str, origin: str, overrides: List[str] = ...) -> str:
    """TOML ``text`` (``origin`` names it in messages) with ``overrides`` (``key=value``, the
    CLI's ``--set``) applied and validated: the resolved TOML."""
def config_default() -> str:
    """The default config's resolved TOML."""
def config_table(text: str) -> Dict[str, Dict[str, Any]]:
    """A resolved config as nested dicts; the seed as an int."""
def config_keys() -> List[str]:
    """Every key a config can have, ``section.key``, optional ones included."""
def run(
    text: str,
    backend: str = "auto",
    threads: int = 0,
    device: Optional[int] = None,
    progress: Optional[Callable[[int, int], Any]] = None,
) -> RunData:
    """Runs the resolved config ``text`` as ``brunel run`` does; ``progress(done, steps)``
    after every chunk of steps. ValueError for what the CLI refuses before building,
    KeyboardInterrupt on Ctrl-C, or the exception ``progress`` raised (even at the last chunk,
    after which the run had finished)."""
def load(path: str) -> RunData:
    """Reads a result file written by ``brunel run`` or ``RunData.save``; OSError for a path
    that is missing or not a regular file."""
def sweep(
    config: str,
    grid: List[str],
    out: str,
    seeds: List[int] = ...,
    duration: Optional[float] = None,
    set: List[str] = ...,
    backend: str = "auto",
    threads: int = 0,
    jobs: int = 0,
    force: bool = False,
    quiet: bool = True,
    verbose: bool = False,
    source: Optional[str] = None,
) -> Dict[str, Any]:
    """``brunel sweep CONFIG --grid ... --out OUT``, then the file read back: a dict of
    ``shape``, ``axes`` (``(key, values)`` pairs), ``values`` (flat arrays by statistic),
    ``regime``, ``config``, ``seeds``, ``backend``, ``seconds``. ValueError for a grid
    without axes, or when ``out`` or its CSV is the config's file (``source``, the file a
    copied config came from, else ``config``); OSError when ``config`` is not a regular
    file."""
def theory(text: str, origin: str, set: List[str] = ..., grid: List[str] = ...) -> Dict[str, Any]:
    """``brunel theory``: without ``grid`` a dict of ``states``; with it ``axes``, ``shape``,
    flat arrays ``rate_hz``, ``stable``, ``oscillation_hz``, ``n_states``, and
    ``boundaries``."""
def backends() -> List[Dict[str, Any]]:
    """Every backend of the registry, probed here, with its devices."""
