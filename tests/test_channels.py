"""Channel visualization across layers: the sweep job, its figure, and channel selection."""

from __future__ import annotations

import gin
import numpy as np
import pytest

import featviz as fv
from featviz.jobs.channels import select_channels
from featviz.jobs import experiment


def _bands(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of the runs of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def _tile_layout(figure: np.ndarray, tile: int) -> list[int]:
    """The number of tiles in each row of tiles of a figure, top to bottom.

    A tile is a run of at least `tile` non-white pixels along a line; labels (text) never are.
    """
    colored = np.any(figure < 1.0, axis=-1)
    runs = [[(a, b) for a, b in _bands(line) if b - a >= tile] for line in colored]
    rows = _bands(np.array([bool(r) for r in runs]))
    return [len(runs[(top + bottom) // 2]) for top, bottom in rows]


def test_channel_sweep_job_writes_one_row_per_layer_from_lower_to_higher(tiny_keras_model, tmp_path):
    model_path = tmp_path / "tiny.keras"
    tiny_keras_model.save(model_path)
    gin.parse_config(f"""
        experiment.job = @channel_sweep
        channel_sweep.model = @load_model()
        channel_sweep.layers = ['conv2', 'pool1', 'conv1']  # any order: rows go input to output
        channel_sweep.channels = 3
        channel_sweep.scale = 2
        load_model.name = '{model_path}'
        Visualizer.param = @Fourier()
        Visualizer.steps = 2
        Visualizer.callbacks = [@ImageSaver()]
        Fourier.size = 32
    """)
    results = experiment(str(tmp_path / "run"))
    assert [(r.layer, r.channels) for r in results] == [
        ("conv1", (0, 1, 2)), ("pool1", (0, 1, 2)), ("conv2", (0, 1, 2))]
    assert all(r.render.images.shape == (3, 32, 32, 3) for r in results)
    figure = fv.load_image(tmp_path / "run" / "layers.png")
    assert _tile_layout(figure, tile=64) == [3, 3, 3]
    for layer in ("conv1", "pool1", "conv2"):
        assert (tmp_path / "run" / layer / "grid.png").is_file()
        assert (tmp_path / "run" / layer / f"02_Channel_{layer}_2.png").is_file()


def test_layers_figure_rows_follow_the_results_and_hold_their_channels(tiny):
    results = fv.visualize_channels(tiny, ["conv1", "conv2"], channels=[5, 1], objective=fv.Neuron,
                                    param=fv.Pixel(32), steps=1)
    assert [r.render.names for r in results] == [
        ["Neuron[conv1:5]", "Neuron[conv1:1]"], ["Neuron[conv2:5]", "Neuron[conv2:1]"]]
    assert _tile_layout(fv.layers_figure(results), tile=32) == [2, 2]
    every = fv.visualize_channels(tiny, ["conv1"], channels=None, param=fv.Pixel(32), steps=1)
    assert every[0].channels == tuple(range(8))
    assert _tile_layout(fv.layers_figure(every + results), tile=32) == [8, 2, 2]


def test_channel_selection_errors(tiny):
    assert select_channels(tiny, "conv2", 16) == tuple(range(16))
    with pytest.raises(ValueError, match=r"first 17 channels of layer 'conv2', which has 16; use 1..16"):
        select_channels(tiny, "conv2", 17)
    with pytest.raises(ValueError, match="empty list"):
        select_channels(tiny, "conv2", [])
    with pytest.raises(ValueError, match="channel 9 is out of range for layer 'conv1'"):
        fv.visualize_channels(tiny, ["conv1"], channels=[9], param=fv.Pixel(32), steps=1)
    with pytest.raises(ValueError, match="must not repeat a layer; repeated: \\['conv1'\\]"):
        fv.visualize_channels(tiny, ["conv1", "conv1"], steps=1)
    with pytest.raises(ValueError, match="non-empty list of layer names, got 'conv1'"):
        fv.visualize_channels(tiny, "conv1", steps=1)
    with pytest.raises(ValueError, match="no layer 'conv9'"):
        fv.visualize_channels(tiny, ["conv9"], steps=1)
