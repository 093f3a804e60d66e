"""Helpers of the sweep tests: a small demo sweep config, and `featviz sweep` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import gin
import pytest

ROOT = Path(__file__).resolve().parents[2]
# A few demo channels and steps: what the sweep does, not how well it renders.
SMALL = ["sweep.layers=['conv1']", "sweep.channels=8", "sweep.block_size=2", "Visualizer.steps=3"]


def parse_demo_sweep(*params: str) -> str:
    """Parses the shipped demo_sweep.gin with `SMALL` and `params`; returns the config text."""
    import featviz  # noqa: F401 - registers the configurables

    gin.clear_config()
    gin.parse_config_files_and_bindings([str(ROOT / "featviz" / "configs" / "demo_sweep.gin")], [*SMALL, *params])
    return gin.config_str()


def manifest_items(logdir: Path) -> dict:
    """The finished items of a sweep directory ({} before its first item)."""
    path = logdir / "manifest.json"
    return json.loads(path.read_text())["items"] if path.exists() else {}


def start_sweep(logdir: Path, *argv: str) -> subprocess.Popen:
    """`python -m featviz.cli sweep demo_sweep.gin` with `SMALL`, in its own session."""
    command = [sys.executable, "-m", "featviz.cli", "sweep", str(ROOT / "featviz" / "configs" / "demo_sweep.gin"),
               "--logdir", str(logdir), *[f"--gin_param={p}" for p in SMALL], *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def kill_after(process: subprocess.Popen, logdir: Path, items: int, timeout: float = 400) -> int:
    """SIGKILLs `process` and its session once the manifest holds `items` items; returns how many."""
    deadline = time.monotonic() + timeout
    try:
        while len(manifest_items(logdir)) < items:
            if process.poll() is not None:
                pytest.fail(f"the sweep ended before it was killed: {process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the sweep rendered too slowly to be killed mid-way")
            time.sleep(0.2)
    finally:
        # The whole session: the sweep and any Ray processes it started.
        os.killpg(process.pid, 9)
        process.wait()
    return len(manifest_items(logdir))
