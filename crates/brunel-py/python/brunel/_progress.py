"""The progress bar of :func:`brunel.run`: tqdm's when tqdm is installed (``tqdm.auto``: a
widget in a notebook, text on a terminal), else a line on stderr when stderr is a terminal,
else nothing (a notebook or a log stays quiet). Like the CLI's, it appears only for a run that
lasts longer than half a second."""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Optional

#: A run shorter than this (seconds) shows no bar.
QUIET_FOR = 0.5


class _TextBar:
    def __init__(self, duration_ms: float) -> None:
        self.label = f"simulating {duration_ms:.0f} ms"
        # Counted from the first chunk of steps, as the CLI counts from the start of the run
        # (the network's build before it shows no bar).
        self.start: Optional[float] = None
        self.shown = False
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.start is None:
            self.start = now
        if now - self.start < QUIET_FOR or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        self.shown = True
        width = 30
        filled = int(width * done / max(total, 1))
        eta = (now - self.start) * (total - done) / max(done, 1)
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{' ' * (width - filled)}] "
            f"{100 * done // max(total, 1):3d}% (eta {eta:.0f} s)"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


class _Tqdm:
    def __init__(self, tqdm: Any, duration_ms: float) -> None:
        self.tqdm = tqdm
        self.label = f"simulating {duration_ms:.0f} ms"
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = self.tqdm(total=total, desc=self.label, unit="step", delay=QUIET_FOR, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def make_progress(progress: Any, duration_ms: float) -> Optional[Callable[[int, int], Any]]:
    """The callback ``brunel.run`` hands the simulator (called after every chunk of steps)."""
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        return _Tqdm(tqdm, duration_ms)
    if sys.stderr is not None and sys.stderr.isatty():
        return _TextBar(duration_ms)
    return None
