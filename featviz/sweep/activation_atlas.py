"""The `activation_atlas` job: an activation atlas of a layer over a folder of images (Carter et al. 2019).

Collect (`featviz.collection.collect`: activation vectors at sampled positions of every image,
with class attributions, in resumable shards under `<run>/collection/`) -> lay out (UMAP into
[0, 1]^2) -> bin into a grid (`featviz.collection.layout`) -> render one icon per non-empty cell
(`render_icons`: a cosine-weighted `Direction` objective of the cell's mean activation vector,
rendered as a sweep's work items, `batch` icons per item, by `render_items` with a local or Ray
executor, recorded in `<run>/icons/manifest.json`) -> write (`featviz.sweep.atlas_outputs`):

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

Rerun into the same directory to resume (`featviz atlas` does when the directory holds a
collection, `COLLECTION`): finished shards and icon items are kept; changed collection settings are refused with the differences, and
icons are rendered again when their directions or their render settings changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import gin
import keras
import numpy as np

from featviz import io as image_io
from featviz.collection import Collection, ImageSource, as_source, collect_activations
from featviz.collection.layout import Cells, bin_layout, purity, umap_layout
from featviz.jobs.base import Run, RunLike, as_run
from featviz.models import VisModel, load_model
from featviz.objectives import Direction
from featviz.sweep.executors import Executor, LocalExecutor
from featviz.sweep.items import WorkItem, blocks
from featviz.sweep.job import ATLAS, render_items
from featviz.sweep.atlas_outputs import ICONS, top_classes, write_outputs
from featviz.sweep.manifest import MANIFEST, WHERE_TO_RUN, ConfigMismatchError, Manifest

Layout = Callable[[np.ndarray], np.ndarray]
# The run's subdirectory of collected activations (its manifest marks a resumable atlas run).
COLLECTION = "collection"
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
    collection = collect_activations(model, source, layer, run.logdir / COLLECTION, stop=run.stop,
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
    write_outputs(run, model, source, collection, cells, icons.images, icons.failures, labels, cell_px,
                  examples, projector_points, seed)
    return Atlas(collection, points, cells, icons, labels, score)
