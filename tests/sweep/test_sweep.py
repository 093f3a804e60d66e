"""`featviz sweep` with the local executor: resume exactly once, refusal, failures, grids."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import featviz as fv
from featviz import cli
from featviz.jobs import Run
from featviz.sweep import LocalExecutor, Manifest, WorkItem, render_items
from featviz.sweep.job import atlas_groups
from sweeping import ROOT, SMALL, kill_after, manifest_items, parse_demo_sweep, start_sweep

CONFIG = str(ROOT / "featviz" / "configs" / "demo_sweep.gin")


def _sweep(logdir: Path, *argv: str) -> int:
    return cli.main(["sweep", CONFIG, "--logdir", str(logdir), *[f"--gin_param={p}" for p in SMALL], *argv])


def test_a_sweep_killed_mid_way_and_rerun_renders_every_channel_exactly_once(tmp_path, capsys):
    logdir = tmp_path / "sweep"
    killed_with = kill_after(start_sweep(logdir), logdir, items=1)
    assert 1 <= killed_with < 4
    before = manifest_items(logdir)
    # What a kill during a write leaves: a half-written PNG of an unfinished item, and a temporary file.
    missing = next(u for u in range(8) if all(u not in e["units"] for e in before.values()))
    partial = logdir / "atlas" / "renders" / "conv1" / f"{missing}-s0.png"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert _sweep(logdir) == 0
    assert f"{killed_with}/4 items" not in capsys.readouterr().err.splitlines()[0]
    after = manifest_items(logdir)
    assert Counter(u for e in after.values() for u in e["units"]) == Counter(range(8))
    assert all(after[item_id] == entry for item_id, entry in before.items())
    for entry in after.values():
        for image in entry["images"]:
            assert fv.load_image(logdir / "atlas" / image).shape == (64, 64, 3)
    # A third run finds nothing missing and renders nothing.
    assert _sweep(logdir, "--resume") == 0
    assert manifest_items(logdir) == after


def test_a_rerun_with_another_recipe_is_refused_and_one_with_more_layers_extends(tmp_path, capsys):
    logdir = tmp_path / "sweep"
    assert _sweep(logdir, "--gin_param=sweep.channels=2") == 0
    with pytest.raises(SystemExit, match=r"config hash .* never mixed.*--overwrite"):
        _sweep(logdir, "--gin_param=sweep.channels=2", "--gin_param=Visualizer.steps=2")
    assert _sweep(logdir, "--gin_param=sweep.channels=2", "--layers", "conv1,conv2") == 0
    groups = {e["group"] for e in manifest_items(logdir).values()}
    assert groups == {"conv1", "conv2"}
    index = (logdir / "atlas" / "index.html").read_text()
    assert "groups/conv1.html" in index and "groups/conv2.html" in index
    with pytest.raises(SystemExit, match="holds no sweep"):
        _sweep(tmp_path / "empty", "--resume")


@fv.objective
def _nan(features, layer):
    """NaN for every image: an item that fails on its own."""
    return tf.reduce_mean(features[layer], axis=[1, 2, 3]) * np.nan


def test_failed_items_and_dead_channels_are_recorded_with_their_message_and_shown(tmp_path, tiny_keras_model):
    # conv1's channel 0 made dead: its ReLU is off for every input.
    model = fv.load_model(tiny_keras_model.__class__.from_config(tiny_keras_model.get_config()))
    model.model.set_weights(tiny_keras_model.get_weights())
    kernel, bias = model.model.get_layer("conv1").get_weights()
    bias[0] = -1e4
    model.model.get_layer("conv1").set_weights([kernel, bias])
    config = parse_demo_sweep("Fourier.size=32", "Visualizer.redirect_relu_steps=0")
    items = [WorkItem("conv1", (0, 1), 0, [fv.Channel("conv1", 0), fv.Channel("conv1", 1)]),
             WorkItem("conv1", (2,), 0, [_nan("conv1")])]
    run = Run(tmp_path)
    manifest = Manifest(tmp_path, model.name, config)
    assert render_items(run, items, LocalExecutor(model), manifest, config) == 2
    first, second = (manifest.items[item.id] for item in items)
    assert list(first["failures"]) == ["0"] and "dead unit: Channel[conv1:0] stayed at 0" in first["failures"]["0"]
    assert first["error"] is None and len(first["images"]) == 2
    assert "NaN or infinite" in second["error"] and second["images"] is None
    (group,) = atlas_groups(tmp_path / "atlas", model, manifest)
    shown = {unit.unit: unit.message for unit in group.units}
    assert shown[1] is None and "dead unit" in shown[0] and "NaN" in shown[2]
    # Recorded failures are finished items: a rerun does not render them again.
    assert render_items(run, items, LocalExecutor(model), manifest, config) == 0


def test_a_grid_renders_every_combination_and_logs_hparams(tmp_path, capsys):
    logdir = tmp_path / "sweep"
    assert _sweep(logdir, "--gin_param=sweep.channels=2", "--grid", "Fourier.decay_power=[1.0,2.0]") == 0
    entries = list(manifest_items(logdir).values())
    assert sorted(e["bindings"] for e in entries) == [["Fourier.decay_power=1.0"], ["Fourier.decay_power=2.0"]]
    sessions = sorted((logdir / "hparams").iterdir())
    assert len(sessions) == 2
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = EventAccumulator(str(sessions[0])).Reload().Tags()
    assert "_hparams_/session_start_info" in tags["tensors"] and "sweep/final_objective" in tags["tensors"]
    layer_summaries = EventAccumulator(str(logdir)).Reload().Tags()["tensors"]
    assert "sweep/conv1" in layer_summaries
    capsys.readouterr()
    assert _sweep(tmp_path / "bad", "--grid", "Fourier.decay_pwr=[1.0]") == 2
    assert "not valid gin" in capsys.readouterr().err
