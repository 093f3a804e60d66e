"""Parameterizations: exact inverses, valid ranges, and the ability to fit a real image."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import skimage.data
import tensorflow as tf

import featviz as fv
from featviz.demo import make_image

PARAMS = [
    fv.Pixel(32), fv.Pixel(32, activation="clip"), fv.Fourier(32), fv.Fourier((32, 40), decorrelate=False),
    fv.Fourier(33), fv.Pixel(32, channels=1), fv.Fourier(32, channels=1),
]


@pytest.mark.parametrize("param", PARAMS, ids=repr)
def test_images_are_in_range_and_from_images_inverts_to_images(param):
    raw = param.initial(batch=2, seed=0)
    images = param.to_images(raw)
    height, width = param.shape
    assert images.shape == (2, height, width, param.depth)
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    target = tf.random.stateless_uniform(images.shape, seed=[1, 1], minval=0.05, maxval=0.95)
    np.testing.assert_allclose(param.to_images(param.from_images(target)).numpy(), target.numpy(), atol=2e-4)


@pytest.mark.parametrize("param", [fv.Pixel(32), fv.Fourier(32), fv.Fourier(32, decorrelate=False)], ids=repr)
def test_each_parameterization_can_fit_a_real_image(param):
    photo = skimage.data.astronaut()[None].astype(np.float32) / 255.0
    target = tf.image.resize(photo, (32, 32), antialias=True)
    variable = tf.Variable(param.initial(1, seed=0))
    optimizer = keras.optimizers.Adam(0.05)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(param.to_images(variable) - target))
        optimizer.apply([tape.gradient(loss, variable)], [variable])
        return loss

    start = float(step())
    for _ in range(300):
        loss = float(step())
    # Measured: about 1e-4 from 0.08 for each of them (PSNR ~40 dB).
    assert loss < 1e-3 and loss < 0.02 * start


def test_initial_values_are_deterministic_in_the_seed():
    param = fv.Fourier(32)
    np.testing.assert_array_equal(param.initial(1, 5).numpy(), param.initial(1, 5).numpy())
    assert not np.array_equal(param.initial(1, 5).numpy(), param.initial(1, 6).numpy())


def test_init_from_an_image_file(tmp_path):
    image = make_image("checkerboard", size=32, seed=0)
    path = fv.save_png(tmp_path / "start.png", image)
    for param in (fv.Pixel(32, init=str(path)), fv.Fourier(32, init=str(path))):
        images = param.to_images(param.initial(2, 0)).numpy()
        np.testing.assert_allclose(images[1], np.round(image * 255) / 255, atol=2e-3)


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 4}, "size must be"), ({"channels": 2}, "channels must be 1 or 3"),
    ({"batch": 0}, "batch must be a positive int"), ({"init": "gaussian"}, "init must be one of"),
])
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fv.Fourier(**{"size": 32, **kwargs})
    with pytest.raises(ValueError, match="activation must be"):
        fv.Pixel(32, activation="tanh")


# Fixed contrast (the recipe's Fourier) ----------------------------------------------------------

CONTRAST = (1.5, 1.6, 1.1)


@pytest.mark.parametrize("channels", [3, 1])
def test_fixed_contrast_standardizes_every_image_and_ignores_the_raw_scale(channels):
    param = fv.Fourier(32, channels=channels, contrast=CONTRAST)
    raw = param.initial(batch=2, seed=0)
    images = param.to_images(raw).numpy()
    # Measured back through the sigmoid and the colour mix: the planes have the asked-for spread.
    np.testing.assert_allclose(fv.params.decorrelated_contrast(images),
                               np.tile(CONTRAST[:channels], (2, 1)), rtol=0.02)
    # Scaling the raw variable (what steady gradient ascent does) leaves the image unchanged.
    np.testing.assert_allclose(param.to_images(5.0 * raw).numpy(), images, atol=1e-5)
    np.testing.assert_allclose(param.to_images(param.from_images(images)).numpy(), images, atol=2e-4)


def test_fixed_contrast_is_refused_unless_three_positive_numbers():
    for bad in [(1.0, 1.0), (1.0, 0.0, 1.0), "high", (True, 1.0, 1.0)]:
        with pytest.raises(ValueError, match=r"contrast must be None or three positive numbers"):
            fv.Fourier(32, contrast=bad)


def test_decorrelated_contrast_of_grey_and_of_a_photo():
    assert np.allclose(fv.params.decorrelated_contrast(np.full((1, 8, 8, 3), 0.5)), 0.0)
    photo = skimage.data.chelsea()[None].astype(np.float32) / 255.0
    luminance, colour, _ = fv.params.decorrelated_contrast(photo)[0]
    assert 0.5 < luminance < 3 and 0.5 < colour < 3  # a photograph: moderate, finite spreads
    with pytest.raises(ValueError, match=r"images must be \[batch, height, width, 1 or 3\]"):
        fv.params.decorrelated_contrast(np.zeros((8, 8, 3)))
