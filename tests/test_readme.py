"""The README's Python examples run exactly as written (except those that need ImageNet weights)."""

from __future__ import annotations

import re
from pathlib import Path

import gin
import numpy as np

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def _block(marker: str) -> str:
    matches = [block for block in BLOCKS if marker in block]
    assert len(matches) == 1, f"expected one README block containing {marker!r}"
    return matches[0]


def test_the_concepts_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(_block('fv.TensorBoard("runs/x")'), namespace)
    render = namespace["render"]
    assert render.images.shape == (1, 64, 64, 3) and len(render.history["loss"]) == 256
    assert (tmp_path / "out" / "grid.png").exists() and list((tmp_path / "runs" / "x").glob("events*"))


def test_the_custom_objective_runs_from_python_and_from_gin(tmp_path):
    namespace: dict = {}
    exec(_block("def channel_contrast"), namespace)
    contrast = namespace["channel_contrast"]("conv3", a=1, b=2)
    assert contrast.layers == ("conv3",)

    from featviz import cli

    params = ["Visualizer.objective = @channel_contrast()", "channel_contrast.layer = 'conv3'",
              "channel_contrast.a = 1", "channel_contrast.b = 2", "Visualizer.steps = 30"]
    argv = ["run", "quickstart", "--logdir", str(tmp_path / "run")]
    assert cli.main(argv + [f"--gin_param={p}" for p in params]) == 0
    history = np.load(tmp_path / "run" / "history.npz")
    values = history["channel_contrast_layer_conv3_a_1_b_2"][:, 0]
    assert values[-1] > values[0]
    assert "channel_contrast.layer = 'conv3'" in (tmp_path / "run" / "operative_config.gin").read_text()
    gin.clear_config()
