"""Every shipped config runs by its bare name: two steps of each job, one block of each sweep.

Apart from tests/test_cli.py so that pytest-xdist's `--dist loadfile` gives these long smoke
runs a worker of their own instead of queueing them behind the CLI's other tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from featviz import cli, configs

ALL_CONFIGS = sorted(configs.DIRECTORY.glob("*.gin"))
# `featviz sweep` configs (*_sweep.gin) are smoke-run by `featviz sweep`, activation atlas
# configs (*_atlas.gin) as a small atlas (tests/test_cli.py), the others for two steps, by bare name.
CONFIGS = [path for path in ALL_CONFIGS if not path.stem.endswith(("_sweep", "_atlas"))]
SWEEP_CONFIGS = [pytest.param(path, marks=pytest.mark.slow) if path.name == "imagenet_sweep.gin" else path
                 for path in ALL_CONFIGS if path.stem.endswith("_sweep")]
# Configs that build a 224-pixel keras.applications network (VGG16) take most of a minute each.
_LONG = ("vgg16_classes.gin", "vgg16_reconstruct.gin", "imagenet_classes.gin", "imagenet_channels.gin")
CONFIG_PARAMS = [pytest.param(path, marks=pytest.mark.slow) if path.name in _LONG else path
                 for path in CONFIGS]
# The smoke run of every shipped config is offline: keras.applications models get random
# weights (same architecture, layers and classes; the demo model ignores the binding).
OFFLINE = ["load_model.weights=None"]
# The VGG16 sweeps are cut to one or two layers for the smoke run (13 layers of
# 224-pixel images take minutes on a CPU); tests/test_feature_configs.py checks every layer name.
SMOKE = {
    "vgg16_features.gin": ["channel_sweep.layers=['block1_conv1', 'block5_conv3']", "channel_sweep.channels=1"],
    "vgg16_neurons.gin": ["neuron_fields.layers=['block5_conv3']"],
}


def _run(tmp_path: Path, *argv: str) -> int:
    return cli.main(["run", *argv, "--logdir", str(tmp_path / "run")])


@pytest.mark.parametrize("config", CONFIG_PARAMS, ids=lambda p: p.name)
def test_every_shipped_config_parses_and_runs_two_steps(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # from any directory: includes and images are found beside the config
    params = ["Visualizer.steps=2", *OFFLINE, *SMOKE.get(config.name, [])]
    argv = [config.stem] + [f"--gin_param={p}" for p in params]  # the bare name
    assert _run(tmp_path, *argv) == 0


@pytest.mark.parametrize("config", SWEEP_CONFIGS, ids=lambda p: p.name)
def test_every_shipped_sweep_config_sweeps_one_block_for_two_steps(config, tmp_path):
    params = ["Visualizer.steps=2", "sweep.channels=2", *OFFLINE]
    argv = ["sweep", str(config), "--logdir", str(tmp_path / "sweep"), "--layers",
            "conv1" if config.name.startswith("demo") else "conv_pw_3"]
    assert cli.main(argv + [f"--gin_param={p}" for p in params]) == 0
    assert (tmp_path / "sweep" / "atlas" / "index.html").is_file()
