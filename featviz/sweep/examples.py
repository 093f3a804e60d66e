"""Dataset examples: for every channel, the images of a folder that excite it most, and where.

`top_examples` reads a folder once, in batches: each image (any size, any format Pillow reads;
files it cannot read are skipped with a warning) is resized to the model's input, and one
forward pass per batch gives every chosen layer's activations. For each channel it keeps the k
images with the highest peak activation and the peak's position; the example's crop is the
unit's theoretical receptive field at that position (`featviz.receptive_field`), clipped to
the image.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from featviz.analysis.receptive_field import receptive_field
from featviz.io import load_image
from featviz.models import VisModel

# The size images are resized to for models with free spatial size.
DEFAULT_SIZE = 224


@dataclasses.dataclass(frozen=True)
class Example:
    """One image that excites a channel, and where.

    Attributes:
        file: the image file.
        value: the channel's peak activation on it.
        position: (row, column) of the peak in the layer's output grid.
        region: (top, left, bottom, right) of the crop in the resized image, bottom and right
            exclusive: the receptive field of `position`, clipped to the image.
    """

    file: str
    value: float
    position: tuple[int, int]
    region: tuple[int, int, int, int]


def image_files(folder: str | os.PathLike) -> list[Path]:
    """Every file under `folder` (recursively), sorted; which of them are images is found by reading.

    Raises:
        FileNotFoundError: `folder` is not a directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--examples {str(folder)!r} is not a directory of images")
    return sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))


def _load(files: Sequence[Path], size: tuple[int, int], channels: int) -> tuple[list[Path], np.ndarray]:
    """The readable files among `files` and their images [n, height, width, channels]."""
    kept, images = [], []
    for path in files:
        try:
            images.append(load_image(path, size, channels))
        except ValueError as error:
            warnings.warn(f"skipping {error}", stacklevel=3)
            continue
        kept.append(path)
    empty = np.zeros((0, *size, channels), np.float32)
    return kept, np.stack(images) if images else empty


def image_size(model: VisModel) -> tuple[int, int]:
    """(height, width) examples are resized to: the model's input, or `DEFAULT_SIZE` square."""
    return model.input_size or (DEFAULT_SIZE, DEFAULT_SIZE)


def top_examples(model: VisModel, layers: Sequence[str], folder: str | os.PathLike, k: int = 8,
                 batch_size: int = 32) -> dict[str, list[list[Example]]]:
    """The k images of `folder` each channel of `layers` responds to most, in one batched pass.

    Args:
        model: the model.
        layers: layer names; their outputs are [batch, height, width, channels] or
            [batch, channels] (a vector: the position is (0, 0), the crop the whole image).
        folder: a directory of images.
        k: examples per channel (fewer when the folder has fewer images).
        batch_size: images per forward pass.

    Returns:
        {layer: one list per channel of its examples, highest peak first}.

    Raises:
        ValueError: no file of the folder is a readable image, or k < 1.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"examples_k must be a positive int, got {k!r}")
    size = image_size(model)
    files = image_files(folder)
    # Per layer: the best [channels, <=k] values, file indices and positions so far.
    best: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    readable: list[Path] = []
    for start in range(0, len(files), batch_size):
        kept, images = _load(files[start:start + batch_size], size, model.input_channels)
        if not kept:
            continue
        indices = np.arange(len(readable), len(readable) + len(kept))
        readable += kept
        activations = model.activations(images, layers)
        for layer in layers:
            acts = np.asarray(activations[layer], np.float32)
            if acts.ndim == 2:
                acts = acts[:, None, None, :]
            batch, height, width, channels = acts.shape
            flat = acts.reshape(batch, height * width, channels)
            peak = flat.argmax(axis=1)  # [batch, channels]
            values = np.take_along_axis(flat, peak[:, None, :], axis=1)[:, 0].T  # [channels, batch]
            positions = np.stack(np.unravel_index(peak.T, (height, width)), axis=-1)  # [channels, batch, 2]
            ids = np.broadcast_to(indices, values.shape)
            if layer in best:
                values = np.concatenate([best[layer][0], values], axis=1)
                ids = np.concatenate([best[layer][1], ids], axis=1)
                positions = np.concatenate([best[layer][2], positions], axis=1)
            # Stable, so that among equal peaks the earlier file wins whatever the batch size.
            order = np.argsort(-values, axis=1, kind="stable")[:, :k]
            best[layer] = (np.take_along_axis(values, order, 1), np.take_along_axis(ids, order, 1),
                           np.take_along_axis(positions, order[..., None], 1))
    if not readable:
        raise ValueError(f"no file under {str(folder)!r} is an image Pillow can read "
                         f"({len(files)} files tried)")
    result = {}
    for layer in layers:
        field = receptive_field(model.model, model.qualified_name(layer))
        values, ids, positions = best[layer]
        result[layer] = [
            [Example(str(readable[i]), float(v), (int(p[0]), int(p[1])),
                     field.region((int(p[0]), int(p[1])), size))
             for v, i, p in zip(values[c], ids[c], positions[c])]
            for c in range(values.shape[0])
        ]
    return result


def crop(example: Example, model: VisModel) -> np.ndarray:
    """The example's crop: [bottom - top, right - left, channels] in [0, 1] of the resized image."""
    image = load_image(example.file, image_size(model), model.input_channels)
    top, left, bottom, right = example.region
    return image[top:bottom, left:right]
