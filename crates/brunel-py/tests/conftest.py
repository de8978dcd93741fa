"""What the pytest suite of the Python package shares: the `brunel` binary it compares with,
the configs, and the suite's conventions (as brunel-testkit's for the Rust tests): a skip says
why and is a failure when ``BRUNEL_REQUIRE`` names what is missing; every pass and skip is
appended to the file ``BRUNEL_TEST_LOG`` names (``passed|skipped<TAB>NAME<TAB>TEST<TAB>REASON``),
which ``cargo xtask test`` sums up. NAME is the backend a test runs on, ``sonata`` for the
libsonata check, else ``python``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def configs_dir() -> Path:
    return Path(os.environ.get("BRUNEL_CONFIGS", ROOT / "configs"))


def brunel_bin() -> Path:
    """The release `brunel` (``BRUNEL_BIN``, else target/release/brunel): built by
    ``cargo xtask test`` before this suite runs."""
    path = Path(os.environ.get("BRUNEL_BIN", ROOT / "target" / "release" / "brunel"))
    if not path.is_file():
        pytest.fail(
            f"{path} does not exist: build it with `cargo build --release -p brunel-cli` "
            "(cargo xtask test does) or name it with BRUNEL_BIN"
        )
    return path


def cli(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Runs `brunel ARGS`; its output as text."""
    p = subprocess.run(
        [str(brunel_bin()), *args], capture_output=True, text=True, timeout=600, **kw
    )
    if check and p.returncode != 0:
        raise AssertionError(f"brunel {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


def required() -> list[str]:
    return [s.strip() for s in os.environ.get("BRUNEL_REQUIRE", "").split(",") if s.strip()]


def skip(name: str, reason: str) -> None:
    """Skips the test with a reason (logged under NAME), or fails it when BRUNEL_REQUIRE
    names NAME."""
    if name in required():
        pytest.fail(f"`{name}` is required (BRUNEL_REQUIRE) but this test cannot run: {reason}")
    pytest.skip(f"{name}: {reason}")


def _log(status: str, name: str, test: str, reason: str) -> None:
    path = os.environ.get("BRUNEL_TEST_LOG")
    if not path:
        return
    clean = lambda s: " ".join(str(s).split())  # noqa: E731
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{status}\t{clean(name)}\t{clean(test)}\t{clean(reason)}\n")


def _name(item: pytest.Item) -> str:
    backend = getattr(item, "callspec", None)
    if backend is not None and "backend" in backend.params:
        return str(backend.params["backend"])
    mark = item.get_closest_marker("brunel_name")
    return mark.args[0] if mark else "python"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "brunel_name(name): the NAME a test is logged under")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    report = outcome.get_result()
    test = f"python::{item.name}"
    if report.skipped and report.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        name = _name(item)
        reason = reason.removeprefix(f"{name}: ")
        _log("skipped", name, test, reason)
    elif report.passed and report.when == "call":
        _log("passed", _name(item), test, "")
