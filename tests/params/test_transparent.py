"""Transparency: RGBA renders composited over random backgrounds; opacity follows the unit's evidence."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import featviz as fv


def test_transparent_makes_rgba_and_maps_back():
    param = fv.Transparent(16, color=fv.Fourier(decay_power=1.5))
    raw = param.initial(2, seed=0)
    images = param.to_images(raw)
    assert images.shape == (2, 16, 16, 4)
    np.testing.assert_allclose(images[..., 3].numpy(), 0.5, atol=0.05)  # half opaque at first
    again = param.to_images(param.from_images(images))
    np.testing.assert_allclose(again.numpy(), images.numpy(), atol=1e-3)
    with pytest.raises(ValueError, match="4 channels"):
        param.from_images(images[..., :3])
    with pytest.raises(TypeError, match="Parameterization"):
        fv.Transparent(16, color="fourier")


def test_composite_random_background_changes_only_where_transparent():
    color = tf.fill([1, 16, 16, 3], 0.2)
    alpha = tf.concat([tf.ones([1, 16, 8, 1]), tf.zeros([1, 16, 8, 1])], axis=2)
    composite = fv.CompositeRandomBackground()
    a = composite(tf.concat([color, alpha], -1), tf.constant([0, 1])).numpy()
    b = composite(tf.concat([color, alpha], -1), tf.constant([0, 2])).numpy()
    np.testing.assert_allclose(a[:, :, :8], 0.2, atol=1e-6)  # opaque: the colour, always
    assert np.abs(a[:, :, 8:] - b[:, :, 8:]).mean() > 0.02  # transparent: a new background
    with pytest.raises(ValueError, match="alpha channel"):
        composite(color, tf.constant([0, 1]))


def test_alpha_is_lower_in_the_border_than_in_the_centre_for_a_centred_neuron(tiny):
    render = fv.Visualizer(
        tiny, fv.Neuron("conv2", 0) + 0.5 * fv.Opacity(), param=fv.Transparent(32, batch=1),
        transforms=[fv.CompositeRandomBackground()], steps=64, learning_rate=0.05,
        redirect_relu_steps=0).run()
    alpha = render.images[0, ..., 3]
    # conv2's centre neuron sees the central 8x8 pixels (two 3x3 convolutions around a pooling).
    centre, border = alpha[12:20, 12:20].mean(), np.concatenate([alpha[:6].ravel(), alpha[-6:].ravel()]).mean()
    assert centre > border + 0.2
    with pytest.raises(ValueError, match="alpha channel"):
        fv.Visualizer(tiny, fv.Channel("conv2", 0) + fv.Opacity(), param=fv.Fourier(32),
                      transforms=[], steps=1).run()


def test_rgba_images_are_saved_with_alpha(tmp_path):
    image = np.zeros((8, 8, 4), np.float32)
    image[..., 0] = 1.0
    image[:4, ..., 3] = 1.0
    path = fv.save_png(tmp_path / "x.png", image)
    with Image.open(path) as saved:
        assert saved.mode == "RGBA"
        pixels = np.asarray(saved)
    assert pixels[0, 0, 3] == 255 and pixels[7, 7, 3] == 0
    tiled = fv.grid(image[None])  # shown over a checkerboard, as RGB
    assert tiled.shape[-1] == 3
