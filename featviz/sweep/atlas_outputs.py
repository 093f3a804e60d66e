"""What an activation atlas writes once its icons are done: the canvas, the page and the projector.

`atlas_canvas` places every icon at its cell on one image, sized by log density (Lucid's
`render_tile`); `write_outputs` writes that image (`atlas.png`, and to TensorBoard), each icon
(`icons/cell_<i>_<j>.png`), example crops of the images whose positions fell into each cell
(`crops/`, at the layer's receptive field), the zoomable page (`atlas.html`, through
`featviz.atlas.write_page`) and TensorBoard's projector files (`projector/`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from featviz import io as image_io
from featviz.analysis.receptive_field import receptive_field
from featviz.atlas import write_page
from featviz.collection import Collection, ImageSource
from featviz.collection.layout import Cells
from featviz.collection.sources import class_names_of
from featviz.jobs.base import Outputs, RunLike, as_run
from featviz.models import VisModel

ICONS = "icons"


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


def write_outputs(run: RunLike, model: VisModel, source: ImageSource, collection: Collection,
                  cells: Cells, icons: np.ndarray, failures: dict[int, str], labels: list[list[str]],
                  cell_px: int = 64, examples: int = 4, projector_points: int = 2000, seed: int = 0) -> None:
    """Writes `atlas.png`, the icons, example crops, `atlas.html` and the projector files.

    Args:
        run: the atlas's run.
        model: the model.
        source: the images, read again for the crops.
        collection: the collected activations.
        cells: the layout's cells.
        icons: [cells, height, width, channels] in [0, 1], every cell's icon in cell order.
        failures: {cell: message} for icons that failed, shown on the page.
        labels: each cell's top classes.
        cell_px: side of a cell in pixels.
        examples: example crops per cell.
        projector_points: at most this many collected vectors go to the projector.
        seed: seeds which examples and projector points are shown.
    """
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
        icon = outputs.png(f"{ICONS}/cell_{i:03d}_{j:03d}.png", icons[cell])
        paths = []
        for k in range(len(chosen[cell])):
            paths.append(outputs.png(f"crops/cell_{i:03d}_{j:03d}_{k}.png", crops[offset + k]))
        offset += len(chosen[cell])
        tiles.append({"i": int(i), "j": int(j), "count": int(count), "classes": names,
                      "failed": failures.get(cell, ""), "left": box[0], "top": box[1], "width": box[2],
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
