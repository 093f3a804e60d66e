"""The architecture as tests: the import layers hold, and runs share a process safely."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import featviz as fv

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` with the contracts of `setup.cfg`, on the featviz package under `root`."""
    command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
               "lint_imports_command()", "--config", str(ROOT / "setup.cfg"), "--no-cache"]
    return subprocess.run(command, cwd=root, env={"PYTHONPATH": str(root), "PATH": ""},
                          capture_output=True, text=True, timeout=120)


def test_the_layers_contract_is_kept():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "featviz", tmp_path / "featviz", ignore=shutil.ignore_patterns("data"))
    base = tmp_path / "featviz" / "objectives" / "base.py"
    base.write_text(base.read_text() + "\nfrom featviz.render import Visualizer  # upward\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "featviz.objectives.base -> featviz.render" in result.stdout, result.stdout


def _fused_model() -> keras.Model:
    """Fused ReLU convolutions and a fused softmax head: what the graph runner overrides."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="head")(x))


def test_two_visualizers_traced_in_two_threads_give_the_images_of_one_after_the_other(tiny):
    fused = fv.load_model(_fused_model())

    def visualizers() -> list[fv.Visualizer]:
        # Both redirect their ReLUs (the default) and read pre-softmax logits, one of a fused
        # softmax: the overrides are scoped to the model being run.
        return [fv.Visualizer(tiny, [fv.ClassLogit(1), fv.Channel("conv2", 3)], param=fv.Fourier(32),
                              steps=24, seed=1),
                fv.Visualizer(fused, [fv.ClassLogit(2), fv.Channel("conv1", 5)], param=fv.Pixel(32),
                              transforms=[fv.Jitter(2)], steps=24, seed=2)]

    one_after_the_other = [visualizer.run().images for visualizer in visualizers()]
    together: list[np.ndarray | None] = [None, None]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(index: int, visualizer: fv.Visualizer) -> None:
        try:
            start.wait()  # trace both steps at the same time
            together[index] = visualizer.run().images
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=item) for item in enumerate(visualizers())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for sequential, parallel in zip(one_after_the_other, together):
        np.testing.assert_array_equal(sequential, parallel)
    # And nothing of TensorFlow or of the models was swapped while they ran.
    assert tf.nn.relu.__module__.startswith("tensorflow")
    assert fused.model.get_layer("head").activation is keras.activations.softmax


def test_a_stop_reaches_only_the_run_that_holds_the_token(tiny):
    stop = fv.StopToken()

    class StopAfterThree(fv.Callback):
        def on_step_end(self, step, logs=None):
            if step == 2:
                stop.request()

    stopped = fv.Visualizer(tiny, fv.ClassLogit(0), param=fv.Pixel(32), steps=20, stop=stop,
                            callbacks=[StopAfterThree()]).run()
    other = fv.Visualizer(tiny, fv.ClassLogit(0), param=fv.Pixel(32), steps=20).run()
    assert (stopped.steps, other.steps) == (3, 20)
