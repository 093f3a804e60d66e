"""The atlas's layout: activation vectors placed in 2-D by UMAP, binned into a grid of cells.

`umap_layout` embeds the vectors with UMAP (Lucid's settings by default: cosine metric, 50
neighbours, min_dist 0.05) and scales the embedding into [0, 1]^2 with Lucid's
`normalize_layout` (the 1st-99th percentile box plus a 10% margin, outliers clipped to it).
`bin_layout` overlays a `grid_size` x `grid_size` grid and keeps the cells holding at least
`min_count` vectors, each with its count, its mean activation vector (the direction its icon
renders) and its mean class attribution. `purity` measures how well a layout's cells group
vectors of the same class. Pure numpy apart from the `umap-learn` import.
"""

from __future__ import annotations

import dataclasses

import gin
import numpy as np


def normalize_layout(layout: np.ndarray, low: float = 1.0, high: float = 99.0,
                     margin: float = 0.1) -> np.ndarray:
    """Scales a 2-D layout into [0, 1] per axis, clipping outliers (Lucid's `normalize_layout`).

    Args:
        layout: [points, 2].
        low, high: percentiles bounding the kept box on each axis.
        margin: fraction of the box's extent added on each side before clipping.

    Returns:
        float32 [points, 2] in [0, 1].
    """
    layout = np.asarray(layout, np.float64)
    mins, maxs = np.percentile(layout, low, axis=0), np.percentile(layout, high, axis=0)
    extent = maxs - mins
    mins, maxs = mins - margin * extent, maxs + margin * extent
    clipped = np.clip(layout, mins, maxs) - mins
    span = np.where(maxs - mins > 0, maxs - mins, 1.0)
    return (clipped / span).astype(np.float32)


@gin.configurable(module="featviz")
def umap_layout(activations: np.ndarray, n_neighbors: int = 50, min_dist: float = 0.05,
                metric: str = "cosine", seed: int = 0) -> np.ndarray:
    """The 2-D UMAP embedding of activation vectors, normalised into [0, 1]^2.

    Args:
        activations: [points, channels].
        n_neighbors, min_dist, metric: UMAP's parameters (defaults: Lucid's atlas).
        seed: UMAP's random state; a fixed seed makes UMAP repeatable, and single-threaded.

    Returns:
        float32 [points, 2] in [0, 1].

    Raises:
        ImportError: umap-learn is not installed (`pip install "featviz[atlas]"`).
        ValueError: fewer points than UMAP needs.
    """
    try:
        import umap
    except ImportError as error:
        raise ImportError(
            f"the atlas layout needs umap-learn ({error}); install it with pip install \"featviz[atlas]\""
        ) from None
    activations = np.asarray(activations, np.float32)
    if len(activations) < 4:
        raise ValueError(f"UMAP needs at least 4 activation vectors, got {len(activations)}")
    # UMAP refuses more neighbours than points; a small collection uses all of them.
    neighbours = min(n_neighbors, len(activations) - 1)
    reducer = umap.UMAP(n_components=2, n_neighbors=neighbours, min_dist=min_dist, metric=metric,
                        random_state=seed, n_jobs=1)
    return normalize_layout(reducer.fit_transform(activations))


@dataclasses.dataclass(frozen=True)
class Cells:
    """The non-empty cells of a layout's grid.

    Cell (i, j) covers x in [i, i + 1) / grid_size and y in [j, j + 1) / grid_size (the last
    row and column include 1.0).

    Attributes:
        grid_size: cells per side.
        coordinates: [cells, 2] int (i, j) of each kept cell, in row-major order of (i, j).
        counts: [cells] int number of vectors in each.
        directions: float32 [cells, channels] mean activation vector of each.
        attributions: float32 [cells, classes] mean class attribution, or None.
        members: [points] int index into the kept cells of each point; -1 for points in
            cells with fewer than `min_count` vectors.
    """

    grid_size: int
    coordinates: np.ndarray
    counts: np.ndarray
    directions: np.ndarray
    attributions: np.ndarray | None
    members: np.ndarray

    def __len__(self) -> int:
        return len(self.counts)


def cell_of(layout: np.ndarray, grid_size: int) -> np.ndarray:
    """[points, 2] int (i, j) grid cell of each point of a [0, 1]^2 layout."""
    return np.clip(np.floor(np.asarray(layout) * grid_size).astype(np.int64), 0, grid_size - 1)


def bin_layout(layout: np.ndarray, activations: np.ndarray, grid_size: int, min_count: int = 1,
               attributions: np.ndarray | None = None) -> Cells:
    """Bins a layout into a grid and averages each cell's activations (and attributions).

    Args:
        layout: [points, 2] in [0, 1].
        activations: [points, channels].
        grid_size: cells per side (Lucid's atlases: 10 to 40).
        min_count: cells with fewer vectors are dropped (their points get member -1).
        attributions: optional [points, classes].

    Raises:
        ValueError: mismatched lengths, a bad grid_size or min_count, or no cell left.
    """
    layout, activations = np.asarray(layout), np.asarray(activations, np.float32)
    if len(layout) != len(activations) or (attributions is not None and len(attributions) != len(layout)):
        raise ValueError(f"layout ({len(layout)}), activations ({len(activations)}) and attributions "
                         f"must have one row per point")
    for name, value in (("grid_size", grid_size), ("min_count", min_count)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    ij = cell_of(layout, grid_size)
    flat = ij[:, 0] * grid_size + ij[:, 1]
    counts = np.bincount(flat, minlength=grid_size * grid_size)
    kept = np.flatnonzero(counts >= min_count)
    if not len(kept):
        raise ValueError(f"no grid cell holds {min_count} or more of the {len(layout)} points; "
                         f"lower min_count or grid_size")
    index = np.full(grid_size * grid_size, -1, np.int64)
    index[kept] = np.arange(len(kept))
    members = index[flat]

    def means(values: np.ndarray) -> np.ndarray:
        sums = np.zeros((len(kept), values.shape[1]), np.float64)
        inside = members >= 0
        np.add.at(sums, members[inside], values[inside])
        return (sums / counts[kept][:, None]).astype(np.float32)

    return Cells(grid_size, np.stack(np.divmod(kept, grid_size), axis=-1), counts[kept],
                 means(activations), None if attributions is None else means(np.asarray(attributions)),
                 members)


def purity(members: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of binned points whose label is their cell's most common label.

    1.0 when every cell holds one class; about the largest class's share when cells mix
    classes at random. Points with member -1 (dropped cells) are not counted.

    Args:
        members: [points] cell index of each point (-1: none), as `Cells.members`.
        labels: [points] non-negative class labels.
    """
    members, labels = np.asarray(members), np.asarray(labels)
    inside = members >= 0
    if not inside.any():
        raise ValueError("purity needs at least one point inside a cell")
    table = np.zeros((members.max() + 1, labels.max() + 1), np.int64)
    np.add.at(table, (members[inside], labels[inside]), 1)
    return float(table.max(axis=1).sum() / inside.sum())
