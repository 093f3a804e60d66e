"""The recipe: what Visualizer uses by default, its sizes, and the configs that spell it out."""

from __future__ import annotations

import dataclasses
import inspect

import gin
import numpy as np
import pytest
import tensorflow as tf

import featviz as fv
from featviz import configs, recipes


def test_default_transforms_are_fractions_of_the_image_side():
    window, blur, pad, jitter, affine, fine = fv.default_transforms(224)
    assert window == fv.CentreWindow(first=0.3, ramp=0.5)
    assert blur == fv.RandomBlur((0.0, 0.018 * 224))
    assert (pad, jitter, fine) == (fv.Pad(16), fv.Jitter(16), fv.Jitter(8))
    assert affine == fv.RandomAffine(scales=(0.625, 1.6), degrees=(-25.0, 25.0), translate=0.1)
    assert fv.default_transforms(224, centre=None) == [blur, pad, jitter, affine, fine]
    assert fv.default_transforms(224, centre=(0.5, 0.75))[0] == fv.CentreWindow(0.5, 0.75)
    _, blur, pad, jitter, _, fine = fv.default_transforms((64, 100))  # the shorter side counts
    assert (pad, jitter, fine) == (fv.Pad(4), fv.Jitter(4), fv.Jitter(2))
    assert blur.sigmas == pytest.approx((0.0, 0.018 * 64))
    with pytest.raises(ValueError, match=r"pad must be a fraction of the image side in \[0, 0.5\), got 16"):
        fv.default_transforms(224, pad=16)
    with pytest.raises(ValueError, match=r"blur must be a \(low, high\) pair of fractions"):
        fv.default_transforms(224, blur=(1.0, 4.0))
    with pytest.raises(ValueError, match=r"centre must be None or a \(first, ramp\) pair .* got 0.3"):
        fv.default_transforms(224, centre=0.3)
    with pytest.raises(ValueError, match=r"CentreWindow ramp must be a fraction in \(0.0, 1.0\], got 2"):
        fv.default_transforms(224, centre=(0.3, 2))


def test_the_recipe_blurs_each_image_by_its_own_random_sigma_in_every_step():
    """The blur is why EfficientNet-Lite1's class images draw shape (README_quality, issue 13):
    within one step, images are blurred by different amounts, from none to 4 px at 224."""
    blur = fv.default_transforms(224)[1]
    impulses = np.zeros((8, 41, 41, 1), np.float32)
    impulses[:, 20, 20, 0] = 1.0
    peaks = blur(tf.constant(impulses), tf.constant([0, 1], tf.int64)).numpy()[:, 20, 20, 0]
    # A 2-D Gaussian's peak is about 1 / (2 pi sigma^2): sigma 4 -> 0.01; no blur -> 1.
    assert peaks.min() > 1 / (2 * np.pi * 4.1 ** 2) and np.ptp(peaks) > 0.05


def test_visualizer_defaults_are_the_recipe(tiny):
    visualizer = fv.Visualizer(tiny, fv.ClassLogit("one"))
    assert visualizer.param == recipes.default_param((32, 32))
    assert visualizer.param.decay_power == recipes.DECAY_POWER and visualizer.param.decorrelate
    assert visualizer.param.contrast == recipes.CONTRAST
    assert visualizer.learning_rate == recipes.LEARNING_RATE


def test_the_recipe_transforms_are_used_when_none_are_given(tiny):
    def run(**kwargs) -> np.ndarray:
        return fv.Visualizer(tiny, fv.ClassLogit("one"), param=fv.Fourier(32), steps=4, seed=3,
                             **kwargs).run().images

    default = run()
    np.testing.assert_array_equal(default, run(transforms=fv.default_transforms(32)))
    assert not np.allclose(default, run(transforms=[]), atol=1e-4)


@pytest.mark.parametrize("config", ["imagenet_classes.gin", "imagenet_channels.gin"])
def test_the_imagenet_configs_spell_out_the_recipe(config):
    configs.parse([config])
    size = gin.query_parameter("%SIZE")
    assert gin.query_parameter("Fourier.decay_power") == recipes.DECAY_POWER
    assert gin.query_parameter("Fourier.decorrelate") is True
    assert tuple(gin.query_parameter("Fourier.contrast")) == recipes.CONTRAST
    assert gin.query_parameter("Fourier.init_std") == recipes.INIT_STD
    assert gin.query_parameter("Visualizer.learning_rate") == recipes.LEARNING_RATE
    names = [name for name in inspect.signature(fv.default_transforms).parameters if name != "size"]
    bound = {name: gin.query_parameter(f"default_transforms.{name}") for name in names}
    assert fv.default_transforms(size, **bound) == fv.default_transforms(size)


def test_the_contrast_is_the_mean_photographs():
    photos = sorted(configs.IMAGES.glob("*.jpg"))
    assert len(photos) == 6
    spreads = np.concatenate([fv.params.decorrelated_contrast(
        fv.io.as_image_batch(str(path), (224, 224), 3, 1)) for path in photos])
    np.testing.assert_allclose(spreads.mean(axis=0), recipes.CONTRAST, atol=0.05)


def test_the_recipe_keeps_colours_natural_where_free_contrast_blows_out(demo):
    """Long, fast ascent on the demo model: free contrast ends in saturated, clipped colours."""
    def run(param: fv.Fourier) -> np.ndarray:
        return fv.Visualizer(demo, fv.ClassLogit("concentric_rings"), param=param, steps=48,
                             learning_rate=0.3, seed=0).run().images

    free = run(fv.Fourier(64, decay_power=recipes.DECAY_POWER))
    fixed = run(recipes.default_param(64))
    def saturated(images: np.ndarray) -> float:
        brightest = images.max(axis=-1)
        chroma = brightest - images.min(axis=-1)
        return float(np.mean(chroma > 0.8 * np.maximum(brightest, 1e-6)))

    assert saturated(free) > 0.2 and saturated(fixed) < 0.05
    np.testing.assert_allclose(fv.params.decorrelated_contrast(fixed)[0], recipes.CONTRAST, rtol=0.1)


def test_the_recipe_starts_far_enough_out_that_the_first_steps_refine_the_start(demo):
    """With fixed contrast the image depends only on the raw variable's direction, so a step's
    effect is its size against the variable's norm. From Lucid's 0.01 the first Adam steps
    (0.03 per coordinate) replace the start; from the recipe's 0.3 they refine it
    (README_quality, "The start's scale")."""
    def kept(param: fv.Fourier) -> float:
        start = param.to_images(param.initial(1, 0)).numpy()
        images = fv.Visualizer(demo, fv.ClassLogit("concentric_rings"), param=param, steps=4,
                               seed=0).run().images
        return float(np.corrcoef(start.ravel(), images.ravel())[0, 1])

    recipe = recipes.default_param(64)
    assert recipe.init_std == recipes.INIT_STD == 10 * recipes.LEARNING_RATE
    lucid = kept(dataclasses.replace(recipe, init_std=0.01))
    assert kept(recipe) > 0.9 > 0.5 > lucid
