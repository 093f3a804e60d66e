"""The `activation_atlas` job: an activation atlas of a layer over a folder of images (Carter et al. 2019).

Collect (`featviz.collection.collect`: activation vectors at sampled positions of every image, with
class attributions, in resumable shards under `<run>/collection/`) -> lay out (UMAP into
[0, 1]^2) -> bin into a grid (`featviz.collection.layout`) -> render one icon per non-empty cell
(`render_icons`: a cosine-weighted `Direction` objective of the cell's mean activation vector,
`icon_batch` icons per `Visualizer` run, each finished batch written to
`<run>/icons/batch_<n>.npz` and kept by a rerun with the same directions) -> write:

- `atlas.png`: every icon at its cell, sized by log density (Lucid's `render_tile`);
- `atlas.html`: the zoomable page, one tile per cell; hovering shows the cell's count, its top
  classes and example crops of images whose positions fell into it (`crops/`);
- `layout.npz` (layout, cell of each point, cells, counts, directions, attributions) and
  `cells.csv`;
- `projector/`: TensorBoard's projector files (`tensors.tsv`, `metadata.tsv`, `sprite.png`,
  `projector_config.pbtxt`) for a sample of the collected activations;
- the atlas as a TensorBoard image.

Rerun into the same directory (`--overwrite` on the command line) to resume: finished shards
and icon batches are kept; changed collection settings are refused with the differences.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gin
import keras
import numpy as np
from PIL import Image

from featviz import io as image_io
from featviz import recipes
from featviz.analysis.receptive_field import receptive_field
from featviz.atlas import write_page
from featviz.collection import Collection, ImageSource, as_source, collect_activations
from featviz.collection.layout import Cells, bin_layout, purity, umap_layout
from featviz.collection.sources import class_names_of
from featviz.jobs.base import Outputs, RunLike, as_run
from featviz.models import VisModel, load_model
from featviz.objectives import Direction
from featviz.render import StopToken, Visualizer

Layout = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Atlas:
    """What the `activation_atlas` job made.

    Attributes:
        collection: the collected activation vectors.
        layout: float32 [positions, 2] in [0, 1].
        cells: the non-empty cells with their counts, directions and attributions.
        icons: float32 [cells, size, size, channels] in [0, 1], one per cell (fewer after a
            stop: the cells of the finished batches, in cell order).
        labels: for each cell, its top classes (most attributed first), [] without a head.
        purity: `featviz.collection.layout.purity` of the cells for a labelled source (demo), else None.
    """

    collection: Collection
    layout: np.ndarray
    cells: Cells
    icons: np.ndarray
    labels: list[list[str]]
    purity: float | None


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, np.float32).tobytes()).hexdigest()


@gin.configurable(module="featviz", denylist=["model", "layer", "directions", "directory", "stop"])
def render_icons(
    model: VisModel,
    layer: str,
    directions: np.ndarray,
    directory: str | Path,
    size: int = 64,
    steps: int = 128,
    batch: int = 32,
    cosine_power: float = 1.0,
    seed: int = 0,
    stop: StopToken | None = None,
) -> np.ndarray:
    """One icon per direction: images maximising `Direction(layer, d, cosine_power)`.

    Directions are rendered `batch` at a time, each batch one `Visualizer` run (one compiled
    step for all its icons) with the recipe's parameterization at `size` and the recipe's
    transforms (other `Visualizer.*` gin bindings apply). Each finished batch is written to
    `directory/batch_<n>.npz` with a digest of its directions; a rerun keeps the batches whose
    directions are unchanged.

    Args:
        model: the model.
        layer: the layer the directions live in.
        directions: [icons, channels] (each cell's mean activation vector).
        directory: where the batches go.
        size: icon side in pixels (resized to a fixed-size model's input inside the step).
        steps: optimization steps per batch.
        batch: icons per run.
        cosine_power: `Direction.cosine_power`; 1 as Lucid's `direction_neuron_cossim`.
        seed: the runs' seed.
        stop: once requested, the current batch stops after its step and no other starts.

    Returns:
        float32 [finished icons, size, size, channels]: the icons of the finished batches,
        in order (all of them unless stopped).
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"render_icons batch must be a positive int, got {batch!r}")
    directions = np.asarray(directions, np.float32)
    directory = Path(directory)
    icons = []
    for number, start in enumerate(range(0, len(directions), batch)):
        chunk = directions[start:start + batch]
        path = directory / f"batch_{number:05d}.npz"
        digest = _digest(chunk) + f"/{size}/{steps}/{cosine_power}/{seed}"
        if path.exists():
            with np.load(path) as saved:
                if str(saved["digest"]) == digest:
                    icons.append(saved["icons"])
                    continue
        if stop:
            break
        objectives = [Direction(layer, tuple(vector), cosine_power=cosine_power) for vector in chunk]
        visualizer = Visualizer(model=model, objective=objectives, steps=steps, seed=seed, stop=stop,
                                param=recipes.default_param(size, model.input_channels))
        render = visualizer.run()
        if render.steps < steps:
            break
        buffer = io.BytesIO()
        np.savez(buffer, icons=render.images, digest=np.asarray(digest))
        image_io.atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))
        icons.append(render.images)
    channels = model.input_channels
    return np.concatenate(icons) if icons else np.zeros((0, size, size, channels), np.float32)


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

    Collection settings are `collect_activations.*` bindings, icon settings
    `render_icons.*`, UMAP's `umap_layout.*`.

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
        return Atlas(collection, np.zeros((0, 2), np.float32), empty, np.zeros((0, 1, 1, 3)), [], None)
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
    icons = render_icons(model, collection.layer, cells.directions, run.logdir / "icons", stop=run.stop)
    if len(icons) < len(cells):
        return Atlas(collection, points, cells, icons, labels, score)
    write_atlas(run, model, source, collection, cells, icons, labels, cell_px, examples,
                projector_points, seed)
    return Atlas(collection, points, cells, icons, labels, score)


def write_atlas(run: RunLike, model: VisModel, source: ImageSource, collection: Collection,
                cells: Cells, icons: np.ndarray, labels: list[list[str]], cell_px: int = 64,
                examples: int = 4, projector_points: int = 2000, seed: int = 0) -> None:
    """Writes `atlas.png`, the icons, example crops, `atlas.html` and the projector files."""
    run = as_run(run)
    outputs = run.outputs
    canvas = atlas_canvas(icons, cells, cell_px)
    outputs.png("atlas.png", canvas)
    outputs.summary_image("atlas", canvas)
    chosen = _examples(cells, examples, seed)
    flat = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    batch_size = 32
    crops = _crops(model, source, collection, flat, 64, batch_size)
    tiles, offset = [], 0
    for cell, ((i, j), count, names, box) in enumerate(zip(cells.coordinates, cells.counts, labels,
                                                            _tile_boxes(cells, cell_px))):
        icon = outputs.png(f"icons/cell_{i:03d}_{j:03d}.png", icons[cell])
        paths = []
        for k in range(len(chosen[cell])):
            paths.append(outputs.png(f"crops/cell_{i:03d}_{j:03d}_{k}.png", crops[offset + k]))
        offset += len(chosen[cell])
        tiles.append({"i": int(i), "j": int(j), "count": int(count), "classes": names,
                      "left": box[0], "top": box[1], "width": box[2],
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
