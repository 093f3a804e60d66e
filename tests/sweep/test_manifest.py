"""The manifest: the config hash, refusal of another config, atomic entries."""

from __future__ import annotations

import pytest

from featviz.sweep import ConfigMismatchError, Manifest, config_hash

CONFIG = """# Parameters for sweep:
# ==============================================================================
sweep.block_size = 16
sweep.layers = ['conv1', 'conv2']

# Parameters for Visualizer:
# ==============================================================================
Visualizer.steps = 128
Visualizer.transforms = \\
    [@Pad(), @Jitter()]
"""


def test_the_hash_ignores_which_layers_and_where_but_not_the_recipe():
    assert config_hash(CONFIG) == config_hash(CONFIG.replace("['conv1', 'conv2']", "['conv3']"))
    assert config_hash(CONFIG) == config_hash(CONFIG + "RayExecutor.num_cpus = 2\n")
    assert config_hash(CONFIG) != config_hash(CONFIG.replace("steps = 128", "steps = 64"))
    assert config_hash(CONFIG) != config_hash(CONFIG.replace("@Jitter()", "@Zoom()"))
    assert config_hash(CONFIG) != config_hash(CONFIG.replace("block_size = 16", "block_size = 4"))
    # A job names what its renders do not depend on.
    smaller = CONFIG.replace("block_size = 16", "block_size = 4")
    assert config_hash(CONFIG, ignore=("sweep.",)) == config_hash(smaller, ignore=("sweep.",))


def test_a_directory_refuses_another_config_or_model_and_keeps_its_entries(tmp_path):
    manifest = Manifest(tmp_path, "demo", CONFIG)
    manifest.record("abc", {"units": [0, 1]})
    assert "abc" in Manifest(tmp_path, "demo", CONFIG)
    with pytest.raises(ConfigMismatchError, match=r"config hash .*--overwrite"):
        Manifest(tmp_path, "demo", CONFIG.replace("steps = 128", "steps = 64"))
    with pytest.raises(ConfigMismatchError, match="model 'demo'.*model 'vgg16'"):
        Manifest(tmp_path, "vgg16", CONFIG)
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary file left
