"""Activation maps: the forward pass, one tile per channel, normalization, the job's outputs."""

from __future__ import annotations

import gin
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage
from tensorboard.backend.event_processing import event_accumulator

import featviz as fv
from featviz.jobs import experiment


def _tiles(grid: np.ndarray, height: int, width: int) -> list[np.ndarray]:
    """The connected non-white blocks of exactly height x width pixels (labels are smaller)."""
    labels, _ = ndimage.label(np.any(grid < 1.0, axis=-1))
    return [grid[box] for box in ndimage.find_objects(labels)
            if box[0].stop - box[0].start == height and box[1].stop - box[1].start == width]


def test_activation_maps_are_the_layer_outputs_on_the_image(tiny):
    image = np.random.default_rng(0).uniform(size=(32, 32, 3)).astype(np.float32)
    activations = fv.activation_maps(tiny, image, ["conv2", "conv1"])
    assert list(activations.maps) == ["conv2", "conv1"]
    expected = tiny.extractor(["conv1"])(tf.constant(image[None]))["conv1"].numpy()[0]
    np.testing.assert_allclose(activations.maps["conv1"], expected, rtol=1e-5, atol=1e-6)
    assert activations.maps["conv2"].shape == (16, 16, 16)
    # Other sizes and uint8 photographs are resized to the model's input.
    photo = (np.random.default_rng(1).uniform(size=(48, 40, 3)) * 255).astype(np.uint8)
    resized = fv.activation_maps(tiny, photo, ["conv1"])
    assert resized.image.shape == (32, 32, 3) and resized.maps["conv1"].shape == (32, 32, 8)
    with pytest.raises(ValueError, match=r"layer 'gap' has output shape \(None, 16\), not a"):
        fv.activation_maps(tiny, image, ["gap"])


@pytest.mark.parametrize("scale", [1, 2])
def test_activation_grid_has_one_tile_per_channel_each_its_own_map(scale):
    maps = np.random.default_rng(1).normal(size=(6, 7, 11)).astype(np.float32)
    maps[..., 4] = 3.0  # a constant (dead) channel
    grid = fv.activation_grid(maps, scale=scale, columns=4)
    tiles = _tiles(grid, 6 * scale, 7 * scale)
    assert len(tiles) == 11
    # Per-channel normalization: tile 0 reproduces channel 0's ranking of positions.
    first = tiles[0][::scale, ::scale, 1]  # the green of viridis grows with the value
    assert np.argmax(first) == np.argmax(maps[..., 0]) and np.argmin(first) == np.argmin(maps[..., 0])
    low = fv.io.colorize(np.zeros(1))[0]
    np.testing.assert_allclose(tiles[4].reshape(-1, 3), np.broadcast_to(low, (42 * scale * scale, 3)),
                               atol=1 / 255)


def test_layer_normalization_compares_channels():
    maps = np.stack([np.full((4, 4), 0.0), np.full((4, 4), 1.0), np.full((4, 4), 2.0)], axis=-1)
    tiles = _tiles(fv.activation_grid(maps, normalize="layer", cmap="gray", columns=3), 4, 4)
    # Gray: 0, 0.5 and 1 of the layer's range; the white tile is not a non-white block.
    assert [round(float(t.mean()), 2) for t in tiles] == [0.0, 0.5]
    with pytest.raises(ValueError, match="normalize must be one of"):
        fv.activation_grid(maps, normalize="global")
    with pytest.raises(ValueError, match="cmap must be one of"):
        fv.activation_grid(maps, cmap="jet")


def test_activation_grids_job_writes_pngs_and_tensorboard_images(tiny_keras_model, tmp_path):
    model_path = tmp_path / "tiny.keras"
    tiny_keras_model.save(model_path)
    image_path = tmp_path / "photo.png"
    fv.save_png(image_path, np.random.default_rng(2).uniform(size=(50, 60, 3)))
    gin.parse_config(f"""
        experiment.job = @activation_grids
        activation_grids.model = @load_model()
        activation_grids.image = '{image_path}'
        activation_grids.layers = ['conv1', 'conv2']
        load_model.name = '{model_path}'
    """)
    logdir = tmp_path / "run"
    activations = experiment(str(logdir))
    assert sorted(p.name for p in logdir.glob("*.png")) == ["conv1.png", "conv2.png", "input.png"]
    assert len(_tiles(fv.load_image(logdir / "conv2.png"), 16, 16)) == 16
    assert activations.maps["conv1"].shape == (32, 32, 8)
    events = event_accumulator.EventAccumulator(str(logdir), size_guidance={event_accumulator.TENSORS: 0})
    events.Reload()
    assert set(events.Tags()["tensors"]) == {"activations/input", "activations/conv1", "activations/conv2"}
