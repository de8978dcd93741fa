"""Typed stubs of the Rust extension ``brunel._brunel`` (the API is ``brunel``'s)."""

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

class RunData:
    """A finished run or a result file read back, held in Rust."""

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
    def dt(self) -> float: ...
    @property
    def start(self) -> float: ...
    @property
    def config(self) -> str:
        """The resolved config (TOML)."""
    @property
    def stats(self) -> Dict[str, Any]: ...
    @property
    def info(self) -> Dict[str, Any]: ...
    def save(self, path: str, force: bool = False) -> None:
        """Writes the SONATA result file of ``brunel run``, atomically."""

def config_load(path: str) -> str: ...
def config_resolve(text: str, origin: str, overrides: List[str] = ...) -> str: ...
def config_default() -> str: ...
def config_table(text: str) -> Dict[str, Dict[str, Any]]: ...
def config_keys() -> List[str]: ...
def run(
    text: str,
    backend: str = "auto",
    threads: int = 0,
    device: Optional[int] = None,
    progress: Optional[Callable[[int, int], Any]] = None,
) -> RunData: ...
def load(path: str) -> RunData: ...
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
) -> Dict[str, Any]: ...
def theory(text: str, origin: str, set: List[str] = ..., grid: List[str] = ...) -> Dict[str, Any]: ...
def backends() -> List[Dict[str, Any]]: ...
