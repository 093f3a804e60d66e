"""Activation maps: what every channel of a layer computes on a given image.

`activation_maps` runs the model once on an image (a file or an array in [0, 1], resized to the
model's input) and returns, for each chosen layer, its activations [height, width, channels];
`activation_grid` tiles one layer's maps into one image, one tile per channel, each tile
labelled with its channel index when it is wide enough to hold it. The `activation_grids` job
writes one grid per layer as a PNG and to TensorBoard (`featviz/configs/activation_maps.gin`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import gin
import keras
import numpy as np

from featviz import io as image_io
from featviz.jobs.base import RunLike, as_run
from featviz.models import VisModel, load_model

_NORMALIZATIONS = ("channel", "layer")
# Narrowest tile (pixels) that fits a three-digit channel label in Pillow's default font.
_MIN_LABELLED_WIDTH = 20


@dataclasses.dataclass(frozen=True)
class Activations:
    """A model's activations on one image.

    Attributes:
        image: the model's input, [height, width, channels] in [0, 1] (resized to the model's
            input size).
        maps: layer name -> activations [layer height, layer width, layer channels], in the
            order the layers were asked for.
    """

    image: np.ndarray
    maps: dict[str, np.ndarray]


def activation_maps(
    model: VisModel | keras.Model | str,
    image: str | os.PathLike | np.ndarray,
    layers: Sequence[str],
) -> Activations:
    """The activations of `layers` on one image, in one forward pass.

    Args:
        model: a `VisModel`, a `keras.Model` or a name `load_model` accepts.
        image: an image file, or an array [height, width, channels], float in [0, 1] or uint8;
            resized to the model's input size (kept at its own size for models with a free
            input size).
        layers: names of layers with [batch, height, width, channels] outputs.

    Raises:
        ValueError: an unknown layer, or one without a spatial grid (Dense, global pooling).
    """
    model = load_model(model)
    layers = list(layers)
    if not layers:
        raise ValueError("activation_maps needs at least one layer name")
    for layer in layers:
        shape = model.output_shape(layer)
        if len(shape) != 4:
            raise ValueError(
                f"layer {layer!r} has output shape {shape}, not a [batch, height, width, "
                f"channels] grid of activation maps; choose a convolutional or pooling layer"
            )
    batch = image_io.as_image_batch(image, model.input_size, model.input_channels, 1)
    outputs = model.activations(batch, layers)
    return Activations(batch[0], {layer: np.asarray(outputs[layer][0]) for layer in layers})


def activation_grid(
    maps: np.ndarray,
    normalize: str = "channel",
    cmap: str = "viridis",
    scale: int = 1,
    columns: int | None = None,
) -> np.ndarray:
    """One tile per channel of a layer's activation maps.

    Args:
        maps: [height, width, channels] activations of one layer.
        normalize: "channel" stretches each map to its own [min, max] (shows every channel's
            pattern); "layer" uses the layer's [min, max] for all (compares channels). A
            constant map is shown at the low end of the colormap.
        cmap: "viridis" or "gray".
        scale: integer upscaling of the tiles (nearest neighbour).
        columns: tiles per row; default about the square root of the channel count.

    Returns:
        float32 [grid height, grid width, 3] in [0, 1].
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must be [height, width, channels], got shape {maps.shape}")
    if normalize not in _NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {_NORMALIZATIONS}, got {normalize!r}")
    axes = (0, 1) if normalize == "channel" else (0, 1, 2)
    low = maps.min(axis=axes, keepdims=True)
    span = maps.max(axis=axes, keepdims=True) - low
    scaled = np.divide(maps - low, span, out=np.zeros_like(maps), where=span > 0)
    tiles = image_io.colorize(np.moveaxis(scaled, -1, 0), cmap)  # [channels, height, width, 3]
    labels = [str(c) for c in range(len(tiles))] if maps.shape[1] * scale >= _MIN_LABELLED_WIDTH else None
    return image_io.grid(tiles, labels, columns=columns, scale=scale)


@gin.register(module="featviz")
def activation_grids(
    run: RunLike,
    model: VisModel | keras.Model | str = gin.REQUIRED,
    image: str | os.PathLike | np.ndarray = gin.REQUIRED,
    layers: Sequence[str] = gin.REQUIRED,
    normalize: str = "channel",
    cmap: str = "viridis",
    scale: int = 1,
    columns: int | None = None,
) -> Activations:
    """Job: every channel's activation map at `layers`, as PNG grids and in TensorBoard.

    Writes into the run directory: `input.png` (the image as the model sees it), `<layer>.png` (one tile
    per channel, see `activation_grid`), and TensorBoard images `activations/input` and
    `activations/<layer>` at step 0.
    """
    activations = activation_maps(model, image, layers)
    with as_run(run).outputs as outputs:
        outputs.png("input.png", activations.image)
        outputs.summary_image("activations/input", activations.image)
        for layer, maps in activations.maps.items():
            figure = activation_grid(maps, normalize, cmap, scale, columns)
            outputs.png(f"{image_io.slug(layer)}.png", figure)
            outputs.summary_image(f"activations/{layer}", figure)
    return activations
