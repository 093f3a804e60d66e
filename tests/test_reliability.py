"""Reliability: interrupted runs keep their work, runs are deterministic, outputs are atomic."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import featviz as fv
from featviz import cli
from featviz.io import atomic_write

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_after_the_step_and_keeps_the_finished_work(tmp_path, signum, code):
    logdir = tmp_path / "run"
    command = [sys.executable, "-m", "featviz.cli", "run", "quickstart",
               "--gin_param=Visualizer.steps=100000", "--logdir", str(logdir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        # The TensorBoard writer is created by the first step's scalars: the run is under way.
        while not list(logdir.glob("events.out.tfevents*")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.2)
        time.sleep(1.0)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == code
    assert f"interrupted by {signal.Signals(signum).name}; finished steps were saved" in stderr
    names = {p.name for p in logdir.iterdir()}
    assert {"grid.png", "history.npz", "operative_config.gin", "animation.gif"} <= names
    steps = len(np.load(logdir / "history.npz")["loss"])
    assert 1 <= steps < 100000
    assert "Visualizer.steps = 100000" in (logdir / "operative_config.gin").read_text()
    assert not [p for p in logdir.iterdir() if p.name.startswith(".")], "temporary files left behind"


def _quickstart_png(tmp_path: Path, name: str, *params: str) -> bytes:
    argv = ["run", "quickstart", "--logdir", str(tmp_path / name),
            "--gin_param=Visualizer.steps=3", *(f"--gin_param={p}" for p in params)]
    assert cli.main(argv) == 0
    return (tmp_path / name / "grid.png").read_bytes()


@pytest.mark.slow
def test_same_config_and_seed_give_byte_equal_pngs_other_seeds_differ(tmp_path):
    first = _quickstart_png(tmp_path, "a")
    assert _quickstart_png(tmp_path, "b") == first
    assert _quickstart_png(tmp_path, "c", "Visualizer.seed=1") != first


@fv.objective
def divides_by_zero(features, layer):
    """Infinite from the first step: the mean activation divided by zero."""
    return features[layer][:, 0, 0, 0] / 0.0


def test_non_finite_runs_save_the_last_finite_images_and_name_the_objective(tmp_path):
    visualizer = fv.Visualizer("demo", fv.ClassLogit("checkerboard") + divides_by_zero("conv1"),
                               param=fv.Fourier(64), steps=5, logdir=str(tmp_path),
                               callbacks=[fv.ImageSaver(grid=False)])
    with pytest.raises(fv.NonFiniteError, match=r"step 0: objective term\(s\) divides_by_zero.*became NaN or infinite"):
        visualizer.run()
    saved = fv.load_image(tmp_path / "00_ClassLogit_checkerboard_divides_by_zero_layer_conv1.png")
    assert np.all(np.isfinite(saved)) and saved.std() < 0.05  # the untouched grey start


def test_atomic_write_leaves_nothing_behind_when_writing_fails(tmp_path):
    target = tmp_path / "grid.png"
    target.write_bytes(b"earlier")

    def failing(tmp: str) -> None:
        Path(tmp).write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, failing)
    assert target.read_bytes() == b"earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]


def test_outputs_get_the_usual_file_mode(tmp_path):
    path = fv.save_png(tmp_path / "a.png", np.zeros((8, 8, 3), np.float32))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_repeated_objective_names_keep_separate_histories(tiny):
    render = fv.Visualizer(tiny, [fv.ClassLogit(0), fv.ClassLogit(0)], param=fv.Pixel(32), steps=3).run()
    assert render.history["ClassLogit[0]"].shape == (3, 2)
    assert render.history["ClassLogit[0] #2"].shape == (3, 2)
