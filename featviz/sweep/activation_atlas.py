"""The `activation_atlas` job: an activation atlas of a layer over a folder of images (Carter et al. 2019).

Collect (`featviz.collection.collect`: activation vectors at sampled positions of every image,
with class attributions, in resumable shards under `<run>/collection/`) -> lay out (UMAP into
[0, 1]^2) -> bin into a grid (`featviz.collection.layout`) -> render one icon per non-empty cell
(`render_icons`: a cosine-weighted `Direction` objective of the cell's mean activation vector,
rendered as a sweep's work items, `batch` icons per item, by `render_items` with a local or Ray
executor, recorded in `<run>/icons/manifest.json`) -> write:

- `atlas.png`: every icon at its cell, sized by log density (Lucid's `render_tile`);
- `atlas.html`: the zoomable page, one tile per cell; hovering shows the cell's count, its top
  classes and example crops of images whose positions fell into it (`crops/`);
- `icons/cell_<i>_<j>.png`, one per cell, beside the work items' renders and loss curves
  (`icons/atlas/renders/<layer>/`);
- `layout.npz` (layout, cell of each point, cells, counts, directions, attributions) and
  `cells.csv`;
- `projector/`: TensorBoard's projector files (`tensors.tsv`, `metadata.tsv`, `sprite.png`,
  `projector_config.pbtxt`) for a sample of the collected activations;
- the atlas as a TensorBoard image.

Rerun into the same directory (`--overwrite` on the command line) to resume: finished shards
and icon items are kept; changed collection settings are refused with the differences, and
icons are rendered again when the directions or the config changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gin
import keras
import numpy as np
from PIL import Image

from featviz import io as image_io
from featviz.analysis.receptive_field import receptive_field
from featviz.atlas import write_page
from featviz.collection import Collection, ImageSource, as_source, collect_activations
from featviz.collection.layout import Cells, bin_layout, purity, umap_layout
from featviz.collection.sources import class_names_of
from featviz.jobs.base import Outputs, Run, RunLike, as_run
from featviz.models import VisModel, load_model
from featviz.objectives import Direction
from featviz.sweep.executors import Executor, LocalExecutor
from featviz.sweep.items import WorkItem, blocks
from featviz.sweep.job import ATLAS, render_items
from featviz.sweep.manifest import MANIFEST, WHERE_TO_RUN, ConfigMismatchError, Manifest

Layout = Callable[[np.ndarray], np.ndarray]
ICONS = "icons"
# The manifest's sweep-wide entry with the digest of the directions its items render.
_DIRECTIONS = "directions"
# Bindings that change the icons only through their directions (digested apart: any change
# renders them all again) or not at all (the page, the projector, where to render): left out of
# the icons' config hash, so that a rerun with larger tiles, more projector points or on Ray
# keeps the icons.
_NOT_ICONS = ("activation_atlas.", "collect_activations.", "umap_layout.", "DemoImages.",
              "ImageFolder.", "experiment.", "render_icons.executor", *WHERE_TO_RUN)


@dataclasses.dataclass(frozen=True)
class Icons:
    """The icons of an atlas's cells rendered so far.

    Attributes:
        images: float32 [rendered, height, width, channels] in [0, 1], in cell order; mid-grey
            for a cell whose work item failed.
        cells: [rendered] int64 cell index of each image (all cells once the icons are done).
        failures: {cell: message} for cells whose item failed (a NaN) or whose objective never
            moved (a dead direction: no gradient reached the image).
    """

    images: np.ndarray
    cells: np.ndarray
    failures: dict[int, str]


@dataclasses.dataclass(frozen=True)
class Atlas:
    """What the `activation_atlas` job made.

    Attributes:
        collection: the collected activation vectors.
        layout: float32 [positions, 2] in [0, 1].
        cells: the non-empty cells with their counts, directions and attributions.
        icons: the cells' icons (after a stop, those of the finished items).
        labels: for each cell, its top classes (most attributed first), [] without a head.
        purity: `featviz.collection.layout.purity` of the cells for a labelled source (demo),
            else None.
    """

    collection: Collection
    layout: np.ndarray
    cells: Cells
    icons: Icons
    labels: list[list[str]]
    purity: float | None


def _digest(directions: np.ndarray, cosine_power: float, batch: int) -> str:
    """What the icon items render beyond their keys (which name only cells and seed)."""
    digest = hashlib.sha256(np.ascontiguousarray(directions, np.float32).tobytes())
    digest.update(json.dumps([cosine_power, batch]).encode())
    return digest.hexdigest()[:16]


def _icon_manifest(directory: Path, model: VisModel, config: str, digest: str) -> Manifest:
    """The icons' manifest; started afresh when it holds icons of other directions or another config.

    The directions are the collection's cell means: the same config gives the same ones, but a
    Python caller may change them (another grid) without changing the config text.
    """
    path = directory / MANIFEST
    if path.exists():
        try:
            manifest: Manifest | None = Manifest(directory, model.name, config, _NOT_ICONS)
        except ConfigMismatchError:
            manifest = None
        if manifest is not None and manifest.extra(_DIRECTIONS) == digest:
            return manifest
        print(f"atlas: the icons in {directory} were rendered for other directions or another "
              f"config; rendering them again")
        path.unlink()
    manifest = Manifest(directory, model.name, config, _NOT_ICONS)
    manifest.set_extra(_DIRECTIONS, digest)
    return manifest


def _finished_icons(directory: Path, items: Sequence[WorkItem], manifest: Manifest, channels: int) -> Icons:
    """The icons of the finished `items`, read back from their PNGs, in cell order."""
    images: dict[int, np.ndarray] = {}
    failures: dict[int, str] = {}
    cells: list[int] = []
    for item in items:
        entry = manifest.items.get(item.id)
        if entry is None:
            continue
        cells += item.units
        if entry["images"] is None:
            failures.update({unit: entry["error"] for unit in item.units})
            continue
        for unit, name in zip(item.units, entry["images"]):
            images[unit] = image_io.load_image(directory / ATLAS / name, channels=channels)
        failures.update({int(unit): message for unit, message in entry["failures"].items()})
    shape = next(iter(images.values())).shape if images else (1, 1, channels)
    grey = np.full(shape, 0.5, np.float32)
    order = np.sort(np.asarray(cells, np.int64))
    if not len(order):
        return Icons(np.zeros((0, *shape), np.float32), order, failures)
    return Icons(np.stack([images.get(int(c), grey) for c in order]), order, failures)


@gin.configurable(module="featviz", denylist=["run", "model", "layer", "directions"])
def render_icons(
    run: Run,
    model: VisModel,
    layer: str,
    directions: np.ndarray,
    batch: int = 32,
    cosine_power: float = 1.0,
    seed: int = 0,
    executor: Executor | None = None,
) -> Icons:
    """One icon per direction, an image maximising `Direction(layer, d, cosine_power)`.

    The icons are a sweep's work items (`featviz.sweep`): `batch` directions per item, each
    item one `Visualizer` run (one compiled step for all its icons) with the gin config's
    `Visualizer.*` bindings (parameterization and size, transforms, steps, learning rate; no
    callbacks), rendered by `render_items`, which writes each item's PNGs and loss curves
    under `run.logdir/atlas/renders/<layer>/` and then records it in `run.logdir/manifest.json`.
    A rerun renders only the items missing; one with other directions, or with other bindings
    for the renders (`Visualizer.*`, the parameterization, transforms, `render_icons.*`, the
    model; not the page's, the collection's or where to render, `_NOT_ICONS`), starts afresh.

    Args:
        run: where the items go (the atlas's `icons/`), and the stop request: once requested,
            the current item stops after its step, is not recorded, and no other starts.
        model: the model.
        layer: the layer the directions live in.
        directions: [icons, channels] (each cell's mean activation vector).
        batch: icons per work item.
        cosine_power: `Direction.cosine_power`; 1 as Lucid's `direction_neuron_cossim`.
        seed: the items' seed.
        executor: who renders: `LocalExecutor(model)` by default; with a `RayExecutor`, each
            worker loads the model from the config's `load_model.*` bindings (as the shipped
            atlas configs give it).

    Returns:
        The icons of the finished items (all of them unless stopped).
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"render_icons batch must be a positive int (icons per work item), got {batch!r}")
    directions = np.asarray(directions, np.float32)
    config = gin.config_str()
    items = [WorkItem(layer, block, seed, tuple(Direction(layer, tuple(directions[c]), cosine_power=cosine_power)
                                                for c in block))
             for block in blocks(range(len(directions)), batch)]
    manifest = _icon_manifest(run.logdir, model, config, _digest(directions, cosine_power, batch))
    render_items(run, items, executor if executor is not None else LocalExecutor(model), manifest, config)
    return _finished_icons(run.logdir, items, manifest, model.input_channels)


def icon_scale(counts: np.ndarray) -> np.ndarray:
    """Each cell's icon side as a fraction of the cell: log density, as Lucid's atlas tiles.

    `log(count) / log(max count)`, floored at 0.25 so that a cell of one vector stays visible.
    """
    counts = np.asarray(counts, np.float64)
    largest = math.log(counts.max()) if counts.max() > 1 else 1.0
    return np.maximum(np.log(np.maximum(counts, 1)) / largest, 0.25)


def _tile_boxes(cells: Cells, cell_px: int) -> list[tuple[int, int, int]]:
    """(left, top, width) in pixels of each cell's icon: x to the right, y upwards."""
    boxes = []
    for (i, j), scale in zip(cells.coordinates, icon_scale(cells.counts)):
        width = max(1, int(round(cell_px * scale)))
        offset = (cell_px - width) // 2
        boxes.append((int(i) * cell_px + offset, (cells.grid_size - 1 - int(j)) * cell_px + offset, width))
    return boxes


def atlas_canvas(icons: np.ndarray, cells: Cells, cell_px: int) -> np.ndarray:
    """The atlas image: each icon on a white canvas at its cell, sized by `icon_scale`.

    Args:
        icons: [cells, size, size, channels] in [0, 1], in the order of `cells`.
        cells: the cells.
        cell_px: side of one grid cell in pixels.

    Returns:
        float32 [grid_size * cell_px, grid_size * cell_px, channels] in [0, 1].
    """
    side = cells.grid_size * cell_px
    canvas = Image.new("RGB" if icons.shape[-1] == 3 else "L", (side, side), "white")
    for icon, (left, top, width) in zip(icons, _tile_boxes(cells, cell_px)):
        canvas.paste(image_io.to_pil(icon).resize((width, width), Image.Resampling.LANCZOS), (left, top))
    array = np.asarray(canvas, np.float32) / 255.0
    return array if array.ndim == 3 else array[..., None]


def _crops(model: VisModel, source: ImageSource, collection: Collection, points: np.ndarray,
           thumb: int, batch_size: int) -> np.ndarray:
    """[points, thumb, thumb, channels]: the receptive-field crop of each chosen position.

    Images are read again range by range, and only crops are kept, so memory holds one batch
    of images. Where the layer's receptive field is unknown, the crop is the grid cell's
    share of the image.
    """
    height, width = collection.image_size
    try:
        field = receptive_field(model.model, collection.layer, input_size=collection.image_size)
    except ValueError:
        field = None
    rows, cols = collection.grid
    crops = np.ones((len(points), thumb, thumb, model.input_channels), np.float32)
    order = np.argsort(collection.images[points], kind="stable")
    chosen = points[order]
    start = 0
    while start < len(chosen):
        first = int(collection.images[chosen[start]]) // batch_size * batch_size
        batch = source.load(first, first + batch_size, collection.image_size, model.input_channels)
        where = {int(index): k for k, index in enumerate(batch.indices)}
        while start < len(chosen) and collection.images[chosen[start]] < first + batch_size:
            point = chosen[start]
            image = batch.images[where[int(collection.images[point])]]
            row, col = (int(v) for v in collection.positions[point])
            if field is not None:
                top, left, bottom, right = field.region((row, col), (height, width))
            else:
                top, bottom = row * height // rows, (row + 1) * height // rows
                left, right = col * width // cols, (col + 1) * width // cols
            pil = image_io.to_pil(image[top:bottom, left:right]).resize((thumb, thumb), Image.Resampling.LANCZOS)
            crop = np.asarray(pil, np.float32) / 255.0
            crops[order[start]] = crop if crop.ndim == 3 else crop[..., None]
            start += 1
    return crops


def _examples(cells: Cells, count: int, seed: int) -> list[np.ndarray]:
    """Up to `count` point indices per cell, drawn with a fixed seed."""
    rng = np.random.default_rng(seed)
    members = cells.members
    return [np.sort(rng.permutation(np.flatnonzero(members == cell))[:count]) for cell in range(len(cells))]


def top_classes(cells: Cells, class_names: Sequence[str] | None, count: int) -> list[list[str]]:
    """Each cell's `count` most attributed classes, most first ([] without attributions)."""
    if cells.attributions is None:
        return [[] for _ in range(len(cells))]
    names = class_names or [str(k) for k in range(cells.attributions.shape[1])]
    return [[names[k] for k in np.argsort(-row, kind="stable")[:count]] for row in cells.attributions]


def write_projector(outputs: Outputs, collection: Collection, points: np.ndarray, sprites: np.ndarray,
                    metadata: dict[str, Sequence[Any]]) -> Path:
    """TensorBoard projector files for the chosen points under `projector/`.

    `tensors.tsv` (one activation vector per line), `metadata.tsv` (a header, then one row
    per point), `sprite.png` (the points' crops, row-major) and `projector_config.pbtxt`,
    which TensorBoard finds in `<run>/projector/` (`tensorboard --logdir <run>`).
    """
    from google.protobuf import text_format
    from tensorboard.plugins import projector

    tensors = "\n".join("\t".join(f"{v:.5g}" for v in row) for row in collection.activations[points])
    outputs.text("projector/tensors.tsv", tensors + "\n")
    columns = list(metadata)
    rows = ["\t".join(columns)] + ["\t".join(str(metadata[c][k]).replace("\t", " ") for c in columns)
                                   for k in range(len(points))]
    outputs.text("projector/metadata.tsv", "\n".join(rows) + "\n")
    side = sprites.shape[1]
    per_row = math.ceil(math.sqrt(len(sprites)))
    sheet = np.ones((per_row * side, per_row * side, sprites.shape[-1]), np.float32)
    for k, sprite in enumerate(sprites):
        row, col = divmod(k, per_row)
        sheet[row * side:(row + 1) * side, col * side:(col + 1) * side] = sprite
    outputs.png("projector/sprite.png", sheet)
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = collection.layer
    embedding.tensor_path = "tensors.tsv"
    embedding.metadata_path = "metadata.tsv"
    embedding.sprite.image_path = "sprite.png"
    embedding.sprite.single_image_dim.extend([side, side])
    return outputs.text("projector/projector_config.pbtxt", text_format.MessageToString(config))


@gin.configurable(module="featviz", denylist=["run"])
def activation_atlas(
    run: RunLike,
    model: VisModel | keras.Model | str = gin.REQUIRED,
    images: ImageSource | str = gin.REQUIRED,
    layer: str = gin.REQUIRED,
    layout: Layout = umap_layout,
    grid_size: int = 12,
    min_count: int = 1,
    cell_px: int = 64,
    examples: int = 4,
    classes_shown: int = 3,
    projector_points: int = 2000,
    seed: int = 0,
) -> Atlas:
    """Job: the activation atlas of `layer` over `images` (see the module docstring).

    Collection settings are `collect_activations.*` bindings, UMAP's `umap_layout.*`, the
    icons' `render_icons.*` (directions per item, cosine power, seed, executor) and, for how
    each icon is rendered, `Visualizer.*` (as a sweep's channels).

    Args:
        run: the run (directory and stop token).
        model: a `VisModel`, a `keras.Model` or a name `load_model` accepts.
        images: a folder path, `ImageFolder(...)` or `DemoImages(...)`.
        layer: the layer whose activations are laid out.
        layout: [points, channels] -> [points, 2] in [0, 1]; default `umap_layout`.
        grid_size: cells per side of the atlas's grid.
        min_count: cells with fewer vectors get no icon.
        cell_px: side of a cell in `atlas.png` and the page, in pixels.
        examples: example crops per cell on the page.
        classes_shown: top classes listed per cell.
        projector_points: at most this many collected vectors go to the projector.
        seed: seeds which examples and projector points are shown.

    Returns:
        The `Atlas`; after a stop, whatever was finished (nothing is laid out before the
        collection is complete).
    """
    run = as_run(run)
    model, source = load_model(model), as_source(images)
    outputs = run.outputs
    collection = collect_activations(model, source, layer, run.logdir / "collection", stop=run.stop,
                                     progress=lambda done, total: print(
                                         f"\ratlas: collected batch {done}/{total}", end="", flush=True))
    print(f"\ratlas: {len(collection.images)} activations of {collection.layer} from "
          f"{len(source) - len(collection.skipped)} images ({len(collection.skipped)} skipped)")
    empty = Cells(grid_size, np.zeros((0, 2), np.int64), np.zeros(0, np.int64),
                  np.zeros((0, collection.activations.shape[1]), np.float32), None, np.zeros(0, np.int64))
    if not collection.complete:
        nothing = Icons(np.zeros((0, 1, 1, model.input_channels), np.float32), np.zeros(0, np.int64), {})
        return Atlas(collection, np.zeros((0, 2), np.float32), empty, nothing, [], None)
    points = layout(collection.activations)
    cells = bin_layout(points, collection.activations, grid_size, min_count, collection.attributions)
    labelled = collection.labels.min() >= 0
    score = purity(cells.members, collection.labels) if labelled else None
    labels = top_classes(cells, model.class_names, classes_shown)
    image_io.atomic_write(run.logdir / "layout.npz", lambda tmp: np.savez(
        tmp, layout=points, members=cells.members, coordinates=cells.coordinates, counts=cells.counts,
        directions=cells.directions,
        **({} if cells.attributions is None else {"attributions": cells.attributions})))
    outputs.csv("cells.csv", ["i", "j", "count", "top_classes"],
                [(int(i), int(j), int(n), " | ".join(names))
                 for (i, j), n, names in zip(cells.coordinates, cells.counts, labels)])
    print(f"atlas: {len(cells)} cells of a {grid_size}x{grid_size} grid"
          + (f", purity {score:.3f}" if score is not None else ""))
    icons = render_icons(Run(run.logdir / ICONS, run.stop), model, collection.layer, cells.directions)
    if len(icons.cells) < len(cells):
        return Atlas(collection, points, cells, icons, labels, score)
    if icons.failures:
        cell, message = next(iter(icons.failures.items()))
        print(f"atlas: {len(icons.failures)} icons failed (cell {cell}: {message}); the page shows why")
    write_outputs(run, model, source, collection, cells, icons, labels, cell_px, examples,
                  projector_points, seed)
    return Atlas(collection, points, cells, icons, labels, score)


def write_outputs(run: RunLike, model: VisModel, source: ImageSource, collection: Collection,
                  cells: Cells, icons: Icons, labels: list[list[str]], cell_px: int = 64,
                  examples: int = 4, projector_points: int = 2000, seed: int = 0) -> None:
    """Writes `atlas.png`, the icons, example crops, `atlas.html` and the projector files.

    `icons` must hold every cell's icon (`render_icons` not stopped).
    """
    run = as_run(run)
    outputs = run.outputs
    canvas = atlas_canvas(icons.images, cells, cell_px)
    outputs.png("atlas.png", canvas)
    outputs.summary_image("atlas", canvas)
    chosen = _examples(cells, examples, seed)
    flat = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    batch_size = 32
    crops = _crops(model, source, collection, flat, 64, batch_size)
    tiles, offset = [], 0
    for cell, ((i, j), count, names, box) in enumerate(zip(cells.coordinates, cells.counts, labels,
                                                            _tile_boxes(cells, cell_px))):
        icon = outputs.png(f"{ICONS}/cell_{i:03d}_{j:03d}.png", icons.images[cell])
        paths = []
        for k in range(len(chosen[cell])):
            paths.append(outputs.png(f"crops/cell_{i:03d}_{j:03d}_{k}.png", crops[offset + k]))
        offset += len(chosen[cell])
        tiles.append({"i": int(i), "j": int(j), "count": int(count), "classes": names,
                      "failed": icons.failures.get(cell, ""), "left": box[0], "top": box[1], "width": box[2],
                      "icon": icon.relative_to(run.logdir).as_posix(),
                      "examples": [p.relative_to(run.logdir).as_posix() for p in paths]})
    summary = (f"{model.name}, layer {collection.layer}: {len(collection.images)} activations, "
               f"{len(cells)} cells of {cells.grid_size}x{cells.grid_size}")
    write_page(run.logdir / "atlas.html", "activation_atlas.html", title=f"Activation atlas of {collection.layer}",
               summary=summary, side=cells.grid_size * cell_px, tiles=tiles)
    rng = np.random.default_rng(seed)
    points = np.sort(rng.permutation(len(collection.images))[:projector_points])
    sprites = _crops(model, source, collection, points, 32, batch_size)
    names = class_names_of(source)
    cell_of_point = cells.members[points]
    metadata = {
        "image": [source.names[int(i)] for i in collection.images[points]],
        "position": [f"{r},{c}" for r, c in collection.positions[points]],
        "cell": ["-" if m < 0 else f"{cells.coordinates[m][0]},{cells.coordinates[m][1]}" for m in cell_of_point],
        "top_class": ["-" if m < 0 or not labels[m] else labels[m][0] for m in cell_of_point],
    }
    if names is not None:
        metadata["label"] = [names[int(k)] for k in collection.labels[points]]
    write_projector(outputs, collection, points, sprites, metadata)
    outputs.close()
