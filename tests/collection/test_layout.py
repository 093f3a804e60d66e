"""The atlas layout's grid: normalisation, binning into cells, means, and the purity measure."""

from __future__ import annotations

import numpy as np
import pytest

from featviz.collection.layout import bin_layout, cell_of, normalize_layout, purity


def test_normalize_layout_fills_the_unit_square_and_clips_outliers():
    rng = np.random.default_rng(0)
    layout = np.concatenate([rng.normal(size=(500, 2)) * [1.0, 10.0], [[1e6, -1e6]]])
    normal = normalize_layout(layout)
    assert normal.min() == 0.0 and normal.max() == 1.0
    assert tuple(normal[-1]) == (1.0, 0.0)  # the outlier is clipped to the box's corner
    # Without the outlier the bulk would span the same box: it is not squashed into one corner.
    assert np.percentile(normal[:-1, 0], 90) - np.percentile(normal[:-1, 0], 10) > 0.4


def test_bin_layout_counts_and_averages_each_cell():
    layout = np.array([[0.05, 0.05], [0.1, 0.2], [0.9, 0.95], [1.0, 1.0], [0.55, 0.05]])
    acts = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 4.0], [0.0, 6.0], [7.0, 7.0]])
    attributions = np.array([[1.0], [0.0], [2.0], [2.0], [5.0]])
    cells = bin_layout(layout, acts, grid_size=2, attributions=attributions)
    assert cells.coordinates.tolist() == [[0, 0], [1, 0], [1, 1]]
    assert cells.counts.tolist() == [2, 1, 2]
    np.testing.assert_allclose(cells.directions, [[2.0, 1.0], [7.0, 7.0], [0.0, 5.0]])
    np.testing.assert_allclose(cells.attributions, [[0.5], [5.0], [2.0]])
    assert cells.members.tolist() == [0, 0, 2, 2, 1]
    sparse = bin_layout(layout, acts, grid_size=2, min_count=2)
    assert len(sparse) == 2 and sparse.members.tolist() == [0, 0, 1, 1, -1]
    assert cell_of(np.array([[1.0, 0.0]]), 4).tolist() == [[3, 0]]


def test_bin_layout_refuses_bad_arguments():
    with pytest.raises(ValueError, match="one row per point"):
        bin_layout(np.zeros((3, 2)), np.zeros((4, 5)), 4)
    with pytest.raises(ValueError, match="grid_size must be a positive int, got 0"):
        bin_layout(np.zeros((3, 2)), np.zeros((3, 5)), 0)
    with pytest.raises(ValueError, match="no grid cell holds 4"):
        bin_layout(np.zeros((3, 2)), np.zeros((3, 5)), 2, min_count=4)


def test_purity_is_one_for_pure_cells_and_near_chance_for_a_shuffled_layout():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 250)
    centres = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]])
    layout = np.clip(centres[labels] + rng.normal(scale=0.03, size=(1000, 2)), 0, 1)
    cells = bin_layout(layout, np.ones((1000, 1)), grid_size=4)
    assert purity(cells.members, labels) == 1.0
    shuffled = bin_layout(rng.permutation(layout), np.ones((1000, 1)), grid_size=4)
    assert purity(shuffled.members, labels) < 0.4
    assert purity(np.array([0, 0, 1, -1]), np.array([0, 1, 1, 0])) == pytest.approx(2 / 3)
