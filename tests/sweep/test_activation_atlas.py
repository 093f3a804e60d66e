"""The activation atlas job on the demo model: layout purity, icons, outputs and the HTML page.

One small atlas is made once for the module from the shipped demo_atlas config (240 demo images,
conv5, 48-step icons): UMAP's first call compiles its numba code, which is most of this
module's time.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import gin
import numpy as np
import pytest
from PIL import Image

import featviz as fv
from featviz import configs
from featviz.collection.layout import bin_layout, purity
from featviz.sweep import MANIFEST, render_icons
from featviz.sweep.atlas_outputs import atlas_canvas, icon_scale

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SMALL = ["DemoImages.count = 240", "collect_activations.batch_size = 60", "activation_atlas.grid_size = 8",
         "activation_atlas.projector_points = 300", "Visualizer.steps = 48"]


def _small_demo_atlas(*bindings: str) -> None:
    """The shipped demo atlas config, made small, and `bindings` as the process's gin config."""
    gin.clear_config()
    configs.parse(["demo_atlas"], [*SMALL, *bindings])


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """(run directory, Atlas) of a small demo atlas."""
    logdir = tmp_path_factory.mktemp("atlas")
    _small_demo_atlas()
    try:
        result = fv.activation_atlas(logdir)
    finally:
        gin.clear_config()
    return logdir, result


def test_cells_group_activations_of_the_same_class(made):
    _, result = made
    labels = result.collection.labels
    assert result.purity == purity(result.cells.members, labels)
    rng = np.random.default_rng(0)
    shuffled = [purity(bin_layout(rng.permutation(result.layout), result.collection.activations, 8).members, labels)
                for _ in range(5)]
    # Measured: 0.92 against 0.16 for shuffled layouts (12 balanced classes: chance ~ 1/12).
    assert result.purity > 0.8 and result.purity > 3 * max(shuffled)


def _direction_values(model, layer, images, directions, cosine_power):
    """[images, directions]: `Direction(layer, d, cosine_power)` of every image for every d."""
    acts = model.activations(images, [layer])[layer].numpy()  # [n, h, w, c]
    units = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    dots = np.einsum("nhwc,dc->nhwd", acts, units)
    cosine = dots / (np.linalg.norm(acts, axis=-1, keepdims=True) + 1e-4)
    return (dots * np.maximum(cosine, 0.1) ** cosine_power).mean(axis=(1, 2))


def test_each_icon_raises_its_own_direction_more_than_its_neighbours(made, demo):
    _, result = made
    cells = result.cells
    values = _direction_values(demo, "conv5", result.icons.images, cells.directions, 1.0)
    grid_distance = np.abs(cells.coordinates[:, None] - cells.coordinates[None]).max(axis=-1)
    wins = []
    for cell in range(len(cells)):
        others = np.argsort(grid_distance[cell], kind="stable")[1:4]  # the 3 nearest other cells
        wins.append(values[cell, cell] > values[cell, others].max())
    # Measured: 10 of 13 icons beat all 3 nearest cells' directions (48 steps of the demo
    # config's icon recipe). A direction is not always highest on its own icon against all
    # icons: strong icons excite many directions.
    assert np.mean(wins) >= 0.75


def test_labels_are_the_cells_most_attributed_classes(made):
    _, result = made
    cells, collection = result.cells, result.collection
    majority = [np.bincount(collection.labels[cells.members == k], minlength=12).argmax() for k in range(len(cells))]
    top = [fv.demo.CLASS_NAMES.index(names[0]) for names in result.labels]
    assert np.mean(np.array(top) == majority) >= 0.8


def test_outputs_are_written(made):
    logdir, result = made
    cells = result.cells
    saved = np.load(logdir / "layout.npz")
    np.testing.assert_array_equal(saved["layout"], result.layout)
    np.testing.assert_array_equal(saved["directions"], cells.directions)
    with open(logdir / "cells.csv") as file:
        rows = list(csv.DictReader(file))
    assert [int(r["count"]) for r in rows] == cells.counts.tolist()
    atlas = np.asarray(Image.open(logdir / "atlas.png"))
    assert atlas.shape == (8 * 64, 8 * 64, 3)
    assert len(list((logdir / "icons").glob("cell_*.png"))) == len(cells)
    projector = logdir / "projector"
    config = (projector / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "tensors.tsv"' in config and "single_image_dim: 32" in config
    tensors = (projector / "tensors.tsv").read_text().splitlines()
    metadata = (projector / "metadata.tsv").read_text().splitlines()
    assert len(tensors) == 300 and len(tensors[0].split("\t")) == 64 and len(metadata) == 301
    assert metadata[0].split("\t") == ["image", "position", "cell", "top_class", "label"]
    assert Image.open(projector / "sprite.png").size == (18 * 32, 18 * 32)


def test_the_icons_are_work_items_of_the_sweep_recorded_in_their_manifest(made):
    logdir, result = made
    manifest = json.loads((logdir / "icons" / MANIFEST).read_text())
    entries = list(manifest["items"].values())
    assert len(entries) == -(-len(result.cells) // 32)  # render_icons.batch cells per item
    assert sorted(unit for entry in entries for unit in entry["units"]) == list(range(len(result.cells)))
    assert all(entry["group"] == "conv5" and entry["error"] is None for entry in entries)
    assert not result.icons.failures
    assert (logdir / "icons" / "atlas" / entries[0]["images"][0]).is_file()


def test_a_rerun_with_smaller_tiles_keeps_the_collection_and_icons(made, tmp_path):
    logdir, result = made
    for part in ("collection", "icons"):
        shutil.copytree(logdir / part, tmp_path / part)
    # The shards, the icons' manifest and their renders (the page's icons/cell_*.png are rewritten).
    kept = [tmp_path / "icons" / MANIFEST, *(tmp_path / "collection").iterdir(),
            *(tmp_path / "icons" / "atlas").rglob("*.*")]
    stamps = {p: p.stat().st_mtime_ns for p in kept}
    _small_demo_atlas("activation_atlas.cell_px = 32")  # a page setting: the icons stay valid
    stop = fv.StopToken()
    stop.request()  # nothing may be computed again: a stopped run only reads what exists
    again = fv.activation_atlas(fv.Run(tmp_path, stop))
    np.testing.assert_array_equal(again.icons.images, result.icons.images)
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}
    assert np.asarray(Image.open(tmp_path / "atlas.png")).shape == (8 * 32, 8 * 32, 3)


def test_icons_of_other_directions_are_rendered_again(made, tmp_path, capsys):
    _, result = made
    _small_demo_atlas("Visualizer.steps = 2")
    model, run = fv.load_model("demo"), fv.Run(tmp_path)
    directions = result.cells.directions[:3]
    first = render_icons(run, model, "conv5", directions)
    np.testing.assert_array_equal(render_icons(run, model, "conv5", directions).images, first.images)
    assert "rendering them again" not in capsys.readouterr().out
    # The same items (cells 0-2, seed 0) under the same config, but for other directions.
    other = render_icons(run, model, "conv5", -directions)
    assert "rendering them again" in capsys.readouterr().out
    assert other.cells.tolist() == [0, 1, 2] and not np.array_equal(other.images, first.images)


def test_icon_sizes_follow_log_density():
    np.testing.assert_allclose(icon_scale(np.array([1, 10, 100])), [0.25, 0.5, 1.0])
    cells = bin_layout(np.array([[0.1, 0.1], [0.9, 0.9], [0.9, 0.9]]), np.ones((3, 1)), grid_size=2)
    canvas = atlas_canvas(np.zeros((2, 8, 8, 3)), cells, cell_px=8)
    dark = canvas.mean(axis=-1) < 0.5
    assert dark[8:, :8].sum() == 2 * 2  # one vector: a quarter-side icon, bottom-left (y up)
    assert dark[:8, 8:].sum() == 8 * 8  # the densest cell fills its cell, top-right


def test_the_page_shows_one_tile_per_cell_with_its_details_on_hover(made):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    logdir, result = made
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((logdir / "atlas.html").as_uri())
        tiles = page.locator(".tile")
        assert tiles.count() == len(result.cells)
        assert page.evaluate("[...document.querySelectorAll('.tile')].every(i => i.complete && i.naturalWidth > 0)")
        densest = int(np.argmax(result.cells.counts))
        i, j = result.cells.coordinates[densest]
        page.hover(f".tile[data-cell='{i},{j}']")
        info = page.locator("#info")
        assert info.is_visible()
        assert f"{result.cells.counts[densest]} activations" in info.inner_text()
        assert result.labels[densest][0] in info.inner_text()
        assert page.locator("#info img.example").count() == 4
        page.mouse.wheel(0, -300)
        assert "scale(" in page.evaluate("document.getElementById('canvas').style.transform")
        browser.close()
    assert not errors
