"""The procedural demo dataset, the stripe-orientation measure and the shipped demo model."""

from __future__ import annotations

import json
from importlib import resources

import keras
import numpy as np
import pytest

from featviz import demo

STRIPES = {"horizontal_stripes": 0.0, "diagonal_stripes": 45.0, "vertical_stripes": 90.0,
           "antidiagonal_stripes": 135.0}
REQUIRED_CLASSES = (*STRIPES, "checkerboard", "concentric_rings", "polka_dots")
DATA = resources.files("featviz") / "data"


def _angle_error(a: float, b: float) -> float:
    """Distance between two line orientations in degrees, modulo 180."""
    return abs((a - b + 90.0) % 180.0 - 90.0)


def test_class_names_are_unique_and_include_the_documented_ones():
    assert len(demo.CLASS_NAMES) >= 10
    assert len(set(demo.CLASS_NAMES)) == len(demo.CLASS_NAMES)
    assert set(REQUIRED_CLASSES) <= set(demo.CLASS_NAMES)


def test_generate_is_deterministic_in_seed():
    images, labels = demo.generate(24, seed=3)
    again_images, again_labels = demo.generate(24, seed=3)
    other_images, _ = demo.generate(24, seed=4)
    np.testing.assert_array_equal(images, again_images)
    np.testing.assert_array_equal(labels, again_labels)
    assert not np.allclose(images, other_images)


@pytest.mark.parametrize("n, size", [(36, 64), (25, 32)])
def test_generate_shapes_range_and_balance(n, size):
    images, labels = demo.generate(n, size=size, seed=1)
    assert images.shape == (n, size, size, 3) and images.dtype == np.float32
    assert labels.shape == (n,) and np.issubdtype(labels.dtype, np.integer)
    assert images.min() >= 0.0 and images.max() <= 1.0
    counts = np.bincount(labels, minlength=len(demo.CLASS_NAMES))
    assert counts.max() - counts.min() <= 1


def test_pattern_colours_vary_so_colour_does_not_give_the_class_away():
    images, labels = demo.generate(120, seed=2)
    stripes = images[labels == demo.CLASS_NAMES.index("vertical_stripes")]
    assert np.ptp(stripes.mean(axis=(1, 2)), axis=0).min() > 0.2


def test_make_image_is_deterministic_and_checks_its_class():
    image = demo.make_image("polka_dots", size=48, seed=7)
    assert image.shape == (48, 48, 3) and image.dtype == np.float32
    np.testing.assert_array_equal(image, demo.make_image("polka_dots", size=48, seed=7))
    with pytest.raises(ValueError, match="Unknown class_name 'stripes'.*vertical_stripes"):
        demo.make_image("stripes")
    with pytest.raises(ValueError, match="size must be at least 16"):
        demo.make_image("grid", size=8)


def test_generate_negatives_shapes_range_and_determinism():
    negatives = demo.generate_negatives(16, size=32, seed=5)
    assert negatives.shape == (16, 32, 32, 3) and negatives.dtype == np.float32
    assert negatives.min() >= 0.0 and negatives.max() <= 1.0
    np.testing.assert_array_equal(negatives, demo.generate_negatives(16, size=32, seed=5))


@pytest.mark.parametrize("angle", [0.0, 20.0, 45.0, 70.0, 90.0, 120.0, 135.0, 160.0])
def test_stripe_orientation_of_exact_sinusoids(angle):
    rows, cols = np.mgrid[0:64, 0:64].astype(float)
    # Lines run along (cos, sin) with y pointing up, so the phase varies along the normal.
    x, y = cols, -rows
    theta = np.deg2rad(angle)
    image = 0.5 + 0.5 * np.sin(2 * np.pi * (-x * np.sin(theta) + y * np.cos(theta)) / 9.0)
    assert _angle_error(demo.stripe_orientation(image), angle) < 2.0
    assert demo.stripe_coherence(np.repeat(image[..., None], 3, axis=-1)) > 0.9


@pytest.mark.parametrize("name", list(STRIPES))
def test_generated_stripes_run_in_the_direction_of_their_name(name):
    for seed in range(6):
        image = demo.make_image(name, seed=seed)
        measured = demo.stripe_orientation(image)
        # Generated stripes are jittered by up to 10 degrees.
        assert _angle_error(measured, STRIPES[name]) < 15.0, (seed, measured)
        assert demo.stripe_coherence(image) > 0.8


@pytest.mark.parametrize("name", ["checkerboard", "polka_dots", "grid"])
def test_patterns_without_one_direction_have_low_coherence(name):
    assert demo.stripe_coherence(demo.make_image(name, seed=0)) < 0.3


def test_stripe_orientation_rejects_other_ranks():
    with pytest.raises(ValueError, match=r"got shape \(2, 8, 8, 3\)"):
        demo.stripe_orientation(np.zeros((2, 8, 8, 3)))


@pytest.fixture(scope="module")
def shipped_model() -> keras.Model:
    with resources.as_file(DATA / "demo_model.keras") as path:
        return keras.models.load_model(path, compile=False)


def test_shipped_model_has_the_documented_layers(shipped_model):
    names = {layer.name for layer in shipped_model.layers}
    assert {"image", "conv1", "conv2", "conv3", "conv4", "pool1", "gap", "logits",
            "predictions"} <= names
    assert shipped_model.name == "demo"
    assert tuple(shipped_model.input.shape) == (None, 64, 64, 3)
    assert shipped_model.get_layer("conv2").filters >= 8
    assert shipped_model.get_layer("logits").units == len(demo.CLASS_NAMES)
    assert shipped_model.get_layer("logits").get_config()["activation"] == "linear"


def test_shipped_metadata_matches_the_dataset():
    metadata = json.loads((DATA / "demo_model.json").read_text())
    assert tuple(metadata["class_names"]) == demo.CLASS_NAMES
    assert metadata["input_range"] == [0, 1] and metadata["input_size"] == 64
    with resources.as_file(DATA / "demo_model.keras") as path:
        assert path.stat().st_size < 2_000_000


def test_shipped_model_classifies_fresh_images(shipped_model):
    images, labels = demo.generate(240, seed=12345)
    predictions = shipped_model.predict(images, batch_size=120, verbose=0)
    assert np.mean(predictions.argmax(axis=1) == labels) > 0.95


def test_shipped_model_is_unsure_of_flat_grey_and_noise(shipped_model):
    grey = np.full((1, 64, 64, 3), 0.5, dtype=np.float32)
    noise = np.random.default_rng(0).random((4, 64, 64, 3), dtype=np.float32)
    probabilities = shipped_model.predict(np.concatenate([grey, noise]), verbose=0)
    assert probabilities.max() < 0.5
