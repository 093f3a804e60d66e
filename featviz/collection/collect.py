"""Collecting a layer's activation vectors over a folder of images, streamed to disk.

Images are read in batches of `batch_size` (`featviz.collection.sources`), run through
`VisModel.activations` (resize -> preprocess -> extract), and at `positions_per_image` spatial
positions of each image (sampled without replacement from a generator seeded by `(seed, image
index)`, so a position never depends on which batch its image fell into) the activation vector
is kept. Each batch becomes one shard file `shard_<batch>.npz`, written atomically: a run that
is killed leaves only whole shards, and a rerun with the same settings skips them, so no
position is collected twice. Memory during collection is one batch of images and activations,
whatever the folder's size; `Collection.load` then reads the shards into arrays of
[positions, channels].

When the model has a classifier head, each kept position also gets its class attribution, the
linear approximation of its effect on each logit used by the Distill article: the activation
vector times the gradient of the logit with respect to it, `a . d logit_k / d a` [classes].
"""

from __future__ import annotations

import dataclasses
import io
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gin
import numpy as np
import tensorflow as tf

from featviz import io as image_io
from featviz.collection.sources import ImageSource
from featviz.models import LOGITS, VisModel

MANIFEST = "manifest.json"
_SHARD = "shard_{:05d}.npz"


@dataclasses.dataclass(frozen=True)
class Collection:
    """The activation vectors collected at the sampled positions, one row per position.

    Attributes:
        layer: the layer they come from.
        grid: (rows, columns) of the layer's output grid.
        image_size: (height, width) the images were resized to before the model.
        activations: float32 [positions, channels].
        images: [positions] int64 index of each position's image in the source.
        positions: [positions, 2] int32 (row, column) in the layer's grid.
        labels: [positions] int64 class of each position's image (-1: unlabelled source).
        attributions: float32 [positions, classes], or None without a classifier head.
        skipped: (image index, reason) for every image that could not be read.
        complete: False when the collection was stopped before the last batch.
    """

    layer: str
    grid: tuple[int, int]
    image_size: tuple[int, int]
    activations: np.ndarray
    images: np.ndarray
    positions: np.ndarray
    labels: np.ndarray
    attributions: np.ndarray | None
    skipped: tuple[tuple[int, str], ...]
    complete: bool

    @classmethod
    def load(cls, directory: str | Path) -> Collection:
        """Reads the manifest and every finished shard of a collection directory.

        Shards are read one at a time into arrays allocated once, so the peak is the arrays
        themselves plus one shard.
        """
        directory = Path(directory)
        manifest = json.loads((directory / MANIFEST).read_text())
        shards = [directory / _SHARD.format(b) for b in range(manifest["batches"])]
        done = [shard for shard in shards if shard.exists()]
        counts = [len(np.load(shard)["images"]) for shard in done]
        total, channels = sum(counts), manifest["channels"]
        classes = manifest["classes"]
        arrays = {"activations": np.empty((total, channels), np.float32),
                  "images": np.empty(total, np.int64), "positions": np.empty((total, 2), np.int32),
                  "labels": np.empty(total, np.int64)}
        if classes:
            arrays["attributions"] = np.empty((total, classes), np.float32)
        skipped: list[tuple[int, str]] = []
        start = 0
        for shard, count in zip(done, counts):
            with np.load(shard) as data:
                for key, array in arrays.items():
                    array[start:start + count] = data[key]
                skipped += [(int(i), str(r)) for i, r in zip(data["skipped"], data["reasons"])]
            start += count
        return cls(manifest["layer"], tuple(manifest["grid"]), tuple(manifest["image_size"]),
                   arrays["activations"], arrays["images"], arrays["positions"], arrays["labels"],
                   arrays.get("attributions"), tuple(skipped), len(done) == len(shards))


def _has_classifier(model: VisModel) -> bool:
    try:
        return model.num_classes > 1
    except ValueError:
        return False


def _layer_grid(model: VisModel, layer: str, image_size: tuple[int, int]) -> tuple[int, int, int]:
    """(rows, columns, channels) of `layer` for images of `image_size`; 1x1 for vectors."""
    shape = model.output_shape(layer)
    if len(shape) == 2:
        return 1, 1, int(shape[1])
    if len(shape) != 4:
        raise ValueError(
            f"an atlas needs a layer with [batch, height, width, channels] or [batch, channels] "
            f"output; {layer!r} has output shape {shape}"
        )
    if None in shape[1:3]:
        probe = model.activations(np.zeros((1, *image_size, model.input_channels), np.float32), [layer])
        shape = tuple(probe[layer].shape)
    return int(shape[1]), int(shape[2]), int(shape[3])


def sample_positions(index: int, cells: int, count: int, seed: int) -> np.ndarray:
    """The positions kept for image `index`: `count` of `cells` flat grid indices, sorted.

    Seeded by `(seed, index)` alone, so the choice is the same in every run and batch.
    """
    rng = np.random.default_rng([seed, index])
    return np.sort(rng.choice(cells, size=min(count, cells), replace=False))


def _forward(model: VisModel, layer: str, classes: int, chunk: int) -> Callable[..., dict[str, tf.Tensor]]:
    """The compiled pass: activations (and attributions) at the given flat positions."""
    keys = [layer, LOGITS] if classes else [layer]

    @tf.function(reduce_retracing=True)
    def forward(images: tf.Tensor, flat_positions: tf.Tensor) -> dict[str, tf.Tensor]:
        # images [batch, height, width, channels]; flat_positions [batch, kept] int32.
        with tf.GradientTape(persistent=True) as tape:
            features = model.activations(images, keys)
            # Chunks of classes bound the Jacobian's memory: [batch, chunk, *layer shape]. They
            # are sliced inside the tape, or their gradient would not reach the layer.
            chunks = [features[LOGITS][:, start:start + chunk] for start in range(0, classes, chunk)]
        acts = features[layer]
        grid = tf.reshape(acts, [tf.shape(acts)[0], -1, acts.shape[-1]])  # [batch, cells, channels]
        kept = tf.gather(grid, flat_positions, batch_dims=1)  # [batch, kept, channels]
        outputs = {"activations": kept}
        if classes:
            parts = []
            for logits in chunks:
                jacobian = tape.batch_jacobian(logits, acts)
                jacobian = tf.reshape(jacobian, [tf.shape(acts)[0], tf.shape(jacobian)[1], -1, acts.shape[-1]])
                at_kept = tf.gather(jacobian, flat_positions, axis=2, batch_dims=1)  # [batch, chunk, kept, ch]
                parts.append(tf.einsum("bkpc,bpc->bpk", at_kept, kept))
            outputs["attributions"] = tf.concat(parts, axis=-1)
        return outputs

    return forward


def _settings(model: VisModel, source: ImageSource, layer: str, image_size: tuple[int, int],
              grid: tuple[int, int, int], positions_per_image: int, batch_size: int, seed: int,
              classes: int) -> dict[str, Any]:
    return {"model": model.name, "layer": layer, "source": source.describe(),
            "image_size": list(image_size), "grid": list(grid[:2]), "channels": grid[2],
            "positions_per_image": positions_per_image, "batch_size": batch_size, "seed": seed,
            "classes": classes, "images": len(source), "batches": -(-len(source) // batch_size)}


def _save_shard(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    image_io.atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))


@gin.configurable(module="featviz", denylist=["model", "source", "layer", "directory", "stop", "progress"])
def collect_activations(
    model: VisModel,
    source: ImageSource,
    layer: str,
    directory: str | Path,
    positions_per_image: int = 8,
    batch_size: int = 32,
    seed: int = 0,
    image_size: tuple[int, int] | None = None,
    attribution: bool = True,
    attribution_chunk: int = 100,
    stop: Callable[[], bool] | object | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Collection:
    """Collects `layer`'s activation vectors over `source` into shards in `directory`.

    Args:
        model: the model.
        source: the images (`ImageFolder`, `DemoImages`).
        layer: a layer with a spatial grid ([batch, height, width, channels]) or a vector.
        directory: where the manifest and shards go; finished shards of an earlier run with
            the same settings are kept, not recomputed.
        positions_per_image: positions kept per image (all of them when the grid is smaller).
        batch_size: images per forward pass, and per shard.
        seed: seeds the positions.
        image_size: (height, width) images are resized to; default the model's input size
            (required for models with a free input size).
        attribution: compute class attributions when the model has a classifier head.
        attribution_chunk: classes per Jacobian (memory: batch x chunk x layer size floats).
        stop: anything truthy once the collection should stop (a `StopToken`); it stops
            after the current batch.
        progress: called as `progress(batches done, batches)` after each batch.

    Returns:
        The collection of the finished shards (`complete` False after a stop).

    Raises:
        ValueError: bad settings, or `directory` holds a collection made with other settings
            (the message names them).
    """
    for name, value in (("positions_per_image", positions_per_image), ("batch_size", batch_size),
                        ("attribution_chunk", attribution_chunk)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    image_size = tuple(image_size or model.input_size or ())
    if len(image_size) != 2:
        raise ValueError(f"model {model.name!r} has a free input size: give image_size=(height, width)")
    layer = model.qualified_name(layer)
    grid = _layer_grid(model, layer, image_size)
    classes = model.num_classes if attribution and _has_classifier(model) else 0
    settings = _settings(model, source, layer, image_size, grid, positions_per_image, batch_size,
                         seed, classes)
    directory = Path(directory)
    manifest = directory / MANIFEST
    if manifest.exists():
        before = json.loads(manifest.read_text())
        changed = sorted(key for key in settings.keys() | before.keys() if settings.get(key) != before.get(key))
        if changed:
            raise ValueError(
                f"{str(directory)!r} holds a collection made with other settings "
                f"({', '.join(f'{k}: {before.get(k)!r} -> {settings.get(k)!r}' for k in changed)}); "
                f"delete it or collect into another directory"
            )
    else:
        image_io.atomic_write(manifest, lambda tmp: Path(tmp).write_text(json.dumps(settings, indent=2)))
    forward = _forward(model, layer, classes, attribution_chunk)
    cells = grid[0] * grid[1]
    batches = settings["batches"]
    for batch_index in range(batches):
        if stop:
            break
        path = directory / _SHARD.format(batch_index)
        if path.exists():
            continue
        start = batch_index * batch_size
        batch = source.load(start, start + batch_size, image_size, model.input_channels)
        for index, reason in batch.failures:
            warnings.warn(f"atlas: skipped image {source.names[index]!r}: {reason}", stacklevel=2)
        kept = np.stack([sample_positions(int(i), cells, positions_per_image, seed)
                         for i in batch.indices]) if len(batch.indices) else np.zeros((0, 1), np.int64)
        arrays: dict[str, np.ndarray] = {
            "activations": np.zeros((0, grid[2]), np.float32),
            "attributions": np.zeros((0, classes), np.float32)}
        if len(batch.indices):
            outputs = forward(tf.constant(batch.images), tf.constant(kept, tf.int32))
            arrays = {key: value.numpy().reshape(-1, value.shape[-1]) for key, value in outputs.items()}
        per_image = kept.shape[1]
        arrays.update(
            images=np.repeat(batch.indices, per_image),
            positions=np.stack(np.divmod(kept.reshape(-1), grid[1]), axis=-1).astype(np.int32),
            labels=np.repeat(batch.labels, per_image),
            skipped=np.asarray([i for i, _ in batch.failures], np.int64),
            reasons=np.asarray([r for _, r in batch.failures], str))
        _save_shard(path, arrays)
        if progress is not None:
            progress(batch_index + 1, batches)
    return Collection.load(directory)
