"""The built wheel, installed into a fresh virtual environment, runs the quickstart from anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from featviz import configs

ROOT = Path(__file__).resolve().parent.parent


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_the_wheel_runs_the_quickstart_from_an_empty_directory(tmp_path):
    # The build uses this environment's setuptools (no isolation: offline, and seconds not minutes).
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
          "--wheel-dir", str(tmp_path / "dist"), str(ROOT)], cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("featviz-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"featviz/configs/{path.name}" for path in configs.DIRECTORY.glob("*.gin")}
    images = {f"featviz/configs/images/{path.name}" for path in configs.IMAGES.iterdir()}
    pages = ("base", "index", "group", "unit", "activation_atlas")
    templates = {f"featviz/atlas/templates/{name}.html" for name in pages}
    assert shipped | images | templates | {"_featviz_console.py", "featviz/data/demo_model.keras"} <= names
    assert not [name for name in names if name.startswith(("tests/", "notebooks/", "experiments/"))]

    # No PYTHONPATH (the checkout must not be found: with the egg-info the build leaves in it, pip
    # would even take featviz for installed and install nothing) and no TF_CPP_MIN_LOG_LEVEL
    # (start-up stays quiet).
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL")}
    # A fresh environment that reuses the installed dependencies (TensorFlow, gin, ...).
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=tmp_path, env=env)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--quiet", str(wheel)],
         cwd=tmp_path, env=env)

    empty = tmp_path / "empty"
    empty.mkdir()
    featviz = str(venv / "bin" / "featviz")
    listing = _run([featviz, "configs"], cwd=empty, env=env)
    assert f"(in {venv}" in listing.stdout, listing.stdout  # the installed package's own configs
    assert listing.stderr == ""
    result = _run([featviz, "run", "quickstart", "--gin_param=Visualizer.steps=4"], cwd=empty, env=env)
    (run,) = (empty / "runs").glob("quickstart-*")
    assert {"grid.png", "history.npz", "operative_config.gin"} <= {path.name for path in run.iterdir()}
    assert "featviz: done; outputs in runs/quickstart-" in result.stdout
    # Only featviz's own progress bar on stderr: no TensorFlow start-up lines.
    assert all(line.startswith("[") for line in result.stderr.splitlines()), result.stderr
