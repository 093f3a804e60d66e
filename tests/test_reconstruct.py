"""The reconstruction job: variants as gin scopes, the table, the figure and TensorBoard output."""

from __future__ import annotations

import csv

import gin
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

import featviz as fv
from featviz.demo import make_image

LAYERS = ["conv1", "pool1", "conv2"]
VARIANTS = """
Visualizer.param = @Pixel()
Visualizer.transforms = []
Pixel.size = 32
Visualizer.steps = 60
Visualizer.learning_rate = 0.05
tricks/Visualizer.gradient_transforms = [@NormalizeGradient()]
tricks/Visualizer.between_steps = [@blur/ScheduledTransform(), @zoom/ScheduledTransform()]
blur/ScheduledTransform.transform = @GaussianBlur()
blur/ScheduledTransform.every = 20
zoom/ScheduledTransform.transform = @Zoom()
zoom/ScheduledTransform.every = 20
"""


@pytest.fixture(scope="module")
def pattern(tmp_path_factory) -> str:
    """A demo pattern (concentric rings) as a PNG file."""
    return str(fv.save_png(tmp_path_factory.mktemp("images") / "rings.png",
                           make_image("concentric_rings", size=32, seed=0)))


def test_each_variant_reconstructs_every_layer_and_writes_the_table(tiny, pattern, tmp_path):
    gin.parse_config(VARIANTS)
    result = fv.reconstruct(str(tmp_path), tiny, pattern, LAYERS)
    assert [(row.variant, row.layer) for row in result.rows] == [
        (variant, layer) for variant in ("plain", "tricks") for layer in LAYERS]
    assert set(result.images) == {"plain", "tricks"}
    assert result.images["plain"].shape == (3, 32, 32, 3)
    # The tricks changed the run: its images differ from the plain ones.
    assert not np.allclose(result.images["plain"], result.images["tricks"])
    for row in result.rows:
        # Measured: relative feature error 0.46-0.54 from noise, 0.03-0.11 after 60 steps.
        assert row.feature_error < 0.3 * row.start_feature_error, row
        assert row.psnr_db == pytest.approx(10 * np.log10(1 / row.pixel_mse))
    # The first layer, 32x32 positions, pins the pattern down better than the pooled ones.
    plain = [row for row in result.rows if row.variant == "plain"]
    assert plain[0].pixel_mse < plain[2].pixel_mse

    with open(tmp_path / "reconstruction.csv") as file:
        table = list(csv.DictReader(file))
    assert len(table) == 6 and table[0]["layer"] == "conv1"
    assert float(table[0]["feature_error"]) == pytest.approx(result.rows[0].feature_error)
    markdown = (tmp_path / "reconstruction.md").read_text()
    assert markdown.startswith("| variant | layer |") and "| tricks | conv2 |" in markdown
    # One row per variant: the original, then a tile per layer (with labels and padding).
    assert fv.load_image(tmp_path / "reconstruction.png").shape == (2 * (32 + 12 + 2) + 2, 4 * 34 + 2, 3)

    events = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert {"reconstruction/plain/feature_error", "reconstruction/tricks/psnr_db",
            "reconstruction/figure", "reconstruction/table"} <= tags
    steps = [event.step for event in events.Tensors("reconstruction/plain/pixel_mse")]
    assert steps == [0, 1, 2]  # the layer's index


def test_variants_and_layers_are_validated(tiny, pattern, tmp_path):
    with pytest.raises(ValueError, match="gin scope names"):
        fv.reconstruct(str(tmp_path), tiny, pattern, LAYERS, variants=["no tricks"])
    with pytest.raises(ValueError, match="distinct layer names"):
        fv.reconstruct(str(tmp_path), tiny, pattern, ["conv1", "conv1"])
    with pytest.raises(ValueError, match="no layer 'conv9'"):
        fv.reconstruct(str(tmp_path), tiny, pattern, ["conv9"])
